"""The task that computes one tile: the engine integrates its points, reductions run on
the :class:`~nmm.engine.BatchResult`, and the tile's region is written."""
from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numba
import numpy as np
import xarray as xr

from nmm.circuit import CircuitTemplate
from nmm.engine import BatchResult, RunPlan, Status, integrate, make_network_plan, make_plan, zero_step_edges
from nmm.model import Model
from nmm.netmodel import NetworkModel
from nmm.network import Network

from . import config
from .plan import Tile, tile_point_ids, tile_points
from .reductions import Reduction, TileResult, resolve
from .spec import SweepSpec
from .store import STATUS_DIVERGED

__all__ = ["run_tile", "compute_tile", "tile_plan", "TileReport"]


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
def _circuit(spec: SweepSpec) -> CircuitTemplate | Network:
    return spec.circuit()


def tile_plan(spec: SweepSpec, tile: Tile, model: Model | NetworkModel,
              reds: Sequence[Reduction]) -> tuple[RunPlan, dict[str, np.ndarray]]:
    """The engine's plan for one tile's points (series kept when the spec or a reduction
    needs them), and the points' parameter values."""
    sim = spec.simulation
    params = tile_points(spec, tile)
    kw = dict(
        simulation_time=sim.simulation_time, step_size=sim.step_size,
        sampling_step_size=sim.sampling_step_size, cutoff=sim.cutoff, outputs=dict(sim.outputs),
        solver=sim.solver, float_precision=sim.float_precision,
        keep_series=spec.keep.series or any(r.needs_series for r in reds),
        noise=sim.noise_dict or None, seed=spec.seed, point_ids=tile_point_ids(spec, tile),
        solver_options=dict(sim.solver_options), swept=swept_by(spec, model),
    )
    if isinstance(model, NetworkModel):
        plan = make_network_plan(model, params, staged=_staged(spec, model), **kw)  # type: ignore[arg-type]
    else:
        plan = make_plan(model, params, **kw)  # type: ignore[arg-type]
    return plan, params


@lru_cache(maxsize=8)
def _staged(spec: SweepSpec, model: NetworkModel) -> bool:
    """Whether some point of the whole sweep has a zero-step edge: then every tile's kernel
    carries the staged step of heun and rk4, so that a tile's bits do not depend on
    which speeds it holds."""
    speeds = np.concatenate([np.asarray(a.args if a.form == "bounds" else a.values, dtype=float)
                             for a in spec.axes if "speed" in a.paths] or [np.array([model.speed])])
    return zero_step_edges(model, speeds, spec.simulation.step_size)


def swept_by(spec: SweepSpec, model: Model | NetworkModel) -> tuple[str, ...]:
    """The parameters the sweep's axes set: every tile's kernel treats them as per-point
    values, even where a tile holds one value of an axis, so that the stored bits do not
    depend on the tiling."""
    if isinstance(model, NetworkModel):
        return tuple(sorted({p for a in spec.axes for p in a.paths}))
    params = set(model.params)
    return tuple(sorted({p for a in spec.axes for p in a.paths} & params))


