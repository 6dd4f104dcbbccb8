"""Family IR -> Java: exact renderings of tricky trees (boxed ``Long`` values and ``.equals``,
ints boxed into lists and maps, ``int`` and ``long`` index loops, the StringBuilder, string
equality, ``merge`` for word counts, dead code after a return), the loops Java cannot express
with the IR's meaning, and generated and hand-built problems run through the engine."""

import textwrap

import pytest

from tests.problems.family.typed_cases import MIX_FLOATS, MIX_INTS, MIX_STRINGS, typed_items
from xpl.languages import UnsupportedError, get_language
from xpl.languages.types import BOOL, FLOAT, INT, STR, Param
from xpl.problems.family.generator import generate
from xpl.problems.family.ir import (
    CHAR,
    INT_LIST,
    STR_LIST,
    Assign,
    AugAssign,
    Bin,
    CharIn,
    ForEach,
    ForRange,
    Function,
    Index,
    Len,
    Let,
    Lit,
    Neg,
    Not,
    Push,
    Return,
    ToFloat,
    Var,
)
from xpl.problems.family.render import renderer_for
from xpl.problems.family.verify import verify

a, b, c, i = Var("a", INT), Var("b", INT), Var("c", INT), Var("i", INT)
xs, s, ch, out = Var("xs", INT_LIST), Var("s", STR), Var("ch", CHAR), Var("out", INT_LIST)
PARAMS = (("a", INT), ("b", INT), ("c", INT), ("xs", INT_LIST), ("s", STR))


def num(k):
    return Lit(k, INT)


def body(returns, *stmts, params=PARAMS):
    fn = Function("f", tuple(Param(p, t) for p, t in params), returns, tuple(stmts))
    return renderer_for("java").body(fn)


def java(text):
    """Expected body text, written flush left here and indented as the method's body."""
    return textwrap.indent(textwrap.dedent(text).lstrip("\n"), " " * 8)


@pytest.mark.parametrize(
    "expr, text",
    [
        (Bin("-", a, Bin("-", b, c)), "a - (b - c)"),
        (Bin("*", Bin("+", a, b), Neg(Bin("-", c, num(-2)))), "(a + b) * -(c - -2)"),
        (Bin("==", Index(xs, a), Index(xs, num(0))), "xs.get((int) a).equals(xs.get(0))"),
        (Bin("!=", Index(xs, Index(xs, num(0))), b), "xs.get(xs.get(0).intValue()) != b"),
        (Bin("==", Bin("+", Index(xs, a), Index(xs, b)), c), "xs.get((int) a) + xs.get((int) b) == c"),
        (Bin("!=", s, Lit("a'b", STR)), '!s.equals("a\'b")'),
        (Not(Bin("==", s, Lit("", STR))), '!s.equals("")'),
        (Bin("==", Len(xs), num(0)), "xs.isEmpty()"),
        (Bin(">", Len(s), num(0)), "!s.isEmpty()"),
        (Bin("and", Not(Bin(">", a, b)), Bin("or", Bin("<", a, c), Bin("<", b, c))), "!(a > b) && (a < c || b < c)"),
        (Bin("==", Bin("<", a, b), Bin("<", b, c)), "(a < b) == (b < c)"),
    ],
)
def test_expressions(expr, text):
    assert body(BOOL if expr.type == BOOL else INT, Return(expr)) == f"        return {text};\n"


def test_floats_and_casts():
    got = body(FLOAT, Return(Bin("/", ToFloat(Bin("+", a, b)), ToFloat(Len(xs)))))
    assert got == "        return (double) (a + b) / (double) xs.size();\n"


def test_ints_are_boxed_as_longs_and_index_loops_count_with_int():
    got = body(
        INT_LIST,
        Let("out", INT_LIST, Lit([], INT_LIST)),
        ForRange("i", num(1), Bin("+", a, num(1)), (Push("out", Bin("*", i, num(2))), Push("out", Index(xs, i)))),
        ForRange("i", b, Len(xs), (Push("out", Index(xs, Bin("-", i, num(1)))),)),
        Push("out", num(-4)),
        Push("out", Len(s)),
        Push("out", a),
        Return(out),
    )
    assert got == java("""
        ArrayList<Long> out = new ArrayList<>();
        for (int i = 1; i < a + 1; i++) {
            out.add((long) (i * 2));
            out.add(xs.get(i));
        }
        for (long i = b; i < xs.size(); i++) {
            out.add(xs.get((int) (i - 1)));
        }
        out.add(-4L);
        out.add((long) s.length());
        out.add(a);
        return out;
    """)


