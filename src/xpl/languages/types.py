"""The language-neutral type system shared by every PL module.

Problems are described once, with Python type annotations, and rendered into each PL.
This module owns the small type algebra they are parsed into (``int``, ``float``, ``bool``,
``str``, ``None``, ``list[T]``, ``tuple[T1, ...]``, ``dict[K, V]``, ``Optional[T]``, and for
the few problems whose values are of several types, ``Union[A, B, ...]`` and ``Any``), the
parser from annotation text, value checking and inference, and the records a test harness
is rendered from (``Signature``, ``TestCase``).

Unions and ``Any`` come from annotations only (written by hand where a problem needs them,
as MultiPL-E's annotated HumanEval does); inference never produces them. A union's members
are told apart at run time by their kind (int, float, bool, str, list, tuple, dict), so a
union has at most one member of each kind; ``None`` is never a member (``Union[int, str,
None]`` is ``Optional[Union[int, str]]``). An ``Any`` value carries its own type
(``dynamic_type``): each PL writes it as a literal of that type, boxed as the PL boxes
values of unknown type (``Box<dyn Any>``, ``Object``, ``std::any``, ``interface{}``).

Values are plain Python values. A value is rendered *together with its type* because
statically typed PLs need the type to write a literal (an empty list is ``Vec::<i64>::new()``
in Rust and ``new ArrayList<Long>()`` in Java).
"""

from __future__ import annotations

import ast
import math
from dataclasses import dataclass
from typing import Any, Iterable, Sequence

# Integers must fit every PL's 64-bit integer type.
INT_MIN = -(2**63)
INT_MAX = 2**63 - 1

# Float comparison used by every harness: |a - b| <= max(REL * max(|a|, |b|), ABS).
FLOAT_REL_TOL = 1e-6
FLOAT_ABS_TOL = 1e-9


class TypeParseError(ValueError):
    """An annotation that is not part of the supported type algebra."""


class UnsupportedError(ValueError):
    """A type or value that a PL cannot express; carries the reason for the record."""

    def __init__(self, language: str, reason: str):
        super().__init__(f"{language}: {reason}")
        self.language = language
        self.reason = reason


@dataclass(frozen=True)
class Type:
    """Base class of all types. Instances are immutable and hashable."""

    def __str__(self) -> str:  # Python annotation spelling
        return self.annotation()

    def annotation(self) -> str:
        raise NotImplementedError

    def children(self) -> tuple[Type, ...]:
        return ()

    def walk(self) -> Iterable[Type]:
        yield self
        for child in self.children():
            yield from child.walk()


@dataclass(frozen=True)
class IntType(Type):
    def annotation(self) -> str:
        return "int"


@dataclass(frozen=True)
class FloatType(Type):
    def annotation(self) -> str:
        return "float"


@dataclass(frozen=True)
class BoolType(Type):
    def annotation(self) -> str:
        return "bool"


@dataclass(frozen=True)
class StrType(Type):
    def annotation(self) -> str:
        return "str"


@dataclass(frozen=True)
class NoneType(Type):
    """The type of ``None``; as a return type it means 'returns nothing'."""

    def annotation(self) -> str:
        return "None"


@dataclass(frozen=True)
class ListType(Type):
    elem: Type

    def annotation(self) -> str:
        return f"list[{self.elem.annotation()}]"

    def children(self) -> tuple[Type, ...]:
        return (self.elem,)


@dataclass(frozen=True)
class TupleType(Type):
    elems: tuple[Type, ...]

    def annotation(self) -> str:
        if not self.elems:
            return "tuple[()]"
        return f"tuple[{', '.join(e.annotation() for e in self.elems)}]"

    def children(self) -> tuple[Type, ...]:
        return self.elems

    @property
    def homogeneous(self) -> bool:
        return len(set(self.elems)) <= 1


@dataclass(frozen=True)
class DictType(Type):
    key: Type
    value: Type

    def annotation(self) -> str:
        return f"dict[{self.key.annotation()}, {self.value.annotation()}]"

    def children(self) -> tuple[Type, ...]:
        return (self.key, self.value)


