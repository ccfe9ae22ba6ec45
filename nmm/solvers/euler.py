"""Forward Euler: ``x_{n+1} = x_n + dt f(t_n, x_n)`` (order 1)."""
from __future__ import annotations

from .base import FixedStepScheme


class Euler(FixedStepScheme):
    name = "euler"
    order = 1

    def step_lines(self, x, t, dt, rhs, const):
        lines = rhs(x, t, "k1_")
        lines += [f"{xi}_new = {xi} + {dt} * k1_{i}" for i, xi in enumerate(x)]
        return lines
