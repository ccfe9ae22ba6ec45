"""Running a sweep on any dask Client, and resuming it after a crash.

The driver creates the store (after checking the sweep's size against ``nmm.limits``),
submits one task per tile not done, and for each finished tile writes the tile's
``status`` from the task's report and then its ``done`` mark. Continuing a store
(:func:`resume`, or :func:`run_sweep` on an existing store) first verifies it
(:func:`sweeps.verify`): tiles with a missing or damaged chunk lose their done mark and
are computed again, with a :class:`~sweeps.verify.StoreDamageWarning` saying how many.

An adaptive design runs level by level (:func:`_execute_adaptive`): the driver decides a
level's points from the stored values of the levels before it, writes them as
coordinates, and sends them as tiles; continuing replays the same decisions and submits
only the tiles not done.
"""
from __future__ import annotations

import contextlib
import json
import sys
import traceback
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import NotRequired, TypedDict

import numpy as np
import zarr
from distributed import Client, as_completed

from nmm.circuit import CircuitTemplate
from nmm.network import Network

from . import config
from .cluster import client_for
from .errors import StoreError, SweepFailed
from .adaptive import refine
from .plan import Tile, check_limits, level_tiles, lattice_points, tile_at, tile_points, tile_shape
from .progress import Progress
from .spec import SweepSpec
from .store import (STATUS_DIVERGED, STATUS_OK, StoreLock, StoreMeta, check_chunks, create_store, exists,
                    model_hash_now, open_coordinates, open_done, open_status, read_meta, tile_variables)
from .task import run_tile
from .verify import StoreDamageWarning, read_done, verify

__all__ = ["run_sweep", "resume", "sweep_status", "SweepStatus"]


class SweepStatus(TypedDict):
    """What :func:`sweep_status` reports of a store."""

    store: str
    name: str
    tiles_done: int
    tiles_total: int
    points_total: int
    points_ok: int
    points_diverged: int
    tile_shape: dict[str, int]
    dims: dict[str, int]
    done_unreadable: list[int]
    level: NotRequired[int]    # adaptive designs: the last level planned so far
    levels: NotRequired[int]   # adaptive designs: the design's levels


@contextlib.contextmanager
def _client_or_local(client: Client | None) -> Iterator[Client]:
    """The caller's client, or the ``local`` cluster profile (a LocalCluster sized to the
    machine unless the user's profile says otherwise), closed afterwards."""
    if client is not None:
        yield client
        return
    with client_for(None) as c:
        yield c


def run_sweep(spec: SweepSpec, client: Client | None = None, progress: bool | None = None,
              retries: int | None = None) -> str:
    """Run a sweep: create its store, compute every tile on the client, mark tiles done.

    Parameters
    ----------
    spec : SweepSpec
    client : distributed.Client, optional
        Any client (LocalCluster, a scheduler address, SLURMCluster, ...). Default: a
        LocalCluster with one single-threaded worker per core, closed afterwards.
    progress : bool, optional
        Draw a progress bar on stderr (default: ``nmm.sweep.progress``).
    retries : int, optional
        Retries of a failing tile (default: ``nmm.sweep.retries``).

    Returns
    -------
    str
        The store path.

    Raises
    ------
    SpecError
        If the spec does not fit the model, or the sweep is bigger than the
        ``nmm.limits`` settings (both checked before anything is allocated or written).
    StoreError
        If the store exists with a different spec, or another driver holds it.
    SweepFailed
        If tiles failed after their retries; all other tiles are stored and marked done.

    Notes
    -----
    Running the same spec on an existing store of that spec continues it (as
    :func:`resume`, verifying it first).
    """
    circuit = spec.circuit()  # validates paths before any file is touched
    store = spec.storage.store
    if exists(store):
        with StoreLock(store):
            return _continue(spec, circuit, store, client, progress, retries)
    shape = tile_shape(spec)
    check_limits(spec, shape)  # before the lock, the store, any array or graph
    made = [] if "://" in store else [d for d in Path(store).parents if not d.exists()]
    try:
        with StoreLock(store):
            if exists(store):  # made by another driver meanwhile
                return _continue(spec, circuit, store, client, progress, retries)
            create_store(spec, circuit, shape)
            return _execute(spec, store, shape, client, progress, retries, fresh=True)
    except BaseException:
        if not exists(store):  # nothing left on disk: the folders made for the lock and the store
            for d in made:
                with contextlib.suppress(OSError):
                    d.rmdir()
        raise


