"""Continuation of periodic orbits: closed forms, published bifurcation values and simulations.

Every number a branch is checked against comes from outside the collocation code: a closed
form (Stuart-Landau, the Bautin normal form), a published value (Grimbert & Faugeras 2006
for Jansen-Rit), a simulation with scipy's DOP853 at rtol 1e-10 run here, or the variational
equation integrated by scipy.
"""
from __future__ import annotations

import math

import numpy as np
import pytest

import nmm

SL = "nmm.templates.stuartlandau.SL"


@pytest.fixture(scope="module")
def sl():
    return nmm.continuation(SL, parameter="sl/sl_op/mu", start=-1.0, stop=1.0, outputs={"x": "sl/sl_op/x"},
                            cycles=True)


def test_stuart_landau_radius_period_and_multiplier_follow_the_closed_form(sl):
    """dz/dt = (mu + i omega) z - |z|^2 z: the cycle has radius sqrt(mu), period 2 pi / omega
    (1 s here) and the non-trivial Floquet multiplier exp(-2 mu T)."""
    c = sl.cycles
    assert c.sizes["branch"] == 1
    b = c.isel(branch=0)
    n = int(b.parameter.notnull().sum())
    mu = b.parameter.values[:n]
    assert mu[0] == pytest.approx(0.0, abs=1e-12) and mu[-1] == pytest.approx(1.0, abs=1e-12)
    assert n > 10 and str(b.end.values) == "stop"
    np.testing.assert_allclose(b.x_max.values[:n], np.sqrt(mu), atol=1e-7)
    np.testing.assert_allclose(b.x_min.values[:n], -np.sqrt(mu), atol=1e-7)
    np.testing.assert_allclose(b.period.values[:n], 1.0, rtol=1e-9)
    r0 = np.hypot(b["sl.sl_op.x"].values[:n], b["sl.sl_op.y"].values[:n])
    np.testing.assert_allclose(r0, np.sqrt(mu), atol=1e-7)
    mult = b.floquet.values[1:n]
    np.testing.assert_allclose(np.abs(mult[:, 0]), 1.0, atol=1e-8)  # trivial multiplier
    np.testing.assert_allclose(mult[:, 1].real, np.exp(-2 * mu[1:]), rtol=1e-7)
    assert b.stable.values[1:n].all()
    assert b.period.attrs["units"] == "s" and b.parameter.attrs["units"] == "1/s"
    assert b.x_max.attrs["long_name"] == "max of sl/sl_op/x"


ROSSLER = """
op:
  base: OperatorTemplate
  equations:
    - "d/dt * x = -y - z"
    - "d/dt * y = x + a*y"
    - "d/dt * z = b + z*(x - c)"
  variables: {x: output(0.0), y: variable(0.0), z: variable(0.0), a: 0.0, b: 0.2, c: 5.7}
node: {base: NodeTemplate, operators: [op]}
"""

BAUTIN = """
op:
  base: OperatorTemplate
  equations:
    - "d/dt * x = x*(b1 + b2*(x^2 + y^2) - (x^2 + y^2)^2) - y"
    - "d/dt * y = y*(b1 + b2*(x^2 + y^2) - (x^2 + y^2)^2) + x"
  variables: {x: output(0.0), y: variable(0.0), b1: -0.5, b2: 1.0}
node: {base: NodeTemplate, operators: [op]}
"""


def _circuit(tmp_path, text, name):
    (tmp_path / f"{name}.yaml").write_text(text)
    return nmm.CircuitTemplate.from_yaml(str(tmp_path / f"{name}.yaml"), "node")


def _rossler_rhs(a, b=0.2, c=5.7):
    return lambda t, u: [-u[1] - u[2], u[0] + a * u[1], b + u[2] * (u[0] - c)]


def _distinct_maxima(a, t_end=1500.0, keep=300.0):
    """Distinct local maxima of x on the attractor of the Rössler system (DOP853, rtol 1e-10)."""
    from scipy.integrate import solve_ivp

    sol = solve_ivp(_rossler_rhs(a), (0.0, t_end), [1.0, 1.0, 0.0], method="DOP853", rtol=1e-10, atol=1e-12,
                    dense_output=True)
    t = np.arange(t_end - keep, t_end, 0.002)
    x = sol.sol(t)[0]
    i = np.flatnonzero((x[1:-1] > x[:-2]) & (x[1:-1] >= x[2:])) + 1
    return np.unique(np.round(x[i], 3))


