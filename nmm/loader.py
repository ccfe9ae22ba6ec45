"""Reading PyRates-format YAML templates: path resolution and ``base:`` inheritance.

A template reference is one of

- a name in the same file (``rpo_e``),
- a dotted path ``package.sub.file.Template`` resolved as PyRates does: ``file.yaml`` in
  the folder of package ``package.sub``, key ``Template``. The folder is found without
  importing anything: the top-level package's location comes from ``sys.modules`` or
  :class:`importlib.machinery.PathFinder` (which runs no package code), the rest of the
  path is walked in the file system as the import system would (regular packages,
  namespace packages). So a reference in a workflow or a stored spec never runs a
  package's ``__init__``. Paths below ``model_templates.`` fall back to nmm's own library
  (``nmm/templates``) when PyRates' ``model_templates`` package is not installed,
- a file path ``path/to/file.yaml`` with the template name given separately, or written
  ``path/to/file.yaml/Template``, ``path/to/file.yaml:Template`` or ``path/to/file/Template``.
  Inside a template file, a relative path is looked up next to that file first, then from
  the working directory.

Files are read by :mod:`nmm.yamlio` (safe, libyaml's C loader when available, aliases
bounded, duplicate keys refused) and every mapping goes through :mod:`nmm.validation`.
The result of loading is a tree of frozen definitions (:class:`OperatorDef`,
:class:`NodeDef`, :class:`CircuitDef`) whose ``source`` and ``files`` are absolute paths,
which the model builder flattens into equations.
"""
from __future__ import annotations

import dataclasses
import importlib.machinery
import math
import os
import re
import reprlib
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeAlias, TypeVar

from .equations import parse_equation
from .errors import EquationError, TemplateError, did_you_mean
from .validation import check_keys, require_mapping
from .yamlio import load_yaml_file

__all__ = [
    "LIBRARY",
    "CircuitDef",
    "EdgeDef",
    "EdgeTemplateDef",
    "NodeDef",
    "OperatorDef",
    "TemplateDef",
    "Variable",
    "load_template",
    "resolve_file",
]

#: nmm's own template library
LIBRARY = Path(__file__).parent / "templates"
_ROOTS = ("OperatorTemplate", "NodeTemplate", "CircuitTemplate", "EdgeTemplate")
_KINDS = ("input", "output", "variable", "state_var", "constant")
_SUFFIXES = tuple(importlib.machinery.all_suffixes())
_short = reprlib.Repr()
_short.maxstring = _short.maxother = 60
#: a complex value in a variable's declaration: ``complex``, ``0.5+0.1j``, ``1j``
_COMPLEX_RE = re.compile(r"\bcomplex\b|(?<![A-Za-z_])\d*\.?\d+(?:[eE][-+]?\d+)?[jJ]\b")
_VAR_RE = re.compile(r"^\s*(input|output|variable|state_var|constant)\s*(?:\((.*)\))?\s*$")


@dataclass(frozen=True)
class Variable:
    """A variable declared by an operator template.

    Attributes
    ----------
    name : str
    kind : {'input', 'output', 'variable', 'constant'}
    default : float or complex
        Initial value of a state, value of a constant, value of an unconnected input. A
        complex default (``output(0.5+0.1j)``, ``input(complex)``) makes the variable
        complex: the model builder splits it into real and imaginary parts.
    unit : str or None
    """

    name: str
    kind: str
    default: float | complex
    unit: str | None = None


@dataclass(frozen=True)
class OperatorDef:
    """An operator: equations and the variables they use."""

    name: str
    source: str
    equations: tuple[str, ...]
    variables: tuple[Variable, ...]
    description: str = ""

    def variable(self, name: str) -> Variable:
        for v in self.variables:
            if v.name == name:
                return v
        raise KeyError(name)


@dataclass(frozen=True)
class NodeDef:
    """A node: a list of operators, keyed by label."""

    name: str
    source: str
    operators: tuple[tuple[str, OperatorDef], ...]
    description: str = ""


@dataclass(frozen=True)
class EdgeTemplateDef:
    """An edge template: operators applied on the way from source to target (PyRates'
    ``EdgeTemplate``); an empty list (``DummyEdge``) is a plain weighted edge."""

    name: str
    source: str
    operators: tuple[tuple[str, OperatorDef], ...]
    description: str = ""


