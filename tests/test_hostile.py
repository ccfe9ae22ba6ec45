"""A table of hostile and faulty inputs (issue 10), one parametrized table per family.

Every refused input must raise nmm's own error class (``NMMError`` and its subclasses,
``sweeps.SpecError``, ``sweeps.StoreError``; on the command line: exit status 1 and one
``error: ...`` line on stderr) with a message that names the bad value and the fix, and
must leave every file as it was: the test's folder and the kernel cache (``NMM_CACHE_DIR``
points into it) are snapshotted before and after (names, types, sizes, mtimes). A damaged
store instead must be named by ``sweeps.verify``, repaired by ``sweeps.resume`` and then
equal an undamaged run bit for bit.

Cases where the current behaviour is wrong are kept as strict xfails whose reason says
what is wrong; fixing the code turns them into failures until the mark is removed.
"""
from __future__ import annotations

import contextlib
import itertools
import json
import os
import re
import shutil
import socket
import stat
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
import zarr
from click.testing import CliRunner
from distributed import Client

import nmm
import sweeps
from nmm import EquationError, NMMError, ParameterError, TemplateError
from nmm.kernel_cache import clear_memo
from sweeps import SpecError, StoreError
from sweeps.lock import StoreLock, lock_path
from sweeps.verify import StoreDamageWarning
from sweeps.workflow import Workflow

JRC = "nmm.templates.jansenrit.JRC"
HOST = socket.gethostname()
SECRET = "hunter2"  # written into hostile files: no message may echo it


def xfail(reason: str):
    return pytest.mark.xfail(strict=True, reason=reason)


# --------------------------------------------------------------------------- helpers


def snapshot(*roots: Path) -> dict[str, tuple]:
    """Every path under ``roots`` (the roots included) -> its type, and for files its size and
    mtime in ns. A folder's own mtime is left out: a lock file that is taken and released
    leaves nothing behind but changes it."""
    out = {}
    for root in roots:
        if not root.exists():
            continue
        for p in [root, *root.rglob("*")]:
            st = p.lstat()
            kind = stat.S_IFMT(st.st_mode)
            out[str(p.relative_to(root.parent))] = (kind,) if kind == stat.S_IFDIR else (kind, st.st_size,
                                                                                          st.st_mtime_ns)
    return out


@contextlib.contextmanager
def unchanged(*roots: Path):
    """Assert that nothing under ``roots`` was created, removed or modified in the block."""
    before = snapshot(*roots)
    yield
    after = snapshot(*roots)
    added = sorted(set(after) - set(before))
    removed = sorted(set(before) - set(after))
    changed = sorted(k for k in set(before) & set(after) if before[k] != after[k])
    assert not (added or removed or changed), f"files changed: added {added}, removed {removed}, changed {changed}"


def check_message(exc: BaseException) -> str:
    """The message of a refusal: one line, short, never echoing the hostile file's secret."""
    msg = str(exc)
    assert "\n" not in msg.strip(), msg
    assert len(msg) < 1500, msg[:300]
    assert SECRET not in msg, msg
    return msg


def refuse(error: type[BaseException], match: str, call, *roots: Path):
    """``call()`` raises ``error`` matching ``match`` (re.search) and leaves ``roots`` unchanged."""
    with unchanged(*roots), pytest.raises(error, match=match) as info:
        call()
    check_message(info.value)
    return info.value


@pytest.fixture
def cache(tmp_path, monkeypatch):
    """An empty kernel cache inside ``tmp_path``, and no kernel memoised in this process
    (so a kernel compiled by a refused input would show as a new file)."""
    d = tmp_path / "kernels"
    d.mkdir()
    monkeypatch.setenv("NMM_CACHE_DIR", str(d))
    clear_memo()
    yield d
    clear_memo()


