"""Sweeps end to end on a dask client: values, store layout, failures, locks and resume."""
from __future__ import annotations

import json
import os
import re
import socket
import warnings

import numpy as np
import pytest
import xarray as xr
from conftest import direct, small_spec
from distributed import Client, LocalCluster

import sweeps
from sweeps.errors import StoreError, SweepFailed


@pytest.fixture(scope="module")
def client():
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=":0") as cl, \
            Client(cl) as c:
        yield c


def snapshot(path):
    """Every file under a path with its size and mtime."""
    out = {}
    for root, _, files in os.walk(path):
        for f in files:
            p = os.path.join(root, f)
            st = os.stat(p)
            out[p] = (st.st_size, st.st_mtime_ns)
    return out


@pytest.mark.parametrize(
    "design, tile",
    [("grid", None), ("grid", {"u": 5, "c1": 2}), ("grid", {"u": 1, "c1": 3}), ("grid", 7),
     ("zip", 5), ("random", 4)],
)
def test_sweep_equals_direct_simulation(tmp_path, client, design, tile):
    spec = small_spec(tmp_path / "s.zarr", design=design, tile=tile)
    assert sweeps.run_sweep(spec, client=client, progress=False) == str(tmp_path / "s.zarr")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # opening must be silent
        ds = xr.open_zarr(spec.storage.store)
    ref = direct(spec)
    assert set(ds.dims) >= set(spec.dims) | {"time"}
    for v in ("V_pce", "V_pci", "V_pce_mean", "V_pci_max", "V_pce_min"):
        np.testing.assert_allclose(ds[v].values, ref[v], rtol=1e-12, atol=1e-15)
    assert (ds["status"].values == 1).all() and ds["done"].values.all()
    shape = json.loads(ds.attrs["nmm_tile_shape"])
    for v in ("V_pce", "V_pce_mean", "status"):
        assert ds[v].encoding["chunks"][: len(shape)] == tuple(shape.values())
    assert ds["u"].attrs["units"] == "Hz" and ds["V_pce"].attrs["units"] == "V" and ds["time"].attrs["units"] == "s"
    if design != "grid":
        assert ds["u"].dims == ("point",)
    from conftest import design_reference

    for name, values in design_reference(spec).items():  # the stored coordinates
        np.testing.assert_allclose(ds[name].values, values, rtol=1e-12)


def test_store_provenance(tmp_path, client):
    spec = small_spec(tmp_path / "s.zarr", tile=6)
    sweeps.run_sweep(spec, client=client, progress=False)
    ds = xr.open_zarr(spec.storage.store)
    assert sweeps.SweepSpec.from_yaml(ds.attrs["nmm_spec"]).hash() == spec.hash()
    assert "rpo_e_in" in ds.attrs["nmm_model_yaml"]
    assert set(json.loads(ds.attrs["nmm_versions"])) == {"nmm", "numpy", "numba", "dask", "xarray", "zarr"}
    assert ds.attrs["nmm_seed"] == 3 and ds.attrs["nmm_created"]


def test_summaries_only(tmp_path, client):
    spec = small_spec(tmp_path / "s.zarr", series=False, tile=6)
    sweeps.run_sweep(spec, client=client, progress=False)
    ds = xr.open_zarr(spec.storage.store)
    assert "V_pce" not in ds and "time" not in ds.dims
    np.testing.assert_allclose(ds["V_pce_max"].values, direct(spec)["V_pce_max"], rtol=1e-12)


def test_diverging_points_are_nan_with_status(tmp_path, client):
    # a negative time constant makes the synapse blow up; the tile still succeeds
    spec = small_spec(tmp_path / "s.zarr", design="grid", solver="euler", n=6, extra_axes=False)
    spec = sweeps.SweepSpec.from_dict({**spec.to_dict(), "axes": [
        {"path": "pc/rpo_e_in/tau", "name": "tau", "values": [0.01, 0.011, -0.0001, 0.012, 0.013, 0.014]}],
        "storage": {"store": spec.storage.store, "tile": {"tau": 3}}})
    sweeps.run_sweep(spec, client=client, progress=False)
    ds = xr.open_zarr(spec.storage.store)
    assert ds["status"].values.tolist() == [1, 1, 2, 1, 1, 1]
    assert not np.isfinite(ds["V_pce"].values[2]).all()
    assert np.isfinite(ds["V_pce"].values[[0, 1, 3, 4, 5]]).all()
    assert ds["done"].values.all()
    assert sweeps.sweep_status(spec.storage.store)["points_diverged"] == 1


