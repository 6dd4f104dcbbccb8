"""The typed intermediate representation (IR) of the built-in parallel program family.

A family program is one function over ints, floats, bools, strings, lists and a
``dict[str, int]``, written once as a small tree of expressions and statements, then rendered
into idiomatic code in every PL (``xpl.problems.family.render``) and executed here, in Python,
by ``compile_function`` to compute the expected outputs of its tests.

The IR is deliberately narrow so that one tree *means the same thing in every PL*:

* integers stay within 32 bits (``compile_function`` checks every intermediate value), so no
  PL overflows and JavaScript's doubles are exact;
* there is no integer division and no general modulo (C's ``%`` and Python's disagree on
  negative operands); ``Divisible`` (``x % k == 0``, or ``!= 0``) is sign-agnostic;
* floats are added, subtracted, multiplied and divided (by a non-zero value) in the order the
  tree gives, which IEEE-754 makes identical everywhere; they are never compared with ``==``;
* strings hold ASCII only and are walked character by character (``CHAR`` is the type of one
  character: a ``char``, a ``rune``, or a one-character string, depending on the PL);
* there are no ternaries, ``min``/``max``/``abs`` or library calls that a PL lacks (Go 1.19 has
  no integer ``min``): the generator spells them with statements.

Nodes are frozen dataclasses; every expression knows its type (``expr.type``), which is what
statically typed PLs need to render declarations and what the renderers use to pick an
operator (``==`` on strings is ``.equals`` in Java, ``+`` is ``..`` in Lua).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from xpl.languages.types import (
    BOOL,
    FLOAT,
    INT,
    STR,
    DictType,
    FloatType,
    IntType,
    ListType,
    Param,
    Signature,
    StrType,
    Type,
)


@dataclass(frozen=True)
class CharType(Type):
    """One ASCII character: the element type of a string walked with ``ForEach``. Internal to
    the IR; it never appears in a signature."""

    def annotation(self) -> str:
        return "char"


CHAR = CharType()
INT_LIST = ListType(INT)
FLOAT_LIST = ListType(FLOAT)
STR_LIST = ListType(STR)
WORD_COUNTS = DictType(STR, INT)

# Every int the IR computes stays within this range (checked by ``compile_function``).
IR_INT_LIMIT = 2**31 - 1

ARITHMETIC = ("+", "-", "*", "/")
COMPARISONS = ("<", "<=", ">", ">=", "==", "!=")
LOGICAL = ("and", "or")


class IRError(ValueError):
    """An ill-typed tree, or a value outside what the IR guarantees (e.g. an int overflow)."""


# ----------------------------------------------------------------------------- expressions


@dataclass(frozen=True)
class Var:
    name: str
    type: Type


@dataclass(frozen=True)
class Lit:
    value: Any  # int, float, bool, str (also for CHAR: a one-character str), or [] / {}
    type: Type


@dataclass(frozen=True)
class Bin:
    """``left op right``: arithmetic on two ints or two floats (``/`` on floats only),
    comparisons (of numbers, strings or chars; never floats with ``==``/``!=``), and ``and``/
    ``or`` on bools."""

    op: str
    left: Expr
    right: Expr

    @property
    def type(self) -> Type:
        return self.left.type if self.op in ARITHMETIC else BOOL


@dataclass(frozen=True)
class Not:
    operand: Expr
    type: Type = BOOL


@dataclass(frozen=True)
class Neg:
    operand: Expr

    @property
    def type(self) -> Type:
        return self.operand.type


@dataclass(frozen=True)
class Divisible:
    """``value % divisor == 0`` (``!= 0`` when ``negate``), with a positive constant divisor."""

    value: Expr
    divisor: int
    negate: bool = False
    type: Type = BOOL


@dataclass(frozen=True)
class Len:
    """The length of a list or a string (an int)."""

    operand: Expr
    type: Type = INT


@dataclass(frozen=True)
class ToFloat:
    """An int converted to a float."""

    operand: Expr
    type: Type = FLOAT


@dataclass(frozen=True)
class Index:
    """``items[index]`` on a list; the generator only indexes within bounds."""

    items: Expr
    index: Expr

    @property
    def type(self) -> Type:
        return self.items.type.elem  # type: ignore[attr-defined]


@dataclass(frozen=True)
class CharIn:
    """Whether a character is one of the characters of a constant string."""

    char: Expr
    chars: str
    type: Type = BOOL


@dataclass(frozen=True)
class ToUpper:
    """The upper-case form of a character or a string (ASCII letters; others unchanged)."""

    operand: Expr

    @property
    def type(self) -> Type:
        return self.operand.type


@dataclass(frozen=True)
class ToLower:
    operand: Expr

    @property
    def type(self) -> Type:
        return self.operand.type


@dataclass(frozen=True)
class Concat:
    """Two strings joined."""

    left: Expr
    right: Expr
    type: Type = STR


Expr = Var | Lit | Bin | Not | Neg | Divisible | Len | ToFloat | Index | CharIn | ToUpper | ToLower | Concat

# ----------------------------------------------------------------------------- statements


@dataclass(frozen=True)
class Let:
    """Declare a new local variable with an initial value (``[]``/``{}``/``""`` literals too)."""

    name: str
    type: Type
    value: Expr


@dataclass(frozen=True)
class Assign:
    name: str
    value: Expr


@dataclass(frozen=True)
class AugAssign:
    """``name op= value``: ``+``, ``-``, ``*`` on numbers; ``+`` on a string variable appends a
    character or a string."""

    name: str
    op: str
    value: Expr


@dataclass(frozen=True)
class Push:
    """Append a value to a list variable."""

    name: str
    value: Expr


@dataclass(frozen=True)
class DictAdd:
    """``counts[key] = counts.get(key, 0) + amount`` on a ``dict[str, int]`` variable."""

    name: str
    key: Expr
    amount: Expr


@dataclass(frozen=True)
class If:
    cond: Expr
    then: tuple[Stmt, ...]
    orelse: tuple[Stmt, ...] = ()


@dataclass(frozen=True)
class ForEach:
    """``for var in iterable``: the elements of a list, or the characters (``CHAR``) of a string."""

    var: str
    iterable: Expr
    body: tuple[Stmt, ...]

    @property
    def var_type(self) -> Type:
        it = self.iterable.type
        return CHAR if isinstance(it, StrType) else it.elem  # type: ignore[attr-defined]


@dataclass(frozen=True)
class ForRange:
    """``for var in range(start, stop)``: ints from ``start`` up to ``stop`` exclusive."""

    var: str
    start: Expr
    stop: Expr
    body: tuple[Stmt, ...]


@dataclass(frozen=True)
class Return:
    value: Expr


Stmt = Let | Assign | AugAssign | Push | DictAdd | If | ForEach | ForRange | Return


@dataclass(frozen=True)
class Function:
    name: str
    params: tuple[Param, ...]
    returns: Type
    body: tuple[Stmt, ...]

    @property
    def signature(self) -> Signature:
        return Signature(self.name, self.params, self.returns)


# ----------------------------------------------------------------------------- traversal


def sub_blocks(stmt: Stmt) -> tuple[tuple[Stmt, ...], ...]:
    """The statement lists nested directly inside ``stmt``."""
    if isinstance(stmt, If):
        return (stmt.then, stmt.orelse)
    if isinstance(stmt, (ForEach, ForRange)):
        return (stmt.body,)
    return ()


def walk_statements(body: tuple[Stmt, ...]):
    for stmt in body:
        yield stmt
        for block in sub_blocks(stmt):
            yield from walk_statements(block)


def mutated_names(fn: Function) -> set[str]:
    """Variables assigned after their declaration (Rust needs ``let mut`` for exactly these)."""
    return {
        s.name for s in walk_statements(fn.body) if isinstance(s, (Assign, AugAssign, Push, DictAdd))
    }


def ends_with_return(body: tuple[Stmt, ...]) -> bool:
    """True when every path through ``body`` ends in a ``Return`` (so no code may follow it)."""
    if not body:
        return False
    last = body[-1]
    if isinstance(last, Return):
        return True
    return isinstance(last, If) and ends_with_return(last.then) and ends_with_return(last.orelse)


# ----------------------------------------------------------------------------- type checking


def check_function(fn: Function) -> None:
    """Raise ``IRError`` unless ``fn`` is well-typed and every path returns a value.

    Renderers rely on this: they never need to check types themselves."""
    scope: dict[str, Type] = {p.name: p.type for p in fn.params}
    _check_block(fn.body, scope, fn.returns)
    if not ends_with_return(fn.body):
        raise IRError(f"{fn.name}: not every path ends with a return")


def _check_block(body: tuple[Stmt, ...], scope: dict[str, Type], returns: Type) -> None:
    scope = dict(scope)  # declarations are local to their block
    for stmt in body:
        if isinstance(stmt, Let):
            if stmt.name in scope:
                raise IRError(f"{stmt.name!r} declared twice")
            _expect(stmt.value, stmt.type, scope)
            scope[stmt.name] = stmt.type
        elif isinstance(stmt, Assign):
            _expect(stmt.value, _lookup(stmt.name, scope), scope)
        elif isinstance(stmt, AugAssign):
            target = _lookup(stmt.name, scope)
            if isinstance(target, StrType):
                if stmt.op != "+" or not isinstance(_type_of(stmt.value, scope), (StrType, CharType)):
                    raise IRError(f"{stmt.name!r}: a string only takes += of a string or a character")
            elif isinstance(target, (IntType, FloatType)) and stmt.op in ("+", "-", "*"):
                _expect(stmt.value, target, scope)
            else:
                raise IRError(f"{stmt.name!r}: {stmt.op}= is not defined on {target}")
        elif isinstance(stmt, Push):
            target = _lookup(stmt.name, scope)
            if not isinstance(target, ListType):
                raise IRError(f"{stmt.name!r} is not a list")
            _expect(stmt.value, target.elem, scope)
        elif isinstance(stmt, DictAdd):
            if _lookup(stmt.name, scope) != WORD_COUNTS:
                raise IRError(f"{stmt.name!r} is not a dict[str, int]")
            _expect(stmt.key, STR, scope)
            _expect(stmt.amount, INT, scope)
        elif isinstance(stmt, If):
            _expect(stmt.cond, BOOL, scope)
            _check_block(stmt.then, scope, returns)
            _check_block(stmt.orelse, scope, returns)
        elif isinstance(stmt, ForEach):
            it = _type_of(stmt.iterable, scope)
            if not isinstance(it, (ListType, StrType)):
                raise IRError(f"for {stmt.var}: cannot iterate over {it}")
            _check_loop(stmt, scope, _names_read(stmt.iterable))
            _check_block(stmt.body, {**scope, stmt.var: stmt.var_type}, returns)
        elif isinstance(stmt, ForRange):
            _expect(stmt.start, INT, scope)
            _expect(stmt.stop, INT, scope)
            _check_loop(stmt, scope, _names_read(stmt.stop))
            _check_block(stmt.body, {**scope, stmt.var: INT}, returns)
        elif isinstance(stmt, Return):
            _expect(stmt.value, returns, scope)
        else:
            raise IRError(f"unknown statement {stmt!r}")


def _check_loop(loop: ForEach | ForRange, scope: dict[str, Type], bound: set[str]) -> None:
    """Loops mean the same in every PL only if the body leaves the loop's own state alone:
    Python evaluates ``range(a, b)`` once and rebinds its variable each time, C-like loops
    re-test the bound and keep assignments to the variable; block-scoped PLs give a loop
    variable its own scope, Python's overwrites an outer one."""
    if loop.var in scope:
        raise IRError(f"loop variable {loop.var!r} shadows a variable in scope")
    changed = {s.name for s in walk_statements(loop.body) if isinstance(s, (Assign, AugAssign, Push, DictAdd))}
    if loop.var in changed:
        raise IRError(f"loop variable {loop.var!r} is assigned in its loop")
    if changed & bound:
        raise IRError(f"the loop over {loop.var!r} changes what its bound or iterable reads: {sorted(changed & bound)}")


