"""Running a sweep on any dask Client, and resuming it after a crash.

The driver creates the store (after checking the sweep's size against ``nmm.limits``),
submits one task per tile not done, and for each finished tile writes the tile's
``status`` from the task's report and then its ``done`` mark. Continuing a store
(:func:`resume`, or :func:`run_sweep` on an existing store) first verifies it
(:func:`sweeps.verify`): tiles with a missing or damaged chunk lose their done mark and
are computed again, with a :class:`~sweeps.verify.StoreDamageWarning` saying how many.
"""
from __future__ import annotations

import contextlib
import json
import sys
import traceback
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import TypedDict

import numpy as np
import zarr
from distributed import Client, as_completed

from nmm.circuit import CircuitTemplate
from nmm.network import Network

from . import config
from .cluster import client_for
from .errors import StoreError, SweepFailed
from .plan import Tile, check_limits, tile_at, tile_points, tile_shape
from .progress import Progress
from .spec import SweepSpec
from .store import (STATUS_DIVERGED, STATUS_OK, StoreLock, StoreMeta, check_chunks, create_store, exists,
                    model_hash_now, open_done, open_status, read_meta)
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
    failures: list[dict[str, object]] = []
    with _client_or_local(client) as c:
        link = getattr(c, "dashboard_link", None)
        if progress and link:
            print(f"dask dashboard: {link}", file=sys.stderr)
        tiles = [tile_at(spec, shape, i) for i in todo]
        h = spec.hash()[:16]
        futures = c.map(run_tile, [spec] * len(tiles), tiles, [store] * len(tiles),
                        key=[f"nmm-tile-{h}-{t.index}" for t in tiles], retries=retries, pure=False)
        by_key = {f.key: t for f, t in zip(futures, tiles)}
        bar = Progress(len(tiles), "tiles", enabled=progress, already=int(done.sum()))
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
        finally:
            bar.close()
    if failures:
        lines = [f"  tile {f['tile']}: {f['error']} at points {json.dumps(f['points'])}" for f in failures[:20]]
        more = f"\n  ... and {len(failures) - 20} more" if len(failures) > 20 else ""
        raise SweepFailed(
            f"{len(failures)} of {len(tiles)} tiles failed after {retries} retries; every other tile is stored "
            f"in {store!r}. Fix the cause and run `nmm resume {store}`:\n" + "\n".join(lines) + more,
            failures, store,
        )
    return store
