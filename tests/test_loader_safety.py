"""Input that cannot hang, run code or lie: template references, equations and YAML.

Each refused input is checked for its message and for leaving nothing behind (no kernel in
the cache, the template file unchanged).
"""
from __future__ import annotations

import itertools
import os
import sys
import textwrap
import time

import pytest
import sympy as sp
from conftest import HAVE_PYRATES

import nmm
from nmm.equations import (
    MAX_CHARS,
    MAX_DEPTH,
    MAX_NODES,
    parse_equation,
    parse_expression,
)
from nmm.loader import CircuitDef, load_template
from nmm.printer import Printer
from nmm.yamlio import load_yaml_text

OP = """
    op:
      base: OperatorTemplate
      equations: "d/dt * x = {rhs}"
      variables: {{x: output(0.5), y: 2.0}}
    node: {{base: NodeTemplate, operators: [op]}}
"""


def write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return path


@pytest.fixture
def cache(tmp_path, monkeypatch):
    """An empty kernel cache: refused input must leave it empty."""
    d = tmp_path / "kernels"
    d.mkdir()
    monkeypatch.setenv("NMM_CACHE_DIR", str(d))
    return d


def refused(error, match, path, name, cache):
    """Loading and running ``name`` from ``path`` raises ``error``; nothing was written."""
    before = path.read_bytes()
    with pytest.raises(error, match=match):
        c = nmm.CircuitTemplate.from_yaml(str(path), name)
        c.run(simulation_time=0.01, step_size=1e-3, sampling_step_size=1e-3,
              outputs={"x": "node/op/x"}, solver="euler")
    assert path.read_bytes() == before
    assert list(cache.rglob("*")) == []


# --------------------------------------------------------------------------- 1. references run no code


def _package_with_markers(root):
    """``evilpkg.sub`` whose ``__init__`` files would write marker files if run."""
    code = "import pathlib\npathlib.Path(__file__).parent.joinpath('RAN').write_text('ran')\n"
    write(root / "evilpkg" / "__init__.py", code)
    write(root / "evilpkg" / "sub" / "__init__.py", code)
    write(root / "evilpkg" / "sub" / "ops.yaml", OP.format(rhs="-x/y"))
    return [root / "evilpkg" / "RAN", root / "evilpkg" / "sub" / "RAN"]


def test_dotted_reference_imports_nothing(tmp_path, monkeypatch):
    markers = _package_with_markers(tmp_path / "site")
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    node = load_template("evilpkg.sub.ops.node")
    assert node.source == str(tmp_path / "site" / "evilpkg" / "sub" / "ops.yaml")
    # a base: line in another file, the way a workflow or a stored spec refers to it
    other = write(tmp_path / "other.yaml", """
        child: {base: evilpkg.sub.ops.op, variables: {y: 3.0}}
    """)
    assert load_template(str(other), "child").variable("y").default == 3.0
    assert not any(m.exists() for m in markers)
    assert "evilpkg" not in sys.modules


def test_dotted_reference_in_the_working_directory_imports_nothing(tmp_path, monkeypatch):
    markers = _package_with_markers(tmp_path)
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend("")
    assert load_template("evilpkg.sub.ops.node").name == "node"
    assert not any(m.exists() for m in markers)


def test_dotted_reference_into_a_namespace_package(tmp_path, monkeypatch):
    write(tmp_path / "a" / "nsmodels" / "rates" / "ops.yaml", OP.format(rhs="-x"))
    (tmp_path / "b" / "nsmodels").mkdir(parents=True)  # a second portion, without the file
    monkeypatch.syspath_prepend(str(tmp_path / "b"))
    monkeypatch.syspath_prepend(str(tmp_path / "a"))
    assert load_template("nsmodels.rates.ops.node").source.endswith("ops.yaml")


def test_model_templates_fall_back_to_our_library_without_pyrates(monkeypatch):
    monkeypatch.setattr(sys, "path", [p for p in sys.path if "site-packages" not in p])
    monkeypatch.delitem(sys.modules, "model_templates", raising=False)
    jrc = load_template("model_templates.neural_mass_models.jansenrit.JRC")
    assert jrc.source.endswith(os.path.join("nmm", "templates", "jansenrit.yaml"))


# --------------------------------------------------------------------------- 2. equations cannot hang


@pytest.mark.parametrize(
    "rhs, match",
    [
        ("9^9^9", r"power '9\^9\^9' in equation .* is about 10\^369693100, which float64 cannot represent"),
        ("x * 2^(10^6)", r"power '2\^\(10\^6\)' .* float64 cannot represent"),
        ("x^1e6", r"exponent 1e\+06 of 'x\^1e6' .* larger than 1024 in magnitude"),
    ],
)
def test_huge_powers_are_refused_at_once(tmp_path, cache, rhs, match):
    p = write(tmp_path / "m.yaml", OP.format(rhs=rhs))
    t = time.perf_counter()
    refused(nmm.EquationError, match, p, "node", cache)
    assert time.perf_counter() - t < 10