def test_chars_and_strings():
    word = Var("word", STR)
    got = body(
        STR_LIST,
        Let("found", STR_LIST, Lit(["x"], STR_LIST)),
        Let("word", STR, Lit("", STR)),
        ForEach("ch", s, (
            Assign("word", word),
            AugAssign("word", "+", ch),
            AugAssign("a", "*", num(2)),
        )),
        ForEach("ch", word, (Assign("a", num(0)),)),
        Return(Var("found", STR_LIST)),
    )  # fmt: skip
    # `word` is assigned too, so it stays a String; `+=` appends a char to it.
    assert got == java("""
        ArrayList<String> found = new ArrayList<String>(Arrays.<String>asList("x"));
        String word = "";
        for (char ch : s.toCharArray()) {
            word = word;
            word += ch;
            a *= 2;
        }
        for (char ch : word.toCharArray()) {
            a = 0;
        }
        return found;
    """)
    r = renderer_for("java")
    assert [r.char_literal(x) for x in ("a", "'", "\\", "\n", "\x07")] == ["'a'", "'\\''", "'\\\\'", "'\\n'", "'\\7'"]
    assert r.expr(Not(CharIn(ch, 'x"'))) == '"x\\"".indexOf(ch) < 0'


def test_dead_code_after_a_return_is_left_out():
    assert body(INT, Return(a), AugAssign("a", "+", num(1)), Return(b)) == "        return a;\n"


def test_hand_built_functions():
    r = renderer_for("java")
    assert r.body(MIX_INTS) == java("""
        ArrayList<Long> out = new ArrayList<>();
        for (long i = n; i < xs.size(); i++) {
            out.add(xs.get((int) i));
        }
        for (int i = 0; i < xs.size(); i++) {
            if (xs.get(i).equals(xs.get(0))) {
                out.add((long) i);
            } else if (xs.get(i) - (n - 1) > 3 || (xs.get(i) + n) % 3 == 0) {
                out.add(-(xs.get(i) + n));
            } else {
                out.add((long) xs.size());
                out.add(7L);
            }
        }
        return out;
    """)
    assert r.body(MIX_STRINGS) == java("""
        HashMap<String, Long> counts = new HashMap<>();
        StringBuilder out = new StringBuilder();
        String tag = "x";
        s += "!";
        for (char ch : s.toCharArray()) {
            if ("ab'\\\\".indexOf(ch) < 0) {
                out.append(Character.toUpperCase(ch));
            } else if (ch == 'a') {
                out.append("-");
            } else if (ch == '\\'') {
                tag = tag + "q";
            } else {
                out.append(Character.toLowerCase(ch));
            }
        }
        for (String w : words) {
            if (w.equals("cat") || out.length() > 2) {
                counts.merge(w + out.toString(), (long) w.length(), Long::sum);
            } else {
                counts.merge(w.toUpperCase(Locale.ROOT).toLowerCase(Locale.ROOT), 1L, Long::sum);
            }
        }
        counts.merge(tag, (long) out.length(), Long::sum);
        return counts;
    """)
    assert r.body(MIX_FLOATS) == java("""
        if (values.isEmpty()) {
            return -0.5;
        }
        double total = 0.0;
        for (double v : values) {
            total += -v * 2.0;
        }
        total -= (double) n / 4.0;
        return total / (double) (values.size() - -n);
    """)


@pytest.mark.parametrize(
    "loop, reason",
    [
        (ForRange("i", num(0), a, (Assign("i", num(5)),)), "assigned in the loop"),
        (ForRange("i", num(0), Len(xs), (Push("xs", num(1)),)), "bound"),
        (ForEach("c", xs, (Push("xs", c),)), "ConcurrentModificationException"),
        (ForEach("b", xs, ()), "hides"),
    ],
)
def test_loops_whose_meaning_java_cannot_keep_are_refused(loop, reason):
    with pytest.raises(UnsupportedError, match=reason):
        body(INT, loop, Return(a), params=(("a", INT), ("b", INT), ("xs", INT_LIST)))


def test_generated_and_hand_built_problems_pass_in_java():
    if not get_language("java").toolchain.available:
        pytest.skip(f"Java toolchain unavailable: {get_language('java').toolchain.problem}")
    items = generate(30, seed=3) + typed_items()
    v = verify(items, ["java"])
    assert v.failures == [], v.failures[:3]
    assert v.passed["java"] == len(items)
