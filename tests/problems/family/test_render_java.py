"""Family IR -> Java: exact renderings of tricky trees (boxed ``Long`` values and ``.equals``,
ints boxed into lists and maps, ``int`` and ``long`` index loops, the StringBuilder, string
equality, ``merge`` for word counts, dead code after a return), and generated and hand-built
problems run through the engine."""

from functools import partial

import pytest

from tests.problems.family import typed_cases
from tests.problems.family.render_helpers import (
    a,
    assert_all_pass,
    b,
    body_renderer,
    c,
    ch,
    indented,
    num,
    s,
    TRICKY_CHARS,
    index_loops,
    shared_expressions,
    xs,
)
from tests.problems.family.typed_cases import MIX_FLOATS, MIX_INTS, MIX_STRINGS
from xpl.languages.types import INT, STR
from xpl.problems.family.generator import generate
from xpl.problems.family.ir import (
    INT_LIST,
    STR_LIST,
    Assign,
    AugAssign,
    Bin,
    CharIn,
    ForEach,
    Index,
    Len,
    Let,
    Lit,
    Not,
    Return,
    Var,
)
from xpl.problems.family.render import renderer_for

out = Var("out", INT_LIST)
body = body_renderer("java", params=(("a", INT), ("b", INT), ("c", INT), ("xs", INT_LIST), ("s", STR)))
java = partial(indented, width=8)  # expected text, written flush left, as the method's body


@pytest.mark.parametrize(
    "expr, text",
    shared_expressions(
        ["a - (b - c)", "(a + b) * -(c - -2)", "(a < b) == (b < c)"],
        {
            "float(a + b) / float(len(xs))": "(double) (a + b) / (double) xs.size()",
            "len(xs) == 0": "xs.isEmpty()",
            "not a > b and (a < c or b < c)": "!(a > b) && (a < c || b < c)",
        },
    )
    + [
        (Bin("==", Index(xs, a), Index(xs, num(0))), "xs.get((int) a).equals(xs.get(0))"),
        (Bin("!=", Index(xs, Index(xs, num(0))), b), "xs.get(xs.get(0).intValue()) != b"),
        (Bin("==", Bin("+", Index(xs, a), Index(xs, b)), c), "xs.get((int) a) + xs.get((int) b) == c"),
        (Bin("!=", s, Lit("a'b", STR)), '!s.equals("a\'b")'),
        (Not(Bin("==", s, Lit("", STR))), '!s.equals("")'),
        (Bin(">", Len(s), num(0)), "!s.isEmpty()"),
    ],
)
def test_expressions(expr, text):
    assert body(expr.type, Return(expr)) == f"        return {text};\n"


def test_ints_are_boxed_as_longs_and_index_loops_count_with_int():
    assert body(INT_LIST, *index_loops()) == java("""
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
    assert [r.char_literal(x) for x in TRICKY_CHARS] == ["'a'", "'\\''", "'\\\\'", "'\\n'", "'\\7'"]
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


@pytest.mark.slow  # compiles and runs every program (tests/slow.py)
def test_generated_and_hand_built_problems_pass_in_java(engine):
    assert_all_pass("java", generate(30, seed=3) + typed_cases.items(), engine)
