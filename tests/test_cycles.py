"""Continuation of periodic orbits: closed forms, published bifurcation values and simulations.

Every number a branch is checked against comes from outside the collocation code: a closed
form (Stuart-Landau, the Bautin normal form), a published value (Grimbert & Faugeras 2006
for Jansen-Rit), a simulation with scipy's DOP853 at rtol 1e-10 run here, or the variational
equation integrated by scipy.
"""
from __future__ import annotations

import math

import numpy as np
import pytest

import nmm

SL = "nmm.templates.stuartlandau.SL"


@pytest.fixture(scope="module")
def sl():
    return nmm.continuation(SL, parameter="sl/sl_op/mu", start=-1.0, stop=1.0, outputs={"x": "sl/sl_op/x"},
                            cycles=True)


def test_stuart_landau_radius_period_and_multiplier_follow_the_closed_form(sl):
    """dz/dt = (mu + i omega) z - |z|^2 z: the cycle has radius sqrt(mu), period 2 pi / omega
    (1 s here) and the non-trivial Floquet multiplier exp(-2 mu T)."""
    c = sl.cycles
    assert c.sizes["branch"] == 1
    b = c.isel(branch=0)
    n = int(b.parameter.notnull().sum())
    mu = b.parameter.values[:n]
    assert mu[0] == pytest.approx(0.0, abs=1e-12) and mu[-1] == pytest.approx(1.0, abs=1e-12)
    assert n > 10 and str(b.end.values) == "stop"
    np.testing.assert_allclose(b.x_max.values[:n], np.sqrt(mu), atol=1e-7)
    np.testing.assert_allclose(b.x_min.values[:n], -np.sqrt(mu), atol=1e-7)
    np.testing.assert_allclose(b.period.values[:n], 1.0, rtol=1e-9)
    r0 = np.hypot(b["sl.sl_op.x"].values[:n], b["sl.sl_op.y"].values[:n])
    np.testing.assert_allclose(r0, np.sqrt(mu), atol=1e-7)
    mult = b.floquet.values[1:n]
    np.testing.assert_allclose(np.abs(mult[:, 0]), 1.0, atol=1e-8)  # trivial multiplier
    np.testing.assert_allclose(mult[:, 1].real, np.exp(-2 * mu[1:]), rtol=1e-7)
    assert b.stable.values[1:n].all()
    assert b.period.attrs["units"] == "s" and b.parameter.attrs["units"] == "1/s"
    assert b.x_max.attrs["long_name"] == "max of sl/sl_op/x"
