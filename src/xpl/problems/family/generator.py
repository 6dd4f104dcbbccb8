"""A seeded generator of family problems of graded difficulty.

Each template below builds one kind of function (a sum over a filtered list, a word count,
a character filter, ...) from random parts: predicates (``x > 3``, "even", "a vowel"), maps
(``3 * x + 1``), thresholds, constants. It returns the IR function, an English description
written from the same parts, and which kind of input each parameter takes. Test inputs are
sampled, the expected outputs computed by executing the IR (``ir.compile_function``), and
the problem is kept only if its tests tell it apart from a constant function.

Difficulty levels: 1 = a single expression; 2 = one loop with one accumulator; 3 = a loop
with a condition, an early return, an index or a dict; 4 = two accumulators, nested loops or
two passes. ``generate(n, seed)`` draws levels evenly, and is deterministic: the same
``(n, seed)`` gives the same problems in the same order on every machine.

Two problems count as the same behaviour when they return the same outputs on a fixed set
of probe inputs (``fingerprint``); the generator never returns two of the same behaviour.
"""

from __future__ import annotations

import hashlib
import random
import re
import textwrap
from dataclasses import dataclass
from typing import Any, Callable

from xpl.languages.types import BOOL, FLOAT, INT, STR, Param, TestCase, Type
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
    Expr,
    ForEach,
    ForRange,
    Function,
    If,
    Index,
    IRError,
    Len,
    Let,
    Lit,
    Not,
    Push,
    Return,
    Stmt,
    ToFloat,
    ToLower,
    ToUpper,
    Var,
    compile_function,
)
from xpl.problems.problem import Problem

SOURCE = "xpl-family"
TESTS_PER_PROBLEM = 8
PROBES_PER_SIGNATURE = 48
LEVELS = (1, 2, 3, 4)

VOCABULARY = (
    "apple", "bird", "cat", "dog", "egg", "fig", "gate", "hat", "ice", "jam", "kite", "lamp",
    "moon", "nut", "owl", "pear", "quiz", "rose", "sun", "tree", "urn", "vine", "wolf", "yak", "zoo",
)  # fmt: skip
LETTERS = "abcdefghijklmnopqrstuvwxyz"
VOWELS = "aeiou"
DIGITS = "0123456789"
# Characters test strings are drawn from: mostly lower-case letters, some capitals, digits, spaces.
STRING_ALPHABET = LETTERS * 3 + "ABCDEFGHIJKLMNOPQRSTUVWXYZ" + DIGITS + "  "


# ----------------------------------------------------------------------------- inputs

# Input kinds: how a parameter's test values are drawn (a type alone does not say: a loop
# bound should be small and non-negative, a general int need not be).
INPUT_KINDS: dict[str, tuple[Type, Callable[[random.Random], Any]]] = {
    "int": (INT, lambda r: r.randint(-30, 30)),
    "count": (INT, lambda r: r.randint(0, 12)),
    "float": (FLOAT, lambda r: r.randint(-80, 80) / 4),
    "ints": (INT_LIST, lambda r: [r.randint(-20, 20) for _ in range(r.choice((0, 1, 2, 3, 4, 5, 6, 7, 8)))]),
    "floats": (FLOAT_LIST, lambda r: [r.randint(-40, 40) / 4 for _ in range(r.randint(0, 7))]),
    "text": (STR, lambda r: "".join(r.choice(STRING_ALPHABET) for _ in range(r.randint(0, 12)))),
    "words": (STR_LIST, lambda r: [r.choice(VOCABULARY[: r.randint(4, len(VOCABULARY))]) for _ in range(r.randint(0, 7))]),
}


# The first test of every problem: the empty list, the empty string, zero.
EDGE_INPUTS: dict[str, Any] = {"int": 0, "count": 0, "float": 0.0, "ints": [], "floats": [], "text": "", "words": []}


@dataclass(frozen=True)
class Draft:
    """A template's output: the function, its description, and each parameter's input kind."""

    fn: Function
    description: str
    inputs: tuple[str, ...]
    level: int
    template: str


# ----------------------------------------------------------------------------- parts

def lit(v: int) -> Lit:
    return Lit(v, INT)


def flit(v: float) -> Lit:
    return Lit(float(v), FLOAT)


@dataclass(frozen=True)
class Pred:
    """A condition on one int, with its English phrase ("is even", "is greater than 3")."""

    build: Callable[[Expr], Expr]
    phrase: str  # completes "x ..."


