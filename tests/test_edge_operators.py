"""Edge templates with operators, past-state references ``x(t - d)`` and complex models.

Every trace is checked against a plain numpy integration of the same equations written
out here (the independent reference); PyRates' own traces are compared in
``tests/test_pyrates_language.py``.
"""
from __future__ import annotations

import textwrap

import numpy as np
import pytest

import nmm
from nmm.codegen import compile_model
from nmm.errors import EquationError, NMMError, TemplateError

QIF_TSODYKS = "model_templates.neural_mass_models.qif.qif_tsodyks"
KMO2 = "model_templates.oscillators.kuramoto.kmo_2coupled"
NET16 = "model_templates.test_resources.test_backend.net16"
TSO = "p/qif_op/r->p/qif_op/r_in/tsodyks_op"


def _err(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.max(np.abs(a - b)) / np.ptp(b))


def _euler(f, y0, T, dt):
    y = np.array(y0, dtype=float)
    out = np.empty((int(round(T / dt)), y.size))
    for n in range(out.shape[0]):
        out[n] = y
        y = y + dt * f(n * dt, y)
    return out


def qif_tsodyks_rhs(eta=-3.0, w=15.0, Delta=1.0, tau=1.0, tau_x=100.0, tau_u=200.0, k=0.1, U0=0.6):
    def f(t, y):
        r, v, x, u = y
        r_in = w * r * x * u  # the edge's output r_eff = r_in x u, with its input r_in = the source r
        return np.array([(Delta / (np.pi * tau) + 2.0 * r * v) / tau,
                         (v**2 + eta + tau * r_in - (np.pi * tau * r) ** 2) / tau,
                         (1 - x) / tau_x - k * x * u * r,
                         (U0 - u) / tau_u + U0 * (1 - u) * r])
    return f


def test_edge_operators_become_per_edge_states_and_parameters():
    m = nmm.CircuitTemplate.from_yaml(QIF_TSODYKS).model
    assert m.states == ("p/qif_op/r", "p/qif_op/v", f"{TSO}/x", f"{TSO}/u")
    assert {f"{TSO}/tau_x", f"{TSO}/tau_u", f"{TSO}/k", f"{TSO}/U0", "p/qif_op/r->p/qif_op/r_in/weight"} <= set(m.params)
    assert m.kinds[f"{TSO}/r_eff"] == "algebraic"


def test_qif_tsodyks_euler_equals_numpy():
    c = nmm.CircuitTemplate.from_yaml(QIF_TSODYKS).update_var(node_vars={"p/qif_op/eta": -3.0})
    T, dt = 20.0, 1e-3
    ours = c.run(simulation_time=T, step_size=dt, outputs={"r": "p/qif_op/r", "v": "p/qif_op/v", "x": f"{TSO}/x"})
    ref = _euler(qif_tsodyks_rhs(), [0.01, -2.0, 1.0, 0.6], T, dt)
    for i, col in enumerate(("r", "v", "x")):
        assert _err(ours[col].values, ref[:, i]) < 1e-12, col
    assert np.ptp(ref[:, 2]) > 1e-3  # the depression variable moves: the edge's dynamics matter


def test_edge_operator_values_are_parameters_of_sweeps_and_update_var():
    c = nmm.CircuitTemplate.from_yaml(QIF_TSODYKS)
    ds = c.simulate({f"{TSO}/k": np.array([0.1, 0.5])}, simulation_time=5.0, step_size=1e-3,
                    outputs={"r": "p/qif_op/r"})
    one = c.copy().update_var(node_vars={f"{TSO}/k": 0.5}).run(simulation_time=5.0, step_size=1e-3,
                                                                 outputs={"r": "p/qif_op/r"})
    np.testing.assert_array_equal(ds["r"].values[1], one["r"].values)
    assert _err(ds["r"].values[0], ds["r"].values[1]) > 1e-6


