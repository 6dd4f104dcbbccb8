"""Time the verification of the built-in parallel program family in every usable PL.

    .venv/bin/python benchmarks/family_verification.py --n 1000 --seed 0

Generates ``n`` problems, renders each in every PL that has a renderer and a toolchain here,
runs every solution through the engine (batched builds, sandboxed runs) against its tests,
splits the kept problems, and prints a Markdown table for benchmarks/RESULTS.md. Nothing is
cached: the results store lives in a fresh temporary directory.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from xpl.problems.family import build  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--langs", nargs="*", default=None)
    ap.add_argument("--workers", "-j", type=int, default=None)
    args = ap.parse_args()
    last = [0.0]

    def progress(stage: str, done: int, total: int) -> None:
        now = time.perf_counter()
        if now - last[0] > 15 or done == total:
            last[0] = now
            print(f"  {stage}: {done}/{total}", file=sys.stderr, flush=True)

    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        built = build(args.n, args.seed, tmp, args.langs, workers=args.workers, progress=progress)
    wall = time.perf_counter() - t0
    v = built.verification
    assert v is not None
    print(f"\n{args.n} problems, seed {args.seed}; {os.cpu_count()} cores; Python {platform.python_version()}\n")
    print("| PL | solutions passed | failed | compile s (sum of batch shares) | run s (sum) |")
    print("|---|---:|---:|---:|---:|")
    for lang, row in v.summary()["languages"].items():
        print(f"| {lang} | {row['passed']} | {row['failed']} | {row['compile_s']} | {row['run_s']} |")
    print(
        f"\nkept {len(built.problems)} of {args.n} (train {len(built.split('train'))}, test "
        f"{len(built.split('test'))}); {v.programs} programs verified in {v.seconds:.0f} s "
        f"({v.programs / v.seconds:.1f} programs/s); generation {built.generate_s:.1f} s, "
        f"split {built.split_s:.1f} s; total {wall:.0f} s"
    )
    for lang, why in v.unavailable.items():
        print(f"not checked: {lang}: {why}")
    for f in v.failures[:30]:
        print(f"FAILED {f.problem} {f.language} {f.status}: {f.detail[:200]}")


if __name__ == "__main__":
    main()
