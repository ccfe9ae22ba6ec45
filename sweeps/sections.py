"""The sections of a sweep specification: model, simulation, design, keep, storage.

Each section is a frozen dataclass, validated on construction, with ``to_dict`` and
``from_dict`` for its YAML form; :class:`sweeps.spec.SweepSpec` holds one of each.
"""
from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from nmm.engine import time_grid
from nmm.engine.plan import check_gamma_range
from nmm.errors import NMMError, did_you_mean
from nmm.network import Network
from nmm.solvers import SOLVERS as _SOLVERS
from nmm.solvers import get_solver
from nmm.validation import check_keys, field_names

from .axes import to_float
from .errors import SpecError
from .reductions import REDUCTIONS, resolve

__all__ = ["ModelSpec", "NetworkSpec", "SimulationSpec", "DesignSpec", "KeepSpec", "StorageSpec", "MAX_LATTICE",
           "ADAPTIVE_TILE"]


def _check_keys(d: Any, allowed: Iterable[str], where: str) -> dict:
    return check_keys(d, allowed, where, error=SpecError)


def _encode(value: Any) -> Any:
    """A field value as YAML data: pairs become mappings, other tuples lists."""
    if isinstance(value, tuple):
        if value and value[0] == "__list__":
            return [_encode(x) for x in value[1:]]
        if all(isinstance(x, tuple) and len(x) == 2 and isinstance(x[0], str) for x in value) and value:
            return {k: _encode(x) for k, x in value}
        return [_encode(x) for x in value]
    return value


class _Section:
    """``from_dict``/``to_dict`` of a spec section, derived from its dataclass fields.

    ``from_dict`` accepts exactly the field names (checked with did_you_mean), treats a
    missing key or ``null`` as the field's default, and requires :attr:`_required`;
    ``to_dict`` writes every field, leaving out those in :attr:`_optional` when they are
    empty, with :attr:`_encoders` for fields written in another form.
    """

    _required: ClassVar[tuple[str, ...]] = ()
    _optional: ClassVar[tuple[str, ...]] = ()
    _encoders: ClassVar[dict[str, Callable[[Any], Any]]] = {}

    @classmethod
    def from_dict(cls, d: Any, where: str) -> Any:
        d = _check_keys(d, field_names(cls), where)
        for req in cls._required:
            if d.get(req) is None:
                raise SpecError(f"{where} needs {req!r}.")
        return cls(**{k: v for k, v in d.items() if v is not None})

    def to_dict(self) -> Any:
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):  # type: ignore[arg-type]
            v = getattr(self, f.name)
            if f.name in self._optional and (v is None or (isinstance(v, (str, tuple, dict)) and not v)):
                continue
            out[f.name] = self._encoders.get(f.name, _encode)(v)
        return out


def _check_gamma_axes(axes: tuple, model: Any) -> None:
    """Refuse an axis whose delays need other gamma chain orders than the model's (one
    kernel has one number of states): the lowest and highest value decide, the order
    growing with the delay."""
    gamma = {dp for dp, _, _ in model.gamma}
    for a in axes:
        for path, factor in a.paths.items():
            if path not in gamma:
                continue
            if a.form == "values":
                ends = (min(a.args), max(a.args))
            elif a.form == "range":  # without making the values (an axis may declare 10**9)
                ends = (a.args[0], a.args[0] + (a.size - 1) * a.args[2])
            else:  # bounds, linspace, logspace: the first two arguments are the ends
                ends = (a.args[0], a.args[1])
            lo, hi = min(ends), max(ends)
            try:
                check_gamma_range(model, path, lo * factor, hi * factor)
            except NMMError as exc:
                raise SpecError(f"axis {a.name!r}: {exc} In a sweep file: a delay under model.params rebuilds "
                                "the chain for its order; sweep within one order.") from None


def _absolute_reference(ref: str) -> str:
    """A template reference whose file part is a relative path, made absolute (so a store
    made here resumes from any folder); dotted references are kept as they are."""
    for ext in (".yaml", ".yml"):
        head, sep, tail = ref.partition(ext)
        if sep and (not tail or tail.startswith("/")):
            path = Path(head + sep)
            if not path.is_absolute() and path.is_file():
                return str(path.resolve()) + tail
    return ref


