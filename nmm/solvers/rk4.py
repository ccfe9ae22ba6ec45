"""The classical fourth-order Runge-Kutta scheme (order 4)."""
from __future__ import annotations

from collections.abc import Mapping, Sequence

from .base import ConstWriter, FixedStepScheme, RhsWriter


class RK4(FixedStepScheme):
    name = "rk4"
    order = 4

    def step_lines(self, x: Sequence[str], t: str, dt: str, rhs: RhsWriter, const: ConstWriter,
                   noise: Mapping[int, str] | None = None) -> list[str]:
        if noise:
            raise ValueError("rk4 does not integrate noise; use 'euler' (Euler-Maruyama) or 'heun'")
        half, sixth, two = const(0.5), const(1.0 / 6.0), const(2.0)
        n = len(x)
        lines = [f"hdt = {half} * {dt}", f"t_h = {t} + hdt", f"t_1 = {t} + {dt}"]
        lines += rhs(x, t, "k1_")
        lines += [f"a_{i} = {xi} + hdt * k1_{i}" for i, xi in enumerate(x)]
        lines += rhs([f"a_{i}" for i in range(n)], "t_h", "k2_")
        lines += [f"b_{i} = {xi} + hdt * k2_{i}" for i, xi in enumerate(x)]
        lines += rhs([f"b_{i}" for i in range(n)], "t_h", "k3_")
        lines += [f"c_{i} = {xi} + {dt} * k3_{i}" for i, xi in enumerate(x)]
        lines += rhs([f"c_{i}" for i in range(n)], "t_1", "k4_")
        lines += [
            f"{xi}_new = {xi} + ({sixth} * {dt}) * (k1_{i} + {two} * (k2_{i} + k3_{i}) + k4_{i})"
            for i, xi in enumerate(x)
        ]
        return lines
