"""Jobs in, results out: the engine's data model."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field, fields
from enum import Enum
from typing import Any


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

    def __str__(self) -> str:
        return self.value


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
            v = getattr(self, f.name)
            if v is not None and (not isinstance(v, (int, float)) or isinstance(v, bool) or v <= 0):
                raise ValueError(f"limits.{f.name} must be a positive number, got {v!r}")

    @classmethod
    def from_dict(cls, data: dict[str, Any], where: str = "limits") -> Limits:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"{where}: unknown field(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
        return cls(**data)


@dataclass(frozen=True)
class Job:
    """One program to run: a complete source (solution + harness) in one language.

    ``num_tests`` is how many test cases the harness reports (see the harness protocol in
    ``xpl.languages.base``); without it the program is judged by its exit status alone.
    ``id`` and ``meta`` are the caller's labels: not part of the job's identity.
    """

    language: str
    program: str
    num_tests: int | None = None
    limits: Limits = field(default_factory=Limits)
    id: str | None = None
    meta: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    def key(self, toolchain_version: str, language: str | None = None) -> str:
        """Content hash of everything that determines the result (``language``: the canonical
        name, so that aliases such as "rs" and "rust" share results)."""
        payload = json.dumps(
            [PROTOCOL_VERSION, language or self.language, self.program, self.num_tests, asdict(self.limits), toolchain_version],
            sort_keys=True,
        )
        return hashlib.sha256(payload.encode()).hexdigest()


# Bump when the meaning of a stored result changes (harness protocol, classification rules).
PROTOCOL_VERSION = 1


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
