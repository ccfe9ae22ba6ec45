"""The user-facing circuit: PyRates' ``CircuitTemplate`` API on nmm's engine.

``run`` (a DataFrame, as PyRates) and ``simulate`` (an xarray Dataset) are façades: they
make a :class:`~nmm.engine.RunPlan`, call :func:`~nmm.engine.integrate` and convert its
:class:`~nmm.engine.BatchResult` with :mod:`nmm.results`.
"""
from __future__ import annotations

import copy
import dataclasses
import warnings
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from .engine import BatchResult, RunPlan, integrate, make_plan, resolve_params
from .engine.plan import expand_values
from .errors import NMMError, ParameterError, TemplateError, did_you_mean
from .loader import CircuitDef, EdgeDef, EdgeTemplateDef, NodeDef, OperatorDef, load_template
from .model import Model, build_model, edge_bases, find_edge, gamma_order, replace_edge
from .results import to_dataframe, to_dataset
from .solvers import SOLVERS
from .types import ArrayLike, InputSeries, NoiseSpec, PathValues

__all__ = ["CircuitTemplate", "circuit_from_yaml", "as_circuit", "check_choice", "check_run_choices", "run_options"]

_BACKENDS = ("default", "numba")
#: from_matrices warns above this many units (see its notes)
UNROLLED_WARN = 12
#: PyRates ``run`` options that have no effect here: ``vectorize`` (nmm's kernels take every
#: point at once and compute the unvectorised form's numbers), ``clear`` and ``out_dir`` /
#: ``file_name`` (PyRates' generated files: nmm keeps its kernels in its own cache),
#: ``verbose``, ``in_place`` (nmm never changes the template during a run), ``apply_kwargs``
_IGNORED_RUN_OPTIONS = ("vectorize", "clear", "verbose", "in_place", "apply_kwargs", "file_name", "out_dir")


