"""Checks of the template library against results derived independently of the code.

Each model in ``nmm/templates`` (besides Jansen-Rit, tested elsewhere) is simulated
through the public API and compared with a closed-form result of its equations:

* Stuart-Landau: the amplitude R = sqrt(x^2 + y^2) obeys dR/dt = (mu - R^2) R, solved
  exactly by R(t)^2 = mu R0^2 / (R0^2 + (mu - R0^2) exp(-2 mu t)); the limit cycle
  has radius sqrt(mu) and frequency omega / (2 pi).
* Kuramoto: a single oscillator turns at omega; for a symmetric pair the phase
  difference obeys phi' = dw - 2 K sin(phi), which locks at arcsin(dw / (2 K)) or
  slips with period 2 pi / sqrt(dw^2 - 4 K^2).
* Montbrio-Pazo-Roxin: the fixed points solve a quartic in r (derived below).
* Wilson-Cowan: the steady state solves r = (1 - k r) S(input) for both populations.
"""

from __future__ import annotations

import numpy as np
import pytest

import nmm

SL = "nmm.templates.stuartlandau.SL"
KM = "nmm.templates.kuramoto.KM"
KM2 = "nmm.templates.kuramoto.KM2"
QIF = "nmm.templates.qif.qif"
WC = "nmm.templates.wilsoncowan.WC"

# A second, adaptive integrator checks the compiled right-hand side independently.
SOLVERS = [("rk4", {}), ("scipy", {"method": "DOP853", "rtol": 1e-11, "atol": 1e-12})]


def _load(path: str):
    return nmm.CircuitTemplate.from_yaml(path)


def _upward_crossings(t: np.ndarray, x: np.ndarray, level: float = 0.0) -> np.ndarray:
    """Times where x crosses `level` upwards, by linear interpolation between samples."""
    y = x - level
    i = np.nonzero((y[:-1] < 0.0) & (y[1:] >= 0.0))[0]
    return t[i] - y[i] * (t[i + 1] - t[i]) / (y[i + 1] - y[i])


# Stuart-Landau
###############


def test_stuart_landau_amplitude_and_frequency():
    mu = np.array([0.5, 1.0, 2.0, 4.0])
    freq = np.array([1.0, 1.5, 2.0, 3.0])  # Hz
    x0 = np.sqrt(mu) + 0.3  # start off the cycle, outside it
    ds = nmm.simulate(
        _load(SL),
        params={"sl/sl_op/mu": mu, "sl/sl_op/omega": 2 * np.pi * freq, "sl/sl_op/x": x0},
        simulation_time=20.0, step_size=1e-3, sampling_step_size=1e-3,
        outputs={"x": "sl/sl_op/x", "y": "sl/sl_op/y"}, solver="rk4", cutoff=15.0,
    )
    t = ds["time"].values
    assert t.min() >= 15.0 - 1e-9
    for p in range(mu.size):
        x = ds["x"].isel(point=p).values
        y = ds["y"].isel(point=p).values
        radius = np.hypot(x, y)
        np.testing.assert_allclose(radius, np.sqrt(mu[p]), rtol=1e-6)
        # peaks of x: sampled every 1 ms, so within (pi f dt)^2 / 2 of the radius
        assert abs(x.max() - np.sqrt(mu[p])) < 1e-3 * np.sqrt(mu[p])
        periods = np.diff(_upward_crossings(t, x))
        assert periods.size >= 4
        np.testing.assert_allclose(periods, 1.0 / freq[p], rtol=1e-4)


def test_stuart_landau_exact_amplitude_transient():
    # Growth towards the cycle (mu > 0) and decay to the origin (mu < 0): compare the
    # whole trajectory of R^2 with the exact solution of dR/dt = (mu - R^2) R.
    mu = np.array([-2.0, -0.5, 0.5, 1.5])
    r0 = 0.8
    ds = nmm.simulate(
        _load(SL),
        params={"sl/sl_op/mu": mu, "sl/sl_op/x": r0, "sl/sl_op/y": 0.0},
        simulation_time=10.0, step_size=1e-3, sampling_step_size=1e-2,
        outputs={"x": "sl/sl_op/x", "y": "sl/sl_op/y"}, solver="rk4", cutoff=0.0,
    )
    t = ds["time"].values
    for p, m in enumerate(mu):
        r2 = ds["x"].isel(point=p).values ** 2 + ds["y"].isel(point=p).values ** 2
        exact = m * r0**2 / (r0**2 + (m - r0**2) * np.exp(-2 * m * t))
        np.testing.assert_allclose(r2, exact, rtol=1e-6, atol=1e-10)
        if m < 0:  # the origin is a stable focus: R ~ exp(mu t)
            assert np.sqrt(r2[-1]) < 2 * r0 * np.exp(m * 10.0)
        else:
            assert abs(np.sqrt(r2[-1]) - np.sqrt(m)) < 1e-4


