"""The typed, frozen description of one run: :class:`RunPlan`.

:func:`make_plan` validates everything a caller can pass (parameters per point, time
arguments, outputs, solver, precision, noise, inputs) once and returns a plan;
:func:`nmm.engine.integrate` runs it. Nothing here compiles or integrates.
"""
from __future__ import annotations

import enum
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import sympy as sp

from ..errors import NMMError, ParameterError, did_you_mean
from ..model import Model, gamma_order
from ..solvers import Solver, get_solver
from ..types import ArrayLike, InputSeries, NoiseSpec, PathValues
from .noise_plan import NoisePlan, plan_noise
from .timegrid import TimeGrid, time_grid

if TYPE_CHECKING:  # annotations only: the network plan builds on this module
    from .netplan import NetworkRun

__all__ = ["Precision", "Output", "RunPlan", "make_plan", "resolve_params", "resolve_outputs", "swept_params",
           "delay_steps", "expand_wildcard", "expand_values", "is_wildcard", "check_gamma_orders", "check_gamma_range"]


class Precision(enum.Enum):
    """The float type the kernel computes in."""

    FLOAT64 = "float64"
    FLOAT32 = "float32"

    @classmethod
    def of(cls, value: "str | Precision") -> "Precision":
        if isinstance(value, Precision):
            return value
        try:
            return cls(value)
        except ValueError:
            choices = [p.value for p in cls]
            raise NMMError(f"unknown float_precision {value!r}; choose one of "
                           f"{', '.join(repr(c) for c in choices)}." + did_you_mean(str(value), choices)) from None

    @property
    def dtype(self) -> np.dtype:
        return np.dtype(self.value)


@dataclass(frozen=True)
class Output:
    """A recorded variable: its name in results, its path and its expression.

    ``column`` is PyRates' DataFrame column of one match of a wildcard output
    (``(name, *nodes, 'op/var')``); ``name`` is then that tuple joined with ``/``. For
    the real and imaginary parts of a complex variable it is ``(name, 're' or 'im')``.
    """

    name: str
    path: str
    expr: sp.Expr
    column: tuple[str, ...] = ()


#: the wildcard path segment: ``all/op/var`` addresses ``op/var`` of every node
WILDCARD = "all"


def is_wildcard(path: str) -> bool:
    """Whether a path's node part holds the wildcard segment ``all``."""
    return WILDCARD in path.split("/")[:-2]


def expand_wildcard(path: str, candidates: Sequence[str]) -> list[str]:
    """The candidate paths a path matches: each node segment ``all`` stands for any node
    (one or more levels: nodes of nested circuits too, as in PyRates); variables of edges
    (``a->b/...``) are never matched. A path without ``all`` matches itself only."""
    parts = path.split("/")
    if not is_wildcard(path):
        return [path] if path in candidates else []
    node = [r"[^/>]+(?:/[^/>]+)*" if seg == WILDCARD else re.escape(seg) for seg in parts[:-2]]
    pattern = re.compile("/".join(node + [re.escape(x) for x in parts[-2:]]) + r"\Z")
    return [c for c in candidates if "->" not in c and pattern.match(c)]


def _wildcards(paths: Sequence[str]) -> list[str]:
    """``all/op/var`` for every node variable among ``paths`` (for suggestions)."""
    return sorted({f"{WILDCARD}/" + "/".join(p.split("/")[-2:]) for p in paths if "->" not in p and p.count("/") >= 2})


def expand_values(model: Model, values: Mapping[str, Any], what: str) -> dict[str, Any]:
    """``values`` with every wildcard path replaced by its matches among the parameters and
    states of ``model`` (one value set on every match).

    Raises
    ------
    ParameterError
        If a wildcard path matches nothing.
    """
    out: dict[str, Any] = {}
    for path, value in values.items():
        if not isinstance(path, str) or not is_wildcard(path):
            out[path] = value
            continue
        matches = expand_wildcard(path, list(model.params) + list(model.states))
        if not matches:
            raise ParameterError(
                f"{what}: {path!r} matches no parameter or state of {model.name!r}; 'all/op/var' sets op/var "
                "on every node that has it." + did_you_mean(path, _wildcards(list(model.params) + list(model.states)))
            )
        for m in matches:
            out[m] = value
    return out