@dataclass(frozen=True)
class Map:
    """A function of one number, written as a formula in the variable ``{v}``."""

    build: Callable[[Expr], Expr]
    formula: str


def int_pred(r: random.Random, simple: bool = False) -> Pred:
    k = r.choice((2, 2, 3, 4, 5, 6, 7))
    c = r.randint(-10, 20)
    options = [
        Pred(lambda v: Bin(">", v, lit(c)), f"is greater than {c}"),
        Pred(lambda v: Bin("<", v, lit(c)), f"is less than {c}"),
        Pred(lambda v: Bin(">=", v, lit(c)), f"is at least {c}"),
        Pred(lambda v: Divisible(v, k), "is even" if k == 2 else f"is divisible by {k}"),
        Pred(lambda v: Divisible(v, k, negate=True), "is odd" if k == 2 else f"is not divisible by {k}"),
    ]
    if not simple:
        lo = r.randint(-15, 10)
        hi = lo + r.randint(2, 15)
        options += [
            Pred(lambda v: Bin("and", Bin(">=", v, lit(lo)), Bin("<=", v, lit(hi))), f"is between {lo} and {hi} inclusive"),
            Pred(
                lambda v: Bin("or", Divisible(v, k), Bin(">", v, lit(c))),
                f"is {'even' if k == 2 else f'divisible by {k}'} or greater than {c}",
            ),
            Pred(lambda v: Bin("!=", v, lit(c)), f"is not equal to {c}"),
        ]
    return r.choice(options)


def int_map(r: random.Random) -> Map:
    a = r.randint(2, 9)
    b = r.randint(1, 19)
    return r.choice(
        [
            Map(lambda v: v, "{v}"),
            Map(lambda v: Bin("*", v, lit(a)), f"{{v}} * {a}"),
            Map(lambda v: Bin("+", v, lit(b)), f"{{v}} + {b}"),
            Map(lambda v: Bin("-", v, lit(b)), f"{{v}} - {b}"),
            Map(lambda v: Bin("*", v, v), "{v} * {v}"),
            Map(lambda v: Bin("+", Bin("*", lit(a), v), lit(b)), f"{a} * {{v}} + {b}"),
            Map(lambda v: Bin("*", Bin("-", v, lit(b)), lit(a)), f"({{v}} - {b}) * {a}"),
        ]
    )


def float_const(r: random.Random) -> float:
    # Multiples of 1/4: exact in binary, so every PL computes the same sums.
    return r.choice((0.25, 0.5, 0.75, 1.25, 1.5, 1.75, 2.0, 2.25, 2.5, 3.0, 3.5, 4.0, 4.5))


def char_class(r: random.Random) -> tuple[str, str]:
    """A set of characters and its English name."""
    options = [(VOWELS, "a vowel (a, e, i, o, u)"), (DIGITS, "a digit")]
    letters = "".join(sorted(r.sample(LETTERS, r.randint(2, 5))))
    options.append((letters, "one of the letters " + ", ".join(letters)))
    return r.choice(options)


def described(m: Map, v: str) -> str:
    return m.formula.format(v=v)


def plural(p: Pred) -> str:
    """The predicate's phrase for a plural subject: "is even" -> "are even"."""
    return "are " + p.phrase[3:] if p.phrase.startswith("is ") else p.phrase


# ----------------------------------------------------------------------------- templates
# Each template takes the random source and returns a Draft. Names are snake_case and
# descriptive; variable names avoid every supported PL's reserved words.

xs, x, n, s, w, i, j = (
    Var("xs", INT_LIST),
    Var("x", INT),
    Var("n", INT),
    Var("s", STR),
    Var("w", STR),
    Var("i", INT),
    Var("j", INT),
)
ch = Var("ch", CHAR)  # the variable of loops over the characters of a string


def fn(name: str, params: list[tuple[str, Type]], returns: Type, body: list[Stmt]) -> Function:
    return Function(name, tuple(Param(p, t) for p, t in params), returns, tuple(body))


def t_affine(r: random.Random) -> Draft:
    m = int_map(r)
    while m.formula == "{v}":
        m = int_map(r)
    return Draft(
        fn("compute", [("x", INT)], INT, [Return(m.build(x))]),
        f"Return {described(m, 'x')} for the integer x.",
        ("int",),
        1,
        "affine",
    )


def t_check_number(r: random.Random) -> Draft:
    p = int_pred(r)
    return Draft(
        fn("check_number", [("x", INT)], BOOL, [Return(p.build(x))]),
        f"Return true if the integer x {p.phrase}, and false otherwise.",
        ("int",),
        1,
        "check_number",
    )


