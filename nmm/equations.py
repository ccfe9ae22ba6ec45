"""Safe parsing of equation strings into sympy expressions.

Equation strings come from template files and are never given to ``eval``, ``exec`` or
``sympify``. A small precedence parser reads them (one regular expression makes the
tokens, one method per precedence level) into a tree of tuples whose sums and products
are flat lists, so a sum of n terms is one node and one ``sp.Add`` call: parsing and
building are linear in the length of the equation. Anything outside the grammar is handed
to Python's :mod:`ast` only to explain what is wrong (``attribute access``, ``Subscript``...).

Accepted forms (PyRates' syntax)::

    d/dt * v = v_t          # differential equation
    v' = v_t                # the same
    m = m_max / (1 + exp(r*(v_thr - v)))   # algebraic definition

On the right-hand side: numbers, names, ``+ - * / ** ^`` (``^`` is a power as in
PyRates), unary minus, the functions in :data:`FUNCTIONS` and past-state references
``x(t - d)`` (a name called with one argument of the form ``t - expr``; nothing else
becomes callable; they become :class:`Past`); ``pi`` is a constant
unless a variable of that name is declared; ``t`` is time unless declared, and no
equation may define ``t``.

Input that would hang the parser or give a kernel that cannot run is refused while
parsing, with a message that names the limit or the value:

- longer than :data:`MAX_CHARS` characters, more than :data:`MAX_NODES` numbers, names
  and operators, or nested deeper than :data:`MAX_DEPTH` (parentheses, calls, signs,
  exponents);
- a number beyond the float64 range (``1e400``), a division by zero (``x/0``), a constant
  part with no finite real value in float64 arithmetic, as the kernel computes it
  (``sqrt(-1)``, ``log(0)``, ``exp(1000)``, ``9^9^9``: sympy would evaluate that power
  exactly and never finish), a constant exponent larger than :data:`MAX_EXPONENT` in
  magnitude;
- a sympy expression that simplifies to complex infinity, nan, infinity or an imaginary
  value (``x/(y - y)``), checked again when the expression is built.
"""
from __future__ import annotations

import ast
import functools
import keyword
import math
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeAlias

import mpmath
import sympy as sp

from .errors import EquationError, did_you_mean

__all__ = [
    "FUNCTIONS",
    "MAX_CHARS",
    "MAX_DEPTH",
    "MAX_EXPONENT",
    "MAX_NODES",
    "Equation",
    "Past",
    "parse_equation",
    "parse_expression",
    "sigmoid",
]

#: the longest equation accepted, in characters
MAX_CHARS = 100_000
#: the most numbers, names, calls and operators one right-hand side may hold
MAX_NODES = 40_000
#: the deepest nesting of parentheses, calls, signs and exponents
MAX_DEPTH = 64
#: the largest magnitude of a constant exponent of a non-constant base
MAX_EXPONENT = 1024

_FLOAT_MAX_LOG10 = math.log10(1.7976931348623157e308)
_FLOAT_MIN_LOG10 = math.log10(5e-324)


class sigmoid(sp.Function):
    """The logistic function ``1 / (1 + exp(-x))``."""

    nargs = 1

    def fdiff(self, argindex: int = 1) -> sp.Expr:
        s = sigmoid(self.args[0])
        return s * (1 - s)

    def _eval_rewrite_as_exp(self, x: sp.Expr, **kwargs: Any) -> sp.Expr:
        return 1 / (1 + sp.exp(-x))


class Past(sp.Function):
    """``Past(x, d)``: the value of ``x`` at time ``t - d`` (a past-state reference,
    written ``x(t - d)`` in an equation). The model builder replaces each one by a
    delayed value read from a ring buffer (:mod:`nmm.model`)."""

    nargs = 2


#: functions of complex numbers (PyRates' complex models): refused with a message that says so
_COMPLEX_FUNCTIONS = ("angle",)

