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


def _write(plan: BuildPlan, build: Path) -> None:
    for rel, content in plan.files.items():
        path = build / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)


def _run(argv: list[str], build: Path, env: dict[str, str], timeout: float, cwd: Path | None = None) -> tuple[int | None, str, str]:
    """Run one command with ``{build}`` resolved; (exit code or None on timeout, stdout, stderr)."""
    argv = [a.replace(BUILD, str(build)) for a in argv]
    try:
        proc = subprocess.run(argv, cwd=cwd or build, env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        out = exc.stdout.decode(errors="replace") if isinstance(exc.stdout, bytes) else (exc.stdout or "")
        return None, out, ""
    return proc.returncode, proc.stdout, proc.stderr


def _run_program(lang, tc, plan: BuildPlan, i: int, build: Path, timeout: float, nonce: str) -> tuple[int | None, str, str]:
    """Candidate ``i`` of a built plan, in a fresh empty working directory as the engine does."""
    run = plan.runs[i]
    env = {**os.environ, **plan.env, **run.env, **lang.run_env(tc, 1024), NONCE_ENV: nonce}
    with tempfile.TemporaryDirectory(prefix="xpl-run-") as cwd:
        return _run(run.argv, build, env, timeout, cwd=Path(cwd))


def run_one(language: str, program: str, timeout: float = 30.0, nonce: str = "-") -> BaselineResult:
    """Build ``program`` the way MultiPL-E does (``Language.reference_plan``), then run it."""
    lang = get_language(language)
    tc = lang.require()
    plan = lang.reference_plan(program, tc)
    with tempfile.TemporaryDirectory(prefix="xpl-baseline-") as tmp:
        build = Path(tmp)
        _write(plan, build)
        env = {**os.environ, **plan.env}
        t0 = time.perf_counter()
        for argv in plan.commands:
            code, out, err = _run(argv, build, env, timeout)
            if code != 0:
                timed_out = code is None
                return BaselineResult(False, code, timed_out, out, err or ("compile timed out" if timed_out else ""), time.perf_counter() - t0, 0.0)
        t1 = time.perf_counter()
        code, out, err = _run_program(lang, tc, plan, 0, build, timeout, nonce)
        return BaselineResult(True, code, code is None, out, err, t1 - t0, time.perf_counter() - t1)


def run_batch_unsandboxed(language: str, programs: list[str], timeout: float = 60.0) -> list[BaselineResult]:
    """Build ``programs`` with the language's batch plan, then run each (no sandbox, no isolation
    on failure): a development aid for checking a ``plan_batch`` implementation by hand."""
    lang = get_language(language)
    tc = lang.require()
    plan = lang.plan_batch(programs, tc)
    with tempfile.TemporaryDirectory(prefix="xpl-batch-") as tmp:
        build = Path(tmp)
        _write(plan, build)
        env = {**os.environ, **plan.env}
        t0 = time.perf_counter()
        for argv in plan.commands:
            code, out, err = _run(argv, build, env, timeout)
            if code != 0:
                blamed = sorted(lang.blame(out + err, plan))
                raise RuntimeError(f"batch compile failed (blamed candidates {blamed}):\n{out}{err}")
        compile_s = time.perf_counter() - t0
        results = []
        for i in range(len(plan.runs)):
            t1 = time.perf_counter()
            code, out, err = _run_program(lang, tc, plan, i, build, timeout, "-")
            results.append(BaselineResult(True, code, code is None, out, err, compile_s / len(programs), time.perf_counter() - t1))
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
