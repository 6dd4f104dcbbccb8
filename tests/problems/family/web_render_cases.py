"""Hand-built IR functions for the JavaScript, TypeScript and PHP renderer tests: corners the
generator does not reach (a counting loop while the body grows a list, ``-(-0.0)``, reserved
names, a ``const`` literal compared with another literal), each with tests whose expected
outputs come from executing the IR, so the engine checks the rendering's meaning, not only that
it compiles."""

from __future__ import annotations

from tests.problems.family.render_helpers import as_problems, ch, function, i, lit, s, x, xs
from xpl.languages.types import BOOL, FLOAT, INT, STR
from xpl.problems.family.ir import (
    CHAR,
    FLOAT_LIST,
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

n = Var("n", INT)

# The else-if chain, string append of a CHAR and of a STR, CharIn, case conversion of CHAR and STR.
CHAIN = function(
    "shout",
    [("s", STR)],
    STR,
    Let("out", STR, Lit("", STR)),
    ForEach(
        "ch",
        s,
        (
            If(
                CharIn(ch, "aeiou"),
                (AugAssign("out", "+", ToUpper(ch)),),
                (
                    If(
                        Bin("==", ch, Lit(" ", CHAR)),
                        (AugAssign("out", "+", Lit("_$", STR)),),
                        (If(CharIn(ch, "XYZ"), (AugAssign("out", "+", ToLower(ch)),), (AugAssign("out", "+", ch),)),),
                    ),
                ),
            ),
        ),
    ),
    Return(Concat(Concat(out := Var("out", STR), ToLower(s)), ToUpper(Concat(Lit("a", STR), out)))),
)

# A dict built by DictAdd with a computed amount; Index; a nested range loop.
COUNTS = function(
    "tally",
    [("words", STR_LIST), ("xs", INT_LIST)],
    WORD_COUNTS,
    Let("counts", WORD_COUNTS, Lit({}, WORD_COUNTS)),
    ForRange(
        "i",
        lit(0),
        Len(Var("words", STR_LIST)),
        (
            DictAdd(
                "counts",
                Index(Var("words", STR_LIST), i),
                Bin("-", Len(Index(Var("words", STR_LIST), i)), Bin("*", lit(2), Index(xs, lit(0)))),
            ),
        ),
    ),
    Return(Var("counts", WORD_COUNTS)),
)

# Precedence: (a - (b - c)) * -x, -(-0.0), -(-x), not (p or q and r), divisibility of a sum,
# a concatenation compared with a string, the length of a concatenation.
PRECEDENCE = function(
    "mix",
    [("a", INT), ("b", INT), ("c", INT), ("v", FLOAT)],
    BOOL,
    Let("k", INT, Bin("*", Bin("-", Var("a", INT), Bin("-", Var("b", INT), Var("c", INT))), Neg(Var("a", INT)))),
    Let("f", FLOAT, Bin("-", Neg(Lit(-0.0, FLOAT)), Bin("/", Var("v", FLOAT), ToFloat(Neg(Neg(Var("b", INT))))))),
    Let("t", STR, Concat(Lit("x", STR), Lit("y", STR))),
    Return(
        Not(
            Bin(
                "or",
                Bin("and", Divisible(Bin("+", Var("k", INT), lit(1)), 3), Bin("<", Var("f", FLOAT), lit(0.5))),
                Bin(
                    "and",
                    Bin("==", Concat(Var("t", STR), Lit("z", STR)), Lit("xyz", STR)),
                    Bin(">", Len(Concat(Var("t", STR), Var("t", STR))), Bin("-", Var("c", INT), lit(-3))),
                ),
            )
        )
    ),
)

# A counting loop (up to the length of a list the body leaves alone: the IR refuses a loop that
# changes its own bound) that grows another list; a local called `stop`.
GROWING = function(
    "grow",
    [("xs", INT_LIST)],
    INT_LIST,
    Let("out", INT_LIST, Lit([], INT_LIST)),
    Let("stop", INT, lit(0)),
    ForEach("x", xs, (Push("out", x),)),
    ForRange("i", lit(0), Len(xs), (Push("out", Bin("*", i, lit(10))), AugAssign("stop", "+", i))),
    Push("out", Var("stop", INT)),
    Return(Var("out", INT_LIST)),
)

# Reserved words as names; a counting loop from a parameter; a loop over a float list.
RESERVED = function(
    "total",
    [("this", INT), ("values", FLOAT_LIST)],
    FLOAT,
    Let("new", INT, lit(0)),
    ForRange("i", Var("this", INT), Bin("+", Var("this", INT), lit(4)), (AugAssign("new", "+", Bin("*", i, lit(2))),)),
    Let("class", FLOAT, ToFloat(Var("new", INT))),
    ForEach("x", Var("values", FLOAT_LIST), (AugAssign("class", "-", Var("x", FLOAT)),)),
    Return(Var("class", FLOAT)),
)

# A const initialised with a literal and compared with another literal (TypeScript's TS2367
# unless the const is declared `number`), and booleans compared with `==`.
CONSTS = function(
    "odd_ones",
    [("n", INT)],
    BOOL,
    Let("k", INT, lit(3)),
    Let("found", BOOL, lit(False)),
    ForRange("i", lit(0), n, (If(Bin("==", i, Var("k", INT)), (Assign("found", lit(True)),)),)),
    If(Bin("==", Var("k", INT), lit(4)), (Return(lit(False)),)),
    Return(Bin("==", Var("found", BOOL), Bin(">", n, lit(3)))),
)

CASES = [
    (CHAIN, [("",), ("hello World",), ("a XyZ e",), ("quiz",)]),
    (COUNTS, [(["cat", "dog", "cat"], [1]), ([], [0]), (["apple"], [-2]), (["zoo", "zoo", "owl", "zoo"], [0])]),
    (PRECEDENCE, [(1, 2, 3, 0.5), (5, -1, 2, 2.25), (0, 1, 1, -1.0), (2, 2, -7, 10.0), (-4, 3, 0, 0.0)]),
    (GROWING, [([],), ([5],), ([1, 2, 3],)]),
    (RESERVED, [(0, []), (3, [0.5, 1.25]), (-2, [1.0])]),
    (CONSTS, [(0,), (2,), (4,), (10,)]),
]


def items():
    """Every case as a problem (expected outputs computed by executing the IR)."""
    return as_problems(CASES, "tricky")
