"""Adaptive sweeps: the refinement rule on synthetic fields, the spec's refusals, and
adaptive sweeps end to end (points, bits, determinism, rasterize, verify, resume)."""
from __future__ import annotations

import shutil

import numpy as np
import pytest
import xarray as xr
import zarr
from click.testing import CliRunner
from distributed import Client, LocalCluster
from hypothesis import given, settings
from hypothesis import strategies as st

import nmm
import sweeps
from sweeps.adaptive import Lattice, _corners, _on_grid, refine
from sweeps.cli import cli
from sweeps.errors import SpecError
from sweeps.verify import StoreDamageWarning

# the refinement rule ---------------------------------------------------------------------

LAT = Lattice((17, 17), 5)


def circle(lat, centre=(0.45, 0.55), radius=0.3):
    """Inside (1) or outside (0) a circle, on the unit square of the lattice."""
    def f(idx):
        p = lat.unravel(idx) / (np.array(lat.shape) - 1.0)
        return (((p - centre) ** 2).sum(axis=1) < radius ** 2).astype(float)
    return f


def run_levels(lat, f, categorical=("r",), tolerance=None, neighbours=True, budget=None):
    """Every level of a refinement of the field ``f``: the computed lattice indices."""
    idx = lat.grid_points(1)
    for level in range(1, lat.levels):
        left = None if budget is None else budget - idx.size
        if left is not None and left <= 0:
            break
        r = refine(lat, level, idx, {"r": f(idx)}, categorical=list(categorical), tolerance=tolerance,
                   neighbours=neighbours, budget=left)
        assert np.all(np.diff(r.points) > 0), "new points sorted and distinct"
        assert not np.isin(r.points, idx).any(), "new points are new"
        idx = np.concatenate([idx, r.points])
    return idx


def boundary_cells(lat, idx, f):
    """(cells of the finest grid whose corners differ in the exact field, those of them
    whose corners were all computed)."""
    exact = f(np.arange(lat.size)).reshape(lat.shape)
    cs = np.stack(_corners(exact))
    cross = (cs != cs[0]).any(axis=0)
    known, _ = _on_grid(lat, lat.levels, idx, [], [])
    complete = np.logical_and.reduce(_corners(known))
    return cross, cross & complete


def test_lattice_levels():
    assert LAT.shape == (257, 257) and LAT.size == 66049
    assert LAT.grid_shape(1) == (17, 17) and LAT.stride(1) == 16 and LAT.stride(5) == 1
    g1 = LAT.grid_points(1)
    assert g1.size == 289 and np.all(LAT.unravel(g1) % 16 == 0)
    assert set(LAT.level_of(g1)) == {1}
    assert LAT.level_of(np.array([np.ravel_multi_index((8, 16), LAT.shape),
                                  np.ravel_multi_index((1, 0), LAT.shape)])).tolist() == [2, 5]


@pytest.mark.parametrize("neighbours", [True, False])
def test_every_cell_a_circle_crosses_is_refined_to_the_finest_level(neighbours):
    f = circle(LAT)
    idx = run_levels(LAT, f, neighbours=neighbours)
    cross, found = boundary_cells(LAT, idx, f)
    assert cross.sum() > 500
    assert (found == cross).all(), f"{(cross & ~found).sum()} boundary cells missed"
    assert idx.size < 0.1 * LAT.size  # the flat inside and outside stay coarse


def test_the_neighbour_rule_finds_a_boundary_that_leaves_a_cell_s_corners_alone():
    """A thin bump of a boundary enters a level-1 cell between two of its corners: the
    cell's corners agree, its neighbour's differ. Only the neighbour rule finds the bump."""
    lat = Lattice((5, 5), 4)  # 33 x 33, level-1 cells of 8 steps

    def f(idx):
        p = lat.unravel(idx)
        flat = p[:, 0] >= 12   # a straight boundary between lattice rows 11 and 12 (inside cells of rows 8-16)
        bump = (p[:, 0] >= 6) & (p[:, 0] < 12) & (p[:, 1] >= 18) & (p[:, 1] <= 22)  # pokes into the cell above
        return (flat | bump).astype(float)

    with_rule = run_levels(lat, f, neighbours=True)
    without = run_levels(lat, f, neighbours=False)
    cross, found_with = boundary_cells(lat, with_rule, f)
    _, found_without = boundary_cells(lat, without, f)
    assert (found_with == cross).all()
    assert not (found_without == cross).all()


