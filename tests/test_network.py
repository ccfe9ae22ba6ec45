"""The network kernel (:mod:`nmm.netcodegen`) and :class:`nmm.Network`.

Checked against two references: the unrolled form (``CircuitTemplate.from_matrices``,
every edge a parameter, compiled as scalar code) and a plain-numpy explicit Euler
integration of a delayed Jansen-Rit network written here from the template's equations.
Then: the kernel does not depend on the network (one cache key for 2 and 80 regions)
and gives the same bits however points are blocked; noise streams; per-region values;
results; bad input.

Compile time dominates this file (about 15 s per kernel on 2 cores, then read from the
kernel cache), so runs share kernels: a kernel depends on the solver, the outputs, which
parameters vary per point or per region, and the noise, never on the network. Most runs
here vary ``pc/rpo_e_in/u`` and ``G`` per point and set ``pc/rpo_e_in/u`` on one region
(one kernel per solver, whatever the network, its delays or speeds); single points
(another kernel) set ``pc/rpo_e_in/u`` on one region too. Results shared by several
tests come from module-scoped fixtures.
"""
from __future__ import annotations

import importlib
import re
from pathlib import Path

import numba
import numpy as np
import pytest
import yaml

import nmm
from nmm.connectomes import Connectome, load_connectome
from nmm.engine import make_network_plan
from nmm.engine.blocks import speed_blocks
from nmm.netcodegen import compile_network, network_block, network_kernel_source
from nmm.netmodel import network_model, resolve_network_params
from nmm.noise import KernelNoise

JRC = "nmm.templates.jansenrit.JRC"
#: the engine's module (``nmm.engine.integrate`` is also the name of its function)
integrate_module = importlib.import_module("nmm.engine.integrate")
JRC_YAML = Path(nmm.__file__).parent / "templates" / "jansenrit.yaml"
#: the unit's states, in the order of the numpy reference
STATES = ("pc/rpo_e_in/v", "pc/rpo_e_in/x", "pc/rpo_i/v", "pc/rpo_i/x",
          "ein/rpo_e/v", "ein/rpo_e/x", "iin/rpo_e/v", "iin/rpo_e/x")
U = "pc/rpo_e_in/u"
DT = 1e-4
KW = {"simulation_time": 0.2, "step_size": DT, "sampling_step_size": 1e-3}
TOL = 1e-12

# the 3-region network of the comparison with the unrolled form: asymmetric weights, a
# self-connection (c -> c), delays of 1 to 7 steps given in seconds
LABELS3 = ("a", "b", "c")
W3 = np.array([[0.0, 1.5, 0.3],
               [0.7, 0.0, 2.0],
               [0.0, 1.1, 0.9]])
D3 = np.array([[0.0, 3e-4, 5e-4],
               [1e-4, 0.0, 7e-4],
               [0.0, 4e-4, 2e-4]])
#: some instantaneous edges (b -> a, c -> b, c -> c)
D3_ZERO = np.array([[0.0, 0.0, 5e-4],
                    [1e-4, 0.0, 0.0],
                    [0.0, 4e-4, 0.0]])
#: per point: u on every region, G, and u on region b
P3 = {U: np.array([150.0, 220.0, 300.0]), "G": np.array([1.0, 2.5, 0.4]), f"b/{U}": np.array([90.0, 100.0, 260.0])}
#: a state's initial value on one region
Y3 = {"c/pc/rpo_e_in/v": 1e-3}

# the 5-region network with tract lengths (mm) and a conduction speed (m/s)
W5 = np.array([[0.0, 1.2, 0.0, 0.4, 0.8],
               [0.5, 0.0, 1.7, 0.0, 0.0],
               [0.0, 0.9, 0.0, 1.3, 0.6],
               [1.1, 0.0, 0.2, 0.0, 1.4],
               [0.3, 0.7, 0.0, 0.9, 0.0]])
L5 = np.array([[0.0, 10.4, 0.0, 13.7, 8.2],
               [9.1, 0.0, 15.3, 0.0, 0.0],
               [0.0, 11.6, 0.0, 6.9, 12.1],
               [14.2, 0.0, 7.4, 0.0, 10.8],
               [5.6, 9.8, 0.0, 16.1, 0.0]])
SPEEDS5 = np.array([3.0, 4.5, 7.0])
P5 = {U: np.array([140.0, 230.0, 310.0]), "G": np.array([0.8, 1.6, 2.4]), f"r3/{U}": np.array([95.0, 120.0, 200.0]),
      "speed": SPEEDS5}
Y5 = {"r2/ein/rpo_e/v": 2e-3, "r4/pc/rpo_i/x": -0.05}


@pytest.fixture(scope="module", autouse=True)
def two_threads():
    """Two numba threads: the blocks of points (and so which code paths run) do not
    depend on the machine's core count."""
    before = numba.get_num_threads()
    numba.set_num_threads(min(2, numba.config.NUMBA_NUM_THREADS))
    yield
    numba.set_num_threads(before)


def net3(delays: np.ndarray = D3) -> nmm.Network:
    return nmm.Network.from_connectome(JRC, Connectome(W3, labels=LABELS3), delays=delays)


def net5() -> nmm.Network:
    return nmm.Network.from_connectome(JRC, Connectome(W5, lengths=L5), speed=4.0)


def rel_err(a: np.ndarray, b: np.ndarray) -> float:
    """The largest difference relative to the range of the reference ``b``."""
    a, b = np.asarray(a), np.asarray(b)
    assert a.shape == b.shape and np.ptp(b) > 0
    return float(np.max(np.abs(a - b)) / np.ptp(b))


# --- 1. the unrolled form --------------------------------------------------------------

def unrolled_params(circuit: nmm.CircuitTemplate, extra_delay: float = 0.0) -> dict:
    """:data:`P3` and :data:`Y3` on the unrolled circuit: u per region, G as a factor of
    every edge weight, delays lengthened by ``extra_delay``."""
    p = {f"{r}/{U}": P3[U] for r in LABELS3 if r != "b"} | {f"b/{U}": P3[f"b/{U}"]} | Y3
    weights = circuit.coupling_targets()
    expected = {f"{LABELS3[j]}/pc/pro/m->{LABELS3[i]}/pc/rpo_e_in/m_in/weight" for i, j in zip(*np.nonzero(W3))}
    assert set(weights) == expected
    p |= {path: w * P3["G"] for path, w in weights.items()}
    if extra_delay:
        p |= {path: d + extra_delay for path, d in circuit.coupling_targets("delay").items()}
    return p