#: functions an equation may call, by the names PyRates and numpy users write
FUNCTIONS: dict[str, Callable[[sp.Expr], sp.Expr]] = {
    "exp": sp.exp,
    "log": sp.log,
    "sin": sp.sin,
    "cos": sp.cos,
    "tan": sp.tan,
    "tanh": sp.tanh,
    "sinh": sp.sinh,
    "cosh": sp.cosh,
    "arctan": sp.atan,
    "atan": sp.atan,
    "arcsin": sp.asin,
    "asin": sp.asin,
    "arccos": sp.acos,
    "acos": sp.acos,
    "sqrt": sp.sqrt,
    "abs": sp.Abs,
    "absv": sp.Abs,  # PyRates' name
    "sigmoid": sigmoid,
    # complex variables (PyRates' Ott-Antonsen models); the identity on real values
    "conj": sp.conjugate,
    "real": sp.re,
    "imag": sp.im,
}


def _float_sigmoid(x: float) -> float:
    return 0.0 if x < -745.0 else 1.0 / (1.0 + math.exp(-x))


#: the float64 value of each function, to check constant arguments as the kernel computes them
_FLOAT_FUNCTIONS: dict[str, Callable[[float], float]] = {
    "exp": math.exp, "log": math.log, "sin": math.sin, "cos": math.cos, "tan": math.tan,
    "tanh": math.tanh, "sinh": math.sinh, "cosh": math.cosh, "arctan": math.atan,
    "atan": math.atan, "arcsin": math.asin, "asin": math.asin, "arccos": math.acos,
    "acos": math.acos, "sqrt": math.sqrt, "abs": abs, "absv": abs, "sigmoid": _float_sigmoid,
    "conj": lambda x: x, "real": lambda x: x, "imag": lambda x: 0.0,
}

_CONSTANTS = {"pi": sp.pi}
_TIME = "t"

_DIFF_LHS = re.compile(r"^d\s*/\s*dt\s*\*\s*([A-Za-z_]\w*)$")
_PRIME_LHS = re.compile(r"^([A-Za-z_]\w*)\s*'$")
_NAME_LHS = re.compile(r"^([A-Za-z_]\w*)$")

_TOKEN = re.compile(
    r"""(?P<ws>\s+)
      | (?P<num>(?:\d(?:_?\d)*(?:\.(?:\d(?:_?\d)*)?)?|\.\d(?:_?\d)*)(?:[eE][-+]?\d(?:_?\d)*)?)
      | (?P<name>[^\W\d]\w*)
      | (?P<op>\*\*|[-+*/^()])
      | (?P<bad>.)""",
    re.VERBOSE | re.DOTALL,
)


@dataclass(frozen=True)
class Equation:
    """One parsed equation.

    Attributes
    ----------
    lhs : str
        The variable defined by the equation.
    differential : bool
        True for ``d/dt * lhs = rhs``, False for ``lhs = rhs``.
    rhs : str
        The right-hand side, as written (after template updates).
    names : frozenset of str
        Every name the right-hand side refers to (functions excluded).
    text : str
        The whole equation, for messages.
    """

    lhs: str
    differential: bool
    rhs: str
    names: frozenset[str]
    text: str = field(default="", compare=False)

    def rhs_expr(self, symbols: dict[str, sp.Symbol], where: str = "") -> sp.Expr:
        """Build the sympy expression of the right-hand side with the given symbols."""
        return parse_expression(self.rhs, symbols, where=where, text=self.text or None)


# --------------------------------------------------------------------------- messages


def _show(text: str, limit: int = 160) -> str:
    """``repr`` of ``text``, shortened in the middle when long."""
    if len(text) <= limit:
        return repr(text)
    return repr(text[: limit - 40] + " ... " + text[-30:])


class _Unparsable(Exception):
    """Outside the grammar: the AST diagnosis explains it."""

    def __init__(self, token: str, pos: int) -> None:
        super().__init__(token, pos)
        self.token, self.pos = token, pos


