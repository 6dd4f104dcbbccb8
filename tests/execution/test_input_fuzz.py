"""Fuzzing what users feed ``xpl exec``: random bytes, random JSON and mutated job lines.

Whatever a jobs file holds, ``xpl exec`` must not end in a traceback, must exit as the README
says (0 when at least one job ran, 2 when none could) and must write one result row per
non-blank line, in order, so that results and inputs align. Most generated lines never reach
an interpreter; the few valid ones are trivial Python or Lua programs, so the whole test takes
seconds.
"""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from xpl.cli import app
from xpl.execution import FieldError, Job, Limits, Status
from xpl.execution.job import load_jobs
from xpl.jsonl import read_lines
from xpl.languages import get_language

runner = CliRunner()

FUZZ = settings(
    max_examples=30,
    deadline=None,
    database=None,  # nothing written into the repository
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.function_scoped_fixture],
)

# Any JSON value, with the strings JSON can carry but UTF-8 cannot (lone surrogates: "\udc80").
any_text = st.text(st.characters(exclude_categories=()), max_size=20)
json_scalars = st.none() | st.booleans() | st.integers() | st.floats() | any_text
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(any_text, inner, max_size=4),
    max_leaves=12,
)

PROGRAMS = ["print(1)\n", "x", "raise SystemExit(3)\n", "", "print('\udc80')\n", "print('[/] :smile:')\n"]
LANGUAGES = ["py", "python", " PY ", "lua", "cobol", "", "[/]"]


@st.composite
def job_records(draw) -> dict:
    """A job record near a valid one: each field present or not, plausible or random."""
    record: dict = {}
    if draw(st.booleans()):
        record["id"] = draw(any_text | st.integers() | json_values)
    if draw(st.integers(0, 9)):
        record["language"] = draw(st.sampled_from(LANGUAGES) | json_values) if draw(st.integers(0, 3)) else draw(json_values)
    if draw(st.integers(0, 9)):
        record["program"] = draw(st.sampled_from(PROGRAMS)) if draw(st.integers(0, 3)) else draw(json_values)
    if draw(st.booleans()):
        record["num_tests"] = draw(st.sampled_from([None, 0, 1, -1, 10**30, 1.5, True, "2"]) | json_values)
    if draw(st.booleans()):
        limits = st.dictionaries(st.sampled_from(["timeout_s", "memory_mb", "cpu_s", "disk_mb", "timeout"]), json_values, max_size=3)
        record["limits"] = draw(limits | json_values | st.just({"timeout_s": 5}))
    if draw(st.integers(0, 4)) == 0:
        record["meta"] = draw(json_values)
    if draw(st.integers(0, 9)) == 0:
        record[draw(any_text)] = draw(json_values)
    return record


@st.composite
def mutated_bytes(draw, data: bytes) -> bytes:
    """``data`` with a few bytes flipped, inserted or deleted (never a newline: one line stays one)."""
    data = bytearray(data)
    for _ in range(draw(st.integers(1, 3))):
        at = draw(st.integers(0, len(data)))
        byte = draw(st.integers(0, 255).filter(lambda b: b != 0x0A))
        op = draw(st.sampled_from(["flip", "insert", "delete"]))
        if op == "insert" or not data:
            data.insert(at, byte)
        elif op == "flip":
            data[min(at, len(data) - 1)] = byte
        else:
            del data[min(at, len(data) - 1)]
    return bytes(data)


@st.composite
def lines(draw) -> bytes:
    kind = draw(st.sampled_from(["record", "record", "record", "mutated", "json", "bytes", "blank"]))
    if kind == "blank":
        return draw(st.sampled_from([b"", b"  ", b"\t", b"\r"]))
    if kind == "bytes":
        return draw(st.binary(max_size=40).map(lambda b: b.replace(b"\n", b"")))
    if kind == "json":
        return json.dumps(draw(json_values)).encode()
    record = json.dumps(draw(job_records()), ensure_ascii=draw(st.booleans())).encode("utf-8", errors="surrogatepass")
    return draw(mutated_bytes(record)) if kind == "mutated" else record


def _nonblank(file_lines: list[bytes]) -> list[int]:
    """The numbers of the lines that are not blank (a byte-order mark opening the file is no content)."""
    return [n for n, line in enumerate(file_lines, 1) if (line[3:] if n == 1 and line.startswith(b"\xef\xbb\xbf") else line).strip(b" \t\r")]