def simulate3(kind: str, solver: str, variant: str):
    """:data:`P3` and :data:`Y3` on the 3-region network (``kind='net'``) or its unrolled
    form (``'unrolled'``), with the delays :data:`D3` (``variant='delays'``), one step
    longer (``'longer'``) or :data:`D3_ZERO` (``'zero'``)."""
    delays = D3_ZERO if variant == "zero" else D3 + (W3 > 0) * DT if variant == "longer" else D3
    if kind == "net":
        return nmm.simulate(net3(delays), P3 | Y3, solver=solver, **KW)
    circuit = nmm.CircuitTemplate.from_matrices(JRC, W3, delays=D3_ZERO if variant == "zero" else D3,
                                                labels=list(LABELS3))
    return nmm.simulate(circuit, unrolled_params(circuit, DT if variant == "longer" else 0.0), solver=solver, **KW)


@pytest.fixture(scope="module")
def runs3():
    """:func:`simulate3`, each run once per module."""
    done = {}

    def get(kind: str, solver: str, variant: str):
        if (kind, solver, variant) not in done:
            done[kind, solver, variant] = simulate3(kind, solver, variant)
        return done[kind, solver, variant]

    return get


def unrolled_errors(net, flat) -> dict[str, float]:
    """Per state and region: the network kernel's error relative to the unrolled form."""
    assert (net["status"].values == 1).all() and (flat["status"].values == 1).all()
    return {f"{r}/{s}": rel_err(net[s].sel(region=r).values, flat[f"{r}/{s}"].values)
            for s in STATES for r in LABELS3}


@pytest.mark.parametrize("solver, variant", [
    pytest.param("euler", "delays", marks=pytest.mark.slow),  # every delay >= 1 step: the fused pass
    ("euler", "zero"),     # instantaneous edges: the sources written in a pass before
    # heun and rk4 compile two kernels each (about a minute on 2 cores): in the slow set
    pytest.param("heun", "delays", marks=pytest.mark.slow),  # a 1-step delay: the pass before
    pytest.param("heun", "longer", marks=pytest.mark.slow),  # every delay >= 2 steps: fused
    pytest.param("heun", "zero", marks=pytest.mark.slow),    # instantaneous edges: stage by stage
    pytest.param("rk4", "delays", marks=pytest.mark.slow),
    pytest.param("rk4", "longer", marks=pytest.mark.slow),
    pytest.param("rk4", "zero", marks=pytest.mark.slow),
])
def test_network_kernel_equals_the_unrolled_form(runs3, solver, variant):
    errors = unrolled_errors(runs3("net", solver, variant), runs3("unrolled", solver, variant))
    worst = max(errors, key=errors.get)
    assert errors[worst] < TOL, (worst, errors[worst])


def test_per_point_values_and_the_one_region_override_reach_the_kernel(runs3):
    ds = runs3("net", "euler", "delays")
    v = ds["pc/rpo_e_in/v"]
    # three different points, and region b (its own u) unlike a and c
    assert rel_err(v.isel(point=0).values, v.isel(point=1).values) > 1e-2
    assert np.abs(v.sel(region="b") - v.sel(region="a")).max() > 1e-4
    # the initial state of region c only
    np.testing.assert_array_equal(v.isel(time=0).values, [[0.0, 0.0, 1e-3]] * 3)


# --- 2. a plain numpy delayed Jansen-Rit network ---------------------------------------

def jrc_constants() -> dict[str, float]:
    """The template's constants, read from its YAML (PyYAML reads 6e-3 as a string)."""
    t = yaml.safe_load(JRC_YAML.read_text())
    e, i, pro = t["rpo_e"]["variables"], t["rpo_i"]["variables"], t["pro"]["variables"]
    w = {(src, tgt): float(attrs["weight"]) for src, tgt, _, attrs in t["JRC"]["edges"]}
    return {"he": float(e["h"]), "te": float(e["tau"]), "hi": float(i["h"]), "ti": float(i["tau"]),
            "m_max": float(pro["m_max"]), "s": float(pro["s"]), "v_thr": float(pro["v_thr"]),
            "c1": w["pc/pro/m", "ein/rpo_e/m_in"], "c2": w["ein/pro/m", "pc/rpo_e_in/m_in"],
            "c3": w["pc/pro/m", "iin/rpo_e/m_in"], "c4": w["iin/pro/m", "pc/rpo_i/m_in"]}


def jrc_network_euler(W: np.ndarray, steps: np.ndarray, G: float, u: np.ndarray, y0: np.ndarray, n_steps: int,
                      dt: float, decim: int) -> np.ndarray:
    """Explicit Euler for Jansen-Rit columns coupled pyramidal rate -> pyramidal excitatory
    input with delays of ``steps[i, j]`` steps (history 0 before t=0).

    Each synapse: v' = x, x' = h/tau in - 2 x/tau - v/tau^2; each population's rate
    S(v) = m_max / (1 + exp(s (v_thr - v))); the pyramidal cells' excitatory input is
    c2 S(v_ein) + u + G sum_j W[i, j] S(v_pc,j)(t - D[i, j]), v_pc = v_pce + v_pci.

    Returns the states at every ``decim``-th step from t=0, shape (n_keep, 8, n_regions).
    """
    k = jrc_constants()
    he, te, hi, ti = k["he"], k["te"], k["hi"], k["ti"]

    def rate(v):
        return k["m_max"] / (1.0 + np.exp(k["s"] * (k["v_thr"] - v)))

    R = W.shape[0]
    cols = np.broadcast_to(np.arange(R), (R, R))
    X = np.array(y0, dtype=float)
    history = np.zeros((n_steps, R))  # the pyramidal rate of every region at every step
    kept = []
    for n in range(n_steps):
        vpe, xpe, vpi, xpi, ve, xe, vi, xi = X
        m_pc = rate(vpe + vpi)
        history[n] = m_pc
        back = n - steps
        delayed = np.where(back >= 0, history[np.maximum(back, 0), cols], 0.0)
        c = G * (W * delayed).sum(axis=1)
        if n % decim == 0:
            kept.append(X.copy())
        dX = np.array([xpe, he / te * (k["c2"] * rate(ve) + c + u) - 2.0 * xpe / te - vpe / te**2,
                       xpi, hi / ti * (k["c4"] * rate(vi)) - 2.0 * xpi / ti - vpi / ti**2,
                       xe, he / te * (k["c1"] * m_pc) - 2.0 * xe / te - ve / te**2,
                       xi, he / te * (k["c3"] * m_pc) - 2.0 * xi / te - vi / te**2])
        X = X + dt * dX
    return np.array(kept)


