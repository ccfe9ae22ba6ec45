"""The engine: one path from a model and a typed run plan to a typed result.

::

    plan = make_plan(model, params, simulation_time=2.0, step_size=1e-4, solver="rk4")
    result = integrate(model, plan)        # BatchResult: series, stats, final states, Status

Every entry point is a thin façade on these two calls: ``CircuitTemplate.run``
(a DataFrame), ``nmm.simulate`` (an xarray Dataset), continuation (integration to rest),
and the sweep task (a tile written into a zarr region). Imports point downwards only:
loader -> model -> codegen -> engine -> façades -> sweeps.
"""
from .integrate import integrate
from ..noise import CommonDraw, Distribution, KernelNoise, RandomParameter, SeriesInput, StateNoise
from .netplan import NetworkRun, make_network_plan, network_swept, zero_step_edges
from .noise_plan import NoisePlan, NoiseValues, plan_noise
from .plan import Output, Precision, RunPlan, delay_steps, make_plan, resolve_outputs, resolve_params, swept_params
from .result import STATUS_ATTRS, BatchResult, Status, status_of
from .timegrid import TimeGrid, time_grid

__all__ = [
    "integrate", "delay_steps", "make_plan", "RunPlan", "Output", "Precision", "resolve_params",
    "resolve_outputs", "swept_params", "BatchResult", "Status", "STATUS_ATTRS", "status_of", "TimeGrid",
    "time_grid", "KernelNoise", "NoisePlan", "NoiseValues", "StateNoise", "RandomParameter", "CommonDraw",
    "SeriesInput", "Distribution", "plan_noise", "NetworkRun", "make_network_plan", "network_swept", "zero_step_edges",
]