def test_numeric_tolerance_and_nan():
    lat = Lattice((9,), 3)  # 33 points on one axis
    idx = lat.grid_points(1)
    ramp = lat.unravel(idx)[:, 0] * 0.1  # 0.4 per level-1 cell (stride 4)
    r = refine(lat, 1, idx, {"x": ramp}, tolerance={"x": 0.5})
    assert r.points.size == 0
    r = refine(lat, 1, idx, {"x": ramp}, tolerance={"x": 0.3})
    assert r.cells_changed == 8 and r.points.size == 8  # every cell's midpoint
    # NaN at some corners of a cell counts as a change; NaN at all of them does not
    x = np.where(lat.unravel(idx)[:, 0] >= 16, np.nan, 1.0)
    r = refine(lat, 1, idx, {"x": x}, tolerance={"x": 0.3}, neighbours=False)
    assert r.points.tolist() == [14]
    # categorical: status diverged next to ok
    r = refine(lat, 1, idx, {"status": np.where(lat.unravel(idx)[:, 0] == 8, 2.0, 1.0)}, categorical=["status"],
               neighbours=False)
    assert r.points.tolist() == [6, 10]


def test_budget_takes_categorical_changes_first_then_the_largest_numeric_spans():
    lat = Lattice((9,), 2)
    idx = lat.grid_points(1)  # 0, 2, ..., 16: cells [0,2], [2,4], ...
    pos = lat.unravel(idx)[:, 0]
    num = np.where(pos >= 12, 10.0, 0.0) + np.where(pos >= 4, 3.0, 0.0)  # spans 3 at cell [2,4], 10 at [10,12]
    cat = (pos >= 8).astype(float)  # change in cell [6,8]
    values, kw = {"c": cat, "n": num}, dict(categorical=["c"], tolerance={"n": 1.0}, neighbours=False)
    assert refine(lat, 1, idx, values, **kw).points.tolist() == [3, 7, 11]
    assert refine(lat, 1, idx, values, budget=2, **kw).points.tolist() == [7, 11]
    capped = refine(lat, 1, idx, values, budget=1, **kw)
    assert capped.points.tolist() == [7] and capped.capped and capped.cells_refined == 1


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2 ** 31 - 1), budget=st.one_of(st.none(), st.integers(1, 400)))
def test_decisions_depend_only_on_the_values_not_on_their_order(seed, budget):
    """Points and values handed over in any order (as tiles finish) give the same points."""
    rng = np.random.default_rng(seed)
    lat = Lattice((9, 7), 3)
    f = circle(lat, centre=rng.uniform(0.2, 0.8, 2), radius=rng.uniform(0.1, 0.4))
    idx = np.concatenate([lat.grid_points(1), refine(lat, 1, lat.grid_points(1), {"r": f(lat.grid_points(1))},
                                                     categorical=["r"]).points])
    vals = f(idx) + rng.normal(0, 0.2, idx.size)
    perm = rng.permutation(idx.size)
    a = refine(lat, 2, idx, {"r": f(idx), "v": vals}, categorical=["r"], tolerance={"v": 0.3}, budget=budget)
    b = refine(lat, 2, idx[perm], {"v": vals[perm], "r": f(idx)[perm]}, categorical=["r"], tolerance={"v": 0.3},
               budget=budget)
    np.testing.assert_array_equal(a.points, b.points)
    if budget is not None:
        assert a.points.size <= budget


def test_refine_refuses_a_variable_without_category_or_tolerance():
    with pytest.raises(SpecError, match=r"variable 'x' is neither categorical nor has a tolerance"):
        refine(LAT, 1, LAT.grid_points(1), {"x": np.zeros(289)})
    with pytest.raises(SpecError, match=r"level 5 is out of range"):
        refine(LAT, 5, LAT.grid_points(1), {})


# the spec ---------------------------------------------------------------------------------

TOL = 1e-2  # V of the mean of V_pc across a cell

JR_C = {"pc/pro/m->ein/rpo_e/m_in/weight": 1.0, "ein/pro/m->pc/rpo_e_in/m_in/weight": 0.8,
        "pc/pro/m->iin/rpo_e/m_in/weight": 0.25, "iin/pro/m->pc/rpo_i/m_in/weight": 0.25}


