"""Network benchmark: Jansen-Rit on the gw80 connectome with delays, in node-steps per second.

Run by hand::

    python benchmarks/bench_network.py            # full run (a few minutes)
    python benchmarks/bench_network.py --quick    # smoke run (about a minute)

Measures, in one run on this machine (numba threads = 2 unless --threads says otherwise):

1. ``nmm.simulate`` on ``Network.from_connectome(JRC, gw80, speed=4.0)``: 80 regions, 64
   points (G swept over the points, one speed), euler, float64, dt = 1e-4 s, two outputs
   sampled every 1e-3 s, series not kept (summaries only), 1 s simulated (0.2 s with
   --quick), after a warm-up call that compiles, timed alternately with (2a), best of 5
   (the machine's speed swings by a third within minutes: both see the same swings).
   node-steps/s = regions x points x steps / wall seconds. The same run with four speeds
   interleaved over the points (a sweep over the speed) shows the grouping of points by
   speed into blocks (:mod:`nmm.engine.blocks`). Where the time goes (full run): the
   generated kernel called directly with the real delays, with every delay zero (a ring
   of two rows) and with no edges; the hand kernel of (2a) adding one edge at a time, and
   reading every edge row by row.
2. (a) A hand-written numba network kernel in this file, same model, same CSR coupling
   with integer delays and ring buffers, the points of a block innermost, ``prange``
   over blocks of points, float64. An edge whose delay d is at least K steps is read for
   K steps at once (a contiguous K x block read, once every K steps; K = 32 and 8), so
   the ring is streamed instead of gathered row by row, four edges added at once (see
   :func:`make_hand_kernel`); the generated kernel does the same (:mod:`nmm.netcodegen_ring`).
   Its final state is compared with ours (goal: within 1e-9 relative) and both are timed
   alternately; ratio = ours / hand (goal >= 0.8).
   (b) The Virtual Brain (``tvb-library``) Jansen-Rit with sigmoidal coupling on its
   76-region connectivity, and neurolib's ``WCModel`` and ``ALNModel`` on its ``gw``
   dataset, if importable (else one line says so; they are not project dependencies:
   install them in a throwaway environment and run this script from there).
3. Code generation + compilation of the network kernel at 2, 80 and 1,000 regions
   (random sparse connectomes, ~10% density, lengths 10-150 mm at 1.5 m/s: delays up to
   100 ms), each in a fresh process with empty NMM_CACHE_DIR and NUMBA_CACHE_DIR (best of
   two such processes: one compile takes 8-13 s here, whatever the size); the
   peak RSS of each (the 1,000-region one holds 64 points with 100 ms delays).
4. Peak RSS of a fresh process that imports nmm and does run 1 (kernel from the cache).

Goals, printed beside the numbers: ours >= 0.8x the hand kernel; >= 50 M node-steps/s;
compile at 1,000 regions within 1.5x of 2 regions and < 15 s.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import textwrap
import time
import traceback

import numba
import numpy as np
from numba import prange

try:  # the repo root on sys.path, so `python benchmarks/bench_network.py` works
    _ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
except NameError:  # pragma: no cover
    _ROOT = os.getcwd()
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

import nmm  # noqa: E402
from nmm._fastmath import fexp64  # noqa: E402
from nmm.engine import integrate, make_network_plan  # noqa: E402

TEMPLATE = "nmm.templates.jansenrit.JRC"
CONNECTOME = "nmm.connectomes.gw80"
SPEED = 4.0            # m/s
DT, DTS = 1e-4, 1e-3   # s
N_POINTS = 64
G_RANGE = (0.0, 50.0)  # np.linspace over the points
OUTPUTS = {"V_pce": "pc/rpo_e_in/v", "V_pci": "pc/rpo_i/v"}
COUPLING_SOURCE, COUPLING_TARGET = "pc/pro/m", "pc/rpo_e_in/m_in"

GOAL_RATIO, GOAL_RATE, GOAL_COMPILE_RATIO, GOAL_COMPILE_S, GOAL_DIFF = 0.8, 50e6, 1.5, 15.0, 1e-9

# hand kernel: points per block, long and middle batch lengths (steps)
HAND_BLOCK, HAND_K, HAND_K2 = 16, 32, 8
# edges added together into a window (4: the accumulator stays in registers across four
# edges; a number above the largest in-degree turns it off)
HAND_UNROLL = 4
# everything but reassoc: reassociation folds fexp64's (x * log2e + 1.5*2**52) - 1.5*2**52
# rounding trick away (fastmath=True gives wrong results)
HAND_FASTMATH = frozenset({"contract", "arcp", "nsz", "afn"})
STATE_NAMES = ("v_pce", "x_pce", "v_pci", "x_pci", "v_ein", "x_ein", "v_iin", "x_iin")


# ---------------------------------------------------------------------------
# the hand-written kernel
# ---------------------------------------------------------------------------
def jrc_constants(net: nmm.Network) -> dict[str, float]:
    """The unit's parameter values by path, from the template (nothing retyped here)."""
    m = net.model
    return dict(zip(m.unit.params, m.unit.param_values))


def split_edges(indptr, indices, weights, delays, k, k2):
    """The CSR (by target) coupling split by delay into three CSR sets: long (d >= k),
    middle (k2 <= d < k) and short (d < k2) edges, each (indptr, source, weight, delay);
    the order of a target's edges is kept within each set."""
    nr = len(indptr) - 1
    rows = np.repeat(np.arange(nr), np.diff(indptr))
    out = []
    for sel in (delays >= k, (delays >= k2) & (delays < k), delays < k2):
        ip = np.zeros(nr + 1, np.int64)
        np.cumsum(np.bincount(rows[sel], minlength=nr), out=ip[1:])
        out += [ip, indices[sel].astype(np.int64), weights[sel].astype(np.float64), delays[sel].astype(np.int64)]
    return out


