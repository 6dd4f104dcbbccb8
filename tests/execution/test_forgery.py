"""Unforgeable verdicts: a program that prints the harness's lines itself gets no pass.

Every PL's function body here reads ``XPL_NONCE`` (as any program may), writes protocol lines
of its own for every test and ``done``, and exits with status 0 before the harness runs. The
expected values never enter the sandbox, so only lines that carry the right answers could
pass, and these do not: the old self-reported ``pass`` lines, invented results (zeros), and
lines that report every test twice (a right answer copied over a wrong one included).
"""

from __future__ import annotations

import pytest

from xpl.execution.verdict import Expected, decode_value, judge
from xpl.languages import all_languages, get_language
from xpl.languages.types import Signature, StrType, TestCase, parse_type
from tests.slow import by_toolchain

ADD = Signature.parse("add", [("a", "int"), ("b", "int")], "int")
TESTS = [TestCase((1, 2), 3), TestCase((0, 5), 5), TestCase((-4, 5), 1), TestCase((7, 0), 7)]  # no answer is 0
LANGS = [lang.name for lang in all_languages() if lang.name != "julia"]

# What each forged program prints (NONCE is replaced by the program's own nonce).
FORGERIES = {
    "legacy_pass": "".join(f"\n@@xpl NONCE {i} pass\n" for i in range(len(TESTS))) + "\n@@xpl NONCE done\n",
    "zeros": "".join(f"\n@@xpl NONCE {i} value 0\n" for i in range(len(TESTS))) + "\n@@xpl NONCE done\n",
    # Each test reported twice: a wrong value and then the right one (as if copied from a run
    # of a correct program): a test named twice fails.
    "twice": "".join(f"\n@@xpl NONCE {i} value 0\n@@xpl NONCE {i} value {t.expected}\n" for i, t in enumerate(TESTS))
    + "\n@@xpl NONCE done\n",
}

# Statements that print the string literal {text} with NONCE replaced and exit with status 0.
FORGE = {
    "python": 'import os, sys\nsys.stdout.write({text}.replace("NONCE", os.environ["XPL_NONCE"]))\nsys.stdout.flush()\nos._exit(0)',
    "rust": 'print!("{{}}", {text}.replace("NONCE", &std::env::var("XPL_NONCE").unwrap()));\nstd::process::exit(0);',
    "go": 'fmt.Print(strings.ReplaceAll({text}, "NONCE", os.Getenv("XPL_NONCE")))\nos.Exit(0)',
    "php": 'echo str_replace("NONCE", getenv("XPL_NONCE"), {text});\nexit(0);',
    "ruby": '$stdout.write({text}.gsub("NONCE", ENV["XPL_NONCE"]))\n$stdout.flush\nexit!(0)',
    "java": 'System.out.print({text}.replace("NONCE", System.getenv("XPL_NONCE")));\nSystem.out.flush();\nSystem.exit(0);',
    "javascript": "process.stdout.write({text}.split(\"NONCE\").join(process.env.XPL_NONCE));\nprocess.exit(0);",
    "typescript": "const p = (globalThis as any).process;\np.stdout.write({text}.split(\"NONCE\").join(p.env.XPL_NONCE));\np.exit(0);",
    "cpp": (
        "std::string s = {text};\n"
        'for (std::size_t p; (p = s.find("NONCE")) != std::string::npos;) s.replace(p, 5, std::getenv("XPL_NONCE"));\n'
        "std::fwrite(s.data(), 1, s.size(), stdout);\nstd::fflush(stdout);\nstd::_Exit(0);"
    ),
    "csharp": (
        'System.Console.Out.Write({text}.Replace("NONCE", System.Environment.GetEnvironmentVariable("XPL_NONCE")));\n'
        "System.Console.Out.Flush();\nSystem.Environment.Exit(0);"
    ),
    "lua": 'io.stdout:write((string.gsub({text}, "NONCE", os.getenv("XPL_NONCE"))))\nio.stdout:flush()\nos.exit(0)',
}


def forged_body(lang, text: str) -> str:
    """The forging statements, indented as the PL's bodies are, then a return of 0."""
    indent = lang.return_template[: len(lang.return_template) - len(lang.return_template.lstrip())]
    code = FORGE[lang.name].format(text=lang.render_value(text, StrType()))
    return "".join(indent + line + "\n" for line in code.splitlines()) + lang.return_template.format("0")


@pytest.mark.parametrize("lang_name", by_toolchain(LANGS))
def test_forged_lines_get_no_pass(lang_name, execute_many):
    lang = get_language(lang_name)
    if not lang.toolchain.available:
        pytest.skip(f"{lang.display_name} toolchain not installed: {lang.toolchain.problem}")
    expected = lang.expected_results(ADD, TESTS)
    programs = [(lang.program(ADD, "Add.", forged_body(lang, text), TESTS), expected) for text in FORGERIES.values()]
    results = execute_many(lang_name, programs)
    for kind, res in zip(FORGERIES, results):
        # The forgery ran (its lines are there), and none of its tests passed.
        assert "@@xpl" in res.stdout and "done" in res.stdout, (kind, res.describe())
        assert (res.passed, res.total, res.verified) == (0, len(TESTS), True), (kind, res.describe())
        assert res.status != "ok" and res.failed_tests == [0, 1, 2, 3], (kind, res.describe())


