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
from xpl.problems.family import ir
from xpl.problems.family.render import ADD, ATOM, CAST, COMPARE, UNARY, BraceRenderer, Code, c_char_literal, register
from xpl.problems.family.render.analysis import inclusive_stop, is_empty_literal, names_read

# A rendered operand that ends in a cast: `<` right after it would open generic arguments.
_ENDS_IN_CAST = re.compile(r"\bas \w+$")


def _copy(t: Type) -> bool:
    """Values of these types are ``Copy``: using them never moves anything."""
    return isinstance(t, (IntType, FloatType, BoolType, ir.CharType))


@register
class RustRenderer(BraceRenderer):
    language = "rust"
    paren_conditions = False

    def begin(self, fn: ir.Function) -> None:
        super().begin(fn)
        # Loop variables bound to a `&String` (``for w in &words``) rather than to an owned value.
        self.refs: set[str] = set()
        # The prompt imports HashMap only when the signature uses it.
        uses_map = any(isinstance(t, DictType) for top in fn.signature.types() for t in top.walk())
        self.map_type = "HashMap" if uses_map else "std::collections::HashMap"

    def body(self, fn: ir.Function) -> str:
        text = super().body(fn)
        # A parameter the body assigns to must be rebound mutable (the prompt declares it without `mut`).
        rebind = "".join(
            f"{self.indent(0)}let mut {self.name(p.name)} = {self.name(p.name)};\n"
            for p in fn.params
            if p.name in self.mutated
        )
        return rebind + text

    # ------------------------------------------------------------------ statements
    def statement(self, s: ir.Stmt, depth: int, last: bool = False) -> list[str]:
        if isinstance(s, ir.ForEach) and not _copy(s.var_type):
            # The loop variable borrows each element (`for w in &words`) in the loop's body; the
            # IR guarantees that the body never assigns it and that it shadows no variable.
            self.refs.add(s.var)
            lines = super().statement(s, depth, last)
            self.refs.discard(s.var)
            return lines
        return super().statement(s, depth, last)

    def for_each_head(self, s: ir.ForEach) -> str:
        var = self.name(s.var)
        if isinstance(s.iterable.type, StrType):
            return f"for {var} in {self.receiver(s.iterable)}.chars() {{"
        pattern = f"&{var}" if _copy(s.var_type) else var
        return f"for {pattern} in &{self.sub(s.iterable, UNARY)} {{"

    def for_range_head(self, s: ir.ForRange) -> str:
        start, last = self.expr(s.start), inclusive_stop(s.stop)
        if last is not None:
            return f"for {self.name(s.var)} in {start}..={self.expr(last)} {{"
        return f"for {self.name(s.var)} in {start}..{self.expr(s.stop)} {{"

    def let(self, s: ir.Let) -> str:
        mut = "mut " if s.name in self.mutated else ""
        head = f"let {mut}{self.name(s.name)}"
        v = s.value
        if isinstance(v, ir.Lit) and isinstance(s.type, (ListType, DictType)):
            if is_empty_literal(v):
                return f"{head}: {self.type_name(s.type)} = {self.type_name(s.type, path=True)}::new();"
            return f"{head}: {self.type_name(s.type)} = {self.owned(v)};"
        return f"{head} = {self.owned(v)};"

    def assign(self, s: ir.Assign) -> str:
        v = s.value
        if isinstance(v, ir.Concat) and v.left == ir.Var(s.name, STR) and s.name not in names_read(v.right):
            # `tag = tag + "q"`: the old value is consumed by `+`, no clone needed.
            return f"{self.name(s.name)} = {self.name(s.name)} + {self.borrowed(v.right)};"
        return f"{self.name(s.name)} = {self.owned(v)};"

    def aug_assign(self, s: ir.AugAssign) -> str:
        target = self.name(s.name)
        if isinstance(s.value.type, ir.CharType):
            return f"{target}.push({self.expr(s.value)});"
        if isinstance(s.value, ir.Lit) and isinstance(s.value.type, StrType) and len(s.value.value) == 1:
            return f"{target}.push({self.char_literal(s.value.value)});"  # one character: push a char
        if isinstance(s.value.type, StrType):
            value = self.borrowed(s.value)
            if s.value == ir.Var(s.name, STR):
                # `out.push_str(&out)` borrows `out` twice; a computed value (`&out.to_uppercase()`)
                # is a temporary made before `push_str` borrows `out`, so it needs no copy.
                value = f"&{target}.clone()"
            return f"{target}.push_str({value});"
        return super().aug_assign(s)

    def push(self, s: ir.Push) -> str:
        return f"{self.name(s.name)}.push({self.owned(s.value)});"

    def dict_add(self, s: ir.DictAdd) -> str:
        return f"*{self.name(s.name)}.entry({self.owned(s.key)}).or_insert(0) += {self.expr(s.amount)};"

    def return_(self, s: ir.Return, last: bool) -> str:
        v = s.value
        # Returning an owned variable moves it; a borrowed one (or a list element) is cloned.
        value = self.expr(v) if isinstance(v, ir.Var) and v.name not in self.refs else self.owned(v)
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

    def owned(self, e: ir.Expr) -> str:
        """``e`` as a value that can be stored or moved: variables and elements that are not
        ``Copy`` are cloned (the variable stays usable), fresh values are used as they are."""
        if _copy(e.type):
            return self.expr(e)
        if isinstance(e, (ir.Var, ir.Index)):
            return f"{self.sub(e, ATOM)}.clone()"
        if isinstance(e, ir.Lit) and isinstance(e.type, StrType) and e.value == "":
            return "String::new()"
        return self.expr(e)

    def borrowed(self, e: ir.Expr) -> str:
        """A string expression as a ``&str`` argument (``push_str``, the right operand of ``+``)."""
        if isinstance(e, ir.Lit):
            return self.str_literal(e.value)
        if isinstance(e, ir.Var) and e.name in self.refs:
            return self.name(e.name)  # already a `&String`
        return "&" + self.sub(e, UNARY)

    def receiver(self, e: ir.Expr) -> str:
        """A string or list expression before a method call (``.len()``, ``.chars()``)."""
        if isinstance(e, ir.Lit) and isinstance(e.type, StrType):
            return self.str_literal(e.value)
        return self.sub(e, ATOM)

    # ------------------------------------------------------------------ expressions
    def literal(self, value: Any, typ: Type) -> str:
        if isinstance(typ, StrType) and value == "":
            return "String::new()"
        return super().literal(value, typ)

    def char_literal(self, ch: str) -> str:
        return c_char_literal(ch)

    def e_bin(self, e: ir.Bin) -> Code:
        if e.op in ("==", "!=", ">", "<", ">=", "<=") and isinstance(e.left, ir.Len) and isinstance(e.right, ir.Lit):
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

    def str_operand(self, e: ir.Expr) -> str:
        if isinstance(e, ir.Lit):
            return self.str_literal(e.value)
        if isinstance(e, ir.Var) and e.name in self.refs:
            return "*" + self.name(e.name)
        return self.sub(e, COMPARE + 1)

    def e_len(self, e: ir.Len) -> Code:
        return f"{self.receiver(e.operand)}.len() as i64", CAST

    def e_tofloat(self, e: ir.ToFloat) -> Code:
        if isinstance(e.operand, ir.Len):
            return f"{self.receiver(e.operand.operand)}.len() as f64", CAST
        return f"{self.sub(e.operand, CAST)} as f64", CAST

    def e_index(self, e: ir.Index) -> Code:
        i = e.index
        index = self.expr(i) if isinstance(i, ir.Lit) and i.value >= 0 else f"{self.sub(i, CAST)} as usize"
        return f"{self.sub(e.items, ATOM)}[{index}]", ATOM

    def e_charin(self, e: ir.CharIn) -> Code:
        return f"{self.str_literal(e.chars)}.contains({self.expr(e.char)})", ATOM

    def e_toupper(self, e: ir.ToUpper) -> Code:
        return self.case(e.operand, "upper")

    def e_tolower(self, e: ir.ToLower) -> Code:
        return self.case(e.operand, "lower")

    def case(self, operand: ir.Expr, which: str) -> Code:
        if isinstance(operand.type, ir.CharType):
            return f"{self.sub(operand, ATOM)}.to_ascii_{which}case()", ATOM
        return f"{self.receiver(operand)}.to_{which}case()", ATOM

    def e_concat(self, e: ir.Concat) -> Code:
        # `String + &str`: the left operand is consumed (so cloned unless fresh), the right borrowed.
        left = self.owned(e.left)
        if isinstance(e.left, ir.Lit):
            left = f"{self.str_literal(e.left.value)}.to_string()"
        return f"{left} + {self.borrowed(e.right)}", ADD
