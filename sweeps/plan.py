"""Tiles: blocks of points that match the zarr chunks one to one.

Tiles cut each parameter dimension into consecutive runs of ``tile[d]`` points (the
last run may be shorter), exactly like a zarr chunk grid with chunk shape ``tile``. Each
tile is identified by its flat index in C order over the tile grid.
"""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy.stats import qmc

from . import config
from .spec import SweepSpec

__all__ = ["Tile", "tile_shape", "tiles", "n_tiles", "tile_points", "design_points", "expand"]


@dataclass(frozen=True)
class Tile:
    """One tile: its flat index and the slice it covers along each dimension."""

    index: int
    slices: tuple  # ((dim, start, stop), ...)

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
    """The tile shape: given in the spec, or chosen so one tile is ~``nmm.sweep.tile-seconds`` of work."""
    dims = spec.dims
    t = spec.storage.tile
    if isinstance(t, tuple):
        given = dict(t)
        return {d: given.get(d, n) for d, n in dims.items()}
    if t is None:
        sim = spec.simulation
        steps = sim.simulation_time / sim.step_size
        rate = float(config.get("sweep.point-steps-per-second"))
        t = max(1, int(float(config.get("sweep.tile-seconds")) * rate / steps))
    # fill the tile from the last dimension backwards
    shape = {}
    left = int(t)
    for d in reversed(list(dims)):
        shape[d] = max(1, min(dims[d], left))
        left = max(1, left // shape[d])
    return {d: shape[d] for d in dims}


def n_tiles(spec: SweepSpec, shape: dict[str, int]) -> int:
    return int(math.prod(-(-n // shape[d]) for d, n in spec.dims.items()))


def tiles(spec: SweepSpec, shape: dict[str, int]):
    """All tiles in flat-index order (a generator: big grids are never materialized)."""
    dims = spec.dims
    counts = [-(-n // shape[d]) for d, n in dims.items()]
    for flat, idx in enumerate(np.ndindex(*counts)):
        sl = tuple((d, i * shape[d], min((i + 1) * shape[d], n)) for (d, n), i in zip(dims.items(), idx))
        yield Tile(flat, sl)


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


def design_points(spec: SweepSpec) -> dict[str, np.ndarray]:
    """Coordinate values of every dimension (grid) or of every axis along ``point``."""
    if spec.design.kind == "grid":
        return {a.name: a.values for a in spec.axes}
    if spec.design.kind == "zip":
        return {a.name: a.values for a in spec.axes}
    u = _random_unit(spec.design.n, len(spec.axes), spec.design.method, spec.seed)
    return {a.name: a.scale_unit(u[:, i]) for i, a in enumerate(spec.axes)}


def tile_points(spec: SweepSpec, tile: Tile) -> dict[str, np.ndarray]:
    """Parameter path -> values of the tile's points, flattened in C order of the tile."""
    coords = design_points(spec)
    if spec.design.kind == "grid":
        axes = [coords[a.name][a0:b0] for a, (_, a0, b0) in zip(spec.axes, tile.slices)]
        values = dict(zip([a.name for a in spec.axes], (m.ravel() for m in np.meshgrid(*axes, indexing="ij"))))
    else:
        (_, a0, b0), = tile.slices
        values = {a.name: coords[a.name][a0:b0] for a in spec.axes}
    return expand(spec, values)


def expand(spec: SweepSpec, values: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Axis name -> values  to  model path -> values (applying target factors)."""
    out = {}
    for a in spec.axes:
        for path, factor in a.paths.items():
            out[path] = values[a.name] * factor if factor != 1.0 else values[a.name]
    return out
