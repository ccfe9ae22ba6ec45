"""Validating a run's ``noise=`` and ``inputs=`` and laying out their numbers for the kernel.

The structure (which states and parameters, which kinds) is :class:`nmm.noise.KernelNoise`;
the numbers (sigmas, bounds, generator states, series) are :class:`NoiseValues`.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from .._random import seed_states
from ..errors import NMMError, ParameterError, did_you_mean
from ..model import Model
from ..noise import CommonDraw, Distribution, KernelNoise, RandomParameter, SeriesInput, StateNoise
from ..solvers import Solver
from ..types import ArrayLike, InputSeries, NoiseSpec
from .timegrid import TimeGrid

__all__ = ["NoiseValues", "NoisePlan", "plan_noise"]


@dataclass(frozen=True, eq=False)
class NoiseValues:
    """The numbers of a run's noise and inputs.

    Attributes
    ----------
    ns : ndarray, shape (n_rows, N)
        The sigmas of the noisy states (in :attr:`KernelNoise.states` order), then
        ``a`` and ``b`` of each random parameter (in :attr:`KernelNoise.random` order).
    rs : ndarray of uint64, shape (2, N)
        The points' generator states (empty when nothing is drawn).
    inputs : ndarray, shape (n_inputs, n_steps)
        The time series (in :attr:`KernelNoise.inputs` order).
    """

    ns: np.ndarray
    rs: np.ndarray
    inputs: np.ndarray


@dataclass(frozen=True, eq=False)
class NoisePlan:
    """Structure and numbers of a run's noise and inputs."""

    kernel: KernelNoise
    values: NoiseValues


def _per_point(value: object, n: int, what: str) -> np.ndarray:
    try:
        arr = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise NMMError(f"{what} must be a number or one number per point, got {value!r}.") from None
    if arr.ndim > 1 or (arr.ndim == 1 and arr.size != n):
        raise NMMError(f"{what} must be a number or {n} numbers (one per point), got shape {arr.shape}.")
    if not np.all(np.isfinite(arr)):
        raise NMMError(f"{what} must be finite, got {value!r}.")
    return np.broadcast_to(arr, (n,)).astype(float)


def _random_spec(path: str, spec: object) -> tuple[str, object, bool]:
    """(kind, argument, additive) of a parameter's noise entry."""
    spec = dict(spec) if isinstance(spec, Mapping) else spec
    add = bool(spec.pop("add", False)) if isinstance(spec, dict) else False
    if not isinstance(spec, dict) or len(spec) != 1 or next(iter(spec)) not in ("uniform", "normal", "same_as"):
        raise NMMError(
            f"noise[{path!r}] on a parameter must be {{'uniform': [low, high]}}, "
            f"{{'normal': [mean, sd]}} or {{'same_as': other parameter}}, got {spec!r}."
        )
    kind, arg = next(iter(spec.items()))
    return kind, arg, add


