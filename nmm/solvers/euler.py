"""Forward Euler: ``x_{n+1} = x_n + dt f(t_n, x_n)`` (order 1); with additive noise,
Euler-Maruyama: ``+ sigma sqrt(dt) xi_n`` (strong order 1 for additive noise)."""
from __future__ import annotations

from .base import FixedStepScheme


class Euler(FixedStepScheme):
    name = "euler"
    order = 1
    stochastic = True

    def step_lines(self, x, t, dt, rhs, const, noise=None):
        noise = noise or {}
        lines = rhs(x, t, "k1_")
        lines += [f"{xi}_new = {xi} + {dt} * k1_{i}" + (f" + {noise[i]}" if i in noise else "")
                  for i, xi in enumerate(x)]
        return lines
