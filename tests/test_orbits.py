"""Extrema, regimes and periods for orbit diagrams."""
from __future__ import annotations

import numpy as np
import pytest

import nmm
from nmm.analysis.orbits import REGIMES, extrema, orbit_summary, period, regime
from nmm.errors import NMMError

DT = 1e-3
T = np.arange(0.0, 10.0, DT)


def _sine(a=2.0, f=7.0):
    return a * np.sin(2 * np.pi * f * T + 0.1)


def _period2():
    # frequencies 2 and 1: two maxima per period 1 at different heights
    return np.cos(2 * np.pi * 2 * T) + 0.4 * np.cos(2 * np.pi * T + 0.5)


def test_sine_has_one_maximum_and_its_period():
    s = orbit_summary(_sine(), DT)
    assert s["n_maxima"] == 1 and s["n_minima"] == 1
    assert s["maxima"][0] == pytest.approx(2.0, rel=1e-6)
    assert s["minima"][0] == pytest.approx(-2.0, rel=1e-6)
    assert np.isnan(s["maxima"][1:]).all()
    assert s["regime"] == 1 and REGIMES[int(s["regime"])] == "periodic"
    assert s["period"] == pytest.approx(1 / 7.0, rel=1e-6)
    assert period(_sine(), DT) == pytest.approx(1 / 7.0, rel=1e-6)


def test_period_two():
    mx, mn, nmx, nmn = extrema(_period2())
    assert nmx == 2
    assert mx[0] > mx[1] + 0.1
    assert regime(_period2()) == 1
    assert period(_period2(), DT) == pytest.approx(1.0, rel=1e-6)  # the full period


@pytest.mark.parametrize("x", [np.full(T.size, 3.0), 3.0 + 1e-9 * np.exp(-T), 3.0 + np.exp(-T)],
                         ids=["constant", "decayed", "decaying"])
def test_fixed_point(x):
    s = orbit_summary(x, DT)
    assert s["regime"] == 0 and REGIMES[0] == "fixed point"
    assert s["maxima"][0] == x[-1] and s["minima"][0] == x[-1]
    assert s["n_maxima"] == 0
    assert np.isnan(s["period"])


def test_quasi_periodic_is_irregular():
    t = np.arange(0.0, 2000.0, 0.01)
    x = np.sin(t) + np.sin(np.sqrt(2) * t)
    mx, mn, nmx, nmn = extrema(x, max_n=16)
    assert nmx > 100  # the true count, above max_n
    assert np.all(np.isfinite(mx)) and np.all(np.diff(mx) < 0)  # descending
    assert np.all(np.diff(mn) > 0)  # ascending
    assert mx[0] == pytest.approx(2.0, abs=1e-3)
    assert regime(x) == 2
    assert np.isnan(period(x, 0.01))


def test_batch_equals_one_by_one():
    X = np.stack([_sine(), _period2(), np.full(T.size, -1.5)])
    s = orbit_summary(X[None], DT)  # shape (1, 3, n)
    assert s["maxima"].shape == (1, 3, 16) and s["regime"].shape == (1, 3)
    for i in range(3):
        si = orbit_summary(X[i], DT)
        for k, v in si.items():
            np.testing.assert_array_equal(s[k][0, i], v, err_msg=k)
    np.testing.assert_array_equal(regime(X), s["regime"][0])
    assert s["regime"].dtype == np.int8


def test_non_finite_series():
    x = _sine()
    x[500] = np.nan
    s = orbit_summary(np.stack([x, _sine()]), DT)
    assert list(s["regime"]) == [-1, 1]
    assert np.isnan(s["maxima"][0]).all() and s["n_maxima"][0] == 0


def test_errors_name_the_bad_value():
    with pytest.raises(NMMError, match="at least 3 samples .* got 2"):
        extrema(np.ones((4, 2)))
    with pytest.raises(NMMError, match=r"tol must be in \(0, 1\), e.g. 1e-6, got -1"):
        regime(_sine(), tol=-1)
    with pytest.raises(NMMError, match="dt must be the positive sampling step of x, got 0"):
        period(_sine(), 0)
    with pytest.raises(NMMError, match="max_n must be an integer >= 1, got 0"):
        extrema(_sine(), max_n=0)


def test_jansen_rit_regimes():
    # the JRC limit cycle attracts slowly (about 14 % per cycle), so its maxima agree to
    # tol = 1e-6 only after ~7 s; after 2 s they still drift by ~1e-2 of the range
    ds = nmm.simulate("nmm.templates.jansenrit.JRC", {"pc/rpo_e_in/u": np.array([50.0, 220.0])},
                      simulation_time=12.0, step_size=1e-4, sampling_step_size=1e-3, solver="rk4",
                      cutoff=8.0, outputs={"v": "pc/pro/v"})
    s = orbit_summary(ds["v"].values, 1e-3)
    assert list(s["regime"]) == [0, 1]
    assert s["period"][1] == pytest.approx(1 / 10.8, rel=0.03)
    assert s["maxima"][0, 0] == ds["v"].values[0, -1]


def test_damped_oscillation_is_a_fixed_point_and_approach_to_a_cycle_is_periodic():
    t = np.arange(0, 40, 0.01)
    damped = np.exp(-0.05 * t) * np.sin(2 * np.pi * t)             # focus: amplitude -> 0
    approach = (1 + 0.5 * np.exp(-0.05 * t)) * np.sin(2 * np.pi * t)  # cycle of amplitude 1
    s = orbit_summary(np.stack([damped, approach]), 0.01, tol=1e-3)
    assert s["regime"].tolist() == [0, 1]
    assert s["period"][1] == pytest.approx(1.0, rel=1e-3)
    assert np.isnan(s["period"][0])


def test_jrc_alpha_cycle_lives_between_the_upper_hopf_points():
    """Brute force vs continuation: from a state on the upper branch, the JRC oscillates
    (alpha) for u between the Hopf points at 89.83 and 315.70 Hz and rests outside."""
    import nmm

    cont = nmm.continuation("nmm.templates.jansenrit.JRC", parameter="pc/rpo_e_in/u", start=-50.0, stop=400.0)
    hopf = sorted(cont.special_points.query("kind == 'hopf' and value > 0")["value"])
    lo, hi = hopf[0], hopf[-1]
    upper = {"pc/rpo_e_in/v": 0.0216, "pc/rpo_i/v": -0.0146, "ein/rpo_e/v": 0.0140, "iin/rpo_e/v": 0.0035}
    u = np.array([60.0, 75.0, lo + 8, 150.0, 250.0, hi - 10, hi + 15, 360.0])
    ds = nmm.simulate("nmm.templates.jansenrit.JRC", {"pc/rpo_e_in/u": u, **upper}, simulation_time=12.0,
                      step_size=1e-4, sampling_step_size=1e-3, solver="rk4", cutoff=8.0,
                      outputs={"v": "pc/pro/v"})
    s = orbit_summary(ds["v"].values, 1e-3, tol=1e-3)
    inside = (u > lo) & (u < hi)
    assert (s["regime"][inside] == 1).all(), s["regime"]
    assert (s["regime"][~inside] == 0).all(), s["regime"]
    assert np.all((1 / s["period"][inside] > 10) & (1 / s["period"][inside] < 11.5))
