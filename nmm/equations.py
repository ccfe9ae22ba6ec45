"""Safe parsing of equation strings into sympy expressions.

Equation strings come from template files and are never given to ``eval``, ``exec`` or
``sympify``. They are parsed with :mod:`ast`, every node is checked against a whitelist,
and the sympy expression is built from the tree by hand.

Accepted forms (PyRates' syntax)::

    d/dt * v = v_t          # differential equation
    v' = v_t                # the same
    m = m_max / (1 + exp(r*(v_thr - v)))   # algebraic definition

On the right-hand side: numbers, names, ``+ - * / ** ^`` (``^`` is a power as in
PyRates), unary minus and the functions in :data:`FUNCTIONS`; ``pi`` is a constant
unless a variable of that name is declared; ``t`` is time unless declared.
"""
from __future__ import annotations

import ast
import re
from dataclasses import dataclass

import sympy as sp

from .errors import EquationError, did_you_mean

__all__ = ["Equation", "parse_equation", "parse_expression", "FUNCTIONS", "sigmoid"]


class sigmoid(sp.Function):  # noqa: N801 (sympy function naming)
    """The logistic function ``1 / (1 + exp(-x))``."""

    nargs = 1

    def fdiff(self, argindex=1):
        s = sigmoid(self.args[0])
        return s * (1 - s)

    def _eval_rewrite_as_exp(self, x, **kwargs):
        return 1 / (1 + sp.exp(-x))


#: functions an equation may call, by the names PyRates and numpy users write
FUNCTIONS: dict[str, object] = {
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
    "sigmoid": sigmoid,
}

_CONSTANTS = {"pi": sp.pi}
_TIME = "t"

_DIFF_LHS = re.compile(r"^d\s*/\s*dt\s*\*\s*([A-Za-z_]\w*)$")
_PRIME_LHS = re.compile(r"^([A-Za-z_]\w*)\s*'$")
_NAME_LHS = re.compile(r"^([A-Za-z_]\w*)$")


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
    """

    lhs: str
    differential: bool
    rhs: str
    names: frozenset

    def rhs_expr(self, symbols: dict[str, sp.Symbol], where: str = "") -> sp.Expr:
        """Build the sympy expression of the right-hand side with the given symbols."""
        return parse_expression(self.rhs, symbols, where=where)


def _split(text: str, where: str) -> tuple[str, str]:
    # the first '=' that is not part of '==', '<=', '>=', '!='
    for i, ch in enumerate(text):
        if ch == "=":
            prev = text[i - 1] if i else ""
            nxt = text[i + 1] if i + 1 < len(text) else ""
            if prev not in "<>!=" and nxt != "=":
                return text[:i].strip(), text[i + 1 :].strip()
    raise EquationError(
        f"equation {text!r}{where} has no '='. Write 'd/dt * x = ...', \"x' = ...\" or 'x = ...'."
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
        If the equation is malformed or uses anything outside the whitelist.
    """
    if not isinstance(text, str):
        raise EquationError(f"equation {text!r}{where} is not a string.")
    lhs, rhs = _split(text.strip(), where)
    for pattern, differential in ((_DIFF_LHS, True), (_PRIME_LHS, True), (_NAME_LHS, False)):
        m = pattern.match(lhs)
        if m:
            var = m.group(1)
            break
    else:
        raise EquationError(
            f"left-hand side {lhs!r} of equation {text!r}{where} is not understood. "
            "Write 'd/dt * x', \"x'\" or a single variable name."
        )
    tree = _parse_tree(rhs, text, where)
    names = frozenset(
        n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and not _is_func_name(tree, n)
    )
    return Equation(lhs=var, differential=differential, rhs=rhs, names=names)


def _is_func_name(tree: ast.AST, name: ast.Name) -> bool:
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and node.func is name:
            return True
    return False


_ALLOWED_BINOPS = (ast.Add, ast.Sub, ast.Mult, ast.Div, ast.Pow)
_ALLOWED_UNARY = (ast.USub, ast.UAdd)


