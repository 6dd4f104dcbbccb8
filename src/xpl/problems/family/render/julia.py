"""Family IR -> Julia (1.9 and later).

Idioms: untyped locals (the signature is typed, and literals carry their type: ``0``,
``0.0``, ``Int64[]``, ``Dict{String, Int64}()``), ``for x in xs``, ``for ch in s`` (a ``Char``;
character literals are ``'a'``), ``for i in a:b``, ``elseif``, ``ch in "aeiou"``,
``uppercase``/``lowercase`` (on a ``Char`` or a ``String``), ``*`` and ``*=`` to join strings
(``String * Char`` is defined), ``push!``, ``get(d, k, 0)``, ``Float64(x)``, ``length``.

Semantics that differ from the IR and are translated here:

* Arrays are 1-based while the IR's indices are 0-based: ``Index(xs, i)`` is ``xs[i + 1]``
  (constant offsets folded: ``xs[i - 1]`` in the IR is ``xs[i]``), and ``ForRange(i, a, b)``
  keeps ``i`` 0-based (its value may be returned) and runs over ``a:(b - 1)``, which is empty
  when ``b <= a``, as ``range`` is.
* Comparisons chain in Julia (``a < b == c`` is ``a < b && b == c``); the base renderer
  already parenthesises a comparison inside another, so none chains by accident.
* ``%`` is ``rem`` (truncated), which only matters through ``Divisible``, where the sign of
  the remainder does not.
* A variable named like a function the body calls (``length``, ``get``, ...) would shadow it
  inside the function, so such calls go through ``Base.``.

A local assigned inside a loop body is local to that iteration in Julia; the IR's ``Let`` is
block-scoped and always initialises its variable, so that never changes a value.
"""

from __future__ import annotations

from xpl.languages.types import STR, StrType
from xpl.problems.family.ir import (
    AugAssign,
    CharIn,
    CharType,
    Concat,
    DictAdd,
    Divisible,
    Expr,
    ForEach,
    ForRange,
    Function,
    Index,
    Len,
    Let,
    Push,
    Return,
    ToFloat,
    ToLower,
    ToUpper,
    walk_statements,
)
from xpl.problems.family.render import ADD, ATOM, COMPARE, MUL, UNARY, Code, Renderer, register
from xpl.problems.family.render.lua import split_offset

# Functions the rendered code calls; a variable of the same name would shadow them.
_FUNCTIONS = ("length", "uppercase", "lowercase", "push!", "get", "Float64", "iseven", "isodd")

_CHAR_ESCAPES = {"'": "\\'", "\\": "\\\\", "\n": "\\n", "\t": "\\t", "\r": "\\r", "\0": "\\0"}


@register
class JuliaRenderer(Renderer):
    language = "julia"
    indent_unit = "    "
    operators = {"and": "&&", "or": "||"}
    block_end = "end"

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
        spelled = {self.name(n) for n in names}
        self.shadowed = {f for f in _FUNCTIONS if f in spelled}
        return super().body(fn)

    def call(self, function: str, *args: str) -> str:
        qualified = f"Base.{function}" if function in self.shadowed else function
        return f"{qualified}({', '.join(args)})"

    def offset(self, e: Expr, delta: int) -> Code:
        """The int expression ``e + delta``, with constant offsets folded."""
        base, constant = split_offset(e)
        constant += delta
        if base is None:
            return self.lang.render_value(constant, e.type), UNARY if constant < 0 else ATOM
        if constant == 0:
            return self.code(base)
        return f"{self.sub(base, ADD)} {'+' if constant > 0 else '-'} {abs(constant)}", ADD

    def char_literal(self, ch: str) -> str:
        if ch in _CHAR_ESCAPES:
            return f"'{_CHAR_ESCAPES[ch]}'"
        if ord(ch) < 0x20 or ord(ch) == 0x7F:
            return f"'\\x{ord(ch):02x}'"
        return f"'{ch}'"

    # ------------------------------------------------------------------ statements
    def if_head(self, cond) -> str:
        return f"if {self.expr(cond)}"

    def elif_head(self, cond) -> str:
        return f"elseif {self.expr(cond)}"

    def else_head(self) -> str:
        return "else"

    def for_each_head(self, s: ForEach) -> str:
        return f"for {self.name(s.var)} in {self.expr(s.iterable)}"

    def for_range_head(self, s: ForRange) -> str:
        start, stop = self.code(s.start), self.offset(s.stop, -1)
        # `:` binds more loosely than arithmetic; parentheses make the bounds plain to read.
        bounds = [text if prec >= UNARY else f"({text})" for text, prec in (start, stop)]
        return f"for {self.name(s.var)} in {bounds[0]}:{bounds[1]}"

    def let(self, s: Let) -> str:
        return f"{self.name(s.name)} = {self.expr(s.value)}"

    assign = let

    def aug_assign(self, s: AugAssign) -> str:
        # `out *= ch` joins a String and a Char (or a String); `x op= e` is `x = x op (e)`.
        op = "*" if isinstance(s.value.type, (StrType, CharType)) else s.op
        return f"{self.name(s.name)} {op}= {self.expr(s.value)}"

    def push(self, s: Push) -> str:
        return self.call("push!", self.name(s.name), self.expr(s.value))

    def dict_add(self, s: DictAdd) -> str:
        d, key = self.name(s.name), self.expr(s.key)
        return f"{d}[{key}] = {self.call('get', d, key, '0')} + {self.sub(s.amount, ADD + 1)}"

    def return_(self, s: Return, last: bool) -> str:
        return f"return {self.expr(s.value)}"

    # ------------------------------------------------------------------ expressions
    def e_divisible(self, e: Divisible) -> Code:
        if e.divisor == 2:
            return self.call("isodd" if e.negate else "iseven", self.expr(e.value)), ATOM
        return super().e_divisible(e)

    def e_len(self, e: Len) -> Code:
        return self.call("length", self.expr(e.operand)), ATOM

    def e_tofloat(self, e: ToFloat) -> Code:
        return self.call("Float64", self.expr(e.operand)), ATOM

    def e_index(self, e: Index) -> Code:
        return f"{self.sub(e.items, ATOM)}[{self.offset(e.index, 1)[0]}]", ATOM

    def e_charin(self, e: CharIn) -> Code:
        # `in` is a comparison in Julia (same precedence, and it chains like one).
        return f"{self.sub(e.char, COMPARE + 1)} in {self.literal(e.chars, STR)}", COMPARE

    def e_toupper(self, e: ToUpper) -> Code:
        return self.call("uppercase", self.expr(e.operand)), ATOM

    def e_tolower(self, e: ToLower) -> Code:
        return self.call("lowercase", self.expr(e.operand)), ATOM

    def e_concat(self, e: Concat) -> Code:
        return f"{self.sub(e.left, MUL)} * {self.sub(e.right, MUL + 1)}", MUL
