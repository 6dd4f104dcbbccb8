"""Hand-built family functions for the renderers of statically typed PLs (Go, Java, C#).

They reach what the generator's templates do not: an index loop starting at a parameter (a
``long`` counter in Java and C#), ``==`` between two list elements (boxed ``Long`` values in
Java), ints pushed into a list of longs (``size()``, an ``int`` counter, a literal), a string
parameter appended to, a string that is only appended to (a builder) and one that is
reassigned (a plain string), characters that need escapes, a dict key that is an expression,
nested negations and float division. ``items`` turns them into problems whose expected
outputs come from executing the IR, so the engine checks each PL against the IR itself.
"""

from tests.problems.family.render_helpers import as_problems, ch, i, num, s, w, xs
from xpl.languages.types import FLOAT, INT, STR, Param
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

n, out, tag = Var("n", INT), Var("out", STR), Var("tag", STR)
v, values, total = Var("v", FLOAT), Var("values", FLOAT_LIST), Var("total", FLOAT)

MIX_INTS = Function(
    "mix_ints",
    (Param("xs", INT_LIST), Param("n", INT)),
    INT_LIST,
    (
        Let("out", INT_LIST, Lit([], INT_LIST)),
        ForRange("i", n, Len(xs), (Push("out", Index(xs, i)),)),
        ForRange(
            "i",
            num(0),
            Len(xs),
            (
                If(
                    Bin("==", Index(xs, i), Index(xs, num(0))),
                    (Push("out", i),),
                    (
                        If(
                            Bin(
                                "or",
                                Bin(">", Bin("-", Index(xs, i), Bin("-", n, num(1))), num(3)),
                                Divisible(Bin("+", Index(xs, i), n), 3),
                            ),
                            (Push("out", Neg(Bin("+", Index(xs, i), n))),),
                            (Push("out", Len(xs)), Push("out", num(7))),
                        ),
                    ),
                ),
            ),
        ),
        Return(Var("out", INT_LIST)),
    ),
)

MIX_STRINGS = Function(
    "mix_strings",
    (Param("s", STR), Param("words", STR_LIST)),
    WORD_COUNTS,
    (
        Let("counts", WORD_COUNTS, Lit({}, WORD_COUNTS)),
        Let("out", STR, Lit("", STR)),
        Let("tag", STR, Lit("x", STR)),
        AugAssign("s", "+", Lit("!", STR)),
        ForEach(
            "ch",
            s,
            (
                If(
                    Not(CharIn(ch, "ab'\\")),
                    (AugAssign("out", "+", ToUpper(ch)),),
                    (
                        If(
                            Bin("==", ch, Lit("a", CHAR)),
                            (AugAssign("out", "+", Lit("-", STR)),),
                            (
                                If(
                                    Bin("==", ch, Lit("'", CHAR)),
                                    (Assign("tag", Concat(tag, Lit("q", STR))),),
                                    (AugAssign("out", "+", ToLower(ch)),),
                                ),
                            ),
                        ),
                    ),
                ),
            ),
        ),
        ForEach(
            "w",
            Var("words", STR_LIST),
            (
                If(
                    Bin("or", Bin("==", w, Lit("cat", STR)), Bin(">", Len(out), num(2))),
                    (DictAdd("counts", Concat(w, out), Len(w)),),
                    (DictAdd("counts", ToLower(ToUpper(w)), num(1)),),
                ),
            ),
        ),
        DictAdd("counts", tag, Len(out)),
        Return(Var("counts", WORD_COUNTS)),
    ),
)

MIX_FLOATS = Function(
    "mix_floats",
    (Param("values", FLOAT_LIST), Param("n", INT)),
    FLOAT,
    (
        If(Bin("==", Len(values), num(0)), (Return(Lit(-0.5, FLOAT)),)),
        Let("total", FLOAT, Lit(0.0, FLOAT)),
        ForEach("v", values, (AugAssign("total", "+", Bin("*", Neg(v), Lit(2.0, FLOAT))),)),
        AugAssign("total", "-", Bin("/", ToFloat(n), Lit(4.0, FLOAT))),
        Return(Bin("/", total, ToFloat(Bin("-", Len(values), Neg(n))))),
    ),
)

CASES = [
    (MIX_INTS, [([], 0), ([3, 3, 5], 1), ([4, -2, 4, 9, 12], 2), ([1, 2, 3, 4, 5, 6], 4), ([-5, 8], 0)]),
    (MIX_STRINGS, [("", []), ("abc'de", ["cat", "dog", "cat"]), ("a'b\\Z9", ["x", "yy"]), ("hello", ["cat"])]),
    (MIX_FLOATS, [([], 3), ([1.5, -2.25], 0), ([0.5, 4.0, 8.0], 2)]),
]
TYPED_FUNCTIONS = tuple(fn for fn, _ in CASES)


def items():
    """Every case as a problem (expected outputs computed by executing the IR)."""
    return as_problems(CASES, "typed")
