"""Sweeps on a real SLURM: the one-machine SLURM of ``cluster/slurm/start.sh``.

``.ci/run`` starts it; by hand: ``sudo bash cluster/slurm/start.sh`` (and ``stop.sh``).
Without SLURM, or with the node not idle, these tests skip and say why. The workers run in
SLURM jobs submitted by dask-jobqueue's SLURMCluster, with the venv's python (the package is
installed there, editable).
"""
from __future__ import annotations

import os
import shutil
import subprocess
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
import yaml
import zarr
from conftest import small_spec

import sweeps
from sweeps.cluster import client_for

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.slurm, pytest.mark.integration]
START = "start it with `sudo bash cluster/slurm/start.sh`"


def _slurm_problem() -> str | None:
    """Why SLURM cannot run these tests, or None."""
    if shutil.which("sinfo") is None or shutil.which("sbatch") is None:
        return f"SLURM is not installed (no sinfo/sbatch); {START}, which installs it"
    try:
        out = subprocess.run(["sinfo", "-h", "-n", "localhost", "-o", "%t"], capture_output=True, text=True,
                             timeout=20)
    except subprocess.TimeoutExpired:
        return f"sinfo did not answer in 20 s (slurmctld not running?); {START}"
    if out.returncode != 0:
        why = (out.stderr.strip().splitlines() or ["no output"])[-1]
        return f"SLURM is not running (sinfo: {why}); {START}"
    state = out.stdout.strip()
    if state not in ("idle", "mix"):
        return f"SLURM node localhost is not idle (sinfo state: {state or 'no such node'!r}); {START}"
    return None


@pytest.fixture(scope="module", autouse=True)
def slurm():
    problem = _slurm_problem()
    if problem:
        pytest.skip(problem)


@pytest.fixture
def profile(tmp_path):
    """A slurm profile file: 2 one-core jobs on the local node, all on 127.0.0.1."""
    job_name = f"nmm-test-{os.getpid()}-{tmp_path.name}"[:60]
    path = tmp_path / "slurm-test.yaml"
    path.write_text(yaml.safe_dump({
        "kind": "slurm", "description": "the one-machine SLURM of cluster/slurm/start.sh",
        "cores": 1, "processes": 1, "memory": "2GB", "queue": "debug", "walltime": "00:10:00",
        "job_name": job_name, "jobs": 2, "log_directory": str(tmp_path / "logs"),
        "scheduler_options": {"host": "127.0.0.1", "dashboard_address": ":0"},
        "worker_extra_args": ["--host", "127.0.0.1", "--lifetime", "8m", "--lifetime-stagger", "1m"],
    }))
    yield path
    # whatever happened, leave no job behind
    subprocess.run(["scancel", "--name", job_name], capture_output=True, timeout=30)


def _local(spec):
    """The reference: the same spec on an in-process cluster (also warms the numba cache)."""
    from distributed import Client

    with Client(processes=False, n_workers=1, threads_per_worker=2, dashboard_address=":0") as c:
        sweeps.run_sweep(spec, client=c, progress=False)
    return xr.open_zarr(spec.storage.store).load()


def _assert_same(ref: xr.Dataset, store: str):
    got = xr.open_zarr(store).load()
    assert got["done"].values.all()
    assert set(got.data_vars) == set(ref.data_vars)
    for v in ref.data_vars:
        np.testing.assert_array_equal(ref[v].values, got[v].values, err_msg=v)


def _quickstart(store: Path) -> sweeps.SweepSpec:
    """workflows/quickstart.yaml, scaled down: 24 inputs, 0.6 s simulated, 4 tiles."""
    d = yaml.safe_load((ROOT / "workflows" / "quickstart.yaml").read_text())
    (u,) = d["axes"]
    d["axes"] = [{**u, "linspace": [0, 400, 24]}]
    d["simulation"] = {**d["simulation"], "simulation_time": 0.6, "cutoff": 0.2}
    d["storage"] = {**d["storage"], "store": str(store), "tile": 6}
    return sweeps.SweepSpec.from_dict(d)


def _job_ids(client) -> dict[str, str]:
    """{worker address: SLURM job id} of the connected workers."""
    return client.run(lambda: os.environ.get("SLURM_JOB_ID"))  # a lambda: runs there, not a copy of our env


def test_quickstart_on_slurm_equals_local(tmp_path, profile):
    ref = _local(_quickstart(tmp_path / "local.zarr"))
    spec = _quickstart(tmp_path / "slurm.zarr")
    with client_for(str(profile)) as client:
        client.wait_for_workers(2, timeout=90)
        ids = _job_ids(client)
        assert len(ids) == 2 and all(i and i.isdigit() for i in ids.values()), ids
        sweeps.run_sweep(spec, client=client, progress=False)
    _assert_same(ref, spec.storage.store)


def test_scancel_mid_sweep_loses_nothing(tmp_path, profile):
    """One worker's job is cancelled while tiles run; the sweep completes, equal to local."""
    def slow(store):  # 32 tiles of ~0.15 s each, single-threaded
        return small_spec(store, tile={"u": 2, "c1": 3}, n=64, simulation_time=60.0, series=False)

    ref = _local(slow(tmp_path / "local.zarr"))
    spec = slow(tmp_path / "slurm.zarr")
    store = spec.storage.store
    seen: dict = {}

    def n_done() -> int:
        try:
            return int(np.asarray(zarr.open_array(store, path="done", mode="r")[:]).sum())
        except Exception:  # noqa: BLE001 (the store does not exist yet)
            return 0

    def cancel(client, victim, job):
        deadline = time.time() + 120
        while n_done() < 2 and time.time() < deadline:
            time.sleep(0.05)
        seen["done_at_cancel"] = n_done()
        subprocess.run(["scancel", job], check=True, timeout=30)
        while victim in client.scheduler_info()["workers"] and time.time() < deadline:
            time.sleep(0.05)
        seen["done_when_gone"] = n_done()

    with client_for(str(profile)) as client:
        client.wait_for_workers(2, timeout=90)
        victim, job = sorted(_job_ids(client).items())[0]
        t = threading.Thread(target=cancel, args=(client, victim, job))
        t.start()
        try:
            sweeps.run_sweep(spec, client=client, progress=False)
        finally:
            t.join()
        assert victim not in client.scheduler_info()["workers"]
    # the worker left while tiles were still to do, and nothing was lost
    assert seen["done_at_cancel"] >= 2
    assert seen["done_when_gone"] < 32, seen
    _assert_same(ref, store)
