"""C++-specific checks beyond the conformance suite: literal edge cases (string escapes, 64-bit
bounds, special floats, nested optionals/tuples/maps), void functions, the precompiled header
(used, built safely by racing processes), the batch plan (a candidate behaves in it exactly as
alone; compile and link errors are blamed on the right candidate), and the prompt.
Run without the engine (no sandbox needed)."""

from __future__ import annotations

import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

from xpl.execution.baseline import run_batch_unsandboxed, run_one
from xpl.languages import get_language
from xpl.languages.types import INT_MAX, INT_MIN, Signature, TestCase, UnsupportedError
from tests.languages import tricky
from tests.languages.harness import markers
from tests.slow import toolchain_test

CPP = get_language("c++")
# Runs the toolchain: skipped without it, and `slow` (tests/slow.py).
needs_gxx = toolchain_test(CPP.toolchain.available, "g++ not installed")

# The shared tricky strings plus those that matter to this PL's literal syntax.
TRICKY_STRINGS = tricky.STRINGS + ['??=', '??/', '\u2028', '😀', '*/ /*']
TRICKY = [
    ("str", TRICKY_STRINGS),
    ("int", [INT_MAX, INT_MIN, -1, 0, 2**31, -(2**31) - 1]),
    ("float", [math.nan, math.inf, -math.inf, -0.0, 5e-324, 1.7976931348623157e308, 1e-7, 1e16, 2.0]),
    ("List[str]", [["a"], ["a", "b"], []]),
    ("List[List[int]]", [[[1]], [[]], [[1, 2]]]),
    ("List[bool]", [[True, False], []]),
    ("List[Optional[float]]", [[None, 1.5, math.nan], []]),
    ("Dict[Tuple[int, str], List[float]]", [{(1, "a"): [0.5], (INT_MIN, ""): []}, {}]),
    ("Dict[float, int]", [{0.5: 1, -2.0: 2}]),
    ("Dict[str, Optional[str]]", [{"a": None, "b": "x\x00y"}]),
    ("Optional[List[Tuple[int, Optional[str]]]]", [None, [], [(1, None), (2, "x")]]),
    ("Tuple[str, Tuple[int, int], List[float]]", [("a", (1, 2), [0.5])]),
    ("Tuple[int]", [(7,)]),
    ("Tuple[()]", [()]),
    ("Dict[str, Dict[int, bool]]", [{"a": {1: True}, "b": {}}]),
]


def _type(annotation: str):
    return Signature.parse("g", [], annotation).returns


def _identity(annotation: str, values: list, wrong: tuple | None = None) -> tuple[str, int]:
    sig = Signature.parse("identity", [("x", annotation)], annotation)
    tests = [TestCase((v,), v) for v in values]
    if wrong is not None:
        tests.append(TestCase(*wrong))
    for t in tests:
        t.check(sig)
    return CPP.check_program(sig, "Return x.", "    return x;\n", tests), len(tests)


# ----------------------------------------------------------------------------- rendering
def test_types_and_literals():
    assert CPP.render_type(_type("Dict[str, List[float]]")) == "std::map<std::string, std::vector<double>>"
    assert CPP.render_type(_type("Optional[Tuple[int, bool]]")) == "std::optional<std::tuple<long, bool>>"
    assert CPP.render_type(_type("None")) == "void"
    assert CPP.render_value([1, -2], _type("List[int]")) == "std::vector<long>({1, -2})"
    assert CPP.render_value([], _type("List[str]")) == "std::vector<std::string>()"
    assert CPP.render_value({"a": 1}, _type("Dict[str, int]")) == 'std::map<std::string, long>({{std::string("a"), 1}})'
    assert CPP.render_value(None, _type("Optional[int]")) == "std::optional<long>()"
    assert CPP.render_value((1, "a"), _type("Tuple[int, str]")) == 'std::tuple<long, std::string>(1, std::string("a"))'
    assert CPP.render_value(INT_MIN, _type("int")) == "LONG_MIN"
    assert CPP.render_value(3, _type("float")) == "3.0"
    assert CPP.render_value("é😀\x01" + "7?", _type("str")) == 'std::string("\\u00e9\\U0001f600\\0017\\?")'
    assert CPP.render_value("a\x00b", _type("str")) == 'std::string("a\\000b", 3)'