@dataclass(frozen=True, eq=False)
class RunPlan:
    """Everything needed to integrate a block of ``N`` parameter points.

    Attributes
    ----------
    grid : TimeGrid
    P : ndarray, shape (n_params, N)
        Parameter values per point.
    Y0 : ndarray, shape (n_states, N)
        Initial states per point.
    outputs : tuple of Output
    solver : Solver
    precision : Precision
    keep_series : bool
        Keep the samples (else only the running mean, min and max).
    swept : tuple of str
        Parameters whose values differ between points; the kernel treats the others as
        constants shared by the block.
    noise : NoisePlan or None
    solver_options : tuple of (str, object)
        Options of adaptive solvers (``method``, ``rtol``, ...).
    delays : ndarray of int64, shape (n_delays, N)
        Each discrete edge delay in whole steps, per point.
    ring : int
        Length of the delays' ring buffers (the longest delay + 2).
    network : NetworkRun or None
        A network's per-region values and delays (:func:`nmm.engine.make_network_plan`);
        then ``Y0`` is (n_states, n_regions, N) and ``P`` holds ``G`` and ``speed`` last.
    """

    grid: TimeGrid
    P: np.ndarray
    Y0: np.ndarray
    outputs: tuple[Output, ...]
    solver: Solver
    precision: Precision = Precision.FLOAT64
    keep_series: bool = True
    swept: tuple[str, ...] = ()
    noise: NoisePlan | None = None
    solver_options: tuple[tuple[str, Any], ...] = ()
    delays: np.ndarray = field(default_factory=lambda: np.zeros((0, 1), dtype=np.int64))
    ring: int = 2
    network: NetworkRun | None = None

    @property
    def n_points(self) -> int:
        return int(self.P.shape[1])

    @property
    def output_exprs(self) -> dict[str, sp.Expr]:
        return {o.name: o.expr for o in self.outputs}


def resolve_params(model: Model,
                   params: PathValues | None) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """Per-point parameter and initial-state arrays.

    Parameters
    ----------
    model : Model
    params : mapping of path to scalar or 1-D array, optional
        Parameter paths set parameter values; state paths set initial values. Arrays
        must all have the same length ``N`` (one value per point); scalars apply to
        every point.

    Returns
    -------
    P : ndarray, shape (n_params, N)
    Y0 : ndarray, shape (n_states, N)
    swept : dict of path to ndarray
        The array-valued entries, for coordinates.

    Raises
    ------
    ParameterError
        For unknown paths, paths of driven variables, NaN values or mismatched lengths.
    """
    wild = {p: v for p, v in (params or {}).items() if isinstance(p, str) and is_wildcard(p)}
    params = expand_values(model, dict(params or {}), "params")
    pidx = {p: i for i, p in enumerate(model.params)}
    sidx = {s: i for i, s in enumerate(model.states)}
    values: dict[str, np.ndarray] = {}
    n = None
    for path, val in params.items():
        if path not in pidx and path not in sidx:
            if path in model.exprs:
                raise ParameterError(
                    f"{path!r} is not a parameter: it is computed from other variables "
                    f"({model.kinds.get(path)}). Set a parameter or the initial value of a state instead."
                )
            raise ParameterError(
                f"unknown parameter path {path!r} in circuit {model.name!r}."
                + did_you_mean(path, list(model.params) + list(model.states))
                + " Parameters: " + ", ".join(model.params[:12]) + (" ..." if len(model.params) > 12 else "")
            )
        try:
            arr = np.asarray(val, dtype=float)
        except (TypeError, ValueError):
            raise ParameterError(f"value of {path!r} must be a number or 1-D array of numbers, got {val!r}.") from None
        if arr.ndim > 1:
            raise ParameterError(f"value of {path!r} must be a number or a 1-D array, got shape {arr.shape}.")
        if not np.all(np.isfinite(arr)):
            bad = arr[~np.isfinite(arr)].ravel()[0]
            raise ParameterError(f"value of {path!r} contains {float(bad)!r}; every value must be finite.")
        if arr.ndim == 1:
            if n is not None and arr.size != n:
                raise ParameterError(
                    f"value of {path!r} has {arr.size} points, others have {n}; all arrays must have "
                    "the same length (one value per point)."
                )
            if arr.size == 0:
                raise ParameterError(f"value of {path!r} is an empty array.")
            n = arr.size
        values[path] = arr
    n = n or 1
    P = np.empty((len(model.params), n))
    P[:] = np.asarray(model.param_values, dtype=float)[:, None]
    Y0 = np.empty((len(model.states), n))
    Y0[:] = np.asarray(model.state_values, dtype=float)[:, None]
    for path, arr in values.items():
        if path in pidx:
            P[pidx[path]] = arr
        else:
            Y0[sidx[path]] = arr
    matched = {m for p in wild for m in expand_wildcard(p, list(values))}
    swept = {p: np.broadcast_to(a, (n,)).copy() for p, a in values.items() if a.ndim == 1 and p not in matched}
    for p, v in wild.items():  # a wildcard's values: one coordinate under the path as given
        if np.ndim(v) == 1:
            swept[p] = np.broadcast_to(np.asarray(v, dtype=float), (n,)).copy()
    return P, Y0, swept


