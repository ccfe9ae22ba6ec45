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
  ``'<source path>-><target path>/weight'``.

Parameters are addressed by their path ``node/operator/variable`` (nested circuits
prepend ``circuit/``); a state's path addresses its initial value.
"""
from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field

import sympy as sp

from .equations import parse_equation
from .errors import EquationError, ParameterError, TemplateError, did_you_mean
from .loader import CircuitDef, EdgeDef, NodeDef, OperatorDef

__all__ = ["Model", "build_model", "TIME", "edge_parameter"]

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


def edge_parameter(edge: EdgeDef, prefix: str = "", index: int = 1) -> str:
    """The parameter path of an edge's weight: ``'source->target/weight'``."""
    suffix = "" if index == 1 else f"#{index}"
    return f"{prefix}{edge.source}->{prefix}{edge.target}{suffix}/weight"


class _Builder:
    def __init__(self, circuit: CircuitDef, external: Mapping[str, str] | None = None):
        self.circuit = circuit
        self.external = dict(external or {})
        self.sym: dict[str, sp.Symbol] = {}
        self.kind: dict[str, str] = {}
        self.default: dict[str, float] = {}
        self.units: dict[str, str] = {}
        self.diff: dict[str, tuple[str, str]] = {}  # path -> (rhs text, where)
        self.alg: dict[str, tuple[str, str]] = {}
        self.local: dict[str, dict[str, sp.Symbol]] = {}  # op path -> name -> symbol
        self.feeds: dict[str, list[sp.Expr]] = {}
        self.order: list[str] = []
        self.edge_params: list[tuple[str, float]] = []
        self.chain: list[tuple[str, sp.Expr]] = []  # gamma-delay chain states and their rhs
        self.delays: list[tuple[str, str, str]] = []  # (delayed symbol, source path, delay parameter)

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
            s = sp.Symbol(path, real=True)
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

    def circuit_(self, prefix: str, c: CircuitDef) -> None:
        for label, node in c.nodes:
            self.node(prefix, label, node)
        for label, sub in c.circuits:
            self.circuit_(f"{prefix}{label}/", sub)
        seen: dict[tuple[str, str], int] = {}
        for e in c.edges:
            src, tgt = f"{prefix}{e.source}", f"{prefix}{e.target}"
            name = f"{src} -> {tgt}"
            if e.template is not None:
                raise NotImplementedError(
                    f"edge {name} in circuit {c.name!r} uses the edge template {e.template!r}; "
                    "edge templates with operators are not supported yet. Use null and a weight."
                )
            if e.delay < 0 or e.spread < 0 or (e.spread and not e.delay):
                raise TemplateError(
                    f"edge {name} in circuit {c.name!r} has delay={e.delay}, spread={e.spread}; a delay "
                    "must be >= 0 and a spread needs a positive delay."
                )
            if e.extra:
                raise TemplateError(
                    f"edge {name} in circuit {c.name!r} has unknown attributes "
                    f"{[k for k, _ in e.extra]}; edges take weight, delay and spread."
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
            w = sp.Symbol(wname, real=True)
            self.sym[wname] = w
            self.kind[wname] = "constant"
            self.edge_params.append((wname, e.weight))
            source = self.sym[src]
            if e.delay:
                base = wname[: -len("/weight")]
                dname = f"{base}/delay"
                dsym = sp.Symbol(dname, real=True)
                self.sym[dname] = dsym
                self.kind[dname] = "constant"
                self.edge_params.append((dname, e.delay))
                if e.spread:
                    # gamma-distributed delay (mean delay, sd spread) as a chain of n linear
                    # ODEs with rate n / delay, n = round((delay / spread)^2), as PyRates
                    n = max(1, int(round((e.delay / e.spread) ** 2)))
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
        params: list[tuple[str, float]] = []
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
            rhs.append(expr.xreplace(sub_all))
        for yname, e in self.chain:
            states.append(yname)
            rhs.append(e.xreplace(sub_all))
        delays = tuple((dn, self.sym[src].xreplace(sub_all) if src not in resolved else resolved[src], dp)
                       for dn, src, dp in self.delays)
        exprs = {p: self.sym[p] for p in self.order}
        exprs.update({y: self.sym[y] for y, _ in self.chain})
        exprs.update({w: self.sym[w] for w, _ in self.edge_params})
        exprs.update(resolved)
        chain = {y for y, _ in self.chain}
        kinds = {p: ("state" if p in self.diff or p in chain else "parameter" if p not in resolved else "algebraic")
                 for p in exprs}
        return Model(
            name=name,
            states=tuple(states),
            state_values=tuple(float(self.default[p]) for p in states),
            params=tuple(p for p, _ in params),
            param_values=tuple(float(v) for _, v in params),
            rhs=tuple(rhs),
            exprs=exprs,
            units=dict(self.units),
            kinds=kinds,
            delays=delays,
            external=tuple(self.external.values()),
        )


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