def _absolute_path(ref: object) -> object:
    """A connectome reference whose relative file path exists here, made absolute."""
    if isinstance(ref, str) and not ref.startswith("nmm.") and Path(ref).exists():
        return str(Path(ref).resolve())
    if isinstance(ref, tuple):
        return tuple((k, _absolute_path(v)) for k, v in ref)
    return ref


@dataclass(frozen=True)
class NetworkSpec(_Section):
    """A whole-brain network: a unit on every region of a connectome (:class:`nmm.Network`)::

        network:
          unit: nmm.templates.jansenrit.JRC
          connectome: nmm.connectomes.gw80     # or a .npz / TVB .zip / folder, or {weights: f, lengths: f}
          coupling: {source: pc/pro/m, target: pc/rpo_e_in/m_in}
          speed: 4.0                           # m/s; delays = tract lengths / speed (omit: no delays)
          G: 1.0                               # global coupling (default 1)
    """

    unit: str
    connectome: object
    coupling: tuple = (("source", "pc/pro/m"), ("target", "pc/rpo_e_in/m_in"))
    speed: float | None = None
    G: float = 1.0

    _required: ClassVar = ("unit", "connectome")
    _optional: ClassVar = ("speed",)

    def __post_init__(self) -> None:
        if not isinstance(self.unit, str) or not self.unit:
            raise SpecError(f"model.network.unit must be a template reference such as nmm.templates.jansenrit.JRC, "
                            f"got {self.unit!r}.")
        object.__setattr__(self, "unit", _absolute_reference(self.unit))
        conn = self.connectome
        if isinstance(conn, dict):
            conn = tuple(sorted((str(k), str(v)) for k, v in check_keys(
                conn, ("weights", "lengths", "labels", "fc"), "model.network.connectome", error=SpecError).items()))
        if not isinstance(conn, (str, tuple)) or not conn:
            raise SpecError("model.network.connectome must be nmm.connectomes.gw80, a path (.npz, TVB .zip or "
                            f"folder) or {{weights: file, lengths: file}}, got {self.connectome!r}.")
        object.__setattr__(self, "connectome", _absolute_path(conn))
        cp = self.coupling
        if isinstance(cp, dict):
            cp = tuple(sorted(check_keys(cp, ("source", "target"), "model.network.coupling",
                                         error=SpecError).items()))
        if dict(cp).keys() != {"source", "target"}:
            raise SpecError(f"model.network.coupling must be {{source: <unit path>, target: <unit input path>}}, "
                            f"got {dict(cp)!r}.")
        object.__setattr__(self, "coupling", tuple((str(k), str(v)) for k, v in cp))
        if self.speed is not None:
            v = to_float(self.speed, "model.network.speed")
            if v <= 0:
                raise SpecError(f"model.network.speed = {v!r}; the conduction speed must be positive (m/s), "
                                "e.g. 4.0.")
            object.__setattr__(self, "speed", v)
        object.__setattr__(self, "G", to_float(self.G, "model.network.G"))

    @property
    def connectome_ref(self) -> str | dict[str, str]:
        """The connectome as :func:`nmm.connectomes.load_connectome` takes it."""
        c = self.connectome
        return c if isinstance(c, str) else {str(k): str(v) for k, v in c}  # type: ignore[attr-defined]

    def build(self) -> Network:
        """The network (reads the connectome)."""
        conn = self.connectome_ref
        try:
            return Network.from_connectome(self.unit, conn, coupling=dict(self.coupling), speed=self.speed,
                                           G=self.G)
        except NMMError as exc:
            raise SpecError(f"model.network: {exc}") from None


