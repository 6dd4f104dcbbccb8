"""Julia-specific checks. Rendering is checked as text (no julia needed); the execution tests
skip when ``julia`` is not on PATH, like the conformance suite."""

from __future__ import annotations

import math

import pytest

from xpl.execution.baseline import run_batch_unsandboxed, run_one
from xpl.languages import get_language
from xpl.languages.types import INT_MAX, INT_MIN, Signature, TestCase, UnsupportedError, parse_type
from tests.languages.harness import markers

JULIA = get_language("julia")
needs_julia = pytest.mark.skipif(not JULIA.toolchain.available, reason="Julia toolchain not installed")


def typ(annotation: str):
    return parse_type(annotation)


# --------------------------------------------------------------------- rendering (no julia needed)


@pytest.mark.parametrize(
    "annotation, rendered",
    [
        ("int", "Int64"),
        ("float", "Float64"),
        ("bool", "Bool"),
        ("str", "String"),
        ("None", "Nothing"),
        ("List[List[int]]", "Vector{Vector{Int64}}"),
        ("Tuple[int, str]", "Tuple{Int64, String}"),
        ("Tuple[()]", "Tuple{}"),
        ("Dict[str, List[float]]", "Dict{String, Vector{Float64}}"),
        ("Optional[Tuple[int, bool]]", "Union{Tuple{Int64, Bool}, Nothing}"),
    ],
)
def test_types(annotation, rendered):
    assert JULIA.render_type(typ(annotation)) == rendered


@pytest.mark.parametrize(
    "value, annotation, literal",
    [
        (INT_MIN, "int", "typemin(Int64)"),  # -9223372036854775808 would be an Int128
        (INT_MAX, "int", "9223372036854775807"),
        (-3, "int", "-3"),
        (3, "float", "3.0"),
        (1e-7, "float", "1e-07"),
        (-0.0, "float", "-0.0"),
        (math.nan, "float", "NaN"),
        (-math.inf, "float", "-Inf"),
        (True, "bool", "true"),
        (None, "Optional[int]", "nothing"),
        ([], "List[int]", "Int64[]"),
        ([[1], []], "List[List[int]]", "Vector{Int64}[Int64[1], Int64[]]"),
        ([None, 2], "List[Optional[int]]", "Union{Int64, Nothing}[nothing, 2]"),
        ((1,), "Tuple[int]", "(1,)"),
        ((), "Tuple[()]", "()"),
        ((1, "a"), "Tuple[int, str]", '(1, "a")'),
        ({}, "Dict[str, int]", "Dict{String, Int64}()"),
        ({INT_MIN: ["x"]}, "Dict[int, List[str]]", 'Dict{Int64, Vector{String}}(typemin(Int64) => String["x"])'),
        ([("a", 1.5)], "List[Tuple[str, float]]", 'Tuple{String, Float64}[("a", 1.5)]'),
    ],
)
def test_literals(value, annotation, literal):
    assert JULIA.render_value(value, typ(annotation)) == literal


@pytest.mark.parametrize(
    "text, literal",
    [
        ("$x ${y} $(z)", '"\\$x \\${y} \\$(z)"'),
        ('back\\slash "q"', '"back\\\\slash \\"q\\""'),
        ("tab\tnl\ncr\r", '"tab\\tnl\\ncr\\r"'),
        ("\x00\x1b\x7f", '"\\u0000\\u001b\\u007f"'),
        # fixed-width escapes: "é" followed by the hex digit "9" must stay two characters
        ("é9", '"\\u00e99"'),
        ("𝄞a", '"\\U0001d11ea"'),
        ("#{x} %s '", "\"#{x} %s '\""),
    ],
)
def test_strings(text, literal):
    assert JULIA.render_string(text) == literal


def test_lone_surrogates_are_unsupported():
    with pytest.raises(UnsupportedError):
        JULIA.render_string("a\ud834")


def test_prompt_docstring_escaping():
    sig = Signature.parse("end", [("in", "int"), ("x", "List[int]")], "Optional[int]")
    prompt = JULIA.prompt(sig, 'Costs $5 \\ "quoted" and """triple""" quotes.\n>>> end(1, [2])\n3')
    assert prompt == (
        '"""\nCosts \\$5 \\\\ "quoted" and \\"\\"\\"triple\\"\\"\\" quotes.\n>>> end(1, [2])\n3\n"""\n'
        "function end_(in_::Int64, x::Vector{Int64})::Union{Int64, Nothing}\n"
    )


