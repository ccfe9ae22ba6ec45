"""Flattening a circuit template into one system of ODEs.

The result, :class:`Model`, is what every numerical part of nmm works on: the state
variables with their initial values, the parameters with their values, the right-hand
side as sympy expressions of (states, parameters, time), and an expression for every
variable path of the circuit (for outputs).

Rules (PyRates' semantics):

- a variable defined by ``d/dt * x = ...`` (or ``x' = ...``) is a state;
- one defined by ``x = ...`` is algebraic and is substituted where it is used;
- an ``input`` variable receives the sum of the same-named ``output`` variables of the
  other operators of its node and of ``weight * source`` over the edges that target it;
  an input that receives nothing is a parameter with its default value;
- numbers are parameters; every edge's weight is a parameter named
  ``'<source path>-><target path>/weight'``;
- an edge template's operators become per-edge variables ``'<edge>/<op>/<var>'``: the
  source feeds the edge's input, the edge's output is weighted, delayed and summed into
  the target (:meth:`_Builder.edge_operators`);
- a past-state reference ``x(t - d)`` becomes a delayed value read from a ring buffer
  (:attr:`Model.delays`, :attr:`Model.past`);
- a complex variable (complex default value) is split into real parameters or states
  ``'<path>.re'`` and ``'<path>.im'``; ``exprs[path]`` is ``re + I im``.

Parameters are addressed by their path ``node/operator/variable`` (nested circuits
prepend ``circuit/``); a state's path addresses its initial value.
"""
from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field

import sympy as sp

from .equations import Past, parse_equation
from .errors import EquationError, ParameterError, TemplateError, did_you_mean
from .loader import CircuitDef, EdgeDef, NodeDef, OperatorDef, _override_operator

__all__ = ["Model", "build_model", "TIME", "edge_parameter", "gamma_order", "edge_bases", "replace_edge",
           "find_edge"]

#: the time symbol of every model
TIME = sp.Symbol("t", real=True)
#: structure hashes by ``id(rhs)``: (rhs, (states, params), hash)
_STRUCTURE: dict[int, tuple[tuple[sp.Expr, ...], tuple[tuple[str, ...], tuple[str, ...]], str]] = {}


