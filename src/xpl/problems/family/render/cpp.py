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

from typing import Any

from xpl.languages.types import INT, DictType, ListType, StrType, Type
from xpl.problems.family.ir import (
    Assign,
    AugAssign,
    Bin,
    CharIn,
    CharType,
    Concat,
    DictAdd,
    Expr,
    ForEach,
    ForRange,
    Function,
    Index,
    Len,
    Let,
    Lit,
    Not,
    Push,
    Stmt,
    ToFloat,
    ToLower,
    ToUpper,
    Var,
    walk_statements,
)
from xpl.problems.family.render import ADD, ATOM, COMPARE, UNARY, BraceRenderer, Code, register

# String case conversion, declared at the top of a body that needs it.
_CASE_HELPER = (
    "auto {name} = [](std::string text) {{",
    "    for (char& c : text) c = (char) std::{fn}(c);",
    "    return text;",
    "}};",
)


def _names(e: Any) -> set[str]:
    """The variables an expression reads."""
    if isinstance(e, Var):
        return {e.name}
    found: set[str] = set()
    for value in vars(e).values():
        if hasattr(value, "type") and not isinstance(value, Type):
            found |= _names(value)
    return found


def _assigned(body: tuple[Stmt, ...]) -> set[str]:
    return {s.name for s in walk_statements(body) if isinstance(s, (Assign, AugAssign, Push, DictAdd))}


