"""Family IR -> Go: exact renderings of tricky trees (gofmt's operator spacing, runes, the
strings.Builder, map updates, Go's unused-variable rule), gofmt agreeing with every rendered
body, and generated and hand-built problems run through the engine."""

import shutil
import subprocess

import pytest

from tests.problems.family import typed_cases
from tests.problems.family.render_helpers import (
    ABC,
    TRICKY_CHARS,
    a,
    assert_all_pass,
    b,
    body_renderer,
    function,
    i,
    num,
    shared_expressions,
    x,
    xs,
)
from tests.problems.family.typed_cases import MIX_FLOATS, MIX_INTS, MIX_STRINGS, TYPED_FUNCTIONS
from xpl.languages import get_language
from xpl.languages.types import BOOL, INT, STR
from xpl.problems.family.generator import generate
from xpl.problems.family.ir import (
    CHAR,
    INT_LIST,
    Assign,
    AugAssign,
    Bin,
    Divisible,
    ForEach,
    ForRange,
    Index,
    Let,
    Lit,
    Neg,
    Push,
    Return,
    Var,
)
from xpl.problems.family.render import renderer_for

PARAMS = (*ABC, ("xs", INT_LIST))
body = body_renderer("go", params=PARAMS)

EXPRESSIONS = shared_expressions(
    ["a - (b - c)", "a - b - c", "a - -3", "-(a + b)", "(a < b) == (b < c)"],
    {
        "3 * a + 1": "3*a + 1",
        "(a - b) % 3 != 0": "(a-b)%3 != 0",
        "a % 2 == 0 or a > 3": "a%2 == 0 || a > 3",
        "(a < b or b < c) and not a < c": "(a < b || b < c) && !(a < c)",
    },
) + [
    (Divisible(a, 2), "a%2 == 0"),
    (Bin("*", Bin("-", a, num(5)), num(2)), "(a - 5) * 2"),
    (Bin("-", a, Neg(b)), "a - -b"),
    (Bin(">", Bin("+", a, b), num(3)), "a+b > 3"),
    (Bin(">", Bin("*", Bin("-", a, num(5)), num(3)), num(0)), "(a-5)*3 > 0"),
    (Bin("==", Bin("+", Index(xs, a), Index(xs, Bin("-", b, num(1)))), num(4)), "xs[a]+xs[b-1] == 4"),
    (Bin("and", Bin(">=", a, num(-3)), Bin("<=", a, num(5))), "a >= -3 && a <= 5"),
]


def returning(expr):
    return function("f", PARAMS, expr.type, Return(expr))


@pytest.mark.parametrize("expr, text", EXPRESSIONS)
def test_expressions_are_spaced_as_gofmt_spaces_them(expr, text):
    assert renderer_for("go").body(returning(expr)) == f"\treturn {text}\n"


def test_statements_and_the_spacing_of_their_operands():
    out = Var("out", INT_LIST)
    got = body(
        INT_LIST,
        Let("out", INT_LIST, Lit([], INT_LIST)),
        ForRange("i", Bin("+", a, num(1)), Bin("+", b, num(1)), (Push("out", Bin("*", i, num(3))),)),
        AugAssign("a", "+", Bin("*", b, num(3))),
        AugAssign("b", "-", num(1)),
        Push("out", Bin("+", Bin("*", num(3), a), num(7))),
        Return(out),
    )
    assert got == (
        "\tout := []int{}\n"
        "\tfor i := a + 1; i < b+1; i++ {\n"
        "\t\tout = append(out, i*3)\n"
        "\t}\n"
        "\ta += b * 3\n"
        "\tb--\n"
        "\tout = append(out, 3*a+7)\n"
        "\treturn out\n"
    )


def test_unused_variables_are_not_declared_or_are_marked_used():
    got = body(
        INT,
        Let("count", INT, num(0)),
        Let("unused", BOOL, Lit(True, BOOL)),
        ForEach("x", xs, (AugAssign("count", "+", num(1)),)),
        ForEach("ch", Lit("ab", STR), (AugAssign("count", "+", num(2)),)),
        ForEach("x", xs, (Assign("unused", Bin(">", x, num(0))),)),
        Return(Var("count", INT)),
    )
    assert got == (
        "\tcount := 0\n"
        "\tunused := true\n"
        "\t_ = unused\n"
        "\tfor range xs {\n"
        "\t\tcount++\n"
        "\t}\n"
        '\tfor range "ab" {\n'
        "\t\tcount += 2\n"
        "\t}\n"
        "\tfor _, x := range xs {\n"
        "\t\tunused = x > 0\n"
        "\t}\n"
        "\treturn count\n"
    )


def test_dead_code_after_a_return_is_left_out():
    assert body(INT, Return(a), Return(b)) == "\treturn a\n"


