"""Shared fixtures: one execution engine for the whole session (sandbox auto-detected)."""

from __future__ import annotations

import os

import pytest

from xpl.execution import Engine, Job, Limits

# Tests run with tight limits so failures surface fast.
TEST_LIMITS = Limits(timeout_s=20.0)


@pytest.fixture(scope="session")
def engine():
    eng = Engine(workers=os.cpu_count() or 2)
    yield eng
    eng.close()


@pytest.fixture
def execute(engine):
    """execute(language, program, num_tests=None, limits=...) -> Result"""

    def _run(language, program, num_tests=None, limits=TEST_LIMITS):
        return engine.run([Job(language, program, num_tests=num_tests, limits=limits)])[0]

    return _run


@pytest.fixture
def execute_many(engine):
    """execute_many(language, [(program, num_tests), ...]) -> [Result] (one engine call: batched)."""

    def _run(language, programs, limits=TEST_LIMITS):
        return engine.run([Job(language, p, num_tests=n, limits=limits) for p, n in programs])

    return _run
