"""C#-specific checks beyond the conformance suite: literal edge cases, value tuples under mcs,
the batch assembly (namespace wrapping, the reflection dispatcher: exit statuses and unhandled
exceptions as alone, candidates without exactly one entry point compiled on their own, blame)
and what mono does at its memory and stack limits."""

from __future__ import annotations

import math
import subprocess
from pathlib import Path

import pytest

from xpl.languages.examples.csharp import SNIPPETS
from xpl.execution import Limits
from xpl.execution.baseline import run_one
from xpl.languages import get_language
from xpl.languages.base import BuildPlan
from xpl.languages.csharp import _has_one_entry_point
from xpl.languages.types import INT_MAX, INT_MIN, Signature, TestCase, UnsupportedError
from tests.languages import tricky
from xpl.execution.baseline import build_plan, run_built
from tests.slow import toolchain_test

CS = get_language("cs")
# Runs the toolchain: skipped without it, and `slow` (tests/slow.py).
needs_mono = toolchain_test(CS.toolchain.available, "mono (mcs) not installed")

# The shared tricky strings plus those that matter to this PL's literal syntax.
TRICKY_STRINGS = tricky.STRINGS + []
TRICKY = [
    ("int", [INT_MAX, INT_MIN, -1, 0]),
    ("float", [math.nan, math.inf, -math.inf, -0.0, 5e-324, 1.7976931348623157e308, 1e-7, 1e16, 2.0]),
    ("List[Optional[float]]", [[None, 1.5, math.nan], []]),
    ("Dict[Tuple[int, str], List[float]]", [{(1, "a"): [0.5], (INT_MIN, ""): []}, {}]),
    ("Optional[List[Tuple[int, Optional[str]]]]", [None, [], [(1, None), (2, "x")]]),
    ("List[Tuple[Optional[int], str]]", [[(None, "a"), (2, "b")]]),
    ("Tuple[str, Tuple[int, bool], List[float]]", [("a", (1, False), [0.5])]),
    ("Tuple[int]", [(7,)]),
    ("Tuple[()]", [()]),
    ("Optional[Tuple[int, int]]", [None, (1, 2)]),
    ("Dict[str, Dict[int, bool]]", [{"a": {1: True}, "b": {}}]),
]
ADD = Signature.parse("add", [("a", "int"), ("b", "int")], "int")
ADD_TESTS = [TestCase((1, 2), 3), TestCase((0, 5), 5), TestCase((-4, 4), 0), TestCase((7, 0), 7)]

# Programs without the harness, to compare batch and standalone behaviour of the dispatcher.
PLAIN = {
    "exit": 'using System;\nclass P { static void Main() { Console.WriteLine("a"); Environment.Exit(3); } }\n',
    "int_main": "class P { static int Main(string[] args) { System.Console.WriteLine(args.Length); return 5; } }\n",
    "exit_code": "class P { public static void Main() { System.Environment.ExitCode = 4; } }\n",
    "unhandled": 'class P { static void Main() { throw new System.InvalidOperationException("boom"); } }\n',
    "static_init": 'class P { static int x = int.Parse("no"); static void Main() { System.Console.WriteLine(x); } }\n',
    "nested": "namespace N { class O { class I {\n"
    "    static void Main() { System.Console.WriteLine(typeof(I).Name); }\n} } }\n",
}




def _run(plan: BuildPlan, tmp: Path, i: int) -> subprocess.CompletedProcess:
    return run_built("csharp", plan, i, tmp)


# ------------------------------------------------------------------ no toolchain needed


def test_literals_and_types():
    r = CS.render_value
    assert r(INT_MIN, ADD.returns) == "long.MinValue"
    t = Signature.parse("f", [("x", "Dict[str, List[Optional[float]]]")], "None").params[0].type
    assert CS.render_type(t) == "Dictionary<string, List<double?>>"
    assert r({"a": [None, 1.5]}, t) == (
        'new Dictionary<string, List<double?>> { { "a", new List<double?> { null, 1.5 } } }'
    )
    s = Signature.parse("f", [], "str").returns
    assert r('é𝄞\n"\\\x00{0}', s) == '"\\u00e9\\ud834\\udd1e\\n\\"\\\\\\u0000{0}"'
    tt = Signature.parse("f", [("x", "Optional[Tuple[int, Optional[str]]]")], "None").params[0].type
    assert CS.render_type(tt) == "(long, string)?"
    assert r((1, None), tt) == "(1L, null)"
    assert CS.render_type(Signature.parse("f", [], "Tuple[int]").returns) == "ValueTuple<long>"
    with pytest.raises(UnsupportedError):
        CS.render_type(Signature.parse("f", [], "Tuple[int, int, int, int, int, int, int, int]").returns)
    assert CS.supports(Signature.parse("f", [("x", "None")], "int")) is not None
    assert CS.identifier("string") == "string_"