def test_failing_tile_is_retried_then_reported(tmp_path, client):
    spec = small_spec(tmp_path / "s.zarr", tile={"u": 3, "c1": 3},
                      reductions=("mean", "failing_reduction:fails_above_350"))
    with pytest.raises(SweepFailed, match=r"(?s)1 of 4 tiles failed after 1 retries.*tile 3: RuntimeError") as ei:
        sweeps.run_sweep(spec, client=client, progress=False, retries=1)
    f = ei.value.failures[0]
    assert f["points"]["pc/rpo_e_in/u"][1] == 400.0
    ds = xr.open_zarr(spec.storage.store)
    assert ds["done"].values.tolist() == [True, True, True, False]
    assert np.isfinite(ds["V_pce_mean"].values[:9]).all() and np.isnan(ds["V_pce_mean"].values[9:]).all()
    import failing_reduction

    assert failing_reduction.calls(tmp_path) >= 2  # the tile ran again before being reported


def test_second_driver_refused_and_store_untouched(tmp_path, client):
    spec = small_spec(tmp_path / "s.zarr", tile=6)
    sweeps.run_sweep(spec, client=client, progress=False)
    before = snapshot(tmp_path)
    lock = tmp_path / "s.zarr.lock"
    lock.write_text(json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "since": "now"}))
    with pytest.raises(StoreError, match=r"in use by another driver \(pid \d+"):
        sweeps.resume(spec.storage.store, client=client)
    lock.unlink()
    assert snapshot(tmp_path) == before


def test_stale_lock_of_a_dead_driver_is_taken_over(tmp_path, client):
    spec = small_spec(tmp_path / "s.zarr", tile=6)
    (tmp_path / "s.zarr.lock").write_text(json.dumps({"pid": 2**22 + 12345, "host": socket.gethostname()}))
    sweeps.run_sweep(spec, client=client, progress=False)
    assert not (tmp_path / "s.zarr.lock").exists()


def test_changed_spec_refused_and_store_untouched(tmp_path, client):
    spec = small_spec(tmp_path / "s.zarr", tile=6)
    sweeps.run_sweep(spec, client=client, progress=False)
    before = snapshot(tmp_path)
    changed = small_spec(tmp_path / "s.zarr", tile=6, simulation_time=0.3)
    with pytest.raises(StoreError, match="differs from the one the store was made with"):
        sweeps.resume(spec.storage.store, client=client, spec=changed)
    with pytest.raises(StoreError, match="holds a different sweep"):
        sweeps.run_sweep(changed, client=client)
    assert snapshot(tmp_path) == before


def test_resume_is_idempotent_and_only_fills_missing_tiles(tmp_path, client):
    import zarr

    spec = small_spec(tmp_path / "s.zarr", tile={"u": 3, "c1": 3})
    sweeps.run_sweep(spec, client=client, progress=False)
    full = xr.open_zarr(spec.storage.store).load()
    # forget two tiles (as if the driver had died before marking them)
    done = zarr.open_array(spec.storage.store, path="done", mode="r+")
    done[1] = False
    done[3] = False
    kept = {p: v for p, v in snapshot(tmp_path).items() if "/c/1/" not in p and "/c/3/" not in p}
    sweeps.resume(spec.storage.store, client=client, progress=False)
    again = xr.open_zarr(spec.storage.store).load()
    xr.testing.assert_identical(full.drop_attrs(), again.drop_attrs())
    sweeps.resume(spec.storage.store, client=client, progress=False)  # nothing left: no change
    xr.testing.assert_identical(full.drop_attrs(), xr.open_zarr(spec.storage.store).load().drop_attrs())
    now = snapshot(tmp_path)
    assert len(kept) > 10
    assert all(now.get(p) == v for p, v in kept.items() if "done" not in p and "lock" not in p)