def make_hand_kernel(p: dict[str, float], block: int = HAND_BLOCK, k: int = HAND_K, k2: int = HAND_K2,
                     fastmath=HAND_FASTMATH, unroll: int = HAND_UNROLL):
    """A numba kernel for Jansen-Rit networks, euler, float64 (see the module docstring).

    ``kernel(Y, G, U, *split_edges(...), dmax, n_steps, decim, stats, dt)``: ``Y`` (8,
    n_regions, N) initial states in, final states out; ``G``, ``U`` (N,) global coupling and
    input per point; ``stats`` (3, 2, n_regions, N) sum, min and max of v_pce and v_pci at
    every ``decim``-th step (before the step, as nmm records them).

    Layout per block of ``block`` points (a compile-time constant: loops over the points
    have a constant trip count): states ``X`` (regions, 9, block), the 9th row the
    pyramidal sigmoid of the current state; ring ``H`` (regions, L + k, block) of the
    coupled source pc/pro/m, ``L`` a multiple of ``k`` above ``dmax + k``, its last ``k``
    rows a copy of the first ``k`` so that a window of ``k`` rows never wraps.

    Per step: every ``k`` steps, for every target, the long edges add ``w * H[src, t-d :
    t-d+k]`` into the target's (k, block) accumulator (all those values are in the past
    when d >= k), ``unroll`` (4) edges at once so that the accumulator stays in registers
    across them; every ``k2`` steps the middle edges likewise into a (k2, block) one;
    then per target the coupling is the two accumulators' rows of this step plus the
    short edges read row by row, and the unit's euler step runs over the block's points,
    writing the source value of the next step into the ring (one sigmoid per step shared
    by the right-hand side and the ring).
    """
    he, te, u0 = p["pc/rpo_e_in/h"], p["pc/rpo_e_in/tau"], p["pc/rpo_e_in/u"]
    hi, ti = p["pc/rpo_i/h"], p["pc/rpo_i/tau"]
    hn, tn = p["ein/rpo_e/h"], p["ein/rpo_e/tau"]
    hm, tm = p["iin/rpo_e/h"], p["iin/rpo_e/tau"]
    c1 = p["pc/pro/m->ein/rpo_e/m_in/weight"]
    c2 = p["ein/pro/m->pc/rpo_e_in/m_in/weight"]
    c3 = p["pc/pro/m->iin/rpo_e/m_in/weight"]
    c4 = p["iin/pro/m->pc/rpo_i/m_in/weight"]
    del u0  # per point (U)
    # sigmoids m_max / (1 + exp(s * v_thr - s * v)), per population
    mpc, spc_a, spc_b = p["pc/pro/m_max"], p["pc/pro/s"] * p["pc/pro/v_thr"], -p["pc/pro/s"]
    men, sen_a, sen_b = p["ein/pro/m_max"], p["ein/pro/s"] * p["ein/pro/v_thr"], -p["ein/pro/s"]
    min_, sin_a, sin_b = p["iin/pro/m_max"], p["iin/pro/s"] * p["iin/pro/v_thr"], -p["iin/pro/s"]
    a_pe, b_pe, k_pe = he / te, -2.0 / te, -1.0 / (te * te)
    b_pi, k_pi = -2.0 / ti, -1.0 / (ti * ti)
    b_en, k_en = -2.0 / tn, -1.0 / (tn * tn)
    b_in, k_in = -2.0 / tm, -1.0 / (tm * tm)
    w_ein = c2 * men * he / te         # into pc exc, times S_ein / m_max
    w_iin = c4 * min_ * hi / ti        # into pc inh
    w_pc_e = hn * c1 * mpc / tn        # into ein, times S_pc / m_max
    w_pc_i = hm * c3 * mpc / tm        # into iin
    B = block
    KB, KB2 = k * block, k2 * block
    SX = 9 * block

    @numba.njit(parallel=True, error_model="numpy", fastmath=set(fastmath), nogil=True)
    def kernel(Y, G, U, ipL, ixL, wL, dL, ipM, ixM, wM, dM, ipS, ixS, wS, dS, dmax, n_steps, decim, stats, dt):
        NR = Y.shape[1]
        N = Y.shape[2]
        nb = (N + B - 1) // B
        L = (dmax + k + 1 + k - 1) // k * k
        LL = L + k
        for b in prange(nb):
            lo = b * B
            m = min(B, N - lo)
            X = np.zeros(NR * SX)
            H = np.zeros(NR * LL * B)
            A = np.zeros(NR * KB)
            A2 = np.zeros(NR * KB2)
            acc = np.empty(B)
            g = np.zeros(B)
            q2 = np.zeros(B)
            st = np.zeros((3, 2, NR, B))
            for j in range(m):
                g[j] = G[lo + j]
                q2[j] = he * U[lo + j] / te
                for r in range(NR):
                    for i in range(8):
                        X[r * SX + i * B + j] = Y[i, r, lo + j]
            for r in range(NR):
                for o in range(2):
                    for j in range(B):
                        st[1, o, r, j] = np.inf
                        st[2, o, r, j] = -np.inf
                for j in range(B):
                    sg = 1.0 / (1.0 + fexp64(spc_a + X[r * SX + j] * spc_b + X[r * SX + 2 * B + j] * spc_b))
                    X[r * SX + 8 * B + j] = sg
                    H[r * LL * B + j] = mpc * sg
                    H[(r * LL + L) * B + j] = mpc * sg
            for step in range(n_steps):
                slot = step % L
                kk = step % k
                k2s = step % k2
                if kk == 0:  # long edges: the next k steps of coupling, k rows at once
                    for r in range(NR):
                        a = A[r * KB:r * KB + KB]
                        for q in range(KB):
                            a[q] = 0.0
                        e = ipL[r]
                        while e + unroll <= ipL[r + 1]:  # four edges at once: a[q] stays in a register
                            h0 = H[(ixL[e] * LL + (slot - dL[e]) % L) * B:]
                            h1 = H[(ixL[e + 1] * LL + (slot - dL[e + 1]) % L) * B:]
                            h2 = H[(ixL[e + 2] * LL + (slot - dL[e + 2]) % L) * B:]
                            h3 = H[(ixL[e + 3] * LL + (slot - dL[e + 3]) % L) * B:]
                            w0, w1, w2, w3 = wL[e], wL[e + 1], wL[e + 2], wL[e + 3]
                            for q in range(KB):
                                a[q] = a[q] + w0 * h0[q] + w1 * h1[q] + w2 * h2[q] + w3 * h3[q]
                            e += 4
                        while e < ipL[r + 1]:
                            s0 = slot - dL[e]
                            if s0 < 0:
                                s0 += L
                            w = wL[e]
                            hb = (ixL[e] * LL + s0) * B
                            h = H[hb:hb + KB]
                            for q in range(KB):
                                a[q] += w * h[q]
                            e += 1
                if k2s == 0:  # middle edges: the next k2 steps
                    for r in range(NR):
                        a = A2[r * KB2:r * KB2 + KB2]
                        for q in range(KB2):
                            a[q] = 0.0
                        e = ipM[r]
                        while e + unroll <= ipM[r + 1]:
                            h0 = H[(ixM[e] * LL + (slot - dM[e]) % L) * B:]
                            h1 = H[(ixM[e + 1] * LL + (slot - dM[e + 1]) % L) * B:]
                            h2 = H[(ixM[e + 2] * LL + (slot - dM[e + 2]) % L) * B:]
                            h3 = H[(ixM[e + 3] * LL + (slot - dM[e + 3]) % L) * B:]
                            w0, w1, w2, w3 = wM[e], wM[e + 1], wM[e + 2], wM[e + 3]
                            for q in range(KB2):
                                a[q] = a[q] + w0 * h0[q] + w1 * h1[q] + w2 * h2[q] + w3 * h3[q]
                            e += 4
                        while e < ipM[r + 1]:
                            s0 = slot - dM[e]
                            if s0 < 0:
                                s0 += L
                            w = wM[e]
                            hb = (ixM[e] * LL + s0) * B
                            h = H[hb:hb + KB2]
                            for q in range(KB2):
                                a[q] += w * h[q]
                            e += 1
                nxt = slot + 1
                if nxt == L:
                    nxt = 0
                rec = step % decim == 0
                for r in range(NR):
                    ab = r * KB + kk * B
                    ab2 = r * KB2 + k2s * B
                    for j in range(B):
                        acc[j] = A[ab + j] + A2[ab2 + j]
                    for e in range(ipS[r], ipS[r + 1]):  # short edges: row by row
                        s0 = slot - dS[e]
                        if s0 < 0:
                            s0 += L
                        w = wS[e]
                        hb = (ixS[e] * LL + s0) * B
                        for j in range(B):
                            acc[j] += w * H[hb + j]
                    xb = r * SX
                    if rec:
                        for j in range(B):
                            a0 = X[xb + j]
                            c0 = X[xb + 2 * B + j]
                            st[0, 0, r, j] += a0
                            st[1, 0, r, j] = min(st[1, 0, r, j], a0)
                            st[2, 0, r, j] = max(st[2, 0, r, j], a0)
                            st[0, 1, r, j] += c0
                            st[1, 1, r, j] = min(st[1, 1, r, j], c0)
                            st[2, 1, r, j] = max(st[2, 1, r, j], c0)
                    hn_ = (r * LL + nxt) * B
                    for j in range(B):
                        x0 = X[xb + j]
                        x1 = X[xb + B + j]
                        x2 = X[xb + 2 * B + j]
                        x3 = X[xb + 3 * B + j]
                        x4 = X[xb + 4 * B + j]
                        x5 = X[xb + 5 * B + j]
                        x6 = X[xb + 6 * B + j]
                        x7 = X[xb + 7 * B + j]
                        spc = X[xb + 8 * B + j]
                        cpl = g[j] * acc[j]
                        d1 = q2[j] + cpl * a_pe + x0 * k_pe + x1 * b_pe + w_ein / (1.0 + fexp64(sen_a + x4 * sen_b))
                        d3 = x2 * k_pi + x3 * b_pi + w_iin / (1.0 + fexp64(sin_a + x6 * sin_b))
                        d5 = spc * w_pc_e + x4 * k_en + x5 * b_en
                        d7 = spc * w_pc_i + x6 * k_in + x7 * b_in
                        y0 = x0 + dt * x1
                        y2 = x2 + dt * x3
                        X[xb + j] = y0
                        X[xb + B + j] = x1 + dt * d1
                        X[xb + 2 * B + j] = y2
                        X[xb + 3 * B + j] = x3 + dt * d3
                        X[xb + 4 * B + j] = x4 + dt * x5
                        X[xb + 5 * B + j] = x5 + dt * d5
                        X[xb + 6 * B + j] = x6 + dt * x7
                        X[xb + 7 * B + j] = x7 + dt * d7
                        sg = 1.0 / (1.0 + fexp64(spc_a + y0 * spc_b + y2 * spc_b))
                        X[xb + 8 * B + j] = sg
                        H[hn_ + j] = mpc * sg
                    if nxt < k:
                        for j in range(B):
                            H[hn_ + L * B + j] = H[hn_ + j]
            for j in range(m):
                for r in range(NR):
                    for i in range(8):
                        Y[i, r, lo + j] = X[r * SX + i * B + j]
                    for a_ in range(3):
                        for o_ in range(2):
                            stats[a_, o_, r, lo + j] = st[a_, o_, r, j]

    return kernel