def test_prompt_keeps_the_python_name_and_avoids_the_class_name():
    prompt = CS.prompt(ADD, "Add.\n>>> add(2, 3)\n5")
    assert prompt.startswith("using System;\n") and "class Problem {\n    // Add.\n" in prompt
    assert prompt.endswith("    public static long add(long a, long b) {\n")
    odd = Signature.parse("Problem", [("x", "int")], "int")
    assert "long Problem_(long x)" in CS.prompt(odd, "")


def test_entry_point_detection_and_isolation_in_the_plan():
    assert _has_one_entry_point("class P { public static void Main(string[] args) {} }")
    assert _has_one_entry_point("class P { static\nint Main() { return 0; } }")
    assert not _has_one_entry_point("class P { static void Main() {} }\nclass Q { static void Main() {} }")
    assert not _has_one_entry_point("class P { static void Run() {} }")
    assert not _has_one_entry_point("class P { static async Task Main() {} }")
    assert not _has_one_entry_point("class P { static void Main(int x) {} }")
    sources = ["class P { static void Main() {} }", "class P { }"]
    plan = CS.plan_batch(sources, CS.toolchain) if CS.toolchain.available else None
    if plan is not None:
        assert plan.owners == {"c0.cs": 0, "c1/Problem.cs": 1}
        assert plan.files["c0.cs"].startswith("namespace XplC0 { class P")
        assert len(plan.commands) == 2 and plan.commands[1][-1] == "c1/Problem.cs"
        # mcs names the output, not the source, when there is no entry point
        diag = "error CS5001: Program `c1/Problem.exe' does not contain a static `Main' method"
        assert CS.blame(diag, plan) == {1}


# ------------------------------------------------------------------ with mono


@needs_mono
def test_tricky_values_reach_the_program_exactly(tmp_path):
    """Strings are checked UTF-16 unit by unit (an escaping bug cannot cancel out between
    argument and expected value); other values round-trip through identity. One batch."""
    programs = []
    units = Signature.parse("units", [("s", "str")], "List[int]")
    body = "        return s.Select(c => (long)c).ToList();\n"
    tests = [TestCase((s,), list(memoryview(s.encode("utf-16-le")).cast("H"))) for s in TRICKY_STRINGS]
    programs.append(CS.check_program(units, "UTF-16 code units of s.", body, tests))
    for annotation, values in TRICKY:
        sig = Signature.parse("identity", [("x", annotation)], annotation)
        programs.append(CS.check_program(sig, "Return x.", SNIPPETS["identity"], [TestCase((v,), v) for v in values]))
    plan = CS.plan_batch(programs, CS.toolchain)
    proc = build_plan(plan, tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for i in range(len(programs)):
        out = _run(plan, tmp_path, i).stdout
        assert out.count(" pass\n") == out.count("@@xpl - ") - 1, (i, out)


@needs_mono
def test_batch_runs_each_candidate_exactly_as_alone(tmp_path):
    sources = list(PLAIN.values())
    plan = CS.plan_batch(sources, CS.toolchain)
    assert len(plan.commands) == 1  # every one has exactly one entry point: all in the batch
    proc = build_plan(plan, tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for i, (name, src) in enumerate(PLAIN.items()):
        alone = run_one("cs", src)
        batch = _run(plan, tmp_path, i)
        assert (batch.stdout, batch.returncode) == (alone.stdout, alone.exit_code), name
        assert ("Unhandled Exception" in batch.stderr) == ("Unhandled Exception" in alone.stderr), name


@needs_mono
def test_batch_blames_the_broken_candidate(tmp_path):
    good = CS.check_program(ADD, "Add.", SNIPPETS["add"], ADD_TESTS)
    broken = CS.check_program(ADD, "Add.", SNIPPETS["broken"], ADD_TESTS)
    two_mains = "class P { static void Main() {} }\nclass Q { static void Main() {} }\n"
    plan = CS.plan_batch([good, broken, good], CS.toolchain)
    proc = build_plan(plan, tmp_path / "a")
    assert proc.returncode != 0 and CS.blame(proc.stdout + proc.stderr, plan) == {1}
    # compiled on its own within the plan, the two-Main program fails as it does alone
    plan = CS.plan_batch([good, two_mains], CS.toolchain)
    proc = build_plan(plan, tmp_path / "b")
    assert proc.returncode != 0 and CS.blame(proc.stdout + proc.stderr, plan) == {1}


@needs_mono
def test_exhausted_heap_and_stack_are_contained_per_test(execute_many):
    oom = (
        "        if (a == 0) {\n            var h = new List<long[]>();\n"
        "            while (true) h.Add(new long[1 << 10]);\n        }\n        return a + b;\n"
    )
    deep = "        if (a == 0) return add(a, b) + 1;\n        return a + b;\n"
    programs = [(CS.check_program(ADD, "", body, ADD_TESTS), 4) for body in (oom, deep)]
    res = execute_many("cs", programs, limits=Limits(timeout_s=20.0, memory_mb=256))
    assert (res[0].status, res[0].passed, res[0].failed_tests) == ("memory_limit", 3, [1]), res[0].describe()
    assert (res[1].status, res[1].passed, res[1].failed_tests) == ("runtime_error", 3, [1]), res[1].describe()
    assert "StackOverflowException" in res[1].stderr
