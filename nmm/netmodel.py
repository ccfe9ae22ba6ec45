"""A network of copies of one unit, coupled through a connectome, as data.

:class:`NetworkModel` is what the network kernel (:mod:`nmm.netcodegen`) and the engine
work on. The unit (any node or circuit template) is flattened once, with one external
input, the coupling, added to what its target input receives; the coupling of region
``i`` is::

    c_i(t) = G * sum_j W[i, j] * source_j(t - D[i, j])

with the weights ``W`` as a sparse (CSR, by target row) matrix, the source an expression
of the unit (``pc/pro/m``), ``G`` the global coupling and the delays ``D[i, j] =
length[i, j] / speed`` (tract lengths in mm, the speed in m/s), or delays given directly
in the unit's time units. None of this is code: a 2-region and a 1,000-region network
share one compiled kernel.

Parameter paths of a network:

- ``G``, ``speed``: the global coupling and the conduction speed (per point);
- ``pc/rpo_e_in/u`` or ``all/pc/rpo_e_in/u``: a unit parameter, the same on every region;
- ``<region>/pc/rpo_e_in/u``: one region's value (the other regions keep theirs).

State paths set initial values the same way.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import sympy as sp

from .errors import NMMError, ParameterError, TemplateError, did_you_mean
from .loader import CircuitDef
from .model import Model, build_model

__all__ = ["NetworkModel", "NetworkValues", "network_model", "resolve_network_params", "COUPLING",
           "NETWORK_PARAMS", "ALL", "delay_scale", "lane_speeds", "delay_range"]

#: the name of the unit's external input symbol (the coupling)
COUPLING = "__coupling__"
#: the network's own per-point parameters, after the unit's
NETWORK_PARAMS = ("G", "speed")
#: the prefix of a path that addresses every region
ALL = "all"
#: time units of a delay of 1 mm at 1 m/s, by the unit's time unit
_MM_PER_M_PER_S = {"s": 1e-3, "ms": 1.0}


def delay_scale(time_unit: str) -> float:
    """``speed * delay_scale`` is the speed in mm per time unit of the template.

    Raises
    ------
    TemplateError
        If the time unit is neither ``s`` nor ``ms`` (tract lengths cannot become delays).
    """
    try:
        return 1.0 / _MM_PER_M_PER_S[time_unit]
    except KeyError:
        raise TemplateError(
            f"the unit's time unit is {time_unit!r}, so tract lengths (mm) and a speed (m/s) cannot be turned into "
            "delays; declare time_unit: s or ms in its circuit template, or give delays in its time units."
        ) from None


@dataclass(frozen=True, eq=False)
class NetworkModel:
    """A connectome-coupled network of one unit.

    Attributes
    ----------
    name : str
    unit : Model
        The flattened unit; its right-hand side holds the symbol :data:`COUPLING`.
    source_path, target_path : str
        The coupled variable of the source region and the input it feeds in the target.
    source : sympy.Expr
        The source variable as an expression of the unit's states and parameters.
    labels : tuple of str
        Region names.
    indptr, indices, weights : ndarray
        The nonzero weights by target row (CSR): region ``i`` receives from
        ``indices[indptr[i]:indptr[i+1]]`` with ``weights[...]``.
    lengths : ndarray
        Per edge: the tract length (mm) when :attr:`has_speed`, else the delay (time units).
    has_speed : bool
        Delays are lengths over the speed (the parameter ``speed`` exists).
    scale : float
        ``speed * scale`` is the speed in mm per time unit (1 when delays are given directly).
    G, speed : float
        Default global coupling and speed.
    overrides : tuple of (str, float)
        Values set on the network by path (``r3/pc/rpo_e_in/u``), applied before a run's.
    time_unit : str
    """

    name: str
    unit: Model
    source_path: str
    target_path: str
    source: sp.Expr
    labels: tuple[str, ...]
    indptr: np.ndarray
    indices: np.ndarray
    weights: np.ndarray
    lengths: np.ndarray
    has_speed: bool
    scale: float
    G: float = 1.0
    speed: float = 1.0
    overrides: tuple[tuple[str, float], ...] = ()
    time_unit: str = "unknown"
    kinds: dict[str, str] = field(default_factory=dict, compare=False)

    @property
    def n_regions(self) -> int:
        return len(self.labels)

    @property
    def n_edges(self) -> int:
        return int(self.indices.size)

    @property
    def params(self) -> tuple[str, ...]:
        """The unit's parameters (one value on every region), then ``G`` and ``speed``."""
        return self.unit.params + NETWORK_PARAMS

    @property
    def param_values(self) -> tuple[float, ...]:
        return self.unit.param_values + (self.G, self.speed)

    @property
    def states(self) -> tuple[str, ...]:
        return self.unit.states

    def unit_path(self, path: str) -> tuple[str, int | None]:
        """The unit path and the region index (None: every region) of a network path.

        Raises
        ------
        ParameterError
            If the path names neither a unit variable nor a region.
        """
        known = self.unit.exprs
        if path in known:
            return path, None
        head, sep, rest = path.partition("/")
        if sep and head == ALL and rest in known:
            return rest, None
        if sep and rest in known:
            try:
                return rest, self.labels.index(head)
            except ValueError:
                raise ParameterError(f"{head!r} in {path!r} is not a region of network {self.name!r}."
                                     + did_you_mean(head, self.labels)
                                     + f" Regions: {', '.join(self.labels[:6])}"
                                     + (" ..." if len(self.labels) > 6 else "") + "; 'all/' sets every region."
                                     ) from None
        raise ParameterError(
            f"unknown path {path!r} in network {self.name!r}."
            + did_you_mean(rest if sep and head in (ALL, *self.labels) else path, known)
            + " Give a unit path (every region), all/<unit path>, <region>/<unit path>, G or speed."
        )

    def unit_of(self, path: str) -> str:
        """The unit of a network path: ``G`` is dimensionless, ``speed`` in m/s, the rest
        as the unit declares (``'unknown'`` for paths that name nothing)."""
        if path == "G":
            return "1"
        if path == "speed":
            return "m/s"
        try:
            return self.unit.unit(self.unit_path(path)[0])
        except ParameterError:
            return "unknown"

    def with_values(self, G: float | None = None, speed: float | None = None,
                    overrides: Sequence[tuple[str, float]] = ()) -> NetworkModel:
        """A copy with other defaults (no re-flattening)."""
        return NetworkModel(self.name, self.unit, self.source_path, self.target_path, self.source, self.labels,
                            self.indptr, self.indices, self.weights, self.lengths, self.has_speed, self.scale,
                            self.G if G is None else float(G), self.speed if speed is None else float(speed),
                            tuple(overrides), self.time_unit, self.kinds)