def _continue(spec: SweepSpec, circuit: CircuitTemplate | Network, store: str, client: Client | None, progress: bool | None,
              retries: int | None) -> str:
    """Continue an existing store of this spec (the lock held)."""
    meta = read_meta(store)
    if meta.spec_hash != spec.hash():
        raise StoreError(
            f"store {store!r} holds a different sweep (spec hash {meta.spec_hash[:12]} vs "
            f"{spec.hash()[:12]}); choose another storage.store, or resume it with its own spec "
            f"(`nmm resume {store}`)."
        )
    _check_model(meta, circuit, store)
    return _execute(spec, store, meta.tile_shape, client, progress, retries)


def resume(store: str, client: Client | None = None, spec: SweepSpec | None = None, progress: bool | None = None,
           retries: int | None = None) -> str:
    """Finish a sweep: verify the store, then compute the tiles not marked done and the
    tiles that failed verification.

    Parameters
    ----------
    store : str
    client : distributed.Client, optional
    spec : SweepSpec, optional
        If given, it must be the spec the store was made with (same hash).
    progress, retries
        As in :func:`run_sweep`.

    Returns
    -------
    str
        The store path.

    Raises
    ------
    StoreError
        If the store is not a sweep store, its spec differs from ``spec``, its model's
        template files changed since, or another driver holds it.
    SweepFailed
        If tiles failed after their retries.

    Warns
    -----
    StoreDamageWarning
        When tiles failed verification (a chunk missing, truncated, or failing its
        checksum; an unreadable done mark): it says how many and which, and they are
        computed again. ``warning.report`` is the :class:`~sweeps.verify.VerifyReport`.
    """
    store = str(store)
    meta = read_meta(store)
    if spec is not None and spec.hash() != meta.spec_hash:
        raise StoreError(
            f"cannot resume {store!r} with this spec: it differs from the one the store was made with "
            f"(hash {spec.hash()[:12]} vs {meta.spec_hash[:12]}). Resume without a spec to use the stored one."
        )
    spec = meta.spec
    circuit = spec.circuit()
    _check_model(meta, circuit, store)
    with StoreLock(store):
        return _execute(spec, store, meta.tile_shape, client, progress, retries)


def _check_model(meta: StoreMeta, circuit: CircuitTemplate | Network, store: str) -> None:
    if model_hash_now(circuit) != meta.model_hash:
        net = meta.spec.model.network
        what = (f"the unit template {net.unit!r} or the connectome {net.connectome_ref!r}" if net is not None
                else f"the template files of {meta.spec.model.template!r}")
        raise StoreError(
            f"{what} changed since store {store!r} was made; "
            "finishing it would mix two models. Restore the files or start a new store."
        )


