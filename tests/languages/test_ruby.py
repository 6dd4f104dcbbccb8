"""Ruby-specific checks beyond the conformance suite: literal edge cases (interpolation),
deep equality of Ruby values, parameter names Ruby rejects, and the batch plan."""

from __future__ import annotations

import math

import pytest

from xpl.execution.baseline import run_batch_unsandboxed, run_one
from xpl.languages import get_language
from xpl.languages.types import INT_MAX, INT_MIN, Signature, TestCase, UnsupportedError
from tests.languages import tricky
from tests.languages.harness import markers

RUBY = get_language("ruby")
needs_ruby = pytest.mark.skipif(not RUBY.toolchain.available, reason="Ruby toolchain not installed")

# The shared tricky strings plus those that matter to this PL's literal syntax.
TRICKY_STRINGS = tricky.STRINGS + ['\\u{41}', '#', '##', '#@a', '#@@a', '#$a', '\\#{a}', '#{', '%w[x]', '\u2028', '😀']
TRICKY = [
    ("str", TRICKY_STRINGS),
    ("int", [INT_MAX, INT_MIN, -1, 0]),
    ("float", [math.nan, math.inf, -math.inf, -0.0, 5e-324, 1.7976931348623157e308, 0.1, 1e16, 2.0]),
    ("List[int]", [[INT_MIN, INT_MAX], []]),
    ("Dict[int, str]", [{0: "a", -5: "#{b}", INT_MIN: ""}, {}]),
    ("Dict[str, List[Optional[int]]]", [{"k": [None, 1]}, {"": []}]),
    ("Dict[Tuple[int, str], float]", [{(1, "a"): 0.5}]),
    ("List[Optional[str]]", [[None, "x", ""]]),
    ("Tuple[str, Tuple[int, bool], List[float]]", [("a", (1, False), [0.5]), ("", (0, True), [])]),
    ("Optional[List[int]]", [None, [], [3]]),
]


def outcomes(program: str, nonce: str = "-"):
    res = run_one("ruby", program, nonce=nonce)
    return markers(res.stdout, nonce), res


def program(params, returns, body, tests, doc="Test.", name="f"):
    sig = Signature.parse(name, params, returns)
    for t in tests:
        t.check(sig)
    return RUBY.check_program(sig, doc, body, tests)


# --------------------------------------------------------------------- rendering (no ruby needed)


def test_literals():
    st = Signature.parse("f", [], "str").returns
    assert RUBY.render_value('#{a} #@b #$c \\ "q" é\n', st) == '"\\#{a} \\#@b \\#$c \\\\ \\"q\\" \\u{e9}\\n"'
    ft = Signature.parse("f", [], "float").returns
    assert [RUBY.render_value(v, ft) for v in (math.nan, math.inf, -math.inf, 3, 1e-7)] == [
        "Float::NAN", "Float::INFINITY", "-Float::INFINITY", "3.0", "1e-07"
    ]
    dt = Signature.parse("f", [], "Dict[int, Tuple[bool, Optional[str]]]").returns
    assert RUBY.render_value({INT_MIN: (True, None)}, dt) == "{-9223372036854775808 => [true, nil]}"
    with pytest.raises(UnsupportedError):
        RUBY.render_string("\udc00")


def test_prompt_renames_keywords_and_constants():
    sig = Signature.parse("solve", [("N", "int"), ("n", "int"), ("end", "int")], "int")
    prompt = RUBY.prompt(sig, "Doc.\n>>> solve(1, 2, 3)\n6")
    assert prompt == "# Doc.\n# >>> solve(1, 2, 3)\n# 6\ndef solve(n_, n, end_)\n"


def test_patterns():
    assert RUBY.looks_like("syntax", "/b/main.rb:5: syntax error, unexpected '*'\n  return a +* b\n")
    assert RUBY.looks_like("syntax", "main.rb: main.rb:5: syntax errors found (SyntaxError)")
    assert not RUBY.looks_like("syntax", "test 0: SyntaxError: (eval):1: syntax error, unexpected end-of-input")
    assert RUBY.looks_like("memory", "main.rb: failed to allocate memory (NoMemoryError)")
    assert RUBY.looks_like("memory", "test 3: NoMemoryError: failed to allocate memory")


# --------------------------------------------------------------------- running


@needs_ruby
@pytest.mark.parametrize("annotation, values", TRICKY, ids=[a for a, _ in TRICKY])
def test_tricky_values_round_trip(annotation, values):
    tests = [TestCase((v,), v) for v in values]
    got, res = outcomes(program([("x", annotation)], annotation, "  return x\n", tests))
    assert got == ["pass"] * len(values) + ["done"], res.stderr
    assert res.exit_code == 0


@needs_ruby
def test_strings_reach_ruby_unchanged():
    tests = [TestCase((s,), len(s.encode())) for s in TRICKY_STRINGS]
    got, res = outcomes(program([("s", "str")], "int", "  return s.bytesize\n", tests))
    assert got == ["pass"] * len(tests) + ["done"], res.stderr


