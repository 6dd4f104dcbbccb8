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
PLs share; ``analysis`` holds the analyses of a function that several renderers need (names
read, string builders, dead code, fresh names).
"""

from __future__ import annotations

from typing import Any, ClassVar

from xpl.languages import Language, get_language
from xpl.languages.types import StrType, Type
from xpl.problems.family import ir
from xpl.problems.family.ir import check_function, mutated_names
from xpl.problems.family.render.analysis import (
    declared_names,
    fresh_name,
    inclusive_stop,
    numbered,
    reachable,
    split_offset,
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

# The escapes C-like PLs share in character literals.
C_CHAR_ESCAPES = {"'": "\\'", "\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\0": "\\0"}


def c_char_literal(ch: str, other: str = "\\x{:02x}", nul: bool = True) -> str:
    """``ch`` as a C-style character literal (``'a'``, ``'\\''``, ``'\\n'``): any other character
    outside printable ASCII is ``other`` formatted with its code point (``\\x07`` by default);
    ``nul=False`` for a PL without the ``\\0`` escape (Go)."""
    if ch in C_CHAR_ESCAPES and (nul or ch != "\0"):
        return f"'{C_CHAR_ESCAPES[ch]}'"
    return f"'{ch}'" if " " <= ch <= "~" else "'" + other.format(ord(ch)) + "'"


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
    # What ends a simple statement (``;`` in the brace PLs but Go).
    terminator: ClassVar[str] = ""
    # Whether statements after one that always returns are left out (Java rejects them).
    drop_dead_code: ClassVar[bool] = False
    # The index of a list's first element (1 in Lua and Julia: indices are shifted).
    index_origin: ClassVar[int] = 0
    # Global names the rendered code uses that a variable of the function may shadow, and
    # how the code reaches them then (``_G.`` in Lua, ``Base.`` in Julia).
    shadowable: ClassVar[tuple[str, ...]] = ()
    global_prefix: ClassVar[str] = ""

    def __init__(self) -> None:
        self.lang: Language = get_language(self.language)
        # The body's indentation is the one the PL module's completions use.
        template = self.lang.return_template
        self.base_indent = template[: len(template) - len(template.lstrip())]
        self.fn: ir.Function | None = None
        self.mutated: set[str] = set()
        self.taken: set[str] = set()
        self.shadowed: set[str] = set()

    # ------------------------------------------------------------------ entry point
    def body(self, fn: ir.Function) -> str:
        """The function body in this PL (ending in a newline)."""
        check_function(fn)
        self.begin(fn)
        lines = self.block(fn.body, 0, top=True)
        return "".join(line + "\n" for line in lines) + self.closing

    def begin(self, fn: ir.Function) -> None:
        """Take in the (checked) function about to be rendered; renderers that need more
        analyses of it extend this."""
        self.fn, self.mutated = fn, mutated_names(fn)
        self.taken = declared_names(fn)  # grows with every name `fresh` hands out
        spelled = {self.name(n) for n in self.taken} if self.shadowable else set()
        self.shadowed = {g for g in self.shadowable if g in spelled}

    def block(self, body: tuple[ir.Stmt, ...], depth: int, top: bool = False) -> list[str]:
        if self.drop_dead_code:
            body = reachable(body)
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

    # The k-th candidate (k >= 2) for a fresh name: `base2`, `base3`, ... unless a PL prefers others.
    fresh_variant = staticmethod(numbered)

    def fresh(self, base: str) -> str:
        """A name for a local the renderer adds: none of the function's names, none handed out
        before, no reserved word."""
        name = fresh_name(base, self.taken | self.lang.reserved_words, self.fresh_variant)
        self.taken.add(name)
        return name

    def global_name(self, name: str) -> str:
        """A global the code uses (one of ``shadowable``), qualified when a variable shadows it."""
        return self.global_prefix + name if name in self.shadowed else name

    # ------------------------------------------------------------------ statements
    def statement(self, s: ir.Stmt, depth: int, last: bool = False) -> list[str]:
        ind = self.indent(depth)
        if isinstance(s, ir.If):
            return self.if_chain(s, depth)
        if isinstance(s, ir.ForEach):
            return [ind + self.for_each_head(s), *self.block(s.body, depth + 1), *self.end_block(depth)]
        if isinstance(s, ir.ForRange):
            return [ind + self.for_range_head(s), *self.block(s.body, depth + 1), *self.end_block(depth)]
        if isinstance(s, ir.Let):
            return [ind + self.let(s)]
        if isinstance(s, ir.Assign):
            return [ind + self.assign(s)]
        if isinstance(s, ir.AugAssign):
            return [ind + self.aug_assign(s)]
        if isinstance(s, ir.Push):
            return [ind + self.push(s)]
        if isinstance(s, ir.DictAdd):
            return [ind + self.dict_add(s)]
        if isinstance(s, ir.Return):
            return [ind + self.return_(s, last)]
        raise TypeError(f"unknown statement {s!r}")

    def if_chain(self, s: ir.If, depth: int) -> list[str]:
        """``if``, then ``else if`` for every else-branch that is a lone ``If``, then ``else``."""
        ind = self.indent(depth)
        lines = [ind + self.if_head(s.cond), *self.block(s.then, depth + 1)]
        orelse = s.orelse
        while len(orelse) == 1 and isinstance(orelse[0], ir.If):
            nested = orelse[0]
            lines += [ind + self.elif_head(nested.cond), *self.block(nested.then, depth + 1)]
            orelse = nested.orelse
        if orelse:
            lines += [ind + self.else_head(), *self.block(orelse, depth + 1)]
        return lines + self.end_block(depth)

    def end_block(self, depth: int) -> list[str]:
        return [self.indent(depth) + self.block_end] if self.block_end else []

    block_end: ClassVar[str] = "end"
    # Blocks delimited by keywords (Python, Lua, Ruby, Julia): `if c`, `elif c`, `else`, each
    # line ending as the PL wants (`:` in Python, ` then` after a condition in Lua).
    elif_keyword: ClassVar[str] = "elif"
    condition_end: ClassVar[str] = ""
    else_end: ClassVar[str] = ""

    def if_head(self, cond: ir.Expr) -> str:
        return f"if {self.expr(cond)}{self.condition_end}"

    def elif_head(self, cond: ir.Expr) -> str:
        return f"{self.elif_keyword} {self.expr(cond)}{self.condition_end}"

    def else_head(self) -> str:
        return "else" + self.else_end

    def for_each_head(self, s: ir.ForEach) -> str:
        raise NotImplementedError

    def for_range_head(self, s: ir.ForRange) -> str:
        raise NotImplementedError

    def let(self, s: ir.Let) -> str:
        """A declaration; in the PLs without them (Python, Ruby, Julia) an assignment."""
        return self.assign(s)  # type: ignore[arg-type]

    def assign(self, s: ir.Assign) -> str:
        return f"{self.name(s.name)} = {self.expr(s.value)}{self.terminator}"

    def aug_assign(self, s: ir.AugAssign) -> str:
        return f"{self.name(s.name)} {s.op}= {self.expr(s.value)}{self.terminator}"

    def push(self, s: ir.Push) -> str:
        raise NotImplementedError

    def dict_add(self, s: ir.DictAdd) -> str:
        """``d[k] = <d's count of k, 0 if none> + n``, with ``dict_get`` spelling the count."""
        d, key = self.name(s.name), self.expr(s.key)
        return f"{d}[{key}] = {self.dict_get(d, key)} + {self.sub(s.amount, ADD + 1)}{self.terminator}"

    def dict_get(self, d: str, key: str) -> str:
        """The count of ``key`` in the dict ``d``, 0 when it has none (``d.get(k, 0)``)."""
        raise NotImplementedError

    def return_(self, s: ir.Return, last: bool) -> str:
        return f"return {self.expr(s.value)}{self.terminator}"

    # ------------------------------------------------------------------ expressions
    def expr(self, e: ir.Expr) -> str:
        return self.code(e)[0]

    def sub(self, e: ir.Expr, minimum: int) -> str:
        """``e`` as an operand that must bind at least as tightly as ``minimum``."""
        text, prec = self.code(e)
        return f"({text})" if prec < minimum else text

    def code(self, e: ir.Expr) -> Code:
        method = getattr(self, "e_" + type(e).__name__.lower())
        return method(e)

    def op(self, op: str) -> str:
        return self.operators.get(op, op)

    def e_var(self, e: ir.Var) -> Code:
        return self.name(e.name), ATOM

    def e_lit(self, e: ir.Lit) -> Code:
        text = self.literal(e.value, e.type)
        # By its spelling, not its value: -0.0 is not < 0 but is written with a minus, and
        # `-(-0.0)` must not become `--0.0` (a decrement in C-like PLs).
        return text, UNARY if text.startswith("-") else ATOM

    def literal(self, value: Any, typ: Type) -> str:
        if isinstance(typ, ir.CharType):
            return self.char_literal(value)
        return self.lang.render_value(value, typ)

    def char_literal(self, ch: str) -> str:
        return self.lang.render_value(ch, StrType())

    def e_bin(self, e: ir.Bin) -> Code:
        prec = BINARY_PRECEDENCE[e.op]
        # Left-associative: the right operand of `a - (b - c)` keeps its parentheses.
        # Comparisons never chain, so both their operands bind more tightly.
        left_min = prec + 1 if prec == COMPARE else prec
        text = f"{self.sub(e.left, left_min)} {self.op(e.op)} {self.sub(e.right, prec + 1)}"
        return text, prec

    def e_divisible(self, e: ir.Divisible) -> Code:
        cmp = "!=" if e.negate else "=="
        return f"{self.sub(e.value, MUL + 1)} % {e.divisor} {self.op(cmp)} 0", COMPARE

    def e_neg(self, e: ir.Neg) -> Code:
        return "-" + self.sub(e.operand, ATOM), UNARY

    def e_not(self, e: ir.Not) -> Code:
        return "!" + self.sub(e.operand, ATOM), UNARY

    def e_index(self, e: ir.Index) -> Code:
        index = self.expr(e.index) if self.index_origin == 0 else self.offset(e.index, self.index_origin)[0]
        return f"{self.sub(e.items, ATOM)}[{index}]", ATOM

    def e_concat(self, e: ir.Concat) -> Code:
        return f"{self.sub(e.left, ADD)} + {self.sub(e.right, ADD + 1)}", ADD

    def offset(self, e: ir.Expr, delta: int) -> Code:
        """The int expression ``e + delta``, with constant offsets folded (``split_offset``)."""
        base, constant = split_offset(e)
        constant += delta
        if base is None:
            return self.code(ir.Lit(constant, e.type))
        if constant == 0:
            return self.code(base)
        return f"{self.sub(base, ADD)} {'+' if constant > 0 else '-'} {abs(constant)}", ADD


class BraceRenderer(Renderer):
    """PLs with C-like blocks: ``if (c) { ... } else { ... }``, ``&&``, ``||``, ``!``, ``;``."""

    operators = {"and": "&&", "or": "||"}
    block_end = "}"
    terminator = ";"
    elif_keyword = "else if"
    paren_conditions: ClassVar[bool] = True  # False for Go and Rust: `if c {`

    def cond(self, e: ir.Expr) -> str:
        return f"({self.expr(e)})" if self.paren_conditions else self.expr(e)

    def if_head(self, cond: ir.Expr) -> str:
        return f"if {self.cond(cond)} {{"

    def elif_head(self, cond: ir.Expr) -> str:
        return f"}} {self.elif_keyword} {self.cond(cond)} {{"

    def else_head(self) -> str:
        return "} else {"

    def counting_loop_head(self, s: ir.ForRange, counter: str, inclusive: bool = False) -> str:
        """``for (long i = a; i < b; i++) {`` (``counter`` declares ``i``: ``long ``, ``let ``,
        nothing in PHP), which is exactly ``range(a, b)``: the IR guarantees (``ir._check_loop``)
        that the body assigns neither ``i`` nor anything ``b`` reads, so testing ``b`` again at
        every step and counting with ``i`` itself change nothing. ``inclusive``: a stop written
        ``n + 1`` is tested as ``i <= n``."""
        i, stop, cmp = self.name(s.var), s.stop, "<"
        last = inclusive_stop(stop) if inclusive else None
        if last is not None:
            stop, cmp = last, "<="
        return f"for ({counter}{i} = {self.expr(s.start)}; {i} {cmp} {self.sub(stop, COMPARE + 1)}; {i}++) {{"

    def type_name(self, t: Type) -> str:
        """A type as a declaration writes it (``CHAR`` is ``char`` in C++, Java and C#)."""
        return "char" if isinstance(t, ir.CharType) else self.lang.render_type(t)

    def e_tofloat(self, e: ir.ToFloat) -> Code:
        return f"(double) {self.sub(e.operand, UNARY)}", UNARY


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
