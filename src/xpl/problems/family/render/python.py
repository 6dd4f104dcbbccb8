"""Family IR -> Python 3."""

from __future__ import annotations

from xpl.languages.types import STR
from xpl.problems.family import ir
from xpl.problems.family.render import ADD, ATOM, COMPARE, NOT_WORD, Code, Renderer, register


@register
class PythonRenderer(Renderer):
    language = "python"
    operators = {"and": "and", "or": "or"}
    block_end = ""
    condition_end = else_end = ":"

    def for_each_head(self, s: ir.ForEach) -> str:
        return f"for {self.name(s.var)} in {self.expr(s.iterable)}:"

    def for_range_head(self, s: ir.ForRange) -> str:
        stop = self.expr(s.stop)
        if isinstance(s.start, ir.Lit) and s.start.value == 0:
            return f"for {self.name(s.var)} in range({stop}):"
        return f"for {self.name(s.var)} in range({self.expr(s.start)}, {stop}):"

    def push(self, s: ir.Push) -> str:
        return f"{self.name(s.name)}.append({self.expr(s.value)})"

    def dict_get(self, d: str, key: str) -> str:
        return f"{d}.get({key}, 0)"

    def e_not(self, e: ir.Not) -> Code:
        return "not " + self.sub(e.operand, NOT_WORD), NOT_WORD

    def e_len(self, e: ir.Len) -> Code:
        return f"len({self.expr(e.operand)})", ATOM

    def e_tofloat(self, e: ir.ToFloat) -> Code:
        return f"float({self.expr(e.operand)})", ATOM

    def e_charin(self, e: ir.CharIn) -> Code:
        return f"{self.sub(e.char, ADD)} in {self.literal(e.chars, STR)}", COMPARE

    def e_toupper(self, e: ir.ToUpper) -> Code:
        return f"{self.sub(e.operand, ATOM)}.upper()", ATOM

    def e_tolower(self, e: ir.ToLower) -> Code:
        return f"{self.sub(e.operand, ATOM)}.lower()", ATOM