@dataclass(frozen=True)
class ModelSpec(_Section):
    """The circuit template (or a whole-brain ``network``) and fixed parameter values (path -> value)."""

    template: str = ""
    params: tuple = ()  # sorted (path, value) pairs
    network: NetworkSpec | None = None

    _optional: ClassVar = ("params", "network", "template")
    _encoders: ClassVar = {"network": lambda n: n.to_dict()}

    def __post_init__(self) -> None:
        if isinstance(self.network, dict):
            object.__setattr__(self, "network", NetworkSpec.from_dict(self.network, "model.network"))
        if self.network is not None and not isinstance(self.network, NetworkSpec):
            raise SpecError(f"model.network must be a mapping with unit and connectome, got {self.network!r}.")
        if self.network is not None:
            if self.template:
                raise SpecError("model gives both template and network; a network's template is its unit: "
                                "network: {unit: ...}.")
        elif not isinstance(self.template, str) or not self.template:
            raise SpecError(
                f"model.template must be a template reference such as "
                f"'model_templates.neural_mass_models.jansenrit.JRC', got {self.template!r}."
            )
        else:
            object.__setattr__(self, "template", _absolute_reference(self.template))
        items = self.params.items() if isinstance(self.params, dict) else self.params
        object.__setattr__(self, "params", tuple(sorted(
            (str(k), to_float(v, f"model.params[{k!r}]")) for k, v in items)))



@dataclass(frozen=True)
class SimulationSpec(_Section):
    """Time and solver settings, as in :func:`nmm.simulate`."""

    simulation_time: float
    step_size: float
    sampling_step_size: float | None = None
    solver: str = "rk4"
    cutoff: float = 0.0
    outputs: tuple = ()  # (name, path) pairs, in order
    float_precision: str = "float64"
    solver_options: tuple = ()
    noise: tuple = ()  # (path, frozen spec) pairs; see nmm.simulate(noise=...)

    _required: ClassVar = ("simulation_time", "step_size", "outputs")
    _optional: ClassVar = ("sampling_step_size", "solver_options", "noise")

    def __post_init__(self) -> None:
        for f in ("simulation_time", "step_size"):
            v = to_float(getattr(self, f), f"simulation.{f}")
            if v <= 0:
                raise SpecError(f"simulation.{f} must be positive, got {v!r}.")
            object.__setattr__(self, f, v)
        if self.sampling_step_size is not None:
            object.__setattr__(self, "sampling_step_size",
                               to_float(self.sampling_step_size, "simulation.sampling_step_size"))
        object.__setattr__(self, "cutoff", to_float(self.cutoff or 0.0, "simulation.cutoff"))
        if self.solver not in _SOLVERS:
            raise SpecError(f"simulation.solver {self.solver!r} is unknown; choose one of {', '.join(_SOLVERS)}."
                            + did_you_mean(str(self.solver), _SOLVERS))
        if self.float_precision not in ("float64", "float32"):
            raise SpecError(f"simulation.float_precision must be 'float64' or 'float32', got {self.float_precision!r}.")
        outs = self.outputs.items() if isinstance(self.outputs, dict) else self.outputs
        outs = tuple((str(k), str(v)) for k, v in outs)
        if not outs:
            raise SpecError("simulation.outputs is empty; name at least one, e.g. {V_pce: pc/rpo_e_in/v}.")
        for name, _ in outs:
            if "/" in name or name in ("status", "done", "time") or name.startswith("__"):
                raise SpecError(f"output name {name!r} cannot name a dataset variable; use e.g. V_pce.")
        object.__setattr__(self, "outputs", outs)
        opts = self.solver_options.items() if isinstance(self.solver_options, dict) else self.solver_options
        opts = tuple(sorted((str(k), v) for k, v in opts))
        if opts and not get_solver(self.solver).takes_options:
            raise SpecError(f"simulation.solver_options {dict(opts)} apply to solver 'scipy' only.")
        object.__setattr__(self, "solver_options", opts)
        nz = self.noise.items() if isinstance(self.noise, dict) else self.noise
        object.__setattr__(self, "noise", tuple(sorted((str(k), _freeze(v, f"simulation.noise[{k!r}]"))
                                                        for k, v in nz)))
        if self.noise and not get_solver(self.solver).supports_inputs:
            raise SpecError("simulation.noise needs solver euler or heun (or rk4 for random parameters).")
        # the same checks nmm.simulate does, at load time
        try:
            time_grid(self.simulation_time, self.step_size, self.sampling_step_size, self.cutoff)
        except NMMError as exc:
            raise SpecError(f"simulation: {exc}") from None

    @property
    def noise_dict(self) -> dict[str, object]:
        return {k: _thaw(v) for k, v in self.noise}


