"""Family IR -> C++17 (MultiPL-E's types: ``long``, ``double``, ``std::string``, ``std::vector``,
``std::map``).

Sizes are unsigned, so ``size()`` is always cast first (``(long) xs.size()``: ``xs.size() - 1``
would wrap around, ``xs.size() > -1`` would be false). ``std::toupper`` returns an ``int``, so a
character is cast back (``(char) std::toupper(ch)``, else ``out += ...`` or a push would see a
number); strings are converted by small lambdas declared at the top of the body, because the
standard library has no one-call string case conversion. String constants stay ``"..."``
literals next to a ``std::string`` operand (``s == "abc"``, ``s + "!"``, ``out += "-"``) and
become ``std::string("...")`` where they would otherwise meet another literal. Dict counts use
``std::map::operator[]``, which starts a missing key at 0.
"""

from __future__ import annotations

from xpl.languages.types import DictType, ListType, StrType
from xpl.problems.family import ir
from xpl.problems.family.render import ADD, ATOM, COMPARE, UNARY, BraceRenderer, Code, c_char_literal, register
from xpl.problems.family.render.analysis import is_empty_literal

# String case conversion, declared at the top of a body that needs it.
_CASE_HELPER = (
    "auto {name} = [](std::string text) {{",
    "    for (char& c : text) c = (char) std::{fn}(c);",
    "    return text;",
    "}};",
)


@register
class CppRenderer(BraceRenderer):
    language = "cpp"

    def begin(self, fn: ir.Function) -> None:
        super().begin(fn)
        self.helpers = {"toupper": self.fresh("to_upper"), "tolower": self.fresh("to_lower")}
        self.used_helpers: set[str] = set()

    @staticmethod
    def fresh_variant(base: str, k: int) -> str:
        return base + "_" * (k - 1)  # to_upper_, to_upper__, ...

    def body(self, fn: ir.Function) -> str:
        text = super().body(fn)
        head = "".join(
            self.indent(0) + line.format(name=self.helpers[f], fn=f) + "\n"
            for f in ("toupper", "tolower")
            if f in self.used_helpers
            for line in _CASE_HELPER
        )
        return head + text

    # ------------------------------------------------------------------ statements
    def for_range_head(self, s: ir.ForRange) -> str:
        return self.counting_loop_head(s, "long ", inclusive=True)  # i < n + 1 is i <= n

    def for_each_head(self, s: ir.ForEach) -> str:
        var, items = self.name(s.var), self.expr(s.iterable)
        t = s.var_type
        if isinstance(t, ir.CharType):
            return f"for (char {var} : {items}) {{"
        if isinstance(t, StrType):  # never assigned in the loop (the IR refuses it): no copy
            return f"for (const std::string& {var} : {items}) {{"
        return f"for ({self.lang.render_type(t)} {var} : {items}) {{"

    def let(self, s: ir.Let) -> str:
        decl = f"{self.type_name(s.type)} {self.name(s.name)}"
        v = s.value
        if isinstance(v, ir.Lit) and isinstance(s.type, (StrType, ListType, DictType)):
            if is_empty_literal(v):
                return decl + ";"  # empty string, vector or map
            if isinstance(s.type, StrType):
                return f"{decl} = {self.bare(v.value)};"
            if isinstance(s.type, ListType):
                return f"{decl} = {{{', '.join(self.literal(x, s.type.elem) for x in v.value)}}};"
        return f"{decl} = {self.expr(v)};"

    def aug_assign(self, s: ir.AugAssign) -> str:
        if isinstance(s.value, ir.Lit) and isinstance(s.value.type, StrType):
            return f"{self.name(s.name)} += {self.bare(s.value.value)};"
        return super().aug_assign(s)

    def push(self, s: ir.Push) -> str:
        return f"{self.name(s.name)}.push_back({self.expr(s.value)});"

    def dict_add(self, s: ir.DictAdd) -> str:
        key = self.str_operand(s.key, None)
        return f"{self.name(s.name)}[{key}] += {self.expr(s.amount)};"

    # ------------------------------------------------------------------ expressions
    def bare(self, value: str) -> str:
        """A string constant as a ``"..."`` literal (``render_value`` wraps it in ``std::string``)."""
        text = self.lang.render_value(value, StrType())
        if text.startswith("std::string(") and text.endswith(")") and "\0" not in value:
            return text[len("std::string(") : -1]
        return text

    def str_operand(self, e: ir.Expr, other: ir.Expr | None, minimum: int = 0) -> str:
        """A string operand: a literal stays bare unless the other operand is a literal too
        (the left one of two literals becomes a std::string, so the operator is std::string's)."""
        if isinstance(e, ir.Lit) and not isinstance(other, ir.Lit):
            return self.bare(e.value)
        return self.sub(e, minimum)

    def char_literal(self, ch: str) -> str:
        return c_char_literal(ch)

    def e_bin(self, e: ir.Bin) -> Code:
        if (
            isinstance(e.left, ir.Len)
            and isinstance(e.right, ir.Lit)
            and e.right.value == 0
            and e.op in ("==", "!=", ">")
        ):
            empty = f"{self.sub(e.left.operand, ATOM)}.empty()"
            return (empty, ATOM) if e.op == "==" else ("!" + empty, UNARY)
        if e.op in ("==", "!=") and isinstance(e.left.type, StrType):
            # `"a" == "b"` would compare pointers: a literal is bare only next to a std::string.
            left = self.str_operand(e.left, e.right, COMPARE + 1)
            right = self.str_operand(e.right, None, COMPARE + 1)
            return f"{left} {e.op} {right}", COMPARE
        return super().e_bin(e)

    def e_not(self, e: ir.Not) -> Code:
        if isinstance(e.operand, ir.CharIn):
            return self.char_in(e.operand, "==")
        return super().e_not(e)

    def e_len(self, e: ir.Len) -> Code:
        return f"(long) {self.sub(e.operand, ATOM)}.size()", UNARY

    def e_tofloat(self, e: ir.ToFloat) -> Code:
        if isinstance(e.operand, ir.Len):
            return f"(double) {self.sub(e.operand.operand, ATOM)}.size()", UNARY
        return super().e_tofloat(e)

    def e_charin(self, e: ir.CharIn) -> Code:
        return self.char_in(e, "!=")

    def char_in(self, e: ir.CharIn, op: str) -> Code:
        chars = self.lang.render_value(e.chars, StrType())
        return f"{chars}.find({self.expr(e.char)}) {op} std::string::npos", COMPARE

    def case(self, operand: ir.Expr, fn: str) -> Code:
        if isinstance(operand.type, ir.CharType):
            return f"(char) std::{fn}({self.expr(operand)})", UNARY
        self.used_helpers.add(fn)
        return f"{self.helpers[fn]}({self.expr(operand)})", ATOM

    def e_toupper(self, e: ir.ToUpper) -> Code:
        return self.case(e.operand, "toupper")

    def e_tolower(self, e: ir.ToLower) -> Code:
        return self.case(e.operand, "tolower")

    def e_concat(self, e: ir.Concat) -> Code:
        return f"{self.str_operand(e.left, e.right, ADD)} + {self.str_operand(e.right, None, ADD + 1)}", ADD
