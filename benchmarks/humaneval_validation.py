"""Validate HumanEval in every PL, in full: per PL, how many problems translate, and proof
that each translated harness is well-typed (a type-correct dummy body compiles and fails the
tests); for Python, that every canonical solution passes its translated tests.

Run:  .venv/bin/python benchmarks/humaneval_validation.py [--markdown out.md]
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
    args = ap.parse_args()
    problems, skipped = humaneval_problems()
    items = {"HumanEval_" + i.task_id.split("/")[1] + "_" + i.entry_point: i for i in load_items()}
    engine = Engine()
    limits = Limits(timeout_s=20)
    rows = []
    for lang in all_languages():
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
            jobs.append(Job(lang.name, program, rendered.num_tests, limits, id=p.name))
        t0 = time.perf_counter()
        results = engine.run(jobs)
        seconds = time.perf_counter() - t0
        statuses = Counter(r.status.value for r in results)
        print(f"{lang.name}: {len(jobs)} problems, {dict(statuses)}, {seconds:.1f} s", file=sys.stderr, flush=True)
        rows.append((lang.name, len(jobs), unsupported, statuses, seconds))
    header = (
        f"HumanEval: {len(problems)} of 164 problems translated ({len(skipped)} skipped, reasons in "
        "`xpl problems export`). Python: canonical solutions; other PLs: a type-correct dummy body.\n\n"
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