def adaptive_dict(store, tile=16, base=(5, 5), levels=3, simulation_time=1.0, **design):
    return {
        "name": "adaptive",
        "model": {"template": "nmm.templates.jansenrit.JRC"},
        "axes": [{"path": "pc/rpo_e_in/u", "name": "u", "bounds": [0, 400]},
                 {"path": "C", "name": "C", "bounds": [60, 240], "targets": dict(JR_C)}],
        "design": {"kind": "adaptive", "base": list(base), "levels": levels,
                   "refine_on": ["V_pc_regime", "V_pc_mean"], "tolerance": {"V_pc_mean": TOL}, **design},
        "simulation": {"simulation_time": simulation_time, "step_size": 1e-4, "sampling_step_size": 1e-3,
                       "solver": "rk4", "cutoff": simulation_time / 2, "outputs": {"V_pc": "pc/pro/v"}},
        "keep": {"series": False, "reductions": ["mean", "orbit"]},
        "storage": {"store": str(store), "tile": tile},
        "seed": 1,
    }


def test_spec_round_trips_and_sizes_its_store(tmp_path):
    spec = sweeps.SweepSpec.from_dict(adaptive_dict(tmp_path / "a.zarr", budget=100))
    assert sweeps.SweepSpec.from_dict(spec.to_dict()) == spec
    assert sweeps.SweepSpec.from_yaml(spec.to_yaml()) == spec
    assert spec.lattice.shape == (17, 17)
    # the budget plus a partly empty tile per level, in whole tiles of 8
    assert spec.dims == {"point": 160}  # ceil((100 + 3 * 15) / 16) * 16
    assert sweeps.tile_shape(spec) == {"point": 16}
    shipped = sweeps.SweepSpec.from_yaml("workflows/jansenrit_regime_map_adaptive.yaml")
    assert shipped.lattice.shape == (257, 257) and shipped.design.budget == 20000


def test_hashes_of_existing_designs_are_unchanged():
    """Adding adaptive designs must not change the hash of a store made before (it would
    refuse to resume): pinned values from before the change."""
    from conftest import small_spec

    assert sweeps.SweepSpec.from_yaml("workflows/quickstart.yaml").hash() == "96f1e5e89339914cfc467e68d358ea26"
    assert sweeps.SweepSpec.from_yaml("workflows/jansenrit_regime_map.yaml").hash() == \
        "76eda238caf36a216c5e9117844f9a83"
    assert small_spec("/x.zarr", design="random").hash() == "d4878e91c62c29bf08f774dcaca7564a"
    assert small_spec("/x.zarr", design="zip").hash() == "6f8fb314de32edae2f26daef616ee4ec"


def _edit(d, **changes):
    for path, value in changes.items():
        *head, last = path.split("__")
        node = d
        for h in head:
            node = node[int(h)] if isinstance(node, list) else node[h]
        if value is None:
            del node[last]
        elif isinstance(node, list):
            node[int(last)] = value
        else:
            node[last] = value
    return d


@pytest.mark.parametrize("changes, match", [
    ({"axes__0": {"path": "pc/rpo_e_in/u", "name": "u", "values": [0, 100, 400]}},
     r"axis 'pc/rpo_e_in/u' gives values; an adaptive design refines within bounds: give bounds: \[low, high\]"),
    ({"axes__0": {"path": "pc/rpo_e_in/u", "name": "u", "linspace": [0, 400, 17]}},
     r"gives linspace; .*bounds: \[0, 400\]\)"),
    ({"design__refine_on": ["V_pc_regim", "V_pc_mean"]},
     r"design.refine_on names 'V_pc_regim', which is not a stored reduction; .*Did you mean 'V_pc_regime'"),
    ({"design__refine_on": ["V_pc_maxima", "V_pc_mean"]}, r"'V_pc_maxima' holds several values per point"),
    ({"design__tolerance": {"V_pc_regime": 0.5, "V_pc_mean": 1e-3}},
     r"design.tolerance\['V_pc_regime'\] = 0.5, but 'V_pc_regime' is categorical .*drop its tolerance"),
    ({"design__tolerance": {}}, r"'V_pc_mean' is numeric and needs a tolerance .*tolerance: \{V_pc_mean: \.\.\.\}"),
    ({"design__tolerance": {"V_pc_mean": -1}}, r"design.tolerance\['V_pc_mean'\] = -1.0; a tolerance must be positive"),
    ({"design__tolerance": {"V_pc_mean": 1, "V_pc_max": 1}}, r"tolerance names 'V_pc_max', which is not in refine_on"),
    ({"design__budget": 20}, r"design.budget = 20 is smaller than the base grid \[5, 5\] \(25 points\); give budget >= 25"),
    ({"design__base": [5]}, r"design.base = \[5\] gives 1 sizes for 2 axes \(u, C\); give one per axis"),
    ({"design__base": [5, 1]}, r"at least 2 points"),
    ({"design__levels": 0}, r"design.levels must be a whole number from 1 to 16"),
    ({"design__levels": 13}, r"makes a finest grid of 16385 x 16385 = 268,468,225 points; .* use fewer levels"),
    ({"design__refine_on": []}, r"design.refine_on must list stored reductions"),
    ({"storage__tile": {"u": 4}}, r"storage.tile of an adaptive design is a number of points"),
    ({"design__kind": "adaptiv"}, r"design 'adaptiv' is unknown.*Did you mean 'adaptive'"),
])
def test_bad_adaptive_designs_are_refused_before_anything_runs(tmp_path, changes, match):
    d = _edit(adaptive_dict(tmp_path / "a.zarr"), **changes)
    with pytest.raises(SpecError, match=match) as info:
        sweeps.SweepSpec.from_dict(d)
    assert "\n" not in str(info.value)
    assert not (tmp_path / "a.zarr").exists()