def t_compare_pair(r: random.Random) -> Draft:
    a, b = Var("a", INT), Var("b", INT)
    k = r.randint(2, 9)
    op, word = r.choice([(">", "greater than"), ("<", "less than"), (">=", "at least")])
    options = [
        (Bin(op, Bin("*", a, lit(k)), b), f"Return true if a * {k} is {word} b, and false otherwise."),
        (Bin(op, Bin("+", a, b), lit(k)), f"Return true if a + b is {word} {k}, and false otherwise."),
        (Divisible(Bin("-", a, b), k), f"Return true if a - b is divisible by {k}, and false otherwise."),
        (
            Bin("and", Bin(">", a, lit(0)), Bin(">", b, lit(0))),
            "Return true if both a and b are positive, and false otherwise.",
        ),
    ]
    expr, text = r.choice(options)
    return Draft(fn("compare_pair", [("a", INT), ("b", INT)], BOOL, [Return(expr)]), text, ("int", "int"), 1, "compare_pair")


def t_scale_float(r: random.Random) -> Draft:
    a, b = float_const(r), float_const(r)
    v = Var("v", FLOAT)
    body = Bin(r.choice(("+", "-")), Bin("*", v, flit(a)), flit(b))
    text = f"Return v * {a} {body.op} {b} for the number v."
    return Draft(fn("scale", [("v", FLOAT)], FLOAT, [Return(body)]), text, ("float",), 1, "scale_float")


def t_decorate(r: random.Random) -> Draft:
    suffix = r.choice(("!", "?", "...", "-ok", "_x", "!!", ":)", "-end", "+", "_1"))
    prefix = r.choice((">", "#", "re", "un", "* ", "pre", "~", "no-", ">> ", "x_"))
    options = [
        (Concat(ToUpper(s), Lit(suffix, STR)), f'Return s in upper case followed by "{suffix}".'),
        (Concat(Lit(prefix, STR), ToLower(s)), f'Return "{prefix}" followed by s in lower case.'),
        (Concat(s, s), "Return s written twice."),
        (Concat(ToUpper(s), ToLower(s)), "Return s in upper case followed by s in lower case."),
    ]
    expr, text = r.choice(options)
    return Draft(fn("decorate", [("s", STR)], STR, [Return(expr)]), text, ("text",), 1, "decorate")


def t_sum_map(r: random.Random) -> Draft:
    m = int_map(r)
    total = Var("total", INT)
    body = [Let("total", INT, lit(0)), ForEach("x", xs, (AugAssign("total", "+", m.build(x)),)), Return(total)]
    text = f"Return the sum of {described(m, 'x')} over every element x of the list xs (0 for an empty list)."
    return Draft(fn("sum_values", [("xs", INT_LIST)], INT, body), text, ("ints",), 2, "sum_map")


def t_count(r: random.Random) -> Draft:
    p = int_pred(r)
    count = Var("count", INT)
    body = [
        Let("count", INT, lit(0)),
        ForEach("x", xs, (If(p.build(x), (AugAssign("count", "+", lit(1)),)),)),
        Return(count),
    ]
    return Draft(
        fn("count_matching", [("xs", INT_LIST)], INT, body),
        f"Return the number of elements of the list xs that {plural(p)}.",
        ("ints",),
        2,
        "count",
    )


def t_map_list(r: random.Random) -> Draft:
    m = int_map(r)
    while m.formula == "{v}":
        m = int_map(r)
    out = Var("result", INT_LIST)
    body = [Let("result", INT_LIST, Lit([], INT_LIST)), ForEach("x", xs, (Push("result", m.build(x)),)), Return(out)]
    text = f"Return a new list holding {described(m, 'x')} for each element x of xs, in order."
    return Draft(fn("transform", [("xs", INT_LIST)], INT_LIST, body), text, ("ints",), 2, "map_list")


def t_count_chars(r: random.Random) -> Draft:
    chars, name = char_class(r)
    count = Var("count", INT)
    body = [
        Let("count", INT, lit(0)),
        ForEach("ch", s, (If(CharIn(ch, chars), (AugAssign("count", "+", lit(1)),)),)),
        Return(count),
    ]
    text = f"Return how many characters of the string s are {name}. Matching is case-sensitive."
    return Draft(fn("count_chars", [("s", STR)], INT, body), text, ("text",), 2, "count_chars")


