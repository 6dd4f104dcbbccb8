"""Family IR -> Julia: exact rendering of tricky trees (1-based indices and ranges, `Char`
literals, `in`, `*` on strings), and generated problems run through the engine where Julia is
installed (it is not on every machine: that test is skipped there, so the exact renderings
below are what keeps the renderer honest)."""

import re

import pytest

from tests.problems.family.render_helpers import (
    a,
    assert_all_pass,
    b,
    body_renderer,
    ch,
    j,
    num,
    s,
    shared_expressions,
    shifted_indices,
    text,
    vowel_filter,
    w,
    word_lengths,
    words,
)
from xpl.languages.types import BOOL, FLOAT, INT, STR, ListType
from xpl.problems.family.generator import generate
from xpl.problems.family.ir import (
    CHAR,
    FLOAT_LIST,
    INT_LIST,
    STR_LIST,
    WORD_COUNTS,
    AugAssign,
    Bin,
    Concat,
    DictAdd,
    Divisible,
    ForEach,
    ForRange,
    If,
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

body = body_renderer("julia")


# Comparisons chain in Julia: one inside another keeps its parentheses, `(a < b) == (b < c)`.
@pytest.mark.parametrize(
    "expr, text",
    shared_expressions(
        ["(a + 1) * b - (b - -c)", "-(-a)", "a * -3", "(a < b) == (b < c)"],
        {
            "not (((a + b) % 3 == 0 or a > 2) and b < c)": "!(((a + b) % 3 == 0 || a > 2) && b < c)",
            "a > 0 or a > 0 and not a > 0": "a > 0 || a > 0 && !(a > 0)",
        },
    ),
)
def test_shared_expressions(expr, text):
    assert body(expr.type, Return(expr)) == f"    return {text}\n"


def test_floats_and_divisibility():
    values = Var("values", FLOAT_LIST)
    got = body(FLOAT, Return(Bin("/", Lit(2.5, FLOAT), ToFloat(Neg(Len(values))))), params=(("values", FLOAT_LIST),))
    assert got == "    return 2.5 / Float64(-length(values))\n"
    assert body(BOOL, Return(Divisible(Bin("-", a, b), 2, negate=True))) == "    return isodd(a - b)\n"
    assert body(BOOL, Return(Not(Divisible(a, 2)))) == "    return !iseven(a)\n"
    assert body(BOOL, Return(Divisible(a, 4, negate=True))) == "    return a % 4 != 0\n"


def test_indices_and_ranges_are_translated_to_one_based():
    got = body(
        INT,
        *shifted_indices(),
        ForRange("j", num(1), Var("n", INT), (Return(j),)),
        ForRange("j", num(-2), num(3), (Return(Neg(j)),)),
        Return(Var("t", INT)),
        params=(("xs", INT_LIST), ("k", INT), ("n", INT)),
    )
    assert got == (
        "    t = 0\n"
        "    for i in 0:(length(xs) - 1)\n"
        "        if xs[i + 1] > 0\n"
        "            t += xs[i]\n"
        "        elseif xs[i + 1] < 0\n"
        "            t -= xs[1]\n"
        "        else\n"
        "            t = xs[i + 3]\n"
        "        end\n"
        "    end\n"
        "    for j in (k + 1):length(xs)\n"
        "        t *= j + xs[j * 2 + 1]\n"
        "    end\n"
        "    for j in 1:(n - 1)\n"
        "        return j\n"
        "    end\n"
        "    for j in -2:2\n"
        "        return -j\n"
        "    end\n"
        "    return t\n"
    )


def test_strings_and_chars():
    got = body(
        STR,
        *vowel_filter("$x"),
        ForEach("ch", s, (If(Bin("==", ch, Lit("'", CHAR)), (AugAssign("out", "+", Lit("\\", CHAR)),)),)),
        AugAssign("out", "+", Concat(text("re"), ToLower(Concat(s, s)))),
        Return(Concat(Var("out", STR), Concat(s, ToUpper(s)))),
        params=(("s", STR),),
    )
    assert got == (
        '    out = ""\n'
        "    for ch in s\n"
        '        if ch in "aeiou"\n'
        "            out *= uppercase(ch)\n"
        '        elseif !(ch in "\\$x")\n'
        "            out *= ch\n"
        "        end\n"
        "    end\n"
        "    for ch in s\n"
        "        if ch == '\\''\n"
        "            out *= '\\\\'\n"
        "        end\n"
        "    end\n"
        '    out *= "re" * lowercase(s * s)\n'
        "    return out * (s * uppercase(s))\n"
    )


def test_lists_and_dicts():
    got = body(WORD_COUNTS, *word_lengths(), params=(("words", STR_LIST),))
    assert got == (
        "    d = Dict{String, Int64}()\n"
        "    lens = Int64[]\n"
        "    for w in words\n"
        "        d[w] = get(d, w, 0) + (length(w) + 1)\n"
        "        push!(lens, length(w) * 2)\n"
        "    end\n"
        "    return d\n"
    )
    got = body(
        STR_LIST,
        Let("big", STR_LIST, Lit([], STR_LIST)),
        ForEach("w", words, (Push("big", ToUpper(w)),)),
        Return(Var("big", STR_LIST)),
        params=(("words", STR_LIST),),
    )
    assert got == "    big = String[]\n    for w in words\n        push!(big, uppercase(w))\n    end\n    return big\n"


def test_shadowed_functions_are_called_through_base():
    length = Var("length", INT_LIST)
    got = body(
        INT,
        DictAdd("get", Lit("a", STR), Len(length)),
        Return(Len(length)),
        params=(("length", INT_LIST), ("get", WORD_COUNTS)),
    )
    assert got == '    get["a"] = Base.get(get, "a", 0) + Base.length(length)\n    return Base.length(length)\n'


def _value(expr: str, env: dict) -> int:
    return eval(expr, {"__builtins__": {}}, env)  # an index or a bound: names, ints, + - * and len


def test_generated_indices_and_ranges_are_the_python_ones_shifted_by_one():
    """Julia cannot run here, so compare with the Python renderer, statement by statement:
    every index must be Python's plus one, every range must cover Python's range(a, b) as
    a:(b - 1), and every block must be closed by an `end` at its own indentation."""
    env = {name: 7 + k for k, name in enumerate("abijnx")} | {"len": len, "length": len, "xs": [0] * 9}
    for item in generate(200, seed=5):
        jl, py = renderer_for("julia").body(item.fn), renderer_for("python").body(item.fn)
        lists = "|".join(p.name for p in item.fn.params if isinstance(p.type, ListType)) or "(?!)"
        jl_index = re.findall(rf"\b(?:{lists})\[([^\[\]]+)\]", jl)
        py_index = re.findall(rf"\b(?:{lists})\[([^\[\]]+)\]", py)
        assert len(jl_index) == len(py_index), (jl, py)
        for j_text, p_text in zip(jl_index, py_index):
            assert _value(j_text, env) == _value(p_text, env) + 1, (j_text, p_text, jl)
        jl_ranges = re.findall(r"^\s*for \w+ in (.+):(.+)$", jl, re.M)
        py_ranges = re.findall(r"^\s*for \w+ in range\((.+)\):$", py, re.M)
        assert len(jl_ranges) == len(py_ranges), (jl, py)
        for (j_start, j_stop), p_args in zip(jl_ranges, py_ranges):
            p_start, p_stop = p_args.rsplit(", ", 1) if ", " in p_args else ("0", p_args)
            assert _value(j_start, env) == _value(p_start, env), (j_start, p_start, jl)
            assert _value(j_stop, env) == _value(p_stop, env) - 1, (j_stop, p_stop, jl)
        opened = []  # indentation of every open block
        for line in jl.splitlines():
            indent = len(line) - len(line.lstrip())
            word = line.split()[0]
            if word in ("if", "for"):
                opened.append(indent)
            elif word in ("elseif", "else", "end"):
                assert opened and opened[-1] == indent, jl
                if word == "end":
                    opened.pop()
        assert opened == [], jl


def test_generated_problems_pass_in_julia(engine):
    # Skipped where `julia` is not installed: the exact renderings above still test the renderer.
    assert_all_pass("julia", generate(40, seed=3), engine)