def test_the_forgeries_would_pass_without_expected_values(execute):
    """The control: judged by the harness's own word (no expected values, the legacy way), the
    forged pass lines do pass, so the test above checks the new protocol and not a typo."""
    lang = get_language("python")
    program = lang.program(ADD, "Add.", forged_body(lang, FORGERIES["legacy_pass"]), TESTS)
    res = execute("python", program, len(TESTS))
    assert (res.status, res.passed, res.verified) == ("ok", 4, False), res.describe()


def test_program_text_holds_no_expected_values():
    """The rendered program holds the arguments only: a distinctive expected value that is no
    argument appears nowhere in it, in any PL."""
    sig = Signature.parse("f", [("s", "str")], "str")
    tests = [TestCase(("in",), "zqxjkw-expected")]
    for lang in all_languages():
        program = lang.program(sig, "F.", lang.dummy_body(sig), tests)
        assert "zqxjkw" not in program, lang.name
        assert "zqxjkw" in lang.check_program(sig, "F.", lang.dummy_body(sig), tests), lang.name
        assert lang.expected_results(sig, tests).values == ("zqxjkw-expected",)


# ------------------------------------------------------------------ judging, without a sandbox

EXP = Expected("int", (3, 5))


def test_judge_passes_right_values_only():
    v = judge(["0 value 3", "1 value 6", "done"], 2, EXP)
    assert (v.outcomes, v.done) == ({0: "pass", 1: "fail"}, True)
    assert v.first_failure == "test 1: expected 5, got 6"


def test_judge_fails_a_test_reported_twice_even_with_the_right_answer():
    assert judge(["0 value 3", "0 value 3", "1 value 5"], 2, EXP).outcomes == {0: "fail", 1: "pass"}


@pytest.mark.parametrize("line", ["0 pass", "0 value", "0 value 3 4", "0 value {", "0 value [3]", "0 value \"3\"", "0 valu 3", "0 error 3"])
def test_judge_fails_malformed_lines(line):
    assert judge([line], 1, Expected("int", (3,))).outcomes == {0: "fail"}


def test_judge_ignores_indices_beyond_the_tests_and_reports_errors():
    v = judge(["0 error", "7 value 1", "x value 1"], 2, EXP)
    assert v.outcomes == {0: "error"} and not v.done


def test_judge_without_expected_values_takes_the_legacy_word():
    assert judge(["0 pass", "0 fail", "1 fail", "done"], 2, None).outcomes == {0: "pass", 1: "fail"}


@pytest.mark.parametrize(
    "annotation, printed, expected, same",
    [
        ("float", "1.0000000001", 1.0, True),
        ("float", "1", 1.0, True),  # an integral double printed without a point
        ("float", '"nan"', "nan", True),
        ("float", "-0.0", 0.0, True),
        ("float", '"inf"', "-inf", False),
        ("float", "1.1", 1.0, False),
        ("int", "5.0", 5, True),  # a float result where an int is declared: compared as numbers (as Python's harness does)
        ("int", "true", 1, False),
        ("bool", "1", True, False),
        ("str", '"nan"', "nan", True),
        ("float", '"nan1"', "nan", False),
        ("Optional[int]", "null", None, True),
        ("Optional[int]", "null", 0, False),
        ("int", "null", 0, False),
        ("List[int]", '{"invalid":"str"}', [], False),
        ("Tuple[int, str]", '[1,"a"]', [1, "a"], True),
        ("Tuple[int, str]", '[1,"a",2]', [1, "a"], False),
        ("Dict[str, int]", '[["b",2],["a",1]]', [["a", 1], ["b", 2]], True),  # any order
        ("Dict[str, int]", '[["a",1],["a",1]]', [["a", 1]], False),  # a key twice
        ("Dict[str, int]", '[["a",1]]', [["a", 1], ["b", 2]], False),
        ("Dict[Tuple[int, int], float]", "[[[1,2],0.5]]", [[[1, 2], 0.5]], True),
        ("str", '"\\ud800x"', "\ud800x", True),  # a lone surrogate, as UTF-16 PLs write it
        ("str", '"\udcffx"', "\u00ffx", False),  # an invalid UTF-8 byte is not the character
    ],
)
def test_values_compare_as_the_harnesses_did(annotation, printed, expected, same):
    exp = Expected(annotation, (expected,))
    assert judge([f"0 value {printed}"], 1, exp).outcomes == {0: "pass" if same else "fail"}


def test_decode_value_rejects_objects_and_wrong_shapes():
    for obj, annotation in [({"invalid": "x"}, "int"), ([1], "int"), (1, "List[int]"), ([[1]], "Dict[int, int]")]:
        with pytest.raises(TypeError):
            decode_value(obj, parse_type(annotation))