def resolve_outputs(model: Model, outputs: Mapping[str, str] | Sequence[str] | None) -> tuple[Output, ...]:
    """The recorded variables: every state by its path when ``outputs`` is None.

    Raises
    ------
    NMMError, ParameterError
        If ``outputs`` is not a mapping of names to known variable paths.
    """
    if outputs is None:
        return tuple(Output(s, s, model.expression(s)) for s in model.states)
    if isinstance(outputs, (list, tuple)):
        outputs = {p: p for p in outputs}
    if not isinstance(outputs, Mapping) or not outputs:
        raise NMMError(
            f"outputs must be a mapping name -> variable path, e.g. {{'V_pce': 'pc/rpo_e_in/v'}}, got {outputs!r}."
        )
    out = []
    for name, path in outputs.items():
        if not isinstance(path, str):
            raise NMMError(f"output {name!r} must be a variable path string, got {path!r}.")
        if is_wildcard(path):
            matches = expand_wildcard(path, list(model.exprs))
            if not matches:
                raise ParameterError(
                    f"output {name!r}: {path!r} matches no variable of {model.name!r}; 'all/op/var' records op/var "
                    "of every node that has it." + did_you_mean(path, _wildcards(list(model.exprs)))
                )
            if len(matches) == 1:
                out.append(Output(str(name), matches[0], model.expression(matches[0])))
                continue
            for m in matches:  # PyRates' columns: (name, *nodes, 'op/var')
                *nodes, op, var = m.split("/")
                column = (str(name), *nodes, f"{op}/{var}")
                out.append(Output("/".join(column), m, model.expression(m), column))
            continue
        if path in model.exprs and model.expression(path).has(sp.I):
            # a complex variable: its real and imaginary parts (``run`` joins them again)
            z = model.expression(path)
            out.append(Output(f"{name}.re", f"{path}.re", sp.re(z), (str(name), "re")))
            out.append(Output(f"{name}.im", f"{path}.im", sp.im(z), (str(name), "im")))
            continue
        if path not in model.exprs:
            raise ParameterError(
                f"unknown output path {path!r} (output {name!r}) in circuit {model.name!r}."
                + did_you_mean(path, model.exprs) + " Paths are 'node/operator/variable'."
            )
        out.append(Output(str(name), path, model.expression(path)))
    return tuple(out)


def check_gamma_orders(model: Model, P: np.ndarray) -> None:
    """Refuse delay values of gamma-distributed edges that need another chain order.

    A gamma delay is a chain of ``round((delay / spread)^2)`` ODEs (as PyRates computes
    it); a value with another order would need another number of states, which one
    kernel call (or one sweep) cannot have.

    Raises
    ------
    NMMError
        Naming the value, both orders and the fix.
    """
    for dpath, spread, order in model.gamma:
        for d in np.unique(P[model.params.index(dpath)]):
            if d <= 0 or gamma_order(float(d), spread) != order:
                lo, hi = spread * np.sqrt(order - 0.5) if order > 1 else 0.0, spread * np.sqrt(order + 0.5)
                raise NMMError(
                    f"{dpath!r} = {float(d)!r} gives a gamma-distributed delay of order "
                    f"{gamma_order(float(d), spread) if d > 0 else 0} (round((delay / spread)^2), spread {spread!r}), "
                    f"but the model's chain has {order} states: one run or sweep cannot change the number of "
                    f"states. Keep the delay within [{lo:.6g}, {hi:.6g}) here, or set it with "
                    "update_var(node_vars={...}) (which rebuilds the chain, as PyRates) and run each order "
                    "separately."
                )


def check_gamma_range(model: Model, path: str, low: float, high: float) -> None:
    """:func:`check_gamma_orders` for every value of ``path`` in [low, high] (a sweep
    axis): the chain order grows with the delay, so the two ends decide."""
    P = np.repeat(np.asarray(model.param_values, dtype=float)[:, None], 2, axis=1)
    P[model.params.index(path)] = (low, high)
    check_gamma_orders(model, P)


def swept_params(model: Model, P: np.ndarray) -> tuple[str, ...]:
    """The parameters whose values differ between the points of ``P``."""
    n = P.shape[1]
    return tuple(p for i, p in enumerate(model.params) if n > 1 and np.any(P[i] != P[i, 0]))