@dataclass(frozen=True)
class OptionalType(Type):
    inner: Type

    def annotation(self) -> str:
        return f"Optional[{self.inner.annotation()}]"

    def children(self) -> tuple[Type, ...]:
        return (self.inner,)


@dataclass(frozen=True)
class UnionType(Type):
    """A value of one of ``members`` (at least two, of different kinds: see ``kind_of``)."""

    members: tuple[Type, ...]

    def annotation(self) -> str:
        return f"Union[{', '.join(m.annotation() for m in self.members)}]"

    def children(self) -> tuple[Type, ...]:
        return self.members


@dataclass(frozen=True)
class AnyType(Type):
    """A value of any type of the algebra (``typing.Any``); see ``dynamic_type``."""

    def annotation(self) -> str:
        return "Any"


INT = IntType()
FLOAT = FloatType()
BOOL = BoolType()
STR = StrType()
NONE = NoneType()
ANY = AnyType()

_SCALARS = {"int": INT, "float": FLOAT, "bool": BOOL, "str": STR, "None": NONE, "NoneType": NONE, "Any": ANY}
_LISTS = {"list", "List", "Sequence", "Iterable", "MutableSequence"}
_TUPLES = {"tuple", "Tuple"}
_DICTS = {"dict", "Dict", "Mapping", "MutableMapping"}


def parse_type(annotation: str | ast.expr) -> Type:
    """Parse a Python annotation (``"List[Tuple[int, str]]"``, ``"dict[str, int] | None"``).

    ``typing.`` prefixes are accepted; ``Union[X, None]`` and ``X | None`` mean ``Optional[X]``,
    ``Union[X, Y, None]`` means ``Optional[Union[X, Y]]``. Anything outside the algebra
    (callables, ``Tuple[int, ...]``, a union of two members of one kind such as ``Union[int,
    bool]`` or ``Union[List[int], List[str]]``) raises ``TypeParseError`` naming the offending part.
    """
    if isinstance(annotation, str):
        text = annotation.strip()
        try:
            node = ast.parse(text, mode="eval").body
        except SyntaxError as exc:
            raise TypeParseError(f"not a Python annotation: {text!r}") from exc
    else:
        node = annotation
    return _parse_node(node)


