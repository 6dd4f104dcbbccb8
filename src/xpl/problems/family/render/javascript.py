"""Family IR -> JavaScript (Node.js, sloppy-mode CommonJS script).

Numbers are doubles, which the IR's 32-bit integers never leave exactly; ``ToFloat`` therefore
renders as its operand. Dicts are plain objects (``{}``, ``d[k] = (d[k] ?? 0) + n``), as in
every JavaScript program and in the PL module's values: the IR's dict keys are words, never
``__proto__`` or a name ``Object.prototype`` has (``constructor``), which a plain object would
resolve through its prototype. Strings are walked with ``for (const ch of s)`` (ASCII, so one
code unit per character) and compared with ``===``.

Declarations are ``const`` unless the variable is assigned again (``ir.mutated_names``;
pushing to a ``const`` array or adding to a ``const`` object is not an assignment).
TypeScript (``typescript.py``) is this renderer plus type annotations where inference needs them.
"""

from __future__ import annotations

from dataclasses import fields, is_dataclass

from xpl.languages.types import STR, Type
from xpl.problems.family.ir import (
    Assign,
    AugAssign,
    CharIn,
    Concat,
    DictAdd,
    Expr,
    ForEach,
    ForRange,
    Function,
    Index,
    Len,
    Let,
    Lit,
    Push,
    Stmt,
    ToFloat,
    ToLower,
    ToUpper,
    Var,
    walk_statements,
)
from xpl.problems.family.render import ADD, ATOM, UNARY, BraceRenderer, Code, register

# ----------------------------------------------------------------------------- shared helpers
# (also used by the PHP renderer: both spell ``range`` as a C-style counting loop)


def expr_names(e: Expr) -> set[str]:
    """The variables an expression reads."""
    if isinstance(e, Var):
        return {e.name}
    names: set[str] = set()
    for f in fields(e):  # type: ignore[arg-type]
        child = getattr(e, f.name)
        if is_dataclass(child) and not isinstance(child, type):
            names |= expr_names(child)  # type: ignore[arg-type]
    return names


def assigned_names(body: tuple[Stmt, ...]) -> set[str]:
    """Variables that ``body`` assigns to (or appends to) anywhere inside it."""
    return {s.name for s in walk_statements(body) if isinstance(s, (Assign, AugAssign, Push, DictAdd))}


def reassigned_names(body: tuple[Stmt, ...]) -> set[str]:
    """Variables that ``body`` assigns a new value to (``=``, ``+=``; not ``push``)."""
    return {s.name for s in walk_statements(body) if isinstance(s, (Assign, AugAssign))}


def declared_names(fn: Function) -> set[str]:
    """Every name the function declares: parameters, locals and loop variables."""
    names = {p.name for p in fn.params}
    for s in walk_statements(fn.body):
        if isinstance(s, Let):
            names.add(s.name)
        elif isinstance(s, (ForEach, ForRange)):
            names.add(s.var)
    return names


def fresh_name(fn: Function, base: str) -> str:
    taken = declared_names(fn) | {fn.name}
    name, i = base, 2
    while name in taken:
        name, i = f"{base}{i}", i + 1
    return name


def range_plan(fn: Function, s: ForRange) -> tuple[str | None, str | None]:
    """How a counting loop ``for (i = start; i < stop; i++)`` keeps ``range``'s meaning.

    Python's ``range(start, stop)`` evaluates ``stop`` once, and assigning to the loop variable
    inside the body does not change the next value. Returns ``(stop_name, counter)``: a fresh
    variable to hold ``stop`` when the body assigns one of the variables it reads, and a fresh
    counter when the body assigns the loop variable (which is then copied from the counter at
    the top of each iteration). Both are None for every loop the generator writes."""
    assigned = assigned_names(s.body)
    stop = fresh_name(fn, "stop") if expr_names(s.stop) & assigned else None
    counter = fresh_name(fn, s.var + "_") if s.var in assigned else None
    return stop, counter


# ----------------------------------------------------------------------------- renderer