@dataclass(frozen=True)
class EdgeDef:
    """An edge ``source -> target`` with its attributes, as written in the circuit.

    ``operators`` are those of the edge template (none for ``null`` and for an empty
    template); ``extra`` holds the attributes other than weight, delay and spread (an
    edge template's input mapping and values, ``'T/op/var': 'source'``).
    """

    source: str
    target: str
    template: str | None
    weight: float = 1.0
    delay: float = 0.0
    spread: float = 0.0
    extra: tuple[tuple[str, object], ...] = ()
    operators: tuple[tuple[str, OperatorDef], ...] = ()


@dataclass(frozen=True)
class CircuitDef:
    """A circuit: nodes, nested circuits and edges."""

    name: str
    source: str
    nodes: tuple[tuple[str, NodeDef], ...]
    circuits: tuple[tuple[str, CircuitDef], ...]
    edges: tuple[EdgeDef, ...]
    description: str = ""
    files: tuple[str, ...] = field(default=(), compare=False)
    time_unit: str = "unknown"


#: what :func:`load_template` returns
TemplateDef: TypeAlias = OperatorDef | NodeDef | CircuitDef | EdgeTemplateDef
#: an inheritance chain, root first: (file, template name, its mapping) per template
_Chain: TypeAlias = list[tuple[Path, str, dict[str, Any]]]
_Member = TypeVar("_Member", NodeDef, CircuitDef)


# --------------------------------------------------------------------------- files


def _read_yaml(path: Path) -> dict[Any, Any]:
    data = load_yaml_file(path, "template file", error=TemplateError)
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise TemplateError(f"template file {str(path)!r} must hold a mapping of templates by name.")
    return data


def _template_names(data: dict[Any, Any]) -> list[str]:
    """The names of the templates in a file: its entries with a ``base:`` key. Other keys
    (anchors' lists, or whatever an unrelated YAML file holds) are never listed."""
    return [str(k) for k, v in data.items() if isinstance(v, dict) and "base" in v]


def _listing(names: list[str], limit: int = 30) -> str:
    more = f" and {len(names) - limit} more" if len(names) > limit else ""
    return ", ".join(names[:limit]) + more


def _has_init(folder: Path) -> bool:
    return any((folder / f"__init__{suffix}").is_file() for suffix in _SUFFIXES)


def _is_module(folder: Path, name: str) -> bool:
    return any((folder / f"{name}{suffix}").is_file() for suffix in _SUFFIXES)


def _package_dirs(dotted: str) -> list[Path]:
    """The folders of package ``dotted``, found without importing (running) any code.

    The top-level name is looked up in ``sys.modules`` (code that already ran) or by
    :class:`importlib.machinery.PathFinder` on ``sys.path``, which only looks at files. Each
    further name is a sub-folder: the first folder with an ``__init__`` is a regular
    package, a module of that name ends the search, folders without ``__init__`` are the
    portions of a namespace package, as the import system finds them.
    """
    top, *rest = dotted.split(".")
    if not all(part.isidentifier() for part in (top, *rest)):
        return []
    module = sys.modules.get(top)
    if module is not None:
        dirs = [Path(p) for p in (getattr(module, "__path__", None) or [])]
    else:
        try:
            spec = importlib.machinery.PathFinder.find_spec(top, sys.path)
        except (ImportError, ValueError, OSError):
            return []
        if spec is None or spec.submodule_search_locations is None:
            return []
        dirs = [Path(p) for p in spec.submodule_search_locations]
    for name in rest:
        portions: list[Path] = []
        for d in dirs:
            sub = d / name
            if sub.is_dir() and _has_init(sub):
                portions = [sub]
                break
            if _is_module(d, name):
                portions = []
                break
            if sub.is_dir():
                portions.append(sub)
        dirs = portions
        if not dirs:
            return []
    return dirs


