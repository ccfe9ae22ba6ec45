"""An adaptive sweep's driver killed with SIGKILL in the middle of a level, then resumed:
it continues at that level and tile, rewrites no done tile, and ends bit for bit equal to
a run without a kill (a real process, as tests/integration/test_crashes.py does)."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
import zarr
from conftest import subprocess_env
from distributed import Client

import sweeps
from test_adaptive import adaptive_dict

pytestmark = pytest.mark.slow

DRIVER = textwrap.dedent("""
    import sys, sweeps
    from distributed import Client
    if __name__ == "__main__":
        spec = sweeps.SweepSpec.from_yaml(sys.argv[1])
        with Client(processes=False, n_workers=1, threads_per_worker=1, dashboard_address=":0") as c:
            sweeps.run_sweep(spec, client=c, progress=False)
""")

TILE = 2


def slow_adaptive(store):
    """Tiles of 2 points of 10 s: a level takes seconds, so a kill lands inside one."""
    return sweeps.SweepSpec.from_dict(adaptive_dict(store, tile=TILE, simulation_time=10.0))


def _levels_done(store):
    """(level of each planned tile, done mark of each planned tile), as the store holds them now."""
    level = np.asarray(zarr.open_array(str(store), path="level", mode="r")[:])
    done = np.asarray(zarr.open_array(str(store), path="done", mode="r")[:])
    tl = level[::TILE][: done.size]
    return tl[tl > 0], done[: tl.size][tl > 0]


def test_driver_killed_mid_level_then_resumed(tmp_path):
    ref = slow_adaptive(tmp_path / "ref.zarr")
    with Client(processes=False, n_workers=1, threads_per_worker=2, dashboard_address=":0") as c:
        sweeps.run_sweep(ref, client=c, progress=False)
    store = tmp_path / "s.zarr"
    spec_file = tmp_path / "spec.yaml"
    spec_file.write_text(slow_adaptive(store).to_yaml())
    script = tmp_path / "driver.py"
    script.write_text(DRIVER)
    p = subprocess.Popen([sys.executable, str(script), str(spec_file)], env=subprocess_env(), cwd=tmp_path)
    try:
        deadline = time.time() + 180
        while time.time() < deadline and p.poll() is None:
            try:
                tl, done = _levels_done(store)
                if tl.max() >= 2 and 0 < done[tl == tl.max()].sum() < (tl == tl.max()).sum():
                    break
            except Exception:  # noqa: BLE001 (store not made yet)
                pass
            time.sleep(0.01)
        if p.poll() is None:
            os.kill(p.pid, signal.SIGKILL)
    finally:
        p.wait()
    assert p.returncode == -signal.SIGKILL
    tl, done = _levels_done(store)
    last = tl.max()
    assert last >= 2 and 0 < done[tl == last].sum() < (tl == last).sum(), "the kill must land inside a level"
    assert Path(str(store) + ".lock").exists()  # left behind by the dead driver
    done_tiles = np.flatnonzero(np.asarray(zarr.open_array(str(store), path="done", mode="r")[:]))
    before = {f: f.stat().st_mtime_ns for i in done_tiles for f in store.glob(f"*/c/{i}")}
    assert before
    with Client(processes=False, n_workers=1, threads_per_worker=2, dashboard_address=":0") as c:
        sweeps.resume(str(store), client=c, progress=False)
    a = xr.open_zarr(ref.storage.store).load()
    b = xr.open_zarr(str(store)).load()
    for v in a.variables:
        np.testing.assert_array_equal(a[v].values, b[v].values, err_msg=str(v))  # bit for bit
    assert {f: f.stat().st_mtime_ns for f in before} == before, "a tile done before the kill was rewritten"
    assert not Path(str(store) + ".lock").exists()
    st = sweeps.sweep_status(str(store))
    assert st["tiles_done"] == st["tiles_total"] and st["level"] == 3
