"""Execution throughput as a user sees it: ``xpl exec`` vs. MultiPL-E's evaluator, same workers.

For each PL, N programs made from the parallel program family (``xpl.problems.family``, whose
solutions are written in every PL) are evaluated three ways, each as one CLI call in a
subprocess, timed by the wall clock from start to exit (interpreter and CLI start included):

  (a) the MultiPL-E peer, ``benchmarks/multiple_peer.py --max-workers W`` (MultiPL-E's
      evaluator re-implemented: temporary file, the PL's compiler with MultiPL-E's flags, the
      program, verdict by exit status and its status rules, 0.1 s polling, a thread pool);
  (b) the same peer with ``--max-workers 1``;
  (c) ``xpl exec jobs.jsonl --workers W -o out.jsonl`` (sandboxed, batched compiles).

W defaults to the number of cores. The peer finds each PL's tools on PATH, as MultiPL-E does,
with the directories of the binaries xpl resolved put first (xpl looks through version
managers' shims, e.g. pyenv's ``python3``, which costs the peer up to 1.5 s a call otherwise).

The programs (each different, nothing is deduplicated): 60% correct solutions; 20% wrong
answers (alternately the solution of another family problem with the same signature, and a
body returning the zero value of the return type, which the family's tests always reject);
20% that do not compile or parse (a stray ``)`` line opening the body). xpl gets each program
with its harness and expected values (``Language.program``, ``expected_results``); the peer
gets the program MultiPL-E judges: the record ``xpl problems export`` writes for it (the
self-checking harness; for Go a ``go test`` file, whose prompt imports ``testing`` and whose
test calls ``main``; for C# a harness ending in a ``Debug.Assert``, which is what MultiPL-E's
C# evaluator reads) completed with the body.

Every timed run gets the programs with a last comment line naming the run and this invocation
(a random tag), so a build cache keyed by the source (Go's) serves nothing from an earlier run,
of this invocation or of another; the PLs' caches of their
standard libraries stay warm, as on a machine where MultiPL-E or xpl has run before.

Both sides' verdict (pass = the peer's ``OK``, xpl's ``ok``) must agree on every program; the
table says how many do, and each disagreement is listed with both statuses and output.
CLI start is measured too: ``xpl langs --json``, ``xpl exec`` on one Python job, and the peer
on one Python program (the fastest of 5 runs each). Each side is warmed up (two programs,
not timed) before a PL is timed; timings are the best of ``--repeat`` runs.

Rerun (11 PLs, 150 programs each):

    OMP_WAIT_POLICY=PASSIVE .venv/bin/python benchmarks/execution.py \\
        --markdown /tmp/execution.md --json /tmp/execution.json

That took 67 minutes on 2 cores shared with other jobs, nearly all of it the peer's (its
TypeScript, Java and C++ above all; xpl's share was under 5 minutes). ``--no-serial`` leaves out
the 1-worker peer (about half of it); ``--langs python,rust,go --n 30`` takes a few minutes.
Scratch files go to a temporary folder that is removed at the end (``--keep DIR`` keeps them).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from xpl.languages import get_language  # noqa: E402
from xpl.languages.types import UnsupportedError  # noqa: E402
from xpl.problems.family import build  # noqa: E402
from xpl.problems.io import to_multipl_e  # noqa: E402
from xpl.problems.problem import Problem  # noqa: E402

DEFAULT_LANGS = "python,javascript,typescript,rust,go,java,cpp,csharp,php,ruby,lua"
PEER = Path(__file__).resolve().parent / "multiple_peer.py"
STRAY = ")"  # a line of its own: a syntax error in every PL here


@dataclass
class Program:
    id: str
    kind: str  # correct | wrong | broken
    problem: str
    engine: str  # what xpl runs (harness + expected values)
    expected: dict
    num_tests: int
    check: str  # the self-checking program the peer runs


# --------------------------------------------------------------------------- programs


def family(n: int, seed: int) -> list[Problem]:
    """``n`` family problems with a solution in every PL that has a renderer (not executed:
    the family's solutions are verified by ``xpl problems generate``)."""
    return build(n, seed=seed, check=False, test_fraction=0).problems


def for_peer(problem: Problem, lang: str, body: str) -> str:
    """The program MultiPL-E's evaluator of ``lang`` judges: the record ``xpl problems export``
    writes (``to_multipl_e``: the self-checking harness in the form that evaluator reads, e.g.
    a ``go test`` file for Go) completed with ``body``."""
    record = to_multipl_e(problem, lang)
    return record["prompt"] + body + ("" if not body or body.endswith("\n") else "\n") + record["tests"]


def broken(body: str) -> str:
    """``body`` with a stray token on a line of its own before it (the first line's indent)."""
    first = body.splitlines()[0] if body.strip() else ""
    indent = first[: len(first) - len(first.lstrip())]
    return f"{indent}{STRAY}\n{body}"


def programs(lang_name: str, problems: list[Problem], n: int) -> list[Program]:
    """``n`` programs in ``lang_name``: per five, three correct, one wrong, one broken."""
    lang = get_language(lang_name)
    usable = [p for p in problems if lang.name in p.solutions]
    if len(usable) < n:
        raise SystemExit(f"{lang.name}: only {len(usable)} family problems have a solution; lower --n")
    by_sig: dict[tuple, list[Problem]] = {}
    for p in usable:
        by_sig.setdefault(_sig_key(p), []).append(p)
    out: list[Program] = []
    wrong = 0
    for i, p in enumerate(usable[:n]):
        kind = ("correct", "correct", "correct", "wrong", "broken")[i % 5]
        body = p.solutions[lang.name]
        if kind == "wrong":
            others = [q for q in by_sig[_sig_key(p)] if q.name != p.name]
            if wrong % 2 == 0 and others:
                body = others[(i // 5) % len(others)].solutions[lang.name]
            else:
                body = lang.dummy_body(p.signature)
            wrong += 1
        elif kind == "broken":
            body = broken(body)
        try:
            engine = lang.program(p.signature, p.description, body, p.tests)
            check = for_peer(p, lang.name, body)
        except UnsupportedError as exc:  # pragma: no cover - family problems render everywhere
            raise SystemExit(f"{lang.name}: {p.name}: {exc}") from None
        expected = p.expected_results(lang).to_json()
        out.append(Program(f"{i:04d}-{kind}", kind, p.name, engine, expected, len(p.tests), check))
    if len({x.engine for x in out}) != n or len({x.check for x in out}) != n:
        raise SystemExit(f"{lang.name}: two programs are the same; every program must differ")
    return out


def _sig_key(p: Problem) -> tuple:
    sig = p.signature
    return (tuple((q.name, q.type.annotation()) for q in sig.params), sig.returns.annotation())


# Part of every program's last line: runs of an earlier invocation (the same tags, the same
# programs) must not be served from a build cache either (Go's persists in the xpl cache).
INVOCATION = os.urandom(4).hex()


def write_inputs(progs: list[Program], lang: str, where: Path, tag: str) -> tuple[Path, Path]:
    """The peer's folder of programs and xpl's jobs file for ``progs``, each program ending in
    a comment naming ``tag``. Every timed run gets its own tag: a build cache keyed by the
    source (Go's, which the peer's runs share) can then serve nothing from an earlier run, as
    nothing is served when new programs are evaluated."""
    note = get_language(lang).comment(f"xpl execution benchmark, run {tag} {INVOCATION}")
    folder = where / "programs"
    folder.mkdir(parents=True)
    jobs = where / "jobs.jsonl"
    with jobs.open("w", encoding="utf-8") as fh:
        for x in progs:
            (folder / x.id).write_text(_ended(x.check) + note, encoding="utf-8")
            job = {"id": x.id, "language": lang, "program": _ended(x.engine) + note, "num_tests": x.num_tests, "expected": x.expected}
            fh.write(json.dumps(job) + "\n")
    return folder, jobs


def _ended(text: str) -> str:
    return text if text.endswith("\n") else text + "\n"


# --------------------------------------------------------------------------- commands


def xpl_command() -> list[str]:
    script = Path(sys.executable).parent / "xpl"
    return [str(script)] if script.exists() else [sys.executable, "-m", "xpl.cli"]


def peer_cmd(lang: str, folder: Path, workers: int, out: Path, tmp: Path) -> list[str]:
    return [sys.executable, str(PEER), "--lang", lang, "--programs", str(folder), "--max-workers", str(workers), "--out", str(out), "--tmpdir", str(tmp)]


def xpl_cmd(jobs: Path, workers: int, out: Path) -> list[str]:
    return [*xpl_command(), "exec", str(jobs), "--workers", str(workers), "-o", str(out)]


SLOW_START_VARS = ("NODE_EXTRA_CA_CERTS",)


def peer_env(lang: str) -> dict[str, str]:
    """The environment of the peer: the directories of the binaries xpl resolved for ``lang``
    first on PATH. The peer runs ``python3``, ``rustc``, ... from PATH as MultiPL-E does; xpl runs
    the real binaries behind shims, and a shim is no part of either evaluator (pyenv's
    ``python3`` shim costs 0.4-1.5 s a call on the machine this was written on).

    Left out: variables of this shell that slow a toolchain's every start and that a MultiPL-E
    user would not normally have (xpl's sandbox clears them too): ``NODE_EXTRA_CA_CERTS``
    makes each ``node`` (and ``tsc``) read and parse a whole CA bundle, about 45 ms a start
    on the machine this was written on (node 30 ms without it, 75 ms with it)."""
    dirs = dict.fromkeys(str(Path(p).parent) for p in get_language(lang).toolchain.paths.values())
    env = {k: v for k, v in os.environ.items() if k not in SLOW_START_VARS}
    return {**env, "PATH": os.pathsep.join([*dirs, os.environ.get("PATH", "")])}


def timed(cmd: list[str], env: dict[str, str] | None = None) -> float:
    """Wall-clock seconds of ``cmd`` from start to exit; a failing command stops the benchmark."""
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    elapsed = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"command failed ({proc.returncode}): {' '.join(cmd)}\n{proc.stdout[-2000:]}{proc.stderr[-2000:]}")
    return elapsed


def read_jsonl(path: Path) -> list[dict]:
    with path.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


# --------------------------------------------------------------------------- one PL


def bench(lang: str, progs: list[Program], workers: int, repeat: int, where: Path, serial: bool = True) -> dict:
    tmp = where / "peer-tmp"
    tmp.mkdir(parents=True)

    def run(side: str, tag: str, subset: list[Program]) -> tuple[float, dict[str, dict]]:
        d = where / tag
        folder, jobs = write_inputs(subset, lang, d, tag)
        out = d / "results.jsonl"
        if side == "xpl":
            seconds = timed(xpl_cmd(jobs, workers, out))
        else:
            seconds = timed(peer_cmd(lang, folder, 1 if side == "peer1" else workers, out, tmp), peer_env(lang))
        return seconds, {r["id"]: r for r in read_jsonl(out)}

    # Warm-up (not timed): toolchains, page cache and the PLs' own caches of their standard
    # libraries serve every side alike afterwards.
    warm = [progs[0], progs[min(4, len(progs) - 1)]]
    run("peer", "warm-peer", warm)
    run("xpl", "warm-xpl", warm)
    sides = ("xpl", "peer", "peer1") if serial else ("xpl", "peer")
    best = {side: float("inf") for side in sides}
    results: dict[str, dict[str, dict]] = {}
    for r in range(repeat):
        for side in sides:
            seconds, results[side] = run(side, f"{r}-{side}", progs)
            best[side] = min(best[side], seconds)
    peer, peer1, mine = results["peer"], results.get("peer1", results["peer"]), results["xpl"]
    disagreements, unexpected = [], []
    for x in progs:
        p, p1, m = peer[x.id], peer1[x.id], mine[x.id]
        p_ok, x_ok = p["status"] == "OK", m["status"] == "ok"
        if p_ok != x_ok:
            disagreements.append(
                {
                    "id": x.id,
                    "kind": x.kind,
                    "problem": x.problem,
                    "peer": p["status"],
                    "peer_exit_code": p["exit_code"],
                    "peer_1_worker": p1["status"],
                    "xpl": m["status"],
                    "peer_output": _tail((p.get("stderr") or "") + " " + (p.get("stdout") or "")),
                    "xpl_output": _tail(" | ".join(m[k] for k in ("detail", "compile_output", "stderr") if m.get(k))),
                }
            )
        elif p_ok != (p1["status"] == "OK"):
            unexpected.append({"id": x.id, "problem": x.problem, "why": f"the peer with 1 worker said {p1['status']}, with W {p['status']}; xpl agrees with W"})
        elif p_ok != (x.kind == "correct"):
            unexpected.append({"id": x.id, "problem": x.problem, "why": f"a {x.kind} program {'passed' if p_ok else 'failed'} on both sides"})
    n = len(progs)
    return {
        "lang": lang,
        "n": n,
        "kinds": dict(Counter(x.kind for x in progs)),
        "peer1_s": best.get("peer1"),
        "peer_s": best["peer"],
        "xpl_s": best["xpl"],
        "speedup_vs_peer": best["peer"] / best["xpl"],
        "speedup_vs_peer1": best["peer1"] / best["xpl"] if serial else None,
        "agree": n - len(disagreements),
        "passed": {"peer": sum(r["status"] == "OK" for r in peer.values()), "xpl": sum(r["status"] == "ok" for r in mine.values())},
        "statuses": {"peer": dict(Counter(r["status"] for r in peer.values())), "xpl": dict(Counter(r["status"] for r in mine.values()))},
        "disagreements": disagreements,
        "unexpected": unexpected,
    }


def _tail(text: str, width: int = 400) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else "..." + text[-width:]


# --------------------------------------------------------------------------- CLI start


def cli_start(workers: int, where: Path, problems: list[Problem]) -> dict:
    """Fastest of 5 runs: ``xpl langs --json``; ``xpl exec`` and the peer on one Python program."""
    folder, jobs = write_inputs(programs("python", problems[:1], 1), "python", where, "start")
    tmp = where / "peer-tmp"
    tmp.mkdir()
    runs = {
        "xpl_langs_json_s": ([*xpl_command(), "langs", "--json"], None),
        "xpl_exec_1_job_s": (xpl_cmd(jobs, workers, where / "xpl.jsonl"), None),
        "peer_1_program_s": (peer_cmd("python", folder, workers, where / "peer.jsonl", tmp), peer_env("python")),
    }
    return {name: min(timed(cmd, env) for _ in range(5)) for name, (cmd, env) in runs.items()}


# --------------------------------------------------------------------------- report


def report(rows: list[dict], start: dict, args: argparse.Namespace, sandbox: str) -> str:
    w = args.workers
    lines = [
        f"{args.n} programs per PL (60% correct, 20% wrong answer, 20% compile/syntax error; family problems, seed {args.seed}); "
        f"wall clock of the whole CLI call, best of {args.repeat}; W = {w} workers; {os.cpu_count()} cores; "
        f"{platform.python_implementation()} {platform.python_version()}; xpl sandbox: {sandbox}",
        "",
        f"| PL | programs | peer 1 worker s | peer {w} workers s | xpl s | speed-up vs peer at {w} | speed-up vs 1 worker | verdicts agree |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(_row(r["lang"], r["n"], r["peer1_s"], r["peer_s"], r["xpl_s"], r["agree"]))
    if len(rows) > 1:
        serial = all(r["peer1_s"] is not None for r in rows)
        lines.append(
            _row(
                "all",
                sum(r["n"] for r in rows),
                sum(r["peer1_s"] for r in rows) if serial else None,
                sum(r["peer_s"] for r in rows),
                sum(r["xpl_s"] for r in rows),
                sum(r["agree"] for r in rows),
            )
        )
    if start:
        lines += [
            "",
            f"CLI start (fastest of 5): `xpl langs --json` {start['xpl_langs_json_s']:.2f} s; "
            f"`xpl exec` on 1 Python job {start['xpl_exec_1_job_s']:.2f} s; the peer on 1 Python program {start['peer_1_program_s']:.2f} s.",
        ]
    if any(r["disagreements"] or r["unexpected"] for r in rows):
        lines.append("")
    for r in rows:
        for d in r["disagreements"]:
            timed_out = " (a time limit of the evaluator ran out)" if d["peer_exit_code"] == -1 else ""
            lines.append(
                f"- disagreement {r['lang']} {d['id']} ({d['problem']}): peer {d['peer']}, exit {d['peer_exit_code']}{timed_out}; "
                f"peer with 1 worker {d['peer_1_worker']}; xpl {d['xpl']}"
            )
            lines.append(f"  - peer output: {d['peer_output'] or '(none)'}")
            lines.append(f"  - xpl output: {d['xpl_output'] or '(none)'}")
        for u in r["unexpected"]:
            lines.append(f"- note {r['lang']} {u['id']}: {u['why']}")
    return "\n".join(lines) + "\n"


def _row(name: str, n: int, peer1: float | None, peer: float, xpl: float, agree: int) -> str:
    one = "-" if peer1 is None else f"{peer1:.1f}"
    vs_one = "-" if peer1 is None else f"{peer1 / xpl:.1f}x"
    return f"| {name} | {n} | {one} | {peer:.1f} | {xpl:.1f} | {peer / xpl:.1f}x | {vs_one} | {agree}/{n} |"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=150, help="programs per PL")
    ap.add_argument("--langs", default=DEFAULT_LANGS, help="comma-separated PLs")
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="W: the peer's --max-workers and xpl's --workers")
    ap.add_argument("--repeat", type=int, default=1, help="timed runs per side; the fastest is kept")
    ap.add_argument("--seed", type=int, default=0, help="seed of the family problems")
    ap.add_argument("--markdown", type=Path, help="also write the table to this file")
    ap.add_argument("--json", type=Path, help="write the raw numbers (and every disagreement) to this file")
    ap.add_argument("--keep", type=Path, help="keep the programs, jobs and results in this folder")
    ap.add_argument("--no-start", action="store_true", help="skip the CLI start measurements")
    ap.add_argument("--no-serial", action="store_true", help="skip the 1-worker peer (b), the slowest part")
    args = ap.parse_args()
    names = []
    for x in args.langs.split(","):
        lang = get_language(x.strip())
        if not lang.toolchain.available:
            print(f"skipping {lang.name}: {lang.toolchain.problem} (see `xpl langs`)", file=sys.stderr)
            continue
        names.append(lang.name)
    # A few spare problems, in case a PL cannot render some (the family renders in all).
    problems = family(args.n + 10, args.seed)
    scratch = Path(tempfile.mkdtemp(prefix="xpl-exec-bench-")) if args.keep is None else args.keep
    scratch.mkdir(parents=True, exist_ok=True)
    sandbox = json.loads(subprocess.run([*xpl_command(), "langs", "--json"], capture_output=True, text=True).stdout or "{}").get("sandbox", "?")
    rows: list[dict] = []
    try:
        start = {} if args.no_start else cli_start(args.workers, scratch / "start", problems)
        for name in names:
            print(f"benchmarking {name} ...", file=sys.stderr, flush=True)
            t0 = time.perf_counter()
            row = bench(name, programs(name, problems, args.n), args.workers, args.repeat, scratch / name, not args.no_serial)
            rows.append(row)
            print(
                f"  {name}: peer1 {row['peer1_s'] or 0:.1f}s peer{args.workers} {row['peer_s']:.1f}s xpl {row['xpl_s']:.1f}s "
                f"agree {row['agree']}/{row['n']} ({time.perf_counter() - t0:.0f}s)",
                file=sys.stderr,
                flush=True,
            )
    finally:
        if args.keep is None:
            shutil.rmtree(scratch, ignore_errors=True)
    text = report(rows, start, args, sandbox)
    print(text)
    if args.markdown:
        args.markdown.write_text(text, encoding="utf-8")
    if args.json:
        raw = {"n": args.n, "workers": args.workers, "repeat": args.repeat, "seed": args.seed, "cores": os.cpu_count(), "sandbox": sandbox, "cli_start": start, "rows": rows}
        args.json.write_text(json.dumps(raw, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
