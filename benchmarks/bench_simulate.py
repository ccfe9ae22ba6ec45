"""Throughput benchmark: Jansen-Rit circuit, RK4, in point-steps per second.

Run by hand::

    python benchmarks/bench_simulate.py            # full run (a few minutes)
    python benchmarks/bench_simulate.py --quick    # smoke run (< 30 s)

Measures, all in the same process (same machine state):

(a) hand-written numba RK4 Jansen-Rit batch kernels (float64 and float32), the
    reference for what this hardware can do; plus a plain ``math.exp`` scalar
    version used as the accuracy reference;
(b) scipy ``solve_ivp`` (RK45, rtol=1e-6) per point, reported as
    points * n_steps / seconds with n_steps the fixed-step count (20,000);
(c) ``nmm.simulate`` (the public API), warm calls, float64 and float32, with its
    accuracy against (a)'s scalar reference, its first-call compile time, and the
    first call in a fresh process (numba on-disk cache).

Model: Jansen-Rit in the PyRates formulation (volts, seconds), 8 states::

    v'' = h/tau * m_in - 2/tau * v' - v/tau**2            (alpha kernel per synapse)
    pc  exc (h_e=3.25e-3,  tau_e=10e-3): m_in = 108   * S(v_ein) + u
    pc  inh (h_i=-22e-3,   tau_i=20e-3): m_in = 33.75 * S(v_iin)
    ein exc:                             m_in = 135   * S(v_pce + v_pci)
    iin exc:                             m_in = 33.75 * S(v_pce + v_pci)
    S(v) = 5 / (1 + exp(560 * (6e-3 - v)))

Points differ in u (np.linspace(50, 400, N)); v_pce and v_pci are recorded every
``sampling_step_size``: the hand kernels write (var, time, point), contiguous over
points, and hand back the (var, point, time) view, as nmm.simulate does (its series is
(output, time, point), exposed as (point, time) views).  Sample k of the hand kernels
is the state at t = (k+1) * sampling_step_size; the API's start at t = 0, so the
accuracy check compares the samples at common times.

Options: --quick (smoke run), --no-nmm (skip (c)), --no-zmm / --zmm (the hand
kernels built for 512-bit vectors in a child process; on by default, off in --quick).
"""
from __future__ import annotations

import argparse
import math
import os
import subprocess
import sys
import tempfile
import textwrap
import time
import traceback

import numba
import numpy as np
from numba import prange

try:  # the repo root on sys.path, so `python benchmarks/bench_simulate.py` works
    _ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    if _ROOT not in sys.path:
        sys.path.insert(0, _ROOT)
except NameError:  # pragma: no cover
    _ROOT = os.getcwd()

from nmm._fastmath import fexp32, fexp64  # noqa: E402

# ---------------------------------------------------------------------------
# model constants
# ---------------------------------------------------------------------------
H_E, TAU_E = 3.25e-3, 10e-3
H_I, TAU_I = -22e-3, 20e-3
C_EIN_PC, C_IIN_PC, C_PC_EIN, C_PC_IIN = 108.0, 33.75, 135.0, 33.75
M_MAX, R_SIG, V_TH = 5.0, 560.0, 6e-3

# float64 derived constants (Python floats: numba freezes them as literals)
A_E = H_E / TAU_E          # h/tau, excitatory
B_E = 2.0 / TAU_E          # 2/tau
K_E = 1.0 / TAU_E ** 2     # 1/tau**2
A_I = H_I / TAU_I
B_I = 2.0 / TAU_I
K_I = 1.0 / TAU_I ** 2
RV_TH = R_SIG * V_TH       # r * v_th: S(v) = m_max / (1 + exp(r*v_th - r*v))

_f32 = np.float32
A_E32, B_E32, K_E32 = _f32(A_E), _f32(B_E), _f32(K_E)
A_I32, B_I32, K_I32 = _f32(A_I), _f32(B_I), _f32(K_I)
C_EIN_PC32, C_IIN_PC32 = _f32(C_EIN_PC), _f32(C_IIN_PC)
C_PC_EIN32, C_PC_IIN32 = _f32(C_PC_EIN), _f32(C_PC_IIN)
M_MAX32, R_SIG32, RV_TH32 = _f32(M_MAX), _f32(R_SIG), _f32(RV_TH)
ONE32, TWO32, HALF32, SIXTH32 = _f32(1.0), _f32(2.0), _f32(0.5), _f32(1.0 / 6.0)

N_STATES = 8  # v_pce, x_pce, v_pci, x_pci, v_ein, x_ein, v_iin, x_iin
BLOCK64 = 256  # points per parallel block (8 states * 256 * 8 B = 16 KiB: L1)
BLOCK32 = 512

JIT = dict(nogil=True, error_model="numpy", cache=True)
JIT_FAST = dict(JIT, fastmath={"contract"})  # allow FMA contraction, nothing else
INL = dict(inline="always", error_model="numpy", cache=True)


