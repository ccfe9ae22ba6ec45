"""Continuation of equilibria in one parameter (pseudo-arclength) with folds and Hopf points.

For ``F(x, p) = 0`` (the model's right-hand side at rest) the branch is followed in the
scaled coordinates ``z = (x / s_x, p / s_p)``:

- tangent: the unit null vector of ``[F_x, F_p]``, oriented like the previous one;
- predictor ``z + ds * tangent``; corrector: Newton on ``F = 0`` and
  ``tangent . (z - z_pred) = 0`` with the analytic Jacobians ``F_x`` and ``F_p``;
- the step grows after easy corrections and shrinks after hard ones;
- stability from the eigenvalues of ``F_x``;
- special points where a test function changes sign between two steps, located by
  Brent's method on the arclength (each trial point corrected onto the branch):
  folds (limit points: the parameter component of the tangent), Hopf points (the real
  part of the complex-conjugate pair closest to the imaginary axis; the frequency is
  ``Im(lambda) / 2 pi`` in the template's time unit).

Because the parameter is one of the unknowns, the branch turns around folds (S-shaped
curves are followed through both folds).

With ``cycles=`` every Hopf point starts a branch of periodic orbits (:mod:`nmm.cycles`:
orthogonal collocation, Floquet multipliers, folds of cycles, period doublings, torus
points and homoclinic ends); they go to ``Continuation.cycles`` and the special-point table.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeAlias, TypedDict

import numpy as np
import pandas as pd
import xarray as xr
from scipy.optimize import brentq, root

from .circuit import CircuitTemplate, as_circuit
from .cycles.driver import HopfPoint, cycle_branches
from .cycles.options import CycleOptions
from .cycles.result import cycles_dataset
from .codegen import CompiledModel, compile_model
from .engine import integrate, make_plan, resolve_params
from .errors import NMMError, ParameterError, did_you_mean
from .types import ArrayLike

__all__ = ["continuation", "Continuation", "find_equilibrium"]

#: a special point found between two steps: (kind, z, frequency, step)
_Special: TypeAlias = tuple[str, np.ndarray, float, int]


class _Branch(TypedDict):
    """One followed branch: scaled points ``z``, their eigenvalues, special points and scales."""

    z: list[np.ndarray]
    ev: list[np.ndarray]
    special: list[_Special]
    sx: np.ndarray
    sp: float


@dataclass
class _System:
    """F, F_x, F_p of a model at a point, with the continuation parameter swappable."""

    cm: CompiledModel
    p: np.ndarray
    k: int

    def split(self, z: np.ndarray, sx: np.ndarray, sp: float) -> tuple[np.ndarray, np.ndarray]:
        x = z[:-1] * sx
        pv = self.p.copy()
        pv[self.k] = z[-1] * sp
        return x, pv

    def F(self, z: np.ndarray, sx: np.ndarray, sp: float) -> np.ndarray:
        x, pv = self.split(z, sx, sp)
        return self.cm.rhs(0.0, x, pv)

    def jac(self, z: np.ndarray, sx: np.ndarray, sp: float) -> np.ndarray:
        """d F / d z in scaled coordinates: (n, n + 1)."""
        x, pv = self.split(z, sx, sp)
        Jx = self.cm.jac(0.0, x, pv) * sx[None, :]
        Jp = self.cm.jacp(0.0, x, pv)[:, self.k] * sp
        return np.column_stack([Jx, Jp])

    def eig(self, z: np.ndarray, sx: np.ndarray, sp: float) -> np.ndarray:
        x, pv = self.split(z, sx, sp)
        return np.linalg.eigvals(self.cm.jac(0.0, x, pv))


def _tangent(A: np.ndarray, prev: np.ndarray | None) -> np.ndarray:
    # null vector of the n x (n+1) matrix A
    _, _, vt = np.linalg.svd(A)
    t = vt[-1]
    if prev is not None and t @ prev < 0:
        t = -t
    return t / np.linalg.norm(t)


def _newton(sys_: _System, z0: np.ndarray, t: np.ndarray, zp: np.ndarray, sx: np.ndarray, sp: float, tol: float,
            maxit: int = 12) -> tuple[np.ndarray | None, int]:
    z = z0.copy()
    for it in range(1, maxit + 1):
        F = sys_.F(z, sx, sp)
        g = np.append(F, t @ (z - zp))
        A = np.vstack([sys_.jac(z, sx, sp), t])
        try:
            dz = np.linalg.solve(A, -g)
        except np.linalg.LinAlgError:
            return None, it
        z = z + dz
        if not np.all(np.isfinite(z)):
            return None, it
        if np.linalg.norm(dz) < tol:
            return z, it
    return None, maxit


def _hopf_value(ev: np.ndarray, imag_tol: float) -> tuple[float, float]:
    """Real part and |Im| of the complex pair nearest the imaginary axis (NaN if none)."""
    cx = ev[np.abs(ev.imag) > imag_tol]
    if cx.size == 0:
        return math.nan, math.nan
    i = np.argmin(np.abs(cx.real))
    return float(cx[i].real), float(abs(cx[i].imag))


@dataclass
class Continuation:
    """The result of :func:`continuation`.

    Attributes
    ----------
    branch : xarray.Dataset
        Dims ``(branch, step)``: the parameter, every state (by path, '/' written '.'),
        the requested outputs, ``eig_real``/``eig_imag`` (with dim ``eig``) and
        ``stable``; steps past a branch's end are NaN.
    special_points : pandas.DataFrame
        Columns ``kind`` ('fold' or 'hopf'), ``value`` (the parameter), ``frequency``
        (Hz for Hopf points of a template in seconds; NaN for folds), ``branch``, the
        state at the point (one column per state path) and the requested outputs.
        With cycles, also the kinds 'fold_cycle', 'period_doubling', 'torus' and
        'homoclinic' (a branch end where the period passed the bound or grew while the
        parameter stood still; ``value`` is the limiting parameter: extrapolated as
        ``p* + c / T^2`` as at a SNIC, or the last value when the parameter had stopped
        moving, as near a saddle homoclinic orbit), whose ``branch`` indexes ``cycles``, whose
        ``frequency`` is ``1 / period``, whose states and outputs are those at phase 0,
        and a column ``period`` (NaN for equilibria).
    parameter : str
    cycles : xarray.Dataset or None
        Cycle branches (``cycles=``; None without): see :func:`continuation`.
    """

    branch: xr.Dataset
    special_points: pd.DataFrame
    parameter: str
    states: tuple[str, ...] = field(default=())
    cycles: xr.Dataset | None = None

    def __repr__(self) -> str:
        sp = self.special_points[["kind", "value", "frequency"]].to_string(index=False) if len(
            self.special_points) else "none"
        cyc = "" if self.cycles is None else f", {self.cycles.sizes['branch']} cycle branch(es)"
        return f"Continuation({self.parameter!r}, {self.branch.sizes['branch']} branch(es){cyc})\n{sp}"


def find_equilibrium(circuit: CircuitTemplate, params: Mapping[str, float] | None = None,
                     x0: ArrayLike | None = None, settle_time: float | None = None,
                     tol: float = 1e-12) -> np.ndarray:
    """An equilibrium of the circuit: integrate to rest (or start at ``x0``), then Newton.

    Returns
    -------
    ndarray
        The state; raises NMMError if Newton does not converge.
    """
    model = circuit.model
    P, Y0, _ = resolve_params(model, params or {})
    p = P[:, 0].copy()
    cm = compile_model(model, {s: model.expression(s) for s in model.states}, "rk4")
    if x0 is None:
        x = Y0[:, 0].copy()
        T = settle_time or _settle_time(cm, x, p)
        x = _integrate(circuit, params, T)
    else:
        x = np.asarray(x0, dtype=float).copy()
    sol = root(lambda y: cm.rhs(0.0, y, p), x, jac=lambda y: cm.jac(0.0, y, p), method="hybr",
               options={"xtol": tol})
    if not sol.success or np.max(np.abs(cm.rhs(0.0, sol.x, p))) > 1e-6 * (1 + np.max(np.abs(sol.x))):
        raise NMMError(f"no equilibrium found near the start state ({sol.message}); give x0 or another start.")
    return sol.x


def _settle_time(cm: CompiledModel, x: np.ndarray, p: np.ndarray) -> float:
    J = cm.jac(0.0, x, p)
    ev = np.linalg.eigvals(J)
    re = np.abs(ev.real[ev.real != 0])
    slow = 1.0 / re.min() if re.size else 1.0
    return float(min(max(20 * slow, 1e-3), 1e4))


def _integrate(circuit: CircuitTemplate, params: Mapping[str, float] | None, T: float) -> np.ndarray:
    """The state after integrating for ``T`` (RK4, 20,000 steps)."""
    model = circuit.model
    dt = T / 20000
    plan = make_plan(model, params, simulation_time=T, step_size=dt, sampling_step_size=T / 10, solver="rk4",
                     outputs={s: s for s in model.states}, keep_series=True)
    return np.array(integrate(model, plan).series[:, -1, 0])


def continuation(template: CircuitTemplate | str, parameter: str, start: float, stop: float, *,
                 params: Mapping[str, float] | None = None, outputs: Mapping[str, str] | None = None,
                 x0: ArrayLike | None = None, starts: Iterable[ArrayLike | None] | None = None,
                 ds: float = 1e-3, ds_max: float = 2e-2,
                 ds_min: float = 1e-9, max_steps: int = 5000, tol: float = 1e-10,
                 imag_tol: float = 1e-8,
                 cycles: bool | Mapping[str, object] | CycleOptions = False) -> Continuation:
    """Follow equilibria of a template as ``parameter`` goes from ``start`` to ``stop``.

    Parameters
    ----------
    template : CircuitTemplate or str
    parameter : str
        The continuation parameter's path, e.g. ``'pc/rpo_e_in/u'``.
    start, stop : float
        The parameter range; branches start at ``start`` and stop when they leave it.
    params : mapping of str to float, optional
        Fixed values of other parameters.
    outputs : mapping of str to str, optional
        Output name -> variable path, added to the branch dataset.
    x0 : array, optional
        A guess of the equilibrium at ``start``; default: integrate to rest there.
    starts : iterable, optional
        Several starting points (each an array of states at ``start``, or a parameter
        value at which to integrate to rest): one branch each (duplicates dropped), to
        find disconnected branches.
    ds, ds_max, ds_min : float
        Initial, largest and smallest step in scaled arclength (the parameter range is 1).
    max_steps : int
    tol : float
        Newton tolerance in scaled coordinates.
    imag_tol : float
        Eigenvalues with ``|Im| <= imag_tol`` count as real.
    cycles : bool or mapping, default: False
        Also follow the periodic orbits born at every Hopf point (``True``, or a mapping
        of :class:`nmm.cycles.CycleOptions` such as ``{'ntst': 60,
        'switch_period_doubling': True}``). Each branch goes until it leaves
        [start, stop], returns to a Hopf point, or its period passes ``max_period`` (a
        homoclinic or SNIC end). (Both directions out of a Hopf point give the same family,
        half a period apart, so each Hopf point starts one branch; a Hopf point where an
        earlier branch ended starts none.)

    Returns
    -------
    Continuation
        ``.branch`` (xarray.Dataset) and ``.special_points`` (pandas.DataFrame); with
        cycles ``.cycles``: dims ``(branch, step)``, variables ``parameter``, ``period``,
        ``<output>_max`` and ``<output>_min``, ``stable``, ``floquet`` (complex, extra
        dim ``multiplier``) and every state at phase 0 (the maximum of the first output);
        per branch the coordinates ``start``, ``start_value``, ``end``, ``end_value``.

    Raises
    ------
    ParameterError
        If ``parameter`` is not a parameter of the template.
    NMMError
        For a model with delays, or bad ``cycles`` options.

    Examples
    --------
    >>> res = nmm.continuation("nmm.templates.jansenrit.JRC", parameter="pc/rpo_e_in/u",
    ...                        start=-50.0, stop=400.0, outputs={"V_pc": "pc/pro/v"},
    ...                        cycles=True)  # doctest: +SKIP
    >>> res.special_points.query("kind == 'fold_cycle'")["value"]  # doctest: +SKIP
    """
    circuit = as_circuit(template)
    model = circuit.model
    if parameter not in model.params:
        raise ParameterError(f"continuation parameter {parameter!r} is not a parameter of {model.name!r}."
                             + did_you_mean(parameter, model.params))
    past = [d for d in model.delays if d[0] in model.past]
    if past:
        raise NMMError(
            f"continuation computes the stability of ODE equilibria; {model.name!r} refers to a past state "
            f"({past[0][1]}(t - {past[0][2]}) in its equations), which makes it a delay differential equation "
            "whose characteristic equation is not polynomial. Write the model without x(t - d) (e.g. a gamma "
            "chain of ODEs) to continue it."
        )
    if model.delays:
        raise NMMError(
            f"continuation computes the stability of ODE equilibria; {model.name!r} has the discrete delay "
            f"{model.delays[0][2]!r}, whose characteristic equation is not polynomial. Give the edge a "
            "spread: (a gamma-distributed delay, ODEs) to continue it."
        )
    start, stop = float(start), float(stop)
    if not (math.isfinite(start) and math.isfinite(stop)) or start == stop:
        raise NMMError(f"continuation needs finite start != stop, got start={start}, stop={stop}.")
    cycle_opts = CycleOptions.from_value(cycles)
    k = model.params.index(parameter)
    base = dict(params or {})
    base[parameter] = start
    P, _, _ = resolve_params(model, base)
    p = P[:, 0].copy()
    cm = compile_model(model, {s: model.expression(s) for s in model.states}, "rk4")
    system = _System(cm, p, k)

    # starting equilibria
    seeds: list[tuple[np.ndarray, float]] = []
    if starts is None:
        starts = [x0]
    for s0 in starts:
        if s0 is None or np.isscalar(s0):
            at = dict(base)
            if s0 is not None:
                at[parameter] = float(np.asarray(s0, dtype=float))
            x = find_equilibrium(circuit, at)
            seeds.append((x, at[parameter]))
        else:
            seeds.append((find_equilibrium(circuit, base, x0=s0), start))

    lo, hi = min(start, stop), max(start, stop)
    sp_scale = hi - lo
    branches: list[_Branch] = []
    for x_start, p_start in seeds:
        # one scale for all states (they share units in most templates), one for the parameter
        sx = np.full(len(x_start), max(float(np.max(np.abs(x_start))), 1e-9))
        pts = _follow(system, x_start, p_start, sx, sp_scale, lo, hi, 1.0 if stop > start else -1.0,
                      ds, ds_max, ds_min, max_steps, tol, imag_tol)
        if p_start != start:  # seeded inside the range: also go the other way
            back = _follow(system, x_start, p_start, sx, sp_scale, lo, hi, -1.0 if stop > start else 1.0,
                           ds, ds_max, ds_min, max_steps, tol, imag_tol)
            pts = _join(back, pts)
        if any(_same_branch(pts, b) for b in branches):
            continue
        branches.append(pts)
    res = _assemble(circuit, parameter, branches, outputs, p, k, imag_tol)
    if cycle_opts is None:
        return res
    return _with_cycles(res, circuit, cm, branches, outputs, p, k, lo, hi, cycle_opts, imag_tol)


def _with_cycles(res: Continuation, circuit: CircuitTemplate, cm: CompiledModel, branches: list[_Branch],
                 outputs: Mapping[str, str] | None, p: np.ndarray, k: int, lo: float, hi: float,
                 opts: CycleOptions, imag_tol: float) -> Continuation:
    """``res`` with the cycle branches of its Hopf points (and of a Hopf point at ``start`` or ``stop``)."""
    model = circuit.model
    inner = [HopfPoint(zc[:-1] * b["sx"], float(zc[-1] * b["sp"]))
             for b in branches for kind, zc, _, _ in b["special"] if kind == "hopf"]
    hopfs = sorted(inner + _end_hopfs(branches, inner, lo, hi, imag_tol), key=lambda h: h.value)
    fbs = cycle_branches(cm, p, k, hopfs, lo, hi, opts)
    out_fn = None
    if outputs:
        ocm = compile_model(model, {name: model.expression(path) for name, path in outputs.items()}, "rk4")

        def out_fn(X: np.ndarray, pval: float) -> np.ndarray:
            pp = p.copy()
            pp[k] = pval
            return ocm.outputs(np.zeros(X.shape[1]), X, pp)

    ds, rows = cycles_dataset(model, res.parameter, circuit.time_unit, fbs, opts.ncol, outputs, out_fn)
    eq = res.special_points.assign(period=np.nan)
    cyc = pd.DataFrame(rows, columns=list(eq.columns))
    table = pd.concat([eq, cyc], ignore_index=True) if len(cyc) else eq
    return Continuation(res.branch, table, res.parameter, res.states, cycles=ds)


def _end_hopfs(branches: list[_Branch], inner: list[HopfPoint], lo: float, hi: float,
               imag_tol: float) -> list[HopfPoint]:
    """Hopf points at ``start`` or ``stop`` themselves: a branch end whose complex pair sits on
    the imaginary axis (to 1e-8 of the largest eigenvalue). The sign-change test between steps
    cannot see them (the real part is zero on one side), yet their cycles lie in the range."""
    found: list[HopfPoint] = []
    for b in branches:
        for z, ev in ((b["z"][0], b["ev"][0]), (b["z"][-1], b["ev"][-1])):
            pval = float(z[-1] * b["sp"])
            at_end = min(abs(pval - lo), abs(pval - hi)) <= 1e-12 * (hi - lo)
            re, w = _hopf_value(ev, imag_tol)
            scale = float(np.max(np.abs(ev))) if ev.size else 0.0
            if (at_end and np.isfinite(re) and abs(re) <= 1e-8 * scale and w > 1e-6 * scale
                    and all(abs(h.value - pval) > 1e-9 * (hi - lo) for h in inner + found)):
                found.append(HopfPoint(z[:-1] * b["sx"], pval))
    return found


def _join(back: _Branch, fwd: _Branch) -> _Branch:
    return {"z": back["z"][::-1] + fwd["z"][1:], "ev": back["ev"][::-1] + fwd["ev"][1:],
            "special": back["special"] + fwd["special"], "sx": fwd["sx"], "sp": fwd["sp"]}


def _same_branch(a: _Branch, b: _Branch) -> bool:
    za = np.array(a["z"])
    zb = np.array(b["z"])
    if len(za) == 0 or len(zb) == 0:
        return False
    xa = za[:, :-1] * a["sx"]
    xb = zb[:, :-1] * b["sx"]
    pa = za[:, -1] * a["sp"]
    pb = zb[:, -1] * b["sp"]
    # a's midpoint lies on b
    m = len(za) // 2
    d = np.min(np.abs(pb - pa[m]) / a["sp"] + np.max(np.abs(xb - xa[m]), axis=1) / np.max(a["sx"]))
    return bool(d < 1e-6)


def _follow(system: _System, x0: np.ndarray, p0: float, sx: np.ndarray, sp: float, lo: float, hi: float,
            direction: float, ds: float, ds_max: float, ds_min: float, max_steps: int, tol: float,
            imag_tol: float) -> _Branch:
    z = np.append(x0 / sx, p0 / sp)
    A = system.jac(z, sx, sp)
    t = _tangent(A, None)
    if t[-1] * direction < 0:
        t = -t
    zs, evs = [z], [system.eig(z, sx, sp)]
    special: list[_Special] = []
    h = ds
    for _ in range(max_steps):
        zp = z + h * t
        zn, it = _newton(system, zp, t, zp, sx, sp, tol)
        if zn is None:
            h /= 2
            if h < ds_min:
                break
            continue
        tn = _tangent(system.jac(zn, sx, sp), t)
        evn = system.eig(zn, sx, sp)
        # special points between z and zn
        special += _locate(system, z, t, zn, tn, h, evs[-1], evn, sx, sp, tol, imag_tol, len(zs) - 1)
        zs.append(zn)
        evs.append(evn)
        z, t = zn, tn
        pval = z[-1] * sp
        if pval < lo - 1e-12 * sp or pval > hi + 1e-12 * sp:
            edge = _at_boundary(system, zs[-2], zn, lo if pval < lo else hi, sx, sp, tol)
            if edge is not None:
                zs[-1], evs[-1] = edge, system.eig(edge, sx, sp)
            else:
                zs.pop(), evs.pop()
            break
        if len(zs) > 10 and np.linalg.norm(z - zs[0]) < 0.5 * h:
            break  # closed branch
        h = min(h * 1.5, ds_max) if it <= 3 else (h * 0.7 if it >= 6 else h)
    return {"z": zs, "ev": evs, "special": special, "sx": sx, "sp": sp}


def _at_boundary(system: _System, za: np.ndarray, zb: np.ndarray, bound: float, sx: np.ndarray, sp: float,
                 tol: float) -> np.ndarray | None:
    """The branch point at parameter ``bound``, between ``za`` and ``zb`` (Newton in x)."""
    pa, pb = za[-1] * sp, zb[-1] * sp
    w = (bound - pa) / (pb - pa)
    z = za + w * (zb - za)
    z[-1] = bound / sp
    for _ in range(30):
        J = system.jac(z, sx, sp)[:, :-1]
        try:
            dx = np.linalg.solve(J, -system.F(z, sx, sp))
        except np.linalg.LinAlgError:
            return None
        z[:-1] += dx
        if np.linalg.norm(dx) < tol:
            return z
    return None


def _corrected(system: _System, z: np.ndarray, t: np.ndarray, s: float, sx: np.ndarray, sp: float,
               tol: float) -> np.ndarray | None:
    zp = z + s * t
    zc, _ = _newton(system, zp, t, zp, sx, sp, tol * 1e-2, maxit=30)
    return zc


def _on_branch(system: _System, z: np.ndarray, t: np.ndarray, s: float, sx: np.ndarray, sp: float,
               tol: float) -> np.ndarray:
    """:func:`_corrected` for a root finder: RuntimeError (which ends :func:`_root`) when Newton fails."""
    zc = _corrected(system, z, t, s, sx, sp, tol)
    if zc is None:
        raise RuntimeError(f"no branch point found at arclength {s!r}")
    return zc


def _locate(system: _System, z: np.ndarray, t: np.ndarray, zn: np.ndarray, tn: np.ndarray, h: float,
            ev: np.ndarray, evn: np.ndarray, sx: np.ndarray, sp: float, tol: float, imag_tol: float,
            step: int) -> list[_Special]:
    found: list[_Special] = []
    # folds: the parameter component of the tangent changes sign
    if t[-1] * tn[-1] < 0:
        def phi(s: float) -> float:
            zc = _on_branch(system, z, t, s, sx, sp, tol)
            return float(_tangent(system.jac(zc, sx, sp), t)[-1])

        s = _root(phi, 0.0, h, t[-1], tn[-1])
        zc = None if s is None else _corrected(system, z, t, s, sx, sp, tol)
        if zc is not None:
            found.append(("fold", zc, math.nan, step))
    # Hopf: a complex pair crosses the imaginary axis: the number of eigenvalues with
    # positive real part changes by two, and the real part of the complex pair nearest the
    # axis changes sign (a real pair turning complex off the axis is not a Hopf point)
    r0, _ = _hopf_value(ev, imag_tol)
    r1, _ = _hopf_value(evn, imag_tol)
    nu0, nu1 = int(np.sum(ev.real > 0)), int(np.sum(evn.real > 0))
    if np.isfinite(r0) and np.isfinite(r1) and abs(nu0 - nu1) == 2 and r0 * r1 < 0:
        def psi(s: float) -> float:
            zc = _on_branch(system, z, t, s, sx, sp, tol)
            return _hopf_value(system.eig(zc, sx, sp), imag_tol)[0]

        s = _root(psi, 0.0, h, r0, r1)
        zc = None if s is None else _corrected(system, z, t, s, sx, sp, tol)
        if zc is not None:
            e = system.eig(zc, sx, sp)
            re, w = _hopf_value(e, imag_tol)
            if w > 1e-6 * np.max(np.abs(e)):
                found.append(("hopf", zc, w / (2 * math.pi), step))
    return found


def _root(f: Callable[[float], float], a: float, b: float, fa: float, fb: float) -> float | None:
    if not (np.isfinite(fa) and np.isfinite(fb)) or fa * fb > 0:
        return None
    try:
        return brentq(f, a, b, xtol=1e-14, rtol=1e-14, maxiter=200)
    except (ValueError, RuntimeError, TypeError):
        return None


def _assemble(circuit: CircuitTemplate, parameter: str, branches: list[_Branch], outputs: Mapping[str, str] | None,
              p: np.ndarray, k: int, imag_tol: float) -> Continuation:
    model = circuit.model
    S = len(model.states)
    nb = len(branches)
    L = max(len(b["z"]) for b in branches) if branches else 0
    par = np.full((nb, L), np.nan)
    X = np.full((nb, L, S), np.nan)
    ER = np.full((nb, L, S), np.nan)
    EI = np.full((nb, L, S), np.nan)
    rows: list[dict[str, Any]] = []
    for i, b in enumerate(branches):
        z = np.array(b["z"])
        n = len(z)
        par[i, :n] = z[:, -1] * b["sp"]
        X[i, :n] = z[:, :-1] * b["sx"]
        ev = np.array([np.sort_complex(e) for e in b["ev"]])
        ER[i, :n] = ev.real
        EI[i, :n] = ev.imag
        for kind, zc, freq, step in b["special"]:
            row: dict[str, Any] = {"kind": kind, "value": float(zc[-1] * b["sp"]), "frequency": freq, "branch": i,
                                   "step": step}
            row.update(dict(zip(model.states, zc[:-1] * b["sx"])))
            rows.append(row)
    stable = np.where(np.isnan(par), False, np.all(ER < 0, axis=-1))
    unit = model.unit(parameter)
    data = {
        "parameter": (("branch", "step"), par, {"units": unit, "long_name": parameter}),
        "eig_real": (("branch", "step", "eig"), ER, {"units": f"1/{circuit.time_unit}", "long_name": "Re(eigenvalue)"}),
        "eig_imag": (("branch", "step", "eig"), EI, {"units": f"1/{circuit.time_unit}", "long_name": "Im(eigenvalue)"}),
        "stable": (("branch", "step"), stable, {"units": "1", "long_name": "all eigenvalues have negative real part"}),
    }
    for j, s in enumerate(model.states):
        data[s.replace("/", ".")] = (("branch", "step"), X[:, :, j], {"units": model.unit(s), "long_name": s, "path": s})
    if outputs:
        exprs = {name: model.expression(path) for name, path in outputs.items()}
        cm = compile_model(model, exprs, "rk4")

        def out_at(x: ArrayLike, pval: float) -> np.ndarray:
            pp = p.copy()
            pp[k] = pval
            return cm.outputs(np.zeros(1), np.ascontiguousarray(np.asarray(x, dtype=float)[:, None]), pp)[:, 0]

        vals = np.full((len(exprs), nb, L), np.nan)
        for i in range(nb):
            for m in range(int(np.sum(~np.isnan(par[i])))):
                vals[:, i, m] = out_at(X[i, m], par[i, m])
        for o, name in enumerate(exprs):
            data[name] = (("branch", "step"), vals[o], {"units": model.unit(outputs[name]), "long_name": outputs[name]})
        for row in rows:
            at_point = out_at([row[s] for s in model.states], row["value"])
            row.update(dict(zip(exprs, at_point)))
    ds = xr.Dataset(data, coords={"branch": np.arange(nb), "step": np.arange(L)},
                    attrs={"parameter": parameter, "circuit": model.name})
    cols = ["kind", "value", "frequency", "branch", "step", *model.states, *(outputs or {})]
    table = pd.DataFrame(rows, columns=cols).sort_values(["branch", "value"], ignore_index=True)
    return Continuation(ds, table, parameter, model.states)