def _parse_tree(rhs: str, text: str, where: str) -> ast.Expression:
    # '^' is a power in PyRates' syntax; Python's '^' binds looser than '*', so it must
    # become '**' in the text (not in the tree) to keep the usual precedence.
    try:
        tree = ast.parse(rhs.replace("^", "**"), mode="eval")
    except SyntaxError as exc:
        raise EquationError(f"cannot parse {rhs!r} in equation {text!r}{where}: {exc.msg}.") from None
    for node in ast.walk(tree):
        if isinstance(node, (ast.Expression, ast.Load) + _ALLOWED_BINOPS + _ALLOWED_UNARY):
            continue
        if isinstance(node, (ast.BinOp, ast.UnaryOp)):
            op = node.op
            if isinstance(op, _ALLOWED_BINOPS + _ALLOWED_UNARY):
                continue
            raise EquationError(
                f"operator {type(op).__name__} in equation {text!r}{where} is not allowed; "
                "use + - * / ** ^ and parentheses."
            )
        if isinstance(node, ast.Name):
            continue
        if isinstance(node, ast.Constant):
            if isinstance(node.value, (int, float)) and not isinstance(node.value, bool):
                continue
            raise EquationError(f"constant {node.value!r} in equation {text!r}{where} is not a number.")
        if isinstance(node, ast.Call):
            if not isinstance(node.func, ast.Name):
                raise EquationError(
                    f"call of {ast.unparse(node.func)!r} in equation {text!r}{where} is not allowed; "
                    f"allowed functions: {', '.join(sorted(FUNCTIONS))}."
                )
            if node.func.id not in FUNCTIONS:
                raise EquationError(
                    f"function {node.func.id!r} in equation {text!r}{where} is not allowed; "
                    f"allowed functions: {', '.join(sorted(FUNCTIONS))}."
                    + did_you_mean(node.func.id, FUNCTIONS)
                )
            if node.keywords or len(node.args) != 1:
                raise EquationError(
                    f"function {node.func.id!r} in equation {text!r}{where} takes exactly one argument."
                )
            continue
        if isinstance(node, ast.Attribute):
            raise EquationError(
                f"attribute access {ast.unparse(node)!r} in equation {text!r}{where} is not allowed."
            )
        raise EquationError(
            f"{type(node).__name__} expression {ast.unparse(node)!r} in equation {text!r}{where} "
            "is not allowed; equations use numbers, variable names, + - * / ** ^ and the functions "
            f"{', '.join(sorted(FUNCTIONS))}."
        )
    return tree


def parse_expression(rhs: str, symbols: dict[str, sp.Basic], where: str = "") -> sp.Expr:
    """Build a sympy expression from a right-hand side string.

    Parameters
    ----------
    rhs : str
        The expression text.
    symbols : dict of str to sympy object
        What each name means. ``pi`` and ``t`` fall back to the constant and time.
    where : str, default: ""
        Context for error messages.

    Raises
    ------
    EquationError
        If the text is not a whitelisted expression or refers to an unknown name.
    """
    tree = _parse_tree(rhs, rhs, where)
    return _build(tree.body, symbols, rhs, where)


def _build(node: ast.AST, symbols: dict, text: str, where: str) -> sp.Expr:
    if isinstance(node, ast.Constant):
        v = node.value
        return sp.Integer(v) if isinstance(v, int) else sp.Float(v)
    if isinstance(node, ast.Name):
        if node.id in symbols:
            return symbols[node.id]
        if node.id in _CONSTANTS:
            return _CONSTANTS[node.id]
        known = sorted(k for k in symbols if k != _TIME)
        raise EquationError(
            f"unknown variable {node.id!r} in equation {text!r}{where}; "
            f"declared variables: {', '.join(known) or 'none'}." + did_you_mean(node.id, known)
        )
    if isinstance(node, ast.UnaryOp):
        operand = _build(node.operand, symbols, text, where)
        return -operand if isinstance(node.op, ast.USub) else operand
    if isinstance(node, ast.BinOp):
        a = _build(node.left, symbols, text, where)
        b = _build(node.right, symbols, text, where)
        op = node.op
        if isinstance(op, ast.Add):
            return a + b
        if isinstance(op, ast.Sub):
            return a - b
        if isinstance(op, ast.Mult):
            return a * b
        if isinstance(op, ast.Div):
            return a / b
        if isinstance(b, sp.Float) and b == int(b):
            b = sp.Integer(int(b))  # x^2. is x^2: keeps derivatives and printing exact
        return a**b
    if isinstance(node, ast.Call):
        arg = _build(node.args[0], symbols, text, where)
        return FUNCTIONS[node.func.id](arg)
    raise EquationError(f"cannot build {ast.unparse(node)!r} in equation {text!r}{where}.")  # pragma: no cover
