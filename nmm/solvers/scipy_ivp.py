"""Point-by-point integration with :func:`scipy.integrate.solve_ivp` (adaptive steps)."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from scipy.integrate import solve_ivp

from ..errors import NMMError
from .base import Solver

if TYPE_CHECKING:  # annotations only: codegen and the engine import this package
    from ..codegen import CompiledModel
    from ..engine.timegrid import TimeGrid

__all__ = ["integrate_scipy", "ScipyIVP"]

_IMPLICIT = ("Radau", "BDF", "LSODA")


class ScipyIVP(Solver):
    """Adaptive steps with :func:`scipy.integrate.solve_ivp`, point by point, in float64."""

    name = "scipy"
    order = 0
    fixed_step = False
    stochastic = False
    supports_delays = False
    supports_inputs = False
    takes_options = True
    interpolates_inputs = True


def integrate_scipy(compiled: CompiledModel, P: np.ndarray, Y0: np.ndarray, grid: TimeGrid,
                    keep_series: bool = True, inputs: tuple[tuple[int, np.ndarray], ...] = (),
                    **kwargs: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Integrate each point with ``solve_ivp``; same return values as ``nmm.simulate.integrate``.

    ``kwargs`` go to ``solve_ivp`` (``method``, default 'RK45'; ``rtol``; ``atol``; ...).
    The analytic Jacobian is passed to implicit methods. As PyRates does, the first step
    is ``step_size`` unless ``first_step`` is given. A point whose integration fails is
    NaN from the failure on.

    ``inputs`` are (parameter index, series) pairs: the parameter follows the series,
    linearly interpolated at any time with the series' samples spread evenly over
    ``[0, simulation_time]`` (``np.linspace(0, T, len(series))``), as PyRates' scipy
    path reads them.
    """
    for bad in ("t_eval", "t_span", "y0", "fun", "args"):
        if bad in kwargs:
            raise NMMError(f"solve_ivp option {bad!r} is set by nmm; remove it.")
    kwargs.setdefault("first_step", grid.dt)
    if kwargs.get("method") in _IMPLICIT:
        kwargs.setdefault("jac", compiled.jac)
    times = np.arange(grid.n_samples) * grid.dts
    T = grid.n_steps * grid.dt
    n = P.shape[1]
    S = Y0.shape[0]
    kept = times[grid.k_first:]
    t_eval = np.append(kept, T)  # the last column is the final state
    O = compiled.module.N_OUTPUTS
    series = np.full((O, grid.n_keep if keep_series else 0, n), np.nan)
    stats = np.full((3, O, n), np.nan)
    Yend = np.full((S, n), np.nan)
    rhs = compiled.rhs
    if inputs:
        rhs = _driven(compiled.rhs, inputs, T)
        if "jac" in kwargs and kwargs["jac"] is compiled.jac:
            kwargs["jac"] = _driven(compiled.jac, inputs, T)
    for i in range(n):
        p = np.ascontiguousarray(P[:, i])
        try:
            sol = solve_ivp(rhs, (0.0, T), np.array(Y0[:, i], dtype=float), t_eval=t_eval, args=(p,), **kwargs)
        except TypeError as exc:
            raise NMMError(f"solve_ivp rejected an option: {exc}.") from None
        except ValueError as exc:
            raise NMMError(f"solve_ivp: {exc}.") from None
        if sol.y.shape[1] == 0:
            continue
        m = min(sol.y.shape[1], len(kept))
        if inputs:  # the outputs at each time with the inputs' values then
            out = np.empty((O, m))
            for k in range(m):
                pk = _at(p, inputs, sol.t[k], T)
                out[:, k] = compiled.outputs(sol.t[k:k + 1], np.ascontiguousarray(sol.y[:, k:k + 1]), pk)[:, 0]
        else:
            out = compiled.outputs(sol.t[:m], np.ascontiguousarray(sol.y[:, :m]), p)
        if keep_series:
            series[:, :m, i] = out
        if m == len(kept):
            stats[0, :, i] = out.mean(axis=1)
            stats[1, :, i] = out.min(axis=1)
            stats[2, :, i] = out.max(axis=1)
            if sol.success:
                Yend[:, i] = sol.y[:, -1]
    return series, stats, Yend


def _at(p: np.ndarray, inputs: tuple[tuple[int, np.ndarray], ...], t: float, T: float) -> np.ndarray:
    """The parameters at time ``t``: each input's series interpolated (PyRates' grid)."""
    q = p.copy()
    for idx, series in inputs:
        q[idx] = np.interp(t, np.linspace(0.0, T, series.size), series)
    return q


def _driven(f: Any, inputs: tuple[tuple[int, np.ndarray], ...], T: float) -> Any:
    """``f(t, y, p)`` with the inputs' values at ``t`` in ``p``."""
    grids = tuple((idx, np.linspace(0.0, T, series.size), series) for idx, series in inputs)

    def g(t: float, y: np.ndarray, p: np.ndarray) -> np.ndarray:
        q = p.copy()
        for idx, times, series in grids:
            q[idx] = np.interp(t, times, series)
        return f(t, y, q)

    return g
