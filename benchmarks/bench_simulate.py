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
``sampling_step_size``.  Output layout of the hand kernels is (var, point, time),
the same order as ``nmm.simulate``'s (point, time) dims, so neither side gets a free
transpose.
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


def _make_kernel(step, jit_opts, parallel, block, pad):
    """Batch kernel: y (8, N) state in/out, u (N,), out (2, N, n_samples).

    prange over blocks of ``block`` points outside the time loop; each block is
    integrated to the end.  Inside a block the state lives in a scratch vector laid
    out (8, block) flat, indexed ``q * block + j`` with ``block`` a compile-time
    constant: every access is the same base pointer at constant offsets, so LLVM
    vectorizes the loop over points without runtime alias checks (indexing the
    caller's (8, N) array directly has 8 rows at a run-time stride: the checks
    exceed LLVM's limit and the loop stays scalar, ~3x slower).  The trip count is
    padded to a multiple of ``pad`` (dummy lanes, u=0) so no scalar remainder runs.
    Sample k is the state after step (k+1)*dec (times dt*dec, 2*dt*dec, ...).
    """
    B = block
    R = block + pad  # row stride of the scratch state: not a multiple of 4 KiB (4K aliasing)

    @numba.njit(parallel=parallel, **jit_opts)
    def kernel(y, u, dt, n_steps, dec, out):
        n = y.shape[1]
        n_blocks = (n + B - 1) // B
        for b in prange(n_blocks):
            lo = b * B
            m = min(B, n - lo)
            # pad the trip count to a multiple of `pad` (dummy lanes) so no scalar
            # remainder runs; below one vector, run the scalar loop on m points
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
                        out[0, lo + j, k] = s[j]
                        out[1, lo + j, k] = s[2 * R + j]
                    k += 1
            for j in range(m):
                for q in range(8):
                    y[q, lo + j] = s[q * R + j]

    return kernel


jr_rk4_f64 = _make_kernel(_step64, JIT_FAST, True, BLOCK64, 16)
jr_rk4_f64_strict = _make_kernel(_step64, JIT, True, BLOCK64, 16)   # no FMA contraction
jr_rk4_f32 = _make_kernel(_step32, JIT_FAST, True, BLOCK32, 32)
jr_rk4_f64_libm = _make_kernel(_step64_libm, JIT, False, BLOCK64, 1)  # scalar accuracy reference


