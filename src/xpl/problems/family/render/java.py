"""Family IR -> Java 17.

Ints are ``long`` in signatures and locals, lists are ``ArrayList<Long>``/``ArrayList<Double>``/
``ArrayList<String>`` and the word counts a ``HashMap<String, Long>``. Java specifics:

* boxing: ``list.get(i)`` is a ``Long``; arithmetic and ``<`` unbox it, but ``==`` between two
  boxed values compares references, so it is written ``a.equals(b)`` (strings likewise);
* an int expression (a literal, ``size()``, ``length()``, an ``int`` loop counter) cannot be
  boxed into a ``Long``: it gets an ``L`` suffix or a ``(long)`` cast where a list or map
  receives it (``out.add(3L)``, ``counts.merge(w, 1L, Long::sum)``);
* index loops count with ``int`` (``list.get`` takes an ``int``); an index of type ``long``
  is cast;
* a string that is only appended to is a ``StringBuilder``;
* case conversion of strings uses ``Locale.ROOT`` (the IR's ASCII semantics whatever the
  default locale); statements after a return would be unreachable (a compile error) and are
  dropped.
"""

from __future__ import annotations

from xpl.languages.types import BoolType, DictType, FloatType, IntType, ListType, StrType, Type
from xpl.problems.family.ir import (
    Assign,
    AugAssign,
    Bin,
    CharIn,
    CharType,
    Concat,
    DictAdd,
    Divisible,
    Expr,
    ForEach,
    ForRange,
    Function,
    If,
    Index,
    Len,
    Let,
    Lit,
    Neg,
    Not,
    Push,
    Stmt,
    ToFloat,
    ToLower,
    ToUpper,
    Var,
    ends_with_return,
    walk_statements,
)
from xpl.problems.family.render import ADD, ATOM, COMPARE, UNARY, BraceRenderer, Code, register

_INT32 = 2**31 - 1
_BOXED = {IntType: "Long", FloatType: "Double", BoolType: "Boolean"}
_EXPRS = (Var, Lit, Bin, Not, Neg, Divisible, Len, ToFloat, Index, CharIn, ToUpper, ToLower, Concat)


def _names(e: Expr) -> set[str]:
    """The variables an expression reads."""
    if isinstance(e, Var):
        return {e.name}
    return set().union(*(_names(v) for v in vars(e).values() if isinstance(v, _EXPRS)))


def _changed(body: tuple[Stmt, ...]) -> set[str]:
    return {s.name for s in walk_statements(body) if isinstance(s, (Assign, AugAssign, Push, DictAdd))}


def _reachable(body: tuple[Stmt, ...]) -> tuple[Stmt, ...]:
    """``body`` without the statements after one that always returns (unreachable in Java)."""
    for i, s in enumerate(body):
        if ends_with_return((s,)):
            return body[: i + 1]
    return body


def _string_builders(fn: Function) -> set[str]:
    """Local strings that are only ever appended to: ``StringBuilder`` values."""
    stmts = list(walk_statements(fn.body))
    lets = {s.name for s in stmts if isinstance(s, Let) and isinstance(s.type, StrType)}
    others = {s.name for s in stmts if isinstance(s, Let) and not isinstance(s.type, StrType)}
    appended = {s.name for s in stmts if isinstance(s, AugAssign)}
    assigned = {s.name for s in stmts if isinstance(s, Assign)}
    loop_vars = {s.var for s in stmts if isinstance(s, (ForEach, ForRange))}
    return (lets & appended) - others - assigned - loop_vars - {p.name for p in fn.params}


def _loop_problem(fn: Function) -> str | None:
    """Why a loop of ``fn`` would not mean in Java what it means in the IR (None if none)."""

    def walk(body: tuple[Stmt, ...], visible: set[str]) -> str | None:
        visible = set(visible)
        for s in body:
            if isinstance(s, Let):
                visible.add(s.name)
            elif isinstance(s, If):
                problem = walk(s.then, visible) or walk(s.orelse, visible)
                if problem:
                    return problem
            elif isinstance(s, (ForEach, ForRange)):
                if s.var in visible:
                    return f"loop variable {s.var!r} hides a variable (Java forbids it; the IR overwrites it)"
                changed = _changed(s.body)
                if isinstance(s, ForRange):
                    if s.var in changed:
                        return f"loop variable {s.var!r} is assigned in the loop (it would change the iteration)"
                    if _names(s.stop) & changed:
                        return f"the bound of the loop over {s.var!r} changes in the loop (Java re-evaluates it)"
                elif isinstance(s.iterable.type, ListType) and _names(s.iterable) & changed:
                    return f"the list of the loop over {s.var!r} changes in the loop (ConcurrentModificationException)"
                problem = walk(s.body, visible | {s.var})
                if problem:
                    return problem
        return None

    return walk(fn.body, {p.name for p in fn.params})