class HandRun:
    """The hand kernel bound to one network, one set of points and one run length."""

    def __init__(self, net: nmm.Network, G: np.ndarray, t_end: float, block: int = HAND_BLOCK, k: int = HAND_K,
                 k2: int = HAND_K2, unroll: int = HAND_UNROLL):
        m = net.model
        self.k, self.k2 = k, k2
        self.kernel = make_hand_kernel(jrc_constants(net), block, k, k2, unroll=unroll)
        spd = SPEED * m.scale  # mm per s: the kernel's delay in steps, rint(length / speed / dt)
        self.delays = np.rint(m.lengths / spd / DT).astype(np.int64)
        self.edges = split_edges(m.indptr, m.indices, m.weights, self.delays, k, k2)
        self.G = np.ascontiguousarray(G, dtype=np.float64)
        self.U = np.full(len(G), jrc_constants(net)["pc/rpo_e_in/u"])
        self.n_regions = m.n_regions
        self.n_steps = int(round(t_end / DT))
        self.decim = int(round(DTS / DT))

    def __call__(self, n_steps: int | None = None) -> np.ndarray:
        n = len(self.G)
        Y = np.zeros((8, self.n_regions, n))
        stats = np.zeros((3, 2, self.n_regions, n))
        self.kernel(Y, self.G, self.U, *self.edges, int(self.delays.max()),
                    self.n_steps if n_steps is None else n_steps, self.decim, stats, DT)
        return Y

    def counts(self) -> str:
        nl, nm, ns = (len(self.edges[i]) for i in (1, 5, 9))
        return f"{nl} long (d >= {self.k}), {nm} middle ({self.k2} <= d < {self.k}), {ns} short edges"


