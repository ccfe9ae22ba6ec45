"""Whole-brain reductions: functional connectivity, synchrony, BOLD, and the fit to empirical FC.

They run on a network's tile with the series of every region of a point at once
(``(n_points, n_regions, n_time)``); the numerics are :mod:`nmm.analysis.network`.
Options come from the spec's ``keep.options``::

    keep:
      reductions: [fc, sync, bold, bold_fc, fc_fit]
      options:
        fc: {band: [8, 13], envelope: true}       # default: the raw series
        sync: {band: [8, 13]}                      # Hz, the band of the Kuramoto phases
        bold: {output: V_pce, tr: 2.0, scale: 1.0, discard: 0.0}   # seconds; default the first output
        fc_fit: {empirical: nmm.connectomes.gw80, of: bold}        # of: bold (BOLD FC) or signal (fc)

Variables: ``<output>_fc`` and ``<output>_bold_fc`` (``region``, ``region_2``),
``<output>_sync_mean``/``_std``, ``<output>_bold`` (``region``, ``bold_time``), and
``fc_fit_r`` (Pearson correlation of the upper triangles of simulated and empirical FC)
and ``fc_fit_distance`` (their Frobenius distance). BOLD is computed from the kept
samples (after the cutoff), starting at rest; ``discard`` drops its first seconds
before its FC.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from nmm.analysis import network as netan
from nmm.connectomes import load_fc
from nmm.engine import time_grid
from nmm.errors import NMMError
from nmm.validation import check_keys

from .axes import to_float
from .errors import SpecError
from .reduction_base import Reduction, ReductionOptions, TileResult, Units, VarInfo

if TYPE_CHECKING:  # annotations only: the spec imports the reductions
    from .spec import SimulationSpec

__all__ = ["fc_reduction", "sync_reduction", "bold_reduction", "bold_fc_reduction", "fc_fit_reduction"]

#: seconds per time unit of a template
_SECONDS = {"s": 1.0, "ms": 1e-3}


def _opts(options: ReductionOptions | None, section: str, allowed: Sequence[str]) -> dict[str, Any]:
    return check_keys((options or {}).get(section) or {}, allowed, f"keep.options.{section}", error=SpecError,
                      noun="option")


def _band(value: object, where: str) -> tuple[float, float] | None:
    if value is None:
        return None
    if not isinstance(value, (list, tuple)) or len(value) != 2:
        raise SpecError(f"{where} must be [low, high] in Hz, got {value!r}.")
    lo, hi = (to_float(v, where) for v in value)
    if not 0 < lo < hi:
        raise SpecError(f"{where} = [{lo}, {hi}] needs 0 < low < high (Hz).")
    return lo, hi


def _region_dims(regions: Sequence[str]) -> tuple[tuple[str, np.ndarray, dict[str, str]], ...]:
    lab = np.asarray(list(regions), dtype=object)  # variable-length strings (zarr 3 has no spec for fixed UTF-32)
    return (("region", lab, {"units": "1", "long_name": "region"}),
            ("region_2", lab, {"units": "1", "long_name": "region (second index of a matrix)"}))


def _seconds(units: Units, what: str) -> float:
    tu = units.get("time", "unknown")
    if tu not in _SECONDS:
        raise SpecError(f"{what} needs the template's time unit in s or ms to know the sampling rate in Hz; "
                        f"it is {tu!r}. Declare time_unit: s in the circuit template.")
    return _SECONDS[tu]


def _fs(res: TileResult) -> float:
    """Samples per second of a tile's series."""
    return 1.0 / (res.dt * _SECONDS.get(res.units.get("time", "s"), 1.0))


def _check_length(sim: SimulationSpec, band: tuple[float, float] | None, units: Units, what: str) -> None:
    """A band-pass needs a series long enough for its filter (nmm.analysis.network's rule)."""
    if band is None:
        return
    g = time_grid(sim.simulation_time, sim.step_size, sim.sampling_step_size, sim.cutoff)
    fs = 1.0 / (g.dts * _seconds(units, what))
    if band[1] >= fs / 2:
        raise SpecError(f"{what}: band {list(band)} Hz reaches the Nyquist frequency {fs / 2:g} Hz of the samples; "
                        "lower its high edge or sample more often (sampling_step_size).")


