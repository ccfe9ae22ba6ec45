"""Printing sympy expressions as numba source with typed constants.

Every number becomes a module-level constant of the kernel's float type (numba types an
``int * float32`` product as float64, so bare literals would silently promote float32
kernels). ``exp`` becomes the branch-free :func:`nmm._fastmath.fexp64` (or ``fexp32``)
in batch kernels and ``math.exp`` in reference functions; small integer powers become
products.

A value that is not a finite real float64 (``zoo``, ``nan``, ``oo``, ``I``, a number beyond
the float64 range) cannot become kernel code: the printer raises :class:`EquationError`
naming it. The equation parser refuses such input first; this is the last guard.
"""
from __future__ import annotations

import math
from collections.abc import Mapping

import sympy as sp

from .equations import sigmoid
from .errors import EquationError

__all__ = ["Printer"]

_MATH = {
    sp.log: "math.log",
    sp.sin: "math.sin",
    sp.cos: "math.cos",
    sp.tan: "math.tan",
    sp.tanh: "math.tanh",
    sp.sinh: "math.sinh",
    sp.cosh: "math.cosh",
    sp.atan: "math.atan",
    sp.asin: "math.asin",
    sp.acos: "math.acos",
    sp.Abs: "abs",
}


class Printer:
    """Turns sympy expressions into source text.

    Parameters
    ----------
    names : dict of sympy.Symbol to str
        The variable name of each symbol in the generated code.
    dtype : {'float64', 'float32'}
    fast_exp : bool
        Use the vectorizable exponential instead of ``math.exp``.
    prefix : str, default: '_k'
        Prefix of the constants' names.
    """

    def __init__(self, names: Mapping[sp.Basic, str], dtype: str = "float64", fast_exp: bool = True,
                 prefix: str = "_k") -> None:
        self.names: dict[sp.Basic, str] = dict(names)
        self.prefix = prefix
        self.dtype = dtype
        self.fast_exp = fast_exp
        self.consts: dict[float, str] = {}

    def const(self, value: float) -> str:
        value = _float(value)
        if value not in self.consts:
            self.consts[value] = f"{self.prefix}{len(self.consts)}"
        return self.consts[value]

    def const_lines(self) -> list[str]:
        return [f"{n} = np.{self.dtype}({v!r})" for v, n in self.consts.items()]

    def exp_name(self) -> str:
        if not self.fast_exp:
            return "math.exp"
        return "_fexp64" if self.dtype == "float64" else "_fexp32"

    def __call__(self, e: sp.Expr) -> str:
        return self._p(e)

    def _p(self, e: sp.Basic) -> str:
        if e in self.names:
            return self.names[e]
        if e.is_Number or isinstance(e, sp.NumberSymbol):
            v = _float(e)
            return f"(-{self.const(-v)})" if v < 0 else self.const(v)
        if isinstance(e, sp.Add):
            terms = [self._p(a) for a in e.args]
            return "(" + " + ".join(terms) + ")"
        if isinstance(e, sp.Mul):
            num, den = [], []
            coeff = 1.0
            for a in e.args:
                if a.is_Number:
                    coeff *= _float(a)
                elif isinstance(a, sp.Pow) and a.exp.is_Number and float(a.exp) < 0:
                    den.append(sp.Pow(a.base, -a.exp))
                else:
                    num.append(a)
            s = " * ".join(self._p(a) for a in num) if num else None
            if coeff == -1.0 and s is not None:
                s = f"(-{s})"
            elif coeff != 1.0 or s is None:
                c = self._p(sp.Float(coeff))
                s = c if s is None else f"{c} * {s}"
            if den:
                d = " * ".join(self._p(a) for a in den)
                s = f"({s} / ({d}))"
            else:
                s = f"({s})"
            return s
        if isinstance(e, sp.Pow):
            base, ex = e.args
            if ex.is_Number:
                x = float(ex)
                if x == 0.5:
                    return f"math.sqrt({self._p(base)})"
                if x == -0.5:
                    return f"({self.const(1.0)} / math.sqrt({self._p(base)}))"
                if x.is_integer() and 1 <= abs(x) <= 8:
                    b = self._p(base)
                    prod = " * ".join([b] * int(abs(x)))
                    return f"({prod})" if x > 0 else f"({self.const(1.0)} / ({prod}))"
            return f"({self._p(base)} ** {self._p(ex)})"
        if isinstance(e, sp.exp):
            return f"{self.exp_name()}({self._p(e.args[0])})"
        if isinstance(e, sigmoid):
            one = self.const(1.0)
            return f"({one} / ({one} + {self.exp_name()}(-{self._p(e.args[0])})))"
        for f, name in _MATH.items():
            if isinstance(e, f):
                return f"{name}({self._p(e.args[0])})"
        if e.has(*_NOT_REAL):
            raise EquationError(
                f"the expression {_clip(e)} has no finite real value "
                f"({', '.join(sorted(str(a) for a in e.atoms(*_NOT_REAL)))}); "
                "generated kernels compute in real float64."
            )
        raise NotImplementedError(f"cannot print {e!r} ({type(e).__name__}) as numba code")


_NOT_REAL = (sp.zoo, sp.nan, sp.oo, sp.S.NegativeInfinity, sp.I)


def _clip(value: object, limit: int = 120) -> str:
    text = str(value)
    return text if len(text) <= limit else text[: limit - 5] + " ..."


def _float(value: float | sp.Expr) -> float:
    """``float(value)``, or an :class:`EquationError` if it is not a finite real float64."""
    try:
        v = float(value)
    except (TypeError, OverflowError):
        v = math.nan
    if not math.isfinite(v):
        raise EquationError(
            f"the value {_clip(value)} is not a finite real float64 (kernel code cannot hold it); "
            "check the equations for a division by zero or a number beyond about ±1.8e308."
        )
    return v