def resolve_file(module_path: str) -> Path:
    """Find the YAML file of a dotted module path such as ``pkg.sub.file``.

    No code is imported or run: see :func:`_package_dirs`.

    Raises
    ------
    TemplateError
        If no such file exists.
    """
    pkg, _, stem = module_path.rpartition(".")
    tried = []
    if pkg:
        dirs = _package_dirs(pkg)
        for d in dirs:
            for ext in (".yaml", ".yml"):
                f = d / (stem + ext)
                tried.append(str(f))
                if f.is_file():
                    return f
        if module_path.startswith("model_templates.") and not dirs:
            # PyRates is not installed: nmm's own library serves these names
            f = LIBRARY / (stem + ".yaml")
            tried.append(str(f))
            if f.is_file():
                return f
    ours = sorted(p.stem for p in LIBRARY.glob("*.yaml"))
    raise TemplateError(
        f"cannot find the template file of {module_path!r} (tried: {', '.join(tried) or 'no package found'}). "
        f"nmm's own library has nmm.templates.<file>.<Template> with files: {', '.join(ours)}."
    )


def _find(written: str, base: Path | None) -> Path | None:
    """The existing file a reference names: a relative path next to the referring file
    (``base``) first, then from the working directory."""
    p = Path(written)
    if base is not None and not p.is_absolute() and (base / p).is_file():
        return base / p
    return p if p.is_file() else None


def _split_reference(ref: str, template: str | None, base: Path | None = None) -> tuple[Path, str]:
    """Turn a user's template reference into (file, template name); ``base`` is the folder
    of the file the reference is written in."""
    if template is not None:
        return Path(ref), template
    for sep in ("/", ":"):
        for ext in (".yaml", ".yml"):
            marker = ext + sep
            if marker in ref:
                f, _, name = ref.rpartition(marker)
                return _find(f + ext, base) or Path(f + ext), name
    if ref.endswith((".yaml", ".yml")):
        raise TemplateError(
            f"template file {ref!r} given without a template name: pass it as "
            f"from_yaml({ref!r}, 'Name') or from_yaml('{ref}/Name')."
        )
    if "/" in ref or os.sep in ref:
        f, _, name = ref.rpartition("/")
        if "." in name and _find(f + ".yaml", base) is None:
            stem, _, name = name.rpartition(".")
            f = f + "/" + stem
        for ext in (".yaml", ".yml"):
            found = _find(f + ext, base)
            if found is not None:
                return found, name
        raise TemplateError(f"cannot find template file {f + '.yaml'!r} for template reference {ref!r}.")
    if "." not in ref:
        raise TemplateError(
            f"template reference {ref!r} is neither a dotted path (package.file.Template) nor a file path. "
            "Try 'model_templates.neural_mass_models.jansenrit.JRC' or 'nmm.templates.jansenrit.JRC'."
        )
    module_path, _, name = ref.rpartition(".")
    return resolve_file(module_path), name


# --------------------------------------------------------------------------- loading


