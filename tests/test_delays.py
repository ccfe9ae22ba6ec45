"""Edge delays, gamma-distributed delays, networks from matrices."""
from __future__ import annotations

import math
import textwrap

import numpy as np
import pytest
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


def test_delay_is_a_parameter_and_refused_where_unsupported(dde):
    assert dde.parameters[TAU] == 1.0
    with pytest.raises(nmm.NMMError, match="shorter than one step"):
        nmm.simulate(dde, {TAU: 1e-5}, simulation_time=1.0, step_size=1e-3, solver="euler")
    with pytest.raises(nmm.NMMError, match="cannot integrate the discrete delay"):
        nmm.simulate(dde, None, simulation_time=1.0, step_size=1e-3, solver="scipy")
    with pytest.raises(nmm.NMMError, match="continuation computes the stability of ODE equilibria"):
        nmm.continuation(dde, parameter="n/op/a", start=0.5, stop=1.0)


def test_gamma_distributed_delay_is_a_chain_that_scipy_integrates(tmp_path):
    p = tmp_path / "g.yaml"
    p.write_text(DDE.replace("delay: 1.0}", "delay: 1.0, spread: 0.25}"))
    c = nmm.CircuitTemplate.from_yaml(str(p), "net")
    m = c.model
    assert len(m.states) == 1 + 16  # order round((1.0 / 0.25)^2) = 16
    kw = dict(simulation_time=20.0, step_size=1e-3, sampling_step_size=0.1, outputs={"x": "n/op/x"})
    a = c.run(solver="rk4", **kw)["x"].values
    b = c.run(solver="scipy", method="DOP853", rtol=1e-10, atol=1e-12, **kw)["x"].values
    np.testing.assert_allclose(a, b, atol=1e-9)


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
