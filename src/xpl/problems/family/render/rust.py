"""Family IR -> Rust (edition 2021).

Parameters are owned (``Vec<i64>``, ``String``, ``Vec<String>``), so the renderer keeps track
of ownership: lists of copyable values are walked with ``for &x in &xs``, lists of strings with
``for w in &words`` (``w`` is then a ``&String``, cloned wherever an owned ``String`` is needed:
a push, a dict key, a ``let``), strings with ``for ch in s.chars()``. Sizes are ``usize``, so
``len()`` is cast to ``i64`` (``(xs.len() as i64) < n``: a cast followed by ``<`` must be
parenthesised, or ``<`` opens generic arguments) except where it is compared with a
non-negative constant, and indices are cast to ``usize``. Strings grow with ``push``/
``push_str``, dicts with ``*counts.entry(key).or_insert(0) += amount``, and the last top-level
``return`` is the function's final expression.
"""

from __future__ import annotations

import re
from typing import Any

from xpl.languages.types import STR, BoolType, DictType, FloatType, IntType, ListType, StrType, Type
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
    Push,
    Return,
    Stmt,
    ToFloat,
    ToLower,
    ToUpper,
    Var,
    walk_statements,
)
from xpl.problems.family.render import ADD, ATOM, CAST, COMPARE, UNARY, BraceRenderer, Code, register

# A rendered operand that ends in a cast: `<` right after it would open generic arguments.
_ENDS_IN_CAST = re.compile(r"\bas \w+$")


def _copy(t: Type) -> bool:
    """Values of these types are ``Copy``: using them never moves anything."""
    return isinstance(t, (IntType, FloatType, BoolType, CharType))


