"""Java-specific checks beyond the conformance suite: how sources are scanned for their class
names, literal and comment edge cases (Java translates \\u escapes everywhere, comments
included), the batch build (blame names the broken candidate; a candidate behaves in the
batch exactly as alone) and what the JVM does at its memory and stack limits."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from xpl.languages.examples.java import SNIPPETS
from xpl.execution import Limits
from xpl.execution.baseline import run_one
from xpl.languages import get_language
from xpl.languages.base import BuildPlan
from xpl.languages.java import _defuse_unicode_escapes, _scan
from xpl.languages.types import INT_MAX, INT_MIN, Signature, TestCase, UnsupportedError
from tests.languages import tricky
from xpl.execution.baseline import build_plan, run_built
from tests.slow import toolchain_test

JAVA = get_language("java")
# Runs the toolchain: skipped without it, and `slow` (tests/slow.py).
needs_java = toolchain_test(JAVA.toolchain.available, "JDK 17 not installed")

# The shared tricky strings plus those that matter to this PL's literal syntax.
TRICKY_STRINGS = tricky.STRINGS + ['\\\\u0041', '\\u']
TRICKY = [
    ("int", [INT_MAX, INT_MIN, -1, 0]),
    ("float", [math.nan, math.inf, -math.inf, -0.0, 5e-324, 1.7976931348623157e308, 1e-7, 1e16, 2.0]),
    ("List[Optional[float]]", [[None, 1.5, math.nan], []]),
    ("Dict[Tuple[int, str], List[float]]", [{(1, "a"): [0.5], (INT_MIN, ""): []}, {}]),
    ("Optional[List[Tuple[int, Optional[str]]]]", [None, [], [(1, None), (2, "x")]]),
    ("Tuple[str, Tuple[int, bool], List[float]]", [("a", (1, False), [0.5])]),
    ("Tuple[int]", [(7,)]),
    ("Dict[str, Dict[int, bool]]", [{"a": {1: True}, "b": {}}]),
]
ADD = Signature.parse("add", [("a", "int"), ("b", "int")], "int")
ADD_TESTS = [TestCase((1, 2), 3), TestCase((0, 5), 5), TestCase((-4, 4), 0), TestCase((7, 0), 7)]




def _run(plan: BuildPlan, tmp: Path, i: int) -> tuple[str, int]:
    proc = run_built("java", plan, i, tmp)
    return proc.stdout, proc.returncode


# ------------------------------------------------------------------ no toolchain needed


def test_scan_finds_package_public_type_and_main_class():
    src = (
        "package a . b;\n/* public class Fake { */ import java.util.*;\n"
        "class Helper { String s = \"class Nope {\"; char c = '{'; }\n"
        "public final class Runner<T> {\n    @Deprecated static public void main(String... args) {}\n}\n"
    )
    unit = _scan(src)
    assert (unit.package, unit.file_type, unit.main_type) == ("a.b", "Runner", "Runner")
    # main in a non-public class, public type elsewhere: the file is named after the public one
    unit = _scan("public record R(int x) {}\nclass M { public static void main(String[] a) {} }\n")
    assert (unit.package, unit.file_type, unit.main_type) == ("", "R", "M")
    # a main that is not static does not count; text blocks are skipped
    unit = _scan('class A { void main(String[] a) {} String t = """\n}}}\n"""; }\nclass B {}\n')
    assert (unit.file_type, unit.main_type) == ("A", "A")


def test_unicode_escapes_in_comments_are_defused():
    assert _defuse_unicode_escapes("C:\\users\\u000a") == "C:\\\\users\\\\u000a"
    assert _defuse_unicode_escapes("\\\\u0041 stays") == "\\\\u0041 stays"  # even run: not an escape
    assert _defuse_unicode_escapes("\\\\\\u") == "\\\\\\\\u"
    prompt = JAVA.prompt(ADD, "Paths like C:\\users\\u0041.\n>>> add(2, 3)\n5")
    assert "// Paths like C:\\\\users\\\\u0041." in prompt


def test_literals():
    r = JAVA.render_value
    assert r(INT_MIN, Signature.parse("f", [], "int").returns) == "Long.MIN_VALUE"
    assert r(INT_MAX, ADD.returns) == "9223372036854775807L"
    t = Signature.parse("f", [("x", "Dict[str, List[Optional[float]]]")], "None").params[0].type
    assert r({"a": [None, 1.5]}, t) == (
        "new HashMap<String, ArrayList<Optional<Double>>>(Map.<String, ArrayList<Optional<Double>>>ofEntries("
        'Map.<String, ArrayList<Optional<Double>>>entry("a", new ArrayList<Optional<Double>>('
        "Arrays.<Optional<Double>>asList(Optional.empty(), Optional.of(1.5))))))"
    )
    s = Signature.parse("f", [("x", "str")], "str").returns
    assert r('é𝄞\n"\\\x00', s) == '"\\u00e9\\ud834\\udd1e\\n\\"\\\\\\u0000"'
    tt = Signature.parse("f", [], "Tuple[int, str]").returns
    assert r((1, "a"), tt) == 'new Pair<Long, String>(1L, "a")'


def test_types_records_and_unsupported():
    sig = Signature.parse("f", [("x", "List[Tuple[int, float]]"), ("y", "Optional[Tuple[str, str, bool]]")], "None")
    prompt = JAVA.prompt(sig, "")
    assert "record Pair<A, B>(A first, B second) {}\n" in prompt
    assert "record Triple<A, B, C>(A first, B second, C third) {}\n" in prompt
    assert "record Single" not in prompt
    assert prompt.endswith(
        "    public static void f(ArrayList<Pair<Long, Double>> x, Optional<Triple<String, String, Boolean>> y) {\n"
    )
    for bad in ("Tuple[()]", "Tuple[int, int, int, int, int, int, int]", "List[None]"):
        assert JAVA.supports(Signature.parse("f", [("x", bad)], "int")) is not None, bad
    assert JAVA.supports(Signature.parse("f", [("x", "None")], "int")) is not None
    with pytest.raises(UnsupportedError):
        JAVA.render_value(2**63, ADD.returns)
    assert JAVA.identifier("class") == "class_" and JAVA.identifier("record") == "record_"


def test_run_env_sizes_the_heap_from_the_memory_limit():
    opts = JAVA.run_env(JAVA.toolchain, 1024)["JDK_JAVA_OPTIONS"]
    assert "-Xmx768m" in opts.split()
    assert "-Xmx320m" in JAVA.run_env(JAVA.toolchain, 512)["JDK_JAVA_OPTIONS"].split()


# ------------------------------------------------------------------ with the JDK


@needs_java
def test_tricky_values_reach_the_program_exactly(tmp_path):
    """Strings are checked code point by code point (an escaping bug cannot cancel out between
    argument and expected value); other values round-trip through identity. One batch."""
    programs = []
    codes = Signature.parse("codes", [("s", "str")], "List[int]")
    body = "        return s.codePoints().mapToObj(c -> (long) c).collect(Collectors.toCollection(ArrayList::new));\n"
    tests = [TestCase((s,), [ord(c) for c in s]) for s in TRICKY_STRINGS]
    programs.append(JAVA.check_program(codes, "Code points of s (see C:\\users\\u000a).", body, tests))
    for annotation, values in TRICKY:
        sig = Signature.parse("identity", [("x", annotation)], annotation)
        programs.append(JAVA.check_program(sig, "Return x.", SNIPPETS["identity"], [TestCase((v,), v) for v in values]))
    plan = JAVA.plan_batch(programs, JAVA.toolchain)
    proc = build_plan(plan, tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for i in range(len(programs)):
        out, code = _run(plan, tmp_path, i)
        assert code == 0 and out.count(" pass\n") == out.count("@@xpl - ") - 1, (i, out)


@needs_java
def test_batch_blames_the_broken_candidate_and_others_behave_as_alone(tmp_path):
    good = JAVA.check_program(ADD, "Add.", SNIPPETS["add"], ADD_TESTS)
    broken = JAVA.check_program(ADD, "Add.", SNIPPETS["broken"], ADD_TESTS)  # a syntax error
    mistyped = JAVA.check_program(ADD, "Add.", '        return "x";\n', ADD_TESTS)  # a type error
    plain = (
        "import java.util.*;\npublic class Main {\n    public static void main(String[] a) {\n"
        '        System.out.println("hi");\n        System.exit(3);\n    }\n}\n'
    )
    plan = JAVA.plan_batch([good, broken, mistyped, plain], JAVA.toolchain)
    proc = build_plan(plan, tmp_path / "with_broken")
    assert proc.returncode != 0
    assert JAVA.blame(proc.stdout + proc.stderr, plan) == {1, 2}  # both in one pass

    plan = JAVA.plan_batch([good, plain], JAVA.toolchain)
    assert build_plan(plan, tmp_path / "ok").returncode == 0
    for i, src in enumerate([good, plain]):
        alone = run_one("java", src)
        assert _run(plan, tmp_path / "ok", i) == (alone.stdout, alone.exit_code)
    assert _run(plan, tmp_path / "ok", 1) == ("hi\n", 3)


@needs_java
def test_exhausted_heap_and_stack_are_contained_per_test(execute_many):
    oom = (
        "        if (a == 0) {\n            ArrayList<long[]> h = new ArrayList<>();\n"
        "            while (true) h.add(new long[1 << 16]);\n        }\n        return a + b;\n"
    )
    deep = "        if (a == 0) return add(a, b) + 1;\n        return a + b;\n"
    programs = [(JAVA.check_program(ADD, "", body, ADD_TESTS), 4) for body in (oom, deep)]
    res = execute_many("java", programs, limits=Limits(timeout_s=20.0, memory_mb=256))
    assert (res[0].status, res[0].passed, res[0].failed_tests) == ("memory_limit", 3, [1]), res[0].describe()
    assert (res[1].status, res[1].passed, res[1].failed_tests) == ("runtime_error", 3, [1]), res[1].describe()
    assert "StackOverflowError" in res[1].stderr


@needs_java
def test_program_without_harness_is_judged_by_exit_status(execute_many):
    ok, failed = execute_many(
        "java",
        [
            ("public class Solution {\n    public static void main(String[] a) { assert 1 + 1 == 2; }\n}\n", None),
            ("class T {\n    public static void main(String[] a) { assert 1 + 1 == 3; }\n}\n", None),
        ],
    )
    assert ok.status == "ok", ok.describe()
    assert failed.status == "test_failure", failed.describe()  # asserts are enabled (-ea)
