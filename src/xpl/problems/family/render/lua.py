"""Family IR -> Lua 5.4.

The prompt (``local function name(a, b)``) leaves the function's ``end`` to the completion,
so this renderer closes it (``closing``).

Idioms: ``local`` declarations, ``for _, x in ipairs(xs) do``, ``for ch in s:gmatch(".") do``
(each character as a one-character string), ``for i = a, b do``, ``~=``, ``..``, ``#``,
``string.find(chars, ch, 1, true)`` (a plain find, no pattern), ``(counts[w] or 0)``.

Semantics that differ from the IR and are translated here:

* Lists are 1-based tables while the IR's indices are 0-based: ``Index(xs, i)`` is
  ``xs[i + 1]`` (constant offsets folded: ``xs[i - 1]`` in the IR is ``xs[i]``), and
  ``ForRange(i, a, b)`` keeps ``i`` 0-based (its value may be returned) and runs
  ``for i = a, b - 1``: a numeric ``for`` includes its limit, and evaluates it once, as
  ``range`` does.
* Integers and floats are subtypes of one number type: ``ToFloat`` must give a float
  (``x + 0.0``), and every float literal has a ``.`` or an exponent. ``/`` only ever meets
  floats (the IR has no integer division).
* ``not`` is a unary operator in Lua (``not a == b`` is ``(not a) == b``), unlike Python's.
* ``return`` must end its block: one followed by more statements becomes ``do return x end``.
* ``gmatch`` walks the string as it was when the loop started, as the IR's ``ForEach`` does.
"""

from __future__ import annotations

from xpl.languages.types import STR, StrType
from xpl.problems.family.ir import (
    AugAssign,
    Bin,
    CharIn,
    CharType,
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
    Not,
    Push,
    Return,
    Stmt,
    ToFloat,
    ToLower,
    ToUpper,
    Var,
    walk_statements,
)
from xpl.problems.family.render import ADD, ATOM, BINARY_PRECEDENCE, COMPARE, UNARY, Code, Renderer, register

# Globals the rendered code calls; a variable of the same name would shadow them.
_GLOBALS = ("ipairs", "string")


def split_offset(e: Expr) -> tuple[Expr | None, int]:
    """``e`` as ``base + constant`` (base None for an int literal), folding one ``+``/``-`` of
    an int literal, so that 1-based offsets can be folded into it."""
    if isinstance(e, Lit) and isinstance(e.value, int) and not isinstance(e.value, bool):
        return None, e.value
    if isinstance(e, Bin) and e.op in ("+", "-") and isinstance(e.right, Lit) and isinstance(e.right.value, int):
        return e.left, e.right.value if e.op == "+" else -e.right.value
    return e, 0