# ---------------------------------------------------------------------------
# ours
# ---------------------------------------------------------------------------
def network() -> nmm.Network:
    return nmm.Network.from_connectome(TEMPLATE, CONNECTOME, speed=SPEED)


def run_ours(net: nmm.Network, G: np.ndarray, t_end: float):
    return nmm.simulate(net, {"G": G}, simulation_time=t_end, step_size=DT, sampling_step_size=DTS,
                        solver="euler", outputs=OUTPUTS, keep_series=False, summaries=True)


def run_mixed(net: nmm.Network, G: np.ndarray, speeds: np.ndarray, t_end: float):
    """As :func:`run_ours`, every point with its own speed (m/s)."""
    return nmm.simulate(net, {"G": G, "speed": speeds}, simulation_time=t_end, step_size=DT,
                        sampling_step_size=DTS, solver="euler", outputs=OUTPUTS, keep_series=False, summaries=True)


def timed(f) -> float:
    t0 = time.perf_counter()
    f()
    return time.perf_counter() - t0


def ours_final(net: nmm.Network, G: np.ndarray, t_end: float) -> np.ndarray:
    """Final state (8, regions, points) of the same run through the engine."""
    plan = make_network_plan(net.model, {"G": G}, simulation_time=t_end, step_size=DT, sampling_step_size=DTS,
                             solver="euler", outputs=OUTPUTS, keep_series=False)
    return np.asarray(integrate(None, plan).final)


def rel_diff(a: np.ndarray, ref: np.ndarray) -> tuple[float, str]:
    """max |a - ref| / max |ref| per state variable: the largest, and which state."""
    scale = np.max(np.abs(ref), axis=(1, 2))
    scale = np.where(scale > 0, scale, 1.0)
    d = np.max(np.abs(a - ref), axis=(1, 2)) / scale
    i = int(np.argmax(d))
    return float(d[i]), STATE_NAMES[i]


def diagnose_ours(net: nmm.Network, G: np.ndarray, t_end: float) -> list[tuple[str, float]]:
    """Seconds per step of the generated kernel called directly (as the engine does) with the
    real delays, every delay 0 (a ring of two rows: what the gathers cost out of cache) and
    no edges (the unit's step alone)."""
    from nmm.netcodegen import compile_network, network_block
    from nmm.noise import KernelNoise

    m = net.model
    plan = make_network_plan(m, {"G": G}, simulation_time=t_end, step_size=DT, sampling_step_size=DTS,
                             solver="euler", outputs=OUTPUTS, keep_series=False)
    run, grid, n = plan.network, plan.grid, plan.n_points
    threads = numba.get_num_threads()
    blk = network_block(n, m.n_regions, run.dmax + 2, "float64", threads)
    cm = compile_network(m, plan.output_exprs, "euler", "float64", plan.swept, run.regional, KernelNoise(),
                         n > blk and threads > 1)
    vals = run.values
    O = len(plan.outputs)

    def call(lengths, indptr):
        Y = np.array(vals.Y0, dtype=np.float64)  # a copy: the kernel writes the final states into Y
        P = np.ascontiguousarray(vals.P, dtype=np.float64)
        stats = np.zeros((3, O, m.n_regions, n))
        stats[1], stats[2] = np.inf, -np.inf
        t0 = time.perf_counter()
        cm.kernel(Y, P, np.ascontiguousarray(P[:, 0]), np.ascontiguousarray(vals.PR), np.zeros((0, n)),
                  np.zeros((2, 0), dtype=np.uint64), np.zeros((0, 0)), indptr, m.indices, m.weights, lengths,
                  np.ascontiguousarray(run.speeds, dtype=np.float64), grid.n_steps, grid.decim, grid.k_first,
                  grid.dt, float(grid.dt), 0.0, np.empty((O, 0, m.n_regions, n)), stats, blk,
                  np.append(np.arange(0, n, blk), n))
        return (time.perf_counter() - t0) / grid.n_steps

    no_edges = np.zeros_like(m.indptr)
    return [(f"real delays (ring {run.dmax + 2} rows x {blk + 16} lanes per block of {blk})",
             call(m.lengths, m.indptr)),
            ("every delay 0 (ring of 2 rows)", call(np.zeros_like(m.lengths), m.indptr)),
            ("no edges (the unit's step alone)", call(m.lengths, no_edges))]