def write(path: Path, text: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(textwrap.dedent(text))
    return path


def template(equations: str, variables: str = "{x: output(0.5), y: 2.0}") -> str:
    """A one-operator node template; ``equations`` is YAML text."""
    return textwrap.dedent(f"""\
        secret: {SECRET}
        op:
          base: OperatorTemplate
          equations: {equations}
          variables: {variables}
        node: {{base: NodeTemplate, operators: [op]}}
        """)


def run_node(path: Path, name: str = "node"):
    c = nmm.CircuitTemplate.from_yaml(str(path), name)
    return c.run(simulation_time=0.01, step_size=1e-3, sampling_step_size=1e-3, outputs={"x": "node/op/x"},
                 solver="euler")


# =========================================================================== 1. equations
# (equation as YAML text, variables or None, error, match)

_ALLOWED = r"allowed functions: abs, absv, acos, arccos, .*, tanh"
_PARTS = r"equations use numbers, variable names, \+ - \* / \*\* \^ and the functions abs"

EQUATIONS = [
    pytest.param('"d/dt * x = 9^9^9"', None, EquationError,
                 r"power '9\^9\^9' in equation 'd/dt \* x = 9\^9\^9' in operator 'op' .* is about 10\^369693100, "
                 r"which float64 cannot represent", id="power tower 9^9^9"),
    pytest.param('"d/dt * x = 1e400 * y"', None, EquationError,
                 r"number 1e400 in equation .* is beyond the float64 range \(float64 values lie within about "
                 r"±1\.8e308\)", id="number 1e400"),
    pytest.param('"d/dt * x = x/0"', None, EquationError,
                 r"division by zero: 'x/0' in equation 'd/dt \* x = x/0' .* divides by '0', which is zero",
                 id="division x/0"),
    pytest.param('"d/dt * x = sqrt(-1) * x"', None, EquationError,
                 r"'sqrt\(-1\)' in equation .* has no finite real value \(math domain error\); the kernel would "
                 r"compute nan", id="sqrt(-1)"),
    pytest.param('"d/dt * x = log(0) + x"', None, EquationError,
                 r"'log\(0\)' in equation .* has no finite real value", id="log(0)"),
    pytest.param('"d/dt * x = exp(1000) * x"', None, EquationError, r"'exp\(1000\)' in equation .* overflows float64",
                 id="exp(1000)"),
    pytest.param('"d/dt * x = x^1e6"', None, EquationError,
                 r"exponent 1e\+06 of 'x\^1e6' .* larger than 1024 in magnitude \(nmm\.equations\.MAX_EXPONENT\)",
                 id="exponent 1e6"),
    pytest.param("\"d/dt * x = __import__('os')\"", None, EquationError,
                 rf"function '__import__' in equation .* is not allowed; {_ALLOWED}", id="__import__('os')"),
    pytest.param('"d/dt * x = x.__class__"', None, EquationError,
                 r"attribute access 'x\.__class__' in equation 'd/dt \* x = x\.__class__' .* is not allowed",
                 id="dunder attribute x.__class__"),
    pytest.param('"d/dt * x = y.real"', None, EquationError, r"attribute access 'y\.real' in equation .* is not allowed",
                 id="attribute y.real"),
    pytest.param('"d/dt * x = lambda y: y"', None, EquationError,
                 rf"Lambda expression 'lambda y: y' in equation .* is not allowed; {_PARTS}", id="lambda"),
    pytest.param('"d/dt * x = (lambda: 1)()"', None, EquationError,
                 rf"call of 'lambda: 1' in equation .* is not allowed; {_ALLOWED}", id="called lambda"),
    pytest.param('"d/dt * x = y[0]"', None, EquationError,
                 rf"Subscript expression 'y\[0\]' in equation .* is not allowed; {_PARTS}", id="subscript y[0]"),
    pytest.param("\"d/dt * x = f'{y}'\"", None, EquationError,
                 rf"JoinedStr expression \"f'\{{y\}}'\" in equation .* is not allowed; {_PARTS}", id="f-string"),
    pytest.param('"d/dt * x = (z := y)"', None, EquationError,
                 rf"NamedExpr expression '\(z := y\)' in equation .* is not allowed; {_PARTS}", id="walrus"),
    pytest.param('"d/dt * x = [y for y in x]"', None, EquationError,
                 rf"ListComp expression '\[y for y in x\]' in equation .* is not allowed; {_PARTS}",
                 id="comprehension"),
    pytest.param("\"d/dt * x = eval('x')\"", None, EquationError,
                 rf"function 'eval' in equation .* is not allowed; {_ALLOWED}", id="eval"),
    pytest.param('"d/dt * x = exq(y)"', None, EquationError,
                 rf"function 'exq' in equation .* is not allowed; {_ALLOWED}\. Did you mean 'exp'\?",
                 id="unknown function did_you_mean"),
    pytest.param('"d/dt * x = -x/yy"', None, EquationError,
                 r"unknown variable 'yy' in equation 'd/dt \* x = -x/yy' in operator 'op' .*; declared variables: "
                 r"x, y\. Did you mean 'y'\?", id="unknown variable did_you_mean"),
    pytest.param('"d/dt * x = ' + "x + " * 30_000 + 'x"', None, EquationError,
                 r"equation 'd/dt \* x = x \+ x .* \.\.\. .*' in operator 'op' .* has 120,012 characters; the limit "
                 r"is 100,000 \(nmm\.equations\.MAX_CHARS\)\. Split it into algebraic variables", id="huge expression"),
    pytest.param('"d/dt * x = ' + "(" * 100 + "x" + ")" * 100 + '"', None, EquationError,
                 r"nests parentheses, calls, signs or exponents more than 64 deep \(nmm\.equations\.MAX_DEPTH; at "
                 r"column 66\); split it into algebraic variables", id="deep nesting"),
    pytest.param('"d/dt * t = 1"', "{t: variable(0.0), x: output(0.5), y: 2.0}", EquationError,
                 r"equation 'd/dt \* t = 1' in operator 'op' .* defines 't', but 't' is the reserved time symbol.* "
                 r"Rename the variable \(for example 't_local' or 'theta'\)", id="defining t"),
    pytest.param('"d/dt * x = (x + y"', None, EquationError,
                 r"cannot parse '\(x \+ y' in equation 'd/dt \* x = \(x \+ y' .*: '\(' was never closed",
                 id="unclosed parenthesis"),
    pytest.param('"d/dt * x = x + y)"', None, EquationError,
                 r"cannot parse 'x \+ y\)' in equation .*: unmatched '\)'", id="unmatched parenthesis"),
    pytest.param('""', None, EquationError,
                 r"equation '' in operator 'op' .* has no '='\. Write 'd/dt \* x = \.\.\.', \"x' = \.\.\.\" or "
                 r"'x = \.\.\.'", id="empty equation"),
    pytest.param('"d/dt * x ="', None, EquationError,
                 r"cannot parse '' in equation 'd/dt \* x =' in operator 'op'", id="empty right-hand side"),
    pytest.param("42", None, TemplateError,
                 r"'equations' of operator 'op' \(file .*m\.yaml\) must be a string, a list or a mapping of updates",
                 id="equations a number"),
    pytest.param("[42]", None, EquationError, r"equation '42' in operator 'op' .* has no '='\. Write 'd/dt \* x",
                 id="equation a number in a list"),
]


@pytest.mark.parametrize("equations, variables, error, match", EQUATIONS)
def test_equation_is_refused(tmp_path, cache, equations, variables, error, match):
    path = write(tmp_path / "m.yaml", template(equations, variables or "{x: output(0.5), y: 2.0}"))
    t = time.perf_counter()
    refuse(error, match, lambda: run_node(path), tmp_path)
    assert time.perf_counter() - t < 5


def test_equation_that_is_not_a_string_is_named():
    from nmm.equations import parse_equation

    with pytest.raises(EquationError, match=r"^equation 42 in operator 'op' is not a string\.$"):
        parse_equation(42, " in operator 'op'")


# =========================================================================== 2. YAML files
# (reader, file content, error, match); every file holds a secret no message may echo


def _bomb(levels: int = 9) -> str:
    names = "abcdefghijklmnop"
    lines = [f"{names[0]}: &{names[0]} [x, x, x, x, x, x, x, x, x]"]
    for prev, cur in itertools.pairwise(names[:levels]):
        lines.append(f"{cur}: &{cur} [{', '.join(['*' + prev] * 9)}]")
    return "\n".join(lines) + "\n"


OPS = template('"d/dt * x = -x/y"')
SWEEP = textwrap.dedent("""\
    name: hostile
    model: {template: nmm.templates.jansenrit.JRC}
    axes: [{path: pc/rpo_e_in/u, name: u, values: [120.0, 220.0]}]
    simulation: {simulation_time: 0.05, step_size: 1e-4, solver: rk4, outputs: {V: pc/pro/v}}
    storage: {store: out.zarr}
    """)
READERS = {
    "template": (TemplateError, lambda p: nmm.CircuitTemplate.from_yaml(str(p), "node")),
    "sweep": (SpecError, lambda p: sweeps.SweepSpec.from_yaml(str(p))),
    "workflow": (SpecError, lambda p: Workflow.from_yaml(str(p))),
}
_WF_YAML = "the workflow reader uses yaml.safe_load directly, not nmm.yamlio (the template and sweep readers do)"
_BINARY = b"\x89PNG\r\n\x1a\n\x00\xff\xfe\x00secret: " + SECRET.encode() + b"\n\xc3\x28"
_NOT_UTF8 = r"cannot read .* it is not UTF-8 text \(invalid start byte at byte \d+\)"
_ALIASES = (r"its YAML aliases \(\*name\) expand the node at line \d+ to [\d,]+ nodes, more than 100,000 beyond the "
            r"document's own; refusing an alias bomb")
_TAG = r"at line 2, column \d+: could not determine a constructor for the tag 'tag:yaml\.org,2002:python/object/apply"
_SYNTAX = r"^YAML syntax error in .*m\.yaml' at line 3, column \d+: did not find expected ',' or '\]'\.$"
_DIR = "a directory is reported as a file that 'does not exist'; it should say it is a folder, not a file"

YAML_FILES = [
    # alias bomb
    pytest.param("template", f"secret: {SECRET}\n" + _bomb() + OPS.replace(f"secret: {SECRET}\n", ""), _ALIASES,
                 id="template alias bomb"),
    pytest.param("sweep", f"secret: {SECRET}\n" + _bomb() + SWEEP, _ALIASES, id="sweep alias bomb"),
    pytest.param("workflow", f"secret: {SECRET}\n" + _bomb() + SWEEP, _ALIASES, id="workflow alias bomb"),
    # duplicate keys
    pytest.param("template", OPS + "op: {base: OperatorTemplate}\n", r"duplicate key 'op' at line 7 of template file "
                 r".*m\.yaml': it is already defined at line 2 of the same mapping, and YAML would silently keep only "
                 r"the last\. Remove or rename one", id="template duplicate key"),
    pytest.param("sweep", SWEEP + "name: again\n", r"duplicate key 'name' at line 6 of the sweep file .*m\.yaml': it "
                 r"is already defined at line 1 .* Remove or rename one", id="sweep duplicate key"),
    pytest.param("workflow", SWEEP + "name: again\n", r"duplicate key 'name' at line 6 .*already defined at line 1",
                 id="workflow duplicate key"),
    # !!python tags
    pytest.param("template", OPS.replace("\nop:", "\nx: !!python/object/apply:os.system ['touch pwned']\nop:", 1),
                 _TAG,
                 id="template python tag"),
    pytest.param("sweep", f"secret: {SECRET}\nx: !!python/object/apply:os.system ['touch pwned']\n" + SWEEP, _TAG,
                 id="sweep python tag"),
    pytest.param("workflow", f"secret: {SECRET}\nx: !!python/object/apply:os.system ['touch pwned']\n" + SWEEP, _TAG,
                 id="workflow python tag"),
    # syntax errors: line and column, never the file's other keys or values
    pytest.param("template", f"secret: {SECRET}\nop: {{base: [unclosed\n", _SYNTAX, id="template syntax error"),
    pytest.param("sweep", f"secret: {SECRET}\nmodel: {{template: [unclosed\n", _SYNTAX, id="sweep syntax error"),
    pytest.param("workflow", f"secret: {SECRET}\nmodel: {{template: [unclosed\n", _SYNTAX, id="workflow syntax error"),
    # a document that is not a mapping
    pytest.param("template", f"- {SECRET}\n- b\n", r"template file .*m\.yaml' must hold a mapping of templates by name",
                 id="template is a list"),
    pytest.param("sweep", f"- {SECRET}\n- b\n", r"a sweep file must hold a mapping, got list", id="sweep is a list"),
    pytest.param("workflow", f"- {SECRET}\n- b\n", r"workflow .*m\.yaml' must hold a mapping \(name, model, axes, "
                 r"simulation, storage, \.\.\.\)", id="workflow is a list"),
    # an entry of the wrong type
    pytest.param("template", OPS.replace("node: {base: NodeTemplate, operators: [op]}", f"node: [{SECRET}, 2]"),
                 r"'node' in '.*m\.yaml' is not a template: a template is a mapping with a 'base:' key, this is a list",
                 id="template entry is a list"),
    pytest.param("sweep", SWEEP.replace("model: {template: nmm.templates.jansenrit.JRC}", f"model: [{SECRET}, 2]"),
                 r"model must be a mapping of keys to values, got list", id="sweep model is a list"),
    # binary garbage
    pytest.param("template", _BINARY, _NOT_UTF8, id="template binary garbage"),
    pytest.param("sweep", _BINARY, _NOT_UTF8, id="sweep binary garbage"),
    pytest.param("workflow", _BINARY, _NOT_UTF8, id="workflow binary garbage"),
    # empty file
    pytest.param("template", "", r"template 'node' not found in '.*m\.yaml'; it holds no templates \(entries with a "
                 r"'base:' key\)", id="template empty file"),
    pytest.param("sweep", "", r"sweep file '.*m\.yaml' (is empty|holds nothing)", id="sweep empty file"),
    pytest.param("workflow", "", r"workflow '.*m\.yaml' must hold a mapping", id="workflow empty file"),
    # a folder, and nothing at all
    pytest.param("template", None, r"'.*m\.yaml' is a (directory|folder)", id="template path is a directory"),
    pytest.param("sweep", None, r"'.*m\.yaml' is a (directory|folder)", id="sweep path is a directory"),
    pytest.param("workflow", None, r"'.*m\.yaml' is a (directory|folder)", id="workflow path is a directory"),
    pytest.param("template", "missing", r"template file '.*nope\.yaml' does not exist \(from reference '.*nope\.yaml'\)",
                 id="template file missing"),
    pytest.param("sweep", "missing", r"sweep file '.*nope\.yaml' does not exist", id="sweep file missing"),
    pytest.param("workflow", "missing", r"workflow file '.*nope\.yaml' does not exist", id="workflow file missing"),
]


@pytest.mark.parametrize("reader, content, match", YAML_FILES)
def test_yaml_file_is_refused(tmp_path, cache, monkeypatch, reader, content, match):
    monkeypatch.chdir(tmp_path)  # a python tag that ran would leave 'pwned' here
    error, read = READERS[reader]
    if content is None:
        path = tmp_path / "m.yaml"
        path.mkdir()
    elif content == "missing":
        path = tmp_path / "nope.yaml"
    else:
        path = write(tmp_path / "m.yaml", content)
    t = time.perf_counter()
    refuse(error, match, lambda: read(path), tmp_path)
    assert time.perf_counter() - t < 5


# =========================================================================== 3. template references
# (reference, template name or None, error, match)

REFS_FILE = textwrap.dedent("""\
    a: {base: b}
    b: {base: c}
    c: {base: a}
    self: {base: self}
    orphan: {base: nothere}
    elsewhere: {base: other.yaml/nothere}
    circ: {base: CircuitTemplate, nodes: {n: op}}
    node_of_node: {base: NodeTemplate, operators: [node]}
    nobase: {operators: [op]}
    numbase: {base: 42}
    """)

REFERENCES = [
    pytest.param("evilpkg.sub.ops.nothere", None, TemplateError,
                 r"template 'nothere' not found in '.*evilpkg/sub/ops\.yaml'; its templates: op, node\. Did you mean "
                 r"'node'\?", id="dotted reference into a package that runs code"),
    pytest.param("FILE", "nod", TemplateError,
                 r"template 'nod' not found in '.*m\.yaml'; its templates: op, node, .* Did you mean 'node'\?",
                 id="unknown template did_you_mean"),
    pytest.param("nmm.templates.jansenrit.JRX", None, TemplateError,
                 r"template 'JRX' not found in '.*jansenrit\.yaml'; its templates: .*JRC.* Did you mean 'JRC'\?",
                 id="unknown dotted template did_you_mean"),
    pytest.param("nmm.templates.jansenrot.JRC", None, TemplateError,
                 r"cannot find the template file of 'nmm\.templates\.jansenrot' \(tried: .*jansenrot\.yaml.*\)\. "
                 r"nmm's own library has .* files: jansenrit, ", id="unknown dotted file"),
    pytest.param("FILE", "op", TemplateError, r"'op' .*is an operator template; load a node or circuit template",
                 id="operator where a circuit is needed"),
    pytest.param("nmm.templates.jansenrit.rpo_e", None, TemplateError,
                 r"'nmm\.templates\.jansenrit\.rpo_e' is an operator template; load a node or circuit template",
                 id="dotted operator where a circuit is needed"),
    pytest.param("FILE", "circ", TemplateError, r"node 'n' of circuit 'circ': 'op' is not a node template",
                 id="operator where a node is needed"),
    pytest.param("FILE", "node_of_node", TemplateError,
                 r"'node' in the operators of node 'node_of_node' is not an operator template",
                 id="node where an operator is needed"),
    pytest.param("FILE", "a", TemplateError, r"circular 'base:' inheritance: a -> b -> c -> a\.", id="base cycle"),
    pytest.param("FILE", "self", TemplateError, r"circular 'base:' inheritance: self -> self\.", id="base of itself"),
    pytest.param("FILE", "orphan", TemplateError,
                 r"template 'nothere' not found in '.*m\.yaml'\. Did you mean 'node'", id="base to a missing template"),
    pytest.param("FILE", "elsewhere", TemplateError, r"cannot read template file '.*other\.yaml': No such file",
                 id="base to a missing file"),
    pytest.param("FILE", "nobase", TemplateError,
                 r"template 'nobase' in '.*m\.yaml' has no 'base:'; use one of OperatorTemplate, NodeTemplate, "
                 r"CircuitTemplate, EdgeTemplate or another template", id="template without base"),
    pytest.param("FILE", "numbase", TemplateError, r"template reference 42 must be a string", id="base a number"),
    pytest.param(42, None, TemplateError, r"template reference must be a string, got 42", id="reference a number"),
]


def _evil_package(root: Path) -> None:
    """``evilpkg.sub``: its ``__init__`` files write a marker file next to themselves if run."""
    code = "import pathlib\npathlib.Path(__file__).with_name('RAN').write_text('ran')\n"
    write(root / "evilpkg" / "__init__.py", code)
    write(root / "evilpkg" / "sub" / "__init__.py", code)
    write(root / "evilpkg" / "sub" / "ops.yaml", OPS)


@pytest.fixture
def evil(tmp_path, monkeypatch):
    _evil_package(tmp_path / "site")
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    yield
    assert "evilpkg" not in sys.modules
    assert not list((tmp_path / "site").rglob("RAN"))


@pytest.mark.parametrize("ref, name, error, match", REFERENCES)
def test_template_reference_is_refused(tmp_path, cache, evil, ref, name, error, match):
    path = write(tmp_path / "m.yaml", OPS + REFS_FILE)
    ref = str(path) if ref == "FILE" else ref
    refuse(error, match, lambda: nmm.CircuitTemplate.from_yaml(ref, name), tmp_path)


def test_dotted_reference_into_a_package_that_runs_code_loads_without_running_it(tmp_path, cache, evil):
    with unchanged(tmp_path):
        c = nmm.CircuitTemplate.from_yaml("evilpkg.sub.ops.node")
    assert c.definition.source == str(tmp_path / "site" / "evilpkg" / "sub" / "ops.yaml")


# =========================================================================== 4. sweep specs
# (change to a valid spec, stage, error, match); stage: 'spec' = SweepSpec.from_dict,
# 'model' = then spec.circuit(), 'run' = then sweeps.run_sweep (refused before any client is used)


def base_spec(store) -> dict:
    """A valid 2 x 4 Jansen-Rit sweep: 0.05 s, rk4, tiles of 2 points (4 tiles)."""
    return {
        "name": "hostile",
        "model": {"template": JRC},
        "axes": [{"path": "pc/rpo_e_in/u", "name": "u", "values": [120.0, 220.0]},
                 {"path": "pc/pro/m->ein/rpo_e/m_in/weight", "name": "c1", "linspace": [100, 160, 4]}],
        "simulation": {"simulation_time": 0.05, "step_size": 1e-4, "sampling_step_size": 1e-3, "solver": "rk4",
                       "outputs": {"V": "pc/pro/v"}},
        "keep": {"series": True, "reductions": ["mean", "min", "max"]},
        "storage": {"store": str(store), "tile": 2},
        "seed": 0,
    }


def changed(d: dict, *path_value) -> dict:
    """``d`` with ``d[k1][k2]... = value`` for each (keys..., value); value ``...`` deletes."""
    d = json.loads(json.dumps(d))
    for *keys, value in path_value:
        cur = d
        for k in keys[:-1]:
            cur = cur[k]
        if value is ...:
            del cur[keys[-1]]
        else:
            cur[keys[-1]] = value
    return d


def case(*args, id: str, marks=()):
    """A spec case: edits (keys..., value) to the valid spec, then the stage and the match."""
    return pytest.param(args[:-2], args[-2], args[-1], id=id, marks=marks)


_AX0 = ("axes", 0)
_RANDOM = ("axes", [{"path": "pc/rpo_e_in/u", "name": "u", "bounds": [50, 400]}])
SPECS = [
    # unknown keys, with suggestions, at every level
    case(("axis", []), "spec", r"unknown key 'axis' in the sweep file; allowed keys: .* Did you mean 'axes'",
                 id="unknown top-level key"),
    case(("model", "parms", {}), "spec",
                 r"unknown key 'parms' in model; allowed keys: network, params, template\. Did you mean 'params'\?",
                 id="unknown model key"),
    case((*_AX0, "linsapce", [1, 2, 3]), "spec",
                 r"unknown key 'linsapce' in axis 'pc/rpo_e_in/u'; allowed keys: .* Did you mean 'linspace'",
                 id="unknown axis key"),
    case(("simulation", "step_sise", 1e-4), "spec",
                 r"unknown key 'step_sise' in simulation; allowed keys: .* Did you mean 'step_size'",
                 id="unknown simulation key"),
    case(("design", {"kind": "random", "n": 4, "methd": "sobol"}), "spec",
                 r"unknown key 'methd' in design; allowed keys: kind, method, n\. Did you mean 'method'\?",
                 id="unknown design key"),
    case(("keep", {"reductons": ["mean"]}), "spec",
                 r"unknown key 'reductons' in keep; allowed keys: options, reductions, series\. Did you mean "
                 r"'reductions'", id="unknown keep key"),
    case(("storage", "tiles", 2), "spec",
                 r"unknown key 'tiles' in storage; allowed keys: compression, store, tile\. Did you mean 'tile'\?",
                 id="unknown storage key"),
    case(("storage", "compression", {"codec": "zstd", "levl": 3}), "spec",
                 r"unknown key 'levl' in storage\.compression; allowed keys: codec, level\. Did you mean 'level'\?",
                 id="unknown compression key"),
    # times
    case(("simulation", "simulation_time", -1), "spec",
                 r"simulation\.simulation_time must be positive, got -1\.0", id="negative simulation_time"),
    case(("simulation", "simulation_time", 0), "spec",
                 r"simulation\.simulation_time must be positive, got 0\.0", id="zero simulation_time"),
    case(("simulation", "simulation_time", float("nan")), "spec",
                 r"simulation\.simulation_time must be finite, got nan", id="NaN simulation_time"),
    case(("simulation", "simulation_time", float("inf")), "spec",
                 r"simulation\.simulation_time must be finite, got inf", id="inf simulation_time"),
    case(("simulation", "step_size", -1e-4), "spec", r"simulation\.step_size must be positive, got -0\.0001",
                 id="negative step_size"),
    case(("simulation", "step_size", 0), "spec", r"simulation\.step_size must be positive, got 0\.0",
                 id="zero step_size"),
    case(("simulation", "step_size", "nan"), "spec", r"simulation\.step_size must be finite, got 'nan'",
                 id="NaN step_size"),
    case(("simulation", "step_size", float("inf")), "spec", r"simulation\.step_size must be finite, got inf",
                 id="inf step_size"),
    case(("simulation", "sampling_step_size", 2.5e-4), "spec",
                 r"simulation: sampling_step_size=0\.00025 is not a multiple of step_size=0\.0001; use e\.g\. 0\.0002 "
                 r"or 0\.0003", id="sampling step not a multiple"),
    case(("simulation", "cutoff", 0.05), "spec",
                 r"simulation: cutoff=0\.05 must be in \[0, simulation_time=0\.05\)", id="cutoff equal to the time"),
    case(("simulation", "cutoff", 1.0), "spec",
                 r"simulation: cutoff=1\.0 must be in \[0, simulation_time=0\.05\)", id="cutoff past the time"),
    # solver, noise, precision
    case(("simulation", "solver", "rk45"), "spec",
                 r"simulation\.solver 'rk45' is unknown; choose one of euler, heun, rk4, scipy\. Did you mean 'rk4'\?",
                 id="unknown solver"),
    case(("simulation", "solver", "scipy"), ("simulation", "noise", {"pc/rpo_e_in/v": 0.1}), "spec",
                 r"simulation\.noise needs solver euler or heun \(or rk4 for random parameters\)",
                 id="noise with scipy"),
    case(("simulation", "float_precision", "float16"), "spec",
                 r"simulation\.float_precision must be 'float64' or 'float32', got 'float16'",
                 id="unknown float_precision"),
    # reductions and names
    case(("keep", "reductions", ["mena"]), "spec",
                 r"unknown reduction 'mena'; built-in: .*mean.* Did you mean 'mean'", id="unknown reduction"),
    case(("simulation", "outputs", {"V": "pc/pro/v", "V_mean": "pc/rpo_i/v"}), "spec",
         r"reduction 'mean' stores a variable 'V_mean', which is also an output; rename the output \(e\.g\. "
         r"V_mean_out\)", id="output named like a reduction variable"),
    case((*_AX0, "name", "V_mean"), "spec",
         r"reduction 'mean' stores a variable 'V_mean', which is also an axis; rename the axis",
         id="axis named like a reduction variable"),
    case(("simulation", "outputs", {"status": "pc/pro/v"}), "spec",
                 r"output name 'status' cannot name a dataset variable; use e\.g\. V_pce", id="output named status"),
    case(("simulation", "outputs", {"done": "pc/pro/v"}), "spec",
                 r"output name 'done' cannot name a dataset variable", id="output named done"),
    case(("simulation", "outputs", {"time": "pc/pro/v"}), "spec",
                 r"output name 'time' cannot name a dataset variable", id="output named time"),
    case((*_AX0, "name", "status"), "spec", r"axis name 'status' is taken by the dataset; give the axis",
                 id="axis named status"),
    case((*_AX0, "name", "done"), "spec", r"axis name 'done' is taken by the dataset; give the axis",
                 id="axis named done"),
    case((*_AX0, "name", "time"), "spec", r"axis name 'time' is taken by the dataset; give the axis another",
                 id="axis named time"),
    case(("axes", 1, "name", "u"), "spec", r"two axes have the same name 'u'; each axis needs its own",
                 id="duplicate axis names"),
    case((*_AX0, "path", "pc/rpo_e_in/uu"), "model",
                 r"axis path 'pc/rpo_e_in/uu' is not a parameter of 'JRC'\. Did you mean 'pc/rpo_e_in/u'",
                 id="axis path not a parameter"),
    case(("simulation", "outputs", {"V": "pc/pro/vv"}), "model",
                 r"output 'V': unknown variable path 'pc/pro/vv'\. Did you mean 'pc/pro/v'", id="unknown output path"),
    case(("model", "params", {"pc/rpo_e_in/uu": 1.0}), "model",
                 r"model\.params: unknown parameter path 'pc/rpo_e_in/uu'\. Did you mean 'pc/rpo_e_in/u'",
                 id="unknown model parameter"),
    # axis values
    case(("axes", 1, "linspace", [100, 160, 0]), "spec",
                 r"axis 'pc/pro/m->ein/rpo_e/m_in/weight' num must be a positive whole number, got 0",
                 id="linspace with 0 points"),
    case(("axes", 1, "linspace", ...), ("axes", 1, "logspace", [-1, 160, 4]), "spec",
                 r"axis 'pc/pro/m->ein/rpo_e/m_in/weight': logspace needs positive start and stop, got -1\.0, 160\.0",
                 id="logspace with a negative bound"),
    case(("axes", 1, "linspace", ...), ("axes", 1, "range", [100, 160, 0]), "spec",
                 r"range \[100\.0, 160\.0, 0\.0\] is empty; the step must go from start towards stop",
                 id="range with zero step"),
    case((*_AX0, "values", [120.0, 120.0]), "spec",
                 r"axis 'pc/rpo_e_in/u' repeats the value 120\.0; values of an axis must be distinct",
                 id="repeated axis value"),
    case(_RANDOM, ("design", {"kind": "random", "n": 0}), "spec",
                 r"design\.n must be a positive whole number of points, got 0", id="random design with n=0"),
    case(("axes", [{"path": "pc/rpo_e_in/u", "name": "u", "linspace": [0, 400, 100_000]},
                           {"path": "pc/rpo_i/h", "name": "h", "linspace": [-0.03, -0.01, 10_000]}]), "run",
                 r"sweep 'hostile' has 1,000,000,000 points \(\{'u': 100000, 'h': 10000\}\), more than the limit "
                 r"nmm\.limits\.max-points = 100,000,000\. If it is meant, raise the limit: "
                 r"dask\.config\.set\(\{'nmm\.limits\.max-points': 1000000000\}\)", id="10^9-point grid"),
    # seed and storage
    case(("seed", -1), "spec", r"seed must be a non-negative whole number, got -1", id="negative seed"),
    case(("seed", 1.5), "spec", r"seed must be a non-negative whole number, got 1\.5", id="fractional seed"),
    case(("storage", "tile", 0), "spec", r"storage\.tile must be a positive whole number of points, got 0",
                 id="tile zero"),
    case(("storage", "tile", 2.5), "spec", r"storage\.tile must be a positive whole number of points, got 2\.5",
                 id="fractional tile"),
    case(("storage", "tile", 100), "spec", r"storage\.tile = 100 is larger than the grid \(8 points\)",
                 id="tile larger than the grid"),
    case(("storage", "tile", {"u": 3}), "spec",
                 r"storage\.tile\['u'\] = 3 is larger than the 2 points of 'u'", id="tile larger than its axis"),
    case(("storage", "tile", {"uu": 1}), "spec",
                 r"storage\.tile names 'uu', which is not a dimension; dimensions: \['u', 'c1'\]\. Did you mean 'u'",
                 id="tile names no dimension"),
    case(("storage", "compression", {"codec": "lz5"}), "spec",
                 r"storage\.compression\.codec must be zstd, blosc or gzip, got 'lz5'", id="unknown codec"),
]


class _NoClient:
    """A client that must not be reached: the refusal comes first."""

    def __getattr__(self, name):
        raise AssertionError(f"the client was used ({name}) before the spec was refused")


@pytest.mark.parametrize("edits, stage, match", SPECS)
def test_sweep_spec_is_refused(tmp_path, cache, edits, stage, match):
    d = changed(base_spec(tmp_path / "out" / "s.zarr"), *edits)

    def load():
        spec = sweeps.SweepSpec.from_dict(d)
        if stage in ("model", "run"):
            spec.circuit()
        if stage == "run":
            sweeps.run_sweep(spec, client=_NoClient(), progress=False)

    t = time.perf_counter()
    refuse(SpecError, match, load, tmp_path)
    assert time.perf_counter() - t < 5


def test_tile_that_does_not_divide_an_axis_is_accepted_with_a_short_last_tile(tmp_path):
    # not refused, by design: tiles cut each dimension like a zarr chunk grid (the last run is shorter)
    from sweeps.plan import tile_shape, tiles

    spec = sweeps.SweepSpec.from_dict(changed(base_spec(tmp_path / "s.zarr"), ("storage", "tile", {"c1": 3})))
    shape = tile_shape(spec)
    assert shape == {"u": 2, "c1": 3}
    assert [t.shape for t in tiles(spec, shape)] == [(2, 3), (2, 1)]


# =========================================================================== 5. parameters and runs
# (call on a fresh JRC circuit, error, match)

_RUN = {"simulation_time": 0.01, "step_size": 1e-3, "solver": "euler", "outputs": {"v": "pc/pro/v"}}
_DELAY = "jrc1/pc/pro/m->jrc2/pc/rpo_e_in/m_in/delay"


def _sim(params=None, template=JRC, **kw):
    return lambda c: nmm.simulate(template, params, **{**_RUN, **kw})


def _update(**kw):
    return lambda c: c.update_var(**kw)


PARAMETERS = [
    pytest.param(_sim({"pc/rpo_e_in/uu": 1.0}), ParameterError,
                 r"unknown parameter path 'pc/rpo_e_in/uu' in circuit 'JRC'\. Did you mean 'pc/rpo_e_in/u'.* "
                 r"Parameters: pc/rpo_e_in/h, ", id="unknown path did_you_mean"),
    pytest.param(_sim({"pc/rpo_e_in/u": float("nan")}), ParameterError,
                 r"value of 'pc/rpo_e_in/u' contains nan; every value must be finite", id="NaN value"),
    pytest.param(_sim({"pc/rpo_e_in/u": [100.0, np.inf]}), ParameterError,
                 r"value of 'pc/rpo_e_in/u' contains inf; every value must be finite", id="inf in an array"),
    pytest.param(_sim({"pc/rpo_e_in/u": [1.0, 2.0], "pc/rpo_e_in/h": [1e-3, 2e-3, 3e-3]}), ParameterError,
                 r"value of 'pc/rpo_e_in/h' has 3 points, others have 2; all arrays must have the same length",
                 id="arrays of different lengths"),
    pytest.param(_sim({"pc/rpo_e_in/u": np.ones((2, 2))}), ParameterError,
                 r"value of 'pc/rpo_e_in/u' must be a number or a 1-D array, got shape \(2, 2\)", id="2-D array"),
    pytest.param(_sim({"pc/rpo_e_in/u": []}), ParameterError, r"value of 'pc/rpo_e_in/u' is an empty array",
                 id="empty array"),
    pytest.param(_sim({"pc/rpo_e_in/u": "abc"}), ParameterError,
                 r"value of 'pc/rpo_e_in/u' must be a number or 1-D array of numbers, got 'abc'", id="text value"),
    pytest.param(_sim({"pc/pro/v": 1.0}), ParameterError,
                 r"'pc/pro/v' is not a parameter: it is computed from other variables \(algebraic\)\. Set a parameter "
                 r"or the initial value of a state instead", id="driven path"),
    pytest.param(_sim(outputs={"v": "pc/pro/vv"}), ParameterError,
                 r"unknown output path 'pc/pro/vv' \(output 'v'\) in circuit 'JRC'\. Did you mean 'pc/pro/v'",
                 id="unknown output path"),
    pytest.param(_sim(outputs={}), NMMError,
                 r"outputs must be a mapping name -> variable path, e\.g\. \{'V_pce': 'pc/rpo_e_in/v'\}, got \{\}",
                 id="no outputs"),
    pytest.param(_sim(inputs={"pc/rpo_e_in/u": np.ones(5)}), NMMError,
                 r"inputs\['pc/rpo_e_in/u'\] has shape \(5,\); it needs one value per integration step: 10 values",
                 id="input of the wrong length"),
    pytest.param(_sim(inputs={"pc/rpo_e_in/u": np.r_[np.ones(9), np.nan]}), NMMError,
                 r"inputs\['pc/rpo_e_in/u'\] contains NaN or inf", id="input with NaN"),
    pytest.param(_sim(inputs={"pc/rpo_e_in/uu": np.ones(10)}), ParameterError,
                 r"inputs: 'pc/rpo_e_in/uu' is not a parameter of 'JRC'\. Did you mean 'pc/rpo_e_in/u'",
                 id="input of an unknown path"),
    pytest.param(_sim(solver="rk4", noise={"pc/rpo_e_in/v": 0.1}), NMMError,
                 r"noise on states needs solver 'euler' \(Euler-Maruyama\) or 'heun' \(stochastic Heun\), not 'rk4'",
                 id="state noise with rk4"),
    pytest.param(_sim(noise={"pc/rpo_e_in/u": {"uniform": [1]}}), NMMError,
                 r"noise\['pc/rpo_e_in/u'\]: uniform takes two numbers, got \[1\]", id="noise with one bound"),
    pytest.param(_sim(noise={"pc/rpo_e_in/u": {"gauss": [1, 2]}}), NMMError,
                 r"noise\['pc/rpo_e_in/u'\] on a parameter must be \{'uniform': \[low, high\]\}, \{'normal': "
                 r"\[mean, sd\]\} or \{'same_as': other parameter\}, got \{'gauss': \[1, 2\]\}",
                 id="noise of an unknown kind"),
    pytest.param(_sim(noise={"pc/rpo_e_in/v": {"uniform": 0.1}}), NMMError,
                 r"noise\['pc/rpo_e_in/v'\] on a state is \{'normal': sigma\} or a number, got \{'uniform': 0\.1\}",
                 id="state noise not normal"),
    pytest.param(_sim(noise={"pc/rpo_e_in/v": -0.1}), NMMError, r"noise\['pc/rpo_e_in/v'\]: sigma must be >= 0",
                 id="negative sigma"),
    pytest.param(_sim(noise={"pc/rpo_e_in/u": {"uniform": [300, 100]}}), NMMError,
                 r"noise\['pc/rpo_e_in/u'\]: uniform needs low <= high", id="uniform low > high"),
    pytest.param(_sim(noise={"pc/rpo_e_in/uu": 0.1}), ParameterError,
                 r"noise: unknown path 'pc/rpo_e_in/uu'\. Did you mean 'pc/rpo_e_in/u'", id="noise on an unknown path"),
    pytest.param(_sim({_DELAY: 1e-5}, template="nmm.templates.jansenrit.JRC_delayed_pair", step_size=1e-4,
                      outputs={"v": "jrc1/pc/pro/v"}),
                 NMMError, rf"delay '{_DELAY}' = \S*1e-05\S* is shorter than one step \(step_size = 0\.0001\); use a "
                 r"smaller step or a longer delay", id="delay shorter than one step"),
    pytest.param(_sim(float_precision="float16"), NMMError,
                 r"unknown float_precision 'float16'; choose one of 'float64', 'float32'\. Did you mean",
                 id="unknown float_precision"),
    pytest.param(_sim(solver="rk45"), NMMError,
                 r"unknown solver 'rk45'; choose one of 'euler', 'heun', 'rk4', 'scipy'\. Did you mean 'rk4'\?",
                 id="unknown solver"),
    pytest.param(_sim(rtol=1e-6), NMMError,
                 r"solver 'euler' takes no extra options, got \['rtol'\]; method/rtol/atol apply to solver='scipy'",
                 id="solver options to a fixed-step solver"),
    pytest.param(_sim(simulation_time=-1.0), NMMError,
                 r"simulation_time must be a positive number, got -1\.0\. Give the simulated time, e\.g\. "
                 r"simulation_time=2\.0", id="negative simulation_time"),
    pytest.param(_sim(step_size=float("nan")), NMMError,
                 r"step_size must be a positive number, got nan\. Give the integration step, e\.g\. step_size=1e-4",
                 id="NaN step_size"),
    pytest.param(_update(node_vars={"pc/rpo_e_in/uu": 1.0}), ParameterError,
                 r"unknown parameter path 'pc/rpo_e_in/uu' in circuit 'JRC'\. Did you mean 'pc/rpo_e_in/u'.* Node "
                 r"variables are 'node/operator/variable', edge weights 'source->target/weight'",
                 id="update_var unknown path"),
    pytest.param(_update(node_vars={"pc/rpo_e_in/u": "abc"}), ParameterError,
                 r"value of 'pc/rpo_e_in/u' must be a number, got 'abc'", id="update_var text value"),
    pytest.param(_update(node_vars={"pc/rpo_e_in/u": float("inf")}), ParameterError,
                 r"value of 'pc/rpo_e_in/u' is inf; it must be finite", id="update_var inf"),
    pytest.param(_update(edge_vars=[("pc/pro/m", "ein/rpo_e/m_in", {"wieght": 1.0})]), ParameterError,
                 r"edge attribute 'wieght' of pc/pro/m -> ein/rpo_e/m_in cannot be changed; 'weight', 'delay', 'spread' and "
                 r"the variables of an edge template's operators \('op/var'\) can\. Did you mean 'weight'\?",
                 id="update_var unknown edge attribute"),
    pytest.param(_update(edge_vars=[("pc/pro/m", "ein/rpo_e/m_inn", {"weight": 1.0})]), ParameterError,
                 r"unknown parameter path 'pc/pro/m->ein/rpo_e/m_inn/weight' in circuit 'JRC'\. Did you mean "
                 r"'pc/pro/m->ein/rpo_e/m_in/weight'", id="update_var unknown edge"),
    pytest.param(_update(edge_vars=[("pc/pro/m", "ein/rpo_e/m_in")]), ParameterError,
                 r"edge_vars entries must be \(source, target, \{'weight': value\}\), got \('pc/pro/m', "
                 r"'ein/rpo_e/m_in'\)", id="update_var malformed edge"),
]


@pytest.mark.parametrize("call, error, match", PARAMETERS)
def test_parameters_and_runs_are_refused(tmp_path, cache, call, error, match):
    circuit = nmm.CircuitTemplate.from_yaml(JRC)
    refuse(error, match, lambda: call(circuit), tmp_path)


def test_a_delay_shorter_than_a_step_is_refused_without_false_advice(tmp_path, cache):
    """A delay must last at least one step; the message no longer suggests 0 (which is refused too)."""
    with pytest.raises(nmm.NMMError, match=r"is shorter than one step \(step_size = 0\.0001\); use a smaller step or "
                       r"a longer delay\.$"):
        nmm.simulate("nmm.templates.jansenrit.JRC_delayed_pair", {_DELAY: 0.0},
                     **{**_RUN, "step_size": 1e-4, "outputs": {"v": "jrc1/pc/pro/v"}})


# =========================================================================== 6. stores and locks


@pytest.fixture(scope="module")
def kernels(tmp_path_factory):
    """One kernel cache for the sweeps of this module (compiled once)."""
    d = tmp_path_factory.mktemp("kernels")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("NMM_CACHE_DIR", str(d))
        yield d


@pytest.fixture(scope="module")
def client(kernels):
    with Client(processes=False, n_workers=1, threads_per_worker=1, dashboard_address=":0") as c:
        yield c


@pytest.fixture(scope="module")
def reference(tmp_path_factory, client):
    """A finished 2 x 4 store (4 tiles of 1 x 2 points) and its contents."""
    path = tmp_path_factory.mktemp("reference") / "ref.zarr"
    sweeps.run_sweep(sweeps.SweepSpec.from_dict(base_spec(path)), client=client, progress=False)
    return path, xr.open_zarr(path).load()


@pytest.fixture
def store(reference, tmp_path, kernels, monkeypatch):
    """A fresh copy of the reference store."""
    monkeypatch.setenv("NMM_CACHE_DIR", str(kernels))
    dst = tmp_path / "s.zarr"
    shutil.copytree(reference[0], dst)
    return dst


def assert_bit_identical(path: Path, ref: xr.Dataset) -> None:
    got = xr.open_zarr(path).load()
    xr.testing.assert_identical(got, ref)
    for name in list(ref.data_vars) + list(ref.coords):
        a, b = got[name].values, ref[name].values
        assert a.dtype == b.dtype and a.tobytes() == b.tobytes(), name


def _delete(p: Path) -> None:
    p.unlink()


def _truncate(p: Path) -> None:
    p.write_bytes(p.read_bytes()[: p.stat().st_size // 2])


def _flip(p: Path) -> None:
    b = bytearray(p.read_bytes())
    b[len(b) // 2] ^= 0x10
    p.write_bytes(bytes(b))


# (chunk key, damage, tile, problem); tile t is chunk (t // 2, t % 2) of the (u, c1) grid
DAMAGE = [
    pytest.param("V/c/1/0/0", _delete, 2, r"missing", id="deleted chunk"),
    pytest.param("V_mean/c/0/1", _truncate, 1, r"unreadable \(", id="truncated chunk"),
    pytest.param("V/c/1/1/0", _flip, 3, r"unreadable \(.*[Cc]hecksum", id="flipped byte"),
    pytest.param("status/c/0/0", _delete, 0, r"missing", id="deleted status chunk"),
    pytest.param("done/c/2", _flip, 2, r"unreadable \(", id="damaged done chunk"),
]


@pytest.mark.parametrize("key, damage, tile, problem", DAMAGE)
def test_damaged_store_is_named_and_repaired_bit_for_bit(store, reference, client, key, damage, tile, problem):
    damage(store / key)
    rep = sweeps.verify(str(store))
    assert not rep.ok and rep.damaged_tiles == (tile,)
    (d,) = rep.done_damage if key.startswith("done/") else rep.damage
    assert (d.tile, d.variable, d.key) == (tile, key.split("/")[0], key)
    assert f"tile {tile}: {d.variable} chunk {key} " in rep.describe()
    assert re.search(problem, d.problem), d.problem
    with pytest.warns(StoreDamageWarning, match=rf"1 tile of '.*s\.zarr' failed verification and will be computed "
                                                rf"again:\n.*\n  tile {tile}: "):
        sweeps.resume(str(store), client=client, progress=False)
    assert sweeps.verify(str(store)).ok
    assert_bit_identical(store, reference[1])
    assert not lock_path(str(store)).exists()


# lock files nobody holds: taken over, the finished store left as it was, the lock gone
STALE_LOCKS = [
    pytest.param("", id="empty lock file"),
    pytest.param(b"\x00\xffgarbage{", id="garbage lock file"),
    pytest.param(json.dumps([os.getpid(), HOST]), id="JSON-list lock file"),
    pytest.param(json.dumps({"pid": 2**22 + 12345, "host": HOST, "since": "2026-11-01T10:00:00+00:00"}),
                 id="old lock of a dead pid"),
]


@pytest.mark.parametrize("content", STALE_LOCKS)
def test_stale_lock_is_taken_over(store, reference, client, content):
    lock = write(lock_path(str(store)), content)
    with unchanged(store):
        assert sweeps.resume(str(store), client=client, progress=False) == str(store)
    assert not lock.exists()
    assert_bit_identical(store, reference[1])


def _held(store):
    return StoreLock(str(store)).acquire()


def _old_live(store):
    write(lock_path(str(store)), json.dumps({"pid": os.getpid(), "host": HOST, "since": "2026-11-01T10:00:00+00:00"}))


def _foreign(store):
    write(lock_path(str(store)), json.dumps({"pid": 4242, "host": "elsewhere.example.org",
                                             "since": "2026-11-01T10:00:00+00:00", "scheme": "flock"}))


_PID = os.getpid()
LIVE_LOCKS = [
    pytest.param(_held, rf"store '.*s\.zarr' is in use by another driver \(pid {_PID} on {HOST}, since .*\): wait "
                        rf"for it to finish, or stop it \(`kill {_PID}`\) and run `nmm resume .*s\.zarr`",
                 id="lock held by a live driver"),
    pytest.param(_old_live, rf"is in use by another driver \(pid {_PID} on {HOST}, since 2026-11-01.*\), a lock of an "
                            rf"earlier nmm whose pid is alive on this host: wait for it to finish; if pid {_PID} is not "
                            r"an nmm driver, run `nmm unlock --force .*s\.zarr`", id="old lock of a live pid"),
    pytest.param(_foreign, r"is in use by another driver \(pid 4242 on elsewhere\.example\.org, since .*\), which "
                           rf"cannot be checked from {HOST}: .* run `nmm unlock .*s\.zarr` on elsewhere\.example\.org, "
                           r"or `nmm unlock --force .*s\.zarr` here", id="lock from another host"),
]


@pytest.mark.parametrize("make, match", LIVE_LOCKS)
def test_live_or_foreign_lock_is_refused(store, tmp_path, client, make, match):
    holder = make(store)
    try:
        refuse(StoreError, match, lambda: sweeps.resume(str(store), client=client, progress=False), tmp_path)
    finally:
        if holder is not None:
            holder.release()


def _other_spec(store):
    return sweeps.SweepSpec.from_dict(changed(base_spec(store), ("seed", 7)))


def _resume_a_plain_folder(store, tmp_path, client):
    write(tmp_path / "plain" / "notes.txt", f"{SECRET}\n")
    return lambda: sweeps.resume(str(tmp_path / "plain"), client=client, progress=False)


def _verify_a_plain_zarr_group(store, tmp_path, client):
    zarr.open_group(str(tmp_path / "plain.zarr"), mode="w").attrs["secret"] = SECRET
    return lambda: sweeps.verify(str(tmp_path / "plain.zarr"))


# (prepare(store, tmp_path, client) -> the call that must be refused, error, match); the
# preparation (writing a plain folder or zarr group) happens before the snapshot
STORES = [
    pytest.param(lambda s, t, c: lambda: sweeps.resume(str(s), client=c, spec=_other_spec(s), progress=False),
                 StoreError, r"cannot resume '.*s\.zarr' with this spec: it differs from the one the store was made "
                 r"with \(hash \w{12} vs \w{12}\)\. Resume without a spec to use the stored one",
                 id="resume with a different spec"),
    pytest.param(lambda s, t, c: lambda: sweeps.run_sweep(_other_spec(s), client=c, progress=False), StoreError,
                 r"store '.*s\.zarr' holds a different sweep \(spec hash \w{12} vs \w{12}\); choose another "
                 r"storage\.store, or resume it with its own spec \(`nmm resume .*s\.zarr`\)",
                 id="run a different spec on a store"),
    pytest.param(_resume_a_plain_folder, StoreError, r"'.*plain' is not (a zarr store|an nmm sweep store)",
                 id="resume a folder that is not a store"),
    pytest.param(_verify_a_plain_zarr_group, StoreError,
                 r"'.*plain\.zarr' is not an nmm sweep store \(no nmm_format attribute\)",
                 id="verify a zarr group that is not a sweep"),
    pytest.param(lambda s, t, c: lambda: sweeps.resume(str(t / "missing.zarr"), client=c, progress=False),
                 StoreError, r"store '.*missing\.zarr' does not exist", id="resume a missing store"),
    pytest.param(lambda s, t, c: lambda: sweeps.sweep_status(str(t / "missing.zarr")), StoreError,
                 r"store '.*missing\.zarr' does not exist", id="status of a missing store"),
]


@pytest.mark.parametrize("prepare, error, match", STORES)
def test_store_misuse_is_refused(store, tmp_path, client, prepare, error, match):
    refuse(error, match, prepare(store, tmp_path, client), tmp_path)


# =========================================================================== 7. kernel cache


def _plant(p: Path) -> None:
    marker = p.parent.parent / "PLANTED_CODE_RAN"
    p.write_text(f"import pathlib\npathlib.Path({str(marker)!r}).write_text('ran')\n"
                 "def kernel(*args):\n    raise SystemExit('planted')\n")


def _cut_at_a_line(p: Path) -> None:
    lines = p.read_text().splitlines(keepends=True)
    p.write_text("".join(lines[: len(lines) // 2]))


def _same_size(p: Path) -> None:
    text = p.read_text()
    p.write_text(text.replace("+", "-", 1))  # same size, another sign: numba's stamp would not notice


# how the cached module is tampered with before the next process-fresh run
KERNEL_CACHE = [
    pytest.param(_plant, id="planted module"),
    pytest.param(_truncate, id="truncated module"),
    pytest.param(_cut_at_a_line, id="module cut at a line", marks=pytest.mark.slow),
    pytest.param(lambda p: p.write_bytes(b""), id="emptied module", marks=pytest.mark.slow),
    pytest.param(_same_size, id="same-size edit", marks=pytest.mark.slow),
]


@pytest.mark.parametrize("tamper", KERNEL_CACHE)
def test_tampered_kernel_is_regenerated_and_gives_the_right_result(tmp_path, cache, tamper):
    path = write(tmp_path / "m.yaml", OPS)
    first = run_node(path)
    (module,) = cache.glob("nmm_kernel_*.py")
    text = module.read_bytes()
    tamper(module)
    assert module.read_bytes() != text
    clear_memo()  # as a new process: the next run reads the cache folder
    again = run_node(path)
    np.testing.assert_array_equal(again.values, first.values)
    np.testing.assert_array_equal(again.index.values, first.index.values)
    assert module.read_bytes() == text
    assert [p.name for p in cache.glob("nmm_kernel_*.py")] == [module.name]
    assert not (tmp_path / "PLANTED_CODE_RAN").exists()
    assert not list(cache.glob(".*.tmp"))


# =========================================================================== 8. command line
# (arguments, exit status, stderr pattern); {wf} {store} {tmp} are filled in; an error is one line


_USAGE = ("click's usage error: exit status 2 and a 'Usage: ... Try ... Error: ...' block on stderr, not exit 1 "
          "and one 'error: ...' line")

CLI = [
    pytest.param(["run", "missing.yaml"], 1, r"^error: workflow file 'missing\.yaml' does not exist\.$",
                 id="run a missing workflow"),
    pytest.param(["run", "{wf}", "--cluster", "slurmm", "--no-progress"], 1,
                 r"^error: unknown cluster profile 'slurmm'; available: .*local.* Did you mean 'slurm'\?$",
                 id="bad cluster profile name did_you_mean"),
    pytest.param(["simulate", JRC, "-p", "u=abc", "-o", "out.csv"], 1,
                 r"^error: Invalid value for '--param' / '-p': value of 'u' must be a number, got 'abc'", id="simulate with a non-numeric -p value"),
    pytest.param(["simulate", JRC, "-p", "pc/rpo_e_in/uu=150", "-o", "out.csv", "--time", "0.01"], 1,
                 r"^error: unknown parameter path 'pc/rpo_e_in/uu' in circuit 'JRC'\. Did you mean 'pc/rpo_e_in/u'",
                 id="simulate with an unknown path"),
    pytest.param(["simulate", "nmm.templates.jansenrit.JRX", "-o", "out.csv"], 1,
                 r"^error: template 'JRX' not found in .*jansenrit\.yaml'; its templates: .* Did you mean 'JRC'\?$",
                 id="simulate an unknown template"),
    pytest.param(["plot", "{store}", "--kind", "orbitt", "-o", "x.png"], 1,
                 r"^error: .*'orbitt'.*'orbit', 'regime', 'spectrum', 'frequency', 'power'", id="plot of an unknown kind"),
    pytest.param(["status", "missing.zarr"], 1, r"^error: store 'missing\.zarr' does not exist\.$",
                 id="status of a missing store"),
    pytest.param(["info", "missing.zarr"], 1, r"^error: store 'missing\.zarr' does not exist\.$",
                 id="info of a missing store"),
    pytest.param(["unlock", "{store}"], 0, r"^$", id="unlock a store with no lock"),
]


@pytest.mark.parametrize("args, code, stderr", CLI)
def test_command_line_error_is_one_line(tmp_path, cache, monkeypatch, args, code, stderr):
    from sweeps.cli import cli

    monkeypatch.chdir(tmp_path)
    wf = write(tmp_path / "wf.yaml", json.dumps(base_spec(tmp_path / "out.zarr")))
    names = {"wf": str(wf), "store": str(tmp_path / "nolock.zarr"), "tmp": str(tmp_path)}
    args = [a.format(**names) for a in args]
    with unchanged(tmp_path):
        r = CliRunner().invoke(cli, args)
    assert r.exit_code == code, (r.exit_code, r.stdout, r.stderr, r.exception)
    assert r.exception is None or isinstance(r.exception, SystemExit), r.exception
    assert re.search(stderr, r.stderr.rstrip("\n")), r.stderr
    assert r.stderr.count("\n") <= 1 and SECRET not in r.stderr
    if args[0] == "unlock":
        assert r.stdout == f"no lock on {names['store']}; nothing to do\n"
