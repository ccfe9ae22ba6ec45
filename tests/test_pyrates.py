"""Against the peer: PyRates' own templates, loaded unchanged, and PyRates' own traces.

PyRates (optional: ``pip install pyrates``) is run with ``float_precision='float64'``.
Its scipy path hands ``solve_ivp`` a right-hand side that returns the same output
buffer on every call, so with float64 the solver's stored stages are overwritten
(its float32 default hides this by converting). The fixture below wraps the
right-hand side to return a copy; PyRates' equations and settings are untouched.
"""
from __future__ import annotations

import numpy as np
import pytest
from conftest import HAVE_PYRATES

import nmm

pytestmark = [pytest.mark.pyrates,
              pytest.mark.filterwarnings("ignore:The following arguments have no effect"),
              pytest.mark.skipif(not HAVE_PYRATES, reason="PyRates is not installed (pip install pyrates)")]

CASES = {
    "JRC": ("model_templates.neural_mass_models.jansenrit.JRC", "pc/rpo_e_in/u", (120.0, 220.0, 320.0),
            {"a": "pc/rpo_e_in/v", "b": "pc/rpo_i/v", "c": "ein/rpo_e/v"}, 5.0, 1e-4),
    "qif": ("model_templates.neural_mass_models.qif.qif", "p/qif_op/eta", (-6.0, -3.0, 2.0),
            {"r": "p/qif_op/r", "v": "p/qif_op/v"}, 40.0, 1e-3),
    "WC": ("model_templates.neural_mass_models.wilsoncowan.WC", "e/se_op/r_ext", (0.5, 1.0, 2.0),
           {"e": "e/rate_op/r", "i": "i/rate_op/r"}, 100.0, 1e-3),
}


@pytest.fixture
def pyrates_copying_rhs(monkeypatch):
    import scipy.integrate

    orig = scipy.integrate.solve_ivp

    def solve_ivp(fun, *args, **kwargs):
        return orig(lambda t, y, *a: np.array(fun(t, y, *a), dtype=float), *args, **kwargs)

    monkeypatch.setattr(scipy.integrate, "solve_ivp", solve_ivp)
    import pyrates

    pyrates.clear_frontend_caches()
    yield pyrates
    pyrates.clear_frontend_caches()


def pyrates_run(pyrates, ref, upd, **kw):
    pyrates.clear_frontend_caches()
    c = pyrates.CircuitTemplate.from_yaml(ref)
    c.update_var(node_vars=upd)
    return c.run(vectorize=False, clear=True, backend="default", verbose=False, float_precision="float64", **kw)


@pytest.mark.parametrize("case", sorted(CASES))
def test_pyrates_templates_load_unchanged(case):
    ref = CASES[case][0]
    c = nmm.CircuitTemplate.from_yaml(ref)
    assert c.definition.source.endswith(ref.split(".")[-2] + ".yaml")
    assert "site-packages" in c.definition.source or "model_templates" in c.definition.source


@pytest.mark.parametrize("case", sorted(CASES))
def test_scipy_traces_match_pyrates(case, pyrates_copying_rhs):
    ref, param, values, outputs, T, dt = CASES[case]
    kw = dict(simulation_time=T, step_size=dt, sampling_step_size=10 * dt, outputs=outputs,
              solver="scipy", method="DOP853", rtol=1e-10, atol=1e-12)
    for value in values:
        theirs = pyrates_run(pyrates_copying_rhs, ref, {param: value}, **kw)
        ours = nmm.CircuitTemplate.from_yaml(ref).update_var(node_vars={param: value}).run(**kw)
        assert ours.shape == theirs.shape
        np.testing.assert_allclose(ours.index.values, theirs.index.values, atol=1e-9)
        for col in outputs:
            a, b = theirs[col].values, ours[col].values
            rng = np.ptp(a)
            assert rng > 0
            assert np.max(np.abs(a - b)) / rng < 1e-6, (case, value, col)


def test_euler_traces_match_pyrates(pyrates_copying_rhs):
    ref, param, values, outputs, _, dt = CASES["JRC"]
    kw = dict(simulation_time=1.0, step_size=dt, sampling_step_size=10 * dt, outputs=outputs, solver="euler")
    theirs = pyrates_run(pyrates_copying_rhs, ref, {param: 220.0}, **kw)
    ours = nmm.CircuitTemplate.from_yaml(ref).update_var(node_vars={param: 220.0}).run(**kw)
    for col in outputs:
        a, b = theirs[col].values, ours[col].values
        assert np.max(np.abs(a - b)) / np.ptp(a) < 1e-9, col
