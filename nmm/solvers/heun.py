"""Heun's method (explicit trapezoid, order 2), as PyRates' ``heun``:
``x~ = x_n + dt f(t_n, x_n)``, ``x_{n+1} = x_n + dt/2 (f(t_n, x_n) + f(t_n + dt, x~))``.

With additive noise it is the stochastic Heun scheme: the same increment
``sigma sqrt(dt) xi_n`` enters the predictor and the corrector.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence

from .base import ConstWriter, FixedStepScheme, RhsWriter


class Heun(FixedStepScheme):
    name = "heun"
    order = 2
    stochastic = True

    def step_lines(self, x: Sequence[str], t: str, dt: str, rhs: RhsWriter, const: ConstWriter,
                   noise: Mapping[int, str] | None = None) -> list[str]:
        noise = noise or {}
        half = const(0.5)
        lines = rhs(x, t, "k1_")
        pred = [f"a_{i}" for i in range(len(x))]
        lines += [f"a_{i} = {xi} + {dt} * k1_{i}" + (f" + {noise[i]}" if i in noise else "")
                  for i, xi in enumerate(x)]
        lines.append(f"t_2 = {t} + {dt}")
        lines += rhs(pred, "t_2", "k2_")
        lines += [f"{xi}_new = {xi} + ({half} * {dt}) * (k1_{i} + k2_{i})" + (f" + {noise[i]}" if i in noise else "")
                  for i, xi in enumerate(x)]
        return lines
