"""Orbit diagrams: extrema of simulated series, their regime and oscillation period.

Every function takes series ``x`` of shape ``(..., n_time)`` sampled after the transient
and works on all leading positions at once (one numba pass over the rows, no
temporaries of the size of ``x``), fast enough for 10^4 points x 2000 samples.

Extrema are the interior local maxima and minima of the samples, each refined by the
vertex of the parabola through it and its two neighbours (sub-sample value and time; a
plateau of equal samples counts once, at its middle). Values closer than
``tol * (max(x) - min(x))`` are one *distinct* value: sorted values are grouped while
consecutive gaps stay below that threshold, and a group is represented by its mean.
A series whose range is below 1e-9 of its magnitude is flat (a fixed point). A series
whose maxima fall and minima rise monotonically is approaching an attractor: a geometric
extrapolation of its amplitudes tells a fixed point (limit amplitude below half the
last one) from a cycle; only the last maximum and minimum are reported then.
"""
from __future__ import annotations

import numba
import numpy as np
from numpy.typing import ArrayLike

from ..errors import NMMError

__all__ = ["REGIMES", "extrema", "regime", "period", "orbit_summary"]

#: Codes returned by :func:`regime`. -1 marks series containing NaN or inf (diverged).
REGIMES = {-1: "not finite", 0: "fixed point", 1: "periodic", 2: "irregular"}


@numba.njit(cache=True)
def _refine(xm: float, x0: float, xp: float) -> tuple[float, float]:
    """Offset (in samples, within [-0.5, 0.5]) and value of the parabola's vertex."""
    denom = xm - 2.0 * x0 + xp
    if denom == 0.0:
        return 0.0, x0
    d = 0.5 * (xm - xp) / denom
    if d > 0.5:
        d = 0.5
    elif d < -0.5:
        d = -0.5
    return d, x0 - 0.25 * (xm - xp) * d


@numba.njit(cache=True)
def _distinct(vals: np.ndarray, n: int, thr: float, max_n: int, sign: int, out: np.ndarray,
              first_level_out: np.ndarray) -> int:
    """Group ``vals[:n]`` (sorted in place, descending if sign < 0) into distinct values.

    Writes up to ``max_n`` group means to ``out`` (evenly chosen among all groups when
    there are more) and returns the number of groups and the lower (sign < 0) or upper
    bound of the first group in ``first_level_out[0]``.
    """
    v = np.sort(vals[:n])
    if sign < 0:
        v = v[::-1]
    # group boundaries
    starts = np.empty(n + 1, np.int64)
    g = 0
    for k in range(n):
        if k == 0 or abs(v[k] - v[k - 1]) > thr:
            starts[g] = k
            g += 1
    starts[g] = n
    first_level_out[0] = v[starts[1] - 1] if g > 0 else np.nan
    if g == 0:
        return 0
    keep = min(g, max_n)
    for j in range(keep):
        gi = j if g <= max_n else int(round(j * (g - 1) / (keep - 1))) if keep > 1 else 0
        s = 0.0
        for k in range(starts[gi], starts[gi + 1]):
            s += v[k]
        out[j] = s / (starts[gi + 1] - starts[gi])
    return g


_FLAT_RTOL = 1e-9


@numba.njit(cache=True)
def _trend(vmax: np.ndarray, ka: int, vmin: np.ndarray, kb: int) -> int:
    """2: maxima fall and minima rise towards a point; 3: towards a cycle; 0: neither.

    The amplitudes a_k = max_k - min_k of a monotone approach converge geometrically;
    a least-squares fit of the decrements extrapolates the limit amplitude.
    """
    m = min(ka, kb)
    if m < 3:
        return 0
    for k in range(1, ka):
        if not vmax[k] < vmax[k - 1]:
            return 0
    for k in range(1, kb):
        if not vmin[k] > vmin[k - 1]:
            return 0
    # amplitudes a_k and their decrements d_k = a_{k+1} - a_k ~ c q^k: fit log(-d_k)
    # against k (least squares), then a_inf = a_last + d_last q / (1 - q)
    sk = 0.0
    sy = 0.0
    skk = 0.0
    sky = 0.0
    cnt = 0
    for k in range(m - 1):
        d = (vmax[k + 1] - vmin[k + 1]) - (vmax[k] - vmin[k])
        if not d < 0.0:
            return 0
        y = np.log(-d)
        sk += k
        sy += y
        skk += k * k
        sky += k * y
        cnt += 1
    den = cnt * skk - sk * sk
    if cnt < 2 or den == 0.0:
        return 0
    q = np.exp((cnt * sky - sk * sy) / den)
    if not q < 1.0:
        return 0  # not a geometric approach
    a_last = vmax[m - 1] - vmin[m - 1]
    d_last = a_last - (vmax[m - 2] - vmin[m - 2])
    a_inf = a_last + d_last * q / (1.0 - q)
    # near zero (the estimate is sensitive to q near 1: half the last amplitude is the
    # line between "dying out" and "settling on a cycle")
    return 2 if a_inf <= 0.5 * a_last else 3


