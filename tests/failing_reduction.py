"""A reduction that fails for tiles with a point at u > 350 (failure injection for the sweep tests).

Calls are counted in this module (the test's client runs tasks in threads of its process).
"""
from __future__ import annotations

import numpy as np

from sweeps.reductions import Reduction, VarInfo

CALLS: list = []


def calls(_folder=None) -> int:
    return len(CALLS)


def fails_above_350(options=None) -> Reduction:
    def variables(outputs, units, sim):
        return {"injected": VarInfo((), {"units": "1", "long_name": "test reduction"})}

    def compute(res):
        u = res.params["pc/rpo_e_in/u"]
        if (u > 350).any():
            CALLS.append(float(u.max()))
            raise RuntimeError(f"injected failure at u = {u.max()}")
        return {"injected": np.zeros(u.size)}

    return Reduction("fails_above_350", variables, compute)
