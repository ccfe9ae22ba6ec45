"""Cycle branches as an xarray.Dataset and their special points as table rows.

Dims ``(branch, step)`` (steps past a branch's end are NaN), ``multiplier`` for the Floquet
multipliers (complex, by decreasing modulus); ``floquet_error``, the distance of the trivial
multiplier from 1, shows how far the multipliers (and ``stable``) can be trusted. The phase origin of each orbit is the
maximum of the first requested output (of the first state without outputs): the states
"at phase 0" are the state at that maximum. Maxima and minima of the outputs are taken
from the collocation polynomial sampled eight times per mesh interval, then 64 times
between the extreme sample's neighbours, refined by a parabola through the three best.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import xarray as xr

from ..model import Model
from .branch import CyclePoint, nontrivial, profile, TRIVIAL_TOL, trivial_error
from .collocation import evaluate
from .driver import FollowedBranch

__all__ = ["cycles_dataset"]

#: outputs (O, K) of states (n, K) in model units at a parameter value
OutputFunction = Callable[[np.ndarray, float], np.ndarray]


def _vertex(y: np.ndarray, i: int) -> float:
    """The parabola's vertex value through ``y[i - 1], y[i], y[i + 1]`` (periodic)."""
    a, b, c = y[i - 1], y[i], y[(i + 1) % y.size]
    den = a - 2 * b + c
    if den == 0 or not np.isfinite(den):
        return float(b)
    return float(b - (a - c) ** 2 / (8 * den))


def _summaries(pt: CyclePoint, ncol: int, out_fn: OutputFunction | None,
               n_out: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(max per output, min per output, state at phase 0)."""
    s, X = profile(pt, ncol)

    def outs(Xs: np.ndarray) -> np.ndarray:
        if out_fn is not None and n_out:
            return out_fn(np.ascontiguousarray(Xs.T), pt.value)
        return Xs[:, :1].T

    Y = outs(X)
    ext = np.empty((2, Y.shape[0]))
    X0 = X[0]
    for o in range(Y.shape[0]):
        for e, sign in enumerate((1.0, -1.0)):
            i = int(np.argmax(sign * Y[o]))
            # refine between the neighbouring samples on the polynomial itself
            lo, hi = s[i - 1] - (1.0 if i == 0 else 0.0), s[(i + 1) % s.size] + (1.0 if i + 1 == s.size else 0.0)
            fine = np.linspace(lo, hi, 65)
            Xf = evaluate(pt.U, pt.mesh, ncol, fine % 1.0) * pt.sx[None, :]
            yf = outs(Xf)[o]
            j = int(np.argmax(sign * yf))
            ext[e, o] = _vertex(yf, min(max(j, 1), yf.size - 2))
            if o == 0 and e == 0:
                X0 = Xf[j]
    return ext[0, :n_out], ext[1, :n_out], X0


def cycles_dataset(model: Model, parameter: str, time_unit: str, fbs: list[FollowedBranch], ncol: int,
                   outputs: Mapping[str, str] | None, out_fn: OutputFunction | None,
                   ) -> tuple[xr.Dataset, list[dict[str, Any]]]:
    """The dataset ``Continuation.cycles`` and the special-point rows of the cycle branches."""
    S = len(model.states)
    names = list(outputs or {})
    O = len(names)
    nb = len(fbs)
    L = max((len(fb.branch.points) for fb in fbs), default=0)
    nmult = S
    par = np.full((nb, L), np.nan)
    per = np.full((nb, L), np.nan)
    mx = np.full((O, nb, L), np.nan)
    mn = np.full((O, nb, L), np.nan)
    X0 = np.full((S, nb, L), np.nan)
    mult = np.full((nb, L, nmult), np.nan + 0j)
    stable = np.zeros((nb, L), dtype=bool)
    ferr = np.full((nb, L), np.nan)
    rows: list[dict[str, Any]] = []
    for b, fb in enumerate(fbs):
        for s, pt in enumerate(fb.branch.points):
            par[b, s], per[b, s] = pt.value, pt.period
            a, c, x0 = _summaries(pt, ncol, out_fn, O)
            mx[:, b, s], mn[:, b, s], X0[:, b, s] = a, c, x0
            mult[b, s, : pt.multipliers.size] = pt.multipliers
            ferr[b, s] = trivial_error(pt.multipliers)
            stable[b, s] = bool(np.all(np.abs(nontrivial(pt.multipliers)) < 1))
        for sp_ in fb.branch.special:
            pt = sp_.point
            a, c, x0 = _summaries(pt, ncol, out_fn, O)
            value = fb.branch.end_value if sp_.kind == "homoclinic" else pt.value
            row: dict[str, Any] = {"kind": sp_.kind, "value": value, "frequency": 1.0 / pt.period,
                                   "branch": b, "step": sp_.step, "period": pt.period}
            row.update(dict(zip(model.states, x0)))
            row.update(dict(zip(names, a)))
            rows.append(row)
    punit = model.unit(parameter)
    data: dict[str, Any] = {
        "parameter": (("branch", "step"), par, {"units": punit, "long_name": parameter}),
        "period": (("branch", "step"), per, {"units": time_unit, "long_name": "period of the cycle"}),
        "stable": (("branch", "step"), stable,
                   {"units": "1", "long_name": "all non-trivial Floquet multipliers inside the unit circle"}),
        "floquet": (("branch", "step", "multiplier"), mult,
                    {"units": "1", "long_name": "Floquet multipliers (by decreasing modulus)"}),
        "floquet_error": (("branch", "step"), ferr,
                          {"units": "1", "long_name": "distance of the trivial Floquet multiplier from 1 (the "
                           "accuracy of the multipliers and of 'stable'; no period doubling or torus point is "
                           f"looked for where it exceeds {TRIVIAL_TOL:g})"}),
    }
    for o, name in enumerate(names):
        assert outputs is not None
        unit = model.unit(outputs[name])
        data[f"{name}_max"] = (("branch", "step"), mx[o], {"units": unit, "long_name": f"max of {outputs[name]}"})
        data[f"{name}_min"] = (("branch", "step"), mn[o], {"units": unit, "long_name": f"min of {outputs[name]}"})
    for j, state in enumerate(model.states):
        data[state.replace("/", ".")] = (("branch", "step"), X0[j],
                                         {"units": model.unit(state), "long_name": f"{state} at phase 0", "path": state})
    coords = {
        "branch": np.arange(nb), "step": np.arange(L), "multiplier": np.arange(nmult),
        "start": ("branch", np.array([fb.branch.start for fb in fbs], dtype=object),
                  {"long_name": "how the branch starts ('hopf' or 'period_doubling')"}),
        "start_value": ("branch", np.array([fb.branch.start_value for fb in fbs], dtype=float),
                        {"units": punit, "long_name": "parameter where the branch starts"}),
        "end": ("branch", np.array([fb.branch.end for fb in fbs], dtype=object),
                {"long_name": "how the branch ends ('stop', 'hopf', 'homoclinic', 'failed', 'max_steps')"}),
        "end_value": ("branch", np.array([fb.branch.end_value for fb in fbs], dtype=float),
                      {"units": punit, "long_name": "parameter where the branch ends"}),
    }
    phase0 = names[0] if names else model.states[0]
    ds = xr.Dataset(data, coords=coords, attrs={"parameter": parameter, "circuit": model.name,
                                                "phase_origin": f"maximum of {phase0}"})
    return ds, rows
