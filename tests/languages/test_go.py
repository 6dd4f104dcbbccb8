"""Go-specific checks beyond the conformance suite: literal edge cases, tuples as arrays/structs,
Optionals as pointers, the prompt's imports (never "imported and not used"), the batch module
(a candidate behaves in it exactly as alone, blame names the broken one) and reserved names.
Run without the engine (no sandbox needed)."""

from __future__ import annotations

import math
import re
from pathlib import Path

import pytest

from xpl.execution.baseline import run_one
from xpl.languages import get_language
from xpl.languages.base import BuildPlan
from xpl.languages.types import INT_MAX, INT_MIN, Signature, TestCase, UnsupportedError
from tests.languages import tricky
from tests.languages.harness import round_trip_in_one_batch
from xpl.execution.baseline import build_plan, run_built
from tests.slow import toolchain_test

GO = get_language("golang")
# Runs the toolchain: skipped without it, and `slow` (tests/slow.py).
needs_go = toolchain_test(GO.toolchain.available, "Go toolchain not installed")

# The shared tricky strings plus those that matter to this PL's literal syntax.
TRICKY_STRINGS = tricky.STRINGS + ['%s%d%v', '`raw`', '\u2028', '😀']
TRICKY = [
    ("str", TRICKY_STRINGS),
    ("int", [INT_MAX, INT_MIN, -1, 0]),
    ("float", [math.nan, math.inf, -math.inf, -0.0, 5e-324, 1.7976931348623157e308, 1e-7, 1e16, 2.0]),
    ("List[Optional[float]]", [[None, 1.5, math.nan], []]),
    ("Dict[Tuple[int, str], List[float]]", [{(1, "a"): [0.5], (INT_MIN, ""): []}, {}]),
    ("Dict[float, int]", [{0.5: 1, -2.0: 2}]),
    ("Optional[List[Tuple[int, Optional[str]]]]", [None, [], [(1, None), (2, "x")]]),
    ("Tuple[str, Tuple[int, int], List[float]]", [("a", (1, 2), [0.5])]),
    ("Tuple[int]", [(7,)]),
    ("Tuple[()]", [()]),
    ("Dict[str, Dict[int, bool]]", [{"a": {1: True}, "b": {}}]),
]




def _run(plan: BuildPlan, tmp: Path, i: int) -> tuple[str, int]:
    proc = run_built("go", plan, i, tmp)
    return proc.stdout, proc.returncode


def _type(annotation: str):
    return Signature.parse("g", [], annotation).returns


def test_types_tuples_and_optionals():
    assert GO.render_type(_type("Tuple[int, int]")) == "[2]int"
    assert GO.render_type(_type("Tuple[int, str]")) == "struct{ F0 int; F1 string }"
    assert GO.render_type(_type("Optional[Dict[str, List[float]]]")) == "*map[string][]float64"
    assert GO.render_value(None, _type("Optional[int]")) == "nil"
    assert GO.render_value(5, _type("Optional[int]")) == "&[]int{5}[0]"
    assert GO.render_value([], _type("List[str]")) == "[]string{}"
    assert GO.render_value("é😀", _type("str")) == '"\\u00e9\\U0001f600"'
    sig = Signature.parse("f", [("xs", "List[int]")], "None")
    prompt = GO.prompt(sig, "Doc.\n>>> f([1])")
    assert prompt.startswith('package main\n\nimport (\n\t"fmt"\n')
    assert prompt.endswith("// Doc.\n// >>> f([1])\nfunc f(xs []int) {\n")


def test_unsupported_and_reserved():
    with pytest.raises(UnsupportedError):
        GO.render_type(_type("Dict[Optional[int], int]"))
    with pytest.raises(UnsupportedError):
        GO.render_value("\udc00", _type("str"))
    for word in ("type", "string", "len", "sort", "strings", "main", "init"):
        assert GO.identifier(word) == word + "_"
    assert GO.identifier("numbers") == "numbers"


@needs_go
def test_tricky_literals_round_trip_and_reserved_parameter_names(tmp_path):
    # the parameter is named after a reserved word, which the module must rename
    assert not round_trip_in_one_batch(GO, TRICKY, "string", "\treturn string_\n", tmp_path)


@needs_go
def test_imported_packages_are_usable_and_nil_equals_empty():
    sig = Signature.parse("words", [("s", "str")], "List[str]")
    body = (
        "\tif s == \"\" {\n\t\treturn nil\n\t}\n"
        "\tparts := strings.Fields(strings.ToUpper(s))\n"
        "\tsort.Strings(parts)\n"
        "\tif unicode.IsDigit(rune(s[0])) {\n\t\tparts = append(parts, strconv.Itoa(int(math.Sqrt(16))))\n\t}\n"
        "\treturn parts\n"
    )
    tests = [TestCase(("b a",), ["A", "B"]), TestCase(("",), []), TestCase(("1",), ["1", "4"])]
    res = run_one("go", GO.check_program(sig, "Sorted upper-case words.", body, tests))
    assert res.compiled, res.stderr
    assert (res.exit_code, res.stdout.count(" pass\n")) == (0, 3), res.stdout + res.stderr