class _Refused(Exception):
    """Inside the grammar but refused; ``head`` precedes the equation, ``tail`` follows it."""

    def __init__(self, head: str, tail: str) -> None:
        super().__init__(head, tail)
        self.head, self.tail = head, tail

    def error(self, text: str, where: str) -> EquationError:
        return EquationError(f"{self.head} in equation {_show(text)}{where}{self.tail}")


_RANGE = " (float64 values lie within about ±1.8e308)"


def _finite(value: float | complex, snippet: str, what: str = "") -> float:
    if isinstance(value, complex):
        raise _Refused(f"{what}{_show(snippet)}", " is not a real number (a negative base with a "
                       "fractional exponent); the kernel computes in real float64.")
    if not math.isfinite(value):
        raise _Refused(f"{what}{_show(snippet)}", f" overflows float64{_RANGE}.")
    return value


# --------------------------------------------------------------------------- parser

#: a node of the parse tree: ``("num", value)``, ``("name", name)``, ``("sum", ((sign, node), ...))``,
#: ``("prod", ((operator, node), ...))``, ``("neg", node)``, ``("pow", base, exponent)``,
#: ``("call", function, argument)``
_Node: TypeAlias = tuple[Any, ...]
#: what each precedence level returns: the node, its float64 value when constant, its span
_Parsed: TypeAlias = tuple[_Node, float | None, int, int]