@FUZZ
@given(st.lists(lines(), min_size=1, max_size=6))
def test_exec_accounts_for_every_line_of_any_file(tmp_path_factory, file_lines):
    folder = tmp_path_factory.mktemp("fuzz")
    jobs, out = folder / "jobs.jsonl", folder / "results.jsonl"
    jobs.write_bytes(b"\n".join(file_lines) + b"\n")
    res = runner.invoke(app, ["exec", str(jobs), "--out", str(out), "-j", "1"])

    assert res.exception is None or isinstance(res.exception, SystemExit), repr(res.exception)
    assert "Traceback" not in res.output
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [r["line"] for r in rows] == _nonblank(file_lines), res.output
    statuses = {s.value for s in Status}
    for row in rows:
        assert row["status"] in statuses and isinstance(row["id"], str), row
        if row["status"] == Status.INVALID_INPUT.value:
            # The same one-line message in the row and on the terminal.
            assert row["detail"].startswith(f"{jobs}:{row['line']}: ") and "\n" not in row["detail"], row
            assert row["detail"] in res.output
    ran = any(r["status"] != Status.INVALID_INPUT.value for r in rows)
    event(f"a job ran: {ran}")
    assert res.exit_code == (0 if ran else 2), res.output


@FUZZ
@given(json_values)
def test_job_from_json_takes_any_value_or_names_the_problem(value):
    try:
        job = Job.from_json(value, default_id="1")
    except FieldError as exc:
        assert exc.field.split(".")[0].split("[")[0] in ("id", "language", "program", "num_tests", "limits", "expected", "meta"), exc
        assert "\n" not in str(exc)
    except ValueError as exc:
        assert str(exc).startswith(("expected a JSON object", "unknown field(s)")), exc
    else:
        assert isinstance(job.program, str) and job.language == get_language(job.language).name
        assert isinstance(job.limits, Limits) and isinstance(job.id, str)


@FUZZ
@given(st.lists(st.binary(max_size=30).map(lambda b: b.replace(b"\n", b"")), max_size=6))
def test_jsonl_reader_reports_any_bytes_per_line(tmp_path_factory, file_lines):
    path = tmp_path_factory.mktemp("lines") / "f.jsonl"
    path.write_bytes(b"\n".join(file_lines))
    read = list(read_lines(path))
    assert [line.number for line in read] == _nonblank(file_lines)
    for line in read:
        assert (line.error is None) or ("\n" not in line.error and line.value is None)


@pytest.mark.parametrize(
    "text, error",
    [
        (b'{"a": 1}\n\xef\xbb\xbf', "not valid JSON"),  # a byte-order mark is allowed only at the start
        (b"[" * 100_000, "nested too deeply"),
        (b"9" * 5000, "digits"),
        (b'"caf\xc3\xa9 \xe9"', "not valid UTF-8 (byte 0xe9 at column 7)"),
    ],
)
def test_jsonl_reader_errors(tmp_path, text, error):
    path = tmp_path / "f.jsonl"
    path.write_bytes(text)
    *_, last = read_lines(path)
    assert last.error is not None and error in last.error, last


def test_jsonl_reader_takes_a_byte_order_mark_and_windows_line_ends(tmp_path):
    path = tmp_path / "f.jsonl"
    path.write_bytes(b'\xef\xbb\xbf{"a": 1}\r\n\r\n[2]\r\n')
    assert [(line.number, line.value) for line in read_lines(path)] == [(1, {"a": 1}), (3, [2])]


def test_load_jobs_reads_every_line_into_a_job_or_a_file_line_error(tmp_path):
    path = tmp_path / "jobs.jsonl"
    lines = [
        json.dumps({"language": "py", "program": "print(1)"}),
        "",
        "{not json",
        json.dumps({"language": "python", "program": "x", "limits": {"timeout_s": -1}}),
        json.dumps([1]),
        json.dumps({"id": 7, "language": "lua", "program": "x"}),
    ]
    path.write_text("\n".join(lines) + "\n")
    read = load_jobs(path)
    assert [line.number for line in read] == [1, 3, 4, 5, 6]
    assert read[0].job is not None and read[0].job.language == "python" and read[0].job.id == "1"
    assert read[1].job is None and read[1].record is None and read[1].error.startswith(f"{path}:3: not valid JSON")
    assert read[2].error == f"{path}:4: field 'limits.timeout_s' must be a positive number, got -1"
    assert read[3].error == f"{path}:5: expected a JSON object, got an array" and read[3].record == [1]
    assert read[4].job is not None and read[4].job.id == "7" and not read[4].error
