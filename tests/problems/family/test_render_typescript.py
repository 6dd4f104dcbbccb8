"""The TypeScript family renderer: the JavaScript rendering plus the type annotations tsc needs
(empty containers, a ``const`` literal), checked exactly; generated problems compiled by tsc
and run through the engine."""

import pytest

from tests.problems.family import web_render_cases as cases
from tests.problems.family.render_helpers import assert_all_pass, render_in
from xpl.problems.family.generator import generate


def test_empty_containers_are_annotated():
    assert render_in("typescript", cases.COUNTS) == (
        "  const counts: {[key: string]: number} = {};\n"
        "  for (let i = 0; i < words.length; i++) {\n"
        "    counts[words[i]] = (counts[words[i]] ?? 0) + (words[i].length - 2 * xs[0]);\n"
        "  }\n"
        "  return counts;\n"
    )
    assert render_in("typescript", cases.GROWING).startswith("  const out: number[] = [];\n  let stop = 0;\n")


def test_const_literal_is_declared_with_its_type():
    # `const k = 3` would have the type 3, and `k === 4` would not compile (TS2367);
    # a `let` widens to number by itself.
    body = render_in("typescript", cases.CONSTS)
    assert "  const k: number = 3;\n" in body
    assert "  let found = false;\n" in body


def test_everything_else_is_the_javascript_rendering():
    for fn in (cases.CHAIN, cases.PRECEDENCE, cases.RESERVED):
        assert render_in("typescript", fn) == render_in("javascript", fn)


def test_generated_bodies_differ_from_javascript_only_in_annotations():
    for g in generate(40, seed=3):
        ts, js = render_in("typescript", g.fn).splitlines(), render_in("javascript", g.fn).splitlines()
        assert len(ts) == len(js)
        for t, j in zip(ts, js):
            if t != j:
                assert (
                    t.replace(": number[]", "")
                    .replace(": string[]", "")
                    .replace(": {[key: string]: number}", "")
                    .replace(": number", "")
                    == j
                ), (t, j)


@pytest.mark.slow
def test_rendered_programs_compile_and_pass_their_tests(engine):
    assert_all_pass("typescript", cases.items() + generate(40, seed=3), engine)


@pytest.mark.slow  # compiles and runs every program (tests/slow.py)
def test_literal_comparisons_and_char_constants_compile():
    """Two literals compared (TS2367 without a widening `as`) and a CHAR constant: the
    hand-built Rust/C++ cases hold both; run them through tsc and node."""
    from xpl.languages import get_language
    from tests.problems.family import rust_cpp_cases
    from tests.problems.family.render_helpers import as_problems, assert_all_pass

    if not get_language("typescript").toolchain.available:
        pytest.skip("TypeScript toolchain unavailable")
    assert_all_pass("typescript", as_problems(rust_cpp_cases.CASES, "ts-rc"))
