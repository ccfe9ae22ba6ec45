"""Continuation of equilibria: published and closed-form bifurcation values."""
from __future__ import annotations

import math
import os
import subprocess
import sys

import numpy as np
import pytest
from scipy.optimize import brentq

import nmm

JRC = "nmm.templates.jansenrit.JRC"


@pytest.fixture(scope="module")
def jrc():
    return nmm.continuation(JRC, parameter="pc/rpo_e_in/u", start=-50.0, stop=400.0, outputs={"v": "pc/pro/v"})


def sig4(x):
    return f"{x:.4g}"


def test_jrc_matches_grimbert_faugeras_2006(jrc):
    sp = jrc.special_points
    hopf = sp[sp.kind == "hopf"]["value"].to_numpy()
    fold = sp[sp.kind == "fold"]["value"].to_numpy()
    # Grimbert & Faugeras (2006), Neural Computation 18:3052: Hopf at 89.83 and 315.70 Hz,
    # fold (SNIC of the spike-like cycles) at 113.58 Hz
    for published in (89.83, 315.70):
        assert sig4(published) in {sig4(v) for v in hopf}
    assert sig4(113.58) in {sig4(v) for v in fold}
    # Hopf frequencies near the alpha band on the upper branch
    f = sp[(sp.kind == "hopf") & (sp.value > 80)]["frequency"].to_numpy()
    assert np.all((f > 9) & (f < 12))
    assert np.isnan(sp[sp.kind == "fold"]["frequency"]).all()


def test_jrc_every_special_point_is_found(jrc):
    """Every change in the number of unstable eigenvalues along the branch is a special point."""
    b = jrc.branch.isel(branch=0)
    n = int(b.parameter.notnull().sum())
    nu = (b.eig_real.values[:n] > 0).sum(axis=1)
    changes = np.flatnonzero(np.diff(nu))
    steps = sorted(jrc.special_points["step"].tolist())
    assert sorted(changes.tolist()) == steps
    # kinds: a real eigenvalue crossing (change by 1) is a fold, a pair (change by 2) a Hopf point
    by_step = dict(zip(jrc.special_points["step"], jrc.special_points["kind"]))
    for c in changes:
        assert by_step[c] == ("fold" if abs(nu[c + 1] - nu[c]) == 1 else "hopf")


def test_jrc_branch_is_s_shaped_and_clipped(jrc):
    b = jrc.branch.isel(branch=0)
    p = b.parameter.dropna("step").values
    assert p[0] == pytest.approx(-50.0) and p[-1] == pytest.approx(400.0)
    assert (np.diff(np.sign(np.diff(p))) != 0).sum() == 2  # turns at the two folds
    assert b.v.attrs["units"] == "V" and b.parameter.attrs["units"] == "Hz"
    # equilibria are equilibria
    c = nmm.CircuitTemplate.from_yaml(JRC)
    m = c.model
    cm = nmm.compile_model(m, {s: m.expression(s) for s in m.states}, "rk4")
    k = m.params.index("pc/rpo_e_in/u")
    for i in range(0, len(p), 50):
        pv = np.array(m.param_values)
        pv[k] = p[i]
        x = np.array([b[s.replace("/", ".")].values[i] for s in m.states])
        assert np.max(np.abs(cm.rhs(0.0, x, pv))) < 1e-6


def test_stable_low_branch_matches_simulation(jrc):
    # at u = 50 Hz the lower branch is stable and is where the simulation rests
    b = jrc.branch.isel(branch=0)
    stable_lower = b.where(b.stable & (b.step < 100), drop=True)
    u = 50.0
    v_branch = np.interp(u, stable_lower.parameter.values, stable_lower.v.values)
    df = nmm.CircuitTemplate.from_yaml(JRC).update_var(node_vars={"pc/rpo_e_in/u": u}).run(
        simulation_time=3.0, step_size=1e-4, sampling_step_size=1e-2, outputs={"v": "pc/pro/v"}, solver="rk4")
    assert df["v"].iloc[-1] == pytest.approx(v_branch, rel=1e-4)