@needs_ruby
@pytest.mark.parametrize(
    "returns, body, expected, outcome",
    [
        ("float", "  return 2\n", 2.0, "pass"),
        ("float", "  return 0.1 + 0.2\n", 0.3, "pass"),
        ("float", "  return Float::NAN\n", math.nan, "pass"),
        ("float", "  return 2.0001\n", 2.0, "fail"),
        ("bool", "  return 1\n", True, "fail"),
        ("int", "  return true\n", 1, "fail"),
        ("int", "  return 2**64 - 2**64 + 5\n", 5, "pass"),
        ("str", "  return :a\n", "a", "fail"),
        ("Optional[int]", "  return false\n", None, "fail"),
        ("Dict[str, int]", "  return {'b' => 2, 'a' => 1}\n", {"a": 1, "b": 2}, "pass"),
        ("Dict[str, int]", "  return {'a' => 1}\n", {"a": 1, "b": 2}, "fail"),
        ("List[int]", "  return [3, 1]\n", [1, 3], "fail"),
        ("Tuple[int, float]", "  return [1, 2]\n", (1, 2.0), "pass"),
        ("List[List[int]]", "  return [[1], [2]]\n", [[1], []], "fail"),
    ],
)
def test_deep_equality(returns, body, expected, outcome):
    got, res = outcomes(program([], returns, body, [TestCase((), expected)]))
    assert got == [outcome, "done"], res.stderr
    assert res.exit_code == (0 if outcome == "pass" else 1)


@needs_ruby
def test_nonce_errors_stack_overflow_and_diagnostics():
    body = "  raise \"zero\\nline\" if a == 0\n  return f(a, b) if a < 0\n  return b / a\n"
    tests = [TestCase((1, 2), 2), TestCase((0, 1), 1), TestCase((2, 0), 1), TestCase((-1, 0), 0)]
    got, res = outcomes(program([("a", "int"), ("b", "int")], "int", body, tests), nonce="n0nce")
    assert got == ["pass", "error", "fail", "error", "done"]
    assert res.exit_code == 1
    assert "test 1: RuntimeError: zero\\nline" in res.stderr
    assert "test 2: expected 1, got 0" in res.stderr
    assert "test 3: SystemStackError" in res.stderr


@needs_ruby
def test_candidate_exit_is_not_swallowed():
    got, res = outcomes(program([], "int", "  exit 3\n", [TestCase((), 1)]))
    assert got == [] and res.exit_code == 3


@needs_ruby
def test_renamed_parameters_and_harness_proof_names_run():
    # a solution that defines puts/exit at the top level must not break the harness
    prog = program([("N", "int"), ("end", "int")], "int", "  return n + end_\n", [TestCase((1, 2), 3)], name="solve")
    prog = prog.replace("\n\ndef __xpl_close", "\ndef puts(*) = nil\ndef exit(*) = nil\n\ndef __xpl_close", 1)
    got, res = outcomes(prog)
    assert got == ["pass", "done"], res.stderr
    assert res.exit_code == 0


@needs_ruby
def test_batch_runs_each_candidate_as_its_own_program():
    sig = Signature.parse("add", [("a", "int"), ("b", "int")], "int")
    tests = [TestCase((1, 2), 3), TestCase((2, 2), 4)]
    bodies = ["  return a + b\n", "  return a +* b\n", "  return a * b\n"]
    ok, broken, half = run_batch_unsandboxed("ruby", [RUBY.check_program(sig, "Add.", b, tests) for b in bodies])
    assert ok.exit_code == 0 and ok.stdout.count("pass") == 2
    assert broken.exit_code != 0 and "@@xpl" not in broken.stdout
    assert RUBY.looks_like("syntax", broken.stderr + broken.stdout)
    assert half.exit_code == 1 and "@@xpl - 0 fail" in half.stdout and "@@xpl - 1 pass" in half.stdout


@needs_ruby
def test_programs_run_without_rubygems_but_load_every_gem(execute):
    """The engine runs `ruby --disable-gems` with every gem's folder on RUBYLIB: bundled gems
    (prime), default gems (set, json) and the standard library load as under plain `ruby`;
    only the Gem module itself is gone (what docs/languages.md says)."""
    loads = 'require "prime"\nrequire "set"\nrequire "json"\nrequire "bigdecimal"\nputs Prime.first(3).sum + Set[1, 1].size, JSON.generate([BigDecimal("1.5").to_f])\n'
    res = execute("ruby", loads)
    assert res.status.value == "ok" and res.stdout.split() == ["11", "[1.5]"], (res.status, res.stderr)
    res = execute("ruby", "puts defined?(Gem).inspect\n")
    assert res.stdout.strip() == "nil"
    # The peer's way (MultiPL-E: plain `ruby file.rb`) still has RubyGems.
    assert run_one("ruby", "puts defined?(Gem).inspect\n").stdout.strip() == '"constant"'