def test_grid_design_refuses_adaptive_keys_and_bounds(tmp_path):
    d = adaptive_dict(tmp_path / "a.zarr")
    d["design"] = {"kind": "random", "n": 8, "budget": 100}
    with pytest.raises(SpecError, match=r"unknown key 'budget' in design; allowed keys: kind, method, n\."):
        sweeps.SweepSpec.from_dict(d)
    with pytest.raises(SpecError, match=r"design.base, levels, refine_on, tolerance and budget belong to an adaptive"):
        sweeps.DesignSpec(kind="random", n=8, budget=100)
    d["design"] = {"kind": "adaptive", "base": [5, 5], "levels": 2, "refine_on": ["V_pc_regime"], "n": 3}
    with pytest.raises(SpecError, match=r"unknown key 'n' in design; allowed keys: base, budget, kind, levels, "):
        sweeps.SweepSpec.from_dict(d)
    d["design"] = "grid"
    with pytest.raises(SpecError, match=r"or \{kind: adaptive, \.\.\.\} can sample"):
        sweeps.SweepSpec.from_dict(d)


# end to end -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def client():
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=":0") as cl, \
            Client(cl) as c:
        yield c


@pytest.fixture(scope="module")
def reference(tmp_path_factory, client):
    """A finished adaptive sweep (tiles of 16) and its loaded contents."""
    path = tmp_path_factory.mktemp("ref") / "ref.zarr"
    spec = sweeps.SweepSpec.from_dict(adaptive_dict(path))
    sweeps.run_sweep(spec, client=client, progress=False)
    return str(path), spec, xr.open_zarr(path).load()


def computed(ds):
    """The computed points of an adaptive store, sorted by lattice index."""
    keep = np.flatnonzero(ds["level"].values > 0)
    sub = ds.isel(point=keep)
    return sub.isel(point=np.argsort(sub["lattice"].values, kind="stable"))


def test_stored_points_equal_a_direct_simulation(reference):
    _, spec, ds = reference
    pts = computed(ds)
    assert (pts["status"].values == 1).all()
    # the coordinates are the lattice values of an axis: linspace over the bounds
    pos = spec.lattice.unravel(pts["lattice"].values)
    np.testing.assert_array_equal(pts["u"].values, np.linspace(0, 400, 17)[pos[:, 0]])
    np.testing.assert_array_equal(pts["C"].values, np.linspace(60, 240, 17)[pos[:, 1]])
    params = {"pc/rpo_e_in/u": pts["u"].values, **{p: pts["C"].values * f for p, f in JR_C.items()}}
    sim = spec.simulation
    direct = nmm.simulate(nmm.CircuitTemplate.from_yaml("nmm.templates.jansenrit.JRC"), params,
                          simulation_time=sim.simulation_time, step_size=sim.step_size,
                          sampling_step_size=sim.sampling_step_size, outputs={"V_pc": "pc/pro/v"}, solver="rk4",
                          cutoff=sim.cutoff, summaries=True)
    np.testing.assert_allclose(pts["V_pc_mean"].values, direct["V_pc_mean"].values, rtol=1e-12, atol=0)
    regime = nmm.analysis.orbits.regime(direct["V_pc"].values, tol=1e-3)
    np.testing.assert_array_equal(pts["V_pc_regime"].values, regime)