class _Parser:
    """Precedence parser over the tokens of one right-hand side.

    Each method returns ``(node, value, start, end)``: the tree node, its float64 value
    when it is a constant (else None) and its span in the text, for messages.
    """

    def __init__(self, rhs: str) -> None:
        self.rhs = rhs
        self.toks: list[tuple[str, str, int]] = []
        for m in _TOKEN.finditer(rhs):
            kind = m.lastgroup  # every alternative of _TOKEN is a named group
            if kind == "ws":
                continue
            if kind is None or kind == "bad":
                raise _Unparsable(m.group(), m.start())
            self.toks.append((kind, m.group(), m.start()))
        self.toks.append(("end", "", len(rhs)))
        self.i = 0
        self.nodes = 0
        self.names: set[str] = set()

    # helpers -----------------------------------------------------------------
    def _peek(self) -> str:
        kind, text, _ = self.toks[self.i]
        return text if kind == "op" else ""

    def _end(self) -> int:
        """End of the last token consumed."""
        _, text, pos = self.toks[self.i - 1]
        return pos + len(text)

    def _node(self, n: int = 1) -> None:
        self.nodes += n
        if self.nodes > MAX_NODES:
            raise _Refused(
                f"right-hand side {_show(self.rhs, 80)}",
                f" has more than {MAX_NODES:,} numbers, names and operators (nmm.equations.MAX_NODES); "
                "split it into algebraic variables.",
            )

    def _deeper(self, depth: int) -> int:
        if depth > MAX_DEPTH:
            pos = self.toks[self.i][2]
            raise _Refused(
                f"right-hand side {_show(self.rhs, 80)}",
                f" nests parentheses, calls, signs or exponents more than {MAX_DEPTH} deep "
                f"(nmm.equations.MAX_DEPTH; at column {pos + 1}); split it into algebraic variables.",
            )
        return depth

    def parse(self) -> tuple[_Node, float | None]:
        node, value, _, _ = self._sum(0)
        kind, text, pos = self.toks[self.i]
        if kind != "end":
            raise _Unparsable(text, pos)
        return node, value

    # precedence levels ---------------------------------------------------------
    def _sum(self, depth: int) -> _Parsed:
        node, value, start, end = self._product(depth)
        if self._peek() not in ("+", "-"):
            return node, value, start, end
        terms = list(node[1]) if node[0] == "sum" else [(1, node)]
        while self._peek() in ("+", "-"):
            sign = 1 if self._peek() == "+" else -1
            self.i += 1
            n, v, _, end = self._product(depth)
            if n[0] == "sum":  # a parenthesized sum joins this one: one sp.Add for all terms
                terms.extend((sign * s, t) for s, t in n[1])
            else:
                terms.append((sign, n))
            if value is not None and v is not None:
                value = _finite(value + sign * v, self.rhs[start:end], "the sum ")
            else:
                value = None
        self._node()
        return ("sum", tuple(terms)), value, start, end

    def _product(self, depth: int) -> _Parsed:
        node, value, start, end = self._unary(depth)
        if self._peek() not in ("*", "/"):
            return node, value, start, end
        factors = [("*", node)]
        while self._peek() in ("*", "/"):
            op = self._peek()
            self.i += 1
            n, v, s, end = self._unary(depth)
            if op == "/" and v == 0:
                raise _Refused(
                    f"division by zero: {_show(self.rhs[start:end])}",
                    f" divides by {self.rhs[s:end]!r}, which is zero.",
                )
            factors.append((op, n))
            if value is not None and v is not None:
                value = _finite(value * v if op == "*" else value / v, self.rhs[start:end], "the product ")
            else:
                value = None
        self._node()
        return ("prod", tuple(factors)), value, start, end

    def _unary(self, depth: int) -> _Parsed:
        op = self._peek()
        if op in ("+", "-"):
            start = self.toks[self.i][2]
            self.i += 1
            node, value, _, end = self._unary(self._deeper(depth + 1))
            if op == "+":
                return node, value, start, end
            self._node()
            return ("neg", node), None if value is None else -value, start, end
        return self._power(depth)

    def _power(self, depth: int) -> _Parsed:
        base, bv, start, end = self._atom(depth)
        if self._peek() not in ("**", "^"):
            return base, bv, start, end
        self.i += 1
        ex, ev, _, end = self._unary(self._deeper(depth + 1))
        self._node()
        return ("pow", base, ex), _fold_power(bv, ev, self.rhs[start:end]), start, end

    def _past(self, name: str, pos: int, depth: int) -> _Parsed | None:
        """A past-state reference ``name(t - expr)`` (the ``(`` is the current token), or
        None (nothing consumed) when the call has another form."""
        kinds = [k for k, _, _ in self.toks[self.i:self.i + 3]]
        texts = [x for _, x, _ in self.toks[self.i:self.i + 3]]
        if kinds[:2] != ["op", "name"] or texts[:3] != ["(", _TIME, "-"]:
            return None
        self.i += 1
        arg, _, _, _ = self._sum(self._deeper(depth + 1))
        # t - a + b ... : the delay is -(-a + b ...), so that t - d - 1 delays by d + 1
        delay = ("sum", tuple((-sign, term) for sign, term in arg[1][1:]))
        if self._peek() != ")":
            raise _Unparsable(*self.toks[self.i][1:])
        self.i += 1
        self.names.add(name)
        self.names.add(_TIME)
        self._node()
        return ("past", name, delay), None, pos, self._end()

    def _atom(self, depth: int) -> _Parsed:
        kind, text, pos = self.toks[self.i]
        self.i += 1
        self._node()
        if kind == "num":
            number = _number(text)
            return ("num", number), float(number), pos, pos + len(text)
        if kind == "name":
            if keyword.iskeyword(text):
                raise _Unparsable(text, pos)
            if self._peek() != "(":
                self.names.add(text)
                return ("name", text), None, pos, pos + len(text)
            if text not in FUNCTIONS:
                past = self._past(text, pos, depth)
                if past is not None:
                    return past
                if text in _COMPLEX_FUNCTIONS:
                    raise _Refused(
                        f"function {text!r}",
                        " (the argument of a complex number) is not supported; write atan(imag(z)/real(z)) "
                        "for Re z > 0, or carry real(z) and imag(z) as the model's variables.",
                    )
                raise _Refused(
                    f"function {text!r}",
                    f" is not allowed; allowed functions: {', '.join(sorted(FUNCTIONS))}."
                    + did_you_mean(text, FUNCTIONS)
                    + f" (A past value of a state is written {text}(t - d), d a parameter or a number.)",
                )
            self.i += 1
            arg, value, _, _ = self._sum(self._deeper(depth + 1))
            if self._peek() != ")":
                raise _Unparsable(*self.toks[self.i][1:])
            self.i += 1
            end = self._end()
            if value is not None:
                value = _fold_call(text, value, self.rhs[pos:end])
            return ("call", text, arg), value, pos, end
        if kind == "op" and text == "(":
            node, value, _, _ = self._sum(self._deeper(depth + 1))
            if self._peek() != ")":
                raise _Unparsable(*self.toks[self.i][1:])
            self.i += 1
            return node, value, pos, self._end()
        raise _Unparsable(text, pos)