def test_unsupported_and_reserved():
    with pytest.raises(UnsupportedError):
        CPP.render_type(_type("List[None]"))
    with pytest.raises(UnsupportedError):
        CPP.render_value("\ud800", _type("str"))
    with pytest.raises(UnsupportedError):
        CPP.render_value(2**63, _type("int"))
    assert CPP.supports(Signature.parse("f", [("x", "None")], "int")) is not None
    assert CPP.supports(Signature.parse("f", [("x", "int")], "None")) is None
    assert CPP.identifier("delete") == "delete_"
    assert CPP.identifier("main") == "main_"
    assert CPP.identifier("stdout") == "stdout_"
    assert CPP.identifier("values") == "values"


def test_prompt_is_multipl_e_shaped():
    sig = Signature.parse("f", [("xs", "List[int]"), ("new", "str")], "Optional[float]")
    prompt = CPP.prompt(sig, "Doc.\n>>> f([1], 'a')\nC:\\dir\\")
    assert prompt == (
        "#include<assert.h>\n#include<bits/stdc++.h>\n"
        "// Doc.\n// >>> f([1], 'a')\n// C:\\dir\\ //\n"
        "std::optional<double> f(std::vector<long> xs, std::string new_) {\n"
    )
    assert (
        CPP.prompt(Signature.parse("g", [], "int"), "") == "#include<assert.h>\n#include<bits/stdc++.h>\nlong g() {\n"
    )


# ----------------------------------------------------------------------------- running
@needs_gxx
def test_tricky_values_round_trip_in_one_batch():
    programs = [_identity(annotation, values) for annotation, values in TRICKY]
    # One wrong expectation among equal values: only that test may fail.
    programs.append(_identity("List[Optional[float]]", [[None, 0.5]], ([[None, 0.5]], [None, 0.500001])))
    results = run_batch_unsandboxed("cpp", [p for p, _ in programs])
    for (annotation, _), (_, n), res in zip(TRICKY, programs, results):
        assert (res.exit_code, markers(res.stdout)) == (0, ["pass"] * n + ["done"]), (annotation, res.stderr)
    res = results[-1]
    assert (res.exit_code, markers(res.stdout)) == (1, ["pass", "fail", "done"]), res.stderr
    assert "test 1: expected [None, 0.50000100000000003], got [None, 0.5]" in res.stderr


@needs_gxx
def test_void_function_exceptions_and_assertions():
    sig = Signature.parse("check", [("n", "int")], "None")
    body = '    if (n < 0) throw std::string("negative");\n    if (n == 0) throw 7;\n    std::vector<long> v;\n    v.at(n);\n'
    program = CPP.check_program(sig, "Check n.", body, [TestCase((-1,), None), TestCase((0,), None), TestCase((1,), None)])
    res = run_one("cpp", program)
    assert (res.exit_code, markers(res.stdout)) == (1, ["error", "error", "error", "done"])
    assert "test 0: exception: negative" in res.stderr
    assert "test 1: exception of unknown type" in res.stderr
    assert "test 2: exception: vector::_M_range_check" in res.stderr
    # A plain program without the harness: assert() failures are recognised.
    res = run_one("cpp", "#include <cassert>\nint main() { assert(1 + 1 == 3); }\n")
    assert res.exit_code != 0 and CPP.looks_like("assertion", res.stderr), res.stderr


