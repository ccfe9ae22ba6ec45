"""Following one branch of periodic orbits by pseudo-arclength, with its special points.

A branch starts at a Hopf point (the equilibrium plus a small multiple of the critical
eigenvector's orbit ``Re(v exp(2 pi i s))``, period ``2 pi / omega``) or at a period
doubling (the doubled orbit plus the Floquet eigenvector's antiperiodic solution). Each
step predicts along the tangent, corrects with :meth:`CycleSystem.newton`, computes the new
tangent and the Floquet multipliers, and looks for sign changes of the test functions:

- fold of cycles: the parameter component of the tangent;
- period doubling: ``|mu| - 1`` of the real negative multiplier nearest -1 (when the number
  of real negative multipliers outside the unit circle changes);
- torus (Neimark-Sacker): ``|mu| - 1`` of the complex pair nearest the unit circle (when
  the number of complex multipliers outside it changes).

The last two need three states or more (a planar orbit has one non-trivial multiplier,
``exp(int div f dt) > 0``) and multipliers that can be trusted: both points' trivial
multiplier within ``TRIVIAL_TOL`` of 1.

A sign change is refined by Brent's method on the arclength of the step, each trial point
corrected onto the branch. The branch ends at the parameter bounds (landing on them), at a
period above ``max_period`` (a homoclinic or SNIC end) or a period that grows while the
parameter stands still (the exponential approach of a saddle homoclinic orbit), when the
amplitude shrinks back to zero (a Hopf point; also when a step goes through one, seen as a
small minimum of the amplitude next to a Hopf point of the equilibria), or when the step
size falls below ``ds_min``. The mesh is adapted every ``adapt_every`` steps.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import brentq

from .collocation import adapt_mesh, evaluate, monodromy, node_times, remesh
from .options import CycleOptions
from .system import CycleSystem, Solved

__all__ = ["CyclePoint", "CycleBranch", "follow", "hopf_start", "doubling_start", "trivial_error"]

_IMAG = 1e-7  # multipliers with |Im| below this (relative) count as real
#: period doublings and torus points are only looked for between points whose trivial
#: multiplier is within this of 1: past it (canard cycles, orbits near a homoclinic one,
#: whose transfer matrices grow by many orders of magnitude before they shrink) the
#: product of the transfer matrices has lost the multipliers, which then wander off the
#: real axis and across the unit circle
TRIVIAL_TOL = 1e-3


@dataclass
class CyclePoint:
    """One point of a branch: node values ``U`` (scaled by ``sx``) on ``mesh``, period, parameter, multipliers."""

    U: np.ndarray
    mesh: np.ndarray
    period: float
    value: float
    multipliers: np.ndarray
    sx: np.ndarray


@dataclass
class CycleSpecial:
    """A special point of a cycle branch (kind: 'fold_cycle', 'period_doubling', 'torus', 'homoclinic')."""

    kind: str
    point: CyclePoint
    step: int
    eigenvector: np.ndarray | None = None  # Floquet eigenvector (period doubling)


@dataclass
class CycleBranch:
    """A followed branch: its points, special points, how it started and how it ended."""

    points: list[CyclePoint] = field(default_factory=list)
    special: list[CycleSpecial] = field(default_factory=list)
    start: str = "hopf"
    start_value: float = math.nan
    end: str = "max_steps"
    end_value: float = math.nan


def nontrivial(mu: np.ndarray) -> np.ndarray:
    """The multipliers without the one nearest 1 (the trivial multiplier of an autonomous orbit)."""
    if mu.size == 0:
        return mu
    return np.delete(mu, int(np.argmin(np.abs(mu - 1))))


def trivial_error(mu: np.ndarray) -> float:
    """Distance of the multiplier nearest 1 from 1: the accuracy of the multipliers (exactly 0 in exact arithmetic)."""
    return float(np.min(np.abs(mu - 1))) if mu.size else math.nan


def _counts(mu: np.ndarray) -> tuple[int, int]:
    nt = nontrivial(mu)
    real = np.abs(nt.imag) <= _IMAG * np.maximum(np.abs(nt), 1)
    out = np.abs(nt) > 1
    return int(np.sum(real & (nt.real < 0) & out)), int(np.sum(~real & out))


def _pd_test(mu: np.ndarray) -> float:
    nt = nontrivial(mu)
    real = np.abs(nt.imag) <= _IMAG * np.maximum(np.abs(nt), 1)
    neg = nt[real & (nt.real < 0)]
    if neg.size == 0:
        return math.nan
    return float(abs(neg[np.argmin(np.abs(neg + 1))]) - 1)


def _ns_test(mu: np.ndarray) -> float:
    nt = nontrivial(mu)
    cx = nt[np.abs(nt.imag) > _IMAG * np.maximum(np.abs(nt), 1)]
    if cx.size == 0:
        return math.nan
    return float(np.abs(cx)[np.argmin(np.abs(np.abs(cx) - 1))] - 1)


def amplitude(U: np.ndarray) -> float:
    """Largest peak-to-peak range of a scaled state over the nodes."""
    return float(np.max(U.max(axis=0) - U.min(axis=0)))


def hopf_start(system: CycleSystem, x: np.ndarray, pval: float, v: np.ndarray, omega: float,
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Start (z, tangent, mesh, phase reference) of the cycle branch of a Hopf point.

    ``v`` is the eigenvector of ``i omega`` (model units)."""
    mesh = np.linspace(0.0, 1.0, system.ntst + 1)
    s = node_times(mesh, system.ncol)
    phi = np.real((v / system.sx)[None, :] * np.exp(2j * np.pi * s)[:, None])
    W = system.weights(mesh)
    U0 = np.repeat((x / system.sx)[None, :], system.K, axis=0)
    z0 = system.pack(U0, 2 * np.pi / omega, pval)
    t = np.concatenate([phi.ravel(), [0.0, 0.0]])
    t /= np.sqrt(t @ (W * t))
    return z0, t, mesh, U0 + phi