@dataclass(frozen=True)
class Model:
    """A flattened ODE system.

    Attributes
    ----------
    states : tuple of str
        Paths of the state variables, in the order of the state vector.
    state_values : tuple of float
        Initial values.
    params : tuple of str
        Paths of the parameters (constants, unconnected inputs, edge weights).
    param_values : tuple of float
        Their values.
    rhs : tuple of sympy.Expr
        ``d state / dt`` for each state, in terms of :attr:`symbols` and :data:`TIME`.
    exprs : dict of str to sympy.Expr
        An expression for every variable path (states and parameters map to themselves).
    units : dict of str to str
        Units of the paths that declare one.
    name : str
        The circuit's name.
    delays : tuple of (str, sympy.Expr, str)
        Discrete edge delays: the symbol standing for the delayed value in ``rhs``, the
        expression it delays, and the parameter holding the delay (time units).
    external : tuple of str
        Names of symbols in ``rhs`` that stand for inputs from outside the model (the
        coupling of a network's unit, :mod:`nmm.netmodel`); neither states nor parameters.
    past : tuple of str
        The delayed symbols (of :attr:`delays`) that stand for past-state references
        ``x(t - d)`` written in equations: before ``t = d`` they read the initial value of
        ``x`` (as PyRates' history), where an edge delay reads 0.
    gamma : tuple of (str, float, int)
        Gamma-distributed edge delays: the delay parameter, the spread and the order of
        the chain of ODEs (:func:`gamma_order`); a new delay value with another order
        needs a new model (``CircuitTemplate.update_var`` rebuilds it).
    """

    name: str
    states: tuple[str, ...]
    state_values: tuple[float, ...]
    params: tuple[str, ...]
    param_values: tuple[float, ...]
    rhs: tuple[sp.Expr, ...]
    exprs: dict[str, sp.Expr] = field(compare=False)
    units: dict[str, str] = field(compare=False)
    kinds: dict[str, str] = field(compare=False)
    delays: tuple[tuple[str, sp.Expr, str], ...] = ()  # (delayed symbol name, source expression, delay parameter)
    external: tuple[str, ...] = ()  # symbols of inputs fed from outside the model (a network's coupling)
    past: tuple[str, ...] = ()  # delayed symbols of past-state references x(t - d): history = initial value
    gamma: tuple[tuple[str, float, int], ...] = ()  # gamma edges: (delay parameter, spread, chain order)

    @property
    def state_symbols(self) -> tuple[sp.Symbol, ...]:
        return tuple(sp.Symbol(s, real=True) for s in self.states)

    @property
    def param_symbols(self) -> tuple[sp.Symbol, ...]:
        return tuple(sp.Symbol(p, real=True) for p in self.params)

    def structure_hash(self) -> str:
        """A hash of the equations and the order of states and parameters (not values).

        Cached per right-hand side (models that differ only in values share it), so the
        lookup of a compiled kernel costs nothing on repeated runs.
        """
        key = id(self.rhs)
        hit = _STRUCTURE.get(key)
        if hit is not None and hit[0] is self.rhs and hit[1] == (self.states, self.params):
            return hit[2]
        h = hashlib.sha256()
        h.update(repr((self.states, self.params)).encode())
        for e in self.rhs:
            h.update(sp.srepr(e).encode())
        for dn, src, dp in self.delays:
            h.update(repr((dn, sp.srepr(src), dp)).encode())
        if self.past:
            h.update(repr(("past", self.past)).encode())
        if self.external:
            h.update(repr(self.external).encode())
        digest = h.hexdigest()[:20]
        _STRUCTURE[key] = (self.rhs, (self.states, self.params), digest)  # keeps rhs alive: ids stay unique
        return digest

    def expression(self, path: str) -> sp.Expr:
        """The expression of a variable path in states and parameters.

        Raises
        ------
        ParameterError
            If the path names no variable of the model.
        """
        try:
            return self.exprs[path]
        except KeyError:
            raise ParameterError(
                f"unknown variable path {path!r} in circuit {self.name!r}."
                + did_you_mean(path, self.exprs)
                + " Paths are 'node/operator/variable'."
            ) from None

    @property
    def equilibrium_rhs(self) -> tuple[sp.Expr, ...]:
        """The right-hand side with every delayed value replaced by its source (the
        equilibria of a delay equation are those of this system)."""
        if not self.delays:
            return self.rhs
        sub = {sp.Symbol(dn, real=True): src for dn, src, _ in self.delays}
        return tuple(e.xreplace(sub) for e in self.rhs)

    def unit(self, path: str) -> str:
        """The unit of a path (``'unknown'`` when the template does not declare it)."""
        return self.units.get(path) or "unknown"


def gamma_order(delay: float, spread: float) -> int:
    """The number of linear ODEs of a gamma-distributed delay (mean ``delay``, standard
    deviation ``spread``): ``round((delay / spread)^2)``, at least 1. PyRates uses the
    same order (with order 0, no delay at all, when the spread exceeds ~1.41 delay)."""
    return max(1, int(round((delay / spread) ** 2)))


def edge_parameter(edge: EdgeDef, prefix: str = "", index: int = 1) -> str:
    """The parameter path of an edge's weight: ``'source->target/weight'``."""
    suffix = "" if index == 1 else f"#{index}"
    return f"{prefix}{edge.source}->{prefix}{edge.target}{suffix}/weight"


def edge_bases(circuit: CircuitDef, prefix: str = "") -> dict[str, tuple[tuple[str, ...], int]]:
    """Every edge's path base (``'source->target'``, ``#k`` for repeated pairs; its weight is
    ``base + '/weight'``) -> (labels of the nested circuits holding it, its index there)."""
    out: dict[str, tuple[tuple[str, ...], int]] = {}
    for label, sub in circuit.circuits:
        for base, (chain, i) in edge_bases(sub, f"{prefix}{label}/").items():
            out[base] = ((label,) + chain, i)
    seen: dict[tuple[str, str], int] = {}
    for i, e in enumerate(circuit.edges):
        k = seen.get((e.source, e.target), 0) + 1
        seen[(e.source, e.target)] = k
        out[edge_parameter(e, prefix, k)[: -len("/weight")]] = ((), i)
    return out


