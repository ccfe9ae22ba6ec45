"""Cycle branches as an xarray.Dataset and their special points as table rows.

Dims ``(branch, step)`` (steps past a branch's end are NaN), ``multiplier`` for the Floquet
multipliers (complex, by decreasing modulus). The phase origin of each orbit is the
maximum of the first requested output (of the first state without outputs): the states
"at phase 0" are the state at that maximum. Maxima and minima of the outputs are taken
from the collocation polynomial sampled eight times per mesh interval, refined by a
parabola through the extreme sample and its neighbours.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import xarray as xr

from ..model import Model
from .branch import CyclePoint, nontrivial, profile
from .driver import FollowedBranch

__all__ = ["cycles_dataset"]

#: outputs (O, K) of states (n, K) in model units at a parameter value
OutputFunction = Callable[[np.ndarray, float], np.ndarray]


def _extreme(y: np.ndarray, sign: float) -> tuple[int, float]:
    """Index of the largest ``sign * y`` on a periodic sampling and the parabola's vertex value."""
    i = int(np.argmax(sign * y))
    a, b, c = y[i - 1], y[i], y[(i + 1) % y.size]
    den = a - 2 * b + c
    if den == 0 or not np.isfinite(den):
        return i, float(b)
    return i, float(b - (a - c) ** 2 / (8 * den))


def _summaries(pt: CyclePoint, ncol: int, out_fn: OutputFunction | None,
               n_out: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(max per output, min per output, state at phase 0)."""
    _, X = profile(pt, ncol)
    Y = out_fn(np.ascontiguousarray(X.T), pt.value) if out_fn is not None and n_out else X[:, :1].T
    mx = np.empty(Y.shape[0])
    mn = np.empty(Y.shape[0])
    i0 = 0
    for o in range(Y.shape[0]):
        i, mx[o] = _extreme(Y[o], 1.0)
        if o == 0:
            i0 = i
        mn[o] = _extreme(Y[o], -1.0)[1]
    return mx[:n_out], mn[:n_out], X[i0]


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
    rows: list[dict[str, Any]] = []
    for b, fb in enumerate(fbs):
        for s, pt in enumerate(fb.branch.points):
            par[b, s], per[b, s] = pt.value, pt.period
            a, c, x0 = _summaries(pt, ncol, out_fn, O)
            mx[:, b, s], mn[:, b, s], X0[:, b, s] = a, c, x0
            mult[b, s, : pt.multipliers.size] = pt.multipliers
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
    }
    for o, name in enumerate(names):
        assert outputs is not None
        unit = model.unit(outputs[name])
        data[f"{name}_max"] = (("branch", "step"), mx[o], {"units": unit, "long_name": f"max of {outputs[name]}"})
        data[f"{name}_min"] = (("branch", "step"), mn[o], {"units": unit, "long_name": f"min of {outputs[name]}"})
    for j, s in enumerate(model.states):
        data[s.replace("/", ".")] = (("branch", "step"), X0[j],
                                     {"units": model.unit(s), "long_name": f"{s} at phase 0", "path": s})
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