def test_store_that_is_not_a_sweep(tmp_path):
    import zarr

    missing, empty, other = (str(tmp_path / n) for n in ("none.zarr", "x.zarr", "g.zarr"))
    with pytest.raises(StoreError, match=f"^store {re.escape(repr(missing))} does not exist.$"):
        sweeps.resume(missing)
    os.mkdir(empty)
    with pytest.raises(StoreError, match=f"^{re.escape(repr(empty))} is not a zarr store: "):
        sweeps.resume(empty)
    zarr.open_group(other, mode="w").attrs["x"] = 1  # a zarr store, but no sweep
    with pytest.raises(StoreError, match=f"^{re.escape(repr(other))} is not an nmm sweep store "
                                         r"\(no nmm_format attribute\).$"):
        sweeps.resume(other)


def test_axis_with_targets_sets_several_paths(tmp_path, client):
    # the Jansen-Rit connectivity C: one axis scaling the four edge weights
    d = small_spec(tmp_path / "s.zarr", n=4, extra_axes=False).to_dict()
    d["axes"].append({"path": "C", "name": "C", "values": [100.0, 135.0, 170.0], "targets": {
        "pc/pro/m->ein/rpo_e/m_in/weight": 1.0, "ein/pro/m->pc/rpo_e_in/m_in/weight": 0.8,
        "pc/pro/m->iin/rpo_e/m_in/weight": 0.25, "iin/pro/m->pc/rpo_i/m_in/weight": 0.25}})
    d["storage"]["tile"] = {"u": 2, "C": 3}
    spec = sweeps.SweepSpec.from_dict(d)
    assert sweeps.SweepSpec.from_yaml(spec.to_yaml()) == spec
    sweeps.run_sweep(spec, client=client, progress=False)
    ds = xr.open_zarr(spec.storage.store)
    np.testing.assert_allclose(ds["V_pce_max"].values, direct(spec)["V_pce_max"], rtol=1e-12)
    # C = 135 reproduces the default circuit
    import nmm

    ref = nmm.simulate("nmm.templates.jansenrit.JRC", {"pc/rpo_e_in/u": ds["u"].values}, simulation_time=0.2,
                       step_size=1e-4, sampling_step_size=1e-3, solver="rk4", cutoff=0.05, summaries=True,
                       outputs={"V_pce": "pc/rpo_e_in/v"})
    np.testing.assert_allclose(ds["V_pce_max"].sel(C=135.0).values, ref["V_pce_max"].values, rtol=1e-12)
    assert "0.8 x ein/pro/m->pc/rpo_e_in/m_in/weight" in ds["C"].attrs["targets"]