def fc_reduction(options: ReductionOptions | None = None) -> Reduction:
    o = _opts(options, "fc", ("band", "envelope"))
    band = _band(o.get("band"), "keep.options.fc.band")
    envelope = bool(o.get("envelope", False))
    if envelope and band is None:
        raise SpecError("keep.options.fc.envelope needs a band: [low, high] (the envelope of which rhythm).")

    def variables(outputs: Sequence[str], units: Units, sim: SimulationSpec,
                  regions: Sequence[str] = ()) -> dict[str, VarInfo]:
        _check_length(sim, band, units, "keep.options.fc")
        what = ("amplitude-envelope " if envelope else "") + "functional connectivity" + \
            (f" in {band[0]:g}-{band[1]:g} Hz" if band else "")
        return {f"{out}_fc": VarInfo(_region_dims(regions), {"units": "1", "long_name": f"{what} of {out}"})
                for out in outputs}

    def compute(res: TileResult) -> dict[str, np.ndarray]:
        assert res.series is not None
        return {f"{out}_fc": netan.functional_connectivity(res.series[out], band=band,
                                                            fs=_fs(res) if band else None, envelope=envelope)
                for out in res.outputs}

    return Reduction("fc", variables, compute, needs_series=True, network=True)


def sync_reduction(options: ReductionOptions | None = None) -> Reduction:
    o = _opts(options, "sync", ("band",))
    band = _band(o.get("band", [8.0, 13.0]), "keep.options.sync.band")
    assert band is not None

    def variables(outputs: Sequence[str], units: Units, sim: SimulationSpec,
                  regions: Sequence[str] = ()) -> dict[str, VarInfo]:
        _check_length(sim, band, units, "keep.options.sync")
        v = {}
        for out in outputs:
            what = f"Kuramoto order parameter of the {band[0]:g}-{band[1]:g} Hz phases of {out}"
            v[f"{out}_sync_mean"] = VarInfo((), {"units": "1", "long_name": f"mean {what}"})
            v[f"{out}_sync_std"] = VarInfo((), {"units": "1", "long_name": f"standard deviation of the {what}"})
        return v

    def compute(res: TileResult) -> dict[str, np.ndarray]:
        assert res.series is not None
        out: dict[str, np.ndarray] = {}
        for name in res.outputs:
            out[f"{name}_sync_mean"], out[f"{name}_sync_std"] = netan.kuramoto_order(res.series[name], fs=_fs(res),
                                                                                     band=band)
        return out

    return Reduction("sync", variables, compute, needs_series=True, network=True)


class _BoldOptions:
    """``keep.options.bold``: which output drives it, the TR, a scale, and seconds discarded before its FC."""

    def __init__(self, options: ReductionOptions | None) -> None:
        o = _opts(options, "bold", ("output", "tr", "scale", "discard"))
        self.output: str | None = None if o.get("output") is None else str(o["output"])
        self.tr = to_float(o.get("tr", 2.0), "keep.options.bold.tr")
        self.scale = to_float(o.get("scale", 1.0), "keep.options.bold.scale")
        self.discard = to_float(o.get("discard", 0.0), "keep.options.bold.discard")
        if self.tr <= 0 or self.discard < 0:
            raise SpecError(f"keep.options.bold needs tr > 0 and discard >= 0 (seconds), got tr={self.tr}, "
                            f"discard={self.discard}.")

    def pick(self, outputs: Sequence[str]) -> str:
        if self.output is None:
            return outputs[0]
        if self.output not in outputs:
            raise SpecError(f"keep.options.bold.output {self.output!r} is not an output; outputs: {list(outputs)}.")
        return self.output

    def times(self, sim: SimulationSpec, units: Units) -> np.ndarray:
        g = time_grid(sim.simulation_time, sim.step_size, sim.sampling_step_size, sim.cutoff)
        dt_s = g.dts * _seconds(units, "bold")
        try:
            t = netan.bold_times(g.n_keep, dt_s, self.tr)
        except NMMError as exc:
            raise SpecError(f"keep.options.bold: {exc}") from None
        if t.size < 1:
            raise SpecError(f"keep.options.bold: the kept series ({g.n_keep * dt_s:g} s) is shorter than one TR "
                            f"({self.tr:g} s); simulate longer or lower tr.")
        return t

    def bold(self, res: TileResult, out: str) -> np.ndarray:
        key = ("bold", out, self.tr, self.scale)
        if key not in res.cache:
            assert res.series is not None
            dt_s = res.dt * _SECONDS.get(res.units.get("time", "s"), 1.0)
            res.cache[key] = netan.balloon_windkessel(res.series[out] * self.scale, dt=dt_s, tr=self.tr)
        return res.cache[key]

    def bold_fc(self, res: TileResult, out: str) -> np.ndarray:
        key = ("bold_fc", out, self.tr, self.scale, self.discard)
        if key not in res.cache:
            b = self.bold(res, out)
            skip = int(round(self.discard / self.tr))
            res.cache[key] = netan.functional_connectivity(b[..., skip:])
        return res.cache[key]


