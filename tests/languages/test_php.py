"""PHP-specific checks beyond the conformance suite: literal edge cases, PHP array semantics in
the harness's deep equality, names PHP reserves (keywords, built-in functions), and the batch
plan (run without the engine)."""

from __future__ import annotations

import math

import pytest

from xpl.execution.baseline import run_batch_unsandboxed, run_one
from xpl.languages import get_language
from xpl.languages.types import INT_MAX, INT_MIN, Signature, TestCase, UnsupportedError
from tests.languages import tricky
from tests.languages.harness import markers

PHP = get_language("php")
needs_php = pytest.mark.skipif(not PHP.toolchain.available, reason="PHP toolchain not installed")

# The shared tricky strings plus those that matter to this PL's literal syntax.
TRICKY_STRINGS = tricky.STRINGS + ['\\\\u{41}', '\\$a', '$', '$$', '{$a}', '?>', '<?php echo 1; ?>', '\u2028', '😀']
TRICKY = [
    ("str", TRICKY_STRINGS),
    ("int", [INT_MAX, INT_MIN, -1, 0]),
    ("float", [math.nan, math.inf, -math.inf, -0.0, 5e-324, 1.7976931348623157e308, 0.1, 1e16, 2.0]),
    ("List[int]", [[INT_MIN, INT_MAX], []]),
    ("Dict[int, str]", [{0: "a", -5: "$b", INT_MIN: ""}, {}]),
    ("Dict[str, List[Optional[int]]]", [{"k": [None, 1]}, {"": []}]),
    ("List[Optional[str]]", [[None, "x", ""]]),
    ("Tuple[str, Tuple[int, bool], List[float]]", [("a", (1, False), [0.5]), ("", (0, True), [])]),
    ("Optional[List[int]]", [None, [], [3]]),
]


def outcomes(program: str, nonce: str = "-") -> tuple[list[str], object]:
    res = run_one("php", program, nonce=nonce)
    return markers(res.stdout, nonce), res


def program(params, returns, body, tests, doc="Test.", name="f"):
    sig = Signature.parse(name, params, returns)
    for t in tests:
        t.check(sig)
    return PHP.check_program(sig, doc, body, tests)


# --------------------------------------------------------------------- rendering (no php needed)


def test_literals():
    assert PHP.render_value(INT_MIN, Signature.parse("f", [], "int").returns) == "PHP_INT_MIN"
    assert PHP.render_value([INT_MIN, 7], Signature.parse("f", [], "List[int]").returns) == "[PHP_INT_MIN, 7]"
    ft = Signature.parse("f", [], "float").returns
    rendered = [PHP.render_value(v, ft) for v in (math.nan, math.inf, -math.inf, 3, 1e-7)]
    assert rendered == ["NAN", "INF", "-INF", "3.0", "1e-07"]
    st = Signature.parse("f", [], "str").returns
    assert PHP.render_value('{$a} ${b} \\ "q" é\n', st) == '"{\\$a} \\${b} \\\\ \\"q\\" \\u{e9}\\n"'
    dt = Signature.parse("f", [], "Dict[str, Optional[bool]]").returns
    assert PHP.render_value({"a": None, "b": True}, dt) == '["a" => null, "b" => true]'


@pytest.mark.parametrize(
    "annotation", ["Dict[float, int]", "Dict[bool, int]", "Dict[Optional[str], int]", "Dict[Tuple[int, int], int]"]
)
def test_dict_keys_php_arrays_cannot_hold_are_unsupported(annotation):
    sig = Signature.parse("f", [("d", annotation)], "int")
    assert "dict keys" in PHP.supports(sig)
    with pytest.raises(UnsupportedError):
        PHP.render_value({}, sig.params[0].type)


def test_lone_surrogates_are_unsupported():
    with pytest.raises(UnsupportedError):
        PHP.render_string("\ud800")


def test_prompt_and_names():
    sig = Signature.parse("list", [("this", "int"), ("class", "List[int]")], "int")
    assert PHP.prompt(sig, "Doc ?> here\n>>> list(1, [2])\n3") == (
        "<?php\n// Doc ? > here\n// >>> list(1, [2])\n// 3\nfunction list_($this_, $class) {\n"
    )
    assert PHP.identifier("Echo") == "Echo_"  # keywords are case-insensitive


def test_builtin_function_names_are_renamed():
    # HumanEval/23 is named strlen: PHP cannot declare it ("Cannot redeclare strlen()")
    assert PHP.identifier("strlen") == "strlen_" and PHP.identifier("Array_Map") == "Array_Map_"
    assert PHP.identifier("mb_strlen") == "mb_strlen_" and PHP.identifier("strlength") == "strlength"
    sig = Signature.parse("strlen", [("string", "str")], "int")
    assert PHP.prompt(sig, "Doc.").endswith("function strlen_($string) {\n")
    assert '__xpl_run("strlen_", [' in PHP.check_harness(sig, [TestCase(("",), 0)])


def test_patterns():
    assert PHP.looks_like("syntax", 'PHP Parse error:  syntax error, unexpected token "*" in /b/main.php on line 3')
    assert PHP.looks_like("syntax", '\nParse error: syntax error, unexpected token "}" in /b/main.php on line 9')
    assert PHP.looks_like("memory", "\nmmap() failed: [12] Cannot allocate memory\nOut of memory\n")
    assert PHP.looks_like("memory", "PHP Fatal error:  Allowed memory size of 134217728 bytes exhausted (tried")
    assert not PHP.looks_like("memory", 'test 0: expected "Out of memory", got ""')