# ---------------------------------------------------------------------------
# other simulators (optional)
# ---------------------------------------------------------------------------
def bench_tvb(t_ms: float, G: float):
    """(node-steps/s, regions, note) of TVB's JansenRit, SigmoidalJansenRit coupling,
    76-region default connectivity, speed 4 m/s, euler dt = 0.1 ms, one point."""
    import logging
    import warnings

    warnings.filterwarnings("ignore")
    logging.disable(logging.WARNING)  # TVB logs its configuration at WARNING
    from tvb.datatypes import connectivity
    from tvb.simulator import coupling, integrators, models, monitors, simulator

    conn = connectivity.Connectivity.from_file()
    conn.speed = np.array([SPEED])
    sim = simulator.Simulator(model=models.JansenRit(), connectivity=conn,
                              coupling=coupling.SigmoidalJansenRit(a=np.array([G])),
                              integrator=integrators.EulerDeterministic(dt=DT * 1e3),
                              monitors=(monitors.TemporalAverage(period=DTS * 1e3),), simulation_length=t_ms)
    sim.configure()
    sim.run(simulation_length=10.0)  # warm-up: history, monitors
    t0 = time.perf_counter()
    sim.run(simulation_length=t_ms)
    wall = time.perf_counter() - t0
    nr = conn.number_of_regions
    steps = int(round(t_ms / (DT * 1e3)))
    return nr * steps / wall, nr, f"{wall:.2f} s for {t_ms:g} ms, numpy, 1 point"


def bench_neurolib(name: str, t_ms: float):
    """(node-steps/s, regions, note) of a neurolib model on its gw dataset, speed 4 m/s,
    dt = 0.1 ms, no noise, one point (neurolib runs one parameter set per call)."""
    import logging

    logging.disable(logging.WARNING)
    from neurolib.utils.loadData import Dataset

    ds = Dataset("gw")
    if name == "WCModel":
        from neurolib.models.wc import WCModel as M
    else:
        from neurolib.models.aln import ALNModel as M
    model = M(Cmat=ds.Cmat, Dmat=ds.Dmat)
    model.params["dt"] = DT * 1e3
    model.params["signalV"] = SPEED
    model.params["sigma_ou"] = 0.0
    model.params["duration"] = 2.0
    model.run()  # compile
    model.params["duration"] = t_ms
    t0 = time.perf_counter()
    model.run()
    wall = time.perf_counter() - t0
    nr = ds.Cmat.shape[0]
    steps = int(round(t_ms / (DT * 1e3)))
    return nr * steps / wall, nr, f"{wall:.2f} s for {t_ms:g} ms, numba, 1 point"


# ---------------------------------------------------------------------------
# fresh processes: compile time, peak memory
# ---------------------------------------------------------------------------
# ru_maxrss of a child is useless here: Linux carries the parent's high-water mark into the
# child at exec (the signal struct keeps the larger of the two), so a child started from a
# 400 MiB process reports >= 400 MiB. The children read VmHWM (this process image only) from
# /proc/self/status, and reset it (clear_refs 5) to get the peak of one phase.
_MEM = textwrap.dedent("""
    import resource
    def hwm():
        with open("/proc/self/status") as f:
            return next((int(x.split()[1]) for x in f if x.startswith("VmHWM")), -1)
    def rss():
        with open("/proc/self/status") as f:
            return next((int(x.split()[1]) for x in f if x.startswith("VmRSS")), -1)
    def reset_hwm():
        try:
            with open("/proc/self/clear_refs", "w") as f:
                f.write("5")
            return True
        except OSError:
            return False
    def maxrss():
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
""")

_COMPILE_CHILD = _MEM + textwrap.dedent("""
    import json, os, sys, time
    t0 = time.perf_counter()
    sys.path.insert(0, {root!r})
    import numba
    import numpy as np
    numba.set_num_threads({threads})
    import nmm
    from nmm.engine import integrate, make_network_plan
    from nmm.netcodegen import compile_network, network_block
    from nmm.netmodel import network_model
    from nmm.noise import KernelNoise
    t_import = time.perf_counter() - t0
    n = {n}
    rng = np.random.default_rng(n)
    if n == 2:
        mask = ~np.eye(2, dtype=bool)
    else:
        mask = rng.random((n, n)) < {density}
        np.fill_diagonal(mask, False)
    W = np.where(mask, rng.uniform(0.1, 1.0, (n, n)), 0.0)
    Lm = np.where(mask, rng.uniform(10.0, 150.0, (n, n)), 0.0)
    unit = nmm.CircuitTemplate.from_yaml({template!r})
    t0 = time.perf_counter()
    model = network_model(unit.definition, W, Lm, [f"r{{i}}" for i in range(n)], source={src!r}, target={tgt!r},
                          speed={speed}, time_unit=unit.time_unit)
    plan = make_network_plan(model, {{"G": np.linspace(0.0, 1.0, {points})}}, simulation_time={t_end},
                             step_size={dt}, sampling_step_size={dt}, solver="euler", outputs={outputs!r},
                             keep_series=False)
    t_plan = time.perf_counter() - t0
    run = plan.network
    threads = numba.get_num_threads()
    blk = network_block({points}, n, run.dmax + 2, "float64", threads)
    # what the engine does first (nmm.engine.integrate): generate and import the module;
    # numba compiles at the first call, inside the first integrate
    t0 = time.perf_counter()
    compile_network(model, plan.output_exprs, "euler", "float64", plan.swept, run.regional, KernelNoise(),
                    {points} > blk and threads > 1)
    t_gen = time.perf_counter() - t0
    rss_before = rss()
    reset = reset_hwm()
    t0 = time.perf_counter()
    integrate(None, plan)
    t_first = time.perf_counter() - t0
    t0 = time.perf_counter()
    integrate(None, plan)
    t_second = time.perf_counter() - t0
    print("JSON " + json.dumps(dict(n=n, edges=int(model.n_edges), dmax=run.dmax, t_import=t_import, t_plan=t_plan,
                                    t_gen=t_gen, t_first=t_first, t_second=t_second, blk=blk,
                                    ring=n * (run.dmax + 2) * (blk + 16) * 8, rss_before=rss_before,
                                    hwm_run=hwm() if reset else -1, maxrss=maxrss())))
""")