def bold_reduction(options: ReductionOptions | None = None) -> Reduction:
    bo = _BoldOptions(options)

    def variables(outputs: Sequence[str], units: Units, sim: SimulationSpec,
                  regions: Sequence[str] = ()) -> dict[str, VarInfo]:
        out = bo.pick(outputs)
        t = bo.times(sim, units)
        dims = (_region_dims(regions)[0], ("bold_time", t, {"units": "s", "long_name": "BOLD sample time after the "
                                                                                       "cutoff"}))
        return {f"{out}_bold": VarInfo(dims, {"units": "1", "long_name": f"BOLD signal (fractional change) driven "
                                                                          f"by {out}, Balloon-Windkessel"})}

    def compute(res: TileResult) -> dict[str, np.ndarray]:
        out = bo.pick(res.outputs)
        return {f"{out}_bold": bo.bold(res, out)}

    return Reduction("bold", variables, compute, needs_series=True, network=True)


def _check_discard(bo: _BoldOptions, sim: SimulationSpec, units: Units) -> None:
    n = bo.times(sim, units).size - int(round(bo.discard / bo.tr))
    if n < 3:
        raise SpecError(f"BOLD FC needs at least 3 BOLD samples after keep.options.bold.discard; this simulation "
                        f"gives {max(n, 0)} (tr {bo.tr:g} s): simulate longer or lower tr.")


def bold_fc_reduction(options: ReductionOptions | None = None) -> Reduction:
    bo = _BoldOptions(options)

    def variables(outputs: Sequence[str], units: Units, sim: SimulationSpec,
                  regions: Sequence[str] = ()) -> dict[str, VarInfo]:
        out = bo.pick(outputs)
        _check_discard(bo, sim, units)
        return {f"{out}_bold_fc": VarInfo(_region_dims(regions), {"units": "1", "long_name": f"functional "
                                                                  f"connectivity of the BOLD signal of {out}"})}

    def compute(res: TileResult) -> dict[str, np.ndarray]:
        out = bo.pick(res.outputs)
        return {f"{out}_bold_fc": bo.bold_fc(res, out)}

    return Reduction("bold_fc", variables, compute, needs_series=True, network=True)


def fc_fit_reduction(options: ReductionOptions | None = None) -> Reduction:
    o = _opts(options, "fc_fit", ("empirical", "of", "output"))
    if o.get("empirical") is None:
        raise SpecError("keep.options.fc_fit.empirical is needed: the empirical FC to fit, e.g. "
                        "nmm.connectomes.gw80 (its FC) or a .npy/.csv file.")
    of = str(o.get("of", "bold"))
    if of not in ("bold", "signal"):
        raise SpecError(f"keep.options.fc_fit.of must be bold (FC of the BOLD signal) or signal (FC of the output), "
                        f"got {of!r}.")
    ref = o["empirical"]
    try:
        emp = load_fc(ref)
    except NMMError as exc:
        raise SpecError(f"keep.options.fc_fit.empirical: {exc}") from None
    bo = _BoldOptions(options)

    def pick(outputs: Sequence[str]) -> str:
        if o.get("output") is not None:
            if o["output"] not in outputs:
                raise SpecError(f"keep.options.fc_fit.output {o['output']!r} is not an output; outputs: "
                                f"{list(outputs)}.")
            return str(o["output"])
        return bo.pick(outputs)

    def variables(outputs: Sequence[str], units: Units, sim: SimulationSpec,
                  regions: Sequence[str] = ()) -> dict[str, VarInfo]:
        out = pick(outputs)
        if of == "bold":
            _check_discard(bo, sim, units)
        what = f"{'BOLD ' if of == 'bold' else ''}FC of {out} and the empirical FC"
        return {"fc_fit_r": VarInfo((), {"units": "1", "long_name": f"correlation of the upper triangles of the {what}",
                                         "empirical": str(ref)}),
                "fc_fit_distance": VarInfo((), {"units": "1", "long_name": f"Frobenius distance of the upper "
                                                                           f"triangles of the {what}"})}

    def compute(res: TileResult) -> dict[str, np.ndarray]:
        out = pick(res.outputs)
        if of == "bold":
            sim_fc = bo.bold_fc(res, out)
        else:
            assert res.series is not None
            key = ("fc_plain", out)
            if key not in res.cache:
                res.cache[key] = netan.functional_connectivity(res.series[out])
            sim_fc = res.cache[key]
        r, d = netan.fc_fit(sim_fc, emp)
        return {"fc_fit_r": r, "fc_fit_distance": d}

    def check(net: Any) -> None:
        load_fc(ref, n_regions=net.model.n_regions)

    return Reduction("fc_fit", variables, compute, needs_series=True, network=True, check=check)