def test_kuramoto_sin_edge_maps_source_and_target_phases():
    """kmo_2coupled: s = sin(theta_s - theta_t), theta_s the source, theta_t the target's phase."""
    upd = {"p1/phase_op/omega": 5.0, "p2/phase_op/omega": 9.0}
    T, dt = 4.0, 1e-3
    ours = nmm.CircuitTemplate.from_yaml(KMO2).update_var(node_vars=upd).run(
        simulation_time=T, step_size=dt, outputs={"a": "p1/phase_op/theta", "b": "p2/phase_op/theta"})

    def f(t, y):
        a, b = y
        return np.array([5.0 - 4.0 * np.sin(b - a), 9.0 - 4.0 * np.sin(a - b)])

    ref = _euler(f, [0.0, 0.0], T, dt)
    assert _err(ours["a"].values, ref[:, 0]) < 1e-12
    assert _err(ours["b"].values, ref[:, 1]) < 1e-12


def test_edge_operators_in_rk4_scipy_and_jacobian():
    c = nmm.CircuitTemplate.from_yaml(QIF_TSODYKS).update_var(node_vars={"p/qif_op/eta": -3.0})
    kw = dict(simulation_time=10.0, step_size=1e-3, sampling_step_size=1e-2, outputs={"r": "p/qif_op/r"})
    rk4 = c.run(solver="rk4", **kw)
    sp = c.run(solver="scipy", method="DOP853", rtol=1e-11, atol=1e-13, **kw)
    assert _err(rk4["r"].values, sp["r"].values) < 1e-8
    # the analytic Jacobian of the flattened model (edge states included) vs central differences
    m = c.model
    cm = compile_model(m, {"r": m.expression("p/qif_op/r")}, "scipy")
    y = np.array([0.05, -1.0, 0.8, 0.5])
    p = np.array(m.param_values)
    J = cm.jac(0.0, y, p)
    h = 1e-6
    Jn = np.column_stack([(cm.rhs(0.0, y + h * e, p) - cm.rhs(0.0, y - h * e, p)) / (2 * h) for e in np.eye(4)])
    np.testing.assert_allclose(J, Jn, rtol=1e-6, atol=1e-8)
    assert J[1, 2] != 0  # v depends on the edge's depression variable x


def test_dummy_edge_equals_null_edge(tmp_path):
    ref = "model_templates.test_resources.test_backend.net8"
    kw = dict(simulation_time=2.0, step_size=1e-3)
    dummy = nmm.CircuitTemplate.from_yaml(ref).run(**kw)
    (tmp_path / "n.yaml").write_text(textwrap.dedent("""
        net8null:
          base: model_templates.test_resources.test_backend.net8
          edges:
            - [pop0/op0/a, pop1/op1/u, null, {weight: 2.0}]
            - [pop0/op0/a, pop2/op1/u, null, {weight: 0.5}]
    """))
    plain = nmm.CircuitTemplate.from_yaml(str(tmp_path / "n.yaml"), "net8null").run(**kw)
    np.testing.assert_array_equal(dummy.values, plain.values)


BAD_EDGES = {
    "unknown operator": ("[p1/op/x, p2/op/u, E, {weight: 1.0, E/nop/v: source}]",
                         r"edge p1/op/x -> p2/op/u in circuit 'C' \(edge template 'E'\) has the attribute "
                         r"'E/nop/v'; .* operator one of \['eop'\]"),
    "unknown variable": ("[p1/op/x, p2/op/u, E, {weight: 1.0, E/eop/w: source}]",
                         r"operator 'eop' has no variable 'w'"),
    "unknown source": ("[p1/op/x, p2/op/u, E, {weight: 1.0, E/eop/v: p9/op/x}]",
                       r"maps 'E/eop/v' to 'p9/op/x', which is not a variable; use 'source'"),
    "not an edge template": ("[p1/op/x, p2/op/u, P, {weight: 1.0}]",
                             r"'P' is not an edge template \(base: EdgeTemplate\)"),
    "two inputs": ("[p1/op/x, p2/op/u, E2, {weight: 1.0}]",
                   r"has the inputs \['eop2/v', 'eop2/w'\]; the source variable feeds exactly one"),
}