class CircuitTemplate:
    """A circuit loaded from a template, with parameter values that can be changed.

    Use :meth:`from_yaml` to load one. As in PyRates, :meth:`update_var` changes values
    in place and :meth:`run` simulates one parameter point and returns a DataFrame.

    Parameters
    ----------
    definition : CircuitDef
        The loaded template.
    values : mapping of str to float, optional
        Parameter (or initial state) values by path that override the template's.
    """

    def __init__(self, definition: CircuitDef, values: Mapping[str, float] | None = None) -> None:
        if not isinstance(definition, CircuitDef):
            raise TemplateError(f"expected a circuit definition, got {type(definition).__name__}.")
        self.definition = definition
        self._base: Model | None = None
        self._values: dict[str, float] = {}
        if values:
            self.update_var(node_vars=dict(values))

    # construction -------------------------------------------------------------
    @classmethod
    def from_yaml(cls, path: str, template: str | None = None) -> "CircuitTemplate":
        """Load a circuit template.

        Parameters
        ----------
        path : str
            ``'model_templates.neural_mass_models.jansenrit.JRC'`` (a dotted path resolved
            like PyRates; nmm's own library serves ``model_templates.*`` when PyRates is
            not installed), ``'nmm.templates.jansenrit.JRC'``, or a YAML file path with
            ``template`` (or written ``'file.yaml/JRC'``).
        template : str, optional
            Template name inside the file given by ``path``.

        Raises
        ------
        TemplateError
            If the template cannot be found or read.
        """
        d = load_template(path, template)
        if isinstance(d, NodeDef):  # a single node makes a one-node circuit, as in PyRates
            d = CircuitDef(d.name, d.source, ((d.name, d),), (), (), d.description, (d.source,))
        if not isinstance(d, CircuitDef):
            what = f"{template!r} in {str(path)!r}" if template else repr(str(path))
            kind = "an edge" if isinstance(d, EdgeTemplateDef) else "an operator"
            raise TemplateError(f"{what} is {kind} template; load a node or circuit template.")
        circuit = cls(d)
        circuit._base = build_model(d)  # refusals (edges, equations) come from from_yaml, not from run
        return circuit

    @classmethod
    def from_matrices(cls, template: str, weights: ArrayLike, delays: ArrayLike | None = None,
                      spreads: ArrayLike | None = None, *, source: str = "pc/pro/m",
                      target: str = "pc/rpo_e_in/m_in", labels: Iterable[str] | None = None,
                      name: str = "network", edge: str | None = None) -> "CircuitTemplate":
        """A network of copies of a node or circuit template coupled through matrices.

        Parameters
        ----------
        template : str
            The unit (a node or circuit template reference), e.g. ``'nmm.templates.jansenrit.JRC'``.
        weights : array (N, N)
            ``weights[i, j]`` is the weight of the edge from unit ``j`` to unit ``i``
            (zeros make no edge).
        delays, spreads : array (N, N), optional
            Edge delays (time units of the template; rounded to whole steps by the
            fixed-step solvers) and spreads (gamma-distributed delays).
        source, target : str
            The variable each edge reads in the source unit and feeds in the target unit.
        labels : list of str, optional
            Unit labels (default ``c0 ... c{N-1}``): paths become ``c3/pc/rpo_e_in/u``.
        name : str, default: 'network'
            The circuit's name.
        edge : str, optional
            An edge template reference (a dotted path as in a circuit's edges, e.g.
            ``'model_templates.neural_mass_models.synaptic_plasticity.tsodyks_edge'``) used
            for every nonzero weight: each edge gets its own copy of the template's
            operators (its own states and parameters, ``'c0/p/qif_op/r->c1/p/qif_op/r_in/
            tsodyks_op/x'``), the source feeding its one free input and its one output
            weighted, delayed and summed into the target. Default: plain weighted edges.

        Raises
        ------
        TemplateError
            For matrices of the wrong shape or values, bad labels, a ``template`` that is
            not a node or circuit, or an ``edge`` that is not an edge template with exactly
            one free input and one output.

        Notes
        -----
        Edge weights and delays are parameters (``c0/pc/pro/m->c1/pc/rpo_e_in/m_in/weight``
        and ``.../delay``); :meth:`coupling_targets` gives them with their matrix values, the
        ``targets`` of a sweep axis scaling the global coupling or the delays.

        Every unit and edge becomes code, so the compile time grows with the square of N
        (about half a minute at 8 units, minutes at 20). For whole-brain networks use
        :meth:`nmm.Network.from_connectome`, whose kernel is the same for any N (the
        results agree within 1e-15); a warning says so above :data:`UNROLLED_WARN` units.
        """
        W = np.asarray(weights, dtype=float)
        if W.ndim != 2 or W.shape[0] != W.shape[1] or W.shape[0] < 1:
            raise TemplateError(f"weights must be a square (N, N) matrix, got shape {W.shape}.")
        n = W.shape[0]
        mats = {}
        for nm, M in (("delays", delays), ("spreads", spreads)):
            M = np.zeros((n, n)) if M is None else np.asarray(M, dtype=float)
            if M.shape != (n, n) or not np.all(np.isfinite(M)) or np.any(M < 0):
                raise TemplateError(f"{nm} must be a ({n}, {n}) matrix of finite values >= 0.")
            mats[nm] = M
        if not np.all(np.isfinite(W)):
            raise TemplateError("weights must be finite.")
        if n > UNROLLED_WARN:
            warnings.warn(
                f"from_matrices writes all {n} units and {int(np.count_nonzero(W))} edges as code: compiling takes "
                "minutes and grows with the square of the network. nmm.Network.from_connectome(template, "
                "nmm.connectomes.Connectome(weights, lengths), speed=...) compiles once for any size.",
                UserWarning, stacklevel=2)
        labels = list(labels) if labels is not None else [f"c{i}" for i in range(n)]
        if len(labels) != n or len(set(labels)) != n:
            raise TemplateError(f"labels must be {n} distinct names, got {labels!r}.")
        unit = load_template(template)
        nodes: tuple[tuple[str, NodeDef], ...]
        circuits: tuple[tuple[str, CircuitDef], ...]
        if isinstance(unit, NodeDef):
            nodes, circuits = tuple((lbl, unit) for lbl in labels), ()
        elif isinstance(unit, CircuitDef):
            nodes, circuits = (), tuple((lbl, unit) for lbl in labels)
        else:
            raise TemplateError(f"{template!r} is an operator template; give a node or circuit template.")
        edge_ops = () if edge is None else _matrix_edge(edge, source, target)
        edges = tuple(
            EdgeDef(f"{labels[j]}/{source}", f"{labels[i]}/{target}", edge, float(W[i, j]),
                    float(mats["delays"][i, j]), float(mats["spreads"][i, j]), operators=edge_ops)
            for i in range(n) for j in range(n) if W[i, j] != 0
        )
        files = unit.files if isinstance(unit, CircuitDef) else (unit.source,)
        tu = unit.time_unit if isinstance(unit, CircuitDef) else "unknown"
        d = CircuitDef(name, unit.source, nodes, circuits, edges,
                       f"{n} copies of {template} coupled from {source} to {target}.", files, tu)
        return cls(d)

    def coupling_targets(self, attribute: str = "weight") -> dict[str, float]:
        """The circuit's own edges' parameter paths (``'weight'`` or ``'delay'``; edges inside
        its nodes and sub-circuits excluded) with their current values: the ``targets`` of
        a sweep axis that scales all of them (global coupling, delay scale)."""
        if attribute not in ("weight", "delay"):
            raise ParameterError(f"attribute must be 'weight' or 'delay', got {attribute!r}.")
        params = self.parameters
        names = [f"{e.source}->{e.target}/{attribute}" for e in self.definition.edges]
        return {p: params[p] for p in names if p in params}

    # model ----------------------------------------------------------------------
    @property
    def model(self) -> Model:
        """The flattened ODE system with the current values."""
        if self._base is None:
            self._base = build_model(self.definition)
        m = self._base
        if not self._values:
            return m
        pv = list(m.param_values)
        sv = list(m.state_values)
        pidx = {p: i for i, p in enumerate(m.params)}
        sidx = {s: i for i, s in enumerate(m.states)}
        for k, v in self._values.items():
            if k in pidx:
                pv[pidx[k]] = v
            else:
                sv[sidx[k]] = v
        return dataclasses.replace(m, state_values=tuple(sv), param_values=tuple(pv))

    @property
    def name(self) -> str:
        return self.definition.name

    @property
    def time_unit(self) -> str:
        """Unit of time: the circuit's ``time_unit:`` key (nmm's templates set it), else ``'unknown'``."""
        return self.definition.time_unit

    @property
    def parameters(self) -> dict[str, float]:
        """Every parameter path with its current value."""
        m = self.model
        return dict(zip(m.params, m.param_values))

    @property
    def state_variables(self) -> dict[str, float]:
        """Every state path with its current initial value."""
        m = self.model
        return dict(zip(m.states, m.state_values))

    def update_var(self, node_vars: Mapping[str, float] | None = None,
                   edge_vars: Iterable[tuple[str, str, Mapping[str, float]]] | None = None) -> "CircuitTemplate":
        """Change parameter values (or initial values of states) in place.

        Parameters
        ----------
        node_vars : mapping of str to float, optional
            ``{'pc/rpo_e_in/u': 150.0}``; a state's path sets its initial value.
        edge_vars : list of (source, target, dict), optional
            ``[('pc/pro/m', 'ein/rpo_e/m_in', {'weight': 100.0})]``, as in PyRates.

        Returns
        -------
        CircuitTemplate
            ``self``, so calls can be chained.

        Raises
        ------
        ParameterError
            For unknown paths or values that are not finite numbers.
        """
        m = self._base or build_model(self.definition)
        self._base = m
        updates: dict[str, float] = expand_values(m, dict(node_vars or {}), "update_var")
        for item in edge_vars or []:
            try:
                src, tgt, attrs = item
            except (TypeError, ValueError):
                raise ParameterError(
                    f"edge_vars entries must be (source, target, {{'weight': value}}), got {item!r}."
                ) from None
            for attr, value in dict(attrs).items():
                if attr not in ("weight", "delay", "spread") and f"{src}->{tgt}/{attr}" not in m.params:
                    raise ParameterError(
                        f"edge attribute {attr!r} of {src} -> {tgt} cannot be changed; 'weight', 'delay', 'spread' "
                        "and the variables of an edge template's operators ('op/var') can."
                        + did_you_mean(str(attr), ["weight", "delay", "spread"])
                    )
                updates[f"{src}->{tgt}/{attr}"] = value
        updates = self._restructure(updates)
        m = self._base or build_model(self.definition)
        known = set(m.params) | set(m.states)
        for path, value in updates.items():
            if path not in known:
                raise ParameterError(
                    f"unknown parameter path {path!r} in circuit {m.name!r}."
                    + did_you_mean(path, sorted(known))
                    + " Node variables are 'node/operator/variable', edge weights 'source->target/weight'."
                )
            try:
                v = float(value)
            except (TypeError, ValueError):
                raise ParameterError(f"value of {path!r} must be a number, got {value!r}.") from None
            if not np.isfinite(v):
                raise ParameterError(f"value of {path!r} is {value!r}; it must be finite.")
            self._values[path] = v
        return self

    def _restructure(self, updates: dict[str, float]) -> dict[str, float]:
        """Apply the delay and spread changes that change the model's structure (a delay
        added to or removed from an edge, a spread, a gamma delay whose chain order
        ``round((delay / spread)^2)`` changes, as PyRates recomputes it) by rebuilding the
        model from the changed definition; return the other updates."""
        bases = edge_bases(self.definition)
        m = self._base or build_model(self.definition)
        orders = {dp: (spread, n) for dp, spread, n in m.gamma}
        rest: dict[str, float] = {}
        changed = False
        for path, value in updates.items():
            base, _, attr = path.rpartition("/")
            if attr not in ("delay", "spread") or base not in bases:
                rest[path] = value
                continue
            edge = find_edge(self.definition, bases[base])
            try:
                v = float(value)
            except (TypeError, ValueError):
                raise ParameterError(f"value of {path!r} must be a number, got {value!r}.") from None
            if not np.isfinite(v) or v < 0:
                raise ParameterError(f"value of {path!r} is {value!r}; a delay or spread must be finite and >= 0.")
            if attr == "delay" and path in m.params and edge.spread == 0 and v > 0:
                rest[path] = v  # a discrete delay's value: a parameter of the same model
                continue
            if attr == "delay" and path in orders and gamma_order(v, orders[path][0]) == orders[path][1]:
                rest[path] = v  # the same chain order: only the rate changes
                continue
            delay = v if attr == "delay" else self._values.pop(f"{base}/delay", edge.delay)
            spread = v if attr == "spread" else edge.spread
            if spread and not delay:
                raise ParameterError(f"{path!r} = {v!r}: a spread needs a positive delay on edge {base}.")
            self.definition = replace_edge(self.definition, bases[base], delay=delay, spread=spread)
            self._values.pop(f"{base}/delay", None)
            changed = True
        if changed:
            self._base = m = build_model(self.definition)
            known = set(m.params) | set(m.states)
            self._values = {k: v for k, v in self._values.items() if k in known}
        return rest

    # simulation -----------------------------------------------------------------
    def simulate(self, params: PathValues | None = None, *, simulation_time: float, step_size: float,
                 sampling_step_size: float | None = None, outputs: Mapping[str, str] | None = None,
                 solver: str = "euler", cutoff: float = 0.0, float_precision: str = "float64",
                 keep_series: bool = True, summaries: bool = False, backend: str | None = None,
                 inputs: InputSeries | None = None, noise: NoiseSpec | None = None, seed: int = 0,
                 point_ids: ArrayLike | None = None, **solver_kwargs: Any) -> xr.Dataset:
        """:func:`nmm.simulate` on this circuit (a block of points at once; same arguments)."""
        model = self.model
        plan, result = self._integrate(
            params, backend, simulation_time=simulation_time, step_size=step_size,
            sampling_step_size=sampling_step_size, cutoff=cutoff, outputs=outputs, solver=solver,
            float_precision=float_precision, keep_series=keep_series, inputs=inputs, noise=noise, seed=seed,
            point_ids=point_ids, solver_options=solver_kwargs,
            swept=[p for p, v in expand_values(model, dict(params or {}), "params").items()
                   if np.ndim(v) == 1 and p in model.params])
        _, _, swept = resolve_params(model, params)
        return to_dataset(result, model, time_unit=self.time_unit, swept=swept, summaries=summaries, attrs={
            "circuit": model.name, "solver": plan.solver.name, "step_size": plan.grid.dt,
            "sampling_step_size": plan.grid.dts, "simulation_time": float(simulation_time),
            "cutoff": float(cutoff or 0.0), "float_precision": plan.precision.value, "seed": int(seed)})

    def run(self, simulation_time: float, step_size: float, inputs: InputSeries | None = None,
            outputs: Mapping[str, str] | None = None, sampling_step_size: float | None = None,
            cutoff: float = 0.0, solver: str = "euler", backend: str | None = None,
            float_precision: str = "float64", **kwargs: Any) -> pd.DataFrame:
        """Simulate the circuit once and return the outputs over time (PyRates' ``run``).

        Parameters
        ----------
        simulation_time, step_size : float
        inputs : mapping of str to array, optional
            Time series replacing parameters, one value per step, shaped (n,) or (n, 1)
            (as PyRates). Fixed-step solvers read the value of the step; ``'scipy'``
            interpolates linearly, the samples spread over ``[0, simulation_time]``, as
            PyRates' scipy path does.
        outputs : mapping of str to str, optional
            Column name -> variable path, e.g. ``{'V_pce': 'pc/rpo_e_in/v'}``.
        sampling_step_size : float, optional
            A multiple of ``step_size``; default ``step_size``.
        cutoff : float, default: 0.0
        solver : {'euler', 'heun', 'rk4', 'scipy'}, default: 'euler'
        backend : {'default', 'numba'}, optional
        float_precision : {'float64', 'float32'}, default: 'float64'
        **kwargs
            ``noise``, ``seed`` (see :func:`nmm.simulate`); ``method``, ``rtol``, ``atol``
            ... for ``solver='scipy'``. PyRates' options ``vectorize``, ``clear``,
            ``verbose``, ``in_place``, ``out_dir``, ``file_name`` and ``apply_kwargs`` are
            accepted and change nothing (kernels live in nmm's cache; a run never changes
            the template; the numbers are those of PyRates' unvectorised mode).

        Returns
        -------
        pandas.DataFrame
            Indexed by time, one column per output.
        """
        noise, seed = run_options(kwargs)
        plan, result = self._integrate(None, backend, simulation_time=simulation_time, step_size=step_size,
                                    sampling_step_size=sampling_step_size, cutoff=cutoff, outputs=outputs,
                                    solver=solver, float_precision=float_precision, inputs=inputs, noise=noise,
                                    seed=seed, solver_options=kwargs)
        parts = [o for o in plan.outputs if o.column[1:] in (("re",), ("im",))]
        wild = [o for o in plan.outputs if o.column and o not in parts]
        columns = [o.column or o.name for o in plan.outputs]
        df = to_dataframe(result, columns=columns if wild else None)
        for o in parts:  # a complex variable: one complex column, as PyRates
            if o.column[1] == "re":
                name = o.column[0]
                df[o.name] = df[o.name] + 1j * df[f"{name}.im"]
                df = df.rename(columns={o.name: name}).drop(columns=f"{name}.im")
        return df

    def _integrate(self, params: PathValues | None, backend: str | None, *, solver: str, float_precision: str,
                   **plan_kwargs: Any) -> tuple[RunPlan, BatchResult]:
        """The one path of ``run`` and ``simulate``: check the choices, plan, integrate."""
        check_run_choices(solver, float_precision, backend)
        model = self.model
        plan = make_plan(model, params, solver=solver, float_precision=float_precision, **plan_kwargs)
        return plan, integrate(model, plan)

    def __repr__(self) -> str:
        return f"CircuitTemplate({self.name!r}, source={self.definition.source!r})"

    def copy(self) -> "CircuitTemplate":
        """An independent copy (values included)."""
        return copy.copy(self)._with_values(dict(self._values))

    def _with_values(self, values: dict[str, float]) -> "CircuitTemplate":
        self._values = values
        return self


