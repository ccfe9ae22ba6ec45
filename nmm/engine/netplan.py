"""The plan of a network run: the same :class:`~nmm.engine.RunPlan`, with the network's
per-region values, the speeds that set each point's delays, and the delay range.

Paths (:mod:`nmm.netmodel`): ``G`` and ``speed``; a unit path or ``all/<unit path>`` for
every region; ``<region>/<unit path>`` for one. Outputs and noise address every region
(one series and one random stream per region and point).
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import NMMError, ParameterError
from ..netmodel import ALL, NETWORK_PARAMS, NetworkModel, NetworkValues, delay_range, lane_speeds, \
    resolve_network_params
from ..solvers import get_solver
from ..types import ArrayLike, InputSeries, NoiseSpec, PathValues
from .noise_plan import plan_noise
from .plan import Precision, RunPlan, resolve_outputs
from .timegrid import time_grid

__all__ = ["NetworkRun", "make_network_plan", "network_swept", "zero_step_edges"]


@dataclass(frozen=True, eq=False)
class NetworkRun:
    """What a network run adds to a plan.

    Attributes
    ----------
    model : NetworkModel
    values : NetworkValues
        Per-region parameters and initial states.
    speeds : ndarray (N,)
        Per point, the speed in length per time unit (:func:`nmm.netmodel.lane_speeds`).
    dmin, dmax : int
        The shortest and longest delay in steps.
    regional : tuple of str
        The unit parameters with a value per region.
    staged : bool
        The kernel needs the stage-by-stage step of zero-step edges (heun, rk4).
    """

    model: NetworkModel
    values: NetworkValues
    speeds: np.ndarray
    dmin: int
    dmax: int
    regional: tuple[str, ...]
    staged: bool = False


def _every_region(net: NetworkModel, path: str, what: str) -> str:
    """The unit path of a path that addresses every region."""
    upath, region = net.unit_path(path)
    if region is not None:
        raise ParameterError(f"{what} {path!r} addresses one region; {what} apply to every region: give "
                             f"{upath!r} (or {ALL}/{upath}).")
    return upath


def zero_step_edges(net: NetworkModel, speeds: ArrayLike, dt: float) -> bool:
    """Whether some edge has a delay of zero steps at one of the speeds (m/s)."""
    sp = np.unique(np.atleast_1d(np.asarray(speeds, dtype=float)))
    vals = resolve_network_params(net, {"speed": sp} if net.has_speed else None)
    return delay_range(net, lane_speeds(net, vals.P), dt, multistage=False)[0] < 1


def network_swept(net: NetworkModel, paths: Sequence[str]) -> tuple[str, ...]:
    """The kernel's per-point parameters among network paths (``G`` and unit parameters
    set on every region; one-region paths make per-region parameters instead)."""
    out = set()
    for p in paths:
        if p == "G":
            out.add(p)
        elif p not in NETWORK_PARAMS:
            upath, region = net.unit_path(p)
            if region is None and upath in net.unit.params:
                out.add(upath)
    return tuple(sorted(out))


def make_network_plan(net: NetworkModel, params: PathValues | None = None, *, simulation_time: float,
                      step_size: float, sampling_step_size: float | None = None, cutoff: float | None = 0.0,
                      outputs: Mapping[str, str] | Sequence[str] | None = None, solver: str = "euler",
                      float_precision: str | Precision = "float64", keep_series: bool = True,
                      inputs: InputSeries | None = None, noise: NoiseSpec | None = None, seed: int = 0,
                      point_ids: ArrayLike | None = None, swept: Sequence[str] | None = None,
                      solver_options: Mapping[str, Any] | None = None, staged: bool | None = None) -> RunPlan:
    """Validate a network run's arguments and return its plan (see :func:`nmm.engine.make_plan`).

    ``staged`` says whether heun's and rk4's kernel carries the stage-by-stage step of
    zero-step edges; default: whether this run has such an edge. A sweep decides it for
    all its tiles at once (:func:`zero_step_edges`), so that every tile runs one kernel.

    Raises
    ------
    NMMError
        For any invalid argument, a solver that cannot integrate a network, or a delay
        shorter than the solver allows.
    """
    slv = get_solver(solver)
    if not slv.fixed_step:
        raise NMMError(f"solver {slv.name!r} cannot integrate a network; use 'euler', 'heun' or 'rk4'.")
    if solver_options:
        raise NMMError(f"solver {slv.name!r} takes no extra options, got {sorted(solver_options)}.")
    precision = Precision.of(float_precision)
    grid = time_grid(simulation_time, step_size, sampling_step_size, cutoff)
    if outputs is not None:
        if isinstance(outputs, (list, tuple)):
            outputs = {p: p for p in outputs}
        if isinstance(outputs, Mapping):
            outputs = {name: (_every_region(net, path, "outputs") if isinstance(path, str) else path)
                       for name, path in outputs.items()}
    outs = resolve_outputs(net.unit, outputs)
    vals = resolve_network_params(net, params)
    n = vals.n_points
    nz = plan_noise(net.unit, grid, n, slv,
                    {_every_region(net, p, "inputs"): v for p, v in (inputs or {}).items()} or None,
                    {_every_region(net, p, "noise"): v for p, v in (noise or {}).items()} or None,
                    seed, point_ids)
    if nz is not None:
        drawn = set(nz.kernel.dynamic_paths) - {x.path for x in nz.kernel.inputs}
        for o in outs:
            bad = sorted(p for p in drawn if p in {str(s) for s in o.expr.free_symbols})
            if bad:
                raise NMMError(f"output {o.name!r} depends on the random parameter {bad[0]!r}; record a state instead.")
        src_params = {str(x) for x in net.source.free_symbols}
        bad_src = sorted(src_params & (set(nz.kernel.dynamic_paths) - {x.path for x in nz.kernel.inputs}))
        if bad_src:
            raise NMMError(f"the coupling source {net.source_path!r} depends on {bad_src[0]!r}, which is redrawn every "
                           "step; couple a variable that does not read it, or drop its noise.")
    regional = tuple(net.unit.params[i] for i in vals.regional)
    if swept is None:
        varying = [p for i, p in enumerate(net.params) if n > 1 and np.any(vals.P[i] != vals.P[i, 0])]
        swept_t = network_swept(net, varying)
    else:
        swept_t = network_swept(net, swept)
    spd = lane_speeds(net, vals.P)
    dmin, dmax = delay_range(net, spd, grid.dt, multistage=slv.order > 1 and nz is not None and nz.kernel.draws,
                             solver=slv.name)
    return RunPlan(grid, vals.P, vals.Y0, outs, slv, precision, bool(keep_series), swept_t, nz, (),
                   np.zeros((0, n), dtype=np.int64), dmax + 2,
                   network=NetworkRun(net, vals, spd, dmin, dmax, regional, dmin < 1 if staged is None else staged))