def _number(text: str) -> int | float:
    digits = text.replace("_", "")
    if "." in digits or "e" in digits.lower():
        value = float(digits)
    else:
        if len(digits) > 1 and digits[0] == "0" and digits.strip("0"):
            raise _Unparsable(text, 0)  # Python's own message: leading zeros
        if len(digits) > 400:
            value = math.inf
        else:
            value = int(digits)
            if abs(value) > 1.7976931348623157e308:
                value = math.inf
    if math.isinf(value):
        raise _Refused(f"number {text}", f" is beyond the float64 range{_RANGE}.")
    return value


def _fold_power(base: float | None, exponent: float | None, snippet: str) -> float | None:
    """The float64 value of ``base ** exponent`` when both are constant; refuses what
    cannot be represented before anything computes it exactly."""
    if exponent is None:
        return None
    if base is None:
        if abs(exponent) > MAX_EXPONENT:
            raise _Refused(
                f"exponent {exponent:g} of {_show(snippet)}",
                f" is larger than {MAX_EXPONENT} in magnitude (nmm.equations.MAX_EXPONENT); "
                "such a power overflows or vanishes in float64.",
            )
        return None
    if base == 0 and exponent < 0:
        raise _Refused(f"division by zero: {_show(snippet)}", " raises zero to a negative power.")
    if base < 0 and exponent != int(exponent):
        return _finite(complex(0.0, 1.0), snippet)
    if abs(base) not in (0.0, 1.0):
        magnitude = exponent * math.log10(abs(base))
        if not _FLOAT_MIN_LOG10 <= magnitude <= _FLOAT_MAX_LOG10:
            raise _Refused(
                f"power {_show(snippet)}",
                f" is about 10^{magnitude:.0f}, which float64 cannot represent"
                f"{_RANGE[:-1]}, the smallest nonzero about 4.9e-324).",
            )
    try:
        value = base**exponent
    except (OverflowError, ZeroDivisionError):
        value = math.inf
    return _finite(value, snippet, "power ")


def _fold_call(name: str, arg: float, snippet: str) -> float:
    try:
        value = _FLOAT_FUNCTIONS[name](arg)
    except ValueError:
        raise _Refused(
            f"{_show(snippet)}", " has no finite real value (math domain error); the kernel would compute nan."
        ) from None
    except OverflowError:
        value = math.inf
    return _finite(value, snippet)


@functools.lru_cache(maxsize=2048)
def _tree(rhs: str) -> tuple[_Node, frozenset[str]]:
    """The parse tree of a right-hand side and the names it uses (cached: the loader and
    the model builder parse the same text)."""
    p = _Parser(rhs)
    node, _ = p.parse()
    return node, frozenset(p.names)


def _parse(rhs: str, text: str, where: str) -> tuple[_Node, frozenset[str]]:
    if len(rhs) > MAX_CHARS:
        raise EquationError(
            f"equation {_show(text, 80)}{where} has {len(rhs):,} characters; the limit is "
            f"{MAX_CHARS:,} (nmm.equations.MAX_CHARS). Split it into algebraic variables."
        )
    try:
        return _tree(rhs)
    except _Refused as exc:
        raise exc.error(text, where) from None
    except _Unparsable as exc:
        _diagnose(rhs, text, where)
        raise EquationError(
            f"cannot parse {_show(rhs)} in equation {_show(text)}{where}: unexpected "
            f"{exc.token!r} at column {exc.pos + 1}."
        ) from None


