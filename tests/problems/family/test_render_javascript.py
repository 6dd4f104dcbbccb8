"""The JavaScript family renderer: exact renderings of hand-built IR (precedence, else-if
chains, string append, dict add, index, the corners of ``range``), and generated problems run
through the engine."""

import pytest

from tests.problems.family import web_render_cases as cases
from xpl.languages import get_language
from xpl.problems.family.generator import generate
from xpl.problems.family.render import renderer_for
from xpl.problems.family.verify import verify

JS = get_language("javascript")


def render(fn) -> str:
    return renderer_for("javascript").body(fn)


def test_else_if_chain_string_append_and_case_conversion():
    assert render(cases.CHAIN) == (
        '  let out = "";\n'
        "  for (const ch of s) {\n"
        '    if ("aeiou".includes(ch)) {\n'
        "      out += ch.toUpperCase();\n"
        '    } else if (ch === " ") {\n'
        '      out += "_$";\n'
        '    } else if ("XYZ".includes(ch)) {\n'
        "      out += ch.toLowerCase();\n"
        "    } else {\n"
        "      out += ch;\n"
        "    }\n"
        "  }\n"
        '  return out + s.toLowerCase() + ("a" + out).toUpperCase();\n'
    )


def test_dict_add_on_a_plain_object_and_index():
    # `const`: adding to an object is not an assignment of the variable.
    assert render(cases.COUNTS) == (
        "  const counts = {};\n"
        "  for (let i = 0; i < words.length; i++) {\n"
        "    counts[words[i]] = (counts[words[i]] ?? 0) + (words[i].length - 2 * xs[0]);\n"
        "  }\n"
        "  return counts;\n"
    )


def test_precedence_strict_equality_and_unary_minus():
    assert render(cases.PRECEDENCE) == (
        "  const k = (a - (b - c)) * -a;\n"
        "  const f = -(-0.0) - v / -(-b);\n"
        '  const t = "x" + "y";\n'
        '  return !((k + 1) % 3 === 0 && f < 0.5 || t + "z" === "xyz" && (t + t).length > c - -3);\n'
    )


def test_range_stop_is_evaluated_once():
    # The body pushes to the list whose length is the stop: it is read once, into a fresh name
    # (`stop` is taken), as Python's range does.
    assert render(cases.GROWING) == (
        "  const out = [];\n"
        "  let stop = 0;\n"
        "  for (const x of xs) {\n"
        "    out.push(x);\n"
        "  }\n"
        "  const stop2 = out.length;\n"
        "  for (let i = 0; i < stop2; i++) {\n"
        "    out.push(i * 10);\n"
        "    stop += i;\n"
        "  }\n"
        "  out.push(stop);\n"
        "  return out;\n"
    )


def test_assigned_loop_variable_and_reserved_names():
    assert render(cases.RESERVED) == (
        "  let new_ = 0;\n"
        "  for (let i_ = this_; i_ < this_ + 4; i_++) {\n"
        "    let i = i_;\n"
        "    i = i * 2;\n"
        "    new_ += i;\n"
        "  }\n"
        "  let class_ = new_;\n"
        "  for (const x of values) {\n"
        "    class_ -= x;\n"
        "  }\n"
        "  return class_;\n"
    )


def test_const_unless_reassigned():
    body = render(cases.CONSTS)
    assert "  const k = 3;\n" in body and "  let found = false;\n" in body
    assert "return found === (n > 3);" in body


@pytest.mark.slow
@pytest.mark.skipif(not JS.toolchain.available, reason=f"Node.js not installed: {JS.toolchain.problem}")
def test_rendered_programs_pass_their_tests(engine):
    v = verify(cases.items() + generate(40, seed=3), ["javascript"], engine=engine)
    assert not v.unavailable
    assert not v.failures, "\n\n".join(f"{f.problem}: {f.status}\n{f.detail[:1500]}" for f in v.failures)
    assert v.passed["javascript"] == len(cases.CASES) + 40