@dataclass(frozen=True)
class DesignSpec(_Section):
    """How axes combine: ``grid``, ``zip``, ``random`` (``n`` points, Sobol or LHS) or
    ``adaptive`` (a base grid refined level by level where the stored values change)::

        design:
          kind: adaptive
          base: [17, 17]            # the level-1 grid over the axes' bounds
          levels: 5                 # finest grid: (base - 1) * 2**(levels - 1) + 1 per axis
          refine_on: [V_pc_regime, V_pc_peak_frequency]
          tolerance: {V_pc_peak_frequency: 0.5}   # numeric ones; a regime refines on any change
          budget: 20000             # optional cap on the number of points
          neighbours: true          # also refine the cells next to a changing cell (default)

    See :mod:`sweeps.adaptive` for the refinement rule.
    """

    kind: str = "grid"
    n: int = 0
    method: str = "sobol"
    base: tuple = ()
    levels: int = 0
    refine_on: tuple = ()
    tolerance: tuple = ()   # sorted (variable, tolerance) pairs
    budget: int | None = None
    neighbours: bool = True

    _KINDS: ClassVar = ("grid", "zip", "random", "adaptive")

    def __post_init__(self) -> None:
        if self.kind not in self._KINDS:
            raise SpecError(f"design {self.kind!r} is unknown; use grid, zip, {{kind: random, n: 256}} or "
                            "{kind: adaptive, base: [17, 17], levels: 5, refine_on: [...]}."
                            + did_you_mean(str(self.kind), self._KINDS))
        if self.kind == "random":
            n = to_float(self.n, "design.n")
            if n != int(n) or n < 1:
                raise SpecError(f"design.n must be a positive whole number of points, got {self.n!r}.")
            object.__setattr__(self, "n", int(n))
            if self.method not in ("sobol", "lhs"):
                raise SpecError(f"design.method must be 'sobol' or 'lhs', got {self.method!r}.")
        if self.kind == "adaptive":
            self._check_adaptive()
        elif self.base or self.levels or self.refine_on or self.tolerance or self.budget is not None:
            raise SpecError(f"design.base, levels, refine_on, tolerance and budget belong to an adaptive design; "
                            f"this design is {self.kind!r}. Write design: {{kind: adaptive, ...}} or drop them.")

    def _check_adaptive(self) -> None:
        base = self.base
        if isinstance(base, (int, float, str)) or not isinstance(base, (list, tuple)) or not base:
            raise SpecError(f"design.base must list the base grid's points per axis, e.g. base: [17, 17], "
                            f"got {base!r}.")
        b = []
        for x in base:
            v = to_float(x, "design.base")
            if v != int(v) or v < 2:
                raise SpecError(f"design.base = {list(base)}: every axis needs a whole number of at least 2 "
                                "points (its bounds), e.g. base: [17, 17].")
            b.append(int(v))
        object.__setattr__(self, "base", tuple(b))
        lv = to_float(self.levels, "design.levels")
        if lv != int(lv) or not 1 <= lv <= 16:
            raise SpecError(f"design.levels must be a whole number from 1 to 16 (level 1 is the base grid), "
                            f"got {self.levels!r}.")
        object.__setattr__(self, "levels", int(lv))
        ro = self.refine_on
        if isinstance(ro, str):
            ro = (ro,)
        if not isinstance(ro, (list, tuple)) or not ro or not all(isinstance(x, str) and x for x in ro):
            raise SpecError(f"design.refine_on must list stored reductions whose change refines a cell, e.g. "
                            f"refine_on: [V_pc_regime], got {self.refine_on!r}.")
        if len(set(ro)) != len(ro):
            raise SpecError(f"design.refine_on lists a variable twice: {list(ro)}.")
        object.__setattr__(self, "refine_on", tuple(ro))
        tol = self.tolerance
        if isinstance(tol, dict):
            tol = tuple(tol.items())
        if not isinstance(tol, tuple):
            raise SpecError(f"design.tolerance must map variables to tolerances, e.g. "
                            f"{{V_pc_peak_frequency: 0.5}}, got {self.tolerance!r}.")
        parsed = []
        for k, v in tol:
            t = to_float(v, f"design.tolerance[{k!r}]")
            if t <= 0:
                raise SpecError(f"design.tolerance[{k!r}] = {t!r}; a tolerance must be positive (in the "
                                "variable's units), e.g. 0.5.")
            if k not in self.refine_on:
                raise SpecError(f"design.tolerance names {k!r}, which is not in refine_on {list(self.refine_on)}; "
                                "add it to refine_on or drop its tolerance.")
            parsed.append((str(k), t))
        object.__setattr__(self, "tolerance", tuple(sorted(parsed)))
        if self.budget is not None:
            bu = to_float(self.budget, "design.budget")
            if bu != int(bu) or bu < 1:
                raise SpecError(f"design.budget must be a positive whole number of points, got {self.budget!r}.")
            object.__setattr__(self, "budget", int(bu))
            n0 = math.prod(b)
            if self.budget < n0:
                raise SpecError(f"design.budget = {self.budget} is smaller than the base grid {list(b)} "
                                f"({n0} points); give budget >= {n0} or a coarser base.")
        if not isinstance(self.neighbours, bool):
            raise SpecError(f"design.neighbours must be true or false, got {self.neighbours!r}.")

    @property
    def tolerance_dict(self) -> dict[str, float]:
        return dict(self.tolerance)

    @classmethod
    def from_dict(cls, d: Any, where: str = "design") -> "DesignSpec":
        """``grid``, ``zip``, ``{kind: random, n: 256, method: sobol}`` or
        ``{kind: adaptive, base: [...], levels: ..., refine_on: [...], ...}``."""
        if isinstance(d, dict):  # each kind's own keys, so that a misspelt one is named among them
            kind = d.get("kind")
            if kind in _DESIGN_KEYS:
                _check_keys(d, _DESIGN_KEYS[kind], where)
            if isinstance(d.get("tolerance"), dict):
                d = {**d, "tolerance": tuple(d["tolerance"].items())}
        return cls(kind=d) if isinstance(d, str) else super().from_dict(d, where)

    def to_dict(self) -> Any:
        # grid and zip are written as a word, random as before adaptive designs existed:
        # the hashes of existing stores do not change
        if self.kind == "random":
            return {"kind": "random", "n": self.n, "method": self.method}
        if self.kind == "adaptive":
            out: dict[str, Any] = {"kind": "adaptive", "base": list(self.base), "levels": self.levels,
                                   "refine_on": list(self.refine_on)}
            if self.tolerance:
                out["tolerance"] = dict(self.tolerance)
            if self.budget is not None:
                out["budget"] = self.budget
            if not self.neighbours:
                out["neighbours"] = False
            return out
        return self.kind


