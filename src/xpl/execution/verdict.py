"""Verdicts from harness output, decided outside the sandbox.

A harness (``Language.harness``) knows the arguments of each test but not its expected
result: it calls the function and prints what came back, one protocol line per test (the
protocol is described in ``xpl.languages.base``)::

    @@xpl <nonce> <i> value <json>     the call returned; <json> is the value (see below)
    @@xpl <nonce> <i> error            the call raised
    @@xpl <nonce> done                 after the last test

The sandboxed runner keeps every line that starts with ``@@xpl <nonce> `` (the rest of the
line, in order) and the engine judges them here against the job's ``Expected`` values, which
never enter the sandbox. A program can print lines of its own with the right nonce, but a
line only passes a test when it carries that test's right answer, and a test whose index
appears on more than one line, or whose line is malformed, fails.

The value encoding is the problem JSON encoding (``xpl.languages.values.encode``), read
against the declared return type: floats are numbers or the strings ``"nan"``, ``"inf"``,
``"-inf"``; tuples are arrays; dicts are arrays of ``[key, value]`` pairs; None is ``null``.
A JSON object is never a value: harnesses write ``{"invalid": ...}`` for a result that is not
of the declared type (e.g. a Python function returning a str where an int is declared, a Java
null reference where no Optional is declared), and it fails the test. Comparison is
``types.values_equal`` on the decoded value: deep, floats within ``types.floats_close``, dicts
order-insensitive, and (as the dynamically typed PLs' harnesses always did) an int and a float
compare as numbers.

Jobs without expected values (e.g. complete programs in an ``xpl exec`` file) are judged by the
legacy self-reported lines ``@@xpl <nonce> <i> pass|fail|error`` (the self-checking harness,
``Language.check_harness``) and their results say ``verified: false``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Sequence

from xpl.languages.types import Type, values_equal
from xpl.languages.values import Expected, decode_value

_SHOW_CHARS = 300


@dataclass
class Verdict:
    """The outcome of each reported test (``pass``, ``fail`` or ``error``), whether the
    harness said ``done``, and the first wrong answer in words (for the result's detail)."""

    outcomes: dict[int, str]
    done: bool
    first_failure: str = ""


def judge(marks: Sequence[str], num_tests: int | None, expected: Expected | None) -> Verdict:
    """Judge the protocol lines of one run (each without its ``@@xpl <nonce> `` prefix).

    With ``expected``: a test passes only if exactly one line names it and that line's value
    equals its expected value; a test named twice, or on a malformed line, fails. Without:
    the legacy self-reported ``pass|fail|error`` words count (first line per test wins)."""
    done = False
    lines: dict[int, list[str]] = {}
    for mark in marks:
        head, _, rest = mark.strip().partition(" ")
        if head == "done" and not rest:
            done = True
        elif head.isdigit() and len(head) < 10:
            lines.setdefault(int(head), []).append(rest)
    if num_tests is not None:
        lines = {i: v for i, v in lines.items() if i < num_tests}
    if expected is None:
        outcomes = {i: v[0] for i, v in lines.items() if v[0] in ("pass", "fail", "error")}
        return Verdict(outcomes, done)
    typ = expected.type
    outcomes: dict[int, str] = {}
    first_failure = ""
    for i, reports in sorted(lines.items()):
        if i >= len(expected.values):
            continue
        if len(reports) != 1:
            outcomes[i] = "fail"
            first_failure = first_failure or f"test {i}: reported {len(reports)} times"
            continue
        word, _, payload = reports[0].partition(" ")
        if word == "error" and not payload:
            outcomes[i] = "error"
        elif word == "value" and _matches(payload, expected.values[i], typ):
            outcomes[i] = "pass"
        else:
            outcomes[i] = "fail"
            if not first_failure:
                got = payload if word == "value" else reports[0]
                want = json.dumps(expected.values[i])
                first_failure = f"test {i}: expected {_clip(want)}, got {_clip(got)}"
    return Verdict(outcomes, done, first_failure)


def _matches(payload: str, expected: Any, typ: Type) -> bool:
    try:
        actual = decode_value(json.loads(payload), typ)
        return values_equal(actual, decode_value(expected, typ))
    except (ValueError, TypeError, RecursionError):
        return False


def _clip(text: str) -> str:
    return text if len(text) <= _SHOW_CHARS else text[:_SHOW_CHARS] + "..."


__all__ = ["Expected", "Verdict", "decode_value", "judge"]
