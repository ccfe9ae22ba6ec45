"""Integration schemes, one per file, and the one registry of their names.

Fixed-step schemes (:mod:`.euler`, :mod:`.heun`, :mod:`.rk4`) are code generators: each
writes the lines of one step for the generated batch kernel, so the whole time loop runs
inside compiled code. ``'scipy'`` integrates point by point with
:func:`scipy.integrate.solve_ivp` (adaptive step size) and lives in :mod:`.scipy_ivp`.
What a solver can do is an attribute of its object (:class:`.base.Solver`).
"""
from __future__ import annotations

from ..errors import NMMError, did_you_mean
from .base import FixedStepScheme, Solver
from .euler import Euler
from .heun import Heun
from .rk4 import RK4
from .scipy_ivp import ScipyIVP

__all__ = ["Solver", "FixedStepScheme", "FIXED_STEP", "SOLVERS", "REGISTRY", "get_solver", "Euler", "Heun",
           "RK4", "ScipyIVP"]

#: every solver by name
REGISTRY: dict[str, Solver] = {s.name: s for s in (Euler(), Heun(), RK4(), ScipyIVP())}
#: fixed-step schemes by name
FIXED_STEP: dict[str, FixedStepScheme] = {n: s for n, s in REGISTRY.items() if isinstance(s, FixedStepScheme)}
#: every solver name ``run``/``simulate`` accept
SOLVERS: tuple[str, ...] = tuple(REGISTRY)


def get_solver(solver: str | Solver, where: str = "solver") -> Solver:
    """The solver object of a name (or the object itself).

    Raises
    ------
    NMMError
        If the name is unknown; the message lists the solvers.
    """
    if isinstance(solver, Solver):
        return solver
    try:
        return REGISTRY[solver]
    except (KeyError, TypeError):
        raise NMMError(f"unknown {where} {solver!r}; choose one of {', '.join(repr(s) for s in SOLVERS)}."
                       + did_you_mean(str(solver), SOLVERS)) from None