def run_hand(kernel, u, dt, n_steps, dec, dtype):
    n = u.shape[0]
    y = np.zeros((N_STATES, n), dtype=dtype)
    out = np.empty((2, n, n_steps // dec), dtype=dtype)
    kernel(y, u.astype(dtype), dtype(dt), n_steps, dec, out)
    return out


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
    """Best wall time of ``repeat`` calls (more if the total is under min_total)."""
    times = []
    t_start = time.perf_counter()
    while len(times) < repeat or (time.perf_counter() - t_start) < min_total:
        t0 = time.perf_counter()
        res = fn()
        times.append(time.perf_counter() - t0)
        if len(times) >= 50:
            break
    return min(times), res


def rel_err(a, b):
    """max |a - b| / (signal range of b), per variable, max over variables."""
    errs = []
    for j in range(a.shape[0]):
        rng = float(np.max(b[j]) - np.min(b[j]))
        errs.append(float(np.max(np.abs(a[j] - b[j]))) / (rng if rng > 0 else 1.0))
    return max(errs)


class Table:
    def __init__(self):
        self.rows = []

    def add(self, method, n, prec, pps, ref=None, note=""):
        ratio = pps / ref if ref else float("nan")
        self.rows.append((method, n, prec, pps, ratio, note))
        print(f"  {method:<28} N={n:<6} {prec:<8} {pps:12.4g} pt-steps/s"
              f"   ratio {ratio:6.3f}  {note}", flush=True)

    def show(self):
        print()
        hdr = f"{'method':<30}{'N':>7}  {'precision':<10}{'point-steps/s':>15}" \
              f"{'ratio to hand':>15}  note"
        print(hdr)
        print("-" * len(hdr))
        for method, n, prec, pps, ratio, note in self.rows:
            r = "" if ratio != ratio else f"{ratio:.3f}"
            print(f"{method:<30}{n:>7}  {prec:<10}{pps:>15.4g}{r:>15}  {note}")
        print()


# ---------------------------------------------------------------------------
# nmm (the public API)
# ---------------------------------------------------------------------------
OUTPUTS = {"V_pce": "pc/rpo_e_in/v", "V_pci": "pc/rpo_i/v"}
TEMPLATE = "nmm.templates.jansenrit.JRC"


def nmm_available():
    try:
        import nmm  # noqa: F401
        nmm.simulate  # noqa: B018
        nmm.CircuitTemplate  # noqa: B018
        return True, ""
    except Exception as e:  # noqa: BLE001
        return False, f"{type(e).__name__}: {e}"


def run_nmm(u, t_end, dt, dt_sample, prec):
    import nmm

    jrc = nmm.CircuitTemplate.from_yaml(TEMPLATE)
    ds = nmm.simulate(jrc, params={"pc/rpo_e_in/u": u}, simulation_time=t_end,
                      step_size=dt, sampling_step_size=dt_sample, outputs=OUTPUTS,
                      solver="rk4", float_precision=prec)
    return ds


def nmm_to_array(ds, dt_sample, n_samples):
    """(2, N, n_samples) array on the hand kernel's time grid (t = k*dt_sample, k>=1).

    Returns (array, note); samples the API does not have (e.g. if it starts at 0 or
    has another count) are aligned by time coordinate.
    """
    pce = ds["V_pce"].transpose("point", "time").values
    pci = ds["V_pci"].transpose("point", "time").values
    t = np.asarray(ds["time"].values, dtype=float)
    idx = np.rint(t / dt_sample).astype(int)  # sample index on the k*dt_sample grid
    keep = (idx >= 1) & (idx <= n_samples) & (np.abs(t - idx * dt_sample) < 1e-3 * dt_sample)
    note = f"api time grid: {len(t)} samples, t[0]={t[0]:.4g}, t[-1]={t[-1]:.4g}"
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


def fresh_process_first_call(n, t_end, dt, dts, prec):
    code = _SUBPROC.format(root=_ROOT, template=TEMPLATE, n=n, t_end=t_end, dt=dt, dts=dts,
                           outputs=OUTPUTS, prec=prec)
    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as f:
        f.write(code)
        path = f.name
    try:
        t0 = time.perf_counter()
        p = subprocess.run([sys.executable, path], capture_output=True, text=True,
                           timeout=600, cwd=_ROOT)
        wall = time.perf_counter() - t0
    finally:
        os.unlink(path)
    if p.returncode != 0:
        return None, None, wall, p.stderr.strip().splitlines()[-1:] or ["?"]
    vals = dict(line.split() for line in p.stdout.splitlines() if line[:1].isupper())
    return float(vals["IMPORT"]), float(vals["FIRSTCALL"]), wall, None


# ---------------------------------------------------------------------------
# main
# ---------------------------------------------------------------------------
def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="smoke run (< 30 s)")
    ap.add_argument("--no-nmm", action="store_true", help="skip (c)")
    args = ap.parse_args(argv)

    dt, dts = 1e-4, 1e-3
    if args.quick:
        t_end, sizes, n_scipy, t_scipy, repeat, min_total = 0.2, [1, 1000], 2, 0.2, 2, 0.0
    else:
        t_end, sizes, n_scipy, t_scipy, repeat, min_total = 2.0, [1, 1000, 10000], 10, 2.0, 3, 1.0
    n_steps = int(round(t_end / dt))
    dec = int(round(dts / dt))
    n_samples = n_steps // dec
    n_acc = 1000 if not args.quick else 100  # points in the accuracy checks

    print(f"Jansen-Rit RK4: T={t_end} s, dt={dt}, {n_steps} steps, sampling every {dts} s "
          f"({n_samples} samples), u = linspace(50, 400, N)")
    print(f"numba {numba.__version__}, numpy {np.__version__}, "
          f"threads {numba.get_num_threads()}, CPUs {os.cpu_count()}")
    print()

    table = Table()
    ref64 = {}

    # ---------------- (a) hand-written ----------------
    print("(a) hand-written numba kernels: compiling ...", flush=True)
    t0 = time.perf_counter()
    for k, dtype, blk in ((jr_rk4_f64, np.float64), (jr_rk4_f64_strict, np.float64),
                          (jr_rk4_f32, np.float32), (jr_rk4_f64_libm, np.float64)):
        run_hand(k, np.linspace(50, 400, 3), dt, 20, dec, dtype)
    print(f"    compile / cache load: {time.perf_counter() - t0:.2f} s")
    print(f"    threading layer: {numba.threading_layer()}")

    # accuracy: vectorized fexp kernels vs plain math.exp scalar kernel
    u_acc = np.linspace(50, 400, n_acc)
    plain = run_hand(jr_rk4_f64_libm, u_acc, dt, n_steps, dec, np.float64)
    fast = run_hand(jr_rk4_f64, u_acc, dt, n_steps, dec, np.float64)
    strict = run_hand(jr_rk4_f64_strict, u_acc, dt, n_steps, dec, np.float64)
    f32 = run_hand(jr_rk4_f32, u_acc, dt, n_steps, dec, np.float32)
    e_fast, e_strict, e_32 = rel_err(fast, plain), rel_err(strict, plain), rel_err(f32, plain)
    ok = "OK" if max(e_fast, e_strict) <= 1e-12 else "FAIL (goal <= 1e-12)"
    print(f"    accuracy vs plain math.exp kernel (N={n_acc}, max |diff| / signal range):")
    print(f"      hand f64 (fexp64, FMA contraction): {e_fast:.3e}")
    print(f"      hand f64 (fexp64, strict IEEE):     {e_strict:.3e}   {ok}")
    print(f"      hand f32 (fexp32):                  {e_32:.3e}"
          f"   (max abs {float(np.max(np.abs(f32 - plain))) * 1e3:.3g} mV)")
    ref64["plain"] = plain

    print("    timing:", flush=True)
    hand_pps = {}
    for n in sizes:
        u = np.linspace(50, 400, n)
        for name, k, dtype, blk, prec in (
                ("hand numba (fexp, FMA)", jr_rk4_f64, np.float64, BLOCK64, "float64"),
                ("hand numba (fexp, strict)", jr_rk4_f64_strict, np.float64, BLOCK64, "float64"),
                ("hand numba (fexp32, FMA)", jr_rk4_f32, np.float32, BLOCK32, "float32")):
            tb, _ = best_time(lambda: run_hand(k, u, dt, n_steps, dec, dtype), repeat, min_total)
            pps = n * n_steps / tb
            if name.endswith("(fexp, FMA)") or name.startswith("hand numba (fexp32"):
                hand_pps[(n, prec)] = max(hand_pps.get((n, prec), 0), pps)
            table.add(name, n, prec, pps, None, f"{tb * 1e3:.1f} ms")
        n_plain = min(n, 1000)
        u_p = np.linspace(50, 400, n_plain)
        tb, _ = best_time(lambda: run_hand(jr_rk4_f64_libm, u_p, dt, n_steps, dec, np.float64),
                          1 if n_plain > 1 else repeat)
        table.add("plain numba (math.exp, 1 core)", n_plain, "float64", n_plain * n_steps / tb, None,
                  f"{tb * 1e3:.1f} ms")
    # fix ratios of (a) rows: relative to the fastest hand kernel of that N/precision
    table.rows = [(m, n, p, pps, pps / hand_pps[(n, p)] if (n, p) in hand_pps else float("nan"), note)
                  for (m, n, p, pps, _, note) in table.rows]

    # ---------------- (b) scipy ----------------
    print(f"(b) scipy solve_ivp RK45 rtol=1e-6, N={n_scipy}, T={t_scipy} s ...", flush=True)
    n_steps_scipy = int(round(t_scipy / dt))
    u_s = np.linspace(50, 400, n_scipy)
    t0 = time.perf_counter()
    sc, nfev = run_scipy(u_s, t_scipy, dts)
    tb = time.perf_counter() - t0
    ref_s = run_hand(jr_rk4_f64_libm, u_s, dt, n_steps_scipy, dec, np.float64)
    table.add("scipy solve_ivp RK45", n_scipy, "float64", n_scipy * n_steps_scipy / tb,
              hand_pps.get((1000, "float64")) or hand_pps.get((sizes[-1], "float64")),
              f"{tb:.2f} s, {nfev // n_scipy} fev/pt, diff vs RK4 {rel_err(sc, ref_s):.1e}")

    # ---------------- (c) nmm ----------------
    avail, why = nmm_available()
    if args.no_nmm:
        avail, why = False, "skipped (--no-nmm)"
    if not avail:
        print(f"(c) nmm.simulate not available: {why}")
        print("    (c) skipped; (a) and (b) above.")
    else:
        print("(c) nmm.simulate (public API), rk4:", flush=True)
        try:
            _bench_nmm(table, hand_pps, sizes, t_end, dt, dts, n_steps, n_samples, repeat,
                       min_total, plain, u_acc, args.quick)
        except Exception:  # noqa: BLE001
            print("    (c) FAILED:")
            traceback.print_exc(file=sys.stdout)

    table.show()
    print("ratio: point-steps/s divided by the fastest hand-written kernel's at the same N and "
          "precision (scipy: vs hand float64 at N=1000).")


def _bench_nmm(table, hand_pps, sizes, t_end, dt, dts, n_steps, n_samples, repeat, min_total,
               plain, u_acc, quick):
    # first call (compile, or on-disk cache hit if an earlier run left one)
    for prec in ("float64", "float32"):
        t0 = time.perf_counter()
        run_nmm(np.linspace(50, 400, 4), t_end, dt, dts, prec)
        print(f"    first call in this process ({prec}, N=4): {time.perf_counter() - t0:.2f} s "
              "(compile, or disk-cache load if a previous run cached it)", flush=True)

    # accuracy vs the plain math.exp scalar kernel
    ds = run_nmm(u_acc, t_end, dt, dts, "float64")
    arr, kidx, note = nmm_to_array(ds, dts, n_samples)
    err64 = rel_err(arr, plain[:, :, kidx])
    ds32 = run_nmm(u_acc, t_end, dt, dts, "float32")
    arr32, kidx32, _ = nmm_to_array(ds32, dts, n_samples)
    err32 = rel_err(arr32, plain[:, :, kidx32])
    print(f"    {note}; compared {len(kidx)} samples")
    print(f"    accuracy vs plain math.exp kernel (N={len(u_acc)}): float64 {err64:.3e} "
          f"({'OK' if err64 <= 1e-9 else 'FAIL'}, goal <= 1e-9), float32 {err32:.3e} "
          f"(max abs {float(np.nanmax(np.abs(arr32 - plain[:, :, kidx32]))) * 1e3:.3g} mV)")

    for n in sizes:
        u = np.linspace(50, 400, n)
        for prec in ("float64", "float32"):
            run_nmm(u, t_end, dt, dts, prec)  # warm (also any per-shape specialisation)
            tb, _ = best_time(lambda: run_nmm(u, t_end, dt, dts, prec), repeat, min_total)
            table.add("nmm.simulate", n, prec, n * n_steps / tb, hand_pps[(n, prec)],
                      f"{tb * 1e3:.1f} ms")

    # fresh process: should hit numba's on-disk cache
    for prec in ("float64",) if quick else ("float64", "float32"):
        imp, first, wall, err = fresh_process_first_call(10, t_end, dt, dts, prec)
        if err:
            print(f"    fresh process ({prec}) FAILED: {err}")
        else:
            print(f"    fresh process ({prec}, N=10): import nmm {imp:.2f} s, first simulate "
                  f"{first:.2f} s (process wall {wall:.2f} s)")


if __name__ == "__main__":
    main()
