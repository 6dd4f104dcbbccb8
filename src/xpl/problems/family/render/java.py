"""Family IR -> Java 17.

Ints are ``long`` in signatures and locals, lists are ``ArrayList<Long>``/``ArrayList<Double>``/
``ArrayList<String>`` and the word counts a ``HashMap<String, Long>``. Java specifics:

* boxing: ``list.get(i)`` is a ``Long``; arithmetic and ``<`` unbox it, but ``==`` between two
  boxed values compares references, so it is written ``a.equals(b)`` (strings likewise);
* an int expression (a literal, ``size()``, ``length()``, an ``int`` loop counter) cannot be
  boxed into a ``Long``: it gets an ``L`` suffix or a ``(long)`` cast where a list or map
  receives it (``out.add(3L)``, ``counts.merge(w, 1L, Long::sum)``);
* index loops count with ``int`` (``list.get`` takes an ``int``); an index of type ``long``
  is cast;
* a string that is only appended to is a ``StringBuilder``;
* case conversion of strings uses ``Locale.ROOT`` (the IR's ASCII semantics whatever the
  default locale); statements after a return would be unreachable (a compile error) and are
  dropped.

What Java shares with C# (``int`` counters, the StringBuilder, dead code) is in ``java_like.py``.
"""

from __future__ import annotations

from xpl.languages.types import BoolType, DictType, FloatType, IntType, ListType, StrType
from xpl.problems.family import ir
from xpl.problems.family.render import ATOM, COMPARE, UNARY, Code, register
from xpl.problems.family.render.analysis import is_empty_literal
from xpl.problems.family.render.java_like import JavaLikeRenderer

_BOXED = {IntType: "Long", FloatType: "Double", BoolType: "Boolean"}


@register
class JavaRenderer(JavaLikeRenderer):
    language = "java"
    builder_declaration = "StringBuilder"
    builder_append = "append"
    builder_text = "toString()"
    string_length = "length()"
    list_length = "size()"
    char_case = "Character.to{0}Case({1})"
    string_case = "{1}.to{0}Case(Locale.ROOT)"
    char_escape = "\\{:o}"  # octal

    # ------------------------------------------------------------------ statements
    def for_each_head(self, s: ir.ForEach) -> str:
        if isinstance(s.iterable.type, StrType):
            return f"for (char {self.name(s.var)} : {self.sub(s.iterable, ATOM)}.toCharArray()) {{"
        return f"for ({self.type_name(s.var_type)} {self.name(s.var)} : {self.expr(s.iterable)}) {{"

    def let(self, s: ir.Let) -> str:
        if isinstance(s.type, (ListType, DictType)) and is_empty_literal(s.value):
            container = "ArrayList" if isinstance(s.type, ListType) else "HashMap"
            return f"{self.type_name(s.type)} {self.name(s.name)} = new {container}<>();"
        return super().let(s)

    def push(self, s: ir.Push) -> str:
        return f"{self.name(s.name)}.add({self.boxable(s.value)});"

    def dict_add(self, s: ir.DictAdd) -> str:
        return f"{self.name(s.name)}.merge({self.expr(s.key)}, {self.boxable(s.amount)}, Long::sum);"

    # ------------------------------------------------------------------ types
    def kind(self, e: ir.Expr) -> str:
        """What Java type an expression has where Java cares: "int", "long", a boxed type
        ("Long", "Double", "Boolean": a list element), or "other"."""
        if self.is_int(e):
            return "int"
        if isinstance(e, ir.Index):
            return _BOXED.get(type(e.type), "other")
        return "long" if isinstance(e.type, IntType) else "other"

    def boxable(self, e: ir.Expr) -> str:
        """``e`` where a ``Long`` (or a ``Double``, a ``String``) is expected: ints become longs."""
        if not self.is_int(e):
            return self.expr(e)
        if isinstance(e, ir.Lit):
            return f"{e.value}L"
        return f"(long) {self.sub(e, UNARY)}"

    # ------------------------------------------------------------------ expressions
    def e_bin(self, e: ir.Bin) -> Code:
        empty = self.emptiness(e)
        if empty:
            return empty
        if e.op in ("==", "!="):
            boxed = self.kind(e.left) in _BOXED.values() and self.kind(e.right) in _BOXED.values()
            if boxed or isinstance(e.left.type, StrType):
                text = f"{self.sub(e.left, ATOM)}.equals({self.expr(e.right)})"
                return (text, ATOM) if e.op == "==" else ("!" + text, UNARY)
        return super().e_bin(e)

    def emptiness(self, e: ir.Bin) -> Code | None:
        """``len(xs) == 0`` as ``xs.isEmpty()`` (``!= 0`` and ``> 0`` as ``!xs.isEmpty()``)."""
        if not (isinstance(e.left, ir.Len) and isinstance(e.right, ir.Lit) and e.right.value == 0):
            return None
        seq = e.left.operand
        if e.op not in ("==", "!=", ">") or (isinstance(seq, ir.Var) and seq.name in self.builders):
            return None
        text = f"{self.sub(seq, ATOM)}.isEmpty()"
        return (text, ATOM) if e.op == "==" else ("!" + text, UNARY)

    def e_not(self, e: ir.Not) -> Code:
        if isinstance(e.operand, ir.CharIn):
            return self.char_in(e.operand, "< 0")
        return super().e_not(e)

    def e_index(self, e: ir.Index) -> Code:
        kind = self.kind(e.index)
        if kind == "long":
            index = f"(int) {self.sub(e.index, UNARY)}"
        elif kind == "Long":
            index = f"{self.sub(e.index, ATOM)}.intValue()"
        else:
            index = self.expr(e.index)
        return f"{self.sub(e.items, ATOM)}.get({index})", ATOM

    def e_charin(self, e: ir.CharIn) -> Code:
        return self.char_in(e, ">= 0")

    def char_in(self, e: ir.CharIn, test: str) -> Code:
        return f"{self.literal(e.chars, StrType())}.indexOf({self.expr(e.char)}) {test}", COMPARE
