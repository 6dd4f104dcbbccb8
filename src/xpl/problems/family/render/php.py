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
from xpl.problems.family.ir import (
    AugAssign,
    CharIn,
    CharType,
    Concat,
    DictAdd,
    ForEach,
    ForRange,
    Index,
    Len,
    Let,
    Lit,
    Push,
    Stmt,
    ToFloat,
    ToLower,
    ToUpper,
)
from xpl.problems.family.render import ADD, ATOM, COMPARE, UNARY, BraceRenderer, Code, register
from xpl.problems.family.render.javascript import range_plan

CONCAT = (COMPARE + ADD) // 2


@register
class PHPRenderer(BraceRenderer):
    language = "php"
    operators = {"and": "&&", "or": "||", "==": "===", "!=": "!=="}

    def name(self, name: str) -> str:
        return self.lang.variable(name)  # type: ignore[attr-defined]

    # ------------------------------------------------------------------ statements
    def elif_head(self, cond) -> str:
        return f"}} elseif {self.cond(cond)} {{"  # PSR-12: `elseif`, one word

    def statement(self, s: Stmt, depth: int, last: bool = False) -> list[str]:
        if isinstance(s, ForRange):
            return self.counting_loop(s, depth)
        return super().statement(s, depth, last)

    def counting_loop(self, s: ForRange, depth: int) -> list[str]:
        ind, inner = self.indent(depth), self.indent(depth + 1)
        stop_name, counter = range_plan(self.fn, s)  # type: ignore[arg-type]
        lines = []
        stop = self.expr(s.stop)
        if stop_name is not None:
            lines.append(f"{ind}{self.name(stop_name)} = {stop};")
            stop = self.name(stop_name)
        var = self.name(counter if counter is not None else s.var)
        lines.append(f"{ind}for ({var} = {self.expr(s.start)}; {var} < {stop}; {var}++) {{")
        if counter is not None:
            lines.append(f"{inner}{self.name(s.var)} = {var};")
        return lines + self.block(s.body, depth + 1) + self.end_block(depth)

    def for_range_head(self, s: ForRange) -> str:  # counting_loop writes the whole loop
        raise AssertionError("unreachable")

    def for_each_head(self, s: ForEach) -> str:
        items = self.expr(s.iterable)
        if isinstance(s.iterable.type, StrType):
            items = f"mb_str_split({items})"
        return f"foreach ({items} as {self.name(s.var)}) {{"

    def let(self, s: Let) -> str:
        return f"{self.name(s.name)} = {self.expr(s.value)};"

    def aug_assign(self, s: AugAssign) -> str:
        # The IR appends to a string only a string or a character; numbers take numbers.
        op = "." if isinstance(s.value.type, (StrType, CharType)) else s.op
        return f"{self.name(s.name)} {op}= {self.expr(s.value)};"

    def push(self, s: Push) -> str:
        return f"{self.name(s.name)}[] = {self.expr(s.value)};"

    def dict_add(self, s: DictAdd) -> str:
        d, key = self.name(s.name), self.expr(s.key)
        return f"{d}[{key}] = ({d}[{key}] ?? 0) + {self.sub(s.amount, ADD + 1)};"

    # ------------------------------------------------------------------ expressions
    def e_lit(self, e: Lit) -> Code:
        text = self.literal(e.value, e.type)
        # Also -0.0, which the base renderer takes for an atom: `-(-0.0)`, never `--0.0`.
        return text, UNARY if text.startswith("-") else ATOM

    def e_len(self, e: Len) -> Code:
        fn = "strlen" if isinstance(e.operand.type, StrType) else "count"
        return f"{fn}({self.expr(e.operand)})", ATOM

    def e_tofloat(self, e: ToFloat) -> Code:
        return f"(float) {self.sub(e.operand, ATOM)}", UNARY

    def e_index(self, e: Index) -> Code:
        return f"{self.sub(e.items, ATOM)}[{self.expr(e.index)}]", ATOM

    def e_charin(self, e: CharIn) -> Code:
        return f"str_contains({self.literal(e.chars, STR)}, {self.expr(e.char)})", ATOM

    def e_toupper(self, e: ToUpper) -> Code:
        return f"strtoupper({self.expr(e.operand)})", ATOM

    def e_tolower(self, e: ToLower) -> Code:
        return f"strtolower({self.expr(e.operand)})", ATOM

    def e_concat(self, e: Concat) -> Code:
        return f"{self.sub(e.left, CONCAT)} . {self.sub(e.right, CONCAT + 1)}", CONCAT