@register
class JavaRenderer(BraceRenderer):
    language = "java"

    def __init__(self) -> None:
        super().__init__()
        self.builders: set[str] = set()  # strings that are only appended to (see _string_builders)
        self.int_vars: set[str] = set()  # index loop counters declared `int` (in scope)

    def body(self, fn: Function) -> str:
        problem = _loop_problem(fn)
        if problem:
            raise self.lang.unsupported(problem)
        self.builders = _string_builders(fn)
        self.int_vars = set()
        return super().body(fn)

    # ------------------------------------------------------------------ statements
    def block(self, body: tuple[Stmt, ...], depth: int, top: bool = False) -> list[str]:
        return super().block(_reachable(body), depth, top)

    def statement(self, s: Stmt, depth: int, last: bool = False) -> list[str]:
        if not isinstance(s, (ForEach, ForRange)):
            return super().statement(s, depth, last)
        saved = set(self.int_vars)
        self.int_vars.discard(s.var)
        head = self.indent(depth) + (self.for_range_head(s) if isinstance(s, ForRange) else self.for_each_head(s))
        if isinstance(s, ForRange) and self.kind(s.start) == "int":
            self.int_vars.add(s.var)
        lines = [head, *self.block(s.body, depth + 1), *self.end_block(depth)]
        self.int_vars = saved
        return lines

    def for_each_head(self, s: ForEach) -> str:
        if isinstance(s.iterable.type, StrType):
            return f"for (char {self.name(s.var)} : {self.sub(s.iterable, ATOM)}.toCharArray()) {{"
        return f"for ({self.type_name(s.var_type)} {self.name(s.var)} : {self.expr(s.iterable)}) {{"

    def for_range_head(self, s: ForRange) -> str:
        i = self.name(s.var)
        counter = "int" if self.kind(s.start) == "int" else "long"
        return f"for ({counter} {i} = {self.expr(s.start)}; {i} < {self.sub(s.stop, COMPARE + 1)}; {i}++) {{"

    def let(self, s: Let) -> str:
        name = self.name(s.name)
        if s.name in self.builders:
            empty = isinstance(s.value, Lit) and s.value.value == ""
            return f"StringBuilder {name} = new StringBuilder({'' if empty else self.expr(s.value)});"
        if isinstance(s.type, (ListType, DictType)) and isinstance(s.value, Lit) and not s.value.value:
            container = "ArrayList" if isinstance(s.type, ListType) else "HashMap"
            return f"{self.type_name(s.type)} {name} = new {container}<>();"
        return f"{self.type_name(s.type)} {name} = {self.expr(s.value)};"

    def aug_assign(self, s: AugAssign) -> str:
        name = self.name(s.name)
        if s.name in self.builders:
            return f"{name}.append({self.expr(s.value)});"
        if isinstance(s.value, Lit) and isinstance(s.value.type, IntType) and s.value.value == 1 and s.op in ("+", "-"):
            return f"{name}{s.op}{s.op};"
        return f"{name} {s.op}= {self.expr(s.value)};"  # on a String, += appends a char or a string

    def push(self, s: Push) -> str:
        return f"{self.name(s.name)}.add({self.boxable(s.value)});"

    def dict_add(self, s: DictAdd) -> str:
        return f"{self.name(s.name)}.merge({self.expr(s.key)}, {self.boxable(s.amount)}, Long::sum);"

    # ------------------------------------------------------------------ types
    def type_name(self, t: Type) -> str:
        return "char" if isinstance(t, CharType) else self.lang.render_type(t)

    def kind(self, e: Expr) -> str:
        """What Java type an expression has where Java cares: "int", "long", a boxed type
        ("Long", "Double", "Boolean"), or "other"."""
        if isinstance(e, Var):
            if e.name in self.int_vars:
                return "int"
            return "long" if isinstance(e.type, IntType) else "other"
        if isinstance(e, Lit):
            if isinstance(e.type, IntType):
                return "int" if abs(e.value) <= _INT32 else "long"
            return "other"
        if isinstance(e, Bin) and isinstance(e.type, IntType):
            return "int" if self.kind(e.left) == self.kind(e.right) == "int" else "long"
        if isinstance(e, Neg) and isinstance(e.type, IntType):
            return "int" if self.kind(e.operand) == "int" else "long"
        if isinstance(e, Len):
            return "int"
        if isinstance(e, Index):
            return _BOXED.get(type(e.type), "other")
        return "other"

    def boxable(self, e: Expr) -> str:
        """``e`` where a ``Long`` (or a ``Double``, a ``String``) is expected: ints become longs."""
        if self.kind(e) != "int":
            return self.expr(e)
        if isinstance(e, Lit):
            return f"{e.value}L"
        return f"(long) {self.sub(e, UNARY)}"

    # ------------------------------------------------------------------ expressions
    def e_var(self, e: Var) -> Code:
        name = self.name(e.name)
        return (f"{name}.toString()" if e.name in self.builders else name), ATOM

    def e_lit(self, e: Lit) -> Code:
        if isinstance(e.type, IntType):
            text = str(e.value) if abs(e.value) <= _INT32 else f"{e.value}L"
            return text, UNARY if e.value < 0 else ATOM
        return super().e_lit(e)

    def char_literal(self, ch: str) -> str:
        escapes = {"'": "\\'", "\\": "\\\\", "\n": "\\n", "\t": "\\t", "\r": "\\r"}
        if ch in escapes:
            return f"'{escapes[ch]}'"
        return f"'{ch}'" if " " <= ch <= "~" else f"'\\{ord(ch):o}'"

    def e_bin(self, e: Bin) -> Code:
        empty = self.emptiness(e)
        if empty:
            return empty
        if e.op in ("==", "!="):
            boxed = self.kind(e.left) in _BOXED.values() and self.kind(e.right) in _BOXED.values()
            if boxed or isinstance(e.left.type, StrType):
                text = f"{self.sub(e.left, ATOM)}.equals({self.expr(e.right)})"
                return (text, ATOM) if e.op == "==" else ("!" + text, UNARY)
        return super().e_bin(e)

    def emptiness(self, e: Bin) -> Code | None:
        """``len(xs) == 0`` as ``xs.isEmpty()`` (``!= 0`` and ``> 0`` as ``!xs.isEmpty()``)."""
        if not (isinstance(e.left, Len) and isinstance(e.right, Lit) and e.right.value == 0):
            return None
        seq = e.left.operand
        if e.op not in ("==", "!=", ">") or (isinstance(seq, Var) and seq.name in self.builders):
            return None
        text = f"{self.sub(seq, ATOM)}.isEmpty()"
        return (text, ATOM) if e.op == "==" else ("!" + text, UNARY)

    def e_not(self, e: Not) -> Code:
        if isinstance(e.operand, CharIn):
            return self.char_in(e.operand, "< 0")
        return super().e_not(e)

    def e_len(self, e: Len) -> Code:
        if isinstance(e.operand, Var) and e.operand.name in self.builders:
            return f"{self.name(e.operand.name)}.length()", ATOM
        method = "length" if isinstance(e.operand.type, StrType) else "size"
        return f"{self.sub(e.operand, ATOM)}.{method}()", ATOM

    def e_tofloat(self, e: ToFloat) -> Code:
        return f"(double) {self.sub(e.operand, UNARY)}", UNARY

    def e_index(self, e: Index) -> Code:
        kind = self.kind(e.index)
        if kind == "long":
            index = f"(int) {self.sub(e.index, UNARY)}"
        elif kind == "Long":
            index = f"{self.sub(e.index, ATOM)}.intValue()"
        else:
            index = self.expr(e.index)
        return f"{self.sub(e.items, ATOM)}.get({index})", ATOM

    def e_charin(self, e: CharIn) -> Code:
        return self.char_in(e, ">= 0")

    def char_in(self, e: CharIn, test: str) -> Code:
        return f"{self.literal(e.chars, StrType())}.indexOf({self.expr(e.char)}) {test}", COMPARE

    def e_toupper(self, e: ToUpper) -> Code:
        return self.case(e.operand, "Upper")

    def e_tolower(self, e: ToLower) -> Code:
        return self.case(e.operand, "Lower")

    def case(self, operand: Expr, which: str) -> Code:
        if isinstance(operand.type, CharType):
            return f"Character.to{which}Case({self.expr(operand)})", ATOM
        return f"{self.sub(operand, ATOM)}.to{which}Case(Locale.ROOT)", ATOM

    def e_concat(self, e: Concat) -> Code:
        return f"{self.sub(e.left, ADD)} + {self.sub(e.right, ADD + 1)}", ADD