def delay_steps(model: Model, P: np.ndarray, dt: float) -> tuple[np.ndarray, int]:
    """Delays in whole steps per point, (n_delays, N) int64, and the ring-buffer length.

    Raises
    ------
    NMMError
        If a delay is shorter than one step.
    """
    if not model.delays:
        return np.zeros((0, P.shape[1]), dtype=np.int64), 2
    rows = []
    for _, _, dpath in model.delays:
        d = P[model.params.index(dpath)] / dt
        steps = np.rint(d).astype(np.int64)
        if np.any(steps < 1):
            raise NMMError(f"delay {dpath!r} = {float(P[model.params.index(dpath)].min())!r} is shorter than one "
                           f"step (step_size = {dt!r}); use a smaller step or a longer delay.")
        rows.append(steps)
    DS = np.ascontiguousarray(rows, dtype=np.int64)
    return DS, int(DS.max()) + 2


def make_plan(model: Model, params: PathValues | None = None, *, simulation_time: float, step_size: float,
              sampling_step_size: float | None = None, cutoff: float | None = 0.0,
              outputs: Mapping[str, str] | Sequence[str] | None = None, solver: str | Solver = "euler",
              float_precision: str | Precision = "float64", keep_series: bool = True,
              inputs: InputSeries | None = None, noise: NoiseSpec | None = None, seed: int = 0,
              point_ids: ArrayLike | None = None, swept: Sequence[str] | None = None,
              solver_options: Mapping[str, Any] | None = None) -> RunPlan:
    """Validate a run's arguments and return its :class:`RunPlan`.

    Parameters are those of :func:`nmm.simulate`; ``swept`` optionally declares which
    parameters vary between points (default: those whose values differ in ``params``).

    Raises
    ------
    NMMError
        For any invalid argument (the message names the value and what would work).
    """
    slv = get_solver(solver)
    precision = Precision.of(float_precision)
    opts = dict(solver_options or {})
    if opts and not slv.takes_options:
        raise NMMError(
            f"solver {slv.name!r} takes no extra options, got {sorted(opts)}; "
            "method/rtol/atol apply to solver='scipy'."
        )
    grid = time_grid(simulation_time, step_size, sampling_step_size, cutoff)
    outs = resolve_outputs(model, outputs)
    P, Y0, _ = resolve_params(model, params)
    check_gamma_orders(model, P)
    nz = plan_noise(model, grid, P.shape[1], slv, inputs, noise, seed, point_ids)
    if not slv.fixed_step:
        if precision is not Precision.FLOAT64:
            raise NMMError(f"solver={slv.name!r} computes in float64; use float_precision='float64'.")
        past = [(dn, dp) for dn, _, dp in model.delays if dn in model.past]
        if past and not slv.supports_delays:
            raise NMMError(
                f"solver={slv.name!r} cannot integrate the delay {past[0][1]!r} of the past-state reference "
                f"{past[0][0]}; use a fixed-step solver (euler, heun, rk4), whose ring buffers hold the past."
            )
        if model.delays and not slv.supports_delays:
            raise NMMError(
                f"solver={slv.name!r} cannot integrate the discrete delay of {model.delays[0][2]!r}; use a "
                "fixed-step solver (euler, heun, rk4), or give the edge a spread: (a gamma-distributed delay, ODEs)."
            )
        only_series = nz is not None and not nz.kernel.states and not nz.kernel.random and not nz.kernel.common
        if nz is not None and not slv.supports_inputs and not (only_series and slv.interpolates_inputs):
            raise NMMError(f"solver={slv.name!r} takes no noise or time-series inputs; use 'euler' or 'heun' "
                           "(or 'rk4' for inputs and random parameters).")
    if swept is None:
        swept_t = swept_params(model, P)
    else:
        # a wildcard's matches are per-point values wherever the caller gives it an array
        # (a sweep axis), also when the caller's list names only the parameters it knows
        wild = [p for p, v in (params or {}).items() if isinstance(p, str) and is_wildcard(p) and np.ndim(v) == 1]
        swept = [m for p in list(swept) + wild for m in (expand_wildcard(p, model.params) if is_wildcard(p) else [p])]
        unknown = [p for p in swept if p not in model.params]
        if unknown:
            raise ParameterError(f"swept parameter {unknown[0]!r} is not a parameter of {model.name!r}."
                                 + did_you_mean(unknown[0], model.params))
        swept_t = tuple(p for p in model.params if p in set(swept))
    if nz is not None:
        dyn = set(nz.kernel.dynamic_paths)
        for o in outs:
            bad = [p for p in dyn if sp.Symbol(p, real=True) in o.expr.free_symbols
                   and p not in {x.path for x in nz.kernel.inputs}]
            if bad:
                raise NMMError(f"output depends on the random parameter {bad[0]!r}; record a state instead")
    if slv.fixed_step:
        DS, L = delay_steps(model, P, grid.dt)
    else:
        DS, L = np.zeros((0, P.shape[1]), dtype=np.int64), 2
    return RunPlan(grid, P, Y0, outs, slv, precision, bool(keep_series), swept_t, nz, tuple(sorted(opts.items())),
                   DS, L)
