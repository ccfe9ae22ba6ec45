"""All cycle branches of a one-parameter diagram: one per Hopf point, plus period-doubled ones.

Hopf points are taken in order; a branch that returns to another Hopf point uses that
point up (its branch would be the same one, followed backwards). States are scaled per
branch from the Hopf point: each state by its size at the equilibrium or, where that is
smaller, by its share of the critical eigenvector relative to the largest state, so that
states that only oscillate (derivatives) get the size of their oscillation.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..codegen import CompiledModel
from ..errors import NMMError
from .branch import CycleBranch, doubling_start, follow, hopf_start
from .options import CycleOptions
from .system import CycleSystem

__all__ = ["HopfPoint", "FollowedBranch", "cycle_branches"]

_MAX_DOUBLINGS = 6


@dataclass(frozen=True)
class HopfPoint:
    """A Hopf point of the equilibrium continuation: state, parameter value."""

    x: np.ndarray
    value: float


@dataclass
class FollowedBranch:
    """A cycle branch and the scales of its states at its start."""

    branch: CycleBranch
    sx: np.ndarray


def _critical(cm: CompiledModel, x: np.ndarray, pv: np.ndarray) -> tuple[np.ndarray, float]:
    ev, V = np.linalg.eig(cm.jac(0.0, x, pv))
    cand = np.flatnonzero(ev.imag > 0)
    if cand.size == 0:
        raise ValueError("no complex eigenvalue at the Hopf point")
    i = cand[np.argmin(np.abs(ev.real[cand]))]
    return V[:, i], float(ev[i].imag)


def _scales(x: np.ndarray, v: np.ndarray) -> np.ndarray:
    a = float(np.max(np.abs(x)))
    if a == 0.0:
        a = 1.0
    r = np.abs(v) / np.max(np.abs(v))
    ref = r[int(np.argmax(np.abs(x)))] if np.any(x) else 1.0
    sx = np.maximum(np.abs(x), a * r / max(ref, 1e-12))
    return np.maximum(sx, 1e-6 * a)


def cycle_branches(cm: CompiledModel, p: np.ndarray, k: int, hopfs: list[HopfPoint], lo: float, hi: float,
                   opts: CycleOptions) -> list[FollowedBranch]:
    """Follow the cycle branch of every Hopf point (and, on request, of every period doubling)."""
    sp = hi - lo
    used = [False] * len(hopfs)
    out: list[FollowedBranch] = []
    for i, hp in enumerate(hopfs):
        if used[i]:
            continue
        used[i] = True
        pv = p.copy()
        pv[k] = hp.value
        try:
            v, omega = _critical(cm, hp.x, pv)
        except ValueError:
            continue
        sx = _scales(hp.x, v)
        system = CycleSystem(cm, p.copy(), k, sx.copy(), sp, opts.ntst, opts.ncol)
        z0, t0, mesh, Uref = hopf_start(system, hp.x, hp.value, v, omega)
        max_period = min(opts.max_period, opts.period_factor * 2 * math.pi / omega)
        if max_period <= 2 * math.pi / omega:
            raise NMMError(
                f"the cycle born at the Hopf point at {hp.value:.6g} has period {2 * math.pi / omega:.6g}, above "
                f"the bound of a homoclinic end (cycles option max_period={opts.max_period:g}); raise max_period, "
                "or leave it out (the bound is then period_factor times each branch's starting period).")
        others = [h.value for j, h in enumerate(hopfs) if j != i]
        br = follow(system, z0, t0, mesh, Uref, lo, hi, opts, "hopf", hp.value, max_period, others)
        if br.end == "hopf":
            free = [j for j in range(len(hopfs)) if not used[j]]
            if free:
                j = min(free, key=lambda j: abs(hopfs[j].value - br.end_value))
                if abs(hopfs[j].value - br.end_value) < 0.02 * sp:
                    used[j] = True
                    br.end_value = hopfs[j].value
        out.append(FollowedBranch(br, sx))
    if opts.switch_period_doubling:
        queue = [(fb, s) for fb in out for s in fb.branch.special if s.kind == "period_doubling"]
        done = 0
        while queue and done < _MAX_DOUBLINGS:
            fb, s = queue.pop(0)
            done += 1
            assert s.eigenvector is not None
            system = CycleSystem(cm, p.copy(), k, s.point.sx.copy(), sp, opts.ntst, opts.ncol)
            z0, t0, mesh, Uref = doubling_start(system, s.point, s.eigenvector)
            max_period = min(opts.max_period, opts.period_factor * s.point.period)
            br = follow(system, z0, t0, mesh, Uref, lo, hi, opts, "period_doubling", s.point.value, max_period)
            nb = FollowedBranch(br, fb.sx)
            out.append(nb)
            queue += [(nb, s2) for s2 in br.special if s2.kind == "period_doubling"]
    return out
