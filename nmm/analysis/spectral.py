"""Power spectra of simulated series: Welch densities, spectral peaks and band powers.

The numpy functions (:func:`welch_psd`, :func:`spectral_peak`, :func:`band_powers`) work
on plain arrays along one axis and are vectorized over the others. The xarray functions
(:func:`psd`, :func:`peak_frequency`, :func:`band_power`) wrap them with
:func:`xarray.apply_ufunc` (``dask="parallelized"``), so a dask-backed DataArray, e.g. a
variable of ``xr.open_zarr(store)``, stays lazy and is processed chunk by chunk; the other
dimensions and their coordinates are kept, and every result carries ``units`` and
``long_name``.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any, Literal, TypeAlias

import numpy as np
import scipy.signal
import xarray as xr
from numpy.typing import ArrayLike

from ..errors import NMMError

__all__ = [
    "DEFAULT_BANDS",
    "welch_psd",
    "spectral_peak",
    "band_powers",
    "psd",
    "peak_frequency",
    "band_power",
]

#: The classical EEG bands in Hz, each the half-open interval ``[lo, hi)``.
DEFAULT_BANDS: Mapping[str, tuple[float, float]] = {
    "delta": (1.0, 4.0),
    "theta": (4.0, 8.0),
    "alpha": (8.0, 13.0),
    "beta": (13.0, 30.0),
    "gamma": (30.0, 80.0),
}

#: a window of :func:`scipy.signal.get_window`: a name, a (name, parameter...) tuple or the values
Window: TypeAlias = str | tuple[Any, ...] | ArrayLike
#: a segment detrending of :func:`scipy.signal.welch`: ``'constant'``, ``'linear'``, a function or False
Detrend: TypeAlias = str | Callable[[np.ndarray], np.ndarray] | Literal[False]

#: default segment length: this many time units of data (0.25 cycles/unit resolution) ...
_SEGMENT_TIME = 4.0
#: ... but at least this many samples (and never more than the series)
_MIN_NPERSEG = 1024


# ----------------------------------------------------------------------------- numpy


def _welch_params(n: int, fs: float, nperseg: int | None, noverlap: int | None,
                  nfft: int | None) -> tuple[int, int, int]:
    """Resolve and check Welch's segment length, overlap and FFT length for ``n`` samples."""
    if n < 2:
        raise NMMError(f"a spectrum needs at least 2 samples along the time axis, got {n}.")
    if nperseg is None:
        nperseg = min(n, max(_MIN_NPERSEG, int(math.ceil(_SEGMENT_TIME * fs))))
    else:
        if isinstance(nperseg, bool) or not isinstance(nperseg, (int, np.integer)) or nperseg < 2:
            raise NMMError(f"nperseg must be an integer >= 2, got {nperseg!r}.")
        if nperseg > n:
            raise NMMError(
                f"nperseg={nperseg} is longer than the series ({n} samples); use nperseg<={n} "
                "or a longer simulation."
            )
        nperseg = int(nperseg)
    if noverlap is None:
        noverlap = nperseg // 2
    elif isinstance(noverlap, bool) or not isinstance(noverlap, (int, np.integer)) or not 0 <= noverlap < nperseg:
        raise NMMError(f"noverlap must be an integer in [0, nperseg={nperseg}), got {noverlap!r}.")
    if nfft is None:
        nfft = nperseg
    elif isinstance(nfft, bool) or not isinstance(nfft, (int, np.integer)) or nfft < nperseg:
        raise NMMError(f"nfft must be an integer >= nperseg={nperseg}, got {nfft!r}.")
    return int(nperseg), int(noverlap), int(nfft)


def _check_fs(fs: float) -> float:
    try:
        v = float(fs)
    except (TypeError, ValueError):
        raise NMMError(f"fs must be a positive sampling rate, got {fs!r}.") from None
    if not (math.isfinite(v) and v > 0):
        raise NMMError(f"fs must be a positive sampling rate, got {fs!r}.")
    return v