# --------------------------------------------------------------------- running


@needs_php
@pytest.mark.parametrize("annotation, values", TRICKY, ids=[a for a, _ in TRICKY])
def test_tricky_values_round_trip(annotation, values):
    tests = [TestCase((v,), v) for v in values]
    got, res = outcomes(program([("x", annotation)], annotation, "    return $x;\n", tests))
    assert got == ["pass"] * len(values) + ["done"], res.stderr
    assert res.exit_code == 0


@needs_php
def test_strings_reach_php_unchanged():
    # identity would also pass if a literal were mangled the same way twice: compare lengths too
    tests = [TestCase((s,), len(s.encode())) for s in TRICKY_STRINGS]
    got, res = outcomes(program([("s", "str")], "int", "    return strlen($s);\n", tests))
    assert got == ["pass"] * len(tests) + ["done"], res.stderr


@needs_php
@pytest.mark.parametrize(
    "returns, body, expected, outcome",
    [
        ("float", "    return 2;\n", 2.0, "pass"),  # an int where a float is expected
        ("float", "    return 0.1 + 0.2;\n", 0.3, "pass"),
        ("float", "    return NAN;\n", math.nan, "pass"),
        ("bool", "    return 1;\n", True, "fail"),
        ("int", "    return true;\n", 1, "fail"),
        ("int", "    return 1.0;\n", 1, "pass"),  # float vs int: compared as numbers, as in Python
        ("str", "    return 1;\n", "1", "fail"),
        ("Optional[int]", "    return 0;\n", None, "fail"),
        ("Optional[int]", "    return null;\n", None, "pass"),
        ("Dict[str, int]", "    return ['b' => 2, 'a' => 1];\n", {"a": 1, "b": 2}, "pass"),  # order-insensitive
        ("Dict[str, int]", "    return ['a' => 1];\n", {"a": 1, "b": 2}, "fail"),
        ("List[int]", "    return [3, 1];\n", [1, 3], "fail"),
        # array_filter keeps keys: [1 => 3] is not the list [3] (MultiPL-E's === agrees)
        ("List[int]", "    return array_filter([1, 3], fn($v) => $v > 1);\n", [3], "fail"),
        ("List[int]", "    return array_values(array_filter([1, 3], fn($v) => $v > 1));\n", [3], "pass"),
        ("List[List[int]]", "    return [[1], []];\n", [[1], []], "pass"),
        ("List[List[int]]", "    return [[1], [2]];\n", [[1], []], "fail"),
    ],
)
def test_deep_equality(returns, body, expected, outcome):
    got, res = outcomes(program([], returns, body, [TestCase((), expected)]))
    assert got == [outcome, "done"], res.stderr
    assert res.exit_code == (0 if outcome == "pass" else 1)


@needs_php
def test_nonce_errors_and_diagnostics():
    body = "    if ($a == 0) {\n        throw new Exception(\"zero\\nline\");\n    }\n    return intdiv($b, $a);\n"
    tests = [TestCase((1, 2), 2), TestCase((0, 1), 1), TestCase((2, 0), 1)]
    got, res = outcomes(program([("a", "int"), ("b", "int")], "int", body, tests), nonce="n0nce")
    assert got == ["pass", "error", "fail", "done"]
    assert res.exit_code == 1
    assert "test 1: Exception: zero\\nline" in res.stderr
    assert "test 2: expected 1, got 0" in res.stderr


@needs_php
def test_reserved_names_and_closing_tag_in_docstring_run():
    prog = program([("this", "int"), ("function", "int")], "int", "    return $this_ + $function;\n",
                   [TestCase((1, 2), 3)], doc="Add ?> and print nothing.", name="list")
    got, res = outcomes(prog)
    assert got == ["pass", "done"], res.stderr
    assert not res.stdout.startswith(" and print"), res.stdout  # "?>" did not leave PHP mode


@needs_php
def test_a_function_named_like_a_builtin_runs():
    tests = [TestCase(("",), 0), TestCase(("abc",), 3)]
    prog = program([("string", "str")], "int", "    return strlen($string);\n", tests, name="strlen")
    got, res = outcomes(prog)
    assert got == ["pass", "pass", "done"], res.stderr
    assert res.exit_code == 0


@needs_php
def test_batch_runs_each_candidate_as_its_own_program():
    sig = Signature.parse("add", [("a", "int"), ("b", "int")], "int")
    tests = [TestCase((1, 2), 3), TestCase((2, 2), 4)]
    bodies = ["    return $a + $b;\n", "    return $a +* $b;\n", "    return $a * $b;\n"]
    plan = PHP.plan_batch([PHP.check_program(sig, "Add.", b, tests) for b in bodies], PHP.require())
    assert plan.commands == [] and len(plan.runs) == 3 and sorted(plan.owners.values()) == [0, 1, 2]
    ok, broken, half = run_batch_unsandboxed("php", [PHP.check_program(sig, "Add.", b, tests) for b in bodies])
    assert ok.exit_code == 0 and ok.stdout.count("pass") == 2
    assert broken.exit_code != 0 and "@@xpl" not in broken.stdout
    assert PHP.looks_like("syntax", broken.stderr + broken.stdout)
    assert half.exit_code == 1 and "@@xpl - 0 fail" in half.stdout and "@@xpl - 1 pass" in half.stdout
