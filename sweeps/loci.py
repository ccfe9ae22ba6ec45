"""Two-parameter loci of folds and Hopf points (and, with ``cycles=``, folds of cycles, period
doublings, torus points and homoclinic ends): one continuation per value of a second
parameter, run as dask tasks on any client, stored in zarr like a sweep.

The second parameter is one path, or a name with ``targets`` (paths and factors, as a sweep
axis with targets: ``C`` scaling the four Jansen-Rit connectivities together)."""
from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypedDict

import numpy as np
import xarray as xr
from numpy.typing import ArrayLike

import nmm
from nmm.errors import did_you_mean

from .errors import SpecError

if TYPE_CHECKING:  # annotations only: a client is the caller's
    from distributed import Client

__all__ = ["two_parameter_loci", "KIND_CODES"]

KIND_CODES = {"fold": 0, "hopf": 1, "fold_cycle": 2, "homoclinic": 3, "period_doubling": 4, "torus": 5}


class _Locus(TypedDict):
    """The special points of one continuation: (kind code, value, frequency) rows, or the error."""

    error: str
    rows: list[tuple[int, float, float]]


def _one(template: str, parameter: str, start: float, stop: float, second: str, value: float,
         params: Mapping[str, float], kw: Mapping[str, Any], targets: tuple[tuple[str, float], ...] = ()) -> _Locus:
    p = dict(params)
    for path, factor in targets or ((second, 1.0),):
        p[path] = value * factor
    try:
        res = nmm.continuation(template, parameter=parameter, start=start, stop=stop, params=p, **kw)
    except nmm.NMMError as exc:  # no equilibrium at this value: an empty row, reported
        return {"error": str(exc), "rows": []}
    sp = res.special_points
    return {"error": "", "rows": [(KIND_CODES[r.kind], float(r.value), float(r.frequency))
                                  for r in sp.itertuples()]}


def _digest(args: tuple) -> str:
    """A task key part that is the same in every process (``hash`` of a str is salted)."""
    return hashlib.sha256(repr(args).encode()).hexdigest()[:16]


