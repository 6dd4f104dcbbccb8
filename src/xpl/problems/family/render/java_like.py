"""What the Java and C# renderers share (``java.py``, ``csharp.py``).

Both PLs type ints as ``long`` while list indexes and sizes are ``int``, so an index loop counts
with an ``int`` where its start is one (``is_int``), and a ``long`` index is cast. A local
string that is only ever appended to (``analysis.append_only_strings``) is a ``StringBuilder``:
declared, appended to, measured and read (``toString()``) through it. Statements after a
``return`` are left out (Java rejects them as unreachable). An int literal that does not fit in
an ``int`` takes an ``L`` suffix. The subclasses set how their PL spells each of these.
"""

from __future__ import annotations

from typing import ClassVar

from xpl.languages.types import IntType, StrType
from xpl.problems.family import ir
from xpl.problems.family.render import ATOM, UNARY, BraceRenderer, Code, c_char_literal
from xpl.problems.family.render.analysis import append_only_strings, is_empty_literal, is_unit_step

INT32_MAX = 2**31 - 1


class JavaLikeRenderer(BraceRenderer):
    drop_dead_code = True
    # How the PL spells a StringBuilder's declaration type, `append` and conversion to a string.
    builder_declaration: ClassVar[str]
    builder_append: ClassVar[str]
    builder_text: ClassVar[str]
    # The length of a string (or a StringBuilder) and the size of a list.
    string_length: ClassVar[str]
    list_length: ClassVar[str]
    # Case conversion of a character and of a string: templates of ("Upper" or "Lower", operand).
    char_case: ClassVar[str]
    string_case: ClassVar[str]
    # A character outside printable ASCII, in a character literal, from its code point.
    char_escape: ClassVar[str]

    def __init__(self) -> None:
        super().__init__()
        self.builders: set[str] = set()  # strings that are only appended to
        self.int_vars: set[str] = set()  # index loop counters declared `int` (in scope)

    def begin(self, fn: ir.Function) -> None:
        super().begin(fn)
        self.builders = append_only_strings(fn)
        self.int_vars = set()

    # ------------------------------------------------------------------ statements
    def statement(self, s: ir.Stmt, depth: int, last: bool = False) -> list[str]:
        if isinstance(s, ir.ForRange) and self.is_int(s.start):
            # The counter is an `int` in the loop's body (a loop variable never shadows another
            # variable: the IR refuses it).
            self.int_vars.add(s.var)
            lines = super().statement(s, depth, last)
            self.int_vars.discard(s.var)
            return lines
        return super().statement(s, depth, last)

    def for_range_head(self, s: ir.ForRange) -> str:
        return self.counting_loop_head(s, "int " if self.is_int(s.start) else "long ")

    def let(self, s: ir.Let) -> str:
        name = self.name(s.name)
        if s.name in self.builders:
            initial = "" if is_empty_literal(s.value) else self.expr(s.value)
            return f"{self.builder_declaration} {name} = new StringBuilder({initial});"
        return f"{self.type_name(s.type)} {name} = {self.expr(s.value)};"

    def aug_assign(self, s: ir.AugAssign) -> str:
        name = self.name(s.name)
        if s.name in self.builders:
            return f"{name}.{self.builder_append}({self.expr(s.value)});"
        if is_unit_step(s.op, s.value):
            return f"{name}{s.op}{s.op};"
        return super().aug_assign(s)  # on a string, += appends a char or a string

    # ------------------------------------------------------------------ types
    def is_int(self, e: ir.Expr) -> bool:
        """Whether the PL types the int expression ``e`` ``int`` (a ``long`` cannot index a list)."""
        if isinstance(e, ir.Var):
            return e.name in self.int_vars
        if isinstance(e, ir.Lit):
            return isinstance(e.type, IntType) and abs(e.value) <= INT32_MAX
        if isinstance(e, ir.Bin) and isinstance(e.type, IntType):
            return self.is_int(e.left) and self.is_int(e.right)
        if isinstance(e, ir.Neg):
            return self.is_int(e.operand)
        return isinstance(e, ir.Len)

    # ------------------------------------------------------------------ expressions
    def e_var(self, e: ir.Var) -> Code:
        name = self.name(e.name)
        return (f"{name}.{self.builder_text}" if e.name in self.builders else name), ATOM

    def e_lit(self, e: ir.Lit) -> Code:
        if isinstance(e.type, IntType):
            text = str(e.value) if abs(e.value) <= INT32_MAX else f"{e.value}L"
            return text, UNARY if e.value < 0 else ATOM
        return super().e_lit(e)

    def char_literal(self, ch: str) -> str:
        return c_char_literal(ch, self.char_escape)

    def e_len(self, e: ir.Len) -> Code:
        seq = e.operand
        if isinstance(seq, ir.Var) and seq.name in self.builders:
            return f"{self.name(seq.name)}.{self.string_length}", ATOM
        length = self.string_length if isinstance(seq.type, StrType) else self.list_length
        return f"{self.sub(seq, ATOM)}.{length}", ATOM

    def e_toupper(self, e: ir.ToUpper) -> Code:
        return self.case(e.operand, "Upper")

    def e_tolower(self, e: ir.ToLower) -> Code:
        return self.case(e.operand, "Lower")

    def case(self, operand: ir.Expr, which: str) -> Code:
        if isinstance(operand.type, ir.CharType):
            return self.char_case.format(which, self.expr(operand)), ATOM
        return self.string_case.format(which, self.sub(operand, ATOM)), ATOM
