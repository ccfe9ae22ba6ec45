"""Sweep specs: YAML round trip, the designs, tiles, and validation messages."""
from __future__ import annotations

import textwrap

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import qmc

import sweeps
from sweeps.plan import Tile, tile_points, tiles

BASE = textwrap.dedent("""
    name: t
    model: {template: nmm.templates.jansenrit.JRC, params: {pc/rpo_i/h: -22e-3}}
    axes:
      - {path: pc/rpo_e_in/u, name: u, linspace: [50, 400, 8]}
      - {path: pc/pro/m->ein/rpo_e/m_in/weight, name: c1, values: [100, 135]}
    simulation: {simulation_time: 0.1, step_size: 1e-4, sampling_step_size: 1e-3, solver: rk4,
                 outputs: {v: pc/rpo_e_in/v}}
    storage: {store: out/t.zarr, tile: {u: 3}}
""")


def load(text=BASE, **replace):
    import yaml

    d = yaml.safe_load(text)
    for k, v in replace.items():
        section, _, key = k.partition("__")
        if key:
            d[section][key] = v
        else:
            d[section] = v
    return sweeps.SweepSpec.from_dict(d)


def test_yaml_round_trip():
    spec = load()
    again = sweeps.SweepSpec.from_yaml(spec.to_yaml())
    assert again == spec and again.hash() == spec.hash()
    assert spec.dims == {"u": 8, "c1": 2}
    assert spec.simulation.step_size == 1e-4  # '1e-4' (a string to PyYAML) is read as a number


def test_python_construction_equals_yaml():
    spec = sweeps.SweepSpec(
        name="t",
        model=sweeps.ModelSpec("nmm.templates.jansenrit.JRC", {"pc/rpo_i/h": -22e-3}),
        axes=(sweeps.Axis("pc/rpo_e_in/u", "linspace", (50, 400, 8), name="u"),
              sweeps.Axis("pc/pro/m->ein/rpo_e/m_in/weight", "values", (100, 135), name="c1")),
        simulation=sweeps.SimulationSpec(0.1, 1e-4, 1e-3, "rk4", outputs={"v": "pc/rpo_e_in/v"}),
        storage=sweeps.StorageSpec("out/t.zarr", tile={"u": 3}),
    )
    assert spec == load()


def test_axis_forms():
    assert np.allclose(sweeps.Axis("a", "logspace", (1, 100, 3)).values, [1, 10, 100])
    assert np.allclose(sweeps.Axis("a", "range", (0, 1, 0.25)).values, [0, 0.25, 0.5, 0.75])
    assert sweeps.Axis("pc/rpo_e_in/u", "values", (1, 2)).name == "pc.rpo_e_in.u"


RANDOM_AXES = [{"path": "pc/rpo_e_in/u", "name": "u", "bounds": [50, 400]},
               {"path": "pc/rpo_i/h", "name": "h", "bounds": [-0.03, -0.01]},
               {"path": "pc/rpo_e_in/tau", "name": "tau", "bounds": [0.005, 0.02], "scale": "log"}]


def random_design(method, n, seed=7, axes=3):
    """The design's points in the unit cube (one column per axis), in point order, read
    tile by tile as the tasks get them."""
    import yaml

    d = yaml.safe_load(BASE)
    d["axes"] = RANDOM_AXES[:axes]
    d["design"] = {"kind": "random", "n": n, "method": method}
    d["storage"]["tile"] = 16
    d["seed"] = seed
    spec = sweeps.SweepSpec.from_dict(d)
    assert spec.dims == {"point": n}
    pts = [tile_points(spec, t) for t in tiles(spec, sweeps.tile_shape(spec))]
    cols = []
    for a in RANDOM_AXES[:axes]:
        v = np.concatenate([p[a["path"]] for p in pts])
        lo, hi = a["bounds"]
        assert v.size == n and v.min() >= lo and v.max() <= hi
        cols.append(np.log(v / lo) / np.log(hi / lo) if a.get("scale") == "log" else (v - lo) / (hi - lo))
    return np.stack(cols, axis=1)


