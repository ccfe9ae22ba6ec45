"""Guards on huge sweeps: sizes estimated from the spec alone, limits from dask config, and
nothing left on disk by a refused or failed store creation."""
from __future__ import annotations

import os
import time

import dask.config
import pytest
import xarray as xr
from conftest import small_spec

import sweeps
from sweeps.errors import SpecError
from sweeps.plan import check_limits, sweep_size, tile_shape


class NoClient:
    """A client that must never be used: the refusals come before any task."""

    def __getattr__(self, name):
        raise AssertionError(f"the client was used ({name})")


def listing(path):
    return sorted(os.path.relpath(os.path.join(r, f), path) for r, ds, fs in os.walk(path) for f in ds + fs)


def huge(store, **design):
    d = small_spec(store, extra_axes=False).to_dict()
    if design:
        d["design"] = design
        d["axes"] = [{"path": "pc/rpo_e_in/u", "name": "u", "bounds": [50, 400]}]
    else:
        d["axes"] = [{"path": "pc/rpo_e_in/u", "name": "u", "linspace": [50, 400, 10**9]}]
    d["storage"] = {"store": str(store)}
    return sweeps.SweepSpec.from_dict(d)


@pytest.mark.parametrize("design", [{}, {"kind": "random", "n": 10**9}], ids=["grid", "random"])
def test_billion_points_refused_quickly_and_nothing_written(tmp_path, design):
    t0 = time.perf_counter()
    spec = huge(tmp_path / "sub" / "s.zarr", **design)  # declaring it allocates nothing
    assert spec.n_points == 10**9
    with pytest.raises(SpecError, match=r"has 1,000,000,000 points .* more than the limit nmm\.limits\.max-points = "
                                        r"100,000,000\..*DASK_NMM__LIMITS__MAX_POINTS=1000000000"):
        sweeps.run_sweep(spec, client=NoClient())
    assert time.perf_counter() - t0 < 10
    assert listing(tmp_path) == []


def test_store_bytes_limit_names_the_size_and_the_biggest_variable(tmp_path):
    spec = small_spec(tmp_path / "s.zarr", simulation_time=2.0, n=100)  # 300 points x 1,950 samples
    size = sweep_size(spec)
    assert size.variables["V_pce"] == 300 * 1950 * 8 and size.variables["status"] == 300
    with dask.config.set({"nmm.limits.max-store-bytes": "1 MiB"}):
        with pytest.raises(SpecError, match=r"(?s)8\.9\d MiB \([\d,]+ bytes\) of data to store.*max-store-bytes = "
                                            r"1\.00 MiB.*largest variable is 'V_pce'.*keep\.series: false"):
            sweeps.run_sweep(spec, client=NoClient())
    assert listing(tmp_path) == []


def test_tiles_limit(tmp_path):
    spec = small_spec(tmp_path / "s.zarr", tile=1)
    with dask.config.set({"nmm.limits.max-tiles": 10}):
        with pytest.raises(SpecError, match=r"has 36 tiles .*nmm\.limits\.max-tiles = 10\..*storage\.tile"):
            sweeps.run_sweep(spec, client=NoClient())
    assert listing(tmp_path) == []


def test_limits_are_raised_by_config_and_environment(tmp_path, monkeypatch):
    spec = huge(tmp_path / "s.zarr")
    with dask.config.set({"nmm.limits.max-points": 2 * 10**9, "nmm.limits.max-store-bytes": "1 PiB"}):
        size = check_limits(spec, tile_shape(spec))
    assert size.points == 10**9 and size.tiles == -(-10**9 // tile_shape(spec)["u"])
    monkeypatch.setenv("DASK_NMM__LIMITS__MAX_POINTS", "2_000_000_000")
    monkeypatch.setenv("DASK_NMM__LIMITS__MAX_STORE_BYTES", "1 PiB")
    try:
        dask.config.refresh()
        assert check_limits(spec).points == 10**9
    finally:
        monkeypatch.delenv("DASK_NMM__LIMITS__MAX_POINTS")
        monkeypatch.delenv("DASK_NMM__LIMITS__MAX_STORE_BYTES")
        dask.config.refresh()
    with pytest.raises(SpecError, match="max-points"):
        check_limits(spec)


def test_estimate_equals_the_store(tmp_path):
    spec = small_spec(tmp_path / "s.zarr", tile={"u": 4, "c1": 3},
                      reductions=("mean", "max", "psd", "peak"))
    circuit = spec.circuit()
    shape = tile_shape(spec)
    from sweeps.store import create_store

    create_store(spec, circuit, shape)
    ds = xr.open_zarr(spec.storage.store)
    size = sweep_size(spec, shape)
    assert size.variables == {v: ds[v].nbytes for v in ds.data_vars}
    assert size.store_bytes == sum(ds[v].nbytes for v in ds.data_vars) and size.tiles == 3


@pytest.mark.parametrize("exc", [OSError("No space left on device"), KeyboardInterrupt()])
def test_failed_creation_leaves_nothing(tmp_path, monkeypatch, exc):
    import sweeps.store as store_module

    real = store_module._write_template

    def write_then_fail(ds, enc, where):
        real(ds, enc, where)  # the temporary store is complete on disk
        raise exc

    monkeypatch.setattr(store_module, "_write_template", write_then_fail)
    spec = small_spec(tmp_path / "a" / "b" / "s.zarr", tile=6)
    with pytest.raises(type(exc)):
        sweeps.run_sweep(spec, client=NoClient())
    assert listing(tmp_path) == []


def test_failed_template_write_leaves_nothing(tmp_path, monkeypatch):
    real = xr.Dataset.to_zarr

    def partial(self, store=None, *args, encoding=None, **kwargs):
        # part of the template, then a failure
        real(self[["status"]], store, *args, encoding={"status": encoding["status"]}, **kwargs)
        raise RuntimeError("injected failure while writing the template")

    monkeypatch.setattr(xr.Dataset, "to_zarr", partial)
    (tmp_path / "keep.txt").write_text("not ours")
    spec = small_spec(tmp_path / "s.zarr", tile=6)
    with pytest.raises(RuntimeError, match="injected"):
        sweeps.run_sweep(spec, client=NoClient())
    assert listing(tmp_path) == ["keep.txt"]


def test_big_store_is_created_in_seconds(tmp_path):
    # 250,000 tiles: no dask graph of one task per chunk is built for the template
    d = small_spec(tmp_path / "s.zarr", series=False, reductions=("mean",)).to_dict()
    d["axes"] = [{"path": "pc/rpo_e_in/u", "name": "u", "linspace": [50, 400, 500]},
                 {"path": "pc/rpo_i/h", "name": "h", "linspace": [-0.03, -0.01, 500]}]
    d["storage"] = {"store": str(tmp_path / "s.zarr"), "tile": {"u": 1, "h": 1}}
    spec = sweeps.SweepSpec.from_dict(d)
    from sweeps.store import create_store

    t0 = time.perf_counter()
    create_store(spec, spec.circuit(), tile_shape(spec))
    assert time.perf_counter() - t0 < 20
    assert xr.open_zarr(tmp_path / "s.zarr")["done"].shape == (250_000,)
