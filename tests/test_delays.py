"""Edge delays, gamma-distributed delays, networks from matrices."""
from __future__ import annotations

import math
import textwrap

import numpy as np
import pytest
import scipy.signal
import scipy.stats
from conftest import HAVE_PYRATES

import nmm

DDE = textwrap.dedent("""
    op:
      base: OperatorTemplate
      equations: "d/dt * x = -a * x_in"
      variables: {x: output(1.0), a: 1.0, x_in: input(0.0)}
    node: {base: NodeTemplate, operators: [op]}
    net:
      base: CircuitTemplate
      nodes: {n: node}
      edges:
        - [n/op/x, n/op/x_in, null, {weight: 1.0, delay: 1.0}]
""")
TAU = "n/op/x->n/op/x_in/delay"


@pytest.fixture(scope="module")
def dde(tmp_path_factory):
    p = tmp_path_factory.mktemp("dde") / "dde.yaml"
    p.write_text(DDE)
    return nmm.CircuitTemplate.from_yaml(str(p), "net")


def growth(dde, taus, solver="rk4", dt=1e-3):
    ds = nmm.simulate(dde, {TAU: np.asarray(taus)}, simulation_time=120.0, step_size=dt, sampling_step_size=0.05,
                      solver=solver, outputs={"x": "n/op/x"})
    x = ds["x"].values
    early, late = np.abs(x[:, 400:800]).max(axis=1), np.abs(x[:, -400:]).max(axis=1)
    return np.log(late / early)


@pytest.mark.parametrize("solver", ["euler", "heun", "rk4"])
def test_delayed_decay_loses_stability_at_a_tau_pi_half(dde, solver):
    """x' = -a x(t - tau) is stable for a tau < pi/2 and oscillates at omega = a there."""
    taus = np.linspace(1.50, 1.64, 15)
    g = growth(dde, taus, solver)
    assert (np.diff(g) > 0).all()
    crit = np.interp(0.0, g, taus)  # where the amplitude neither grows nor decays
    assert crit == pytest.approx(math.pi / 2, abs=3e-3), crit
    # at the boundary the oscillation has angular frequency a = 1
    ds = nmm.simulate(dde, {TAU: [math.pi / 2]}, simulation_time=80.0, step_size=1e-3, sampling_step_size=1e-2,
                      solver=solver, outputs={"x": "n/op/x"}, cutoff=20.0)
    x, t = ds["x"].values[0], ds["time"].values
    up = np.flatnonzero((x[:-1] < 0) & (x[1:] >= 0))
    period = np.mean(np.diff(t[up]))
    assert period == pytest.approx(2 * math.pi, rel=2e-3)


DDE2 = textwrap.dedent("""
    op:
      base: OperatorTemplate
      equations: "d/dt * x = -b * x - a * x_in + c"
      variables: {x: output(1.0), a: 1.2, b: 0.3, c: 0.0, x_in: input(0.0)}
    node: {base: NodeTemplate, operators: [op]}
    net:
      base: CircuitTemplate
      nodes: {n: node}
      edges:
        - [n/op/x, n/op/x_in, null, {weight: 1.0, delay: 0.5}]
""")
DDE2_PARAMS = (1.2, 0.3, 0.5)  # a, b, delay


def dde_method_of_steps(x0, c, T):
    """x' = -b x - a x(t - d) + c, x = 0 before t = 0, by the method of steps: on each
    [k d, (k + 1) d] an ODE whose delayed term is the previous piece (solve_ivp at
    rtol 1e-12). Returns x as a function of t."""
    from scipy.integrate import solve_ivp

    a, b, d = DDE2_PARAMS
    pieces = []
    y0 = x0
    for k in range(int(np.ceil(T / d))):
        prev = pieces[-1] if pieces else None

        def f(t, y, prev=prev):
            xd = prev.sol(t - d)[0] if prev is not None else 0.0
            return [-b * y[0] - a * xd + c]

        sol = solve_ivp(f, (k * d, (k + 1) * d), [y0], method="DOP853", rtol=1e-12, atol=1e-14, dense_output=True)
        pieces.append(sol)
        y0 = sol.y[0, -1]

    def x(t):
        k = np.minimum((t / d).astype(int), len(pieces) - 1)
        return np.array([pieces[ki].sol(ti)[0] for ki, ti in zip(k, t)])

    return x


