"""JavaScript-specific checks beyond the conformance suite: literals evaluate to exactly the
Python values (strings with escapes and astral characters, dict keys such as "__proto__" and
negative numbers, NaN/infinities, undefined), the harness's type-directed equality, parse
errors versus SyntaxErrors thrown at run time, the heap limit under the engine's memory cap,
the batch layout and reserved names."""

from __future__ import annotations

import json
import math

import pytest

from xpl.execution import Limits
from xpl.execution.baseline import run_batch_unsandboxed, run_one
from xpl.languages import get_language
from xpl.languages.types import INT_MAX, INT_MIN, Signature, TestCase, UnsupportedError, parse_type
from tests.languages import tricky

JS = get_language("javascript")
needs_node = pytest.mark.skipif(not JS.toolchain.available, reason="Node.js not installed")

# The shared tricky strings plus those that matter to this PL's literal syntax.
TRICKY_STRINGS = tricky.STRINGS + ['\\u{41}', '`tpl`', '</script>', '\u2028\u2029', '😀', '𝄞x', '\ud800']
# (annotation, values): each value must evaluate in Node to exactly the Python value.
LITERALS = [
    ("str", TRICKY_STRINGS),
    ("int", [INT_MAX - 1023, INT_MIN, -1, 0, 2**53]),
    ("float", [math.nan, math.inf, -math.inf, -0.0, 5e-324, 1.7976931348623157e308, 1e-7, 1e16, 2.0]),
    ("List[Optional[float]]", [[None, 1.5, math.nan], []]),
    ("Dict[str, int]", [{"__proto__": 1, "constructor": 2, "": 3, "toString": 4, "a b": 5}, {}]),
    ("Dict[int, str]", [{-1: "neg", 0: "zero", 7: "seven"}]),
    ("Dict[float, int]", [{0.5: 1, -2.0: 2}]),
    ("Optional[List[Tuple[int, Optional[str]]]]", [None, [], [(1, None), (2, "x")]]),
    ("Tuple[str, Tuple[int, int], List[float]]", [("a", (1, 2), [0.5])]),
    ("Tuple[()]", [()]),
    ("Dict[str, Dict[int, bool]]", [{"a": {1: True}, "b": {}}]),
]

# Turns what JSON cannot say (undefined, NaN, infinities, -0) into tagged objects.
_DUMP = """
const __replace = (k, v) => v === undefined ? {$: "undefined"}
  : typeof v === "number" && (!Number.isFinite(v) || Object.is(v, -0)) ? {$: Object.is(v, -0) ? "-0" : String(v)}
  : v;
process.stdout.write(JSON.stringify(VALUES, __replace));
"""


def _from_js(text: str):
    def hook(obj):
        if set(obj) == {"$"}:
            return None if obj["$"] == "undefined" else float(obj["$"].replace("Infinity", "inf"))
        return obj

    return json.loads(text, object_hook=hook)


def _as_js(value):
    """A Python value as JavaScript sees it: tuples are arrays, object keys are strings."""
    if isinstance(value, (list, tuple)):
        return [_as_js(v) for v in value]
    if isinstance(value, dict):
        return {_js_key(k): _as_js(v) for k, v in value.items()}
    return value


def _js_key(k) -> str:
    if isinstance(k, float) and k.is_integer():
        return str(int(k))
    return str(k)


def _same(a, b) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return (math.isnan(a) and math.isnan(b)) or (a == b and math.copysign(1, a) == math.copysign(1, b))
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    return type(a) is type(b) and a == b


@needs_node
def test_literals_evaluate_to_the_python_values():
    rendered, expected = [], []
    for annotation, values in LITERALS:
        typ = parse_type(annotation)
        for v in values:
            rendered.append(JS.render_value(v, typ))
            # Python ints beyond 2**53 arrive as the nearest double, as in any JS program.
            expected.append(float(v) if isinstance(v, int) and abs(v) > 2**53 else _as_js(v))
    program = _DUMP.replace("VALUES", "[\n" + ",\n".join(rendered) + "\n]")
    res = run_one("javascript", program)
    assert res.exit_code == 0, res.stderr
    got = _from_js(res.stdout)
    for lit, want, have in zip(rendered, expected, got):
        if isinstance(want, float) or isinstance(have, float):
            assert isinstance(have, (int, float)) and _same(float(want), float(have)), (lit, want, have)
        else:
            assert _same(want, have), (lit, want, have)