def replace_edge(circuit: CircuitDef, where: tuple[tuple[str, ...], int], delay: float, spread: float) -> CircuitDef:
    """``circuit`` with the delay and spread of the edge at ``where`` (from
    :func:`edge_bases`) changed."""
    chain, index = where
    if chain:
        subs = tuple((lbl, replace_edge(sub, (chain[1:], index), delay, spread) if lbl == chain[0] else sub)
                     for lbl, sub in circuit.circuits)
        return dataclasses.replace(circuit, circuits=subs)
    edges = list(circuit.edges)
    edges[index] = dataclasses.replace(edges[index], delay=delay, spread=spread)
    return dataclasses.replace(circuit, edges=tuple(edges))


def find_edge(circuit: CircuitDef, where: tuple[tuple[str, ...], int]) -> EdgeDef:
    """The edge at ``where`` (from :func:`edge_bases`)."""
    chain, index = where
    for lbl in chain:
        circuit = dict(circuit.circuits)[lbl]
    return circuit.edges[index]


class _Builder:
    def __init__(self, circuit: CircuitDef, external: Mapping[str, str] | None = None):
        self.circuit = circuit
        self.external = dict(external or {})
        self.sym: dict[str, sp.Symbol] = {}
        self.kind: dict[str, str] = {}
        self.default: dict[str, float | complex] = {}
        self.units: dict[str, str] = {}
        self.diff: dict[str, tuple[str, str]] = {}  # path -> (rhs text, where)
        self.alg: dict[str, tuple[str, str]] = {}
        self.local: dict[str, dict[str, sp.Symbol]] = {}  # op path -> name -> symbol
        self.feeds: dict[str, list[sp.Expr]] = {}
        self.order: list[str] = []
        self.edge_params: list[tuple[str, float]] = []
        self.chain: list[tuple[str, sp.Expr]] = []  # gamma-delay chain states and their rhs
        self.delays: list[tuple[str, str, str]] = []  # (delayed symbol, source path, delay parameter)
        self.gamma: list[tuple[str, float, int]] = []  # (delay parameter, spread, chain order)
        self.past: dict[sp.Expr, sp.Symbol] = {}  # Past(x, d) -> its delayed symbol
        self.past_params: list[tuple[str, float]] = []
        self.complex_exprs: dict[str, sp.Expr] = {}  # complex path -> re + I im; its parts -> themselves

    def node(self, prefix: str, label: str, node: NodeDef) -> None:
        npath = f"{prefix}{label}"
        outputs: dict[str, list[str]] = {}
        for op_label, op in node.operators:
            self.operator(f"{npath}/{op_label}", op)
            for v in op.variables:
                if v.kind == "output":
                    outputs.setdefault(v.name, []).append(f"{npath}/{op_label}/{v.name}")
        # inside a node, an operator's output feeds same-named inputs of the others
        for op_label, op in node.operators:
            for v in op.variables:
                if v.kind == "input" and v.name in outputs:
                    srcs = [p for p in outputs[v.name] if not p.startswith(f"{npath}/{op_label}/")]
                    if srcs:
                        self.feeds.setdefault(f"{npath}/{op_label}/{v.name}", []).extend(
                            self.sym[p] for p in srcs
                        )

    def operator(self, opath: str, op: OperatorDef) -> None:
        where = f" in operator {opath!r}"
        names: dict[str, sp.Symbol] = {}
        for v in op.variables:
            path = f"{opath}/{v.name}"
            # a complex variable's symbol is not real (conj(z) stays conj(z)) until it is split
            s = sp.Symbol(path) if isinstance(v.default, complex) else sp.Symbol(path, real=True)
            self.sym[path] = s
            names[v.name] = s
            self.kind[path] = v.kind
            self.default[path] = v.default
            if v.unit:
                self.units[path] = v.unit
            self.order.append(path)
        if "t" not in names:
            names["t"] = TIME
        self.local[opath] = names
        for text in op.equations:
            eq = parse_equation(text, where)
            if eq.lhs not in names or eq.lhs == "t":
                raise EquationError(
                    f"equation {text!r}{where} defines {eq.lhs!r}, which is not a declared variable; "
                    f"declared: {', '.join(v.name for v in op.variables)}."
                )
            path = f"{opath}/{eq.lhs}"
            if path in self.diff or path in self.alg:
                raise EquationError(f"variable {eq.lhs!r}{where} is defined by two equations.")
            if self.kind[path] in ("input", "constant"):
                raise EquationError(
                    f"equation {text!r}{where} defines {eq.lhs!r}, which is declared "
                    f"{self.kind[path]}; declare it output(...) or variable(...)."
                )
            (self.diff if eq.differential else self.alg)[path] = (eq.rhs, where)

    def edge_operators(self, e: EdgeDef, base: str, src: str, prefix: str, circuit: str) -> str:
        """Add the operators of edge ``e`` as per-edge variables ``'<base>/<op>/<var>'`` and
        return the path of the edge's output (what its target receives, weighted and
        delayed), as PyRates defines it: the source variable feeds the edge's unconnected
        input (or the inputs its attributes map to ``'source'``), other attributes map
        inputs to other variables (``'T/op/var': 'node/op/var'``) or set values."""
        name = f"{e.source} -> {e.target} in circuit {circuit!r} (edge template {e.template!r})"
        ops = e.operators
        labels = [lbl for lbl, _ in ops]
        sources: dict[str, str] = {}
        values: dict[str, object] = {}
        for key, value in e.extra:
            parts = str(key).split("/")
            if len(parts) == 3:
                parts = parts[1:]
            if len(parts) != 2 or parts[0] not in labels:
                raise TemplateError(
                    f"edge {name} has the attribute {key!r}; an edge template's variables are written "
                    f"'<template>/<operator>/<variable>' with operator one of {labels}."
                    + did_you_mean(parts[0] if parts else str(key), labels)
                )
            op = dict(ops)[parts[0]]
            if parts[1] not in {v.name for v in op.variables}:
                raise TemplateError(f"edge {name}: operator {parts[0]!r} has no variable {parts[1]!r}."
                                    + did_you_mean(parts[1], [v.name for v in op.variables]))
            target = "/".join(parts)
            if isinstance(value, str):
                sources[target] = src if value == "source" else f"{prefix}{value}"
                if sources[target] not in self.sym:
                    raise TemplateError(
                        f"edge {name} maps {key!r} to {value!r}, which is not a variable; use 'source' or a "
                        "variable path 'node/op/var'." + did_you_mean(sources[target], self.sym))
            else:
                values[target] = value
        ops_def = []
        for lbl, op in ops:
            mine = {k.split("/")[1]: v for k, v in values.items() if k.split("/")[0] == lbl}
            if mine:
                op = _override_operator(op, mine, f" of edge {name}")
            ops_def.append((lbl, op))
        outputs: dict[str, list[str]] = {}
        consumed: set[str] = set()
        for lbl, op in ops_def:
            self.operator(f"{base}/{lbl}", op)
            for v in op.variables:
                if v.kind == "output":
                    outputs.setdefault(v.name, []).append(lbl)
        free_inputs = []
        for lbl, op in ops_def:
            for v in op.variables:
                if v.kind != "input":
                    continue
                path = f"{base}/{lbl}/{v.name}"
                inner = [o for o in outputs.get(v.name, []) if o != lbl]
                if inner:
                    consumed.update(inner)
                    self.feeds.setdefault(path, []).extend(self.sym[f"{base}/{o}/{v.name}"] for o in inner)
                elif f"{lbl}/{v.name}" in sources:
                    self.feeds.setdefault(path, []).append(self.sym[sources[f"{lbl}/{v.name}"]])
                else:
                    free_inputs.append(path)
        if not sources:
            if len(free_inputs) != 1:
                raise TemplateError(
                    f"edge {name} has the inputs {[p[len(base) + 1:] for p in free_inputs] or 'none'}; the source "
                    "variable feeds exactly one. Map them in the edge's attributes, e.g. "
                    f"{{'{e.template}/<operator>/<input>': 'source'}}."
                )
            self.feeds.setdefault(free_inputs[0], []).append(self.sym[src])
        last = [(lbl, v.name) for lbl, op in ops_def for v in op.variables if v.kind == "output" and lbl not in consumed]
        if len(last) != 1:
            raise TemplateError(
                f"edge {name} has {len(last)} output variables that no other operator of the edge reads "
                f"({[f'{a}/{b}' for a, b in last]}); an edge template needs exactly one (its output)."
            )
        return f"{base}/{last[0][0]}/{last[0][1]}"

    def circuit_(self, prefix: str, c: CircuitDef) -> None:
        for label, node in c.nodes:
            self.node(prefix, label, node)
        for label, sub in c.circuits:
            self.circuit_(f"{prefix}{label}/", sub)
        seen: dict[tuple[str, str], int] = {}
        for e in c.edges:
            src, tgt = f"{prefix}{e.source}", f"{prefix}{e.target}"
            name = f"{src} -> {tgt}"
            if e.delay < 0 or e.spread < 0 or (e.spread and not e.delay):
                raise TemplateError(
                    f"edge {name} in circuit {c.name!r} has delay={e.delay}, spread={e.spread}; a delay "
                    "must be >= 0 and a spread needs a positive delay."
                )
            if e.extra and not e.operators:
                raise TemplateError(
                    f"edge {name} in circuit {c.name!r} has unknown attributes "
                    f"{[k for k, _ in e.extra]}; edges take weight, delay and spread (and the variables of "
                    "an edge template with operators)."
                )
            for p, role in ((src, "source"), (tgt, "target")):
                if p not in self.sym:
                    raise TemplateError(
                        f"{role} {p!r} of edge {name} in circuit {c.name!r} is not a variable."
                        + did_you_mean(p, self.sym)
                    )
            if self.kind[tgt] != "input":
                raise TemplateError(
                    f"target {tgt!r} of edge {name} is declared {self.kind[tgt]}; an edge must "
                    "target an input(...) variable."
                )
            k = seen.get((src, tgt), 0) + 1
            seen[(src, tgt)] = k
            wname = edge_parameter(e, prefix, k)
            base = wname[: -len("/weight")]
            if e.operators:
                src = self.edge_operators(e, base, src, prefix, c.name)
            w = sp.Symbol(wname, real=True)
            self.sym[wname] = w
            self.kind[wname] = "constant"
            self.edge_params.append((wname, e.weight))
            source = self.sym[src]
            if e.delay:
                dname = f"{base}/delay"
                dsym = sp.Symbol(dname, real=True)
                self.sym[dname] = dsym
                self.kind[dname] = "constant"
                self.edge_params.append((dname, e.delay))
                if e.spread:
                    # gamma-distributed delay (mean delay, sd spread) as a chain of n linear
                    # ODEs with rate n / delay, n = round((delay / spread)^2), as PyRates
                    n = gamma_order(e.delay, e.spread)
                    self.gamma.append((dname, e.spread, n))
                    prev = source
                    for i in range(1, n + 1):
                        yname = f"{base}/delay_{i}"
                        ysym = sp.Symbol(yname, real=True)
                        self.sym[yname] = ysym
                        self.kind[yname] = "variable"
                        self.default[yname] = 0.0
                        if self.units.get(src):
                            self.units[yname] = self.units[src]
                        self.chain.append((yname, (n / dsym) * (prev - ysym)))
                        prev = ysym
                    source = prev
                else:
                    Dname = f"{base}/delayed"
                    Dsym = sp.Symbol(Dname, real=True)
                    self.sym[Dname] = Dsym
                    self.delays.append((Dname, src, dname))
                    source = Dsym
            self.feeds.setdefault(tgt, []).append(w * source)

    def build(self, name: str) -> Model:
        self.circuit_("", self.circuit)
        for tgt, sym in self.external.items():
            if tgt not in self.sym:
                raise TemplateError(f"coupling target {tgt!r} is not a variable of {name!r}."
                                    + did_you_mean(tgt, [p for p, k in self.kind.items() if k == "input"]))
            if self.kind[tgt] != "input":
                raise TemplateError(f"coupling target {tgt!r} of {name!r} is declared {self.kind[tgt]}; the "
                                    "coupling must feed an input(...) variable, e.g. pc/rpo_e_in/m_in.")
            self.feeds.setdefault(tgt, []).append(sp.Symbol(sym, real=True))
        states = [p for p in self.order if p in self.diff]
        params: list[tuple[str, float | complex]] = []
        defs: dict[str, sp.Expr] = {}
        for p in self.order:
            if p in self.diff:
                continue
            if p in self.alg:
                continue
            if self.kind[p] == "input" and p in self.feeds:
                defs[p] = sp.Add(*self.feeds[p])
                continue
            params.append((p, self.default[p]))
        params += self.edge_params
        # algebraic definitions, parsed with each operator's local names
        for p, (text, where) in self.alg.items():
            opath = p.rsplit("/", 1)[0]
            defs[p] = parse_equation(f"{p.rsplit('/', 1)[1]} = {text}", where).rhs_expr(
                self.local[opath], where
            )
            self.check_past(defs[p], text, where)
        resolved: dict[str, sp.Expr] = {}

        def resolve(path: str, stack: tuple[str, ...]) -> sp.Expr:
            if path in resolved:
                return resolved[path]
            if path in stack:
                loop = " -> ".join(stack[stack.index(path):] + (path,))
                raise EquationError(f"algebraic loop between variables: {loop}.")
            expr = defs[path]
            subs = {s: resolve(str(s), stack + (path,)) for s in expr.free_symbols if str(s) in defs}
            out = expr.xreplace(subs) if subs else expr
            resolved[path] = out
            return out

        for p in defs:
            resolve(p, ())
        sub_all = {self.sym[p]: e for p, e in resolved.items()}
        rhs = []
        for p in states:
            text, where = self.diff[p]
            opath = p.rsplit("/", 1)[0]
            expr = parse_equation(f"{p.rsplit('/', 1)[1]}' = {text}", where).rhs_expr(self.local[opath], where)
            self.check_past(expr, text, where)
            rhs.append(expr.xreplace(sub_all))
        for yname, e in self.chain:
            states.append(yname)
            rhs.append(e.xreplace(sub_all))
        if any(e.has(Past) for e in rhs) or any(e.has(Past) for e in resolved.values()):
            known = {p for p, _ in params} | {w for w, _ in self.edge_params}
            rhs = [self.replace_past(e, set(states), known) for e in rhs]
            resolved = {p: self.replace_past(e, set(states), known) for p, e in resolved.items()}
            params += self.past_params
            if self.external:
                raise TemplateError(
                    f"{name!r} refers to past states ({', '.join(str(d) for d in self.past.values())}); a network's "
                    "kernel (nmm.Network) does not keep their history. Use CircuitTemplate.from_matrices for "
                    "a network of this unit, or write the delay as an edge of the unit's circuit."
                )
        complex_paths = [p for p in states if isinstance(self.default.get(p), complex)] + \
            [p for p, v in params if isinstance(v, complex)]
        if complex_paths:
            states, rhs, params, resolved = self.split_complex(name, states, rhs, params, resolved, complex_paths)
        delays = tuple((dn, self.sym[src].xreplace(sub_all) if src not in resolved else resolved[src], dp)
                       for dn, src, dp in self.delays)
        exprs = {p: self.sym[p] for p in self.order}
        exprs.update(self.complex_exprs)
        exprs.update({y: self.sym[y] for y, _ in self.chain})
        exprs.update({w: self.sym[w] for w, _ in self.edge_params + self.past_params})
        exprs.update(resolved)
        chain = {y for y, _ in self.chain}
        split = set(states) | {p for p, _ in params}
        kinds = {p: ("state" if p in self.diff or p in chain or (p in split and p in self.complex_exprs.values())
                     else "parameter" if p not in resolved else "algebraic") for p in exprs}
        for p in self.complex_exprs:
            kinds[p] = "state" if p in self.diff else "parameter" if p not in resolved else "algebraic"
            if p.endswith((".re", ".im")):
                kinds[p] = "state" if p in split and p in states else "parameter"
        return Model(
            name=name,
            states=tuple(states),
            state_values=tuple(_real(self.default[p]) for p in states),
            params=tuple(p for p, _ in params),
            param_values=tuple(_real(v) for _, v in params),
            rhs=tuple(rhs),
            exprs=exprs,
            units=dict(self.units),
            kinds=kinds,
            delays=delays,
            external=tuple(self.external.values()),
            past=tuple(str(d) for d in self.past.values()),
            gamma=tuple(self.gamma),
        )

    def split_complex(self, name: str, states: list[str], rhs: list[sp.Expr],
                      params: list[tuple[str, float | complex]], resolved: dict[str, sp.Expr], complex_paths: list[str]
                      ) -> tuple[list[str], list[sp.Expr], list[tuple[str, float | complex]], dict[str, sp.Expr]]:
        """Split complex states and parameters into real and imaginary parts
        (``'<path>.re'``, ``'<path>.im'``): every kernel stays real float64. The complex
        path remains an expression (``z.re + I z.im``) for outputs."""
        if self.delays or self.chain:
            raise TemplateError(
                f"{name!r} has complex variables ({', '.join(complex_paths[:4])}) and delays; delayed complex "
                "values are not supported. Remove the delay or write the model in real and imaginary parts."
            )
        rep: dict[sp.Basic, sp.Expr] = {}
        for p in complex_paths:
            re_, im_ = sp.Symbol(f"{p}.re", real=True), sp.Symbol(f"{p}.im", real=True)
            rep[self.sym[p]] = re_ + sp.I * im_
            self.sym[f"{p}.re"], self.sym[f"{p}.im"] = re_, im_
            self.complex_exprs[p] = re_ + sp.I * im_
            self.complex_exprs[f"{p}.re"], self.complex_exprs[f"{p}.im"] = re_, im_
            value = complex(self.default[p])
            self.default[f"{p}.re"], self.default[f"{p}.im"] = value.real, value.imag

        def split(e: sp.Expr) -> sp.Expr:
            return sp.expand_complex(e.xreplace(rep))

        new_states: list[str] = []
        new_rhs: list[sp.Expr] = []
        for p, e in zip(states, rhs):
            e2 = split(e)
            _check_split(name, p, e, e2)
            if self.sym[p] in rep:
                new_states += [f"{p}.re", f"{p}.im"]
                new_rhs += [sp.re(e2), sp.im(e2)]
            else:
                new_states.append(p)
                new_rhs.append(sp.re(e2))  # a real state of a complex model keeps the real part, as PyRates
        new_params: list[tuple[str, float | complex]] = []
        for p, v in params:
            if isinstance(v, complex):
                new_params += [(f"{p}.re", v.real), (f"{p}.im", v.imag)]
            else:
                new_params.append((p, v))
        new_resolved = {p: split(e) for p, e in resolved.items()}
        for p in complex_paths:
            self.default[p] = 0.0
        return new_states, new_rhs, new_params, new_resolved

    def check_past(self, expr: sp.Expr, text: str, where: str) -> None:
        """Refuse a past-state reference to a variable that is not a state."""
        for ref in expr.atoms(Past):
            x = ref.args[0]
            if str(x) not in self.diff:
                name = str(x).rsplit("/", 1)[-1]
                raise EquationError(
                    f"past-state reference {name}(t - ...) in equation {text!r}{where}: {name!r} is not a state "
                    "variable; only a variable defined by a differential equation has a past (as in PyRates). "
                    f"Refer to a state, or define {name!r} by d/dt * {name} = ..."
                )

    def replace_past(self, expr: sp.Expr, states: set[str], params: set[str]) -> sp.Expr:
        """``expr`` with every past-state reference ``Past(x, d)`` replaced by a delayed
        symbol read from a ring buffer (a delay of :attr:`Model.delays`)."""
        sub = {}
        for ref in expr.atoms(Past):
            if ref in self.past:
                sub[ref] = self.past[ref]
                continue
            x, d = ref.args
            if not (isinstance(x, sp.Symbol) and str(x) in states):
                raise EquationError(
                    f"past-state reference {_show_past(ref)}: {x} is not a state variable; only a variable "
                    "defined by a differential equation has a past (as in PyRates). Refer to a state, "
                    "e.g. x(t - d) with d/dt * x = ..."
                )
            xpath = str(x)
            if isinstance(d, sp.Symbol) and str(d) in params:
                dpath = str(d)
            elif d.is_Number and float(d) > 0:
                dpath = f"{xpath}(t-{float(d)!r})/delay"
                if dpath not in self.sym:
                    self.sym[dpath] = sp.Symbol(dpath, real=True)
                    self.kind[dpath] = "constant"
                    self.past_params.append((dpath, float(d)))
            else:
                raise EquationError(
                    f"past-state reference {_show_past(ref)}: the delay {d} must be a parameter or a positive "
                    "number, e.g. x(t - d) with d: 0.1 under 'variables:', or x(t - 0.1)."
                )
            dname = f"{xpath}(t-{dpath})"
            dsym = sp.Symbol(dname, real=True)
            self.sym[dname] = dsym
            self.delays.append((dname, xpath, dpath))
            self.past[ref] = dsym
            sub[ref] = dsym
        return expr.xreplace(sub) if sub else expr