def dde_numpy(solver, x0, c, D, dt, n_steps):
    """The documented ring-buffer rule, step by step: the delayed value at the start of
    step n is x[n - D], at its end x[n - D + 1], their mean at RK4's half steps; x = 0
    before t = 0."""
    a, b, _ = DDE2_PARAMS
    x = np.zeros(n_steps + 1)
    x[0] = x0

    def past(m):
        return x[m] if m >= 0 else 0.0

    def f(y, xd):
        return -b * y - a * xd + c

    for n in range(n_steps):
        y, dA, dB = x[n], past(n - D), past(n - D + 1)
        k1 = f(y, dA)
        if solver == "euler":
            x[n + 1] = y + dt * k1
        elif solver == "heun":
            x[n + 1] = y + dt / 2 * (k1 + f(y + dt * k1, dB))
        else:
            dM = 0.5 * (dA + dB)
            k2 = f(y + dt / 2 * k1, dM)
            k3 = f(y + dt / 2 * k2, dM)
            k4 = f(y + dt * k3, dB)
            x[n + 1] = y + dt / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
    return x


@pytest.fixture(scope="module")
def dde2(tmp_path_factory):
    p = tmp_path_factory.mktemp("dde2") / "dde2.yaml"
    p.write_text(DDE2)
    return nmm.CircuitTemplate.from_yaml(str(p), "net")


@pytest.mark.parametrize("solver", ["euler", "heun", "rk4"])
def test_delay_ring_buffer_equals_the_documented_rule(dde2, solver):
    """x(0) = 1 after a zero history (PyRates' convention) and a driven start from 0,
    two delays at once: the kernel equals a numpy loop of the rule to round-off."""
    T, dt, decim = 4.0, 0.01, 5
    ds = nmm.simulate(dde2, {"n/op/x->n/op/x_in/delay": [0.5, 0.3], "n/op/x": [1.0, 0.0], "n/op/c": [0.0, 1.0]},
                      simulation_time=T, step_size=dt, sampling_step_size=decim * dt, solver=solver,
                      outputs={"x": "n/op/x"})
    n = int(round(T / dt))
    for i, (D, x0, c) in enumerate(((50, 1.0, 0.0), (30, 0.0, 1.0))):
        ref = dde_numpy(solver, x0, c, D, dt, n)[::decim][: ds.sizes["time"]]
        assert np.ptp(ref) > 0.3
        np.testing.assert_allclose(ds["x"].values[i], ref, rtol=0, atol=1e-13)


@pytest.mark.parametrize("solver, order", [("euler", 1), ("heun", 2), ("rk4", 2)])
def test_delay_equation_converges_to_the_method_of_steps(dde2, solver, order):
    """With a continuous start (x(0) = 0 = the history, driven by c) the schemes converge
    to the method-of-steps solution at their order; RK4 at second order, since its
    half-step stages interpolate the delayed value linearly. (A jump at t = 0, x(0) = 1
    after a zero history, makes every scheme first order: the step across it averages
    the two sides.)"""
    T, dts = 4.0, 0.05
    ns = (5, 10, 20, 40)
    kw = dict(simulation_time=T, sampling_step_size=dts, solver=solver, outputs={"x": "n/op/x"})
    params = {"n/op/x": 0.0, "n/op/c": 1.0}
    runs = [nmm.simulate(dde2, params, step_size=dts / n, **kw) for n in ns]
    t = runs[0]["time"].values
    exact = dde_method_of_steps(0.0, 1.0, T)(t)
    assert np.ptp(exact) > 0.3
    errs = np.array([np.abs(r["x"].values[0] - exact).max() for r in runs])
    slope = -np.polyfit(np.log(ns), np.log(errs), 1)[0]
    assert abs(slope - order) < 0.15, (slope, errs)


def test_delay_is_a_parameter_and_refused_where_unsupported(dde):
    assert dde.parameters[TAU] == 1.0
    with pytest.raises(nmm.NMMError, match="shorter than one step"):
        nmm.simulate(dde, {TAU: 1e-5}, simulation_time=1.0, step_size=1e-3, solver="euler")
    with pytest.raises(nmm.NMMError, match="cannot integrate the discrete delay"):
        nmm.simulate(dde, None, simulation_time=1.0, step_size=1e-3, solver="scipy")
    with pytest.raises(nmm.NMMError, match="continuation computes the stability of ODE equilibria"):
        nmm.continuation(dde, parameter="n/op/a", start=0.5, stop=1.0)


GAMMA = textwrap.dedent("""
    src_op:
      base: OperatorTemplate
      equations: ["d/dt * s = w * c", "d/dt * c = -w * s"]
      variables: {s: output(0.0), c: variable(1.0), w: 0.0}
    src: {base: NodeTemplate, operators: [src_op]}
    tgt_op:
      base: OperatorTemplate
      equations: "d/dt * y = x_in - y"
      variables: {y: output(0.0), x_in: input(0.0)}
    tgt: {base: NodeTemplate, operators: [tgt_op]}
    net:
      base: CircuitTemplate
      nodes: {a: src, b: tgt, c: tgt}
      edges:
        - [a/src_op/c, b/tgt_op/x_in, null, {weight: 1.5, delay: 0.2, spread: 0.1}]    # order 4
        - [a/src_op/c, c/tgt_op/x_in, null, {weight: 1.0, delay: 0.2, spread: 0.05}]   # order 16
""")
EDGE_B, EDGE_C = "a/src_op/c->b/tgt_op/x_in", "a/src_op/c->c/tgt_op/x_in"