class _Loader:
    """Resolves references and inheritance; one instance per top-level load."""

    def __init__(self) -> None:
        self._files: dict[Path, dict[Any, Any]] = {}

    def data(self, path: Path) -> dict[Any, Any]:
        path = path.resolve()
        if path not in self._files:
            self._files[path] = _read_yaml(path)
        return self._files[path]

    def locate(self, ref: object, context: Path | None) -> tuple[Path, str]:
        if not isinstance(ref, str):
            raise TemplateError(f"template reference {_short.repr(ref)} must be a string.")
        if context is not None and ref in self.data(context):
            return context.resolve(), ref
        if context is not None and "." not in ref and "/" not in ref:
            names = _template_names(self.data(context))
            raise TemplateError(
                f"template {ref!r} not found in {str(context)!r}." + did_you_mean(ref, names)
            )
        path, name = _split_reference(ref, None, None if context is None else context.parent)
        return path.resolve(), name

    def entry(self, path: Path, name: str) -> dict[str, Any]:
        data = self.data(path)
        names = _template_names(data)
        if name not in data:
            found = (f"its templates: {_listing(names)}." if names else
                     "it holds no templates (entries with a 'base:' key).")
            raise TemplateError(f"template {name!r} not found in {str(path)!r}; {found}" + did_you_mean(name, names))
        entry = data[name]
        if not isinstance(entry, dict):
            raise TemplateError(
                f"{name!r} in {str(path)!r} is not a template: a template is a mapping with a 'base:' key, "
                f"this is a {type(entry).__name__}."
            )
        return entry

    def chain(self, path: Path, name: str) -> tuple[str, _Chain]:
        """The inheritance chain from the root down to ``name``, and the root kind."""
        chain: _Chain = []
        seen: list[str] = []
        cur: tuple[Path, str] | None = (path, name)
        while cur is not None:
            key = f"{cur[0]}:{cur[1]}"
            if key in seen:
                loop = " -> ".join(s.rsplit(":", 1)[1] for s in seen + [key])
                raise TemplateError(f"circular 'base:' inheritance: {loop}.")
            seen.append(key)
            entry = self.entry(*cur)
            chain.append((cur[0], cur[1], entry))
            base = entry.get("base")
            if base is None:
                raise TemplateError(
                    f"template {cur[1]!r} in {str(cur[0])!r} has no 'base:'; "
                    f"use one of {', '.join(_ROOTS)} or another template."
                )
            if base in _ROOTS:
                return base, chain[::-1]
            cur = self.locate(base, cur[0])
        raise AssertionError("unreachable")  # pragma: no cover

    def load(self, path: Path, name: str) -> TemplateDef:
        kind, chain = self.chain(path, name)
        if kind == "OperatorTemplate":
            return self._operator(chain)
        if kind == "NodeTemplate":
            return self._node(chain)
        if kind == "CircuitTemplate":
            return self._circuit(chain)
        return self._edge_template(chain)

    # operators ---------------------------------------------------------------
    def _operator(self, chain: _Chain) -> OperatorDef:
        equations: list[str] = []
        variables: dict[str, object] = {}
        units: dict[str, str] = {}
        description = ""
        for path, name, entry in chain:
            what, src = f"operator {name!r}", str(path)
            check_keys(entry, ("base", "equations", "variables", "description", "units"), what, source=src,
                       error=TemplateError)
            eqs = entry.get("equations")
            if eqs is not None:
                equations = _update_equations(equations, eqs, what, src)
            variables.update(require_mapping(entry.get("variables") or {}, f"'variables' of {what}",
                                             source=src, error=TemplateError))
            units.update({str(k): str(v) for k, v in require_mapping(
                entry.get("units") or {}, f"'units' of {what}", source=src, error=TemplateError).items()})
            description = entry.get("description", description) or description
        path, name, _ = chain[-1]
        where = f" in operator {name!r} ({path})"
        parsed = [parse_equation(e, where) for e in equations]
        used: set[str] = set()
        declared = sorted(map(str, variables))
        for text, eq in zip(equations, parsed):
            used |= eq.names | {eq.lhs}
            for n in sorted(eq.names - set(declared) - {"pi", "t"}):
                raise EquationError(
                    f"unknown variable {n!r} in equation {text!r}{where}; declared variables: "
                    f"{', '.join(declared) or 'none'}." + did_you_mean(n, declared)
                )
        out = []
        for vname, spec in variables.items():
            if str(vname) not in used:
                continue  # as PyRates: variables no equation uses are dropped
            kind, default, unit = _parse_variable(str(vname), spec, where)
            out.append(Variable(str(vname), kind, default, unit or units.get(str(vname))))
        return OperatorDef(name, str(path), tuple(equations), tuple(out), str(description))

    # nodes -------------------------------------------------------------------
    @staticmethod
    def _operator_chain(chain: _Chain, kind: str) -> tuple[tuple[Path, object] | None, str]:
        """The operator list and description of a node or edge template along its base chain
        (the last entry that gives each wins)."""
        ops_spec: tuple[Path, object] | None = None
        description = ""
        for path, name, entry in chain:
            check_keys(entry, ("base", "operators", "description"), f"{kind} {name!r}", source=str(path),
                       error=TemplateError)
            if "operators" in entry:
                ops_spec = (path, entry["operators"])
            description = entry.get("description", description) or description
        return ops_spec, description

    def _node(self, chain: _Chain) -> NodeDef:
        ops_spec, description = self._operator_chain(chain, "node")
        path, name, _ = chain[-1]
        if ops_spec is None:
            raise TemplateError(f"node template {name!r} in {str(path)!r} lists no operators.")
        ops = self._operators(ops_spec, f"node {name!r}")
        return NodeDef(name, str(path), ops, str(description))

    def _operators(self, ops_spec: tuple[Path, object], what: str) -> tuple[tuple[str, OperatorDef], ...]:
        """The ``operators:`` of a node or edge template: (label, operator) pairs."""
        ctx, spec = ops_spec
        if spec is None:
            spec = []
        if isinstance(spec, str):  # one operator, as PyRates accepts
            spec = [spec]
        if isinstance(spec, list):
            items = [(s, None) for s in spec]
        elif isinstance(spec, dict):
            items = list(spec.items())
        else:
            raise TemplateError(f"'operators' of {what} must be a list of operator templates.")
        ops: list[tuple[str, OperatorDef]] = []
        for ref, overrides in items:
            p, n = self.locate(ref, ctx)
            op = self.load(p, n)
            if not isinstance(op, OperatorDef):
                raise TemplateError(f"{ref!r} in the operators of {what} is not an operator template.")
            if overrides:
                overrides = require_mapping(overrides, f"the values of operator {ref!r} in {what}",
                                            source=str(ctx), error=TemplateError)
                op = _override_operator(op, overrides, f" in {what}")
            label = op.name
            if any(label == lbl for lbl, _ in ops):
                raise TemplateError(f"operator {label!r} appears twice in {what}.")
            ops.append((label, op))
        return tuple(ops)

    # edges -------------------------------------------------------------------
    def _edge_template(self, chain: _Chain) -> EdgeTemplateDef:
        ops_spec, description = self._operator_chain(chain, "edge template")
        path, name, _ = chain[-1]
        ops = self._operators(ops_spec, f"edge template {name!r}") if ops_spec is not None else ()
        return EdgeTemplateDef(name, str(path), ops, str(description))

    def _edge_operators(self, edge: EdgeDef, ctx: Path, circuit: str) -> EdgeDef:
        """``edge`` with the operators of its template (none for an empty template)."""
        if edge.template is None:
            return edge
        loaded = self.load(*self.locate(edge.template, ctx))
        if not isinstance(loaded, EdgeTemplateDef):
            raise TemplateError(
                f"edge {edge.source} -> {edge.target} of circuit {circuit!r}: {edge.template!r} is not an edge "
                "template (base: EdgeTemplate); give an edge template or null."
            )
        return dataclasses.replace(edge, operators=loaded.operators)

    # circuits ----------------------------------------------------------------
    def _members(self, spec_ctx: tuple[Path, object] | None, section: str, cls: type[_Member], kind: str,
                 circuit: str) -> list[tuple[str, _Member]]:
        """The ``nodes:`` or ``circuits:`` of a circuit: (label, loaded template) pairs."""
        if not spec_ctx:
            return []
        ctx, spec = spec_ctx
        out = []
        for label, ref in require_mapping(spec, f"'{section}' of circuit {circuit!r}", source=str(ctx),
                                          error=TemplateError).items():
            loaded = self.load(*self.locate(ref, ctx))
            if not isinstance(loaded, cls):
                raise TemplateError(f"{kind} {label!r} of circuit {circuit!r}: {ref!r} is not a {kind} template.")
            out.append((str(label), loaded))
        return out

    def _circuit(self, chain: _Chain) -> CircuitDef:
        nodes_spec = circuits_spec = edges_spec = None
        edges_ctx = chain[-1][0]
        description = ""
        time_unit = "unknown"
        for path, name, entry in chain:
            check_keys(entry, ("base", "nodes", "circuits", "edges", "description", "time_unit"),
                       f"circuit {name!r}", source=str(path), error=TemplateError)
            time_unit = str(entry.get("time_unit", time_unit))
            if "nodes" in entry:
                nodes_spec = (path, entry["nodes"] or {})
            if "circuits" in entry:
                circuits_spec = (path, entry["circuits"] or {})
            if "edges" in entry:
                edges_spec = entry["edges"] or []
                edges_ctx = path
            description = entry.get("description", description) or description
        path, name, _ = chain[-1]
        nodes = self._members(nodes_spec, "nodes", NodeDef, "node", name)
        circuits = self._members(circuits_spec, "circuits", CircuitDef, "circuit", name)
        labels = [lbl for lbl, _ in nodes] + [lbl for lbl, _ in circuits]
        dup = {x for x in labels if labels.count(x) > 1}
        if dup:
            raise TemplateError(f"circuit {name!r} uses the label(s) {sorted(dup)} twice.")
        if not isinstance(edges_spec or [], list):
            raise TemplateError(f"'edges' of circuit {name!r} must be a list of [source, target, template, "
                                f"{{weight: ...}}] (file {path}).")
        edges = tuple(self._edge_operators(_edge(e, name), edges_ctx, name) for e in (edges_spec or []))
        files = tuple(str(p) for p in self._files)
        return CircuitDef(name, str(path), tuple(nodes), tuple(circuits), edges, str(description), files,
                          time_unit)


