"""Tiles: blocks of points that match the zarr chunks one to one, and the size of a sweep.

Tiles cut each parameter dimension into consecutive runs of ``tile[d]`` points (the
last run may be shorter), exactly like a zarr chunk grid with chunk shape ``tile``. Each
tile is identified by its flat index in C order over the tile grid.

:func:`sweep_size` estimates points, store bytes and tiles from the spec alone (nothing is
allocated), and :func:`check_limits` refuses a sweep past the ``nmm.limits`` settings
before any array, graph or file is made.
"""
from __future__ import annotations

import math
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy.stats import qmc

from dask.utils import format_bytes, parse_bytes

from nmm.circuit import CircuitTemplate
from nmm.connectomes import load_connectome
from nmm.engine import time_grid

from . import config
from .adaptive import axis_values
from .errors import SpecError
from .reductions import resolve
from .spec import SweepSpec

__all__ = ["Tile", "tile_shape", "tiles", "n_tiles", "tile_points", "tile_point_ids", "design_points", "expand",
           "lattice_axes", "lattice_points", "level_tiles",
           "SweepSize", "sweep_size", "check_limits"]


@dataclass(frozen=True)
class Tile:
    """One tile: its flat index and the slice it covers along each dimension.

    A tile of an adaptive design also carries its points (``points``: lattice indices,
    :mod:`sweeps.adaptive`), which the driver decides level by level; it covers the first
    ``len(points)`` slots of its chunk (the last tile of a level may leave the rest of its
    chunk empty: no other tile writes there).
    """

    index: int
    slices: tuple[tuple[str, int, int], ...]  # ((dim, start, stop), ...)
    points: tuple[int, ...] = ()  # adaptive designs: lattice indices of the tile's points

    @property
    def region(self) -> dict[str, slice]:
        return {d: slice(a, b) for d, a, b in self.slices}

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(b - a for _, a, b in self.slices)

    @property
    def size(self) -> int:
        return int(math.prod(self.shape))