@pytest.mark.parametrize("edge, match", BAD_EDGES.values(), ids=list(BAD_EDGES))
def test_bad_edges_are_refused_by_from_yaml(tmp_path, edge, match):
    (tmp_path / "c.yaml").write_text(textwrap.dedent(f"""
        op: {{base: OperatorTemplate, equations: "x' = u - x", variables: {{x: output, u: input}}}}
        eop: {{base: OperatorTemplate, equations: "y = 2*v", variables: {{y: output, v: input}}}}
        eop2: {{base: OperatorTemplate, equations: "y = v*w", variables: {{y: output, v: input, w: input}}}}
        P: {{base: NodeTemplate, operators: [op]}}
        E: {{base: EdgeTemplate, operators: [eop]}}
        E2: {{base: EdgeTemplate, operators: [eop2]}}
        C:
          base: CircuitTemplate
          nodes: {{p1: P, p2: P}}
          edges:
            - {edge}
    """))
    with pytest.raises(TemplateError, match=match):
        nmm.CircuitTemplate.from_yaml(str(tmp_path / "c.yaml"), "C")


# --------------------------------------------------------------------------- past-state references


def test_dde_net16_matches_the_method_of_steps_and_numpy():
    """x' = -x(t - 0.1), x = 1 before t = 0 (PyRates' history: the initial value)."""
    T, dt, d = 1.0, 1e-3, 0.1
    ours = nmm.CircuitTemplate.from_yaml(NET16).run(simulation_time=T, step_size=dt, outputs={"x": "p1/op_dde/x"})
    x = ours["x"].values
    n, k = len(x), int(round(d / dt))
    ref = np.empty(n)
    ref[0] = 1.0
    for i in range(n - 1):
        ref[i + 1] = ref[i] - dt * (ref[i - k] if i >= k else 1.0)
    assert _err(x, ref) < 1e-12
    # exact solution on [0, 2d]: 1 - t, then 1 - t + (t - d)^2 / 2; Euler is first order
    t = ours.index.values
    exact = np.where(t <= d, 1 - t, 1 - t + (t - d) ** 2 / 2)
    sel = t <= 2 * d
    assert np.max(np.abs(x[sel] - exact[sel])) < 2 * dt


@pytest.mark.parametrize("solver, order", [("euler", 1), ("heun", 2), ("rk4", 2)])
def test_dde_converges_to_the_method_of_steps_solution(solver, order):
    """x' = -x(t - d): 1 - t, then + (t - d)^2 / 2, then - (t - 2d)^3 / 6. RK4 reads the past
    by linear interpolation between steps (as edge delays), which makes it second order."""
    c = nmm.CircuitTemplate.from_yaml(NET16)
    d, errs = 0.1, []
    for dt in (1e-3, 5e-4):
        df = c.run(simulation_time=0.3, step_size=dt, solver=solver, outputs={"x": "p1/op_dde/x"})
        t, x = df.index.values, df["x"].values
        exact = 1 - t + np.where(t > d, (t - d) ** 2 / 2, 0.0) - np.where(t > 2 * d, (t - 2 * d) ** 3 / 6, 0.0)
        errs.append(np.max(np.abs(x - exact)))
    assert errs[1] < 2e-4 / 2 ** (order - 1)
    assert abs(np.log2(errs[0] / errs[1]) - order) < 0.15, errs