@register
class RustRenderer(BraceRenderer):
    language = "rust"
    paren_conditions = False

    def body(self, fn: Function) -> str:
        # Loop variables bound to a `&String` (``for w in &words``) rather than to an owned value.
        self.refs: set[str] = set()
        # The prompt imports HashMap only when the signature uses it.
        uses_map = any(isinstance(t, DictType) for top in fn.signature.types() for t in top.walk())
        self.map_type = "HashMap" if uses_map else "std::collections::HashMap"
        text = super().body(fn)
        # A parameter the body assigns to must be rebound mutable (the prompt declares it without `mut`).
        rebind = "".join(
            f"{self.indent(0)}let mut {self.name(p.name)} = {self.name(p.name)};\n"
            for p in fn.params
            if p.name in self.mutated
        )
        return rebind + text

    # ------------------------------------------------------------------ statements
    def statement(self, s: Stmt, depth: int, last: bool = False) -> list[str]:
        if not isinstance(s, (ForEach, ForRange)):
            return super().statement(s, depth, last)
        ind, inner = self.indent(depth), self.indent(depth + 1)
        head = self.for_each_head(s) if isinstance(s, ForEach) else self.for_range_head(s)
        saved = set(self.refs)
        self.refs.discard(s.var)
        rebind: list[str] = []
        if isinstance(s, ForEach) and not _copy(s.var_type):
            if self.assigned_in(s.var, s.body):
                # A mutable owned copy: assigning to the loop variable never changes the list.
                rebind = [f"{inner}let mut {self.name(s.var)} = {self.name(s.var)}.clone();"]
            else:
                self.refs.add(s.var)
        elif self.assigned_in(s.var, s.body):
            rebind = [f"{inner}let mut {self.name(s.var)} = {self.name(s.var)};"]
        lines = [ind + head, *rebind, *self.block(s.body, depth + 1), *self.end_block(depth)]
        self.refs = saved
        return lines

    @staticmethod
    def assigned_in(name: str, body: tuple[Stmt, ...]) -> bool:
        return any(
            isinstance(st, (Assign, AugAssign, Push, DictAdd)) and st.name == name for st in walk_statements(body)
        )

    def for_each_head(self, s: ForEach) -> str:
        var = self.name(s.var)
        if isinstance(s.iterable.type, StrType):
            return f"for {var} in {self.receiver(s.iterable)}.chars() {{"
        pattern = f"&{var}" if _copy(s.var_type) else var
        return f"for {pattern} in &{self.sub(s.iterable, UNARY)} {{"

    def for_range_head(self, s: ForRange) -> str:
        start, stop = self.expr(s.start), s.stop
        if isinstance(stop, Bin) and stop.op == "+" and isinstance(stop.right, Lit) and stop.right.value == 1:
            return f"for {self.name(s.var)} in {start}..={self.expr(stop.left)} {{"
        return f"for {self.name(s.var)} in {start}..{self.expr(stop)} {{"

    def let(self, s: Let) -> str:
        mut = "mut " if s.name in self.mutated else ""
        head = f"let {mut}{self.name(s.name)}"
        v = s.value
        if isinstance(v, Lit) and isinstance(s.type, (ListType, DictType)):
            if not v.value:
                return f"{head}: {self.type_name(s.type)} = {self.type_name(s.type, path=True)}::new();"
            return f"{head}: {self.type_name(s.type)} = {self.owned(v)};"
        return f"{head} = {self.owned(v)};"

    def assign(self, s: Assign) -> str:
        v = s.value
        if isinstance(v, Concat) and v.left == Var(s.name, STR) and s.name not in self.var_names(v.right):
            # `tag = tag + "q"`: the old value is consumed by `+`, no clone needed.
            return f"{self.name(s.name)} = {self.name(s.name)} + {self.borrowed(v.right)};"
        return f"{self.name(s.name)} = {self.owned(v)};"

    def aug_assign(self, s: AugAssign) -> str:
        target = self.name(s.name)
        if isinstance(s.value.type, CharType):
            return f"{target}.push({self.expr(s.value)});"
        if isinstance(s.value, Lit) and isinstance(s.value.type, StrType) and len(s.value.value) == 1:
            return f"{target}.push({self.char_literal(s.value.value)});"  # one character: push a char
        if isinstance(s.value.type, StrType):
            value = self.borrowed(s.value)
            if s.value == Var(s.name, STR):
                # `out.push_str(&out)` borrows `out` twice; a computed value (`&out.to_uppercase()`)
                # is a temporary made before `push_str` borrows `out`, so it needs no copy.
                value = f"&{target}.clone()"
            return f"{target}.push_str({value});"
        return f"{target} {s.op}= {self.expr(s.value)};"

    def push(self, s: Push) -> str:
        return f"{self.name(s.name)}.push({self.owned(s.value)});"

    def dict_add(self, s: DictAdd) -> str:
        return f"*{self.name(s.name)}.entry({self.owned(s.key)}).or_insert(0) += {self.expr(s.amount)};"

    def return_(self, s: Return, last: bool) -> str:
        v = s.value
        # Returning an owned variable moves it; a borrowed one (or a list element) is cloned.
        value = self.expr(v) if isinstance(v, Var) and v.name not in self.refs else self.owned(v)
        return value if last else f"return {value};"

    # ------------------------------------------------------------------ ownership
    def type_name(self, t: Type, path: bool = False) -> str:
        """A type as written in a `let` annotation, or (``path``) before ``::new()``."""
        if isinstance(t, DictType):
            return self.map_type if path else self.map_type + self.lang.render_type(t)[len("HashMap") :]
        if path and isinstance(t, ListType):
            return "Vec"
        return self.lang.render_type(t)

    def str_literal(self, value: str) -> str:
        """A string constant as a ``&str`` literal (``render_value`` wraps it in ``String::from``)."""
        text = self.lang.render_value(value, StrType())
        assert text.startswith("String::from(") and text.endswith(")"), text
        return text[len("String::from(") : -1]

    def owned(self, e: Expr) -> str:
        """``e`` as a value that can be stored or moved: variables and elements that are not
        ``Copy`` are cloned (the variable stays usable), fresh values are used as they are."""
        if _copy(e.type):
            return self.expr(e)
        if isinstance(e, (Var, Index)):
            return f"{self.sub(e, ATOM)}.clone()"
        if isinstance(e, Lit) and isinstance(e.type, StrType) and e.value == "":
            return "String::new()"
        return self.expr(e)

    def borrowed(self, e: Expr) -> str:
        """A string expression as a ``&str`` argument (``push_str``, the right operand of ``+``)."""
        if isinstance(e, Lit):
            return self.str_literal(e.value)
        if isinstance(e, Var) and e.name in self.refs:
            return self.name(e.name)  # already a `&String`
        return "&" + self.sub(e, UNARY)

    def receiver(self, e: Expr) -> str:
        """A string or list expression before a method call (``.len()``, ``.chars()``)."""
        if isinstance(e, Lit) and isinstance(e.type, StrType):
            return self.str_literal(e.value)
        return self.sub(e, ATOM)

    def var_names(self, e: Any) -> set[str]:
        if isinstance(e, Var):
            return {e.name}
        names: set[str] = set()
        for value in vars(e).values():
            if hasattr(value, "type") and not isinstance(value, Type):
                names |= self.var_names(value)
        return names

    # ------------------------------------------------------------------ expressions
    def literal(self, value: Any, typ: Type) -> str:
        if isinstance(typ, StrType) and value == "":
            return "String::new()"
        return super().literal(value, typ)

    def e_lit(self, e: Lit) -> Code:
        text, prec = super().e_lit(e)
        # -0.0 is not below zero, yet it is written with a `-`: negating it needs `-(-0.0)`.
        return text, UNARY if text.startswith("-") else prec

    def char_literal(self, ch: str) -> str:
        escapes = {"'": "\\'", "\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\0": "\\0"}
        if ch in escapes:
            return f"'{escapes[ch]}'"
        return f"'{ch}'" if " " <= ch <= "~" else f"'\\x{ord(ch):02x}'"

    def e_bin(self, e: Bin) -> Code:
        if e.op in ("==", "!=", ">", "<", ">=", "<=") and isinstance(e.left, Len) and isinstance(e.right, Lit):
            n = e.right.value
            if n == 0 and e.op in ("==", "<="):
                return f"{self.receiver(e.left.operand)}.is_empty()", ATOM
            if n == 0 and e.op in ("!=", ">"):
                return f"!{self.receiver(e.left.operand)}.is_empty()", UNARY
            if n >= 0:  # a usize compared with a non-negative constant needs no cast
                return f"{self.receiver(e.left.operand)}.len() {e.op} {n}", COMPARE
        if e.op in ("==", "!=") and isinstance(e.left.type, StrType):
            # `&String == String` has no impl: compare owned strings or literals, never references.
            return f"{self.str_operand(e.left)} {e.op} {self.str_operand(e.right)}", COMPARE
        text, prec = super().e_bin(e)
        if e.op in ("<", "<="):
            left = self.sub(e.left, COMPARE + 1)
            if _ENDS_IN_CAST.search(left):
                text = f"({left}) {e.op} {self.sub(e.right, COMPARE + 1)}"
        return text, prec

    def str_operand(self, e: Expr) -> str:
        if isinstance(e, Lit):
            return self.str_literal(e.value)
        if isinstance(e, Var) and e.name in self.refs:
            return "*" + self.name(e.name)
        return self.sub(e, COMPARE + 1)

    def e_len(self, e: Len) -> Code:
        return f"{self.receiver(e.operand)}.len() as i64", CAST

    def e_tofloat(self, e: ToFloat) -> Code:
        if isinstance(e.operand, Len):
            return f"{self.receiver(e.operand.operand)}.len() as f64", CAST
        return f"{self.sub(e.operand, CAST)} as f64", CAST

    def e_index(self, e: Index) -> Code:
        i = e.index
        index = self.expr(i) if isinstance(i, Lit) and i.value >= 0 else f"{self.sub(i, CAST)} as usize"
        return f"{self.sub(e.items, ATOM)}[{index}]", ATOM

    def e_charin(self, e: CharIn) -> Code:
        return f"{self.str_literal(e.chars)}.contains({self.expr(e.char)})", ATOM

    def e_toupper(self, e: ToUpper) -> Code:
        if isinstance(e.type, CharType):
            return f"{self.sub(e.operand, ATOM)}.to_ascii_uppercase()", ATOM
        return f"{self.receiver(e.operand)}.to_uppercase()", ATOM

    def e_tolower(self, e: ToLower) -> Code:
        if isinstance(e.type, CharType):
            return f"{self.sub(e.operand, ATOM)}.to_ascii_lowercase()", ATOM
        return f"{self.receiver(e.operand)}.to_lowercase()", ATOM

    def e_concat(self, e: Concat) -> Code:
        # `String + &str`: the left operand is consumed (so cloned unless fresh), the right borrowed.
        left = self.owned(e.left)
        if isinstance(e.left, Lit):
            left = f"{self.str_literal(e.left.value)}.to_string()"
        return f"{left} + {self.borrowed(e.right)}", ADD