def tile_shape(spec: SweepSpec) -> dict[str, int]:
    """The tile shape: given in the spec, or chosen so one tile is ~``nmm.sweep.tile-seconds`` of work
    (at most an eighth of a small grid, at least 256 points)."""
    dims = spec.dims
    if spec.design.kind == "adaptive":  # fixed: a level's points fill tiles of this many slots
        return {"point": spec.adaptive_tile}
    t = spec.storage.tile
    if isinstance(t, tuple):
        given = dict(t)
        return {d: given.get(d, n) for d, n in dims.items()}
    if t is None:
        sim = spec.simulation
        steps = sim.simulation_time / sim.step_size
        rate = float(config.get("sweep.point-steps-per-second"))
        t = max(1, int(float(config.get("sweep.tile-seconds")) * rate / steps))
        # small grids: at least ~8 tiles so that several workers share the work, but
        # no tile below one kernel block of points (per-task overhead)
        n = spec.n_points
        t = min(t, max(-(-n // 8), min(n, 256)))
    # fill the tile from the last dimension backwards
    shape = {}
    left = int(t)  # type: ignore[call-overload]  # an int here: tuples were handled above
    for d in reversed(list(dims)):
        shape[d] = max(1, min(dims[d], left))
        left = max(1, left // shape[d])
    return {d: shape[d] for d in dims}


def n_tiles(spec: SweepSpec, shape: dict[str, int]) -> int:
    return int(math.prod(-(-n // shape[d]) for d, n in spec.dims.items()))


def tiles(spec: SweepSpec, shape: dict[str, int]) -> Iterator[Tile]:
    """All tiles in flat-index order (a generator: big grids are never materialized).

    Raises
    ------
    SpecError
        For an adaptive design, whose tiles (and their points) are decided level by level
        as it runs.
    """
    if spec.design.kind == "adaptive":
        raise SpecError(_ADAPTIVE_TILES)
    dims = spec.dims
    counts = [-(-n // shape[d]) for d, n in dims.items()]
    for flat, idx in enumerate(np.ndindex(*counts)):
        sl = tuple((d, i * shape[d], min((i + 1) * shape[d], n)) for (d, n), i in zip(dims.items(), idx))
        yield Tile(flat, sl)


_ADAPTIVE_TILES = ("An adaptive design decides its tiles and their points level by level as it runs, from the "
                   "values stored for the levels before: run it with sweeps.run_sweep(spec) (or nmm run), "
                   "and read its points with xr.open_zarr(store) or sweeps.rasterize.")


def tile_at(spec: SweepSpec, shape: dict[str, int], index: int) -> Tile:
    dims = spec.dims
    counts = [-(-n // shape[d]) for d, n in dims.items()]
    idx = np.unravel_index(index, counts)
    sl = tuple((d, int(i) * shape[d], min((int(i) + 1) * shape[d], n)) for (d, n), i in zip(dims.items(), idx))
    return Tile(index, sl)


@lru_cache(maxsize=8)
def _random_unit(n: int, d: int, method: str, seed: int) -> np.ndarray:
    if method == "sobol":
        with warnings.catch_warnings():
            # scipy warns when n is not a power of 2 (balance is best then; documented)
            warnings.filterwarnings("ignore", message=".*balance properties of Sobol.*")
            return qmc.Sobol(d, scramble=True, seed=seed).random(n)
    return qmc.LatinHypercube(d, seed=seed).random(n)


def lattice_axes(spec: SweepSpec) -> dict[str, np.ndarray]:
    """Axis name -> the values of an adaptive design's finest grid along that axis."""
    lat = spec.lattice
    return {a.name: axis_values(a.args[0], a.args[1], n, a.scale == "log") for a, n in zip(spec.axes, lat.shape)}


def lattice_points(spec: SweepSpec, index: np.ndarray) -> dict[str, np.ndarray]:
    """Axis name -> values of the points at these lattice indices (adaptive designs)."""
    pos = spec.lattice.unravel(np.asarray(index, dtype=np.int64))
    return {name: v[pos[:, i]] for i, (name, v) in enumerate(lattice_axes(spec).items())}


def level_tiles(spec: SweepSpec, first_slot: int, points: np.ndarray) -> list[Tile]:
    """The tiles of one level of an adaptive design: its points (sorted lattice indices) in
    consecutive slots from ``first_slot`` (a tile boundary), ``tile`` points per tile."""
    t = spec.adaptive_tile
    if first_slot % t:
        raise ValueError(f"a level starts on a tile boundary, not at slot {first_slot}")
    out = []
    for j in range(-(-len(points) // t)):
        part = points[j * t:(j + 1) * t]
        a = first_slot + j * t
        out.append(Tile(a // t, (("point", a, a + len(part)),), tuple(int(x) for x in part)))
    return out


def design_points(spec: SweepSpec) -> dict[str, np.ndarray]:
    """Coordinate values of every dimension (grid) or of every axis along ``point``
    (an adaptive design: of its base grid; later levels are decided as it runs)."""
    if spec.design.kind == "adaptive":
        return lattice_points(spec, spec.lattice.grid_points(1))
    if spec.design.kind == "grid":
        return {a.name: a.values for a in spec.axes}
    if spec.design.kind == "zip":
        return {a.name: a.values for a in spec.axes}
    u = _random_unit(spec.design.n, len(spec.axes), spec.design.method, spec.seed)
    return {a.name: a.scale_unit(u[:, i]) for i, a in enumerate(spec.axes)}


def tile_points(spec: SweepSpec, tile: Tile) -> dict[str, np.ndarray]:
    """Parameter path -> values of the tile's points, flattened in C order of the tile."""
    if spec.design.kind == "adaptive":
        if not tile.points:
            raise SpecError(f"tile {tile.index} carries no points. " + _ADAPTIVE_TILES)
        return expand(spec, lattice_points(spec, np.asarray(tile.points)))
    coords = design_points(spec)
    sl = dict((d, (a0, b0)) for d, a0, b0 in tile.slices)
    if spec.design.kind == "grid":
        names = [a.name for a in spec.axes]
        ranges = [coords[n][slice(*sl[n])] for n in names]
    else:
        names = ["point"]
        ranges = [np.arange(*sl["point"])]
    if spec.initial_states:
        names.append("init")
        ranges.append(np.arange(*sl["init"]))
    mesh = dict(zip(names, (m.ravel() for m in np.meshgrid(*ranges, indexing="ij"))))
    if spec.design.kind == "grid":
        values = {a.name: mesh[a.name] for a in spec.axes}
    else:
        idx = mesh["point"].astype(int)
        values = {a.name: coords[a.name][idx] for a in spec.axes}
    out = expand(spec, values)
    if spec.initial_states:
        which = mesh["init"].astype(int)
        paths = sorted({p for _, vals in spec.initial_states for p, _ in vals})
        for path in paths:
            table = np.array([dict(vals).get(path, np.nan) for _, vals in spec.initial_states])
            v = table[which]
            if np.isnan(v).any():  # a set that does not name this state keeps the template's value
                v = np.where(np.isnan(v), _default_state(spec, path), v)
            out[path] = v
    return out


@lru_cache(maxsize=64)
def _default_state_cached(template: str, params: tuple, path: str) -> float:
    c = CircuitTemplate.from_yaml(template).update_var(node_vars=dict(params))
    return c.state_variables[path]


def _default_state(spec: SweepSpec, path: str) -> float:
    return _default_state_cached(spec.model.template, spec.model.params, path)


def tile_point_ids(spec: SweepSpec, tile: Tile) -> np.ndarray:
    """Global flat indices (C order over the spec's dimensions) of the tile's points,
    in the order of :func:`tile_points`: a point's random stream is seeded from it.
    An adaptive design's points are numbered by their lattice index (their flat index on
    the finest grid, whatever level and slot they have)."""
    if spec.design.kind == "adaptive":
        return np.asarray(tile.points, dtype=np.int64)
    dims = spec.dims
    ranges = [np.arange(a, b) for _, a, b in tile.slices]
    mesh = np.meshgrid(*ranges, indexing="ij")
    return np.ravel_multi_index([m.ravel() for m in mesh], tuple(dims.values()))


def expand(spec: SweepSpec, values: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Axis name -> values  to  model path -> values (applying target factors)."""
    out = {}
    for a in spec.axes:
        for path, factor in a.paths.items():
            out[path] = values[a.name] * factor if factor != 1.0 else values[a.name]
    return out


# size and limits ---------------------------------------------------------------


@dataclass(frozen=True)
class SweepSize:
    """How big a sweep is, from its spec alone.

    Attributes
    ----------
    points : int
        Points (the product of the parameter dimensions).
    store_bytes : int
        Uncompressed bytes of every stored variable: sum over variables of points x the
        sizes of its trailing dimensions (``time``, ``frequency``, ...) x its item size,
        plus the ``done`` mask.
    tiles : int
        Tiles (tasks in the graph, chunks per variable).
    variables : dict of str to int
        Uncompressed bytes of each variable.
    """

    points: int
    store_bytes: int
    tiles: int
    variables: dict[str, int]


def sweep_size(spec: SweepSpec, shape: dict[str, int] | None = None) -> SweepSize:
    """Estimate the size of a sweep without allocating anything of its size.

    Parameters
    ----------
    spec : SweepSpec
    shape : dict of str to int, optional
        The tile shape (default: :func:`tile_shape`).
    """
    shape = tile_shape(spec) if shape is None else shape
    points = spec.n_points
    sim = spec.simulation
    outputs = [n for n, _ in sim.outputs]
    per_point: dict[str, int] = {}
    if spec.keep.series:
        g = time_grid(sim.simulation_time, sim.step_size, sim.sampling_step_size, sim.cutoff)
        n_time = g.n_keep
        item = np.dtype(sim.float_precision).itemsize
        for o in outputs:
            per_point[o] = n_time * item
    units = {o: "1" for o in outputs} | {"time": "1"}
    n_regions = 1
    if spec.model.network is not None:  # every per-region variable holds one value per region
        n_regions = load_connectome(spec.model.network.connectome_ref).n_regions
        per_point = {k: v * n_regions for k, v in per_point.items()}
    for rname in spec.keep.reductions:
        red = resolve(rname, spec.keep.options_dict)
        if red.network:
            made = red.variables(outputs, units | {"time": "s"}, sim,  # type: ignore[call-arg]
                                 regions=[""] * n_regions)
            for vname, info in made.items():
                per_point[vname] = math.prod(len(v) for _, v, _ in info.dims) * np.dtype(info.dtype).itemsize
            continue
        for vname, info in red.variables(outputs, units, sim).items():
            trailing = math.prod(len(v) for _, v, _ in info.dims)
            per_point[vname] = trailing * n_regions * np.dtype(info.dtype).itemsize
    per_point["status"] = 1
    nt = n_tiles(spec, shape)
    variables = {k: points * v for k, v in per_point.items()} | {"done": nt}
    return SweepSize(points, int(sum(variables.values())), nt, variables)


#: (config key under nmm.limits, SweepSize attribute, what it counts)
_LIMITS = (("max-points", "points", "points"), ("max-store-bytes", "store_bytes", "of data to store (uncompressed)"),
           ("max-tiles", "tiles", "tiles"))


def _limit(key: str) -> int:
    v = config.get(f"limits.{key}")
    try:
        if key == "max-store-bytes":

            return int(parse_bytes(v))
        return int(float(str(v).replace("_", "")))
    except (TypeError, ValueError):
        raise SpecError(f"the setting nmm.limits.{key} must be a number, got {v!r}.") from None


def _fmt(n: int, what: str) -> str:
    if what.startswith("of data"):

        return f"{format_bytes(n)} ({n:,} bytes)"
    return f"{n:,}"


def check_limits(spec: SweepSpec, shape: dict[str, int] | None = None) -> SweepSize:
    """Refuse a sweep bigger than the ``nmm.limits`` settings (before anything is made).

    Returns
    -------
    SweepSize

    Raises
    ------
    SpecError
        Naming the size, the limit, and how to raise it (the dask config key and the
        ``DASK_NMM__LIMITS__...`` environment variable).
    """
    size = sweep_size(spec, shape)
    for key, attr, what in _LIMITS:
        value, limit = getattr(size, attr), _limit(key)
        if value > limit:
            env = "DASK_NMM__LIMITS__" + key.upper().replace("-", "_")
            hint = ""
            if attr == "store_bytes":
                big = max(size.variables, key=lambda v: size.variables[v])
                hint = (f" The largest variable is {big!r} ({_fmt(size.variables[big], what)} uncompressed); "
                        "keep fewer samples (keep.series: false, a longer sampling_step_size or cutoff) or fewer points.")
            elif attr == "tiles":
                hint = f" Tiles are {shape or tile_shape(spec)} points; give storage.tile a larger tile."
            raise SpecError(
                f"sweep {spec.name!r} has {_fmt(value, what)} {what} ({spec.dims}), more than the limit "
                f"nmm.limits.{key} = {_fmt(limit, what)}.{hint} If it is meant, raise the limit: "
                f"dask.config.set({{'nmm.limits.{key}': {value}}}), {key}: {value} under nmm: limits: in "
                f"~/.config/dask/nmm.yaml, or {env}={value} in the environment."
            )
    return size