def test_past_reference_with_a_number_and_a_sweep_of_the_delay(tmp_path):
    (tmp_path / "d.yaml").write_text(textwrap.dedent("""
        op: {base: OperatorTemplate, equations: "x' = -x(t - 0.05) + 0.5*x(t-d)", variables: {x: output(1.0), d: 0.2}}
        P: {base: NodeTemplate, operators: [op]}
    """))
    c = nmm.CircuitTemplate.from_yaml(str(tmp_path / "d.yaml"), "P")
    assert "P/op/x(t-0.05)/delay" in c.parameters
    ds = c.simulate({"P/op/d": np.array([0.1, 0.2])}, simulation_time=1.0, step_size=1e-3, outputs={"x": "P/op/x"})
    for i, d in enumerate((0.1, 0.2)):
        k1, k2 = 50, int(round(d / 1e-3))
        ref = np.empty(1000)
        ref[0] = 1.0
        for n in range(999):
            past = lambda k: ref[n - k] if n >= k else 1.0  # noqa: E731
            ref[n + 1] = ref[n] + 1e-3 * (-past(k1) + 0.5 * past(k2))
        assert _err(ds["x"].values[i], ref) < 1e-12


@pytest.mark.parametrize("eq, match", [
    ("x' = -y(t - d)", r"past-state reference y\(t - ...\) in equation .* in operator .*: 'y' is not a state variable; only a variable defined by a "
                       r"differential equation has a past"),
    ("x' = -x(t - 2*d)", r"the delay 2\*P/op/d must be a parameter or a positive number"),
    ("x' = -x(t + d)", r"function 'x' .* is not allowed.*A past value of a state is written x\(t - d\)"),
    ("x' = -x(d)", r"A past value of a state is written x\(t - d\)"),
    ("x' = -x.real(t - d)", r"call of 'x.real' in equation .* is not allowed"),
])
def test_bad_past_references_are_refused(tmp_path, eq, match):
    (tmp_path / "d.yaml").write_text(textwrap.dedent(f"""
        op: {{base: OperatorTemplate, equations: ["{eq}", "y = 2*x"], variables: {{x: output(1.0), y: variable, d: 0.2}}}}
        P: {{base: NodeTemplate, operators: [op]}}
    """))
    with pytest.raises(EquationError, match=match):
        nmm.CircuitTemplate.from_yaml(str(tmp_path / "d.yaml"), "P")


def test_past_references_need_a_fixed_step_solver():
    c = nmm.CircuitTemplate.from_yaml(NET16)
    with pytest.raises(NMMError, match=r"solver='scipy' cannot integrate the delay 'p1/op_dde/d' of the "
                                       r"past-state reference p1/op_dde/x\(t-p1/op_dde/d\); use a fixed-step"):
        c.run(simulation_time=1.0, step_size=1e-3, solver="scipy")


# --------------------------------------------------------------------------- complex models


def test_complex_variables_are_split_into_real_and_imaginary_parts():
    m = nmm.CircuitTemplate.from_yaml("model_templates.oscillators.kuramoto.kmo_mf").model
    assert m.states == ("p/kmo_op/z.re", "p/kmo_op/z.im")
    assert m.state_values == (0.5, 0.1)
    assert {"p/kmo_op/i.re", "p/kmo_op/i.im", "p/kmo_op/s_ext.re"} <= set(m.params)
    assert m.param_values[m.params.index("p/kmo_op/i.im")] == 1.0


def test_kmo_mf_euler_equals_complex_numpy_and_run_gives_a_complex_column():
    """The Ott-Antonsen mean field z' = (i w - D) z + (s - conj(s) z^2) / 2 with s = z."""
    T, dt = 2.0, 1e-3
    df = nmm.CircuitTemplate.from_yaml("model_templates.oscillators.kuramoto.kmo_mf").run(
        simulation_time=T, step_size=dt, outputs={"z": "p/kmo_op/z"})
    assert df["z"].dtype == np.complex128 and list(df.columns) == ["z"]
    z, ref = 0.5 + 0.1j, []
    for _ in range(int(round(T / dt))):
        ref.append(z)
        z = z + dt * ((10j - 1.0) * z + (z - np.conj(z) * z**2) / 2)
    ref = np.array(ref)
    assert np.max(np.abs(df["z"].values - ref)) / np.ptp(ref.real) < 1e-12
    assert np.ptp(ref.imag) > 0.1


