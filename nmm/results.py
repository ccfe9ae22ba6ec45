"""A :class:`~nmm.engine.BatchResult` as the objects users open: an xarray Dataset or a DataFrame.

Pure conversions, no integration: the façades (``nmm.simulate``, ``CircuitTemplate.run``)
call the engine and hand its result here.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np
import pandas as pd
import xarray as xr

from .engine import STATUS_ATTRS, BatchResult
from .model import Model

__all__ = ["to_dataset", "to_dataframe"]


def to_dataset(result: BatchResult, model: Model, *, time_unit: str, swept: Mapping[str, np.ndarray],
               summaries: bool = False, attrs: Mapping[str, object] | None = None,
               unit_of: Callable[[str], str] | None = None) -> xr.Dataset:
    """The Dataset of ``nmm.simulate``: dims ``('point', 'time')``, one variable per output
    (``('point', 'time', 'region')`` for a network, with the region labels as coordinate).

    Parameters
    ----------
    result : BatchResult
    model : Model
        For units.
    time_unit : str
    swept : mapping of path to ndarray
        Per-point values of the array-valued parameters, added as coordinates.
    summaries : bool, default: False
        Add ``<output>_mean``, ``_min`` and ``_max``.
    attrs : mapping, optional
        Dataset attributes.
    unit_of : callable, optional
        The unit of a coordinate's path (default ``model.unit``; a network's paths carry
        region prefixes).
    """
    unit_of = unit_of or model.unit
    n = result.n_points
    keep_series = result.has_series
    net = bool(result.regions)
    rdims: tuple[str, ...] = ("region",) if net else ()
    data: dict = {}
    for i, (name, path) in enumerate(zip(result.names, result.paths)):
        var_attrs = {"units": model.unit(path), "long_name": path, "path": path}
        if keep_series:
            # (time, [region,] point) -> (point, time[, region])
            data[name] = (("point", "time") + rdims, np.moveaxis(result.series[i], -1, 0), var_attrs)
        if summaries:
            for j, stat in enumerate(("mean", "min", "max")):
                data[f"{name}_{stat}"] = (("point",) + rdims, np.moveaxis(result.stats[j, i], -1, 0),
                                          {**var_attrs, "long_name": f"{stat} of {path} after cutoff"})
    data["status"] = (("point",), result.status, dict(STATUS_ATTRS))
    coords: dict = {"point": ("point", np.arange(n), {"units": "1", "long_name": "point index"})}
    if keep_series:
        coords["time"] = ("time", result.grid.times, {"units": time_unit, "long_name": "time"})
    if net:
        coords["region"] = ("region", np.asarray(result.regions), {"units": "1", "long_name": "region"})
    for path, arr in swept.items():
        # a swept initial state that is also an output gets its own coordinate name
        name = f"{path}@t0" if path in data else path
        coords[name] = ("point", arr, {"units": unit_of(path), "long_name": path})
    return xr.Dataset(data, coords=coords, attrs=dict(attrs or {}))


def to_dataframe(result: BatchResult, point: int = 0,
                 columns: Sequence[str | tuple[str, ...]] | None = None) -> pd.DataFrame:
    """One point's outputs over time, indexed by time (PyRates' ``run`` result); a network's
    columns are (output, region) pairs. ``columns`` names the outputs' columns instead of
    their names; tuples (PyRates' columns of a wildcard output, ``(name, *nodes, 'op/var')``)
    make a MultiIndex, the other names padded with ``''``."""
    if columns is not None and not result.regions:
        width = max(len(c) if isinstance(c, tuple) else 1 for c in columns)
        tuples = [(c if isinstance(c, tuple) else (c,)) for c in columns]
        index = pd.MultiIndex.from_tuples([t + ("",) * (width - len(t)) for t in tuples])
        return pd.DataFrame(result.series[:, :, point].T, index=pd.Index(result.grid.times, name="time"),
                            columns=index)
    if result.regions:
        cols = pd.MultiIndex.from_product([list(result.names), list(result.regions)], names=["output", "region"])
        data = result.series[..., point].transpose(1, 0, 2).reshape(result.series.shape[1], -1)
        return pd.DataFrame(data, index=pd.Index(result.grid.times, name="time"), columns=cols)
    return pd.DataFrame({n: result.series[i, :, point] for i, n in enumerate(result.names)},
                        index=pd.Index(result.grid.times, name="time"))
