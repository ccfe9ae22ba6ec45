"""What every solver declares, and the interface of the fixed-step code generators.

A solver is an object whose class attributes say what it can do; callers read them
(``solver.stochastic``, ``solver.supports_delays``, ...) instead of comparing names.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

#: ``rhs(state_names, time_name, out_prefix)`` -> code lines that define
#: ``f"{out_prefix}{i}"`` = d state_i / dt evaluated at the given names
RhsWriter = Callable[[Sequence[str], str, str], list[str]]
#: ``const(value)`` -> the name of a typed constant in the generated module
ConstWriter = Callable[[float], str]


class Solver:
    """An integration method.

    Attributes
    ----------
    name : str
        The name users pass (``solver='rk4'``).
    order : int
        Order of convergence of the deterministic scheme (0 when adaptive).
    fixed_step : bool
        Integrates with the fixed ``step_size`` inside the generated batch kernel.
    stochastic : bool
        Integrates additive white noise on states (dX = f dt + sigma dW).
    supports_delays : bool
        Integrates discrete edge delays (ring buffers).
    supports_inputs : bool
        Reads time-series inputs and parameters redrawn every step.
    takes_options : bool
        Accepts extra keyword options (``method``, ``rtol``, ...).
    interpolates_inputs : bool
        Reads time-series inputs by linear interpolation at any time (adaptive steps),
        without noise or random parameters.
    """

    name: str = ""
    order: int = 0
    fixed_step: bool = True
    stochastic: bool = False
    supports_delays: bool = True
    supports_inputs: bool = True
    takes_options: bool = False
    interpolates_inputs: bool = False

    def __repr__(self) -> str:
        return f"<solver {self.name!r}>"


class FixedStepScheme(Solver):
    """A one-step scheme with a fixed step ``dt``.

    Subclasses set :attr:`name`, :attr:`order` and :attr:`stochastic` and implement
    :meth:`step_lines`.
    """

    def step_lines(self, x: Sequence[str], t: str, dt: str, rhs: RhsWriter, const: ConstWriter,
                   noise: Mapping[int, str] | None = None) -> list[str]:
        """Code lines that advance the states named ``x`` from time ``t`` by ``dt``.

        The lines must define ``f"{x[i]}_new"`` for every state. ``noise`` maps a state
        index to the name of its Wiener increment ``sigma * sqrt(dt) * xi`` for the step.
        """
        raise NotImplementedError
