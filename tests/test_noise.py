"""Noise and time-series inputs: statistics, reproducibility, sweeps and errors."""
from __future__ import annotations

import re
import textwrap

import numpy as np
import pytest
import xarray as xr

import nmm

JRC = "nmm.templates.jansenrit.JRC"


@pytest.fixture(scope="module")
def ou(tmp_path_factory):
    p = tmp_path_factory.mktemp("ou") / "ou.yaml"
    p.write_text(textwrap.dedent("""
        op:
          base: OperatorTemplate
          equations: "d/dt * x = -theta * x"
          variables: {x: output(0.0), theta: 2.0}
        node: {base: NodeTemplate, operators: [op]}
    """))
    return nmm.CircuitTemplate.from_yaml(str(p), "node")


@pytest.mark.parametrize("solver", ["euler", "heun"])
def test_ornstein_uhlenbeck_variance(ou, solver):
    """dx = -theta x dt + sigma dW has stationary variance sigma^2 / (2 theta)."""
    theta, sigma, n = 2.0, 0.5, 400
    ds = nmm.simulate(ou, {"node/op/x": np.zeros(n)}, simulation_time=12.0, step_size=1e-3,
                      sampling_step_size=0.5, solver=solver, cutoff=2.0, noise={"node/op/x": sigma}, seed=11)
    x = ds["node/op/x"].values  # samples 0.5 apart: correlation exp(-1) between neighbours
    expected = sigma**2 / (2 * theta)
    var = x.var()
    # standard error of the variance of ~n * 20 samples with lag-1 correlation e^-1
    n_eff = x.size * (1 - np.exp(-2.0)) / (1 + np.exp(-2.0))
    se = expected * np.sqrt(2 / n_eff)
    assert abs(var - expected) < 4 * se, (var, expected, se)
    assert abs(x.mean()) < 4 * np.sqrt(expected / n_eff)


def test_streams_depend_only_on_seed_and_point_index():
    kw = dict(simulation_time=0.5, step_size=1e-4, sampling_step_size=1e-3, solver="euler",
              outputs={"v": "pc/pro/v"}, noise={"pc/rpo_e_in/u": {"uniform": [120, 320]}})
    full = nmm.simulate(JRC, {"pc/rpo_e_in/u": np.zeros(70)}, seed=5, **kw)["v"].values
    part = nmm.simulate(JRC, {"pc/rpo_e_in/u": np.zeros(3)}, seed=5, point_ids=[68, 2, 40], **kw)["v"].values
    np.testing.assert_array_equal(part, full[[68, 2, 40]])
    other = nmm.simulate(JRC, {"pc/rpo_e_in/u": np.zeros(3)}, seed=6, point_ids=[68, 2, 40], **kw)["v"].values
    assert not np.array_equal(other, part)
    assert not np.array_equal(full[0], full[1])  # points get different streams


def test_noise_driven_jansen_rit_has_an_alpha_peak():
    from nmm.analysis.spectral import peak_frequency, psd

    ds = nmm.simulate(JRC, {"pc/rpo_e_in/u": np.zeros(3)}, simulation_time=20.0, step_size=1e-4,
                      sampling_step_size=1e-3, solver="heun", cutoff=2.0, outputs={"v": "pc/pro/v"},
                      noise={"pc/rpo_e_in/u": {"uniform": [120, 320]}}, seed=1)
    f = peak_frequency(psd(ds["v"]), fmin=2, fmax=40)["peak_frequency"].values
    assert np.all((f > 9.5) & (f < 12)), f
    assert np.ptp(ds["v"].values[0]) > 1e-3


