"""End-to-end sweep benchmark: a (u, C) Jansen-Rit grid through dask and zarr.

Run by hand::

    python benchmarks/bench_sweep.py            # 100 x 100 grid, then memory at 1e4 / 1e5 points
    python benchmarks/bench_sweep.py --quick    # 30 x 30 grid, memory at 1e3 / 1e4 points

Prints, all measured in this run on this machine:

- the bare batch kernel (``nmm.simulate``, one process, numba threads on every core)
  on the grid's points, summaries only;
- the sweep end to end (``sweeps.run_sweep``: LocalCluster startup excluded, store
  creation, tasks, region writes, done mask) with 1 and with 2 single-threaded workers;
- ratios: end-to-end / bare kernel (goal <= 1.3) and 1 worker / 2 workers (goal >= 1.8);
- peak resident memory of the driver and of each worker for two grid sizes with the same
  tile size (it should follow the tile, not the grid).
"""
from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import nmm  # noqa: E402
import sweeps  # noqa: E402

C_TARGETS = {"pc/pro/m->ein/rpo_e/m_in/weight": 1.0, "ein/pro/m->pc/rpo_e_in/m_in/weight": 0.8,
             "pc/pro/m->iin/rpo_e/m_in/weight": 0.25, "iin/pro/m->pc/rpo_i/m_in/weight": 0.25}


def spec_for(store, nu, nc, tile, T=2.0):
    return sweeps.SweepSpec.from_dict({
        "name": "bench",
        "model": {"template": "nmm.templates.jansenrit.JRC"},
        "axes": [{"path": "pc/rpo_e_in/u", "name": "u", "linspace": [50, 400, nu]},
                 {"path": "C", "name": "C", "linspace": [80, 200, nc], "targets": C_TARGETS}],
        "simulation": {"simulation_time": T, "step_size": 1e-4, "sampling_step_size": 1e-3, "solver": "rk4",
                       "cutoff": min(1.0, T / 2), "outputs": {"V_pce": "pc/rpo_e_in/v", "V_pci": "pc/rpo_i/v"}},
        "keep": {"series": False, "reductions": ["mean", "min", "max"]},
        "storage": {"store": store, "tile": tile},
    })


def bare(spec):
    from sweeps.plan import design_points, expand

    pts = design_points(spec)
    mesh = np.meshgrid(*[pts[a.name] for a in spec.axes], indexing="ij")
    params = expand(spec, {a.name: m.ravel() for a, m in zip(spec.axes, mesh)})
    sim = spec.simulation
    kw = dict(simulation_time=sim.simulation_time, step_size=sim.step_size,
              sampling_step_size=sim.sampling_step_size, outputs=dict(sim.outputs), solver=sim.solver,
              cutoff=sim.cutoff, keep_series=False, summaries=True)
    c = spec.circuit()
    nmm.simulate(c, {k: v[:600] for k, v in params.items()}, **kw)  # compile / load (the parallel kernel)
    t = time.perf_counter()
    nmm.simulate(c, params, **kw)
    return time.perf_counter() - t


def maxrss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def sweep_timed(spec, n_workers):
    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True, dashboard_address=":0") as cl, \
            Client(cl) as client:
        # warm every worker: import, build the model, load the kernel from disk
        warm = spec_for(spec.storage.store + ".warm", 4, 2 * n_workers, {"u": 4, "C": 1}, T=0.01)
        sweeps.run_sweep(warm, client=client, progress=False)
        t = time.perf_counter()
        sweeps.run_sweep(spec, client=client, progress=False)
        el = time.perf_counter() - t
        workers = client.run(maxrss_mb)
    return el, workers


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--tile", type=int, default=None, help="points per tile (default: 8 tiles of the grid)")
    args = ap.parse_args()
    n = 30 if args.quick else 100
    tile = args.tile or -(-n * n // 8)
    cores = os.cpu_count()
    with tempfile.TemporaryDirectory() as tmp:
        spec = spec_for(os.path.join(tmp, "a.zarr"), n, n, tile)
        steps = spec.simulation.simulation_time / spec.simulation.step_size
        t_bare = bare(spec)
        print(f"machine: {cores} cores; grid {n} x {n} = {n * n} points, {steps:.0f} rk4 steps, tile {tile} points")
        print(f"bare kernel (1 process, {cores} numba threads): {t_bare:7.2f} s  "
              f"{n * n * steps / t_bare / 1e6:6.1f} M point-steps/s")
        t2, _ = sweep_timed(spec, 2)
        spec1 = spec.with_store(os.path.join(tmp, "b.zarr"))
        t1, _ = sweep_timed(spec1, 1)
        print(f"sweep, 2 workers x 1 thread:                 {t2:7.2f} s  {n * n * steps / t2 / 1e6:6.1f} M point-steps/s")
        print(f"sweep, 1 worker  x 1 thread:                 {t1:7.2f} s  {n * n * steps / t1 / 1e6:6.1f} M point-steps/s")
        print(f"ratio end-to-end (2 workers) / bare kernel:  {t2 / t_bare:5.2f}   (goal <= 1.3)")
        print(f"speed-up 2 workers / 1 worker:               {t1 / t2:5.2f}   (goal >= 1.8)")
        print("\npeak memory (same tile size, growing grid):")
        sizes = [(32, 32), (100, 100)] if args.quick else [(100, 100), (316, 316)]
        import subprocess

        for nu, nc in sizes:
            code = (
                "import sys, resource, os; sys.path.insert(0, %r); import bench_sweep as b; "
                "from distributed import Client, LocalCluster\n"
                "if __name__ == '__main__':\n"
                "    s = b.spec_for(%r, %d, %d, %d, T=0.5)\n"
                "    with LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=':0') as cl, Client(cl) as c:\n"
                "        import sweeps; sweeps.run_sweep(s, client=c, progress=False)\n"
                "        w = c.run(b.maxrss_mb)\n"
                "    print(b.maxrss_mb(), *w.values())\n"
            ) % (os.path.dirname(os.path.abspath(__file__)), os.path.join(tmp, f"m{nu}.zarr"), nu, nc, tile)
            out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
            drv, *wk = map(float, out.split())
            print(f"  {nu * nc:>7} points: driver {drv:6.0f} MB, workers " + ", ".join(f"{w:6.0f} MB" for w in wk))


if __name__ == "__main__":
    main()
