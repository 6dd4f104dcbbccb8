"""Hand-built family functions for the Rust and C++ renderers.

They reach what the generator's templates do not, where those two PLs are easy to get wrong:
Rust's ownership (a list element, a ``&String`` loop variable or a parameter stored, pushed,
compared or concatenated; a string appended to itself; a parameter assigned to), ``<`` right
after an ``as`` cast, unsigned sizes in C++, a range written ``range(a, n + 1)`` (``..=``,
``<=``), two string literals meeting (``"a" + "b"`` is pointer arithmetic in C++), characters
that need escapes, and ``-(-0.0)``. ``items`` turns them into problems whose expected outputs
come from executing the IR, so the engine checks each PL against the IR itself.
"""

from tests.problems.family.render_helpers import as_problems, ch, i, num, s, text, w, words, x, xs
from xpl.languages.types import BOOL, FLOAT, INT, STR, Param
from xpl.problems.family.ir import (
    CHAR,
    INT_LIST,
    STR_LIST,
    Assign,
    AugAssign,
    Bin,
    CharIn,
    Concat,
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

best, out, c = Var("best", STR), Var("out", STR), Var("c", CHAR)
n, m, total, v = Var("n", INT), Var("m", INT), Var("total", INT), Var("v", FLOAT)

PICK_WORDS = Function(
    "pick_words",
    (Param("words", STR_LIST), Param("s", STR), Param("n", INT)),
    STR_LIST,
    (
        Let("out", STR_LIST, Lit([], STR_LIST)),
        Let("best", STR, text("")),
        ForRange(
            "i",
            num(0),
            Len(words),
            (
                If(
                    Bin("or", Bin("==", Index(words, i), s), Bin("==", Index(words, i), text("cat"))),
                    (Push("out", Index(words, i)),),
                ),
                ForEach(
                    "w",
                    words,
                    (If(Bin("and", Bin("==", w, Index(words, i)), Bin("<", Len(w), n)), (Assign("best", w),)),),
                ),
            ),
        ),
        ForEach(
            "w",
            words,
            (
                If(Bin("==", w, best), (Push("out", Concat(w, text("!"))),)),
                If(Bin("!=", text("dog"), w), (Let("copy", STR, w), Push("out", Concat(Var("copy", STR), s)))),
            ),
        ),
        AugAssign("best", "+", best),
        Push("out", best),
        If(Bin("!=", text("x"), text("y")), (Push("out", Concat(text("a"), text("b"))),)),
        Push("out", s),
        Return(Var("out", STR_LIST)),
    ),
)

RANGE_TRICKS = Function(
    "range_tricks",
    (Param("n", INT), Param("xs", INT_LIST)),
    INT,
    (
        Let("total", INT, num(0)),
        Let("m", INT, n),
        ForRange("i", num(0), m, (AugAssign("total", "+", Bin("*", i, num(2))),)),
        AugAssign("m", "+", num(1)),
        ForRange("i", num(1), Bin("+", m, num(1)), (AugAssign("total", "-", i),)),
        ForEach("x", xs, (AugAssign("total", "+", Bin("+", x, num(1))),)),
        Assign("n", Bin("-", n, total)),
        If(Bin("<", ToFloat(Len(xs)), Lit(2.5, FLOAT)), (AugAssign("total", "+", num(100)),)),
        If(Bin("<", Bin("+", n, Len(xs)), num(5)), (AugAssign("total", "*", num(3)),)),
        If(
            Bin("and", Bin(">", Len(xs), num(0)), Bin("<=", Len(xs), n)),
            (AugAssign("total", "-", Index(xs, Bin("-", Len(xs), num(1)))),),
        ),
        Return(Bin("-", total, Neg(n))),
    ),
)

CHAR_TRICKS = Function(
    "char_tricks",
    (Param("s", STR),),
    STR,
    (
        Let("out", STR, text("")),
        Let("c", CHAR, Lit("'", CHAR)),
        ForEach(
            "ch",
            s,
            (
                If(
                    Bin("or", Bin("==", ch, c), CharIn(ch, '\\"x')),
                    (AugAssign("out", "+", ToUpper(ch)),),
                    (
                        If(
                            Not(CharIn(ToLower(ch), "ab")),
                            (AugAssign("out", "+", ch),),
                            (AugAssign("out", "+", text("ab")),),
                        ),
                    ),
                ),
                AugAssign("out", "+", text("-")),
            ),
        ),
        Return(Concat(Concat(ToUpper(out), ToLower(s)), Concat(text("<\n"), s))),
    ),
)

FLOAT_TRICKS = Function(
    "float_tricks",
    (Param("v", FLOAT), Param("n", INT)),
    BOOL,
    (
        Let("w", FLOAT, Bin("-", Bin("+", Neg(Lit(-0.0, FLOAT)), Bin("*", v, Lit(-1.5, FLOAT))), Neg(v))),
        Return(Bin("or", Bin("<", ToFloat(n), Var("w", FLOAT)), Not(Bin(">=", Neg(ToFloat(Neg(n))), v)))),
    ),
)

CASES = [
    (
        PICK_WORDS,
        [([], "", 0), (["cat", "dog", "cat", "emu"], "emu", 4), (["a", "bb", "a"], "bb", 2), (["dog"], "dog", 9)],
    ),
    (RANGE_TRICKS, [(0, []), (3, [1, 2]), (5, [-4, 0, 7, 9]), (1, [2])]),
    (CHAR_TRICKS, [("",), ("a'b\\c\"x",), ("Hello World 9",), ("XAB'",)]),
    (FLOAT_TRICKS, [(0.0, 0), (1.5, 2), (-2.25, -3), (4.0, 1)]),
]


def items():
    """Every case as a problem (expected outputs computed by executing the IR)."""
    return as_problems(CASES, "case")
