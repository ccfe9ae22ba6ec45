"""The batch path: summaries, divergence, output expressions and the on-disk kernel cache."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import nmm

JRC = "nmm.templates.jansenrit.JRC"


def test_summaries_equal_the_stored_series():
    ds = nmm.simulate(JRC, {"pc/rpo_e_in/u": np.linspace(60, 350, 10)}, simulation_time=1.0, step_size=1e-4,
                      sampling_step_size=1e-3, solver="rk4", cutoff=0.5, summaries=True,
                      outputs={"v": "pc/rpo_e_in/v", "m": "pc/pro/m"})
    assert ds["v"].shape == (10, 500)
    np.testing.assert_allclose(ds["v_mean"], ds["v"].mean("time"), rtol=1e-12)
    np.testing.assert_array_equal(ds["v_min"], ds["v"].min("time"))
    np.testing.assert_array_equal(ds["m_max"], ds["m"].max("time"))
    assert ds["pc/rpo_e_in/u"].dims == ("point",)
    assert ds["v"].attrs["units"] == "V" and ds["m"].attrs["units"] == "Hz"
    assert ds["time"].attrs["units"] == "s"


def test_algebraic_output_matches_its_formula():
    ds = nmm.simulate(JRC, None, simulation_time=0.2, step_size=1e-4, sampling_step_size=1e-3, solver="rk4",
                      outputs={"m": "pc/pro/m", "a": "pc/rpo_e_in/v", "b": "pc/rpo_i/v"})
    v = ds["a"].values + ds["b"].values
    np.testing.assert_allclose(ds["m"].values, 5.0 / (1 + np.exp(560 * (6e-3 - v))), rtol=1e-13)


def test_summaries_without_series():
    ds = nmm.simulate(JRC, {"pc/rpo_e_in/u": [100.0, 200.0]}, simulation_time=0.5, step_size=1e-4,
                      solver="rk4", keep_series=False, summaries=True, outputs={"v": "pc/rpo_e_in/v"})
    assert "v" not in ds and "time" not in ds.dims
    full = nmm.simulate(JRC, {"pc/rpo_e_in/u": [100.0, 200.0]}, simulation_time=0.5, step_size=1e-4,
                        solver="rk4", outputs={"v": "pc/rpo_e_in/v"})
    np.testing.assert_array_equal(ds["v_max"], full["v"].max("time"))


def test_diverging_points_are_flagged_not_raised(tmp_path):
    p = tmp_path / "blow.yaml"
    p.write_text(textwrap.dedent("""
        op:
          base: OperatorTemplate
          equations: "d/dt * x = a * x^2"
          variables: {x: output(1.0), a: 1.0}
        node: {base: NodeTemplate, operators: [op]}
    """))
    c = nmm.CircuitTemplate.from_yaml(str(p), "node")
    # x' = a x^2 from x0 = 1 blows up at t = 1/a: a = 2 diverges before T = 1, a = 0.5 does not
    ds = nmm.simulate(c, {"node/op/a": [0.5, 2.0]}, simulation_time=1.0, step_size=1e-3, solver="rk4",
                      summaries=True)
    assert ds["status"].values.tolist() == [nmm.Status.OK, nmm.Status.DIVERGED]
    np.testing.assert_allclose(ds["node/op/x"].values[0, -1], 1 / (1 - 0.5 * 0.999), rtol=1e-6)
    assert not np.isfinite(ds["node/op/x"].values[1, -1])


@pytest.mark.slow  # two fresh processes, each compiling: ~15 s
def test_second_process_uses_the_disk_cache(tmp_path):
    script = textwrap.dedent("""
        import time, nmm
        t = time.perf_counter()
        nmm.simulate("nmm.templates.jansenrit.JRC", None, simulation_time=0.01, step_size=1e-4, solver="heun")
        from nmm.kernel_cache import _memo
        mod = next(iter(_memo.values()))
        print(sum(mod.kernel.stats.cache_hits.values()), sum(mod.kernel.stats.cache_misses.values()))
    """)
    env = {**os.environ, "NMM_CACHE_DIR": str(tmp_path / "cache")}
    runs = [subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True)
            for _ in range(2)]
    first, second = (tuple(map(int, r.stdout.split())) for r in runs)
    assert first == (0, 1)   # compiled
    assert second == (1, 0)  # loaded from disk
    assert len(list((tmp_path / "cache").glob("nmm_kernel_*.py"))) == 1
