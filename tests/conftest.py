"""Shared fixtures and the list of shipped models used by the conformance suite."""
from __future__ import annotations

import importlib.util

import numpy as np

import pytest

JRC = "nmm.templates.jansenrit.JRC"

#: every shipped circuit with settings for a short, smooth run used by the
#: conformance checks: (reference, simulation_time, sampling_step, {path: value})
SHIPPED = {
    "JRC": (JRC, 0.1, 0.01, {}),
    "qif": ("nmm.templates.qif.qif", 1.0, 0.1, {}),
    "WC": ("nmm.templates.wilsoncowan.WC", 20.0, 2.0, {"e/se_op/r_ext": 1.0}),
    "KM": ("nmm.templates.kuramoto.KM", 1.0, 0.1, {}),
    "KM2": ("nmm.templates.kuramoto.KM2", 1.0, 0.1, {}),
    "SL": ("nmm.templates.stuartlandau.SL", 2.0, 0.2, {}),
}

HAVE_PYRATES = importlib.util.find_spec("pyrates") is not None


@pytest.fixture(scope="session")
def jrc_ref() -> str:
    return JRC


def small_spec(store, design="grid", tile=None, series=True, reductions=("mean", "min", "max"),
               simulation_time=0.2, solver="rk4", n=12, extra_axes=True, **sim):
    """A small Jansen-Rit sweep spec for the sweep tests."""
    import sweeps

    if design == "random":
        axes = [{"path": "pc/rpo_e_in/u", "name": "u", "bounds": [50, 400]},
                {"path": "pc/pro/m->ein/rpo_e/m_in/weight", "name": "c1", "bounds": [100, 150]}]
        design_d = {"kind": "random", "n": n, "method": "sobol"}
    else:
        axes = [{"path": "pc/rpo_e_in/u", "name": "u", "linspace": [50, 400, n]}]
        if extra_axes:
            axes.append({"path": "pc/pro/m->ein/rpo_e/m_in/weight", "name": "c1",
                         "values": [100.0, 120.0, 135.0] if design == "grid" else list(np.linspace(100, 150, n))})
        design_d = design
    d = {
        "name": "small",
        "model": {"template": "nmm.templates.jansenrit.JRC"},
        "axes": axes,
        "design": design_d,
        "simulation": {"simulation_time": simulation_time, "step_size": 1e-4, "sampling_step_size": 1e-3,
                       "solver": solver, "cutoff": 0.05, "outputs": {"V_pce": "pc/rpo_e_in/v", "V_pci": "pc/rpo_i/v"},
                       **sim},
        "keep": {"series": series, "reductions": list(reductions)},
        "storage": {"store": str(store), "tile": tile},
        "seed": 3,
    }
    return sweeps.SweepSpec.from_dict(d)


def design_reference(spec) -> dict:
    """The design's coordinate values computed here, not by sweeps: axis values for grid
    and zip designs; for random designs scipy's Owen-scrambled Sobol points or Latin
    hypercube seeded with the spec's seed, mapped to each axis's bounds."""
    import warnings

    from scipy.stats import qmc

    if spec.design.kind != "random":
        return {a.name: a.values for a in spec.axes}
    d, n = len(spec.axes), spec.design.n
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Sobol with n not a power of 2
        u = (qmc.Sobol(d, scramble=True, seed=spec.seed) if spec.design.method == "sobol"
             else qmc.LatinHypercube(d, seed=spec.seed)).random(n)
    out = {}
    for i, a in enumerate(spec.axes):
        lo, hi = a.args
        out[a.name] = np.exp(np.log(lo) + u[:, i] * np.log(hi / lo)) if a.scale == "log" else lo + u[:, i] * (hi - lo)
    return out


def direct(spec):
    """The same points simulated directly with nmm.simulate, as {var: array over the spec's dims}."""
    import nmm

    pts = design_reference(spec)
    if spec.design.kind == "grid":
        mesh = np.meshgrid(*[pts[a.name] for a in spec.axes], indexing="ij")
        params = {p: m.ravel() * f for a, m in zip(spec.axes, mesh) for p, f in a.paths.items()}
        shape = tuple(spec.dims.values())
    else:
        params = {p: pts[a.name] * f for a in spec.axes for p, f in a.paths.items()}
        shape = (spec.n_points,)
    sim = spec.simulation
    ds = nmm.simulate(spec.circuit(), params, simulation_time=sim.simulation_time, step_size=sim.step_size,
                      sampling_step_size=sim.sampling_step_size, outputs=dict(sim.outputs), solver=sim.solver,
                      cutoff=sim.cutoff, float_precision=sim.float_precision, summaries=True)
    return {v: ds[v].values.reshape(shape + ds[v].shape[1:]) for v in ds.data_vars}


def slow_spec(store):
    """32 tiles of ~50 ms (single thread), so a kill lands mid-sweep."""
    return small_spec(store, tile={"u": 2, "c1": 3}, n=64, simulation_time=20.0, series=False)


def subprocess_env():
    """The environment for processes started by tests: the repo and tests importable."""
    import os
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(root), str(root / "tests"), env.get("PYTHONPATH", "")])
    return env


def stop_processes(procs):
    """SIGTERM and wait, in the given order (workers first); SIGKILL what does not stop."""
    import signal
    import subprocess

    for p in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
        try:
            p.wait(timeout=15)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def pytest_collection_modifyitems(config, items):
    """Tests with real processes (integration) are also slow: the default run skips them,
    ``.ci/run`` runs them with ``-m slow``."""
    import pytest

    for item in items:
        if item.get_closest_marker("integration") and not item.get_closest_marker("slow"):
            item.add_marker(pytest.mark.slow)