def test_time_series_input_replaces_the_parameter():
    T, dt = 0.5, 1e-4
    n = int(round(T / dt))
    c = nmm.CircuitTemplate.from_yaml(JRC)
    kw = dict(simulation_time=T, step_size=dt, sampling_step_size=1e-3, outputs={"v": "pc/pro/v"}, solver="rk4")
    same = c.run(inputs={"pc/rpo_e_in/u": np.full(n, 220.0)}, **kw)
    ref = c.run(**kw)
    np.testing.assert_allclose(same["v"].values, ref["v"].values, rtol=1e-13, atol=1e-18)
    step = np.where(np.arange(n) * dt < 0.25, 100.0, 300.0)
    driven = c.run(inputs={"pc/rpo_e_in/u": step}, **kw)
    low = c.update_var(node_vars={"pc/rpo_e_in/u": 100.0}).run(**kw)
    # identical until the step at t = 0.25 s, different after
    np.testing.assert_allclose(driven["v"].values[:250], low["v"].values[:250], rtol=1e-13, atol=1e-18)
    assert np.abs(driven["v"].values[300:] - low["v"].values[300:]).max() > 1e-4


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        (dict(inputs={"pc/rpo_e_in/u": np.ones(10)}), nmm.NMMError,
         "inputs['pc/rpo_e_in/u'] has shape (10,); it needs one value per integration step: 1000 values "
         "(simulation_time / step_size), shaped (1000,) or (1000, 1)."),
        (dict(inputs={"pc/rpo_e_in/u": np.ones((1000, 2))}), nmm.NMMError,
         "inputs['pc/rpo_e_in/u'] has shape (1000, 2); it needs one value per integration step: 1000 values "
         "(simulation_time / step_size), shaped (1000,) or (1000, 1)."),
        (dict(inputs={"pc/rpo_e_in/m_in": np.ones(1000)}), nmm.ParameterError,
         "inputs: 'pc/rpo_e_in/m_in' is not a parameter of 'JRC'. It is driven by other variables; give the time "
         "series to an unconnected input."),
        (dict(noise={"pc/rpo_e_in/v": 0.1}, solver="rk4"), nmm.NMMError,
         "noise on states needs solver 'euler' (Euler-Maruyama) or 'heun' (stochastic Heun), not 'rk4'."),
        (dict(noise={"pc/rpo_e_in/v": 0.1}, solver="scipy"), nmm.NMMError,
         "noise on states needs solver 'euler' (Euler-Maruyama) or 'heun' (stochastic Heun), not 'scipy'."),
        (dict(noise={"pc/rpo_e_in/u": {"poisson": 3}}), nmm.NMMError,
         "noise['pc/rpo_e_in/u'] on a parameter must be {'uniform': [low, high]}, {'normal': [mean, sd]} or "
         "{'same_as': other parameter}, got {'poisson': 3}."),
        (dict(noise={"pc/rpo_e_in/u": {"uniform": [3, 1]}}), nmm.NMMError,
         "noise['pc/rpo_e_in/u']: uniform needs low <= high."),
        (dict(noise={"pc/rpo_e_in/vv": 0.1}), nmm.ParameterError,
         "noise: unknown path 'pc/rpo_e_in/vv'. Did you mean 'pc/rpo_e_in/v' or "),
        (dict(noise={"pc/rpo_e_in/v": -1.0}), nmm.NMMError, "noise['pc/rpo_e_in/v']: sigma must be >= 0."),
    ],
)
def test_bad_noise_and_inputs(kwargs, error, message):
    """The whole message, from nmm's own error classes (not a bare KeyError)."""
    base = dict(simulation_time=0.1, step_size=1e-4, solver="euler")
    with pytest.raises(error, match="^" + re.escape(message)) as ei:
        nmm.simulate(JRC, None, **{**base, **kwargs})
    assert type(ei.value) is error
    if not message.endswith(" or "):
        assert str(ei.value) == message


def test_noisy_sweep_is_bit_identical_whatever_the_tiling(tmp_path):
    from conftest import small_spec
    from distributed import Client

    import sweeps

    def spec_with(store, tile):
        d = small_spec(store, n=6, simulation_time=1.0).to_dict()
        d["storage"]["tile"] = tile
        d["simulation"]["solver"] = "heun"
        d["simulation"]["noise"] = {"pc/rpo_e_in/u": {"uniform": [120, 320]}, "pc/rpo_e_in/x": 0.5}
        d["axes"][0] = {"path": "pc/rpo_i/h", "name": "h", "linspace": [-0.024, -0.02, 6]}
        d["seed"] = 42
        return sweeps.SweepSpec.from_dict(d)

    a, b = spec_with(tmp_path / "a.zarr", {"h": 6, "c1": 3}), spec_with(tmp_path / "b.zarr", {"h": 1, "c1": 2})
    assert a.hash() != b.hash()  # tilings differ
    with Client(processes=False, n_workers=2, threads_per_worker=1, dashboard_address=":0") as c:
        sweeps.run_sweep(a, client=c, progress=False)
        sweeps.run_sweep(b, client=c, progress=False)
    x, y = xr.open_zarr(a.storage.store).load(), xr.open_zarr(b.storage.store).load()
    for v in ("V_pce", "V_pci", "V_pce_mean"):
        np.testing.assert_array_equal(x[v].values, y[v].values)
    assert np.ptp(x["V_pce"].values[0, 0]) > 0 and x.attrs["nmm_seed"] == 42
    assert not np.array_equal(x["V_pce"].values[0, 0], x["V_pce"].values[0, 1])
