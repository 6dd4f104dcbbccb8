"""Family IR -> Ruby: exact rendering of tricky trees, and generated problems run through the engine."""

import pytest

from tests.problems.family.render_helpers import (
    a,
    assert_all_pass,
    b,
    body_renderer,
    else_if_loop,
    j,
    num,
    s,
    shared_expressions,
    text,
    vowel_filter,
    word_lengths,
    xs,
)
from xpl.languages import get_language
from xpl.languages.types import BOOL, FLOAT, INT, STR, Param
from xpl.problems.family.generator import generate
from xpl.problems.family.ir import (
    INT_LIST,
    STR_LIST,
    WORD_COUNTS,
    AugAssign,
    Bin,
    Concat,
    Divisible,
    ForRange,
    Function,
    If,
    Index,
    Len,
    Let,
    Lit,
    Neg,
    Not,
    Return,
    ToFloat,
    ToLower,
    Var,
)

body = body_renderer("ruby")


# The method's last line is its value: no `return` there. Comparisons never chain: a
# comparison inside another keeps its parentheses.
@pytest.mark.parametrize(
    "expr, text",
    shared_expressions(
        ["(a + 1) * b - (b - -c)", "a - b - c", "-(-a)", "a * -3", "(a < b) == (b < c)"],
        {
            "not (((a + b) % 3 == 0 or a > 2) and b < c)": "!(((a + b) % 3 == 0 || a > 2) && b < c)",
            "a > 0 or a > 0 and not a > 0": "a > 0 || a > 0 && !(a > 0)",
            "a % 2 != 0": "a.odd?",
        },
    ),
)
def test_shared_expressions(expr, text):
    assert body(expr.type, Return(expr)) == f"  {text}\n"


def test_divisibility_and_float_conversion():
    assert body(FLOAT, Return(Bin("/", ToFloat(num(-3)), ToFloat(Neg(a))))) == "  (-3).to_f / (-a).to_f\n"
    assert body(BOOL, Return(Not(Divisible(Bin("-", a, b), 2)))) == "  !(a - b).even?\n"
    assert body(BOOL, Return(Divisible(a, 5, negate=True))) == "  a % 5 != 0\n"


def test_else_if_chain_and_loops():
    got = body(
        INT,
        *else_if_loop(),
        ForRange(
            "j",
            Bin("+", num(1), num(1)),
            Bin("+", Len(xs), num(1)),
            (If(Bin("==", j, num(4)), (Return(Index(xs, Bin("-", j, num(1)))),)),),
        ),
        ForRange("j", num(1), Bin("-", Len(xs), num(1)), (AugAssign("t", "*", Bin("+", j, num(1))),)),
        Return(Var("t", INT)),
        params=(("xs", INT_LIST),),
    )
    assert got == (
        "  t = 0\n"
        "  xs.length.times do |i|\n"
        "    if xs[i] > 0\n"
        "      t += 1\n"
        "    elsif xs[i] < 0\n"
        "      t -= 1\n"
        "    else\n"
        "      t = 0\n"
        "    end\n"
        "  end\n"
        "  (1 + 1..xs.length).each do |j|\n"
        "    if j == 4\n"
        "      return xs[j - 1]\n"  # not the last line: `return` stays
        "    end\n"
        "  end\n"
        "  (1...xs.length - 1).each do |j|\n"
        "    t *= j + 1\n"
        "  end\n"
        "  t\n"
    )


def test_strings_lists_and_dicts():
    got = body(
        STR,
        *vowel_filter("#{x}"),
        AugAssign("out", "+", Concat(text("re"), ToLower(s))),
        Return(Var("out", STR)),
        params=(("s", STR),),
    )
    assert got == (
        '  out = ""\n'
        "  s.each_char do |ch|\n"
        '    if "aeiou".include?(ch)\n'
        "      out += ch.upcase\n"
        '    elsif !"\\#{x}".include?(ch)\n'
        "      out += ch\n"
        "    end\n"
        "  end\n"
        '  out += "re" + s.downcase\n'
        "  out\n"
    )
    got = body(WORD_COUNTS, *word_lengths(), params=(("words", STR_LIST),))
    assert got == (
        "  d = {}\n"
        "  lens = []\n"
        "  words.each do |w|\n"
        "    d[w] = d.fetch(w, 0) + (w.length + 1)\n"
        "    lens << w.length * 2\n"
        "  end\n"
        "  d\n"
    )
    # A literal container on the last line keeps its `return`.
    assert body(INT_LIST, Return(Lit([], INT_LIST))) == "  return []\n"


def test_capitalised_names_follow_the_prompt():
    fn = Function(
        "f",
        (Param("N", INT), Param("n", INT)),
        INT,
        (Let("Total", INT, Var("N", INT)), AugAssign("Total", "+", Var("n", INT)), Return(Var("Total", INT))),
    )
    prompt = get_language("ruby").prompt(fn.signature, "")
    assert prompt == "def f(n_, n)\n"
    assert body(INT, *fn.body, params=(("N", INT), ("n", INT))) == "  total = n_\n  total += n\n  total\n"


def test_generated_problems_pass_in_ruby(engine):
    assert_all_pass("ruby", generate(40, seed=3), engine)
