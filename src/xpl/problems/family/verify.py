"""Render every generated problem in every usable PL and run each solution through the engine.

A problem is kept only when its solution passes its tests in every PL that was checked; every
failure is recorded with the PL, the engine's status and the reason (the tail of the
compiler's or the program's output), so a renderer bug is found and named, never hidden.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Sequence

from xpl.execution import Engine, Job
from xpl.languages import get_language
from xpl.languages.types import UnsupportedError
from xpl.problems.family.generator import Generated
from xpl.problems.family.render import renderer_for, rendered_languages
from xpl.problems.problem import Problem


@dataclass(frozen=True)
class Failure:
    problem: str
    language: str
    status: str  # an engine status, or "render_error"
    detail: str

    def to_dict(self) -> dict[str, str]:
        return {"problem": self.problem, "language": self.language, "status": self.status, "detail": self.detail}


@dataclass
class Verification:
    """The outcome of ``verify``: the problems kept (with a solution per checked PL) and why
    the others were dropped."""

    kept: list[Problem]
    failures: list[Failure]
    languages: list[str]  # the PLs every kept problem was checked in
    unavailable: dict[str, str]  # PL -> why it was not checked (no toolchain, no renderer)
    seconds: float
    programs: int
    passed: Counter = field(default_factory=Counter)  # PL -> solutions that passed
    # PL -> seconds spent compiling (each program's share of its batch) and running
    compile_s: Counter = field(default_factory=Counter)
    run_s: Counter = field(default_factory=Counter)

    def summary(self) -> dict[str, Any]:
        failed = Counter(f.language for f in self.failures)
        return {
            "kept": len(self.kept),
            "dropped": len({f.problem for f in self.failures}),
            "programs": self.programs,
            "seconds": round(self.seconds, 1),
            "languages": {
                lang: {
                    "passed": self.passed[lang],
                    "failed": failed[lang],
                    "compile_s": round(self.compile_s[lang], 1),
                    "run_s": round(self.run_s[lang], 1),
                }
                for lang in self.languages
            },
            "unavailable": self.unavailable,
        }


def usable_languages(requested: Sequence[str] | None = None) -> tuple[list[str], dict[str, str]]:
    """The PLs to verify in (those with a renderer and a toolchain here) and why the others
    are left out. ``requested`` (ids or aliases) restricts the set; an unknown PL raises."""
    names = [get_language(x).name for x in requested] if requested else rendered_languages()
    usable, unavailable = [], {}
    for name in names:
        try:
            renderer_for(name)
        except KeyError as exc:
            unavailable[name] = str(exc.args[0])
            continue
        tc = get_language(name).toolchain
        if tc.available:
            usable.append(name)
        else:
            unavailable[name] = tc.problem
    return usable, unavailable


def solve(item: Generated, languages: Sequence[str]) -> tuple[Problem, list[Failure]]:
    """The problem with its solution rendered in each PL; PLs whose renderer cannot express it
    give a ``render_error`` failure instead."""
    solutions, failures = dict(item.problem.solutions), []
    for lang in languages:
        try:
            solutions[lang] = renderer_for(lang).body(item.fn)
        except UnsupportedError as exc:
            failures.append(Failure(item.problem.name, lang, "render_error", exc.reason))
    return replace(item.problem, solutions=solutions), failures


def verify(
    items: Sequence[Generated],
    languages: Sequence[str] | None = None,
    engine: Engine | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> Verification:
    """Run each problem's solution in each usable PL against its tests (one engine run, so
    compiled PLs are built in batches) and keep the problems that pass everywhere."""
    start = time.perf_counter()
    langs, unavailable = usable_languages(languages)
    solved, failures = [], []
    jobs: list[Job] = []
    for item in items:
        problem, render_failures = solve(item, langs)
        solved.append(problem)
        failures += render_failures
        for lang in langs:
            if lang in problem.solutions:
                program = problem.solution_program(lang)
                jobs.append(Job(lang, program, len(problem.tests), id=f"{problem.name}:{lang}", expected=problem.expected_results(lang)))
    own_engine = engine is None
    engine = engine or Engine()
    try:
        results = engine.run(jobs, progress=progress) if jobs else []
    finally:
        if own_engine:
            engine.close()
    passed: Counter = Counter()
    compile_s: Counter = Counter()
    run_s: Counter = Counter()
    for job, result in zip(jobs, results):
        name, lang = job.id.rsplit(":", 1)  # type: ignore[union-attr]
        compile_s[lang] += result.compile_s or 0.0
        run_s[lang] += result.run_s or 0.0
        if result.ok:
            passed[lang] += 1
        else:
            failures.append(Failure(name, lang, result.status.value, result.describe()))
    dropped = {f.problem for f in failures}
    kept = [p for p in solved if p.name not in dropped]
    elapsed = time.perf_counter() - start
    return Verification(kept, failures, langs, unavailable, elapsed, len(jobs), passed, compile_s, run_s)
