"""The equation parser: syntax, precedence, and refusal of anything unsafe."""
from __future__ import annotations

import pytest
import sympy as sp

from nmm.equations import EquationError, parse_equation, parse_expression, sigmoid

x, y, tau = sp.symbols("x y tau")
SYMS = {"x": x, "y": y, "tau": tau}


@pytest.mark.parametrize(
    "text, lhs, differential",
    [("d/dt * v = x", "v", True), ("d/dt*v=x", "v", True), ("v' = x", "v", True), ("m = x", "m", False)],
)
def test_left_hand_sides(text, lhs, differential):
    eq = parse_equation(text)
    assert (eq.lhs, eq.differential) == (lhs, differential)
    assert eq.names == {"x"}


def test_caret_is_a_power_with_power_precedence():
    # PyRates writes powers with ^; in Python '^' binds looser than '*' and '-'
    e = parse_expression("x - (1./tau)^2. * y - 2*x^2", SYMS)
    at = {x: 0.7, y: -1.3, tau: 0.4}
    assert float(e.subs(at)) == pytest.approx(float((x - y / tau**2 - 2 * x**2).subs(at)), rel=1e-14)


def test_functions_and_constants():
    e = parse_expression("sigmoid(x) + exp(-x) + sqrt(y) + abs(x) + pi", SYMS)
    assert e.has(sigmoid) and e.has(sp.pi)
    val = float(e.subs({x: 0.3, y: 4.0}))
    import math

    assert val == pytest.approx(1 / (1 + math.exp(-0.3)) + math.exp(-0.3) + 2 + 0.3 + math.pi)


@pytest.mark.parametrize(
    "text, match",
    [
        ("d/dt * v = __import__('os').system('x')", "not allowed"),
        ("v = x.real", "attribute access"),
        ("v = open('f')", "function 'open' in equation .* is not allowed"),
        ("v = (lambda: 1)()", "not allowed"),
        ("v = x[0]", "Subscript"),
        ("v = 'text'", "not a number"),
        ("v = x if y else tau", "not allowed"),
        ("v = exp(x, y)", "exactly one argument"),
        ("v = x +", "cannot parse"),
        ("no equals sign", "has no '='"),
        ("2*v = x", "left-hand side"),
    ],
)
def test_unsafe_or_malformed_equations_are_refused(text, match):
    with pytest.raises(EquationError, match=match):
        eq = parse_equation(text)
        eq.rhs_expr(SYMS)


def test_unknown_variable_names_the_variable_and_suggests():
    with pytest.raises(EquationError, match=r"unknown variable 'tua'.*Did you mean 'tau'"):
        parse_expression("x / tua", SYMS)


def test_sigmoid_derivative():
    assert sp.simplify(sp.diff(sigmoid(x), x) - sigmoid(x) * (1 - sigmoid(x))) == 0
