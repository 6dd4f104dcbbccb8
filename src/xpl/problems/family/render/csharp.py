"""Family IR -> C# (as Mono 6.8's ``mcs`` compiles it: C# 7, .NET Framework 4.x libraries).

Ints are ``long``, lists ``List<long>``/``List<double>``/``List<string>`` and the word counts a
``Dictionary<string, long>``. C# specifics: strings compare with ``==``; list indexes are
``int`` (index loops count with ``int``; an index of type ``long`` is cast); ``foreach``
variables are read-only; a string that is only appended to is a ``StringBuilder``; the word
count is updated with ``ContainsKey`` (``GetValueOrDefault`` is not in .NET Framework 4.x);
case conversion is culture-invariant (``ToUpperInvariant``), as the IR's ASCII semantics
require whatever the current culture; ``"aeiou".Contains(ch)`` is LINQ's ``Enumerable.Contains``
(the prompt has ``using System.Linq``).
"""

from __future__ import annotations

from xpl.languages.types import DictType, IntType, ListType, StrType, Type
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
_EXPRS = (Var, Lit, Bin, Not, Neg, Divisible, Len, ToFloat, Index, CharIn, ToUpper, ToLower, Concat)


def _names(e: Expr) -> set[str]:
    """The variables an expression reads."""
    if isinstance(e, Var):
        return {e.name}
    return set().union(*(_names(v) for v in vars(e).values() if isinstance(v, _EXPRS)))


def _changed(body: tuple[Stmt, ...]) -> set[str]:
    return {s.name for s in walk_statements(body) if isinstance(s, (Assign, AugAssign, Push, DictAdd))}


def _reachable(body: tuple[Stmt, ...]) -> tuple[Stmt, ...]:
    """``body`` without the statements after one that always returns (dead code)."""
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
    """Why a loop of ``fn`` would not mean in C# what it means in the IR (None if none)."""

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
                    return f"loop variable {s.var!r} hides a variable (C# forbids it; the IR overwrites it)"
                changed = _changed(s.body)
                if s.var in changed:
                    return f"loop variable {s.var!r} is assigned in the loop (read-only in foreach, iteration in for)"
                if isinstance(s, ForRange) and _names(s.stop) & changed:
                    return f"the bound of the loop over {s.var!r} changes in the loop (C# re-evaluates it)"
                if isinstance(s, ForEach) and isinstance(s.iterable.type, ListType) and _names(s.iterable) & changed:
                    return f"the list of the loop over {s.var!r} changes in the loop (InvalidOperationException)"
                problem = walk(s.body, visible | {s.var})
                if problem:
                    return problem
        return None

    return walk(fn.body, {p.name for p in fn.params})