# --------------------------------------------------------------------------- equations


def _split(text: str, where: str) -> tuple[str, str]:
    # the first '=' that is not part of '==', '<=', '>=', '!='
    for i, ch in enumerate(text):
        if ch == "=":
            prev = text[i - 1] if i else ""
            nxt = text[i + 1] if i + 1 < len(text) else ""
            if prev not in "<>!=" and nxt != "=":
                return text[:i].strip(), text[i + 1 :].strip()
    raise EquationError(
        f"equation {_show(text)}{where} has no '='. Write 'd/dt * x = ...', \"x' = ...\" or 'x = ...'."
    )


def parse_equation(text: str, where: str = "") -> Equation:
    """Parse one equation string.

    Parameters
    ----------
    text : str
        For example ``"d/dt * v = v_t"``.
    where : str, default: ""
        Context for error messages, e.g. ``" in operator 'rpo_e'"``.

    Returns
    -------
    Equation

    Raises
    ------
    EquationError
        If the equation is malformed, uses anything outside the whitelist, exceeds a size
        limit, defines the time ``t`` or has a constant part that is not a finite float64.
    """
    if not isinstance(text, str):
        raise EquationError(f"equation {text!r}{where} is not a string.")
    if len(text) > MAX_CHARS:
        raise EquationError(
            f"equation {_show(text, 80)}{where} has {len(text):,} characters; the limit is "
            f"{MAX_CHARS:,} (nmm.equations.MAX_CHARS). Split it into algebraic variables."
        )
    lhs, rhs = _split(text.strip(), where)
    for pattern, differential in ((_DIFF_LHS, True), (_PRIME_LHS, True), (_NAME_LHS, False)):
        m = pattern.match(lhs)
        if m:
            var = m.group(1)
            break
    else:
        raise EquationError(
            f"left-hand side {lhs!r} of equation {_show(text)}{where} is not understood. "
            "Write 'd/dt * x', \"x'\" or a single variable name."
        )
    if var == _TIME:
        raise EquationError(
            f"equation {_show(text)}{where} defines 't', but 't' is the reserved time symbol: "
            "no equation may define it. Rename the variable (for example 't_local' or 'theta') "
            "in its equation and under 'variables:'."
        )
    _, names = _parse(rhs, text, where)
    return Equation(lhs=var, differential=differential, rhs=rhs, names=names, text=text)


def parse_expression(rhs: str, symbols: Mapping[str, sp.Basic], where: str = "", *,
                     text: str | None = None) -> sp.Expr:
    """Build a sympy expression from a right-hand side string.

    Parameters
    ----------
    rhs : str
        The expression text.
    symbols : dict of str to sympy object
        What each name means. ``pi`` and ``t`` fall back to the constant and time.
    where : str, default: ""
        Context for error messages.
    text : str, optional
        The whole equation, for error messages (default: ``rhs``).

    Raises
    ------
    EquationError
        If the text is not a whitelisted expression, refers to an unknown name, or is
        (or simplifies to) something that is not a finite real float64 expression.
    """
    if not isinstance(rhs, str):
        raise EquationError(f"expression {rhs!r}{where} is not a string.")
    text = rhs if text is None else text
    node, _ = _parse(rhs, text, where)
    try:
        expr = _build(node, symbols)
        _check_value(expr)
    except _Refused as exc:
        raise exc.error(text, where) from None
    except _UnknownName as exc:
        known = sorted(k for k in symbols if k != _TIME)
        raise EquationError(
            f"unknown variable {exc.name!r} in equation {_show(text)}{where}; "
            f"declared variables: {', '.join(known) or 'none'}." + did_you_mean(exc.name, known)
        ) from None
    return expr


# --------------------------------------------------------------------------- sympy


