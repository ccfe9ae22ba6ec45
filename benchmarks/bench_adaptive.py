"""Adaptive sweep vs a dense grid: the Jansen-Rit (u, C) regime map of issue 14.

Run by hand::

    python benchmarks/bench_adaptive.py                        # 3 s simulations (dense: minutes on 2 cores)
    python benchmarks/bench_adaptive.py --simulation-time 1.5  # quicker, noisier regimes
    python benchmarks/bench_adaptive.py --workdir out/bench    # keep (and reuse) the stores

Both sweeps use the settings of ``workflows/jansenrit_regime_map.yaml`` (u in [0, 400],
C in [60, 240], rk4, dt 1e-4 s, 1 ms samples) with a shorter simulation (the cutoff
scaled with it, as ``nmm run --simulation-time`` does), the same for both. Printed, all
measured in this run:

- the dense 257 x 257 grid (66,049 points): wall time (LocalCluster of single-threaded
  workers, one per core, startup excluded);
- adaptive sweeps from a 17 x 17 base with 3, 4 and 5 levels (finest grids 65, 129 and
  257 per axis), refining on the regime alone and on the regime and the peak frequency
  (0.5 Hz): points used (and their fraction of the dense grid), wall time, and the
  fraction of the 257 x 257 cells whose regime is the dense grid's, each cell taking its
  nearest computed point (:func:`sweeps.rasterize` on the dense grid);
- where they differ: how many differing cells lie within one finest cell of the run of a
  dense cell of the adaptive's regime (the boundary placed within one finest cell), and
  how many dense cells are isolated (a regime no neighbour shares: a point no refinement
  can find).

Goal (issue 14): >= 99.5 % of the cells identical with <= 10 % of the points, boundaries
within one finest cell.
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time

import numpy as np
import xarray as xr

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import sweeps  # noqa: E402
from sweeps.adaptive import Lattice, _nearest  # noqa: E402

C_TARGETS = {"pc/pro/m->ein/rpo_e/m_in/weight": 1.0, "ein/pro/m->pc/rpo_e_in/m_in/weight": 0.8,
             "pc/pro/m->iin/rpo_e/m_in/weight": 0.25, "iin/pro/m->pc/rpo_i/m_in/weight": 0.25}
DENSE = 257


def base_dict(store: str, T: float) -> dict:
    return {
        "name": "bench_adaptive",
        "model": {"template": "nmm.templates.jansenrit.JRC"},
        "simulation": {"simulation_time": T, "step_size": 1e-4, "sampling_step_size": 1e-3, "solver": "rk4",
                       "cutoff": 5.0 / 8.0 * T, "outputs": {"V_pc": "pc/pro/v"}},
        "keep": {"series": False, "reductions": ["peak", "orbit"], "options": {"peak": {"fmin": 1, "fmax": 60}}},
        "storage": {"store": store},
    }


def dense_spec(store: str, T: float) -> sweeps.SweepSpec:
    d = base_dict(store, T)
    d["axes"] = [{"path": "pc/rpo_e_in/u", "name": "u", "linspace": [0, 400, DENSE]},
                 {"path": "C", "name": "C", "linspace": [60, 240, DENSE], "targets": C_TARGETS}]
    d["storage"]["tile"] = 257
    return sweeps.SweepSpec.from_dict(d)


def adaptive_spec(store: str, T: float, levels: int, refine_on: list[str], tolerance: dict) -> sweeps.SweepSpec:
    d = base_dict(store, T)
    d["axes"] = [{"path": "pc/rpo_e_in/u", "name": "u", "bounds": [0, 400]},
                 {"path": "C", "name": "C", "bounds": [60, 240], "targets": C_TARGETS}]
    d["design"] = {"kind": "adaptive", "base": [17, 17], "levels": levels, "refine_on": refine_on,
                   **({"tolerance": tolerance} if tolerance else {})}
    d["storage"]["tile"] = 64
    return sweeps.SweepSpec.from_dict(d)


def on_dense(ds: xr.Dataset, var: str) -> np.ndarray:
    """``var`` of an adaptive store on the dense 257 x 257 grid: each cell takes its nearest
    computed point (ties to the lowest lattice index), as :func:`sweeps.rasterize` does on
    the run's own finest grid."""
    a = ds["lattice"].attrs
    lat = Lattice(tuple(a["nmm_lattice_base"]), int(a["nmm_lattice_levels"]))
    factor = (DENSE - 1) // (lat.shape[0] - 1)
    keep = np.flatnonzero((ds["level"].values > 0) & (ds["status"].values != 0))
    index = ds["lattice"].values[keep]
    pos = lat.unravel(index).astype(float) * factor
    nodes = np.stack(np.meshgrid(np.arange(DENSE), np.arange(DENSE), indexing="ij"), -1).reshape(-1, 2).astype(float)
    j = _nearest(pos, index, nodes)
    return ds[var].values[keep][j].reshape(DENSE, DENSE)


