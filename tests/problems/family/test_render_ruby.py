"""Family IR -> Ruby: exact rendering of tricky trees, and generated problems run through the engine."""

import pytest

from xpl.languages import get_language
from xpl.languages.types import BOOL, FLOAT, INT, STR, Param
from xpl.problems.family.generator import generate
from xpl.problems.family.ir import (
    CHAR,
    INT_LIST,
    STR_LIST,
    WORD_COUNTS,
    Assign,
    AugAssign,
    Bin,
    CharIn,
    Concat,
    DictAdd,
    Divisible,
    ForEach,
    ForRange,
    Function,
    If,
    Index,
    Len,
    Let,
    Lit,
    Neg,
    Not,
    Push,
    Return,
    ToFloat,
    ToLower,
    ToUpper,
    Var,
)
from xpl.problems.family.render import renderer_for
from xpl.problems.family.verify import verify

a, b, c, i, j = Var("a", INT), Var("b", INT), Var("c", INT), Var("i", INT), Var("j", INT)
xs, s, ch, w = Var("xs", INT_LIST), Var("s", STR), Var("ch", CHAR), Var("w", STR)


def one(n):
    return Lit(n, INT)


def body(returns, *stmts, params=(("a", INT), ("b", INT), ("c", INT))):
    fn = Function("f", tuple(Param(n, t) for n, t in params), returns, tuple(stmts))
    return renderer_for("ruby").body(fn)


def test_parentheses_only_where_the_tree_needs_them():
    e = Bin("-", Bin("*", Bin("+", a, one(1)), b), Bin("-", b, Neg(c)))
    # The method's last line is its value: no `return` there.
    assert body(INT, Return(e)) == "  (a + 1) * b - (b - -c)\n"
    assert body(INT, Return(Bin("-", Bin("-", a, b), c))) == "  a - b - c\n"
    assert body(INT, Return(Neg(Neg(a)))) == "  -(-a)\n"
    assert body(INT, Return(Bin("*", a, one(-3)))) == "  a * -3\n"
    assert body(FLOAT, Return(Bin("/", ToFloat(one(-3)), ToFloat(Neg(a))))) == "  (-3).to_f / (-a).to_f\n"


def test_boolean_operators():
    e = Not(Bin("and", Bin("or", Divisible(Bin("+", a, b), 3), Bin(">", a, one(2))), Bin("<", b, c)))
    assert body(BOOL, Return(e)) == "  !(((a + b) % 3 == 0 || a > 2) && b < c)\n"
    a_pos = Bin(">", a, one(0))
    assert body(BOOL, Return(Bin("or", a_pos, Bin("and", a_pos, Not(a_pos))))) == "  a > 0 || a > 0 && !(a > 0)\n"
    assert body(BOOL, Return(Divisible(a, 2, negate=True))) == "  a.odd?\n"
    assert body(BOOL, Return(Not(Divisible(Bin("-", a, b), 2)))) == "  !(a - b).even?\n"
    assert body(BOOL, Return(Divisible(a, 5, negate=True))) == "  a % 5 != 0\n"
    # Comparisons never chain: a comparison inside another keeps its parentheses.
    assert body(BOOL, Return(Bin("==", Bin("<", a, b), Bin("<", b, c)))) == "  (a < b) == (b < c)\n"


def test_else_if_chain_and_loops():
    got = body(
        INT,
        Let("t", INT, one(0)),
        ForRange(
            "i",
            one(0),
            Len(xs),
            (
                If(
                    Bin(">", Index(xs, i), one(0)),
                    (AugAssign("t", "+", one(1)),),
                    (If(Bin("<", Index(xs, i), one(0)), (AugAssign("t", "-", one(1)),), (Assign("t", one(0)),)),),
                ),
            ),
        ),
        ForRange(
            "j",
            Bin("+", one(1), one(1)),
            Bin("+", Len(xs), one(1)),
            (If(Bin("==", j, one(4)), (Return(Index(xs, Bin("-", j, one(1)))),)),),
        ),
        ForRange("j", one(1), Bin("-", Len(xs), one(1)), (AugAssign("t", "*", Bin("+", j, one(1))),)),
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
        Let("out", STR, Lit("", STR)),
        ForEach(
            "ch",
            s,
            (
                If(
                    CharIn(ch, "aeiou"),
                    (AugAssign("out", "+", ToUpper(ch)),),
                    (If(Not(CharIn(ch, "#{x}")), (AugAssign("out", "+", ch),)),),
                ),
            ),
        ),
        AugAssign("out", "+", Concat(Lit("re", STR), ToLower(s))),
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
    got = body(
        WORD_COUNTS,
        Let("d", WORD_COUNTS, Lit({}, WORD_COUNTS)),
        Let("lens", INT_LIST, Lit([], INT_LIST)),
        ForEach(
            "w",
            Var("words", STR_LIST),
            (DictAdd("d", w, Bin("+", Len(w), one(1))), Push("lens", Bin("*", Len(w), one(2)))),
        ),
        Return(Var("d", WORD_COUNTS)),
        params=(("words", STR_LIST),),
    )
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
    assert renderer_for("ruby").body(fn) == "  total = n_\n  total += n\n  total\n"


def test_generated_problems_pass_in_ruby():
    if not get_language("ruby").toolchain.available:
        pytest.skip("no ruby toolchain: " + get_language("ruby").toolchain.problem)
    v = verify(generate(40, seed=3), ["ruby"])
    assert v.failures == [] and len(v.kept) == 40
