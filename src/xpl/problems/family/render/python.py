"""Family IR -> Python 3."""

from __future__ import annotations

from xpl.languages.types import STR
from xpl.problems.family.ir import (
    AugAssign,
    CharIn,
    Concat,
    DictAdd,
    ForEach,
    ForRange,
    Index,
    Len,
    Let,
    Lit,
    Not,
    Push,
    Return,
    ToFloat,
    ToLower,
    ToUpper,
)
from xpl.problems.family.render import ADD, ATOM, COMPARE, NOT_WORD, Code, Renderer, register


@register
class PythonRenderer(Renderer):
    language = "python"
    operators = {"and": "and", "or": "or"}
    block_end = ""

    def if_head(self, cond) -> str:
        return f"if {self.expr(cond)}:"

    def elif_head(self, cond) -> str:
        return f"elif {self.expr(cond)}:"

    def else_head(self) -> str:
        return "else:"

    def for_each_head(self, s: ForEach) -> str:
        return f"for {self.name(s.var)} in {self.expr(s.iterable)}:"

    def for_range_head(self, s: ForRange) -> str:
        stop = self.expr(s.stop)
        if isinstance(s.start, Lit) and s.start.value == 0:
            return f"for {self.name(s.var)} in range({stop}):"
        return f"for {self.name(s.var)} in range({self.expr(s.start)}, {stop}):"

    def let(self, s: Let) -> str:
        return f"{self.name(s.name)} = {self.expr(s.value)}"

    assign = let  # Python does not tell a declaration from an assignment

    def aug_assign(self, s: AugAssign) -> str:
        return f"{self.name(s.name)} {s.op}= {self.expr(s.value)}"

    def push(self, s: Push) -> str:
        return f"{self.name(s.name)}.append({self.expr(s.value)})"

    def dict_add(self, s: DictAdd) -> str:
        d, key = self.name(s.name), self.expr(s.key)
        return f"{d}[{key}] = {d}.get({key}, 0) + {self.sub(s.amount, ADD + 1)}"

    def return_(self, s: Return, last: bool) -> str:
        return f"return {self.expr(s.value)}"

    def e_not(self, e: Not) -> Code:
        return "not " + self.sub(e.operand, NOT_WORD), NOT_WORD

    def e_len(self, e: Len) -> Code:
        return f"len({self.expr(e.operand)})", ATOM

    def e_tofloat(self, e: ToFloat) -> Code:
        return f"float({self.expr(e.operand)})", ATOM

    def e_index(self, e: Index) -> Code:
        return f"{self.sub(e.items, ATOM)}[{self.expr(e.index)}]", ATOM

    def e_charin(self, e: CharIn) -> Code:
        return f"{self.sub(e.char, ADD)} in {self.literal(e.chars, STR)}", COMPARE

    def e_toupper(self, e: ToUpper) -> Code:
        return f"{self.sub(e.operand, ATOM)}.upper()", ATOM

    def e_tolower(self, e: ToLower) -> Code:
        return f"{self.sub(e.operand, ATOM)}.lower()", ATOM

    def e_concat(self, e: Concat) -> Code:
        return f"{self.sub(e.left, ADD)} + {self.sub(e.right, ADD + 1)}", ADD