def doubling_start(system: CycleSystem, pt: CyclePoint, w: np.ndarray,
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Start (z, tangent, mesh, phase reference) of the period-doubled branch at a period doubling.

    ``w`` is the Floquet eigenvector of -1 (scaled states) at the start of ``pt``'s orbit."""
    m = system.ncol
    # the variational solution from w over one period (antiperiodic: -w at the end)
    system.sx = pt.sx.copy()
    blocks = _blocks(system, pt.U, pt.mesh, pt.period, pt.value)
    _, nodes = monodromy(blocks, want_nodes=True)
    assert nodes is not None
    psi = np.real(nodes @ w)
    # the doubled orbit: two laps on a mesh of the same size (every other point kept)
    mesh2 = np.concatenate([pt.mesh / 2, 0.5 + pt.mesh[1:] / 2])
    U2 = np.vstack([pt.U, pt.U[1:]])
    P2 = np.vstack([psi, -psi[1:]])
    new_mesh = adapt_mesh(U2, mesh2, m, system.ntst)
    U = remesh(U2, mesh2, m, new_mesh)
    P = remesh(P2, mesh2, m, new_mesh)
    W = system.weights(new_mesh)
    z0 = system.pack(U, 2 * pt.period, pt.value)
    t = np.concatenate([P.ravel(), [0.0, 0.0]])
    t /= np.sqrt(t @ (W * t))
    return z0, t, new_mesh, U + P


def _blocks(system: CycleSystem, U: np.ndarray, mesh: np.ndarray, T: float, pval: float) -> np.ndarray:
    _, parts = system._collocation(U, T, pval, mesh, jac=True)
    assert parts is not None
    return parts[0]


def follow(system: CycleSystem, z0: np.ndarray, t0: np.ndarray, mesh: np.ndarray, Uref0: np.ndarray,
           lo: float, hi: float, opts: CycleOptions, start: str, start_value: float,
           max_period: float, hopf_values: Sequence[float] = ()) -> CycleBranch:
    """Follow a branch from the start made by :func:`hopf_start` or :func:`doubling_start`."""
    br = CycleBranch(start=start, start_value=start_value)
    sp = system.sp
    W = system.weights(mesh)
    z, t, Uref = z0, t0, Uref0
    h = opts.ds
    first = True
    mu_prev: np.ndarray | None = None
    amp0 = math.nan
    since_adapt = 0
    sx0 = system.sx.copy()
    hist: list[tuple[float, float]] = []
    amps: list[float] = []
    pvals: list[float] = []
    U0, T0, p0 = system.split(z0)
    br.points.append(CyclePoint(U0.copy(), mesh.copy(), T0, p0,
                                system.multipliers(_blocks(system, U0, mesh, T0, p0)), system.sx.copy()))
    for _ in range(opts.max_steps):
        zp = z + h * t
        a = W * t
        s = system.newton(zp, mesh, Uref, a, float(a @ zp), opts.tol)
        if s is None:
            h /= 2
            if h < opts.ds_min:
                br.end, br.end_value = "failed", float(z[-1] * sp)
                break
            continue
        tn = system.tangent(s, W, t)
        if not first and tn @ (W * t) < 0.9 and h > 4 * opts.ds_min:
            h /= 2  # the tangent turned too far: smaller step
            continue
        mu = system.multipliers(s)
        U, T, pval = system.split(s.z)
        pt = CyclePoint(U.copy(), mesh.copy(), T, pval, mu, system.sx.copy())
        if first:
            amp0 = amplitude(U * system.sx / sx0)
        else:
            br.special += _locate(system, z, t, s, tn, h, mu_prev, mu, mesh, Uref, W, opts, len(br.points) - 1)
        # ends
        if pval < lo - 1e-12 * sp or pval > hi + 1e-12 * sp:
            bound = lo if pval < lo else hi
            e = np.zeros_like(z)
            e[-1] = 1.0
            sb = system.newton(z + (bound / sp - z[-1]) / (zp[-1] - z[-1] + 1e-300) * h * t, mesh, Uref, e,
                               bound / sp, opts.tol)
            if sb is not None:
                Ub, Tb, pb = system.split(sb.z)
                br.points.append(CyclePoint(Ub.copy(), mesh.copy(), Tb, pb, system.multipliers(sb),
                                            system.sx.copy()))
            br.end, br.end_value = "stop", bound
            break
        for uv in sorted(opts.values, reverse=bool(z[-1] > s.z[-1])):  # requested values crossed by this step
            if (z[-1] * sp - uv) * (pval - uv) < 0:
                e = np.zeros_like(z)
                e[-1] = 1.0
                w = (uv / sp - z[-1]) / (s.z[-1] - z[-1])
                su = system.newton(z + w * (s.z - z), mesh, Uref, e, uv / sp, opts.tol)
                if su is not None:
                    Uu, Tu, pu = system.split(su.z)
                    br.points.append(CyclePoint(Uu.copy(), mesh.copy(), Tu, pu, system.multipliers(su),
                                                system.sx.copy()))
        br.points.append(pt)
        hist.append((math.log(T), pval / sp))
        stalled = _stalled(hist)
        if T > max_period or stalled:
            br.end, br.end_value = "homoclinic", pval if stalled else _limit(hist, sp)
            br.special.append(CycleSpecial("homoclinic", pt, len(br.points) - 1))
            break
        amps.append(amplitude(U * system.sx / sx0))
        pvals.append(pval)
        if not first and amps[-1] < 0.5 * amp0 and tn[-1] * t[-1] >= 0 and len(br.points) > 3:
            br.end, br.end_value = "hopf", pval
            break
        if _through_hopf(amps, pvals, hopf_values, sp):
            # the step went through a Hopf point (zero amplitude) onto the mirrored branch
            br.points.pop()
            br.special = [x for x in br.special if x.step < len(br.points) - 1]
            br.end, br.end_value = "hopf", br.points[-1].value
            break
        first = False
        z, t, Uref, mu_prev = s.z, tn, U, mu
        # mesh adaptation
        since_adapt += 1
        if since_adapt >= opts.adapt_every:
            since_adapt = 0
            new = adapt_mesh(U, mesh, system.ncol)
            # states grow their scale with the orbit (a Hopf point near 0 has none of its own)
            sx_new = np.maximum(system.sx, 0.5 * (U.max(axis=0) - U.min(axis=0)) * system.sx)
            ratio = system.sx / sx_new
            system.sx = sx_new
            Un = remesh(U * ratio, mesh, system.ncol, new)
            Tn = remesh(t[:-2].reshape(U.shape) * ratio, mesh, system.ncol, new)
            mesh, W = new, system.weights(new)
            z = np.concatenate([Un.ravel(), z[-2:]])
            t = np.concatenate([Tn.ravel(), t[-2:]])
            t /= np.sqrt(t @ (W * t))
            Uref = Un
        h = min(h * 1.4, opts.ds_max) if s.iterations <= 3 else (h * 0.7 if s.iterations >= 7 else h)
    return br


def _through_hopf(amps: list[float], values: list[float], hopf_values: Sequence[float], sp: float) -> bool:
    """The amplitude has a small local minimum (a quarter of the largest so far) at the last
    point but one, within 1e-4 of the parameter range of a Hopf point of the equilibria."""
    if len(amps) < 3 or not hopf_values:
        return False
    a0, a1, a2 = amps[-3:]
    near = min(abs(values[-2] - h) for h in hopf_values) < 1e-4 * sp
    return bool(a1 < a0 and a1 < a2 and a1 < 0.25 * max(amps) and near)


def _limit(hist: list[tuple[float, float]], sp: float) -> float:
    """The limiting parameter of a branch whose period grows without bound, extrapolated from
    the last point and the one with half its period as ``p = p* + c / T^2`` (exact for a
    SNIC, where ``T ~ 1 / sqrt(p - p*)``; near a saddle homoclinic orbit, where ``p``
    converges exponentially, the two points nearly agree and so does the limit)."""
    lt, pv = np.array(hist).T
    T2, p2 = math.exp(lt[-1]), pv[-1]
    j = int(np.argmin(np.abs(lt - (lt[-1] - math.log(2.0)))))
    T1, p1 = math.exp(lt[j]), pv[j]
    if j == len(lt) - 1 or T2 <= T1:
        return float(p2 * sp)
    return float((p2 * T2**2 - p1 * T1**2) / (T2**2 - T1**2) * sp)


def _stalled(hist: list[tuple[float, float]], window: int = 40) -> bool:
    """The period grew by more than half its logarithm while the parameter stood still (to
    1e-6 of the range): the exponential approach of a saddle homoclinic orbit."""
    if len(hist) < 3:
        return False
    lt, pv = np.array(hist[-window:]).T
    for j in range(lt.size - 2):
        if lt[-1] - lt[j] > 0.5 and np.max(np.abs(pv[j:] - pv[-1])) < 1e-6:
            return True
    return False


def _locate(system: CycleSystem, z: np.ndarray, t: np.ndarray, s1: Solved, t1: np.ndarray, h: float,
            mu0: np.ndarray | None, mu1: np.ndarray, mesh: np.ndarray, Uref: np.ndarray, W: np.ndarray,
            opts: CycleOptions, step: int) -> list[CycleSpecial]:
    found: list[CycleSpecial] = []

    def corrected(sv: float) -> Solved:
        zp = z + sv * t
        a = W * t
        r = system.newton(zp, mesh, Uref, a, float(a @ zp), opts.tol * 1e-2, maxit=30)
        if r is None:
            raise RuntimeError(f"no branch point at arclength {sv!r}")
        return r

    def point(r: Solved) -> CyclePoint:
        U, T, pval = system.split(r.z)
        return CyclePoint(U.copy(), mesh.copy(), T, pval, system.multipliers(r), system.sx.copy())

    def refine(test: Callable[[Solved], float], f0: float, f1: float) -> Solved | None:
        if not (np.isfinite(f0) and np.isfinite(f1)) or f0 * f1 > 0:
            return None
        try:
            sv = brentq(lambda v: test(corrected(v)), 0.0, h, xtol=1e-10 * max(h, 1e-12), rtol=1e-12, maxiter=60)
            return corrected(sv)
        except (ValueError, RuntimeError):
            return None

    if t[-1] * t1[-1] < 0:
        r = refine(lambda r: float(system.tangent(r, W, t)[-1]), t[-1], t1[-1])
        # a fold turns the parameter measurably (not the noise of a stalled parameter)
        if r is not None and max(abs(z[-1] - r.z[-1]), abs(s1.z[-1] - r.z[-1])) > 1e-6:
            found.append(CycleSpecial("fold_cycle", point(r), step))
    if mu0 is not None and system.n >= 3 and max(trivial_error(mu0), trivial_error(mu1)) < TRIVIAL_TOL:
        (pd0, ns0), (pd1, ns1) = _counts(mu0), _counts(mu1)
        if pd0 != pd1:
            r = refine(lambda r: _pd_test(system.multipliers(r)), _pd_test(mu0), _pd_test(mu1))
            if r is not None:
                pt = point(r)
                M, _ = monodromy(r.blocks)
                ev, vec = np.linalg.eig(M)
                w = vec[:, int(np.argmin(np.abs(ev + 1)))]
                w = np.real(w * np.exp(-1j * np.angle(w[np.argmax(np.abs(w))])))
                found.append(CycleSpecial("period_doubling", pt, step, w / np.linalg.norm(w)))
        if ns0 != ns1:
            r = refine(lambda r: _ns_test(system.multipliers(r)), _ns_test(mu0), _ns_test(mu1))
            if r is not None:
                found.append(CycleSpecial("torus", point(r), step))
    return found


def profile(pt: CyclePoint, ncol: int, samples_per_interval: int = 8) -> tuple[np.ndarray, np.ndarray]:
    """Times in [0, 1) and states (model units) sampled along the orbit of ``pt``."""
    loc = np.arange(samples_per_interval) / samples_per_interval
    s = (pt.mesh[:-1, None] + np.diff(pt.mesh)[:, None] * loc[None, :]).ravel()
    return s, evaluate(pt.U, pt.mesh, ncol, s) * pt.sx[None, :]
