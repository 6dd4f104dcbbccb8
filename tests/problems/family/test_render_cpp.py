"""Family IR -> C++: exact renderings of tricky trees (sizes cast before arithmetic, `char`
case conversion, string literals that must not meet each other, `std::map` counts, the string
case helpers), `for` loops that keep `range`'s meaning, and generated and hand-built problems
run through the engine."""

import pytest

from tests.problems.family import rust_cpp_cases as cases
from tests.problems.family.render_helpers import (
    ABC,
    a,
    assert_all_pass,
    body_renderer,
    ch,
    i,
    num,
    one_per_template,
    s,
    shared_expressions,
    text,
    w,
    words,
    xs,
)
from xpl.languages.types import FLOAT, INT, STR
from xpl.problems.family.generator import generate
from xpl.problems.family.ir import (
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
    Return,
    ToFloat,
    ToLower,
    ToUpper,
    Var,
)

out = Var("out", STR)
body = body_renderer("cpp", params=(*ABC, ("xs", INT_LIST)))

EXPRESSIONS = shared_expressions(
    [
        "3 * a + 1",
        "(a - b) % 3 != 0",
        "a - (b - c)",
        "a - -3",
        "-(a + b)",
        "-(-3)",
        "xs[a - 1]",
        "xs[a] + xs[b] == 4",
        "(a < b) == (b < c)",
    ],
    {
        "len(xs) == 0": "xs.empty()",
        "len(xs) > 0": "!xs.empty()",
        "(a < b or b < c) and not a < c": "(a < b || b < c) && !(a < c)",
        "a % 2 == 0 or a > 3": "a % 2 == 0 || a > 3",
    },
) + [
    # size() is unsigned: `xs.size() - 1` wraps around and `xs.size() > -1` is false.
    (Bin(">", Len(xs), num(-1)), "(long) xs.size() > -1"),
    (Bin("-", Len(xs), num(1)), "(long) xs.size() - 1"),
    (Neg(Len(xs)), "-((long) xs.size())"),
    (Divisible(Len(xs), 2), "(long) xs.size() % 2 == 0"),
]


@pytest.mark.parametrize("expr, text", EXPRESSIONS)
def test_expressions_and_their_parentheses(expr, text):
    assert body(expr.type, Return(expr)) == f"    return {text};\n"


def test_floats_and_negative_zero():
    v = Var("v", FLOAT)
    got = body(FLOAT, Return(Bin("-", Bin("/", ToFloat(Len(xs)), ToFloat(a)), Neg(Bin("*", v, Lit(-0.0, FLOAT))))),
               params=(("xs", INT_LIST), ("a", INT), ("v", FLOAT)))  # fmt: skip
    assert got == "    return (double) xs.size() / (double) a - -(v * -0.0);\n"
    # `--0.0` would be a decrement.
    assert body(FLOAT, Return(Neg(Lit(-0.0, FLOAT))), params=()) == "    return -(-0.0);\n"


def test_strings_chars_and_dict_counts():
    got = body(
        WORD_COUNTS,
        Let("counts", WORD_COUNTS, Lit({}, WORD_COUNTS)),
        Let("out", STR, text("")),
        Let("tag", STR, text("t")),
        ForEach(
            "w",
            words,
            (
                If(Bin(">", Len(out), num(0)), (AugAssign("out", "+", text(", ")),)),
                If(Bin("==", w, s), (AugAssign("out", "+", ToUpper(w)),), (AugAssign("out", "+", w),)),
                DictAdd("counts", w, Len(w)),
                DictAdd("counts", Concat(text("<"), w), num(1)),
            ),
        ),
        ForEach("ch", s, (If(Not(CharIn(ch, "a'\\")), (AugAssign("out", "+", ToLower(ch)),), (AugAssign("out", "+", ch),)),)),
        If(Bin("!=", text("x"), text("y")), (Assign("tag", Concat(text("a"), text("b"))),)),
        DictAdd("counts", out, Len(Var("tag", STR))),
        DictAdd("counts", text("total"), num(0)),
        Return(Var("counts", WORD_COUNTS)),
        params=(("words", STR_LIST), ("s", STR)),
    )  # fmt: skip
    assert got == (
        "    auto to_upper = [](std::string text) {\n"
        "        for (char& c : text) c = (char) std::toupper(c);\n"
        "        return text;\n"
        "    };\n"
        "    std::map<std::string, long> counts;\n"
        "    std::string out;\n"
        '    std::string tag = "t";\n'
        "    for (const std::string& w : words) {\n"
        "        if (!out.empty()) {\n"
        '            out += ", ";\n'
        "        }\n"
        "        if (w == s) {\n"
        "            out += to_upper(w);\n"
        "        } else {\n"
        "            out += w;\n"
        "        }\n"
        "        counts[w] += (long) w.size();\n"
        '        counts["<" + w] += 1;\n'
        "    }\n"
        "    for (char ch : s) {\n"
        '        if (std::string("a\'\\\\").find(ch) == std::string::npos) {\n'
        "            out += (char) std::tolower(ch);\n"
        "        } else {\n"
        "            out += ch;\n"
        "        }\n"
        "    }\n"
        '    if (std::string("x") != "y") {\n'
        '        tag = std::string("a") + "b";\n'
        "    }\n"
        "    counts[out] += (long) tag.size();\n"
        '    counts["total"] += 0;\n'
        "    return counts;\n"
    )


def test_case_helpers_never_clash_with_the_functions_names():
    got = body(STR, Let("to_lower", STR, ToLower(s)), Return(Var("to_lower", STR)), params=(("s", STR),))
    assert got.splitlines()[0] == "    auto to_lower_ = [](std::string text) {"
    assert got.splitlines()[-2:] == ["    std::string to_lower = to_lower_(s);", "    return to_lower;"]


def test_counting_loops():
    got = body(
        INT,
        Let("t", INT, num(0)),
        ForRange("i", num(1), Bin("+", a, num(1)), (AugAssign("t", "+", i),)),
        ForRange("i", a, Len(xs), (If(Bin(">", Index(xs, i), num(0)), (AugAssign("t", "+", i),)),)),
        Return(Var("t", INT)),
        params=(("xs", INT_LIST), ("a", INT)),
    )
    assert got == (
        "    long t = 0;\n"
        "    for (long i = 1; i <= a; i++) {\n"  # range(1, a + 1)
        "        t += i;\n"
        "    }\n"
        "    for (long i = a; i < (long) xs.size(); i++) {\n"
        "        if (xs[i] > 0) {\n"
        "            t += i;\n"
        "        }\n"
        "    }\n"
        "    return t;\n"
    )


@pytest.mark.slow  # compiles and runs every program (tests/slow.py)
def test_generated_and_hand_built_problems_pass_in_cpp(engine):
    # Every C++ program is compiled on its own (no work shared within a batch): one problem
    # per template of the 40 keeps this test fast.
    generated = one_per_template(generate(40, seed=3))
    assert len(generated) >= 20
    assert_all_pass("cpp", generated + cases.items(), engine)
