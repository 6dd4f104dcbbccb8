"""The bracket hint that sends likely-broken programs to a compile of their own
(``xpl.languages.lexical``): no valid program of the family or of the tricky literals is taken
for broken (that would only cost time, but the hint is worthless if it does), and the shapes of
broken replies are caught: truncated, a stray bracket, a literal or comment that never ends."""

from __future__ import annotations

import pytest

from xpl.languages import get_language
from xpl.languages.demo import DEMO_DOC, DEMO_SIG, DEMO_TESTS, examples
from xpl.languages.lexical import csharp_brackets_balance, rust_brackets_balance
from xpl.languages.types import Signature, TestCase
from tests.languages import tricky

CHECKS = {"rust": rust_brackets_balance, "csharp": csharp_brackets_balance}

VALID = {
    "rust": [
        "fn f<'a>(x: &'a str) -> &'a str { x }\n",
        "fn g() -> (char, char, char, char) { ('(', '\\'', '\\u{7b}', b'[' as char) }\n",
        'fn h() -> usize { r#"(("#.len() + r"{".len() + b"]".len() + "\\"(".len() }\n',
        "fn k() { 'outer: loop { break 'outer; } } // ) unbalanced in a comment\n",
        "/* a ( in a comment */ fn m() -> i64 { /* } */ 1 }\n",
        "fn n(v: Vec<i64>) -> i64 { v.iter().map(|x| x * 2).sum::<i64>() }\n",
    ],
    "csharp": [
        'class P { static string F() { return @"C:\\dir\\" + @"say ""(""" + $"{1 + 2}" + "\\"{"; } }\n',
        "class P { static char[] G() { return new[] { '(', '\\'', '\\\\', '\\u007b' }; } }\n",
        "class P { /* ) */ static int H() { return 1; } // ]\n}\n",
        'class P { static string I(int x) { return $@"{x}\\("; } }\n',
    ],
}

BROKEN = {
    "rust": [
        "fn f(x: i64) -> i64 {\n    if x > 0 {\n        x\n",  # truncated
        "fn f(x: i64) -> i64 {\n    )\n    x\n}\n",  # a stray line
        'fn f() -> String { "never ends }\n',
        "fn f() -> i64 { 1 } /* never ends\n",
        'fn f() -> usize { r#"raw ends with the wrong hashes"##.len()\n',
        "fn f() -> Vec<i64> { vec![1, 2, 3) }\n",
    ],
    "csharp": [
        "class P { static int F(int x) { if (x > 0) { return x;\n",
        "class P { static int F() { ) return 1; } }\n",
        'class P { static string F() { return "never ends; } }\n',
        "class P { static int F() { return 1; } } /* never ends\n",
        "class P { static char F() { return '; } }\n",
    ],
}


@pytest.mark.parametrize("lang_name", sorted(CHECKS))
def test_valid_programs_are_not_taken_for_broken(lang_name):
    lang, check = get_language(lang_name), CHECKS[lang_name]
    for source in VALID[lang_name]:
        assert check(source), source
    ex = examples(lang_name)
    for kind in ("add", "add_wrong", "raise_on_zero"):
        program = lang.program(DEMO_SIG, DEMO_DOC, ex[kind], DEMO_TESTS)
        assert check(program) and not lang.likely_broken(program), kind
    # every tricky string as a literal of the harness (quotes, backslashes, brackets, braces)
    sig = Signature.parse("echo", [("s", "str")], "str")
    for s in tricky.STRINGS + ["(", "}", "[[", '"', "'", "\\", "{}}", "\"'(", "/*", "*/", "//"]:
        try:
            program = lang.program(sig, "Doc.", lang.return_template.format("s") if hasattr(lang, "return_template") else "", [TestCase((s,), s)])
        except Exception as exc:  # noqa: BLE001 - a value this PL cannot write is not the point here
            pytest.fail(f"{s!r}: {exc}")
        assert check(program), f"{s!r} taken for broken:\n{program}"


@pytest.mark.parametrize("lang_name", sorted(CHECKS))
def test_broken_shapes_are_caught(lang_name):
    lang, check = get_language(lang_name), CHECKS[lang_name]
    for source in BROKEN[lang_name]:
        assert not check(source), source
        assert lang.likely_broken(source)
    # a reply cut anywhere inside its body (max_new_tokens) is caught
    program = lang.program(DEMO_SIG, DEMO_DOC, examples(lang_name)["add"], DEMO_TESTS)
    start = program.index("{")
    end = program.index("\n}", start)  # the function's closing brace (MultiPL-E's stop sequence)
    assert end - start > 5
    for cut in range(start + 1, end + 1):
        assert not check(program[:cut]), program[:cut]


def test_other_pls_give_no_hint():
    for name in ("python", "java", "go", "cpp"):
        assert not get_language(name).likely_broken("def f(:\n  (((")