def levels_from_the_stored_values(pts, lat) -> list:
    """Levels 2 and 3 replayed with refine() on the stored values of the levels before,
    checked against the stored levels; returns the replayed refinements."""
    lev = pts["level"].values
    out = []
    for k in (1, 2):
        sel = lev <= k
        vals = {"V_pc_regime": pts["V_pc_regime"].values[sel].astype(float),
                "V_pc_mean": pts["V_pc_mean"].values[sel], "status": pts["status"].values[sel].astype(float)}
        r = refine(lat, k, pts["lattice"].values[sel], vals, categorical=["V_pc_regime", "status"],
                   tolerance={"V_pc_mean": TOL})
        np.testing.assert_array_equal(np.sort(pts["lattice"].values[lev == k + 1]), r.points)
        out.append(r)
    return out


def test_levels_are_the_refinement_of_the_stored_values(reference):
    """Replaying refine() on the stored values of each level gives the next level's points."""
    _, spec, ds = reference
    pts = computed(ds)
    lat, lev = spec.lattice, pts["level"].values
    assert set(lev) == {1, 2, 3}
    np.testing.assert_array_equal(pts["lattice"].values[lev == 1], lat.grid_points(1))
    for r in levels_from_the_stored_values(pts, lat):
        assert r.points.size > 0
    # every level starts on a tile of its own, its points sorted by lattice index
    slots = np.flatnonzero(ds["level"].values > 0)
    for k in (1, 2, 3):
        s = slots[ds["level"].values[slots] == k]
        assert s[0] % 16 == 0 and np.all(np.diff(s) == 1)
        assert np.all(np.diff(ds["lattice"].values[s]) > 0)


def test_same_points_and_bits_whatever_the_tiling_and_the_workers(reference, tmp_path):
    _, _, ref = reference
    d = adaptive_dict(tmp_path / "b.zarr", tile=7)
    with LocalCluster(n_workers=1, threads_per_worker=3, processes=False, dashboard_address=":0") as cl, \
            Client(cl) as c:
        sweeps.run_sweep(sweeps.SweepSpec.from_dict(d), client=c, progress=False)
    a, b = computed(ref), computed(xr.open_zarr(tmp_path / "b.zarr").load())
    np.testing.assert_array_equal(a["lattice"].values, b["lattice"].values)
    for v in a.data_vars:
        if v != "done":
            np.testing.assert_array_equal(a[v].values, b[v].values, err_msg=v)


def test_rasterize_gives_each_node_its_nearest_computed_point(reference):
    _, spec, ds = reference
    grid = sweeps.rasterize(ds)
    assert dict(grid.sizes)["u"] == 17 and dict(grid.sizes)["C"] == 17
    np.testing.assert_array_equal(grid["u"].values, np.linspace(0, 400, 17))
    assert grid["u"].attrs["units"] and grid["V_pc_regime"].attrs["long_name"] == "regime of V_pc"
    pts = computed(ds)
    pos = spec.lattice.unravel(pts["lattice"].values)
    # exact on the computed points
    np.testing.assert_array_equal(grid["V_pc_mean"].values[pos[:, 0], pos[:, 1]], pts["V_pc_mean"].values)
    assert (grid["distance"].values[pos[:, 0], pos[:, 1]] == 0).all()
    # every node: the value of the computed point nearest to it (brute force, ties to the lowest index)
    for i, j in [(1, 1), (3, 5), (16, 15), (7, 2)]:
        d2 = (pos[:, 0] - i) ** 2 + (pos[:, 1] - j) ** 2
        best = np.flatnonzero(d2 == d2.min())
        k = best[np.argmin(pts["lattice"].values[best])]
        assert grid["V_pc_mean"].values[i, j] == pts["V_pc_mean"].values[k]
    # a level's grid from that level's points only
    g1 = sweeps.rasterize(ds, level=1)
    assert dict(g1.sizes)["u"] == 5 and (g1["nearest_level"].values == 1).all() and (g1["distance"] == 0).all()
    with pytest.raises(SpecError, match=r"level 4 is out of range; give 1 to 3"):
        sweeps.rasterize(ds, level=4)
    with pytest.raises(SpecError, match=r"rasterize needs an adaptive sweep"):
        sweeps.rasterize(xr.Dataset({"x": ("u", [1.0])}))


