"""Render N generated family problems in some PLs and run them through the engine.

    python benchmarks/family_check.py --n 200 --seed 0 --langs python rust

Prints, per PL, how many solutions passed, and each failure with the program that failed
(the first few per PL): the quickest way to develop and debug a family renderer.
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from xpl.problems.family.generator import generate  # noqa: E402
from xpl.problems.family.verify import solve, verify  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=200)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--langs", nargs="*", default=None, help="PLs (default: every usable one)")
    ap.add_argument("--show", type=int, default=3, help="failing programs to print per PL")
    args = ap.parse_args()
    t0 = time.perf_counter()
    items = generate(args.n, args.seed)
    by_name = {g.problem.name: g for g in items}
    t1 = time.perf_counter()
    v = verify(items, args.langs)
    print(f"generated {len(items)} in {t1 - t0:.1f}s; verified {v.programs} programs in {v.seconds:.1f}s")
    for lang, why in v.unavailable.items():
        print(f"  {lang}: not checked ({why})")
    shown: dict[str, int] = {}
    for f in v.failures:
        shown[f.language] = shown.get(f.language, 0) + 1
        if shown[f.language] <= args.show:
            print(f"\n=== FAIL {f.language} {f.problem}: {f.status}\n{f.detail[:1500]}")
            solved, _ = solve(by_name[f.problem], [f.language])
            if f.language in solved.solutions:
                print("--- program:\n" + solved.solution_program(f.language)[:3000])
    print()
    for lang, row in v.summary()["languages"].items():
        print(f"{lang:12s} passed {row['passed']:5d} failed {row['failed']:5d}")
    print(f"kept {len(v.kept)} of {len(items)}")


if __name__ == "__main__":
    main()
