"""Whole-brain analysis: FC, Kuramoto order, Balloon-Windkessel BOLD, FC fit (nmm.analysis.network)."""
from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.integrate import solve_ivp

from nmm.analysis.network import (BalloonParams, balloon_windkessel, bold_times, fc_fit,
                                  functional_connectivity, kuramoto_order)
from nmm.errors import NMMError

FS = 250.0  # Hz
T = np.arange(int(40 * FS)) / FS  # 40 s


# ------------------------------------------------------------------ functional connectivity


def test_fc_equals_corrcoef_per_point():
    x = np.random.default_rng(0).standard_normal((2, 3, 5, 400))
    x[..., 1, :] += 0.8 * x[..., 0, :]  # some real correlation
    fc = functional_connectivity(x)
    assert fc.shape == (2, 3, 5, 5)
    for idx in np.ndindex(2, 3):
        np.testing.assert_allclose(fc[idx], np.corrcoef(x[idx]), rtol=0, atol=1e-12)


def test_fc_constant_region_is_nan_off_diagonal_and_diverged_point_all_nan():
    x = np.random.default_rng(1).standard_normal((3, 4, 300))
    x[1, 2] = 0.1  # a constant region (0.1 is not exact in binary: its mean is not either)
    x[2, 0, 17] = np.nan  # a diverged simulation
    fc = functional_connectivity(x)
    np.testing.assert_allclose(fc[0], np.corrcoef(x[0]), atol=1e-12)
    assert np.isnan(fc[1, 2, [0, 1, 3]]).all() and np.isnan(fc[1, [0, 1, 3], 2]).all()
    assert fc[1, 2, 2] == 1.0
    np.testing.assert_allclose(fc[1][np.ix_([0, 1, 3], [0, 1, 3])], np.corrcoef(x[1, [0, 1, 3]]), atol=1e-12)
    assert np.isnan(fc[2]).all()
    # the same with a band-pass: the filtered constant is still constant
    fcb = functional_connectivity(x, band=(5.0, 20.0), fs=FS)
    assert np.isnan(fcb[1, 2, 0]) and fcb[1, 2, 2] == 1.0 and np.isnan(fcb[2]).all()
    assert np.isfinite(fcb[0]).all()


def test_band_limited_fc_sees_the_shared_rhythm():
    rng = np.random.default_rng(2)
    shared = np.sin(2 * np.pi * 10.0 * T + 0.3)
    x = shared + 2.0 * rng.standard_normal((2, T.size))  # broadband noise dominates
    broad = functional_connectivity(x)[0, 1]
    alpha = functional_connectivity(x, band=(8.0, 12.0), fs=FS)[0, 1]
    assert broad < 0.2
    assert alpha > 0.7 and alpha > 4 * broad


def test_envelope_fc_of_carriers_with_a_shared_envelope_is_near_one():
    rng = np.random.default_rng(3)
    env = 1.5 + np.sin(2 * np.pi * 0.2 * T)  # slow shared amplitude modulation
    # carriers at different frequencies and phases inside the band: uncorrelated signals
    x = np.stack([env * np.sin(2 * np.pi * 9.0 * T), env * np.sin(2 * np.pi * 11.0 * T + 1.0)])
    x += 0.05 * rng.standard_normal(x.shape)
    assert abs(functional_connectivity(x, band=(7.0, 13.0), fs=FS)[0, 1]) < 0.1
    efc = functional_connectivity(x, band=(7.0, 13.0), fs=FS, envelope=True)
    assert efc[0, 1] > 0.95
    # independent envelopes: low
    env2 = 1.5 + np.sin(2 * np.pi * 0.13 * T + 2.0)
    y = np.stack([x[0], env2 * np.sin(2 * np.pi * 11.0 * T + 1.0)])
    assert abs(functional_connectivity(y, band=(7.0, 13.0), fs=FS, envelope=True)[0, 1]) < 0.3


def test_fc_errors():
    x = np.zeros((3, 500))
    with pytest.raises(NMMError, match=r"band=\(8, 12\) needs the sampling rate fs"):
        functional_connectivity(x, band=(8, 12))
    with pytest.raises(NMMError, match="envelope=True needs a band"):
        functional_connectivity(x, envelope=True)
    with pytest.raises(NMMError, match=r"0 < lo < hi < fs/2 = 125 Hz"):
        functional_connectivity(x, band=(8, 130), fs=FS)
    with pytest.raises(NMMError, match=r"needs more than \d+ samples, the series has 20"):
        functional_connectivity(np.ones((3, 20)), band=(8, 12), fs=FS)
    with pytest.raises(NMMError, match=r"shape \(\.\.\., n_regions, n_time\), got shape \(500,\)"):
        functional_connectivity(np.zeros(500))


