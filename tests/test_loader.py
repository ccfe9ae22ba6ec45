"""Template loading: reference forms, inheritance and the errors users meet."""
from __future__ import annotations

import textwrap

import pytest
from conftest import HAVE_PYRATES

import nmm
from nmm.loader import CircuitDef, load_template

JRC = "nmm.templates.jansenrit.JRC"


def write(tmp_path, text, name="m.yaml"):
    p = tmp_path / name
    p.write_text(textwrap.dedent(text))
    return p


BASIC = """
    lin:
      base: OperatorTemplate
      equations: "d/dt * x = -x/tau + a_in"
      variables:
        x: output(1.0)
        tau: 2.0
        a_in: input(0.0)
    slow:
      base: lin
      variables:
        tau: 4.0
    pop:
      base: NodeTemplate
      operators: [slow]
    net:
      base: CircuitTemplate
      nodes: {a: pop, b: pop}
      edges:
        - [a/slow/x, b/slow/a_in, null, {weight: 0.5}]
"""


def test_reference_forms_are_equivalent(tmp_path):
    p = write(tmp_path, BASIC)
    forms = [(str(p), "net"), (f"{p}/net", None), (f"{p}:net", None), (str(p)[:-5] + "/net", None)]
    models = [nmm.CircuitTemplate.from_yaml(r, t).model for r, t in forms]
    assert all(m.rhs == models[0].rhs for m in models)
    m = models[0]
    assert m.states == ("a/slow/x", "b/slow/x")
    assert dict(zip(m.params, m.param_values))["a/slow/tau"] == 4.0  # inherited and overridden
    assert "a/slow/x->b/slow/a_in/weight" in m.params


def test_dotted_paths_resolve_to_our_library_or_pyrates():
    ours = load_template(JRC)
    assert isinstance(ours, CircuitDef) and ours.source.endswith("nmm/templates/jansenrit.yaml")
    compat = load_template("model_templates.neural_mass_models.jansenrit.JRC")
    assert [lbl for lbl, _ in compat.nodes] == ["pc", "ein", "iin"]


def test_equation_updates_replace_whole_terms(tmp_path):
    p = write(tmp_path, """
        base_op:
          base: OperatorTemplate
          equations: "d/dt * r = -r + r_in + r_thr"
          variables: {r: output(0.0), r_in: input(0.0), r_thr: 1.0}
        child:
          base: base_op
          equations:
            replace: {r_in: (r_in + u)}
            add: ["d/dt * q = -q"]
          variables: {u: 2.0, q: variable(3.0)}
    """)
    op = load_template(str(p), "child")
    assert op.equations == ("d/dt * r = -r + (r_in + u) + r_thr", "d/dt * q = -q")
    assert {v.name for v in op.variables} == {"r", "r_in", "r_thr", "u", "q"}


def test_pyrates_style_values_are_read(tmp_path):
    # PyYAML reads 10e-3 (no dot) as a string; PyRates' files rely on it being a number
    p = write(tmp_path, """
        op:
          base: OperatorTemplate
          equations: "d/dt * v = -v/tau"
          variables: {v: "output(2.5)", tau: 10e-3}
    """)
    op = load_template(str(p), "op")
    assert op.variable("tau").default == pytest.approx(0.01)
    assert op.variable("v").default == 2.5 and op.variable("v").kind == "output"


@pytest.mark.parametrize(
    "ref, match",
    [
        ("nmm.templates.jansenrit.JRCC", r"template 'JRCC' not found.*Did you mean 'JRC'"),
        ("nmm.templates.nosuchfile.JRC", "cannot find the template file"),
        ("no_such_package.file.X", "cannot find the template file"),
        ("justaname", "neither a dotted path"),
    ],
)
def test_unknown_template_paths(ref, match):
    with pytest.raises(nmm.TemplateError, match=match):
        nmm.CircuitTemplate.from_yaml(ref)


def test_yaml_syntax_error_names_file_and_line(tmp_path):
    p = write(tmp_path, "a:\n  base: [unclosed\n")
    with pytest.raises(nmm.TemplateError, match=r"YAML syntax error in template file .*m\.yaml.* line"):
        nmm.CircuitTemplate.from_yaml(str(p), "a")


def test_circular_base(tmp_path):
    p = write(tmp_path, """
        a: {base: b, equations: "x = 1"}
        b: {base: a}
    """)
    with pytest.raises(nmm.TemplateError, match="circular 'base:' inheritance: a -> b -> a"):
        load_template(str(p), "a")


def test_unknown_variable_in_equation(tmp_path):
    p = write(tmp_path, BASIC.replace("-x/tau + a_in", "-x/tua + a_in"))
    with pytest.raises(nmm.EquationError, match=r"unknown variable 'tua'.*Did you mean 'tau'"):
        nmm.CircuitTemplate.from_yaml(str(p), "net").model