def _name_of(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "typing":
        return node.attr
    if isinstance(node, ast.Constant) and node.value is None:
        return "None"
    return None


def _parse_node(node: ast.expr) -> Type:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return parse_type(node.value)  # a string (forward-reference) annotation
    name = _name_of(node)
    if name is not None:
        if name in _SCALARS:
            return _SCALARS[name]
        raise TypeParseError(f"unsupported type {name!r}")
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
        return _union([_parse_node(node.left), _parse_node(node.right)])
    if isinstance(node, ast.Subscript):
        head = _name_of(node.value)
        args = list(node.slice.elts) if isinstance(node.slice, ast.Tuple) else [node.slice]
        if head in _LISTS:
            _arity(head, args, 1)
            return ListType(_parse_node(args[0]))
        if head in _TUPLES:
            if any(isinstance(a, ast.Constant) and a.value is Ellipsis for a in args):
                raise TypeParseError("variable-length tuples (Tuple[T, ...]) are not supported")
            if len(args) == 1 and isinstance(args[0], ast.Tuple) and not args[0].elts:
                return TupleType(())
            return TupleType(tuple(_parse_node(a) for a in args))
        if head in _DICTS:
            _arity(head, args, 2)
            return DictType(_parse_node(args[0]), _parse_node(args[1]))
        if head == "Optional":
            _arity(head, args, 1)
            return _optional(_parse_node(args[0]))
        if head == "Union":
            return _union([_parse_node(a) for a in args])
        raise TypeParseError(f"unsupported generic type {ast.unparse(node.value)!r}")
    raise TypeParseError(f"unsupported annotation {ast.unparse(node)!r}")


def _arity(head: str, args: list, n: int) -> None:
    if len(args) != n:
        raise TypeParseError(f"{head}[...] takes {n} type argument(s), got {len(args)}")


def _optional(inner: Type) -> Type:
    if isinstance(inner, (OptionalType, NoneType)):
        return inner
    return OptionalType(inner)


def _union(members: list[Type]) -> Type:
    flat: list[Type] = []
    for m in members:
        if isinstance(m, OptionalType):
            flat.extend([m.inner, NONE])
        elif isinstance(m, UnionType):
            flat.extend(m.members)
        else:
            flat.append(m)
    unique = list(dict.fromkeys(flat))
    non_none = [m for m in unique if m != NONE]
    if len(non_none) == 1:
        return _optional(non_none[0]) if NONE in unique else non_none[0]
    if ANY in non_none:
        raise TypeParseError("Any in a union (Any alone holds every value)")
    kinds: dict[str, Type] = {}
    for m in non_none:
        kind = kind_of(m)
        if kind in kinds:
            raise TypeParseError(
                f"unions of two members of one kind are not supported: {kinds[kind].annotation()}, {m.annotation()}"
            )
        kinds[kind] = m
    union = UnionType(tuple(non_none))
    return OptionalType(union) if NONE in unique else union


# The run-time kind of a union member: what tells its values from the other members' values.
_KINDS: dict[type, str] = {
    IntType: "int", FloatType: "float", BoolType: "bool", StrType: "str",
    ListType: "list", TupleType: "tuple", DictType: "dict",
}


def kind_of(typ: Type) -> str:
    """The kind of a type that can be a union member (``"int"``, ``"list"``, ...)."""
    kind = _KINDS.get(type(typ))
    if kind is None:
        raise TypeParseError(f"{typ.annotation()} cannot be a member of a union")
    return kind


def _value_kind(value: Any) -> str | None:
    if isinstance(value, bool):
        return "bool"
    for kind, cls in (("int", int), ("float", float), ("str", str), ("list", list), ("tuple", tuple), ("dict", dict)):
        if isinstance(value, cls):
            return kind
    return None


# A value of one kind where no member has it may still be a member of a kind Python compares
# it equal with: an int is a float, a tuple a list and a list a tuple.
_LAX_KINDS = {"int": "float", "list": "tuple", "tuple": "list"}


def union_member(typ: UnionType, value: Any) -> Type | None:
    """The member of ``typ`` that ``value`` is a value of (by its kind), or None."""
    members = {kind_of(m): m for m in typ.members}
    kind = _value_kind(value)
    if kind in members:
        return members[kind]
    return members.get(_LAX_KINDS.get(kind or ""))


def unions_in(types: Iterable[Type]) -> list[UnionType]:
    """The distinct unions among ``types`` and inside them, in order of first appearance."""
    found: dict[UnionType, None] = {}
    for top in types:
        for t in top.walk():
            if isinstance(t, UnionType):
                found.setdefault(t)
    return list(found)


def _scalar_type(value: Any) -> Type | None:
    """The type of None, a bool, an int, a float or a str (bool before int: a bool is an int
    in Python); None for anything else."""
    if value is None:
        return NONE
    if isinstance(value, bool):
        return BOOL
    if isinstance(value, int):
        return INT
    if isinstance(value, float):
        return FLOAT
    if isinstance(value, str):
        return STR
    return None


def dynamic_type(value: Any) -> Type:
    """The type of a value held by an ``Any``: exactly its Python type, with the element type of
    an empty list and the key and value types of an empty dict ``int`` (as MultiPL-E writes
    them), and ``Any`` for the elements of a container whose elements differ in type."""
    scalar = _scalar_type(value)
    if scalar is not None:
        return scalar
    if isinstance(value, tuple):
        return TupleType(tuple(dynamic_type(v) for v in value))
    if isinstance(value, list):
        return ListType(_common([dynamic_type(v) for v in value]))
    if isinstance(value, dict):
        return DictType(_common([dynamic_type(k) for k in value]), _common([dynamic_type(v) for v in value.values()]))
    raise TypeParseError(f"unsupported value of Python type {type(value).__name__}")


def _common(types: list[Type]) -> Type:
    unique = set(types)
    if not unique:
        return INT
    return unique.pop() if len(unique) == 1 else ANY


def type_of_value(value: Any) -> Type:
    """Infer a type from a value (lists/dicts take the type of their first element)."""
    scalar = _scalar_type(value)
    if scalar is not None:
        return scalar
    if isinstance(value, tuple):
        return TupleType(tuple(type_of_value(v) for v in value))
    if isinstance(value, list):
        if not value:
            raise TypeParseError("cannot infer the element type of an empty list")
        return ListType(_join([type_of_value(v) for v in value]))
    if isinstance(value, dict):
        if not value:
            raise TypeParseError("cannot infer the types of an empty dict")
        return DictType(_join([type_of_value(k) for k in value]), _join([type_of_value(v) for v in value.values()]))
    raise TypeParseError(f"unsupported value of Python type {type(value).__name__}")


def infer_type(values: Sequence[Any]) -> Type:
    """The most specific type of the algebra that all ``values`` belong to (e.g. the values a
    parameter takes over a problem's tests): element types of lists and dicts are inferred
    over all their elements together, so empty containers are fine if some are not; None
    makes a type Optional; ints and floats together are floats. Raises ``TypeParseError`` when
    the values have no common type (or all lists are empty)."""
    present = [v for v in values if v is not None]
    if not present:
        raise TypeParseError("cannot infer a type from None alone")
    kinds = {_kind(v) for v in present}
    if kinds == {"int", "float"}:
        kinds = {"float"}
    if len(kinds) != 1:
        raise TypeParseError(f"values of different types: {', '.join(sorted(kinds))}")
    kind = kinds.pop()
    if kind == "list":
        items = [x for v in present for x in v]
        if not items:
            raise TypeParseError("cannot infer the element type of lists that are all empty")
        typ: Type = ListType(infer_type(items))
    elif kind == "dict":
        keys = [k for v in present for k in v]
        if not keys:
            raise TypeParseError("cannot infer the types of dicts that are all empty")
        typ = DictType(infer_type(keys), infer_type([x for v in present for x in v.values()]))
    elif kind.startswith("tuple"):
        n = len(present[0])
        typ = TupleType(tuple(infer_type([v[i] for v in present]) for i in range(n)))
    else:
        typ = {"int": INT, "float": FLOAT, "bool": BOOL, "str": STR}[kind]
    return OptionalType(typ) if len(present) < len(values) else typ


def _kind(v: Any) -> str:
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, int):
        return "int"
    if isinstance(v, float):
        return "float"
    if isinstance(v, str):
        return "str"
    if isinstance(v, list):
        return "list"
    if isinstance(v, tuple):
        return f"tuple{len(v)}"
    if isinstance(v, dict):
        return "dict"
    raise TypeParseError(f"unsupported value of Python type {type(v).__name__}")