def test_verify_finds_damage_and_resume_repairs_it_bit_for_bit(reference, tmp_path, client):
    path, _, ref = reference
    copy = tmp_path / "c.zarr"
    shutil.copytree(path, copy)
    rep = sweeps.verify(str(copy))
    assert rep.ok and rep.checksums
    (copy / "V_pc_mean" / "c" / "3").unlink()      # a data chunk of a level-2 tile
    (copy / "lattice" / "c" / "1").unlink()        # a coordinate chunk of a level-1 tile
    rep = sweeps.verify(str(copy))
    assert rep.damaged_tiles == (1, 3)
    with pytest.warns(StoreDamageWarning, match="2 tiles"):
        sweeps.resume(str(copy), client=client, progress=False)
    assert sweeps.verify(str(copy)).ok
    got = xr.open_zarr(copy).load()
    for v in ref.variables:
        np.testing.assert_array_equal(ref[v].values, got[v].values, err_msg=str(v))


def test_resume_after_a_stop_mid_level_continues_at_that_level(reference, tmp_path, client):
    """The store as a driver stopped in level 2 leaves it: level 1 and some level-2 tiles
    done. Resume computes the rest of level 2 and level 3, rewrites no done tile, and ends
    with the same bits as a run without a stop."""
    path, spec, ref = reference
    copy = tmp_path / "s.zarr"
    shutil.copytree(path, copy)
    level = ref["level"].values
    t = spec.adaptive_tile
    tile_level = np.array([level[i * t] for i in range(level.size // t)])
    l2 = np.flatnonzero(tile_level == 2)
    l3 = list(np.flatnonzero(tile_level == 3))
    undone = list(l2[len(l2) // 2:]) + l3
    g = zarr.open_group(str(copy), mode="r+")
    plan = {"u", "C", "level", "lattice"}  # level 2's were written before its tiles were sent
    for i in undone:
        g["done"][i] = False
        for name, _ in g.arrays():
            chunk = copy / name / "c" / str(i)
            if name not in ("done", "point") and chunk.exists() and (name not in plan or i in l3):
                shutil.rmtree(chunk) if chunk.is_dir() else chunk.unlink()
    kept = {p: p.stat().st_mtime_ns for p in copy.glob("*/c/*")
            if int(p.name) not in undone or (p.parent.parent.name in plan and int(p.name) not in l3)}
    st = sweeps.sweep_status(str(copy))
    assert st["level"] == 2 and st["tiles_done"] < st["tiles_total"]
    sweeps.resume(str(copy), client=client, progress=False)
    got = xr.open_zarr(copy).load()
    for v in ref.variables:
        np.testing.assert_array_equal(ref[v].values, got[v].values, err_msg=str(v))
    assert {p: p.stat().st_mtime_ns for p in kept} == kept, "a done tile was rewritten"


def test_command_line_status_and_plot(reference, tmp_path):
    path, _, _ = reference
    r = CliRunner().invoke(cli, ["status", path, "--verify"], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    assert "levels:  3 of 3 planned" in r.output and "0 not computed" in r.output and "no damage" in r.output
    for kind in ("regime", "orbit"):
        out = tmp_path / f"{kind}.png"
        r = CliRunner().invoke(cli, ["plot", path, "--kind", kind, "-o", str(out)])
        if kind == "regime":
            assert r.exit_code == 0, r.output
            import matplotlib.image

            img = matplotlib.image.imread(str(out))
            assert img.shape[0] > 300 and img[..., :3].std() > 0.05
        else:  # an orbit diagram is 1-D: the rasterized map says so
            assert r.exit_code == 1 and "needs a 1-D sweep" in (r.output + r.stderr)


def test_budget_caps_the_points(tmp_path, client):
    d = adaptive_dict(tmp_path / "b.zarr", budget=40)
    sweeps.run_sweep(sweeps.SweepSpec.from_dict(d), client=client, progress=False)
    st = sweeps.sweep_status(str(tmp_path / "b.zarr"))
    assert st["points_total"] <= 40 and st["points_ok"] == st["points_total"] > 25


def test_points_have_the_bits_and_noise_streams_of_a_dense_grid_on_the_finest_lattice(tmp_path, client):
    """An adaptive point is the dense grid's point of the same lattice position: same
    coordinates, same noise stream (seeded by the lattice index), same stored bits."""
    d = adaptive_dict(tmp_path / "a.zarr", base=(3, 3), levels=2, simulation_time=0.5)
    d["simulation"].update(solver="euler", noise={"pc/rpo_e_in/u": {"uniform": [-50, 50], "add": True}})
    d["design"]["tolerance"] = {"V_pc_mean": 1e-4}
    ad = sweeps.SweepSpec.from_dict(d)
    g = dict(d, design="grid", storage={"store": str(tmp_path / "g.zarr"), "tile": 5})
    g["axes"] = [{"path": "pc/rpo_e_in/u", "name": "u", "linspace": [0, 400, 5]},
                 {"path": "C", "name": "C", "linspace": [60, 240, 5], "targets": dict(JR_C)}]
    grid = sweeps.SweepSpec.from_dict(g)
    for spec in (ad, grid):
        sweeps.run_sweep(spec, client=client, progress=False)
    pts = computed(xr.open_zarr(tmp_path / "a.zarr").load())
    dense = xr.open_zarr(tmp_path / "g.zarr").load()
    assert (pts["level"].values == 2).any()
    pos = ad.lattice.unravel(pts["lattice"].values)
    np.testing.assert_array_equal(pts["u"].values, dense["u"].values[pos[:, 0]])
    np.testing.assert_array_equal(pts["C"].values, dense["C"].values[pos[:, 1]])
    for v in ("V_pc_mean", "V_pc_regime", "V_pc_maxima", "status"):
        np.testing.assert_array_equal(pts[v].values, dense[v].values[pos[:, 0], pos[:, 1]], err_msg=v)
    # and the noise matters: without it the means differ
    quiet = dict(g, storage={"store": str(tmp_path / "q.zarr"), "tile": 5},
                 simulation={**g["simulation"], "noise": {}})
    sweeps.run_sweep(sweeps.SweepSpec.from_dict(quiet), client=client, progress=False)
    assert not np.array_equal(xr.open_zarr(tmp_path / "q.zarr")["V_pc_mean"].values, dense["V_pc_mean"].values)


def _flip_a_byte(path):
    b = bytearray(path.read_bytes())
    b[len(b) // 2] ^= 0xFF
    path.write_bytes(bytes(b))


def test_resume_repairs_corrupted_chunks_of_a_level_s_last_partly_filled_tile(reference, tmp_path, client):
    """The last tile of a level fills only part of its chunk, so its writes merge into the
    stored chunk (read-modify-write): a corrupted chunk there (data, status, coordinate)
    made every resume fail on the checksum. Resume must repair it bit for bit, and
    `nmm status` must report (not crash on) a corrupted `level` chunk."""
    path, spec, ref = reference
    t = spec.adaptive_tile
    level = ref["level"].values
    partial = [i for i in range(level.size // t) if 0 < (level[i * t:(i + 1) * t] > 0).sum() < t]
    assert partial, "the reference has a level whose last tile is partly filled"
    tile = partial[0]
    copy = tmp_path / "p.zarr"
    shutil.copytree(path, copy)
    for name in ("V_pc_mean", "status", "lattice", "level"):
        _flip_a_byte(copy / name / "c" / str(tile))
    r = CliRunner().invoke(cli, ["status", str(copy), "--verify"])
    assert r.exit_code == 1 and f"tile {tile}: level chunk level/c/{tile} unreadable" in r.output, r.output
    assert tile in sweeps.verify(str(copy)).damaged_tiles
    with pytest.warns(StoreDamageWarning):
        sweeps.resume(str(copy), client=client, progress=False)
    assert sweeps.verify(str(copy)).ok
    got = xr.open_zarr(copy).load()
    for v in ref.variables:
        np.testing.assert_array_equal(ref[v].values, got[v].values, err_msg=str(v))


def test_tiles_of_an_adaptive_design_are_refused_with_the_way_to_run_it(tmp_path):
    """sweeps.tiles and compute_tile are public: an adaptive design's tiles have no points
    until the driver decides them, so both say so (a plain ValueError before)."""
    spec = sweeps.SweepSpec.from_dict(adaptive_dict(tmp_path / "a.zarr"))
    with pytest.raises(SpecError, match=r"adaptive design decides its tiles .* sweeps.run_sweep\(spec\)"):
        next(iter(sweeps.tiles(spec, sweeps.tile_shape(spec))))
    with pytest.raises(SpecError, match=r"tile 0 carries no points\. An adaptive design decides its tiles"):
        sweeps.compute_tile(spec, sweeps.Tile(0, (("point", 0, 16),)))


def test_the_documented_selection_gives_exactly_the_computed_points(reference):
    """Empty slots (reserved for the budget) hold 0 in integer variables, which reads as
    data (regime 0 = fixed_point, lattice 0): README's selection leaves them out."""
    _, spec, ds = reference
    empty = ds["level"].values == 0
    assert empty.any() and (ds["status"].values[empty] == 0).all()
    assert np.isnan(ds["V_pc_mean"].values[empty]).all() and np.isnan(ds["u"].values[empty]).all()
    assert (ds["V_pc_regime"].values[empty] == 0).all()  # why the selection is needed
    sel = ds.isel(point=ds["level"].values > 0)
    assert (sel["status"].values != 0).all()
    assert np.unique(sel["lattice"].values).size == sel.sizes["point"] == sweeps.sweep_status(
        reference[0])["points_total"]
    assert "ds.isel(point=ds[\"level\"].values > 0)" in open("README.md").read()


def test_resume_replans_done_tiles_whose_points_the_stored_values_no_longer_choose(reference, tmp_path, client):
    """If a tile recomputed on resume gives other bits (another machine) and they flip a
    refinement decision, the replayed plan differs from the done tiles of later levels:
    their coordinates were rewritten over the data of other points (silently). Resume
    must compute them again: every stored point's data is its own, the levels are the
    refinement of the stored values, and no slot past the plan holds points."""
    path, spec, ref = reference
    copy = tmp_path / "f.zarr"
    shutil.copytree(path, copy)
    g = zarr.open_group(str(copy), mode="r+")
    level, lat = ref["level"].values, spec.lattice
    # one level-1 value in a flat area moved far: its cells change now, so level 2 gets
    # other points, but level 2 is done with the old ones
    l1 = np.flatnonzero(level == 1)
    pos = lat.unravel(ref["lattice"].values[level > 0])
    near = [int((np.abs(pos - q).max(axis=1) <= lat.stride(2)).sum()) for q in lat.unravel(ref["lattice"].values[l1])]
    moved = l1[int(np.argmin(near))]
    g["V_pc_mean"][int(moved)] = ref["V_pc_mean"].values[moved] + 1.0
    with pytest.warns(UserWarning, match=r"no longer choose .* computed again"):
        sweeps.resume(str(copy), client=client, progress=False)
    got = xr.open_zarr(copy).load()
    assert not np.array_equal(got["lattice"].values, ref["lattice"].values)
    pts, old = computed(got), computed(ref)
    assert (pts["status"].values == 1).all()
    assert (got["status"].values[got["level"].values == 0] == 0).all()
    both, i, j = np.intersect1d(pts["lattice"].values, old["lattice"].values, return_indices=True)
    assert both.size > 25
    for v in ("V_pc_regime", "V_pc_maxima", "u", "C"):  # each point's data is its own
        np.testing.assert_array_equal(pts[v].values[i], old[v].values[j], err_msg=v)
    keep = both != ref["lattice"].values[moved]
    np.testing.assert_array_equal(pts["V_pc_mean"].values[i][keep], old["V_pc_mean"].values[j][keep])
    levels_from_the_stored_values(pts, lat)  # and the levels follow from the stored values
    assert sweeps.verify(str(copy)).ok


def test_rasterize_tie_goes_to_the_lowest_lattice_index_even_among_many_equidistant_points():
    """Twelve points at distance 5 of a node (3-4-5 triangles): the nearest-point query
    returned only 3**d of them, so the pick depended on the points' order."""
    from sweeps.adaptive import _nearest

    lat = Lattice((3, 3), 4)
    offs = [(5, 0), (-5, 0), (0, 5), (0, -5), (3, 4), (3, -4), (-3, 4), (-3, -4), (4, 3), (4, -3), (-4, 3), (-4, -3)]
    idx = np.ravel_multi_index(tuple((np.array(offs) + 8).T), lat.shape)
    for order in (np.arange(12), np.arange(12)[::-1], np.random.default_rng(0).permutation(12)):
        ip = idx[order]
        j = _nearest(lat.unravel(ip).astype(float), ip, np.array([[8.0, 8.0]]))
        assert ip[j].tolist() == [idx.min()]
