"""Shared fixtures and the list of shipped models used by the conformance suite."""
from __future__ import annotations

import importlib.util

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