def test_analysis_reductions_equal_the_lazy_analysis_of_stored_series(tmp_path, client):
    from nmm.analysis import orbits, spectral

    d = small_spec(tmp_path / "s.zarr", n=8, extra_axes=False, simulation_time=3.0, tile=4).to_dict()
    d["simulation"]["outputs"] = {"V_pc": "pc/pro/v"}
    d["simulation"]["cutoff"] = 1.0
    d["keep"] = {"series": True, "reductions": ["min", "max", "psd", "peak", "bands", "orbit"],
                 "options": {"spectral": {"nperseg": 1000, "fmax": 100}, "peak": {"fmin": 2},
                             "bands": {"alpha": [8, 13], "low": [0.5, 8]}, "orbit": {"max_n": 8}}}
    spec = sweeps.SweepSpec.from_dict(d)
    assert sweeps.SweepSpec.from_yaml(spec.to_yaml()) == spec
    sweeps.run_sweep(spec, client=client, progress=False)
    ds = xr.open_zarr(spec.storage.store)
    lazy = spectral.psd(ds["V_pc"], nperseg=1000)  # dask-backed, chunk by chunk
    assert lazy.chunks is not None
    lazy = lazy.sel(frequency=slice(None, 100)).compute()
    np.testing.assert_allclose(ds["V_pc_psd"].values, lazy.values, rtol=1e-10, atol=1e-12 * float(lazy.max()))
    assert ds["V_pc_psd"].attrs["units"] == "V^2/Hz" and ds["frequency"].attrs["units"] == "Hz"
    pk = spectral.peak_frequency(lazy, fmin=2)
    moving = ds["V_pc_max"].values - ds["V_pc_min"].values > 1e-6
    assert moving.sum() >= 4 and np.isnan(ds["V_pc_peak_frequency"].values[~moving]).all()
    np.testing.assert_allclose(ds["V_pc_peak_frequency"].values[moving], pk["peak_frequency"].values[moving],
                               rtol=1e-10)
    bp = spectral.band_power(spectral.psd(ds["V_pc"], nperseg=1000), {"alpha": (8, 13), "low": (0.5, 8)})
    np.testing.assert_allclose(ds["V_pc_power_alpha"].values, bp["power_alpha"].values, rtol=1e-10,
                               atol=1e-12 * float(bp["power_alpha"].max()))
    o = orbits.orbit_summary(ds["V_pc"].values, 1e-3, tol=1e-3, max_n=8)
    np.testing.assert_array_equal(ds["V_pc_regime"].values, o["regime"])
    np.testing.assert_allclose(ds["V_pc_maxima"].values, o["maxima"], rtol=1e-12)
    assert ds["V_pc_maxima"].dims == ("u", "extremum") and ds["V_pc_period"].attrs["units"] == "s"
    # the alpha rhythm at u = 250: peak in the alpha band, most power there
    i = int(np.argmin(np.abs(ds["u"].values - 250)))
    assert 10.0 < float(ds["V_pc_peak_frequency"][i]) < 11.5
    assert float(ds["V_pc_power_alpha"][i]) > float(ds["V_pc_power_low"][i])


def test_bad_reduction_options():
    d = small_spec("s.zarr", n=4, extra_axes=False).to_dict()
    d["keep"] = {"reductions": ["orbit"], "options": {"orbit": {"tolerance": 1}}}
    with pytest.raises(sweeps.SpecError, match="unknown option 'tolerance' in keep.options.orbit"):
        sweeps.SweepSpec.from_dict(d)
    d["keep"] = {"reductions": ["psd"], "options": {"spectral": {"nperseg": 10**6}}}
    with pytest.raises(sweeps.SpecError, match="nperseg=1000000 is longer than the series"):
        sweeps.SweepSpec.from_dict(d)


def test_initial_states_show_bistability(tmp_path, client):
    """At u = 100 Hz the Jansen-Rit circuit rests from rest but oscillates from a state on
    the upper branch of equilibria (between the Hopf point at 89.83 Hz and the fold)."""
    upper = {"pc/rpo_e_in/v": 0.0216, "pc/rpo_i/v": -0.0146, "ein/rpo_e/v": 0.0140, "iin/rpo_e/v": 0.0035}
    d = small_spec(tmp_path / "s.zarr", n=3, extra_axes=False, simulation_time=6.0).to_dict()
    d["axes"] = [{"path": "pc/rpo_e_in/u", "name": "u", "values": [100.0, 125.0, 250.0]}]
    d["simulation"]["cutoff"] = 4.0
    d["simulation"]["outputs"] = {"V_pc": "pc/pro/v"}
    d["keep"] = {"series": False, "reductions": ["min", "max"]}
    d["initial_states"] = {"rest": {}, "upper": upper}
    d["storage"]["tile"] = {"u": 2, "init": 1}
    spec = sweeps.SweepSpec.from_dict(d)
    assert spec.dims == {"u": 3, "init": 2}
    assert sweeps.SweepSpec.from_yaml(spec.to_yaml()) == spec
    sweeps.run_sweep(spec, client=client, progress=False)
    ds = xr.open_zarr(spec.storage.store)
    amp = (ds["V_pc_max"] - ds["V_pc_min"]).values  # (u, init)
    assert ds["init"].attrs["flag_meanings"] == "rest upper"
    assert amp[0, 0] < 1e-9 < 1e-4 < amp[0, 1]       # u = 100: rest vs alpha cycle
    assert amp[1, 0] > 5e-3 > amp[1, 1] > 1e-4        # u = 125: spike-like cycle vs alpha cycle
    assert abs(amp[2, 0] - amp[2, 1]) < 1e-4          # u = 250: one attractor
    # the same points run directly
    import nmm

    direct_upper = nmm.simulate("nmm.templates.jansenrit.JRC", {"pc/rpo_e_in/u": [100.0, 125.0, 250.0], **upper},
                                simulation_time=6.0, step_size=1e-4, sampling_step_size=1e-3, solver="rk4",
                                cutoff=4.0, outputs={"V_pc": "pc/pro/v"}, summaries=True)
    np.testing.assert_allclose(ds["V_pc_max"].sel(init=1).values, direct_upper["V_pc_max"].values, rtol=1e-12)


