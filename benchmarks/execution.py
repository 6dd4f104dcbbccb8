"""Execution throughput: the engine vs. one process per program, compile then run.

For each PL, N programs (60% correct, 20% wrong answer, 20% compile/syntax error; each a
different program so nothing is deduplicated) are evaluated

  (a) the way MultiPL-E's evaluator does: one at a time, a fresh directory, compiler, then
      the program, no sandbox (``xpl.execution.baseline.run_one``), and
  (b) by the engine in one call: batched compiles, sandboxed runs, all cores.

Run:  .venv/bin/python benchmarks/execution.py [--n 48] [--repeat 2] [--langs rust,java] [--markdown out.md]
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time

from xpl.execution import Engine, Job, Limits
from xpl.execution.verdict import Expected
from xpl.execution.baseline import run_one
from xpl.languages import get_language
from xpl.languages.demo import DEMO_DOC, DEMO_SIG, examples
from xpl.languages.types import TestCase

DEFAULT_LANGS = "python,rust,go,java,cpp,csharp,typescript,javascript"
LIMITS = Limits(timeout_s=30.0)


def programs(lang_name: str, n: int) -> list[tuple[str, str, str, Expected]]:
    """(kind, program for the engine, its expected values, the self-checking program that
    MultiPL-E's way of evaluating judges by exit status) for ``n`` programs."""
    lang = get_language(lang_name)
    ex = examples(lang_name)
    out = []
    for i in range(n):
        kind = "add" if i % 5 < 3 else ("add_wrong" if i % 5 == 3 else "broken")
        tests = [TestCase((i, 1), i + 1), TestCase((i, 0), i), TestCase((-i, i), 0)]
        out.append(
            (
                kind,
                lang.program(DEMO_SIG, DEMO_DOC, ex[kind], tests),
                lang.expected_results(DEMO_SIG, tests),
                lang.check_program(DEMO_SIG, DEMO_DOC, ex[kind], tests),
            )
        )
    return out


def bench(lang_name: str, n: int, workers: int, repeat: int) -> dict:
    """Best of ``repeat`` timings for each side (the machine is shared: the minimum is the
    least disturbed run)."""
    progs = programs(lang_name, n)
    t_base = t_engine = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        base = [run_one(lang_name, check, timeout=60) for _, _, _, check in progs]
        t_base = min(t_base, time.perf_counter() - t0)
        engine = Engine(workers=workers)
        t0 = time.perf_counter()
        res = engine.run([Job(lang_name, p, 3, LIMITS, expected=e) for _, p, e, _ in progs])
        t_engine = min(t_engine, time.perf_counter() - t0)
        engine.close()
    agree = sum(b.ok == r.ok for b, r in zip(base, res))
    return {
        "lang": lang_name,
        "n": n,
        "baseline_s": t_base,
        "engine_s": t_engine,
        "baseline_pps": n / t_base,
        "engine_pps": n / t_engine,
        "speedup": t_base / t_engine,
        "agree": agree,
        "sandbox": engine.sandbox.kind,
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=48, help="programs per PL")
    ap.add_argument("--langs", default=DEFAULT_LANGS)
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--repeat", type=int, default=2, help="timings per side; the best is kept")
    ap.add_argument("--markdown", help="also write the table to this file")
    args = ap.parse_args()
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    names = [get_language(x).name for x in args.langs.split(",")]
    rows = []
    for name in names:
        if not get_language(name).toolchain.available:
            print(f"skipping {name}: {get_language(name).toolchain.problem}", file=sys.stderr)
            continue
        print(f"benchmarking {name} ...", file=sys.stderr, flush=True)
        rows.append(bench(name, args.n, args.workers, args.repeat))
    header = (
        f"{args.n} programs per PL (60% correct, 20% wrong, 20% broken), best of {args.repeat}; {os.cpu_count()} cores; "
        f"{platform.python_implementation()} {platform.python_version()}; sandbox: {rows[0]['sandbox'] if rows else '?'}\n\n"
        "| PL | baseline programs/s | engine programs/s | speedup | verdicts agree |\n"
        "|---|---:|---:|---:|---:|\n"
    )
    body = "".join(
        f"| {r['lang']} | {r['baseline_pps']:.2f} | {r['engine_pps']:.2f} | {r['speedup']:.1f}x | {r['agree']}/{r['n']} |\n"
        for r in rows
    )
    print(header + body)
    if args.markdown:
        with open(args.markdown, "w") as fh:
            fh.write(header + body)
    return 0


if __name__ == "__main__":
    sys.exit(main())