#: the keys of a design mapping, by kind
_DESIGN_KEYS = {"random": ("kind", "n", "method"),
                "adaptive": ("kind", "base", "levels", "refine_on", "tolerance", "budget", "neighbours")}

#: the largest finest grid of an adaptive design (refinement holds arrays of a level's grid)
MAX_LATTICE = 2 ** 24

#: points per tile of an adaptive design without storage.tile
ADAPTIVE_TILE = 64

_REDUCTIONS_DEFAULT = ("mean", "min", "max")


@dataclass(frozen=True)
class KeepSpec(_Section):
    """What is stored per point: time series and reductions (by name)."""

    series: bool = True
    reductions: tuple = _REDUCTIONS_DEFAULT
    options: tuple = ()  # (section, tuple of (key, value)) pairs; see sweeps.analysis_reductions

    _optional: ClassVar = ("options",)
    _encoders: ClassVar = {"reductions": list}

    def __post_init__(self) -> None:
        if not isinstance(self.series, bool):
            raise SpecError(f"keep.series must be true or false, got {self.series!r}.")
        if isinstance(self.reductions, str) or not isinstance(self.reductions, (list, tuple)):
            raise SpecError(f"keep.reductions must be a list of names, e.g. [mean, peak], got {self.reductions!r}.")
        opts = self.options
        if opts is not None and not isinstance(opts, (dict, tuple)):
            raise SpecError("keep.options must be a mapping such as {spectral: {nperseg: 1024}}.")
        if isinstance(opts, dict):
            opts = tuple(sorted((str(k), _freeze(v, f"keep.options.{k}")) for k, v in opts.items()))
        object.__setattr__(self, "options", opts)
        reds = tuple(self.reductions)
        for r in reds:
            resolve(r, self.options_dict)  # raises SpecError with suggestions
        if len(set(reds)) != len(reds):
            raise SpecError(f"keep.reductions lists a reduction twice: {list(reds)}.")
        if not self.series and not reds:
            raise SpecError(f"keep stores nothing: set series: true or list reductions (e.g. {list(REDUCTIONS)[:3]}).")
        object.__setattr__(self, "reductions", reds)

    @property
    def options_dict(self) -> dict[str, object]:
        return {k: _thaw(v) for k, v in self.options}