def gamma_response(t, x, order, mean):
    """(x * Erlang pdf)(t): the source x(t) (zero before t = 0) seen through a
    gamma-distributed delay of the given order and mean, by quadrature on t's grid."""
    pdf = scipy.stats.gamma.pdf(t, order, scale=mean / order)
    dt = t[1] - t[0]
    full = scipy.signal.fftconvolve(x, pdf)[: t.size] * dt
    # trapezoid rule: half weight on the two ends of each integral
    return full - 0.5 * dt * (x[0] * pdf + x * pdf[0])


@pytest.mark.parametrize("solver", ["rk4", "scipy"])
def test_gamma_distributed_delay_has_the_erlang_response(tmp_path, solver):
    """A step input (c = 1 from t = 0, 0 before) seen through a gamma-distributed delay
    of order k = (delay / spread)^2 and rate k / delay is the Erlang CDF; a cosine is
    its convolution with the Erlang density. A new delay recomputes the order, as
    PyRates does (update_var rebuilds the chain); a sweep whose delays need other orders
    is refused (one kernel has one number of states)."""
    p = tmp_path / "g.yaml"
    p.write_text(GAMMA)
    c = nmm.CircuitTemplate.from_yaml(str(p), "net")
    assert len(c.model.states) == 2 + 2 + 4 + 16
    opts = dict(method="DOP853", rtol=1e-12, atol=1e-14) if solver == "scipy" else {}
    # measured (step, cosine): rk4 (dt = 1e-3) 7.5e-9, 2.5e-8; scipy 1.7e-9, 1.0e-9
    # (DOP853's own error on this system)
    tol = {"rk4": 2e-7, "scipy": 2e-8}[solver]
    kw = dict(simulation_time=2.0, step_size=1e-3, sampling_step_size=1e-2, solver=solver,
              outputs={"b": "b/tgt_op/x_in", "c": "c/tgt_op/x_in"}, **opts)
    for d, (kb, kc) in ((0.2, (4, 16)), (0.35, (12, 49))):
        cd = c.copy().update_var(edge_vars=[("a/src_op/c", "b/tgt_op/x_in", {"delay": d}),
                                            ("a/src_op/c", "c/tgt_op/x_in", {"delay": d})])
        assert len(cd.model.states) == 2 + 2 + kb + kc
        step = nmm.simulate(cd, **kw)
        t = step["time"].values
        for out, k, w in (("b", kb, 1.5), ("c", kc, 1.0)):
            exact = w * scipy.stats.gamma.cdf(t, k, scale=d / k)
            np.testing.assert_allclose(step[out].values[0], exact, rtol=0, atol=tol, err_msg=f"{out} {d}")
    with pytest.raises(nmm.errors.NMMError, match=r"= 0\.35 gives a gamma-distributed delay of order 12 .* but the "
                                                  r"model's chain has 4 states"):
        nmm.simulate(c, {f"{EDGE_B}/delay": np.array([0.2, 0.35])}, **kw)
    # a cosine source through the same delays: the convolution, on a 1e-5 grid
    omega = 2 * np.pi * 3.0
    osc = nmm.simulate(c, {"a/src_op/w": omega}, **kw)
    tf = np.arange(0.0, 2.0 + 1e-9, 1e-5)
    for out, k, w in (("b", 4, 1.5), ("c", 16, 1.0)):
        ref = w * gamma_response(tf, np.cos(omega * tf), k, 0.2)[::1000][: t.size]
        assert np.abs(ref).max() > 0.3
        np.testing.assert_allclose(osc[out].values[0], ref, rtol=0, atol=tol, err_msg=out)


def test_identical_delay_coupled_columns_with_common_noise_stay_synchronised():
    c = nmm.CircuitTemplate.from_yaml("nmm.templates.jansenrit.JRC_delayed_pair")
    noise = {"jrc1/pc/rpo_e_in/u": {"uniform": [120, 320]}, "jrc2/pc/rpo_e_in/u": {"same_as": "jrc1/pc/rpo_e_in/u"}}
    kw = dict(simulation_time=5.0, step_size=1e-4, sampling_step_size=1e-3, solver="heun",
              outputs={"a": "jrc1/pc/pro/v", "b": "jrc2/pc/pro/v"})
    ds = nmm.simulate(c, {"jrc1/pc/rpo_e_in/u": np.zeros(3)}, noise=noise, seed=7, **kw)
    assert np.ptp(ds["a"].values) > 1e-3
    assert np.abs(ds["a"].values - ds["b"].values).max() < 1e-12
    # independent noise in the two columns: they drift apart
    indep = {"jrc1/pc/rpo_e_in/u": {"uniform": [120, 320]}, "jrc2/pc/rpo_e_in/u": {"uniform": [120, 320]}}
    ds2 = nmm.simulate(c, None, noise=indep, seed=7, **kw)
    assert np.abs(ds2["a"].values - ds2["b"].values).max() > 1e-4