def delay_steps5(speed: float, rounding=np.rint) -> np.ndarray:
    """Delays of the 5-region network in steps: length (mm) / speed (m/s), in s, over dt."""
    return rounding(L5 * 1e-3 / speed / DT).astype(np.int64)


def reference5(p: int, rounding=np.rint) -> np.ndarray:
    """Point ``p`` of :data:`P5` with the numpy reference, (n_keep, 8, 5)."""
    y0 = np.zeros((8, 5))
    for path, val in Y5.items():
        region, state = path.split("/", 1)
        y0[STATES.index(state), int(region[1:])] = val
    u = np.full(5, P5[U][p])
    u[3] = P5[f"r3/{U}"][p]
    return jrc_network_euler(W5, delay_steps5(P5["speed"][p], rounding), P5["G"][p], u, y0,
                             n_steps=round(KW["simulation_time"] / DT), dt=DT, decim=10)


@pytest.fixture(scope="module")
def net5_euler():
    """:data:`P5` and :data:`Y5` on the 5-region network, euler."""
    return nmm.simulate(net5(), P5 | Y5, solver="euler", **KW)


def numpy_errors(ds) -> dict[str, float]:
    """Per state: the kernel's error relative to the numpy reference."""
    got = np.stack([ds[s].values for s in STATES], axis=2)  # (point, time, state, region)
    ref = np.stack([reference5(p) for p in range(len(SPEEDS5))])
    return {s: rel_err(got[:, :, i], ref[:, :, i]) for i, s in enumerate(STATES)}


def test_delays_from_lengths_and_speed_are_rounded_to_the_nearest_step():
    edges = W5 > 0
    exact = L5[edges][:, None] * 1e-3 / SPEEDS5[None, :] / DT
    frac = exact - np.floor(exact)
    assert np.all(np.abs(frac - 0.5) > 0.01)  # no tie: every rounding is unambiguous
    assert np.any(frac < 0.5) and np.any(frac > 0.5)  # rint differs from both floor and ceil
    plan = make_network_plan(net5().model, P5, solver="euler", **KW)
    steps = np.stack([delay_steps5(s)[edges] for s in SPEEDS5])
    assert (plan.network.dmin, plan.network.dmax) == (steps.min(), steps.max())
    assert plan.network.dmin > 1 and plan.network.dmax > 30
    np.testing.assert_allclose(plan.network.speeds, SPEEDS5 * 1e3)  # mm per second


def test_network_kernel_equals_a_numpy_delayed_jansen_rit_network(net5_euler):
    ds = net5_euler
    assert (ds["status"].values == 1).all() and ds.sizes == {"point": 3, "time": 200, "region": 5}
    errors = numpy_errors(ds)
    worst = max(errors, key=errors.get)
    assert errors[worst] < TOL, (worst, errors[worst])
    # the comparison sees the delays: flooring them instead gives another network
    floor = np.stack([reference5(p, np.floor) for p in range(len(SPEEDS5))])
    assert rel_err(ds["pc/rpo_e_in/v"].values, floor[:, :, 0]) > 1e-4


# --- 3. one kernel for every network; the same bits whatever the blocking -------------

def kernel_of(net: nmm.Network, params: dict):
    """The compiled kernel and the source text a euler run of ``params`` uses."""
    plan = make_network_plan(net.model, params, solver="euler", **KW)
    run = plan.network
    args = (run.model, plan.output_exprs, "euler", "float64", frozenset(plan.swept), frozenset(run.regional),
            KernelNoise())
    return compile_network(*args, parallel=True), network_kernel_source(*args, parallel=True)


def test_the_kernel_does_not_depend_on_the_network():
    two = nmm.Network.from_connectome(JRC, Connectome([[0.0, 1.0], [0.5, 0.0]], lengths=[[0, 20.0], [20.0, 0]]),
                                      speed=4.0)
    gw = nmm.Network.from_connectome(JRC, "nmm.connectomes.gw80", speed=4.0)
    assert gw.model.n_regions == 80 and gw.model.n_edges > 1000
    params = {U: [150.0, 220.0], "G": [1.0, 2.0]}
    (k2, src2), (k80, src80) = (kernel_of(n, params | {f"{n.labels[1]}/{U}": 90.0}) for n in (two, gw))
    assert k2.key == k80.key and k2.path == k80.path
    assert src2 == src80
    numbers = set(re.findall(r"(?<![\w.])\d+(?![\w.])", src80))
    assert not numbers & {"80", str(gw.model.n_edges)}, numbers
    # other options do make another kernel
    k_heun = compile_network(two.model, make_network_plan(two.model, params, solver="euler", **KW).output_exprs,
                             "heun", "float64", ("G", U), (), KernelNoise(), True)
    assert k_heun.key != k2.key


@pytest.mark.slow  # compiles kernel variants of its own (.ci/run runs it)
def test_a_point_gives_the_same_bits_alone_and_in_any_block():
    net = net5()
    point = {"G": 1.3, "speed": 4.5, U: 210.0, f"r1/{U}": 150.0}
    alone = nmm.simulate(net, point | Y5, solver="euler", **KW)
    # points 0 and 1 share a speed (one block, contiguous delayed reads, other G);
    # points 2 and 3 do not (the block gathers per point)
    batch_p = {"G": [2.2, 1.3, 0.7, 1.3], "speed": [4.5, 4.5, 6.1, 4.5], U: [180.0, 210.0, 260.0, 210.0],
               f"r1/{U}": [110.0, 150.0, 90.0, 150.0]}
    batch = nmm.simulate(net, batch_p | Y5, solver="euler", **KW)
    plan = make_network_plan(net.model, batch_p, solver="euler", **KW)
    assert network_block(4, 5, plan.network.dmax + 2, "float64", numba.get_num_threads()) == \
        (2 if numba.get_num_threads() == 2 else 4)
    for s in STATES:
        for p in (1, 3):
            np.testing.assert_array_equal(batch[s].values[p], alone[s].values[0], err_msg=f"{s} point {p}")
    assert rel_err(batch["pc/rpo_e_in/v"].values[0], alone["pc/rpo_e_in/v"].values[0]) > 1e-3


# --- 3b. the ring's windows: long, middle and short edges, four at a time ---------------

