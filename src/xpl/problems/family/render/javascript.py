"""Family IR -> JavaScript (Node.js, sloppy-mode CommonJS script).

Numbers are doubles, which the IR's 32-bit integers never leave exactly; ``ToFloat`` therefore
renders as its operand. Dicts are plain objects (``{}``, ``d[k] = (d[k] ?? 0) + n``), as in
every JavaScript program and in the PL module's values: the IR's dict keys are words, never
``__proto__`` or a name ``Object.prototype`` has (``constructor``), which a plain object would
resolve through its prototype. Strings are walked with ``for (const ch of s)`` (ASCII, so one
code unit per character) and compared with ``===``.

Declarations are ``const`` unless the variable is assigned again (``analysis.reassigned_names``:
pushing to a ``const`` array or adding to a ``const`` object is not an assignment). ``range`` is
the counting loop ``for (let i = a; i < b; i++)`` (``BraceRenderer.counting_loop_head``).
TypeScript (``typescript.py``) is this renderer plus type annotations where inference needs them.
"""

from __future__ import annotations

from xpl.languages.types import STR, Type
from xpl.problems.family import ir
from xpl.problems.family.render import ATOM, BraceRenderer, Code, register
from xpl.problems.family.render.analysis import reassigned_names


@register
class JavaScriptRenderer(BraceRenderer):
    language = "javascript"
    indent_unit = "  "
    operators = {"and": "&&", "or": "||", "==": "===", "!=": "!=="}

    # ------------------------------------------------------------------ declarations
    def begin(self, fn: ir.Function) -> None:
        super().begin(fn)
        # Only a reassignment needs `let`: pushing to a const array or adding to a const object is fine.
        self.reassigned = reassigned_names(fn.body)

    def declaration_keyword(self, name: str) -> str:
        return "let" if name in self.reassigned else "const"

    def declared(self, name: str, typ: Type, value: ir.Expr, keyword: str) -> str:
        """The name as written after ``let``/``const`` (TypeScript adds a type annotation)."""
        return self.name(name)

    # ------------------------------------------------------------------ statements
    def for_each_head(self, s: ir.ForEach) -> str:
        keyword = self.declaration_keyword(s.var)
        return f"for ({keyword} {self.name(s.var)} of {self.expr(s.iterable)}) {{"

    def for_range_head(self, s: ir.ForRange) -> str:
        return self.counting_loop_head(s, "let ")

    def let(self, s: ir.Let) -> str:
        keyword = self.declaration_keyword(s.name)
        return f"{keyword} {self.declared(s.name, s.type, s.value, keyword)} = {self.expr(s.value)};"

    def push(self, s: ir.Push) -> str:
        return f"{self.name(s.name)}.push({self.expr(s.value)});"

    def dict_get(self, d: str, key: str) -> str:
        return f"({d}[{key}] ?? 0)"

    # ------------------------------------------------------------------ expressions
    def e_len(self, e: ir.Len) -> Code:
        return f"{self.sub(e.operand, ATOM)}.length", ATOM

    def e_tofloat(self, e: ir.ToFloat) -> Code:
        return self.code(e.operand)  # an int is already a number

    def e_charin(self, e: ir.CharIn) -> Code:
        return f"{self.literal(e.chars, STR)}.includes({self.expr(e.char)})", ATOM

    def e_toupper(self, e: ir.ToUpper) -> Code:
        return f"{self.sub(e.operand, ATOM)}.toUpperCase()", ATOM

    def e_tolower(self, e: ir.ToLower) -> Code:
        return f"{self.sub(e.operand, ATOM)}.toLowerCase()", ATOM