def test_literal_spelling():
    assert JS.render_value('a"b\\c\nd😀', parse_type("str")) == '"a\\"b\\\\c\\nd\\u{1f600}"'
    assert JS.render_value({"__proto__": 1, "x": 2}, parse_type("Dict[str, int]")) == '{["__proto__"]: 1, "x": 2}'
    dict_of_lists = parse_type("Dict[int, List[Optional[int]]]")
    assert JS.render_value({-1: [], 2: [None]}, dict_of_lists) == "{[-1]: [], 2: [undefined]}"
    assert JS.render_value((1, "a"), parse_type("Tuple[int, str]")) == '[1, "a"]'
    assert JS.render_value(None, parse_type("Optional[int]")) == "undefined"
    assert JS.render_value(math.inf, parse_type("float")) == "Infinity"
    with pytest.raises(UnsupportedError):
        JS.render_value(2**63, parse_type("int"))


def test_dict_keys_that_objects_cannot_hold_are_unsupported():
    for annotation in ("Dict[Tuple[int, int], int]", "Dict[bool, int]", "Dict[Optional[str], int]"):
        sig = Signature.parse("f", [("d", annotation)], "int")
        assert JS.supports(sig) is not None, annotation
        with pytest.raises(UnsupportedError):
            JS.prompt(sig, "")
    assert JS.supports(Signature.parse("f", [("d", "Dict[float, List[str]]")], "Optional[Tuple[int, str]]")) is None


def test_prompt_is_multipl_e_style():
    sig = Signature.parse("sum_to", [("n", "int"), ("class", "List[int]")], "int")
    assert JS.prompt(sig, "Sum things.\n>>> sum_to(2, [])\n3") == (
        "// Sum things.\n// >>> sum_to(2, [])\n// 3\nfunction sum_to(n, class_){\n"
    )
    assert JS.identifier("eval") == "eval_" and JS.identifier("of") == "of"


# A function of a selector k whose results probe the harness's equality, with the expected
# verdict of each test (mirroring xpl.languages.types.values_equal where JavaScript can).
EQUALITY_PROBES = [
    (
        "int",
        "  return [3, 3.0000000001, '3', 3n, 10000001, true, 2.5][k];\n",
        [(3, True), (3, True), (3, False), (3, True), (10000000, False), (1, False), (3, False)],
    ),
    (
        "float",
        "  return [NaN, Infinity, 1, 0.1 + 0.2, -0, 1e-10][k];\n",
        [(math.nan, True), (math.inf, True), (1.0, True), (0.3, True), (0.0, True), (0.0, True)],
    ),
    (
        "Dict[int, str]",
        (
            "  class C { constructor() { this[1] = 'a'; } }\n"
            "  return [new Map([[1, 'a']]), {1: 'a', 2: 'b'}, ['a'], Object.create(null), new C()][k];\n"
        ),
        [({1: "a"}, True), ({1: "a"}, False), ({0: "a"}, False), ({}, True), ({1: "a"}, False)],
    ),
    (
        "Optional[List[int]]",
        "  return [null, undefined, 0, [1, undefined], [1, 2]][k];\n",
        [(None, True), (None, True), (None, False), ([1, 2], False), ([1, 2], True)],
    ),
    (
        "Tuple[int, str]",
        "  return [[1, 'a'], [1, 'a', 2], [1], ['1', 'a']][k];\n",
        [((1, "a"), True), ((1, "a"), False), ((1, "a"), False), ((1, "a"), False)],
    ),
    ("None", "  return [undefined, null, 0][k];\n", [(None, True), (None, True), (None, False)]),
]


@needs_node
@pytest.mark.parametrize("annotation,body,cases", EQUALITY_PROBES, ids=[p[0] for p in EQUALITY_PROBES])
def test_harness_equality(annotation, body, cases, execute):
    sig = Signature.parse("probe", [("k", "int")], annotation)
    tests = [TestCase((k,), expected) for k, (expected, _) in enumerate(cases)]
    res = execute("javascript", JS.check_program(sig, "Probe.", body, tests), len(tests))
    assert res.failed_tests == [k for k, (_, ok) in enumerate(cases) if not ok], res.describe()