#: a dense 6-region network whose tract lengths give, at 4.5 m/s, long edges (at least 33
#: steps: windows of 32), middle ones (9 to 32: windows of 8) and short ones (read row by
#: row), region 0 with five long in-edges (four added at once, then one)
W6 = np.array([[0.0, 0.9, 1.3, 0.4, 1.1, 0.7],
               [0.6, 0.0, 1.4, 0.8, 0.3, 1.2],
               [1.0, 0.5, 0.0, 1.6, 0.9, 0.2],
               [0.3, 1.1, 0.7, 0.0, 1.5, 0.8],
               [1.2, 0.4, 0.6, 1.0, 0.0, 1.3],
               [0.8, 1.5, 0.2, 0.9, 0.6, 0.0]])
L6 = np.array([[0.0, 19.7, 25.3, 22.1, 29.8, 16.1],
               [9.1, 0.0, 3.1, 24.2, 8.2, 12.4],
               [5.6, 21.3, 0.0, 2.6, 10.8, 27.5],
               [3.4, 6.9, 17.2, 0.0, 13.3, 4.6],
               [23.6, 11.7, 7.7, 18.9, 0.0, 2.2],
               [14.5, 4.1, 26.4, 9.6, 20.8, 0.0]])
#: points 1 and 3 are the same point, in two blocks once grouped by speed; in the run's own
#: order (blocks of 2) point 3 shares a block with point 2, of another speed, and reads its
#: own rows (test_a_block_of_mixed_speeds_reads_each_points_own_rows_with_the_same_bits)
P6 = {"G": np.array([1.0, 1.7, 0.6, 1.7]), "speed": np.array([4.5, 4.5, 7.0, 4.5]),
      U: np.array([200.0, 230.0, 260.0, 230.0]), f"r3/{U}": np.array([100.0, 150.0, 120.0, 150.0])}
Y6 = {"r2/ein/rpo_e/v": 2e-3, "r4/pc/rpo_i/x": -0.05}


def net6() -> nmm.Network:
    return nmm.Network.from_connectome(JRC, Connectome(W6, lengths=L6), speed=4.0)


def delay_steps6(speed: float) -> np.ndarray:
    return np.rint(L6 * 1e-3 / speed / DT).astype(np.int64)


def test_the_windows_network_has_every_kind_of_edge():
    steps = delay_steps6(4.5)
    edges = W6 > 0
    for long, middle in ((32, 8), (33, 9)):  # euler; heun and rk4 (a stage reads one row later)
        assert (steps[edges] >= long).sum() >= 6
        assert ((steps[edges] >= middle) & (steps[edges] < long)).sum() >= 6
        assert (steps[edges] < middle).sum() >= 3
    assert (steps[0][edges[0]] >= 33).sum() == 5 and np.all(delay_steps6(7.0)[edges] >= 2)
    assert (network_block(4, 6, int(delay_steps6(4.5).max()) + 2, "float64", 2)) == 2


def jrc_network_heun(W: np.ndarray, steps: np.ndarray, G: float, u: np.ndarray, y0: np.ndarray, n_steps: int,
                     dt: float, decim: int) -> np.ndarray:
    """Heun's scheme for the network of :func:`jrc_network_euler` (every delay at least one
    step): the first stage reads each source ``d`` steps back, the second ``d - 1``, as the
    unrolled kernel does. Returns the states at every ``decim``-th step, (n_keep, 8, n_regions)."""
    k = jrc_constants()
    he, te, hi, ti = k["he"], k["te"], k["hi"], k["ti"]

    def rate(v):
        return k["m_max"] / (1.0 + np.exp(k["s"] * (k["v_thr"] - v)))

    def rhs(X, c):
        vpe, xpe, vpi, xpi, ve, xe, vi, xi = X
        m_pc = rate(vpe + vpi)
        return np.array([xpe, he / te * (k["c2"] * rate(ve) + c + u) - 2.0 * xpe / te - vpe / te**2,
                         xpi, hi / ti * (k["c4"] * rate(vi)) - 2.0 * xpi / ti - vpi / ti**2,
                         xe, he / te * (k["c1"] * m_pc) - 2.0 * xe / te - ve / te**2,
                         xi, he / te * (k["c3"] * m_pc) - 2.0 * xi / te - vi / te**2])

    R = W.shape[0]
    cols = np.broadcast_to(np.arange(R), (R, R))
    X = np.array(y0, dtype=float)
    history = np.zeros((n_steps, R))
    kept = []

    def coupling(back):  # (the diagonal has no edge: its index is clipped, its weight 0)
        return G * (W * np.where(back >= 0, history[np.clip(back, 0, n), cols], 0.0)).sum(axis=1)

    for n in range(n_steps):
        history[n] = rate(X[0] + X[2])
        if n % decim == 0:
            kept.append(X.copy())
        k1 = rhs(X, coupling(n - steps))
        k2 = rhs(X + dt * k1, coupling(n - steps + 1))
        X = X + 0.5 * dt * (k1 + k2)
    return np.array(kept)


def reference6(p: int, solver: str) -> np.ndarray:
    """Point ``p`` of :data:`P6` with the numpy reference of ``solver``, (n_keep, 8, 6)."""
    y0 = np.zeros((8, 6))
    for path, val in Y6.items():
        region, state = path.split("/", 1)
        y0[STATES.index(state), int(region[1:])] = val
    u = np.full(6, P6[U][p])
    u[3] = P6[f"r3/{U}"][p]
    ref = jrc_network_euler if solver == "euler" else jrc_network_heun
    return ref(W6, delay_steps6(P6["speed"][p]), P6["G"][p], u, y0, n_steps=round(KW["simulation_time"] / DT),
               dt=DT, decim=10)


@pytest.mark.parametrize("solver", ["euler", pytest.param("heun", marks=pytest.mark.slow)])
def test_windowed_sums_equal_numpy_and_do_not_depend_on_the_block(solver):
    ds = nmm.simulate(net6(), P6 | Y6, solver=solver, **KW)
    assert (ds["status"].values == 1).all()
    got = np.stack([ds[s].values for s in STATES], axis=2)  # (point, time, state, region)
    for p in range(4):
        ref = reference6(p, solver)
        for i, s in enumerate(STATES):
            assert rel_err(got[p, :, i], ref[:, i]) < TOL, (solver, p, s)
    # the same point in two blocks (points 0-1, then 3 after grouping by speed)
    np.testing.assert_array_equal(got[1], got[3])
    assert rel_err(got[0, :, 0], got[1, :, 0]) > 1e-3