def test_complex_rotation_rk4_and_scipy_against_the_exact_solution(tmp_path):
    (tmp_path / "z.yaml").write_text(textwrap.dedent("""
        op: {base: OperatorTemplate, equations: "z' = (i*w - g)*z + conj(z) - real(z) + i*imag(z)",
             variables: {z: output(0.5+0.1j), i: 0.0+1.0j, w: 3.0, g: 0.5}}
        P: {base: NodeTemplate, operators: [op]}
    """))
    c = nmm.CircuitTemplate.from_yaml(str(tmp_path / "z.yaml"), "P")
    t_kw = dict(simulation_time=2.0, step_size=1e-3, sampling_step_size=1e-2, outputs={"z": "P/op/z"})
    exact = (0.5 + 0.1j) * np.exp((3j - 0.5) * np.arange(200) * 1e-2)  # conj(z) - real(z) + i imag(z) = 0
    for solver, kw, tol in (("rk4", {}, 1e-11), ("scipy", dict(method="DOP853", rtol=1e-12, atol=1e-14), 1e-10)):
        z = c.run(solver=solver, **t_kw, **kw)["z"].values
        assert np.max(np.abs(z - exact)) < tol, solver
    ds = c.simulate(**t_kw)
    assert set(ds.data_vars) == {"z.re", "z.im", "status"}


def test_angle_is_refused_with_the_fix(tmp_path):
    (tmp_path / "z.yaml").write_text(textwrap.dedent("""
        op: {base: OperatorTemplate, equations: "x' = angle(x)", variables: {x: output(0.5)}}
        P: {base: NodeTemplate, operators: [op]}
    """))
    with pytest.raises(EquationError, match=r"function 'angle' .* is not supported; write atan\(imag\(z\)/real\(z\)\)"):
        nmm.CircuitTemplate.from_yaml(str(tmp_path / "z.yaml"), "P")


def test_complex_delays_are_refused(tmp_path):
    (tmp_path / "z.yaml").write_text(textwrap.dedent("""
        op: {base: OperatorTemplate, equations: "z' = -z + u", variables: {z: output(0.5+0.1j), u: input(complex)}}
        P: {base: NodeTemplate, operators: [op]}
        C:
          base: CircuitTemplate
          nodes: {a: P, b: P}
          edges: [[a/op/z, b/op/u, null, {weight: 1.0, delay: 0.1}]]
    """))
    with pytest.raises(TemplateError, match=r"'C' has complex variables \(a/op/z, .*\) and delays; delayed complex "
                                            r"values are not supported"):
        nmm.CircuitTemplate.from_yaml(str(tmp_path / "z.yaml"), "C")


# --------------------------------------------------------------------------- networks


def test_network_of_a_unit_with_edge_operators_equals_the_unrolled_network():
    from nmm.connectomes import Connectome

    W = np.array([[0.0, 1.0], [0.5, 0.0]])
    D = np.array([[0.0, 0.1], [0.1, 0.0]])
    net = nmm.Network.from_connectome(QIF_TSODYKS, Connectome(W, W), delays=D,
                                      coupling={"source": "p/qif_op/r", "target": "p/qif_op/I_ext"})
    a = nmm.simulate(net, simulation_time=2.0, step_size=1e-3, outputs={"r": "p/qif_op/r"})["r"].values[0]
    fm = nmm.CircuitTemplate.from_matrices(QIF_TSODYKS, W, delays=D, source="p/qif_op/r", target="p/qif_op/I_ext")
    b = fm.run(simulation_time=2.0, step_size=1e-3, outputs={"r0": "c0/p/qif_op/r", "r1": "c1/p/qif_op/r"})
    np.testing.assert_allclose(a[:, 0], b["r0"].values, rtol=0, atol=1e-15)
    np.testing.assert_allclose(a[:, 1], b["r1"].values, rtol=0, atol=1e-15)
    assert np.ptp(b["r0"].values) > 1e-2


