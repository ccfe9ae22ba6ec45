"""Bad input gets an error that names the value and says what works."""
from __future__ import annotations

import numpy as np
import pytest

import nmm

JRC = "nmm.templates.jansenrit.JRC"
OUT = {"v": "pc/rpo_e_in/v"}


@pytest.fixture(scope="module")
def jrc():
    return nmm.CircuitTemplate.from_yaml(JRC)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(step_size=0.0), r"step_size must be a positive number, got 0.0"),
        (dict(step_size=-1e-4), r"step_size must be a positive number, got -0.0001"),
        (dict(simulation_time=0.0), r"simulation_time must be a positive number, got 0.0"),
        (dict(simulation_time=-1.0), r"simulation_time must be a positive number"),
        (dict(sampling_step_size=1e-5), r"sampling_step_size=1e-05 is smaller than step_size=0.0001"),
        (dict(sampling_step_size=2.5e-4), r"not a multiple of step_size"),
        (dict(solver="rk5"), r"unknown solver 'rk5'; choose one of 'euler', 'heun', 'rk4', 'scipy'"),
        (dict(backend="torch"), r"unknown backend 'torch'"),
        (dict(float_precision="float16"), r"unknown float_precision 'float16'"),
        (dict(outputs={"v": "pc/rpo_e_in/vv"}), r"unknown output path 'pc/rpo_e_in/vv'.*Did you mean 'pc/rpo_e_in/v'"),
        (dict(cutoff=5.0), r"cutoff=5.0 must be in \[0, simulation_time"),
        (dict(solver="euler", rtol=1e-6), r"takes no extra options"),
    ],
)
def test_run_arguments(jrc, kwargs, match):
    base = dict(simulation_time=0.01, step_size=1e-4, outputs=OUT)
    with pytest.raises(nmm.NMMError, match=match):
        jrc.run(**{**base, **kwargs})


def test_unknown_parameter_lists_close_matches(jrc):
    with pytest.raises(nmm.ParameterError, match=r"unknown parameter path 'pc/rpo_e_in/uu'.*Did you mean 'pc/rpo_e_in/u'"):
        jrc.update_var(node_vars={"pc/rpo_e_in/uu": 1.0})
    with pytest.raises(nmm.ParameterError, match=r"unknown parameter path 'pc/rpo_e_in/uu'"):
        nmm.simulate(jrc, {"pc/rpo_e_in/uu": [1.0]}, simulation_time=0.01, step_size=1e-4)


@pytest.mark.parametrize("value", [np.nan, np.inf, [1.0, np.nan]])
def test_nan_parameter(jrc, value):
    with pytest.raises(nmm.ParameterError, match=r"value of 'pc/rpo_e_in/u' .*finite"):
        nmm.simulate(jrc, {"pc/rpo_e_in/u": value}, simulation_time=0.01, step_size=1e-4)
    if np.ndim(value) == 0:
        with pytest.raises(nmm.ParameterError, match=r"'pc/rpo_e_in/u' is .*finite"):
            jrc.update_var(node_vars={"pc/rpo_e_in/u": value})


def test_driven_input_is_not_a_parameter(jrc):
    with pytest.raises(nmm.ParameterError, match=r"'pc/rpo_e_in/m_in' is not a parameter"):
        nmm.simulate(jrc, {"pc/rpo_e_in/m_in": 1.0}, simulation_time=0.01, step_size=1e-4)


def test_mismatched_array_lengths(jrc):
    with pytest.raises(nmm.ParameterError, match="has 3 points, others have 2"):
        nmm.simulate(jrc, {"pc/rpo_e_in/u": [1.0, 2.0], "pc/rpo_i/h": [1.0, 2.0, 3.0]},
                     simulation_time=0.01, step_size=1e-4)


def test_time_series_input_of_wrong_length(jrc):
    with pytest.raises(nmm.NMMError, match=r"inputs\['pc/rpo_e_in/u'\] has shape \(99,\); it needs one value per "
                                           "integration step: 100 values"):
        jrc.run(simulation_time=0.01, step_size=1e-4, inputs={"pc/rpo_e_in/u": np.ones(99)})