def test_char_literals():
    r = renderer_for("go")
    assert [r.char_literal(ch) for ch in TRICKY_CHARS] == [
        "'a'",
        "'\\''",
        "'\\\\'",
        "'\\n'",
        "'\\x07'",
    ]
    ch = Var("ch", CHAR)
    got = body(STR, Let("out", STR, Lit("", STR)), ForEach("ch", Var("s", STR), (AugAssign("out", "+", ch),)),
               Assign("out", Lit("", STR)), AugAssign("out", "+", Lit("'", CHAR)), Return(Var("out", STR)),
               params=(("s", STR),))  # fmt: skip
    # Assigned as well as appended to: a plain string, so a rune is converted with string(ch).
    assert (
        got
        == '\tout := ""\n\tfor _, ch := range s {\n\t\tout += string(ch)\n\t}\n\tout = ""\n\tout += "\'"\n\treturn out\n'
    )


def test_hand_built_functions():
    r = renderer_for("go")
    assert r.body(MIX_INTS) == (
        "\tout := []int{}\n"
        "\tfor i := n; i < len(xs); i++ {\n"
        "\t\tout = append(out, xs[i])\n"
        "\t}\n"
        "\tfor i := 0; i < len(xs); i++ {\n"
        "\t\tif xs[i] == xs[0] {\n"
        "\t\t\tout = append(out, i)\n"
        "\t\t} else if xs[i]-(n-1) > 3 || (xs[i]+n)%3 == 0 {\n"
        "\t\t\tout = append(out, -(xs[i] + n))\n"
        "\t\t} else {\n"
        "\t\t\tout = append(out, len(xs))\n"
        "\t\t\tout = append(out, 7)\n"
        "\t\t}\n"
        "\t}\n"
        "\treturn out\n"
    )
    assert r.body(MIX_STRINGS) == (
        "\tcounts := make(map[string]int)\n"
        "\tvar out strings.Builder\n"
        '\ttag := "x"\n'
        '\ts += "!"\n'
        "\tfor _, ch := range s {\n"
        '\t\tif !strings.ContainsRune("ab\'\\\\", ch) {\n'
        "\t\t\tout.WriteRune(unicode.ToUpper(ch))\n"
        "\t\t} else if ch == 'a' {\n"
        '\t\t\tout.WriteString("-")\n'
        "\t\t} else if ch == '\\'' {\n"
        '\t\t\ttag = tag + "q"\n'
        "\t\t} else {\n"
        "\t\t\tout.WriteRune(unicode.ToLower(ch))\n"
        "\t\t}\n"
        "\t}\n"
        "\tfor _, w := range words {\n"
        '\t\tif w == "cat" || out.Len() > 2 {\n'
        "\t\t\tcounts[w+out.String()] += len(w)\n"
        "\t\t} else {\n"
        "\t\t\tcounts[strings.ToLower(strings.ToUpper(w))]++\n"
        "\t\t}\n"
        "\t}\n"
        "\tcounts[tag] += out.Len()\n"
        "\treturn counts\n"
    )
    assert r.body(MIX_FLOATS) == (
        "\tif len(values) == 0 {\n"
        "\t\treturn -0.5\n"
        "\t}\n"
        "\ttotal := 0.0\n"
        "\tfor _, v := range values {\n"
        "\t\ttotal += -v * 2.0\n"
        "\t}\n"
        "\ttotal -= float64(n) / 4.0\n"
        "\treturn total / float64(len(values) - -n)\n"
    )


def _gofmt() -> str | None:
    tc = get_language("go").toolchain
    found = shutil.which("gofmt")
    return found or (tc.tool("go").rsplit("/", 1)[0] + "/gofmt" if tc.available else None)


def test_gofmt_leaves_every_rendered_body_unchanged():
    gofmt = _gofmt()
    if not gofmt or not shutil.which(gofmt):
        pytest.skip("gofmt is not installed")
    lang, r = get_language("go"), renderer_for("go")
    sources = [lang.prompt(g.fn.signature, "") + r.body(g.fn) + lang.completion_suffix for g in generate(60, seed=5)]
    functions = [*TYPED_FUNCTIONS, *(returning(e) for e, _ in EXPRESSIONS)]
    sources += [lang.prompt(fn.signature, "") + r.body(fn) + lang.completion_suffix for fn in functions]
    for src in sources:
        done = subprocess.run([gofmt], input=src, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0 and done.stdout == src, src


@pytest.mark.slow  # compiles and runs every program (tests/slow.py)
def test_generated_and_hand_built_problems_pass_in_go(engine):
    assert_all_pass("go", generate(40, seed=3) + typed_cases.items(), engine)
