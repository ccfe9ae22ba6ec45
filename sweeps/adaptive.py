"""Adaptive sweeps: where to put the points of the next level, and the map on the finest grid.

Design. Every point of an adaptive sweep lies on the *lattice*: the finest grid of the
design, ``(base[d] - 1) * 2**(levels - 1) + 1`` values per axis between the axis's bounds
(``numpy.linspace``, or ``numpy.geomspace`` for ``scale: log``), so a point is an integer
index and its coordinates are exact. Level ``k`` is the grid of stride
``2**(levels - k)`` on the lattice; level 1 is the base grid.

Refinement (:func:`refine`) is a pure function of the points computed so far and their
stored values, so the same spec gives the same points whatever the tiling, the workers or
the order in which tiles finished:

1. A *cell* of level ``k`` is a box of the level-``k`` grid whose ``2**d`` corners are all
   computed. It *changes* when, over its corners, a categorical variable (a regime; the
   point ``status`` always counts, so diverged next to ok is a change) takes two values,
   or a numeric one spans more than its tolerance, or is NaN at some corners only.
2. *Neighbour rule*: a boundary that runs close to a cell's edge can leave the next cell's
   corners all on one side, and would never be found once its neighbour is refined alone.
   So a computed cell that shares a face with a changing cell is refined too
   (``neighbours=True``, the default): refinement keeps a one-cell margin around every
   change at every level.
3. A refined cell adds every lattice point of stride ``2**(levels - k - 1)`` inside it that
   is not computed yet (in 2-D: its four edge midpoints and its centre).
4. *Budget*: when the new points exceed what the budget leaves, cells are taken in this
   order of priority, each with all its points, while they fit: categorical (or NaN) changes
   first, then numeric changes by decreasing ``span / tolerance``, then neighbour-only
   cells; ties by the lattice index of the cell's first corner.

New points come sorted by lattice index (flat, C order over the lattice).
:func:`rasterize` gives a stored adaptive sweep on the finest grid (or a level's grid):
each node takes the values of its nearest computed point, ties to the lowest lattice index.
"""
from __future__ import annotations

import itertools
import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import xarray as xr
from scipy.spatial import cKDTree

from .errors import SpecError

__all__ = ["Lattice", "refine", "Refinement", "rasterize", "is_adaptive", "axis_values"]


@dataclass(frozen=True)
class Lattice:
    """The finest grid of an adaptive design and its levels.

    Attributes
    ----------
    base : tuple of int
        Points per axis of the base grid (level 1), each at least 2.
    levels : int
        Number of levels; level ``k`` halves the cell size of level ``k - 1``.
    """

    base: tuple[int, ...]
    levels: int

    @property
    def shape(self) -> tuple[int, ...]:
        """Points per axis of the finest grid."""
        return tuple((b - 1) * 2 ** (self.levels - 1) + 1 for b in self.base)

    @property
    def size(self) -> int:
        """Points of the finest grid."""
        return int(math.prod(self.shape))

    def stride(self, level: int) -> int:
        """Lattice steps between neighbouring points of ``level``'s grid."""
        return 2 ** (self.levels - level)

    def grid_shape(self, level: int) -> tuple[int, ...]:
        """Points per axis of ``level``'s grid."""
        return tuple((b - 1) * 2 ** (level - 1) + 1 for b in self.base)

    def grid_points(self, level: int) -> np.ndarray:
        """Lattice indices of every point of ``level``'s grid, sorted."""
        s = self.stride(level)
        axes = [np.arange(0, n, s) for n in self.shape]
        mesh = np.meshgrid(*axes, indexing="ij")
        return np.sort(np.ravel_multi_index([m.ravel() for m in mesh], self.shape)).astype(np.int64)

    def unravel(self, index: np.ndarray) -> np.ndarray:
        """Lattice indices -> (n, d) integer positions."""
        return np.stack(np.unravel_index(np.asarray(index, dtype=np.int64), self.shape), axis=-1)

    def level_of(self, index: np.ndarray) -> np.ndarray:
        """The coarsest level whose grid holds each point."""
        pos = self.unravel(index)
        out = np.full(len(pos), self.levels, dtype=np.int64)
        for k in range(self.levels - 1, 0, -1):
            on = np.all(pos % self.stride(k) == 0, axis=1)
            out[on] = k
        return out


def axis_values(low: float, high: float, n: int, log: bool = False) -> np.ndarray:
    """The ``n`` lattice values of one axis: ``linspace`` (or ``geomspace``) over the bounds,
    so a dense grid of the finest size has exactly the same values."""
    return np.geomspace(low, high, n) if log else np.linspace(low, high, n)


