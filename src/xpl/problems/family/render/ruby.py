"""Family IR -> Ruby (MRI 3.x).

Idioms: ``xs.each do |x|`` and ``s.each_char do |ch|`` (a character is a one-character
String), ``n.times do |i|``, ``(a..n).each do |i|`` (for ``range(a, n + 1)``) and
``(a...b).each do |i|`` for ranges, ``x.even?`` / ``x.odd?``,
``"aeiou".include?(ch)``, ``counts.fetch(w, 0)``, ``elsif``, and no ``return`` on the
method's last line (its value is the method's value).

Semantics: Integers are arbitrary-precision and the IR's stay within 32 bits; ``%`` is
floored but ``Divisible`` only asks whether it is zero, which is sign-agnostic. Strings grow
with ``out += ch``, which builds a new String, so nothing depends on literals being mutable
(``# frozen_string_literal: true`` would not break it). A ``return`` inside an ``each`` block
returns from the method, as the IR's ``Return`` does.

Names: the prompt lower-cases a capitalised parameter (``N`` -> ``n``, a constant otherwise);
``name`` applies the same mapping to every variable, so the body uses the prompt's names.
"""

from __future__ import annotations

from xpl.languages.types import STR
from xpl.problems.family import ir
from xpl.problems.family.ir import walk_statements
from xpl.problems.family.render import ADD, ATOM, Code, Renderer, register
from xpl.problems.family.render.analysis import inclusive_stop


@register
class RubyRenderer(Renderer):
    language = "ruby"
    indent_unit = "  "
    operators = {"and": "&&", "or": "||"}
    block_end = "end"
    elif_keyword = "elsif"

    def __init__(self) -> None:
        super().__init__()
        self.names: dict[str, str] = {}

    def begin(self, fn: ir.Function) -> None:
        # Parameters are spelled as the prompt spells them (Ruby.parameter lower-cases a
        # capitalised name, which would be a constant); locals follow the same rule, and never
        # take a name that a parameter or another variable already has.
        params = {p.name for p in fn.params}
        self.names = {p: self.lang.parameter(p, params) for p in params}  # type: ignore[attr-defined]
        locals_ = []
        for s in walk_statements(fn.body):
            var = s.name if isinstance(s, ir.Let) else s.var if isinstance(s, (ir.ForEach, ir.ForRange)) else None
            if var is not None and var not in self.names and var not in locals_:
                locals_.append(var)
        taken = params | set(locals_) | set(self.names.values())
        for var in locals_:
            spelled = self.lang.parameter(var, taken)  # type: ignore[attr-defined]
            while spelled in self.names.values():
                spelled += "_"
            self.names[var] = spelled
        super().begin(fn)

    def name(self, name: str) -> str:
        return self.names.get(name) or self.lang.identifier(name)

    # ------------------------------------------------------------------ statements
    def for_each_head(self, s: ir.ForEach) -> str:
        method = "each_char" if s.iterable.type == STR else "each"
        return f"{self.sub(s.iterable, ATOM)}.{method} do |{self.name(s.var)}|"

    def for_range_head(self, s: ir.ForRange) -> str:
        var, stop, last = self.name(s.var), s.stop, inclusive_stop(s.stop)
        if last is not None:
            return f"({self.expr(s.start)}..{self.expr(last)}).each do |{var}|"  # `range(a, n + 1)`
        if isinstance(s.start, ir.Lit) and s.start.value == 0:
            return f"{self.sub(stop, ATOM)}.times do |{var}|"
        return f"({self.expr(s.start)}...{self.expr(stop)}).each do |{var}|"

    # On a String, `+=` (the base aug_assign) builds a new string: no literal is ever mutated.

    def push(self, s: ir.Push) -> str:
        # `<<` binds more loosely than arithmetic, more tightly than comparisons.
        return f"{self.name(s.name)} << {self.sub(s.value, ADD)}"

    def dict_get(self, d: str, key: str) -> str:
        return f"{d}.fetch({key}, 0)"

    def return_(self, s: ir.Return, last: bool) -> str:
        value = self.expr(s.value)
        # The method's last expression is its value; `{` would start a Hash there, but keep
        # `return` before any literal container so no reader has to wonder.
        if last and not (isinstance(s.value, ir.Lit) and isinstance(s.value.value, (list, dict))):
            return value
        return f"return {value}"

    # ------------------------------------------------------------------ expressions
    def e_divisible(self, e: ir.Divisible) -> Code:
        if e.divisor == 2:
            return f"{self.sub(e.value, ATOM)}.{'odd?' if e.negate else 'even?'}", ATOM
        return super().e_divisible(e)

    def e_len(self, e: ir.Len) -> Code:
        return f"{self.sub(e.operand, ATOM)}.length", ATOM

    def e_tofloat(self, e: ir.ToFloat) -> Code:
        return f"{self.sub(e.operand, ATOM)}.to_f", ATOM

    def e_charin(self, e: ir.CharIn) -> Code:
        return f"{self.literal(e.chars, STR)}.include?({self.expr(e.char)})", ATOM

    def e_toupper(self, e: ir.ToUpper) -> Code:
        return f"{self.sub(e.operand, ATOM)}.upcase", ATOM

    def e_tolower(self, e: ir.ToLower) -> Code:
        return f"{self.sub(e.operand, ATOM)}.downcase", ATOM
