"""The reference way to evaluate programs: one at a time, compile then run, no sandbox.

This is what MultiPL-E's evaluator does (a fresh directory, the PL's compiler, then the
binary, one process per step). The benchmark compares the engine against it, and language
module authors can use it to try a program by hand::

    python -m xpl.execution.baseline rust program.rs

It is NOT a sandbox: never run untrusted code with it.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from xpl.languages import get_language
from xpl.languages.base import BUILD, HARNESS_MARKER, NONCE_ENV, BuildPlan


@dataclass
class BaselineResult:
    compiled: bool
    exit_code: int | None
    timed_out: bool
    stdout: str
    stderr: str
    compile_s: float
    run_s: float

    @property
    def ok(self) -> bool:
        return self.compiled and self.exit_code == 0 and not self.timed_out


def _run(argv: list[str], build: Path, env: dict[str, str], timeout: float, cwd: Path) -> subprocess.CompletedProcess:
    """Run one command with ``{build}`` resolved; ``returncode`` is None when it timed out."""
    argv = [a.replace(BUILD, str(build)) for a in argv]
    try:
        return subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        out = exc.stdout.decode(errors="replace") if isinstance(exc.stdout, bytes) else (exc.stdout or "")
        return subprocess.CompletedProcess(argv, None, out, "timed out")  # type: ignore[arg-type]


def build_plan(plan: BuildPlan, build: Path, timeout: float = 60.0) -> subprocess.CompletedProcess:
    """Write a plan's files into ``build`` and run its commands there, up to the first that
    fails; returns the last command's outcome (``returncode`` 0 when there were none)."""
    for rel, content in plan.files.items():
        path = build / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content, encoding="utf-8")
    proc = subprocess.CompletedProcess([], 0, "", "")
    for argv in plan.commands:
        proc = _run(argv, build, {**os.environ, **plan.env}, timeout, cwd=build)
        if proc.returncode != 0:
            break
    return proc


def run_built(language: str, plan: BuildPlan, i: int, build: Path, timeout: float = 60.0, nonce: str = "-") -> subprocess.CompletedProcess:
    """Run candidate ``i`` of a plan built in ``build``, in a fresh empty working directory and
    with the PL's run environment, as the engine does."""
    lang = get_language(language)
    run = plan.runs[i]
    env = {**os.environ, **plan.env, **run.env, **lang.run_env(lang.toolchain, 1024), NONCE_ENV: nonce}
    with tempfile.TemporaryDirectory(prefix="xpl-run-") as cwd:
        return _run(run.argv, build, env, timeout, cwd=Path(cwd))


def run_one(language: str, program: str, timeout: float = 30.0, nonce: str = "-") -> BaselineResult:
    """Build ``program`` the way MultiPL-E does (``Language.reference_plan``), then run it."""
    lang = get_language(language)
    plan = lang.reference_plan(program, lang.require())
    with tempfile.TemporaryDirectory(prefix="xpl-baseline-") as tmp:
        t0 = time.perf_counter()
        built = build_plan(plan, Path(tmp), timeout)
        t1 = time.perf_counter()
        if built.returncode != 0:
            return BaselineResult(False, built.returncode, built.returncode is None, built.stdout, built.stderr, t1 - t0, 0.0)
        proc = run_built(lang.name, plan, 0, Path(tmp), timeout, nonce)
        return BaselineResult(True, proc.returncode, proc.returncode is None, proc.stdout, proc.stderr, t1 - t0, time.perf_counter() - t1)


def run_batch_unsandboxed(language: str, programs: list[str], timeout: float = 60.0) -> list[BaselineResult]:
    """Build ``programs`` with the language's batch plan, then run each (no sandbox, no isolation
    on failure): a development aid for checking a ``plan_batch`` implementation by hand."""
    lang = get_language(language)
    plan = lang.plan_batch(programs, lang.require())
    with tempfile.TemporaryDirectory(prefix="xpl-batch-") as tmp:
        t0 = time.perf_counter()
        built = build_plan(plan, Path(tmp), timeout)
        if built.returncode != 0:
            blamed = sorted(lang.blame(built.stdout + built.stderr, plan))
            raise RuntimeError(f"batch compile failed (blamed candidates {blamed}):\n{built.stdout}{built.stderr}")
        compile_s = time.perf_counter() - t0
        results = []
        for i in range(len(plan.runs)):
            t1 = time.perf_counter()
            proc = run_built(lang.name, plan, i, Path(tmp), timeout)
            results.append(
                BaselineResult(True, proc.returncode, proc.returncode is None, proc.stdout, proc.stderr, compile_s / len(programs), time.perf_counter() - t1)
            )
        return results


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2:
        print("usage: python -m xpl.execution.baseline LANGUAGE FILE", file=sys.stderr)
        return 2
    res = run_one(args[0], Path(args[1]).read_text())
    sys.stdout.write(res.stdout)
    sys.stderr.write(res.stderr)
    marks = [ln for ln in res.stdout.splitlines() if ln.startswith(HARNESS_MARKER)]
    print(
        f"[baseline] compiled={res.compiled} exit={res.exit_code} timed_out={res.timed_out} "
        f"markers={len(marks)} compile={res.compile_s:.3f}s run={res.run_s:.3f}s",
        file=sys.stderr,
    )
    return 0 if res.ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
