"""Family IR -> Go (1.19: no builtin ``min``/``max``, no ``for i := range n``).

The body is written as ``gofmt`` would print it: tabs, no parentheses around conditions, and
gofmt's spacing of binary operators, which depends on how an expression nests (``3*x + 1``,
``x%2 == 0``, ``i < n+1``, ``append(out, x*3)``). Expressions are therefore first built into
a small Go syntax tree (``_Bin``, ``_Unary``, ``_Paren``, ``_Call``, ``_Index``, leaves) and
then printed by a port of go/printer's ``binaryExpr``/``cutoff`` rules, so that the output is
a fixed point of gofmt.

Go specifics: ``int`` is 64-bit; a string walked with ``range`` yields runes (``CHAR`` is a
``rune``); a string that is only ever appended to is a ``strings.Builder``; a map's missing
key reads as 0, so ``DictAdd`` is ``counts[w] += n``; a local that is declared but never read
is a compile error, so such a ``Let`` gets ``_ = name`` and an unused loop element is left out
(``for range xs``).
"""

from __future__ import annotations

from dataclasses import dataclass

from xpl.languages.types import DictType, StrType
from xpl.problems.family import ir
from xpl.problems.family.ir import walk_statements
from xpl.problems.family.render import BraceRenderer, c_char_literal, register
from xpl.problems.family.render.analysis import (
    append_only_strings,
    is_empty_literal,
    is_unit_step,
    names_read,
    operands,
    reachable,
)

# ----------------------------------------------------------------------------- Go syntax tree

# go/token precedences.
_GO_PREC = {
    "||": 1,
    "&&": 2,
    **dict.fromkeys(("==", "!=", "<", "<=", ">", ">="), 3),
    "+": 4,
    "-": 4,
    "*": 5,
    "/": 5,
    "%": 5,
}
_UNARY_PREC, _HIGHEST_PREC, _LOWEST_PREC = 6, 7, 0
_IR_OPS = {"and": "&&", "or": "||"}


@dataclass(frozen=True)
class _Leaf:
    text: str


@dataclass(frozen=True)
class _Bin:
    op: str
    x: _Node
    y: _Node


@dataclass(frozen=True)
class _Unary:
    op: str
    x: _Node


@dataclass(frozen=True)
class _Paren:
    x: _Node


@dataclass(frozen=True)
class _Call:
    fun: str
    args: tuple[_Node, ...]


@dataclass(frozen=True)
class _Index:
    x: _Node
    index: _Node


_Node = _Leaf | _Bin | _Unary | _Paren | _Call | _Index


def _prec(node: _Node) -> int:
    if isinstance(node, _Bin):
        return _GO_PREC[node.op]
    return _UNARY_PREC if isinstance(node, _Unary) else _HIGHEST_PREC


def _at_least(node: _Node, minimum: int) -> _Node:
    """``node`` as an operand that must bind at least as tightly as ``minimum``."""
    return _Paren(node) if _prec(node) < minimum else node


# A port of go/printer (nodes.go): binaryExpr, cutoff, walkBinary, diffPrec, reduceDepth.


def _walk_binary(e: _Bin) -> tuple[bool, bool, int]:
    prec = _GO_PREC[e.op]
    has4, has5, max_problem = prec == 4, prec == 5, 0
    if isinstance(e.x, _Bin) and _GO_PREC[e.x.op] >= prec:
        h4, h5, mp = _walk_binary(e.x)
        has4, has5, max_problem = has4 or h4, has5 or h5, max(max_problem, mp)
    if isinstance(e.y, _Bin) and _GO_PREC[e.y.op] > prec:
        h4, h5, mp = _walk_binary(e.y)
        has4, has5, max_problem = has4 or h4, has5 or h5, max(max_problem, mp)
    elif isinstance(e.y, _Unary) and e.op + e.y.op in ("--", "++"):
        max_problem = max(max_problem, 4)
    return has4, has5, max_problem


def _cutoff(e: _Bin, depth: int) -> int:
    has4, has5, max_problem = _walk_binary(e)
    if max_problem > 0:
        return max_problem + 1
    if has4 and has5:
        return 5 if depth == 1 else 4
    return 6 if depth == 1 else 4