# ----------------------------------------------------------------------------- Kuramoto


def test_kuramoto_identical_signals_are_synchronous():
    x = np.tile(np.sin(2 * np.pi * 10.0 * T), (6, 1))
    m, s = kuramoto_order(x, fs=FS, band=(8.0, 12.0))
    assert m == pytest.approx(1.0, abs=1e-9)
    assert s < 1e-9


def test_kuramoto_evenly_spread_phases_cancel():
    n = 8
    x = np.stack([np.sin(2 * np.pi * 10.0 * T + 2 * np.pi * r / n) for r in range(n)])
    m, s = kuramoto_order(x, fs=FS, band=(8.0, 12.0))
    assert m < 1e-3


def test_kuramoto_independent_noise_is_small_and_vectorised():
    rng = np.random.default_rng(4)
    n = 64
    x = rng.standard_normal((3, n, T.size))
    x[1] = np.sin(2 * np.pi * 10.0 * T) + 0.01 * x[1]  # nearly synchronous point
    x[2, 5, 100] = np.inf  # diverged point
    m, s = kuramoto_order(x, fs=FS, band=(8.0, 12.0))
    assert m.shape == s.shape == (3,)
    # independent uniform phases: E R ~ sqrt(pi / (4 n)) = 0.11 for 64 regions
    assert 0.05 < m[0] < 0.2
    assert m[1] > 0.99
    assert np.isnan(m[2]) and np.isnan(s[2])


def test_kuramoto_constant_region_is_undefined():
    x = np.tile(np.sin(2 * np.pi * 10.0 * T), (3, 1))
    x[1] = 2.0
    m, s = kuramoto_order(x, fs=FS, band=(8.0, 12.0))
    assert np.isnan(m) and np.isnan(s)


# ------------------------------------------------------------------ Balloon-Windkessel


def _rhs(p: BalloonParams, zfun):
    def f(t, y):
        s, fl, v, q = y
        fv = v ** (1 / p.alpha)
        e = 1 - (1 - p.E0) ** (1 / fl)
        return [zfun(t) - p.kappa * s - p.gamma * (fl - 1), s,
                (fl - fv) / p.tau, (fl * e / p.E0 - fv * q / v) / p.tau]
    return f


def _bold(p: BalloonParams, q, v):
    return p.V0 * (p.k1 * (1 - q) + p.k2 * (1 - q / v) + p.k3 * (1 - v))


def test_default_constants():
    p = BalloonParams()
    assert (p.kappa, p.gamma, p.tau, p.alpha, p.E0, p.V0) == (0.64, 0.32, 2.0, 0.32, 0.4, 0.04)
    assert p.k1 == pytest.approx(4.3 * 40.3 * 0.4 * 0.04)
    assert p.k2 == pytest.approx(25 * 0.4 * 0.04)
    assert p.k3 == 0.0


def test_zero_input_stays_exactly_at_rest():
    y = balloon_windkessel(np.zeros((2, 3, 5000)), dt=1e-3, tr=0.5)
    assert y.shape == (2, 3, 10)
    assert np.all(y == 0.0)
    # also with sub-steps and other constants; a transit time as short as the step makes
    # any rounding of the extraction term at rest (E(1) / E0 != 1) visible
    for e0 in (0.34, 0.41, 0.45):
        y = balloon_windkessel(np.zeros((4, 100)), dt=0.01, tr=0.1,
                               params={"E0": e0, "epsilon": 1.43, "tau": 1e-3})
        assert np.all(y == 0.0)


def test_constant_input_reaches_the_analytic_fixed_point():
    p = BalloonParams()
    z0 = np.array([0.0, 0.05, 0.2, -0.1])
    dt, n = 5e-3, 40_000  # 200 s, sub-stepped at 1 ms
    z = np.broadcast_to(z0[:, None, None], (4, 2, n))
    y = balloon_windkessel(z, dt=dt, tr=10.0)
    # ds/dt = 0 -> s = 0 and f = 1 + z0 / gamma; dv/dt = 0 -> v = f**alpha;
    # dq/dt = 0 -> f E(f) / E0 = v**(1/alpha) q / v = f q / v -> q = v E(f) / E0
    f = 1 + z0 / p.gamma
    v = f ** p.alpha
    q = v * (1 - (1 - p.E0) ** (1 / f)) / p.E0
    y_star = _bold(p, q, v)
    assert abs(y_star[2]) > 1e-3  # a real change, not zero
    np.testing.assert_allclose(y[..., -1], np.broadcast_to(y_star[:, None], (4, 2)), rtol=1e-9, atol=1e-14)