def welch_psd(x: ArrayLike, fs: float, *, nperseg: int | None = None, noverlap: int | None = None,
              nfft: int | None = None, window: Window = "hann", detrend: Detrend = "constant",
              axis: int = -1) -> tuple[np.ndarray, np.ndarray]:
    """One-sided power spectral density by Welch's method.

    A thin wrapper of :func:`scipy.signal.welch` (``scaling='density'``,
    ``return_onesided=True``) with a default segment length suited to simulated series.

    Parameters
    ----------
    x : array_like
        Real series; time along ``axis``.
    fs : float
        Sampling rate (samples per time unit; Hz when time is in seconds).
    nperseg : int, optional
        Samples per segment. Default: ``4 * fs`` samples (4 time units, i.e. a
        resolution of 0.25 Hz for series in seconds) but at least 1024 samples, and at
        most the length of the series.
    noverlap : int, optional
        Overlap of segments in samples; default: ``nperseg // 2``.
    nfft : int, optional
        FFT length (zero padding if larger than ``nperseg``); default: ``nperseg``.
    window : str or tuple or array_like, default: 'hann'
        See :func:`scipy.signal.get_window`.
    detrend : str or callable or False, default: 'constant'
        Detrending of each segment (``'constant'`` removes its mean).
    axis : int, default: -1
        Time axis of ``x``.

    Returns
    -------
    f : ndarray, shape (nfft // 2 + 1,)
        Frequencies, ``0 .. fs/2`` in steps of ``fs / nfft``.
    P : ndarray
        Densities (units of ``x`` squared per unit of ``fs``); the shape of ``x`` with
        ``axis`` replaced by frequency (at the same position).

    Raises
    ------
    NMMError
        If ``fs`` is not positive, the series has fewer than 2 samples, or ``nperseg``,
        ``noverlap`` or ``nfft`` are out of range.

    Examples
    --------
    >>> t = np.arange(8000) / 1000.0
    >>> f, P = welch_psd(np.sin(2 * np.pi * 10 * t), fs=1000.0)
    >>> float(f[np.argmax(P)])
    10.0
    """
    x = np.asarray(x)
    fs = _check_fs(fs)
    if x.ndim == 0:
        raise NMMError("x must have a time axis, got a scalar.")
    n = x.shape[axis]
    nperseg, noverlap, nfft = _welch_params(n, fs, nperseg, noverlap, nfft)
    return scipy.signal.welch(x, fs=fs, window=window, nperseg=nperseg, noverlap=noverlap, nfft=nfft,
                              detrend=detrend, return_onesided=True, scaling="density", axis=axis)


def _check_f(f: ArrayLike, m: int) -> np.ndarray:
    f = np.asarray(f, dtype=float)
    if f.ndim != 1 or f.size != m:
        raise NMMError(f"f must be 1-D with one frequency per bin of P ({m}), got shape {f.shape}.")
    if f.size > 1 and not np.all(np.diff(f) > 0):
        raise NMMError("f must be strictly increasing.")
    return f


