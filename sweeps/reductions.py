"""The registry of per-point reductions: one table of built-in names, and custom factories.

Reductions are computed inside each tile task and stored instead of (or beside) the time
series. Built-in: ``mean``, ``min``, ``max`` of every output after the cutoff (computed on
the fly by the kernel, so they need no stored series) and the analysis reductions ``psd``,
``peak``, ``bands``, ``orbit`` (:mod:`sweeps.analysis_reductions`), and for whole-brain
networks ``fc``, ``sync``, ``bold``, ``bold_fc``, ``fc_fit``
(:mod:`sweeps.network_reductions`). On a network every other reduction runs per region
and gains a ``region`` dimension. Custom reductions are
named ``'package.module:factory'`` where ``factory(options)`` (``options``: the spec's
``keep.options`` mapping) returns a :class:`Reduction`; the module must be importable on
the workers.

``variables(outputs, units, sim)`` receives the output names, their units (plus
``units['time']``, the template's time unit) and the :class:`SimulationSpec`.
"""
from __future__ import annotations

import importlib

from nmm.errors import did_you_mean

from .analysis_reductions import bands_reduction, orbit_reduction, peak_reduction, psd_reduction
from .errors import SpecError
from .network_reductions import bold_fc_reduction, bold_reduction, fc_fit_reduction, fc_reduction, sync_reduction
from .reduction_base import Reduction, ReductionFactory, ReductionOptions, TileResult, VarInfo, stat_reduction

__all__ = ["Reduction", "TileResult", "VarInfo", "REDUCTIONS", "resolve", "register"]


def _stat_factory(stat: str, index: int) -> ReductionFactory:
    """The factory of a running summary's reduction (it takes no options)."""
    def factory(options: ReductionOptions | None = None) -> Reduction:
        return stat_reduction(stat, index)

    return factory


#: every built-in reduction: name -> factory(options)
REDUCTIONS: dict[str, ReductionFactory] = {
    "mean": _stat_factory("mean", 0),
    "min": _stat_factory("min", 1),
    "max": _stat_factory("max", 2),
    "psd": psd_reduction,
    "peak": peak_reduction,
    "bands": bands_reduction,
    "orbit": orbit_reduction,
    "fc": fc_reduction,
    "sync": sync_reduction,
    "bold": bold_reduction,
    "bold_fc": bold_fc_reduction,
    "fc_fit": fc_fit_reduction,
}


def register(name: str, factory: ReductionFactory) -> None:
    """Add a reduction under a built-in name (a plugin's own; nmm's are in :data:`REDUCTIONS`)."""
    REDUCTIONS[name] = factory


def resolve(name: str, options: ReductionOptions | None = None) -> Reduction:
    """The reduction of a name (built-in, or ``'module:factory'``), configured by ``options``
    (the spec's ``keep.options``; factories that take no options ignore them).

    Raises
    ------
    SpecError
        If the name is unknown or the factory cannot be imported.
    """
    if not isinstance(name, str):
        raise SpecError(f"a reduction is named by a string, got {name!r}.")
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