def network_model(unit: CircuitDef, weights: np.ndarray, lengths: np.ndarray | None, labels: Sequence[str], *,
                  source: str, target: str, speed: float | None, G: float = 1.0, time_unit: str = "unknown",
                  name: str = "network") -> NetworkModel:
    """Build a :class:`NetworkModel` from a unit and dense (N, N) matrices.

    Parameters
    ----------
    unit : CircuitDef
    weights : ndarray (N, N)
        ``weights[i, j]`` is the weight of the edge from region ``j`` to region ``i``.
    lengths : ndarray (N, N) or None
        Tract lengths (mm) when ``speed`` is given, else delays in the unit's time units;
        None: no delays.
    labels : sequence of str
    source, target : str
        The unit's coupled variable and the input it feeds.
    speed : float or None
        Conduction speed (m/s); None: ``lengths`` are delays.
    G : float, default: 1.0

    Raises
    ------
    TemplateError
        For a bad coupling path, a bad speed, or matrices of the wrong shape.
    """
    W = np.asarray(weights, dtype=float)
    n = W.shape[0]
    if W.ndim != 2 or W.shape != (n, n) or n < 1:
        raise TemplateError(f"weights must be a square (N, N) matrix, got shape {W.shape}.")
    Lm = np.zeros((n, n)) if lengths is None else np.asarray(lengths, dtype=float)
    lname = "lengths" if speed is not None else "delays"
    if Lm.shape != (n, n):
        raise TemplateError(f"{lname} have shape {Lm.shape}, the weights {W.shape}; give one value per weight.")
    for what, M in (("weights", W), (lname, Lm)):
        bad = ~np.isfinite(M) | (M < 0)
        if bad.any():
            i, j = np.argwhere(bad)[0]
            raise TemplateError(f"{what}[{i}, {j}] = {float(M[i, j])!r}; every entry must be finite and >= 0.")
    labels = tuple(str(x) for x in labels)
    if len(labels) != n or len(set(labels)) != n:
        raise TemplateError(f"labels must be {n} distinct names, got {len(labels)} ({len(set(labels))} distinct).")
    reserved = {p.split("/", 1)[0] for p in unit_paths(unit)} | {ALL, *NETWORK_PARAMS}
    for lbl in labels:
        if not lbl or "/" in lbl or lbl in reserved:
            raise TemplateError(f"region label {lbl!r} cannot be used: labels must be non-empty, without '/', "
                                f"and differ from {sorted(reserved)}.")
    if speed is not None:
        speed = float(speed)
        if not np.isfinite(speed) or speed <= 0:
            raise TemplateError(f"speed = {speed!r}; the conduction speed must be a positive number of m/s, e.g. 4.0.")
        scale = delay_scale(time_unit) if np.any(Lm[W != 0] > 0) else 1.0
    else:
        scale = 1.0
    G = float(G)
    if not np.isfinite(G):
        raise TemplateError(f"G = {G!r}; the global coupling must be a finite number.")
    unit_model = build_model(unit, {target: COUPLING})
    if source not in unit_model.exprs:
        raise TemplateError(f"coupling source {source!r} is not a variable of {unit.name!r}."
                            + did_you_mean(source, unit_model.exprs) + " Paths are 'node/operator/variable'.")
    src_expr = unit_model.expression(source)
    if sp.Symbol(COUPLING, real=True) in src_expr.free_symbols:
        raise TemplateError(f"coupling source {source!r} depends on the coupling target {target!r}: a region's "
                            "coupled output would be instantaneous in its own input; couple another variable.")
    rows, cols = np.nonzero(W)  # row-major: by target, sources increasing
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(rows, minlength=n), out=indptr[1:])
    return NetworkModel(
        name=name, unit=unit_model, source_path=source, target_path=target, source=src_expr, labels=labels,
        indptr=indptr, indices=cols.astype(np.int64), weights=W[rows, cols].astype(np.float64),
        lengths=Lm[rows, cols].astype(np.float64), has_speed=speed is not None, scale=scale, G=G,
        speed=1.0 if speed is None else speed, time_unit=time_unit, kinds=dict(unit_model.kinds),
    )