def _print(node: _Node, prec1: int = _LOWEST_PREC, depth: int = 1) -> str:
    if isinstance(node, _Leaf):
        return node.text
    if isinstance(node, _Bin):
        prec = _GO_PREC[node.op]
        blank = " " if prec < _cutoff(node, depth) else ""
        diff = 0 if isinstance(node.x, _Bin) and _GO_PREC[node.x.op] == prec else 1
        left = _print(node.x, prec, depth + diff)
        return f"{left}{blank}{node.op}{blank}{_print(node.y, prec + 1, depth + 1)}"
    if isinstance(node, _Paren):
        return "(" + _print(node.x, _LOWEST_PREC, max(1, depth - 1)) + ")"
    if isinstance(node, _Unary):
        return node.op + _print(node.x, _UNARY_PREC, depth)
    if isinstance(node, _Call):
        inner = depth + 1 if len(node.args) > 1 else depth
        return node.fun + "(" + ", ".join(_print(a, _LOWEST_PREC, inner) for a in node.args) + ")"
    if isinstance(node, _Index):
        return _print(node.x, _HIGHEST_PREC, 1) + "[" + _print(node.index, _LOWEST_PREC, depth + 1) + "]"
    raise TypeError(f"unknown Go node {node!r}")


# ----------------------------------------------------------------------------- IR helpers


def _reads(body: tuple[ir.Stmt, ...], name: str) -> bool:
    """Whether ``body`` uses the variable ``name`` in a way Go counts as a use: any read, and
    ``out = append(out, v)`` and ``counts[k] += n`` (a loop inside never declares another
    ``name``: the IR refuses a loop variable that shadows one in scope)."""
    return any(
        (isinstance(s, (ir.Push, ir.DictAdd)) and s.name == name) or any(name in names_read(e) for e in operands(s))
        for s in walk_statements(body)
    )


# ----------------------------------------------------------------------------- renderer


