"""Family IR -> Python: exact rendering of tricky trees, and generated problems run through the engine."""

import pytest

from xpl.languages import get_language
from xpl.languages.types import BOOL, INT, STR, Param
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
    Return,
    ToUpper,
    Var,
)
from xpl.problems.family.render import renderer_for
from xpl.problems.family.verify import verify

a, b, c, i = Var("a", INT), Var("b", INT), Var("c", INT), Var("i", INT)
xs, s, ch, w = Var("xs", INT_LIST), Var("s", STR), Var("ch", CHAR), Var("w", STR)


def one(n):
    return Lit(n, INT)


def body(returns, *stmts, params=(("a", INT), ("b", INT), ("c", INT))):
    fn = Function("f", tuple(Param(n, t) for n, t in params), returns, tuple(stmts))
    return renderer_for("python").body(fn)


def test_parentheses_only_where_the_tree_needs_them():
    e = Bin("-", Bin("*", Bin("+", a, one(1)), b), Bin("-", b, Neg(c)))
    assert body(INT, Return(e)) == "    return (a + 1) * b - (b - -c)\n"
    assert body(INT, Return(Bin("-", Bin("-", a, b), c))) == "    return a - b - c\n"
    assert body(INT, Return(Neg(Neg(a)))) == "    return -(-a)\n"
    assert body(INT, Return(Bin("*", a, one(-3)))) == "    return a * -3\n"


def test_boolean_operators():
    e = Not(Bin("and", Bin("or", Divisible(Bin("+", a, b), 3), Bin(">", a, one(2))), Bin("<", b, c)))
    assert body(BOOL, Return(e)) == "    return not (((a + b) % 3 == 0 or a > 2) and b < c)\n"
    a_pos = Bin(">", a, one(0))
    assert body(BOOL, Return(Bin("or", a_pos, Bin("and", a_pos, Not(a_pos))))) == (
        "    return a > 0 or a > 0 and not a > 0\n"
    )
    assert body(BOOL, Return(Divisible(a, 2, negate=True))) == "    return a % 2 != 0\n"


def test_else_if_chain_and_loops():
    got = body(
        INT,
        Let("t", INT, one(0)),
        ForRange("i", one(0), Len(xs), (If(Bin(">", Index(xs, i), one(0)), (AugAssign("t", "+", one(1)),), (If(Bin("<", Index(xs, i), one(0)), (AugAssign("t", "-", one(1)),), (Assign("t", one(0)),)),)),)),
        Return(Var("t", INT)),
        params=(("xs", INT_LIST),),
    )
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
    got = body(
        STR,
        Let("out", STR, Lit("", STR)),
        ForEach("ch", s, (If(CharIn(ch, "aeiou"), (AugAssign("out", "+", ToUpper(ch)),)),)),
        Return(Var("out", STR)),
        params=(("s", STR),),
    )
    assert got == "    out = ''\n    for ch in s:\n        if ch in 'aeiou':\n            out += ch.upper()\n    return out\n"
    got = body(
        WORD_COUNTS,
        Let("d", WORD_COUNTS, Lit({}, WORD_COUNTS)),
        ForEach("w", Var("words", STR_LIST), (DictAdd("d", w, Bin("+", Len(w), one(1))),)),
        Return(Var("d", WORD_COUNTS)),
        params=(("words", STR_LIST),),
    )
    assert "        d[w] = d.get(w, 0) + (len(w) + 1)\n" in got


def test_generated_problems_pass_in_python():
    if not get_language("python").toolchain.available:
        pytest.skip("no python3 toolchain")
    v = verify(generate(60, seed=3), ["python"])
    assert v.failures == [] and len(v.kept) == 60
