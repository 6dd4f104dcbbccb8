"""What `make test-fast` (``pytest -m "not slow"``) leaves out.

``slow`` marks two kinds of test, chosen from ``pytest --durations``:

* end-to-end runs: the experiments' ``--quick`` runs, training stages (resume after
  ``kill -9``, several processes, the FLeX and Sophia training checks), scaling-law fits with
  their bootstraps, the SmolLM2 conversion;
* tests that compile and run programs in the PLs whose toolchains take seconds per call
  (g++, javac, tsc, mcs, rustc, go build): ``by_toolchain`` marks those PLs' parameters,
  and the PL modules mark their toolchain tests. Their rendering tests, and execution in
  Python, JavaScript, PHP, Ruby and Lua, stay in the fast loop;
* the hostile programs (``tests/execution/test_sandbox.py``) of every PL but Python: each
  PL's run into their limits on purpose and take seconds.

``make test`` (what CI runs) runs everything.
"""

from __future__ import annotations

from collections.abc import Iterable

import pytest

from xpl.languages import get_language

slow = pytest.mark.slow

SLOW_TOOLCHAINS = frozenset({"cpp", "csharp", "go", "java", "rust", "typescript"})


def by_toolchain(names: Iterable[str]) -> list:
    """PL names as ``parametrize`` values, those with a slow toolchain marked ``slow`` (the
    test ids stay the names)."""
    return [pytest.param(n, marks=slow) if get_language(n).name in SLOW_TOOLCHAINS else n for n in names]


def toolchain_test(available: bool, reason: str):
    """A decorator for a test that runs a slow toolchain: skipped where it is missing (with
    ``reason``), and ``slow``."""
    skip = pytest.mark.skipif(not available, reason=reason)
    return lambda test: slow(skip(test))