def compute_tile(spec: SweepSpec, tile: Tile) -> xr.Dataset:
    """Simulate and reduce one tile; the dataset of its region (no I/O)."""
    sim = spec.simulation
    circuit = _circuit(spec)
    model = circuit.model
    reds = [resolve(r, spec.keep.options_dict) for r in spec.keep.reductions]
    plan, params = tile_plan(spec, tile, model, reds)
    result = integrate(model if isinstance(model, Model) else None, plan)
    outputs = list(result.names)
    unit = model.unit if isinstance(model, NetworkModel) else model
    units = {**{n: unit.unit(p) for n, p in sim.outputs}, "time": circuit.time_unit}
    shape = tile.shape
    pdims = tuple(d for d, _, _ in tile.slices)
    out = {}
    lead: tuple[str, ...]
    if result.regions:
        per_region, whole = _network_results(result, units, params, plan.keep_series)
    else:
        per_region, whole = _results(result, units, params, plan.keep_series), None
    if spec.keep.series and plan.keep_series:
        rd = ("region",) if result.regions else ()
        for i, o in enumerate(outputs):
            a = np.moveaxis(result.series[i], -1, 0)  # (points, time[, region])
            out[o] = (pdims + ("time",) + rd, a.reshape(shape + a.shape[1:]))
    for red in reds:
        if red.network:
            assert whole is not None  # the spec refuses network reductions on one circuit
            info = red.variables(outputs, units, sim, regions=result.regions)  # type: ignore[call-arg]
            values, lead = red.compute(whole), ()
        else:  # on a network: once per region
            info = red.variables(outputs, units, sim)
            values, lead = red.compute(per_region), (("region",) if result.regions else ())
        for name, arr in values.items():
            arr = np.asarray(arr)
            if lead:  # (points x regions, ...) -> (points, regions, ...)
                arr = arr.reshape((result.n_points, len(result.regions)) + arr.shape[1:])
            edims = lead + tuple(d for d, _, _ in info[name].dims)
            out[name] = (pdims + edims, arr.reshape(shape + arr.shape[1:]).astype(info[name].dtype, copy=False))
    status = result.status.reshape(shape)
    diverged = status == Status.DIVERGED
    if diverged.any():  # every stored number of a diverged point is NaN, whatever its reduction gave
        for name, (dims, arr) in out.items():
            if np.issubdtype(arr.dtype, np.floating):
                arr = np.array(arr, copy=True)
                arr[diverged] = np.nan
                out[name] = (dims, arr)
    out["status"] = (pdims, status)
    return xr.Dataset(out)


def _results(result: BatchResult, units: dict[str, str], params: dict[str, np.ndarray],
             keep_series: bool) -> TileResult:
    """What reductions read of one circuit's tile."""
    return TileResult(
        outputs=list(result.names), units=units,
        times=result.grid.times if keep_series else np.empty(0),
        # (points, time) views of the kernel's (outputs, time, points) array
        series={o: result.series[i].T for i, o in enumerate(result.names)} if keep_series else None,
        stats={o: result.stats[:, i] for i, o in enumerate(result.names)},
        status=result.status, params=params, dt=result.grid.dts)


def _network_results(result: BatchResult, units: dict[str, str], params: dict[str, np.ndarray],
                     keep_series: bool) -> tuple[TileResult, TileResult]:
    """What reductions read of a network's tile: every (point, region) as one row for the
    per-region reductions, and (points, regions, time) for the network reductions."""
    n, R = result.n_points, len(result.regions)
    names = list(result.names)
    # kernel layout (outputs, time, regions, points) -> (points, regions, time)
    series = {o: result.series[i].transpose(2, 1, 0) for i, o in enumerate(names)} if keep_series else None
    flat = TileResult(
        outputs=names, units=units, times=result.grid.times if keep_series else np.empty(0),
        series={o: np.ascontiguousarray(a).reshape(n * R, -1) for o, a in series.items()} if series else None,
        stats={o: result.stats[:, i].transpose(0, 2, 1).reshape(3, n * R) for i, o in enumerate(names)},
        status=np.repeat(result.status, R), params={k: np.repeat(v, R) for k, v in params.items()},
        dt=result.grid.dts)
    whole = TileResult(
        outputs=names, units=units, times=flat.times, series=series,
        stats={o: result.stats[:, i].transpose(0, 2, 1) for i, o in enumerate(names)},
        status=result.status, params=params, dt=result.grid.dts, regions=result.regions)
    return flat, whole


def run_tile(spec: SweepSpec, tile: Tile, store: str) -> TileReport:
    """Compute one tile and write exactly its region of the store (``mode='r+'``), all but
    its ``status``, which goes back to the driver in the report.

    Every chunk is written, even one that holds only the fill value (an all-NaN tile of
    diverged points), so that a done tile missing a chunk is known to be damaged.
    A pure function of (spec, tile): running it twice writes the same bytes.
    """
    t0 = time.perf_counter()
    threads = min(int(config.get("sweep.threads-per-task")), numba.config.NUMBA_NUM_THREADS)  # type: ignore[attr-defined]
    numba.set_num_threads(max(1, threads))
    ds = compute_tile(spec, tile)
    status = np.asarray(ds["status"].values, dtype=np.int8).reshape(tile.shape)
    ds.drop_vars("status").to_zarr(store, region=tile.region, mode="r+", zarr_format=3, consolidated=False,
                                   write_empty_chunks=True)
    n_div = int((status == STATUS_DIVERGED).sum())
    return TileReport(tile.index, tile.size, n_div, time.perf_counter() - t0, status)