def unit_paths(unit: CircuitDef) -> list[str]:
    """The variable paths of a unit's nodes and sub-circuits (their first components
    cannot be region labels)."""
    return [f"{lbl}/" for lbl, _ in unit.nodes] + [f"{lbl}/" for lbl, _ in unit.circuits]


@dataclass(frozen=True, eq=False)
class NetworkValues:
    """Per-point values of a network run.

    Attributes
    ----------
    P : ndarray (n_unit_params + 2, N)
        Values shared by every region (the unit's parameters, then ``G`` and ``speed``).
    regional : tuple of int
        Unit parameter indices with a value per region.
    PR : ndarray (len(regional), n_regions, N)
        Their values.
    Y0 : ndarray (n_states, n_regions, N)
        Initial states.
    swept : dict of path to ndarray (N,)
        The array-valued entries, for coordinates.
    """

    P: np.ndarray
    regional: tuple[int, ...]
    PR: np.ndarray
    Y0: np.ndarray
    swept: dict[str, np.ndarray]

    @property
    def n_points(self) -> int:
        return int(self.P.shape[1])


def _values(path: str, val: object) -> np.ndarray:
    try:
        arr = np.asarray(val, dtype=float)
    except (TypeError, ValueError):
        raise ParameterError(f"value of {path!r} must be a number or a 1-D array of numbers, got {val!r}.") from None
    if arr.ndim > 1:
        raise ParameterError(f"value of {path!r} must be a number or a 1-D array (one value per point), "
                             f"got shape {arr.shape}.")
    if arr.ndim == 1 and arr.size == 0:
        raise ParameterError(f"value of {path!r} is an empty array.")
    if not np.all(np.isfinite(arr)):
        raise ParameterError(f"value of {path!r} contains {float(arr[~np.isfinite(arr)].ravel()[0])!r}; every "
                             "value must be finite.")
    return arr


