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
from xpl.problems.family import ir
from xpl.problems.family.render import ATOM, COMPARE, MUL, UNARY, Code, Renderer, c_char_literal, register


@register
class JuliaRenderer(Renderer):
    language = "julia"
    indent_unit = "    "
    operators = {"and": "&&", "or": "||"}
    block_end = "end"
    elif_keyword = "elseif"
    index_origin = 1
    # Functions the rendered code calls: a variable of the same name reaches them through `Base.`.
    shadowable = ("length", "uppercase", "lowercase", "push!", "get", "Float64", "iseven", "isodd")
    global_prefix = "Base."

    def call(self, function: str, *args: str) -> str:
        return f"{self.global_name(function)}({', '.join(args)})"

    def char_literal(self, ch: str) -> str:
        # A Julia `Char` literal holds any Unicode character; only ASCII controls need escapes.
        return f"'{ch}'" if ord(ch) > 0x7F else c_char_literal(ch)

    # ------------------------------------------------------------------ statements
    def for_each_head(self, s: ir.ForEach) -> str:
        return f"for {self.name(s.var)} in {self.expr(s.iterable)}"

    def for_range_head(self, s: ir.ForRange) -> str:
        start, stop = self.code(s.start), self.offset(s.stop, -1)
        # `:` binds more loosely than arithmetic; parentheses make the bounds plain to read.
        bounds = [text if prec >= UNARY else f"({text})" for text, prec in (start, stop)]
        return f"for {self.name(s.var)} in {bounds[0]}:{bounds[1]}"

    def aug_assign(self, s: ir.AugAssign) -> str:
        # `out *= ch` joins a String and a Char (or a String); `x op= e` is `x = x op (e)`.
        op = "*" if isinstance(s.value.type, (StrType, ir.CharType)) else s.op
        return f"{self.name(s.name)} {op}= {self.expr(s.value)}"

    def push(self, s: ir.Push) -> str:
        return self.call("push!", self.name(s.name), self.expr(s.value))

    def dict_get(self, d: str, key: str) -> str:
        return self.call("get", d, key, "0")

    # ------------------------------------------------------------------ expressions
    def e_divisible(self, e: ir.Divisible) -> Code:
        if e.divisor == 2:
            return self.call("isodd" if e.negate else "iseven", self.expr(e.value)), ATOM
        return super().e_divisible(e)

    def e_len(self, e: ir.Len) -> Code:
        return self.call("length", self.expr(e.operand)), ATOM

    def e_tofloat(self, e: ir.ToFloat) -> Code:
        return self.call("Float64", self.expr(e.operand)), ATOM

    def e_charin(self, e: ir.CharIn) -> Code:
        # `in` is a comparison in Julia (same precedence, and it chains like one).
        return f"{self.sub(e.char, COMPARE + 1)} in {self.literal(e.chars, STR)}", COMPARE

    def e_toupper(self, e: ir.ToUpper) -> Code:
        return self.call("uppercase", self.expr(e.operand)), ATOM

    def e_tolower(self, e: ir.ToLower) -> Code:
        return self.call("lowercase", self.expr(e.operand)), ATOM

    def e_concat(self, e: ir.Concat) -> Code:
        return f"{self.sub(e.left, MUL)} * {self.sub(e.right, MUL + 1)}", MUL
