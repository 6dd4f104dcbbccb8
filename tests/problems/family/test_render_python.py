"""Family IR -> Python: exact rendering of tricky trees, and generated problems run through the engine."""

import pytest

from tests.problems.family.render_helpers import (
    E,
    assert_all_pass,
    body_renderer,
    else_if_loop,
    vowel_filter,
    word_lengths,
)
from xpl.languages.types import INT, STR
from xpl.problems.family.generator import generate
from xpl.problems.family.ir import INT_LIST, STR_LIST, WORD_COUNTS, Return, Var

body = body_renderer("python")


@pytest.mark.parametrize("python", sorted(E))
def test_every_shared_expression_is_named_by_its_python_rendering(python):
    # The other PLs' tests name these trees by their Python rendering.
    params = (("a", INT), ("b", INT), ("c", INT), ("xs", INT_LIST))
    assert body(E[python].type, Return(E[python]), params=params) == f"    return {python}\n"


def test_else_if_chain_and_loops():
    got = body(INT, *else_if_loop(), Return(Var("t", INT)), params=(("xs", INT_LIST),))
    assert got == (
        "    t = 0\n"
        "    for i in range(len(xs)):\n"
        "        if xs[i] > 0:\n"
        "            t += 1\n"
        "        elif xs[i] < 0:\n"
        "            t -= 1\n"
        "        else:\n"
        "            t = 0\n"
        "    return t\n"
    )


def test_strings_and_dicts():
    got = body(STR, *vowel_filter("'"), Return(Var("out", STR)), params=(("s", STR),))
    assert got == (
        "    out = ''\n"
        "    for ch in s:\n"
        "        if ch in 'aeiou':\n"
        "            out += ch.upper()\n"
        '        elif not ch in "\'":\n'
        "            out += ch\n"
        "    return out\n"
    )
    got = body(WORD_COUNTS, *word_lengths(), params=(("words", STR_LIST),))
    assert got == (
        "    d = {}\n"
        "    lens = []\n"
        "    for w in words:\n"
        "        d[w] = d.get(w, 0) + (len(w) + 1)\n"
        "        lens.append(len(w) * 2)\n"
        "    return d\n"
    )


def test_generated_problems_pass_in_python(engine):
    assert_all_pass("python", generate(60, seed=3), engine)
