"""Family IR -> Rust: exact renderings of tricky trees (casts before `<`, usize sizes and
indices, ownership of strings: borrowed loop variables, clones, `push_str`, `entry`), and
generated and hand-built problems run through the engine."""

import pytest

from tests.problems.family import rust_cpp_cases as cases
from tests.problems.family.render_helpers import (
    ABC,
    a,
    assert_all_pass,
    b,
    body_renderer,
    ch,
    i,
    num,
    s,
    shared_expressions,
    w,
    words,
    xs,
)
from xpl.languages import get_language
from xpl.languages.types import BOOL, FLOAT, INT, STR, Param
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

out = Var("out", STR)
body = body_renderer("rust", params=(*ABC, ("xs", INT_LIST)))

EXPRESSIONS = shared_expressions(
    ["3 * a + 1", "(a - b) % 3 != 0", "a - (b - c)", "a - b - c", "a - -3", "-(a + b)", "-(-3)", "(a < b) == (b < c)"],
    {
        "len(xs) == 0": "xs.is_empty()",
        "len(xs) > 0": "!xs.is_empty()",
        "xs[a - 1]": "xs[(a - 1) as usize]",
        "xs[a] + xs[b] == 4": "xs[a as usize] + xs[b as usize] == 4",
        "(a < b or b < c) and not a < c": "(a < b || b < c) && !(a < c)",
        "a % 2 == 0 or a > 3": "a % 2 == 0 || a > 3",
    },
) + [
    # `xs.len() as i64 < a` would read `i64<` as the start of generic arguments.
    (Bin("<", Len(xs), a), "(xs.len() as i64) < a"),
    (Bin("<=", Bin("*", a, Len(xs)), b), "(a * xs.len() as i64) <= b"),
    (Bin("<", a, Len(xs)), "a < xs.len() as i64"),
    (Bin(">", Len(xs), a), "xs.len() as i64 > a"),
    (Bin(">", Len(xs), num(3)), "xs.len() > 3"),
    (Bin("<", Len(xs), num(-1)), "(xs.len() as i64) < -1"),
    (Bin("*", Len(xs), num(2)), "xs.len() as i64 * 2"),
    (Divisible(Len(xs), 2), "xs.len() as i64 % 2 == 0"),
    (Index(xs, num(0)), "xs[0]"),
]


@pytest.mark.parametrize("expr, text", EXPRESSIONS)
def test_expressions_and_their_parentheses(expr, text):
    # The last top-level return is the function's final expression.
    assert body(expr.type, Return(expr)) == f"    {text}\n"


def test_float_expressions():
    v = Var("v", FLOAT)
    got = body(FLOAT, Return(Bin("-", Bin("/", ToFloat(Len(xs)), ToFloat(a)), Neg(Bin("*", v, Lit(-0.0, FLOAT))))),
               params=(("xs", INT_LIST), ("a", INT), ("v", FLOAT)))  # fmt: skip
    assert got == "    xs.len() as f64 / a as f64 - -(v * -0.0)\n"
    assert body(BOOL, Return(Bin("<", ToFloat(a), v)), params=(("a", INT), ("v", FLOAT))) == "    (a as f64) < v\n"
    assert body(FLOAT, Return(Neg(Lit(-0.0, FLOAT))), params=()) == "    -(-0.0)\n"


def test_else_if_chain_index_loop_and_early_return():
    got = body(
        INT,
        Let("t", INT, num(0)),
        ForRange(
            "i",
            num(1),
            Len(xs),
            (
                If(
                    Bin(">", Index(xs, i), Index(xs, Bin("-", i, num(1)))),
                    (AugAssign("t", "+", num(1)),),
                    (If(Bin("<", Index(xs, i), num(0)), (Return(i),), (Assign("t", num(0)),)),),
                ),
            ),
        ),
        ForRange("i", num(0), Bin("+", a, num(1)), (AugAssign("t", "*", i),)),
        Return(Var("t", INT)),
        params=(("xs", INT_LIST), ("a", INT)),
    )
    assert got == (
        "    let mut t = 0;\n"
        "    for i in 1..xs.len() as i64 {\n"
        "        if xs[i as usize] > xs[(i - 1) as usize] {\n"
        "            t += 1;\n"
        "        } else if xs[i as usize] < 0 {\n"
        "            return i;\n"
        "        } else {\n"
        "            t = 0;\n"
        "        }\n"
        "    }\n"
        "    for i in 0..=a {\n"
        "        t *= i;\n"
        "    }\n"
        "    t\n"
    )