class _UnknownName(Exception):
    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name


def _build(node: _Node, symbols: Mapping[str, sp.Basic]) -> sp.Expr:
    kind = node[0]
    if kind == "name":
        name = node[1]
        if name in symbols:
            return symbols[name]
        if name in _CONSTANTS:
            return _CONSTANTS[name]
        raise _UnknownName(name)
    if kind == "num":
        v = node[1]
        return sp.Integer(v) if isinstance(v, int) else sp.Float(v)
    if kind == "sum":
        terms = []
        for sign, n in node[1]:
            e = _build(n, symbols)
            e = e if sign > 0 else -e
            if e.is_Add:
                terms.extend(e.args)  # in place: the numbers add up in the order written
            else:
                terms.append(e)
        return sp.Add(*terms)
    if kind == "prod":
        return _product(node[1], symbols)
    if kind == "neg":
        return -_build(node[1], symbols)
    if kind == "pow":
        a = _build(node[1], symbols)
        b = _build(node[2], symbols)
        if isinstance(b, sp.Float) and b == int(b):
            b = sp.Integer(int(b))  # x^2. is x^2: keeps derivatives and printing exact
        _check_power(a, b)
        return a**b
    if kind == "call":
        return FUNCTIONS[node[1]](_build(node[2], symbols))
    if kind == "past":
        if node[1] not in symbols:
            raise _UnknownName(node[1])
        return Past(symbols[node[1]], _build(node[2], symbols))
    raise AssertionError(kind)  # pragma: no cover


def _product(factors: Sequence[tuple[str, _Node]], symbols: Mapping[str, sp.Basic]) -> sp.Expr:
    """A product in one ``sp.Mul`` call; a leading run of numbers is folded with the binary
    operators, so that ``2.0/3.0`` is one correctly rounded division as sympy computes it.

    ``factors`` are ``(operator, node)`` pairs; the first operator is ``'*'``."""
    acc = _build(factors[0][1], symbols)
    rest: list[sp.Expr] = []
    for op, n in factors[1:]:
        f = _build(n, symbols)
        if op == "/" and f.is_zero:
            raise _Refused("division by zero", ": a divisor simplifies to 0.")
        if not rest and acc.is_Number and f.is_Number:
            acc = acc * f if op == "*" else acc / f
        else:
            f = f if op == "*" else sp.Pow(f, -1)
            if f.is_Mul:
                rest.extend(f.args)  # in place: the numbers multiply in the order written
            else:
                rest.append(f)
    if not rest:
        return acc
    return sp.Mul(*acc.args, *rest) if acc.is_Mul else sp.Mul(acc, *rest)


def _log10_abs(x: sp.Number) -> float:
    """log10 of the magnitude of a nonzero sympy number of any size."""
    if x.is_Rational:
        p, q = abs(int(x.p)), int(x.q)
        return math.log10(p) - math.log10(q)
    return float(mpmath.log10(abs(mpmath.mpf(x))))


def _check_power(a: sp.Expr, b: sp.Expr) -> None:
    """Refuse a numeric power that sympy would compute exactly but float64 cannot hold."""
    if not (a.is_Number and b.is_Number) or not (a.is_finite and b.is_finite) or a.is_zero:
        return
    if abs(a) == 1:
        return
    magnitude = float(b) * _log10_abs(a) if abs(b) < 1e300 else math.inf
    if not _FLOAT_MIN_LOG10 <= magnitude <= _FLOAT_MAX_LOG10:
        raise _Refused(f"power {a}**{b}", f" is about 10^{magnitude:.0f}, which float64 cannot represent"
                       f"{_RANGE}.")


_NOT_FINITE = {
    sp.zoo: "complex infinity (a division by zero)",
    sp.nan: "nan (an undefined value such as 0/0)",
    sp.oo: "infinity",
    sp.S.NegativeInfinity: "minus infinity",
    sp.I: "an imaginary number",
}


