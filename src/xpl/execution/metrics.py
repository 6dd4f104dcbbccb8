"""pass@k: the unbiased estimator of Chen et al. (2021), per problem and aggregated."""

from __future__ import annotations

import math
from typing import Iterable, Mapping


def pass_at_k(n: int, c: int, k: int) -> float:
    """Probability that at least one of k samples drawn without replacement from n, of which
    c are correct, is correct: 1 - C(n-c, k) / C(n, k), computed as a stable product."""
    if not 0 <= c <= n:
        raise ValueError(f"need 0 <= c <= n, got n={n}, c={c}")
    if k < 1 or k > n:
        raise ValueError(f"need 1 <= k <= n, got k={k}, n={n}")
    if n - c < k:
        return 1.0
    return 1.0 - math.prod(1.0 - k / i for i in range(n - c + 1, n + 1))


def pass_at_k_table(outcomes: Mapping[str, Iterable[bool]], ks: Iterable[int] = (1, 10, 100)) -> dict[str, dict]:
    """``outcomes``: problem -> correctness of each sample. Returns, for each k that every
    problem has enough samples for, the mean over problems and the per-problem values."""
    per_problem = {p: [bool(x) for x in v] for p, v in outcomes.items()}
    if not per_problem:
        raise ValueError("no problems to score")
    n_min = min(len(v) for v in per_problem.values())
    table: dict[str, dict] = {}
    for k in ks:
        if k > n_min:
            continue
        values = {p: pass_at_k(len(v), sum(v), k) for p, v in per_problem.items()}
        table[f"pass@{k}"] = {"mean": math.fsum(values.values()) / len(values), "per_problem": values}
    return table
