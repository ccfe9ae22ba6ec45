"""Crashes with real processes: a worker killed with SIGKILL, a driver killed with SIGKILL.

A real ``dask scheduler`` and two ``dask worker`` processes on 127.0.0.1; every process
started here is stopped by PID at the end.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
import zarr
from conftest import slow_spec, stop_processes, subprocess_env

import sweeps

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.integration






@pytest.fixture
def cluster(tmp_path):
    """A scheduler and two no-nanny workers as separate OS processes."""
    sched_file = tmp_path / "scheduler.json"
    dask = [sys.executable, "-m", "distributed.cli.dask_scheduler"]
    scheduler = subprocess.Popen(dask + ["--host", "127.0.0.1", "--port", "0", "--dashboard-address", ":0",
                                         "--scheduler-file", str(sched_file)],
                                 env=subprocess_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    workers = []
    try:
        for _ in range(100):
            if sched_file.exists() and sched_file.read_text().strip():
                break
            time.sleep(0.1)
        address = json.loads(sched_file.read_text())["address"]
        for i in range(2):
            workers.append(subprocess.Popen(
                [sys.executable, "-m", "distributed.cli.dask_worker", address, "--nthreads", "1",
                 "--no-nanny", "--host", "127.0.0.1", "--name", f"w{i}", "--dashboard-address", ":0"],
                env=subprocess_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        yield address, workers
    finally:
        stop_processes(workers)
        stop_processes([scheduler])




def test_worker_killed_mid_sweep(tmp_path, cluster):
    from distributed import Client

    address, workers = cluster
    ref_spec = slow_spec(tmp_path / "ref.zarr")
    with Client(processes=False, n_workers=1, threads_per_worker=2, dashboard_address=":0") as local:
        sweeps.run_sweep(ref_spec, client=local, progress=False)  # serial reference (also warms the cache)
    spec = slow_spec(tmp_path / "s.zarr")
    killed = {}

    def killer():
        store = spec.storage.store
        deadline = time.time() + 120
        while time.time() < deadline:
            try:
                if np.asarray(zarr.open_array(store, path="done", mode="r")[:]).sum() >= 2:
                    break
            except Exception:  # noqa: BLE001 (store not created yet)
                pass
            time.sleep(0.05)
        killed["done_before"] = int(np.asarray(zarr.open_array(store, path="done", mode="r")[:]).sum())
        os.kill(workers[0].pid, signal.SIGKILL)
        killed["at"] = time.time()

    with Client(address, timeout=30) as client:
        client.wait_for_workers(2, timeout=60)
        t = threading.Thread(target=killer)
        t.start()
        sweeps.run_sweep(spec, client=client, progress=False)
        t.join()
    assert workers[0].wait(timeout=10) == -signal.SIGKILL
    assert killed["done_before"] < 32  # the kill happened mid-sweep
    a = xr.open_zarr(ref_spec.storage.store).load()
    b = xr.open_zarr(spec.storage.store).load()
    assert b["done"].values.all()
    for v in a.data_vars:
        np.testing.assert_array_equal(a[v].values, b[v].values, err_msg=v)


DRIVER = textwrap.dedent("""
    import sys, sweeps
    from distributed import Client
    from conftest import slow_spec
    if __name__ == "__main__":
        spec = slow_spec(sys.argv[1])
        with Client(processes=False, n_workers=1, threads_per_worker=1, dashboard_address=":0") as c:
            sweeps.run_sweep(spec, client=c, progress=False)
""")


def test_driver_killed_then_resumed(tmp_path):
    ref = slow_spec(tmp_path / "ref.zarr")
    from distributed import Client

    with Client(processes=False, n_workers=1, threads_per_worker=2, dashboard_address=":0") as c:
        sweeps.run_sweep(ref, client=c, progress=False)
    store = tmp_path / "s.zarr"
    script = tmp_path / "driver.py"
    script.write_text(DRIVER)
    p = subprocess.Popen([sys.executable, str(script), str(store)], env=subprocess_env(), cwd=tmp_path)
    try:
        deadline = time.time() + 120
        n_done = 0
        while time.time() < deadline and p.poll() is None:
            try:
                n_done = int(np.asarray(zarr.open_array(str(store), path="done", mode="r")[:]).sum())
            except Exception:  # noqa: BLE001
                n_done = 0
            if n_done >= 3:
                break
            time.sleep(0.02)
        if p.poll() is None:
            os.kill(p.pid, signal.SIGKILL)
    finally:
        p.wait()
    assert p.returncode == -signal.SIGKILL
    done_before = np.asarray(zarr.open_array(str(store), path="done", mode="r")[:])
    assert 3 <= done_before.sum() < done_before.size, "the kill must land mid-sweep"
    assert Path(str(store) + ".lock").exists()  # left behind by the dead driver

    def chunk_files(i):
        tile_grid_c1 = 1  # c1 has one tile
        key = f"c/{i // tile_grid_c1}/{i % tile_grid_c1}"
        return {p: p.stat().st_mtime_ns for p in store.glob(f"*/{key}")}

    before = {i: chunk_files(i) for i in np.flatnonzero(done_before)}
    with Client(processes=False, n_workers=1, threads_per_worker=2, dashboard_address=":0") as c:
        sweeps.resume(str(store), client=c, progress=False)
    a = xr.open_zarr(ref.storage.store).load()
    b = xr.open_zarr(str(store)).load()
    assert b["done"].values.all()
    for v in a.data_vars:
        np.testing.assert_array_equal(a[v].values, b[v].values, err_msg=v)  # bit for bit
    for i, files in before.items():
        assert files, f"tile {i} wrote no chunk files?"
        assert chunk_files(i) == files, f"tile {i} was recomputed"
    assert not Path(str(store) + ".lock").exists()