def test_strings_borrowed_loop_variables_and_dict_counts():
    got = body(
        WORD_COUNTS,
        Let("counts", WORD_COUNTS, Lit({}, WORD_COUNTS)),
        Let("out", STR, Lit("", STR)),
        Let("kept", STR_LIST, Lit([], STR_LIST)),
        ForEach(
            "w",
            words,
            (
                If(Bin(">", Len(out), num(0)), (AugAssign("out", "+", Lit(", ", STR)),)),
                If(Bin("==", w, s), (AugAssign("out", "+", ToUpper(w)),), (AugAssign("out", "+", w),)),
                DictAdd("counts", w, Len(w)),
                DictAdd("counts", Concat(w, s), num(1)),
                Push("kept", w),
            ),
        ),
        ForEach("ch", s, (If(Not(CharIn(ch, "a'\\")), (AugAssign("out", "+", ToLower(ch)),), (AugAssign("out", "+", Lit("-", STR)),)),)),
        DictAdd("counts", out, Len(Var("kept", STR_LIST))),
        DictAdd("counts", Lit("total", STR), num(0)),
        Return(Var("counts", WORD_COUNTS)),
        params=(("words", STR_LIST), ("s", STR)),
    )  # fmt: skip
    assert got == (
        "    let mut counts: HashMap<String, i64> = HashMap::new();\n"
        "    let mut out = String::new();\n"
        "    let mut kept: Vec<String> = Vec::new();\n"
        "    for w in &words {\n"
        "        if !out.is_empty() {\n"
        '            out.push_str(", ");\n'
        "        }\n"
        "        if *w == s {\n"
        "            out.push_str(&w.to_uppercase());\n"
        "        } else {\n"
        "            out.push_str(w);\n"
        "        }\n"
        "        *counts.entry(w.clone()).or_insert(0) += w.len() as i64;\n"
        "        *counts.entry(w.clone() + &s).or_insert(0) += 1;\n"
        "        kept.push(w.clone());\n"
        "    }\n"
        "    for ch in s.chars() {\n"
        '        if !"a\'\\\\".contains(ch) {\n'
        "            out.push(ch.to_ascii_lowercase());\n"
        "        } else {\n"
        "            out.push('-');\n"
        "        }\n"
        "    }\n"
        "    *counts.entry(out.clone()).or_insert(0) += kept.len() as i64;\n"
        '    *counts.entry(String::from("total")).or_insert(0) += 0;\n'
        "    counts\n"
    )


def test_concatenation_self_append_and_an_assigned_parameter():
    got = body(
        STR,
        Let("t", STR, Concat(Lit("<", STR), s)),
        Assign("t", Concat(Var("t", STR), Lit("q", STR))),
        Assign("s", Concat(Concat(ToUpper(s), Var("t", STR)), Concat(Lit("a", STR), Lit("b", STR)))),
        AugAssign("s", "+", s),
        Let("c", CHAR, Lit("'", CHAR)),
        ForEach("ch", s, (If(Bin("==", ToUpper(ch), Var("c", CHAR)), (Return(Lit("", STR)),)),)),
        Return(s),
        params=(("s", STR),),
    )
    assert got == (
        "    let mut s = s;\n"
        '    let mut t = "<".to_string() + &s;\n'
        '    t = t + "q";\n'
        '    s = s.to_uppercase() + &t + &("a".to_string() + "b");\n'
        "    s.push_str(&s.clone());\n"
        "    let c = '\\'';\n"
        "    for ch in s.chars() {\n"
        "        if ch.to_ascii_uppercase() == c {\n"
        "            return String::new();\n"
        "        }\n"
        "    }\n"
        "    s\n"
    )


def test_hashmap_is_spelled_in_full_when_the_prompt_does_not_import_it():
    got = body(
        INT,
        Let("counts", WORD_COUNTS, Lit({}, WORD_COUNTS)),
        DictAdd("counts", s, num(2)),
        Return(num(0)),
        params=(("s", STR),),
    )
    assert "use std::collections::HashMap" not in get_language("rust").prompt(
        Function("f", (Param("s", STR),), INT, ()).signature, ""
    )
    assert got.splitlines()[0] == (
        "    let mut counts: std::collections::HashMap<String, i64> = std::collections::HashMap::new();"
    )
    assert got.splitlines()[1] == "    *counts.entry(s.clone()).or_insert(0) += 2;"


@pytest.mark.slow  # compiles and runs every program (tests/slow.py)
def test_generated_and_hand_built_problems_pass_in_rust(engine):
    assert_all_pass("rust", generate(40, seed=3) + cases.items(), engine)