def test_a_block_of_mixed_speeds_reads_each_points_own_rows_with_the_same_bits(monkeypatch):
    """The engine groups points by speed (blocks read the ring in windows); a block of mixed
    speeds, which the kernel still takes, reads every point's own rows: the same bits."""
    grouped = nmm.simulate(net6(), P6 | Y6, solver="euler", **KW)
    assert network_block(4, 6, int(delay_steps6(4.5).max()) + 2, "float64", 2) == 2
    monkeypatch.setattr(integrate_module, "speed_blocks",  # the points in their order: 2 and 3 share a block
                        lambda speeds, blk: (None, np.append(np.arange(0, len(speeds), blk), len(speeds))))
    mixed = nmm.simulate(net6(), P6 | Y6, solver="euler", **KW)
    for s in STATES:
        np.testing.assert_array_equal(mixed[s].values, grouped[s].values, err_msg=s)


def test_noise_streams_and_points_keep_their_order_when_grouped_by_speed():
    """Points 2 and 3 swap places in the kernel (grouped by speed): each keeps its stream."""
    kw = dict(noise={f"all/{U}": {"normal": [0, 20], "add": True}}, seed=5, solver="euler",
              outputs={"v": "pc/rpo_e_in/v"}, **KW)
    full = nmm.simulate(net6(), P6 | Y6, **kw)["v"].values
    for p in (2, 3):
        alone = nmm.simulate(net6(), {k: v[[p]] for k, v in P6.items()} | Y6, point_ids=[p], **kw)["v"].values
        np.testing.assert_array_equal(alone[0], full[p])
    assert rel_err(full[3], full[1]) > 1e-3  # same parameters, other streams


#: a unit driven by the time itself, so that the kernel's ``t`` counts
DRIVEN = """
drive_op:
  base: OperatorTemplate
  equations: "d/dt * x = -x/tau + a*sin(w*t) + r_in"
  variables: {x: output(0.0), tau: 0.01, a: 1.0, w: 62.83185307179586, r_in: input(0.0)}
drive_node:
  base: NodeTemplate
  operators: [drive_op]
"""
W_DRIVEN = np.array([[0, 1.0, 0.5], [0.7, 0, 1.0], [0.3, 0.8, 0]])
D_DRIVEN = np.array([[0, 2e-4, 3e-4], [5e-4, 0, 2e-4], [1e-4, 4e-4, 0]])  # 1-5 steps: short edges only


def driven_euler(n_steps: int) -> np.ndarray:
    """Plain numpy euler of the driven network: (n_steps, region) before each step."""
    d = np.rint(D_DRIVEN / DT).astype(int)
    X = np.zeros((n_steps + 1, 3))
    for k in range(n_steps):
        cin = [sum(W_DRIVEN[i, j] * X[k - d[i, j], j] for j in range(3) if W_DRIVEN[i, j] and k >= d[i, j])
               for i in range(3)]
        X[k + 1] = X[k] + DT * (-X[k] / 0.01 + np.sin(62.83185307179586 * k * DT) + np.array(cin))
    return X[:n_steps]


def test_a_unit_that_reads_the_time_sees_it_with_short_edges(tmp_path):
    """The short edges' ring rows once overwrote the step's time ``t``: a driven unit lost its drive."""
    (tmp_path / "driven.yaml").write_text(DRIVEN)
    coupling = {"source": "drive_node/drive_op/x", "target": "drive_node/drive_op/r_in"}
    net = nmm.Network.from_connectome(f"{tmp_path}/driven.drive_node", Connectome(W_DRIVEN), delays=D_DRIVEN,
                                      coupling=coupling)
    ds = nmm.simulate(net, None, simulation_time=0.05, step_size=DT, sampling_step_size=DT, solver="euler",
                      outputs={"x": "drive_node/drive_op/x"})
    got = ds["x"].values.reshape(-1, 3)
    ref = driven_euler(len(got))
    assert np.ptp(ref) > 1e-3  # the drive moves it
    assert np.max(np.abs(got - ref)) / np.ptp(ref) < TOL


def test_speed_blocks_group_each_speed_and_cut_it_into_blocks():
    order, starts = speed_blocks([4.0, 2.0, 4.0, 2.0, 4.0, 8.0], 2)
    assert order.tolist() == [1, 3, 0, 2, 4, 5] and starts.tolist() == [0, 2, 4, 5, 6]
    order, starts = speed_blocks([2.0, 2.0, 2.0, 4.0, 4.0], 2)  # already grouped: no copy
    assert order is None and starts.tolist() == [0, 2, 3, 5]
    assert speed_blocks(np.full(5, 4.0), 16)[1].tolist() == [0, 5]


# --- 4. noise ---------------------------------------------------------------------------

#: symmetric: without noise the regions are identical
W_SYM = np.ones((3, 3)) - np.eye(3)
U4 = np.array([150.0, 190.0, 230.0, 270.0])


def sym_net() -> nmm.Network:
    return nmm.Network.from_connectome(JRC, Connectome(W_SYM, labels=LABELS3), delays=W_SYM * 3e-4)


def noisy(params: dict, seed: int = 11, point_ids=None, sd: float = 20.0) -> np.ndarray:
    """pc/rpo_e_in/v of the symmetric network with noise on u, (point, time, region)."""
    noise = {f"all/{U}": {"normal": [0, sd], "add": True}}
    ds = nmm.simulate(sym_net(), params, noise=noise, seed=seed, point_ids=point_ids, solver="euler",
                      outputs={"v": "pc/rpo_e_in/v"}, **KW)
    return ds["v"].values


def same_u(n: int, region_a: float = 220.0) -> dict:
    """u = 220 on every region of ``n`` points; region a's own value (220 unless told):
    the runs of the tests below share one kernel with
    :func:`test_a_regional_value_of_a_noisy_parameter_is_its_mean`."""
    return {U: np.full(n, 220.0), f"a/{U}": np.full(n, region_a)}


@pytest.fixture(scope="module")
def noisy_full():
    return noisy(same_u(4))


def test_noise_is_reproducible_and_independent_of_the_grouping_of_points(noisy_full):
    full = noisy_full
    assert rel_err(full[1], full[0]) > 1e-3  # the points differ by their streams only
    np.testing.assert_array_equal(noisy(same_u(4)), full)
    np.testing.assert_array_equal(noisy(same_u(2), point_ids=[1, 3]), full[[1, 3]])
    # without point_ids the sub-batch draws the streams of points 0 and 1
    np.testing.assert_array_equal(noisy(same_u(2)), full[[0, 1]])
    assert rel_err(noisy(same_u(2)), full[[1, 3]]) > 1e-3
    assert rel_err(noisy(same_u(4), seed=12), full) > 1e-3