def plan_noise(model: Model, grid: TimeGrid, n: int, solver: Solver, inputs: InputSeries | None = None,
               noise: NoiseSpec | None = None, seed: int = 0,
               point_ids: ArrayLike | None = None) -> NoisePlan | None:
    """Validate ``inputs`` and ``noise`` of a run and lay them out for the kernel.

    ``noise`` maps a state path to its sigma (``0.1`` or ``{'normal': 0.1}``; the state's
    equation gains ``+ sigma dW``), or a parameter path to a distribution redrawn every
    step: ``{'uniform': [low, high]}`` (Jansen & Rit's pulse density),
    ``{'normal': [mean, sd]}``, either with ``add: True`` (drawn around the parameter's
    own value, which stays sweepable), or ``{'same_as': other parameter}`` (a common
    input: the value drawn for the other parameter). ``inputs`` maps a parameter path to
    a time series with one value per integration step (``n_steps`` values), which
    replaces the parameter.

    Returns
    -------
    NoisePlan or None
        None when the run has neither noise nor inputs.

    Raises
    ------
    NMMError
        For unknown paths, malformed specifications, or a solver that cannot integrate them.
    """
    if not inputs and not noise:
        return None
    pset, sset = set(model.params), set(model.states)
    pindex = {p: i for i, p in enumerate(model.params)}
    series: dict[str, np.ndarray] = {}
    for path, arr in (inputs or {}).items():
        if path not in pset:
            hint = (" It is driven by other variables; give the time series to an unconnected input."
                    if path in model.exprs else did_you_mean(path, model.params))
            raise ParameterError(f"inputs: {path!r} is not a parameter of {model.name!r}.{hint}")
        a = np.asarray(arr, dtype=float)
        if a.ndim == 2 and a.shape[1] == 1:
            a = a[:, 0]  # a column (N, 1), as PyRates' examples give it
        if a.ndim != 1 or a.size != grid.n_steps:
            raise NMMError(
                f"inputs[{path!r}] has shape {np.shape(arr)}; it needs one value per integration step: "
                f"{grid.n_steps} values (simulation_time / step_size), shaped ({grid.n_steps},) or "
                f"({grid.n_steps}, 1)."
            )
        if not np.all(np.isfinite(a)):
            raise NMMError(f"inputs[{path!r}] contains NaN or inf.")
        series[path] = a
    sigmas: dict[str, np.ndarray] = {}
    random: dict[str, tuple[RandomParameter, np.ndarray, np.ndarray]] = {}
    common: dict[str, CommonDraw] = {}
    for path, spec in (noise or {}).items():
        if path in sset:
            if isinstance(spec, Mapping):
                if set(spec) != {"normal"}:
                    raise NMMError(f"noise[{path!r}] on a state is {{'normal': sigma}} or a number, got {spec!r}.")
                spec = spec["normal"]
            sigma = _per_point(spec, n, f"noise[{path!r}] (sigma)")
            if np.any(sigma < 0):
                raise NMMError(f"noise[{path!r}]: sigma must be >= 0.")
            sigmas[path] = sigma
        elif path in pset:
            if path in series:
                raise NMMError(f"{path!r} has both a time series input and noise; give one.")
            kind, arg, add = _random_spec(path, spec)
            if kind == "same_as":
                other = (noise or {}).get(arg) if isinstance(arg, str) else None
                if not isinstance(arg, str) or arg not in pset or not isinstance(other, Mapping) \
                        or next(iter(other)) not in ("uniform", "normal"):
                    raise NMMError(f"noise[{path!r}]: same_as needs another parameter with uniform or normal "
                                   f"noise, got {arg!r}.")
                common[path] = CommonDraw(path, arg)
                continue
            if not isinstance(arg, (list, tuple)) or len(arg) != 2:
                raise NMMError(f"noise[{path!r}]: {kind} takes two numbers, got {arg!r}.")
            a = _per_point(arg[0], n, f"noise[{path!r}] {kind}[0]")
            b = _per_point(arg[1], n, f"noise[{path!r}] {kind}[1]")
            if kind == "uniform" and np.any(b < a):
                raise NMMError(f"noise[{path!r}]: uniform needs low <= high.")
            if kind == "normal" and np.any(b < 0):
                raise NMMError(f"noise[{path!r}]: normal needs sd >= 0.")
            random[path] = (RandomParameter(path, Distribution(kind), add), a, b)
        else:
            raise ParameterError(f"noise: unknown path {path!r}." + did_you_mean(path, sorted(pset | sset)))
    if sigmas and not solver.stochastic:
        raise NMMError(f"noise on states needs solver 'euler' (Euler-Maruyama) or 'heun' (stochastic Heun), "
                       f"not {solver.name!r}.")
    by_param = pindex.__getitem__
    state_order = sorted(sigmas, key=model.states.index)
    rnd_order = sorted(random, key=by_param)
    structure = KernelNoise(
        states=tuple(StateNoise(p) for p in state_order),
        random=tuple(random[p][0] for p in rnd_order),
        common=tuple(common[p] for p in sorted(common, key=by_param)),
        inputs=tuple(SeriesInput(p) for p in sorted(series, key=by_param)),
    )
    rows = [sigmas[p] for p in state_order] + [row for p in rnd_order for row in random[p][1:]]
    if structure.draws:
        ids = np.arange(n) if point_ids is None else np.asarray(point_ids)
        if ids.shape != (n,):
            raise NMMError(f"point_ids must give one global index per point ({n}), got shape {ids.shape}.")
        rs = seed_states(seed, ids)
    else:
        rs = np.zeros((2, 0), dtype=np.uint64)
    values = NoiseValues(
        ns=np.array(rows) if rows else np.zeros((0, n)),
        rs=rs,
        inputs=np.array([series[x.path] for x in structure.inputs]) if structure.inputs else np.zeros((0, 0)),
    )
    return NoisePlan(structure, values)
