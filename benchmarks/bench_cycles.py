"""Limit-cycle continuation benchmark: the whole Jansen-Rit bifurcation diagram.

Run by hand::

    python benchmarks/bench_cycles.py            # diagram timings + the (u, C) fold-of-cycles curve
    python benchmarks/bench_cycles.py --quick    # diagram timings only

Measures, in one process after a warm-up call (the compiled model comes from the numba
cache; its loading is not timed):

(a) ``nmm.continuation`` of the equilibria over u in [-50, 400] (``cycles=False``);
(b) the same with ``cycles=True`` (wall and CPU time: on a shared machine the CPU time is
    the cost of the run itself): equilibria plus every cycle branch (the alpha cycle
    between the Hopf points near 89.83 and 315.70, the cycle of the subcritical Hopf point
    near -12.15 through the fold of cycles near 137.4 to the SNIC end at 113.59), the goal
    being under 10 s on a 2-core machine; printed with the ratio (b)/(a), the number of
    cycle points and the time per point;
(c) without --quick: the fold-of-cycles curve over (u, C) for 8 values of C in [131, 137]
    as dask tasks on a LocalCluster of 2 single-threaded worker processes (each warmed up
    first), against the same tasks one after the other in this process.
"""
from __future__ import annotations

import argparse
import os
import statistics
import time

import numpy as np

import nmm

JRC = "nmm.templates.jansenrit.JRC"
KW = dict(parameter="pc/rpo_e_in/u", start=-50.0, stop=400.0, outputs={"V_pc": "pc/pro/v"})
C_TARGETS = {"pc/pro/m->ein/rpo_e/m_in/weight": 1.0, "ein/pro/m->pc/rpo_e_in/m_in/weight": 0.8,
             "pc/pro/m->iin/rpo_e/m_in/weight": 0.25, "iin/pro/m->pc/rpo_i/m_in/weight": 0.25}


def timed(fn, repeat):
    """Wall times of ``repeat`` calls, the CPU time (this process, all threads) of the fastest, the last result."""
    times, cpu, out = [], [], None
    for _ in range(repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        out = fn()
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    return times, cpu[int(np.argmin(times))], out


def _warm() -> None:
    nmm.continuation(JRC, **KW, cycles={"max_steps": 5})


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="diagram timings only, one repeat")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    repeat = 1 if args.quick else args.repeat
    circuit = nmm.CircuitTemplate.from_yaml(JRC)
    nmm.continuation(circuit, **KW, cycles=True)  # warm-up: compiled functions loaded from the cache

    t_eq, cpu_eq, _ = timed(lambda: nmm.continuation(circuit, **KW), repeat)
    t_cy, cpu_cy, res = timed(lambda: nmm.continuation(circuit, **KW, cycles=True), repeat)
    c = res.cycles
    n_points = int(c.parameter.notnull().sum())
    sp = res.special_points
    print(f"(a) equilibria only:             {min(t_eq):6.2f} s wall (median {statistics.median(t_eq):.2f} s), "
          f"{cpu_eq:.2f} s CPU")
    print(f"(b) equilibria + every cycle:    {min(t_cy):6.2f} s wall (median {statistics.median(t_cy):.2f} s), "
          f"{cpu_cy:.2f} s CPU; goal < 10 s: {'met' if min(t_cy) < 10 else 'NOT met'}")
    print(f"    (wall >> CPU means other processes shared the cores; {os.getloadavg()[0]:.1f} load average now)")
    print(f"    cycles alone: {min(t_cy) - min(t_eq):.2f} s for {c.sizes['branch']} branches, {n_points} points "
          f"({1e3 * (min(t_cy) - min(t_eq)) / n_points:.1f} ms per point); (b)/(a) = {min(t_cy) / min(t_eq):.2f}")
    for kind in ("hopf", "fold", "fold_cycle", "homoclinic", "period_doubling", "torus"):
        vals = sp[sp.kind == kind].value.to_numpy()
        if vals.size:
            print(f"    {kind:16s} {', '.join(f'{v:.4f}' for v in vals)}")
    if args.quick:
        return

    from distributed import Client, LocalCluster

    from sweeps.loci import KIND_CODES, two_parameter_loci

    Cs = np.linspace(131.0, 137.0, 8)  # where the subcritical Hopf cycle folds (see README)
    loci_kw = dict(targets=C_TARGETS, cycles=True)
    t0, c0 = time.perf_counter(), time.process_time()
    serial = two_parameter_loci(JRC, KW["parameter"], KW["start"], KW["stop"], "C", Cs, **loci_kw)
    t_serial, cpu_serial = time.perf_counter() - t0, time.process_time() - c0
    with LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=":0") as cluster, Client(cluster) as cl:
        cl.run(_warm)  # every worker loads the compiled model once (not timed)
        before = cl.run(time.process_time)
        t0 = time.perf_counter()
        par = two_parameter_loci(JRC, KW["parameter"], KW["start"], KW["stop"], "C", Cs, client=cl, **loci_kw)
        t_dask = time.perf_counter() - t0
        after = cl.run(time.process_time)
        cpu_dask = sum(after[w] - before[w] for w in after)
    assert np.array_equal(np.nan_to_num(serial.value.values), np.nan_to_num(par.value.values))
    print(f"(c) fold of cycles over (u, C), {Cs.size} values of C: serial {t_serial:.1f} s wall "
          f"({cpu_serial:.1f} s CPU), dask 2 workers {t_dask:.1f} s wall ({cpu_dask:.1f} s CPU in the workers); "
          f"speed-up {t_serial / t_dask:.2f}; {os.getloadavg()[0]:.1f} load average now")
    for C, kind, value in zip(Cs, par.kind.values, par.value.values):
        lpc = value[kind == KIND_CODES["fold_cycle"]]
        print(f"    C = {C:6.2f}: fold of cycles at u = {', '.join(f'{v:.3f}' for v in lpc) or '-'}")


if __name__ == "__main__":
    main()