@numba.njit(cache=True)
def _scan(X: np.ndarray, tol: float, max_n: int, dt: float, maxima: np.ndarray, minima: np.ndarray, nmax: np.ndarray,
          nmin: np.ndarray, flat: np.ndarray, per: np.ndarray) -> None:
    m, n = X.shape
    vmax = np.empty(n)
    tmax = np.empty(n)
    vmin = np.empty(n)
    level = np.empty(1)
    for r in range(m):
        x = X[r]
        lo = np.inf
        hi = -np.inf
        s = 0.0
        finite = True
        for i in range(n):
            xi = x[i]
            if not np.isfinite(xi):
                finite = False
                break
            lo = min(lo, xi)
            hi = max(hi, xi)
            s += xi
        maxima[r, :] = np.nan
        minima[r, :] = np.nan
        nmax[r] = 0
        nmin[r] = 0
        per[r] = np.nan
        if not finite:
            flat[r] = -1
            continue
        rng = hi - lo
        if rng <= _FLAT_RTOL * max(abs(lo), abs(hi)):
            flat[r] = 1
            maxima[r, 0] = x[n - 1]
            minima[r, 0] = x[n - 1]
            continue
        flat[r] = 0
        thr = tol * rng
        ka = 0
        kb = 0
        i = 1
        while i < n - 1:
            x0 = x[i]
            xm = x[i - 1]
            if x0 == xm:
                i += 1
                continue
            # end of a plateau of equal samples starting at i
            j = i
            while j + 1 < n and x[j + 1] == x0:
                j += 1
            if j >= n - 1:
                break
            xp = x[j + 1]
            if x0 > xm and x0 > xp:
                if j == i:
                    d, val = _refine(xm, x0, xp)
                else:
                    d, val = 0.5 * (j - i), x0
                vmax[ka] = val
                tmax[ka] = i + d
                ka += 1
            elif x0 < xm and x0 < xp:
                if j == i:
                    d, val = _refine(xm, x0, xp)
                else:
                    val = x0
                vmin[kb] = val
                kb += 1
            i = j + 1
        if ka == 0:
            # monotone in the window: no oscillation, show where it is heading
            maxima[r, 0] = x[n - 1]
            minima[r, 0] = x[n - 1]
            nmin[r] = _distinct(vmin, kb, thr, max_n, 1, minima[r], level) if kb else 0
            continue
        trend = _trend(vmax, ka, vmin, kb)
        if trend != 0:
            # a monotone approach to an attractor: to the fixed point (the amplitude
            # extrapolates to zero) or to a cycle (to a finite amplitude)
            flat[r] = trend
            maxima[r, 0] = vmax[ka - 1]
            minima[r, 0] = vmin[kb - 1]
            nmax[r] = 1
            nmin[r] = 1
            if trend == 3 and ka >= 2:
                per[r] = (tmax[ka - 1] - tmax[0]) / (ka - 1) * dt
            continue
        nmax[r] = _distinct(vmax, ka, thr, max_n, -1, maxima[r], level)
        # the top level: maxima not below the lowest member of the highest group
        top = level[0]
        nmin[r] = _distinct(vmin, kb, thr, max_n, 1, minima[r], level) if kb else 0
        # period from the times of the top-level maxima
        t_first = -1.0
        t_last = -1.0
        cnt = 0
        for k in range(ka):
            if vmax[k] >= top:
                if cnt == 0:
                    t_first = tmax[k]
                t_last = tmax[k]
                cnt += 1
        if cnt >= 2:
            per[r] = (t_last - t_first) / (cnt - 1) * dt