def test_harness_rows_are_untyped_and_splat_ready():
    sig = Signature.parse("f", [("x", "int")], "List[int]")
    harness = JULIA.check_harness(sig, [TestCase((1,), [1]), TestCase((INT_MIN,), [])])
    assert harness.endswith("__xpl_run(f, Any[\n    ((1,), Int64[1]),\n    ((typemin(Int64),), Int64[]),\n])\n")


def test_patterns():
    assert JULIA.looks_like("syntax", "ERROR: LoadError: ParseError:\n# Error @ /b/main.jl:6:17\n")
    assert JULIA.looks_like("syntax", 'ERROR: LoadError: syntax: extra token "b" after end of expression')
    assert not JULIA.looks_like("syntax", "test 0: ParseError: ...")
    assert JULIA.looks_like("memory", "test 0: OutOfMemoryError()")
    assert JULIA.looks_like("assertion", "ERROR: LoadError: AssertionError: x > 0")


# --------------------------------------------------------------------- running (needs julia)


def outcomes(program: str, nonce: str = "-"):
    res = run_one("julia", program, timeout=120.0, nonce=nonce)
    return markers(res.stdout, nonce), res


@needs_julia
def test_tricky_values_round_trip_and_equality():
    strings = ["\x00", "$x", "${y}", "\\", '"""', "é9", "😀", "#{a}"]
    cases = [
        ("str", strings),
        ("int", [INT_MAX, INT_MIN]),
        ("float", [math.nan, math.inf, -0.0, 5e-324]),
        ("Dict[int, List[Optional[str]]]", [{INT_MIN: [None, "a"]}, {}]),
        ("Tuple[str, Tuple[int, bool], List[float]]", [("a", (1, False), [0.5])]),
    ]
    for annotation, values in cases:
        sig = Signature.parse("f", [("x", annotation)], annotation)
        got, res = outcomes(JULIA.check_program(sig, "Identity.", "    return x\n", [TestCase((v,), v) for v in values]))
        assert got == ["pass"] * len(values) + ["done"], (annotation, res.stderr)
    sig = Signature.parse("f", [("s", "str")], "int")
    tests = [TestCase((s,), len(s.encode())) for s in strings]
    got, res = outcomes(JULIA.check_program(sig, "Bytes.", "    return sizeof(s)\n", tests))
    assert got == ["pass"] * len(strings) + ["done"], res.stderr


@needs_julia
def test_errors_failures_and_nonce():
    sig = Signature.parse("f", [("a", "int"), ("b", "int")], "int")
    body = "    a == 0 && error(\"zero\")\n    a < 0 && return f(a, b)\n    return div(b, a)\n"
    tests = [TestCase((1, 2), 2), TestCase((0, 1), 1), TestCase((2, 0), 1), TestCase((-1, 0), 0)]
    got, res = outcomes(JULIA.check_program(sig, "Div.", body, tests), nonce="n0nce")
    assert got == ["pass", "error", "fail", "error", "done"], res.stderr
    assert res.exit_code == 1


@needs_julia
def test_batch_with_a_broken_candidate():
    sig = Signature.parse("add", [("a", "int"), ("b", "int")], "int")
    tests = [TestCase((1, 2), 3), TestCase((2, 2), 4)]
    bodies = ["    return a + b\n", "    return (a + b\n", "    return a * b\n"]
    programs = [JULIA.check_program(sig, "Add.", b, tests) for b in bodies]
    ok, broken, half = run_batch_unsandboxed("julia", programs, timeout=120.0)
    assert ok.exit_code == 0 and ok.stdout.count("pass") == 2
    assert broken.exit_code != 0 and "@@xpl" not in broken.stdout
    assert JULIA.looks_like("syntax", broken.stderr + broken.stdout)
    assert half.exit_code == 1 and "@@xpl - 0 fail" in half.stdout and "@@xpl - 1 pass" in half.stdout
