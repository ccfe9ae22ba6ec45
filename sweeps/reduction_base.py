"""The types of per-point reductions, and the running summaries the kernel computes.

A reduction declares the variables it adds (with any extra dimension such as
``frequency``) and computes them from a :class:`TileResult`. ``mean``, ``min`` and
``max`` read the summaries the kernel accumulates on the fly (:func:`stat_reduction`).
The registry of names is :mod:`sweeps.reductions`.
"""
from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeAlias

import numpy as np
from numpy.typing import ArrayLike

if TYPE_CHECKING:  # annotations only: the spec imports the reductions
    from .spec import SimulationSpec

__all__ = ["Reduction", "TileResult", "VarInfo", "stat_reduction", "ExtraDim", "Units", "ReductionOptions",
           "VariablesFunction", "ComputeFunction", "ReductionFactory"]

#: a trailing dimension a reduction adds: (name, coordinate values, attrs)
ExtraDim: TypeAlias = tuple[str, np.ndarray | Sequence[object], Mapping[str, Any]]
#: output name -> unit, plus ``'time'`` -> the template's time unit
Units: TypeAlias = Mapping[str, str]
#: the spec's ``keep.options`` as read from YAML: section -> its options
ReductionOptions: TypeAlias = Mapping[str, Any]


@dataclass(frozen=True)
class VarInfo:
    """A variable a reduction adds: extra trailing dimensions (name, coordinate values, attrs)."""

    dims: tuple[ExtraDim, ...] = ()
    attrs: dict[str, Any] = field(default_factory=dict)
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
    regions : tuple of str
        A network's region labels (network reductions only).
    """

    outputs: list[str]
    units: dict[str, str]
    times: np.ndarray
    series: dict[str, np.ndarray] | None
    stats: dict[str, np.ndarray]
    status: np.ndarray
    params: dict[str, np.ndarray] = field(default_factory=dict)
    dt: float = 1.0  # the sampling step of the series
    cache: dict[Hashable, Any] = field(default_factory=dict)  # intermediate results shared by reductions
    regions: tuple[str, ...] = ()  # a network's region labels: then series are (n_points, n_regions, n_time)


#: ``variables(outputs, units, sim)``: the variables a reduction adds, by name
VariablesFunction: TypeAlias = Callable[[Sequence[str], Units, "SimulationSpec"], dict[str, VarInfo]]
#: ``compute(result)``: the values of those variables, each (n_points, ...)
ComputeFunction: TypeAlias = Callable[[TileResult], Mapping[str, ArrayLike]]


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
    network : bool
        A whole-brain reduction: it compares regions, gets the series of every region of
        a point at once (``(n_points, n_regions, n_time)``, :attr:`TileResult.regions`),
        and its ``variables`` takes the region labels as ``regions=``. Other reductions
        on a network run once per region and gain a ``region`` dimension.
    check : callable (network) -> None, optional
        Checks the reduction against the network before anything runs (e.g. the size of
        an empirical matrix); raises :class:`nmm.NMMError`.
    """

    name: str
    variables: VariablesFunction
    compute: ComputeFunction
    needs_series: bool = False
    network: bool = False
    check: Callable[[Any], None] | None = None

    def check_network(self, net: Any) -> None:
        """Run :attr:`check` on a network (nothing when there is none)."""
        if self.check is not None:
            self.check(net)


#: ``factory(options)``: a reduction configured by the spec's ``keep.options``
ReductionFactory: TypeAlias = Callable[[ReductionOptions], Reduction]


def stat_reduction(stat: str, index: int) -> Reduction:
    """The reduction of one running summary: ``stat`` is 'mean', 'min' or 'max' (index 0, 1, 2)."""
    def variables(outputs: Sequence[str], units: Units, sim: SimulationSpec) -> dict[str, VarInfo]:
        return {f"{o}_{stat}": VarInfo((), {"units": units[o], "long_name": f"{stat} of {o} after the cutoff"})
                for o in outputs}

    def compute(res: TileResult) -> dict[str, np.ndarray]:
        return {f"{o}_{stat}": res.stats[o][index] for o in res.outputs}

    return Reduction(stat, variables, compute)