def near(dense: np.ndarray, adaptive: np.ndarray, radius: int) -> np.ndarray:
    """Whether each cell's adaptive regime occurs in the dense map within ``radius`` cells
    (Chebyshev distance) of it."""
    n = dense.shape[0]
    pad = np.pad(dense, radius, constant_values=-99)
    hit = np.zeros(dense.shape, dtype=bool)
    for di in range(-radius, radius + 1):
        for dj in range(-radius, radius + 1):
            hit |= pad[radius + di:radius + di + n, radius + dj:radius + dj + n] == adaptive
    return hit


def isolated(dense: np.ndarray) -> int:
    """Cells whose regime none of their 8 neighbours shares."""
    n = dense.shape[0]
    pad = np.pad(dense, 1, constant_values=-99)
    same = np.zeros(dense.shape, dtype=bool)
    for di in (-1, 0, 1):
        for dj in (-1, 0, 1):
            if di or dj:
                same |= pad[1 + di:1 + di + n, 1 + dj:1 + dj + n] == dense
    return int((~same).sum())


def run(spec: sweeps.SweepSpec, client) -> float:
    t0 = time.perf_counter()
    sweeps.run_sweep(spec, client=client, progress=False)
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--simulation-time", type=float, default=3.0)
    ap.add_argument("--workdir", default=None, help="keep the stores here (a dense store there is reused)")
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--levels", type=int, nargs="+", default=[3, 4, 5])
    args = ap.parse_args()
    from distributed import Client, LocalCluster

    work = args.workdir or tempfile.mkdtemp(prefix="bench_adaptive_")
    os.makedirs(work, exist_ok=True)
    T = args.simulation_time
    var = "V_pc_regime"
    print(f"Jansen-Rit (u, C) regime map, {T:g} s simulations (cutoff {5 / 8 * T:g} s), {args.workers} workers")
    with LocalCluster(n_workers=args.workers, threads_per_worker=1, processes=True, dashboard_address=":0") as cl, \
            Client(cl) as client:
        dstore = os.path.join(work, f"dense_{T:g}.zarr")
        dspec = dense_spec(dstore, T)
        reused = os.path.exists(dstore) and sweeps.sweep_status(dstore)["tiles_done"] == DENSE
        # warm the kernel cache on every worker first (a tiny sweep), so no run pays the compile
        warm = adaptive_spec(os.path.join(work, "warm.zarr"), T, 1, [var], {})
        shutil.rmtree(warm.storage.store, ignore_errors=True)
        run(warm, client)
        t_dense = float("nan") if reused else run(dspec, client)
        dense = xr.open_zarr(dstore)[var].values
        st = sweeps.sweep_status(dstore)
        assert st["points_ok"] + st["points_diverged"] == DENSE * DENSE, st
        values, counts = np.unique(dense, return_counts=True)
        print(f"dense {DENSE} x {DENSE}: {DENSE * DENSE:,} points, "
              f"{'reused' if reused else f'{t_dense:.1f} s'}; regimes "
              + ", ".join(f"{int(v)}: {c}" for v, c in zip(values, counts))
              + f"; isolated cells {isolated(dense)}")
        print(f"{'refine on':<28}{'levels':>6}{'points':>8}{'% dense':>9}{'wall s':>8}{'x faster':>9}"
              f"{'identical %':>12}{'differ':>7}{'<=1 cell':>9}{'<=1 finest':>11}")
        for label, refine_on, tol in (("regime", [var], {}),
                                      ("regime + peak freq (0.5 Hz)", [var, "V_pc_peak_frequency"],
                                       {"V_pc_peak_frequency": 0.5})):
            for levels in args.levels:
                store = os.path.join(work, f"adaptive_{T:g}_{len(refine_on)}_{levels}.zarr")
                shutil.rmtree(store, ignore_errors=True)
                spec = adaptive_spec(store, T, levels, refine_on, tol)
                t = run(spec, client)
                ds = xr.open_zarr(store).load()
                n = int((ds["level"].values > 0).sum())
                got = on_dense(ds, var)
                same = got == dense
                differ = int((~same).sum())
                finest = (DENSE - 1) // ((17 - 1) * 2 ** (levels - 1))
                in1 = int((~same & near(dense, got, 1)).sum())
                in_f = int((~same & near(dense, got, finest)).sum())
                ratio = t_dense / t
                print(f"{label:<28}{levels:>6}{n:>8,}{100 * n / DENSE ** 2:>8.1f}%{t:>8.1f}{ratio:>9.1f}"
                      f"{100 * same.mean():>11.2f}%{differ:>7}{in1:>9}{in_f:>11}")
    print("identical: cells of the 257 x 257 map with the dense grid's regime; differ: the others; "
          "<=1 cell / <=1 finest: of those, how many have the adaptive's regime in the dense map within one "
          "cell of 257 / within one finest cell of the run")
    if args.workdir is None:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