def test_noise_differs_between_regions(noisy_full):
    full = noisy_full
    for a, b in ((0, 1), (0, 2), (1, 2)):
        assert rel_err(full[:, :, a], full[:, :, b]) > 1e-3
    # without noise the symmetric network's regions are identical
    quiet = nmm.simulate(sym_net(), {U: U4, "G": [1.0, 1.2, 1.4, 1.6], f"a/{U}": U4}, solver="euler", **KW)
    v = quiet["pc/rpo_e_in/v"].values
    np.testing.assert_array_equal(v[:, :, 0], v[:, :, 1])
    np.testing.assert_array_equal(v[:, :, 0], v[:, :, 2])


@pytest.mark.slow  # compiles kernel variants of its own (.ci/run runs it)
def test_additive_noise_is_drawn_around_each_points_own_value():
    # sd 0: u itself, which differs between the points
    v = noisy({U: U4}, sd=0.0)
    assert rel_err(v[1], v[0]) > 1e-3
    np.testing.assert_array_equal(noisy({U: U4[[1, 3]]}, point_ids=[1, 3]), noisy({U: U4})[[1, 3]])


def test_a_regional_value_of_a_noisy_parameter_is_its_mean(noisy_full):
    raised = noisy(same_u(4, region_a=420.0))
    assert rel_err(raised[:, :, 0], noisy_full[:, :, 0]) > 1e-2


# --- 5. per-region values ---------------------------------------------------------------

def test_one_region_set_by_update_var_equals_the_same_set_by_params():
    by_var = net5().update_var(node_vars={f"r3/{U}": 120.0})
    point = {"G": 1.3, "speed": 4.5}
    # only region r3's input changes
    vals = resolve_network_params(by_var.model, point)
    assert vals.regional == (by_var.model.unit.params.index(U),)
    np.testing.assert_array_equal(vals.PR[0, :, 0], [220.0, 220.0, 220.0, 120.0, 220.0])
    a = nmm.simulate(by_var, point | Y5, solver="euler", **KW)
    b = nmm.simulate(net5(), point | Y5 | {f"r3/{U}": 120.0}, solver="euler", **KW)
    for s in STATES:
        np.testing.assert_array_equal(a[s].values, b[s].values, err_msg=s)
    c = nmm.simulate(net5(), point | Y5 | {f"r3/{U}": 220.0}, solver="euler", **KW)
    assert rel_err(a["pc/rpo_e_in/v"].sel(region="r3").values, c["pc/rpo_e_in/v"].sel(region="r3").values) > 1e-2


@pytest.mark.parametrize("path", [U, f"all/{U}"])
def test_all_and_plain_unit_paths_set_every_region(net5_euler, path):
    net = net5().update_var(node_vars={path: 123.0, "all/pc/rpo_i/v": 1e-4})
    vals = resolve_network_params(net.model, None)
    assert vals.regional == () and vals.P[net.model.params.index(U), 0] == 123.0
    np.testing.assert_array_equal(vals.Y0[STATES.index("pc/rpo_i/v")], 1e-4)
    # a run's one-region value applies after every-region values, whatever the order
    vals = resolve_network_params(net.model, {f"r2/{U}": 50.0, path: 80.0})
    np.testing.assert_array_equal(vals.PR[0, :, 0], [80.0, 80.0, 50.0, 80.0, 80.0])
    # and in a run
    p = {path: P5[U]} | {k: v for k, v in P5.items() if k != U}
    ds = nmm.simulate(net5(), p | Y5, solver="euler", **KW)
    for s in STATES:
        np.testing.assert_array_equal(ds[s].values, net5_euler[s].values, err_msg=s)


def test_zero_coupling_makes_every_region_a_single_jansen_rit_column():
    p = P3 | {"G": np.array([0.0, 0.0, 1.5])}
    ds = nmm.simulate(net3(), p, solver="euler", **KW)
    u_b = P3[f"b/{U}"]
    single = nmm.simulate(JRC, {U: np.r_[P3[U], u_b]}, solver="euler", **KW)
    for s in STATES:
        ref = single[s].values
        for r in LABELS3:
            got = ds[s].sel(region=r).values
            for point in (0, 1):
                want = ref[3 + point] if r == "b" else ref[point]
                assert rel_err(got[point], want) < TOL, (s, r, point)
    # the coupled point is not
    assert rel_err(ds["pc/rpo_e_in/v"].sel(region="a").values[2], single["pc/rpo_e_in/v"].values[2]) > 1e-3


# --- 6. results -------------------------------------------------------------------------

def test_simulate_gives_point_time_region_with_labels_and_units(runs3):
    ds = runs3("net", "euler", "delays")
    for s in STATES:
        assert ds[s].dims == ("point", "time", "region")
        assert ds[s].attrs["units"] == ("V" if s.endswith("/v") else "V/s")
    assert tuple(ds["region"].values) == LABELS3 and ds["region"].attrs["units"] == "1"
    assert ds["time"].attrs["units"] == "s" and ds["time"].size == 200
    np.testing.assert_array_equal(ds[U].values, P3[U])
    np.testing.assert_array_equal(ds["G"].values, P3["G"])
    assert ds[U].attrs["units"] == "Hz"
    assert ds["status"].dims == ("point",)
    for name in list(ds.data_vars) + list(ds.coords):
        assert {"units", "long_name"} <= set(ds[name].attrs), name


def test_one_region_and_all_coordinates_keep_their_units(runs3):
    ds = runs3("net", "euler", "delays")
    assert ds[f"b/{U}"].attrs["units"] == "Hz"
    ds = nmm.simulate(net3(), {f"all/{U}": P3[U], "G": P3["G"], f"b/{U}": P3[f"b/{U}"]}, solver="euler", **KW)
    assert ds[f"all/{U}"].attrs["units"] == "Hz"


def test_the_speed_coordinate_is_in_metres_per_second(net5_euler):
    assert net5_euler["speed"].attrs["units"] == "m/s"


def test_run_gives_output_region_columns_equal_to_the_dataset():
    net = net3().update_var(node_vars={f"b/{U}": 100.0})
    df = net.run(KW["simulation_time"], DT, sampling_step_size=KW["sampling_step_size"])
    ds = net.simulate(None, **KW)
    assert df.columns.names == ["output", "region"]
    assert list(df.columns) == [(s, r) for s in STATES for r in LABELS3]
    np.testing.assert_array_equal(df.index.values, ds["time"].values)
    for s in STATES:
        for r in LABELS3:
            np.testing.assert_array_equal(df[(s, r)].values, ds[s].sel(region=r).values[0])
    assert np.abs(df[("pc/rpo_e_in/v", "b")] - df[("pc/rpo_e_in/v", "a")]).max() > 1e-4


