"""What the family renderer tests (``test_render_<pl>.py``) share: building hand-built IR
functions and rendering their bodies, expression and statement trees that several PLs' tests
check (each PL's expected rendering stays in its own test file), turning hand-built functions
into problems whose expected outputs come from executing the IR, and running problems through
the engine."""

from __future__ import annotations

import textwrap
from collections.abc import Sequence

import pytest

from xpl.languages import get_language
from xpl.languages.types import BOOL, FLOAT, INT, STR, Param, TestCase, Type
from xpl.problems.family.generator import Generated
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
    Expr,
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
    Stmt,
    ToFloat,
    ToUpper,
    Var,
    compile_function,
)
from xpl.problems.family.render import renderer_for
from xpl.problems.family.verify import verify
from xpl.problems.problem import Problem

# ----------------------------------------------------------------------------- building trees

a, b, c, i, j, k, x = (Var(name, INT) for name in "abcijkx")
xs, s, ch, w, words = Var("xs", INT_LIST), Var("s", STR), Var("ch", CHAR), Var("w", STR), Var("words", STR_LIST)

ABC = (("a", INT), ("b", INT), ("c", INT))  # the parameters of most hand-built functions


def num(value: int) -> Lit:
    return Lit(value, INT)


def text(value: str) -> Lit:
    return Lit(value, STR)


def lit(value: bool | int | float) -> Lit:
    """A literal of the type its Python value has."""
    return Lit(value, FLOAT if isinstance(value, float) else BOOL if isinstance(value, bool) else INT)


def function(name: str, params: Sequence[tuple[str, Type]], returns: Type, *body: Stmt) -> Function:
    return Function(name, tuple(Param(p, t) for p, t in params), returns, tuple(body))


def render_in(language: str, fn: Function) -> str:
    return renderer_for(language).body(fn)


def body_renderer(language: str, params: Sequence[tuple[str, Type]] = ABC):
    """``body(returns, *stmts, params=params)``: the body, in ``language``, of a function ``f``
    made of those statements."""

    def body(returns: Type, *stmts: Stmt, params: Sequence[tuple[str, Type]] = params) -> str:
        return render_in(language, function("f", params, returns, *stmts))

    return body


def indented(expected: str, width: int) -> str:
    """Expected body text, written flush left in a test and indented as the function's body."""
    return textwrap.indent(textwrap.dedent(expected).lstrip("\n"), " " * width)


# ----------------------------------------------------------------------------- shared trees

# Expressions several PLs' tests check, each under its Python rendering (which
# test_render_python checks): a test writes `E["a - (b - c)"]` and states what its PL makes of it.
_A_POSITIVE = Bin(">", a, num(0))
E: dict[str, Expr] = {
    "3 * a + 1": Bin("+", Bin("*", num(3), a), num(1)),
    "(a - b) % 3 != 0": Divisible(Bin("-", a, b), 3, negate=True),
    "a - (b - c)": Bin("-", a, Bin("-", b, c)),
    "a - b - c": Bin("-", Bin("-", a, b), c),
    "a - -3": Bin("-", a, num(-3)),
    "a * -3": Bin("*", a, num(-3)),
    "-(a + b)": Neg(Bin("+", a, b)),
    "-(-3)": Neg(num(-3)),
    "-(-a)": Neg(Neg(a)),
    "(a + 1) * b - (b - -c)": Bin("-", Bin("*", Bin("+", a, num(1)), b), Bin("-", b, Neg(c))),
    "not (((a + b) % 3 == 0 or a > 2) and b < c)": Not(
        Bin("and", Bin("or", Divisible(Bin("+", a, b), 3), Bin(">", a, num(2))), Bin("<", b, c))
    ),
    "a > 0 or a > 0 and not a > 0": Bin("or", _A_POSITIVE, Bin("and", _A_POSITIVE, Not(_A_POSITIVE))),
    "a % 2 != 0": Divisible(a, 2, negate=True),
    "a % 2 == 0 or a > 3": Bin("or", Divisible(a, 2), Bin(">", a, num(3))),
    "(a < b or b < c) and not a < c": Bin("and", Bin("or", Bin("<", a, b), Bin("<", b, c)), Not(Bin("<", a, c))),
    "(a < b) == (b < c)": Bin("==", Bin("<", a, b), Bin("<", b, c)),
    "not a > b and (a < c or b < c)": Bin("and", Not(Bin(">", a, b)), Bin("or", Bin("<", a, c), Bin("<", b, c))),
    "(a + b) * -(c - -2)": Bin("*", Bin("+", a, b), Neg(Bin("-", c, num(-2)))),
    "float(a + b) / float(len(xs))": Bin("/", ToFloat(Bin("+", a, b)), ToFloat(Len(xs))),
    "len(xs) == 0": Bin("==", Len(xs), num(0)),
    "len(xs) > 0": Bin(">", Len(xs), num(0)),
    "xs[a - 1]": Index(xs, Bin("-", a, num(1))),
    "xs[a] + xs[b] == 4": Bin("==", Bin("+", Index(xs, a), Index(xs, b)), num(4)),
}


