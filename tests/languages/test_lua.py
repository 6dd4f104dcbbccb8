"""Lua-specific checks beyond the conformance suite: literal edge cases (string escapes, 64-bit
bounds, special floats, integer/float equality), what a table cannot hold (unsupported types),
a harness that survives a candidate shadowing standard functions, and the classification
patterns (parse errors, memory, assertions). Run without the engine (no sandbox needed)."""

from __future__ import annotations

import math

import pytest

from xpl.execution.baseline import run_batch_unsandboxed, run_one
from xpl.languages import get_language
from xpl.languages.types import INT_MAX, INT_MIN, Signature, TestCase, UnsupportedError
from tests.languages import tricky
from tests.languages.harness import markers

LUA = get_language("lua")
needs_lua = pytest.mark.skipif(not LUA.toolchain.available, reason="Lua 5.4 not installed")

# The shared tricky strings plus those that matter to this PL's literal syntax.
TRICKY_STRINGS = tricky.STRINGS + [']]', '[[x]]', '--[[', '\u2028', '😀']
TRICKY = [
    ("str", TRICKY_STRINGS),
    ("int", [INT_MAX, INT_MIN, -1, 0, 2**53 + 1]),
    ("float", [math.nan, math.inf, -math.inf, -0.0, 5e-324, 1.7976931348623157e308, 1e-7, 1e16, 2.0]),
    ("List[List[int]]", [[[1]], [[]], [[1, 2]], []]),
    ("Dict[float, int]", [{0.5: 1, -2.0: 2}]),
    ("Dict[int, str]", [{1: "a", 3: "c"}, {INT_MIN: ""}]),
    ("Dict[bool, List[str]]", [{True: ["x"], False: []}]),
    ("Optional[List[Tuple[int, str]]]", [None, [], [(1, "a")]]),
    ("Tuple[str, Tuple[int, int], List[float]]", [("a", (1, 2), [0.5])]),
    ("Tuple[()]", [()]),
    ("Dict[str, Dict[int, bool]]", [{"a": {1: True}, "b": {}}]),
]


def _type(annotation: str):
    return Signature.parse("g", [], annotation).returns


def _program(name: str, params: list[tuple[str, str]], returns: str, body: str, tests: list[TestCase]) -> str:
    sig = Signature.parse(name, params, returns)
    for t in tests:
        t.check(sig)
    return LUA.check_program(sig, "Doc.", body, tests)


# ----------------------------------------------------------------------------- rendering
def test_types_and_literals():
    assert LUA.render_type(_type("Dict[str, List[float]]")) == "table<string, number[]>"
    assert LUA.render_type(_type("Optional[Tuple[int, bool]]")) == "[integer, boolean]?"
    assert LUA.render_value([1, -2], _type("List[int]")) == "{1, -2}"
    assert LUA.render_value({"a": [1.0]}, _type("Dict[str, List[float]]")) == '{["a"] = {1.0}}'
    assert LUA.render_value(None, _type("Optional[int]")) == "nil"
    assert LUA.render_value(INT_MIN, _type("int")) == "math.mininteger"
    assert LUA.render_value(3, _type("float")) == "3.0"
    assert LUA.render_value(math.nan, _type("float")) == "(0/0)"
    assert LUA.render_value("é😀\x00\n", _type("str")) == '"\\u{e9}\\u{1f600}\\u{0}\\n"'


def test_unsupported_and_reserved():
    for annotation in (
        "List[Optional[int]]",
        "Tuple[int, Optional[str]]",
        "Dict[str, Optional[int]]",
        "Dict[Tuple[int, int], int]",
        "List[None]",
    ):
        with pytest.raises(UnsupportedError):
            LUA.render_type(_type(annotation))
        assert LUA.supports(Signature.parse("f", [("x", annotation)], "int")) is not None
    with pytest.raises(UnsupportedError):
        LUA.render_value({math.nan: 1}, _type("Dict[float, int]"))
    assert LUA.supports(Signature.parse("f", [("x", "Optional[int]")], "None")) is None
    assert LUA.identifier("end") == "end_"
    assert LUA.identifier("type") == "type"


def test_prompt_is_multipl_e_shaped():
    sig = Signature.parse("f", [("xs", "List[int]"), ("repeat", "str")], "int")
    assert LUA.prompt(sig, "Doc.\n>>> f([1], 'a')\n[[2]]") == (
        "-- Doc.\n-- >>> f([1], 'a')\n-- [[2]]\nlocal function f(xs, repeat_)\n"
    )


