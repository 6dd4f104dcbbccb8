"""Jobs in, results out: the engine's data model, and jobs files read line by line."""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import asdict, dataclass, field, fields
from enum import Enum
from pathlib import Path
from typing import Any

from xpl.languages.values import Expected


class Status(str, Enum):
    """Outcome of one job. ``ok`` means it compiled, ran to completion and passed every test."""

    OK = "ok"
    COMPILE_ERROR = "compile_error"  # did not compile (or, for interpreted PLs, did not parse)
    RUNTIME_ERROR = "runtime_error"  # crashed, raised, or stopped before reporting every test
    TEST_FAILURE = "test_failure"  # ran, and at least one test got a wrong result
    TIMEOUT = "timeout"  # wall-clock or CPU limit
    MEMORY_LIMIT = "memory_limit"
    OUTPUT_LIMIT = "output_limit"  # too much stdout/stderr, a file too large, or the work disk full
    SANDBOX_ERROR = "sandbox_error"  # the engine could not run it (never the program's fault)
    INVALID_INPUT = "invalid_input"  # not a job: a line of a jobs file that could not be read as one

    def __str__(self) -> str:
        return self.value


class FieldError(ValueError):
    """A bad or missing field of a job (or of its limits); ``field`` is its dotted name
    (``limits.timeout_s``), ``problem`` what is wrong with it (``must be a positive number,
    got -1``). The message is the two together."""

    def __init__(self, field: str, problem: str):
        super().__init__(f"{field} {problem}")
        self.field = field
        self.problem = problem


# Upper bounds of the limits: a larger value is a typo, and the sandbox could not apply it
# (timers, rlimits and tmpfs sizes overflow).
LIMIT_MAX: dict[str, int] = {
    "timeout_s": 86_400,  # a day
    "cpu_s": 86_400,
    "compile_timeout_s": 86_400,
    "memory_mb": 1 << 20,  # 1 TiB
    "max_processes": 1 << 16,
    "max_file_mb": 1 << 20,
    "max_open_files": 1 << 20,
    "max_output_kb": 1 << 20,  # 1 GiB
    "disk_mb": 1 << 20,
}


@dataclass(frozen=True)
class Limits:
    """Per-job resource limits. Part of the job's identity (its cache key)."""

    timeout_s: float = 10.0  # wall clock for running the program
    cpu_s: float | None = None  # CPU seconds; defaults to timeout_s
    memory_mb: int = 1024  # heap/data (RLIMIT_DATA) and resident-set watchdog
    max_processes: int = 32
    max_file_mb: int = 16  # largest file the program may write
    max_open_files: int = 256
    max_output_kb: int = 1024  # stdout + stderr together
    disk_mb: int = 64  # size of the private scratch file system
    compile_timeout_s: float = 120.0  # per compiler invocation (a batch counts once)

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if value is None and f.default is None:
                continue
            integer = f.type == "int"
            if not isinstance(value, int if integer else (int, float)) or isinstance(value, bool) or (isinstance(value, float) and not math.isfinite(value)) or value <= 0:
                raise FieldError(f"limits.{f.name}", f"must be a positive {'integer' if integer else 'number'}, got {_show(value)}")
            ceiling = LIMIT_MAX.get(f.name)
            if ceiling is not None and value > ceiling:
                raise FieldError(f"limits.{f.name}", f"must be at most {ceiling}, got {_show(value)}")

    @classmethod
    def from_dict(cls, data: Any, where: str = "limits") -> Limits:
        """Limits from a mapping of field names to values (``{"timeout_s": 5}``); ``where``
        names the mapping in errors (``FieldError``)."""
        if not isinstance(data, dict):
            raise FieldError(where, f'must be an object such as {{"timeout_s": 5}}, got {_show(data)}')
        known = [f.name for f in fields(cls)]
        unknown = [k for k in data if k not in known]
        if unknown:
            raise FieldError(where, f"has unknown field(s) {_names(unknown)}; known: {', '.join(known)}")
        try:
            return cls(**data)
        except FieldError as exc:
            raise FieldError(where + exc.field[len("limits") :], exc.problem) from None


