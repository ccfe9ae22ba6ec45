"""Simulating a block of parameter points: the batch path used by ``run`` and by sweeps."""
from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import sympy as sp
import xarray as xr

from .codegen import compile_model
from .errors import NMMError, ParameterError, did_you_mean
from .model import Model
from .solvers import FIXED_STEP, SOLVERS

__all__ = ["simulate", "TimeGrid", "time_grid", "resolve_params", "integrate", "stochastic_setup", "Stochastic"]

_PRECISIONS = ("float64", "float32")
_BACKENDS = (None, "default", "numba")


@dataclass(frozen=True)
class TimeGrid:
    """The integer bookkeeping of a fixed-step run.

    Attributes
    ----------
    n_steps : int
        Integration steps of size ``dt``.
    decim : int
        Steps per stored sample.
    n_samples : int
        Samples from t = 0 (sample ``k`` is the state at ``k * decim * dt``).
    k_first : int
        First sample kept (the cutoff).
    """

    dt: float
    dts: float
    n_steps: int
    decim: int
    n_samples: int
    k_first: int

    @property
    def times(self) -> np.ndarray:
        return np.arange(self.k_first, self.n_samples) * self.dts

    @property
    def n_keep(self) -> int:
        return self.n_samples - self.k_first


def _positive(name: str, value, hint: str) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise NMMError(f"{name} must be a positive number, got {value!r}. {hint}") from None
    if not math.isfinite(v) or v <= 0:
        raise NMMError(f"{name} must be a positive number, got {value!r}. {hint}")
    return v


