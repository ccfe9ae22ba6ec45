"""Analysis reductions computed per tile: spectra, spectral peak, band powers, orbit extrema.

Options come from the spec's ``keep.options``::

    keep:
      reductions: [psd, peak, bands, orbit]
      options:
        spectral: {nperseg: 2048, window: hann, detrend: constant, fmax: 100}   # psd, peak, bands
                                               # (fmax: highest stored / searched frequency)
        peak: {fmin: 2, fmax: 40}
        bands: {alpha: [8, 13], beta: [13, 30]}          # default: delta..gamma
        orbit: {tol: 1e-3, max_n: 16, max_periodic: 4}   # tol relative to the range

The numerics are :mod:`nmm.analysis.spectral` and :mod:`nmm.analysis.orbits`. The peak
frequency and power are NaN for series at rest (range below 1e-9 of the mean).
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from nmm.analysis import orbits, spectral
from nmm.engine import time_grid
from nmm.errors import NMMError
from nmm.validation import check_keys

from .axes import to_float
from .errors import SpecError
from .reduction_base import Reduction, ReductionOptions, TileResult, Units, VarInfo

if TYPE_CHECKING:  # annotations only: the spec imports the reductions
    from .spec import SimulationSpec

__all__ = ["SPECTRAL_KEYS", "psd_reduction", "peak_reduction", "bands_reduction", "orbit_reduction"]

SPECTRAL_KEYS = ("nperseg", "noverlap", "nfft", "window", "detrend", "fmax")


def _opts(options: ReductionOptions | None, section: str, allowed: Iterable[str]) -> dict[str, Any]:
    return check_keys((options or {}).get(section) or {}, allowed, f"keep.options.{section}", error=SpecError,
                      noun="option")


def _grid(sim: SimulationSpec) -> tuple[int, float]:
    g = time_grid(sim.simulation_time, sim.step_size, sim.sampling_step_size, sim.cutoff)
    return g.n_keep, 1.0 / g.dts


def _welch_kw(options: ReductionOptions | None) -> tuple[dict[str, Any], float | None]:
    """The keyword arguments of :func:`nmm.analysis.spectral.welch_psd`, and ``fmax``."""
    o = _opts(options, "spectral", SPECTRAL_KEYS)
    fmax = o.pop("fmax", None)
    for k in ("nperseg", "noverlap", "nfft"):
        if k in o:
            v = to_float(o[k], f"keep.options.spectral.{k}")
            if v != int(v):
                raise SpecError(f"keep.options.spectral.{k} must be a whole number, got {o[k]!r}.")
            o[k] = int(v)
    return o, (None if fmax is None else to_float(fmax, "keep.options.spectral.fmax"))


def _freqs(sim: SimulationSpec,
           options: ReductionOptions | None) -> tuple[np.ndarray, np.ndarray, dict[str, Any], float]:
    """Frequencies of the spectrum of a simulation's series, the mask of those kept, the
    Welch keywords and the sampling rate."""
    n, fs = _grid(sim)
    kw, fmax = _welch_kw(options)
    try:
        f, _ = spectral.welch_psd(np.zeros(n), fs, **kw)
    except NMMError as exc:
        raise SpecError(f"keep.options.spectral: {exc}") from None
    keep = f <= fmax if fmax is not None else np.ones(f.size, bool)
    return f, keep, kw, fs


def psd_reduction(options: ReductionOptions | None = None) -> Reduction:
    def variables(outputs: Sequence[str], units: Units, sim: SimulationSpec) -> dict[str, VarInfo]:
        f, keep, _, _ = _freqs(sim, options)
        dim = (("frequency", f[keep], {"units": "Hz", "long_name": "frequency"}),)
        return {f"{o}_psd": VarInfo(dim, {"units": f"{units[o]}^2/Hz", "long_name": f"Welch PSD of {o}"})
                for o in outputs}

    def compute(res: TileResult) -> dict[str, np.ndarray]:
        out = {}
        for o in res.outputs:
            _, P, keep = _spectrum(res, o, options)
            out[f"{o}_psd"] = P[..., keep]
        return out

    return Reduction("psd", variables, compute, needs_series=True)


def _spectrum(res: TileResult, o: str,
              options: ReductionOptions | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Welch spectrum of output ``o`` of a tile, computed once and shared by the psd, peak
    and bands reductions (``res.cache``); the sampling rate is ``1 / res.dt``, exactly
    as :func:`_freqs` computes it from the spec."""
    kw, fmax = _welch_kw(options)
    key = ("welch", o, tuple(sorted(kw.items())))
    if key not in res.cache:
        assert res.series is not None  # a reduction that needs_series: the task keeps them
        res.cache[key] = spectral.welch_psd(res.series[o], 1.0 / res.dt, **kw)
    f, P = res.cache[key]
    keep = f <= fmax if fmax is not None else np.ones(f.size, bool)
    return f, P, keep


