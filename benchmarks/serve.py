"""``xpl serve`` under load: throughput and latency against the in-process engine, and what
the service does with malformed requests, clients that vanish and a burst it cannot take.

1. Load: ``--clients`` (64) concurrent clients post SandboxFusion ``/run_code`` requests for
   ``--seconds`` (60), round-robin over ``--langs``: 80% correct programs (read two integers,
   print their sum, random input), 10% runtime errors, 10% compile/syntax errors; every
   program differs (a comment), so nothing is deduplicated. Every answer is checked.
   Reported: requests/s, p50/p99 latency (overall and per PL), wrong verdicts, HTTP errors.
2. The same jobs through one in-process ``Engine.run`` call (what ``xpl exec`` does): jobs/s.
3. Malformed requests: each must get a 4xx whose JSON names the field.
4. Clients that disconnect: after sending a whole request (its job is dropped or its result
   discarded) and halfway through a body; the service must go on answering.
5. A burst of ``--burst`` (1000) simultaneous requests: 503 with Retry-After is fine, a
   request left without an answer or a dead server is not.
6. Leaks: processes under the server once it is idle (none expected), scratch directories.

Run:  .venv/bin/python benchmarks/serve.py [--seconds 60] [--clients 64] [--langs python,cpp,nodejs,rust,go,java]
      [--workers N] [--burst 1000] [--url http://HOST:PORT (an already running server)] [--json out.json]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import platform
import random
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import requests

from xpl.execution import Engine
from xpl.execution.client import SANDBOX_FUSION_LANGUAGES
from xpl.execution.service import ServeConfig, parse_run_code, run_code_response
from xpl.languages import get_language

ROOT = Path(__file__).resolve().parents[1]

SUM = {
    "python": "a, b = map(int, input().split())\nprint(a + b)\n",
    "cpp": "#include <iostream>\nint main() { long a, b; std::cin >> a >> b; std::cout << a + b << std::endl; }\n",
    "nodejs": "const v = require('fs').readFileSync(0, 'utf8').trim().split(/\\s+/).map(Number);\nconsole.log(v[0] + v[1]);\n",
    "rust": (
        "use std::io::Read;\nfn main() {\n    let mut s = String::new();\n    std::io::stdin().read_to_string(&mut s).unwrap();\n"
        "    let v: Vec<i64> = s.split_whitespace().map(|x| x.parse().unwrap()).collect();\n    println!(\"{}\", v[0] + v[1]);\n}\n"
    ),
    "go": "package main\n\nimport \"fmt\"\n\nfunc main() {\n\tvar a, b int\n\tfmt.Scan(&a, &b)\n\tfmt.Println(a + b)\n}\n",
    "java": (
        "import java.util.*;\n\npublic class Main {\n    public static void main(String[] args) {\n        Scanner s = new Scanner(System.in);\n"
        "        long a = s.nextLong(), b = s.nextLong();\n        System.out.println(a + b);\n    }\n}\n"
    ),
    "ruby": "a, b = gets.split.map(&:to_i)\nputs a + b\n",
    "php": "<?php\n$v = explode(' ', trim(fgets(STDIN)));\necho intval($v[0]) + intval($v[1]), \"\\n\";\n",
    "lua": "local a, b = io.read('n', 'n')\nprint(a + b)\n",
}
RUNTIME_ERROR = {
    "python": "import sys\nsys.exit(1)\n",
    "cpp": "int main() { return 1; }\n",
    "nodejs": "process.exit(1);\n",
    "rust": "fn main() { std::process::exit(1); }\n",
    "go": "package main\n\nimport \"os\"\n\nfunc main() { os.Exit(1) }\n",
    "java": "public class Main { public static void main(String[] a) { System.exit(1); } }\n",
    "ruby": "exit 1\n",
    "php": "<?php\nexit(1);\n",
    "lua": "os.exit(1)\n",
}
BROKEN = {
    "python": "def f(:\n    pass\n",
    "cpp": "int main() { return undefined_name; }\n",
    "nodejs": "function (\n",
    "rust": "fn main() { let x: i32 = \"text\"; }\n",
    "go": "package main\n\nfunc main() { undefinedCall() }\n",
    "java": "public class Main { void f( }\n",
    "ruby": "def f(\n",
    "php": "<?php\nfunction (\n",
    "lua": "function (\n",
}
MALFORMED: list[tuple[str, bytes, str]] = [  # (path, body, field the answer must name)
    ("/run_code", b"{not json", "body"),
    ("/run_code", b"[1, 2]", "body"),
    ("/run_code", json.dumps({"language": "python"}).encode(), "code"),
    ("/run_code", json.dumps({"code": "x", "language": "cobol"}).encode(), "language"),
    ("/run_code", json.dumps({"code": "x", "language": "python", "run_timeout": -1}).encode(), "run_timeout"),
    ("/run_code", json.dumps({"code": "x", "language": "python", "compile_timeout": -5}).encode(), "compile_timeout"),
    ("/run_code", json.dumps({"code": "x" * (10 * 1024 * 1024 + 1), "language": "python"}).encode(), "code"),
    ("/run_code", json.dumps({"code": "x", "language": "python", "files": {"a": "%%"}}).encode(), 'files["a"]'),
    ("/run_code", json.dumps({"code": "x", "language": "python", "fetch_files": ["../etc"]}).encode(), "fetch_files[0]"),
    ("/run", json.dumps([{"language": "python"}]).encode(), "jobs[0].program"),
    ("/run", json.dumps([{"language": "python", "program": "x", "limits": {"timeout_s": -1}}]).encode(), "jobs[0].limits.timeout_s"),
]


def comment(language: str, text: str) -> str:
    prefix = get_language(SANDBOX_FUSION_LANGUAGES[language]).comment_prefix
    return f"{prefix} {text}\n"


def make_request(language: str, serial: int, rng: random.Random) -> tuple[dict[str, Any], str, str]:
    """(request body, kind, expected stdout) of one program; every program is different."""
    roll = rng.random()
    kind = "correct" if roll < 0.8 else ("runtime_error" if roll < 0.9 else "broken")
    source = {"correct": SUM, "runtime_error": RUNTIME_ERROR, "broken": BROKEN}[kind][language]
    if language == "php" and source.startswith("<?php\n"):
        code = "<?php\n" + comment(language, f"request {serial}") + source[len("<?php\n") :]
    else:
        code = comment(language, f"request {serial}") + source
    a, b = rng.randint(-10**9, 10**9), rng.randint(-10**9, 10**9)
    body = {"code": code, "language": language, "stdin": f"{a} {b}\n", "compile_timeout": 60, "run_timeout": 10}
    return body, kind, f"{a + b}\n"


def verdict_ok(response: dict[str, Any], language: str, kind: str, expected: str) -> bool:
    run = response.get("run_result") or {}
    if kind == "correct":
        return response.get("status") == "Success" and run.get("stdout") == expected
    if kind == "runtime_error":
        return response.get("status") == "Failed" and run.get("return_code") == 1
    compiled = get_language(SANDBOX_FUSION_LANGUAGES[language]).compiled
    if compiled:
        return response.get("status") == "Failed" and (response.get("compile_result") or {}).get("return_code") not in (None, 0)
    return response.get("status") == "Failed" and run.get("return_code") not in (None, 0)


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


# ---------------------------------------------------------------------------- the server
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(workers: int | None) -> tuple[subprocess.Popen, str]:
    port = free_port()
    cmd = [sys.executable, "-m", "xpl.cli", "serve", "--port", str(port)]
    if workers:
        cmd += ["--workers", str(workers)]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}"
    end = time.monotonic() + 120
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise SystemExit(f"xpl serve exited with {proc.returncode}: {proc.stderr.read() if proc.stderr else ''}")
        try:
            if requests.get(url + "/health", timeout=2).ok:
                return proc, url
        except requests.ConnectionError:
            time.sleep(0.2)
    raise SystemExit("xpl serve did not become healthy in 120 s")


def descendants(pid: int) -> list[str]:
    import psutil

    try:
        return [" ".join(p.cmdline()[:3]) for p in psutil.Process(pid).children(recursive=True)]
    except psutil.Error:
        return []


def settle(url: str, timeout_s: float = 120.0) -> dict[str, Any]:
    """Wait until no job is pending on the server; its /health then."""
    end = time.monotonic() + timeout_s
    health = requests.get(url + "/health", timeout=10).json()
    while health["pending_jobs"] and time.monotonic() < end:
        time.sleep(0.2)
        health = requests.get(url + "/health", timeout=10).json()
    return health


# ---------------------------------------------------------------------------- 1. load
def load(url: str, langs: list[str], clients: int, seconds: float, seed: int) -> dict[str, Any]:
    serial = itertools.count()
    lock = threading.Lock()
    records: list[dict[str, Any]] = []
    stop = time.monotonic() + seconds

    def client(index: int) -> None:
        rng = random.Random(seed * 1000 + index)
        session = requests.Session()
        turn = index
        while time.monotonic() < stop:
            language = langs[turn % len(langs)]
            turn += 1
            body, kind, expected = make_request(language, next(serial), rng)
            start = time.monotonic()
            record: dict[str, Any] = {"language": language, "kind": kind, "body": body}
            try:
                response = session.post(url + "/run_code", json=body, timeout=400)
                record["http"] = response.status_code
                if response.status_code == 200:
                    record["ok"] = verdict_ok(response.json(), language, kind, expected)
                elif response.status_code == 503:
                    time.sleep(min(5.0, float(response.headers.get("Retry-After", "1"))))
            except requests.RequestException as exc:
                record["http"] = 0
                record["error"] = str(exc)[:200]
            record["latency_s"] = time.monotonic() - start
            with lock:
                records.append(record)

    threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(clients)]
    t0 = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.monotonic() - t0
    answered = [r for r in records if r.get("http") == 200]
    latencies = [r["latency_s"] for r in answered]
    per_lang = {}
    for language in langs:
        mine = [r["latency_s"] for r in answered if r["language"] == language]
        per_lang[language] = {"requests": len(mine), "p50_s": round(percentile(mine, 0.5), 3), "p99_s": round(percentile(mine, 0.99), 3)}
    return {
        "wall_s": round(wall, 2),
        "requests": len(records),
        "answered_200": len(answered),
        "requests_per_s": round(len(answered) / wall, 2),
        "p50_s": round(percentile(latencies, 0.5), 3),
        "p99_s": round(percentile(latencies, 0.99), 3),
        "mean_s": round(statistics.fmean(latencies), 3) if latencies else None,
        "wrong_verdicts": sum(1 for r in answered if not r["ok"]),
        "busy_503": sum(1 for r in records if r.get("http") == 503),
        "http_errors": dict(Counter(r["http"] for r in records if r.get("http") not in (200, 503))),
        "per_language": per_lang,
        "_bodies": [(r["body"], r["language"], r["kind"]) for r in answered],
    }


# ---------------------------------------------------------------------------- 2. in-process
def in_process(bodies: list[tuple[dict[str, Any], str, str]], workers: int | None) -> dict[str, Any]:
    config = ServeConfig()
    runs = [parse_run_code(body, config) for body, _, _ in bodies]
    engine = Engine(workers=workers)
    try:
        t0 = time.perf_counter()
        results = engine.run([r.job for r in runs], io=[r.io for r in runs])
        wall = time.perf_counter() - t0
    finally:
        engine.close()
    wrong = 0
    for run, result, (body, language, kind) in zip(runs, results, bodies):
        a, b = map(int, body["stdin"].split())
        if not verdict_ok(run_code_response(run.lang, result, {}), language, kind, f"{a + b}\n"):
            wrong += 1
    return {"jobs": len(runs), "wall_s": round(wall, 2), "jobs_per_s": round(len(runs) / wall, 2) if wall else None, "wrong_verdicts": wrong}


# ---------------------------------------------------------------------------- 3-5. abuse
def malformed(url: str) -> dict[str, Any]:
    failures = []
    for path, body, field in MALFORMED:
        response = requests.post(url + path, data=body, headers={"Content-Type": "application/json"}, timeout=60)
        try:
            answer = response.json()
        except ValueError:
            answer = {}
        good = 400 <= response.status_code < 500 and answer.get("field") == field and "\n" not in answer.get("detail", "\n")
        if not good:
            failures.append({"path": path, "field": field, "status": response.status_code, "answer": str(answer)[:200]})
    return {"sent": len(MALFORMED), "not_4xx_naming_the_field": failures}


def disconnects(url: str) -> dict[str, Any]:
    port = int(url.rsplit(":", 1)[1])
    before = requests.get(url + "/health", timeout=10).json()["stats"].get("disconnects", 0)
    body = json.dumps({"code": "import time\ntime.sleep(3)\nprint('late')\n", "language": "python", "run_timeout": 10}).encode()
    with socket.create_connection(("127.0.0.1", port)) as sock:  # whole request, then gone
        sock.sendall(b"POST /run_code HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
        time.sleep(0.5)
    with socket.create_connection(("127.0.0.1", port)) as sock:  # half a body, then gone
        sock.sendall(b"POST /run_code HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"code\": \"pri")
        time.sleep(0.5)
    deadline = time.monotonic() + 10
    seen = before
    while time.monotonic() < deadline and seen == before:
        seen = requests.get(url + "/health", timeout=10).json()["stats"].get("disconnects", 0)
        time.sleep(0.1)
    after = requests.post(url + "/run_code", json={"code": "print('alive')", "language": "python"}, timeout=120).json()
    return {"disconnects_noticed": seen - before, "serves_after": (after.get("run_result") or {}).get("stdout") == "alive\n"}


async def _burst(url: str, n: int, timeout_s: float) -> dict[str, Any]:
    import aiohttp

    statuses: Counter[str] = Counter()
    retry_after_missing = 0
    latencies: list[float] = []

    async def one(session: aiohttp.ClientSession, i: int) -> None:
        nonlocal retry_after_missing
        start = time.monotonic()
        try:
            async with session.post(url + "/run_code", json={"code": f"# burst {i}\nprint({i})\n", "language": "python"}) as response:
                await response.read()
                statuses[str(response.status)] += 1
                if response.status == 503 and not response.headers.get("Retry-After", "").isdigit():
                    retry_after_missing += 1
        except asyncio.TimeoutError:
            statuses["no answer (hang)"] += 1
        except aiohttp.ClientError as exc:
            statuses[f"connection error: {type(exc).__name__}"] += 1
        latencies.append(time.monotonic() - start)

    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=timeout_s)) as session:
        t0 = time.monotonic()
        await asyncio.gather(*(one(session, i) for i in range(n)))
        wall = time.monotonic() - t0
    return {"sent": n, "statuses": dict(statuses), "503_without_retry_after": retry_after_missing, "wall_s": round(wall, 2), "slowest_s": round(max(latencies), 2)}


def burst(url: str, n: int) -> dict[str, Any]:
    result = asyncio.run(_burst(url, n, timeout_s=400))
    try:
        result["alive_after"] = requests.get(url + "/health", timeout=10).ok
    except requests.RequestException:
        result["alive_after"] = False
    return result


# ---------------------------------------------------------------------------- main
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="length of the load phase")
    parser.add_argument("--clients", type=int, default=64)
    parser.add_argument("--langs", default="python,cpp,nodejs,rust,go,java", help="SandboxFusion language names")
    parser.add_argument("--workers", type=int, default=None, help="xpl serve --workers (and the in-process engine's)")
    parser.add_argument("--burst", type=int, default=1000)
    parser.add_argument("--url", default=None, help="use this running server instead of starting one (no leak check)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, default=None, help="write the report here too")
    args = parser.parse_args()
    langs = [lang for lang in args.langs.split(",") if lang]
    unknown = [lang for lang in langs if lang not in SUM]
    if unknown:
        raise SystemExit(f"--langs: no benchmark programs for {', '.join(unknown)} (have: {', '.join(SUM)})")
    missing = [lang for lang in langs if not get_language(SANDBOX_FUSION_LANGUAGES[lang]).toolchain.available]
    if missing:
        print(f"skipping (no toolchain here): {', '.join(missing)}", file=sys.stderr)
        langs = [lang for lang in langs if lang not in missing]

    proc, url = (None, args.url) if args.url else start_server(args.workers)
    report: dict[str, Any] = {
        "machine": f"{platform.node()}: {os.cpu_count()} cores, {platform.machine()}",
        "settings": {"seconds": args.seconds, "clients": args.clients, "langs": langs, "workers": args.workers, "burst": args.burst},
    }
    try:
        before = descendants(proc.pid) if proc else []
        print(f"load: {args.clients} clients for {args.seconds:g} s on {', '.join(langs)} ...", file=sys.stderr)
        report["load"] = load(url, langs, args.clients, args.seconds, args.seed)
        bodies = report["load"].pop("_bodies")
        settle(url)
        print(f"in-process engine: the same {len(bodies)} jobs in one call ...", file=sys.stderr)
        report["in_process"] = in_process(bodies, args.workers) if bodies else {}
        if report["in_process"].get("jobs_per_s"):
            report["service_vs_in_process"] = round(report["load"]["requests_per_s"] / report["in_process"]["jobs_per_s"], 3)
        print("malformed requests, disconnects ...", file=sys.stderr)
        report["malformed"] = malformed(url)
        report["disconnects"] = disconnects(url)
        print(f"burst of {args.burst} requests ...", file=sys.stderr)
        report["burst"] = burst(url, args.burst)
        health = settle(url)
        report["server"] = {"answered": health["answered"], "stats": health["stats"], "sandbox": health["sandbox"]}
        if proc:
            time.sleep(1.0)
            after = descendants(proc.pid)
            report["leaks"] = {
                "processes_before": len(before),
                "processes_after_idle": len(after),
                "leftover": after[:20],
                "scratch_dirs_left": len(list(Path("/tmp").glob(f"xpl-exec-{proc.pid}-*"))),
            }
    finally:
        if proc:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
    print(json.dumps(report, indent=2))
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    problems = []
    if report["load"]["wrong_verdicts"] or report["in_process"].get("wrong_verdicts"):
        problems.append("wrong verdicts")
    if report["load"]["http_errors"]:
        problems.append(f"HTTP errors under load: {report['load']['http_errors']}")
    if report["malformed"]["not_4xx_naming_the_field"]:
        problems.append("malformed requests not answered 4xx naming the field")
    if not report["disconnects"]["serves_after"] or report["disconnects"]["disconnects_noticed"] < 1:
        problems.append("disconnect handling")
    bad_burst = {k: v for k, v in report["burst"]["statuses"].items() if k not in ("200", "503")}
    if bad_burst or not report["burst"]["alive_after"] or report["burst"]["503_without_retry_after"]:
        problems.append(f"burst: {bad_burst or 'server down after it'}")
    if report.get("leaks", {}).get("processes_after_idle"):
        problems.append(f"leaked processes: {report['leaks']['leftover']}")
    if problems:
        raise SystemExit("FAILED: " + "; ".join(problems))


if __name__ == "__main__":
    main()