@register
class CSharpRenderer(BraceRenderer):
    language = "csharp"

    def __init__(self) -> None:
        super().__init__()
        self.builders: set[str] = set()  # strings that are only appended to (see _string_builders)
        self.int_vars: set[str] = set()  # index loop counters declared `int` (in scope)
        self.taken: set[str] = set()

    def body(self, fn: Function) -> str:
        problem = _loop_problem(fn)
        if problem:
            raise self.lang.unsupported(problem)
        self.builders = _string_builders(fn)
        self.int_vars = set()
        # Names of the function, and of the locals the renderer adds (unique in the function:
        # C# forbids a name in a block that an enclosing or nested block declares).
        self.taken = {p.name for p in fn.params} | {
            s.name if isinstance(s, Let) else s.var
            for s in walk_statements(fn.body)
            if isinstance(s, (Let, ForEach, ForRange))
        }
        return super().body(fn)

    def fresh(self, base: str) -> str:
        name, k = base, 1
        while name in self.taken or self.lang.identifier(name) != name:
            k += 1
            name = f"{base}{k}"
        self.taken.add(name)
        return name

    # ------------------------------------------------------------------ statements
    def block(self, body: tuple[Stmt, ...], depth: int, top: bool = False) -> list[str]:
        return super().block(_reachable(body), depth, top)

    def statement(self, s: Stmt, depth: int, last: bool = False) -> list[str]:
        if isinstance(s, DictAdd):
            return self.dict_add_lines(s, depth)
        if not isinstance(s, (ForEach, ForRange)):
            return super().statement(s, depth, last)
        saved = set(self.int_vars)
        self.int_vars.discard(s.var)
        head = self.indent(depth) + (self.for_range_head(s) if isinstance(s, ForRange) else self.for_each_head(s))
        if isinstance(s, ForRange) and self.is_int(s.start):
            self.int_vars.add(s.var)
        lines = [head, *self.block(s.body, depth + 1), *self.end_block(depth)]
        self.int_vars = saved
        return lines

    def dict_add_lines(self, s: DictAdd, depth: int) -> list[str]:
        """``if (d.ContainsKey(k)) { d[k] += n; } else { d[k] = n; }``; a key that is not a
        variable or a literal is computed once, into a local of its own."""
        ind, inner = self.indent(depth), self.indent(depth + 1)
        d, key, amount = self.name(s.name), self.expr(s.key), self.expr(s.amount)
        lines = []
        if not isinstance(s.key, (Var, Lit)):
            temp = self.fresh("key")
            lines.append(f"{ind}string {temp} = {key};")
            key = temp
        step = f"{d}[{key}]++;" if isinstance(s.amount, Lit) and s.amount.value == 1 else f"{d}[{key}] += {amount};"
        return lines + [
            f"{ind}if ({d}.ContainsKey({key})) {{",
            inner + step,
            f"{ind}}} else {{",
            f"{inner}{d}[{key}] = {amount};",
            f"{ind}}}",
        ]

    def for_each_head(self, s: ForEach) -> str:
        return f"foreach ({self.type_name(s.var_type)} {self.name(s.var)} in {self.expr(s.iterable)}) {{"

    def for_range_head(self, s: ForRange) -> str:
        i = self.name(s.var)
        counter = "int" if self.is_int(s.start) else "long"
        return f"for ({counter} {i} = {self.expr(s.start)}; {i} < {self.sub(s.stop, COMPARE + 1)}; {i}++) {{"

    def let(self, s: Let) -> str:
        name = self.name(s.name)
        if s.name in self.builders:
            empty = isinstance(s.value, Lit) and s.value.value == ""
            return f"var {name} = new StringBuilder({'' if empty else self.expr(s.value)});"
        if isinstance(s.type, (ListType, DictType)):
            if isinstance(s.value, Lit):  # `new List<long>()`, `new List<long> { 1L, 2L }`
                return f"var {name} = {self.expr(s.value)};"
        return f"{self.type_name(s.type)} {name} = {self.expr(s.value)};"

    def aug_assign(self, s: AugAssign) -> str:
        name = self.name(s.name)
        if s.name in self.builders:
            return f"{name}.Append({self.expr(s.value)});"
        if isinstance(s.value, Lit) and isinstance(s.value.type, IntType) and s.value.value == 1 and s.op in ("+", "-"):
            return f"{name}{s.op}{s.op};"
        return f"{name} {s.op}= {self.expr(s.value)};"  # on a string, += appends a char or a string

    def push(self, s: Push) -> str:
        return f"{self.name(s.name)}.Add({self.expr(s.value)});"

    def dict_add(self, s: DictAdd) -> str:
        raise AssertionError("DictAdd is rendered by dict_add_lines")

    # ------------------------------------------------------------------ types
    def type_name(self, t: Type) -> str:
        return "char" if isinstance(t, CharType) else self.lang.render_type(t)

    def is_int(self, e: Expr) -> bool:
        """Whether C# types the expression ``int`` (a ``long`` cannot index a list)."""
        if isinstance(e, Var):
            return e.name in self.int_vars
        if isinstance(e, Lit):
            return isinstance(e.type, IntType) and abs(e.value) <= _INT32
        if isinstance(e, Bin) and isinstance(e.type, IntType):
            return self.is_int(e.left) and self.is_int(e.right)
        if isinstance(e, Neg):
            return self.is_int(e.operand)
        return isinstance(e, Len)

    # ------------------------------------------------------------------ expressions
    def e_var(self, e: Var) -> Code:
        name = self.name(e.name)
        return (f"{name}.ToString()" if e.name in self.builders else name), ATOM

    def e_lit(self, e: Lit) -> Code:
        if isinstance(e.type, IntType):
            text = str(e.value) if abs(e.value) <= _INT32 else f"{e.value}L"
            return text, UNARY if e.value < 0 else ATOM
        return super().e_lit(e)

    def char_literal(self, ch: str) -> str:
        escapes = {"'": "\\'", "\\": "\\\\", "\n": "\\n", "\t": "\\t", "\r": "\\r", "\0": "\\0"}
        if ch in escapes:
            return f"'{escapes[ch]}'"
        return f"'{ch}'" if " " <= ch <= "~" else f"'\\u{ord(ch):04x}'"

    def e_len(self, e: Len) -> Code:
        if isinstance(e.operand, Var) and e.operand.name in self.builders:
            return f"{self.name(e.operand.name)}.Length", ATOM
        prop = "Length" if isinstance(e.operand.type, StrType) else "Count"
        return f"{self.sub(e.operand, ATOM)}.{prop}", ATOM

    def e_tofloat(self, e: ToFloat) -> Code:
        return f"(double) {self.sub(e.operand, UNARY)}", UNARY

    def e_index(self, e: Index) -> Code:
        index = self.expr(e.index) if self.is_int(e.index) else f"(int) {self.sub(e.index, UNARY)}"
        return f"{self.sub(e.items, ATOM)}[{index}]", ATOM

    def e_charin(self, e: CharIn) -> Code:
        return f"{self.literal(e.chars, StrType())}.Contains({self.expr(e.char)})", ATOM

    def e_toupper(self, e: ToUpper) -> Code:
        return self.case(e.operand, "Upper")

    def e_tolower(self, e: ToLower) -> Code:
        return self.case(e.operand, "Lower")

    def case(self, operand: Expr, which: str) -> Code:
        if isinstance(operand.type, CharType):
            return f"char.To{which}Invariant({self.expr(operand)})", ATOM
        return f"{self.sub(operand, ATOM)}.To{which}Invariant()", ATOM

    def e_concat(self, e: Concat) -> Code:
        return f"{self.sub(e.left, ADD)} + {self.sub(e.right, ADD + 1)}", ADD