def peak_reduction(options: ReductionOptions | None = None) -> Reduction:
    po = _opts(options, "peak", ("fmin", "fmax"))
    fmin = None if po.get("fmin") is None else to_float(po["fmin"], "keep.options.peak.fmin")
    fmax = None if po.get("fmax") is None else to_float(po["fmax"], "keep.options.peak.fmax")
    if fmax is None:
        fmax = _welch_kw(options)[1]  # spectral.fmax bounds the search too

    def variables(outputs: Sequence[str], units: Units, sim: SimulationSpec) -> dict[str, VarInfo]:
        _freqs(sim, options)
        v = {}
        for o in outputs:
            v[f"{o}_peak_frequency"] = VarInfo((), {"units": "Hz", "long_name": f"spectral peak frequency of {o}"})
            v[f"{o}_peak_power"] = VarInfo((), {"units": f"{units[o]}^2/Hz", "long_name": f"spectral peak power of {o}"})
        return v

    def compute(res: TileResult) -> dict[str, np.ndarray]:
        out = {}
        for o in res.outputs:
            f, P, _ = _spectrum(res, o, options)
            pf, pp = spectral.spectral_peak(f, P, fmin=fmin, fmax=fmax)
            # a series that has come to rest has no spectral peak, only round-off
            mean, lo, hi = res.stats[o]
            flat = (hi - lo) <= 1e-9 * np.maximum(np.abs(mean), 1e-300)
            out[f"{o}_peak_frequency"] = np.where(flat, np.nan, pf)
            out[f"{o}_peak_power"] = np.where(flat, np.nan, pp)
        return out

    return Reduction("peak", variables, compute, needs_series=True)


def bands_reduction(options: ReductionOptions | None = None) -> Reduction:
    raw = (options or {}).get("bands") or spectral.DEFAULT_BANDS
    bands = {}
    for name, b in dict(raw).items():
        if not isinstance(b, (list, tuple)) or len(b) != 2:
            raise SpecError(f"keep.options.bands.{name} must be [low, high] in Hz, got {b!r}.")
        lo, hi = (to_float(x, f"keep.options.bands.{name}") for x in b)
        if not 0 <= lo < hi:
            raise SpecError(f"keep.options.bands.{name} = [{lo}, {hi}] needs 0 <= low < high.")
        bands[str(name)] = (lo, hi)

    def variables(outputs: Sequence[str], units: Units, sim: SimulationSpec) -> dict[str, VarInfo]:
        _freqs(sim, options)
        return {f"{o}_power_{b}": VarInfo((), {"units": f"{units[o]}^2",
                                                "long_name": f"power of {o} in the {b} band {lo:g}-{hi:g} Hz"})
                for o in outputs for b, (lo, hi) in bands.items()}

    def compute(res: TileResult) -> dict[str, np.ndarray]:
        out = {}
        for o in res.outputs:
            f, P, _ = _spectrum(res, o, options)
            for b, arr in spectral.band_powers(f, P, bands).items():
                out[f"{o}_power_{b}"] = arr
        return out

    return Reduction("bands", variables, compute, needs_series=True)


def orbit_reduction(options: ReductionOptions | None = None) -> Reduction:
    oo = _opts(options, "orbit", ("tol", "max_n", "max_periodic"))
    # sampled orbits: peak heights vary with the sampling phase (about (omega dt)^3)
    tol = to_float(oo.get("tol", 1e-3), "keep.options.orbit.tol")
    max_n = int(to_float(oo.get("max_n", 16), "keep.options.orbit.max_n"))
    max_periodic = int(to_float(oo.get("max_periodic", 4), "keep.options.orbit.max_periodic"))
    if max_n < 1 or max_periodic < 1 or not tol > 0:
        raise SpecError("keep.options.orbit needs tol > 0, max_n >= 1 and max_periodic >= 1.")

    def variables(outputs: Sequence[str], units: Units, sim: SimulationSpec) -> dict[str, VarInfo]:
        ext = (("extremum", np.arange(max_n), {"units": "1", "long_name": "index of a distinct extremum"}),)
        v = {}
        for o in outputs:
            u = units[o]
            v[f"{o}_maxima"] = VarInfo(ext, {"units": u, "long_name": f"distinct local maxima of {o}"})
            v[f"{o}_minima"] = VarInfo(ext, {"units": u, "long_name": f"distinct local minima of {o}"})
            v[f"{o}_n_maxima"] = VarInfo((), {"units": "1", "long_name": f"number of distinct maxima of {o}"},
                                         "int32")
            v[f"{o}_regime"] = VarInfo((), {"units": "1", "long_name": f"regime of {o}",
                                            "flag_values": sorted(orbits.REGIMES),
                                            "flag_meanings": " ".join(orbits.REGIMES[k].replace(" ", "_")
                                                                      for k in sorted(orbits.REGIMES))}, "int8")
            v[f"{o}_period"] = VarInfo((), {"units": units.get("time", "unknown"),
                                            "long_name": f"oscillation period of {o}"})
        return v

    def compute(res: TileResult) -> dict[str, np.ndarray]:
        out = {}
        dt = res.dt
        assert res.series is not None  # a reduction that needs_series: the task keeps them
        for o in res.outputs:
            s = orbits.orbit_summary(res.series[o], dt, tol=tol, max_n=max_n, max_periodic=max_periodic)
            out[f"{o}_maxima"], out[f"{o}_minima"] = s["maxima"], s["minima"]
            out[f"{o}_n_maxima"], out[f"{o}_regime"], out[f"{o}_period"] = s["n_maxima"], s["regime"], s["period"]
        return out

    return Reduction("orbit", variables, compute, needs_series=True)