def _replace_term(equation: str, old: str, new: str) -> str:
    """Replace whole occurrences of ``old`` (not inside longer names), like PyRates."""
    pattern = r"(?<![A-Za-z0-9_.])" + re.escape(old) + r"(?![A-Za-z0-9_])"
    return re.sub(pattern, lambda _: new, equation)


def _update_equations(current: list[str], spec: object, what: str, source: str) -> list[str]:
    if isinstance(spec, str):
        return [spec]
    if isinstance(spec, list):
        return [str(e) for e in spec]
    if isinstance(spec, dict):
        check_keys(spec, ("replace", "add", "remove", "append", "prepend"), f"'equations' of {what}",
                   source=source, error=TemplateError)
        replace = require_mapping(spec.get("replace") or {}, f"'equations: replace:' of {what}", source=source,
                                  error=TemplateError)
        out = []
        for eq in current:
            for old, new in replace.items():
                eq = _replace_term(eq, str(old), str(new))
            remove = spec.get("remove") or []
            for old in [remove] if isinstance(remove, str) else remove:
                eq = _replace_term(eq, str(old), "")
            if spec.get("append"):
                eq = f"{eq} {spec['append']}"
            if spec.get("prepend"):
                eq = f"{spec['prepend']} {eq}"
            out.append(eq)
        add = spec.get("add") or []
        return out + ([add] if isinstance(add, str) else [str(a) for a in add])
    raise TemplateError(f"'equations' of {what} (file {source}) must be a string, a list or a mapping of updates.")