@pytest.fixture(scope="module")
def rossler(tmp_path_factory):
    c = _circuit(tmp_path_factory.mktemp("r"), ROSSLER, "rossler")
    a0 = -0.1
    x = (5.7 - math.sqrt(5.7**2 - 4 * a0 * 0.2)) / 2  # the inner equilibrium
    return c, nmm.continuation(c, parameter="node/op/a", start=a0, stop=0.13, x0=np.array([x, -x / a0, x / a0]),
                               outputs={"x": "node/op/x"},
                               cycles={"switch_period_doubling": True, "values": [0.05]})


def test_rossler_first_period_doubling_is_found_and_agrees_with_simulation(rossler):
    """Rössler (1976), Phys. Lett. A 57:397, with b = 0.2, c = 5.7 and the parameter a: the cycle
    born at the Hopf point of the inner equilibrium is a simple (period-1) orbit at a = 0.1 and
    the attractor is chaotic at Rössler's a = 0.2, reached by period doublings (e.g. the
    Rössler-attractor chapter of the Generative eBooks' 'Beyond flows in the plane'). The
    first doubling is located by the multiplier crossing -1 and checked by simulation here:
    one maximum of x per turn just below it, two just above."""
    sp = rossler[1].special_points
    pd = sp[(sp.kind == "period_doubling") & (sp.branch == 0)]
    assert len(pd) == 1
    a_pd = float(pd.value.iloc[0])
    assert 0.1 < a_pd < 0.2
    assert a_pd == pytest.approx(0.10964, abs=2e-4)  # the value this implementation finds (0.109639)
    assert len(_distinct_maxima(a_pd - 0.01)) == 1
    assert len(_distinct_maxima(a_pd + 0.01)) == 2
    # the multiplier at the located point is -1
    b0 = rossler[1].cycles.isel(branch=0)
    step = int(pd.step.iloc[0])
    nt = b0.floquet.values[step + 1]
    assert np.any(nt.real < -1.0) and b0.stable.values[step] and not b0.stable.values[step + 1]


def test_rossler_switches_to_the_doubled_branch(rossler):
    c = rossler[1].cycles
    assert list(c.start.values[:2]) == ["hopf", "period_doubling"]
    sp = rossler[1].special_points
    pd0 = sp[(sp.kind == "period_doubling") & (sp.branch == 0)].iloc[0]
    d = c.isel(branch=1)
    assert float(d.start_value) == pytest.approx(pd0.value)
    assert float(d.period[0]) == pytest.approx(2 * pd0.period, rel=1e-8)
    n = int(d.parameter.notnull().sum())
    assert n > 5 and np.all(d.parameter.values[1:n] > pd0.value)  # supercritical: born on the unstable side
    assert d.stable.values[2:n].any()  # the doubled cycle is the attractor beyond the doubling
    # its two maxima agree with the simulated period-2 attractor at a parameter on the branch
    i = int(np.argmin(np.abs(d.parameter.values[:n] - (pd0.value + 0.01))))
    if d.stable.values[i]:
        a = float(d.parameter.values[i])
        sim = _distinct_maxima(a)
        assert len(sim) == 2 and float(d.x_max[i]) == pytest.approx(sim.max(), abs=2e-3)


def test_floquet_multipliers_match_the_variational_equation(rossler):
    """The monodromy matrix by condensation of the collocation blocks against scipy's
    integration of the variational equation X' = J(x(t)) X over one period."""
    from scipy.integrate import solve_ivp

    c = rossler[1].cycles.isel(branch=0)
    i = int(np.flatnonzero(c.parameter.values == 0.05)[0])  # the stored point at a = 0.05
    x0 = np.array([c[f"node.op.{v}"].values[i] for v in "xyz"])
    T = float(c.period[i])
    a = 0.05

    def var(t, u):
        x, y, z = u[:3]
        J = np.array([[0.0, -1.0, -1.0], [1.0, a, 0.0], [z, 0.0, x - 5.7]])
        return np.concatenate([_rossler_rhs(a)(t, u[:3]), (J @ u[3:].reshape(3, 3)).ravel()])

    sol = solve_ivp(var, (0.0, T), np.concatenate([x0, np.eye(3).ravel()]), method="DOP853", rtol=1e-11, atol=1e-13)
    assert np.abs(sol.y[:3, -1] - x0).max() < 1e-6  # the stored state and period close the orbit
    expect = np.sort(np.abs(np.linalg.eigvals(sol.y[3:, -1].reshape(3, 3))))[::-1]
    got = np.abs(c.floquet.values[i])
    np.testing.assert_allclose(got[:2], expect[:2], rtol=1e-6)
    assert got[2] == pytest.approx(expect[2], rel=1e-3, abs=1e-12)


