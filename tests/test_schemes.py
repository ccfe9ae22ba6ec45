"""The fixed-step schemes against references that share no code with the kernels.

* A linear system x' = A x: one step of euler, heun and rk4 is the matrix polynomial
  I + hA (+ (hA)^2/2 (+ (hA)^3/6 + (hA)^4/24)), so sample k is that matrix to the power
  k * decim applied to x0, computed in numpy; the exact solution is expm(A t).
* A forced linear equation with explicit time, x' = cos(2 pi f t) - x / tau: its stage
  times matter (a scheme that evaluates every stage at t_n drops to order 1), the
  closed-form solution gives the convergence order, and a numpy loop of each scheme,
  written from its textbook definition, gives the same numbers to round-off.
* Time-series inputs: one value per step, held over all stages of the step (PyRates
  indexes the series by the step counter); a numpy re-implementation of that rule for
  each scheme is compared with the kernel.
"""
from __future__ import annotations

import textwrap

import numpy as np
import pytest
from scipy.linalg import expm

import nmm

TEMPLATES = textwrap.dedent("""
    lin_op:
      base: OperatorTemplate
      equations:
        - "d/dt * x = -a * x + b * y"
        - "d/dt * y = -b * x - a * y"
      variables: {x: output(1.0), y: variable(0.0), a: 0.5, b: 6.0}
    lin: {base: NodeTemplate, operators: [lin_op]}

    forced_op:
      base: OperatorTemplate
      equations: "d/dt * x = cos(2*pi*f*t) - x/tau"
      variables: {x: output(0.5), f: 1.5, tau: 0.3}
    forced: {base: NodeTemplate, operators: [forced_op]}

    driven_op:
      base: OperatorTemplate
      equations: "d/dt * x = u - x*x/tau"
      variables: {x: output(0.2), u: 0.0, tau: 0.5}
    driven: {base: NodeTemplate, operators: [driven_op]}
""")

SOLVERS = ("euler", "heun", "rk4")
ORDER = {"euler": 1, "heun": 2, "rk4": 4}


@pytest.fixture(scope="module")
def templates(tmp_path_factory):
    p = tmp_path_factory.mktemp("schemes") / "schemes.yaml"
    p.write_text(TEMPLATES)
    return {name: nmm.CircuitTemplate.from_yaml(str(p), name) for name in ("lin", "forced", "driven")}


def step_matrix(A: np.ndarray, h: float, solver: str) -> np.ndarray:
    """The one-step map of a linear system: the truncated Taylor series of expm(hA)."""
    terms = {"euler": 1, "heun": 2, "rk4": 4}[solver]
    M, term = np.eye(len(A)), np.eye(len(A))
    for k in range(1, terms + 1):
        term = term @ (h * A) / k
        M = M + term
    return M


@pytest.mark.parametrize("solver", SOLVERS)
def test_linear_system_equals_the_powers_of_the_step_matrix(templates, solver):
    a, b = np.array([0.5, 1.0, 0.2]), np.array([6.0, 3.0, 9.0])  # three points
    dt, decim, T = 1e-2, 5, 3.0
    ds = nmm.simulate(templates["lin"], {"lin/lin_op/a": a, "lin/lin_op/b": b}, simulation_time=T, step_size=dt,
                      sampling_step_size=decim * dt, solver=solver)
    assert ds.sizes["time"] == 60
    for p in range(a.size):
        A = np.array([[-a[p], b[p]], [-b[p], -a[p]]])
        M = np.linalg.matrix_power(step_matrix(A, dt, solver), decim)
        ref = np.empty((ds.sizes["time"], 2))
        x = np.array([1.0, 0.0])
        for k in range(ref.shape[0]):
            ref[k] = x
            x = M @ x
        got = np.stack([ds["lin/lin_op/x"].values[p], ds["lin/lin_op/y"].values[p]], axis=1)
        np.testing.assert_allclose(got, ref, rtol=0, atol=1e-13)
        # the reference is the scheme: its one-step map differs from the exact flow
        # expm(hA) by O(h^(order + 1))
        local = [np.abs(step_matrix(A, h, solver) - expm(h * A)).max() for h in (dt, dt / 2)]
        assert np.log2(local[0] / local[1]) == pytest.approx(ORDER[solver] + 1, abs=0.1)


def forced_exact(t, x0, f, tau):
    w, k = 2 * np.pi * f, 1.0 / tau
    return (x0 - k / (k**2 + w**2)) * np.exp(-k * t) + (k * np.cos(w * t) + w * np.sin(w * t)) / (k**2 + w**2)


