"""Family IR -> TypeScript: the JavaScript rendering plus type annotations where inference
would not give the declared type.

tsc infers ``number``, ``string`` and ``boolean`` from an initial value, so most declarations
stay bare, as a TypeScript programmer writes them. Two kinds need the type spelled out:

* empty containers (``const out: number[] = [];``, ``const counts: {[key: string]: number} = {};``),
  whose inferred type (``any[]``, ``{}``) would not say what they hold;
* a ``const`` initialised with a literal, whose inferred type is the literal itself
  (``const k = 3`` has type ``3``, so ``k === 4`` would be the compile error TS2367).

For the same reason two literals compared with each other (``"x" !== "y"``) are TS2367: the
left one is widened with ``as``.
"""

from __future__ import annotations

from xpl.languages.types import DictType, ListType, Type
from xpl.problems.family import ir
from xpl.problems.family.render import COMPARE, Code, register
from xpl.problems.family.render.javascript import JavaScriptRenderer


@register
class TypeScriptRenderer(JavaScriptRenderer):
    language = "typescript"

    def declared(self, name: str, typ: Type, value: ir.Expr, keyword: str) -> str:
        container = isinstance(typ, (ListType, DictType))
        if isinstance(value, ir.Lit) and (container or keyword == "const"):
            # A character is a one-character string in TypeScript (CHAR is not a signature type).
            spelled = "string" if isinstance(typ, ir.CharType) else self.lang.render_type(typ)
            return f"{self.name(name)}: {spelled}"
        return self.name(name)

    def e_bin(self, e: ir.Bin) -> Code:
        if e.op in ("==", "!=") and isinstance(e.left, ir.Lit) and isinstance(e.right, ir.Lit):
            widened = "string" if isinstance(e.left.type, ir.CharType) else self.lang.render_type(e.left.type)
            left = f"({self.expr(e.left)} as {widened})"
            return f"{left} {self.op(e.op)} {self.sub(e.right, COMPARE + 1)}", COMPARE
        return super().e_bin(e)
