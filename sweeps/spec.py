"""The sweep specification: frozen, validated once, round-trips through YAML.

A sweep file (or the sweep part of a workflow file)::

    name: quickstart
    model:
      template: model_templates.neural_mass_models.jansenrit.JRC
      params: {pc/rpo_i/h: -22e-3}          # fixed overrides (optional)
    axes:
      - {path: pc/rpo_e_in/u, name: u, linspace: [50, 400, 120]}
    design: grid                            # grid | zip | {kind: random, n: 256, method: sobol}
                                            # | {kind: adaptive, base: [17], levels: 5, refine_on: [...]}
    simulation:
      simulation_time: 3.0
      step_size: 1e-4
      sampling_step_size: 1e-3
      solver: rk4
      cutoff: 1.0
      outputs: {V_pce: pc/rpo_e_in/v, V_pci: pc/rpo_i/v}
      noise: {pc/rpo_e_in/u: {uniform: [120, 320]}}   # optional; streams from (seed, point index)
    keep:
      series: true                          # store the time series (off for big sweeps)
      reductions: [mean, min, max]          # per-point summaries computed in each task
    initial_states:                         # optional: a dimension 'init' (bistability)
      rest: {}
      excited: {pc/rpo_e_in/v: 0.02, pc/rpo_i/v: -0.015}
    storage:
      store: out/quickstart.zarr
      tile: 20                              # points per tile, or {u: 20}
      compression: {codec: zstd, level: 3}  # or none
    seed: 0

Workflow files add ``analysis:`` and ``plots:`` sections, which the spec ignores.
"""
from __future__ import annotations

import hashlib
import json
import math
from collections import defaultdict
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

from nmm.circuit import CircuitTemplate
from nmm.engine import make_network_plan, plan_noise, time_grid
from nmm.engine.plan import expand_wildcard
from nmm.errors import NMMError, did_you_mean
from nmm.netmodel import NETWORK_PARAMS
from nmm.network import Network
from nmm.solvers import get_solver
from nmm.validation import check_file, field_names
from nmm.yamlio import load_yaml_file, load_yaml_text

from .adaptive import Lattice
from .axes import axis_from_dict, to_float
from .errors import SpecError
from .reductions import resolve
from .sections import (
    ADAPTIVE_TILE,
    MAX_LATTICE,
    DesignSpec,
    KeepSpec,
    ModelSpec,
    SimulationSpec,
    StorageSpec,
    _check_gamma_axes,
    _check_keys,
)

__all__ = ["SweepSpec", "ModelSpec", "SimulationSpec", "DesignSpec", "KeepSpec", "StorageSpec"]

_WORKFLOW_SECTIONS = ("analysis", "plots")