def test_euler_converges_to_solve_ivp_at_first_order():
    p = BalloonParams(epsilon=1.43)  # k3 != 0: every term of the signal equation counts

    def zfun(t):
        return 0.3 * np.sin(2 * np.pi * 0.1 * t) ** 2 + 0.2 * np.sin(2 * np.pi * 0.37 * t)

    duration, tr = 30.0, 0.5
    sol = solve_ivp(_rhs(p, zfun), (0.0, duration), [0.0, 1.0, 1.0, 1.0], method="DOP853",
                    rtol=1e-10, atol=1e-12, t_eval=bold_times(int(round(duration / 1e-3)), 1e-3, tr))
    ref = _bold(p, sol.y[3], sol.y[2])
    errs = []
    for dt in (1e-3, 5e-4, 2.5e-4):
        n = int(round(duration / dt))
        y = balloon_windkessel(zfun(np.arange(n) * dt)[None, :], dt=dt, tr=tr, params=p)[0]
        errs.append(np.max(np.abs(y - ref)))
    assert errs[0] < 1e-2 * np.max(np.abs(ref))
    for e1, e2 in zip(errs, errs[1:]):
        assert 1.8 < e1 / e2 < 2.2  # halving dt halves the error: first order


def _plain_euler(z, dt, tr, p: BalloonParams):
    """The documented scheme, written plainly: z[k] held over [k dt, (k+1) dt), steps <= 1 ms."""
    n_sub = max(1, math.ceil(dt / 1e-3 - 1e-9))
    h = dt / n_sub
    per_tr = int(round(tr / dt))
    s, f, v, q = np.zeros(z.shape[:-1]), np.ones(z.shape[:-1]), np.ones(z.shape[:-1]), np.ones(z.shape[:-1])
    out = []
    for k in range(z.shape[-1]):
        for _ in range(n_sub):
            ds = z[..., k] - p.kappa * s - p.gamma * (f - 1)
            dv = (f - v ** (1 / p.alpha)) / p.tau
            dq = (f * (1 - (1 - p.E0) ** (1 / f)) / p.E0 - v ** (1 / p.alpha) * q / v) / p.tau
            s, f, v, q = s + h * ds, f + h * s, v + h * dv, q + h * dq
        if (k + 1) % per_tr == 0:
            out.append(_bold(p, q, v))
    return np.stack(out, axis=-1)


@pytest.mark.parametrize("dt,tr", [(1e-3, 0.05), (2.5e-3, 0.1)])
def test_kernel_matches_a_plain_numpy_euler(dt, tr):
    p = BalloonParams(epsilon=1.43)
    z = np.random.default_rng(7).random((2, 3, 2030))  # 30 trailing samples after the last TR
    y = balloon_windkessel(z, dt=dt, tr=tr, params=p)
    ref = _plain_euler(z, dt, tr, p)
    assert y.shape == ref.shape == (2, 3, int(2030 * dt / tr))
    np.testing.assert_allclose(y, ref, rtol=1e-10, atol=1e-15)


def test_substeps_hold_the_input():
    rng = np.random.default_rng(5)
    z = rng.random((2, 3, 1000))
    coarse = balloon_windkessel(z, dt=4e-3, tr=0.4)  # 4 steps of 1 ms per sample
    fine = balloon_windkessel(np.repeat(z, 4, axis=-1), dt=1e-3, tr=0.4)
    np.testing.assert_allclose(coarse, fine, rtol=1e-12, atol=1e-16)
    # 2.5 ms is crossed in 3 steps of 0.833 ms: close to, but not the same as, 1 ms steps
    y = balloon_windkessel(z, dt=2.5e-3, tr=0.5)
    ref = balloon_windkessel(np.repeat(z, 5, axis=-1), dt=5e-4, tr=0.5)
    assert 0 < np.max(np.abs(y - ref)) < 1e-2 * np.max(np.abs(ref))


@pytest.mark.parametrize("width", [1e-3, 0.1, 0.5])
def test_pulse_response_peaks_between_3_and_7_s(width):
    dt = 1e-3
    z = np.zeros((1, 30_000))
    z[0, :int(round(width / dt))] = 1.0 / width  # unit area
    y = balloon_windkessel(z, dt=dt, tr=0.01)[0]
    t = bold_times(z.shape[-1], dt, 0.01)
    assert 3.0 < t[np.argmax(y)] < 7.0
    assert y.max() > 0
    assert 8.0 < t[np.argmin(y)] < 20.0 and y.min() < 0  # the post-stimulus undershoot