def t_range_sum(r: random.Random) -> Draft:
    m = int_map(r)
    total = Var("total", INT)
    start = r.choice((0, 1))
    body = [
        Let("total", INT, lit(0)),
        ForRange("i", lit(start), Bin("+", n, lit(1)), (AugAssign("total", "+", m.build(i)),)),
        Return(total),
    ]
    text = f"Return the sum of {described(m, 'i')} for every integer i from {start} to n inclusive (0 if there is none)."
    return Draft(fn("range_total", [("n", INT)], INT, body), text, ("count",), 2, "range_sum")


def t_total_length(r: random.Random) -> Draft:
    words = Var("words", STR_LIST)
    total = Var("total", INT)
    k = r.randint(1, 6)
    body = [
        Let("total", INT, lit(0)),
        ForEach("w", words, (AugAssign("total", "+", Bin("*", Len(w), lit(k)) if k > 1 else Len(w)),)),
        Return(total),
    ]
    what = "the total number of characters" if k == 1 else f"{k} times the total number of characters"
    return Draft(fn("total_length", [("words", STR_LIST)], INT, body), f"Return {what} in the list of words.", ("words",), 2, "total_length")


def t_float_sum(r: random.Random) -> Draft:
    a = float_const(r)
    fxs, fx = Var("values", FLOAT_LIST), Var("v", FLOAT)
    total = Var("total", FLOAT)
    body = [Let("total", FLOAT, flit(0.0)), ForEach("v", fxs, (AugAssign("total", "+", Bin("*", fx, flit(a))),)), Return(total)]
    text = f"Return the sum of v * {a} over every number v in the list values (0.0 for an empty list)."
    return Draft(fn("weighted_sum", [("values", FLOAT_LIST)], FLOAT, body), text, ("floats",), 2, "float_sum")


def t_mean(r: random.Random) -> Draft:
    fxs, fx = Var("values", FLOAT_LIST), Var("v", FLOAT)
    total = Var("total", FLOAT)
    body = [
        If(Bin("==", Len(fxs), lit(0)), (Return(flit(0.0)),)),
        Let("total", FLOAT, flit(0.0)),
        ForEach("v", fxs, (AugAssign("total", "+", fx),)),
        Return(Bin("/", total, ToFloat(Len(fxs)))),
    ]
    text = "Return the mean of the numbers in the list values, or 0.0 if it is empty."
    return Draft(fn("mean", [("values", FLOAT_LIST)], FLOAT, body), text, ("floats",), 2, "mean")


def t_transform_chars(r: random.Random) -> Draft:
    chars, name = char_class(r)
    out = Var("result", STR)
    kind = r.choice(("upper", "drop", "keep"))
    if kind == "upper":
        step = If(CharIn(ch, chars), (AugAssign("result", "+", ToUpper(ch)),), (AugAssign("result", "+", ch),))
        text = f"Return s with every character that is {name} changed to upper case."
    elif kind == "drop":
        step = If(Not(CharIn(ch, chars)), (AugAssign("result", "+", ch),))
        text = f"Return s without the characters that are {name}, keeping the others in order."
    else:
        step = If(CharIn(ch, chars), (AugAssign("result", "+", ch),))
        text = f"Return only the characters of s that are {name}, in order."
    body = [Let("result", STR, Lit("", STR)), ForEach("ch", s, (step,)), Return(out)]
    return Draft(fn("filter_chars", [("s", STR)], STR, body), text + " Matching is case-sensitive.", ("text",), 2, "transform_chars")


def t_filter_map(r: random.Random) -> Draft:
    p, m = int_pred(r), int_map(r)
    out = Var("result", INT_LIST)
    body = [
        Let("result", INT_LIST, Lit([], INT_LIST)),
        ForEach("x", xs, (If(p.build(x), (Push("result", m.build(x)),)),)),
        Return(out),
    ]
    text = f"Return a list holding {described(m, 'x')} for each element x of xs that {p.phrase}, in order."
    return Draft(fn("select_values", [("xs", INT_LIST)], INT_LIST, body), text, ("ints",), 3, "filter_map")


def t_sum_filtered(r: random.Random) -> Draft:
    p, m = int_pred(r), int_map(r)
    total = Var("total", INT)
    body = [
        Let("total", INT, lit(0)),
        ForEach("x", xs, (If(p.build(x), (AugAssign("total", "+", m.build(x)),)),)),
        Return(total),
    ]
    text = f"Return the sum of {described(m, 'x')} over the elements x of xs that {plural(p)} (0 if there are none)."
    return Draft(fn("sum_selected", [("xs", INT_LIST)], INT, body), text, ("ints",), 3, "sum_filtered")


