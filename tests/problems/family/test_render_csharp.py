"""Family IR -> C# (Mono 6.8's mcs): exact renderings of tricky trees (``int`` and ``long``
index loops, list and string lengths, the StringBuilder, culture-invariant case conversion,
``ContainsKey`` word counts with a key computed once, dead code after a return), and generated
and hand-built problems run through the engine."""

from functools import partial

import pytest

from tests.problems.family import typed_cases
from tests.problems.family.render_helpers import (
    a,
    assert_all_pass,
    b,
    body_renderer,
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
    WORD_COUNTS,
    Assign,
    AugAssign,
    Bin,
    CharIn,
    Concat,
    DictAdd,
    ForEach,
    Index,
    Len,
    Let,
    Lit,
    Not,
    Push,
    Return,
    ToLower,
    ToUpper,
    Var,
)
from xpl.problems.family.render import renderer_for

out = Var("out", INT_LIST)
body = body_renderer("csharp", params=(("a", INT), ("b", INT), ("c", INT), ("xs", INT_LIST), ("s", STR)))
csharp = partial(indented, width=8)  # expected text, written flush left, as the method's body


@pytest.mark.parametrize(
    "expr, text",
    shared_expressions(
        ["a - (b - c)", "(a + b) * -(c - -2)", "(a < b) == (b < c)"],
        {
            "float(a + b) / float(len(xs))": "(double) (a + b) / (double) xs.Count",
            "not a > b and (a < c or b < c)": "!(a > b) && (a < c || b < c)",
        },
    )
    + [
        (Bin("==", Index(xs, a), Index(xs, num(0))), "xs[(int) a] == xs[0]"),
        (Bin("!=", Index(xs, Index(xs, Bin("+", a, num(1)))), b), "xs[(int) xs[(int) (a + 1)]] != b"),
        (Bin("!=", s, Lit("a'b", STR)), 's != "a\'b"'),
        (Bin("==", Len(xs), Len(s)), "xs.Count == s.Length"),
        (Bin("==", Concat(ToUpper(s), ToLower(s)), s), "s.ToUpperInvariant() + s.ToLowerInvariant() == s"),
    ],
)
def test_expressions(expr, text):
    assert body(expr.type, Return(expr)) == f"        return {text};\n"


def test_index_loops_count_with_int_unless_they_start_at_a_long():
    assert body(INT_LIST, *index_loops()) == csharp("""
        var out_ = new List<long>();
        for (int i = 1; i < a + 1; i++) {
            out_.Add(i * 2);
            out_.Add(xs[i]);
        }
        for (long i = b; i < xs.Count; i++) {
            out_.Add(xs[(int) (i - 1)]);
        }
        out_.Add(-4);
        out_.Add(s.Length);
        out_.Add(a);
        return out_;
    """)


def test_strings_chars_and_word_counts():
    word, key, counts = Var("word", STR), Var("key", STR), Var("counts", WORD_COUNTS)
    got = body(
        WORD_COUNTS,
        Let("counts", WORD_COUNTS, Lit({}, WORD_COUNTS)),
        Let("word", STR, Lit("", STR)),
        Let("key", STR, Lit("k", STR)),
        ForEach("ch", s, (
            AugAssign("word", "+", ch),
            DictAdd("counts", key, num(2)),
            DictAdd("counts", Concat(key, word), Len(word)),
        )),
        DictAdd("counts", ToLower(s), num(1)),
        Return(counts),
    )  # fmt: skip
    # `word` is only appended to: a StringBuilder. The keys that are expressions are computed
    # once, into locals whose names clash with nothing (`key` is taken).
    assert got == csharp("""
        var counts = new Dictionary<string, long>();
        var word = new StringBuilder();
        string key = "k";
        foreach (char ch in s) {
            word.Append(ch);
            if (counts.ContainsKey(key)) {
                counts[key] += 2;
            } else {
                counts[key] = 2;
            }
            string key2 = key + word.ToString();
            if (counts.ContainsKey(key2)) {
                counts[key2] += word.Length;
            } else {
                counts[key2] = word.Length;
            }
        }
        string key3 = s.ToLowerInvariant();
        if (counts.ContainsKey(key3)) {
            counts[key3]++;
        } else {
            counts[key3] = 1;
        }
        return counts;
    """)
    r = renderer_for("csharp")
    assert [r.char_literal(x) for x in TRICKY_CHARS] == [
        "'a'",
        "'\\''",
        "'\\\\'",
        "'\\n'",
        "'\\u0007'",
    ]
    assert r.expr(Not(CharIn(ToUpper(ch), 'x"'))) == '!"x\\"".Contains(char.ToUpperInvariant(ch))'


def test_strings_that_are_assigned_stay_strings():
    word = Var("word", STR)
    got = body(
        STR_LIST,
        Let("found", STR_LIST, Lit(["x"], STR_LIST)),
        Let("word", STR, Lit("", STR)),
        ForEach("ch", s, (AugAssign("word", "+", ch), AugAssign("a", "*", num(2)))),
        Assign("word", Concat(word, s)),
        Push("found", word),
        Return(Var("found", STR_LIST)),
    )
    assert got == csharp("""
        var found = new List<string> { "x" };
        string word = "";
        foreach (char ch in s) {
            word += ch;
            a *= 2;
        }
        word = word + s;
        found.Add(word);
        return found;
    """)


def test_dead_code_after_a_return_is_left_out():
    assert body(INT, Return(a), AugAssign("a", "+", num(1)), Return(b)) == "        return a;\n"


def test_hand_built_functions():
    r = renderer_for("csharp")
    assert r.body(MIX_INTS) == csharp("""
        var out_ = new List<long>();
        for (long i = n; i < xs.Count; i++) {
            out_.Add(xs[(int) i]);
        }
        for (int i = 0; i < xs.Count; i++) {
            if (xs[i] == xs[0]) {
                out_.Add(i);
            } else if (xs[i] - (n - 1) > 3 || (xs[i] + n) % 3 == 0) {
                out_.Add(-(xs[i] + n));
            } else {
                out_.Add(xs.Count);
                out_.Add(7);
            }
        }
        return out_;
    """)
    assert r.body(MIX_STRINGS).startswith(
        csharp("""
        var counts = new Dictionary<string, long>();
        var out_ = new StringBuilder();
        string tag = "x";
        s += "!";
        foreach (char ch in s) {
            if (!"ab'\\\\".Contains(ch)) {
                out_.Append(char.ToUpperInvariant(ch));
            } else if (ch == 'a') {
                out_.Append("-");
            } else if (ch == '\\'') {
                tag = tag + "q";
            } else {
                out_.Append(char.ToLowerInvariant(ch));
            }
        }
    """)
    )
    assert r.body(MIX_FLOATS) == csharp("""
        if (values.Count == 0) {
            return -0.5;
        }
        double total = 0.0;
        foreach (double v in values) {
            total += -v * 2.0;
        }
        total -= (double) n / 4.0;
        return total / (double) (values.Count - -n);
    """)


@pytest.mark.slow  # compiles and runs every program (tests/slow.py)
def test_generated_and_hand_built_problems_pass_in_csharp(engine):
    assert_all_pass("csharp", generate(30, seed=3) + typed_cases.items(), engine)