def _join(types: list[Type]) -> Type:
    unique = list(dict.fromkeys(types))
    if len(unique) == 1:
        return unique[0]
    if set(unique) == {INT, FLOAT}:
        return FLOAT
    non_none = [t for t in unique if t != NONE]
    if len(non_none) == 1:
        return _optional(non_none[0])
    # Inference never makes a union: those come from annotations only.
    raise TypeParseError(f"values of different types: {', '.join(t.annotation() for t in unique)}")


def check_value(value: Any, typ: Type, path: str = "value") -> None:
    """Raise ``TypeError`` (naming the path inside the value) if ``value`` is not a ``typ``."""

    def fail(expected: str) -> None:
        raise TypeError(f"{path}: expected {expected}, got {value!r}")

    if isinstance(typ, OptionalType):
        if value is not None:
            check_value(value, typ.inner, path)
    elif isinstance(typ, UnionType):
        member = union_member(typ, value)
        if member is None:
            fail(typ.annotation())
        check_value(value, member, path)
    elif isinstance(typ, AnyType):
        try:
            dynamic_type(value)
        except TypeParseError:
            fail("a value of a supported type")
        if isinstance(value, (list, tuple, dict)):  # its ints must fit 64 bits too
            check_value(value, dynamic_type(value), path)
        elif isinstance(value, int) and not isinstance(value, bool):
            check_value(value, INT, path)
    elif isinstance(typ, NoneType):
        if value is not None:
            fail("None")
    elif isinstance(typ, BoolType):
        if not isinstance(value, bool):
            fail("bool")
    elif isinstance(typ, IntType):
        if isinstance(value, bool) or not isinstance(value, int):
            fail("int")
        if not INT_MIN <= value <= INT_MAX:
            raise TypeError(f"{path}: integer {value} does not fit in 64 bits")
    elif isinstance(typ, FloatType):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            fail("float")
    elif isinstance(typ, StrType):
        if not isinstance(value, str):
            fail("str")
    elif isinstance(typ, ListType):
        if not isinstance(value, list):
            fail(typ.annotation())
        for i, v in enumerate(value):
            check_value(v, typ.elem, f"{path}[{i}]")
    elif isinstance(typ, TupleType):
        if not isinstance(value, (tuple, list)) or len(value) != len(typ.elems):
            fail(typ.annotation())
        for i, (v, t) in enumerate(zip(value, typ.elems)):
            check_value(v, t, f"{path}[{i}]")
    elif isinstance(typ, DictType):
        if not isinstance(value, dict):
            fail(typ.annotation())
        for k, v in value.items():
            check_value(k, typ.key, f"{path} key {k!r}")
            check_value(v, typ.value, f"{path}[{k!r}]")
    else:  # pragma: no cover - exhaustive over the algebra
        raise TypeError(f"{path}: unknown type {typ!r}")


