"""Rendering family IR (``xpl.problems.family.ir``) into idiomatic code in each PL.

A renderer turns a ``Function`` into the *body* that follows the PL module's prompt
(``Language.prompt``: signature + docstring), so that ``prompt + body + completion_suffix +
harness`` is a complete program, exactly like a model's completion. One module per PL lives
next to this file and registers its class with ``@register``.

``Renderer`` owns what is common to every PL: walking statements with indentation, and
writing expressions with the fewest parentheses that keep the tree's meaning. Every
expression method returns ``(text, precedence)``; a parent asks for an operand with
``self.sub(expr, minimum)`` and gets it parenthesised when it binds more loosely. The
precedence scale (shared by every PL for the operators the IR has):

    OR 10 < AND 20 < NOT_WORD 25 < COMPARE 30 < ADD 40 < MUL 50 < CAST 55 < UNARY 60 < ATOM 70

(``NOT_WORD`` is Python's and Lua's word ``not``, which binds more loosely than arithmetic
in Python; ``CAST`` is Rust's ``as``.) ``BraceRenderer`` adds what the brace-and-semicolon
PLs share.
"""

from __future__ import annotations

from typing import Any, ClassVar

from xpl.languages import Language, get_language
from xpl.languages.types import BoolType, FloatType, IntType, StrType, Type
from xpl.problems.family.ir import (
    Assign,
    AugAssign,
    Bin,
    CharType,
    DictAdd,
    Divisible,
    Expr,
    ForEach,
    ForRange,
    Function,
    If,
    Let,
    Lit,
    Neg,
    Not,
    Push,
    Return,
    Stmt,
    Var,
    check_function,
    mutated_names,
)

OR, AND, NOT_WORD, COMPARE, ADD, MUL, CAST, UNARY, ATOM = 10, 20, 25, 30, 40, 50, 55, 60, 70
BINARY_PRECEDENCE = {
    "or": OR,
    "and": AND,
    **dict.fromkeys(("<", "<=", ">", ">=", "==", "!="), COMPARE),
    "+": ADD,
    "-": ADD,
    "*": MUL,
    "/": MUL,
}

Code = tuple[str, int]


