"""The PyRates tutorial, run with nmm, and the Jansen-Rit circuit's known behaviour."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import fsolve

from nmm import CircuitTemplate


def peak_frequency(v: np.ndarray, dt: float) -> float:
    """Peak of the periodogram with parabolic interpolation of the log power."""
    x = (v - v.mean()) * np.hanning(v.size)
    p = np.abs(np.fft.rfft(x, n=8 * v.size)) ** 2
    f = np.fft.rfftfreq(8 * v.size, dt)
    i = int(np.argmax(p[1:])) + 1
    a, b, c = np.log(p[i - 1 : i + 2])
    return float(f[i] + 0.5 * (a - c) / (a - 2 * b + c) * (f[1] - f[0]))


def test_tutorial_snippet_verbatim():
    jrc = CircuitTemplate.from_yaml("model_templates.neural_mass_models.jansenrit.JRC")
    results = jrc.run(simulation_time=2.0, step_size=1e-4, sampling_step_size=1e-3,
                      outputs={'V_pce': 'pc/rpo_e_in/v', 'V_pci': 'pc/rpo_i/v'},
                      backend='default', solver='scipy')
    v_pc = results['V_pce'] + results['V_pci']
    assert isinstance(results, pd.DataFrame)
    assert list(results.columns) == ["V_pce", "V_pci"]
    assert results.shape == (2000, 2)
    np.testing.assert_allclose(results.index.values, np.arange(2000) * 1e-3, atol=1e-12)
    f = peak_frequency(v_pc.values[500:], 1e-3)
    assert 10.5 <= f <= 11.2, f


@pytest.mark.parametrize("solver", ["euler", "heun", "rk4"])
def test_alpha_rhythm_with_fixed_step_solvers(solver):
    jrc = CircuitTemplate.from_yaml("nmm.templates.jansenrit.JRC")
    df = jrc.run(simulation_time=3.0, step_size=1e-4, sampling_step_size=1e-3,
                 outputs={"a": "pc/rpo_e_in/v", "b": "pc/rpo_i/v"}, solver=solver, cutoff=1.0)
    assert df.index[0] == pytest.approx(1.0)
    f = peak_frequency((df["a"] + df["b"]).values, 1e-3)
    assert 10.5 <= f <= 11.2, f


def test_euler_is_the_default_solver():
    jrc = CircuitTemplate.from_yaml("nmm.templates.jansenrit.JRC")
    kw = dict(simulation_time=0.05, step_size=1e-4, outputs={"v": "pc/rpo_e_in/v"})
    pd.testing.assert_frame_equal(jrc.run(**kw), jrc.run(solver="euler", **kw))
    assert not jrc.run(**kw).equals(jrc.run(solver="rk4", **kw))


def test_fixed_point_at_low_input_matches_root_solve():
    """At u = 50 Hz the JRC rests at a stable fixed point; find it independently."""
    jrc = CircuitTemplate.from_yaml("nmm.templates.jansenrit.JRC").update_var(node_vars={"pc/rpo_e_in/u": 50.0})
    df = jrc.run(simulation_time=3.0, step_size=1e-4, sampling_step_size=1e-2, solver="rk4")
    end = df.iloc[-1].values
    # hand-written equations of the PyRates formulation, independent of the template
    S = lambda v: 5.0 / (1.0 + np.exp(560.0 * (6e-3 - v)))  # noqa: E731
    he, te, hi, ti = 3.25e-3, 10e-3, -22e-3, 20e-3

    def f(v):  # the steady state of v'' = h/tau m - 2/tau v' - v/tau^2 is v = h tau m
        vpe, vpi, ve, vi = v
        return [vpe - he * te * (108 * S(ve) + 50.0), vpi - hi * ti * 33.75 * S(vi),
                ve - he * te * 135 * S(vpe + vpi), vi - he * te * 33.75 * S(vpe + vpi)]

    root = fsolve(f, [end[0], end[2], end[4], end[6]], xtol=1e-12)
    np.testing.assert_allclose(end[[0, 2, 4, 6]], root, rtol=1e-7, atol=1e-12)
    np.testing.assert_allclose(end[[1, 3, 5, 7]], 0.0, atol=1e-7)  # derivatives vanish


def test_update_var_changes_parameters_and_edges():
    jrc = CircuitTemplate.from_yaml("nmm.templates.jansenrit.JRC")
    out = jrc.update_var(node_vars={"pc/rpo_e_in/u": 150.0},
                         edge_vars=[("pc/pro/m", "ein/rpo_e/m_in", {"weight": 100.0})])
    assert out is jrc
    assert jrc.parameters["pc/rpo_e_in/u"] == 150.0
    assert jrc.parameters["pc/pro/m->ein/rpo_e/m_in/weight"] == 100.0


def test_edge_vars_change_the_simulation_as_the_weight_parameter_does():
    kw = dict(simulation_time=1.0, step_size=1e-4, sampling_step_size=1e-3, solver="rk4",
              outputs={"v": "pc/pro/v"})
    edge = ("pc/pro/m", "ein/rpo_e/m_in")
    base = CircuitTemplate.from_yaml("nmm.templates.jansenrit.JRC").run(**kw)
    by_edge = CircuitTemplate.from_yaml("nmm.templates.jansenrit.JRC").update_var(
        edge_vars=[(*edge, {"weight": 100.0})]).run(**kw)
    by_path = CircuitTemplate.from_yaml("nmm.templates.jansenrit.JRC").update_var(
        node_vars={"pc/pro/m->ein/rpo_e/m_in/weight": 100.0}).run(**kw)
    pd.testing.assert_frame_equal(by_edge, by_path)
    # C1 = 100 instead of 135 changes the rhythm, not just the last digits
    assert np.abs(by_edge["v"].values - base["v"].values).max() > 0.1 * np.ptp(base["v"].values)
    # a fresh load is not affected by the update of another
    pd.testing.assert_frame_equal(CircuitTemplate.from_yaml("nmm.templates.jansenrit.JRC").run(**kw), base)