@dataclass(frozen=True)
class Job:
    """One program to run: a complete source (solution + harness) in one language.

    ``num_tests`` is how many test cases the harness reports (see the harness protocol in
    ``xpl.languages.base``); without it the program is judged by its exit status alone.
    ``expected`` holds each test's expected result (``verdict.Expected``, made at render time
    next to the program, which holds only the arguments): the engine compares the values the
    harness prints with them outside the sandbox. Without it, the harness's own pass/fail
    lines are taken at their word and the result says ``verified: false``.
    ``id`` and ``meta`` are the caller's labels: not part of the job's identity.
    """

    language: str
    program: str
    num_tests: int | None = None
    limits: Limits = field(default_factory=Limits)
    id: str | None = None
    meta: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)
    expected: Expected | None = field(default=None, hash=False)

    def __post_init__(self) -> None:
        if self.expected is not None:
            n = len(self.expected.values)
            if self.num_tests is None:
                object.__setattr__(self, "num_tests", n)
            elif self.num_tests != n:
                raise ValueError(f"num_tests is {self.num_tests} but {n} expected values are given")

    def key(self, toolchain_version: str, language: str | None = None) -> str:
        """Content hash of everything that determines the result (``language``: the canonical
        name, so that aliases such as "rs" and "rust" share results)."""
        payload = json.dumps(
            [
                PROTOCOL_VERSION,
                language or self.language,
                self.program,
                self.num_tests,
                asdict(self.limits),
                toolchain_version,
                self.expected.to_json() if self.expected is not None else None,
            ],
            sort_keys=True,
        )
        return hashlib.sha256(payload.encode()).hexdigest()

    @classmethod
    def from_json(cls, record: Any, default_id: str | None = None) -> Job:
        """A job from one JSON object, as in an ``xpl exec`` file: ``{"id"?, "language",
        "program", "num_tests"?, "limits"?, "expected"?, "meta"?}`` (``null`` = absent). The
        PL is stored under its canonical name; the id is a string (``default_id`` when none).

        Raises ``FieldError`` naming the field for a missing, unknown or bad field, and
        ``ValueError`` when ``record`` is not an object at all.
        """
        from xpl.languages import all_languages, get_language

        if not isinstance(record, dict):
            raise ValueError(f"expected a JSON object, got {_json_type(record)}")
        unknown = [k for k in record if k not in JOB_FIELDS]
        if unknown:
            raise ValueError(f"unknown field(s) {_names(unknown)}; a job's fields are {', '.join(JOB_FIELDS)}")
        ident = record.get("id")
        if ident is not None and (isinstance(ident, bool) or not isinstance(ident, (str, int))):
            raise FieldError("id", f"must be a string or an integer, got {_show(ident)}")
        for name in ("language", "program"):
            if record.get(name) is None:
                raise FieldError(name, "is missing")
            if not isinstance(record[name], str):
                raise FieldError(name, f"must be a string, got {_show(record[name])}")
        try:
            language = get_language(record["language"]).name
        except ValueError:
            known = ", ".join(lang.name for lang in all_languages())
            raise FieldError("language", f"must name a PL, got {_show(record['language'])}; known: {known}") from None
        program = record["program"]
        surrogate = _lone_surrogate(program)
        if surrogate is not None:
            raise FieldError(
                "program",
                f"holds a lone surrogate (U+{ord(program[surrogate]):04X} at character {surrogate + 1}), "
                "which is not Unicode text: no source file can hold it",
            )
        num_tests = record.get("num_tests")
        if num_tests is not None and (isinstance(num_tests, bool) or not isinstance(num_tests, int) or not 0 <= num_tests <= MAX_TESTS):
            raise FieldError("num_tests", f"must be an integer from 0 to {MAX_TESTS}, got {_show(num_tests)}")
        limits = Limits() if record.get("limits") is None else Limits.from_dict(record["limits"], where="limits")
        expected = None
        if record.get("expected") is not None:
            try:
                expected = Expected.from_json(record["expected"], where="expected")
            except ValueError as exc:
                field_name, _, problem = str(exc).partition(": ")  # "expected.values[2]: why"
                if not field_name.startswith("expected") or not problem:
                    field_name, problem = "expected", str(exc)
                raise FieldError(field_name, f"is not valid: {problem}") from None
        meta = record.get("meta")
        if meta is not None and not isinstance(meta, dict):
            raise FieldError("meta", f"must be an object, got {_show(meta)}")
        ident = default_id if ident is None else str(ident)
        return cls(language, program, num_tests, limits, id=ident, meta=meta or {}, expected=expected)


# The fields of a job in JSON (``Job.from_json``), and the most tests one job may report.
JOB_FIELDS = ("id", "language", "program", "num_tests", "limits", "expected", "meta")
MAX_TESTS = 100_000


@dataclass
class JobLine:
    """One non-blank line of a jobs file: its job, or the one-line reason it is none."""

    number: int  # 1-based
    record: Any  # the line's JSON value (None when it did not parse)
    job: Job | None = None
    error: str = ""  # "FILE:LINE: ..." when there is no job


