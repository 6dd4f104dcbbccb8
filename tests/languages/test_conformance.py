"""One conformance suite for every PL module.

Each PL supplies function bodies in ``xpl/languages/examples/<name>.py`` (a ``SNIPPETS``
dict, keys as in ``examples/python.py``; the demo uses them too). From those, this suite renders complete programs
through the PL module (prompt + body + completion suffix + harness) and runs them through
the execution engine, so it checks the module's types, literals, prompt, harness and build
plan together, on real toolchains.
"""

from __future__ import annotations

import pytest

from xpl.languages import all_languages, get_language
from xpl.languages.demo import examples
from tests.languages import tricky
from xpl.languages.types import Signature, TestCase, UnsupportedError
from tests.slow import by_toolchain

LANGS = [lang.name for lang in all_languages()]


def snippets(lang_name: str) -> dict[str, str]:
    try:
        return examples(lang_name)
    except ModuleNotFoundError:
        pytest.fail(f"src/xpl/languages/examples/{lang_name}.py is missing")


def usable(lang_name: str):
    lang = get_language(lang_name)
    if not lang.toolchain.available:
        pytest.skip(f"{lang.display_name} toolchain not installed: {lang.toolchain.problem}")
    return lang


ADD = Signature.parse("add", [("a", "int"), ("b", "int")], "int")
ADD_DOC = "Add two integers.\n>>> add(2, 3)\n5"
ADD_TESTS = [TestCase((1, 2), 3), TestCase((0, 5), 5), TestCase((-4, 4), 0), TestCase((7, 0), 7)]
SCALE = Signature.parse("scale", [("x", "float")], "float")

# (annotation, values that must round-trip, a (input, wrong expected) pair that must fail)
IDENTITY_CASES = [
    ("int", [0, -5, 2**62, -(2**63)], (1, 2)),
    ("float", [1.5, -0.25, 1e-7, 12345.678, 0.0], (1.5, 1.6)),
    ("bool", [True, False], (True, False)),
    (
        "str",
        ["", "hello", 'quote " and \\ backslash', "tab\tnew\nline", "unicode é ✓ 𝄞", "$dollar #{x} %s %d {0} ${y}", "'single'"],
        ("abc", "abd"),
    ),
    ("List[int]", [[], [1, 2, 3]], ([1, 2, 3], [1, 2, 4])),
    ("List[List[int]]", [[[1], [], [2, 3]], []], ([[1], [2]], [[1], [2, 3]])),
    ("List[str]", [["a", ""], []], (["a"], ["b"])),
    ("List[float]", [[0.1, 2.5], []], ([0.1], [0.2])),
    ("Tuple[int, str]", [(1, "a"), (-2, "")], ((1, "a"), (1, "b"))),
    ("Tuple[int, int]", [(2, 3)], ((2, 3), (3, 2))),
    ("List[Tuple[str, float]]", [[("a", 1.5)], []], ([("a", 1.5)], [("a", 2.5)])),
    ("Dict[str, int]", [{}, {"a": 1, "b": 2}], ({"a": 1}, {"a": 2})),
    ("Dict[int, List[str]]", [{1: ["x"], 2: []}], ({1: ["x"]}, {2: ["x"]})),
    ("Optional[int]", [None, 5], (None, 5)),
    ("Optional[str]", [None, "s"], ("s", None)),
    # unions (HumanEval/103, 125, 137): each value is of its member; the member matters
    ("Union[str, int]", ["0b11", -1, ""], (1, "1")),
    ("Optional[Union[int, float, str]]", [None, 2, 2.5, "2,3"], (2.5, "2.5")),
    ("Union[List[str], int]", [["Hello", "world!"], [], 3], (["a"], 1)),
]


def _program(lang, sig, doc, body, tests):
    assert lang.supports(sig) is None, lang.supports(sig)
    return lang.program(sig, doc, body, tests)


def _expected(lang, sig, tests):
    return lang.expected_results(sig, tests)


@pytest.mark.parametrize("lang_name", by_toolchain(LANGS))
def test_correct_program_is_ok(lang_name, execute):
    lang = usable(lang_name)
    res = execute(lang_name, _program(lang, ADD, ADD_DOC, snippets(lang_name)["add"], ADD_TESTS), expected=_expected(lang, ADD, ADD_TESTS))
    assert (res.status, res.passed, res.total, res.verified) == ("ok", 4, 4, True), res.describe()


@pytest.mark.parametrize("lang_name", by_toolchain(LANGS))
def test_wrong_result_is_test_failure_with_counts(lang_name, execute):
    lang = usable(lang_name)
    # a - b is right only for (7, 0): 1 of 4 tests passes
    res = execute(lang_name, _program(lang, ADD, ADD_DOC, snippets(lang_name)["add_wrong"], ADD_TESTS), expected=_expected(lang, ADD, ADD_TESTS))
    assert (res.status, res.passed, res.total) == ("test_failure", 1, 4), res.describe()


@pytest.mark.parametrize("lang_name", by_toolchain(LANGS))
def test_broken_program_is_compile_error(lang_name, execute):
    lang = usable(lang_name)
    res = execute(lang_name, _program(lang, ADD, ADD_DOC, snippets(lang_name)["broken"], ADD_TESTS), expected=_expected(lang, ADD, ADD_TESTS))
    assert res.status == "compile_error", res.describe()
    assert res.passed == 0