def test_unsafe_equation_in_template(tmp_path):
    p = write(tmp_path, BASIC.replace('"d/dt * x = -x/tau + a_in"', "\"d/dt * x = __import__('os').system('x')\""))
    with pytest.raises(nmm.EquationError, match="not allowed"):
        nmm.CircuitTemplate.from_yaml(str(p), "net").model


def test_bad_delays_are_refused_naming_the_edge(tmp_path):
    p = write(tmp_path, BASIC.replace("{weight: 0.5}", "{weight: 0.5, delay: -0.01}"))
    with pytest.raises(nmm.TemplateError, match=r"edge a/slow/x -> b/slow/a_in .*delay=-0.01"):
        nmm.CircuitTemplate.from_yaml(str(p), "net").model
    p = write(tmp_path, BASIC.replace("{weight: 0.5}", "{weight: 0.5, spread: 0.01}"))
    with pytest.raises(nmm.TemplateError, match="a spread needs a positive delay"):
        nmm.CircuitTemplate.from_yaml(str(p), "net").model


def test_zero_delay_is_accepted(tmp_path):
    p = write(tmp_path, BASIC.replace("{weight: 0.5}", "{weight: 0.5, delay: 0.0}"))
    assert len(nmm.CircuitTemplate.from_yaml(str(p), "net").model.states) == 2


def test_edge_to_unknown_variable(tmp_path):
    p = write(tmp_path, BASIC.replace("b/slow/a_in", "b/slow/a_inn"))
    with pytest.raises(nmm.TemplateError, match=r"target 'b/slow/a_inn'.*Did you mean 'b/slow/a_in'"):
        nmm.CircuitTemplate.from_yaml(str(p), "net").model


def test_unknown_key_in_template(tmp_path):
    p = write(tmp_path, BASIC.replace("      equations: \"d/dt", "      equatons: x\n      equations: \"d/dt", 1))
    with pytest.raises(nmm.TemplateError, match="unknown key 'equatons'.*Did you mean 'equations'"):
        nmm.CircuitTemplate.from_yaml(str(p), "net")


def test_algebraic_loop(tmp_path):
    p = write(tmp_path, """
        op:
          base: OperatorTemplate
          equations: ["a = b + 1", "b = a * 2", "d/dt * x = -x + a"]
          variables: {a: variable(0.0), b: variable(0.0), x: output(0.0)}
        node: {base: NodeTemplate, operators: [op]}
    """)
    with pytest.raises(nmm.EquationError, match="algebraic loop"):
        nmm.CircuitTemplate.from_yaml(str(p), "node").model


def test_in_node_outputs_feed_same_named_inputs():
    m = nmm.CircuitTemplate.from_yaml(JRC).model
    # pc/pro/v is the sum of the two synaptic potentials of the pyramidal cells
    import sympy as sp

    v = m.expression("pc/pro/v")
    assert v == sp.Symbol("pc/rpo_e_in/v", real=True) + sp.Symbol("pc/rpo_i/v", real=True)


def test_nested_circuits_prefix_paths(tmp_path):
    p = write(tmp_path, BASIC + """
    two:
      base: CircuitTemplate
      circuits: {c1: net, c2: net}
      edges:
        - [c1/b/slow/x, c2/a/slow/a_in, null, {weight: 2.0}]
""")
    m = nmm.CircuitTemplate.from_yaml(str(p), "two").model
    assert m.states == ("c1/a/slow/x", "c1/b/slow/x", "c2/a/slow/x", "c2/b/slow/x")
    assert "c1/a/slow/x->c1/b/slow/a_in/weight" in m.params
    assert "c1/b/slow/x->c2/a/slow/a_in/weight" in m.params
    # x' = -x/tau + a_in with a_in fed by the edges: check one right-hand side numerically

    rhs = dict(zip(m.states, m.rhs))["c2/a/slow/x"]
    vals = {s: 1.0 for s in m.state_symbols}
    vals.update(dict(zip(m.param_symbols, m.param_values)))
    assert float(rhs.subs(vals)) == pytest.approx(-1 / 4 + 2.0)


@pytest.mark.skipif(not HAVE_PYRATES, reason="PyRates is not installed")
def test_pyrates_delay_coupled_template_loads_unchanged():
    m = nmm.CircuitTemplate.from_yaml("model_templates.neural_mass_models.jansenrit.JRC_2delaycoupled").model
    assert "jrc1/pc/pro/m->jrc2/pc/rpo_e_in/m_in/delay" in m.params
    assert len(m.states) == 16 + 2 * 16  # two columns and two gamma chains of order (4 / 1)^2


def test_time_unit_key():
    assert nmm.CircuitTemplate.from_yaml(JRC).time_unit == "s"