def t_extreme(r: random.Random) -> Draft:
    p = int_pred(r)
    largest = r.random() < 0.5
    best, found = Var("best", INT), Var("found", BOOL)
    better = Bin(">" if largest else "<", x, best)
    body = [
        Let("best", INT, lit(0)),
        Let("found", BOOL, Lit(False, BOOL)),
        ForEach(
            "x",
            xs,
            (If(p.build(x), (If(Bin("or", Not(found), better), (Assign("best", x), Assign("found", Lit(True, BOOL)))),)),),
        ),
        Return(best),
    ]
    which = "largest" if largest else "smallest"
    text = f"Return the {which} element of xs that {p.phrase}, or 0 if no element does."
    return Draft(fn(f"{which}_matching", [("xs", INT_LIST)], INT, body), text, ("ints",), 3, "extreme")


def t_first_index(r: random.Random) -> Draft:
    p = int_pred(r)
    body = [
        ForRange("i", lit(0), Len(xs), (If(p.build(Index(xs, i)), (Return(i),)),)),
        Return(lit(-1)),
    ]
    text = f"Return the index (counting from 0) of the first element of xs that {p.phrase}, or -1 if there is none."
    return Draft(fn("first_index", [("xs", INT_LIST)], INT, body), text, ("ints",), 3, "first_index")


def t_signed_sum(r: random.Random) -> Draft:
    p, m1, m2 = int_pred(r), int_map(r), int_map(r)
    total = Var("total", INT)
    body = [
        Let("total", INT, lit(0)),
        ForEach("x", xs, (If(p.build(x), (AugAssign("total", "+", m1.build(x)),), (AugAssign("total", "-", m2.build(x)),)),)),
        Return(total),
    ]
    text = (
        f"Start from 0; for each element x of xs, add {described(m1, 'x')} if x {p.phrase}, "
        f"otherwise subtract {described(m2, 'x')}. Return the result."
    )
    return Draft(fn("signed_total", [("xs", INT_LIST)], INT, body), text, ("ints",), 3, "signed_sum")


def t_word_counts(r: random.Random) -> Draft:
    words = Var("words", STR_LIST)
    counts = Var("counts", WORD_COUNTS)
    k = r.randint(2, 4)
    kind = r.choice(("count", "length", "long"))
    if kind == "count":
        step: Stmt = DictAdd("counts", w, lit(1))
        text = "Return a dictionary mapping each word of the list words to how many times it occurs."
    elif kind == "length":
        step = DictAdd("counts", w, Len(w))
        text = "Return a dictionary mapping each word of the list words to the total length of its occurrences."
    else:
        step = If(Bin(">", Len(w), lit(k)), (DictAdd("counts", w, lit(1)),))
        text = f"Return a dictionary mapping each word longer than {k} characters in the list words to how many times it occurs."
    body = [Let("counts", WORD_COUNTS, Lit({}, WORD_COUNTS)), ForEach("w", words, (step,)), Return(counts)]
    return Draft(fn("word_counts", [("words", STR_LIST)], WORD_COUNTS, body), text, ("words",), 3, "word_counts")


def t_steps(r: random.Random) -> Draft:
    count = Var("count", INT)
    op, word = r.choice([(">", "greater than"), ("<", "less than"), ("==", "equal to")])
    body = [
        Let("count", INT, lit(0)),
        ForRange("i", lit(1), Len(xs), (If(Bin(op, Index(xs, i), Index(xs, Bin("-", i, lit(1)))), (AugAssign("count", "+", lit(1)),)),)),
        Return(count),
    ]
    text = f"Return how many elements of xs are {word} the element just before them."
    return Draft(fn("count_steps", [("xs", INT_LIST)], INT, body), text, ("ints",), 3, "steps")


def t_long_words(r: random.Random) -> Draft:
    words = Var("words", STR_LIST)
    out = Var("result", STR_LIST)
    k = r.randint(2, 4)
    upper = r.random() < 0.5
    body = [
        Let("result", STR_LIST, Lit([], STR_LIST)),
        ForEach("w", words, (If(Bin(">", Len(w), lit(k)), (Push("result", ToUpper(w) if upper else w),)),)),
        Return(out),
    ]
    how = " in upper case" if upper else ""
    text = f"Return the words of the list words that have more than {k} characters{how}, in order."
    return Draft(fn("long_words", [("words", STR_LIST)], STR_LIST, body), text, ("words",), 3, "long_words")