# ---------------------------------------------------------------------------
# right-hand sides (scalar, inlined)
# ---------------------------------------------------------------------------
@numba.njit(**INL)
def _sig64(v):
    return M_MAX / (1.0 + fexp64(RV_TH - R_SIG * v))


@numba.njit(**INL)
def _sig64_libm(v):
    return M_MAX / (1.0 + math.exp(RV_TH - R_SIG * v))


@numba.njit(**INL)
def _sig32(v):
    return M_MAX32 / (ONE32 + fexp32(RV_TH32 - R_SIG32 * v))


def _make_rhs(sig, A_E, B_E, K_E, A_I, B_I, K_I, C1, C2, C3, C4):
    @numba.njit(**INL)
    def rhs(u, v_pce, x_pce, v_pci, x_pci, v_ein, x_ein, v_iin, x_iin):
        s_pc = sig(v_pce + v_pci)
        s_ein = sig(v_ein)
        s_iin = sig(v_iin)
        d_x_pce = A_E * (C1 * s_ein + u) - B_E * x_pce - K_E * v_pce
        d_x_pci = A_I * (C2 * s_iin) - B_I * x_pci - K_I * v_pci
        d_x_ein = A_E * (C3 * s_pc) - B_E * x_ein - K_E * v_ein
        d_x_iin = A_E * (C4 * s_pc) - B_E * x_iin - K_E * v_iin
        return (x_pce, d_x_pce, x_pci, d_x_pci, x_ein, d_x_ein, x_iin, d_x_iin)

    return rhs


_rhs64 = _make_rhs(_sig64, A_E, B_E, K_E, A_I, B_I, K_I,
                   C_EIN_PC, C_IIN_PC, C_PC_EIN, C_PC_IIN)
_rhs64_libm = _make_rhs(_sig64_libm, A_E, B_E, K_E, A_I, B_I, K_I,
                        C_EIN_PC, C_IIN_PC, C_PC_EIN, C_PC_IIN)
_rhs32 = _make_rhs(_sig32, A_E32, B_E32, K_E32, A_I32, B_I32, K_I32,
                   C_EIN_PC32, C_IIN_PC32, C_PC_EIN32, C_PC_IIN32)


def _make_step(rhs, one, two, half, sixth):
    """One RK4 step for one point, everything in scalar locals."""

    @numba.njit(**INL)
    def step(u, dt, y0, y1, y2, y3, y4, y5, y6, y7):
        hdt = half * dt
        a0, a1, a2, a3, a4, a5, a6, a7 = rhs(u, y0, y1, y2, y3, y4, y5, y6, y7)
        b0, b1, b2, b3, b4, b5, b6, b7 = rhs(
            u, y0 + hdt * a0, y1 + hdt * a1, y2 + hdt * a2, y3 + hdt * a3,
            y4 + hdt * a4, y5 + hdt * a5, y6 + hdt * a6, y7 + hdt * a7)
        c0, c1, c2, c3, c4, c5, c6, c7 = rhs(
            u, y0 + hdt * b0, y1 + hdt * b1, y2 + hdt * b2, y3 + hdt * b3,
            y4 + hdt * b4, y5 + hdt * b5, y6 + hdt * b6, y7 + hdt * b7)
        d0, d1, d2, d3, d4, d5, d6, d7 = rhs(
            u, y0 + dt * c0, y1 + dt * c1, y2 + dt * c2, y3 + dt * c3,
            y4 + dt * c4, y5 + dt * c5, y6 + dt * c6, y7 + dt * c7)
        w = sixth * dt
        return (y0 + w * (a0 + two * (b0 + c0) + d0),
                y1 + w * (a1 + two * (b1 + c1) + d1),
                y2 + w * (a2 + two * (b2 + c2) + d2),
                y3 + w * (a3 + two * (b3 + c3) + d3),
                y4 + w * (a4 + two * (b4 + c4) + d4),
                y5 + w * (a5 + two * (b5 + c5) + d5),
                y6 + w * (a6 + two * (b6 + c6) + d6),
                y7 + w * (a7 + two * (b7 + c7) + d7))

    return step


_step64 = _make_step(_rhs64, 1.0, 2.0, 0.5, 1.0 / 6.0)
_step64_libm = _make_step(_rhs64_libm, 1.0, 2.0, 0.5, 1.0 / 6.0)
_step32 = _make_step(_rhs32, ONE32, TWO32, HALF32, SIXTH32)


