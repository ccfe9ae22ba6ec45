"""``nmm.simulate``: a block of parameter points at once, as an xarray Dataset.

A thin façade: resolve the template, :func:`nmm.engine.make_plan`,
:func:`nmm.engine.integrate`, :func:`nmm.results.to_dataset`.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import xarray as xr

from .circuit import CircuitTemplate
from .network import Network, as_simulable
from .types import ArrayLike, InputSeries, NoiseSpec, PathValues

__all__ = ["simulate"]


def simulate(template: CircuitTemplate | Network | str, params: PathValues | None = None, *, simulation_time: float,
             step_size: float, sampling_step_size: float | None = None, outputs: Mapping[str, str] | None = None,
             solver: str = "euler", cutoff: float = 0.0, float_precision: str = "float64",
             keep_series: bool = True, summaries: bool = False, backend: str | None = None,
             inputs: InputSeries | None = None, noise: NoiseSpec | None = None, seed: int = 0,
             point_ids: ArrayLike | None = None, **solver_kwargs: Any) -> xr.Dataset:
    """Simulate a circuit at a block of parameter points at once.

    Parameters
    ----------
    template : CircuitTemplate, Network or str
        The circuit, a :class:`~nmm.network.Network` (then the dimensions are
        ``('point', 'time', 'region')``), or a template reference such as
        ``'model_templates.neural_mass_models.jansenrit.JRC'``.
    params : mapping of str to float or 1-D array, optional
        Values by path (``'pc/rpo_e_in/u'``; a state's path sets its initial value; an
        edge weight is ``'source->target/weight'``). Arrays give one value per point and
        must have equal lengths; scalars apply to all points.
    simulation_time, step_size : float
        Simulated time and integration step (time units of the template).
    sampling_step_size : float, optional
        Spacing of the stored samples, a multiple of ``step_size`` (default: step_size).
    outputs : mapping of str to str, optional
        Output name -> variable path; default: every state by its path.
    solver : {'euler', 'heun', 'rk4', 'scipy'}, default: 'euler'
    cutoff : float, default: 0.0
        Initial time not stored (samples at t >= cutoff are kept).
    float_precision : {'float64', 'float32'}, default: 'float64'
    keep_series : bool, default: True
        Store the time series; False keeps only the summaries.
    summaries : bool, default: False
        Add ``<output>_mean``, ``<output>_min``, ``<output>_max`` per point.
    backend : {'default', 'numba'}, optional
        Accepted for PyRates compatibility; both mean the numba kernels.
    inputs : mapping of str to array, optional
        Time series replacing a parameter, one value per integration step (as PyRates).
    noise : mapping, optional
        State path -> sigma of additive white noise (``+ sigma dW``; solvers euler =
        Euler-Maruyama, heun = stochastic Heun), or parameter path ->
        ``{'uniform': [low, high]}`` / ``{'normal': [mean, sd]}`` redrawn every step.
    seed : int, default: 0
        With ``point_ids``, determines every point's random stream.
    point_ids : array of int, optional
        Global indices of the points (default ``0..N-1``): a point's stream depends only
        on (seed, its index), so results do not depend on how points are grouped.
    **solver_kwargs
        Passed to :func:`scipy.integrate.solve_ivp` for ``solver='scipy'``
        (``method``, ``rtol``, ``atol``, ...).

    Returns
    -------
    xarray.Dataset
        Dimensions ``('point', 'time')``; one variable per output with ``units`` and
        ``long_name``; one coordinate per array-valued parameter along ``point``; a
        ``status`` variable (:class:`nmm.engine.Status`: 1 = ok, 2 = diverged).

    Examples
    --------
    >>> ds = nmm.simulate("nmm.templates.jansenrit.JRC",
    ...                   params={"pc/rpo_e_in/u": np.linspace(50, 400, 8)},
    ...                   simulation_time=2.0, step_size=1e-4, sampling_step_size=1e-3,
    ...                   outputs={"V_pce": "pc/rpo_e_in/v"}, solver="rk4")
    """
    circuit = as_simulable(template)
    return circuit.simulate(params, simulation_time=simulation_time, step_size=step_size,
                            sampling_step_size=sampling_step_size, outputs=outputs, solver=solver, cutoff=cutoff,
                            float_precision=float_precision, keep_series=keep_series, summaries=summaries,
                            backend=backend, inputs=inputs, noise=noise, seed=seed, point_ids=point_ids,
                            **solver_kwargs)
