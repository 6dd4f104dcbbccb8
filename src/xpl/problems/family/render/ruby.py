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
from xpl.problems.family.ir import (
    AugAssign,
    Bin,
    CharIn,
    Concat,
    DictAdd,
    Divisible,
    ForEach,
    ForRange,
    Function,
    Index,
    Len,
    Let,
    Lit,
    Push,
    Return,
    ToFloat,
    ToLower,
    ToUpper,
    walk_statements,
)
from xpl.problems.family.render import ADD, ATOM, COMPARE, MUL, Code, Renderer, register


@register
class RubyRenderer(Renderer):
    language = "ruby"
    indent_unit = "  "
    operators = {"and": "&&", "or": "||"}
    block_end = "end"

    def __init__(self) -> None:
        super().__init__()
        self.names: dict[str, str] = {}

    def body(self, fn: Function) -> str:
        # Parameters are spelled as the prompt spells them (Ruby.parameter lower-cases a
        # capitalised name, which would be a constant); locals follow the same rule, and never
        # take a name that a parameter or another variable already has.
        params = {p.name for p in fn.params}
        self.names = {p: self.lang.parameter(p, params) for p in params}  # type: ignore[attr-defined]
        locals_ = []
        for s in walk_statements(fn.body):
            var = s.name if isinstance(s, Let) else s.var if isinstance(s, (ForEach, ForRange)) else None
            if var is not None and var not in self.names and var not in locals_:
                locals_.append(var)
        taken = params | set(locals_) | set(self.names.values())
        for var in locals_:
            spelled = self.lang.parameter(var, taken)  # type: ignore[attr-defined]
            while spelled in self.names.values():
                spelled += "_"
            self.names[var] = spelled
        return super().body(fn)

    def name(self, name: str) -> str:
        return self.names.get(name) or self.lang.identifier(name)

    # ------------------------------------------------------------------ statements
    def if_head(self, cond) -> str:
        return f"if {self.expr(cond)}"

    def elif_head(self, cond) -> str:
        return f"elsif {self.expr(cond)}"

    def else_head(self) -> str:
        return "else"

    def for_each_head(self, s: ForEach) -> str:
        method = "each_char" if s.iterable.type == STR else "each"
        return f"{self.sub(s.iterable, ATOM)}.{method} do |{self.name(s.var)}|"

    def for_range_head(self, s: ForRange) -> str:
        var, stop = self.name(s.var), s.stop
        if isinstance(stop, Bin) and stop.op == "+" and isinstance(stop.right, Lit) and stop.right.value == 1:
            return f"({self.expr(s.start)}..{self.expr(stop.left)}).each do |{var}|"  # `range(a, n + 1)`
        if isinstance(s.start, Lit) and s.start.value == 0:
            return f"{self.sub(stop, ATOM)}.times do |{var}|"
        return f"({self.expr(s.start)}...{self.expr(stop)}).each do |{var}|"

    def let(self, s: Let) -> str:
        return f"{self.name(s.name)} = {self.expr(s.value)}"

    assign = let

    def aug_assign(self, s: AugAssign) -> str:
        # On a String, `+=` builds a new string: no literal is ever mutated.
        return f"{self.name(s.name)} {s.op}= {self.expr(s.value)}"

    def push(self, s: Push) -> str:
        # `<<` binds more loosely than arithmetic, more tightly than comparisons.
        return f"{self.name(s.name)} << {self.sub(s.value, ADD)}"

    def dict_add(self, s: DictAdd) -> str:
        d, key = self.name(s.name), self.expr(s.key)
        return f"{d}[{key}] = {d}.fetch({key}, 0) + {self.sub(s.amount, ADD + 1)}"

    def return_(self, s: Return, last: bool) -> str:
        value = self.expr(s.value)
        # The method's last expression is its value; `{` would start a Hash there, but keep
        # `return` before any literal container so no reader has to wonder.
        if last and not (isinstance(s.value, Lit) and isinstance(s.value.value, (list, dict))):
            return value
        return f"return {value}"

    # ------------------------------------------------------------------ expressions
    def e_divisible(self, e: Divisible) -> Code:
        if e.divisor == 2:
            return f"{self.sub(e.value, ATOM)}.{'odd?' if e.negate else 'even?'}", ATOM
        return f"{self.sub(e.value, MUL + 1)} % {e.divisor} {'!=' if e.negate else '=='} 0", COMPARE

    def e_len(self, e: Len) -> Code:
        return f"{self.sub(e.operand, ATOM)}.length", ATOM

    def e_tofloat(self, e: ToFloat) -> Code:
        return f"{self.sub(e.operand, ATOM)}.to_f", ATOM

    def e_index(self, e: Index) -> Code:
        return f"{self.sub(e.items, ATOM)}[{self.expr(e.index)}]", ATOM

    def e_charin(self, e: CharIn) -> Code:
        return f"{self.literal(e.chars, STR)}.include?({self.expr(e.char)})", ATOM

    def e_toupper(self, e: ToUpper) -> Code:
        return f"{self.sub(e.operand, ATOM)}.upcase", ATOM

    def e_tolower(self, e: ToLower) -> Code:
        return f"{self.sub(e.operand, ATOM)}.downcase", ATOM

    def e_concat(self, e: Concat) -> Code:
        return f"{self.sub(e.left, ADD)} + {self.sub(e.right, ADD + 1)}", ADD
