"""Shared fixtures: one execution engine for the whole session (sandbox auto-detected)."""

from __future__ import annotations

import os

import pytest

from xpl.execution import Engine, Job, Limits
from xpl.execution.verdict import Expected

# Tests run with tight limits so failures surface fast.
TEST_LIMITS = Limits(timeout_s=20.0)


@pytest.fixture(scope="session")
def engine():
    eng = Engine(workers=os.cpu_count() or 2)
    yield eng
    eng.close()


@pytest.fixture
def execute(engine):
    """execute(language, program, num_tests=None, limits=..., expected=None) -> Result"""

    def _run(language, program, num_tests=None, limits=TEST_LIMITS, expected=None):
        return engine.run([Job(language, program, num_tests=num_tests, limits=limits, expected=expected)])[0]

    return _run


@pytest.fixture
def execute_many(engine):
    """execute_many(language, [(program, num_tests or expected values), ...]) -> [Result]
    (one engine call: batched). A ``verdict.Expected`` in place of num_tests is the job's
    expected values (and gives its number of tests)."""

    def _run(language, programs, limits=TEST_LIMITS):
        jobs = []
        for p, n in programs:
            if isinstance(n, Expected):
                jobs.append(Job(language, p, limits=limits, expected=n))
            else:
                jobs.append(Job(language, p, num_tests=n, limits=limits))
        return engine.run(jobs)

    return _run