def test_qif_folds_match_the_closed_form_bistability_boundary():
    """Montbrio, Pazo & Roxin (2015): fixed points of r' = D/pi + 2rv, v' = v^2 + eta + J r - pi^2 r^2
    (tau = 1) satisfy eta(r) = pi^2 r^2 - J r - D^2 / (4 pi^2 r^2); the folds, where
    d eta / d r = 0, are the bistability boundary: J = 2 pi^2 r + D^2 / (2 pi^2 r^3)."""
    J, D = 15.0, 1.0
    g = lambda r: 2 * math.pi**2 * r + D**2 / (2 * math.pi**2 * r**3) - J  # noqa: E731
    rmin = (3 * D**2 / (4 * math.pi**4)) ** 0.25  # minimum of g
    roots = [brentq(g, 1e-4, rmin), brentq(g, rmin, 10.0)]
    expected = sorted(math.pi**2 * r**2 - J * r - D**2 / (4 * math.pi**2 * r**2) for r in roots)
    res = nmm.continuation("nmm.templates.qif.qif", parameter="p/qif_op/eta", start=-10.0, stop=0.0)
    folds = sorted(res.special_points.query("kind == 'fold'")["value"])
    assert len(folds) == 2
    np.testing.assert_allclose(folds, expected, rtol=1e-8)


def test_stuart_landau_hopf_is_exact():
    res = nmm.continuation("nmm.templates.stuartlandau.SL", parameter="sl/sl_op/mu", start=-1.0, stop=1.0)
    sp = res.special_points
    assert list(sp.kind) == ["hopf"]
    assert abs(sp.value.iloc[0]) < 1e-8
    assert sp.frequency.iloc[0] == pytest.approx(1.0, rel=1e-10)  # omega = 2 pi rad/s


def test_several_starts_find_disconnected_branches(tmp_path):
    # x' = -(x - p)(x - p + 2): two parallel lines of equilibria, x = p (stable), x = p - 2
    (tmp_path / "two.yaml").write_text(
        "op:\n  base: OperatorTemplate\n  equations: \"d/dt * x = -(x - p)*(x - p + 2)\"\n"
        "  variables: {x: output(0.0), p: 0.0}\n"
        "node: {base: NodeTemplate, operators: [op]}\n")
    c = nmm.CircuitTemplate.from_yaml(str(tmp_path / "two.yaml"), "node")
    res = nmm.continuation(c, parameter="node/op/p", start=-1.0, stop=1.0,
                           starts=[np.array([-1.0]), np.array([-3.0]), np.array([-1.0 + 1e-9])])
    b = res.branch
    assert b.sizes["branch"] == 2  # the third start lies on the first branch
    for i, offset, stable in ((0, 0.0, True), (1, -2.0, False)):
        p = b.parameter.isel(branch=i).dropna("step").values
        x = b["node.op.x"].isel(branch=i).values[: p.size]
        np.testing.assert_allclose(x, p + offset, atol=1e-9)
        assert bool(b.stable.isel(branch=i).values[: p.size].all()) is stable
    assert res.special_points.empty


def test_unknown_parameter():
    with pytest.raises(nmm.ParameterError, match=r"'pc/rpo_e_in/uu' is not a parameter.*Did you mean 'pc/rpo_e_in/u'"):
        nmm.continuation(JRC, parameter="pc/rpo_e_in/uu", start=0.0, stop=1.0)


def test_two_parameter_fold_loci_follow_the_closed_form(tmp_path):
    """Fold loci of the MPR model in (eta, J) as dask tasks, stored in zarr."""
    import xarray as xr
    from distributed import Client

    from sweeps.loci import two_parameter_loci

    Js = np.array([8.0, 12.0, 16.0, 20.0])
    with Client(processes=False, n_workers=2, threads_per_worker=1, dashboard_address=":0") as c:
        ds = two_parameter_loci("nmm.templates.qif.qif", "p/qif_op/eta", -15.0, 0.0,
                                "p/qif_op/r->p/qif_op/r_in/weight", Js, client=c, store=str(tmp_path / "l.zarr"))
    back = xr.open_zarr(tmp_path / "l.zarr").load()
    xr.testing.assert_equal(ds, back)
    for i, J in enumerate(Js):
        g = lambda r: 2 * math.pi**2 * r + 1 / (2 * math.pi**2 * r**3) - J  # noqa: E731
        rmin = (3 / (4 * math.pi**4)) ** 0.25
        roots = [brentq(g, 1e-4, rmin), brentq(g, rmin, 10.0)]
        expected = sorted(math.pi**2 * r**2 - J * r - 1 / (4 * math.pi**2 * r**2) for r in roots)
        got = sorted(back.value.values[i][back.kind.values[i] == 0])
        np.testing.assert_allclose(got, expected, rtol=1e-7)
    assert (back.failed.values == 0).all()