@register
class CppRenderer(BraceRenderer):
    language = "cpp"

    def body(self, fn: Function) -> str:
        # Every name the function uses, so that the names the renderer adds never clash.
        self.taken = {p.name for p in fn.params} | {
            n for s in walk_statements(fn.body) for n in (getattr(s, "name", None), getattr(s, "var", None)) if n
        }
        self.helpers = {"toupper": self.fresh("to_upper"), "tolower": self.fresh("to_lower")}
        self.used_helpers: set[str] = set()
        self.loop_count = 0
        text = super().body(fn)
        head = "".join(
            self.indent(0) + line.format(name=self.helpers[f], fn=f) + "\n"
            for f in ("toupper", "tolower")
            if f in self.used_helpers
            for line in _CASE_HELPER
        )
        return head + text

    # ------------------------------------------------------------------ statements
    def statement(self, s: Stmt, depth: int, last: bool = False) -> list[str]:
        if isinstance(s, ForRange):
            return self.for_range(s, depth)
        return super().statement(s, depth, last)

    def for_range(self, s: ForRange, depth: int) -> list[str]:
        """``for (long i = a; i < b; i++)``, exact to ``range(a, b)``: the bound is computed once
        when the body changes what it reads, and a body that assigns the loop variable gets a
        copy of it (the next iteration still takes the next value)."""
        ind, var = self.indent(depth), self.name(s.var)
        assigned = _assigned(s.body)
        before: list[str] = []
        stop = self.expr(s.stop)
        if _names(s.stop) & assigned:
            self.loop_count += 1
            end = self.fresh(f"end{self.loop_count}")
            before = [f"{ind}const long {end} = {stop};"]
            stop = end
        counter, copy = var, []
        if s.var in assigned:
            counter = self.fresh(s.var + "_index")
            copy = [f"{self.indent(depth + 1)}long {var} = {counter};"]
        cmp = "<"
        if not before and isinstance(s.stop, Bin) and s.stop.op == "+" and s.stop.right == Lit(1, INT):
            cmp, stop = "<=", self.expr(s.stop.left)  # i < n + 1 is i <= n
        head = f"for (long {counter} = {self.expr(s.start)}; {counter} {cmp} {stop}; {counter}++) {{"
        return [*before, ind + head, *copy, *self.block(s.body, depth + 1), *self.end_block(depth)]

    def fresh(self, name: str) -> str:
        while name in self.taken or name in self.lang.reserved_words:
            name += "_"
        self.taken.add(name)
        return name

    def for_each_head(self, s: ForEach) -> str:
        var, items = self.name(s.var), self.expr(s.iterable)
        t = s.var_type
        if isinstance(t, CharType):
            return f"for (char {var} : {items}) {{"
        if isinstance(t, StrType) and s.var not in _assigned(s.body):
            return f"for (const std::string& {var} : {items}) {{"
        return f"for ({self.lang.render_type(t)} {var} : {items}) {{"

    def let(self, s: Let) -> str:
        decl = f"{self.type_name(s.type)} {self.name(s.name)}"
        v = s.value
        if isinstance(v, Lit) and isinstance(s.type, (StrType, ListType, DictType)):
            if not v.value:
                return decl + ";"  # empty string, vector or map
            if isinstance(s.type, StrType):
                return f"{decl} = {self.bare(v.value)};"
            if isinstance(s.type, ListType):
                return f"{decl} = {{{', '.join(self.literal(x, s.type.elem) for x in v.value)}}};"
        return f"{decl} = {self.expr(v)};"

    def type_name(self, t: Type) -> str:
        return "char" if isinstance(t, CharType) else self.lang.render_type(t)

    def aug_assign(self, s: AugAssign) -> str:
        if isinstance(s.value, Lit) and isinstance(s.value.type, StrType):
            return f"{self.name(s.name)} += {self.bare(s.value.value)};"
        return super().aug_assign(s)

    def push(self, s: Push) -> str:
        return f"{self.name(s.name)}.push_back({self.expr(s.value)});"

    def dict_add(self, s: DictAdd) -> str:
        key = self.str_operand(s.key, None)
        return f"{self.name(s.name)}[{key}] += {self.expr(s.amount)};"

    # ------------------------------------------------------------------ expressions
    def bare(self, value: str) -> str:
        """A string constant as a ``"..."`` literal (``render_value`` wraps it in ``std::string``)."""
        text = self.lang.render_value(value, StrType())
        if text.startswith("std::string(") and text.endswith(")") and "\0" not in value:
            return text[len("std::string(") : -1]
        return text

    def str_operand(self, e: Expr, other: Expr | None, minimum: int = 0) -> str:
        """A string operand: a literal stays bare unless the other operand is a literal too
        (the left one of two literals becomes a std::string, so the operator is std::string's)."""
        if isinstance(e, Lit) and not isinstance(other, Lit):
            return self.bare(e.value)
        return self.sub(e, minimum)

    def e_lit(self, e: Lit) -> Code:
        text, prec = super().e_lit(e)
        # -0.0 is not below zero, yet `-` before it would make `--0.0`, a decrement.
        return text, UNARY if text.startswith("-") else prec

    def char_literal(self, ch: str) -> str:
        escapes = {"'": "\\'", "\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\0": "\\0"}
        if ch in escapes:
            return f"'{escapes[ch]}'"
        return f"'{ch}'" if " " <= ch <= "~" else f"'\\x{ord(ch):02x}'"

    def e_bin(self, e: Bin) -> Code:
        if isinstance(e.left, Len) and isinstance(e.right, Lit) and e.right.value == 0 and e.op in ("==", "!=", ">"):
            empty = f"{self.sub(e.left.operand, ATOM)}.empty()"
            return (empty, ATOM) if e.op == "==" else ("!" + empty, UNARY)
        if e.op in ("==", "!=") and isinstance(e.left.type, StrType):
            # `"a" == "b"` would compare pointers: a literal is bare only next to a std::string.
            left = self.str_operand(e.left, e.right, COMPARE + 1)
            right = self.str_operand(e.right, None, COMPARE + 1)
            return f"{left} {e.op} {right}", COMPARE
        return super().e_bin(e)

    def e_not(self, e: Not) -> Code:
        if isinstance(e.operand, CharIn):
            return self.char_in(e.operand, "==")
        return super().e_not(e)

    def e_len(self, e: Len) -> Code:
        return f"(long) {self.sub(e.operand, ATOM)}.size()", UNARY

    def e_tofloat(self, e: ToFloat) -> Code:
        if isinstance(e.operand, Len):
            return f"(double) {self.sub(e.operand.operand, ATOM)}.size()", UNARY
        return f"(double) {self.sub(e.operand, UNARY)}", UNARY

    def e_index(self, e: Index) -> Code:
        return f"{self.sub(e.items, ATOM)}[{self.expr(e.index)}]", ATOM

    def e_charin(self, e: CharIn) -> Code:
        return self.char_in(e, "!=")

    def char_in(self, e: CharIn, op: str) -> Code:
        chars = self.lang.render_value(e.chars, StrType())
        return f"{chars}.find({self.expr(e.char)}) {op} std::string::npos", COMPARE

    def case(self, operand: Expr, fn: str) -> Code:
        if isinstance(operand.type, CharType):
            return f"(char) std::{fn}({self.expr(operand)})", UNARY
        self.used_helpers.add(fn)
        return f"{self.helpers[fn]}({self.expr(operand)})", ATOM

    def e_toupper(self, e: ToUpper) -> Code:
        return self.case(e.operand, "toupper")

    def e_tolower(self, e: ToLower) -> Code:
        return self.case(e.operand, "tolower")

    def e_concat(self, e: Concat) -> Code:
        return f"{self.str_operand(e.left, e.right, ADD)} + {self.str_operand(e.right, None, ADD + 1)}", ADD