def _number(text: object, what: str) -> float:
    if isinstance(text, bool):
        raise TemplateError(f"{what} must be a number, got {text!r}.")
    if isinstance(text, (int, float)):
        value = float(text)
    else:
        try:
            value = float(str(text).strip())
        except (ValueError, OverflowError):
            raise TemplateError(f"{what} must be a number, got {_short.repr(text)}.") from None
    if not math.isfinite(value):
        raise TemplateError(f"{what} must be a finite number, got {_short.repr(text)} "
                            "(float64 values lie within about ±1.8e308).")
    return value


def _parse_variable(name: str, spec: object, where: str) -> tuple[str, float | complex, str | None]:
    what = f"variable {name!r}{where}"
    unit = None
    if isinstance(spec, dict):  # older PyRates form {default: ..., unit: ...}
        check_keys(spec, ("default", "value", "unit", "description", "dtype", "shape", "vtype"), what,
                   error=TemplateError)
        unit = spec.get("unit")
        spec = spec.get("default", spec.get("value", 0.0))
    if isinstance(spec, complex) or (isinstance(spec, str) and _COMPLEX_RE.search(spec)):
        return _complex_variable(spec, what, unit)
    if isinstance(spec, (int, float)) and not isinstance(spec, bool):
        return "constant", _number(spec, what), unit
    if isinstance(spec, str):
        m = _VAR_RE.match(spec)
        if m:
            kind = "variable" if m.group(1) == "state_var" else m.group(1)
            value = m.group(2)
            default = _number(value, what) if value not in (None, "") else 0.0
            return kind, default, unit
        try:
            float(spec)
        except ValueError:
            pass
        else:
            return "constant", _number(spec, what), unit
    raise TemplateError(
        f"{what} has the value {_short.repr(spec)}; use a number or one of "
        "input(x), output(x), variable(x), constant(x)."
    )