def shared_expressions(same: Sequence[str], renderings: dict[str, str]) -> list[tuple[Expr, str]]:
    """``(tree, expected text)`` pairs for trees of ``E``, each given by its Python rendering:
    those a PL writes as Python does (``same``), then the others (``renderings``)."""
    pairs = [(python, python) for python in same] + list(renderings.items())
    return [(E[python], expected) for python, expected in pairs]


# Characters whose literals PLs escape differently (a quote, a backslash, a newline, a bell).
TRICKY_CHARS = ("a", "'", "\\", "\n", "\x07")


def index_loops() -> tuple[Stmt, ...]:
    """With ``a``, ``b``, ``xs`` and ``s`` parameters: index loops from an int literal and from a
    parameter, and ints of every origin pushed to a list (an expression of the loop variable, a
    list element, a negative literal, a length, a parameter)."""
    return (
        Let("out", INT_LIST, Lit([], INT_LIST)),
        ForRange("i", num(1), Bin("+", a, num(1)), (Push("out", Bin("*", i, num(2))), Push("out", Index(xs, i)))),
        ForRange("i", b, Len(xs), (Push("out", Index(xs, Bin("-", i, num(1)))),)),
        Push("out", num(-4)),
        Push("out", Len(s)),
        Push("out", a),
        Return(Var("out", INT_LIST)),
    )


def else_if_loop() -> tuple[Stmt, ...]:
    """With ``xs`` a parameter: ``t``, counted by an index loop over an else-if chain."""
    chain = If(
        Bin(">", Index(xs, i), num(0)),
        (AugAssign("t", "+", num(1)),),
        (If(Bin("<", Index(xs, i), num(0)), (AugAssign("t", "-", num(1)),), (Assign("t", num(0)),)),),
    )
    return Let("t", INT, num(0)), ForRange("i", num(0), Len(xs), (chain,))


def shifted_indices() -> tuple[Stmt, ...]:
    """With ``xs`` and ``k`` parameters: ``t``, computed with indices and ranges that a 1-based
    PL must shift (constant offsets that fold into the shift, a range whose stop is ``n + 1``)."""
    chain = If(
        Bin(">", Index(xs, i), num(0)),
        (AugAssign("t", "+", Index(xs, Bin("-", i, num(1)))),),
        (
            If(
                Bin("<", Index(xs, i), num(0)),
                (AugAssign("t", "-", Index(xs, num(0))),),
                (Assign("t", Index(xs, Bin("+", i, num(2)))),),
            ),
        ),
    )
    step = AugAssign("t", "*", Bin("+", j, Index(xs, Bin("*", j, num(2)))))
    return (
        Let("t", INT, num(0)),
        ForRange("i", num(0), Len(xs), (chain,)),
        ForRange("j", Bin("+", k, num(1)), Bin("+", Len(xs), num(1)), (step,)),
    )


def vowel_filter(special: str) -> tuple[Stmt, ...]:
    """With ``s`` a parameter: a string built character by character (upper-cased vowels, and
    every character but those of ``special``, chosen to need escaping in the PL's literals)."""
    keep = If(Not(CharIn(ch, special)), (AugAssign("out", "+", ch),))
    return (
        Let("out", STR, text("")),
        ForEach("ch", s, (If(CharIn(ch, "aeiou"), (AugAssign("out", "+", ToUpper(ch)),), (keep,)),)),
    )


def word_lengths() -> tuple[Stmt, ...]:
    """With ``words`` a parameter: a word count by a computed amount and a list of lengths."""
    return (
        Let("d", WORD_COUNTS, Lit({}, WORD_COUNTS)),
        Let("lens", INT_LIST, Lit([], INT_LIST)),
        ForEach("w", words, (DictAdd("d", w, Bin("+", Len(w), num(1))), Push("lens", Bin("*", Len(w), num(2))))),
        Return(Var("d", WORD_COUNTS)),
    )


# ----------------------------------------------------------------------------- problems


def as_problems(cases: Sequence[tuple[Function, Sequence[tuple]]], prefix: str) -> list[Generated]:
    """Hand-built functions, each with the argument tuples to test it on, as problems whose
    expected outputs come from executing the IR (so the engine checks each PL against the IR)."""
    items = []
    for fn, inputs in cases:
        call = compile_function(fn)
        tests = tuple(TestCase(tuple(args), call(*args)) for args in inputs)
        problem = Problem(f"{prefix}-{fn.name}", "test", fn.signature, f"The {fn.name} case.", tests)
        items.append(Generated(problem, fn))
    return items


def one_per_template(items: Sequence[Generated]) -> list[Generated]:
    """The first problem of each generator template (for PLs that compile each program alone)."""
    return list({g.problem.meta["template"]: g for g in reversed(items)}.values())


def assert_all_pass(language: str, items: Sequence[Generated], engine=None) -> None:
    """Every problem's rendered program passes its tests in ``language`` (skipped where the
    PL's toolchain is not installed)."""
    toolchain = get_language(language).toolchain
    if not toolchain.available:
        pytest.skip(f"{language} toolchain unavailable: {toolchain.problem}")
    v = verify(items, [language], engine=engine)
    assert not v.unavailable, v.unavailable
    assert not v.failures, "\n\n".join(f"{f.problem}: {f.status}\n{f.detail[:2000]}" for f in v.failures)
    assert v.passed[language] == len(items)