@needs_go
def test_void_function_and_panics_inside_tests():
    sig = Signature.parse("check", [("n", "int")], "None")
    body = '\tif n < 0 {\n\t\tpanic("negative")\n\t}\n'
    tests = [TestCase((1,), None), TestCase((-1,), None)]
    res = run_one("go", GO.check_program(sig, "Panics on negatives.", body, tests))
    assert res.exit_code == 1
    assert [ln.split()[-1] for ln in res.stdout.splitlines() if ln.startswith("@@xpl")] == ["pass", "error", "done"]
    assert "negative" in res.stderr


def _main(body: str, imports: str = "") -> str:
    return f"package main\n\n{imports}func helper() int {{ return 1 }}\n\nfunc main() {{\n{body}}}\n"


# Programs whose exit status and output must not change when they are built as part of a batch
# (each defines the same package-level names, which must not clash across candidates).
STANDALONE = {
    "prints": _main('\tprintln("to stderr")\n\tfmt.Print("hello", helper())\n', 'import "fmt"\n\n'),
    "panics": _main("\tvar m map[string]int\n\tm[\"a\"] = helper()\n"),
    "exits": _main("\tos.Exit(3 + helper())\n", 'import "os"\n\n'),
    "broken": _main("\tx := helper()\n"),  # declared and not used
    "args": _main('\tfmt.Print(len(os.Args), os.Getenv("XPL_BATCH_ENTRY"))\n', 'import (\n\t"fmt"\n\t"os"\n)\n\n'),
    # Package-level initialisation keeps a candidate out of the shared executable: its init
    # must run in its own run only, as alone.
    "init": _main('\tprint("main")\n', 'func init() { print("init ") }\n\n'),
    "pkgvar": _main("\tos.Exit(counter)\n", 'import "os"\n\nvar counter = helper() + 4\n\n'),
    "braces": _main('\tvar s = "}{"\n\tprint(s, `{`, \'}\')\n'),  # a local var, braces in literals
}


@needs_go
def test_batch_behaves_like_standalone_and_blames_the_broken_candidate(tmp_path):
    names = list(STANDALONE)
    sources = [STANDALONE[n] for n in names]
    broken = names.index("broken")
    plan = GO.plan_batch(sources, GO.toolchain)
    m = re.search(r"go(\d+\.\d+)", GO.toolchain.version)
    assert m and f"\ngo {m.group(1)}\n" in plan.files["go.mod"], "the batch must use the toolchain's language version"
    proc = build_plan(plan, tmp_path / "all")
    assert proc.returncode != 0
    assert GO.blame(proc.stdout + proc.stderr, plan) == {broken}
    names.remove("broken")
    plan = GO.plan_batch([STANDALONE[n] for n in names], GO.toolchain)
    proc = build_plan(plan, tmp_path / "rest")
    assert proc.returncode == 0, proc.stderr
    for i, name in enumerate(names):
        alone = run_one("go", STANDALONE[name])
        assert _run(plan, tmp_path / "rest", i) == (alone.stdout, alone.exit_code), name
    assert _run(plan, tmp_path / "rest", names.index("panics"))[1] == 2
    # Only the candidates that initialise something at package level have executables of their own.
    own = {name for i, name in enumerate(names) if plan.runs[i].argv[0].endswith(f"/bin/c{i}")}
    assert own == {"init", "pkgvar"}


def test_which_candidates_share_one_executable():
    from xpl.languages.go import _as_package

    assert _as_package(STANDALONE["prints"], "c4").startswith("package c4\n")
    assert "func XplMain() {" in _as_package(STANDALONE["prints"], "c4")
    assert _as_package(STANDALONE["braces"], "c0") is not None
    assert _as_package(STANDALONE["init"], "c0") is None and _as_package(STANDALONE["pkgvar"], "c0") is None
    blank = "package main\n\nimport \"sort\"\n\nvar _, _ = sort.Ints, sort.Strings\n\nfunc main() {}\n"
    assert _as_package(blank, "c0") is not None  # the harness's line: no call, nothing initialised
    grouped = "package main\n\nvar (\n\tx = 1\n)\n\nfunc main() {}\n"
    assert _as_package(grouped, "c0") is None
    assert _as_package("package main\nfunc main() { }\nfunc main() { }\n", "c0") is None  # not one plain main
    # A failure in the shared form is final unless the renaming could be its cause.
    sources = [STANDALONE["broken"], STANDALONE["broken"].replace("helper()", "XplMain()"), STANDALONE["broken"] + "// main\n"]
    assert [GO.batch_failure_is_final(sources, i) for i in range(3)] == [True, False, False]