def iid_discrepancies(n, d, draws=50):
    rng = np.random.default_rng(0)
    return np.array([qmc.discrepancy(rng.random((n, d))) for _ in range(draws)])


@pytest.mark.parametrize("n", [64, 100])
def test_sobol_design_is_low_discrepancy(n):
    u = random_design("sobol", n)
    iid = iid_discrepancies(n, 3)
    # measured: 0.00045 (n = 64) and 0.00033 (n = 100) against a median of 0.0098 and
    # 0.0062 for iid uniform draws of the same size (their minimum over 200 draws:
    # 0.0031, 0.0023)
    assert qmc.discrepancy(u) < 0.1 * np.median(iid) and qmc.discrepancy(u) < iid.min()
    np.testing.assert_array_equal(u, random_design("sobol", n))  # reproducible
    assert not np.isin(u, random_design("sobol", n, seed=8)).any()  # the seed matters


def test_sobol_points_form_a_net():
    """64 = 2^6 scrambled Sobol points in 2-D are a (0, 6, 2)-net in base 2: every box
    of 2^a x 2^(6 - a) equal cells holds exactly one point (uniform draws almost never do)."""
    u = random_design("sobol", 64, axes=2)
    for a in range(7):
        cells = np.floor(u[:, 0] * 2**a).astype(int) * 2 ** (6 - a) + np.floor(u[:, 1] * 2 ** (6 - a)).astype(int)
        assert sorted(cells) == list(range(64)), a