def test_tr_sampling_times():
    z = np.zeros((2, 10_500))
    z[:, 100:600] = 1.0
    y = balloon_windkessel(z, dt=1e-3, tr=2.0)
    t = bold_times(10_500, 1e-3, 2.0)
    np.testing.assert_array_equal(t, [2.0, 4.0, 6.0, 8.0, 10.0])
    assert y.shape == (2, 5)
    # sample j is the state after j * tr / dt inputs: the same as the fine series at that time
    fine = balloon_windkessel(z, dt=1e-3, tr=1e-3)
    np.testing.assert_array_equal(y, fine[:, 1999::2000])
    # tr = 0.72 s at dt = 0.4 ms: 1800 samples (0.72 / 0.0004 is not exact in floats)
    assert bold_times(3600, 4e-4, 0.72).size == 2


def test_bold_errors_and_diverged_points():
    z = np.ones((2, 2, 3000))
    with pytest.raises(NMMError, match=r"tr=0.0025 s is not a whole multiple of dt=0.001 s \(tr/dt = 2.5\); "
                                       r"use tr=0.002 or tr=0.003"):
        balloon_windkessel(z, dt=1e-3, tr=2.5e-3)
    with pytest.raises(NMMError, match=r"less than one tr=5.0 s"):
        balloon_windkessel(z, dt=1e-3, tr=5.0)
    with pytest.raises(NMMError, match="dt must be a positive number"):
        balloon_windkessel(z, dt=0.0, tr=1.0)
    with pytest.raises(NMMError, match=r"unknown Balloon-Windkessel parameter 'kapa'.*Did you mean 'kappa'"):
        balloon_windkessel(z, dt=1e-3, tr=1.0, params={"kapa": 0.6})
    with pytest.raises(NMMError, match=r"E0 is a fraction and must lie in \(0, 1\), got 1.2"):
        BalloonParams(E0=1.2)
    z[1, 0, 2999] = np.nan  # after the last TR sample, but still a diverged point
    y = balloon_windkessel(z, dt=1e-3, tr=1.0)
    assert np.isfinite(y[0]).all() and np.isnan(y[1]).all()


# ----------------------------------------------------------------------------- FC fit


def test_fc_fit_identical_is_perfect():
    fc = functional_connectivity(np.random.default_rng(6).standard_normal((6, 200)))
    r, d = fc_fit(fc, fc)
    assert r == pytest.approx(1.0) and d == 0.0


def test_fc_fit_by_hand_and_vectorised():
    emp = np.array([[1.0, 0.2, 0.4],
                    [0.2, 1.0, 0.6],
                    [0.4, 0.6, 1.0]])  # upper triangle (0.2, 0.4, 0.6)
    sim = np.array([[1.0, 0.3, 0.1],
                    [9.0, 1.0, 0.5],   # lower triangle and diagonal are ignored
                    [9.0, 9.0, 7.0]])  # upper triangle (0.3, 0.1, 0.5)
    # centred: emp (-0.2, 0, 0.2), sim (0, -0.2, 0.2): r = 0.04 / (sqrt(0.08) sqrt(0.08)) = 0.5
    # distance: sqrt(0.1**2 + 0.3**2 + 0.1**2) = sqrt(0.11)
    r, d = fc_fit(np.stack([sim, emp, sim]), emp)
    np.testing.assert_allclose(r, [0.5, 1.0, 0.5])
    np.testing.assert_allclose(d, [math.sqrt(0.11), 0.0, math.sqrt(0.11)])


def test_fc_fit_nan_point_and_constant_sim():
    emp = np.array([[1.0, 0.2, 0.4], [0.2, 1.0, 0.6], [0.4, 0.6, 1.0]])
    sim = np.stack([emp, emp, np.ones((3, 3))])
    sim[1, 0, 2] = np.nan
    r, d = fc_fit(sim, emp)
    assert r[0] == pytest.approx(1.0) and np.isnan(r[1]) and np.isnan(d[1])
    assert np.isnan(r[2]) and d[2] == pytest.approx(math.sqrt(0.8**2 + 0.6**2 + 0.4**2))


def test_fc_fit_errors():
    with pytest.raises(NMMError, match=r"sim_fc of shape \(2, 4, 4\) does not match emp_fc of shape \(3, 3\)"):
        fc_fit(np.zeros((2, 4, 4)), np.eye(3))
    with pytest.raises(NMMError, match=r"emp_fc must be a square \(n_regions, n_regions\) matrix, got shape \(3, 4\)"):
        fc_fit(np.zeros((3, 4)), np.zeros((3, 4)))
    emp = np.eye(3)
    emp[0, 1] = np.nan
    with pytest.raises(NMMError, match="emp_fc has 1 non-finite entries above the diagonal"):
        fc_fit(np.eye(3), emp)
