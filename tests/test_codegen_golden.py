"""The generated Jansen-Rit kernels against their golden copies, and the kernel layout on its own.

A change to a generator shows as a diff of ``tests/golden/jrc_rk4_kernel.py`` (one
circuit) or ``tests/golden/jrc_network_euler_kernel.py`` (a network's unit) in review.
Regenerate them after an intended change with::

    python tests/test_codegen_golden.py --regenerate
"""
from __future__ import annotations

import difflib
import sys
from pathlib import Path

import numpy as np
import pytest

import nmm
from nmm.codegen import KernelLayout, kernel_source
from nmm.netcodegen import network_kernel_source
from nmm.noise import Distribution, KernelNoise, RandomParameter, StateNoise

GOLDEN = Path(__file__).parent / "golden" / "jrc_rk4_kernel.py"
GOLDEN_NET = Path(__file__).parent / "golden" / "jrc_network_euler_kernel.py"
JRC = "nmm.templates.jansenrit.JRC"


def golden_source() -> str:
    """JRC, RK4, float64, u swept, one output: the kernel a quickstart tile compiles."""
    model = nmm.CircuitTemplate.from_yaml(JRC).model
    return kernel_source(model, {"V_pc": model.expression("pc/pro/v")}, "rk4", "float64",
                         frozenset({"pc/rpo_e_in/u"}), KernelNoise(), parallel=True) + "\n"


def golden_network_source() -> str:
    """A JRC network on gw80 with delays, euler, float64, G and u swept, additive noise on
    u: the kernel of a connectome_fc_fit tile (no region count in it)."""
    net = nmm.Network.from_connectome(JRC, "nmm.connectomes.gw80", speed=4.0).model
    noise = KernelNoise(random=(RandomParameter("pc/rpo_e_in/u", Distribution.NORMAL, additive=True),))
    return network_kernel_source(net, {"V_pc": net.unit.expression("pc/pro/v")}, "euler", "float64",
                                 frozenset({"G", "pc/rpo_e_in/u"}), frozenset(), noise, parallel=True) + "\n"


@pytest.mark.parametrize("path, make", [(GOLDEN, golden_source), (GOLDEN_NET, golden_network_source)],
                         ids=["circuit", "network"])
def test_jrc_kernel_matches_the_golden_copy(path, make):
    new = make()
    old = path.read_text()
    if new != old:
        diff = "".join(difflib.unified_diff(old.splitlines(True), new.splitlines(True), "golden", "generated", n=1))
        pytest.fail(f"the generated kernel {path.name} changed; review the diff and regenerate with "
                    "`python tests/test_codegen_golden.py --regenerate`:\n" + diff[:6000])


def test_golden_kernel_compiles_and_runs():
    """The golden text is valid code that integrates: run it and compare with nmm.simulate."""
    ds = nmm.simulate(JRC, {"pc/rpo_e_in/u": np.array([120.0, 220.0])}, simulation_time=0.05, step_size=1e-4,
                      outputs={"V_pc": "pc/pro/v"}, solver="rk4")
    ns: dict = {}
    exec(compile(GOLDEN.read_text(), str(GOLDEN), "exec"), ns)  # noqa: S102 (our own generated file)
    model = nmm.CircuitTemplate.from_yaml(JRC).model
    P = np.repeat(np.asarray(model.param_values, dtype=float)[:, None], 2, axis=1)
    P[model.params.index("pc/rpo_e_in/u")] = [120.0, 220.0]
    Y = np.repeat(np.asarray(model.state_values, dtype=float)[:, None], 2, axis=1)
    series = np.empty((1, 500, 2))
    stats = np.zeros((3, 1, 2))
    stats[1], stats[2] = np.inf, -np.inf
    ns["kernel"].py_func(Y, P, np.ascontiguousarray(P[:, 0]), np.zeros((0, 2)), np.zeros((2, 0), np.uint64),
                         np.zeros((0, 0)), np.zeros((0, 2), np.int64), 2, 500, 1, 0, 1e-4, 0.0, series, stats)
    np.testing.assert_allclose(series[0].T, ds["V_pc"].values, rtol=1e-12, atol=1e-15)


def test_layout_rows_are_distinct_and_ordered():
    lay = KernelLayout(n_states=3, params=(4, 7), qs=(0, 2), sigmas=(1,), randoms=(5, 9), bases=(9,),
                       block=256, pad=16)
    assert lay.stride == 272
    rows = ([lay.x(i) for i in range(3)] + [lay.p(4), lay.p(7)] + [lay.q(0), lay.q(2)] + [lay.sigma(1)]
            + [lay.a(5), lay.b(5), lay.a(9), lay.b(9)] + [lay.base(9)])
    assert rows == list(range(13))
    assert lay.noise0 == 7 and lay.n_noise_rows == 5 and lay.n_rows == 13
    assert lay.at(lay.b(9)) == f"s[{11 * 272} + j]"
    assert KernelLayout(n_states=0).n_rows == 1  # never an empty scratch array


def test_layout_of_a_noisy_run_in_the_generated_source():
    model = nmm.CircuitTemplate.from_yaml(JRC).model
    noise = KernelNoise(states=(StateNoise("pc/rpo_e_in/v"),),
                        random=(RandomParameter("pc/rpo_e_in/u", Distribution.NORMAL, additive=True),))
    src = kernel_source(model, {"V": model.expression("pc/pro/v")}, "heun", "float32",
                        frozenset({"pc/rpo_e_in/u"}), noise, parallel=False)
    # sigma row, then (mean, sd) of u, then u's own swept value as the base of the draw
    assert "= NS[0, lo + jj]" in src and "= NS[1, lo + jj]" in src and "= NS[2, lo + jj]" in src
    assert "DTYPE(_normal(rs, j))" in src and "for b in range(nblocks):" in src
    assert "numba.prange" not in src


if __name__ == "__main__":
    if "--regenerate" in sys.argv:
        GOLDEN.write_text(golden_source())
        GOLDEN_NET.write_text(golden_network_source())
        print(f"wrote {GOLDEN} and {GOLDEN_NET}")
    else:
        print(__doc__)