def _matrix_edge(edge: object, source: str, target: str) -> tuple[tuple[str, OperatorDef], ...]:
    """The operators of the edge template ``edge`` of :meth:`CircuitTemplate.from_matrices`,
    checked to connect ``source`` to ``target`` without attributes: exactly one input that
    no operator of the edge feeds (the source's) and one output that none reads (the target's)."""
    fix = ("give an edge template reference such as "
           "'model_templates.neural_mass_models.synaptic_plasticity.tsodyks_edge', or edge=None for plain edges.")
    if not isinstance(edge, str):
        raise TemplateError(f"from_matrices: edge must be a template reference string, got {edge!r}; {fix}")
    try:
        loaded = load_template(edge)
    except TemplateError as exc:
        raise TemplateError(f"from_matrices: edge {edge!r} cannot be loaded ({str(exc).rstrip('.')}); {fix}") from None
    if not isinstance(loaded, EdgeTemplateDef):
        raise TemplateError(f"from_matrices: edge {edge!r} is a {type(loaded).__name__[:-3].lower()} template, not an "
                            f"edge template (base: EdgeTemplate); {fix}")
    outputs = {(lbl, v.name) for lbl, op in loaded.operators for v in op.variables if v.kind == "output"}
    inputs = [(lbl, v.name) for lbl, op in loaded.operators for v in op.variables if v.kind == "input"]
    fed = [(lbl, nm) for lbl, nm in inputs if any(o == nm and ol != lbl for ol, o in outputs)]
    free = [f"{lbl}/{nm}" for lbl, nm in inputs if (lbl, nm) not in fed]
    read = {(ol, o) for ol, o in outputs for lbl, nm in fed if o == nm and ol != lbl}
    last = sorted(f"{lbl}/{nm}" for lbl, nm in outputs - read)
    if loaded.operators and (len(free) != 1 or len(last) != 1):
        raise TemplateError(
            f"from_matrices: edge template {edge!r} has the free inputs {free} and the outputs {last}; every matrix "
            f"edge feeds {source!r} into exactly one input and adds exactly one output into {target!r}, so give an "
            "edge template with one of each (an edge whose inputs need mapping attributes, such as a target's phase, "
            "is written as a CircuitTemplate edge in YAML).")
    return loaded.operators