def test_status_marks_the_diverged_point_only(runs3):
    # G * sum(w * rate) overflows to inf, then inf - inf in the synapse gives NaN
    p = P3 | Y3 | {"G": np.array([1.0, 1e308, 0.4])}
    ds = nmm.simulate(net3(), p, solver="euler", **KW)
    np.testing.assert_array_equal(ds["status"].values, [1, 2, 1])
    assert not np.isfinite(ds["pc/rpo_e_in/v"].values[1]).all()
    ok = runs3("net", "euler", "delays")
    for s in STATES:
        np.testing.assert_array_equal(ds[s].values[[0, 2]], ok[s].values[[0, 2]])


# --- 7. bad input -----------------------------------------------------------------------

W2 = np.array([[0.0, 1.0], [0.5, 0.0]])
L2 = np.array([[0.0, 10.0], [12.0, 0.0]])


def unit_def():
    return nmm.CircuitTemplate.from_yaml(JRC).definition


def make_net(**kw):
    kw.setdefault("connectome", Connectome(W2, lengths=L2))
    return nmm.Network.from_connectome(JRC, kw.pop("connectome"), **kw)


def simulate2(*, net=None, params=None, **kw):
    return nmm.simulate(net if net is not None else make_net(speed=4.0), params,
                        **({"simulation_time": 0.01, "step_size": DT} | kw))


def nm(weights=W2, lengths=None, **kw):
    return network_model(unit_def(), weights, lengths, ("a", "b")[:np.shape(weights)[0]],
                         **({"source": "pc/pro/m", "target": "pc/rpo_e_in/m_in", "speed": None} | kw))


def bad(case: str, call, error: type, match: str):
    return pytest.param(call, error, match, id=case)


DELAYS2 = Connectome(W2)  # no lengths: delays in seconds
NOISY_U = {U: {"normal": [220, 20]}}

BAD = [
    bad("weights not square (Connectome)", lambda: Connectome([[0.0, 1.0, 2.0]]), nmm.ConnectomeError,
        r"^weights is 1 x 3; connectome weights must be a square N x N matrix"),
    bad("weights not square (network_model)", lambda: nm(np.ones((1, 2))), nmm.TemplateError,
        r"^weights must be a square \(N, N\) matrix, got shape \(1, 2\)"),
    bad("lengths of another shape (Connectome)", lambda: Connectome(W2, lengths=np.ones((3, 3))), nmm.ConnectomeError,
        r"^lengths is 3 x 3 but the weights are 2 x 2; give lengths for the same regions"),
    bad("lengths of another shape (network_model)", lambda: nm(lengths=np.ones((3, 3))), nmm.TemplateError,
        r"^delays have shape \(3, 3\), the weights \(2, 2\)"),
    bad("delays of another shape", lambda: make_net(connectome=DELAYS2, delays=np.ones((3, 3))), nmm.TemplateError,
        r"have shape \(3, 3\), the weights \(2, 2\)"),
    bad("negative weight", lambda: Connectome([[0.0, -0.2], [1.0, 0.0]]), nmm.ConnectomeError,
        r"^weights\[0, 1\] = -0\.2 is negative; connectome weights must be >= 0\."),
    bad("NaN weight", lambda: Connectome([[0.0, np.nan], [1.0, 0.0]]), nmm.ConnectomeError,
        r"^weights\[0, 1\] is NaN; connectome weights must be finite \(write 0 where there is no connection\)"),
    bad("negative length", lambda: Connectome(W2, lengths=[[0.0, 3.0], [-1.0, 0.0]]), nmm.ConnectomeError,
        r"^lengths\[1, 0\] = -1\.0 is negative; tract lengths must be >= 0\."),
    bad("NaN length", lambda: Connectome(W2, lengths=[[0.0, np.nan], [1.0, 0.0]]), nmm.ConnectomeError,
        r"^lengths\[0, 1\] is NaN; tract lengths must be finite"),
    bad("negative weight (network_model)", lambda: nm(np.array([[0.0, -1.0], [1.0, 0.0]])), nmm.TemplateError,
        r"^weights\[0, 1\] = .*-1\.0.*; every entry must be finite and >= 0\."),
    bad("negative delay", lambda: make_net(connectome=DELAYS2, delays=[[0.0, 1e-3], [-1e-3, 0.0]]),
        nmm.TemplateError, r"\[1, 0\] = .*-0\.001.*; every entry must be finite and >= 0\."),
    bad("NaN delay", lambda: make_net(connectome=DELAYS2, delays=[[0.0, np.nan], [1e-3, 0.0]]), nmm.TemplateError,
        r"\[0, 1\] = .*nan.*; every entry must be finite and >= 0\."),
    bad("coupling source not in the unit",
        lambda: make_net(speed=4.0, coupling={"source": "pc/pro/mm", "target": "pc/rpo_e_in/m_in"}),
        nmm.TemplateError, r"^coupling source 'pc/pro/mm' is not a variable of 'JRC'\. Did you mean 'pc/pro/m'"),
    bad("coupling target not in the unit",
        lambda: make_net(speed=4.0, coupling={"source": "pc/pro/m", "target": "pc/rpo_e_in/m_inn"}),
        nmm.TemplateError,
        r"^coupling target 'pc/rpo_e_in/m_inn' is not a variable of 'JRC'\. Did you mean 'pc/rpo_e_in/m_in'"),
    bad("coupling target a constant",
        lambda: make_net(speed=4.0, coupling={"source": "pc/pro/m", "target": "pc/rpo_e_in/h"}),
        nmm.TemplateError,
        r"^coupling target 'pc/rpo_e_in/h' of 'JRC' is declared constant; the coupling must feed an input\("),
    bad("coupling target a state",
        lambda: make_net(speed=4.0, coupling={"source": "pc/pro/m", "target": "pc/rpo_e_in/v"}),
        nmm.TemplateError, r"^coupling target 'pc/rpo_e_in/v' of 'JRC' is declared output; the coupling must feed"),
    bad("coupling without a target", lambda: make_net(speed=4.0, coupling={"source": "pc/pro/m"}),
        nmm.TemplateError, r"^coupling must be \{source: <unit path>, target: <unit input path>\}"),
    bad("speed 0", lambda: make_net(speed=0.0), nmm.TemplateError,
        r"^speed = 0\.0; the conduction speed must be a positive number of m/s, e\.g\. 4\.0\."),
    bad("negative speed", lambda: make_net(speed=-2.0), nmm.TemplateError,
        r"^speed = -2\.0; the conduction speed must be a positive number of m/s"),
    bad("negative speed per point", lambda: simulate2(params={"speed": [4.0, -1.0]}), nmm.ParameterError,
        r"^speed = -1\.0; the conduction speed must be positive \(m/s\)\."),
    bad("speed 0 by update_var", lambda: make_net(speed=4.0).update_var(node_vars={"speed": 0.0}),
        nmm.ParameterError, r"^speed = 0\.0: it must be positive \(m/s\)\."),
    bad("speed without lengths", lambda: make_net(connectome=DELAYS2, speed=4.0), nmm.TemplateError,
        r"^speed = 4\.0 needs tract lengths, but connectome 'connectome' has none; give delays instead"),
    bad("speed per point without lengths",
        lambda: simulate2(net=make_net(connectome=DELAYS2, delays=L2 * 1e-4), params={"speed": 4.0}),
        nmm.ParameterError, r"^'speed' is not a parameter of this network: it has no tract lengths"),
    bad("both delays and speed", lambda: make_net(speed=4.0, delays=L2 * 1e-4), nmm.TemplateError,
        r"^give either delays \(time units\) or a speed \(delays = tract lengths / speed\), not both\."),
    bad("unknown region", lambda: simulate2(params={f"r99/{U}": 1.0}), nmm.ParameterError,
        r"^'r99' in 'r99/pc/rpo_e_in/u' is not a region of network 'JRC@connectome'\. Regions: r0, r1; 'all/'"),
    bad("unknown region by update_var", lambda: make_net(speed=4.0).update_var(node_vars={f"r99/{U}": 1.0}),
        nmm.ParameterError, r"^'r99' in 'r99/pc/rpo_e_in/u' is not a region"),
    bad("unknown unit path", lambda: simulate2(params={"pc/rpo_e_in/uu": 1.0}), nmm.ParameterError,
        r"^unknown path 'pc/rpo_e_in/uu' in network 'JRC@connectome'\. Did you mean 'pc/rpo_e_in/u'"),
    bad("unknown unit path on a region", lambda: simulate2(params={"r1/pc/rpo_e_in/uu": 1.0}), nmm.ParameterError,
        r"^unknown path 'r1/pc/rpo_e_in/uu' in network 'JRC@connectome'\. Did you mean 'pc/rpo_e_in/u'"),
    bad("a computed variable", lambda: simulate2(params={"r1/pc/pro/m": 1.0}), nmm.ParameterError,
        r"^'r1/pc/pro/m' is not a parameter: 'pc/pro/m' is computed from other variables"),
    bad("an output on one region", lambda: simulate2(outputs={"v": "r0/pc/pro/v"}), nmm.ParameterError,
        r"^outputs 'r0/pc/pro/v' addresses one region; outputs apply to every region: give 'pc/pro/v' \(or all/"),
    bad("noise on one region", lambda: simulate2(noise={f"r0/{U}": {"normal": [0, 1]}}), nmm.ParameterError,
        r"^noise 'r0/pc/rpo_e_in/u' addresses one region"),
    bad("solver scipy", lambda: simulate2(solver="scipy"), nmm.NMMError,
        r"^solver 'scipy' cannot integrate a network; use 'euler', 'heun' or 'rk4'\.$"),
    bad("heun, noise and a zero-step delay", lambda: simulate2(net=make_net(speed=400.0), solver="heun", noise=NOISY_U),
        nmm.NMMError, r"^the edge r1 -> r0 has a delay shorter than one step; with noise or random parameters, heun "),
    bad("heun, state noise and an instantaneous edge",
        lambda: simulate2(net=make_net(connectome=DELAYS2, delays=[[0, 0.0], [1e-3, 0]]), solver="heun",
                          noise={"pc/rpo_e_in/v": 1e-3}),
        nmm.NMMError, r"^the edge r1 -> r0 has a delay shorter than one step; .*Use solver 'euler', a smaller step"),
    bad("edge_vars",
        lambda: make_net(speed=4.0).update_var(edge_vars=[("r0/pc/pro/m", "r1/pc/rpo_e_in/m_in", {"weight": 2.0})]),
        nmm.ParameterError, r"^a network's edges are its connectome: change G \(every weight\) or speed"),
]