# Kuramoto
##########


@pytest.mark.parametrize("solver", ["euler", "heun", "rk4"])
def test_kuramoto_single_oscillator_turns_at_omega(solver):
    # d theta/dt = omega is integrated exactly by every one-step method.
    df = _load(KM).run(
        simulation_time=2.0, step_size=1e-3, sampling_step_size=1e-2,
        outputs={"theta": "p/phase_op/theta"}, solver=solver,
    )
    t = df.index.to_numpy(dtype=float)
    np.testing.assert_allclose(df["theta"].to_numpy(), 10.0 * t, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize(("solver", "kwargs"), SOLVERS, ids=[s for s, _ in SOLVERS])
def test_kuramoto_pair_locks_above_critical_coupling(solver, kwargs):
    w1, w2 = 10.0, 12.0  # rad/s; locking needs K > |w1 - w2| / 2 = 1
    K = np.array([1.2, 1.5, 2.0, 5.0])
    ds = nmm.simulate(
        _load(KM2),
        params={"p/kmo_pair_op/K": K, "p/kmo_pair_op/omega1": w1, "p/kmo_pair_op/omega2": w2},
        simulation_time=30.0, step_size=1e-3, sampling_step_size=1e-2,
        outputs={"theta1": "p/kmo_pair_op/theta1", "theta2": "p/kmo_pair_op/theta2"},
        solver=solver, cutoff=25.0, **kwargs,
    )
    t = ds["time"].values
    phi_star = np.arcsin((w1 - w2) / (2 * K))  # stable root of (w1 - w2) = 2 K sin(phi)
    for p in range(K.size):
        th1 = ds["theta1"].isel(point=p).values
        th2 = ds["theta2"].isel(point=p).values
        phi = th1 - th2
        np.testing.assert_allclose(np.angle(np.exp(1j * (phi - phi_star[p]))), 0.0, atol=1e-6)
        # locked pair turns at the mean frequency
        slope = np.polyfit(t, th1, 1)[0]
        np.testing.assert_allclose(slope, (w1 + w2) / 2, rtol=1e-6)


def test_kuramoto_pair_drifts_below_critical_coupling():
    w1, w2 = 10.0, 12.0
    K = np.array([0.0, 0.25, 0.5, 0.9])
    ds = nmm.simulate(
        _load(KM2),
        params={"p/kmo_pair_op/K": K, "p/kmo_pair_op/omega1": w1, "p/kmo_pair_op/omega2": w2},
        simulation_time=60.0, step_size=1e-3, sampling_step_size=1e-2,
        outputs={"theta1": "p/kmo_pair_op/theta1", "theta2": "p/kmo_pair_op/theta2"},
        solver="rk4", cutoff=0.0,
    )
    t = ds["time"].values
    for p, k in enumerate(K):
        phi = ds["theta1"].isel(point=p).values - ds["theta2"].isel(point=p).values
        # phi' = (w1 - w2) - 2 K sin(phi) < 0 everywhere, so phi decreases without bound
        # and passes each multiple of -2 pi once; successive passages are one slip apart
        slip_period = 2 * np.pi / np.sqrt((w1 - w2) ** 2 - 4 * k**2)
        passages = np.concatenate(
            [_upward_crossings(t, -phi, 2 * np.pi * n) for n in range(1, 40)])
        passages = np.sort(passages)
        assert passages.size >= 5
        np.testing.assert_allclose(np.diff(passages), slip_period, rtol=1e-5)


# Montbrio-Pazo-Roxin QIF mean field
####################################
# Steady state of  tau r' = Delta/(pi tau) + 2 r v,
#                  tau v' = v^2 + eta + J tau r - (pi tau r)^2   (I_ext = 0, r_in = J r):
# the first gives v = -Delta / (2 pi tau r); inserted into the second, with
# a = pi tau r,  Delta^2 / (4 a^2) + eta + J a / pi - a^2 = 0, i.e. the quartic
#     a^4 - (J / pi) a^3 - eta a^2 - Delta^2 / 4 = 0.
# For J = 0 it is a quadratic in a^2 with one positive root:
#     a^2 = (eta + sqrt(eta^2 + Delta^2)) / 2,  r* = a / (pi tau).

J_PATH = "p/qif_op/r->p/qif_op/r_in/weight"


def _qif_fixed_points(eta: float, J: float, delta: float = 1.0, tau: float = 1.0) -> np.ndarray:
    a = np.roots([1.0, -J / np.pi, -eta, 0.0, -(delta**2) / 4])
    a = np.real(a[(np.abs(a.imag) < 1e-12) & (a.real > 0)])
    return np.sort(a) / (np.pi * tau)


@pytest.mark.parametrize(("solver", "kwargs"), SOLVERS, ids=[s for s, _ in SOLVERS])
def test_qif_uncoupled_fixed_point_is_analytic(solver, kwargs):
    eta = np.array([1.0, 5.0])
    delta, tau = 1.0, 1.0
    ds = nmm.simulate(
        _load(QIF),
        params={"p/qif_op/eta": eta, J_PATH: 0.0},
        simulation_time=80.0, step_size=5e-3, sampling_step_size=1e-1,
        outputs={"r": "p/qif_op/r", "v": "p/qif_op/v"}, solver=solver, cutoff=70.0, **kwargs,
    )
    r_star = np.sqrt((eta + np.sqrt(eta**2 + delta**2)) / 2) / (np.pi * tau)
    v_star = -delta / (2 * np.pi * tau * r_star)
    for p in range(eta.size):
        # the quartic with J = 0 has exactly this positive root
        np.testing.assert_allclose(_qif_fixed_points(eta[p], 0.0), [r_star[p]], rtol=1e-10)
        r = ds["r"].isel(point=p).values
        v = ds["v"].isel(point=p).values
        np.testing.assert_allclose(r, r_star[p], rtol=1e-7)
        np.testing.assert_allclose(v, v_star[p], rtol=1e-7)


def test_qif_recurrent_low_activity_fixed_point():
    # Default circuit (J = 15, Delta = 1, tau = 1). At eta = -5 the model is bistable
    # and the default initial state (r = 0.01, v = -2) settles on the low-activity node;
    # at eta = -8 that node is the only fixed point.
    eta = np.array([-5.0, -8.0])
    ds = nmm.simulate(
        _load(QIF),
        params={"p/qif_op/eta": eta},
        simulation_time=80.0, step_size=5e-3, sampling_step_size=1e-1,
        outputs={"r": "p/qif_op/r", "v": "p/qif_op/v"}, solver="rk4", cutoff=70.0,
    )
    expected_count = {-5.0: 3, -8.0: 1}
    for p, e in enumerate(eta):
        roots = _qif_fixed_points(e, 15.0)
        assert roots.size == expected_count[e]
        r = ds["r"].isel(point=p).values
        v = ds["v"].isel(point=p).values
        np.testing.assert_allclose(r, roots[0], rtol=1e-7)
        np.testing.assert_allclose(v, -1.0 / (2 * np.pi * roots[0]), rtol=1e-7)


# Wilson-Cowan
##############


def _sig(x):
    return 1.0 / (1.0 + np.exp(-x))


def test_wilson_cowan_steady_state_solves_fixed_point_equations():
    # Driven excitatory population: the state spirals into a fixed point with r > 0.
    r_ext = np.array([0.5, 1.0, 2.0, 4.0])
    ds = nmm.simulate(
        _load(WC),
        params={"e/se_op/r_ext": r_ext},
        simulation_time=2000.0, step_size=0.1, sampling_step_size=1.0,
        outputs={"re": "e/rate_op/r", "ri": "i/rate_op/r"}, solver="rk4", cutoff=1900.0,
    )
    k = 1.0
    for p, ext in enumerate(r_ext):
        re = ds["re"].isel(point=p).values
        ri = ds["ri"].isel(point=p).values
        assert np.ptp(re) < 1e-9 and np.ptp(ri) < 1e-9  # settled
        re, ri = re[-1], ri[-1]
        assert re > 0.05 and ri > 0.05  # not the trivial rest state
        s_e = _sig(1.0 * (15 * re - 15 * ri + ext - 2.0)) - _sig(-1.0 * 2.0)
        s_i = _sig(2.0 * (15 * re - 4 * ri - 2.5)) - _sig(-2.0 * 2.5)
        assert abs(re - (1 - k * re) * s_e) < 1e-8
        assert abs(ri - (1 - k * ri) * s_i) < 1e-8


def test_wilson_cowan_rest_state_without_drive():
    df = _load(WC).run(
        simulation_time=100.0, step_size=0.1, sampling_step_size=1.0,
        outputs={"re": "e/rate_op/r", "ri": "i/rate_op/r"}, solver="rk4",
    )
    np.testing.assert_allclose(df.to_numpy(), 0.0, atol=1e-12)