@register
class JavaScriptRenderer(BraceRenderer):
    language = "javascript"
    indent_unit = "  "
    operators = {"and": "&&", "or": "||", "==": "===", "!=": "!=="}

    # ------------------------------------------------------------------ declarations
    def body(self, fn: Function) -> str:
        # Only a reassignment needs `let`: pushing to a const array or adding to a const object is fine.
        self.reassigned = reassigned_names(fn.body)
        return super().body(fn)

    def declaration_keyword(self, name: str) -> str:
        return "let" if name in self.reassigned else "const"

    def declared(self, name: str, typ: Type, value: Expr | None, keyword: str) -> str:
        """The name as written after ``let``/``const`` (TypeScript adds a type annotation)."""
        return self.name(name)

    # ------------------------------------------------------------------ statements
    def statement(self, s: Stmt, depth: int, last: bool = False) -> list[str]:
        if isinstance(s, ForRange):
            return self.counting_loop(s, depth)
        return super().statement(s, depth, last)

    def counting_loop(self, s: ForRange, depth: int) -> list[str]:
        ind, inner = self.indent(depth), self.indent(depth + 1)
        stop_name, counter = range_plan(self.fn, s)  # type: ignore[arg-type]
        lines = []
        stop = self.expr(s.stop)
        if stop_name is not None:
            lines.append(f"{ind}const {self.declared(stop_name, s.stop.type, s.stop, 'const')} = {stop};")
            stop = self.name(stop_name)
        var = self.name(counter if counter is not None else s.var)
        lines.append(f"{ind}for (let {var} = {self.expr(s.start)}; {var} < {stop}; {var}++) {{")
        if counter is not None:
            lines.append(f"{inner}let {self.declared(s.var, s.start.type, None, 'let')} = {var};")
        return lines + self.block(s.body, depth + 1) + self.end_block(depth)

    def for_each_head(self, s: ForEach) -> str:
        keyword = self.declaration_keyword(s.var)
        return f"for ({keyword} {self.name(s.var)} of {self.expr(s.iterable)}) {{"

    def for_range_head(self, s: ForRange) -> str:  # counting_loop writes the whole loop
        raise AssertionError("unreachable")

    def let(self, s: Let) -> str:
        keyword = self.declaration_keyword(s.name)
        return f"{keyword} {self.declared(s.name, s.type, s.value, keyword)} = {self.expr(s.value)};"

    def push(self, s: Push) -> str:
        return f"{self.name(s.name)}.push({self.expr(s.value)});"

    def dict_add(self, s: DictAdd) -> str:
        d, key = self.name(s.name), self.expr(s.key)
        return f"{d}[{key}] = ({d}[{key}] ?? 0) + {self.sub(s.amount, ADD + 1)};"

    # ------------------------------------------------------------------ expressions
    def e_lit(self, e: Lit) -> Code:
        text = self.literal(e.value, e.type)
        # Also -0.0, which the base renderer takes for an atom: `-(-0.0)`, never `--0.0`.
        return text, UNARY if text.startswith("-") else ATOM

    def e_len(self, e: Len) -> Code:
        return f"{self.sub(e.operand, ATOM)}.length", ATOM

    def e_tofloat(self, e: ToFloat) -> Code:
        return self.code(e.operand)  # an int is already a number

    def e_index(self, e: Index) -> Code:
        return f"{self.sub(e.items, ATOM)}[{self.expr(e.index)}]", ATOM

    def e_charin(self, e: CharIn) -> Code:
        return f"{self.literal(e.chars, STR)}.includes({self.expr(e.char)})", ATOM

    def e_toupper(self, e: ToUpper) -> Code:
        return f"{self.sub(e.operand, ATOM)}.toUpperCase()", ATOM

    def e_tolower(self, e: ToLower) -> Code:
        return f"{self.sub(e.operand, ATOM)}.toLowerCase()", ATOM

    def e_concat(self, e: Concat) -> Code:
        return f"{self.sub(e.left, ADD)} + {self.sub(e.right, ADD + 1)}", ADD
