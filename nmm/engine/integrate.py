"""Running a :class:`RunPlan`: compile (or find) the kernel, integrate, return a :class:`BatchResult`.

The one place where a plan meets compiled code. Fixed-step solvers run the generated
batch kernel (one call integrates every point to the end); ``scipy`` integrates point by
point with the generated float64 right-hand side and Jacobian.
"""
from __future__ import annotations

import numba
import numpy as np

from ..codegen import block_size, compile_model
from ..model import Model
from ..netcodegen import compile_network, network_block
from ..solvers.scipy_ivp import integrate_scipy
from ..noise import KernelNoise
from .blocks import speed_blocks
from .netplan import NetworkRun
from .plan import RunPlan
from .result import BatchResult, status_of

__all__ = ["integrate"]


def integrate(model: Model | None, plan: RunPlan) -> BatchResult:
    """Integrate the block of points of ``plan``.

    Parameters
    ----------
    model : Model or None
        The model the plan was made for (:func:`nmm.engine.make_plan`); a network's plan
        (:func:`nmm.engine.make_network_plan`) carries its own.
    plan : RunPlan

    Returns
    -------
    BatchResult
    """
    if plan.network is not None:
        return _integrate_network(plan, plan.network)
    grid, n = plan.grid, plan.n_points
    exprs = plan.output_exprs
    O = len(exprs)
    names = tuple(o.name for o in plan.outputs)
    paths = tuple(o.path for o in plan.outputs)
    if plan.solver.fixed_step:
        nz = plan.noise
        structure = nz.kernel if nz is not None else KernelNoise()
        dtype = plan.precision.dtype
        # one block of points, or one thread: the serial kernel (same bits, compiles faster)
        parallel = n > block_size(plan.precision.value) and numba.get_num_threads() > 1
        assert model is not None  # only network plans carry their model
        cm = compile_model(model, exprs, plan.solver.name, plan.precision.value, plan.swept, structure, parallel)
        Y = np.ascontiguousarray(plan.Y0, dtype=dtype)
        Pd = np.ascontiguousarray(plan.P, dtype=dtype)
        C = np.ascontiguousarray(Pd[:, 0])
        NS = np.ascontiguousarray(nz.values.ns if nz is not None else np.zeros((0, n)), dtype=dtype)
        RS = nz.values.rs if nz is not None else np.zeros((2, 0), dtype=np.uint64)
        IN = np.ascontiguousarray(nz.values.inputs if nz is not None else np.zeros((0, 0)), dtype=dtype)
        DS, L = plan.delays, plan.ring
        series = np.empty((O, grid.n_keep if plan.keep_series else 0, n), dtype=dtype)
        stats = np.zeros((3, O, n))
        stats[1] = np.inf
        stats[2] = -np.inf
        cm.kernel(Y, Pd, C, NS, RS, IN, DS, L, grid.n_steps, grid.decim, grid.k_first, dtype.type(grid.dt),
                  dtype.type(0.0), series, stats)
        stats[0] /= grid.n_keep
        final = Y
    else:
        assert model is not None  # only network plans carry their model
        cm = compile_model(model, exprs, plan.solver.name, "float64")
        driven: tuple[tuple[int, np.ndarray], ...] = ()
        if plan.noise is not None:  # time-series inputs, read by interpolation
            driven = tuple((model.params.index(x.path), plan.noise.values.inputs[r])
                           for r, x in enumerate(plan.noise.kernel.inputs))
        series, stats, final = integrate_scipy(cm, plan.P, plan.Y0, grid, plan.keep_series, driven,
                                               **dict(plan.solver_options))
    return BatchResult(names, paths, series, stats, final, status_of(final, stats), grid)


def _integrate_network(plan: RunPlan, run: NetworkRun) -> BatchResult:
    """Integrate a network plan with the network kernel (:mod:`nmm.netcodegen`)."""
    grid, n, net = plan.grid, plan.n_points, run.model
    exprs = plan.output_exprs
    O, NR = len(exprs), net.n_regions
    names = tuple(o.name for o in plan.outputs)
    paths = tuple(o.path for o in plan.outputs)
    nz = plan.noise
    structure = nz.kernel if nz is not None else KernelNoise()
    dtype = plan.precision.dtype
    threads = numba.get_num_threads()
    blk = network_block(n, NR, run.dmax + 2, plan.precision.value, threads)
    speeds = np.ascontiguousarray(run.speeds, dtype=np.float64)
    order, starts = speed_blocks(speeds, blk)
    parallel = len(starts) > 2 and threads > 1
    cm = compile_network(net, exprs, plan.solver.name, plan.precision.value, plan.swept, run.regional, structure,
                         parallel, run.staged)
    vals = run.values
    Y = np.ascontiguousarray(vals.Y0, dtype=dtype)
    Pd = np.ascontiguousarray(vals.P, dtype=dtype)
    C = np.ascontiguousarray(Pd[:, 0])
    PR = np.ascontiguousarray(vals.PR, dtype=dtype)
    NS = np.ascontiguousarray(nz.values.ns if nz is not None else np.zeros((0, n)), dtype=dtype)
    RS = nz.values.rs if nz is not None else np.zeros((2, 0), dtype=np.uint64)
    IN = np.ascontiguousarray(nz.values.inputs if nz is not None else np.zeros((0, 0)), dtype=dtype)
    if order is not None:  # the kernel sees the points grouped by speed (the same bits per point)
        Y, Pd, PR, NS, speeds = (np.ascontiguousarray(a[..., order]) for a in (Y, Pd, PR, NS, speeds))
        RS_run = np.ascontiguousarray(RS[:, order]) if RS.shape[1] else RS
    else:
        RS_run = RS
    series = np.empty((O, grid.n_keep if plan.keep_series else 0, NR, n), dtype=dtype)
    stats = np.zeros((3, O, NR, n))
    stats[1] = np.inf
    stats[2] = -np.inf
    cm.kernel(Y, Pd, C, PR, NS, RS_run, IN, net.indptr, net.indices, net.weights.astype(dtype), net.lengths,
              speeds, grid.n_steps, grid.decim, grid.k_first, dtype.type(grid.dt), float(grid.dt), dtype.type(0.0),
              series, stats, blk, starts)
    if order is not None:  # back to the run's order (the generators' final states too)
        back = np.empty_like(order)
        back[order] = np.arange(n)
        Y, series, stats = (np.ascontiguousarray(a[..., back]) for a in (Y, series, stats))
        if RS.shape[1]:
            RS[:, order] = RS_run
    stats[0] /= grid.n_keep
    return BatchResult(names, paths, series, stats, Y, status_of(Y, stats), grid, net.labels)
