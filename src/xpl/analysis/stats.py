"""Uncertainty for pass@1 over problems and seeds: a two-level (seeds, then problems) bootstrap.

Scores come as a matrix ``[seed, problem]`` of per-problem pass@1 estimates (the fraction of
a problem's samples that passed). One bootstrap replicate resamples seeds with replacement,
then problems with replacement (the same problems for every seed, since every seed is
evaluated on the same problems), and averages. Differences between two arms are *paired*:
both arms use the same resampled seeds and problems in each replicate, which is what makes a
small difference measurable. Percentile intervals; the generator is seeded, so a report is
reproducible. (scipy.stats.bootstrap resamples one level only, hence this small function.)

``fmt`` and ``verdict`` write estimates and differences the one way every report does.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Estimate:
    mean: float
    low: float
    high: float

    def to_dict(self) -> dict[str, float]:
        return {"mean": self.mean, "low": self.low, "high": self.high}

    def excludes_zero(self) -> bool:
        return self.low > 0 or self.high < 0


def _replicates(shape: tuple[int, int], reps: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    seeds = rng.integers(0, shape[0], size=(reps, shape[0]))
    problems = rng.integers(0, shape[1], size=(reps, shape[1]))
    return seeds, problems


def _boot_means(scores: np.ndarray, seeds: np.ndarray, problems: np.ndarray) -> np.ndarray:
    # scores[seeds[r]][:, problems[r]].mean() for every replicate r, vectorised
    picked = scores[seeds[:, :, None], problems[:, None, :]]
    return picked.mean(axis=(1, 2))


def bootstrap(scores: np.ndarray, reps: int = 2000, level: float = 0.95, seed: int = 0) -> Estimate:
    """Mean of ``scores`` ([seed, problem]) with a percentile interval."""
    scores = np.asarray(scores, dtype=float)
    if scores.ndim != 2 or scores.size == 0:
        raise ValueError(f"scores must be a non-empty [seed, problem] matrix, got shape {scores.shape}")
    seeds, problems = _replicates(scores.shape, reps, seed)
    means = _boot_means(scores, seeds, problems)
    alpha = (1 - level) / 2
    return Estimate(float(scores.mean()), float(np.quantile(means, alpha)), float(np.quantile(means, 1 - alpha)))


def bootstrap_difference(a: np.ndarray, b: np.ndarray, reps: int = 2000, level: float = 0.95, seed: int = 0) -> Estimate:
    """Mean of ``a - b`` (paired [seed, problem] matrices of the same shape) with an interval."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if a.shape != b.shape:
        raise ValueError(f"paired scores must have the same shape, got {a.shape} and {b.shape}")
    return bootstrap(a - b, reps, level, seed)


def _estimate(e: Estimate | Mapping[str, float]) -> Estimate:
    return e if isinstance(e, Estimate) else Estimate(e["mean"], e["low"], e["high"])


def fmt(e: Estimate | Mapping[str, float], signed: bool = False, digits: int = 3) -> str:
    """An estimate (or a mapping with its ``mean``, ``low``, ``high``) for a report:
    ``0.123 [0.100, 0.150]``; ``signed`` for differences: ``+0.023 [-0.010, +0.050]``."""
    e = _estimate(e)
    sign = "+" if signed else ""
    return f"{e.mean:{sign}.{digits}f} [{e.low:{sign}.{digits}f}, {e.high:{sign}.{digits}f}]"


def verdict(delta: Estimate | Mapping[str, float], what: str, lower_is_better: bool = False) -> str:
    """A paired difference in words: ``{what} helped / hurt / made no measurable difference``,
    by whether its 95% interval excludes 0 and on which side (``lower_is_better`` for losses)."""
    e = _estimate(delta)
    better = e.high < 0 if lower_is_better else e.low > 0
    worse = e.low > 0 if lower_is_better else e.high < 0
    if better:
        return f"{what} helped ({fmt(e, True)}; the 95% CI excludes 0)"
    if worse:
        return f"{what} hurt ({fmt(e, True)}; the 95% CI excludes 0)"
    return f"{what} made no measurable difference ({fmt(e, True)}; the 95% CI includes 0)"