def t_char_score(r: random.Random) -> Draft:
    (set1, name1), (set2, name2) = char_class(r), char_class(r)
    while set2 == set1:
        set2, name2 = char_class(r)
    a, b = r.randint(1, 4), r.randint(1, 4)
    score = Var("score", INT)
    body = [
        Let("score", INT, lit(0)),
        ForEach(
            "ch",
            s,
            (If(CharIn(ch, set1), (AugAssign("score", "+", lit(a)),), (If(CharIn(ch, set2), (AugAssign("score", "-", lit(b)),)),)),),
        ),
        Return(score),
    ]
    text = (
        f"Score the string s: start from 0, add {a} for every character that is {name1}, "
        f"otherwise subtract {b} if it is {name2}. Return the score."
    )
    return Draft(fn("char_score", [("s", STR)], INT, body), text, ("text",), 3, "char_score")


def t_two_counts(r: random.Random) -> Draft:
    p1, p2 = int_pred(r, simple=True), int_pred(r, simple=True)
    while p2.phrase == p1.phrase:
        p2 = int_pred(r, simple=True)
    k = r.randint(1, 3)
    first, second = Var("first", INT), Var("second", INT)
    body = [
        Let("first", INT, lit(0)),
        Let("second", INT, lit(0)),
        ForEach(
            "x",
            xs,
            (If(p1.build(x), (AugAssign("first", "+", lit(1)),)), If(p2.build(x), (AugAssign("second", "+", lit(1)),))),
        ),
        Return(Bin("-", Bin("*", first, lit(k)) if k > 1 else first, second)),
    ]
    lhs = "the number of elements that" if k == 1 else f"{k} times the number of elements that"
    text = f"For the list xs, return {lhs} {plural(p1)} minus the number of elements that {plural(p2)}."
    return Draft(fn("count_difference", [("xs", INT_LIST)], INT, body), text, ("ints",), 4, "two_counts")


def t_pairs_in_range(r: random.Random) -> Draft:
    k = r.randint(2, 5)
    count = Var("count", INT)
    kind = r.choice(("sum", "product"))
    combined = Bin("+" if kind == "sum" else "*", i, j)
    body = [
        Let("count", INT, lit(0)),
        ForRange(
            "i",
            lit(0),
            n,
            (ForRange("j", Bin("+", i, lit(1)), n, (If(Divisible(combined, k), (AugAssign("count", "+", lit(1)),)),)),),
        ),
        Return(count),
    ]
    text = f"Return how many pairs of integers i < j with 0 <= i and j < n have a {kind} i {combined.op} j divisible by {k}."
    return Draft(fn("count_pairs", [("n", INT)], INT, body), text, ("count",), 4, "pairs_in_range")


def t_above_mean(r: random.Random) -> Draft:
    fxs, fx = Var("values", FLOAT_LIST), Var("v", FLOAT)
    total, mean, count = Var("total", FLOAT), Var("average", FLOAT), Var("count", INT)
    above = r.random() < 0.5
    body = [
        If(Bin("==", Len(fxs), lit(0)), (Return(lit(0)),)),
        Let("total", FLOAT, flit(0.0)),
        ForEach("v", fxs, (AugAssign("total", "+", fx),)),
        Let("average", FLOAT, Bin("/", total, ToFloat(Len(fxs)))),
        Let("count", INT, lit(0)),
        ForEach("v", fxs, (If(Bin(">" if above else "<", fx, mean), (AugAssign("count", "+", lit(1)),)),)),
        Return(count),
    ]
    word = "above" if above else "below"
    text = f"Return how many numbers in the list values are strictly {word} their mean (0 for an empty list)."
    return Draft(fn(f"count_{word}_mean", [("values", FLOAT_LIST)], INT, body), text, ("floats",), 4, "above_mean")


def t_longest_run(r: random.Random) -> Draft:
    p = int_pred(r)
    run, best = Var("run", INT), Var("best", INT)
    body = [
        Let("run", INT, lit(0)),
        Let("best", INT, lit(0)),
        ForEach(
            "x",
            xs,
            (
                If(
                    p.build(x),
                    (AugAssign("run", "+", lit(1)), If(Bin(">", run, best), (Assign("best", run),))),
                    (Assign("run", lit(0)),),
                ),
            ),
        ),
        Return(best),
    ]
    text = f"Return the length of the longest run of consecutive elements of xs in which every element {p.phrase}."
    return Draft(fn("longest_run", [("xs", INT_LIST)], INT, body), text, ("ints",), 4, "longest_run")