@needs_gxx
def test_batch_behaves_like_single_and_blames_the_broken_candidate(tmp_path):
    add = Signature.parse("add", [("a", "int"), ("b", "int")], "int")
    tests = [TestCase((1, 2), 3), TestCase((0, 5), 5)]
    good = CPP.check_program(add, "Add.", "    return a + b;\n", tests)
    wrong = CPP.check_program(add, "Add.", '    std::cout << "side output";\n    return a * b;\n', tests)
    broken = CPP.check_program(add, "Add.", "    return a +* b;\n", tests)
    undefined = CPP.check_program(add, "Add.", "    long helper(long);\n    return helper(a) + b;\n", tests)
    batch = run_batch_unsandboxed("cpp", [good, wrong])
    for program, res in zip([good, wrong], batch):
        alone = run_one("cpp", program)
        assert (res.exit_code, res.stdout) == (alone.exit_code, alone.stdout)
    assert markers(batch[1].stdout) == ["fail", "fail", "done"]
    with pytest.raises(RuntimeError, match=r"blamed candidates \[1\]"):
        run_batch_unsandboxed("cpp", [good, broken, wrong])
    with pytest.raises(RuntimeError, match=r"blamed candidates \[2\]"):
        run_batch_unsandboxed("cpp", [good, wrong, undefined])
    assert not run_one("cpp", broken).compiled and not run_one("cpp", undefined).compiled


@needs_gxx
def test_precompiled_header_is_used(tmp_path):
    tc = CPP.require()
    pch = CPP.precompiled_header_dir(tc)
    assert pch is not None and str(pch).startswith(tc.roots), (pch, tc.roots)
    assert oct((pch / "bits").stat().st_mode & 0o777) == oct(0o755)
    src = tmp_path / "main.cpp"
    src.write_text("#include<assert.h>\n#include<bits/stdc++.h>\nint main() { std::cout << std::gcd(4, 6); }\n")
    proc = subprocess.run(
        [tc.tool("g++"), *CPP.compile_flags(tc), "-H", "-o", str(tmp_path / "main"), str(src)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert f"! {pch}/bits/stdc++.h.gch" in proc.stderr
    assert "invalid" not in proc.stderr


@pytest.mark.slow
@needs_gxx
def test_precompiled_header_build_survives_a_race(tmp_path):
    """Two processes build the PCH into an empty cache at once: both get the same, complete
    directory, and no temporary directory is left behind."""
    code = (
        "from xpl.languages import get_language\n"
        "lang = get_language('cpp')\n"
        "print(lang.precompiled_header_dir(lang.require()))\n"
    )
    env = {**os.environ, "XPL_CACHE": str(tmp_path), "PYTHONPATH": os.pathsep.join(sys.path)}
    procs = [
        subprocess.Popen([sys.executable, "-c", code], env=env, stdout=subprocess.PIPE, text=True) for _ in range(2)
    ]
    outs = [p.communicate(timeout=600)[0].strip() for p in procs]
    assert outs[0] == outs[1] and outs[0] != "None", outs
    pch = Path(outs[0])
    assert (pch / "bits" / "stdc++.h.gch").is_file() and (pch / "bits" / "stdc++.h").is_file()
    assert [p.name for p in (tmp_path / "cpp-pch").iterdir()] == [pch.name]


def test_links_with_gold_where_binutils_ships_it():
    """Links take ``-fuse-ld=gold`` when ``ld.gold`` is on PATH (a third of ld.bfd's time here),
    in the batch and the single plan alike; MultiPL-E's reference plan keeps g++'s default."""
    import shutil

    tc = CPP.toolchain
    if not tc.available:
        pytest.skip(tc.problem)
    plan = CPP.plan_batch(["int main() {}\n", "int main() { return 1; }\n"], tc)
    links = plan.commands[1:]
    single = CPP.plan_single("int main() {}\n", tc).commands[0]
    gold = shutil.which("ld.gold") is not None
    assert len(links) == 2
    assert all(("-fuse-ld=gold" in c) == gold for c in [*links, single])
    assert "-fuse-ld=gold" not in CPP.reference_plan("int main() {}\n", tc).commands[0]
