"""Family IR -> TypeScript: the JavaScript rendering plus type annotations where inference
would not give the declared type.

tsc infers ``number``, ``string`` and ``boolean`` from an initial value, so most declarations
stay bare, as a TypeScript programmer writes them. Two kinds need the type spelled out:

* empty containers (``const out: number[] = [];``, ``const counts: {[key: string]: number} = {};``),
  whose inferred type (``any[]``, ``{}``) would not say what they hold;
* a ``const`` initialised with a literal, whose inferred type is the literal itself
  (``const k = 3`` has type ``3``, so ``k === 4`` would be the compile error TS2367).
"""

from __future__ import annotations

from xpl.languages.types import DictType, ListType, Type
from xpl.problems.family import ir
from xpl.problems.family.render import register
from xpl.problems.family.render.javascript import JavaScriptRenderer


@register
class TypeScriptRenderer(JavaScriptRenderer):
    language = "typescript"

    def declared(self, name: str, typ: Type, value: ir.Expr, keyword: str) -> str:
        container = isinstance(typ, (ListType, DictType))
        if isinstance(value, ir.Lit) and (container or keyword == "const"):
            return f"{self.name(name)}: {self.lang.render_type(typ)}"
        return self.name(name)
