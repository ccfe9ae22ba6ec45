"""Running a sweep on any dask Client, and resuming it after a crash."""
from __future__ import annotations

import contextlib
import json
import sys
import traceback

import numpy as np

from . import config
from .errors import StoreError, SweepFailed
from .plan import tile_at, tile_points, tile_shape
from .progress import Progress
from .spec import SweepSpec
from .store import (StoreLock, check_chunks, create_store, exists, model_hash_now, open_done, read_meta)
from .task import run_tile

__all__ = ["run_sweep", "resume", "sweep_status"]


@contextlib.contextmanager
def _client_or_local(client):
    """The caller's client, or the ``local`` cluster profile (a LocalCluster sized to the
    machine unless the user's profile says otherwise), closed afterwards."""
    if client is not None:
        yield client
        return
    from .cluster import client_for

    with client_for(None) as c:
        yield c


def run_sweep(spec: SweepSpec, client=None, progress: bool | None = None, retries: int | None = None) -> str:
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
        If the spec does not fit the model (checked before anything is written).
    StoreError
        If the store exists with a different spec, or another driver holds it.
    SweepFailed
        If tiles failed after their retries; all other tiles are stored and marked done.

    Notes
    -----
    Running the same spec on an existing store of that spec continues it (as
    :func:`resume`).
    """
    circuit = spec.circuit()  # validates paths before any file is touched
    store = spec.storage.store
    with StoreLock(store):
        if exists(store):
            meta = read_meta(store)
            if meta.spec_hash != spec.hash():
                raise StoreError(
                    f"store {store!r} holds a different sweep (spec hash {meta.spec_hash[:12]} vs "
                    f"{spec.hash()[:12]}); choose another storage.store, or resume it with its own spec "
                    f"(`nmm resume {store}`)."
                )
            _check_model(meta, circuit, store)
            shape = meta.tile_shape
        else:
            shape = tile_shape(spec)
            create_store(spec, circuit, shape)
        return _execute(spec, store, shape, client, progress, retries)


def resume(store: str, client=None, spec: SweepSpec | None = None, progress: bool | None = None,
           retries: int | None = None) -> str:
    """Finish a sweep: compute only the tiles not marked done.

    Parameters
    ----------
    store : str
    client : distributed.Client, optional
    spec : SweepSpec, optional
        If given, it must be the spec the store was made with (same hash).

    Raises
    ------
    StoreError
        If the store is not a sweep store, its spec differs from ``spec``, its model's
        template files changed since, or another driver holds it.
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


def _check_model(meta, circuit, store) -> None:
    if model_hash_now(circuit) != meta.model_hash:
        raise StoreError(
            f"the template files of {meta.spec.model.template!r} changed since store {store!r} was made; "
            "finishing it would mix two models. Restore the files or start a new store."
        )


def sweep_status(store: str) -> dict:
    """Done and total tiles, diverged points, and the spec summary of a store."""
    meta = read_meta(store)
    done = np.asarray(open_done(store, mode="r")[:])
    import zarr

    status = np.asarray(zarr.open_array(store, path="status", mode="r")[...])
    return {"store": store, "name": meta.spec.name, "tiles_done": int(done.sum()), "tiles_total": int(done.size),
            "points_total": int(status.size), "points_ok": int((status == 1).sum()),
            "points_diverged": int((status == 2).sum()), "tile_shape": meta.tile_shape,
            "dims": meta.spec.dims}


def _describe_points(spec: SweepSpec, tile) -> dict:
    pts = tile_points(spec, tile)
    return {path: [float(v.min()), float(v.max())] for path, v in pts.items()}


def _execute(spec, store, shape, client, progress, retries) -> str:
    check_chunks(store, spec, shape)
    done_arr = open_done(store)
    done = np.asarray(done_arr[:])
    todo = [int(i) for i in np.flatnonzero(~done)]
    progress = bool(config.get("sweep.progress", override_with=progress))
    retries = int(config.get("sweep.retries", override_with=retries))
    if not todo:
        return store
    failures = []
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
        from distributed import as_completed

        try:
            for fut in as_completed(futures):
                tile = by_key[fut.key]
                if fut.status == "finished":
                    rep = fut.result()
                    done_arr[tile.index] = True  # only the driver writes the done mask
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