def test_bad_matrix_files_are_named(tmp_path):
    np.savetxt(tmp_path / "w.csv", np.ones((2, 3)), delimiter=",")
    np.savetxt(tmp_path / "ok.csv", W2, delimiter=",")
    np.savetxt(tmp_path / "len.csv", [[0.0, -3.0], [1.0, 0.0]], delimiter=",")
    with pytest.raises(nmm.ConnectomeError, match=r"^weights \(from '.*w\.csv'\) is 2 x 3; connectome weights "
                       r"must be a square N x N matrix") as info:
        load_connectome({"weights": tmp_path / "w.csv"})
    assert "\n" not in str(info.value)
    with pytest.raises(nmm.ConnectomeError, match=r"^lengths\[0, 1\] = -3\.0 \(from '.*len\.csv'\) is negative"):
        load_connectome({"weights": tmp_path / "ok.csv", "lengths": tmp_path / "len.csv"})


@pytest.mark.parametrize("call, error, match", BAD)
def test_bad_input_raises_a_one_line_error(call, error, match):
    with pytest.raises(error, match=match) as info:
        call()
    assert isinstance(info.value, nmm.NMMError)
    assert "\n" not in str(info.value)


def test_the_heun_case_fails_for_its_delays_only():
    """10 mm at 400 m/s is 0.25 steps; at 4 m/s the same network has 25 steps and heun
    plans with noise; without noise heun and rk4 take the zero-step edges."""
    assert make_net(speed=400.0).model.lengths.max() / (400.0 * 1e3) / DT < 0.5
    short = {"simulation_time": 0.01, "step_size": DT}
    assert make_network_plan(make_net(speed=4.0).model, None, solver="heun", noise=NOISY_U, **short).network.dmin == 25
    for solver in ("heun", "rk4"):
        assert make_network_plan(make_net(speed=400.0).model, None, solver=solver, **short).network.dmin == 0


def test_the_zero_step_refusal_names_the_solver_used():
    with pytest.raises(nmm.NMMError, match=r"rk4"):
        simulate2(net=make_net(speed=400.0), solver="rk4", noise=NOISY_U)


def test_bad_delays_are_called_delays():
    with pytest.raises(nmm.TemplateError, match=r"^delays\[1, 0\] = -0\.001;"):
        make_net(connectome=DELAYS2, delays=[[0.0, 1e-3], [-1e-3, 0.0]])
    with pytest.raises(nmm.TemplateError, match=r"^delays have shape \(3, 3\)"):
        make_net(connectome=DELAYS2, delays=np.ones((3, 3)))