#: what a complex expression leaves behind when sympy cannot split it into real parts
_UNSPLIT = (sp.arg, sp.atan2, sp.re, sp.im)


def _check_split(name: str, path: str, expr: sp.Expr, split: sp.Expr) -> None:
    """Refuse a complex right-hand side that does not split into real float64 parts (a
    function of a complex argument other than exp, sin, cos, sinh, cosh, tanh, conj,
    real, imag, abs, or a power other than a whole number): the kernel cannot compute it."""
    parts = (sp.re(split), sp.im(split))
    if not any(q.has(sp.I) or q.atoms(*_UNSPLIT) for q in parts):
        return
    bad = sorted({type(f).__name__ for f in expr.atoms(sp.Function)
                  if not isinstance(f, (sp.exp, sp.sin, sp.cos, sp.sinh, sp.cosh, sp.tanh, sp.conjugate,
                                        sp.re, sp.im, sp.Abs))}
                 | ({"non-integer power"} if any(not pw.exp.is_integer for pw in expr.atoms(sp.Pow)) else set()))
    raise EquationError(
        f"the equation of {path!r} in {name!r} uses complex values in a form that cannot be split into real and "
        f"imaginary parts ({', '.join(bad) or 'a function of a complex argument'}); complex models are computed "
        "in real float64 parts, which supports +, -, *, /, whole powers, exp, sin, cos, sinh, cosh, tanh, conj, "
        "real, imag and abs of complex values. Write this part of the model in real and imaginary parts."
    )


def _real(value: float | complex) -> float:
    """A value of the flattened model (complex ones are split before this point)."""
    if isinstance(value, complex):  # pragma: no cover - split_complex replaced them
        raise AssertionError(f"complex value {value!r} left in a flattened model")
    return float(value)


def _show_past(ref: sp.Expr) -> str:
    return f"{ref.args[0]}(t - {ref.args[1]})"


def build_model(circuit: CircuitDef, external: Mapping[str, str] | None = None) -> Model:
    """Flatten a circuit definition into a :class:`Model`.

    ``external`` maps input paths to the names of symbols added to what they receive:
    inputs from outside the model (a network's coupling, :mod:`nmm.netmodel`).

    Raises
    ------
    EquationError
        For unknown variables, unsafe equations or algebraic loops.
    TemplateError
        For edges between unknown variables.
    NotImplementedError
        For edges with delays or edge templates.
    """
    return _Builder(circuit, external).build(circuit.name)