# ----------------------------------------------------------------------------- running
@needs_lua
def test_tricky_values_round_trip():
    programs = []
    for annotation, values in TRICKY:
        tests = [TestCase((v,), v) for v in values]
        programs.append(
            (_program("identity", [("x", annotation)], annotation, "    return x\nend\n", tests), len(tests))
        )
    results = run_batch_unsandboxed("lua", [p for p, _ in programs])
    for (annotation, _), (_, n), res in zip(TRICKY, programs, results):
        assert (res.exit_code, markers(res.stdout)) == (0, ["pass"] * n + ["done"]), (annotation, res.stderr)


@needs_lua
def test_numbers_compare_like_python():
    # An integral float result equals an int expectation (Python: 3.0 == 3), within tolerance;
    # a boolean never equals a number, and a table's metatable is ignored.
    tests = [TestCase((6,), 3), TestCase((7,), 3)]
    res = run_one("lua", _program("half", [("n", "int")], "int", "    return n / 2\nend\n", tests))
    assert markers(res.stdout) == ["pass", "fail", "done"], res.stderr
    assert "test 1: expected 3, got 3.5" in res.stderr
    body = "    return setmetatable({}, {__index = function() return 1 end, __len = function() return 1 end})\nend\n"
    res = run_one("lua", _program("ones", [], "List[int]", body, [TestCase((), [1])]))
    assert markers(res.stdout) == ["fail", "done"], res.stderr


@needs_lua
def test_harness_survives_shadowed_standard_functions():
    # A solution named like a standard function shadows it for all code after it.
    body = "    local n = 0\n    for _ in pairs(x) do n = n + 1 end\n    return n\nend\n"
    program = _program("next", [("x", "Dict[str, int]")], "int", body, [TestCase(({"a": 1},), 1)])
    res = run_one("lua", program)
    assert (res.exit_code, markers(res.stdout)) == (0, ["pass", "done"]), res.stderr
    program = _program(
        "type",
        [("x", "int")],
        "Optional[str]",
        '    if x > 0 then return "pos" end\nend\n',
        [TestCase((1,), "pos"), TestCase((-1,), None), TestCase((0,), "zero")],
    )
    res = run_one("lua", program)
    assert (res.exit_code, markers(res.stdout)) == (1, ["pass", "pass", "fail", "done"]), res.stderr


@needs_lua
def test_errors_are_per_test_and_classified():
    body = '    if n == 0 then error("zero") end\n    if n == 1 then error({}) end\n    return 1 + f(n)\nend\n'
    tests = [TestCase((0,), 0), TestCase((1,), 0), TestCase((2,), 0)]
    res = run_one("lua", _program("f", [("n", "int")], "int", body, tests))
    assert (res.exit_code, markers(res.stdout)) == (1, ["error", "error", "error", "done"])
    assert "test 0: error: " in res.stderr and "zero" in res.stderr
    assert "stack overflow" in res.stderr
    assert not LUA.looks_like("syntax", res.stderr)
    for broken in (
        "    return a +* b\nend\n",
        "    return a + b\n",
        "    return 'abc\nend\n",
        "    goto x\nend\n",
        "    local c <const> = 1\n    c = 2\nend\n",
        "    return a\nend\nbreak\n",
        "    ::l:: ::l::\nend\n",
        "    local c <foo> = 1\nend\n",
        "    goto l\n    local y = 1\n    ::l:: return y\nend\n",
        "    return ...\nend\n",
    ):
        res = run_one("lua", _program("add", [("a", "int"), ("b", "int")], "int", broken, [TestCase((1, 2), 3)]))
        assert res.exit_code != 0 and not res.stdout, res
        assert LUA.looks_like("syntax", res.stderr), res.stderr
    res = run_one("lua", "error('boom near \\'x\\'')\n")
    assert res.exit_code != 0 and not LUA.looks_like("syntax", res.stderr), res.stderr
    res = run_one("lua", "assert(1 + 1 == 3)\n")
    assert res.exit_code != 0 and LUA.looks_like("assertion", res.stderr), res.stderr
    assert LUA.looks_like("memory", "lua5.4: not enough memory\n")
