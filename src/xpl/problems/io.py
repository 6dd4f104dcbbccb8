"""Problem files: xpl's own JSONL (one ``Problem.to_json`` per line) and MultiPL-E's JSONL.

Readers never stop at a bad line: they return what loaded and one ``FILE:LINE: ...`` message
per line that did not, naming the field.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

from xpl.jsonl import read_lines
from xpl.languages import UnsupportedError, get_language
from xpl.problems.problem import Problem, ProblemFormatError

MULTIPL_E_FIELDS = ("name", "language", "prompt", "doctests", "original", "prompt_terminology", "tests", "stop_tokens")


def _lines(path: Path) -> Iterable[tuple[int, Any | None, str | None]]:
    """(line number, parsed JSON or None, error or None) for every non-blank line; bad bytes
    and bad JSON are per-line errors (``xpl.jsonl``)."""
    for line in read_lines(path):
        yield line.number, line.value, line.error


def read_problems(path: str | Path) -> tuple[list[Problem], list[str]]:
    problems, errors = [], []
    for lineno, rec, err in _lines(Path(path)):
        if err is None:
            try:
                problems.append(Problem.from_json(rec))
                continue
            except (ProblemFormatError, ValueError) as exc:
                err = str(exc)
        errors.append(f"{path}:{lineno}: {err}")
    return problems, errors


def write_problems(path: str | Path, problems: Iterable[Problem]) -> int:
    n = 0
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with Path(path).open("w", encoding="utf-8") as fh:
        for p in problems:
            fh.write(json.dumps(p.to_json(), ensure_ascii=False) + "\n")
            n += 1
    return n


# ---------------------------------------------------------------------- MultiPL-E


@dataclass(frozen=True)
class MultiPLERecord:
    """One MultiPL-E problem in one PL: the program is ``prompt + completion + tests``."""

    name: str
    language: str  # xpl's canonical name
    prompt: str
    tests: str
    stop_tokens: tuple[str, ...]
    extra: dict[str, Any]  # the other MultiPL-E fields, kept for writing back

    def program(self, completion: str) -> str:
        return self.prompt + completion + self.tests


def to_multipl_e(problem: Problem, language: str) -> dict[str, Any]:
    """``problem`` as a MultiPL-E record for ``language`` (raises ``UnsupportedError``)."""
    lang = get_language(language)
    rendered = problem.render(lang)
    # MultiPL-E programs judge themselves (exit status): the self-checking harness.
    tests = lang.completion_suffix + lang.check_harness(problem.signature, problem.tests)
    name, prompt, tests = lang.multipl_e_form(rendered.prompt, tests)
    return {
        "name": problem.name,
        "language": name,
        "prompt": prompt,
        "doctests": "keep",
        "original": problem.source,
        "prompt_terminology": "verbatim",
        "tests": tests,
        "stop_tokens": list(rendered.stop_sequences),
    }


def write_multipl_e(path: str | Path, problems: Iterable[Problem], language: str) -> tuple[int, list[str]]:
    """Write the problems ``language`` can express; returns (count, one reason per skipped one)."""
    n, skipped = 0, []
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with Path(path).open("w", encoding="utf-8") as fh:
        for p in problems:
            try:
                rec = to_multipl_e(p, language)
            except UnsupportedError as exc:
                skipped.append(f"{p.name}: {exc.reason}")
                continue
            fh.write(json.dumps(rec, ensure_ascii=False) + "\n")
            n += 1
    return n, skipped


def read_multipl_e(path: str | Path) -> tuple[list[MultiPLERecord], list[str]]:
    records, errors = [], []
    for lineno, rec, err in _lines(Path(path)):
        if err is None:
            try:
                records.append(_multipl_e_record(rec))
                continue
            except ValueError as exc:
                err = str(exc)
        errors.append(f"{path}:{lineno}: {err}")
    return records, errors


def _multipl_e_record(rec: Any) -> MultiPLERecord:
    if not isinstance(rec, dict):
        raise ValueError("expected a JSON object")
    for name in ("name", "language", "prompt", "tests"):
        if not isinstance(rec.get(name), str):
            raise ValueError(f"field {name!r} is missing or not a string")
    stops = rec.get("stop_tokens", [])
    if not isinstance(stops, list) or not all(isinstance(s, str) for s in stops):
        raise ValueError("field 'stop_tokens' must be a list of strings")
    lang = get_language(rec["language"])  # UnknownLanguage is a ValueError naming the value
    extra = {k: v for k, v in rec.items() if k not in ("name", "language", "prompt", "tests", "stop_tokens")}
    return MultiPLERecord(rec["name"], lang.name, rec["prompt"], rec["tests"], tuple(stops), extra)
