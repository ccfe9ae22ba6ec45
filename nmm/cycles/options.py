"""Options of the continuation of periodic orbits: one frozen spec, validated once.

``nmm.continuation(..., cycles=True)`` uses the defaults; ``cycles={...}`` overrides some
(:meth:`CycleOptions.from_value`). Steps are in scaled arclength: the parameter range is 1,
the logarithm of the period counts as is, and the orbit's states are scaled by their size
at the starting Hopf point.
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, fields

from ..errors import NMMError, did_you_mean

__all__ = ["CycleOptions"]


@dataclass(frozen=True)
class CycleOptions:
    """How cycle branches are followed.

    Parameters
    ----------
    ntst : int, default: 40
        Mesh intervals.
    ncol : int, default: 4
        Collocation points per interval (the degree of the piecewise polynomial).
    max_period : float, default: inf
        A branch whose period exceeds this (in the template's time unit) ends as
        homoclinic; with the default, ``period_factor`` times the starting period.
    period_factor : float, default: 50
        The period bound relative to the starting period (when ``max_period`` is inf).
    max_steps : int, default: 400
    ds, ds_max, ds_min : float
        Initial, largest and smallest step.
    tol : float, default: 1e-9
        Newton tolerance (largest correction of a scaled unknown).
    adapt_every : int, default: 3
        Steps between mesh adaptations.
    switch_period_doubling : bool, default: False
        Follow the period-doubled branch from every period doubling found.
    values : tuple of float, default: ()
        Parameter values at which every branch also stores its cycle exactly (each
        crossing is solved with the parameter fixed), e.g. to compare with simulations.
    """

    ntst: int = 40
    ncol: int = 4
    max_period: float = math.inf
    period_factor: float = 50.0
    max_steps: int = 400
    ds: float = 0.01
    ds_max: float = 0.1
    ds_min: float = 1e-7
    tol: float = 1e-9
    adapt_every: int = 3
    switch_period_doubling: bool = False
    values: tuple[float, ...] = ()

    def __post_init__(self) -> None:
        for name in ("ntst", "ncol", "max_steps", "adapt_every"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise NMMError(f"cycles option {name!r} must be a positive integer, got {v!r}.")
        if self.ntst < 4 or not 2 <= self.ncol <= 7:
            raise NMMError(f"cycles needs ntst >= 4 and 2 <= ncol <= 7, got ntst={self.ntst}, ncol={self.ncol}; "
                           "the defaults (ntst=40, ncol=4) suit most orbits.")
        for name in ("max_period", "period_factor", "ds", "ds_max", "ds_min", "tol"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not v > 0:
                raise NMMError(f"cycles option {name!r} must be a positive number, got {v!r}.")
        if self.period_factor <= 1:
            raise NMMError(f"cycles option 'period_factor' must be above 1 (the bound of a homoclinic end relative "
                           f"to the period at the Hopf point), got {self.period_factor!r}; the default is 50.")
        if not self.ds_min <= self.ds <= self.ds_max:
            raise NMMError(f"cycles options need ds_min <= ds <= ds_max, got {self.ds_min}, {self.ds}, {self.ds_max}.")
        if not isinstance(self.values, tuple) or not all(
                isinstance(v, float) and math.isfinite(v) for v in self.values):
            raise NMMError(f"cycles option 'values' must be a list of finite numbers, got {self.values!r}.")
        if not isinstance(self.switch_period_doubling, bool):
            raise NMMError("cycles option 'switch_period_doubling' must be true or false, got "
                           f"{self.switch_period_doubling!r}.")

    @classmethod
    def from_value(cls, value: bool | Mapping[str, object] | CycleOptions) -> CycleOptions | None:
        """``False`` -> None (no cycles), ``True`` -> defaults, a mapping -> defaults overridden."""
        if isinstance(value, CycleOptions):
            return value
        if value is False or value is None:
            return None
        if value is True:
            return cls()
        if not isinstance(value, Mapping):
            raise NMMError(f"cycles must be true, false or a mapping of options, got {value!r}; "
                           "e.g. cycles={'ntst': 60, 'switch_period_doubling': True}.")
        names = [f.name for f in fields(cls)]
        for key in value:
            if key not in names:
                raise NMMError(f"unknown cycles option {key!r}." + did_you_mean(str(key), names)
                               + f" Options: {', '.join(names)}.")
        kw: dict[str, object] = {}
        for key, v in value.items():
            if key == "values":
                try:
                    kw["values"] = tuple(float(x) for x in v)  # type: ignore[attr-defined]
                except (TypeError, ValueError):
                    raise NMMError(f"cycles option 'values' must be a list of finite numbers, got {v!r}.") from None
                continue
            default = getattr(cls(), str(key))
            kw[str(key)] = float(v) if isinstance(default, float) and isinstance(v, int) and not isinstance(v, bool) else v
        return cls(**kw)  # type: ignore[arg-type]