def test_network_of_a_unit_with_past_references_is_refused(tmp_path):
    from nmm.connectomes import Connectome

    (tmp_path / "u.yaml").write_text(textwrap.dedent("""
        op: {base: OperatorTemplate, equations: "x' = -x(t-d) + inp", variables: {x: output(1.0), d: 0.1, inp: input}}
        P: {base: NodeTemplate, operators: [op]}
    """))
    W = np.array([[0.0, 1.0], [0.5, 0.0]])
    with pytest.raises(TemplateError, match=r"'P' refers to past states \(P/op/x\(t-P/op/d\)\); a network's kernel "
                                            r"\(nmm.Network\) does not keep their history. Use "
                                            r"CircuitTemplate.from_matrices"):
        nmm.Network.from_connectome(str(tmp_path / "u.yaml") + "/P", Connectome(W, W), delays=W,
                                    coupling={"source": "P/op/x", "target": "P/op/inp"})


@pytest.mark.parametrize("eq, what", [("sqrt(z) - z", "non-integer power"), ("z**0.5 - z", "non-integer power"),
                                      ("log(z) - z", "log"), ("sigmoid(z) - z", "sigmoid"),
                                      ("sqrt(a)*z - z", "non-integer power")])
def test_complex_forms_that_do_not_split_are_refused_saying_complex(tmp_path, eq, what):
    """A function of a complex value whose real and imaginary parts sympy cannot write
    (sqrt, log, sigmoid, a fractional power) crashed at run time with NotImplementedError
    ('cannot print atan2') or a message about 'I' that never said complex."""
    (tmp_path / "z.yaml").write_text(textwrap.dedent(f"""
        op: {{base: OperatorTemplate, equations: "z' = {eq}", variables: {{z: output(0.5+0.1j), a: 0.3+0.2j}}}}
        P: {{base: NodeTemplate, operators: [op]}}
    """))
    with pytest.raises(EquationError, match=r"the equation of 'P/op/z' in 'P' uses complex values in a form that "
                                            rf"cannot be split into real and imaginary parts \({what}\); .*Write this"):
        nmm.CircuitTemplate.from_yaml(str(tmp_path / "z.yaml"), "P").run(simulation_time=0.01, step_size=1e-3)


# --------------------------------------------------------------------------- from_matrices(edge=...)

QIF_POP = "model_templates.neural_mass_models.qif.qif_pop"
TSODYKS_EDGE = "model_templates.neural_mass_models.synaptic_plasticity.tsodyks_edge"
W3 = np.array([[0.0, 8.0, 0.0], [5.0, 0.0, 6.0], [4.0, 7.0, 0.0]])
ETA3 = (-3.0, -4.0, -2.5)


def _qif3(edge=None, **kw):
    c = nmm.CircuitTemplate.from_matrices(QIF_POP, W3, source="qif_op/r", target="qif_op/r_in", edge=edge, **kw)
    return c.update_var(node_vars={f"c{i}/qif_op/eta": e for i, e in enumerate(ETA3)})