def forced_numpy(solver, x0, f, tau, dt, n_steps):
    """The textbook schemes, step by step, for x' = cos(2 pi f t) - x / tau."""
    def rhs(t, x):
        return np.cos(2 * np.pi * f * t) - x / tau

    x = np.empty(n_steps + 1)
    x[0] = x0
    for n in range(n_steps):
        t, y = n * dt, x[n]
        k1 = rhs(t, y)
        if solver == "euler":
            x[n + 1] = y + dt * k1
        elif solver == "heun":
            x[n + 1] = y + dt / 2 * (k1 + rhs(t + dt, y + dt * k1))
        else:
            k2 = rhs(t + dt / 2, y + dt / 2 * k1)
            k3 = rhs(t + dt / 2, y + dt / 2 * k2)
            k4 = rhs(t + dt, y + dt * k3)
            x[n + 1] = y + dt / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
    return x


@pytest.mark.parametrize("solver", SOLVERS)
def test_explicit_time_stage_times_and_order(templates, solver):
    f, tau, x0, T, dts = 1.5, 0.3, 0.5, 2.0, 0.1
    c = templates["forced"]
    # the same steps as a numpy loop of the scheme
    ds = nmm.simulate(c, {"forced/forced_op/f": [f, 0.7]}, simulation_time=T, step_size=dts / 8,
                      sampling_step_size=dts, solver=solver)
    t = ds["time"].values
    ref = forced_numpy(solver, x0, f, tau, dts / 8, int(round(T / dts * 8)))[::8][: t.size]
    np.testing.assert_allclose(ds["forced/forced_op/x"].values[0], ref, rtol=0, atol=1e-14)
    # the convergence order against the closed form
    ns = (2, 4, 8, 16) if solver == "rk4" else (8, 16, 32, 64)
    errs = []
    for n in ns:
        ds = nmm.simulate(c, {"forced/forced_op/f": f}, simulation_time=T, step_size=dts / n,
                          sampling_step_size=dts, solver=solver)
        errs.append(np.abs(ds["forced/forced_op/x"].values[0] - forced_exact(t, x0, f, tau)).max())
    errs = np.array(errs)
    slope = -np.polyfit(np.log(ns), np.log(errs), 1)[0]
    assert abs(slope - ORDER[solver]) < 0.1, (slope, errs)  # measured 1.007, 2.005, 3.97
    assert errs[-1] > 1e-13, errs  # not at round-off: the slope means something


def driven_numpy(solver, x0, u, tau, dt, held=True):
    """x' = u - x^2 / tau; u of step n held over the whole step (or, for comparison,
    interpolated linearly towards u of step n + 1 at the stage times)."""
    def rhs(x, n, c):  # c: stage time as a fraction of the step
        un = u[n] if held or n + 1 == u.size else (1 - c) * u[n] + c * u[n + 1]
        return un - x * x / tau

    x = np.empty(u.size + 1)
    x[0] = x0
    for n in range(u.size):
        y = x[n]
        k1 = rhs(y, n, 0.0)
        if solver == "euler":
            x[n + 1] = y + dt * k1
        elif solver == "heun":
            x[n + 1] = y + dt / 2 * (k1 + rhs(y + dt * k1, n, 1.0))
        else:
            k2 = rhs(y + dt / 2 * k1, n, 0.5)
            k3 = rhs(y + dt / 2 * k2, n, 0.5)
            k4 = rhs(y + dt * k3, n, 1.0)
            x[n + 1] = y + dt / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
    return x


@pytest.mark.parametrize("solver", SOLVERS)
def test_time_series_input_is_held_over_the_stages_of_its_step(templates, solver):
    T, dt = 2.0, 1e-2
    n = int(round(T / dt))
    rng = np.random.default_rng(4)
    u = np.sin(2 * np.pi * 1.3 * np.arange(n) * dt) + 0.5 * rng.standard_normal(n)  # varies every step
    df = templates["driven"].run(simulation_time=T, step_size=dt, solver=solver, inputs={"driven/driven_op/u": u})
    got = df["driven/driven_op/x"].values
    assert got.size == n  # samples at t = 0 .. T - dt
    np.testing.assert_allclose(got, driven_numpy(solver, 0.2, u, 0.5, dt)[:n], rtol=0, atol=1e-14)
    if solver != "euler":  # the rule is visible: interpolating at the stage times differs
        other = driven_numpy(solver, 0.2, u, 0.5, dt, held=False)[:n]
        assert np.abs(got - other).max() > 1e-4
