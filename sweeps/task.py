"""The task that computes one tile: simulate its points, reduce, write its region."""
from __future__ import annotations

import time
from dataclasses import dataclass
from functools import lru_cache

import numba
import numpy as np
import xarray as xr

from . import config
from .plan import Tile, tile_point_ids, tile_points
from .reductions import TileResult, resolve
from .spec import SweepSpec
from .store import STATUS_DIVERGED, STATUS_OK

__all__ = ["run_tile", "compute_tile", "TileReport"]


@dataclass(frozen=True, eq=False)
class TileReport:
    """What a finished tile reports back to the driver.

    Attributes
    ----------
    index : int
    n_points : int
    n_diverged : int
    seconds : float
    status : ndarray of int8, the tile's shape
        The points' status (1 ok, 2 diverged). The task does not write it: the driver
        writes it into the store, then marks the tile done, so a point reads "ok" only
        once its tile's data is stored.
    """

    index: int
    n_points: int
    n_diverged: int
    seconds: float
    status: np.ndarray


@lru_cache(maxsize=4)
def _circuit(spec: SweepSpec):
    return spec.circuit()


def compute_tile(spec: SweepSpec, tile: Tile) -> xr.Dataset:
    """Simulate and reduce one tile; the dataset of its region (no I/O)."""
    import nmm

    sim = spec.simulation
    circuit = _circuit(spec)
    reds = [resolve(r, spec.keep.options_dict) for r in spec.keep.reductions]
    keep_series = spec.keep.series or any(r.needs_series for r in reds)
    params = tile_points(spec, tile)
    ds = nmm.simulate(
        circuit, params, simulation_time=sim.simulation_time, step_size=sim.step_size,
        sampling_step_size=sim.sampling_step_size, outputs=dict(sim.outputs), solver=sim.solver,
        cutoff=sim.cutoff, float_precision=sim.float_precision, keep_series=keep_series, summaries=True,
        noise=sim.noise_dict or None, seed=spec.seed, point_ids=tile_point_ids(spec, tile),
        **dict(sim.solver_options),
    )
    outputs = [n for n, _ in sim.outputs]
    model = circuit.model
    res = TileResult(
        outputs=outputs,
        units={**{n: model.unit(p) for n, p in sim.outputs}, "time": circuit.time_unit},
        times=ds["time"].values if keep_series else np.empty(0),
        series={o: ds[o].values for o in outputs} if keep_series else None,
        stats={o: np.stack([ds[f"{o}_mean"].values, ds[f"{o}_min"].values, ds[f"{o}_max"].values])
               for o in outputs},
        status=ds["status"].values,
        params=params,
        dt=float(ds.attrs["sampling_step_size"]),
    )
    shape = tile.shape
    pdims = tuple(d for d, _, _ in tile.slices)
    out = {}
    if spec.keep.series:
        for o in outputs:
            a = res.series[o]
            out[o] = (pdims + ("time",), a.reshape(shape + a.shape[1:]))
    for red in reds:
        info = red.variables(outputs, res.units, sim)
        for name, arr in red.compute(res).items():
            arr = np.asarray(arr)
            edims = tuple(d for d, _, _ in info[name].dims)
            out[name] = (pdims + edims, arr.reshape(shape + arr.shape[1:]).astype(info[name].dtype, copy=False))
    status = np.where(res.status == 0, STATUS_OK, STATUS_DIVERGED).astype(np.int8)
    out["status"] = (pdims, status.reshape(shape))
    return xr.Dataset(out)


def run_tile(spec: SweepSpec, tile: Tile, store: str) -> TileReport:
    """Compute one tile and write exactly its region of the store (``mode='r+'``), all but
    its ``status``, which goes back to the driver in the report.

    Every chunk is written, even one that holds only the fill value (an all-NaN tile of
    diverged points), so that a done tile missing a chunk is known to be damaged.
    A pure function of (spec, tile): running it twice writes the same bytes.
    """
    t0 = time.perf_counter()
    threads = min(int(config.get("sweep.threads-per-task")), numba.config.NUMBA_NUM_THREADS)
    numba.set_num_threads(max(1, threads))
    ds = compute_tile(spec, tile)
    status = np.asarray(ds["status"].values, dtype=np.int8).reshape(tile.shape)
    ds.drop_vars("status").to_zarr(store, region=tile.region, mode="r+", zarr_format=3, consolidated=False,
                                   write_empty_chunks=True)
    n_div = int((status == STATUS_DIVERGED).sum())
    return TileReport(tile.index, tile.size, n_div, time.perf_counter() - t0, status)
