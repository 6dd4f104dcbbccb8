"""Family IR -> PHP 8.

Variables are ``$name`` (spelled by the PL module's ``variable``, as the prompt spells the
parameters). Lists and the ``dict[str, int]`` are arrays: ``$out[] = $x`` appends,
``$d[$k] = ($d[$k] ?? 0) + $n`` counts. The IR's dict keys are words; a decimal string key
(``"7"``) would become the int key ``7`` in a PHP array, which none of them is.

Strings: ``strlen`` (``count`` is for arrays), ``.`` and ``.=``, ``strtoupper``/``strtolower``
(ASCII only since PHP 8.2, and the IR's strings are ASCII), ``str_contains`` for a character
in a constant string, and ``foreach (mb_str_split($s) as $ch)`` to walk the characters:
``mb_str_split("")`` is ``[]`` on every PHP 8, where ``str_split("")`` is ``[""]`` before 8.2
(the PL module requires mbstring, so it is always there). Comparisons are strict (``===``),
so ints, floats and strings are never juggled; ``&&``/``||``, never PHP's low-precedence
``and``/``or``.

Precedence: PHP 8 binds ``.`` more loosely than ``+``/``-`` and more tightly than the
comparisons, which ``CONCAT`` places between them; a cast (``(float) $n``) binds like a
unary operator.
"""

from __future__ import annotations

from xpl.languages.types import STR, StrType
from xpl.problems.family import ir
from xpl.problems.family.render import ADD, ATOM, COMPARE, UNARY, BraceRenderer, Code, register

CONCAT = (COMPARE + ADD) // 2


@register
class PHPRenderer(BraceRenderer):
    language = "php"
    operators = {"and": "&&", "or": "||", "==": "===", "!=": "!=="}
    elif_keyword = "elseif"  # PSR-12: one word

    def name(self, name: str) -> str:
        return self.lang.variable(name)  # type: ignore[attr-defined]

    # ------------------------------------------------------------------ statements
    def for_range_head(self, s: ir.ForRange) -> str:
        return self.counting_loop_head(s, "")

    def for_each_head(self, s: ir.ForEach) -> str:
        items = self.expr(s.iterable)
        if isinstance(s.iterable.type, StrType):
            items = f"mb_str_split({items})"
        return f"foreach ({items} as {self.name(s.var)}) {{"

    def let(self, s: ir.Let) -> str:
        return f"{self.name(s.name)} = {self.expr(s.value)};"

    def aug_assign(self, s: ir.AugAssign) -> str:
        # The IR appends to a string only a string or a character; numbers take numbers.
        op = "." if isinstance(s.value.type, (StrType, ir.CharType)) else s.op
        return f"{self.name(s.name)} {op}= {self.expr(s.value)};"

    def push(self, s: ir.Push) -> str:
        return f"{self.name(s.name)}[] = {self.expr(s.value)};"

    def dict_get(self, d: str, key: str) -> str:
        return f"({d}[{key}] ?? 0)"

    # ------------------------------------------------------------------ expressions
    def e_len(self, e: ir.Len) -> Code:
        fn = "strlen" if isinstance(e.operand.type, StrType) else "count"
        return f"{fn}({self.expr(e.operand)})", ATOM

    def e_tofloat(self, e: ir.ToFloat) -> Code:
        return f"(float) {self.sub(e.operand, ATOM)}", UNARY

    def e_charin(self, e: ir.CharIn) -> Code:
        return f"str_contains({self.literal(e.chars, STR)}, {self.expr(e.char)})", ATOM

    def e_toupper(self, e: ir.ToUpper) -> Code:
        return f"strtoupper({self.expr(e.operand)})", ATOM

    def e_tolower(self, e: ir.ToLower) -> Code:
        return f"strtolower({self.expr(e.operand)})", ATOM

    def e_concat(self, e: ir.Concat) -> Code:
        return f"{self.sub(e.left, CONCAT)} . {self.sub(e.right, CONCAT + 1)}", CONCAT