def _check_tol(tol: float) -> float:
    try:
        v = float(tol)
    except (TypeError, ValueError):
        raise NMMError(f"tol must be a small positive number such as 1e-6, got {tol!r}.") from None
    if not (0.0 < v < 1.0):
        raise NMMError(f"tol must be in (0, 1), e.g. 1e-6, got {tol!r}.")
    return v


def _check_int(name: str, value: object, lo: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < lo:
        raise NMMError(f"{name} must be an integer >= {lo}, got {value!r}.")
    return int(value)


def _run(x: ArrayLike, tol: float, max_n: int,
         dt: float = 1.0) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    x = np.asarray(x)
    if x.ndim == 0:
        raise NMMError("x must have a time axis (last), got a scalar.")
    if x.dtype.kind not in "fiub":
        raise NMMError(f"x must be real numbers, got dtype {x.dtype}.")
    n = x.shape[-1]
    if n < 3:
        raise NMMError(f"x needs at least 3 samples along its last (time) axis, got {n}.")
    tol = _check_tol(tol)
    max_n = _check_int("max_n", max_n, 1)
    lead = x.shape[:-1]
    X = x.reshape(-1, n)
    if X.dtype not in (np.float64, np.float32):
        X = X.astype(np.float64)
    X = np.ascontiguousarray(X)
    m = X.shape[0]
    maxima = np.empty((m, max_n))
    minima = np.empty((m, max_n))
    nmax = np.empty(m, np.int64)
    nmin = np.empty(m, np.int64)
    flat = np.empty(m, np.int8)
    per = np.empty(m)
    if m:
        _scan(X, tol, max_n, float(dt), maxima, minima, nmax, nmin, flat, per)
    return (maxima.reshape(lead + (max_n,)), minima.reshape(lead + (max_n,)), nmax.reshape(lead),
            nmin.reshape(lead), flat.reshape(lead), per.reshape(lead))


def _regime(nmax: np.ndarray, flat: np.ndarray, max_periodic: int) -> np.ndarray:
    reg = np.full(flat.shape, 2, np.int8)
    reg[flat == 3] = 1  # approaching a cycle
    reg[(nmax >= 1) & (nmax <= max_periodic)] = 1
    reg[(flat == 1) | (flat == 2) | ((flat == 0) & (nmax == 0))] = 0
    reg[flat == -1] = -1
    return reg


def extrema(x: ArrayLike, *, tol: float = 1e-6,
            max_n: int = 16) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Distinct local maxima and minima of series, for orbit (bifurcation) diagrams.

    Parameters
    ----------
    x : array_like, shape (..., n_time)
        Series after the transient, time last (at least 3 samples).
    tol : float, default: 1e-6
        Relative tolerance: extrema closer than ``tol * (max(x) - min(x))`` are one
        value, and a series with range below ``tol * (1 + |mean(x)|)`` is flat.
    max_n : int, default: 16
        Distinct values kept per series. With more, ``max_n`` are chosen evenly over the
        sorted distinct values (the highest and lowest included).

    Returns
    -------
    maxima : ndarray, shape (..., max_n)
        Distinct maxima, descending, NaN-padded.
    minima : ndarray, shape (..., max_n)
        Distinct minima, ascending, NaN-padded.
    n_maxima, n_minima : ndarray of int64, shape (...)
        Number of distinct maxima / minima (the true count, which may exceed ``max_n``).

    Notes
    -----
    A flat series, and one without any interior maximum (monotone in the window), has
    ``n_maxima == 0`` and its last value in ``maxima[..., 0]`` and ``minima[..., 0]``,
    so that orbit diagrams show fixed points. Series with NaN or inf give NaN and 0.
    The parabolic refinement is accurate to about ``A * (2 pi dt / T)**4 / 100`` for an
    oscillation of amplitude ``A`` and period ``T``; ``tol`` must exceed that relative
    to the range, or one periodic level splits into many (sample finer or raise ``tol``).

    Raises
    ------
    NMMError
        If ``x`` has fewer than 3 samples, is not real, or ``tol``/``max_n`` are invalid.

    Examples
    --------
    >>> t = np.arange(0, 10, 1e-3)
    >>> mx, mn, nmx, nmn = extrema(np.sin(2 * np.pi * t))
    >>> float(mx[0]), int(nmx)
    (1.0, 1)
    """
    maxima, minima, nmax, nmin, _, _ = _run(x, tol, max_n)
    return maxima, minima, nmax, nmin


def regime(x: ArrayLike, *, tol: float = 1e-6, max_periodic: int = 4) -> np.ndarray:
    """Classify series as fixed point, periodic or irregular (see :data:`REGIMES`).

    Parameters
    ----------
    x : array_like, shape (..., n_time)
        Series after the transient, time last.
    tol : float, default: 1e-6
        As in :func:`extrema`.
    max_periodic : int, default: 4
        Most distinct maxima of a periodic orbit.

    Returns
    -------
    ndarray of int8, shape (...)
        0: fixed point (flat, or no maximum in the window: still approaching one);
        1: periodic (1 to ``max_periodic`` distinct maxima); 2: irregular (more: chaos,
        quasi-periodicity, or a transient not yet settled); -1: NaN or inf in the series.
    """
    max_periodic = _check_int("max_periodic", max_periodic, 1)
    _, _, nmax, _, flat, _ = _run(x, tol, 1)
    return _regime(nmax, flat, max_periodic)


def _check_dt(dt: float) -> float:
    try:
        v = float(dt)
    except (TypeError, ValueError):
        raise NMMError(f"dt must be the positive sampling step of x, got {dt!r}.") from None
    if not (np.isfinite(v) and v > 0):
        raise NMMError(f"dt must be the positive sampling step of x, got {dt!r}.")
    return v


def period(x: ArrayLike, dt: float, *, tol: float = 1e-6, max_periodic: int = 4) -> np.ndarray:
    """Oscillation period of periodic series.

    The period is the mean interval between the (sub-sample, parabolically refined)
    times of the maxima at the top level, the highest distinct maximum:
    ``(t_last - t_first) / (count - 1)``. So a period-2 orbit gives its full period.

    Parameters
    ----------
    x : array_like, shape (..., n_time)
        Series after the transient, time last.
    dt : float
        Sampling step of ``x`` (the period is in its units).
    tol : float, default: 1e-6
        As in :func:`extrema`.
    max_periodic : int, default: 4
        As in :func:`regime`.

    Returns
    -------
    ndarray of float64, shape (...)
        NaN unless the series is periodic and its top level occurs at least twice.
    """
    dt = _check_dt(dt)
    max_periodic = _check_int("max_periodic", max_periodic, 1)
    _, _, nmax, _, flat, per = _run(x, tol, 1, dt)
    return np.where(_regime(nmax, flat, max_periodic) == 1, per, np.nan)


def orbit_summary(x: ArrayLike, dt: float, *, tol: float = 1e-6, max_n: int = 16,
                  max_periodic: int = 4) -> dict[str, np.ndarray]:
    """Extrema, regime and period of series in one pass.

    Parameters
    ----------
    x : array_like, shape (..., n_time)
        Series after the transient, time last.
    dt : float
        Sampling step of ``x``.
    tol, max_n, max_periodic
        As in :func:`extrema` and :func:`regime`.

    Returns
    -------
    dict of str to ndarray
        ``maxima``, ``minima`` (..., max_n); ``n_maxima``, ``n_minima``, ``regime``,
        ``period`` (...), as returned by :func:`extrema`, :func:`regime` and :func:`period`.
    """
    dt = _check_dt(dt)
    max_periodic = _check_int("max_periodic", max_periodic, 1)
    maxima, minima, nmax, nmin, flat, per = _run(x, tol, max_n, dt)
    reg = _regime(nmax, flat, max_periodic)
    return {"maxima": maxima, "minima": minima, "n_maxima": nmax, "n_minima": nmin,
            "regime": reg, "period": np.where(reg == 1, per, np.nan)}
