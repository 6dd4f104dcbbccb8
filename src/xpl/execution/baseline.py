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
from xpl.languages.base import BUILD, HARNESS_MARKER, NONCE_ENV


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


def run_one(language: str, program: str, timeout: float = 30.0, nonce: str = "-") -> BaselineResult:
    lang = get_language(language)
    tc = lang.require()
    plan = lang.reference_plan(program, tc)
    with tempfile.TemporaryDirectory(prefix="xpl-baseline-") as tmp:
        build = Path(tmp)
        for rel, content in plan.files.items():
            path = build / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(content)
        env = {**os.environ, **plan.env}
        t0 = time.perf_counter()
        for argv in plan.commands:
            argv = [a.replace(BUILD, str(build)) for a in argv]
            try:
                proc = subprocess.run(argv, cwd=build, env=env, capture_output=True, text=True, timeout=timeout)
            except subprocess.TimeoutExpired:
                return BaselineResult(False, None, True, "", "compile timed out", time.perf_counter() - t0, 0.0)
            if proc.returncode != 0:
                return BaselineResult(False, proc.returncode, False, proc.stdout, proc.stderr, time.perf_counter() - t0, 0.0)
        t1 = time.perf_counter()
        run = plan.runs[0]
        argv = [a.replace(BUILD, str(build)) for a in run.argv]
        env = {**env, **run.env, **lang.run_env(tc, 1024), NONCE_ENV: nonce}
        try:
            proc = subprocess.run(argv, cwd=build, env=env, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired as exc:
            out = exc.stdout.decode(errors="replace") if isinstance(exc.stdout, bytes) else (exc.stdout or "")
            return BaselineResult(True, None, True, out, "", t1 - t0, time.perf_counter() - t1)
        return BaselineResult(True, proc.returncode, False, proc.stdout, proc.stderr, t1 - t0, time.perf_counter() - t1)


def run_batch_unsandboxed(language: str, programs: list[str], timeout: float = 60.0) -> list[BaselineResult]:
    """Build ``programs`` with the language's batch plan, then run each (no sandbox, no isolation
    on failure): a development aid for checking a ``plan_batch`` implementation by hand."""
    lang = get_language(language)
    tc = lang.require()
    plan = lang.plan_batch(programs, tc)
    with tempfile.TemporaryDirectory(prefix="xpl-batch-") as tmp:
        build = Path(tmp)
        for rel, content in plan.files.items():
            path = build / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(content)
        env = {**os.environ, **plan.env}
        t0 = time.perf_counter()
        for argv in plan.commands:
            argv = [a.replace(BUILD, str(build)) for a in argv]
            proc = subprocess.run(argv, cwd=build, env=env, capture_output=True, text=True, timeout=timeout)
            if proc.returncode != 0:
                blamed = sorted(lang.blame(proc.stdout + proc.stderr, plan))
                raise RuntimeError(f"batch compile failed (blamed candidates {blamed}):\n{proc.stdout}{proc.stderr}")
        compile_s = time.perf_counter() - t0
        results = []
        for run in plan.runs:
            argv = [a.replace(BUILD, str(build)) for a in run.argv]
            t1 = time.perf_counter()
            proc = subprocess.run(argv, cwd=build, env={**env, **run.env, **lang.run_env(tc, 1024)},
                                  capture_output=True, text=True, timeout=timeout)
            results.append(BaselineResult(True, proc.returncode, False, proc.stdout, proc.stderr,
                                          compile_s / len(programs), time.perf_counter() - t1))
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
