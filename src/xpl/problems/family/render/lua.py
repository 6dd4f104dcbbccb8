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
from xpl.problems.family import ir
from xpl.problems.family.render import ADD, ATOM, BINARY_PRECEDENCE, COMPARE, UNARY, Code, Renderer, register


@register
class LuaRenderer(Renderer):
    language = "lua"
    indent_unit = "    "
    operators = {"and": "and", "or": "or", "!=": "~="}
    block_end = "end"
    closing = "end\n"
    elif_keyword = "elseif"
    condition_end = " then"
    index_origin = 1
    # Globals the rendered code calls: a variable of the same name reaches them through `_G`.
    shadowable = ("ipairs", "string")
    global_prefix = "_G."

    # ------------------------------------------------------------------ statements
    def block(self, body: tuple[ir.Stmt, ...], depth: int, top: bool = False) -> list[str]:
        lines: list[str] = []
        for i, stmt in enumerate(body):
            last = top and i == len(body) - 1
            if isinstance(stmt, ir.Return) and i < len(body) - 1:
                # Lua only allows `return` as the last statement of a block.
                lines.append(self.indent(depth) + f"do {self.return_(stmt, False)} end")
            else:
                lines.extend(self.statement(stmt, depth, last))
        return lines

    def for_each_head(self, s: ir.ForEach) -> str:
        var = self.name(s.var)
        if s.iterable.type == STR:
            return f'for {var} in {self.receiver(s.iterable)}:gmatch(".") do'
        return f"for _, {var} in {self.global_name('ipairs')}({self.expr(s.iterable)}) do"

    def for_range_head(self, s: ir.ForRange) -> str:
        return f"for {self.name(s.var)} = {self.expr(s.start)}, {self.offset(s.stop, -1)[0]} do"

    def let(self, s: ir.Let) -> str:
        return f"local {self.name(s.name)} = {self.expr(s.value)}"

    def aug_assign(self, s: ir.AugAssign) -> str:
        target = self.name(s.name)
        if isinstance(s.value.type, (StrType, ir.CharType)):  # only a string takes a string or a character
            return f"{target} = {target} .. {self.sub(s.value, ADD)}"
        prec = BINARY_PRECEDENCE[s.op]
        return f"{target} = {target} {s.op} {self.sub(s.value, prec + 1)}"

    def push(self, s: ir.Push) -> str:
        target = self.name(s.name)
        return f"{target}[#{target} + 1] = {self.expr(s.value)}"

    def dict_get(self, d: str, key: str) -> str:
        return f"({d}[{key}] or 0)"

    # ------------------------------------------------------------------ expressions
    def receiver(self, e: ir.Expr) -> str:
        """``e`` before ``:method(...)``: Lua needs a prefix expression there (a name, an
        index or a call); anything else, string literals included, is parenthesised."""
        text = self.expr(e)
        return text if isinstance(e, (ir.Var, ir.Index, ir.ToUpper, ir.ToLower)) else f"({text})"

    def e_not(self, e: ir.Not) -> Code:
        if isinstance(e.operand, ir.CharIn):  # `not (string.find(...) ~= nil)` reads better as `== nil`
            return self.char_in(e.operand, "=="), COMPARE
        return "not " + self.sub(e.operand, UNARY), UNARY

    def e_len(self, e: ir.Len) -> Code:
        return "#" + self.sub(e.operand, ATOM), UNARY

    def e_tofloat(self, e: ir.ToFloat) -> Code:
        # Lua 5.4 has one number type with integer and float subtypes; adding 0.0 gives a float.
        return f"{self.sub(e.operand, ADD)} + 0.0", ADD

    def char_in(self, e: ir.CharIn, cmp: str) -> str:
        find = self.global_name("string") + ".find"
        return f"{find}({self.literal(e.chars, STR)}, {self.expr(e.char)}, 1, true) {cmp} nil"

    def e_charin(self, e: ir.CharIn) -> Code:
        return self.char_in(e, "~="), COMPARE

    def e_toupper(self, e: ir.ToUpper) -> Code:
        return f"{self.receiver(e.operand)}:upper()", ATOM

    def e_tolower(self, e: ir.ToLower) -> Code:
        return f"{self.receiver(e.operand)}:lower()", ATOM

    def e_concat(self, e: ir.Concat) -> Code:
        # `..` binds more loosely than arithmetic and more tightly than comparisons; it is
        # right-associative, but joining strings is associative, so no grouping changes a value.
        return f"{self.sub(e.left, ADD)} .. {self.sub(e.right, ADD)}", ADD