def circuit_from_yaml(path: str, template: str | None = None) -> CircuitTemplate:
    """Load a circuit template (same as :meth:`CircuitTemplate.from_yaml`)."""
    return CircuitTemplate.from_yaml(path, template)


def as_circuit(template: "CircuitTemplate | str") -> CircuitTemplate:
    """The circuit itself, or the circuit a template reference names."""
    return template if isinstance(template, CircuitTemplate) else CircuitTemplate.from_yaml(template)


def run_options(kwargs: dict[str, Any]) -> tuple[Any, Any]:
    """``noise`` and ``seed`` taken out of ``run``'s keywords, PyRates' ignored options
    dropped; what is left in ``kwargs`` are the solver's options."""
    for ignored in _IGNORED_RUN_OPTIONS:
        kwargs.pop(ignored, None)
    return kwargs.pop("noise", None), kwargs.pop("seed", 0)


def check_run_choices(solver: str, float_precision: str, backend: str | None) -> None:
    """The solver, precision and backend names of ``run`` and ``simulate``."""
    check_choice("solver", solver, SOLVERS)
    check_choice("float_precision", float_precision, ("float64", "float32"))
    if backend is not None:
        check_choice("backend", backend, _BACKENDS)


def check_choice(name: str, value: object, choices: tuple[str, ...]) -> None:
    """Raise :class:`NMMError` naming the value and the choices unless ``value`` is one of them."""
    if value not in choices:
        shown = ", ".join(repr(c) for c in choices)
        raise NMMError(f"unknown {name} {value!r}; choose one of {shown}." + did_you_mean(str(value), choices))
