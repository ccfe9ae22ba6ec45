"""Integration schemes.

Fixed-step schemes (:mod:`.euler`, :mod:`.heun`, :mod:`.rk4`) are code generators: each
writes the lines of one step for the generated batch kernel, so the whole time loop runs
inside compiled code. ``'scipy'`` integrates point by point with
:func:`scipy.integrate.solve_ivp` (adaptive step size) and lives in :mod:`.scipy_ivp`.
"""
from __future__ import annotations

from .base import FixedStepScheme
from .euler import Euler
from .heun import Heun
from .rk4 import RK4

__all__ = ["FixedStepScheme", "FIXED_STEP", "SOLVERS", "Euler", "Heun", "RK4"]

#: fixed-step schemes by name
FIXED_STEP: dict[str, FixedStepScheme] = {s.name: s for s in (Euler(), Heun(), RK4())}
#: every solver name ``run``/``simulate`` accept
SOLVERS = (*FIXED_STEP, "scipy")