def _names_read(e: Expr) -> set[str]:
    if isinstance(e, Var):
        return {e.name}
    out: set[str] = set()
    for value in vars(e).values():
        if isinstance(value, (Var, Lit, Bin, Not, Neg, Divisible, Len, ToFloat, Index, CharIn, ToUpper, ToLower, Concat)):
            out |= _names_read(value)
    return out


def _lookup(name: str, scope: dict[str, Type]) -> Type:
    if name not in scope:
        raise IRError(f"{name!r} is not declared")
    return scope[name]


def _expect(expr: Expr, typ: Type, scope: dict[str, Type]) -> None:
    got = _type_of(expr, scope)
    if got != typ:
        raise IRError(f"expected {typ}, got {got} in {expr!r}")


def _type_of(e: Expr, scope: dict[str, Type]) -> Type:
    """The checked type of an expression (its operands are checked too)."""
    if isinstance(e, Var):
        if _lookup(e.name, scope) != e.type:
            raise IRError(f"{e.name!r} used as {e.type}, declared {scope[e.name]}")
    elif isinstance(e, Bin):
        lt, rt = _type_of(e.left, scope), _type_of(e.right, scope)
        if lt != rt:
            raise IRError(f"{e.op} on {lt} and {rt}")
        if e.op in LOGICAL and lt != BOOL:
            raise IRError(f"{e.op} on {lt}")
        if e.op in ARITHMETIC and not isinstance(lt, (IntType, FloatType)):
            raise IRError(f"{e.op} on {lt}")
        if e.op == "/" and lt != FLOAT:
            raise IRError("/ is only defined on floats (no integer division in the IR)")
        if e.op in ("==", "!=") and lt == FLOAT:
            raise IRError("floats are never compared with == or !=")
        if e.op in COMPARISONS[:4] and not isinstance(lt, (IntType, FloatType)):
            raise IRError(f"{e.op} on {lt}")
        if e.op not in ARITHMETIC + COMPARISONS + LOGICAL:
            raise IRError(f"unknown operator {e.op!r}")
    elif isinstance(e, Not):
        _expect(e.operand, BOOL, scope)
    elif isinstance(e, Neg):
        if not isinstance(_type_of(e.operand, scope), (IntType, FloatType)):
            raise IRError("negation of a non-number")
    elif isinstance(e, Divisible):
        _expect(e.value, INT, scope)
        if e.divisor < 2:
            raise IRError("Divisible needs a constant divisor >= 2")
    elif isinstance(e, Len):
        if not isinstance(_type_of(e.operand, scope), (ListType, StrType)):
            raise IRError("len of a non-sequence")
    elif isinstance(e, ToFloat):
        _expect(e.operand, INT, scope)
    elif isinstance(e, Index):
        if not isinstance(_type_of(e.items, scope), ListType):
            raise IRError("indexing a non-list")
        _expect(e.index, INT, scope)
    elif isinstance(e, CharIn):
        _expect(e.char, CHAR, scope)
        if not e.chars or not e.chars.isascii():
            raise IRError("CharIn needs a non-empty ASCII string")
    elif isinstance(e, (ToUpper, ToLower)):
        if not isinstance(_type_of(e.operand, scope), (StrType, CharType)):
            raise IRError("case conversion of a non-string")
    elif isinstance(e, Concat):
        _expect(e.left, STR, scope)
        _expect(e.right, STR, scope)
    elif not isinstance(e, Lit):
        raise IRError(f"unknown expression {e!r}")
    return e.type


