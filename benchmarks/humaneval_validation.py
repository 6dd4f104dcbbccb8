"""Validate HumanEval in every PL, in full: per PL, how many problems translate, and proof
that each translated harness is well-typed (a type-correct dummy body compiles and fails the
tests); for Python, that every canonical solution passes its translated tests.

Run:  .venv/bin/python benchmarks/humaneval_validation.py [--markdown out.md] [--only 33,44,...] [--langs rs,go]
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter

from xpl.execution import Engine, Job, Limits
from xpl.languages import all_languages, get_language
from xpl.problems.humaneval import humaneval_problems, load_items


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--markdown", help="also write the table to this file")
    ap.add_argument("--only", help="comma-separated HumanEval task numbers to validate (default: all translated)")
    ap.add_argument("--langs", help="comma-separated PLs to validate (default: every usable one)")
    args = ap.parse_args()
    problems, skipped = humaneval_problems()
    translated = len(problems)
    if args.only:
        wanted = {n.strip() for n in args.only.split(",") if n.strip()}
        missing = sorted(wanted - {p.name.split("_")[1] for p in problems}, key=int)
        if missing:
            print(f"not translated: {', '.join('HumanEval/' + m for m in missing)}", file=sys.stderr)
        problems = [p for p in problems if p.name.split("_")[1] in wanted]
    languages = all_languages()
    if args.langs:
        languages = [get_language(name.strip()) for name in args.langs.split(",") if name.strip()]
    items = {"HumanEval_" + i.task_id.split("/")[1] + "_" + i.entry_point: i for i in load_items()}
    engine = Engine()
    limits = Limits(timeout_s=20)
    rows = []
    for lang in languages:
        if not lang.toolchain.available:
            print(f"skipping {lang.name}: {lang.toolchain.problem}", file=sys.stderr)
            continue
        jobs, unsupported = [], 0
        for p in problems:
            try:
                rendered = p.render(lang)
            except ValueError:
                unsupported += 1
                continue
            if lang.name == "python":  # the reference solution must pass
                program = items[p.name].prompt + items[p.name].canonical_solution + get_language("python").harness(p.signature, p.tests)
            else:
                program = rendered.program(lang.dummy_body(p.signature))
            jobs.append(Job(lang.name, program, rendered.num_tests, limits, id=p.name, expected=rendered.expected))
        t0 = time.perf_counter()
        results = engine.run(jobs)
        seconds = time.perf_counter() - t0
        statuses = Counter(r.status.value for r in results)
        print(f"{lang.name}: {len(jobs)} problems, {dict(statuses)}, {seconds:.1f} s", file=sys.stderr, flush=True)
        expected = "ok" if lang.name == "python" else "test_failure"
        for job, r in zip(jobs, results):
            if r.status.value != expected:
                print(f"  {job.id}: {r.describe()}", file=sys.stderr, flush=True)
        rows.append((lang.name, len(jobs), unsupported, statuses, seconds))
    subset = f" Validated here: {len(problems)} of them (--only {args.only})." if args.only else ""
    header = (
        f"HumanEval: {translated} of 164 problems translated ({len(skipped)} skipped, reasons in "
        f"`xpl problems export`).{subset} Python: canonical solutions; other PLs: a type-correct dummy body.\n\n"
        "| PL | problems | not expressible | ok | test_failure | other | seconds |\n|---|---:|---:|---:|---:|---:|---:|\n"
    )
    body = ""
    for name, n, unsupported, st, seconds in rows:
        other = n - st.get("ok", 0) - st.get("test_failure", 0)
        body += f"| {name} | {n} | {unsupported} | {st.get('ok', 0)} | {st.get('test_failure', 0)} | {other} | {seconds:.1f} |\n"
    print(header + body)
    if args.markdown:
        with open(args.markdown, "w") as fh:
            fh.write(header + body)
    engine.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