def values_equal(a: Any, b: Any) -> bool:
    """Deep equality with the harness float tolerance; the reference every PL's harness mirrors."""
    if isinstance(a, float) or isinstance(b, float):
        if isinstance(a, bool) or isinstance(b, bool):
            return False
        if not isinstance(a, (int, float)) or not isinstance(b, (int, float)):
            return False
        return floats_close(float(a), float(b))
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(values_equal(x, y) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(values_equal(a[k], b[k]) for k in a)
    return type(a) is type(b) and a == b


def floats_close(a: float, b: float) -> bool:
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    if math.isinf(a) or math.isinf(b):
        return a == b
    return abs(a - b) <= max(FLOAT_REL_TOL * max(abs(a), abs(b)), FLOAT_ABS_TOL)


@dataclass(frozen=True)
class Param:
    name: str
    type: Type


@dataclass(frozen=True)
class Signature:
    """A function to be written in some PL: name, typed parameters, return type."""

    name: str
    params: tuple[Param, ...]
    returns: Type

    @classmethod
    def parse(cls, name: str, params: Sequence[tuple[str, str]], returns: str) -> Signature:
        """Build from annotation text: ``Signature.parse("f", [("xs", "List[int]")], "int")``."""
        return cls(name, tuple(Param(p, parse_type(t)) for p, t in params), parse_type(returns))

    @classmethod
    def from_python(cls, source: str, name: str | None = None) -> Signature:
        """Read the signature of a (possibly body-less) Python ``def`` from its source."""
        tree = ast.parse(source if source.rstrip().endswith(("pass", "...")) else source + "\n    ...")
        funcs = [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)]
        if name is not None:
            funcs = [f for f in funcs if f.name == name]
        if not funcs:
            raise TypeParseError(f"no function {name or ''} found".replace("  ", " "))
        fn = funcs[-1] if name is None else funcs[0]
        params = []
        for arg in fn.args.args:
            if arg.annotation is None:
                raise TypeParseError(f"parameter {arg.arg!r} of {fn.name} has no type annotation")
            params.append(Param(arg.arg, parse_type(arg.annotation)))
        if fn.returns is None:
            raise TypeParseError(f"{fn.name} has no return annotation")
        return cls(fn.name, tuple(params), parse_type(fn.returns))

    def types(self) -> Iterable[Type]:
        for p in self.params:
            yield p.type
        yield self.returns


@dataclass(frozen=True)
class TestCase:
    """One call of the function under test: positional arguments and the expected result."""

    __test__ = False  # not a pytest class

    args: tuple[Any, ...]
    expected: Any

    def check(self, sig: Signature) -> None:
        if len(self.args) != len(sig.params):
            raise TypeError(f"{sig.name}: {len(sig.params)} argument(s) expected, test gives {len(self.args)}")
        for p, a in zip(sig.params, self.args):
            check_value(a, p.type, f"argument {p.name!r}")
        check_value(self.expected, sig.returns, "expected result")
