"""The translations SmolLM2-135M-Instruct made (`xpl corpus translate`, the runs of
benchmarks/RESULTS.md "Translations by a model"), re-verified: every kept translation, read
back from the problems file the run wrote, passes its problem's tests in its PL through the
engine, and the files hold exactly the kept counts that RESULTS.md reports.

The files (tests/data/translations/, only the problems with at least one kept translation):
family-prompt (100 held-out family problems, answer opened with the target prompt),
family-fence (the first 50, answer opened with the fence alone), family-both (the first 48,
`--prefill both`), humaneval-fence (HumanEval, the fence, all 161 problems)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from xpl.execution import Job
from xpl.languages import get_language
from xpl.problems import read_problems
from tests.slow import slow

DATA = Path(__file__).resolve().parents[1] / "data" / "translations"

# Kept translations per PL, as RESULTS.md reports them.
KEPT = {
    "family-prompt": {"rust": 10, "go": 42, "javascript": 50},
    "family-fence": {"rust": 23, "go": 10, "java": 23},
    "family-both": {"rust": 23, "go": 22, "java": 22, "javascript": 26},
    "humaneval-fence": {"rust": 3, "go": 4, "java": 2, "javascript": 3},
}


def _load(name: str):
    problems, errors = read_problems(DATA / f"{name}.jsonl")
    assert not errors, errors
    return problems


@pytest.mark.parametrize("name", sorted(KEPT))
def test_the_files_hold_what_results_reports(name):
    problems = _load(name)
    counts = Counter(lang for p in problems for lang in p.meta["translated"])
    assert dict(counts) == KEPT[name]
    for p in problems:
        # A kept translation is a solution of the problem, next to the source it came from.
        assert "python" in p.solutions and set(p.meta["translated"]) <= set(p.solutions)


@slow
@pytest.mark.parametrize("name", sorted(KEPT))
def test_every_kept_translation_passes_its_tests_again(name, engine):
    problems = _load(name)
    jobs, labels = [], []
    for p in problems:
        for lang in p.meta["translated"]:
            if not get_language(lang).toolchain.available:
                pytest.skip(f"no {lang} toolchain")
            jobs.append(Job(lang, p.solution_program(lang), len(p.tests), expected=p.expected_results(lang)))
            labels.append(f"{p.name} {lang}")
    results = engine.run(jobs)
    failed = [(label, r.status.value, r.stderr[-200:] or r.compile_output[-200:]) for label, r in zip(labels, results) if not r.ok]
    assert not failed, failed
