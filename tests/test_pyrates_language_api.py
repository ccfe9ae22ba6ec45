"""What a PyRates script passes, accepted: column inputs, scipy with inputs, PyRates' run
keywords, ``all/`` wildcards, delay changes of gamma-distributed edges.

References are computed here (numpy, or nmm with the wildcard written out); PyRates'
own traces are compared in ``tests/test_pyrates_language.py``.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import nmm
from nmm.errors import NMMError, ParameterError

JRC = "model_templates.neural_mass_models.jansenrit.JRC"
NET14 = "model_templates.test_resources.test_backend.net14"
JRC2D = "model_templates.neural_mass_models.jansenrit.JRC_2delaycoupled"
E12 = ("jrc1/pc/pro/m", "jrc2/pc/rpo_e_in/m_in")


def _u(n: int, dt: float) -> np.ndarray:
    t = np.arange(n) * dt
    return 220.0 + 80.0 * np.sin(2 * np.pi * 7.0 * t)


def test_column_input_equals_flat_input():
    kw = dict(simulation_time=0.2, step_size=1e-4, outputs={"v": "pc/rpo_e_in/v"})
    u = _u(2000, 1e-4)
    flat = nmm.CircuitTemplate.from_yaml(JRC).run(inputs={"pc/rpo_e_in/u": u}, **kw)
    col = nmm.CircuitTemplate.from_yaml(JRC).run(inputs={"pc/rpo_e_in/u": u[:, None]}, **kw)
    np.testing.assert_array_equal(flat.values, col.values)


def test_scipy_reads_inputs_by_interpolation():
    """scipy with a time-series input: the input interpolated on linspace(0, T, n) (PyRates'
    grid); rk4 with a 10x finer step and the same interpolated input agrees (to the
    first-order error of holding the input over each step), and the input matters."""
    T, dt = 0.3, 1e-4
    n = int(round(T / dt))
    u = _u(n, dt)
    out = {"v": "pc/rpo_e_in/v", "u": "pc/rpo_e_in/u"}
    sp = nmm.CircuitTemplate.from_yaml(JRC).run(simulation_time=T, step_size=dt, sampling_step_size=1e-3,
                                                inputs={"pc/rpo_e_in/u": u}, outputs=out, solver="scipy",
                                                method="DOP853", rtol=1e-11, atol=1e-13)
    fine = np.interp(np.arange(10 * n) * dt / 10, np.linspace(0, T, n), u)
    rk4 = nmm.CircuitTemplate.from_yaml(JRC).run(simulation_time=T, step_size=dt / 10, sampling_step_size=1e-3,
                                                 inputs={"pc/rpo_e_in/u": fine}, outputs=out, solver="rk4")
    np.testing.assert_allclose(sp["u"].values, np.interp(sp.index.values, np.linspace(0, T, n), u), rtol=1e-12)
    # measured 7e-5: rk4 holds the input for each of its (fine) steps, first order in the step
    assert np.max(np.abs(sp["v"].values - rk4["v"].values)) / np.ptp(rk4["v"].values) < 5e-4
    plain = nmm.CircuitTemplate.from_yaml(JRC).run(simulation_time=T, step_size=dt, sampling_step_size=1e-3,
                                                   outputs=out, solver="scipy")
    assert np.max(np.abs(sp["v"].values - plain["v"].values)) / np.ptp(rk4["v"].values) > 1e-2


def test_scipy_still_refuses_noise():
    with pytest.raises(NMMError, match=r"solver='scipy' takes no noise or time-series inputs"):
        nmm.CircuitTemplate.from_yaml(JRC).run(simulation_time=0.1, step_size=1e-4, solver="scipy",
                                               noise={"pc/rpo_e_in/u": {"uniform": [100, 200]}})


def test_pyrates_run_keywords_are_accepted_and_change_nothing(tmp_path):
    kw = dict(simulation_time=0.1, step_size=1e-4, outputs={"v": "pc/rpo_e_in/v"})
    plain = nmm.CircuitTemplate.from_yaml(JRC).run(**kw)
    theirs = nmm.CircuitTemplate.from_yaml(JRC).run(out_dir=str(tmp_path), vectorize=True, clear=False,
                                                    verbose=True, float_precision="float64", in_place=False,
                                                    file_name="f", apply_kwargs={}, **kw)
    np.testing.assert_array_equal(plain.values, theirs.values)
    assert list(tmp_path.iterdir()) == []


# --------------------------------------------------------------------------- wildcards


def test_wildcard_outputs_give_one_column_per_match_as_pyrates_names_them():
    c = nmm.CircuitTemplate.from_yaml(NET14).update_var(node_vars={"all/op9/a": 0.2})
    kw = dict(simulation_time=5.0, step_size=1e-3)
    df = c.run(outputs={"a": "all/op9/a", "x": "c1/p2/op10/a"}, **kw)
    assert isinstance(df.columns, pd.MultiIndex)
    assert df.columns.tolist() == [("a", "c1", "p1", "op9/a"), ("a", "c2", "p1", "op9/a"), ("x", "", "", "")]
    one = c.run(outputs={"a1": "c1/p1/op9/a", "a2": "c2/p1/op9/a"}, **kw)
    np.testing.assert_array_equal(df[("a", "c1", "p1", "op9/a")].values, one["a1"].values)
    np.testing.assert_array_equal(df[("a", "c2", "p1", "op9/a")].values, one["a2"].values)
    assert np.ptp(one["a1"].values) > 1e-3
    # one match: the plain name, as PyRates
    assert c.run(outputs={"b": "c1/all/op9/a"}, **kw).columns.tolist() == ["b"]
    ds = c.simulate(outputs={"a": "all/op9/a"}, **kw)
    assert sorted(ds.data_vars) == ["a/c1/p1/op9/a", "a/c2/p1/op9/a", "status"]


def test_wildcard_update_var_params_and_sweeps_set_every_match():
    c = nmm.CircuitTemplate.from_yaml(NET14)
    c.update_var(node_vars={"all/op9/tau": 5.0})
    assert c.parameters["c1/p1/op9/tau"] == c.parameters["c2/p1/op9/tau"] == 5.0
    assert c.parameters["c1/p2/op10/tau"] == 1.0
    kw = dict(simulation_time=3.0, step_size=1e-3, outputs={"a": "c1/p1/op9/a"})
    ds = c.simulate({"all/op9/tau": np.array([2.0, 4.0]), "all/op9/a": 0.3}, **kw)
    assert ds["all/op9/tau"].values.tolist() == [2.0, 4.0]
    for i, tau in enumerate((2.0, 4.0)):
        ref = c.simulate({"c1/p1/op9/tau": tau, "c2/p1/op9/tau": tau, "c1/p1/op9/a": 0.3, "c2/p1/op9/a": 0.3}, **kw)
        np.testing.assert_allclose(ds["a"].values[i], ref["a"].values[0], rtol=1e-13)  # other kernel: round-off


@pytest.mark.parametrize("call, match", [
    (lambda c: c.update_var(node_vars={"all/op9/nope": 1.0}),
     r"update_var: 'all/op9/nope' matches no parameter or state of 'net14'; 'all/op/var' sets op/var on every node"),
    (lambda c: c.run(simulation_time=0.1, step_size=1e-3, outputs={"a": "all/op99/a"}),
     r"output 'a': 'all/op99/a' matches no variable of 'net14'.*Did you mean 'all/op9/a'"),
])
def test_wildcards_that_match_nothing_are_refused(call, match):
    with pytest.raises(ParameterError, match=match):
        call(nmm.CircuitTemplate.from_yaml(NET14))


# --------------------------------------------------------------------------- gamma delays


def test_gamma_delay_change_recomputes_the_chain_order():
    c = nmm.CircuitTemplate.from_yaml(JRC2D)
    base = f"{E12[0]}->{E12[1]}"
    assert (f"{base}/delay", 0.001, 16) in c.model.gamma
    n0 = len(c.model.states)
    a = c.copy().update_var(node_vars={f"{base}/delay": 0.006})
    b = c.copy().update_var(edge_vars=[(*E12, {"delay": 0.006})])
    assert (f"{base}/delay", 0.001, 36) in a.model.gamma
    assert len(a.model.states) == n0 + 20
    assert a.model.states == b.model.states and a.parameters == b.parameters
    # within the same order only the rate changes: the same model structure
    same = c.copy().update_var(node_vars={f"{base}/delay": 0.00405})
    assert same.model.states == c.model.states and same.parameters[f"{base}/delay"] == 0.00405
    # a spread change and a delay added to an undelayed edge rebuild the model too
    s = c.copy().update_var(edge_vars=[(*E12, {"spread": 0.002})])
    assert (f"{base}/delay", 0.002, 4) in s.model.gamma


def test_gamma_delay_sweep_that_changes_the_order_is_refused():
    c = nmm.CircuitTemplate.from_yaml(JRC2D)
    d = f"{E12[0]}->{E12[1]}/delay"
    with pytest.raises(NMMError, match=r"'jrc1/pc/pro/m->jrc2/pc/rpo_e_in/m_in/delay' = 0\.006 gives a gamma-distributed "
                                       r"delay of order 36 .* the model's chain has 16 states: one run or sweep cannot "
                                       r"change the number of states\. Keep the delay within \[0\.00393\d*, 0\.00406\d*\)"):
        c.simulate({d: np.array([0.004, 0.006])}, simulation_time=0.01, step_size=1e-4)


def test_edge_vars_delay_on_an_undelayed_edge_equals_the_template_with_that_delay(tmp_path):
    (tmp_path / "d.yaml").write_text(
        "JRCd:\n  base: model_templates.neural_mass_models.jansenrit.JRC\n  edges:\n"
        + "".join(f"    - {e}\n" for e in (
            "[pc/pro/m, ein/rpo_e/m_in, null, {weight: 135., delay: 0.002}]",
            "[pc/pro/m, iin/rpo_e/m_in, null, {weight: 33.75}]",
            "[ein/pro/m, pc/rpo_e_in/m_in, null, {weight: 108.}]",
            "[iin/pro/m, pc/rpo_i/m_in, null, {weight: 33.75}]")))
    kw = dict(simulation_time=0.3, step_size=1e-4, outputs={"v": "pc/rpo_e_in/v"})
    written = nmm.CircuitTemplate.from_yaml(str(tmp_path / "d.yaml"), "JRCd")
    c = nmm.CircuitTemplate.from_yaml(JRC)
    assert [(e.source, e.target, e.weight) for e in written.definition.edges] == \
        [(e.source, e.target, e.weight) for e in c.definition.edges]
    c.update_var(edge_vars=[("pc/pro/m", "ein/rpo_e/m_in", {"delay": 0.002})])
    assert c.parameters["pc/pro/m->ein/rpo_e/m_in/delay"] == 0.002
    np.testing.assert_array_equal(c.run(**kw).values, written.run(**kw).values)
    with pytest.raises(ParameterError, match=r"'pc/pro/m->ein/rpo_e/m_in/spread' = 0\.001: a spread needs a positive "
                                             r"delay on edge pc/pro/m->ein/rpo_e/m_in"):
        nmm.CircuitTemplate.from_yaml(JRC).update_var(edge_vars=[("pc/pro/m", "ein/rpo_e/m_in", {"spread": 0.001})])


def test_sweep_axis_across_gamma_orders_is_refused_by_the_spec():
    from sweeps.errors import SpecError
    from sweeps.spec import SweepSpec

    d = {"model": {"template": JRC2D}, "storage": {"store": "unused.zarr"},
         "axes": [{"path": f"{E12[0]}->{E12[1]}/delay", "values": [0.004, 0.006]}],
         "simulation": {"simulation_time": 0.1, "step_size": 1e-4, "outputs": {"v": "jrc1/pc/rpo_e_in/v"}}}
    with pytest.raises(SpecError, match=r"axis '.*delay': '.*delay' = 0\.006 gives a gamma-distributed delay of order "
                                        r"36 .* In a sweep file: a delay under model.params rebuilds the chain"):
        SweepSpec.from_dict(d).circuit()
    d["axes"][0]["values"] = [0.004, 0.00405]
    SweepSpec.from_dict(d).circuit()  # one order: accepted
    d["model"]["params"] = {f"{E12[0]}->{E12[1]}/delay": 0.006}
    d["axes"][0]["values"] = [0.00597, 0.00603]
    assert (f"{E12[0]}->{E12[1]}/delay", 0.001, 36) in SweepSpec.from_dict(d).circuit().model.gamma


def test_wildcard_sweep_axis_sets_every_match_in_every_tile():
    from sweeps.plan import tile_shape, tiles
    from sweeps.spec import SweepSpec
    from sweeps.task import compute_tile

    d = {"model": {"template": NET14, "params": {"all/op9/a": 0.3}},
         "storage": {"store": "unused.zarr", "tile": {"all.op9.tau": 2}},
         "axes": [{"path": "all/op9/tau", "values": [2.0, 3.0, 4.0]}],
         "simulation": {"simulation_time": 2.0, "step_size": 1e-3, "outputs": {"a": "c2/p1/op9/a"}, "solver": "euler"}}
    spec = SweepSpec.from_dict(d)
    got = np.concatenate([compute_tile(spec, t)["a"].values.reshape(-1, 2000) for t in tiles(spec, tile_shape(spec))])
    c = nmm.CircuitTemplate.from_yaml(NET14)
    for i, tau in enumerate((2.0, 3.0, 4.0)):  # the last tile holds one value: still per point
        ref = c.simulate({"c1/p1/op9/tau": tau, "c2/p1/op9/tau": tau, "all/op9/a": 0.3}, simulation_time=2.0,
                         step_size=1e-3, outputs={"a": "c2/p1/op9/a"})
        np.testing.assert_allclose(got[i], ref["a"].values[0], rtol=1e-13)
    assert np.ptp(got[:, -1]) > 1e-3
    d["axes"][0]["path"], d["storage"] = "all/op9/tauu", {"store": "unused.zarr"}
    from sweeps.errors import SpecError
    with pytest.raises(SpecError, match=r"axis path 'all/op9/tauu' is not a parameter of 'net14'"):
        SweepSpec.from_dict(d).circuit()
