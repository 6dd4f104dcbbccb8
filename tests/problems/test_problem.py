import json
import math

import pytest

from tests.languages import tricky
from xpl.execution import Job, Limits, Status
from xpl.languages import UnsupportedError, get_language
from xpl.languages.types import Signature, TestCase, parse_type, values_equal
from xpl.problems import (
    Problem,
    ProblemFormatError,
    decode,
    encode,
    read_multipl_e,
    read_problems,
    to_multipl_e,
    write_multipl_e,
    write_problems,
)

SIG = Signature.parse("pairs", [("xs", "List[int]"), ("tag", "str")], "Dict[int, Tuple[str, float]]")
PROBLEM = Problem(
    "xpl_0_pairs",
    "test",
    SIG,
    "Map each number to (tag, half of it).\n>>> pairs([2], 'a')\n{2: ('a', 1.0)}",
    (TestCase(([2, 5], "a"), {2: ("a", 1.0), 5: ("a", 2.5)}), TestCase(([], "b"), {})),
    {"python": "    return {x: (tag, x / 2) for x in xs}\n"},
)


@pytest.mark.parametrize("annotation, values", tricky.CASES, ids=[a for a, _ in tricky.CASES])
def test_json_codec_is_exact(annotation, values):
    typ = parse_type(annotation)
    for v in values:
        back = decode(json.loads(json.dumps(encode(v, typ))), typ)
        assert values_equal(back, v) and type(back) is type(v), (v, back)
        if isinstance(v, float) and not math.isnan(v):
            assert math.copysign(1, back) == math.copysign(1, v)


def test_decode_names_what_does_not_fit():
    with pytest.raises(TypeError, match="expected 2 items"):
        decode([1], parse_type("Tuple[int, int]"))
    with pytest.raises(TypeError, match="expected a number"):
        decode("x", parse_type("float"))
    with pytest.raises(TypeError, match="expected int"):
        decode([["a", 1]], parse_type("Dict[int, int]"))


def test_problem_round_trips_through_jsonl(tmp_path):
    path = tmp_path / "p.jsonl"
    assert write_problems(path, [PROBLEM]) == 1
    loaded, errors = read_problems(path)
    assert errors == []
    assert loaded == [PROBLEM] and loaded[0].solutions == PROBLEM.solutions


def test_notes_round_trip_and_are_optional(tmp_path):
    noted = Problem(PROBLEM.name, PROBLEM.source, SIG, PROBLEM.description, PROBLEM.tests, notes=("check() line 3: dropped",))
    path = tmp_path / "p.jsonl"
    write_problems(path, [noted])
    [loaded], errors = read_problems(path)
    assert errors == [] and loaded.notes == ("check() line 3: dropped",)
    assert loaded == PROBLEM  # notes, like solutions, are not part of a problem's identity
    without = {k: v for k, v in PROBLEM.to_json().items() if k != "notes"}
    assert Problem.from_json(without).notes == ()
    with pytest.raises(ProblemFormatError, match="field 'notes'"):
        Problem.from_json(PROBLEM.to_json() | {"notes": "one"})


def test_bad_lines_are_reported_and_the_rest_loads(tmp_path):
    good = json.dumps(PROBLEM.to_json())
    bad_type = PROBLEM.to_json() | {"params": [["xs", "Callable[[int], int]"]]}
    bad_test = PROBLEM.to_json() | {"tests": [{"args": [[1], "a"], "expected": [[1, ["a", "half"]]]}]}
    missing = {k: v for k, v in PROBLEM.to_json().items() if k != "returns"}
    path = tmp_path / "p.jsonl"
    path.write_text("\n".join([good, "{oops", json.dumps(bad_type), json.dumps(bad_test), json.dumps(missing), good]) + "\n")
    loaded, errors = read_problems(path)
    assert len(loaded) == 2
    assert [e.split(": ", 1)[0] for e in errors] == [f"{path}:{n}" for n in (2, 3, 4, 5)]
    assert "not valid JSON" in errors[0]
    assert "field 'params'/'returns'" in errors[1] and "Callable" in errors[1]
    assert "field 'tests[0]'" in errors[2]
    assert "field 'returns' is missing" in errors[3]


def test_a_problem_must_have_well_typed_tests():
    with pytest.raises(ProblemFormatError, match="test 0"):
        Problem("p", "t", SIG, "d", (TestCase(([1], 2), {}),))
    with pytest.raises(ProblemFormatError, match="no test cases"):
        Problem("p", "t", SIG, "d", ())


def test_multipl_e_export_and_import(tmp_path):
    rec = to_multipl_e(PROBLEM, "rust")
    assert set(rec) == {"name", "language", "prompt", "doctests", "original", "prompt_terminology", "tests", "stop_tokens"}
    assert rec["language"] == "rs" and rec["stop_tokens"] == ["\n}"]
    path = tmp_path / "rs.jsonl"
    n, skipped = write_multipl_e(path, [PROBLEM], "rust")
    assert (n, skipped) == (1, [])
    with path.open("a") as fh:
        fh.write(json.dumps({"name": "x", "language": "cobol", "prompt": "", "tests": ""}) + "\n")
    records, errors = read_multipl_e(path)
    assert len(records) == 1 and records[0].language == "rust" and records[0].prompt == rec["prompt"]
    assert len(errors) == 1 and f"{path}:2:" in errors[0] and "cobol" in errors[0]


def test_untranslatable_problems_are_skipped_with_the_reason(tmp_path):
    sig = Signature.parse("f", [("x", "List[Optional[int]]")], "int")
    p = Problem("lua_cannot", "test", sig, "d", (TestCase(([None, 1],), 1),))
    with pytest.raises(UnsupportedError):
        p.render("lua")
    n, skipped = write_multipl_e(tmp_path / "lua.jsonl", [p], "lua")
    assert n == 0 and skipped and skipped[0].startswith("lua_cannot: ")


@pytest.mark.parametrize("lang_name, completion", [("python", "    return {x: (tag, x / 2) for x in xs}\n"), ("python", "    return {}\n")])
def test_rendered_problem_runs_through_the_engine(lang_name, completion, engine):
    rendered = PROBLEM.render(lang_name)
    res = engine.run([Job(lang_name, rendered.program(completion), rendered.num_tests, Limits(timeout_s=10), expected=rendered.expected)])[0]
    want = (Status.OK, 2) if "tag" in completion else (Status.TEST_FAILURE, 1)
    assert (res.status, res.passed, res.verified) == (*want, True), res.describe()
    solution = Job("python", PROBLEM.solution_program("python"), 2, expected=PROBLEM.expected_results("python"))
    assert engine.run([solution])[0].status == Status.OK


def test_rendered_program_holds_arguments_and_multipl_e_export_checks_itself():
    """The engine's program reports values (its expected results travel beside it); the
    MultiPL-E record's tests are the self-checking harness, expected values inside."""
    rendered = PROBLEM.render("python")
    assert "__xpl_report(" in rendered.tests and "__xpl_run(" not in rendered.tests
    assert rendered.expected == get_language("python").expected_results(PROBLEM.signature, PROBLEM.tests)
    assert "__xpl_run(" in to_multipl_e(PROBLEM, "python")["tests"]