def _check_value(expr: sp.Expr) -> None:
    """Refuse an expression with a value that float64 kernel code cannot compute."""
    found = [what for value, what in _NOT_FINITE.items() if expr.has(value)]
    if found:
        raise _Refused("the right-hand side", f" simplifies to {expr}, which has {found[0]}; "
                       "the kernel computes in real float64.")
    for n in expr.atoms(sp.Number):
        try:
            ok = math.isfinite(float(n))
        except (OverflowError, TypeError):
            ok = False
        if not ok:
            raise _Refused(f"number {n}", f" is beyond the float64 range{_RANGE}.")
    for sub in _constant_parts(expr):
        try:
            value = complex(sub.evalf(20))
        except (OverflowError, TypeError, ValueError):
            value = complex(math.inf)
        if value.imag != 0.0 or not math.isfinite(value.real):
            raise _Refused(f"the constant part {sub}", " has no finite real float64 value.")


def _constant_parts(expr: sp.Expr) -> Iterator[sp.Expr]:
    """The largest subexpressions without free symbols that are not plain numbers."""
    stack = [expr]
    while stack:
        e = stack.pop()
        if e.is_Atom:
            continue
        if not e.free_symbols:
            yield e
        else:
            stack.extend(e.args)


# --------------------------------------------------------------------------- diagnosis


_ALLOWED_BINOPS = (ast.Add, ast.Sub, ast.Mult, ast.Div, ast.Pow)
_ALLOWED_UNARY = (ast.USub, ast.UAdd)


def _diagnose(rhs: str, text: str, where: str) -> None:
    """Explain, with Python's own parser, why ``rhs`` is outside the grammar; returns
    silently when it cannot tell."""
    try:
        tree = ast.parse(rhs.replace("^", "**"), mode="eval")
    except SyntaxError as exc:
        raise EquationError(f"cannot parse {_show(rhs)} in equation {_show(text)}{where}: {exc.msg}.") from None
    except (RecursionError, MemoryError, ValueError):
        return
    text = _show(text)
    for node in ast.walk(tree):
        if isinstance(node, (ast.Expression, ast.Load, ast.Name) + _ALLOWED_BINOPS + _ALLOWED_UNARY):
            continue
        if isinstance(node, (ast.BinOp, ast.UnaryOp)):
            if isinstance(node.op, _ALLOWED_BINOPS + _ALLOWED_UNARY):
                continue
            raise EquationError(
                f"operator {type(node.op).__name__} in equation {text}{where} is not allowed; "
                "use + - * / ** ^ and parentheses."
            )
        if isinstance(node, ast.Constant):
            if isinstance(node.value, (int, float)) and not isinstance(node.value, bool):
                continue
            raise EquationError(f"constant {node.value!r} in equation {text}{where} is not a number.")
        if isinstance(node, ast.Call):
            if not isinstance(node.func, ast.Name):
                raise EquationError(
                    f"call of {_show(ast.unparse(node.func), 60)} in equation {text}{where} is not allowed; "
                    f"allowed functions: {', '.join(sorted(FUNCTIONS))}."
                )
            if node.func.id not in FUNCTIONS:
                raise EquationError(
                    f"function {node.func.id!r} in equation {text}{where} is not allowed; "
                    f"allowed functions: {', '.join(sorted(FUNCTIONS))}."
                    + did_you_mean(node.func.id, FUNCTIONS)
                )
            if node.keywords or len(node.args) != 1:
                raise EquationError(
                    f"function {node.func.id!r} in equation {text}{where} takes exactly one argument."
                )
            continue
        if isinstance(node, ast.Attribute):
            raise EquationError(
                f"attribute access {_show(ast.unparse(node), 60)} in equation {text}{where} is not allowed."
            )
        raise EquationError(
            f"{type(node).__name__} expression {_show(ast.unparse(node), 60)} in equation {text}{where} "
            "is not allowed; equations use numbers, variable names, + - * / ** ^ and the functions "
            f"{', '.join(sorted(FUNCTIONS))}."
        )