class Renderer:
    """The body of a family function in one PL. Subclasses set ``language`` and implement
    the statement and expression methods their PL spells differently."""

    language: ClassVar[str]
    indent_unit: ClassVar[str] = "    "
    # Spelling of the operators that differ between PLs.
    operators: ClassVar[dict[str, str]] = {}
    # Text that closes the function after the body, when the PL module's completion suffix
    # does not (Lua's prompt leaves the function's ``end`` to the completion).
    closing: ClassVar[str] = ""

    def __init__(self) -> None:
        self.lang: Language = get_language(self.language)
        # The body's indentation is the one the PL module's completions use.
        template = self.lang.return_template
        self.base_indent = template[: len(template) - len(template.lstrip())]
        self.fn: Function | None = None
        self.mutated: set[str] = set()

    # ------------------------------------------------------------------ entry point
    def body(self, fn: Function) -> str:
        """The function body in this PL (ending in a newline)."""
        check_function(fn)
        self.fn, self.mutated = fn, mutated_names(fn)
        lines = self.block(fn.body, 0, top=True)
        return "".join(line + "\n" for line in lines) + self.closing

    def block(self, body: tuple[Stmt, ...], depth: int, top: bool = False) -> list[str]:
        lines: list[str] = []
        for i, stmt in enumerate(body):
            last = top and i == len(body) - 1
            lines.extend(self.statement(stmt, depth, last))
        return lines

    def indent(self, depth: int) -> str:
        return self.base_indent + self.indent_unit * depth

    def name(self, name: str) -> str:
        """A variable as written in this PL (``$x`` in PHP; reserved words get a suffix)."""
        return self.lang.identifier(name)

    # ------------------------------------------------------------------ statements
    def statement(self, s: Stmt, depth: int, last: bool = False) -> list[str]:
        ind = self.indent(depth)
        if isinstance(s, If):
            return self.if_chain(s, depth)
        if isinstance(s, ForEach):
            return [ind + self.for_each_head(s), *self.block(s.body, depth + 1), *self.end_block(depth)]
        if isinstance(s, ForRange):
            return [ind + self.for_range_head(s), *self.block(s.body, depth + 1), *self.end_block(depth)]
        if isinstance(s, Let):
            return [ind + self.let(s)]
        if isinstance(s, Assign):
            return [ind + self.assign(s)]
        if isinstance(s, AugAssign):
            return [ind + self.aug_assign(s)]
        if isinstance(s, Push):
            return [ind + self.push(s)]
        if isinstance(s, DictAdd):
            return [ind + self.dict_add(s)]
        if isinstance(s, Return):
            return [ind + self.return_(s, last)]
        raise TypeError(f"unknown statement {s!r}")

    def if_chain(self, s: If, depth: int) -> list[str]:
        """``if``, then ``else if`` for every else-branch that is a lone ``If``, then ``else``."""
        ind = self.indent(depth)
        lines = [ind + self.if_head(s.cond), *self.block(s.then, depth + 1)]
        orelse = s.orelse
        while len(orelse) == 1 and isinstance(orelse[0], If):
            nested = orelse[0]
            lines += [ind + self.elif_head(nested.cond), *self.block(nested.then, depth + 1)]
            orelse = nested.orelse
        if orelse:
            lines += [ind + self.else_head(), *self.block(orelse, depth + 1)]
        return lines + self.end_block(depth)

    def end_block(self, depth: int) -> list[str]:
        return [self.indent(depth) + self.block_end] if self.block_end else []

    block_end: ClassVar[str] = "end"

    def if_head(self, cond: Expr) -> str:
        raise NotImplementedError

    def elif_head(self, cond: Expr) -> str:
        raise NotImplementedError

    def else_head(self) -> str:
        raise NotImplementedError

    def for_each_head(self, s: ForEach) -> str:
        raise NotImplementedError

    def for_range_head(self, s: ForRange) -> str:
        raise NotImplementedError

    def let(self, s: Let) -> str:
        raise NotImplementedError

    def assign(self, s: Assign) -> str:
        raise NotImplementedError

    def aug_assign(self, s: AugAssign) -> str:
        raise NotImplementedError

    def push(self, s: Push) -> str:
        raise NotImplementedError

    def dict_add(self, s: DictAdd) -> str:
        raise NotImplementedError

    def return_(self, s: Return, last: bool) -> str:
        raise NotImplementedError

    # ------------------------------------------------------------------ expressions
    def expr(self, e: Expr) -> str:
        return self.code(e)[0]

    def sub(self, e: Expr, minimum: int) -> str:
        """``e`` as an operand that must bind at least as tightly as ``minimum``."""
        text, prec = self.code(e)
        return f"({text})" if prec < minimum else text

    def code(self, e: Expr) -> Code:
        method = getattr(self, "e_" + type(e).__name__.lower())
        return method(e)

    def op(self, op: str) -> str:
        return self.operators.get(op, op)

    def e_var(self, e: Var) -> Code:
        return self.name(e.name), ATOM

    def e_lit(self, e: Lit) -> Code:
        text = self.literal(e.value, e.type)
        # By its spelling, not its value: -0.0 is not < 0 but is written with a minus, and
        # `-(-0.0)` must not become `--0.0` (a decrement in C-like PLs).
        return text, UNARY if text.startswith("-") else ATOM

    def literal(self, value: Any, typ: Type) -> str:
        if isinstance(typ, CharType):
            return self.char_literal(value)
        return self.lang.render_value(value, typ)

    def char_literal(self, ch: str) -> str:
        return self.lang.render_value(ch, StrType())

    def e_bin(self, e: Bin) -> Code:
        prec = BINARY_PRECEDENCE[e.op]
        # Left-associative: the right operand of `a - (b - c)` keeps its parentheses.
        # Comparisons never chain, so both their operands bind more tightly.
        left_min = prec + 1 if prec == COMPARE else prec
        text = f"{self.sub(e.left, left_min)} {self.op(e.op)} {self.sub(e.right, prec + 1)}"
        return text, prec

    def e_divisible(self, e: Divisible) -> Code:
        cmp = "!=" if e.negate else "=="
        return f"{self.sub(e.value, MUL + 1)} % {e.divisor} {self.op(cmp)} 0", COMPARE

    def e_neg(self, e: Neg) -> Code:
        return "-" + self.sub(e.operand, ATOM), UNARY

    def e_not(self, e: Not) -> Code:
        return "!" + self.sub(e.operand, ATOM), UNARY


class BraceRenderer(Renderer):
    """PLs with C-like blocks: ``if (c) { ... } else { ... }``, ``&&``, ``||``, ``!``, ``;``."""

    operators = {"and": "&&", "or": "||"}
    block_end = "}"
    paren_conditions: ClassVar[bool] = True  # False for Go and Rust: `if c {`

    def cond(self, e: Expr) -> str:
        return f"({self.expr(e)})" if self.paren_conditions else self.expr(e)

    def if_head(self, cond: Expr) -> str:
        return f"if {self.cond(cond)} {{"

    def elif_head(self, cond: Expr) -> str:
        return f"}} else if {self.cond(cond)} {{"

    def else_head(self) -> str:
        return "} else {"

    def assign(self, s: Assign) -> str:
        return f"{self.name(s.name)} = {self.expr(s.value)};"

    def aug_assign(self, s: AugAssign) -> str:
        return f"{self.name(s.name)} {s.op}= {self.expr(s.value)};"

    def return_(self, s: Return, last: bool) -> str:
        return f"return {self.expr(s.value)};"


_RENDERERS: dict[str, type[Renderer]] = {}


def register(cls: type[Renderer]) -> type[Renderer]:
    _RENDERERS[cls.language] = cls
    return cls


def renderer_for(language: str | Language) -> Renderer:
    """The renderer of a PL (by id, alias or module); ``KeyError`` names the PLs that have one."""
    name = get_language(language).name
    _load_all()
    if name not in _RENDERERS:
        raise KeyError(f"no family renderer for {name!r}; renderers exist for: {', '.join(sorted(_RENDERERS))}")
    return _RENDERERS[name]()


def rendered_languages() -> list[str]:
    _load_all()
    return sorted(_RENDERERS)


def _load_all() -> None:
    """Import every renderer module in this package (each registers itself)."""
    import importlib
    import pkgutil

    for info in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{info.name}")


def is_number(t: Type) -> bool:
    return isinstance(t, (IntType, FloatType))


def is_bool(t: Type) -> bool:
    return isinstance(t, BoolType)