def test_network_from_matrices_equals_the_yaml_template():
    pair = nmm.CircuitTemplate.from_yaml("nmm.templates.jansenrit.JRC_delayed_pair")
    net = nmm.CircuitTemplate.from_matrices("nmm.templates.jansenrit.JRC", [[0, 10.0], [10.0, 0]],
                                            delays=[[0, 0.01], [0.01, 0]], labels=["jrc1", "jrc2"])
    assert net.coupling_targets() == pair.coupling_targets()
    assert set(net.coupling_targets("delay")) == set(pair.coupling_targets("delay"))
    kw = dict(simulation_time=1.0, step_size=1e-4, sampling_step_size=1e-3, solver="rk4",
              outputs={"a": "jrc1/pc/pro/v", "b": "jrc2/pc/pro/v"})
    u = {"jrc1/pc/rpo_e_in/u": [150.0, 220.0]}
    xa, xb = nmm.simulate(pair, u, **kw), nmm.simulate(net, u, **kw)
    np.testing.assert_array_equal(xa["a"].values, xb["a"].values)
    # three columns in a ring of a node template
    ring = nmm.CircuitTemplate.from_matrices("nmm.templates.stuartlandau.sl_node", np.roll(np.eye(3), 1, axis=1),
                                             source="sl_op/x", target="sl_op/c_in")
    assert [s for s in ring.model.states if s.endswith("/x")] == ["c0/sl_op/x", "c1/sl_op/x", "c2/sl_op/x"]
    with pytest.raises(nmm.TemplateError, match="square"):
        nmm.CircuitTemplate.from_matrices("nmm.templates.jansenrit.JRC", [[1, 2, 3]])


@pytest.mark.pyrates
@pytest.mark.skipif(not HAVE_PYRATES, reason="PyRates is not installed (pip install pyrates)")
@pytest.mark.filterwarnings("ignore")
def test_pyrates_delay_templates_and_euler_traces(tmp_path):
    import pyrates

    kw = dict(simulation_time=1.0, step_size=1e-4, sampling_step_size=1e-3, solver="euler",
              outputs={"a": "jrc1/pc/rpo_e_in/v", "b": "jrc2/pc/rpo_e_in/v"})
    ref = "model_templates.neural_mass_models.jansenrit.JRC_2delaycoupled"  # delays with spread
    pyrates.clear_frontend_caches()
    theirs = pyrates.CircuitTemplate.from_yaml(ref).run(vectorize=False, clear=True, verbose=False,
                                                        float_precision="float64", **kw)
    ours = nmm.CircuitTemplate.from_yaml(ref).run(**kw)
    for col in "ab":
        assert np.max(np.abs(theirs[col].values - ours[col].values)) / np.ptp(theirs[col].values) < 1e-12
    # discrete delays (ring buffers): two leaky integrators coupled only through delayed edges
    (tmp_path / "li2.yaml").write_text(textwrap.dedent("""
        LI2:
          base: CircuitTemplate
          nodes: {a: model_templates.base_templates.li_node, b: model_templates.base_templates.li_node}
          edges:
            - [a/li_op/r, b/li_op/m_in, null, {weight: 2.0, delay: 0.5}]
            - [b/li_op/r, a/li_op/m_in, null, {weight: -1.5, delay: 0.8}]
    """))
    kw = dict(simulation_time=20.0, step_size=1e-3, sampling_step_size=1e-2, solver="euler",
              outputs={"a": "a/li_op/r", "b": "b/li_op/r"})
    pyrates.clear_frontend_caches()
    pc = pyrates.CircuitTemplate.from_yaml(str(tmp_path / "li2") + "/LI2")
    pc.update_var(node_vars={"a/li_op/u": 1.0})
    theirs = pc.run(vectorize=False, clear=True, verbose=False, float_precision="float64", **kw)
    ours = nmm.CircuitTemplate.from_yaml(str(tmp_path / "li2.yaml"), "LI2").update_var(
        node_vars={"a/li_op/u": 1.0}).run(**kw)
    for col in "ab":
        assert np.max(np.abs(theirs[col].values - ours[col].values)) / np.ptp(theirs[col].values) < 1e-12