@needs_node
def test_harness_survives_what_solutions_do(execute):
    # A helper called `process`, a thrown non-Error, deep recursion: each test still reports.
    body = (
        "  if (k === 0) throw 'plain string';\n"
        "  if (k === 1) return probe(k);\n"
        "  return process(k);\n"
    )
    sig = Signature.parse("probe", [("k", "int")], "int")
    program = JS.check_program(sig, "", body, [TestCase((k,), 4) for k in range(3)])
    helper = "function process(k) { return k + 2; }\n"
    program = program.replace("// ---- xpl test harness", helper + "// ---- xpl test harness")
    res = execute("javascript", program, 3)
    assert (res.status, res.passed, res.failed_tests) == ("runtime_error", 1, [0, 1]), res.describe()
    assert 'test 0: "plain string"' in res.stderr and "Maximum call stack size exceeded" in res.stderr


def test_parse_errors_are_told_from_syntax_errors_at_run_time():
    parse_error = (
        "/xpl/build/main.js:5\n  return a +* b;\n            ^\n\nSyntaxError: Unexpected token '*'\n"
        "    at wrapSafe (node:internal/modules/cjs/loader:1464:18)\n"
        "    at Module._compile (node:internal/modules/cjs/loader:1495:20)\n"
    )
    thrown = (
        "<anonymous_script>:1\n{bad\n ^\n\nSyntaxError: Expected property name or '}' in JSON at position 1\n"
        "    at JSON.parse (<anonymous>)\n    at Object.<anonymous> (/xpl/build/main.js:1:6)\n"
        "    at Module._compile (node:internal/modules/cjs/loader:1521:14)\n"
    )
    assert JS.looks_like("syntax", parse_error)
    assert not JS.looks_like("syntax", thrown)
    heap = "FATAL ERROR: Reached heap limit Allocation failed - JavaScript heap out of memory\n"
    assert JS.looks_like("memory", heap)
    assert JS.looks_like("memory", "#\n# Fatal JavaScript invalid size error 169220804 (see crbug.com/1201626)\n")
    assert JS.looks_like("memory", "terminate called after throwing an instance of 'std::bad_alloc'\n  what():\n")
    assert not JS.looks_like("memory", "test 2: RangeError: Array buffer allocation failed\n    at new ArrayBuffer\n")


@needs_node
def test_syntax_error_thrown_at_run_time_is_a_runtime_error(execute):
    program = JS.check_program(Signature.parse("f", [], "int"), "", "  return 1;\n", [TestCase((), 1)])
    res = execute("javascript", 'JSON.parse("{bad");\n' + program, 1)
    assert res.status == "runtime_error", res.describe()


@needs_node
def test_memory_hog_hits_the_heap_limit(execute):
    body = "  const hog = [];\n  for (;;) hog.push(new Array(100000).fill(k));\n"
    program = JS.check_program(Signature.parse("f", [("k", "int")], "int"), "", body, [TestCase((1,), 1)])
    res = execute("javascript", program, 1, limits=Limits(timeout_s=20.0, memory_mb=256))
    assert res.status == "memory_limit", res.describe()


def test_run_env_sizes_the_heap_from_the_memory_limit():
    assert JS.run_env(JS.toolchain, 1024) == {"NODE_OPTIONS": "--max-old-space-size=768"}


@needs_node
def test_batch_runs_each_program_alone():
    sig = Signature.parse("add", [("a", "int"), ("b", "int")], "int")
    tests = [TestCase((1, 2), 3)]
    bodies = ("  return a + b;\n", "  return a - b;\n", "  return a +* b;\n")
    programs = [JS.check_program(sig, "", body, tests) for body in bodies]
    plan = JS.plan_batch(programs, JS.toolchain)
    assert plan.commands == [] and plan.owners == {"c0/main.js": 0, "c1/main.js": 1, "c2/main.js": 2}
    ok, wrong, broken = run_batch_unsandboxed("javascript", programs)
    assert (ok.exit_code, wrong.exit_code, broken.exit_code) == (0, 1, 1)
    assert " 0 pass" in ok.stdout and " 0 fail" in wrong.stdout
    assert JS.looks_like("syntax", broken.stderr) and "@@xpl" not in broken.stdout