@register
class LuaRenderer(Renderer):
    language = "lua"
    indent_unit = "    "
    operators = {"and": "and", "or": "or", "!=": "~="}
    block_end = "end"
    closing = "end\n"

    def __init__(self) -> None:
        super().__init__()
        self.shadowed: set[str] = set()

    def body(self, fn: Function) -> str:
        names = {p.name for p in fn.params}
        for s in walk_statements(fn.body):
            if isinstance(s, Let):
                names.add(s.name)
            elif isinstance(s, (ForEach, ForRange)):
                names.add(s.var)
        self.shadowed = {g for g in _GLOBALS if g in {self.name(n) for n in names}}
        return super().body(fn)

    def glob(self, name: str) -> str:
        """A standard global, through ``_G`` when a variable of the function shadows it."""
        return f"_G.{name}" if name in self.shadowed else name

    def offset(self, e: Expr, delta: int) -> Code:
        """The int expression ``e + delta``, with constant offsets folded."""
        base, constant = split_offset(e)
        constant += delta
        if base is None:
            return self.code(Lit(constant, e.type))
        if constant == 0:
            return self.code(base)
        sign = "+" if constant > 0 else "-"
        return f"{self.sub(base, ADD)} {sign} {abs(constant)}", ADD

    # ------------------------------------------------------------------ statements
    def block(self, body: tuple[Stmt, ...], depth: int, top: bool = False) -> list[str]:
        lines: list[str] = []
        for i, stmt in enumerate(body):
            last = top and i == len(body) - 1
            if isinstance(stmt, Return) and i < len(body) - 1:
                # Lua only allows `return` as the last statement of a block.
                lines.append(self.indent(depth) + f"do {self.return_(stmt, False)} end")
            else:
                lines.extend(self.statement(stmt, depth, last))
        return lines

    def if_head(self, cond) -> str:
        return f"if {self.expr(cond)} then"

    def elif_head(self, cond) -> str:
        return f"elseif {self.expr(cond)} then"

    def else_head(self) -> str:
        return "else"

    def for_each_head(self, s: ForEach) -> str:
        var = self.name(s.var)
        if s.iterable.type == STR:
            return f'for {var} in {self.receiver(s.iterable)}:gmatch(".") do'
        return f"for _, {var} in {self.glob('ipairs')}({self.expr(s.iterable)}) do"

    def for_range_head(self, s: ForRange) -> str:
        return f"for {self.name(s.var)} = {self.expr(s.start)}, {self.offset(s.stop, -1)[0]} do"

    def let(self, s: Let) -> str:
        return f"local {self.name(s.name)} = {self.expr(s.value)}"

    def assign(self, s) -> str:
        return f"{self.name(s.name)} = {self.expr(s.value)}"

    def aug_assign(self, s: AugAssign) -> str:
        target = self.name(s.name)
        if isinstance(s.value.type, (StrType, CharType)):  # only a string takes a string or a character
            return f"{target} = {target} .. {self.sub(s.value, ADD)}"
        prec = BINARY_PRECEDENCE[s.op]
        return f"{target} = {target} {s.op} {self.sub(s.value, prec + 1)}"

    def push(self, s: Push) -> str:
        target = self.name(s.name)
        return f"{target}[#{target} + 1] = {self.expr(s.value)}"

    def dict_add(self, s: DictAdd) -> str:
        d, key = self.name(s.name), self.expr(s.key)
        return f"{d}[{key}] = ({d}[{key}] or 0) + {self.sub(s.amount, ADD + 1)}"

    def return_(self, s: Return, last: bool) -> str:
        return f"return {self.expr(s.value)}"

    # ------------------------------------------------------------------ expressions
    def receiver(self, e: Expr) -> str:
        """``e`` before ``:method(...)``: Lua needs a prefix expression there (a name, an
        index or a call); anything else, string literals included, is parenthesised."""
        text = self.expr(e)
        return text if isinstance(e, (Var, Index, ToUpper, ToLower)) else f"({text})"

    def e_not(self, e: Not) -> Code:
        if isinstance(e.operand, CharIn):  # `not (string.find(...) ~= nil)` reads better as `== nil`
            return self.char_in(e.operand, "=="), COMPARE
        return "not " + self.sub(e.operand, UNARY), UNARY

    def e_len(self, e: Len) -> Code:
        return "#" + self.sub(e.operand, ATOM), UNARY

    def e_tofloat(self, e: ToFloat) -> Code:
        # Lua 5.4 has one number type with integer and float subtypes; adding 0.0 gives a float.
        return f"{self.sub(e.operand, ADD)} + 0.0", ADD

    def e_index(self, e: Index) -> Code:
        return f"{self.sub(e.items, ATOM)}[{self.offset(e.index, 1)[0]}]", ATOM

    def char_in(self, e: CharIn, cmp: str) -> str:
        return f"{self.glob('string')}.find({self.literal(e.chars, STR)}, {self.expr(e.char)}, 1, true) {cmp} nil"

    def e_charin(self, e: CharIn) -> Code:
        return self.char_in(e, "~="), COMPARE

    def e_toupper(self, e: ToUpper) -> Code:
        return f"{self.receiver(e.operand)}:upper()", ATOM

    def e_tolower(self, e: ToLower) -> Code:
        return f"{self.receiver(e.operand)}:lower()", ATOM

    def e_concat(self, e: Concat) -> Code:
        # `..` binds more loosely than arithmetic and more tightly than comparisons; it is
        # right-associative, but joining strings is associative, so no grouping changes a value.
        return f"{self.sub(e.left, ADD)} .. {self.sub(e.right, ADD)}", ADD