# ----------------------------------------------------------------------------- execution

# The IR is executed by compiling it into Python closures once (a tree-walking interpreter
# would re-dispatch on node types at every step; closures make evaluating thousands of
# problems on their tests, and pairs of problems on each other's tests, cheap).

Env = dict[str, Any]


class _Returned(Exception):
    def __init__(self, value: Any):
        self.value = value


def _int(value: int) -> int:
    if not -IR_INT_LIMIT <= value <= IR_INT_LIMIT:
        raise IRError(f"integer {value} leaves the IR's 32-bit range")
    return value


_ARITH: dict[str, Callable[[Any, Any], Any]] = {
    "+": lambda a, b: a + b,
    "-": lambda a, b: a - b,
    "*": lambda a, b: a * b,
    "/": lambda a, b: a / b,
}
_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
    "==": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
}


def _compile_expr(e: Expr) -> Callable[[Env], Any]:
    if isinstance(e, Var):
        name = e.name
        return lambda env: env[name]
    if isinstance(e, Lit):
        value = e.value
        if isinstance(value, (list, dict)):  # a fresh container every time
            return lambda env: type(value)(value)
        return lambda env: value
    if isinstance(e, Bin):
        left, right = _compile_expr(e.left), _compile_expr(e.right)
        if e.op == "and":
            return lambda env: left(env) and right(env)
        if e.op == "or":
            return lambda env: left(env) or right(env)
        if e.op in _COMPARE:
            cmp = _COMPARE[e.op]
            return lambda env: cmp(left(env), right(env))
        op = _ARITH[e.op]
        if isinstance(e.type, IntType):
            return lambda env: _int(op(left(env), right(env)))
        if e.op == "/":

            def divide(env: Env) -> float:
                divisor = right(env)
                if divisor == 0:
                    raise IRError("float division by zero")
                return left(env) / divisor

            return divide
        return lambda env: op(left(env), right(env))
    if isinstance(e, Not):
        inner = _compile_expr(e.operand)
        return lambda env: not inner(env)
    if isinstance(e, Neg):
        inner = _compile_expr(e.operand)
        return lambda env: -inner(env)
    if isinstance(e, Divisible):
        inner, k, negate = _compile_expr(e.value), e.divisor, e.negate
        return lambda env: (inner(env) % k == 0) != negate
    if isinstance(e, Len):
        inner = _compile_expr(e.operand)
        return lambda env: len(inner(env))
    if isinstance(e, ToFloat):
        inner = _compile_expr(e.operand)
        return lambda env: float(inner(env))
    if isinstance(e, Index):
        items, index = _compile_expr(e.items), _compile_expr(e.index)

        def at(env: Env) -> Any:
            seq, i = items(env), index(env)
            if not 0 <= i < len(seq):
                raise IRError(f"index {i} out of range for a list of {len(seq)}")
            return seq[i]

        return at
    if isinstance(e, CharIn):
        inner, chars = _compile_expr(e.char), e.chars
        return lambda env: inner(env) in chars
    if isinstance(e, ToUpper):
        inner = _compile_expr(e.operand)
        return lambda env: inner(env).upper()
    if isinstance(e, ToLower):
        inner = _compile_expr(e.operand)
        return lambda env: inner(env).lower()
    if isinstance(e, Concat):
        left, right = _compile_expr(e.left), _compile_expr(e.right)
        return lambda env: left(env) + right(env)
    raise IRError(f"unknown expression {e!r}")


