"""Train/test splits of generated problems with no behavioural leakage.

Two problems *behave the same* when one's function passes the other's tests (both have the
same parameter and return types). The generator already drops problems that agree on its
probe inputs, but two different functions can still agree on the few inputs of one
problem's tests: "the number of elements greater than 5" and "... at least 6" do on every
int list. Such problems are joined into one group (union-find over the relation), and whole
groups go to one split, so no test problem can be solved by memorising a train problem.
"""

from __future__ import annotations

import random
from collections import defaultdict
from typing import Any, Callable, Sequence

from xpl.languages.types import values_equal
from xpl.problems.family.generator import Generated
from xpl.problems.family.ir import IRError, compile_function
from xpl.problems.problem import Problem



def _passes(call: Callable[..., Any], problem: Problem) -> bool:
    """``call`` gives the expected value on every test of ``problem``."""
    for t in problem.tests:
        try:
            if not values_equal(call(*t.args), t.expected):
                return False
        except IRError:
            return False
    return True


def _types(problem: Problem) -> tuple:
    """Parameter and return types: only problems with the same ones can behave the same."""
    sig = problem.signature
    return tuple(p.type for p in sig.params), sig.returns


def _same_behaviour(calls: Sequence[Callable[..., Any]], items: Sequence[Generated], a: int, b: int) -> bool:
    """One problem's function passes the other's tests (either way round)."""
    return _passes(calls[a], items[b].problem) or _passes(calls[b], items[a].problem)


def behaviour_groups(items: Sequence[Generated]) -> list[list[int]]:
    """Indices of ``items`` grouped so that problems that behave the same share a group."""
    parent = list(range(len(items)))

    def find(k: int) -> int:
        while parent[k] != k:
            parent[k] = parent[parent[k]]
            k = parent[k]
        return k

    by_types: dict[tuple, list[int]] = defaultdict(list)
    for k, item in enumerate(items):
        by_types[_types(item.problem)].append(k)
    calls = [compile_function(item.fn) for item in items]
    for members in by_types.values():
        for a_pos, a in enumerate(members):
            for b in members[a_pos + 1 :]:
                if find(a) != find(b) and _same_behaviour(calls, items, a, b):
                    parent[find(a)] = find(b)
    groups: dict[int, list[int]] = defaultdict(list)
    for k in range(len(items)):
        groups[find(k)].append(k)
    return sorted(groups.values())


def assign_splits(items: Sequence[Generated], test_fraction: float = 0.2, seed: int = 0) -> list[str]:
    """``"train"`` or ``"test"`` for each item: whole behaviour groups, in a seeded random
    order, go to test until it holds ``test_fraction`` of the problems."""
    if not 0.0 <= test_fraction <= 1.0:
        raise ValueError(f"test_fraction must be between 0 and 1, got {test_fraction}")
    groups = behaviour_groups(items)
    random.Random(f"split:{seed}").shuffle(groups)
    target = round(test_fraction * len(items))
    labels = ["train"] * len(items)
    in_test = 0
    for group in groups:
        if in_test >= target:
            break
        for k in group:
            labels[k] = "test"
        in_test += len(group)
    return labels


def behaves_like_any(item: Generated, others: Sequence[Problem]) -> bool:
    """Whether ``item``'s function passes the tests of one of ``others`` (with the same
    parameter and return types): a model that memorised ``item`` would solve that problem.
    ``others`` need no IR (any problem set read from a file)."""
    call = compile_function(item.fn)
    types = _types(item.problem)
    return any(_types(other) == types and _passes(call, other) for other in others)


def leaks(items: Sequence[Generated], labels: Sequence[str]) -> list[tuple[str, str]]:
    """Pairs (train problem, test problem) that behave the same: empty for a sound split."""
    calls = [compile_function(item.fn) for item in items]
    return [
        (items[a].problem.name, items[b].problem.name)
        for a, la in enumerate(labels)
        for b, lb in enumerate(labels)
        if la == "train" and lb == "test" and _types(items[a].problem) == _types(items[b].problem) and _same_behaviour(calls, items, a, b)
    ]
