"""Could a pre-started Node serve JavaScript programs by fork, as the runner's Ruby fork
server does? A measurement, not a feature: how long a program takes started as ``node FILE``
against forked from a running Node (``node_fork/forker.c``, ``node_fork/measure.js``), on the
programs ``benchmarks/execution.py`` gives MultiPL-E's evaluator (family problems, 60% correct,
20% wrong, 20% syntax errors), one at a time, with both ways' exit statuses compared.

    .venv/bin/python benchmarks/node_fork.py [--n 150] [--repeat 3]

Needs gcc and Node's headers (``/usr/include/node``, from Debian's ``nodejs``). Results:
benchmarks/RESULTS.md, "What is left" (JavaScript).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from execution import family, peer_env, programs  # noqa: E402

HERE = Path(__file__).resolve().parent / "node_fork"
HEADERS = Path("/usr/include/node")


def build_addon(where: Path) -> Path:
    if not (HEADERS / "node_api.h").is_file():
        raise SystemExit(f"no Node headers in {HEADERS} (Debian's nodejs package ships them): cannot build the addon")
    gcc = shutil.which("gcc") or shutil.which("cc")
    if gcc is None:
        raise SystemExit("no C compiler (gcc) on PATH: cannot build the addon")
    out = where / "forker.node"
    subprocess.run([gcc, "-shared", "-fPIC", "-O2", "-I", str(HEADERS), "-o", str(out), str(HERE / "forker.c")], check=True)
    return out


def run(node: str, addon: Path, mode: str, folder: Path, env: dict[str, str]) -> dict:
    proc = subprocess.run(
        [node, "--single-threaded", str(HERE / "measure.js"), str(addon), mode, str(folder)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env, timeout=600,
    )
    lines = [line for line in proc.stderr.splitlines() if line.startswith('{"mode"')]
    if not lines:
        raise SystemExit(f"measure.js {mode} printed no result (exit {proc.returncode}):\n{proc.stderr[-2000:]}")
    return json.loads(lines[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=150, help="programs")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each way (alternating); the fastest counts")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    env = peer_env("javascript")  # the execution benchmark's peer: its PATH, no NODE_EXTRA_CA_CERTS
    node = shutil.which("node", path=env["PATH"])
    if node is None:
        raise SystemExit("node is not on PATH")
    with tempfile.TemporaryDirectory(prefix="xpl-node-fork-") as tmp:
        where = Path(tmp)
        addon = build_addon(where)
        folder = where / "programs"
        folder.mkdir()
        for x in programs("javascript", family(args.n + 10, args.seed), args.n):
            (folder / f"{x.id}.js").write_text(x.check, encoding="utf-8")
        best: dict[str, dict] = {}
        for _ in range(args.repeat):
            for mode in ("exec", "fork"):
                result = run(node, addon, mode, folder, env)
                if mode not in best or result["seconds"] < best[mode]["seconds"]:
                    best[mode] = result
    agree = sum(a == b for a, b in zip(best["exec"]["statuses"], best["fork"]["statuses"]))
    n = best["exec"]["programs"]
    print(f"{n} JavaScript programs (family, seed {args.seed}), one at a time, best of {args.repeat}:")
    for mode in ("exec", "fork"):
        s = best[mode]["seconds"]
        print(f"  {mode:4}: {s:6.2f} s, {1000 * s / n:5.1f} ms a program")
    print(f"  exit statuses agree: {agree}/{n}")
    return 0 if agree == n else 1


if __name__ == "__main__":
    raise SystemExit(main())