def _compile_block(body: tuple[Stmt, ...]) -> Callable[[Env], None]:
    steps = [_compile_stmt(s) for s in body]

    def run(env: Env) -> None:
        for step in steps:
            step(env)

    return run


def _compile_stmt(s: Stmt) -> Callable[[Env], None]:
    if isinstance(s, (Let, Assign)):
        name, value = s.name, _compile_expr(s.value)

        def assign(env: Env) -> None:
            env[name] = value(env)

        return assign
    if isinstance(s, AugAssign):
        name, value, op = s.name, _compile_expr(s.value), _ARITH[s.op]

        def update(env: Env) -> None:
            result = op(env[name], value(env))
            env[name] = _int(result) if type(result) is int else result

        return update
    if isinstance(s, Push):
        name, value = s.name, _compile_expr(s.value)
        return lambda env: env[name].append(value(env))
    if isinstance(s, DictAdd):
        name, key, amount = s.name, _compile_expr(s.key), _compile_expr(s.amount)

        def add(env: Env) -> None:
            counts, k = env[name], key(env)
            counts[k] = _int(counts.get(k, 0) + amount(env))

        return add
    if isinstance(s, If):
        cond, then, orelse = _compile_expr(s.cond), _compile_block(s.then), _compile_block(s.orelse)

        def branch(env: Env) -> None:
            (then if cond(env) else orelse)(env)

        return branch
    if isinstance(s, ForEach):
        var, iterable, body = s.var, _compile_expr(s.iterable), _compile_block(s.body)

        def each(env: Env) -> None:
            for item in list(iterable(env)):
                env[var] = item
                body(env)

        return each
    if isinstance(s, ForRange):
        var, start, stop, body = s.var, _compile_expr(s.start), _compile_expr(s.stop), _compile_block(s.body)

        def count(env: Env) -> None:
            for i in range(start(env), stop(env)):
                env[var] = i
                body(env)

        return count
    if isinstance(s, Return):
        value = _compile_expr(s.value)

        def ret(env: Env) -> None:
            raise _Returned(value(env))

        return ret
    raise IRError(f"unknown statement {s!r}")


def compile_function(fn: Function) -> Callable[..., Any]:
    """``fn`` as a Python callable with the IR's semantics; it raises ``IRError`` when a call
    leaves what every PL agrees on (an int beyond 32 bits, an index out of range, a division
    by zero). Arguments are copied, so a call never changes them."""
    check_function(fn)
    body = _compile_block(fn.body)
    names = [p.name for p in fn.params]

    def call(*args: Any) -> Any:
        env = {n: (type(a)(a) if isinstance(a, (list, dict)) else a) for n, a in zip(names, args, strict=True)}
        try:
            body(env)
        except _Returned as done:
            return done.value
        raise IRError(f"{fn.name}: finished without returning")  # excluded by check_function

    return call
