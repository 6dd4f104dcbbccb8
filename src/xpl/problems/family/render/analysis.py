"""Analyses of a family function that several renderers need, written once.

Each answers a question about the IR tree (``xpl.problems.family.ir``), never about a PL:
which variables an expression reads, which names a function declares, which strings are only
ever appended to, which statements are dead. The renderers decide what the answers mean in
their PL (a ``StringBuilder`` in Java, a ``strings.Builder`` in Go, ``let`` vs ``const`` in
JavaScript, ...).

What the renderers need *not* analyse, because ``ir.check_function`` (which every
``Renderer.body`` runs first) refuses such trees: a loop variable that shadows a variable in
scope, a loop body that assigns its own loop variable, and a loop body that changes what the
bound of a ``ForRange`` or the iterable of a ``ForEach`` reads (``ir._check_loop``). So
``for (i = a; i < b; i++)`` means exactly ``range(a, b)`` in every C-like PL, and a loop
variable never needs a copy.
"""

from __future__ import annotations

from typing import Callable, Collection

from xpl.languages.types import IntType, StrType
from xpl.problems.family import ir
from xpl.problems.family.ir import ends_with_return, walk_statements

# ----------------------------------------------------------------------------- expressions


def names_read(e: ir.Expr) -> set[str]:
    """The variables an expression reads."""
    if isinstance(e, ir.Var):
        return {e.name}
    return set().union(*(names_read(v) for v in vars(e).values() if isinstance(v, ir.Expr)))


def split_offset(e: ir.Expr) -> tuple[ir.Expr | None, int]:
    """``e`` as ``base + constant`` (base None for an int literal), taking apart one ``+``/``-``
    of an int literal, so that a PL with 1-based indices can fold its offset into the constant
    (``xs[i - 1]`` in the IR is ``xs[i]`` in Lua)."""
    if isinstance(e, ir.Lit) and isinstance(e.value, int) and not isinstance(e.value, bool):
        return None, e.value
    if isinstance(e, ir.Bin) and e.op in ("+", "-") and isinstance(e.right, ir.Lit) and isinstance(e.right.value, int):
        return e.left, e.right.value if e.op == "+" else -e.right.value
    return e, 0


def inclusive_stop(stop: ir.Expr) -> ir.Expr | None:
    """``n`` when a range's stop is written ``n + 1`` (``range(a, n + 1)`` reads best as
    ``a..=n`` in Rust, ``a..n`` in Ruby, ``i <= n`` in C++), else None."""
    if isinstance(stop, ir.Bin) and stop.op == "+" and isinstance(stop.right, ir.Lit) and stop.right.value == 1:
        return stop.left
    return None


def is_unit_step(op: str, value: ir.Expr) -> bool:
    """Whether ``x op= value`` adds or subtracts the int literal 1 (``x++``/``x--`` in C-like PLs)."""
    return isinstance(value, ir.Lit) and isinstance(value.type, IntType) and value.value == 1 and op in ("+", "-")


def is_empty_literal(e: ir.Expr) -> bool:
    """Whether ``e`` is ``""``, ``[]`` or ``{}`` (which PLs declare with a constructor)."""
    return isinstance(e, ir.Lit) and isinstance(e.value, (str, list, dict)) and not e.value


# ----------------------------------------------------------------------------- statements


def operands(s: ir.Stmt) -> tuple[ir.Expr, ...]:
    """The expressions a statement evaluates itself (not those of the statements inside it)."""
    if isinstance(s, ir.If):
        return (s.cond,)
    if isinstance(s, ir.ForEach):
        return (s.iterable,)
    if isinstance(s, ir.ForRange):
        return (s.start, s.stop)
    if isinstance(s, ir.DictAdd):
        return (s.key, s.amount)
    return (s.value,)  # Let, Assign, AugAssign, Push, Return


def reachable(body: tuple[ir.Stmt, ...]) -> tuple[ir.Stmt, ...]:
    """``body`` without the statements after one that always returns (Java rejects such dead
    code as unreachable; Go and C# renderers leave it out too)."""
    for i, s in enumerate(body):
        if ends_with_return((s,)):
            return body[: i + 1]
    return body


def reassigned_names(body: tuple[ir.Stmt, ...]) -> set[str]:
    """Variables that ``body`` gives a new value anywhere inside it (``=``, ``op=``); pushing to a
    list or adding to a dict changes the value in place, which is not counted."""
    return {s.name for s in walk_statements(body) if isinstance(s, (ir.Assign, ir.AugAssign))}


def declared_names(fn: ir.Function) -> set[str]:
    """Every name the function declares: parameters, locals and loop variables."""
    names = {p.name for p in fn.params}
    for s in walk_statements(fn.body):
        if isinstance(s, ir.Let):
            names.add(s.name)
        elif isinstance(s, (ir.ForEach, ir.ForRange)):
            names.add(s.var)
    return names


def append_only_strings(fn: ir.Function) -> set[str]:
    """Local strings that are only ever appended to (``+=``), never assigned, so a PL can keep
    them in a string builder (``StringBuilder`` in Java and C#, ``strings.Builder`` in Go).
    Parameters are excluded (their type is the prompt's), and so is a name that is also
    declared with another type or as a loop variable elsewhere in the function."""
    stmts = list(walk_statements(fn.body))
    strings = {s.name for s in stmts if isinstance(s, ir.Let) and isinstance(s.type, StrType)}
    others = {s.name for s in stmts if isinstance(s, ir.Let) and not isinstance(s.type, StrType)}
    appended = {s.name for s in stmts if isinstance(s, ir.AugAssign)}
    assigned = {s.name for s in stmts if isinstance(s, ir.Assign)}
    loop_vars = {s.var for s in stmts if isinstance(s, (ir.ForEach, ir.ForRange))}
    return (strings & appended) - others - assigned - loop_vars - {p.name for p in fn.params}


# ----------------------------------------------------------------------------- names


def numbered(base: str, k: int) -> str:
    """The ``k``-th candidate for a fresh name: ``base2``, ``base3``, ..."""
    return f"{base}{k}"


def fresh_name(base: str, taken: Collection[str], variant: Callable[[str, int], str] = numbered) -> str:
    """``base``, or else the first of ``variant(base, 2)``, ``variant(base, 3)``, ... that is
    not in ``taken``."""
    name, k = base, 1
    while name in taken:
        k += 1
        name = variant(base, k)
    return name
