"""TypeScript-specific checks beyond the conformance suite: a candidate compiles in a batch to
exactly the JavaScript it compiles to alone (sloppy mode, no "use strict"), blame names the
broken candidate of a batch, the engine's verdicts for a mixed batch, compiler options per
tsc version, and type rendering."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from xpl.languages import get_language
from xpl.languages.base import BuildPlan, Toolchain
from xpl.languages.types import Signature, TestCase, UnsupportedError, parse_type
from xpl.languages.typescript import _tsc_version
from tests.slow import toolchain_test

TS = get_language("typescript")
# Runs the toolchain: skipped without it, and `slow` (tests/slow.py).
needs_tsc = toolchain_test(TS.toolchain.available, f"TypeScript not installed: {TS.toolchain.problem}")

ADD = Signature.parse("add", [("a", "int"), ("b", "int")], "int")
ADD_TESTS = [TestCase((1, 2), 3), TestCase((-4, 4), 0)]
SLOPPY = Signature.parse("sloppy", [], "bool")
# True only in sloppy mode, where a plain call's `this` is the global object.
SLOPPY_BODY = "  return (function () { return this !== undefined; })();\n"


def _compile(plan: BuildPlan, tmp: Path) -> subprocess.CompletedProcess:
    for rel, content in plan.files.items():
        (tmp / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp / rel).write_text(content)
    (argv,) = plan.commands
    return subprocess.run(argv, check=False, cwd=tmp, env={**os.environ, **plan.env}, capture_output=True, text=True)


@needs_tsc
def test_batch_emits_the_same_javascript_as_a_single_compile(tmp_path):
    programs = [
        # Both define the same top-level names (the harness's): legal, as each file is a module.
        TS.check_program(ADD, "Add.", "  const add = 1;\n  return a + b + add - 1;\n", ADD_TESTS),
        TS.check_program(SLOPPY, "", SLOPPY_BODY, [TestCase((), True)]),
    ]
    batch = TS.plan_batch(programs, TS.toolchain)
    assert _compile(batch, tmp_path / "batch").returncode == 0
    for i, program in enumerate(programs):
        single = TS.plan_single(program, TS.toolchain)
        proc = _compile(single, tmp_path / f"single{i}")
        assert proc.returncode == 0, proc.stdout
        alone = (tmp_path / f"single{i}" / "out" / "main.js").read_text()
        assert (tmp_path / "batch" / "out" / f"c{i}.js").read_text() == alone
        if "noImplicitUseStrict" in TS.compiler_options(TS.toolchain):
            assert '"use strict"' not in alone
    node = TS.toolchain.tool("node")
    out = subprocess.run([node, str(tmp_path / "batch" / "out" / "c1.js")], check=False, capture_output=True, text=True)
    sloppy = "noImplicitUseStrict" in TS.compiler_options(TS.toolchain)
    assert (" 0 pass" if sloppy else " 0 fail") in out.stdout, out.stdout + out.stderr


@needs_tsc
def test_blame_names_the_candidates_with_errors(tmp_path):
    bodies = ["  return a + b;\n", '  return "a" + b;\n', "  return a - b;\n", "  return a +* b;\n"]
    programs = [TS.check_program(ADD, "", body, ADD_TESTS) for body in bodies]
    plan = TS.plan_batch(programs, TS.toolchain)
    assert plan.owners == {"c0.ts": 0, "c1.ts": 1, "c2.ts": 2, "c3.ts": 3}
    proc = _compile(plan, tmp_path / "all")
    # tsc reports only syntax errors while any file has one: the type error of c1 shows up
    # once the engine has set c3 aside and rebuilt the rest.
    assert proc.returncode != 0 and TS.blame(proc.stdout + proc.stderr, plan) == {3}, proc.stdout
    rest = TS.plan_batch(programs[:3], TS.toolchain)
    proc = _compile(rest, tmp_path / "rest")
    assert proc.returncode != 0 and TS.blame(proc.stdout + proc.stderr, rest) == {1}, proc.stdout


@needs_tsc
def test_engine_verdicts_for_a_mixed_batch(execute_many):
    bodies = [
        "  return a + b;\n",
        "  return a.length;\n",
        "  return a - b;\n",
        '  return Number(require("util").format("%d", a)) + b;\n',  # require is declared, as in MultiPL-E
    ]
    results = execute_many("typescript", [(TS.check_program(ADD, "", body, ADD_TESTS), 2) for body in bodies])
    assert [r.status for r in results] == ["ok", "compile_error", "test_failure", "ok"], [r.describe() for r in results]
    assert "TS2339" in results[1].compile_output  # Property 'length' does not exist on type 'number'


def test_compiler_options_follow_the_tsc_version():
    def options(version: str) -> dict:
        return TS.compiler_options(Toolchain("typescript", True, version=f"v20.0.0; Version {version}"))

    assert options("4.8.4")["noImplicitUseStrict"] is True and "ignoreDeprecations" not in options("4.8.4")
    assert options("5.4.5")["ignoreDeprecations"] == "5.0"
    assert "noImplicitUseStrict" not in options("5.6.3")
    for version in ("4.8.4", "5.6.3"):
        opts = options(version)
        assert (opts["moduleDetection"], opts["strict"], opts["module"]) == ("force", False, "commonjs")
    assert _tsc_version("Version 4.8.4") == (4, 8) and _tsc_version("tsc?") is None


def test_types_and_prompt():
    assert TS.render_type(parse_type("List[Optional[int]]")) == "(number | undefined)[]"
    assert TS.render_type(parse_type("Dict[int, List[str]]")) == "{[key: number]: string[]}"
    assert TS.render_type(parse_type("Optional[Tuple[str, float]]")) == "[string, number] | undefined"
    with pytest.raises(UnsupportedError):
        TS.render_type(parse_type("Dict[Tuple[int, int], int]"))
    sig = Signature.parse("log", [("require", "str"), ("type", "Optional[int]")], "None")
    assert TS.prompt(sig, "Log it.") == "// Log it.\nfunction log(require_: string, type: number | undefined): void {\n"
    assert TS.prompt(ADD, "") == "function add(a: number, b: number): number {\n"


@needs_tsc
def test_every_literal_type_checks_and_round_trips(execute_many):
    from tests.languages.test_javascript import LITERALS

    programs = []
    for annotation, values in LITERALS:
        sig = Signature.parse("identity", [("x", annotation)], annotation)
        programs.append((TS.check_program(sig, "", "  return x;\n", [TestCase((v,), v) for v in values]), len(values)))
    # and a function that returns nothing (declared void)
    noop = Signature.parse("noop", [("x", "Optional[str]")], "None")
    programs.append((TS.check_program(noop, "", "  x;\n", [TestCase((None,), None), TestCase(("a",), None)]), 2))
    results = execute_many("typescript", programs)
    names = [a for a, _ in LITERALS] + ["noop"]
    bad = [f"{a}: {r.describe()}" for a, r in zip(names, results) if r.status != "ok"]
    assert not bad, "\n".join(bad)