def test_ordinary_powers_still_work():
    x = sp.Symbol("x")
    e = parse_expression("x^2 + x**3 + 2^(-1) + 2.0^0.5 + x^-2 + (1/2)^2", {"x": x})
    assert e == x**2 + x**3 + sp.Rational(1, 2) + sp.Float(2.0) ** 0.5 + x**-2 + sp.Rational(1, 4)


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: "x + " * (MAX_CHARS // 4) + "x", rf"has [\d,]+ characters; the limit is {MAX_CHARS:,}"),
        (lambda: "+".join(["x"] * (MAX_NODES + 1)), rf"more than {MAX_NODES:,} numbers, names and operators"),
        (lambda: "(" * (MAX_DEPTH + 1) + "x" + ")" * (MAX_DEPTH + 1), rf"more than {MAX_DEPTH} deep"),
        (lambda: "-" * 10_000 + "x", rf"more than {MAX_DEPTH} deep"),
        (lambda: "x" + "**x" * 10_000, rf"more than {MAX_DEPTH} deep"),
    ],
    ids=["characters", "nodes", "parentheses", "signs", "power tower"],
)
def test_size_limits_name_the_limit_and_the_equation(make, match):
    t = time.perf_counter()
    with pytest.raises(nmm.EquationError, match=match) as info:
        parse_equation("y = " + make(), " in operator 'op'")
    assert "equation 'y = " in str(info.value) and "in operator 'op'" in str(info.value)
    assert len(str(info.value)) < 600  # the equation is shortened, not echoed whole
    assert time.perf_counter() - t < 5


def _best(f, repeats):
    out = []
    for i in range(repeats):
        t = time.perf_counter()
        f(i)
        out.append(time.perf_counter() - t)
    return min(out)


def test_parsing_is_linear_in_the_length():
    # each call parses a new text (names carry the repetition) so no cache is involved
    def sum_of(n):
        return lambda i: parse_equation("y = " + " + ".join(f"v{i}_{k}" for k in range(n)))

    t1k, t8k = _best(sum_of(1024), 5), _best(sum_of(8192), 3)
    assert t8k < 4.0
    assert t8k / t1k < 24  # linear: 8; the old parser was quadratic (64)


def test_a_4096_term_sum_builds_quickly():
    names = [f"x{k}" for k in range(4096)]
    syms = {n: sp.Symbol(n, real=True) for n in names}

    def balanced(ns):
        return ns[0] if len(ns) == 1 else f"({balanced(ns[: len(ns) // 2])} + {balanced(ns[len(ns) // 2:])})"

    for text in (" + ".join(names), balanced(names)):
        t = time.perf_counter()
        e = parse_expression(text, syms)
        assert time.perf_counter() - t < 5.0  # about 0.1 s on an idle core; the old parser took minutes
        assert len(e.args) == 4096


# --------------------------------------------------------------------------- 3. YAML


def _bomb(levels=9):
    lines = ["a: &a [x, x, x, x, x, x, x, x, x]"]
    names = "abcdefghijklmnop"
    for prev, cur in itertools.pairwise(names[:levels]):
        lines.append(f"{cur}: &{cur} [{', '.join(['*' + prev] * 9)}]")
    return "\n".join(lines) + "\n", names[levels - 1]


def test_alias_bomb_is_refused_quickly(tmp_path, cache):
    text, last = _bomb()
    p = write(tmp_path / "m.yaml", text + textwrap.dedent(OP.format(rhs="-x")).replace(
        "  variables:", f"  description: *{last}\n  variables:"))
    t = time.perf_counter()
    refused(nmm.TemplateError, r"YAML aliases \(\*name\) expand the node at line \d+ to [\d,]+ nodes, "
            r"more than 100,000 .* alias bomb", p, "node", cache)
    assert time.perf_counter() - t < 5


def test_recursive_alias_is_refused(tmp_path, cache):
    p = write(tmp_path / "m.yaml", "loop: &l [1, *l]\n" + textwrap.dedent(OP.format(rhs="-x")))
    refused(nmm.TemplateError, r"alias at line 1 refers to a node that contains it", p, "node", cache)


def test_ordinary_aliases_load():
    text = "edge: &e some.template\nlist: &l [1, 2, 3]\nuse: {a: *e, b: *l, c: *l}\n"
    assert load_yaml_text(text, "t.yaml")["use"] == {"a": "some.template", "b": [1, 2, 3], "c": [1, 2, 3]}


@pytest.mark.skipif(not HAVE_PYRATES, reason="PyRates is not installed")
def test_pyrates_templates_with_aliases_load():
    # qif.yaml refers to its edges through anchors and aliases (*depression_edge)
    qif = load_template("model_templates.neural_mass_models.qif.qif")
    assert isinstance(qif, CircuitDef)


def test_duplicate_key_names_key_and_lines(tmp_path, cache):
    p = write(tmp_path / "m.yaml", OP.format(rhs="-x").replace("      variables:", "      equations: 'x = 1'\n"
                                                                  "      variables:"))
    refused(nmm.TemplateError, r"duplicate key 'equations' at line 5 of template file .*m\.yaml.*"
            r"already defined at line 4", p, "node", cache)


