"""Imports point one way: loader -> model -> codegen -> engine -> façades -> sweeps.

Each module of ``nmm`` and ``sweeps`` is parsed (not imported); every import of a module
of ours must go to a lower layer, and no module imports one of ours inside a function
(the usual way to hide a cycle). The command line (``sweeps/cli.py``) may import lazily
to start fast.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

#: layer of each module (a package's modules share its layer unless listed); lower first
LAYERS = [
    ["nmm.errors", "nmm.types", "nmm.emitter", "nmm.noise", "nmm._fastmath", "nmm._random"],
    ["nmm.validation", "nmm.analysis"],
    ["nmm.yamlio"],
    ["nmm.equations"],
    ["nmm.printer"],
    ["nmm.loader", "nmm.connectomes"],
    ["nmm.model", "nmm.solvers"],
    ["nmm.netmodel"],
    ["nmm.kernel_cache"],
    ["nmm.codegen"],
    ["nmm.netcodegen_ring"],
    ["nmm.netcodegen"],
    ["nmm.engine"],
    ["nmm.results"],
    ["nmm.circuit"],
    ["nmm.network"],
    ["nmm.cycles"],
    ["nmm.simulate", "nmm.continuation"],
    ["nmm.templates"],
    ["nmm"],
    ["sweeps.errors", "sweeps.config"],
    ["sweeps.axes", "sweeps.reduction_base", "sweeps.progress", "sweeps.adaptive"],
    ["sweeps.analysis_reductions", "sweeps.network_reductions"],
    ["sweeps.reductions"],
    ["sweeps.sections"],
    ["sweeps.spec"],
    ["sweeps.plan", "sweeps.lock"],
    ["sweeps.store"],
    ["sweeps.verify", "sweeps.task", "sweeps.cluster"],
    ["sweeps.runner", "sweeps.loci", "sweeps.plots"],
    ["sweeps.workflow"],
    ["sweeps.cli"],
    ["sweeps"],
]
RANK = {m: i for i, layer in enumerate(LAYERS) for m in layer}
LAZY_OK = {"sweeps.cli"}


def _modules():
    for pkg in ("nmm", "sweeps"):
        for f in sorted((ROOT / pkg).rglob("*.py")):
            parts = list(f.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            yield ".".join(parts), f


def _rank(module: str) -> int:
    parts = module.split(".")
    for k in range(len(parts), 0, -1):
        name = ".".join(parts[:k])
        if name in RANK:
            return RANK[name]
    raise KeyError(module)


def _imports(module: str, path: Path):
    """(imported module of ours, line, inside a function) for every import in the file."""
    tree = ast.parse(path.read_text())
    is_pkg = path.name == "__init__.py"
    base = module.split(".") if is_pkg else module.split(".")[:-1]
    funcs = [n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
    nested = {id(x) for fn in funcs for x in ast.walk(fn)}
    # `if TYPE_CHECKING:` imports are for annotations only: they never run
    typing_only = {id(x) for n in ast.walk(tree) if isinstance(n, ast.If)
                   and getattr(n.test, "id", getattr(n.test, "attr", "")) == "TYPE_CHECKING"
                   for x in ast.walk(n)}
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                pkg = base[: len(base) - node.level + 1]
                head = ".".join(pkg + ([node.module] if node.module else []))
            else:
                head = node.module or ""
            names = [head] if node.module or not node.level else [f"{head}.{a.name}" for a in node.names]
            if node.module is None and node.level:
                names = [f"{head}.{a.name}" if f"{head}.{a.name}" in RANK or head in ("nmm", "sweeps")
                         else head for a in node.names]
        else:
            continue
        for name in names:
            if name.split(".")[0] in ("nmm", "sweeps"):
                yield name, node.lineno, id(node) in nested


MODULES = list(_modules())


@pytest.mark.parametrize("module,path", MODULES, ids=[m for m, _ in MODULES])
def test_imports_point_downwards(module, path):
    me = _rank(module)
    for name, line, _ in _imports(module, path):
        if name == module or name.startswith(module + ".") or module.startswith(name + "."):
            continue  # a package and its own modules
        try:
            other = _rank(name)
        except KeyError:
            pytest.fail(f"{path.name}:{line} imports {name}, which has no layer in tests/test_layers.py")
        same_pkg = name.split(".")[:2] == module.split(".")[:2] and other == me
        assert other < me or same_pkg, f"{module} (layer {me}) imports {name} (layer {other}) at line {line}"


@pytest.mark.parametrize("module,path", MODULES, ids=[m for m, _ in MODULES])
def test_no_imports_of_ours_inside_functions(module, path):
    if module in LAZY_OK:
        return
    lazy = [(name, line) for name, line, inner in _imports(module, path) if inner]
    assert not lazy, f"{module} imports {lazy} inside functions"


def test_every_module_has_a_layer():
    for module, _ in MODULES:
        _rank(module)
