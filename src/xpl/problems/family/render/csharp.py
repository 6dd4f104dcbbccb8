"""Family IR -> C# (as Mono 6.8's ``mcs`` compiles it: C# 7, .NET Framework 4.x libraries).

Ints are ``long``, lists ``List<long>``/``List<double>``/``List<string>`` and the word counts a
``Dictionary<string, long>``. C# specifics: strings compare with ``==``; list indexes are
``int`` (index loops count with ``int``; an index of type ``long`` is cast); ``foreach``
variables are read-only; a string that is only appended to is a ``StringBuilder``; the word
count is updated with ``ContainsKey`` (``GetValueOrDefault`` is not in .NET Framework 4.x);
case conversion is culture-invariant (``ToUpperInvariant``), as the IR's ASCII semantics
require whatever the current culture; ``"aeiou".Contains(ch)`` is LINQ's ``Enumerable.Contains``
(the prompt has ``using System.Linq``).

What C# shares with Java (``int`` counters, the StringBuilder, dead code) is in ``java_like.py``.
"""

from __future__ import annotations

from xpl.languages.types import DictType, ListType, StrType
from xpl.problems.family import ir
from xpl.problems.family.render import ATOM, UNARY, Code, register
from xpl.problems.family.render.analysis import is_unit_step
from xpl.problems.family.render.java_like import JavaLikeRenderer


@register
class CSharpRenderer(JavaLikeRenderer):
    language = "csharp"
    builder_declaration = "var"
    builder_append = "Append"
    builder_text = "ToString()"
    string_length = "Length"
    list_length = "Count"
    char_case = "char.To{0}Invariant({1})"
    string_case = "{1}.To{0}Invariant()"
    char_escape = "\\u{:04x}"

    # ------------------------------------------------------------------ statements
    def statement(self, s: ir.Stmt, depth: int, last: bool = False) -> list[str]:
        if isinstance(s, ir.DictAdd):
            return self.dict_add_lines(s, depth)
        return super().statement(s, depth, last)

    def dict_add_lines(self, s: ir.DictAdd, depth: int) -> list[str]:
        """``if (d.ContainsKey(k)) { d[k] += n; } else { d[k] = n; }``; a key that is not a
        variable or a literal is computed once, into a local of its own (its name unique in the
        function: C# forbids a name in a block that an enclosing or nested block declares)."""
        ind, inner = self.indent(depth), self.indent(depth + 1)
        d, key, amount = self.name(s.name), self.expr(s.key), self.expr(s.amount)
        lines = []
        if not isinstance(s.key, (ir.Var, ir.Lit)):
            temp = self.fresh("key")
            lines.append(f"{ind}string {temp} = {key};")
            key = temp
        step = f"{d}[{key}]++;" if is_unit_step("+", s.amount) else f"{d}[{key}] += {amount};"
        return lines + [
            f"{ind}if ({d}.ContainsKey({key})) {{",
            inner + step,
            f"{ind}}} else {{",
            f"{inner}{d}[{key}] = {amount};",
            f"{ind}}}",
        ]

    def for_each_head(self, s: ir.ForEach) -> str:
        return f"foreach ({self.type_name(s.var_type)} {self.name(s.var)} in {self.expr(s.iterable)}) {{"

    def let(self, s: ir.Let) -> str:
        if isinstance(s.type, (ListType, DictType)) and isinstance(s.value, ir.Lit):
            return f"var {self.name(s.name)} = {self.expr(s.value)};"  # `new List<long>()`, `new List<long> { 1L, 2L }`
        return super().let(s)

    def push(self, s: ir.Push) -> str:
        return f"{self.name(s.name)}.Add({self.expr(s.value)});"

    def dict_add(self, s: ir.DictAdd) -> str:
        raise AssertionError("DictAdd is rendered by dict_add_lines")

    # ------------------------------------------------------------------ expressions
    def e_index(self, e: ir.Index) -> Code:
        index = self.expr(e.index) if self.is_int(e.index) else f"(int) {self.sub(e.index, UNARY)}"
        return f"{self.sub(e.items, ATOM)}[{index}]", ATOM

    def e_charin(self, e: ir.CharIn) -> Code:
        return f"{self.literal(e.chars, StrType())}.Contains({self.expr(e.char)})", ATOM
