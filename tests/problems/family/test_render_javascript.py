"""The JavaScript family renderer: exact renderings of hand-built IR (precedence, else-if
chains, string append, dict add, index, counting loops), and generated problems run through the
engine."""

from functools import partial

import pytest

from tests.problems.family import web_render_cases as cases
from tests.problems.family.render_helpers import assert_all_pass, render_in
from xpl.problems.family.generator import generate

render = partial(render_in, "javascript")


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


def test_counting_loop():
    assert render(cases.GROWING) == (
        "  const out = [];\n"
        "  let stop = 0;\n"
        "  for (const x of xs) {\n"
        "    out.push(x);\n"
        "  }\n"
        "  for (let i = 0; i < xs.length; i++) {\n"
        "    out.push(i * 10);\n"
        "    stop += i;\n"
        "  }\n"
        "  out.push(stop);\n"
        "  return out;\n"
    )


def test_reserved_names():
    assert render(cases.RESERVED) == (
        "  let new_ = 0;\n"
        "  for (let i = this_; i < this_ + 4; i++) {\n"
        "    new_ += i * 2;\n"
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
def test_rendered_programs_pass_their_tests(engine):
    assert_all_pass("javascript", cases.items() + generate(40, seed=3), engine)