def load_jobs(path: str | Path) -> list[JobLine]:
    """Every non-blank line of a JSONL jobs file (``xpl exec``), in order, read by
    ``Job.from_json`` (the id defaults to the line number). A line that is not a job gets
    ``error``: ``FILE:LINE: field 'limits.timeout_s' must be ...``, ``FILE:LINE: not valid
    JSON (...)``. Raises ``OSError`` only when the file cannot be read at all."""
    from xpl.jsonl import read_lines

    lines = []
    for line in read_lines(path):
        where = f"{path}:{line.number}"
        if line.error is not None:
            lines.append(JobLine(line.number, None, error=f"{where}: {line.error}"))
            continue
        try:
            job = Job.from_json(line.value, default_id=str(line.number))
        except FieldError as exc:
            lines.append(JobLine(line.number, line.value, error=f"{where}: field '{exc.field}' {exc.problem}"))
        except ValueError as exc:
            lines.append(JobLine(line.number, line.value, error=f"{where}: {exc}"))
        else:
            lines.append(JobLine(line.number, line.value, job=job))
    return lines


def invalid_input(record: Any, detail: str, default_id: str) -> Result:
    """The result of a jobs-file line that is not a job: ``invalid_input`` with the reason
    (``detail``), and the id and PL of ``record`` as far as they can be read (``default_id``
    and ``"-"`` where they cannot)."""
    from xpl.languages import get_language

    ident, language = default_id, "-"
    if isinstance(record, dict):
        if isinstance(record.get("id"), (str, int)) and not isinstance(record["id"], bool):
            ident = str(record["id"])
        if isinstance(record.get("language"), str):
            try:
                language = get_language(record["language"]).name
            except ValueError:
                pass
    return Result(Status.INVALID_INPUT, language, detail=detail, id=ident)


def _lone_surrogate(text: str) -> int | None:
    """The index of the first lone surrogate in ``text`` (JSON's ``"\\udc80"`` decodes to one),
    or None when ``text`` is valid Unicode."""
    try:
        text.encode("utf-8")
        return None
    except UnicodeEncodeError as exc:
        return exc.start


def _show(value: Any, width: int = 60) -> str:
    """``value`` as it would be written in JSON-ish text, cut to ``width`` characters."""
    text = repr(value)
    return text if len(text) <= width else text[: width - 3] + "..."


def _names(names: list[Any]) -> str:
    """Field names for a message: quoted, at most 5 of them."""
    shown = ", ".join(_show(n, 40) for n in names[:5])
    return shown + (f" and {len(names) - 5} more" if len(names) > 5 else "")


def _json_type(value: Any) -> str:
    names = {list: "an array", str: "a string", bool: "a boolean", int: "a number", float: "a number", type(None): "null"}
    return names.get(type(value), type(value).__name__)


# Bump when the meaning of a stored result changes (harness protocol, classification rules).
# 2: harnesses print each test's value and the engine judges it against Job.expected.
PROTOCOL_VERSION = 2


@dataclass
class Result:
    """What happened to one job."""

    status: Status
    language: str
    passed: int = 0
    total: int = 0
    failed_tests: list[int] = field(default_factory=list)  # indices that failed or raised
    exit_code: int | None = None
    signal: int | None = None
    stdout: str = ""  # tail
    stderr: str = ""  # tail
    compile_output: str = ""  # tail of the compiler's diagnostics
    compile_s: float = 0.0  # this job's share of its compiler invocation's wall time
    run_s: float = 0.0
    peak_rss_kb: int = 0
    detail: str = ""  # why, in words, for statuses that need it
    key: str = ""
    id: str | None = None
    cached: bool = False  # served from the results store
    # True when the tests were judged by the engine against the job's expected values; False
    # when the program's own report (pass/fail lines, exit status) was taken at its word.
    verified: bool = False

    @property
    def ok(self) -> bool:
        return self.status == Status.OK

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["status"] = self.status.value
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Result:
        known = {f.name for f in fields(cls)}
        data = {k: v for k, v in d.items() if k in known}
        data["status"] = Status(data["status"])
        return cls(**data)

    def describe(self) -> str:
        parts = [f"{self.language} {self.status.value} {self.passed}/{self.total}"]
        if self.detail:
            parts.append(self.detail)
        if self.exit_code is not None:
            parts.append(f"exit={self.exit_code}")
        if self.signal is not None:
            parts.append(f"signal={self.signal}")
        for name in ("compile_output", "stderr", "stdout"):
            text = getattr(self, name).strip()
            if text:
                parts.append(f"{name}: {text[-800:]}")
        return " | ".join(parts)