@pytest.mark.parametrize("lang_name", by_toolchain(LANGS))
def test_exception_in_one_test_is_runtime_error(lang_name, execute):
    lang = usable(lang_name)
    res = execute(lang_name, _program(lang, ADD, ADD_DOC, snippets(lang_name)["raise_on_zero"], ADD_TESTS), expected=_expected(lang, ADD, ADD_TESTS))
    assert (res.status, res.passed, res.total) == ("runtime_error", 3, 4), res.describe()


@pytest.mark.parametrize("lang_name", by_toolchain(LANGS))
def test_float_tolerance(lang_name, execute):
    lang = usable(lang_name)
    tests = [TestCase((1.0,), 1.0), TestCase((2.5,), 2.5), TestCase((0.0,), 0.0)]
    close = execute(lang_name, _program(lang, SCALE, "Scale.", snippets(lang_name)["scale_close"], tests), expected=_expected(lang, SCALE, tests))
    far = execute(lang_name, _program(lang, SCALE, "Scale.", snippets(lang_name)["scale_far"], tests), expected=_expected(lang, SCALE, tests))
    assert (close.status, close.passed) == ("ok", 3), close.describe()
    assert (far.status, far.passed) == ("test_failure", 0), far.describe()


@pytest.mark.parametrize("lang_name", by_toolchain(LANGS))
def test_values_round_trip_and_deep_equality_discriminates(lang_name, execute_many):
    """identity(x: T) -> T over nested values: every literal must round-trip, and one wrong
    expectation per type must be reported as exactly that test failing."""
    lang = usable(lang_name)
    body = snippets(lang_name)["identity"]
    programs = []
    for annotation, values, (inp, wrong) in IDENTITY_CASES:
        sig = Signature.parse("identity", [("x", annotation)], annotation)
        tests = [TestCase((v,), v) for v in values] + [TestCase((inp,), wrong)]
        for t in tests:
            t.check(sig)
        programs.append((annotation, _program(lang, sig, f"Return x ({annotation}).", body, tests), _expected(lang, sig, tests)))
    results = execute_many(lang_name, [(p, n) for _, p, n in programs])
    bad = []
    for (annotation, _, expected), res in zip(programs, results):
        n = len(expected.values)
        if (res.status, res.passed, res.total, res.failed_tests) != ("test_failure", n - 1, n, [n - 1]):
            bad.append(f"{annotation}: {res.describe()}")
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize("lang_name", by_toolchain(LANGS))
def test_union_values_in_the_self_checking_harness(lang_name, execute_many):
    """The self-checking harness (MultiPL-E exports) compares union values in the program: the
    same member with an equal value passes, another member or value fails."""
    lang = usable(lang_name)
    body = snippets(lang_name)["identity"]
    programs = []
    for annotation, values, (inp, wrong) in [c for c in IDENTITY_CASES if "Union" in c[0]]:
        sig = Signature.parse("identity", [("x", annotation)], annotation)
        tests = [TestCase((v,), v) for v in values] + [TestCase((inp,), wrong)]
        programs.append((annotation, lang.check_program(sig, "Return x.", body, tests), len(tests)))
    results = execute_many(lang_name, [(p, n) for _, p, n in programs])
    bad = [f"{a}: {r.describe()}" for (a, _, n), r in zip(programs, results) if (r.status, r.passed, r.failed_tests) != ("test_failure", n - 1, [n - 1])]
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize("lang_name", by_toolchain(LANGS))
def test_tricky_values_round_trip(lang_name, execute_many):
    """Every value of tricky.CASES that the PL can express survives literal rendering and the
    harness (values it cannot express must raise UnsupportedError, never render wrongly)."""
    lang = usable(lang_name)
    body = snippets(lang_name)["identity"]
    programs, skipped = [], []
    for annotation, values in tricky.CASES:
        sig = Signature.parse("identity", [("x", annotation)], annotation)
        if lang.supports(sig) is not None:
            skipped.append(f"{annotation}: {lang.supports(sig)}")
            continue
        kept = []
        for v in values:
            try:
                lang.render_value(v, sig.params[0].type)
                kept.append(v)
            except UnsupportedError as exc:
                skipped.append(f"{v!r}: {exc.reason}")
        tests = [TestCase((v,), v) for v in kept]
        programs.append((annotation, _program(lang, sig, "Return x.", body, tests), _expected(lang, sig, tests)))
    assert len(programs) >= len(tricky.CASES) // 2, f"{lang_name} supports too little: {skipped}"
    results = execute_many(lang_name, [(p, n) for _, p, n in programs])
    bad = [f"{a}: {r.describe()}" for (a, _, e), r in zip(programs, results) if (r.status, r.passed) != ("ok", len(e.values))]
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize("lang_name", LANGS)
def test_prompt_shape(lang_name):
    lang = get_language(lang_name)
    prompt = lang.prompt(ADD, ADD_DOC)
    assert prompt.endswith("\n")
    for line in ADD_DOC.splitlines():
        assert line in prompt, f"docstring line {line!r} missing from the {lang_name} prompt:\n{prompt}"
    assert "add" in prompt
    assert lang.stop_sequences and all(s for s in lang.stop_sequences)
    # a well-formed completion never contains a stop sequence before the function ends
    body = snippets(lang_name)["add"]
    assert not any(s in body for s in lang.stop_sequences), (lang.stop_sequences, body)


@pytest.mark.parametrize("lang_name", LANGS)
def test_reserved_word_parameters_are_renamed(lang_name):
    lang = get_language(lang_name)
    words = sorted(lang.reserved_words)
    if not words:
        pytest.skip(f"{lang_name} declares no reserved words")
    assert lang.identifier(words[0]) != words[0]