def _freeze(v: object, what: str) -> Hashable:
    """A YAML value made hashable: mappings as sorted (key, value) pairs, lists as
    ``('__list__', *items)``; :func:`_thaw` undoes it."""
    if isinstance(v, dict):
        return tuple(sorted((str(k), _freeze(x, what)) for k, x in v.items()))
    if isinstance(v, list):
        return ("__list__",) + tuple(_freeze(x, what) for x in v)
    if v is None or isinstance(v, (str, int, float, bool)):
        return v
    raise SpecError(f"{what}: unsupported value {v!r}.")


def _thaw(v: object) -> object:
    if isinstance(v, tuple):
        if v and v[0] == "__list__":
            return [_thaw(x) for x in v[1:]]
        return {k: _thaw(x) for k, x in v}
    return v


@dataclass(frozen=True)
class StorageSpec(_Section):
    """Where and how results are stored."""

    store: str
    tile: object = None  # int (points per tile), tuple of (axis name, size), or None (auto)
    compression: tuple = (("codec", "zstd"), ("level", 3))

    _optional: ClassVar = ("tile",)
    _encoders: ClassVar = {"compression": lambda c: dict(c) if c else "none"}

    def __post_init__(self) -> None:
        if not isinstance(self.store, str) or not self.store:
            raise SpecError(f"storage.store must be a path such as out/sweep.zarr, got {self.store!r}.")
        t = self.tile
        if isinstance(t, dict):
            t = tuple(sorted((str(k), v) for k, v in t.items()))
        if isinstance(t, tuple):
            for k, v in t:
                n = to_float(v, f"storage.tile[{k!r}]")
                if n != int(n) or n < 1:
                    raise SpecError(f"storage.tile[{k!r}] must be a positive whole number, got {v!r}.")
            t = tuple((k, int(to_float(v, k))) for k, v in t)
        elif t is not None:
            n = to_float(t, "storage.tile")
            if n != int(n) or n < 1:
                raise SpecError(f"storage.tile must be a positive whole number of points, got {t!r}.")
            t = int(n)
        object.__setattr__(self, "tile", t)
        c = self.compression
        if c in (None, "none", False):
            c = ()
        elif isinstance(c, dict):
            c = tuple(sorted(c.items()))
        cd = dict(c)
        if cd:
            _check_keys(cd, ("codec", "level"), "storage.compression")
            if cd.get("codec") not in ("zstd", "blosc", "gzip"):
                raise SpecError(f"storage.compression.codec must be zstd, blosc or gzip, got {cd.get('codec')!r}.")
        object.__setattr__(self, "compression", c)