def test_from_matrices_with_an_edge_template_equals_numpy():
    """Three QIF units, every edge j -> i a Tsodyks-Markram synapse of its own (x_ij, u_ij)
    driven by r_j: r_in_i = sum_j W_ij r_j x_ij u_ij."""
    c = _qif3(TSODYKS_EDGE)
    c.update_var(edge_vars=[("c0/qif_op/r", "c1/qif_op/r_in", {"tsodyks_op/k": 0.3})])
    pairs = [(i, j) for i in range(3) for j in range(3) if W3[i, j]]
    k = {p: 0.3 if p == (1, 0) else 0.1 for p in pairs}
    assert "c0/qif_op/r->c1/qif_op/r_in/tsodyks_op/x" in c.state_variables

    def f(t, y):
        r, v = y[0:6:2], y[1:6:2]
        x, u = y[6::2], y[7::2]
        r_in = np.zeros(3)
        dx, du = np.empty(len(pairs)), np.empty(len(pairs))
        for e, (i, j) in enumerate(pairs):
            r_in[i] += W3[i, j] * r[j] * x[e] * u[e]
            dx[e] = (1 - x[e]) / 100.0 - k[(i, j)] * x[e] * u[e] * r[j]
            du[e] = (0.6 - u[e]) / 200.0 + 0.6 * (1 - u[e]) * r[j]
        dr = 1.0 / np.pi + 2.0 * r * v
        dv = v**2 + np.array(ETA3) + r_in - (np.pi * r) ** 2
        out = np.empty_like(y)
        out[0:6:2], out[1:6:2], out[6::2], out[7::2] = dr, dv, dx, du
        return out

    T, dt = 10.0, 1e-3
    e10 = "c1/qif_op/r->c0/qif_op/r_in/tsodyks_op"  # the first edge: row 0 of W3, column 1
    assert c.model.states[6:8] == (f"{e10}/x", f"{e10}/u")
    ref = _euler(f, [0.01, -2.0] * 3 + [1.0, 0.6] * len(pairs), T, dt)
    outs = {f"r{i}": f"c{i}/qif_op/r" for i in range(3)} | {"x10": "c0/qif_op/r->c1/qif_op/r_in/tsodyks_op/x"}
    ours = c.run(simulation_time=T, step_size=dt, outputs=outs)
    for i in range(3):
        assert _err(ours[f"r{i}"].values, ref[:, 2 * i]) < 1e-12, i
    assert _err(ours["x10"].values, ref[:, 6 + 2 * pairs.index((1, 0))]) < 1e-12
    plain = _qif3().run(simulation_time=T, step_size=dt, outputs={"r0": "c0/qif_op/r"})
    assert _err(plain["r0"].values, ours["r0"].values) > 1e-3  # the synapses' dynamics matter


def test_from_matrices_without_an_edge_template_is_unchanged():
    kw = dict(simulation_time=2.0, step_size=1e-3, outputs={f"r{i}": f"c{i}/qif_op/r" for i in range(3)})
    D = np.where(W3 > 0, 0.1, 0.0)
    none = nmm.CircuitTemplate.from_matrices(QIF_POP, W3, D, source="qif_op/r", target="qif_op/r_in", edge=None)
    old = nmm.CircuitTemplate.from_matrices(QIF_POP, W3, D, source="qif_op/r", target="qif_op/r_in")
    assert none.definition == old.definition
    np.testing.assert_array_equal(none.run(**kw).values, old.run(**kw).values)


@pytest.mark.parametrize("edge, match", [
    ("model_templates.neural_mass_models.synaptic_plasticity.nope",
     r"from_matrices: edge '.*synaptic_plasticity.nope' cannot be loaded \(template 'nope' not found.*\); give an "
     r"edge template reference such as .*, or edge=None"),
    (QIF_POP, r"from_matrices: edge '.*qif.qif_pop' is a node template, not an edge template \(base: EdgeTemplate\); "
              r"give an edge template reference"),
    ("model_templates.oscillators.kuramoto.sin_edge",
     r"from_matrices: edge template '.*kuramoto.sin_edge' has the free inputs \['coupling_op/theta_s', "
     r"'coupling_op/theta_t'\] and the outputs \['coupling_op/s'\]; every matrix edge feeds 'qif_op/r' into exactly "
     r"one input .* give an edge template with one of each"),
    (3, r"from_matrices: edge must be a template reference string, got 3"),
])
def test_from_matrices_refuses_bad_edge_templates(edge, match):
    with pytest.raises(TemplateError, match=match):
        _qif3(edge)