@register
class GoRenderer(BraceRenderer):
    language = "go"

    indent_unit = "\t"
    paren_conditions = False
    terminator = ""

    def __init__(self) -> None:
        super().__init__()
        self.builders: set[str] = set()  # strings that are only appended to: strings.Builder values

    def begin(self, fn: ir.Function) -> None:
        super().begin(fn)
        self.builders = append_only_strings(fn)

    # ------------------------------------------------------------------ statements
    def block(self, body: tuple[ir.Stmt, ...], depth: int, top: bool = False) -> list[str]:
        body = reachable(body)
        lines: list[str] = []
        for i, stmt in enumerate(body):
            lines.extend(self.statement(stmt, depth, top and i == len(body) - 1))
            if isinstance(stmt, ir.Let) and stmt.name not in self.builders and not _reads(body[i + 1 :], stmt.name):
                lines.append(self.indent(depth) + f"_ = {self.name(stmt.name)}")  # declared and not used
        return lines

    def statement(self, s: ir.Stmt, depth: int, last: bool = False) -> list[str]:
        if isinstance(s, ir.Let) and s.name in self.builders:
            ind, name = self.indent(depth), self.name(s.name)
            lines = [f"{ind}var {name} strings.Builder"]
            if not is_empty_literal(s.value):
                lines.append(f"{ind}{name}.WriteString({self.expr(s.value)})")
            return lines
        return super().statement(s, depth, last)

    def for_each_head(self, s: ir.ForEach) -> str:
        iterable = self.expr(s.iterable)
        if not _reads(s.body, s.var):
            return f"for range {iterable} {{"
        return f"for _, {self.name(s.var)} := range {iterable} {{"

    def for_range_head(self, s: ir.ForRange) -> str:
        # Exactly `range(a, b)`: the IR guarantees that the body changes neither `i` nor the bound.
        i = self.name(s.var)
        cond = _print(_Bin("<", _Leaf(i), _at_least(self.node(s.stop), _GO_PREC["<"] + 1)))
        return f"for {i} := {self.expr(s.start)}; {cond}; {i}++ {{"

    def let(self, s: ir.Let) -> str:
        name = self.name(s.name)
        if isinstance(s.type, DictType) and is_empty_literal(s.value):
            return f"{name} := make({self.lang.render_type(s.type)})"
        return f"{name} := {self.expr(s.value)}"

    def aug_assign(self, s: ir.AugAssign) -> str:
        name = self.name(s.name)
        if isinstance(s.value.type, ir.CharType):
            if s.name in self.builders:
                return f"{name}.WriteRune({self.expr(s.value)})"
            return f"{name} += {self.as_string(s.value)}"
        if isinstance(s.value.type, StrType):
            if s.name in self.builders:
                return f"{name}.WriteString({self.expr(s.value)})"
            return f"{name} += {self.expr(s.value)}"
        return self.update(name, s.op, s.value)

    def update(self, target: str, op: str, value: ir.Expr) -> str:
        """``target op= value``, as ``target++`` / ``target--`` for a step of the literal 1."""
        if is_unit_step(op, value):
            return f"{target}{op}{op}"
        return f"{target} {op}= {self.expr(value)}"

    def push(self, s: ir.Push) -> str:
        name = self.name(s.name)
        return f"{name} = " + _print(_Call("append", (_Leaf(name), self.node(s.value))))

    def dict_add(self, s: ir.DictAdd) -> str:
        target = _print(_Index(_Leaf(self.name(s.name)), self.node(s.key)))
        return self.update(target, "+", s.amount)

    # ------------------------------------------------------------------ expressions
    def expr(self, e: ir.Expr) -> str:
        return _print(self.node(e))

    def as_string(self, e: ir.Expr) -> str:
        """A ``CHAR`` (a rune) as a one-character string."""
        if isinstance(e, ir.Lit):
            return self.literal(e.value, StrType())
        return _print(_Call("string", (self.node(e),)))

    def char_literal(self, ch: str) -> str:
        return c_char_literal(ch, nul=False)  # Go has no `\0` escape

    def node(self, e: ir.Expr) -> _Node:
        """``e`` as a Go syntax tree (parentheses where the tree's meaning needs them)."""
        if isinstance(e, ir.Var):
            name = self.name(e.name)
            return _Leaf(f"{name}.String()" if e.name in self.builders else name)
        if isinstance(e, ir.Lit):
            text = self.literal(e.value, e.type)
            if text.startswith("-"):
                return _Unary("-", _Leaf(text[1:]))
            return _Leaf(text)
        if isinstance(e, ir.Bin):
            op = _IR_OPS.get(e.op, e.op)
            prec = _GO_PREC[op]
            # Comparisons never chain: both their operands bind more tightly.
            left_min = prec + 1 if prec == _GO_PREC["=="] else prec
            return _Bin(op, _at_least(self.node(e.left), left_min), _at_least(self.node(e.right), prec + 1))
        if isinstance(e, ir.Divisible):
            rem = _Bin("%", _at_least(self.node(e.value), _GO_PREC["%"]), _Leaf(str(e.divisor)))
            return _Bin("!=" if e.negate else "==", rem, _Leaf("0"))
        if isinstance(e, ir.Not):
            return _Unary("!", _at_least(self.node(e.operand), _HIGHEST_PREC))
        if isinstance(e, ir.Neg):
            return _Unary("-", _at_least(self.node(e.operand), _HIGHEST_PREC))
        if isinstance(e, ir.Len):
            if isinstance(e.operand, ir.Var) and e.operand.name in self.builders:
                return _Leaf(f"{self.name(e.operand.name)}.Len()")
            return _Call("len", (self.node(e.operand),))
        if isinstance(e, ir.ToFloat):
            return _Call("float64", (self.node(e.operand),))
        if isinstance(e, ir.Index):
            return _Index(_at_least(self.node(e.items), _HIGHEST_PREC), self.node(e.index))
        if isinstance(e, ir.CharIn):
            return _Call("strings.ContainsRune", (_Leaf(self.literal(e.chars, StrType())), self.node(e.char)))
        if isinstance(e, (ir.ToUpper, ir.ToLower)):
            package = "unicode" if isinstance(e.operand.type, ir.CharType) else "strings"
            case = "ToUpper" if isinstance(e, ir.ToUpper) else "ToLower"
            return _Call(f"{package}.{case}", (self.node(e.operand),))
        if isinstance(e, ir.Concat):
            return _Bin("+", _at_least(self.node(e.left), 4), _at_least(self.node(e.right), 5))
        raise TypeError(f"unknown expression {e!r}")
