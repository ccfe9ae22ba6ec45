"""Per-point reductions computed inside each tile task and stored instead of (or beside)
the time series.

A reduction declares the variables it adds (with any extra dimension such as
``frequency``) and computes them from a :class:`TileResult`. Built-in: ``mean``,
``min``, ``max`` of every output after the cutoff (computed on the fly by the kernel,
so they need no stored series). Custom reductions are named ``'package.module:factory'``
where ``factory(options)`` (``options``: the spec's ``keep.options`` mapping) returns a
:class:`Reduction`; the module must be importable on the workers.

``variables(outputs, units, sim)`` receives the output names, their units (plus
``units['time']``, the template's time unit) and the :class:`SimulationSpec`.
"""
from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from nmm.errors import did_you_mean

from .errors import SpecError

__all__ = ["Reduction", "TileResult", "VarInfo", "REDUCTIONS", "resolve", "register"]


@dataclass(frozen=True)
class VarInfo:
    """A variable a reduction adds: extra trailing dimensions (name, coordinate values, attrs)."""

    dims: tuple = ()
    attrs: dict = field(default_factory=dict)
    dtype: str = "float64"


@dataclass
class TileResult:
    """What a tile's simulation produced, for reductions to read.

    Attributes
    ----------
    outputs : list of str
    units : dict of output name to unit
    times : ndarray
        Times of the kept samples.
    series : dict of name to ndarray (n_points, n_time) or None
        Present when the spec keeps series or a reduction needs them.
    stats : dict of name to ndarray (3, n_points)
        Mean, min and max after the cutoff.
    status : ndarray (n_points,)
        0 finite, 1 diverged.
    params : dict of path to ndarray (n_points,)
        The swept parameter values of the points.
    dt : float
        The sampling step of the series (``1 / dt`` is the sampling rate).
    """

    outputs: list
    units: dict
    times: np.ndarray
    series: dict | None
    stats: dict
    status: np.ndarray
    params: dict = field(default_factory=dict)
    dt: float = 1.0  # the sampling step of the series
    cache: dict = field(default_factory=dict)  # intermediate results shared by reductions


@dataclass(frozen=True)
class Reduction:
    """A per-point reduction.

    Parameters
    ----------
    name : str
    variables : callable (outputs, units, simulation spec) -> dict of name to VarInfo
    compute : callable (TileResult) -> dict of name to ndarray (n_points, ...)
    needs_series : bool
        The task must keep the time series in memory for it.
    """

    name: str
    variables: Callable
    compute: Callable
    needs_series: bool = False


def _stat(stat: str, index: int) -> Reduction:
    def variables(outputs, units, sim):
        return {f"{o}_{stat}": VarInfo((), {"units": units[o], "long_name": f"{stat} of {o} after the cutoff"})
                for o in outputs}

    def compute(res: TileResult):
        return {f"{o}_{stat}": res.stats[o][index] for o in res.outputs}

    return Reduction(stat, variables, compute)


REDUCTIONS: dict[str, Callable[..., Reduction]] = {
    "mean": lambda options=None: _stat("mean", 0),
    "min": lambda options=None: _stat("min", 1),
    "max": lambda options=None: _stat("max", 2),
}


def register(name: str, factory: Callable[[], Reduction]) -> None:
    """Add a built-in reduction (used by nmm's analysis reductions)."""
    REDUCTIONS[name] = factory


def resolve(name: str, options: dict | None = None) -> Reduction:
    """The reduction of a name (built-in, or ``'module:factory'``), configured by ``options``
    (the spec's ``keep.options``; factories that take no options ignore them).

    Raises
    ------
    SpecError
        If the name is unknown or the factory cannot be imported.
    """
    if not isinstance(name, str):
        raise SpecError(f"a reduction is named by a string, got {name!r}.")
    _load_builtins()
    if name in REDUCTIONS:
        return REDUCTIONS[name](options or {})
    if ":" in name:
        mod, _, attr = name.partition(":")
        try:
            factory = getattr(importlib.import_module(mod), attr)
        except (ImportError, AttributeError) as exc:
            raise SpecError(f"cannot import reduction {name!r}: {exc}.") from None
        red = factory(options or {})
        if not isinstance(red, Reduction):
            raise SpecError(f"reduction factory {name!r} must return a sweeps.reductions.Reduction.")
        return red
    raise SpecError(
        f"unknown reduction {name!r}; built-in: {', '.join(sorted(REDUCTIONS))}, or 'module:factory'."
        + did_you_mean(name, REDUCTIONS)
    )


def _load_builtins() -> None:
    # analysis reductions register themselves when their module is imported
    try:
        importlib.import_module("sweeps.analysis_reductions")
    except ModuleNotFoundError as exc:
        if exc.name != "sweeps.analysis_reductions":
            raise