def spectral_peak(f: ArrayLike, P: ArrayLike, *, fmin: float | None = None, fmax: float | None = None,
                  axis: int = -1) -> tuple[np.ndarray, np.ndarray]:
    """Frequency and power of the largest spectral peak, with sub-bin accuracy.

    The largest bin of ``P`` with ``fmin <= f <= fmax`` is refined by fitting a parabola
    to ``log P`` at it and its two neighbours (a Gaussian through three bins), which
    for a Hann window locates a sinusoid to a few hundredths of a bin. At the edges of
    the window, or where a neighbour is zero, the bin itself is returned.

    Parameters
    ----------
    f : array_like, shape (m,)
        Increasing frequencies.
    P : array_like
        Spectral densities, ``m`` bins along ``axis``.
    fmin, fmax : float, optional
        Search window (inclusive); default: all frequencies.
    axis : int, default: -1
        Frequency axis of ``P``.

    Returns
    -------
    peak_frequency : ndarray
        Shape of ``P`` without ``axis``. NaN where ``P`` in the window is all zero or NaN.
    peak_power : ndarray
        The interpolated maximum of ``P`` (same units as ``P``); NaN likewise.

    Raises
    ------
    NMMError
        If ``f`` does not match ``P`` or the window contains no frequency.

    Examples
    --------
    >>> f, P = welch_psd(np.sin(2 * np.pi * 7.3 * np.arange(8000) / 1e3), fs=1e3)
    >>> fp, pp = spectral_peak(f, P, fmin=5, fmax=15)
    """
    P = np.moveaxis(np.asarray(P, dtype=float), axis, -1)
    f = _check_f(f, P.shape[-1])
    lo = -np.inf if fmin is None else float(fmin)
    hi = np.inf if fmax is None else float(fmax)
    sel = np.flatnonzero((f >= lo) & (f <= hi))
    if sel.size == 0:
        raise NMMError(
            f"no frequency in [fmin={fmin!r}, fmax={fmax!r}]; the spectrum covers "
            f"{f[0]:g} .. {f[-1]:g}."
        )
    i0, i1 = int(sel[0]), int(sel[-1]) + 1
    Pw = P[..., i0:i1]
    fw = f[i0:i1]
    shape = Pw.shape[:-1]
    Q = np.where(np.isfinite(Pw) & (Pw > 0), Pw, 0.0).reshape(-1, Pw.shape[-1])
    k = np.argmax(Q, axis=1)
    rows = np.arange(Q.shape[0])
    p0 = Q[rows, k]
    valid = p0 > 0
    fpk = np.where(valid, fw[k], np.nan)
    ppk = np.where(valid, p0, np.nan)
    m = fw.size
    inner = valid & (k > 0) & (k < m - 1)
    km = np.clip(k - 1, 0, m - 1)
    kp = np.clip(k + 1, 0, m - 1)
    pm, pp = Q[rows, km], Q[rows, kp]
    inner &= (pm > 0) & (pp > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        ym, y0, yp = np.log(pm), np.log(p0), np.log(pp)
        denom = ym - 2.0 * y0 + yp
        inner &= denom < 0
        delta = np.where(inner, 0.5 * (ym - yp) / denom, 0.0)
        delta = np.clip(delta, -0.5, 0.5)
        ypk = y0 - 0.25 * (ym - yp) * delta
    step = np.where(delta >= 0, fw[kp] - fw[k], fw[k] - fw[km])
    fpk = np.where(inner, fw[k] + delta * step, fpk)
    ppk = np.where(inner, np.exp(ypk), ppk)
    return fpk.reshape(shape), ppk.reshape(shape)


def _band_masks(f: np.ndarray, bands: Mapping[str, tuple[float, float]]) -> dict[str, np.ndarray]:
    """Check the bands against the frequency grid; return each band's bin mask."""
    if not isinstance(bands, Mapping) or not bands:
        raise NMMError(
            f"bands must be a non-empty mapping name -> (lo, hi), e.g. {{'alpha': (8.0, 13.0)}}, got {bands!r}."
        )
    df_last = f[-1] - f[-2] if f.size > 1 else 0.0
    masks = {}
    for name, edges in bands.items():
        try:
            lo, hi = (float(e) for e in edges)
        except (TypeError, ValueError):
            raise NMMError(f"band {name!r} must be a pair (lo, hi) of frequencies, got {edges!r}.") from None
        if not (math.isfinite(lo) and math.isfinite(hi) and 0 <= lo < hi):
            raise NMMError(f"band {name!r} = {edges!r} must satisfy 0 <= lo < hi.")
        if hi > f[-1] + df_last / 2:
            raise NMMError(
                f"band {name!r} = ({lo:g}, {hi:g}) reaches above the highest frequency {f[-1]:g} "
                "(the Nyquist frequency fs/2); drop the band or sample more finely, e.g. "
                "bands={k: v for k, v in DEFAULT_BANDS.items() if k != 'gamma'}."
            )
        mask = (f >= lo) & (f < hi)
        if not mask.any():
            raise NMMError(
                f"band {name!r} = ({lo:g}, {hi:g}) contains no frequency bin (resolution "
                f"{df_last:g}); widen the band or use longer segments (larger nperseg or nfft)."
            )
        masks[str(name)] = mask
    return masks


def band_powers(f: ArrayLike, P: ArrayLike, bands: Mapping[str, tuple[float, float]] = DEFAULT_BANDS,
                axis: int = -1) -> dict[str, np.ndarray]:
    """Power in frequency bands: the integral of the density over each band.

    A band ``[lo, hi)`` gets every bin whose centre frequency lies in it, each bin
    weighted by its width: ``sum(P[k] * df[k] for lo <= f[k] < hi)`` with
    ``df = np.gradient(f)`` (the bin spacing ``fs / nfft`` on Welch's uniform grid). So
    adjacent bands share no bin, bands tiling ``[0, fs/2]`` add up to the total power
    (Parseval: the mean square of the windowed, detrended segments), and a sinusoid of
    amplitude ``A`` well inside a band contributes ``A**2 / 2``. Band edges are thus
    resolved to one bin; choose the segment length accordingly.

    Parameters
    ----------
    f : array_like, shape (m,)
        Increasing frequencies.
    P : array_like
        Spectral densities, ``m`` bins along ``axis``.
    bands : mapping of str to (float, float), default: DEFAULT_BANDS
        Band name -> ``(lo, hi)`` in the units of ``f`` (the default bands are in Hz).
    axis : int, default: -1
        Frequency axis of ``P``.

    Returns
    -------
    dict of str to ndarray
        Band name -> power, shape of ``P`` without ``axis`` (units of ``P`` times units
        of ``f``).

    Raises
    ------
    NMMError
        If a band is malformed, reaches above the highest frequency, or holds no bin.
    """
    P = np.moveaxis(np.asarray(P, dtype=float), axis, -1)
    f = _check_f(f, P.shape[-1])
    if f.size < 2:
        raise NMMError("band powers need at least 2 frequency bins.")
    masks = _band_masks(f, bands)
    df = np.gradient(f)
    return {name: np.sum(P[..., mask] * df[mask], axis=-1) for name, mask in masks.items()}


# ---------------------------------------------------------------------------- xarray


def _get_dim(da: xr.DataArray, dim: str, what: str) -> None:
    if not isinstance(da, xr.DataArray):
        raise NMMError(f"{what} expects an xarray.DataArray, got {type(da).__name__}.")
    if dim not in da.dims:
        raise NMMError(
            f"{what}: dimension {dim!r} not in the DataArray's dimensions {da.dims}; pass dim=..."
        )
    if dim not in da.coords:
        raise NMMError(f"{what}: dimension {dim!r} has no coordinate; assign one, e.g. da.assign_coords({dim}=...).")


def _sampling(coord: xr.DataArray) -> tuple[float, str]:
    """The sampling rate of a time coordinate and the units of frequency."""
    t = np.asarray(coord.values)
    if t.size < 2:
        raise NMMError(f"coordinate {coord.name!r} needs at least 2 samples, got {t.size}.")
    if t.dtype.kind in "mM":
        d = np.diff(t) / np.timedelta64(1, "s")
        unit = "s"
    else:
        try:
            d = np.diff(t.astype(float))
        except (TypeError, ValueError):
            raise NMMError(f"coordinate {coord.name!r} must be numeric or datetime, got dtype {t.dtype}.") from None
        unit = str(coord.attrs.get("units", "")).strip()
    dt = float(np.mean(d))
    if not (math.isfinite(dt) and dt > 0) or not np.allclose(d, dt, rtol=1e-6, atol=0.0):
        i = int(np.argmax(np.abs(d - dt)))
        raise NMMError(
            f"coordinate {coord.name!r} is not uniformly spaced (step {d[i]!r} at index {i}, "
            f"mean step {dt!r}); a spectrum needs uniform sampling: resample or interpolate "
            "first, e.g. da.interp(time=np.arange(t0, t1, dt))."
        )
    if unit in ("s", "second", "seconds"):
        funit = "Hz"
    elif unit:
        funit = f"1/{unit}"
    else:
        funit = "1/time unit"
    return 1.0 / dt, funit


def _squared(units: str) -> str:
    u = str(units).strip()
    if not u or u == "1":
        return "1"
    return f"{u}^2" if u.isalnum() else f"({u})^2"


def _per(funit: str) -> str:
    return funit if funit.isalnum() else f"({funit})"


def _single_chunk(da: xr.DataArray, dim: str) -> xr.DataArray:
    """Rechunk a dask-backed array so that ``dim`` is one chunk (no-op otherwise)."""
    if da.chunks is not None and len(da.chunksizes[dim]) > 1:
        return da.chunk({dim: -1})
    return da


def _name(da: xr.DataArray) -> str:
    return str(da.attrs.get("signal_long_name") or da.attrs.get("long_name") or da.name or "signal")


def psd(da: xr.DataArray, dim: str = "time", **welch_kw: Any) -> xr.DataArray:
    """Welch power spectral density of a DataArray along its time dimension, lazily.

    Parameters
    ----------
    da : xarray.DataArray
        The series, numpy- or dask-backed. ``dim`` must have a uniformly spaced numeric
        (or datetime) coordinate; its ``units`` attribute gives the frequency units.
    dim : str, default: 'time'
        Time dimension; replaced by ``'frequency'``.
    **welch_kw
        ``nperseg``, ``noverlap``, ``nfft``, ``window``, ``detrend`` as in :func:`welch_psd`.

    Returns
    -------
    xarray.DataArray
        Dimensions of ``da`` with ``dim`` replaced by ``'frequency'`` (last), other
        coordinates kept. Coordinate ``frequency`` has units ``'Hz'`` if time is in
        ``'s'``, else ``'1/<time unit>'``. The density has units ``'<units>^2/Hz'`` and
        the Welch settings as attributes. Dask-backed input gives a lazy result computed
        chunk by chunk (a chunked time dimension is first merged into one chunk).

    Raises
    ------
    NMMError
        If ``dim`` is missing, has no coordinate, is not uniformly spaced, or a Welch
        setting is out of range.

    Examples
    --------
    >>> ds = nmm.simulate("nmm.templates.jansenrit.JRC", None, simulation_time=6.0,
    ...                   step_size=1e-4, sampling_step_size=1e-3, solver="rk4",
    ...                   cutoff=1.0, outputs={"v": "pc/pro/v"})
    >>> P = psd(ds["v"])            # dims (point, frequency)
    >>> peak_frequency(P, fmin=2, fmax=40)["peak_frequency"]
    """
    _get_dim(da, dim, "psd")
    if "frequency" in da.dims:
        raise NMMError(f"psd: the DataArray already has a 'frequency' dimension {da.dims}.")
    unknown = set(welch_kw) - {"nperseg", "noverlap", "nfft", "window", "detrend"}
    if unknown:
        raise NMMError(
            f"psd: unknown Welch options {sorted(unknown)}; use nperseg, noverlap, nfft, window, detrend."
        )
    fs, funit = _sampling(da[dim])
    nperseg, noverlap, nfft = _welch_params(da.sizes[dim], fs, welch_kw.get("nperseg"),
                                            welch_kw.get("noverlap"), welch_kw.get("nfft"))
    window = welch_kw.get("window", "hann")
    detrend = welch_kw.get("detrend", "constant")
    freqs = np.fft.rfftfreq(nfft, d=1.0 / fs)

    def _one(x: np.ndarray) -> np.ndarray:
        _, P = welch_psd(x, fs, nperseg=nperseg, noverlap=noverlap, nfft=nfft, window=window,
                         detrend=detrend, axis=-1)
        return P.astype(np.float64, copy=False)

    out = xr.apply_ufunc(
        _one, _single_chunk(da, dim),
        input_core_dims=[[dim]], output_core_dims=[["frequency"]],
        dask="parallelized", output_dtypes=[np.float64],
        dask_gufunc_kwargs={"output_sizes": {"frequency": freqs.size}},
        keep_attrs=True,  # keeps the coordinates' attrs; data attrs are set below
    )
    out = out.assign_coords(frequency=("frequency", freqs, {"units": funit, "long_name": "frequency"}))
    out.name = da.name
    out.attrs = {
        "units": f"{_squared(da.attrs.get('units', ''))}/{_per(funit)}",
        "long_name": f"power spectral density of {_name(da)}",
        "signal_units": str(da.attrs.get("units", "")),
        "signal_long_name": _name(da),
        "method": "welch",
        "nperseg": nperseg,
        "noverlap": noverlap,
        "nfft": nfft,
        "window": str(window),
        "detrend": str(detrend),
    }
    return out


def _freq(psd_da: xr.DataArray, dim: str, what: str) -> tuple[np.ndarray, str]:
    _get_dim(psd_da, dim, what)
    f = np.asarray(psd_da[dim].values, dtype=float)
    return f, str(psd_da[dim].attrs.get("units", ""))


def peak_frequency(psd_da: xr.DataArray, *, fmin: float | None = None, fmax: float | None = None,
                   dim: str = "frequency") -> xr.Dataset:
    """Frequency and power of the largest spectral peak of a PSD DataArray, lazily.

    See :func:`spectral_peak` for the sub-bin interpolation.

    Parameters
    ----------
    psd_da : xarray.DataArray
        A density, e.g. from :func:`psd`.
    fmin, fmax : float, optional
        Search window in the units of the frequency coordinate (inclusive).
    dim : str, default: 'frequency'

    Returns
    -------
    xarray.Dataset
        ``peak_frequency`` (units of the frequency coordinate) and ``peak_power`` (units
        of the density) over the other dimensions; NaN where the spectrum is all zero.

    Raises
    ------
    NMMError
        If ``dim`` is missing or has no coordinate, or the window holds no frequency.
    """
    f, funit = _freq(psd_da, dim, "peak_frequency")
    spectral_peak(f, np.zeros(f.size), fmin=fmin, fmax=fmax)  # validate the window eagerly

    def _one(P: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return spectral_peak(f, P, fmin=fmin, fmax=fmax, axis=-1)

    fp, pp = xr.apply_ufunc(
        _one, _single_chunk(psd_da, dim),
        input_core_dims=[[dim]], output_core_dims=[[], []],
        dask="parallelized", output_dtypes=[np.float64, np.float64],
        keep_attrs=True,  # keeps the coordinates' attrs; data attrs are set below
    )
    window = f"in [{'-inf' if fmin is None else fmin}, {'inf' if fmax is None else fmax}] {funit}".rstrip()
    name = _name(psd_da)
    fp.attrs = {"units": funit or "1", "long_name": f"peak frequency {window} of {name}"}
    pp.attrs = {"units": str(psd_da.attrs.get("units", "")) or "1",
                "long_name": f"peak value {window} of {name}"}
    return xr.Dataset({"peak_frequency": fp, "peak_power": pp})


def band_power(psd_da: xr.DataArray, bands: Mapping[str, tuple[float, float]] = DEFAULT_BANDS,
               dim: str = "frequency") -> xr.Dataset:
    """Power in frequency bands of a PSD DataArray, lazily.

    See :func:`band_powers` for how bins are assigned to bands.

    Parameters
    ----------
    psd_da : xarray.DataArray
        A density, e.g. from :func:`psd`.
    bands : mapping of str to (float, float), default: DEFAULT_BANDS
        Band name -> ``[lo, hi)`` in the units of the frequency coordinate. The default
        bands are in Hz and need a frequency coordinate in ``'Hz'``.
    dim : str, default: 'frequency'

    Returns
    -------
    xarray.Dataset
        One variable ``power_<band>`` per band over the other dimensions, with units
        ``'<signal units>^2'`` (the density's units times the frequency units).

    Raises
    ------
    NMMError
        If a band is malformed, above the highest frequency or holds no bin, or the
        default bands are used with a frequency coordinate not in Hz.
    """
    f, funit = _freq(psd_da, dim, "band_power")
    if bands is DEFAULT_BANDS and funit != "Hz":
        raise NMMError(
            f"the default bands are in Hz but the frequency coordinate is in {funit or 'unknown units'!r}; "
            f"pass bands in {funit or 'its units'}, e.g. bands={{'alpha': (0.008, 0.013)}} for 1/ms."
        )
    if f.size < 2:
        raise NMMError("band_power needs at least 2 frequency bins.")
    masks = _band_masks(f, bands)
    names = list(masks)

    def _one(P: np.ndarray) -> np.ndarray:
        res = band_powers(f, P, bands, axis=-1)
        return np.stack([res[n] for n in names], axis=-1)

    stacked = xr.apply_ufunc(
        _one, _single_chunk(psd_da, dim),
        input_core_dims=[[dim]], output_core_dims=[["band"]],
        dask="parallelized", output_dtypes=[np.float64],
        dask_gufunc_kwargs={"output_sizes": {"band": len(names)}},
        keep_attrs=True,  # keeps the coordinates' attrs; data attrs are set below
    )
    punit = str(psd_da.attrs.get("units", ""))
    suffix = f"/{_per(funit)}"
    if "signal_units" in psd_da.attrs:
        units = _squared(psd_da.attrs["signal_units"])
    elif punit.endswith(suffix):
        units = punit[: -len(suffix)]
    else:
        units = f"{punit or '1'}*{_per(funit or '1')}"
    name = _name(psd_da)
    data = {}
    for i, band in enumerate(names):
        lo, hi = (float(e) for e in bands[band])
        v = stacked.isel(band=i, drop=True)
        v.attrs = {"units": units, "long_name": f"{band} band power [{lo:g}, {hi:g}) {funit} of {name}"}
        data[f"power_{band}"] = v
    return xr.Dataset(data)
