"""The built-in family of verified parallel programs.

``build(n, seed, out_dir)`` is the whole pipeline behind ``xpl problems generate``:

1. ``generator.generate``: ``n`` typed problems of graded difficulty, each an IR function with
   an English description and test cases computed by executing the IR;
2. ``verify.verify``: the IR rendered into every usable PL (``render/``) and each solution run
   through the execution engine against its tests; problems that fail anywhere are dropped
   and the failures recorded;
3. ``split.assign_splits``: train/test splits by behaviour group (no leakage);
4. files in ``out_dir``: ``problems.jsonl`` (every kept problem, one solution per PL, its
   split in ``meta.split``), ``train.jsonl``, ``test.jsonl``, ``verification.json`` (counts per
   PL, timings, every failure with its PL and reason) and ``results.sqlite`` (the engine's
   results store: an interrupted run resumes without re-running finished programs).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable, Sequence

from xpl.io import write_json
from xpl.languages import get_language
from xpl.problems.family.generator import LEVELS, Generated, NotEnoughBehaviours, function_of, generate
from xpl.problems.family.render import rendered_languages
from xpl.problems.family.split import assign_splits, behaves_like_any
from xpl.problems.family.verify import Verification, solve, verify
from xpl.problems.io import write_problems
from xpl.problems.problem import Problem

Progress = Callable[[str, int, int], None]  # (stage, done, total)


@dataclass
class Built:
    problems: list[Problem]  # kept, with solutions and meta.split
    verification: Verification | None  # None when verification was skipped
    generate_s: float
    split_s: float
    out_dir: Path | None
    excluded: int = 0  # generated problems dropped for behaving like an excluded one

    def split(self, name: str) -> list[Problem]:
        return [p for p in self.problems if p.meta.get("split") == name]


def build(
    n: int,
    seed: int = 0,
    out_dir: str | Path | None = None,
    languages: Sequence[str] | None = None,
    test_fraction: float = 0.2,
    levels: tuple[int, ...] = LEVELS,
    check: bool = True,
    workers: int | None = None,
    progress: Progress | None = None,
    exclude: Sequence[Problem] = (),
) -> Built:
    """Generate, verify, split and (with ``out_dir``) write ``n`` family problems; with
    ``exclude``, those that behave like one of its problems are dropped (fewer than ``n``
    remain): a pool for pretraining that must never hold another problem set's test problems."""
    from xpl.execution import Engine

    t0 = time.perf_counter()
    items = generate(n, seed, levels)
    excluded = 0
    if exclude:
        kept = [g for g in items if not behaves_like_any(g, exclude)]
        excluded, items = len(items) - len(kept), kept
    generate_s = time.perf_counter() - t0
    if progress:
        progress("generate", n, n)
    verification = None
    if check:
        out = Path(out_dir) if out_dir else None
        if out:
            out.mkdir(parents=True, exist_ok=True)
        engine = Engine(workers=workers, store=out / "results.sqlite" if out else None)
        try:
            verification = verify(
                items, languages, engine, progress=(lambda d, t: progress("verify", d, t)) if progress else None
            )
        finally:
            engine.close()
        kept_names = {p.name for p in verification.kept}
        solved = {p.name: p for p in verification.kept}
        items = [g for g in items if g.problem.name in kept_names]
        problems = [solved[g.problem.name] for g in items]
    else:  # solutions rendered in every PL asked for (or with a renderer), not run
        langs = [get_language(x).name for x in languages] if languages else rendered_languages()
        problems = [solve(g, langs)[0] for g in items]
    t1 = time.perf_counter()
    # Everything in train needs no grouping (grouping compares every pair: minutes for a pool
    # of tens of thousands).
    labels = assign_splits(items, test_fraction, seed) if test_fraction > 0 else ["train"] * len(items)
    split_s = time.perf_counter() - t1
    problems = [replace(p, meta={**p.meta, "split": label}) for p, label in zip(problems, labels)]
    built = Built(problems, verification, generate_s, split_s, Path(out_dir) if out_dir else None, excluded)
    if out_dir:
        write_outputs(built, Path(out_dir), n=n, seed=seed, test_fraction=test_fraction, levels=list(levels))
    return built


def write_outputs(built: Built, out: Path, **params: Any) -> None:
    out.mkdir(parents=True, exist_ok=True)
    write_problems(out / "problems.jsonl", built.problems)
    for name in ("train", "test"):
        write_problems(out / f"{name}.jsonl", built.split(name))
    report: dict[str, Any] = {
        "params": params,
        "problems": len(built.problems),
        "splits": {name: len(built.split(name)) for name in ("train", "test")},
        "generate_s": round(built.generate_s, 2),
        "split_s": round(built.split_s, 2),
        "excluded": built.excluded,
    }
    if built.verification is not None:
        report["verification"] = built.verification.summary()
        report["failures"] = [f.to_dict() for f in built.verification.failures]
    write_json(out / "verification.json", report, indent=2)


__all__ = ["Built", "Generated", "NotEnoughBehaviours", "build", "function_of", "generate", "verify", "assign_splits", "write_outputs"]