def test_initial_states_must_name_states():
    d = small_spec("s.zarr", n=3, extra_axes=False).to_dict()
    d["initial_states"] = {"a": {"pc/rpo_i/h": 1.0}}
    with pytest.raises(sweeps.SpecError, match="'pc/rpo_i/h' is not a state variable"):
        sweeps.SweepSpec.from_dict(d).circuit()


def test_progress_bar_counts_tiles_and_ends_once():
    import io

    from sweeps.progress import Progress

    out = io.StringIO()
    bar = Progress(3, stream=out, already=2)
    for _ in range(3):
        bar.update(1, 10)
    bar.close()
    text = out.getvalue()
    assert text.count("5/5 tiles") == 1 and text.endswith("\n") and "points/s" in text and "ETA" in text


def test_float32_sweep_end_to_end(tmp_path, client):
    import zarr

    spec = small_spec(tmp_path / "s.zarr", tile={"u": 5, "c1": 2}, float_precision="float32")
    sweeps.run_sweep(spec, client=client, progress=False)
    for v in ("V_pce", "V_pci"):  # stored as float32, not float64 with float32 values
        assert zarr.open_array(spec.storage.store, path=v, mode="r").dtype == np.float32
    ds = xr.open_zarr(spec.storage.store)
    assert ds["V_pce"].dtype == np.float32 and (ds["status"].values == 1).all() and ds["done"].values.all()
    ref = direct(spec)  # nmm.simulate in float32, all points at once
    assert ref["V_pce"].dtype == np.float32
    for v in ("V_pce", "V_pci", "V_pce_mean", "V_pci_max", "V_pce_min"):
        np.testing.assert_allclose(ds[v].values, ref[v], rtol=1e-6, atol=0)
    # and float32 is float32: close to the float64 sweep, but not equal
    ref64 = direct(small_spec(tmp_path / "t.zarr", tile={"u": 5, "c1": 2}))
    err = np.abs(ds["V_pce"].values - ref64["V_pce"]).max() / np.ptp(ref64["V_pce"])
    assert 1e-7 < err < 1e-4, err  # measured 8.0e-6


def test_sweep_draws_its_progress_bar(tmp_path, client, capsys):
    spec = small_spec(tmp_path / "s.zarr", tile={"u": 4, "c1": 3}, series=False)
    sweeps.run_sweep(spec, client=client, progress=True)
    err = capsys.readouterr().err
    assert "dask dashboard: http" in err
    bar = err.split("\r")[-1]
    assert bar.startswith("[" + "#" * 30 + "] 3/3 tiles") and "points/s" in bar and "ETA 00:00:00" in bar, err
    assert err.endswith("\n") and err.count("3/3 tiles") == 1
    # resuming with one tile left: counts from the tiles already done
    import zarr

    zarr.open_array(spec.storage.store, path="done", mode="r+")[1] = False
    sweeps.resume(spec.storage.store, client=client, progress=True)
    err = capsys.readouterr().err
    assert re.findall(r"(\d+)/(\d+) tiles", err) == [("3", "3")], err