_RUN1_CHILD = _MEM + textwrap.dedent("""
    import json, sys, time
    sys.path.insert(0, {root!r})
    sys.path.insert(0, {here!r})
    import numba
    numba.set_num_threads({threads})
    import numpy as np
    import bench_network as b
    net = b.network()
    G = np.linspace(*b.G_RANGE, b.N_POINTS)
    rss_before = rss()
    hwm_before = hwm()
    reset = reset_hwm()
    t0 = time.perf_counter()
    b.run_ours(net, G, {t_end})
    wall = time.perf_counter() - t0
    print("JSON " + json.dumps(dict(rss_before=rss_before, hwm_before=hwm_before, wall=wall,
                                    hwm_run=hwm() if reset else -1, maxrss=maxrss())))
""")


def run_child(code: str, env_extra: dict[str, str] | None = None, timeout: float = 1800):
    """(dict printed by the child as 'JSON ...', error line or None)."""
    env = dict(os.environ, **(env_extra or {}))
    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as f:
        f.write(code)
        path = f.name
    try:
        p = subprocess.run([sys.executable, path], capture_output=True, text=True, timeout=timeout, cwd=_ROOT,
                           env=env, check=False)
    except subprocess.TimeoutExpired:
        return None, f"timed out after {timeout:.0f} s"
    finally:
        os.unlink(path)
    for line in p.stdout.splitlines():
        if line.startswith("JSON "):
            return json.loads(line[5:]), None
    return None, (p.stderr.strip().splitlines() or ["no output"])[-1]


def compile_child(n: int, threads: int, points: int, t_end: float):
    """Generation + compilation of the network kernel at n regions, in a fresh process with
    empty kernel and numba caches (lengths 10-150 mm at 1.5 m/s: delays up to 100 ms)."""
    import shutil

    tmp = tempfile.mkdtemp(prefix="nmm_bench_network_")
    code = _COMPILE_CHILD.format(root=_ROOT, threads=threads, n=n, density=0.1, template=TEMPLATE,
                                 src=COUPLING_SOURCE, tgt=COUPLING_TARGET, speed=1.5, points=points, t_end=t_end,
                                 dt=DT, outputs=OUTPUTS)
    try:
        return run_child(code, {"NMM_CACHE_DIR": os.path.join(tmp, "nmm"),
                                "NUMBA_CACHE_DIR": os.path.join(tmp, "numba")})
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def mib(kib: float) -> str:
    return f"{kib / 1024:.0f} MiB"


# ---------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------
def cpu_busy_and_own():
    """(CPU-seconds busy on the whole machine, CPU-seconds of this process + children)."""
    own = 0.0
    for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN):
        r = resource.getrusage(who)
        own += r.ru_utime + r.ru_stime
    try:
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:]]
        busy = (sum(v[:8]) - v[3] - v[4]) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError):
        busy = float("nan")
    return busy, own


def best_pair(fa, fb, repeat):
    """Alternate fa and fb ``repeat`` times: (best time of each, share of one core that
    other processes used meanwhile). Alternating puts both under the same conditions."""
    ta, tb = [], []
    busy0, own0 = cpu_busy_and_own()
    w0 = time.perf_counter()
    for _ in range(repeat):
        for f, ts in ((fa, ta), (fb, tb)):
            t0 = time.perf_counter()
            f()
            ts.append(time.perf_counter() - t0)
    busy1, own1 = cpu_busy_and_own()
    wall = time.perf_counter() - w0
    other = max(0.0, ((busy1 - busy0) - (own1 - own0)) / wall) if wall > 0.5 else 0.0
    return min(ta), min(tb), other


def others(frac: float) -> str:
    return f"; OTHERS {100 * frac:.0f}% of a core" if frac > 0.05 else ""


class Table:
    def __init__(self):
        self.rows = []

    def add(self, method, model, regions, points, threads, rate, ratio=None, note=""):
        self.rows.append((method, model, regions, points, threads, rate, ratio, note))
        r = "" if ratio is None else f"ratio {ratio:.3f}"
        print(f"    {method:<30} {rate / 1e6:9.3f} M node-steps/s  {r:<12} {note}", flush=True)

    def show(self):
        hdr = (f"{'method':<32}{'model':<22}{'regions':>8}{'points':>7}{'threads':>8}"
               f"{'M node-steps/s':>16}{'ratio to hand':>15}  note")
        print()
        print(hdr)
        print("-" * len(hdr))
        for method, model, regions, points, threads, rate, ratio, note in self.rows:
            r = "" if ratio is None else f"{ratio:.3f}"
            print(f"{method:<32}{model:<22}{regions:>8}{points:>7}{threads:>8}{rate / 1e6:>16.3f}{r:>15}  {note}")
        print()


def verdict(ok: bool) -> str:
    return "MET" if ok else "NOT MET"


