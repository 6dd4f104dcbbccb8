"""The family IR: type checking, execution semantics and the guarantees every PL relies on."""

import pytest

from xpl.languages.types import BOOL, FLOAT, INT, STR, Param
from xpl.problems.family.ir import (
    CHAR,
    FLOAT_LIST,
    INT_LIST,
    STR_LIST,
    WORD_COUNTS,
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
    IRError,
    Len,
    Let,
    Push,
    Lit,
    Return,
    ToFloat,
    ToUpper,
    Var,
    check_function,
    compile_function,
    ends_with_return,
    mutated_names,
)

xs, x, s, ch = Var("xs", INT_LIST), Var("x", INT), Var("s", STR), Var("ch", CHAR)


def fn(params, returns, *body):
    return Function("f", tuple(Param(n, t) for n, t in params), returns, tuple(body))


def test_sum_of_evens_executes():
    f = fn(
        [("xs", INT_LIST)],
        INT,
        Let("total", INT, Lit(0, INT)),
        ForEach("x", xs, (If(Divisible(x, 2), (AugAssign("total", "+", x),)),)),
        Return(Var("total", INT)),
    )
    call = compile_function(f)
    assert call([1, 2, 3, 4, -6]) == 0
    assert call([2, 4]) == 6
    assert call([]) == 0


def test_divisible_is_sign_agnostic_like_every_pl():
    # C, Java, Go and Rust give -3 % 2 == -1 where Python gives 1; `% k == 0` agrees everywhere.
    call = compile_function(fn([("x", INT)], BOOL, Return(Divisible(x, 2, negate=True))))
    assert [call(v) for v in (-3, -2, 0, 3)] == [True, False, False, True]


def test_int_overflow_beyond_32_bits_is_an_error():
    call = compile_function(fn([("x", INT)], INT, Return(Bin("*", x, x))))
    assert call(46340) == 46340**2
    with pytest.raises(IRError, match="32-bit"):
        call(46341)


def test_index_out_of_range_and_float_division_by_zero_are_errors():
    at = compile_function(fn([("xs", INT_LIST)], INT, Return(Index(xs, Lit(2, INT)))))
    assert at([1, 2, 3]) == 3
    with pytest.raises(IRError, match="out of range"):
        at([1])
    v = Var("v", FLOAT_LIST)
    mean = compile_function(fn([("v", FLOAT_LIST)], FLOAT, Return(Bin("/", Lit(1.0, FLOAT), ToFloat(Len(v))))))
    with pytest.raises(IRError, match="division by zero"):
        mean([])


def test_string_walk_and_dict_add():
    out = Var("out", STR)
    f = fn(
        [("s", STR)],
        STR,
        Let("out", STR, Lit("", STR)),
        ForEach("ch", s, (If(CharIn(ch, "aeiou"), (AugAssign("out", "+", ToUpper(ch)),), (AugAssign("out", "+", ch),)),)),
        Return(out),
    )
    assert compile_function(f)("banana split") == "bAnAnA splIt"
    w = Var("w", STR)
    counts = fn(
        [("words", STR_LIST)],
        WORD_COUNTS,
        Let("d", WORD_COUNTS, Lit({}, WORD_COUNTS)),
        ForEach("w", Var("words", STR_LIST), (DictAdd("d", w, Len(w)),)),
        Return(Var("d", WORD_COUNTS)),
    )
    assert compile_function(counts)(["ab", "c", "ab"]) == {"ab": 4, "c": 1}


def test_calls_do_not_share_or_mutate_state():
    # The empty-list literal is a fresh list on every call, and arguments are copied.
    out = Var("out", INT_LIST)
    f = fn(
        [("xs", INT_LIST)],
        INT_LIST,
        Let("out", INT_LIST, Lit([], INT_LIST)),
        ForEach("x", xs, (Push("out", x),)),
        Push("xs", Lit(0, INT)),
        Return(out),
    )
    call = compile_function(f)
    arg = [1, 2]
    assert call(arg) == [1, 2] and call(arg) == [1, 2] and arg == [1, 2]


@pytest.mark.parametrize(
    "body, message",
    [
        ((Return(Bin("+", x, Lit(1.0, FLOAT))),), "on int and float"),
        ((Return(Bin("/", x, x)),), "no integer division"),
        ((Return(Bin("==", Lit(1.0, FLOAT), Lit(1.0, FLOAT))),), "never compared"),
        ((Return(Var("y", INT)),), "not declared"),
        ((Let("x", INT, Lit(0, INT)), Return(x)), "declared twice"),
        ((If(Bin(">", x, Lit(0, INT)), (Return(x),)),), "not every path"),
        ((Return(Divisible(x, 1)),), "divisor >= 2"),
        ((ForRange("i", Lit(0, INT), Lit(3.0, FLOAT), ()), Return(x)), "expected int"),
    ],
)
def test_ill_typed_trees_are_rejected(body, message):
    returns = BOOL if isinstance(body[-1], Return) and isinstance(body[-1].value, Divisible) else INT
    with pytest.raises(IRError, match=message):
        check_function(fn([("x", INT)], returns, *body))


def test_traversal_helpers():
    body = (
        Let("t", INT, Lit(0, INT)),
        Let("u", INT, Lit(0, INT)),
        If(Bin(">", x, Lit(0, INT)), (AugAssign("t", "+", x), Return(Var("t", INT))), (Return(Var("u", INT)),)),
    )
    assert ends_with_return(body)
    assert not ends_with_return(body[:2])
    assert mutated_names(fn([("x", INT)], INT, *body)) == {"t"}


@pytest.mark.parametrize(
    "loop, message",
    [
        (ForEach("x", xs, ()), "shadows"),
        (ForRange("i", Lit(0, INT), Lit(3, INT), (AugAssign("i", "+", Lit(1, INT)),)), "assigned in its loop"),
        (ForRange("i", Lit(0, INT), Var("x", INT), (AugAssign("x", "+", Lit(1, INT)),)), "bound or iterable"),
        (ForEach("y", xs, (Push("xs", Var("y", INT)),)), "bound or iterable"),
    ],
)
def test_loops_whose_meaning_differs_between_pls_are_rejected(loop, message):
    with pytest.raises(IRError, match=message):
        check_function(fn([("x", INT), ("xs", INT_LIST)], INT, loop, Return(x)))