def t_pair_sums(r: random.Random) -> Draft:
    target = r.randint(-5, 10)
    count = Var("count", INT)
    body = [
        Let("count", INT, lit(0)),
        ForRange(
            "i",
            lit(0),
            Len(xs),
            (
                ForRange(
                    "j",
                    Bin("+", i, lit(1)),
                    Len(xs),
                    (If(Bin("==", Bin("+", Index(xs, i), Index(xs, j)), lit(target)), (AugAssign("count", "+", lit(1)),)),),
                ),
            ),
        ),
        Return(count),
    ]
    text = f"Return how many pairs of positions i < j in xs have xs[i] + xs[j] equal to {target}."
    return Draft(fn("pairs_with_sum", [("xs", INT_LIST)], INT, body), text, ("ints",), 4, "pair_sums")


def t_running_totals(r: random.Random) -> Draft:
    p = int_pred(r, simple=True)
    total, out = Var("total", INT), Var("result", INT_LIST)
    body = [
        Let("total", INT, lit(0)),
        Let("result", INT_LIST, Lit([], INT_LIST)),
        ForEach("x", xs, (If(p.build(x), (AugAssign("total", "+", x),)), Push("result", total))),
        Return(out),
    ]
    text = (
        f"Return a list as long as xs whose element at each position is the sum of the elements "
        f"of xs, up to and including that position, that {plural(p)}."
    )
    return Draft(fn("running_totals", [("xs", INT_LIST)], INT_LIST, body), text, ("ints",), 4, "running_totals")


def t_cap_words(r: random.Random) -> Draft:
    words = Var("words", STR_LIST)
    out = Var("result", STR)
    sep = r.choice(("-", " ", ","))
    k = r.randint(2, 4)
    body = [
        Let("result", STR, Lit("", STR)),
        ForEach(
            "w",
            words,
            (
                If(Bin(">", Len(out), lit(0)), (AugAssign("result", "+", Lit(sep, STR)),)),
                If(Bin(">", Len(w), lit(k)), (AugAssign("result", "+", ToUpper(w)),), (AugAssign("result", "+", w),)),
            ),
        ),
        Return(out),
    ]
    text = (
        f'Join the words of the list words with "{sep}" between them, writing the words longer '
        f"than {k} characters in upper case. Return the joined string."
    )
    return Draft(fn("join_words", [("words", STR_LIST)], STR, body), text, ("words",), 4, "cap_words")


TEMPLATES: dict[int, tuple[Callable[[random.Random], Draft], ...]] = {
    1: (t_affine, t_check_number, t_compare_pair, t_scale_float, t_decorate),
    2: (t_sum_map, t_count, t_map_list, t_count_chars, t_range_sum, t_total_length, t_float_sum, t_mean, t_transform_chars),
    3: (t_filter_map, t_sum_filtered, t_extreme, t_first_index, t_signed_sum, t_word_counts, t_steps, t_long_words, t_char_score),
    4: (t_two_counts, t_pairs_in_range, t_above_mean, t_longest_run, t_pair_sums, t_running_totals, t_cap_words),
}


# ----------------------------------------------------------------------------- behaviour


def _probe_inputs(inputs: tuple[str, ...]) -> list[tuple]:
    """Fixed inputs for a parameter-kind tuple, independent of the generation seed."""
    r = random.Random("probe:" + ",".join(inputs))
    return [tuple(INPUT_KINDS[k][1](r) for k in inputs) for _ in range(PROBES_PER_SIGNATURE)]


def _outcome(call: Callable[..., Any], args: tuple) -> Any:
    try:
        return call(*args)
    except IRError:
        return IRError


def fingerprint(draft: Draft, call: Callable[..., Any] | None = None) -> str:
    """A digest of the function's outputs on fixed probe inputs: equal digests = same behaviour."""
    call = call or compile_function(draft.fn)
    types = ",".join(p.type.annotation() for p in draft.fn.params) + "->" + draft.fn.returns.annotation()
    outputs = [_canonical(_outcome(call, args)) for args in _probe_inputs(draft.inputs)]
    return hashlib.sha256(repr((types, outputs)).encode()).hexdigest()[:16]


def _canonical(value: Any) -> Any:
    if isinstance(value, dict):
        return sorted(value.items())
    if isinstance(value, float):
        return round(value, 9)
    return value


