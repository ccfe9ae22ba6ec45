"""The types of per-point reductions, and the running summaries the kernel computes.

A reduction declares the variables it adds (with any extra dimension such as
``frequency``) and computes them from a :class:`TileResult`. ``mean``, ``min`` and
``max`` read the summaries the kernel accumulates on the fly (:func:`stat_reduction`).
The registry of names is :mod:`sweeps.reductions`.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

__all__ = ["Reduction", "TileResult", "VarInfo", "stat_reduction"]


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
        :class:`nmm.engine.Status` of each point (1 ok, 2 diverged).
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


def stat_reduction(stat: str, index: int) -> Reduction:
    """The reduction of one running summary: ``stat`` is 'mean', 'min' or 'max' (index 0, 1, 2)."""
    def variables(outputs, units, sim):
        return {f"{o}_{stat}": VarInfo((), {"units": units[o], "long_name": f"{stat} of {o} after the cutoff"})
                for o in outputs}

    def compute(res: TileResult):
        return {f"{o}_{stat}": res.stats[o][index] for o in res.outputs}

    return Reduction(stat, variables, compute)