# ---------------------------------------------------------------------------
# main
# ---------------------------------------------------------------------------
def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="smoke run: 0.2 s simulated, one timing each")
    ap.add_argument("--threads", type=int, default=2, help="numba threads (default 2)")
    ap.add_argument("--no-compile", action="store_true", help="skip (3), the fresh-process compile runs")
    ap.add_argument("--no-others", action="store_true", help="skip (2b), TVB and neurolib")
    args = ap.parse_args(argv)

    threads = max(1, min(args.threads, numba.config.NUMBA_NUM_THREADS))
    numba.set_num_threads(threads)
    t_end = 0.2 if args.quick else 1.0
    repeat = 1 if args.quick else 5  # best of 5: this shared machine's speed swings by 30 % within minutes
    n_steps = int(round(t_end / DT))
    G = np.linspace(*G_RANGE, N_POINTS)
    net = network()
    nr, ne = net.model.n_regions, net.model.n_edges
    node_steps = nr * N_POINTS * n_steps

    print(f"Jansen-Rit network on {CONNECTOME}: {nr} regions, {ne} edges, speed {SPEED} m/s; {N_POINTS} points "
          f"(G = linspace{G_RANGE}), euler, float64, dt={DT}, T={t_end} s ({n_steps} steps), outputs "
          f"{list(OUTPUTS)} every {DTS} s, summaries only")
    print(f"numba {numba.__version__}, numpy {np.__version__}, {threads} numba threads, {os.cpu_count()} CPUs, "
          f"threading layer after the first call below")
    table = Table()
    busy0, own0 = cpu_busy_and_own()
    wall0 = time.perf_counter()

    # ---------------- (1) ours ----------------
    print("\n(1) nmm.simulate (network kernel)")
    t0 = time.perf_counter()
    run_ours(net, G, 10 * DTS)
    print(f"    warm-up call (compile, or on-disk cache load): {time.perf_counter() - t0:.2f} s; threading layer "
          f"{numba.threading_layer()}", flush=True)

    # ---------------- (2a) hand kernel ----------------
    print(f"\n(2a) hand-written numba kernel (blocks of {HAND_BLOCK} points, long-delay batches of {HAND_K} and "
          f"{HAND_K2} steps, fastmath {sorted(HAND_FASTMATH)})")
    hand = HandRun(net, G, t_end)
    t0 = time.perf_counter()
    hand(10)
    print(f"    compile: {time.perf_counter() - t0:.2f} s; {hand.counts()}", flush=True)
    t0 = time.perf_counter()
    ref = ours_final(net, G, t_end)
    t_engine = time.perf_counter() - t0
    Yh = hand()
    diff, where = rel_diff(Yh, ref)
    print(f"    final state vs ours (engine call, {t_engine:.2f} s): max |hand - ours| / max |ours| = {diff:.3e} "
          f"(state {where})  {'OK' if diff <= GOAL_DIFF else 'FAIL'} (goal <= {GOAL_DIFF:g})", flush=True)

    print(f"    timing, nmm.simulate and hand kernel alternately, best of {repeat}:")
    t_ours, t_hand, other = best_pair(lambda: run_ours(net, G, t_end), hand, repeat)
    rate_ours, rate_hand = node_steps / t_ours, node_steps / t_hand
    ratio = rate_ours / rate_hand
    table.add("hand numba kernel", "Jansen-Rit", nr, N_POINTS, threads, rate_hand, 1.0,
              f"{t_hand:.2f} s{others(other)}")
    table.add("nmm.simulate", "Jansen-Rit", nr, N_POINTS, threads, rate_ours, ratio,
              f"{t_ours:.2f} s{others(other)}")
    # a sweep over the speed: four speeds interleaved, as in a grid's order (the engine groups
    # the points by speed into blocks; without that, every block read its ring row by row)
    mixed = np.tile([2.0, 4.0, 8.0, 16.0], N_POINTS // 4)
    run_mixed(net, G, mixed, 10 * DTS)
    t_mixed = min(timed(lambda: run_mixed(net, G, mixed, t_end)) for _ in range(repeat))
    table.add("nmm.simulate, 4 speeds", "Jansen-Rit", nr, N_POINTS, threads, node_steps / t_mixed,
              node_steps / t_mixed / rate_hand, f"{t_mixed:.2f} s; speeds 2,4,8,16 m/s interleaved")

    if not args.quick:
        print("    where ours spends its time (generated kernel called directly, T=0.1 s):")
        try:
            for name, s in diagnose_ours(net, G, 0.1):
                print(f"      {name:<56} {s * 1e6:8.0f} us/step  {nr * N_POINTS / s / 1e6:7.2f} M node-steps/s",
                      flush=True)
        except Exception:  # noqa: BLE001
            print("      FAILED:")
            traceback.print_exc(file=sys.stdout)
        one = HandRun(net, G, 0.1, unroll=10**6)
        one(10)
        t0 = time.perf_counter()
        one()
        s = (time.perf_counter() - t0) / one.n_steps
        print(f"      {'hand kernel adding one edge at a time (no unrolling)':<56} {s * 1e6:8.0f} us/step  "
              f"{nr * N_POINTS / s / 1e6:7.2f} M node-steps/s", flush=True)
        # the hand kernel without its windows: every edge read row by row each step
        row = HandRun(net, G, 0.1, block=32, k=1, k2=1)
        row(10)
        t0 = time.perf_counter()
        row()
        s = (time.perf_counter() - t0) / row.n_steps
        print(f"      {'hand kernel with k = 1 (row by row), blocks of 32':<56} {s * 1e6:8.0f} us/step  "
              f"{nr * N_POINTS / s / 1e6:7.2f} M node-steps/s", flush=True)

    # ---------------- (2b) other simulators ----------------
    print("\n(2b) other simulators (one point per call, one thread; their own models, shown for scale)")
    t_ms = t_end * 1e3
    if args.no_others:
        print("    skipped (--no-others)")
    else:
        try:
            import tvb.simulator  # noqa: F401
        except Exception as e:  # noqa: BLE001
            print(f"    TVB: skipped, tvb.simulator not importable ({type(e).__name__}: {e})")
        else:
            try:
                rate, n_tvb, note = bench_tvb(t_ms, 1.0)
                table.add("TVB (tvb-library)", "JansenRit+SigmJR", n_tvb, 1, 1, rate, rate / rate_hand, note)
            except Exception as e:  # noqa: BLE001
                print(f"    TVB: FAILED ({type(e).__name__}: {e})")
        try:
            import neurolib  # noqa: F401
        except Exception as e:  # noqa: BLE001
            print(f"    neurolib: skipped, not importable ({type(e).__name__}: {e})")
        else:
            for name in ("WCModel", "ALNModel"):
                try:
                    rate, n_nl, note = bench_neurolib(name, t_ms)
                    table.add(f"neurolib {name}", name, n_nl, 1, 1, rate, rate / rate_hand, note)
                except Exception as e:  # noqa: BLE001
                    print(f"    neurolib {name}: FAILED ({type(e).__name__}: {e})")

    # ---------------- (3) compile time, fresh processes ----------------
    print("\n(3) network kernel generation + compilation, fresh process, empty NMM_CACHE_DIR and NUMBA_CACHE_DIR")
    compile_s = {}
    if args.no_compile:
        print("    skipped (--no-compile)")
    else:
        for n in (2, 80, 1000):
            # best of two fresh processes: one compile is 8-13 s on this machine, whatever the size
            tries = [compile_child(n, threads, N_POINTS, 20 * DT) for _ in range(1 if args.quick else 2)]
            ok = [r for r, e in tries if not e]
            if not ok:
                print(f"    {n} regions: FAILED: {tries[0][1]}")
                continue
            each = [r["t_gen"] + r["t_first"] - r["t_second"] for r in ok]
            res = ok[int(np.argmin(each))]
            compile_s[n] = min(each)
            if len(each) > 1:
                print(f"    {n:>5} regions: generation + compile {', '.join(f'{x:.2f}' for x in each)} s in "
                      f"{len(each)} fresh processes; the best:")
            print(f"    {n:>5} regions, {res['edges']:>6} edges, dmax {res['dmax']} steps: import "
                  f"{res['t_import']:.2f} s, model + plan {res['t_plan']:.2f} s, generation {res['t_gen']:.2f} s, "
                  f"first integrate {res['t_first']:.2f} s, second {res['t_second']:.2f} s -> generation + compile "
                  f"{compile_s[n]:.2f} s", flush=True)
            print(f"          memory: RSS before integrating {mib(res['rss_before'])}, peak while integrating "
                  f"{mib(res['hwm_run'])} (VmHWM; ring buffers {threads} threads x {res['ring'] / 2**20:.0f} MiB); "
                  f"ru_maxrss {mib(res['maxrss'])} (inherits this process's peak at exec)", flush=True)

    # ---------------- (4) peak memory of run 1 ----------------
    print("\n(4) peak RSS of a fresh process doing run 1 (kernel from the on-disk cache)")
    res, err = run_child(_RUN1_CHILD.format(root=_ROOT, here=os.path.dirname(os.path.abspath(__file__)),
                                            threads=threads, t_end=t_end))
    rss_run1 = None
    if err:
        print(f"    FAILED: {err}")
    else:
        rss_run1 = res["hwm_run"]
        print(f"    peak RSS while running {mib(res['hwm_run'])} (VmHWM; RSS before the run {mib(res['rss_before'])}, "
              f"peak of imports + network {mib(res['hwm_before'])}; ru_maxrss {mib(res['maxrss'])}, inherited); "
              f"run 1 took {res['wall']:.2f} s there")

    # ---------------- summary ----------------
    table.show()
    print("goals:")
    print(f"  ours / hand kernel          {ratio:8.3f}   goal >= {GOAL_RATIO}   {verdict(ratio >= GOAL_RATIO)}")
    print(f"  ours, M node-steps/s        {rate_ours / 1e6:8.2f}   goal >= {GOAL_RATE / 1e6:g}    "
          f"{verdict(rate_ours >= GOAL_RATE)}")
    print(f"  hand vs ours final state    {diff:8.1e}   goal <= {GOAL_DIFF:g} {verdict(diff <= GOAL_DIFF)}")
    if 2 in compile_s and 1000 in compile_s:
        cr = compile_s[1000] / compile_s[2]
        print(f"  compile 1000 / 2 regions    {cr:8.2f}   goal <= {GOAL_COMPILE_RATIO}   "
              f"{verdict(cr <= GOAL_COMPILE_RATIO)}  ({compile_s[2]:.2f} s -> {compile_s[1000]:.2f} s)")
        print(f"  compile at 1000 regions, s  {compile_s[1000]:8.2f}   goal < {GOAL_COMPILE_S:g}     "
              f"{verdict(compile_s[1000] < GOAL_COMPILE_S)}")
    if rss_run1 is not None:
        print(f"  peak RSS of run 1           {rss_run1 / 1024:8.0f} MiB  (VmHWM of a fresh process while it runs)")
    busy1, own1 = cpu_busy_and_own()
    other = (busy1 - busy0) - (own1 - own0)
    wall = time.perf_counter() - wall0
    print(f"other processes used {other:.1f} CPU-s during this {wall:.0f} s run ({100 * other / wall:.0f}% of one "
          "core): " + ("quiet machine" if other < 0.02 * wall else "NOT QUIET, timings may be low"))
    print("node-steps/s = regions x points x steps / wall s; ratio: divided by the hand kernel's, timed "
          f"alternately in this run. Rows with 1 thread use one core, those with {threads} use {threads}.")
    if args.quick:
        print("--quick: T=0.2 s and one timing each; use the full run for the numbers.")


if __name__ == "__main__":
    main()
