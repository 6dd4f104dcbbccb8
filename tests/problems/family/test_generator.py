"""The family generator: determinism, distinct behaviours, graded levels, useful tests."""

import json

import pytest

from xpl.problems.family.generator import EDGE_INPUTS, TEMPLATES, TESTS_PER_PROBLEM, fingerprint, generate
from xpl.problems.family.ir import check_function, compile_function
from xpl.problems.problem import Problem


@pytest.fixture(scope="module")
def items():
    return generate(400, seed=0)


def test_same_seed_same_problems_and_other_seed_others(items):
    again = generate(60, seed=0)
    assert [g.problem.to_json() for g in again] == [g.problem.to_json() for g in items[:60]]
    other = generate(60, seed=1)
    assert [g.problem.to_json() for g in other] != [g.problem.to_json() for g in again]


def test_behaviours_are_pairwise_distinct(items):
    digests = [g.problem.meta["fingerprint"] for g in items]
    assert len(set(digests)) == len(items)


def test_levels_cycle_and_every_template_occurs(items):
    assert [g.problem.meta["level"] for g in items[:8]] == [1, 2, 3, 4, 1, 2, 3, 4]
    seen = {g.problem.meta["template"] for g in items}
    every = {t(__import__("random").Random(0)).template for ts in TEMPLATES.values() for t in ts}
    assert every <= seen, f"templates never generated: {sorted(every - seen)}"


def test_tests_are_computed_by_the_ir_and_discriminate(items):
    for g in items:
        check_function(g.fn)
        call = compile_function(g.fn)
        tests = g.problem.tests
        assert TESTS_PER_PROBLEM // 2 <= len(tests) <= TESTS_PER_PROBLEM
        assert tests[0].args == tuple(EDGE_INPUTS[k] for k in g.problem.meta["inputs"])
        assert len({repr(t.args) for t in tests}) == len(tests), "inputs repeat"
        assert len({repr(t.expected) for t in tests}) >= 2, "a constant function would pass"
        for t in tests:
            assert call(*t.args) == t.expected
        assert fingerprint_of(g) == g.problem.meta["fingerprint"]


def fingerprint_of(g):
    from xpl.problems.family.generator import Draft

    meta = g.problem.meta
    return fingerprint(Draft(g.fn, g.problem.description, tuple(meta["inputs"]), meta["level"], meta["template"]))


def test_problems_round_trip_through_json(items):
    for g in items[:50]:
        rec = json.loads(json.dumps(g.problem.to_json()))
        back = Problem.from_json(rec)
        assert back.to_json() == g.problem.to_json()
        assert back.meta["template"] == g.problem.meta["template"]


def test_only_some_levels_and_bad_arguments():
    only = generate(12, seed=5, levels=(4,))
    assert {g.problem.meta["level"] for g in only} == {4}
    with pytest.raises(ValueError, match="levels"):
        generate(3, levels=(7,))
    with pytest.raises(ValueError, match="n must be"):
        generate(-1)


def test_function_of_reads_the_family_name_and_nothing_else(items):
    from xpl.problems.family import function_of

    for p in items[:20]:
        assert function_of(p.problem.name) == p.fn.name
    assert function_of("HumanEval/7") is None
    assert function_of("family-s0-x-check_number") is None
