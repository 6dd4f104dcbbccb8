"""Family IR -> C++: exact renderings of tricky trees (sizes cast before arithmetic, `char`
case conversion, string literals that must not meet each other, `std::map` counts, the string
case helpers), `for` loops that keep `range`'s meaning, and generated and hand-built problems
run through the engine."""

import pytest

from tests.problems.family.rust_cpp_cases import CASES, case_items
from xpl.languages import get_language
from xpl.languages.types import FLOAT, INT, STR, Param
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

a, b, c, i = Var("a", INT), Var("b", INT), Var("c", INT), Var("i", INT)
xs, s, ch, w = Var("xs", INT_LIST), Var("s", STR), Var("ch", CHAR), Var("w", STR)
words, out = Var("words", STR_LIST), Var("out", STR)


def num(k):
    return Lit(k, INT)


def text(t):
    return Lit(t, STR)


def body(returns, *stmts, params=(("a", INT), ("b", INT), ("c", INT), ("xs", INT_LIST))):
    fn = Function("f", tuple(Param(p, t) for p, t in params), returns, tuple(stmts))
    return renderer_for("cpp").body(fn)


EXPRESSIONS = [
    (Bin("+", Bin("*", num(3), a), num(1)), "3 * a + 1"),
    (Divisible(Bin("-", a, b), 3, negate=True), "(a - b) % 3 != 0"),
    (Bin("-", a, Bin("-", b, c)), "a - (b - c)"),
    (Bin("-", a, num(-3)), "a - -3"),
    (Neg(Bin("+", a, b)), "-(a + b)"),
    (Neg(num(-3)), "-(-3)"),
    # size() is unsigned: `xs.size() - 1` wraps around and `xs.size() > -1` is false.
    (Bin(">", Len(xs), num(-1)), "(long) xs.size() > -1"),
    (Bin("-", Len(xs), num(1)), "(long) xs.size() - 1"),
    (Neg(Len(xs)), "-((long) xs.size())"),
    (Divisible(Len(xs), 2), "(long) xs.size() % 2 == 0"),
    (Bin("==", Len(xs), num(0)), "xs.empty()"),
    (Bin(">", Len(xs), num(0)), "!xs.empty()"),
    (Index(xs, Bin("-", a, num(1))), "xs[a - 1]"),
    (Bin("==", Bin("+", Index(xs, a), Index(xs, b)), num(4)), "xs[a] + xs[b] == 4"),
    (Bin("and", Bin("or", Bin("<", a, b), Bin("<", b, c)), Not(Bin("<", a, c))), "(a < b || b < c) && !(a < c)"),
    (Bin("==", Bin("<", a, b), Bin("<", b, c)), "(a < b) == (b < c)"),
    (Bin("or", Divisible(a, 2), Bin(">", a, num(3))), "a % 2 == 0 || a > 3"),
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


def test_for_loops_keep_the_meaning_of_range():
    got = body(
        INT,
        Let("t", INT, num(0)),
        ForRange("i", num(1), Bin("+", a, num(1)), (AugAssign("t", "+", i),)),
        ForRange("i", a, Len(xs), (Push("xs", i), If(Bin(">", Index(xs, i), num(0)), (Assign("i", num(100)),)), AugAssign("t", "+", i))),
        Return(Var("t", INT)),
        params=(("xs", INT_LIST), ("a", INT)),
    )  # fmt: skip
    assert got == (
        "    long t = 0;\n"
        "    for (long i = 1; i <= a; i++) {\n"
        "        t += i;\n"
        "    }\n"
        # The body grows xs and assigns i: the bound is computed once, the counter is separate.
        "    const long end1 = (long) xs.size();\n"
        "    for (long i_index = a; i_index < end1; i_index++) {\n"
        "        long i = i_index;\n"
        "        xs.push_back(i);\n"
        "        if (xs[i] > 0) {\n"
        "            i = 100;\n"
        "        }\n"
        "        t += i;\n"
        "    }\n"
        "    return t;\n"
    )


def test_hand_built_cases_render():
    for fn in CASES:
        assert renderer_for("cpp").body(fn).endswith("\n")


@pytest.mark.skipif(not get_language("cpp").toolchain.available, reason="no C++ toolchain (g++) on this machine")
def test_generated_and_hand_built_problems_pass_in_cpp():
    # Every C++ program is compiled on its own (no work shared within a batch): one problem
    # per template of the 40 keeps this test fast.
    by_template = {g.problem.meta["template"]: g for g in reversed(generate(40, seed=3))}
    assert len(by_template) >= 20
    items = list(by_template.values()) + case_items()
    v = verify(items, ["cpp"])
    assert not v.failures, "\n\n".join(f"{f.problem}: {f.status}\n{f.detail[:2000]}" for f in v.failures)
    assert v.passed["cpp"] == len(items)