def make_tests(draft: Draft, r: random.Random, call: Callable[..., Any]) -> list[TestCase] | None:
    """``TESTS_PER_PROBLEM`` test cases with distinct inputs, or None when the function is
    constant on them (such a problem cannot tell a right answer from a lucky one) or too
    many inputs leave the IR's guarantees.

    The first test is the edge case (empty list or string, zero). The others are chosen
    from a larger sample so that as many different outputs as possible are tested: random
    inputs alone would make a pair-counting problem expect 0 almost every time."""
    candidates: list[TestCase] = []
    seen: set[str] = set()
    edge = tuple(EDGE_INPUTS[k] for k in draft.inputs)
    for attempt in range(TESTS_PER_PROBLEM * 8):
        args = edge if attempt == 0 else tuple(INPUT_KINDS[k][1](r) for k in draft.inputs)
        if repr(args) in seen:
            continue
        seen.add(repr(args))
        try:
            candidates.append(TestCase(args, call(*args)))
        except IRError:
            continue
    if len(candidates) < TESTS_PER_PROBLEM // 2:
        return None
    chosen: list[TestCase] = []
    outputs: set[str] = set()
    for t in candidates:  # first pass: one test per new output, in sampling order
        out = repr(_canonical(t.expected))
        if out not in outputs and len(chosen) < TESTS_PER_PROBLEM:
            outputs.add(out)
            chosen.append(t)
    if len(outputs) < 2:
        return None
    chosen += [t for t in candidates if t not in chosen][: TESTS_PER_PROBLEM - len(chosen)]
    edge_first = [t for t in chosen if t.args == edge] + [t for t in chosen if t.args != edge]
    return edge_first


# ----------------------------------------------------------------------------- generation


@dataclass(frozen=True)
class Generated:
    """A generated problem with the IR function it was made from (renderers need the IR)."""

    problem: Problem
    fn: Function


NAME = re.compile(r"^family-s\d+-\d+-(?P<function>\w+)$")


def function_of(name: str) -> str | None:
    """The function a family problem asks for (``family-s0-00018-check_number`` ->
    ``check_number``): problems of one function share a template; None for any other name."""
    match = NAME.match(name)
    return match.group("function") if match else None


class NotEnoughBehaviours(ValueError):
    """More problems were asked for than the levels' templates have distinct behaviours."""


# Drawing stops when this many drafts in a row repeat behaviours already drawn: the templates
# are exhausted (near their limit a new behaviour still turns up every few hundred draws).
STALL_DRAWS = 50_000


def generate(n: int, seed: int = 0, levels: tuple[int, ...] = LEVELS) -> list[Generated]:
    """``n`` problems with pairwise different behaviour, deterministic in ``(n, seed)``.

    Problem ``k`` has level ``levels[k % len(levels)]``; its ``meta`` holds ``level``,
    ``template``, ``inputs`` (the input kinds), ``fingerprint`` and ``seed``."""
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    unknown = sorted(set(levels) - set(TEMPLATES))
    if unknown or not levels:
        raise ValueError(f"levels must be among {sorted(TEMPLATES)}, got {list(levels)}")
    r = random.Random(seed)
    out: list[Generated] = []
    seen: set[str] = set()
    attempts = since_new = 0
    while len(out) < n:
        attempts += 1
        since_new += 1
        if attempts > 200 * (n + 10) or since_new > STALL_DRAWS:
            raise NotEnoughBehaviours(
                f"asked for {n} problems of levels {','.join(map(str, levels))}, but their templates gave only "
                f"{len(out)} distinct behaviours ({attempts:,} draws); ask for fewer (--n) or add levels (--levels)"
            )
        level = levels[len(out) % len(levels)]
        draft = r.choice(TEMPLATES[level])(r)
        call = compile_function(draft.fn)
        digest = fingerprint(draft, call)
        if digest in seen:
            continue
        tests = make_tests(draft, r, call)
        if tests is None:
            continue
        seen.add(digest)
        since_new = 0
        problem = Problem(
            name=f"family-s{seed}-{len(out):05d}-{draft.fn.name}",
            source=SOURCE,
            signature=draft.fn.signature,
            description=textwrap.fill(draft.description, width=80),
            tests=tuple(tests),
            meta={
                "level": draft.level,
                "template": draft.template,
                "inputs": list(draft.inputs),
                "fingerprint": digest,
                "seed": seed,
            },
        )
        out.append(Generated(problem, draft.fn))
    return out