def test_bautin_normal_form_fold_of_cycles_is_exact(tmp_path):
    """Bautin (generalised Hopf) normal form r' = r (b1 + b2 r^2 - r^4), theta' = 1
    (Kuznetsov, Elements of Applied Bifurcation Theory, 3rd ed. 2004, Sect. 8.3): cycles of
    radius r with r^2 = (b2 +- sqrt(b2^2 + 4 b1)) / 2; with b2 = 1 the Hopf point at b1 = 0 is
    subcritical and the cycles fold at b1 = -b2^2 / 4 = -0.25, r^2 = 1/2; the period is 2 pi."""
    c = _circuit(tmp_path, BAUTIN, "bautin")
    res = nmm.continuation(c, parameter="node/op/b1", start=-0.5, stop=0.5, x0=np.zeros(2),
                           outputs={"x": "node/op/x"}, cycles=True)
    sp = res.special_points
    assert list(sp.kind) == ["hopf", "fold_cycle"]
    fold = sp[sp.kind == "fold_cycle"].iloc[0]
    assert fold.value == pytest.approx(-0.25, abs=1e-9)
    assert fold.x == pytest.approx(math.sqrt(0.5), abs=1e-7)
    assert fold.period == pytest.approx(2 * math.pi, rel=1e-9)
    b = res.cycles.isel(branch=0)
    n = int(b.parameter.notnull().sum())
    b1, r = b.parameter.values[:n], b.x_max.values[:n]
    np.testing.assert_allclose(b1, r**4 - r**2, atol=1e-8)  # b1 + r^2 - r^4 = 0
    # small cycles (r^2 < 1/2) unstable, large ones stable
    np.testing.assert_array_equal(b.stable.values[1:n], r[1:] ** 2 > 0.5)
    assert str(b.end.values) == "stop" and b1[-1] == pytest.approx(0.5)


def test_cycles_off_leaves_the_result_unchanged():
    kw = dict(parameter="sl/sl_op/mu", start=-1.0, stop=1.0, outputs={"x": "sl/sl_op/x"})
    a = nmm.continuation(SL, **kw)
    b = nmm.continuation(SL, **kw, cycles=False)
    assert a.cycles is None and b.cycles is None
    assert list(a.special_points.columns) == list(b.special_points.columns)
    assert "period" not in a.special_points.columns
    with_cycles = nmm.continuation(SL, **kw, cycles={"ntst": 20})
    xr_equal = a.branch.identical(with_cycles.branch)
    assert xr_equal
    eq = with_cycles.special_points.query("kind in ['hopf', 'fold']").drop(columns="period")
    assert eq.reset_index(drop=True).equals(a.special_points)


@pytest.mark.parametrize(("cycles", "match"), [
    ({"ntsts": 20}, r"unknown cycles option 'ntsts'\. Did you mean 'ntst'"),
    ({"ncol": 9}, r"2 <= ncol <= 7, got ntst=40, ncol=9"),
    ({"ds": -1.0}, r"'ds' must be a positive number, got -1.0"),
    ({"values": "u"}, r"'values' must be a list of finite numbers"),
    ("yes", r"cycles must be true, false or a mapping of options, got 'yes'"),
])
def test_bad_cycle_options_are_refused(cycles, match):
    with pytest.raises(nmm.NMMError, match=match):
        nmm.continuation(SL, parameter="sl/sl_op/mu", start=-1.0, stop=1.0, cycles=cycles)


def test_models_with_delays_are_refused():
    with pytest.raises(nmm.NMMError, match="continuation computes the stability of ODE equilibria.*discrete delay"):
        nmm.continuation("nmm.templates.jansenrit.JRC_delayed_pair", parameter="jrc1/pc/rpo_e_in/u", start=0.0,
                         stop=100.0, cycles=True)
