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

The value encoding is the problem JSON encoding (``xpl.problems.problem.encode``), read
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

import functools
import json
import math
from dataclasses import dataclass
from typing import Any, Sequence

from xpl.languages.types import (
    BoolType,
    DictType,
    FloatType,
    IntType,
    ListType,
    NoneType,
    OptionalType,
    Signature,
    StrType,
    TestCase,
    TupleType,
    Type,
    TypeParseError,
    parse_type,
    values_equal,
)

_SPECIAL_FLOATS = {"nan": math.nan, "inf": math.inf, "-inf": -math.inf}
_SHOW_CHARS = 300


@dataclass(frozen=True)
class Expected:
    """What each test of a job must return: the return type (its annotation, e.g.
    ``"List[Tuple[int, float]]"``) and one JSON-encoded value per test, in test order."""

    returns: str
    values: tuple[Any, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "values", tuple(self.values))
        self.type  # noqa: B018 - parse now: a bad annotation is an error at construction

    @property
    def type(self) -> Type:
        return _parse(self.returns)

    @classmethod
    def of(cls, sig: Signature, tests: Sequence[TestCase]) -> Expected:
        """The expected results of ``tests`` for a function of signature ``sig``."""
        from xpl.problems.problem import encode  # problems depend on languages, not on execution

        return cls(sig.returns.annotation(), tuple(encode(t.expected, sig.returns) for t in tests))

    def to_json(self) -> dict[str, Any]:
        return {"returns": self.returns, "values": list(self.values)}

    @classmethod
    def from_json(cls, obj: Any, where: str = "expected") -> Expected:
        """From ``{"returns": "<annotation>", "values": [...]}``; ``ValueError`` names the problem."""
        if not isinstance(obj, dict) or set(obj) != {"returns", "values"}:
            raise ValueError(f'{where}: expected an object {{"returns": "<type annotation>", "values": [...]}}')
        if not isinstance(obj["returns"], str) or not isinstance(obj["values"], list):
            raise ValueError(f"{where}: 'returns' must be a string and 'values' an array")
        try:
            exp = cls(obj["returns"], tuple(obj["values"]))
        except (TypeParseError, ValueError) as exc:
            raise ValueError(f"{where}.returns: {exc}") from None
        typ = exp.type
        for i, v in enumerate(exp.values):
            try:
                decode_value(v, typ)
            except (TypeError, ValueError) as exc:
                raise ValueError(f"{where}.values[{i}]: {exc}") from None
        return exp


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


def decode_value(obj: Any, typ: Type) -> Any:
    """A JSON value in the harness encoding as the Python value ``values_equal`` compares.

    Strict about shape (a list where a str is declared, an object anywhere, a dict with a key
    twice: ``TypeError``) and lenient about numbers exactly where the harnesses always were:
    an int position may hold a float and a float position an int."""
    if isinstance(typ, OptionalType):
        return None if obj is None else decode_value(obj, typ.inner)
    if isinstance(typ, NoneType):
        if obj is not None:
            raise TypeError(f"expected null, got {obj!r}")
        return None
    if isinstance(typ, (IntType, FloatType)):
        if isinstance(obj, str) and obj in _SPECIAL_FLOATS:
            return _SPECIAL_FLOATS[obj]
        if isinstance(obj, bool) or not isinstance(obj, (int, float)):
            raise TypeError(f"expected a number, got {obj!r}")
        return obj
    if isinstance(typ, BoolType):
        if not isinstance(obj, bool):
            raise TypeError(f"expected a bool, got {obj!r}")
        return obj
    if isinstance(typ, StrType):
        if not isinstance(obj, str):
            raise TypeError(f"expected a string, got {obj!r}")
        return obj
    if not isinstance(obj, list):
        raise TypeError(f"expected an array for {typ.annotation()}, got {obj!r}")
    if isinstance(typ, ListType):
        return [decode_value(v, typ.elem) for v in obj]
    if isinstance(typ, TupleType):
        if len(obj) != len(typ.elems):
            raise TypeError(f"expected {len(typ.elems)} items, got {len(obj)}")
        return tuple(decode_value(v, t) for v, t in zip(obj, typ.elems))
    if isinstance(typ, DictType):
        out: dict[Any, Any] = {}
        for pair in obj:
            if not isinstance(pair, list) or len(pair) != 2:
                raise TypeError(f"expected a [key, value] pair, got {pair!r}")
            key = _hashable(decode_value(pair[0], typ.key))
            if key in out:
                raise TypeError(f"key {key!r} twice")
            out[key] = decode_value(pair[1], typ.value)
        return out
    raise TypeError(f"unknown type {typ!r}")


def _hashable(value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        return tuple(_hashable(v) for v in value)
    if isinstance(value, dict):
        raise TypeError("a dict cannot be a dict key")
    return value


@functools.lru_cache(maxsize=1024)
def _parse(annotation: str) -> Type:
    return parse_type(annotation)


def _clip(text: str) -> str:
    return text if len(text) <= _SHOW_CHARS else text[:_SHOW_CHARS] + "..."


__all__ = ["Expected", "Verdict", "decode_value", "judge"]
