"""The structure of a run's noise and time-series inputs, as typed values.

A user's ``noise=`` and ``inputs=`` mappings become these frozen dataclasses once
(:func:`nmm.engine.plan_noise`):

- :class:`StateNoise`: additive white noise on a state (``dX = f dt + sigma dW``);
- :class:`RandomParameter`: a parameter redrawn every step from a uniform or normal
  distribution, either replacing the parameter or drawn around its own (sweepable) value;
- :class:`CommonDraw`: a parameter that takes the value drawn for another one (a common input);
- :class:`SeriesInput`: a parameter read from a time series, one value per step.

:class:`KernelNoise` is the structural part (which states, which parameters, which kinds)
that the kernel generator specialises on and that keys the kernel cache; the per-point
numbers (sigmas, bounds, generator states) travel beside it in the engine's ``NoiseValues``.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass

__all__ = ["Distribution", "StateNoise", "RandomParameter", "CommonDraw", "SeriesInput", "KernelNoise"]


class Distribution(enum.Enum):
    """The distribution of a parameter redrawn every step: ``(a, b)`` are (low, high) or (mean, sd)."""

    UNIFORM = "uniform"
    NORMAL = "normal"


@dataclass(frozen=True)
class StateNoise:
    """Additive white noise on state ``path`` (sigma per point in :class:`NoiseValues`)."""

    path: str


@dataclass(frozen=True)
class RandomParameter:
    """Parameter ``path`` redrawn every step from ``distribution``; ``additive``: drawn
    around the parameter's own value instead of replacing it."""

    path: str
    distribution: Distribution
    additive: bool = False


@dataclass(frozen=True)
class CommonDraw:
    """Parameter ``path`` takes, every step, the value drawn for ``same_as``."""

    path: str
    same_as: str


@dataclass(frozen=True)
class SeriesInput:
    """Parameter ``path`` is read from a time series, one value per step."""

    path: str


@dataclass(frozen=True)
class KernelNoise:
    """The structure of a run's noise and inputs, in kernel order.

    Attributes
    ----------
    states : tuple of StateNoise
        In state order.
    random : tuple of RandomParameter
        In parameter order.
    common : tuple of CommonDraw
        In parameter order.
    inputs : tuple of SeriesInput
        In parameter order.
    """

    states: tuple[StateNoise, ...] = ()
    random: tuple[RandomParameter, ...] = ()
    common: tuple[CommonDraw, ...] = ()
    inputs: tuple[SeriesInput, ...] = ()

    @property
    def draws(self) -> bool:
        """Whether the kernel draws random numbers (and needs generator states)."""
        return bool(self.states or self.random)

    @property
    def dynamic_paths(self) -> tuple[str, ...]:
        """Parameters whose value changes every step."""
        return (tuple(x.path for x in self.random) + tuple(x.path for x in self.common)
                + tuple(x.path for x in self.inputs))

    def __bool__(self) -> bool:
        return bool(self.states or self.random or self.common or self.inputs)