def time_grid(simulation_time, step_size, sampling_step_size=None, cutoff=0.0) -> TimeGrid:
    """Validate the time arguments and turn them into steps and samples.

    Raises
    ------
    NMMError
        If a value is not positive, the sampling step is smaller than (or not a multiple
        of) the step size, or the cutoff is not in ``[0, simulation_time)``.
    """
    T = _positive("simulation_time", simulation_time, "Give the simulated time, e.g. simulation_time=2.0.")
    dt = _positive("step_size", step_size, "Give the integration step, e.g. step_size=1e-4.")
    if dt > T:
        raise NMMError(f"step_size={step_size!r} is larger than simulation_time={simulation_time!r}.")
    dts = dt if sampling_step_size is None else _positive(
        "sampling_step_size", sampling_step_size, "Use a multiple of step_size, e.g. 10 * step_size.")
    ratio = dts / dt
    if ratio < 1 - 1e-9:
        raise NMMError(
            f"sampling_step_size={sampling_step_size!r} is smaller than step_size={step_size!r}; "
            f"use step_size or a multiple of it (e.g. {10 * dt:g})."
        )
    decim = int(round(ratio))
    if abs(ratio - decim) > 1e-6 * decim:
        raise NMMError(
            f"sampling_step_size={sampling_step_size!r} is not a multiple of step_size={step_size!r}; "
            f"use e.g. {decim * dt:g} or {(decim + 1) * dt:g}."
        )
    n_steps = int(round(T / dt))
    n_samples = -(-n_steps // decim)
    try:
        cut = float(cutoff or 0.0)
    except (TypeError, ValueError):
        raise NMMError(f"cutoff must be a number of time units, got {cutoff!r}.") from None
    if not (0.0 <= cut < T) or not math.isfinite(cut):
        raise NMMError(f"cutoff={cutoff!r} must be in [0, simulation_time={simulation_time!r}).")
    k_first = int(math.ceil(cut / (decim * dt) - 1e-9))
    if k_first >= n_samples:
        raise NMMError(f"cutoff={cutoff!r} leaves no sample before simulation_time={simulation_time!r}.")
    return TimeGrid(dt, decim * dt, n_steps, decim, n_samples, k_first)


def resolve_params(model: Model, params: Mapping | None) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
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
    params = dict(params or {})
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
            raise ParameterError(f"value of {path!r} contains {bad!r}; every value must be finite.")
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
    swept = {p: np.broadcast_to(a, (n,)).copy() for p, a in values.items() if a.ndim == 1}
    return P, Y0, swept


def _output_exprs(model: Model, outputs: Mapping[str, str] | None) -> dict[str, sp.Expr]:
    if outputs is None:
        return {s: model.expression(s) for s in model.states}
    if isinstance(outputs, (list, tuple)):
        outputs = {p: p for p in outputs}
    if not isinstance(outputs, Mapping) or not outputs:
        raise NMMError(
            f"outputs must be a mapping name -> variable path, e.g. {{'V_pce': 'pc/rpo_e_in/v'}}, got {outputs!r}."
        )
    out = {}
    for name, path in outputs.items():
        if not isinstance(path, str):
            raise NMMError(f"output {name!r} must be a variable path string, got {path!r}.")
        if path not in model.exprs:
            raise ParameterError(
                f"unknown output path {path!r} (output {name!r}) in circuit {model.name!r}."
                + did_you_mean(path, model.exprs) + " Paths are 'node/operator/variable'."
            )
        out[str(name)] = model.expression(path)
    return out


def integrate(model: Model, P: np.ndarray, Y0: np.ndarray, grid: TimeGrid, out_exprs: dict[str, sp.Expr],
              solver: str = "euler", float_precision: str = "float64", keep_series: bool = True,
              stochastic: "Stochastic | None" = None, **solver_kwargs):
    """Integrate a block of points.

    Returns
    -------
    series : ndarray, shape (n_outputs, n_keep, N) (n_keep = 0 if not keep_series)
    stats : ndarray, shape (3, n_outputs, N)
        Mean, min and max of each output over the kept samples.
    Y : ndarray, shape (n_states, N)
        The final states.
    """
    n = P.shape[1]
    O = len(out_exprs)
    if solver in FIXED_STEP:
        if solver_kwargs:
            raise NMMError(
                f"solver {solver!r} takes no extra options, got {sorted(solver_kwargs)}; "
                "method/rtol/atol apply to solver='scipy'."
            )
        # parameters that differ between points; the kernel folds the others as constants
        swept = tuple(p for i, p in enumerate(model.params) if n > 1 and np.any(P[i] != P[i, 0]))
        st = stochastic or Stochastic()
        try:
            # one block of points, or one thread: the serial kernel (same bits, compiles faster)
            import numba

            from .codegen import block_size

            parallel = n > block_size(float_precision) and numba.get_num_threads() > 1
            cm = compile_model(model, out_exprs, solver, float_precision, swept, st.noise, st.dynamic, parallel)
        except ValueError as exc:
            raise NMMError(str(exc)) from None
        dtype = np.dtype(float_precision)
        Y = np.ascontiguousarray(Y0, dtype=dtype)
        Pd = np.ascontiguousarray(P, dtype=dtype)
        C = np.ascontiguousarray(Pd[:, 0])
        NS = np.ascontiguousarray(st.ns if st.ns is not None else np.zeros((0, n)), dtype=dtype)
        RS = st.rs if st.rs is not None else np.zeros((2, 0), dtype=np.uint64)
        IN = np.ascontiguousarray(st.inputs if st.inputs is not None else np.zeros((0, 0)), dtype=dtype)
        DS, L = _delay_steps(model, P, grid.dt)
        series = np.empty((O, grid.n_keep if keep_series else 0, n), dtype=dtype)
        stats = np.zeros((3, O, n))
        stats[1] = np.inf
        stats[2] = -np.inf
        cm.kernel(Y, Pd, C, NS, RS, IN, DS, L, grid.n_steps, grid.decim, grid.k_first, dtype.type(grid.dt),
                  dtype.type(0.0), series, stats)
        stats[0] /= grid.n_keep
        return series, stats, Y
    if float_precision != "float64":
        raise NMMError("solver='scipy' computes in float64; use float_precision='float64'.")
    if model.delays:
        raise NMMError(
            f"solver='scipy' cannot integrate the discrete delay of {model.delays[0][2]!r}; use a fixed-step "
            "solver (euler, heun, rk4), or give the edge a spread: (a gamma-distributed delay, ODEs)."
        )
    if stochastic is not None and (stochastic.noise or stochastic.dynamic):
        raise NMMError("solver='scipy' takes no noise or time-series inputs; use 'euler' or 'heun' "
                       "(or 'rk4' for inputs and random parameters).")
    from .solvers.scipy_ivp import integrate_scipy

    cm = compile_model(model, out_exprs, "scipy", "float64")
    return integrate_scipy(cm, P, Y0, grid, keep_series, **solver_kwargs)


def _delay_steps(model: Model, P: np.ndarray, dt: float):
    """Delays in whole steps per point, (n_delays, N) int64, and the ring-buffer length."""
    if not model.delays:
        return np.zeros((0, P.shape[1]), dtype=np.int64), 2
    rows = []
    for _, _, dpath in model.delays:
        d = P[model.params.index(dpath)] / dt
        steps = np.rint(d).astype(np.int64)
        if np.any(steps < 1):
            raise NMMError(f"delay {dpath!r} = {P[model.params.index(dpath)].min()!r} is shorter than one step "
                           f"(step_size = {dt!r}); use a smaller step or a longer delay (or 0 for none).")
        rows.append(steps)
    DS = np.ascontiguousarray(rows, dtype=np.int64)
    return DS, int(DS.max()) + 2


@dataclass(frozen=True)
class Stochastic:
    """Noise and per-step inputs of a run, in the kernel's layout.

    Attributes
    ----------
    noise : tuple of str
        States with additive Gaussian white noise.
    dynamic : tuple of (str, str)
        Parameters read from a time series ('input') or redrawn every step ('uniform',
        'normal').
    ns : ndarray (n_rows, N) or None
        Sigmas of the noisy states, then (low, high) or (mean, sd) of each random parameter.
    rs : ndarray (2, N) uint64 or None
        The points' generator states.
    inputs : ndarray (n_inputs, n_steps) or None
    """

    noise: tuple = ()
    dynamic: tuple = ()
    ns: object = None
    rs: object = None
    inputs: object = None


def _per_point(value, n, what) -> np.ndarray:
    try:
        arr = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise NMMError(f"{what} must be a number or one number per point, got {value!r}.") from None
    if arr.ndim > 1 or (arr.ndim == 1 and arr.size != n):
        raise NMMError(f"{what} must be a number or {n} numbers (one per point), got shape {arr.shape}.")
    if not np.all(np.isfinite(arr)):
        raise NMMError(f"{what} must be finite, got {value!r}.")
    return np.broadcast_to(arr, (n,)).astype(float)


def stochastic_setup(model: Model, grid: TimeGrid, n: int, solver: str, inputs=None, noise=None, seed: int = 0,
                     point_ids=None) -> Stochastic | None:
    """Validate ``inputs`` and ``noise`` of a run and lay them out for the kernel.

    ``noise`` maps a state path to its sigma (``0.1`` or ``{'normal': 0.1}``; the state's
    equation gains ``+ sigma dW``), or a parameter path to a distribution redrawn every
    step: ``{'uniform': [low, high]}`` (Jansen & Rit's pulse density),
    ``{'normal': [mean, sd]}``, either with ``add: True`` (drawn around the parameter's
    own value, which stays sweepable), or ``{'same_as': other parameter}`` (a common
    input: the value drawn for the other parameter). ``inputs`` maps a parameter path to a time series with one
    value per integration step (``n_steps`` values), which replaces the parameter.
    """
    if not inputs and not noise:
        return None
    pset, sset = set(model.params), set(model.states)
    dyn: list[tuple[str, str]] = []
    series = []
    for path, arr in (inputs or {}).items():
        if path not in pset:
            hint = (" It is driven by other variables; give the time series to an unconnected input."
                    if path in model.exprs else did_you_mean(path, model.params))
            raise ParameterError(f"inputs: {path!r} is not a parameter of {model.name!r}.{hint}")
        a = np.asarray(arr, dtype=float)
        if a.ndim != 1 or a.size != grid.n_steps:
            raise NMMError(
                f"inputs[{path!r}] has shape {a.shape}; it needs one value per integration step: "
                f"{grid.n_steps} values (simulation_time / step_size)."
            )
        if not np.all(np.isfinite(a)):
            raise NMMError(f"inputs[{path!r}] contains NaN or inf.")
        dyn.append((path, "input"))
        series.append(a)
    sig_rows, rnd_rows, noisy = [], [], []
    for path, spec in (noise or {}).items():
        if path in sset:
            if isinstance(spec, dict):
                if set(spec) != {"normal"}:
                    raise NMMError(f"noise[{path!r}] on a state is {{'normal': sigma}} or a number, got {spec!r}.")
                spec = spec["normal"]
            sigma = _per_point(spec, n, f"noise[{path!r}] (sigma)")
            if np.any(sigma < 0):
                raise NMMError(f"noise[{path!r}]: sigma must be >= 0.")
            noisy.append(path)
            sig_rows.append(sigma)
        elif path in pset:
            if path in dict(dyn):
                raise NMMError(f"{path!r} has both a time series input and noise; give one.")
            spec = dict(spec) if isinstance(spec, dict) else spec
            add = bool(spec.pop("add", False)) if isinstance(spec, dict) else False
            if not isinstance(spec, dict) or len(spec) != 1 or next(iter(spec)) not in ("uniform", "normal",
                                                                                        "same_as"):
                raise NMMError(
                    f"noise[{path!r}] on a parameter must be {{'uniform': [low, high]}}, "
                    f"{{'normal': [mean, sd]}} or {{'same_as': other parameter}}, got {spec!r}."
                )
            kind, ab = next(iter(spec.items()))
            if kind == "same_as":
                other = (noise or {}).get(ab)
                if ab not in pset or not isinstance(other, dict) or next(iter(other)) not in ("uniform", "normal"):
                    raise NMMError(f"noise[{path!r}]: same_as needs another parameter with uniform or normal "
                                   f"noise, got {ab!r}.")
                dyn.append((path, f"same:{ab}"))
                continue
            if not isinstance(ab, (list, tuple)) or len(ab) != 2:
                raise NMMError(f"noise[{path!r}]: {kind} takes two numbers, got {ab!r}.")
            a = _per_point(ab[0], n, f"noise[{path!r}] {kind}[0]")
            b = _per_point(ab[1], n, f"noise[{path!r}] {kind}[1]")
            if kind == "uniform" and np.any(b < a):
                raise NMMError(f"noise[{path!r}]: uniform needs low <= high.")
            if kind == "normal" and np.any(b < 0):
                raise NMMError(f"noise[{path!r}]: normal needs sd >= 0.")
            dyn.append((path, kind + ("+" if add else "")))
            rnd_rows.append((path, a, b))
        else:
            raise ParameterError(f"noise: unknown path {path!r}." + did_you_mean(path, sorted(pset | sset)))
    if noisy and solver not in ("euler", "heun"):
        raise NMMError(f"noise on states needs solver 'euler' (Euler-Maruyama) or 'heun' (stochastic Heun), "
                       f"not {solver!r}.")
    # kernel order: sigmas by state order, random parameters by parameter order
    noisy_sorted = sorted(noisy, key=model.states.index)
    sig_rows = [sig_rows[noisy.index(p)] for p in noisy_sorted]
    dyn_sorted = sorted(dyn, key=lambda pk: model.params.index(pk[0]))
    rnd_sorted = sorted(rnd_rows, key=lambda r: model.params.index(r[0]))
    ns_rows = sig_rows + [row for _, a, b in rnd_sorted for row in (a, b)]
    inputs_sorted = [series[[p for p, k in dyn if k == "input"].index(p)] for p, k in dyn_sorted if k == "input"]
    rs = None
    if ns_rows:
        from ._random import seed_states

        ids = np.arange(n) if point_ids is None else np.asarray(point_ids)
        if ids.shape != (n,):
            raise NMMError(f"point_ids must give one global index per point ({n}), got shape {ids.shape}.")
        rs = seed_states(seed, ids)
    return Stochastic(tuple(noisy_sorted), tuple(dyn_sorted), np.array(ns_rows) if ns_rows else None, rs,
                      np.array(inputs_sorted) if inputs_sorted else None)


def _check_choice(name, value, choices):
    if value not in choices:
        shown = ", ".join(repr(c) for c in choices if c is not None)
        raise NMMError(f"unknown {name} {value!r}; choose one of {shown}." + did_you_mean(str(value), [
            c for c in choices if c is not None]))


def simulate(template, params: Mapping | None = None, *, simulation_time: float, step_size: float,
             sampling_step_size: float | None = None, outputs: Mapping[str, str] | None = None,
             solver: str = "euler", cutoff: float = 0.0, float_precision: str = "float64",
             keep_series: bool = True, summaries: bool = False, backend: str | None = None,
             inputs: Mapping | None = None, noise: Mapping | None = None, seed: int = 0, point_ids=None,
             **solver_kwargs) -> xr.Dataset:
    """Simulate a circuit at a block of parameter points at once.

    Parameters
    ----------
    template : CircuitTemplate or str
        The circuit, or a template reference such as
        ``'model_templates.neural_mass_models.jansenrit.JRC'``.
    params : mapping of str to float or 1-D array, optional
        Values by path (``'pc/rpo_e_in/u'``; a state's path sets its initial value; an
        edge weight is ``'source->target/weight'``). Arrays give one value per point and
        must have equal lengths; scalars apply to all points.
    simulation_time, step_size : float
        Simulated time and integration step (time units of the template).
    sampling_step_size : float, optional
        Spacing of the stored samples, a multiple of ``step_size`` (default: step_size).
    outputs : mapping of str to str, optional
        Output name -> variable path; default: every state by its path.
    solver : {'euler', 'heun', 'rk4', 'scipy'}, default: 'euler'
    cutoff : float, default: 0.0
        Initial time not stored (samples at t >= cutoff are kept).
    float_precision : {'float64', 'float32'}, default: 'float64'
    keep_series : bool, default: True
        Store the time series; False keeps only the summaries.
    summaries : bool, default: False
        Add ``<output>_mean``, ``<output>_min``, ``<output>_max`` per point.
    backend : {'default', 'numba'}, optional
        Accepted for PyRates compatibility; both mean the numba kernels.
    inputs : mapping of str to array, optional
        Time series replacing a parameter, one value per integration step (as PyRates).
    noise : mapping, optional
        State path -> sigma of additive white noise (``+ sigma dW``; solvers euler =
        Euler-Maruyama, heun = stochastic Heun), or parameter path ->
        ``{'uniform': [low, high]}`` / ``{'normal': [mean, sd]}`` redrawn every step.
    seed : int, default: 0
        With ``point_ids``, determines every point's random stream.
    point_ids : array of int, optional
        Global indices of the points (default ``0..N-1``): a point's stream depends only
        on (seed, its index), so results do not depend on how points are grouped.
    **solver_kwargs
        Passed to :func:`scipy.integrate.solve_ivp` for ``solver='scipy'``
        (``method``, ``rtol``, ``atol``, ...).

    Returns
    -------
    xarray.Dataset
        Dimensions ``('point', 'time')``; one variable per output with ``units`` and
        ``long_name``; one coordinate per array-valued parameter along ``point``; a
        ``status`` variable (0 = finite, 1 = diverged).

    Examples
    --------
    >>> ds = nmm.simulate("nmm.templates.jansenrit.JRC",
    ...                   params={"pc/rpo_e_in/u": np.linspace(50, 400, 8)},
    ...                   simulation_time=2.0, step_size=1e-4, sampling_step_size=1e-3,
    ...                   outputs={"V_pce": "pc/rpo_e_in/v"}, solver="rk4")
    """
    from .circuit import CircuitTemplate

    _check_choice("solver", solver, SOLVERS)
    _check_choice("float_precision", float_precision, _PRECISIONS)
    _check_choice("backend", backend, _BACKENDS)
    circuit = template if isinstance(template, CircuitTemplate) else CircuitTemplate.from_yaml(template)
    model = circuit.model
    grid = time_grid(simulation_time, step_size, sampling_step_size, cutoff)
    out_exprs = _output_exprs(model, outputs)
    P, Y0, swept = resolve_params(model, params)
    stoch = stochastic_setup(model, grid, P.shape[1], solver, inputs, noise, seed, point_ids)
    series, stats, Yend = integrate(model, P, Y0, grid, out_exprs, solver, float_precision, keep_series,
                                    stoch, **solver_kwargs)
    paths = dict(outputs) if outputs else {s: s for s in model.states}
    if isinstance(outputs, (list, tuple)):
        paths = {p: p for p in outputs}
    n = P.shape[1]
    status = (~np.isfinite(Yend).all(axis=0) | ~np.isfinite(stats).all(axis=(0, 1))).astype(np.int8)
    data = {}
    for i, name in enumerate(out_exprs):
        attrs = {"units": model.unit(paths[name]), "long_name": paths[name], "path": paths[name]}
        if keep_series:
            data[name] = (("point", "time"), series[i].T, attrs)
        if summaries:
            for j, stat in enumerate(("mean", "min", "max")):
                data[f"{name}_{stat}"] = (("point",), stats[j, i],
                                          {**attrs, "long_name": f"{stat} of {paths[name]} after cutoff"})
    data["status"] = (("point",), status, {"units": "1", "long_name": "0: finite, 1: diverged (NaN/inf)"})
    coords = {"point": ("point", np.arange(n), {"units": "1", "long_name": "point index"})}
    if keep_series:
        coords["time"] = ("time", grid.times, {"units": circuit.time_unit, "long_name": "time"})
    for path, arr in swept.items():
        # a swept initial state that is also an output gets its own coordinate name
        name = f"{path}@t0" if path in data else path
        coords[name] = ("point", arr, {"units": model.unit(path), "long_name": path})
    return xr.Dataset(
        data, coords=coords,
        attrs={"circuit": model.name, "solver": solver, "step_size": grid.dt,
               "sampling_step_size": grid.dts, "simulation_time": float(simulation_time),
               "cutoff": float(cutoff or 0.0), "float_precision": float_precision, "seed": int(seed)},
    )