def _make_block(step, block, pad):
    """Integrate the points [lo, lo + m) of y (8, N) to the end (inlined helper).

    Samples go to out (2, n_samples, N): v_pce and v_pci.

    The state of the block lives in a scratch vector laid out (8, R) flat, indexed
    ``q * R + j`` with the row stride ``R`` a compile-time constant: every access is
    the same base pointer at constant offsets, so LLVM vectorizes the loop over points
    without runtime alias checks.  (Indexing the caller's (8, N) array directly, 8 rows
    at a run-time stride, needs more alias checks than LLVM allows: the loop stays
    scalar, ~3-4x slower.)  ``R = block + pad`` keeps rows off multiples of 4 KiB (4K
    aliasing).  The trip count is padded to a multiple of ``pad`` (dummy lanes with
    u = 0) so no scalar remainder loop runs; below one vector the scalar loop runs on
    the m points.  Sample k is the state after step (k+1)*dec, i.e. t = (k+1)*dec*dt.
    """
    B = block
    R = block + pad

    @numba.njit(**INL)
    def run_block(y, u, dt, n_steps, dec, out, lo, m):
        mp = m if m < pad else min(B, (m + pad - 1) // pad * pad)
        s = np.zeros(8 * R, dtype=y.dtype)
        ub = np.zeros(B, dtype=y.dtype)
        for j in range(m):
            ub[j] = u[lo + j]
            for q in range(8):
                s[q * R + j] = y[q, lo + j]
        k = 0
        for t in range(n_steps):
            for j in range(mp):
                (s[j], s[R + j], s[2 * R + j], s[3 * R + j],
                 s[4 * R + j], s[5 * R + j], s[6 * R + j], s[7 * R + j]) = step(
                    ub[j], dt, s[j], s[R + j], s[2 * R + j], s[3 * R + j],
                    s[4 * R + j], s[5 * R + j], s[6 * R + j], s[7 * R + j])
            if (t + 1) % dec == 0:
                for j in range(m):
                    out[0, k, lo + j] = s[j]
                    out[1, k, lo + j] = s[2 * R + j]
                k += 1
        for j in range(m):
            for q in range(8):
                y[q, lo + j] = s[q * R + j]

    return run_block


_block64 = _make_block(_step64, BLOCK64, 16)
_block32 = _make_block(_step32, BLOCK32, 32)
_block64_libm = _make_block(_step64_libm, BLOCK64, 1)

# The batch kernels: y (8, N) state in/out, u (N,), out (2, n_samples, N).  prange
# over blocks of points outside the time loop, each block integrated to the end.
# Top-level functions (not closures) so numba's on-disk cache finds them again:
# the cache key hashes a closure's cell contents, which differ from run to run, and
# it does not include the fastmath flags, so each variant needs its own function.


@numba.njit(parallel=True, **JIT_FAST)
def jr_rk4_f64(y, u, dt, n_steps, dec, out):
    """float64, fexp64, FMA contraction allowed."""
    n = y.shape[1]
    for b in prange((n + BLOCK64 - 1) // BLOCK64):
        lo = b * BLOCK64
        _block64(y, u, dt, n_steps, dec, out, lo, min(BLOCK64, n - lo))


@numba.njit(parallel=True, **JIT)
def jr_rk4_f64_strict(y, u, dt, n_steps, dec, out):
    """float64, fexp64, strict IEEE (no FMA contraction)."""
    n = y.shape[1]
    for b in prange((n + BLOCK64 - 1) // BLOCK64):
        lo = b * BLOCK64
        _block64(y, u, dt, n_steps, dec, out, lo, min(BLOCK64, n - lo))


@numba.njit(parallel=True, **JIT_FAST)
def jr_rk4_f32(y, u, dt, n_steps, dec, out):
    """float32 throughout (float32 constants, fexp32), FMA contraction allowed."""
    n = y.shape[1]
    for b in prange((n + BLOCK32 - 1) // BLOCK32):
        lo = b * BLOCK32
        _block32(y, u, dt, n_steps, dec, out, lo, min(BLOCK32, n - lo))


@numba.njit(**JIT)
def jr_rk4_f64_libm(y, u, dt, n_steps, dec, out):
    """Accuracy reference: float64, math.exp (scalar libm), strict IEEE, one thread."""
    n = y.shape[1]
    for b in range((n + BLOCK64 - 1) // BLOCK64):
        lo = b * BLOCK64
        _block64_libm(y, u, dt, n_steps, dec, out, lo, min(BLOCK64, n - lo))


def run_hand(kernel, u, dt, n_steps, dec, dtype):
    """Run a hand kernel from the zero state; returns v_pce, v_pci as (2, N, n_samples).

    The kernel writes (2, n_samples, N), contiguous over points, and this returns the
    transposed view: the same layout and the same free transpose as nmm.simulate
    (its series is (n_outputs, n_samples, N), exposed as (point, time) views).
    """
    n = u.shape[0]
    y = np.zeros((N_STATES, n), dtype=dtype)
    out = np.empty((2, n_steps // dec, n), dtype=dtype)
    kernel(y, u.astype(dtype), dtype(dt), n_steps, dec, out)
    return out.transpose(0, 2, 1)


# ---------------------------------------------------------------------------
# scipy reference
# ---------------------------------------------------------------------------
def _jr_rhs_numpy(t, y, u):
    def sig(v):
        return M_MAX / (1.0 + np.exp(RV_TH - R_SIG * v))

    v_pce, x_pce, v_pci, x_pci, v_ein, x_ein, v_iin, x_iin = y
    s_pc = sig(v_pce + v_pci)
    s_ein = sig(v_ein)
    s_iin = sig(v_iin)
    return np.array([
        x_pce, A_E * (C_EIN_PC * s_ein + u) - B_E * x_pce - K_E * v_pce,
        x_pci, A_I * (C_IIN_PC * s_iin) - B_I * x_pci - K_I * v_pci,
        x_ein, A_E * (C_PC_EIN * s_pc) - B_E * x_ein - K_E * v_ein,
        x_iin, A_E * (C_PC_IIN * s_pc) - B_E * x_iin - K_E * v_iin,
    ])


def run_scipy(u, t_end, dt_sample):
    from scipy.integrate import solve_ivp

    t_eval = np.arange(1, int(round(t_end / dt_sample)) + 1) * dt_sample
    res = []
    nfev = 0
    for ui in u:
        sol = solve_ivp(_jr_rhs_numpy, (0.0, t_end), np.zeros(N_STATES), method="RK45",
                        rtol=1e-6, t_eval=t_eval, args=(float(ui),))
        nfev += sol.nfev
        res.append(sol.y[[0, 2]])
    return np.stack(res, axis=1), nfev


# ---------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------
def best_time(fn, repeat, min_total=0.0):
    """(best wall time of at least ``repeat`` calls (more while the total < min_total),
    share of one core that other processes used meanwhile)."""
    t, _, other = best_pair(fn, None, repeat, min_total)
    return t, other


def best_pair(fa, fb, repeat, min_total=0.0):
    """Alternate calls of fa and fb (fb may be None); best time of each, and the share
    of one core other processes used meanwhile.  Alternating puts both under the same
    machine conditions, so their ratio holds up when something else runs."""
    ta, tb = [], []
    busy0, own0 = _cpu_busy_and_own()
    t_start = time.perf_counter()
    while len(ta) < repeat or (time.perf_counter() - t_start) < min_total:
        for f, ts in ((fa, ta), (fb, tb)):
            if f is not None:
                t0 = time.perf_counter()
                f()
                ts.append(time.perf_counter() - t0)
        if len(ta) >= 50:
            break
    busy1, own1 = _cpu_busy_and_own()
    wall = time.perf_counter() - t_start
    # /proc/stat counts in 10 ms ticks: below ~0.5 s the share is noise, not reported
    other = max(0.0, ((busy1 - busy0) - (own1 - own0)) / wall) if wall > 0.5 else 0.0
    return min(ta), (min(tb) if tb else None), other


def others_note(frac):
    return f"; OTHERS {100 * frac:.0f}% cpu" if frac > 0.05 else ""


def rel_err_points(a, b):
    """Per point: max over variables and time of |a - b| / (signal range of b).

    a, b: (n_vars, N, n_time); the range of a variable is taken over all points and
    times of b.
    """
    rng = np.max(b, axis=(1, 2)) - np.min(b, axis=(1, 2))
    rng = np.where(rng > 0, rng, 1.0)
    return np.max(np.max(np.abs(np.asarray(a, dtype=np.float64) - b), axis=2) / rng[:, None], axis=0)


def rel_err(a, b):
    """max |a - b| / (signal range of b), over variables, points and time."""
    return float(np.max(rel_err_points(a, b)))


def describe_err(a, b, u, goal):
    """'max ... OK/FAIL' plus, over the goal, how many points and where (u), and the median."""
    e = rel_err_points(a, b)
    emax = float(e.max())
    txt = f"max {emax:.3e}, median {float(np.median(e)):.1e}"
    if emax <= goal:
        return txt + f"  OK (goal <= {goal:g})"
    bad = e > goal
    return (txt + f"  over the goal {goal:g} at {int(bad.sum())}/{len(e)} points, u in "
            f"[{float(u[bad].min()):.4g}, {float(u[bad].max()):.4g}]")


class Table:
    def __init__(self):
        self.rows = []

    def add(self, method, n, prec, pps, ref=None, note=""):
        ratio = pps / ref if ref else float("nan")
        self.rows.append([method, n, prec, pps, ratio, note])
        r = "" if ratio != ratio else f"ratio {ratio:.3f}"
        print(f"    {method:<34} N={n:<6} {prec:<8} {pps:10.4g} pt-steps/s  {r:<12} {note}",
              flush=True)

    def show(self):
        print()
        hdr = (f"{'method':<36}{'N':>6}  {'precision':<10}{'point-steps/s':>14}"
               f"{'ratio to hand':>15}  note")
        print(hdr)
        print("-" * max(len(hdr), 110))
        for method, n, prec, pps, ratio, note in self.rows:
            r = "" if ratio != ratio else f"{ratio:.3f}"
            print(f"{method:<36}{n:>6}  {prec:<10}{pps:>14.4g}{r:>15}  {note}")
        print()


HAND_KERNELS = (  # (table name, kernel, dtype, precision)
    ("hand numba (fexp, FMA)", "jr_rk4_f64", np.float64, "float64"),
    ("hand numba (fexp, strict IEEE)", "jr_rk4_f64_strict", np.float64, "float64"),
    ("hand numba (fexp32, FMA)", "jr_rk4_f32", np.float32, "float32"),
)
REF_NAME = {"float64": "hand numba (fexp, FMA)", "float32": "hand numba (fexp32, FMA)"}


def compile_hand():
    t0 = time.perf_counter()
    u = np.linspace(50, 400, 3)
    for _, kname, dtype, _ in HAND_KERNELS:
        run_hand(globals()[kname], u, 1e-4, 20, 10, dtype)
    run_hand(jr_rk4_f64_libm, u, 1e-4, 20, 10, np.float64)
    return time.perf_counter() - t0


def time_hand(sizes, n_steps, dec, dt, repeat, min_total):
    """[(name, N, precision, point-steps/s, seconds, others' cpu share)], hand kernels."""
    rows = []
    for n in sizes:
        u = np.linspace(50, 400, n)
        for name, kname, dtype, prec in HAND_KERNELS:
            k = globals()[kname]
            tb, other = best_time(lambda: run_hand(k, u, dt, n_steps, dec, dtype), repeat, min_total)
            rows.append((name, n, prec, n * n_steps / tb, tb, other))
    return rows


def host_features_no_prefer256():
    import llvmlite.binding as ll

    return ll.get_host_cpu_features().flatten() + ",-prefer-256-bit"


def zmm_child(args_json):
    """Child process (NUMBA_CPU_FEATURES set by the parent): hand kernels, JSON out."""
    import json

    a = json.loads(args_json)
    compile_hand()
    u = np.linspace(50, 400, a["n_acc"])
    plain = run_hand(jr_rk4_f64_libm, u, a["dt"], a["n_steps"], a["dec"], np.float64)
    acc = {name: rel_err(run_hand(globals()[k], u, a["dt"], a["n_steps"], a["dec"], dt), plain)
           for name, k, dt, _ in HAND_KERNELS}
    rows = time_hand(a["sizes"], a["n_steps"], a["dec"], a["dt"], a["repeat"], a["min_total"])
    print("ZMMJSON " + json.dumps({"rows": rows, "acc": acc}))


def run_zmm_child(sizes, n_steps, dec, dt, repeat, min_total, n_acc):
    import json

    env = dict(os.environ, NUMBA_CPU_FEATURES=host_features_no_prefer256())
    a = json.dumps(dict(sizes=sizes, n_steps=n_steps, dec=dec, dt=dt, repeat=repeat,
                        min_total=min_total, n_acc=n_acc))
    p = subprocess.run([sys.executable, os.path.abspath(__file__), "--zmm-child", a],
                       capture_output=True, text=True, env=env, timeout=1200)
    for line in p.stdout.splitlines():
        if line.startswith("ZMMJSON "):
            return json.loads(line[8:]), None
    return None, (p.stderr.strip().splitlines() or ["no output"])[-1]


def _cpu_busy_and_own():
    """(CPU-seconds busy on the whole machine, CPU-seconds of this process + children)."""
    import resource

    own = 0.0
    for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN):
        r = resource.getrusage(who)
        own += r.ru_utime + r.ru_stime
    try:
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:]]
        busy = (sum(v[:8]) - v[3] - v[4]) / os.sysconf("SC_CLK_TCK")  # minus idle, iowait
    except (OSError, ValueError):
        busy = float("nan")
    return busy, own


# ---------------------------------------------------------------------------
# nmm (the public API)
# ---------------------------------------------------------------------------
OUTPUTS = {"V_pce": "pc/rpo_e_in/v", "V_pci": "pc/rpo_i/v"}
TEMPLATE = "nmm.templates.jansenrit.JRC"


def nmm_available():
    try:
        import nmm

        nmm.simulate  # noqa: B018
        nmm.CircuitTemplate  # noqa: B018
        return True, ""
    except Exception as e:  # noqa: BLE001
        return False, f"{type(e).__name__}: {e}"


def run_nmm(u, t_end, dt, dt_sample, prec):
    import nmm

    jrc = nmm.CircuitTemplate.from_yaml(TEMPLATE)
    return nmm.simulate(jrc, params={"pc/rpo_e_in/u": u}, simulation_time=t_end,
                        step_size=dt, sampling_step_size=dt_sample, outputs=OUTPUTS,
                        solver="rk4", float_precision=prec)


def nmm_to_array(ds, dt_sample, n_samples):
    """The API's samples that lie on the hand grid t = k*dt_sample, 1 <= k <= n_samples.

    Returns (array (2, N, n), hand-grid indices (n,), note on the API's time grid).
    """
    pce = np.asarray(ds["V_pce"].transpose("point", "time").values, dtype=np.float64)
    pci = np.asarray(ds["V_pci"].transpose("point", "time").values, dtype=np.float64)
    t = np.asarray(ds["time"].values, dtype=np.float64)
    idx = np.rint(t / dt_sample).astype(int)
    keep = ((idx >= 1) & (idx <= n_samples)
            & (np.abs(t - idx * dt_sample) < 1e-3 * dt_sample))
    note = (f"API time grid: {len(t)} samples, t[0]={t[0]:.6g}, t[-1]={t[-1]:.6g}, "
            f"{int(keep.sum())} on the hand grid")
    return np.stack([pce[:, keep], pci[:, keep]]), idx[keep] - 1, note


_SUBPROC = textwrap.dedent("""
    import sys, time
    t0 = time.perf_counter()
    sys.path.insert(0, {root!r})
    import numpy as np
    import nmm
    t1 = time.perf_counter()
    jrc = nmm.CircuitTemplate.from_yaml({template!r})
    ds = nmm.simulate(jrc, params={{'pc/rpo_e_in/u': np.linspace(50, 400, {n})}},
                      simulation_time={t_end!r}, step_size={dt!r},
                      sampling_step_size={dts!r}, outputs={outputs!r},
                      solver='rk4', float_precision={prec!r})
    t2 = time.perf_counter()
    print('IMPORT', t1 - t0)
    print('FIRSTCALL', t2 - t1)
""")


def fresh_process_first_call(n, t_end, dt, dts, prec, env_extra=None):
    """(import s, first simulate s, process wall s, error) of a tiny script."""
    code = _SUBPROC.format(root=_ROOT, template=TEMPLATE, n=n, t_end=t_end, dt=dt, dts=dts,
                           outputs=OUTPUTS, prec=prec)
    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as f:
        f.write(code)
        path = f.name
    env = dict(os.environ, **(env_extra or {}))
    try:
        t0 = time.perf_counter()
        p = subprocess.run([sys.executable, path], capture_output=True, text=True,
                           timeout=900, cwd=_ROOT, env=env)
        wall = time.perf_counter() - t0
    finally:
        os.unlink(path)
    if p.returncode != 0:
        return None, None, wall, (p.stderr.strip().splitlines() or ["?"])[-1]
    vals = dict(line.split() for line in p.stdout.splitlines()
                if line.startswith(("IMPORT", "FIRSTCALL")))
    return float(vals["IMPORT"]), float(vals["FIRSTCALL"]), wall, None


def bench_nmm(table, hand_pps, sizes, t_end, dt, dts, n_steps, n_samples, repeat, min_total,
              plain, u_acc, quick):
    # first call in this process: compile, or a disk-cache load if a run cached it
    for prec in ("float64", "float32"):
        t0 = time.perf_counter()
        run_nmm(np.linspace(50, 400, 4), t_end, dt, dts, prec)
        print(f"    first call in this process ({prec}, N=4): {time.perf_counter() - t0:.2f} s "
              "(compile, or disk-cache load if an earlier run cached the kernel)", flush=True)

    # accuracy vs the plain math.exp scalar kernel
    ds = run_nmm(u_acc, t_end, dt, dts, "float64")
    arr, kidx, note = nmm_to_array(ds, dts, n_samples)
    print(f"    {note}")
    if len(kidx) == 0:
        print("    accuracy: no API sample on the hand grid, not compared")
    else:
        ds32 = run_nmm(u_acc, t_end, dt, dts, "float32")
        arr32, kidx32, _ = nmm_to_array(ds32, dts, n_samples)
        abs32 = float(np.max(np.abs(arr32 - plain[:, :, kidx32])))
        print(f"    accuracy vs plain math.exp kernel (N={len(u_acc)}, |diff| / signal range):")
        print(f"      float64: {describe_err(arr, plain[:, :, kidx], u_acc, 1e-9)}")
        print(f"      float32: max {rel_err(arr32, plain[:, :, kidx32]):.3e} (max abs "
              f"{abs32 * 1e3:.3g} mV)", flush=True)

    # warm calls, alternating with the hand kernel of the same precision: the ratio is
    # taken from the same loop, so a load from elsewhere hits both alike
    hand_k = {"float64": (jr_rk4_f64, np.float64), "float32": (jr_rk4_f32, np.float32)}
    dec = int(round(dts / dt))
    n_threads = numba.get_num_threads()
    thread_runs = [(n_threads, sizes)]
    if 1000 in sizes and n_threads > 1:
        thread_runs.append((1, [1000]))
    for nt, ns in thread_runs:
        numba.set_num_threads(nt)
        tag = f", {nt} thread" if nt != n_threads else ""
        try:
            for n in ns:
                u = np.linspace(50, 400, n)
                for prec in ("float64", "float32"):
                    k, dtype = hand_k[prec]
                    run_nmm(u, t_end, dt, dts, prec)  # warm: compile / any per-shape work
                    th, to, other = best_pair(lambda: run_hand(k, u, dt, n_steps, dec, dtype),
                                              lambda: run_nmm(u, t_end, dt, dts, prec),
                                              repeat, min_total)
                    hp, op = n * n_steps / th, n * n_steps / to
                    if nt != n_threads:
                        table.add(REF_NAME[prec] + tag, n, prec, hp, hp,
                                  f"{th * 1e3:.1f} ms" + others_note(other))
                    table.add("nmm.simulate (rk4)" + tag, n, prec, op, hp,
                              f"{to * 1e3:.1f} ms; ratio vs hand {hp:.3g} timed alternately"
                              + others_note(other))
        finally:
            numba.set_num_threads(n_threads)

    # fresh processes: cold (empty NMM_CACHE_DIR and NUMBA_CACHE_DIR: code generation
    # and compilation), the same folders again (numba's on-disk cache hit), and the
    # default cache folders (what a user's second process sees)
    tmp = tempfile.mkdtemp(prefix="nmm_bench_cache_")
    cold_env = {"NMM_CACHE_DIR": os.path.join(tmp, "nmm"), "NUMBA_CACHE_DIR": os.path.join(tmp, "numba")}
    precs = ("float64",) if quick else ("float64", "float32")
    runs = [("cold: empty NMM_CACHE_DIR + NUMBA_CACHE_DIR", cold_env),
            ("2nd process, same cache dirs", cold_env),
            ("default cache dirs", None)]
    if quick:
        runs = runs[2:]
        print("    (--quick: cold-compile processes skipped)")
    try:
        for label, env in runs:
            for prec in precs:
                imp, first, wall, err = fresh_process_first_call(10, t_end, dt, dts, prec, env)
                if err:
                    print(f"    fresh process [{label}] {prec}: FAILED: {err}")
                else:
                    print(f"    fresh process [{label}] {prec}, N=10: import nmm {imp:.2f} s, "
                          f"first simulate {first:.2f} s (process wall {wall:.2f} s)", flush=True)
    finally:
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)


# ---------------------------------------------------------------------------
# main
# ---------------------------------------------------------------------------
def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="smoke run (< 30 s)")
    ap.add_argument("--no-nmm", action="store_true", help="skip (c), nmm.simulate")
    ap.add_argument("--zmm", action=argparse.BooleanOptionalAction, default=None,
                    help="also time the hand kernels built for 512-bit vectors in a child "
                         "process (default: on, off with --quick)")
    ap.add_argument("--zmm-child", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.zmm_child:
        zmm_child(args.zmm_child)
        return

    dt, dts = 1e-4, 1e-3
    if args.quick:
        t_end, sizes, n_scipy, t_scipy, repeat, min_total, n_acc = 0.2, [1, 1000], 2, 0.2, 2, 0.0, 100
    else:
        t_end, sizes, n_scipy, t_scipy, repeat, min_total, n_acc = 2.0, [1, 1000, 10000], 10, 2.0, 3, 1.0, 1000
    n_steps = int(round(t_end / dt))
    dec = int(round(dts / dt))
    n_samples = n_steps // dec

    print(f"Jansen-Rit RK4: T={t_end} s, dt={dt}, {n_steps} steps, sampling every {dts} s "
          f"({n_samples} samples), u = linspace(50, 400, N), zero initial state")
    print(f"numba {numba.__version__}, numpy {np.__version__}, {numba.get_num_threads()} threads, "
          f"{os.cpu_count()} CPUs")
    table = Table()
    busy0, own0 = _cpu_busy_and_own()
    wall0 = time.perf_counter()

    # ---------------- (a) hand-written ----------------
    print("\n(a) hand-written numba kernels")
    print(f"    compile / cache load: {compile_hand():.2f} s; threading layer "
          f"{numba.threading_layer()}", flush=True)
    u_acc = np.linspace(50, 400, n_acc)
    plain = run_hand(jr_rk4_f64_libm, u_acc, dt, n_steps, dec, np.float64)
    print(f"    accuracy vs plain math.exp scalar kernel (N={n_acc}, |diff| / signal range, "
          "per point max over time):")
    for name, kname, dtype, prec in HAND_KERNELS:
        res = run_hand(globals()[kname], u_acc, dt, n_steps, dec, dtype)
        if prec == "float64":
            verdict = describe_err(res, plain, u_acc, 1e-12)
        else:
            verdict = (f"max {rel_err(res, plain):.3e} "
                       f"(max abs {float(np.max(np.abs(res - plain))) * 1e3:.3g} mV)")
        print(f"      {name:<34} {verdict}")
    # conditioning: the same plain kernel with u moved by one ulp
    pert = run_hand(jr_rk4_f64_libm, u_acc * (1 + 2.0 ** -52), dt, n_steps, dec, np.float64)
    print(f"      {'(conditioning: plain, u + 1 ulp)':<34} "
          f"{describe_err(pert, plain, u_acc, 1e-12).split('  ')[0]}  <- the floor for any "
          "kernel whose exp is not bit-identical to libm's")

    print("    timing (best of several calls, state allocation and output included):")
    hand_pps = {}
    for name, n, prec, pps, tb, other in time_hand(sizes, n_steps, dec, dt, repeat, min_total):
        if name == REF_NAME[prec]:
            hand_pps[(n, prec)] = pps
        table.add(name, n, prec, pps, hand_pps.get((n, prec)), f"{tb * 1e3:.1f} ms" + others_note(other))
    for n_p in sorted({min(n, 1000) for n in sizes}):
        u_p = np.linspace(50, 400, n_p)
        tb, other = best_time(lambda: run_hand(jr_rk4_f64_libm, u_p, dt, n_steps, dec, np.float64),
                              repeat if n_p == 1 else 1)
        table.add("plain numba (math.exp, 1 thread)", n_p, "float64", n_p * n_steps / tb,
                  hand_pps.get((n_p, "float64")), f"{tb * 1e3:.1f} ms" + others_note(other))

    if args.zmm or (args.zmm is None and not args.quick):
        print("    same hand kernels built for 512-bit vectors (child process, "
              "NUMBA_CPU_FEATURES=<host>,-prefer-256-bit) ...", flush=True)
        res, err = run_zmm_child(sizes, n_steps, dec, dt, repeat, min_total, n_acc)
        if err:
            print(f"    zmm child failed: {err}")
        else:
            for name, e in res["acc"].items():
                print(f"      accuracy {name} (zmm): {e:.3e}")
            for name, n, prec, pps, tb, other in res["rows"]:
                table.add(name.replace("hand numba", "hand numba zmm"), n, prec, pps,
                          hand_pps.get((n, prec)), f"{tb * 1e3:.1f} ms" + others_note(other))

    # ---------------- (b) scipy ----------------
    print(f"\n(b) scipy solve_ivp RK45 rtol=1e-6, one call per point, N={n_scipy}, T={t_scipy} s")
    n_steps_s = int(round(t_scipy / dt))
    u_s = np.linspace(50, 400, n_scipy)
    t0 = time.perf_counter()
    sc, nfev = run_scipy(u_s, t_scipy, dts)
    tb = time.perf_counter() - t0
    ref_s = run_hand(jr_rk4_f64_libm, u_s, dt, n_steps_s, dec, np.float64)
    ref_n = 1000 if (1000, "float64") in hand_pps else sizes[-1]
    table.add("scipy solve_ivp RK45 (1 thread)", n_scipy, "float64", n_scipy * n_steps_s / tb,
              hand_pps.get((ref_n, "float64")),
              f"{tb:.2f} s, {nfev // n_scipy} rhs evals/pt, diff vs RK4 {rel_err(sc, ref_s):.1e}")

    # ---------------- (c) nmm ----------------
    avail, why = nmm_available()
    if args.no_nmm:
        avail, why = False, "skipped (--no-nmm)"
    if not avail:
        print(f"\n(c) nmm.simulate not available: {why}\n    only (a) and (b) were run.")
    else:
        print("\n(c) nmm.simulate (public API), solver='rk4'")
        try:
            bench_nmm(table, hand_pps, sizes, t_end, dt, dts, n_steps, n_samples, repeat,
                      min_total, plain, u_acc, args.quick)
        except Exception:  # noqa: BLE001
            print("    (c) FAILED:")
            traceback.print_exc(file=sys.stdout)

    table.show()
    busy1, own1 = _cpu_busy_and_own()
    other = (busy1 - busy0) - (own1 - own0)
    wall = time.perf_counter() - wall0
    print(f"other processes used {other:.1f} CPU-s during this {wall:.0f} s run "
          f"({100 * other / wall:.0f}% of one core): "
          + ("quiet machine" if other < 0.02 * wall else "NOT QUIET, timings may be low"))
    print("point-steps/s = points x time steps / wall s.  ratio: divided by 'hand numba (fexp, FMA)'"
          " (float64) or 'hand numba (fexp32, FMA)' (float32) at the same N, both built for the "
          "default numba target;\nscipy's ratio is against hand float64 at "
          f"N={ref_n}.  zmm rows: same code, LLVM allowed 512-bit vectors.")
    if args.quick:
        print("--quick: T=0.2 s, so nmm.simulate's fixed per-call cost (~10 ms: template "
              "loading, xarray) weighs 10x more than in the full run: use the full run for ratios.")


if __name__ == "__main__":
    main()
