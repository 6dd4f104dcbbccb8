"""Typed values as JSON, and the expected results of a set of tests.

Two encodings of a value of a known type (``xpl.languages.types``):

* the problem encoding (``encode``, ``decode``), exact: tuples are lists, dicts are lists of
  ``[key, value]`` pairs (keys need not be strings), floats that JSON cannot spell are the
  strings ``"nan"``, ``"inf"``, ``"-inf"``; a union's value is its member's encoding (the
  members differ in kind, so the JSON value says which member it is: a number is the int or
  float member, an array the one list, tuple or dict member); an ``Any`` value is the object
  ``{"type": "<annotation of its dynamic type>", "value": <its encoding>}``; problem files
  and ``Expected`` values use it;
* the same encoding as a harness prints it, read for judging (``decode_value``): strict
  about shape, lenient about numbers where the harnesses always were (an int position may
  hold a float and a float position an int).

``Expected`` is what each test of a program must return (the return type and one encoded
value per test), made when a problem is rendered (``Language.expected_results``) and judged
by the execution engine (``xpl.execution.verdict``). It lives here, with the types, because
rendering (languages, problems) makes it and execution only reads it.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Any, Sequence

from xpl.languages.types import (
    AnyType,
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
    UnionType,
    check_value,
    dynamic_type,
    kind_of,
    parse_type,
    union_member,
)

_SPECIAL_FLOATS = {"nan": math.nan, "inf": math.inf, "-inf": -math.inf}


def encode(value: Any, typ: Type) -> Any:
    """A value as JSON, exactly (see the module docstring)."""
    if value is None:
        return None
    if isinstance(typ, OptionalType):
        return encode(value, typ.inner)
    if isinstance(typ, UnionType):
        member = union_member(typ, value)
        if member is None:
            raise TypeError(f"{value!r} is not a {typ.annotation()}")
        obj = encode(value, member)
        if isinstance(member, FloatType) and isinstance(obj, str) and any(isinstance(m, StrType) for m in typ.members):
            raise TypeError(f"{value!r} in {typ.annotation()} would read back as a str")
        return obj
    if isinstance(typ, AnyType):
        dyn = dynamic_type(value)
        return {"type": dyn.annotation(), "value": encode(value, dyn)}
    if isinstance(typ, FloatType):
        v = float(value)
        if math.isnan(v):
            return "nan"
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        return v
    if isinstance(typ, ListType):
        return [encode(v, typ.elem) for v in value]
    if isinstance(typ, TupleType):
        return [encode(v, t) for v, t in zip(value, typ.elems)]
    if isinstance(typ, DictType):
        return [[encode(k, typ.key), encode(v, typ.value)] for k, v in value.items()]
    return value


def decode(obj: Any, typ: Type) -> Any:
    """The inverse of ``encode``; raises ``TypeError`` when ``obj`` does not fit ``typ``."""
    if obj is None:
        value = None
    elif isinstance(typ, OptionalType):
        return decode(obj, typ.inner)
    elif isinstance(typ, UnionType):
        return _decode_member(obj, typ, decode)
    elif isinstance(typ, AnyType):
        dyn = _tagged_type(obj)
        value = decode(obj["value"], dyn)
        if dynamic_type(value) != dyn:
            raise TypeError(f"a {dyn.annotation()} value held by Any must have exactly that type")
    elif isinstance(typ, FloatType) and isinstance(obj, str):
        if obj not in ("nan", "inf", "-inf"):
            raise TypeError(f"expected a number, got {obj!r}")
        value = float(obj)
    elif isinstance(typ, FloatType) and isinstance(obj, int) and not isinstance(obj, bool):
        value = float(obj)
    elif isinstance(typ, ListType):
        value = [decode(v, typ.elem) for v in _list(obj, typ)]
    elif isinstance(typ, TupleType):
        items = _list(obj, typ)
        if len(items) != len(typ.elems):
            raise TypeError(f"expected {len(typ.elems)} items for {typ.annotation()}, got {len(items)}")
        value = tuple(decode(v, t) for v, t in zip(items, typ.elems))
    elif isinstance(typ, DictType):
        pairs = _list(obj, typ)
        if not all(isinstance(p, list) and len(p) == 2 for p in pairs):
            raise TypeError(f"expected [key, value] pairs for {typ.annotation()}")
        value = {decode(k, typ.key): decode(v, typ.value) for k, v in pairs}
    else:
        value = obj
    check_value(value, typ)
    return value


def _decode_member(obj: Any, typ: UnionType, read) -> Any:
    """``read(obj, member)`` for the member of ``typ`` whose kind the JSON value ``obj`` has:
    a bool the bool member, a number the int member (a JSON int) or the float member, a
    string the str member (or the float member's "nan", "inf", "-inf"), an array the first
    list, tuple or dict member that reads it."""
    members = {kind_of(m): m for m in typ.members}
    if isinstance(obj, bool):
        order = ["bool"]
    elif isinstance(obj, int):
        order = ["int", "float"]
    elif isinstance(obj, float):
        order = ["float", "int"]
    elif isinstance(obj, str):
        order = ["str", "float"] if obj in _SPECIAL_FLOATS else ["str"]
    elif isinstance(obj, list):
        order = [m for m in ("list", "tuple", "dict") if m in members]
    else:
        order = []
    errors = []
    for kind in order:
        if kind in members:
            try:
                return read(obj, members[kind])
            except TypeError as exc:
                errors.append(str(exc))
    raise TypeError(f"{obj!r} is not a {typ.annotation()}" + (f" ({'; '.join(errors)})" if errors else ""))


def _tagged_type(obj: Any) -> Type:
    """The dynamic type named by an encoded ``Any`` value."""
    if not isinstance(obj, dict) or set(obj) != {"type", "value"} or not isinstance(obj["type"], str):
        raise TypeError(f'expected {{"type": ..., "value": ...}} for a value of type Any, got {obj!r}')
    try:
        return _parse(obj["type"])
    except TypeParseError as exc:
        raise TypeError(f"type of an Any value: {exc}") from None


def _list(obj: Any, typ: Type) -> list:
    if not isinstance(obj, list):
        raise TypeError(f"expected a JSON array for {typ.annotation()}, got {obj!r}")
    return obj


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


def decode_value(obj: Any, typ: Type) -> Any:
    """A JSON value in the harness encoding as the Python value ``values_equal`` compares.

    Strict about shape (a list where a str is declared, an object anywhere, a dict with a key
    twice: ``TypeError``) and lenient about numbers exactly where the harnesses always were:
    an int position may hold a float and a float position an int."""
    if isinstance(typ, OptionalType):
        return None if obj is None else decode_value(obj, typ.inner)
    if isinstance(typ, UnionType):
        return _decode_member(obj, typ, decode_value)
    if isinstance(typ, AnyType):
        return decode_value(obj["value"], _tagged_type(obj))
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


__all__ = ["Expected", "decode", "decode_value", "encode"]