def test_sobol_design_is_scipy_scrambled_sobol_seeded_with_the_spec_seed():
    """The points a seed gives are part of a store's reproducibility: pinned against
    scipy.stats.qmc directly (Owen-scrambled Sobol, seed = the spec's seed)."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # n not a power of 2
        ref = qmc.Sobol(3, scramble=True, seed=7).random(100)
    np.testing.assert_allclose(random_design("sobol", 100), ref, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(random_design("lhs", 100), qmc.LatinHypercube(3, seed=7).random(100),
                               rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("n", [16, 64, 101])
def test_latin_hypercube_has_one_point_per_stratum_on_every_axis(n):
    u = random_design("lhs", n)
    for axis in range(u.shape[1]):
        assert sorted(np.floor(u[:, axis] * n).astype(int)) == list(range(n)), axis
    assert qmc.discrepancy(u) < np.median(iid_discrepancies(n, 3))
    np.testing.assert_array_equal(u, random_design("lhs", n))


@settings(max_examples=60, deadline=None)
@given(sizes=st.lists(st.integers(1, 9), min_size=1, max_size=3), data=st.data())
def test_every_grid_point_lands_in_exactly_one_tile(sizes, data):
    axes = tuple(sweeps.Axis(f"p{i}", "linspace", (0, 1, n), name=f"a{i}") if n > 1 else
                 sweeps.Axis(f"p{i}", "values", (0.5,), name=f"a{i}") for i, n in enumerate(sizes))
    tile = {f"a{i}": data.draw(st.integers(1, n)) for i, n in enumerate(sizes)}
    spec = sweeps.SweepSpec(model=sweeps.ModelSpec("x.y.z"), axes=axes,
                            simulation=sweeps.SimulationSpec(1.0, 0.1, outputs={"v": "a/b/c"}),
                            storage=sweeps.StorageSpec("s.zarr", tile=tile))
    count = np.zeros(sizes, dtype=int)
    ts = list(tiles(spec, sweeps.tile_shape(spec)))
    for i, t in enumerate(ts):
        assert t.index == i
        count[tuple(slice(a, b) for _, a, b in t.slices)] += 1
        assert all(b - a <= tile[d] for d, a, b in t.slices)
    assert (count == 1).all()


BAD = [
    (dict(axes=[]), "at least one axis"),
    (dict(axes=[{"path": "pc/rpo_e_in/u", "values": []}]), "has no values"),
    (dict(axes=[{"path": "pc/rpo_e_in/u", "values": [1, float("nan")]}]), "must be finite"),
    (dict(axes=[{"path": "pc/rpo_e_in/u", "linspace": [0, 1]}]), r"linspace takes \[start, stop, num\]"),
    (dict(axes=[{"path": "pc/rpo_e_in/u", "linspace": [0, 1, 4], "values": [1]}]), "exactly one of"),
    (dict(axes=[{"path": "pc/rpo_e_in/u", "linsapce": [0, 1, 4]}]), "unknown key 'linsapce'.*Did you mean 'linspace'"),
    (dict(axes=[{"path": "pc/rpo_e_in/u", "values": [1, 1]}]), "repeats the value 1.0"),
    (dict(axes=[{"path": "pc/rpo_e_in/u", "range": [0, 1, -1]}]), "is empty"),
    (dict(axes=[{"path": "pc/rpo_e_in/u", "name": "a", "values": [1]},
                {"path": "pc/rpo_i/h", "name": "a", "values": [1]}]), "same name 'a'"),
    (dict(design="zip", axes=[{"path": "pc/rpo_e_in/u", "values": [1, 2]},
                              {"path": "pc/rpo_i/h", "values": [1, 2, 3]}]), "zip design needs axes of equal length"),
    (dict(design="grdi"), "design 'grdi' is unknown.*Did you mean 'grid'"),
    (dict(design={"kind": "random", "n": 0}), "design.n must be a positive"),
    (dict(design={"kind": "random", "n": 10}), "give axis 'pc/rpo_e_in/u' bounds"),
    (dict(storage={"store": "s.zarr", "tile": {"u": 9}}), r"storage.tile\['u'\] = 9 is larger than the 8 points"),
    (dict(storage={"store": "s.zarr", "tile": 100}), r"larger than the grid \(16 points\)"),
    (dict(storage={"store": "s.zarr", "tile": {"v": 2}}), "storage.tile names 'v'"),
    (dict(storage={"store": "s.zarr", "compression": {"codec": "lz5"}}), "codec must be"),
    (dict(simulation__step_size=0), "step_size must be positive"),
    (dict(simulation__solver="rk5"), "solver 'rk5' is unknown"),
    (dict(simulation__sampling_step_size=2.5e-4), "not a multiple of step_size"),
    (dict(simulation__outputs={}), "outputs is empty"),
    (dict(keep={"reductions": ["mena"]}), "unknown reduction 'mena'.*Did you mean 'mean'"),
    (dict(keep={"series": False, "reductions": []}), "keep stores nothing"),
    (dict(seed=-1), "seed must be a non-negative"),
    (dict(storage={"stor": "x"}), "unknown key 'stor' in storage.*Did you mean 'store'"),
]


@pytest.mark.parametrize("changes, match", BAD, ids=[m for _, m in BAD])
def test_bad_specs(changes, match):
    with pytest.raises(sweeps.SpecError, match=match):
        load(**changes)


@pytest.mark.parametrize(
    "changes, match",
    [
        (dict(axes=[{"path": "pc/rpo_e_in/uu", "name": "u", "values": [1, 2, 3]}]), r"axis path 'pc/rpo_e_in/uu'.*Did you mean 'pc/rpo_e_in/u'"),
        (dict(model={"template": "nmm.templates.jansenrit.JRC", "params": {"pc/rpo_i/hh": 1}}), "unknown parameter path 'pc/rpo_i/hh'"),
        (dict(simulation__outputs={"v": "pc/rpo_e_in/vv"}), "unknown variable path 'pc/rpo_e_in/vv'"),
    ],
)
def test_specs_checked_against_the_model(changes, match):
    with pytest.raises(sweeps.SpecError, match=match):
        load(**changes).circuit()


def test_yaml_syntax_error():
    with pytest.raises(sweeps.SpecError, match="YAML syntax error in the sweep file at line"):
        sweeps.SweepSpec.from_yaml("name: [a\nmodel: x\n")


def test_tile_object():
    t = Tile(3, (("u", 3, 6), ("c1", 0, 2)))
    assert t.shape == (3, 2) and t.size == 6 and t.region == {"u": slice(3, 6), "c1": slice(0, 2)}
