"""The TypeScript family renderer: the JavaScript rendering plus the type annotations tsc needs
(empty containers, a ``const`` literal), checked exactly; generated problems compiled by tsc
and run through the engine."""

import pytest

from tests.problems.family import web_render_cases as cases
from xpl.languages import get_language
from xpl.problems.family.generator import generate
from xpl.problems.family.render import renderer_for
from xpl.problems.family.verify import verify

TS = get_language("typescript")


def render(fn, language="typescript") -> str:
    return renderer_for(language).body(fn)


def test_empty_containers_are_annotated():
    assert render(cases.COUNTS) == (
        "  const counts: {[key: string]: number} = {};\n"
        "  for (let i = 0; i < words.length; i++) {\n"
        "    counts[words[i]] = (counts[words[i]] ?? 0) + (words[i].length - 2 * xs[0]);\n"
        "  }\n"
        "  return counts;\n"
    )
    assert render(cases.GROWING).startswith("  const out: number[] = [];\n  let stop = 0;\n")


def test_const_literal_is_declared_with_its_type():
    # `const k = 3` would have the type 3, and `k === 4` would not compile (TS2367);
    # a `let` widens to number by itself.
    body = render(cases.CONSTS)
    assert "  const k: number = 3;\n" in body
    assert "  let found = false;\n" in body


def test_everything_else_is_the_javascript_rendering():
    for fn in (cases.CHAIN, cases.PRECEDENCE, cases.RESERVED):
        assert render(fn) == render(fn, "javascript")


def test_generated_bodies_differ_from_javascript_only_in_annotations():
    for g in generate(40, seed=3):
        ts, js = render(g.fn).splitlines(), render(g.fn, "javascript").splitlines()
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
@pytest.mark.skipif(not TS.toolchain.available, reason=f"TypeScript not installed: {TS.toolchain.problem}")
def test_rendered_programs_compile_and_pass_their_tests(engine):
    v = verify(cases.items() + generate(40, seed=3), ["typescript"], engine=engine)
    assert not v.unavailable
    assert not v.failures, "\n\n".join(f"{f.problem}: {f.status}\n{f.detail[:1500]}" for f in v.failures)
    assert v.passed["typescript"] == len(cases.CASES) + 40