@dataclass(frozen=True)
class Refinement:
    """What :func:`refine` decided.

    Attributes
    ----------
    points : ndarray of int64
        New lattice indices, sorted.
    cells_changed : int
        Cells of the level whose corner values change.
    cells_neighbour : int
        Cells refined by the neighbour rule only.
    cells_refined : int
        Cells whose points were taken (fewer than changed + neighbour when the budget cut).
    capped : bool
        Whether the budget left cells out.
    """

    points: np.ndarray
    cells_changed: int
    cells_neighbour: int
    cells_refined: int
    capped: bool


def _on_grid(lat: Lattice, level: int, index: np.ndarray, arrays: Sequence[np.ndarray],
             fills: Sequence[float]) -> tuple[np.ndarray, list[np.ndarray]]:
    """Scatter computed points of ``level``'s grid into dense arrays of that grid: a known
    mask and each value array (points off the grid are left out)."""
    s = lat.stride(level)
    shape = lat.grid_shape(level)
    pos = lat.unravel(index)
    on = np.all(pos % s == 0, axis=1)
    flat = np.ravel_multi_index(tuple((pos[on] // s).T), shape) if on.any() else np.zeros(0, dtype=np.int64)
    known = np.zeros(math.prod(shape), dtype=bool)
    known[flat] = True
    out = []
    for a, fill in zip(arrays, fills):
        g = np.full(math.prod(shape), fill, dtype=float)
        g[flat] = np.asarray(a, dtype=float)[on]
        out.append(g.reshape(shape))
    return known.reshape(shape), out


def _corners(a: np.ndarray) -> list[np.ndarray]:
    """The ``2**d`` corner views of every cell of a grid array (cells: shape - 1 per axis)."""
    d = a.ndim
    return [a[tuple(slice(e, a.shape[i] - 1 + e) for i, e in enumerate(offs))]
            for offs in itertools.product((0, 1), repeat=d)]


def _dilate(mask: np.ndarray) -> np.ndarray:
    """Cells that share a face with a cell of ``mask`` (mask included)."""
    out = mask.copy()
    for ax in range(mask.ndim):
        lo = [slice(None)] * mask.ndim
        hi = [slice(None)] * mask.ndim
        lo[ax], hi[ax] = slice(0, -1), slice(1, None)
        out[tuple(lo)] |= mask[tuple(hi)]
        out[tuple(hi)] |= mask[tuple(lo)]
    return out


def refine(lattice: Lattice, level: int, index: np.ndarray, values: Mapping[str, np.ndarray],
           categorical: Sequence[str] = (), tolerance: Mapping[str, float] | None = None,
           budget: int | None = None, neighbours: bool = True) -> Refinement:
    """The points of level ``level + 1``, from the computed points and their values.

    Parameters
    ----------
    lattice : Lattice
    level : int
        The last level computed (1 <= level < lattice.levels).
    index : ndarray of int, (n,)
        Lattice indices of every computed point (any level, any order).
    values : mapping of str to ndarray (n,)
        The variables refinement reads, aligned with ``index``.
    categorical : sequence of str
        Variables that refine on any change (regimes, the point status).
    tolerance : mapping of str to float
        Every other variable: the span over a cell's corners above which it refines.
    budget : int, optional
        At most this many new points (see the module docstring for the order of priority).
    neighbours : bool, default: True
        Refine the computed cells that share a face with a changing cell too.

    Returns
    -------
    Refinement

    Raises
    ------
    SpecError
        If ``level`` is out of range or a variable has neither a category nor a tolerance.
    """
    tolerance = dict(tolerance or {})
    if not 1 <= level < lattice.levels:
        raise SpecError(f"refine: level {level} is out of range; refine from level 1 to {lattice.levels - 1}.")
    for name in values:
        if name not in categorical and name not in tolerance:
            raise SpecError(f"refine: variable {name!r} is neither categorical nor has a tolerance; give "
                            f"tolerance={{{name!r}: ...}}.")
    index = np.asarray(index, dtype=np.int64)
    names = list(values)
    known, grids = _on_grid(lattice, level, index, [values[n] for n in names], [np.nan] * len(names))
    complete = np.logical_and.reduce(_corners(known))
    ncell = complete.shape
    cat = np.zeros(ncell, dtype=bool)   # categorical or NaN-mixed change
    ratio = np.zeros(ncell)             # numeric span / tolerance, where above 1
    for name, g in zip(names, grids):
        cs = np.stack(_corners(g))  # (2**d, *cells)
        nan = np.isnan(cs)
        some_nan = nan.any(axis=0) & ~nan.all(axis=0)
        if name in categorical:
            first = cs[0]
            diff = np.any((cs != first) & ~(nan & np.isnan(first)), axis=0)
            cat |= diff
        else:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN cells: span 0 below
                span = np.nanmax(cs, axis=0) - np.nanmin(cs, axis=0)
            span = np.where(np.isnan(span), 0.0, span)
            cat |= some_nan
            ratio = np.maximum(ratio, np.where(span > tolerance[name], span / tolerance[name], 0.0))
    changed = complete & (cat | (ratio > 0))
    extra = (_dilate(changed) & complete & ~changed) if neighbours else np.zeros(ncell, dtype=bool)
    chosen = changed | extra
    cells = np.flatnonzero(chosen)
    if cells.size == 0:
        return Refinement(np.zeros(0, dtype=np.int64), 0, 0, 0, False)
    flat_cat, flat_ratio, flat_extra = cat.ravel()[cells], ratio.ravel()[cells], extra.ravel()[cells]
    # the points of each cell at the next level: anchor * 2 + offset, offset in {0, 1, 2}^d with
    # at least one odd component (the even ones are the corners, computed already)
    anchors = np.stack(np.unravel_index(cells, ncell), axis=-1) * 2  # on the next level's grid
    offs = np.array([o for o in itertools.product((0, 1, 2), repeat=len(ncell))
                     if any(x == 1 for x in o)], dtype=np.int64)
    s_next = lattice.stride(level + 1)
    pos = (anchors[:, None, :] + offs[None, :, :]) * s_next  # (cells, offsets, d) lattice positions
    pts = np.ravel_multi_index(tuple(pos.reshape(-1, len(ncell)).T), lattice.shape).reshape(len(cells), -1)
    # order of priority: categorical first, numeric by decreasing ratio, neighbours last; ties by cell
    klass = np.where(flat_cat, 0, np.where(flat_extra, 2, 1))
    corner0 = np.ravel_multi_index(tuple((anchors // 2 * lattice.stride(level)).T), lattice.shape)
    order = np.lexsort((corner0, -np.where(klass == 1, flat_ratio, 0.0), klass))
    pts = pts[order]
    rank = np.repeat(np.arange(len(cells)), pts.shape[1])
    flat_pts = pts.ravel()
    # a point shared by two cells belongs to the first in the order of priority
    _, first = np.unique(flat_pts, return_index=True)
    own = np.zeros(flat_pts.size, dtype=bool)
    own[first] = True
    own &= ~np.isin(flat_pts, index)
    per_cell = np.bincount(rank[own], minlength=len(cells))
    take = np.ones(len(cells), dtype=bool)
    capped = False
    if budget is not None and per_cell.sum() > budget:
        take = np.cumsum(per_cell) <= budget
        # cells after the first that does not fit are left out too: the order is the priority
        if not take.all():
            take[np.argmin(take):] = False
        capped = True
    new = np.unique(flat_pts[own & take[rank]])
    return Refinement(new.astype(np.int64), int(changed.sum()), int(extra.sum()), int(take.sum()), capped)


# the map of a stored sweep --------------------------------------------------------------


def is_adaptive(ds: xr.Dataset) -> bool:
    """Whether a dataset is a stored adaptive sweep (a ``point`` dimension with ``lattice``)."""
    return "lattice" in ds.variables and ds["lattice"].dims == ("point",) and "nmm_lattice" in ds["lattice"].attrs


def rasterize(ds: xr.Dataset, level: int | None = None) -> xr.Dataset:
    """An adaptive sweep on a grid: the finest grid, or ``level``'s grid.

    Each grid node takes every variable of its nearest computed point (in lattice steps;
    ties go to the lowest lattice index), so a node that is a computed point takes its own
    values exactly. Points of levels above ``level`` are left out, and so are points not
    computed yet (status 0). The result has one dimension per axis with its values as the
    coordinate, so the regime and frequency maps of a grid sweep draw it unchanged.

    Parameters
    ----------
    ds : xarray.Dataset
        An adaptive sweep store (``xr.open_zarr(store)``).
    level : int, optional
        Use points up to this level, on its grid (default: every point, the finest grid).

    Returns
    -------
    xarray.Dataset
        Every variable along ``point`` on the grid; ``nearest_level``: the level of the
        point each node took its values from; ``distance``: how far it is, in lattice steps.

    Raises
    ------
    SpecError
        If ``ds`` is not an adaptive sweep, ``level`` is out of range, or no point is computed.

    Examples
    --------
    >>> grid = sweeps.rasterize(xr.open_zarr("out/jansenrit_regime_map_adaptive.zarr"))  # doctest: +SKIP
    >>> grid["V_pc_regime"].plot()                                                          # doctest: +SKIP
    """
    if not is_adaptive(ds):
        raise SpecError("rasterize needs an adaptive sweep (design: {kind: adaptive, ...}); this dataset has no "
                        "'lattice' coordinate along 'point'. A grid sweep is a map already.")
    la = ds["lattice"].attrs
    lat = Lattice(tuple(int(b) for b in la["nmm_lattice_base"]), int(la["nmm_lattice_levels"]))
    level = lat.levels if level is None else level
    if not isinstance(level, (int, np.integer)) or not 1 <= level <= lat.levels:
        raise SpecError(f"rasterize: level {level!r} is out of range; give 1 to {lat.levels} (or None: finest).")
    names = [str(n) for n in la["nmm_lattice_axes"]]
    index = np.asarray(ds["lattice"].values, dtype=np.int64)
    lev = np.asarray(ds["level"].values, dtype=np.int64)
    status = np.asarray(ds["status"].values) if "status" in ds else np.ones(index.size)
    use = np.flatnonzero((index >= 0) & (lev <= level) & (status != 0))
    if use.size == 0:
        raise SpecError(f"rasterize: no point of level <= {level} is computed yet; run or resume the sweep first.")
    s = lat.stride(level)
    gshape = lat.grid_shape(level)
    pos = lat.unravel(index[use]).astype(float)
    nodes = np.stack(np.meshgrid(*[np.arange(0, n, s) for n in lat.shape], indexing="ij"), axis=-1).reshape(-1, len(gshape))
    slot = _nearest(pos, index[use], nodes.astype(float))
    pick = use[slot]
    dist = np.sqrt(((pos[slot] - nodes) ** 2).sum(axis=1)).reshape(gshape)
    out = {}
    for name, var in ds.data_vars.items():
        if "point" not in var.dims or var.dims[0] != "point":
            continue
        vals = np.asarray(var.values)[pick]
        rest = var.dims[1:]
        out[name] = (tuple(names) + rest, vals.reshape(gshape + vals.shape[1:]), dict(var.attrs))
    out["nearest_level"] = (tuple(names), lev[pick].reshape(gshape).astype(np.int8),
                            {"units": "1", "long_name": "level of the computed point a node takes its values from"})
    out["distance"] = (tuple(names), dist, {"units": "1", "long_name": "distance to that point (lattice steps)"})
    coords: dict = {}
    for i, n in enumerate(names):
        c = ds[n]
        grid_vals = np.asarray(la["nmm_lattice_values"][i], dtype=float) if "nmm_lattice_values" in la else None
        vals = (grid_vals if grid_vals is not None else np.full(lat.shape[i], np.nan))[::s]
        coords[n] = (n, vals, dict(c.attrs))
    for dims, _, _ in out.values():
        for d in dims:
            if d not in coords and d in ds.coords:
                coords[d] = ds[d]
    res = xr.Dataset(out, coords=coords, attrs=dict(ds.attrs))
    res.attrs["nmm_rasterized_level"] = int(level)
    return res


def _nearest(pos: np.ndarray, index: np.ndarray, nodes: np.ndarray) -> np.ndarray:
    """For each node, the position in ``pos`` of its nearest point; ties to the lowest index."""
    tree = cKDTree(pos)
    k = min(len(pos), 3 ** pos.shape[1])
    d, j = tree.query(nodes, k=k)
    d = np.asarray(d).reshape(len(nodes), k)
    j = np.asarray(j).reshape(len(nodes), k)
    best = d[:, :1]
    tie = d <= best + 1e-9
    # among the nearest (equal distance), the lowest lattice index
    idx = np.where(tie, index[j], np.iinfo(np.int64).max)
    out = j[np.arange(len(nodes)), np.argmin(idx, axis=1)]
    # more equidistant points than the query returned (a node far from every point): all of them
    for n in np.flatnonzero(tie.all(axis=1) & (k < len(pos))):
        cand = np.asarray(tree.query_ball_point(nodes[n], best[n, 0] + 1e-9), dtype=np.int64)
        out[n] = cand[np.argmin(index[cand])]
    return out