def two_parameter_loci(template: str, parameter: str, start: float, stop: float, second: str, values: ArrayLike,
                       *, params: Mapping[str, float] | None = None, client: Client | None = None,
                       store: str | None = None, max_points: int = 16,
                       targets: Mapping[str, float] | None = None, **continuation_kw: Any) -> xr.Dataset:
    """Folds and Hopf points in ``parameter`` for each value of ``second``.

    Parameters
    ----------
    template : str
        A template reference (passed to the workers).
    parameter, start, stop : as in :func:`nmm.continuation`.
    second : str
        The second parameter's path (or its name, with ``targets``).
    values : array_like
        Its values; one continuation (one dask task) each.
    client : distributed.Client, optional
        Default: computed here, one after the other.
    store : str, optional
        Write the dataset to this zarr store (format 3, consolidated).
    max_points : int, default: 16
        Special points kept per value.
    targets : mapping of str to float, optional
        The parameters that ``second`` sets, each to ``value * factor``.
    **continuation_kw
        Passed to :func:`nmm.continuation`; ``cycles=True`` (or options) adds the special
        points of the cycle branches, so that folds of cycles are followed too.

    Returns
    -------
    xarray.Dataset
        Dims ``(second's name, special)``: ``kind`` (0 fold, 1 hopf, 2 fold_cycle,
        3 homoclinic, 4 period_doubling, 5 torus, -1 none; the cycle kinds only with
        ``cycles``), ``value`` (the first parameter), ``frequency`` (Im(lambda) / 2 pi at Hopf points,
        1 / period on cycles; per unit of the template's time, Hz for a template in seconds), ``failed`` per value (the messages are in
        ``attrs['errors']``).

    Examples
    --------
    The fold of cycles of the Jansen-Rit model over (u, C), one dask task per C::

        two_parameter_loci("nmm.templates.jansenrit.JRC", "pc/rpo_e_in/u", -50, 400, "C",
                           np.linspace(120, 160, 9), targets={"pc/pro/m->ein/rpo_e/m_in/weight": 1.0,
                           "ein/pro/m->pc/rpo_e_in/m_in/weight": 0.8, "pc/pro/m->iin/rpo_e/m_in/weight": 0.25,
                           "iin/pro/m->pc/rpo_i/m_in/weight": 0.25}, cycles=True, client=client)
    """
    values = np.asarray(values, dtype=float)
    if values.ndim != 1 or values.size == 0 or not np.all(np.isfinite(values)):
        raise SpecError(f"values of {second!r} must be a non-empty 1-D array of finite numbers.")
    circuit = nmm.CircuitTemplate.from_yaml(template)
    tg = tuple((str(k), float(v)) for k, v in (targets or {}).items())
    for path in (parameter, *(k for k, _ in tg or ((second, 1.0),))):
        if path not in circuit.model.params:
            raise SpecError(f"{path!r} is not a parameter of {circuit.name!r}."
                            + did_you_mean(path, circuit.model.params))
    params = dict(params or {})
    args = [(template, parameter, float(start), float(stop), second, float(v), params, continuation_kw, tg)
            for v in values]
    if client is None:
        results = [_one(*a) for a in args]
    else:
        futs = [client.submit(_one, *a, key=f"nmm-locus-{second}-{i}-{_digest(a)}")
                for i, a in enumerate(args)]
        results = client.gather(futs)
    n = values.size
    kind = np.full((n, max_points), -1, dtype=np.int8)
    val = np.full((n, max_points), np.nan)
    freq = np.full((n, max_points), np.nan)
    for i, r in enumerate(results):
        for j, (k, v, f) in enumerate(r["rows"][:max_points]):
            kind[i, j], val[i, j], freq[i, j] = k, v, f
    dim = second.replace("/", ".")
    model = circuit.model
    names = [k for k, c in sorted(KIND_CODES.items(), key=lambda kv: kv[1])
             if continuation_kw.get("cycles") or c < 2]
    second_unit = model.unit(tg[0][0]) if tg else model.unit(second)
    # per unit of the template's time (tau_m for the QIF mean field, ms for Wilson-Cowan)
    freq_unit = "Hz" if circuit.time_unit == "s" else f"1/{circuit.time_unit}"
    ds = xr.Dataset(
        {
            "kind": ((dim, "special"), kind, {"units": "1", "long_name": "special point kind",
                                                 "flag_values": list(range(-1, len(names))),
                                                 "flag_meanings": " ".join(["none", *names])}),
            "value": ((dim, "special"), val, {"units": model.unit(parameter), "long_name": parameter}),
            "frequency": ((dim, "special"), freq, {"units": freq_unit, "long_name": "Hopf frequency Im(lambda)/2pi"
                                                   + (" or 1/period on cycles" if len(names) > 2 else "")}),
            "failed": ((dim,), np.array([bool(r["error"]) for r in results], dtype=np.int8),
                       {"units": "1", "long_name": "1 where the continuation failed (see attrs['errors'])"}),
        },
        coords={dim: (dim, values, {"units": second_unit, "long_name": second, "path": second}),
                "special": ("special", np.arange(max_points), {"units": "1", "long_name": "special point index"})},
        attrs={"nmm_format": "nmm-loci-1", "template": template, "parameter": parameter,
               "range": json.dumps([float(start), float(stop)]), "second": second,
               "errors": json.dumps({str(v): r["error"] for v, r in zip(values, results) if r["error"]})},
    )
    if tg:
        ds.attrs["targets"] = json.dumps(dict(tg))
    if store is not None:
        import warnings

        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*[Cc]onsolidated metadata.*")
            ds.to_zarr(store, mode="w-", zarr_format=3, consolidated=True)
    return ds
