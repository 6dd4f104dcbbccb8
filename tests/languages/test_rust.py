"""Rust-specific checks beyond the conformance suite: the rustup toolchain resolution, literal
edge cases, the batch crate (a candidate behaves in it exactly as alone, blame names the broken
one), reserved names and what Rust cannot express. Run without the engine (no sandbox needed)."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from xpl.execution.baseline import run_one
from xpl.languages import get_language
from xpl.languages.base import BuildPlan
from xpl.languages.types import INT_MAX, INT_MIN, Signature, TestCase, UnsupportedError
from tests.languages import tricky
from tests.languages.harness import round_trip_in_one_batch
from xpl.execution.baseline import build_plan, run_built
from tests.slow import toolchain_test

RUST = get_language("rs")
# Runs the toolchain: skipped without it, and `slow` (tests/slow.py).
needs_rust = toolchain_test(RUST.toolchain.available, "Rust toolchain not installed")

# The shared tricky strings plus those that matter to this PL's literal syntax.
TRICKY_STRINGS = tricky.STRINGS + ['\\u{41}', '\u2028', '😀', 'r#"raw"#']
TRICKY = [
    ("str", TRICKY_STRINGS),
    ("int", [INT_MAX, INT_MIN, -1, 0]),
    ("float", [math.nan, math.inf, -math.inf, -0.0, 5e-324, 1.7976931348623157e308, 1e-7, 1e16, 2.0]),
    ("List[Optional[float]]", [[None, 1.5, math.nan], []]),
    ("Dict[Tuple[int, str], List[float]]", [{(1, "a"): [0.5], (INT_MIN, ""): []}, {}]),
    ("Optional[List[Tuple[int, Optional[str]]]]", [None, [], [(1, None), (2, "x")]]),
    ("Tuple[str, Tuple[int, bool], List[float]]", [("a", (1, False), [0.5])]),
    ("Tuple[int]", [(7,)]),
    ("Tuple[()]", [()]),
    ("Dict[str, Dict[int, bool]]", [{"a": {1: True}, "b": {}}]),
]




def _run(plan: BuildPlan, tmp: Path, i: int) -> tuple[str, int]:
    proc = run_built("rust", plan, i, tmp)
    return proc.stdout, proc.returncode


def test_toolchain_is_the_real_compiler_not_the_rustup_proxy():
    tc = RUST.toolchain
    if not tc.available:
        pytest.skip(tc.problem)
    rustc = Path(tc.paths["rustc"])
    assert rustc.name == "rustc" and rustc.parent.name == "bin"
    assert str(rustc.parent.parent) in tc.roots, "the sysroot must be mounted in the sandbox"
    assert tc.version.startswith("rustc "), tc.version


def test_types_follow_multipl_e_with_64_bit_ints():
    sig = Signature.parse("f", [("xs", "List[Tuple[int, str]]"), ("m", "Dict[str, Optional[float]]")], "None")
    prompt = RUST.prompt(sig, "Doc.")
    assert prompt.startswith("use std::collections::HashMap;\n\n/// Doc.\n")
    assert prompt.endswith("fn f(xs: Vec<(i64, String)>, m: HashMap<String, Option<f64>>) {\n")
    assert RUST.render_type(Signature.parse("g", [], "Tuple[int]").returns) == "(i64,)"
    assert RUST.render_value([], Signature.parse("g", [], "List[str]").returns) == "Vec::<String>::new()"
    assert RUST.render_value(INT_MIN, Signature.parse("g", [], "int").returns) == "i64::MIN"


def test_unsupported_and_reserved():
    with pytest.raises(UnsupportedError):
        RUST.render_type(Signature.parse("g", [], "Dict[float, int]").returns)
    with pytest.raises(UnsupportedError):
        RUST.render_value("\ud800", Signature.parse("g", [], "str").returns)
    assert RUST.supports(Signature.parse("g", [("k", "Dict[Tuple[float, int], int]")], "int")) is not None
    assert RUST.supports(Signature.parse("g", [], "Tuple[" + ", ".join(["int"] * 13) + "]")) is not None
    assert RUST.identifier("type") == "type_" and RUST.identifier("main") == "main_"
    assert RUST.identifier("value") == "value"


@needs_rust
def test_tricky_literals_round_trip_and_reserved_parameter_names(tmp_path):
    # the parameter is named after a reserved word, which the module must rename
    assert not round_trip_in_one_batch(RUST, TRICKY, "type", "    type_\n", tmp_path)


@needs_rust
def test_void_function_and_panics_inside_tests():
    sig = Signature.parse("check", [("n", "int")], "None")
    body = '    if n < 0 {\n        panic!("negative");\n    }\n'
    tests = [TestCase((1,), None), TestCase((-1,), None)]
    res = run_one("rust", RUST.check_program(sig, "Panics on negatives.", body, tests))
    assert res.exit_code == 1
    assert [ln.split()[-1] for ln in res.stdout.splitlines() if ln.startswith("@@xpl")] == ["pass", "error", "done"]


# Programs whose exit status and output must not change when they are built as part of a batch.
STANDALONE = {
    "prints": 'fn main() {\n    println!("hello");\n}\n',
    "panics": 'fn main() {\n    let v: Vec<i64> = Vec::new();\n    println!("{}", v[3]);\n}\n',
    "err_from_main": 'fn main() -> Result<(), String> {\n    println!("before");\n    Err("bad".into())\n}\n',
    "exits": "fn main() {\n    std::process::exit(3);\n}\n",
    "no_trailing_newline": (
        "use std::collections::HashMap;\n"
        'fn main() {\n    let m: HashMap<i64, i64> = HashMap::new();\n    print!("{}", m.len());\n} // end'
    ),
    "sees_no_selector": (
        'fn main() {\n    print!("{}", std::env::vars().any(|(k, _)| k.starts_with("XPL_BATCH")));\n}\n'
    ),
    "broken": "fn main() {\n    let x: i64 = \"s\";\n}\n",
}


@needs_rust
def test_batch_behaves_like_standalone_and_blames_the_broken_candidate(tmp_path):
    names = list(STANDALONE)
    sources = [STANDALONE[n] for n in names]
    broken = names.index("broken")
    plan = RUST.plan_batch(sources, RUST.toolchain)
    # line numbers are the candidate's own: the entry point is appended after the last line
    for i, src in enumerate(sources):
        assert plan.files[f"c{i}.rs"].startswith(src)
    proc = build_plan(plan, tmp_path / "all")
    assert proc.returncode != 0
    assert RUST.blame(proc.stdout + proc.stderr, plan) == {broken}
    names.remove("broken")
    plan = RUST.plan_batch([STANDALONE[n] for n in names], RUST.toolchain)
    proc = build_plan(plan, tmp_path / "rest")
    assert proc.returncode == 0, proc.stderr
    for i, name in enumerate(names):
        alone = run_one("rust", STANDALONE[name])
        assert _run(plan, tmp_path / "rest", i) == (alone.stdout, alone.exit_code), name
    assert _run(plan, tmp_path / "rest", names.index("panics"))[1] == 101
    assert _run(plan, tmp_path / "rest", names.index("sees_no_selector"))[0] == "false"


UNION_SIG = Signature.parse("rounded_avg", [("n", "int"), ("m", "int")], "Union[str, int]")
UNION_TESTS = [TestCase((1, 5), "0b11"), TestCase((7, 5), -1)]


def test_a_union_is_an_enum_declared_in_the_prompt_and_shown_to_instruct_models():
    prompt = RUST.prompt(UNION_SIG, "Doc.")
    assert "#[derive(Debug, Clone, PartialEq)]\nenum StrOrInt {\n    Str(String),\n    Int(i64),\n}\n" in prompt
    assert prompt.endswith("fn rounded_avg(n: i64, m: i64) -> StrOrInt {\n")
    assert "enum StrOrInt" in RUST.chat_message(UNION_SIG, "Doc.")
    assert RUST.render_value(-1, UNION_SIG.returns) == "StrOrInt::Int(-1)"
    # an Any value is boxed with its own type (a bare 4 would be an i32), maps by full path
    any_list = Signature.parse("f", [("xs", "List[Any]")], "int").params[0].type
    assert RUST.render_value([4, {}], any_list) == (
        "vec![Box::<i64>::new(4) as Box<dyn std::any::Any>, Box::<std::collections::HashMap<i64, i64>>::new("
        "std::collections::HashMap::<i64, i64>::new()) as Box<dyn std::any::Any>]"
    )
    with pytest.raises(UnsupportedError, match="Any in the result type"):
        RUST.harness(Signature.parse("f", [], "List[Any]"), [])


@needs_rust
def test_a_chat_reply_that_declares_the_enum_itself_still_compiles():
    body = 'if m < n { return StrOrInt::Int(-1); }\n    StrOrInt::Str(format!("0b{:b}", (n + m) / 2))'
    own_enum = "#[derive(Debug, PartialEq)]\nenum StrOrInt {\n    Str(String),\n    Int(i64),\n}\n\n"
    for reply in (f"```rust\nfn rounded_avg(n: i64, m: i64) -> StrOrInt {{\n    {body}\n}}\n```",
                  f"```rust\n{own_enum}fn rounded_avg(n: i64, m: i64) -> StrOrInt {{\n    {body}\n}}\n```"):
        program = RUST.chat_program(UNION_SIG, reply, RUST.harness(UNION_SIG, UNION_TESTS))
        assert program.count("enum StrOrInt") == 1
        res = run_one("rust", program)
        assert res.exit_code == 0 and 'value "0b11"' in res.stdout and "value -1" in res.stdout, res.stdout + res.stderr


# Value-protocol programs (the engine's form) of several return types, for the shared prelude.
SHARED_CASES = [
    ("pair", "Tuple[int, str]", "    (n, n.to_string())\n"),
    ("triple", "List[Tuple[int, bool, float]]", "    vec![(n, n > 0, 0.5)]\n"),
    ("single", "Tuple[int]", "    (n,)\n"),
    ("pair_again", "Tuple[int, str]", "    (n + 1, String::new())\n"),
    ("either", "Union[str, int]", "    if n > 0 { StrOrInt::Int(n) } else { StrOrInt::Str(\"neg\".to_string()) }\n"),
    ("mentions", "int", "    // xpl_report and XplJson are only words here\n    n * 2\n"),
    ("broken", "int", "    n +\n"),
]


@needs_rust
def test_batch_shares_the_value_prelude_without_changing_any_program(tmp_path):
    """The batch compiles one copy of the value harness's prelude (XplJson and its impls,
    tuple impls of every arity used, xpl_report) in the crate root; each program's output is
    the same as alone, a candidate mentioning the prelude's names keeps its own copy, and a
    broken candidate is still the only one blamed."""
    programs = []
    for name, returns, body in SHARED_CASES:
        sig = Signature.parse(name, [("n", "int")], returns)
        tests = [TestCase((3,), None), TestCase((-2,), None)]
        programs.append(RUST.program(sig, "Doc.", body, tests))
    plan = RUST.plan_batch(programs, RUST.toolchain)
    main = plan.files["main.rs"]
    assert main.startswith("mod xpl_prelude {") and main.count("XplJson for (A0, A1)") == 1
    assert "XplJson for (A0,)" in main and "XplJson for (A0, A1, A2)" in main
    uses = [("use crate::xpl_prelude::" in plan.files[f"c{i}.rs"]) for i in range(len(programs))]
    assert uses == [True, True, True, True, True, False, True]
    broken = len(programs) - 1
    proc = build_plan(plan, tmp_path / "all")
    assert proc.returncode != 0 and RUST.blame(proc.stdout + proc.stderr, plan) == {broken}
    plan = RUST.plan_batch(programs[:broken], RUST.toolchain)
    proc = build_plan(plan, tmp_path / "rest")
    assert proc.returncode == 0, proc.stderr[-3000:]
    for i, source in enumerate(programs[:broken]):
        alone = run_one("rust", source)
        assert alone.exit_code == 0 and "@@xpl - 1 value" in alone.stdout, alone.stderr
        assert _run(plan, tmp_path / "rest", i) == (alone.stdout, alone.exit_code), SHARED_CASES[i][0]