@dataclass(frozen=True)
class SweepSpec:
    """A complete sweep: model, axes, design, simulation, what to keep, storage, seed.

    Build it in Python or with :meth:`from_yaml` / :meth:`from_dict`; it is validated on
    construction (``check_model`` also resolves every path against the model), and
    ``SweepSpec.from_dict(spec.to_dict()) == spec``.
    """

    model: ModelSpec
    axes: tuple
    simulation: SimulationSpec
    storage: StorageSpec
    design: DesignSpec = field(default_factory=DesignSpec)
    keep: KeepSpec = field(default_factory=KeepSpec)
    seed: int = 0
    name: str = "sweep"
    initial_states: tuple = ()  # ((label, ((path, value), ...)), ...): adds the dimension 'init'

    def __post_init__(self) -> None:
        inits = self.initial_states
        if isinstance(inits, dict):
            inits = tuple(inits.items())
        parsed = []
        for item in inits:
            try:
                label, values = item
            except (TypeError, ValueError):
                raise SpecError("initial_states must map labels to {state path: value}, e.g. "
                                "{rest: {}, excited: {pc/rpo_e_in/v: 0.02}}.") from None
            if not isinstance(label, str) or not label or " " in label:
                raise SpecError(f"initial state label {label!r} must be a word such as rest or excited.")
            items = values.items() if isinstance(values, dict) else (values or ())
            parsed.append((label, tuple(sorted((str(p), to_float(v, f"initial_states.{label}[{p!r}]"))
                                               for p, v in items))))
        labels = [lbl for lbl, _ in parsed]
        if len(set(labels)) != len(labels):
            raise SpecError(f"initial_states repeats a label: {labels}.")
        object.__setattr__(self, "initial_states", tuple(parsed))
        axes = tuple(self.axes)
        if not axes:
            raise SpecError("a sweep needs at least one axis, e.g. axes: [{path: pc/rpo_e_in/u, linspace: [50, 400, 100]}].")
        object.__setattr__(self, "axes", axes)
        names = [a.name for a in axes]
        paths = [p for a in axes for p in a.paths]
        for what, items in (("name", names), ("path", paths)):
            dup = {x for x in items if items.count(x) > 1}
            if dup:
                raise SpecError(f"two axes have the same {what} {sorted(dup)[0]!r}; each axis needs its own.")
        reserved = ({"time", "frequency", "point", "tile", "init", "extremum", "status", "done"}
                    | {n for n, _ in self.simulation.outputs})
        init_paths = {p for _, vals in self.initial_states for p, _ in vals}
        clash = init_paths & set(paths)
        if clash:
            raise SpecError(f"{sorted(clash)[0]!r} is both an axis and set by initial_states; use one.")
        for n in names:
            if n in reserved:
                raise SpecError(f"axis name {n!r} is taken by the dataset; give the axis another name with name: (e.g. name: {n}_value).")
        forms = {a.form for a in axes}
        if self.design.kind == "random":
            bad = [a.path for a in axes if a.form != "bounds"]
            if bad:
                raise SpecError(f"a random design samples within bounds: give axis {bad[0]!r} bounds: [low, high].")
        elif self.design.kind == "adaptive":
            self._check_adaptive()
        else:
            if "bounds" in forms:
                bad = next(a.path for a in axes if a.form == "bounds")
                raise SpecError(
                    f"axis {bad!r} gives bounds, which only design {{kind: random, n: ...}} or "
                    "{kind: adaptive, ...} can sample; give values, linspace, logspace or range."
                )
            # finite by construction (Axis checks its arguments): no O(points) check here, a
            # declared grid may be far too big to make (the run refuses it, see plan.check_limits)
        if self.design.kind == "zip":
            lens = {a.name: a.size for a in axes}
            if len(set(lens.values())) > 1:
                raise SpecError(f"zip design needs axes of equal length, got {lens}.")
        seed = to_float(self.seed, "seed")
        if seed != int(seed) or seed < 0:
            raise SpecError(f"seed must be a non-negative whole number, got {self.seed!r}.")
        object.__setattr__(self, "seed", int(seed))
        if not isinstance(self.name, str) or not self.name:
            raise SpecError(f"name must be a non-empty string, got {self.name!r}.")
        # reductions fit the simulation (e.g. a Welch segment no longer than the series), and
        # every stored variable has its own name
        units: defaultdict[str, str] = defaultdict(lambda: "unknown")
        owner = {n: "an output" for n, _ in self.simulation.outputs}
        owner.update({n: "an axis" for n in names})
        made_by: dict[str, tuple[str, Any]] = {}
        for r in self.keep.reductions:
            red = resolve(r, self.keep.options_dict)
            # names only: a network reduction checks its time unit again with the model's (store layout)
            made = red.variables([n for n, _ in self.simulation.outputs],
                                 defaultdict(lambda: "unknown", {**units, "time": "s"}) if red.network else units,
                                 self.simulation)
            for v in made:
                if v in owner:
                    raise SpecError(f"reduction {r!r} stores a variable {v!r}, which is also {owner[v]}; "
                                    f"rename the {owner[v].split()[-1]} (e.g. {v}_out).")
                owner[v] = f"made by reduction {r!r}"
                made_by[v] = (r, made[v])
        if self.design.kind == "adaptive":
            self._check_refine_on(made_by)
        # tile names must be axis names
        if isinstance(self.storage.tile, tuple):
            dims = self.dims
            for k, v in self.storage.tile:
                if k not in dims:
                    raise SpecError(f"storage.tile names {k!r}, which is not a dimension; dimensions: {list(dims)}."
                                    + did_you_mean(k, dims))
                if v > dims[k]:
                    raise SpecError(f"storage.tile[{k!r}] = {v} is larger than the {dims[k]} points of {k!r}.")
        elif isinstance(self.storage.tile, int) and self.storage.tile > self.n_points:
            raise SpecError(f"storage.tile = {self.storage.tile} is larger than the grid ({self.n_points} points).")

    # adaptive designs ---------------------------------------------------------
    def _check_adaptive(self) -> None:
        """An adaptive design refines within bounds, one base size per axis, tiles in points."""
        design = self.design
        for a in self.axes:
            if a.form != "bounds":
                hint = (f" (for {a.form} [{a.args[0]:g}, {a.args[1]:g}, ...]: bounds: [{a.args[0]:g}, {a.args[1]:g}])"
                        if a.form in ("linspace", "logspace") else "")
                raise SpecError(f"axis {a.path!r} gives {a.form}; an adaptive design refines within bounds: give "
                                f"bounds: [low, high]{hint} and the base grid's size in design.base.")
        if len(design.base) != len(self.axes):
            raise SpecError(f"design.base = {list(design.base)} gives {len(design.base)} sizes for "
                            f"{len(self.axes)} axes ({', '.join(a.name for a in self.axes)}); give one per axis.")
        lat = Lattice(design.base, design.levels)
        if lat.size > MAX_LATTICE:
            raise SpecError(f"design: base {list(design.base)} with {design.levels} levels makes a finest grid of "
                            f"{' x '.join(map(str, lat.shape))} = {lat.size:,} points; refinement works on arrays of "
                            f"each level's grid, at most {MAX_LATTICE:,} points: use fewer levels or a coarser base.")
        if self.initial_states:
            raise SpecError("initial_states are not supported with an adaptive design yet; sweep one initial "
                            "state per run, or use a grid design.")
        t = self.storage.tile
        if isinstance(t, tuple) and (len(t) != 1 or t[0][0] != "point"):
            raise SpecError(f"storage.tile of an adaptive design is a number of points, e.g. tile: 64, got "
                            f"{dict(t)!r}.")
        if self.model.network is not None:
            raise SpecError("an adaptive design on a network is not supported yet; use a grid design.")

    def _check_refine_on(self, made_by: dict[str, tuple[str, Any]]) -> None:
        """Every ``refine_on`` is a stored per-point reduction variable; categorical ones
        (``flag_values``) take no tolerance, numeric ones need one."""
        design = self.design
        scalar = {v: info for v, (_, info) in made_by.items() if not info.dims}
        tol = design.tolerance_dict
        for v in design.refine_on:
            if v not in made_by:
                raise SpecError(f"design.refine_on names {v!r}, which is not a stored reduction; stored: "
                                f"{', '.join(sorted(scalar)) or 'none'} (keep.reductions makes them)."
                                + did_you_mean(v, sorted(scalar)))
            if v not in scalar:
                raise SpecError(f"design.refine_on: {v!r} holds several values per point; refine on one value per "
                                f"point, e.g. {', '.join(sorted(scalar)[:3])}.")
            categorical = "flag_values" in scalar[v].attrs
            if categorical and v in tol:
                raise SpecError(f"design.tolerance[{v!r}] = {tol[v]:g}, but {v!r} is categorical (it refines on any "
                                "change); drop its tolerance.")
            if not categorical and v not in tol:
                raise SpecError(f"design.refine_on: {v!r} is numeric and needs a tolerance (the change across a cell "
                                f"that refines it, in {scalar[v].attrs.get('units', 'its units')}): "
                                f"tolerance: {{{v}: ...}}.")

    @property
    def lattice(self) -> Lattice:
        """The finest grid of an adaptive design (:class:`sweeps.adaptive.Lattice`)."""
        if self.design.kind != "adaptive":
            raise SpecError(f"a {self.design.kind} design has no lattice; only an adaptive one does.")
        return Lattice(self.design.base, self.design.levels)

    @property
    def adaptive_tile(self) -> int:
        """Points per tile of an adaptive design: ``storage.tile``, or 64."""
        t = self.storage.tile
        if isinstance(t, tuple):
            return int(dict(t)["point"])
        return int(t) if isinstance(t, int) else ADAPTIVE_TILE  # an int or None (StorageSpec)

    @property
    def capacity(self) -> int:
        """Slots along ``point`` of an adaptive store: the budget (or the finest grid) plus
        room for each level to start on a tile of its own."""
        lat = self.lattice
        t = self.adaptive_tile
        points = min(self.design.budget or lat.size, lat.size)
        return -(-(points + self.design.levels * (t - 1)) // t) * t

    # shape ------------------------------------------------------------------
    @property
    def dims(self) -> dict[str, int]:
        """Dataset dimensions of the parameter space, in order, with sizes."""
        if self.design.kind == "grid":
            d = {a.name: a.size for a in self.axes}
        elif self.design.kind == "zip":
            d = {"point": self.axes[0].size}
        elif self.design.kind == "adaptive":
            d = {"point": self.capacity}
        else:
            d = {"point": self.design.n}
        if self.initial_states:
            d["init"] = len(self.initial_states)
        return d

    @property
    def store(self) -> str:
        """The store path (``storage.store``)."""
        return self.storage.store

    @property
    def n_points(self) -> int:
        return int(math.prod(self.dims.values()))

    # model checks -------------------------------------------------------------
    @property
    def is_network(self) -> bool:
        """Whether the model is a whole-brain network (``model.network``)."""
        return self.model.network is not None

    def circuit(self) -> CircuitTemplate | Network:
        """The circuit template (or network) with the fixed parameter values applied."""
        if self.model.network is not None:
            return self._network()
        c = CircuitTemplate.from_yaml(self.model.template)
        model = c.model
        known = set(model.params) | set(model.states)
        for path, _ in self.model.params:
            if path not in known and not expand_wildcard(path, sorted(known)):
                raise SpecError(f"model.params: unknown parameter path {path!r}." + did_you_mean(path, sorted(known)))
        c.update_var(node_vars=dict(self.model.params))
        for a in self.axes:
            for path in a.paths:
                if path not in known and not expand_wildcard(path, sorted(known)):
                    raise SpecError(f"axis path {path!r} is not a parameter of {model.name!r}."
                                    + did_you_mean(path, sorted(known)))
        _check_gamma_axes(self.axes, c.model)
        for label, vals in self.initial_states:
            for path, _ in vals:
                if path not in model.states:
                    raise SpecError(f"initial_states.{label}: {path!r} is not a state variable of {model.name!r}."
                                    + did_you_mean(path, model.states))
        for name, path in self.simulation.outputs:
            if path not in model.exprs:
                raise SpecError(f"output {name!r}: unknown variable path {path!r}." + did_you_mean(path, model.exprs))
        for r in self.keep.reductions:
            if resolve(r, self.keep.options_dict).network:
                raise SpecError(f"reduction {r!r} compares regions of a whole-brain network; this model is one "
                                "circuit. Give model.network, or drop it.")
        if self.simulation.noise:
            sim = self.simulation
            g = time_grid(sim.simulation_time, sim.step_size, sim.sampling_step_size, sim.cutoff)
            try:
                plan_noise(model, g, 1, get_solver(sim.solver), None, sim.noise_dict, self.seed, [0])
            except NMMError as exc:
                raise SpecError(f"simulation.noise: {exc}") from None
        return c

    def _network(self) -> Network:
        """The network, every path of the spec checked against it (regions, unit, G, speed)."""
        assert self.model.network is not None
        net = self.model.network.build()
        m = net.model

        def check(path: str, what: str, states: bool = True) -> None:
            if path in NETWORK_PARAMS:
                if path == "speed" and not m.has_speed:
                    raise SpecError(f"{what} 'speed': the network has no speed; give model.network.speed (m/s) "
                                    "to make delays from its tract lengths.")
                return
            try:
                upath, _ = m.unit_path(path)
            except NMMError as exc:
                raise SpecError(f"{what}: {exc}") from None
            ok = set(m.unit.params) | (set(m.unit.states) if states else set())
            if upath not in ok:
                raise SpecError(f"{what} {path!r} is not a parameter{' or state' if states else ''} of the unit "
                                f"{m.unit.name!r}." + did_you_mean(upath, sorted(ok)))

        for path, _ in self.model.params:
            check(path, "model.params")
        try:
            net.update_var(node_vars=dict(self.model.params))
        except NMMError as exc:
            raise SpecError(f"model.params: {exc}") from None
        for a in self.axes:
            if a.targets:
                raise SpecError(f"axis {a.name!r} scales several targets; on a network sweep G (every weight) or "
                                "speed (every delay) instead.")
            check(a.path, "axis path")
        if self.initial_states:
            raise SpecError("initial_states on a network are not supported yet; set initial values with model.params "
                            "(a state path sets every region, <region>/<path> one) or sweep them as an axis.")
        sim = self.simulation
        try:
            make_network_plan(net.model, None, simulation_time=sim.simulation_time, step_size=sim.step_size,
                              sampling_step_size=sim.sampling_step_size, cutoff=sim.cutoff,
                              outputs=dict(sim.outputs), solver=sim.solver, float_precision=sim.float_precision,
                              noise=sim.noise_dict or None, seed=self.seed, point_ids=[0],
                              solver_options=dict(sim.solver_options) or None)
            for r in self.keep.reductions:
                resolve(r, self.keep.options_dict).check_network(net)
        except NMMError as exc:
            raise SpecError(f"{exc}") from None
        return net

    # serialization ------------------------------------------------------------
    def to_dict(self) -> dict:
        """The spec as YAML data; ``SweepSpec.from_dict(spec.to_dict()) == spec``."""
        return {
            "name": self.name,
            "model": self.model.to_dict(),
            "axes": [a.to_dict() for a in self.axes],
            "design": self.design.to_dict(),
            "simulation": self.simulation.to_dict(),
            "keep": self.keep.to_dict(),
            "storage": self.storage.to_dict(),
            "seed": self.seed,
            **({"initial_states": {lbl: dict(v) for lbl, v in self.initial_states}} if self.initial_states else {}),
        }

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=False)

    def hash(self) -> str:
        """A hash of everything that determines the stored numbers (not the store path)."""
        d = self.to_dict()
        d["storage"] = {k: v for k, v in d["storage"].items() if k != "store"}
        d.pop("name")
        return hashlib.sha256(json.dumps(d, sort_keys=True, default=str).encode()).hexdigest()[:32]

    def with_store(self, store: str) -> "SweepSpec":
        return replace(self, storage=replace(self.storage, store=str(store)))

    @classmethod
    def from_dict(cls, d: Any, base_dir: str | Path | None = None) -> "SweepSpec":
        """Build a spec from the mapping of a sweep (or workflow) file.

        Every section is checked against its dataclass's fields (unknown keys are named
        with the closest spellings); ``base_dir`` anchors a relative ``storage.store``.
        """
        if not isinstance(d, dict):
            raise SpecError(f"a sweep file must hold a mapping, got {type(d).__name__}.")
        _check_keys(d, field_names(cls) + _WORKFLOW_SECTIONS, "the sweep file")
        for req in ("model", "axes", "simulation", "storage"):
            if req not in d:
                raise SpecError(f"the sweep file has no {req!r} section.")
        m = d["model"]
        if not isinstance(d["axes"], list):
            raise SpecError("axes must be a list of {path: ..., linspace: [start, stop, num]} entries.")
        sim = _check_keys(d["simulation"], field_names(SimulationSpec), "simulation")
        if "outputs" in sim and not isinstance(sim["outputs"], dict):
            raise SpecError("simulation.outputs must map names to paths, e.g. {V_pce: pc/rpo_e_in/v}.")
        st = dict(_check_keys(d["storage"], field_names(StorageSpec), "storage"))
        if "compression" in st and st["compression"] is None:
            st["compression"] = "none"
        store = st.get("store")
        if isinstance(store, str) and base_dir is not None and "://" not in store and not Path(store).is_absolute():
            st["store"] = str(Path(base_dir) / store)
        return cls(
            name=str(d.get("name", "sweep")),
            model=ModelSpec.from_dict({"template": m} if isinstance(m, str) else m, "model"),
            axes=tuple(axis_from_dict(a) for a in d["axes"]),
            design=DesignSpec.from_dict(d.get("design", "grid"), "design"),
            simulation=SimulationSpec.from_dict(sim, "simulation"),
            keep=KeepSpec.from_dict(d.get("keep") or {}, "keep"),
            storage=StorageSpec.from_dict(st, "storage"),
            seed=d.get("seed", 0),
            initial_states=d.get("initial_states") or (),
        )

    @classmethod
    def from_yaml(cls, path_or_text: str | Path) -> "SweepSpec":
        """Read a sweep or workflow file (or YAML text).

        A relative ``storage.store`` is taken relative to the current directory.

        Raises
        ------
        SpecError
            With the bad value and the fix.
        """
        text = str(path_or_text)
        p = Path(text)
        if "\n" not in text and (p.suffix in (".yaml", ".yml") or p.exists()):
            check_file(p, "sweep file", error=SpecError)
            d = load_yaml_file(p, what="the sweep file", error=SpecError)
            if d is None:
                raise SpecError(f"sweep file {str(p)!r} is empty; a sweep file holds name, model, axes, simulation "
                                "and storage.")
            return cls.from_dict(d)
        return cls.from_dict(load_yaml_text(text, "", what="the sweep file", error=SpecError))
