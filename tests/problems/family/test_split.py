"""Train/test splits: problems that behave the same never straddle the splits."""

from xpl.languages.types import INT, Param, TestCase
from xpl.problems.family.generator import Generated, generate
from xpl.problems.family.ir import INT_LIST, AugAssign, Bin, ForEach, Function, If, Let, Lit, Return, Var
from xpl.problems.family.split import assign_splits, behaviour_groups, leaks
from xpl.problems.problem import Problem


def count_where(name, op, c, tests):
    x, xs = Var("x", INT), Var("xs", INT_LIST)
    fn = Function(
        name,
        (Param("xs", INT_LIST),),
        INT,
        (
            Let("n", INT, Lit(0, INT)),
            ForEach("x", xs, (If(Bin(op, x, Lit(c, INT)), (AugAssign("n", "+", Lit(1, INT)),)),)),
            Return(Var("n", INT)),
        ),
    )
    return Generated(Problem(name, "test", fn.signature, name, tuple(tests)), fn)


def test_problems_that_pass_each_others_tests_share_a_group():
    tests = [TestCase(([1, 9, 6],), 2), TestCase(([],), 0)]
    greater_5 = count_where("greater_5", ">", 5, tests)
    at_least_6 = count_where("at_least_6", ">=", 6, tests)  # same on every int list
    greater_0 = count_where("greater_0", ">", 0, [TestCase(([1, 9, 6],), 3), TestCase(([],), 0)])
    groups = behaviour_groups([greater_5, at_least_6, greater_0])
    assert sorted(groups) == [[0, 1], [2]]
    for seed in range(10):
        labels = assign_splits([greater_5, at_least_6, greater_0], test_fraction=0.34, seed=seed)
        assert labels[0] == labels[1]
        assert not leaks([greater_5, at_least_6, greater_0], labels)


def test_generated_split_has_the_fraction_and_no_leaks():
    items = generate(240, seed=2)
    labels = assign_splits(items, test_fraction=0.25, seed=2)
    assert abs(labels.count("test") - 60) <= 6  # whole groups: the share is approximate
    assert leaks(items, labels) == []
    assert assign_splits(items, 0.25, 2) == labels  # deterministic
    # Splitting one group across train and test is caught: the check is not vacuous.
    group = next(g for g in behaviour_groups(items) if len(g) > 1)
    broken = list(labels)
    broken[group[0]], broken[group[1]] = "train", "test"
    assert leaks(items, broken)


def test_behaves_like_any_flags_a_function_that_passes_another_sets_tests():
    from xpl.problems.family.split import behaves_like_any

    tests = [TestCase(([1, 9, 6],), 2), TestCase(([],), 0)]
    held_out = count_where("greater_5", ">", 5, tests).problem  # a problem read from a file: no IR
    assert behaves_like_any(count_where("at_least_6", ">=", 6, tests), [held_out])
    assert not behaves_like_any(count_where("greater_0", ">", 0, [TestCase(([1],), 1)]), [held_out])


def test_a_pool_built_with_exclude_holds_no_behaviour_of_the_excluded_test_set():
    """The shipped base's guarantee: its pretraining pool (another seed) is built with the
    default set's test split excluded, so no pool problem solves a held-out problem."""
    from xpl.problems.family import build
    from xpl.problems.family.split import behaves_like_any

    default = build(120, seed=0, levels=(1, 2), check=False)
    test = default.split("test")
    pool = build(300, seed=11, levels=(1,), check=False, test_fraction=0.0, exclude=test)
    assert pool.excluded > 0 and len(pool.problems) == 300 - pool.excluded
    assert all(p.meta["split"] == "train" for p in pool.problems)
    again = generate(300, 11, (1,))
    kept = {p.name for p in pool.problems}
    assert not any(behaves_like_any(g, test) for g in again if g.problem.name in kept)