def _complex_variable(spec: object, what: str, unit: str | None) -> tuple[str, complex, str | None]:
    """A complex variable: ``input(complex)``, ``output(0.5+0.1j)``, ``0.0+1.0j`` (read with
    :class:`complex`, which parses a literal and runs nothing)."""
    kind, text = "constant", str(spec)
    m = _VAR_RE.match(text) if isinstance(spec, str) else None
    if m:
        kind = "variable" if m.group(1) == "state_var" else m.group(1)
        text = m.group(2) or "complex"
    if isinstance(spec, complex):
        value = spec
    elif text.strip() == "complex":
        value = 0j
    else:
        try:
            value = complex(text.replace(" ", ""))
        except ValueError:
            raise TemplateError(f"{what} has the value {_short.repr(spec)}; write a complex number as "
                                "0.5+0.1j, or complex for 0.") from None
    if not (math.isfinite(value.real) and math.isfinite(value.imag)):
        raise TemplateError(f"{what} must be a finite number, got {_short.repr(spec)}.")
    return kind, value, unit


def _override_operator(op: OperatorDef, overrides: dict[Any, Any], where: str) -> OperatorDef:
    vs = list(op.variables)
    for k, v in overrides.items():
        for i, var in enumerate(vs):
            if var.name == k:
                kind, default, unit = _parse_variable(k, v, where)
                if kind == "constant" and var.kind != "constant":
                    kind = var.kind
                vs[i] = Variable(k, kind, default, unit or var.unit)
                break
        else:
            raise TemplateError(
                f"operator {op.name!r}{where} has no variable {k!r}." + did_you_mean(k, [x.name for x in vs])
            )
    return OperatorDef(op.name, op.source, op.equations, tuple(vs), op.description)


def _edge(e: object, circuit: str) -> EdgeDef:
    if not isinstance(e, (list, tuple)) or len(e) not in (2, 3, 4):
        raise TemplateError(
            f"edge {_short.repr(e)} of circuit {circuit!r} must be "
            "[source, target, template or null, {weight: ..., delay: ...}]."
        )
    source, target = str(e[0]), str(e[1])
    template = e[2] if len(e) > 2 else None
    attrs = require_mapping(e[3] or {}, f"the attributes of edge {source} -> {target} in circuit {circuit!r}",
                            error=TemplateError) if len(e) > 3 else {}
    what = f"of edge {source} -> {target} in circuit {circuit!r}"
    weight = _number(attrs.pop("weight", 1.0), f"'weight' {what}")
    delay = attrs.pop("delay", 0.0)
    delay = 0.0 if delay is None else _number(delay, f"'delay' {what}")
    spread = attrs.pop("spread", 0.0)
    spread = 0.0 if spread is None else _number(spread, f"'spread' {what}")
    return EdgeDef(source, target, None if template is None else str(template), weight, delay, spread,
                   tuple(sorted(attrs.items())))


def load_template(ref: str | os.PathLike[str], template: str | None = None) -> TemplateDef:
    """Load a template by reference.

    Parameters
    ----------
    ref : str or path-like
        A dotted path (``model_templates.neural_mass_models.jansenrit.JRC``), or a file
        path (``path/to/file.yaml``) with ``template``, or ``path/to/file.yaml/Name``.
    template : str, optional
        The template's name when ``ref`` is a file path.

    Returns
    -------
    OperatorDef or NodeDef or CircuitDef

    Raises
    ------
    TemplateError
        If the file or template cannot be found or read, or the template is malformed.
    """
    if not isinstance(ref, (str, os.PathLike)):
        raise TemplateError(f"template reference must be a string, got {ref!r}.")
    path, name = _split_reference(str(ref), template)
    if path.is_dir():
        raise TemplateError(f"template file {str(path)!r} is a folder, not a file (from reference {str(ref)!r}); "
                            "give the YAML file inside it.")
    if not path.is_file():
        raise TemplateError(f"template file {str(path)!r} does not exist (from reference {str(ref)!r}).")
    return _Loader().load(path.resolve(), name)
