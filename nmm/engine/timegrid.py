"""The time grid of a fixed-step run: steps, decimation to samples, and the cutoff.

Pure integer bookkeeping, validated once: every entry point (``run``, ``simulate``,
continuation, sweep specs and their reductions) derives its steps and sample times here.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..errors import NMMError

__all__ = ["TimeGrid", "time_grid"]


@dataclass(frozen=True)
class TimeGrid:
    """The integer bookkeeping of a fixed-step run.

    Attributes
    ----------
    dt : float
        Integration step.
    dts : float
        Sampling step (``decim * dt``).
    n_steps : int
        Integration steps of size ``dt``.
    decim : int
        Steps per stored sample.
    n_samples : int
        Samples from t = 0 (sample ``k`` is the state at ``k * decim * dt``).
    k_first : int
        First sample kept (the cutoff).
    """

    dt: float
    dts: float
    n_steps: int
    decim: int
    n_samples: int
    k_first: int

    @property
    def times(self) -> np.ndarray:
        """Times of the kept samples."""
        return np.arange(self.k_first, self.n_samples) * self.dts

    @property
    def n_keep(self) -> int:
        """Number of kept samples."""
        return self.n_samples - self.k_first


def _positive(name: str, value: float, hint: str) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise NMMError(f"{name} must be a positive number, got {value!r}. {hint}") from None
    if not math.isfinite(v) or v <= 0:
        raise NMMError(f"{name} must be a positive number, got {value!r}. {hint}")
    return v


def time_grid(simulation_time: float, step_size: float, sampling_step_size: float | None = None,
              cutoff: float | None = 0.0) -> TimeGrid:
    """Validate the time arguments and turn them into steps and samples.

    Raises
    ------
    NMMError
        If a value is not positive, the sampling step is smaller than (or not a multiple
        of) the step size, or the cutoff is not in ``[0, simulation_time)``.
    """
    T = _positive("simulation_time", simulation_time, "Give the simulated time, e.g. simulation_time=2.0.")
    dt = _positive("step_size", step_size, "Give the integration step, e.g. step_size=1e-4.")
    if dt > T:
        raise NMMError(f"step_size={step_size!r} is larger than simulation_time={simulation_time!r}.")
    dts = dt if sampling_step_size is None else _positive(
        "sampling_step_size", sampling_step_size, "Use a multiple of step_size, e.g. 10 * step_size.")
    ratio = dts / dt
    if ratio < 1 - 1e-9:
        raise NMMError(
            f"sampling_step_size={sampling_step_size!r} is smaller than step_size={step_size!r}; "
            f"use step_size or a multiple of it (e.g. {10 * dt:g})."
        )
    decim = int(round(ratio))
    if abs(ratio - decim) > 1e-6 * decim:
        raise NMMError(
            f"sampling_step_size={sampling_step_size!r} is not a multiple of step_size={step_size!r}; "
            f"use e.g. {decim * dt:g} or {(decim + 1) * dt:g}."
        )
    n_steps = int(round(T / dt))
    n_samples = -(-n_steps // decim)
    try:
        cut = float(cutoff or 0.0)
    except (TypeError, ValueError):
        raise NMMError(f"cutoff must be a number of time units, got {cutoff!r}.") from None
    if not (0.0 <= cut < T) or not math.isfinite(cut):
        raise NMMError(f"cutoff={cutoff!r} must be in [0, simulation_time={simulation_time!r}).")
    k_first = int(math.ceil(cut / (decim * dt) - 1e-9))
    if k_first >= n_samples:
        raise NMMError(f"cutoff={cutoff!r} leaves no sample before simulation_time={simulation_time!r}.")
    return TimeGrid(dt, decim * dt, n_steps, decim, n_samples, k_first)