def _sorted_eigs(re, im):
    z = np.asarray(re) + 1j * np.asarray(im)
    return z[np.lexsort((z.imag, z.real))]


def test_qif_eigenvalues_along_the_branch_are_those_of_the_closed_form_jacobian():
    """r' = D/pi + 2 r v, v' = v^2 + eta + J r - pi^2 r^2 (tau = 1, D = 1, J = 15) has the
    Jacobian [[2v, 2r], [J - 2 pi^2 r, 2v]], eigenvalues 2v +- sqrt(2r (J - 2 pi^2 r))."""
    res = nmm.continuation("nmm.templates.qif.qif", parameter="p/qif_op/eta", start=-10.0, stop=0.0)
    b = res.branch.isel(branch=0)
    n = int(b.parameter.notnull().sum())
    r, v = b["p.qif_op.r"].values[:n], b["p.qif_op.v"].values[:n]
    root = np.sqrt((2 * r * (15.0 - 2 * math.pi**2 * r)).astype(complex))
    for i in range(n):
        expect = _sorted_eigs(*zip(*[(z.real, z.imag) for z in (2 * v[i] + root[i], 2 * v[i] - root[i])]))
        got = _sorted_eigs(b.eig_real.values[i], b.eig_imag.values[i])
        np.testing.assert_allclose(got, expect, rtol=1e-8, atol=1e-8, err_msg=str(i))


def test_jrc_eigenvalues_along_the_branch_match_finite_differences(jrc):
    """The continuation's eigenvalues (from the analytic Jacobian) against those of a
    complex-step finite-difference Jacobian (Im f(x + i h e_j) / h, exact to round-off)
    of a plain numpy right-hand side, at points of the branch. The synapses' double
    eigenvalues (-1/tau, a Jordan block) split by the square root of any perturbation,
    so the characteristic polynomials are compared: their coefficients depend smoothly
    on the matrix."""
    import sympy as sp

    m = nmm.CircuitTemplate.from_yaml(JRC).model
    sig = {"sigmoid": lambda x: 1.0 / (1.0 + np.exp(-x))}
    f = sp.lambdify([*m.state_symbols, *m.param_symbols, nmm.model.TIME], list(m.rhs), modules=[sig, "numpy"])
    b = jrc.branch.isel(branch=0)
    n = int(b.parameter.notnull().sum())
    k = m.params.index("pc/rpo_e_in/u")
    checked = 0
    for i in range(0, n, max(1, n // 12)):
        p = np.array(m.param_values, dtype=float)
        p[k] = b.parameter.values[i]
        x = np.array([b[s.replace("/", ".")].values[i] for s in m.states])
        J = np.empty((x.size, x.size))
        for j in range(x.size):
            e = np.zeros(x.size, dtype=complex)
            e[j] = 1e-30j
            J[:, j] = np.imag(np.array(f(*(x + e), *p, 0.0), dtype=complex)) / 1e-30
        expect = np.poly(J)
        got = np.real_if_close(np.poly(b.eig_real.values[i] + 1j * b.eig_imag.values[i]))
        assert np.isrealobj(got)
        np.testing.assert_allclose(got, expect, rtol=1e-9, err_msg=str(i))
        checked += 1
    assert checked >= 10


@pytest.mark.slow  # two fresh processes importing sweeps: ~12 s
def test_locus_task_keys_are_the_same_in_every_process():
    """dask keys must be deterministic: Python's str hash is salted per process."""
    code = "import sweeps.loci as l; print(l._digest(('t', 'p', 1.0, {'a': 2.0}, ())))"
    keys = {subprocess.run([sys.executable, "-c", code], env={**os.environ, "PYTHONHASHSEED": seed},
                           capture_output=True, text=True, check=True).stdout for seed in ("1", "2")}
    assert len(keys) == 1