def resolve_network_params(net: NetworkModel, params: Mapping[str, object] | None) -> NetworkValues:
    """Per-point and per-region values of a run (see the module docstring for paths).

    Entries that address every region are applied before those of one region, so
    ``{'all/x': 1, 'r3/x': 2}`` sets region r3 to 2 whatever the order.

    Raises
    ------
    ParameterError
        For unknown paths, paths of computed variables, bad values or mismatched lengths.
    """
    unit = net.unit
    pidx = {p: i for i, p in enumerate(net.params)}
    sidx = {s: i for i, s in enumerate(unit.states)}
    entries: list[tuple[str, int, int | None, bool, np.ndarray]] = []  # path, index, region, is_state, values
    n: int | None = None
    given = [(p, v, True) for p, v in net.overrides] + [(p, v, False) for p, v in (params or {}).items()]
    for path, val, fixed in given:
        arr = _values(path, val)
        if path in NETWORK_PARAMS:
            if path == "speed" and not net.has_speed:
                raise ParameterError("'speed' is not a parameter of this network: it has no tract lengths (its "
                                     "delays, if any, are given in time units). Build it with lengths and a speed.")
            if path == "speed" and np.any(arr <= 0):
                raise ParameterError(f"speed = {float(arr.min())!r}; the conduction speed must be positive (m/s).")
            entries.append((path, pidx[path], None, False, arr))
        else:
            upath, region = net.unit_path(path)
            if upath in pidx:
                entries.append((path, pidx[upath], region, False, arr))
            elif upath in sidx:
                entries.append((path, sidx[upath], region, True, arr))
            else:
                raise ParameterError(
                    f"{path!r} is not a parameter: {upath!r} is computed from other variables "
                    f"({net.kinds.get(upath, 'algebraic')}). Set a parameter or the initial value of a state."
                )
        if arr.ndim == 1 and not fixed:
            if n is not None and arr.size != n:
                raise ParameterError(f"value of {path!r} has {arr.size} points, others have {n}; all arrays must "
                                     "have the same length (one value per point).")
            n = arr.size
    n = n or 1
    R = net.n_regions
    P = np.empty((len(net.params), n))
    P[:] = np.asarray(net.param_values, dtype=float)[:, None]
    Y0 = np.empty((len(unit.states), R, n))
    Y0[:] = np.asarray(unit.state_values, dtype=float)[:, None, None]
    reg: dict[int, np.ndarray] = {}
    # fixed overrides first, then the run's values; within each, every-region before one-region
    order = sorted(range(len(entries)), key=lambda k: (k >= len(net.overrides), entries[k][2] is not None))
    for k in order:
        _, i, region, is_state, arr = entries[k]
        if is_state:
            if region is None:
                Y0[i] = arr
            else:
                Y0[i, region] = arr
        elif region is None:
            P[i] = arr
            reg.pop(i, None)
        else:
            if i not in reg:
                reg[i] = np.repeat(P[i][None, :], R, axis=0)
            reg[i][region] = arr
    regional = tuple(sorted(reg))
    PR = np.stack([reg[i] for i in regional]) if regional else np.zeros((0, R, n))
    swept = {e[0]: np.broadcast_to(e[4], (n,)).copy() for k, e in enumerate(entries)
             if k >= len(net.overrides) and e[4].ndim == 1}
    return NetworkValues(P, regional, PR, Y0, swept)


def lane_speeds(net: NetworkModel, P: np.ndarray) -> np.ndarray:
    """Per point, the speed in mm per time unit (1 when delays are given in time units):
    an edge's delay in steps is ``rint(length / lane_speed / dt)``, here and in the kernel."""
    if not net.has_speed:
        return np.ones(P.shape[1])
    return np.ascontiguousarray(P[len(net.unit.params) + 1] * net.scale, dtype=np.float64)


def delay_range(net: NetworkModel, spd: np.ndarray, dt: float, multistage: bool,
                solver: str = "heun") -> tuple[int, int]:
    """The smallest and largest delay in steps over the edges and points.

    ``multistage``: the run integrates noise or random parameters with a scheme that has
    stages between steps (heun), which the kernel cannot combine with zero-step edges.

    Raises
    ------
    NMMError
        If such a run meets an edge whose delay is shorter than one step.
    """
    if net.n_edges == 0:
        return 0, 0
    steps = np.rint(net.lengths[:, None] / spd[None, :] / dt)
    dmin, dmax = int(steps.min()), int(steps.max())
    if multistage and dmin < 1:
        e = int(np.argwhere(steps < 1)[0][0])
        tgt = int(np.searchsorted(net.indptr, e, side="right") - 1)
        raise NMMError(
            f"the edge {net.labels[int(net.indices[e])]} -> {net.labels[tgt]} has a delay shorter than one step; "
            f"with noise or random parameters, {solver} integrates networks whose every delay is at least one step "
            "(step_size). Use solver 'euler', a smaller step, or tract lengths and a speed that give every edge "
            "a delay."
        )
    return dmin, dmax