def sweep_status(store: str) -> SweepStatus:
    """Done and total tiles, ok and diverged points, and the spec summary of a store.

    A point counts as ok or diverged only where its tile is marked done (the driver
    writes a tile's status, then its done mark). An unreadable done mark counts as not
    done and is listed in ``done_unreadable``; :func:`sweeps.verify` checks the data.
    """
    store = str(store)
    meta = read_meta(store)
    spec, shape = meta.spec, meta.tile_shape
    done, done_damage = read_done(store)
    dims = spec.dims
    status_arr = open_status(store, mode="r")
    try:
        status = np.asarray(status_arr[...])
    except Exception:  # noqa: BLE001 (a damaged chunk, reported by verify: read tile by tile)
        status = np.zeros(status_arr.shape, dtype=np.int8)
        for t in np.flatnonzero(done):
            region = tuple(slice(a, b) for _, a, b in tile_at(spec, shape, int(t)).slices)
            try:
                status[region] = status_arr[region]
            except Exception:  # noqa: BLE001
                pass
    if spec.design.kind == "adaptive":
        tiles_total, points_total, ok, diverged, level = _adaptive_status(spec, store, shape, done, status)
        return {"store": store, "name": spec.name, "tiles_done": int(done.sum()), "tiles_total": tiles_total,
                "points_total": points_total, "points_ok": ok, "points_diverged": diverged,
                "tile_shape": shape, "dims": dims, "done_unreadable": [d.tile for d in done_damage],
                "level": level, "levels": spec.design.levels}
    # a point counts where its tile is done
    grid = done.reshape([-(-n // shape[d]) for d, n in dims.items()])
    counted = status[grid[np.ix_(*(np.arange(n) // shape[d] for d, n in dims.items()))]]
    ok, diverged = int((counted == STATUS_OK).sum()), int((counted == STATUS_DIVERGED).sum())
    return {"store": store, "name": spec.name, "tiles_done": int(done.sum()), "tiles_total": int(done.size),
            "points_total": spec.n_points, "points_ok": ok, "points_diverged": diverged,
            "tile_shape": shape, "dims": dims, "done_unreadable": [d.tile for d in done_damage]}


def _describe_points(spec: SweepSpec, tile: Tile) -> dict[str, list[float]]:
    pts = tile_points(spec, tile)
    return {path: [float(v.min()), float(v.max())] for path, v in pts.items()}


def _verified_done(store: str, done_arr: zarr.Array) -> np.ndarray:
    """Verify the store; clear the done mark of every tile that failed (and rewrite an
    unreadable one); the done mask to work from."""
    rep = verify(store)
    done = rep.done.copy()
    bad = rep.damaged_tiles
    if bad:
        for t in bad:
            done_arr[t] = False  # unmark first: the tile's data is not trusted any more
            done[t] = False
        warnings.warn(StoreDamageWarning(
            f"{len(bad)} tile{'s' * (len(bad) != 1)} of {store!r} failed verification and will be computed "
            f"again:\n{rep.describe()}", rep), stacklevel=4)
    return done


def _execute(spec: SweepSpec, store: str, shape: dict[str, int], client: Client | None, progress: bool | None,
             retries: int | None, fresh: bool = False) -> str:
    if spec.design.kind == "adaptive":
        return _execute_adaptive(spec, store, shape, client, progress, retries, fresh)
    check_chunks(store, spec, shape)
    done_arr = open_done(store)
    if fresh:
        done = np.zeros(done_arr.shape[0], dtype=bool)
    else:
        done = _verified_done(store, done_arr)
    todo = [int(i) for i in np.flatnonzero(~done)]
    progress = bool(config.get("sweep.progress", override_with=progress))
    retries = int(config.get("sweep.retries", override_with=retries))
    if not todo:
        return store
    status_arr = open_status(store)
    with _client_or_local(client) as c:
        link = getattr(c, "dashboard_link", None)
        if progress and link:
            print(f"dask dashboard: {link}", file=sys.stderr)
        tiles = [tile_at(spec, shape, i) for i in todo]
        bar = Progress(len(tiles), "tiles", enabled=progress, already=int(done.sum()))
        try:
            failures = _compute(c, spec, store, tiles, status_arr, done_arr, bar, retries)
        finally:
            bar.close()
    _raise_failures(failures, len(tiles), retries, store)
    return store


def _compute(c: Client, spec: SweepSpec, store: str, tiles: list[Tile], status_arr: zarr.Array,
             done_arr: zarr.Array, bar: Progress, retries: int) -> list[dict[str, object]]:
    """Submit the tiles, write each finished tile's status then its done mark; the failures."""
    failures: list[dict[str, object]] = []
    h = spec.hash()[:16]
    futures = c.map(run_tile, [spec] * len(tiles), tiles, [store] * len(tiles),
                    key=[f"nmm-tile-{h}-{t.index}" for t in tiles], retries=retries, pure=False)
    by_key = {f.key: t for f, t in zip(futures, tiles)}
    try:
        for fut in as_completed(futures):
            tile = by_key[fut.key]
            if fut.status == "finished":
                rep = fut.result()
                # only the driver writes status and done: the status of a tile whose
                # data write failed never reads "ok"
                status_arr[tuple(slice(a, b) for _, a, b in tile.slices)] = rep.status
                done_arr[tile.index] = True
                bar.update(1, rep.n_points)
            else:
                exc = fut.exception()
                tb = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)[-3:])
                failures.append({"tile": tile.index, "points": _describe_points(spec, tile),
                                 "error": f"{type(exc).__name__}: {exc}", "traceback": tb})
                bar.update(1, 0)
            fut.release()
    except BaseException:
        for f in futures:
            f.cancel()
        raise
    return failures


def _raise_failures(failures: list[dict[str, object]], n_tiles: int, retries: int, store: str) -> None:
    if failures:
        lines = [f"  tile {f['tile']}: {f['error']} at points {json.dumps(f['points'])}" for f in failures[:20]]
        more = f"\n  ... and {len(failures) - 20} more" if len(failures) > 20 else ""
        raise SweepFailed(
            f"{len(failures)} of {n_tiles} tiles failed after {retries} retries; every other tile is stored "
            f"in {store!r}. Fix the cause and run `nmm resume {store}`:\n" + "\n".join(lines) + more,
            failures, store,
        )


# adaptive designs ----------------------------------------------------------------------


def _execute_adaptive(spec: SweepSpec, store: str, shape: dict[str, int], client: Client | None,
                      progress: bool | None, retries: int | None, fresh: bool = False) -> str:
    """Run (or continue) an adaptive sweep level by level.

    Each level's points are decided from the values stored for the levels before it
    (:func:`sweeps.adaptive.refine`, a pure function of them), placed in consecutive
    slots from a tile boundary, written as coordinates, and computed as tiles like any
    sweep. Continuing a store replays the same decisions from the same stored values, so it
    submits exactly the tiles of the level where the driver stopped that are not done,
    then goes on; done tiles are never recomputed, unless the stored values now choose
    other points for them (a damaged tile recomputed with other bits): those, and any
    slot an earlier plan filled past this plan's end, are emptied and planned again.
    """
    check_chunks(store, spec, shape)
    done_arr = open_done(store)
    done = np.zeros(done_arr.shape[0], dtype=bool) if fresh else _verified_done(store, done_arr)
    progress = bool(config.get("sweep.progress", override_with=progress))
    retries = int(config.get("sweep.retries", override_with=retries))
    design, lat, t = spec.design, spec.lattice, shape["point"]
    coords = open_coordinates(store, spec)
    status_arr = open_status(store)
    refine_on = {n: zarr.open_array(store, path=n, mode="r") for n in design.refine_on}
    tolerance = design.tolerance_dict
    categorical = [n for n in design.refine_on if n not in tolerance] + ["status"]
    left = min(design.budget or lat.size, lat.size)
    index = np.zeros(0, dtype=np.int64)
    values: dict[str, list[np.ndarray]] = {n: [] for n in [*design.refine_on, "status"]}
    slot = 0
    with contextlib.ExitStack() as stack:
        c: Client | None = None
        for level in range(1, lat.levels + 1):
            if level == 1:
                new = lat.grid_points(1)
            else:
                new = refine(lat, level - 1, index, {k: np.concatenate(v) for k, v in values.items()},
                             categorical, tolerance, budget=left, neighbours=design.neighbours).points
            if new.size == 0:
                break
            tiles = level_tiles(spec, slot, new)
            if not fresh:
                # a done tile holds the points an earlier run planned: if the stored values now
                # choose others (a recomputed tile with other bits), its data is not theirs
                _reset_tiles(store, spec, done_arr, done, _replanned(coords, tiles, level, done, t), t)
            todo = [tl for tl in tiles if not done[tl.index]]
            if not fresh:
                _clear_unreadable(store, spec, [tl for tl in todo if len(tl.points) < t], t)
            _write_plan(spec, coords, tiles, level, check=not fresh)
            if todo:
                if c is None:
                    c = stack.enter_context(_client_or_local(client))
                    link = getattr(c, "dashboard_link", None)
                    if progress and link:
                        print(f"dask dashboard: {link}", file=sys.stderr)
                bar = Progress(len(todo), f"tiles of level {level}", enabled=progress,
                               already=len(tiles) - len(todo))
                try:
                    failures = _compute(c, spec, store, todo, status_arr, done_arr, bar, retries)
                finally:
                    bar.close()
                _raise_failures(failures, len(todo), retries, store)
            region = slice(slot, slot + len(new))
            index = np.concatenate([index, new])
            for n, arr in refine_on.items():
                values[n].append(np.asarray(arr[region], dtype=float))
            values["status"].append(np.asarray(status_arr[region], dtype=float))
            slot += len(tiles) * t
            left -= len(new)
            if left <= 0:
                break
    if not fresh:  # slots an earlier plan filled beyond this one's end
        _reset_tiles(store, spec, done_arr, done, _filled_from(coords["level"], slot, t), t)
    return store


def _replanned(coords: dict[str, zarr.Array], tiles: list[Tile], level: int, done: np.ndarray,
               t: int) -> list[int]:
    """The done tiles whose stored ``level`` and ``lattice`` (over the whole chunk) are not
    this plan's."""
    out = []
    for tile in tiles:
        if not done[tile.index]:
            continue
        (_, a, b), = tile.slices
        want_level = np.zeros(t, dtype=np.int64)
        want_level[: b - a] = level
        want_lattice = np.zeros(t, dtype=np.int64)
        want_lattice[: b - a] = tile.points
        try:
            same = (np.array_equal(np.asarray(coords["level"][a:a + t]), want_level)
                    and np.array_equal(np.asarray(coords["lattice"][a:a + t]), want_lattice))
        except Exception:  # noqa: BLE001 (damaged: verify cleared its done mark already)
            same = False
        if not same:
            out.append(tile.index)
    return out


def _filled_from(level_arr: zarr.Array, slot: int, t: int) -> list[int]:
    """Tiles from ``slot`` on whose ``level`` chunk is not empty (or unreadable)."""
    out = []
    for i in range(slot // t, -(-level_arr.shape[0] // t)):
        try:
            filled = bool((np.asarray(level_arr[i * t:(i + 1) * t]) != 0).any())
        except Exception:  # noqa: BLE001
            filled = True
        if filled:
            out.append(i)
    return out


def _reset_tiles(store: str, spec: SweepSpec, done_arr: zarr.Array, done: np.ndarray, indices: list[int],
                 t: int) -> None:
    """Mark these tiles not done, then empty their chunks (whole-chunk writes of the fill
    value): their points are planned and computed again, or their slots stay empty."""
    if not indices:
        return
    warnings.warn(f"{len(indices)} tile{'s' * (len(indices) != 1)} of this adaptive store held points that the "
                  "values stored for the levels before them no longer choose (a tile recomputed with other "
                  "bits?); they are planned and computed again.", UserWarning, stacklevel=3)
    g = zarr.open_group(store, mode="r+")
    arrays = tile_variables(g, spec)
    for i in indices:
        done_arr[i] = False  # first: a stop from here on leaves the tile to be computed
        done[i] = False
        for _, arr in arrays:
            arr[i * t:min((i + 1) * t, arr.shape[0])] = arr.fill_value


def _clear_unreadable(store: str, spec: SweepSpec, tiles: list[Tile], t: int) -> None:
    """Reset to the fill value every unreadable chunk of these tiles (a level's last tile,
    which fills only part of its chunk). Their writes cover part of the chunk, so zarr
    merges them into the stored chunk: a corrupted one (checksum) would fail every write,
    and no resume could repair it. A whole-chunk write reads nothing."""
    if not tiles:
        return
    g = zarr.open_group(store, mode="r+")
    arrays = tile_variables(g, spec)  # the data, status and (adaptive) the coordinates along point
    for tile in tiles:
        (_, a, _), = tile.slices
        for _, arr in arrays:
            region = slice(a, min(a + t, arr.shape[0]))
            try:
                arr[region]
            except Exception:  # noqa: BLE001 (damaged: verify named it; the tile is recomputed)
                arr[region] = arr.fill_value


def _write_plan(spec: SweepSpec, coords: dict[str, zarr.Array], tiles: list[Tile], level: int,
                check: bool) -> None:
    """Write a level's coordinates (axes, then ``level``, then ``lattice``) tile by tile;
    with ``check``, only where the stored ones differ (a continued sweep rewrites nothing
    of the tiles it planned before)."""
    for tile in tiles:
        (_, a, b), = tile.slices
        idx = np.asarray(tile.points, dtype=np.int64)
        want = {**lattice_points(spec, idx), "level": np.full(len(idx), level, dtype=np.int8), "lattice": idx}
        for name, value in want.items():
            arr = coords[name]
            if check:
                try:
                    if np.array_equal(np.asarray(arr[a:b]), value):
                        continue
                except Exception:  # noqa: BLE001 (a damaged chunk: rewritten below)
                    pass
            arr[a:b] = value


def _adaptive_status(spec: SweepSpec, store: str, shape: dict[str, int], done: np.ndarray,
                     status: np.ndarray) -> tuple[int, int, int, int, int]:
    """(tiles planned, points planned, ok, diverged, last level planned) of an adaptive store."""
    arr = zarr.open_array(store, path="level", mode="r")
    try:
        level = np.asarray(arr[...])
    except Exception:  # noqa: BLE001 (a damaged chunk, which verify names: read the others one by one)
        level, c = np.full(arr.shape[0], -1, dtype=np.int64), arr.chunks[0]
        for i in range(-(-arr.shape[0] // c)):
            try:
                level[i * c:(i + 1) * c] = np.asarray(arr[i * c:(i + 1) * c])
            except Exception:  # noqa: BLE001 (its slots count as planned, as verify counts them)
                pass
    planned = level != 0
    top = int(level.max(initial=0))
    t = shape["point"]
    tiles_planned = int(np.unique(np.flatnonzero(planned) // t).size)
    counted = status[planned & np.repeat(done, t)[: status.size]]
    return (tiles_planned, int(planned.sum()), int((counted == STATUS_OK).sum()),
            int((counted == STATUS_DIVERGED).sum()), top)
