"""Forward Euler: ``x_{n+1} = x_n + dt f(t_n, x_n)`` (order 1); with additive noise,
Euler-Maruyama: ``+ sigma sqrt(dt) xi_n`` (strong order 1 for additive noise)."""
from __future__ import annotations

from collections.abc import Mapping, Sequence

from .base import ConstWriter, FixedStepScheme, RhsWriter


class Euler(FixedStepScheme):
    name = "euler"
    order = 1
    stochastic = True

    def step_lines(self, x: Sequence[str], t: str, dt: str, rhs: RhsWriter, const: ConstWriter,
                   noise: Mapping[int, str] | None = None) -> list[str]:
        noise = noise or {}
        lines = rhs(x, t, "k1_")
        lines += [f"{xi}_new = {xi} + {dt} * k1_{i}" + (f" + {noise[i]}" if i in noise else "")
                  for i, xi in enumerate(x)]
        return lines
