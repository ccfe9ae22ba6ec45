"""The interface of fixed-step schemes."""
from __future__ import annotations

from collections.abc import Callable, Sequence

#: ``rhs(state_names, time_name, out_prefix)`` -> code lines that define
#: ``f"{out_prefix}{i}"`` = d state_i / dt evaluated at the given names
RhsWriter = Callable[[Sequence[str], str, str], list[str]]
#: ``const(value)`` -> the name of a typed constant in the generated module
ConstWriter = Callable[[float], str]


class FixedStepScheme:
    """A one-step scheme with a fixed step ``dt``.

    Subclasses set :attr:`name` and :attr:`order` and implement :meth:`step_lines`.
    """

    name: str = ""
    order: int = 0

    #: whether the scheme integrates additive noise (dX = f dt + sigma dW)
    stochastic: bool = False

    def step_lines(self, x: Sequence[str], t: str, dt: str, rhs: RhsWriter, const: ConstWriter,
                   noise: dict | None = None) -> list[str]:
        """Code lines that advance the states named ``x`` from time ``t`` by ``dt``.

        The lines must define ``f"{x[i]}_new"`` for every state. ``noise`` maps a state
        index to the name of its Wiener increment ``sigma * sqrt(dt) * xi`` for the step.
        """
        raise NotImplementedError