def test_yaml_error_is_formatted_once_without_content(tmp_path, cache):
    p = write(tmp_path / "m.yaml", "db_password: hunter2\nop: {base: [unclosed\n")
    with pytest.raises(nmm.TemplateError, match=r"^YAML syntax error in template file .*m\.yaml' at line \d+, "
                       r"column \d+: .*\.$") as info:
        load_template(str(p), "op")
    assert str(info.value).count("YAML syntax error") == 1
    assert "hunter2" not in str(info.value)


def test_python_tags_are_refused(tmp_path, cache):
    p = write(tmp_path / "m.yaml", "x: !!python/object/apply:os.system ['touch pwned']\n"
              + textwrap.dedent(OP.format(rhs="-x")))
    refused(nmm.TemplateError, r"template file .*m\.yaml' at line 1, column \d+: could not determine a "
            "constructor", p, "node", cache)
    assert not (tmp_path / "pwned").exists()


def test_unrelated_yaml_file_keys_are_not_echoed(tmp_path):
    p = write(tmp_path / "secrets.yaml", "db_password: hunter2\napi_token: abc123\n")
    for ref, match in ((f"{p}/JRC", "it holds no templates"), (f"{p}/db_password", "is not a template")):
        with pytest.raises(nmm.TemplateError, match=match) as info:
            load_template(ref)
        msg = str(info.value)
        assert "api_token" not in msg and "hunter2" not in msg and "abc123" not in msg


def test_missing_template_lists_only_templates(tmp_path):
    p = write(tmp_path / "m.yaml", "secret: hunter2\n" + textwrap.dedent(OP.format(rhs="-x")))
    with pytest.raises(nmm.TemplateError, match=r"its templates: op, node\. Did you mean 'node'") as info:
        load_template(str(p), "nod")
    assert "secret" not in str(info.value)


# --------------------------------------------------------------------------- 4. values a kernel cannot hold


@pytest.mark.parametrize(
    "rhs, match",
    [
        ("1e400 * y", r"number 1e400 in equation 'd/dt \* x = 1e400 \* y' in operator 'op' .* beyond the float64"),
        ("x/0", r"division by zero: 'x/0' in equation .* divides by '0'"),
        ("sqrt(-1) * x", r"'sqrt\(-1\)' in equation .* has no finite real value"),
        ("log(0) + x", r"'log\(0\)' in equation .* has no finite real value"),
        ("exp(1000) * x", r"'exp\(1000\)' in equation .* overflows float64"),
        ("(-8)^(1/3)", r"'\(-8\)\^\(1/3\)' in equation .* is not a real number"),
        ("1e308 * 10 * x", r"the product '1e308 \* 10' in equation .* overflows float64"),
        ("x/(y - y)", r"division by zero in equation .* a divisor simplifies to 0"),
        ("x * (y - y)^(-1)", r"simplifies to .*zoo.* complex infinity"),
        ("sqrt(x - x - 3) * x", r"simplifies to .* an imaginary number"),
    ],
)
def test_non_finite_values_are_refused_naming_the_equation(tmp_path, cache, rhs, match):
    p = write(tmp_path / "m.yaml", OP.format(rhs=rhs))
    refused(nmm.EquationError, match, p, "node", cache)


def test_printer_raises_equation_errors():
    x = sp.Symbol("x")
    pr = Printer({x: "x"})
    for bad in (x * sp.zoo, x + sp.nan, x * sp.I, x + sp.Float("1e400"), x + sp.oo):
        with pytest.raises(nmm.EquationError, match="finite real"):
            pr(bad)
    with pytest.raises(nmm.EquationError, match="not a finite real float64"):
        pr.const(float("inf"))


# --------------------------------------------------------------------------- 5. time is reserved


def test_defining_t_says_it_is_the_time(tmp_path, cache):
    p = write(tmp_path / "m.yaml", OP.format(rhs="-x").replace("d/dt * x = -x", "d/dt * t = 1")
              .replace("x: output(0.5)", "t: variable(0.0), x: output(0.5)"))
    refused(nmm.EquationError, r"equation 'd/dt \* t = 1' in operator 'op' .* defines 't', but 't' is the "
            r"reserved time symbol.*Rename the variable", p, "node", cache)


# --------------------------------------------------------------------------- 6. absolute paths


def test_relative_paths_are_recorded_absolute_and_resolve_from_anywhere(tmp_path, monkeypatch):
    write(tmp_path / "models" / "ops.yaml", OP.format(rhs="-x/y"))
    write(tmp_path / "models" / "net.yaml", """
        net:
          base: CircuitTemplate
          nodes: {a: ops.yaml/node, b: ops/node}
          edges: [[a/op/x, b/op/x, null, {weight: 1.0}]]
    """)
    monkeypatch.chdir(tmp_path)
    net = load_template("models/net.yaml", "net")
    assert net.source == str(tmp_path / "models" / "net.yaml")
    assert set(net.files) == {str(tmp_path / "models" / f) for f in ("net.yaml", "ops.yaml")}
    assert all(os.path.isabs(s) for _, n in net.nodes for s in (n.source, n.operators[0][1].source))
    # the recorded source loads again from another folder, relative references included
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    again = load_template(net.source, "net")
    assert again == net
