"""A stand-in for MultiPL-E's evaluator: the peer that benchmarks/execution.py times xpl against.

    python benchmarks/multiple_peer.py --lang rust --programs DIR --max-workers 2 --out results.jsonl

Every file in DIR is one complete, self-checking program (prompt + completion + tests, as
MultiPL-E concatenates them). Each is evaluated the way MultiPL-E's ``evaluation/src`` does it:
the program is written to a fresh named temporary file with the PL's suffix, the PL's compiler
is run on it with MultiPL-E's flags and time limits, then the program, and the result is
judged by exit status and the evaluator's own status rules (``OK``, ``SyntaxError``,
``Exception``, ``Timeout``, ...; a program passes when its status is ``OK``). Programs are spread
over a thread pool of ``--max-workers`` threads (default, as MultiPL-E's: cores - 1), one
result per program in DIR order is written to ``--out`` (JSONL) as it is known. Only the
standard library is used: this file does not import xpl.

It re-implements behaviour; no MultiPL-E code is copied. The facts come from the MultiPL-E
files below, read from a stored copy of the repository nuprl/MultiPL-E (the commit is the one
that copy holds; in that copy ``evaluation/src`` lacks several evaluators, whose latest
version under the older ``src/`` folder of the same repository is used instead):

* driver, ``evaluation/src/main.py`` @ 24e5d5df6144: a ``ThreadPoolExecutor(max_workers)``
  mapped over the completions in order; ``--max-workers`` defaults to ``cpu_count() - 1``
  (1 on one core); results are cached by program text (a repeated program is evaluated once).
* ``evaluation/src/containerized_eval.py`` @ 0231fc9ec7e6: the program is written to
  ``NamedTemporaryFile(suffix=...)`` (Go: ``_test.go``), evaluated, output decoded leniently.
* ``evaluation/src/safe_subprocess/__init__.py`` @ 18919bdce935: the polled runner
  (``polled_run`` below): own session, stdin from /dev/null, non-blocking pipes; every 0.1 s
  it reads up to 1024 bytes from each pipe (keeping at most 2048 bytes of each) and polls;
  ``timeout_seconds * 10`` polls (default 15 s); then the process group is killed.
* Python, ``evaluation/src/eval_python.py`` @ 03515eb95187: ``python3 FILE`` (polled, 15 s).
* PHP, ``evaluation/src/eval_php.py`` @ 03515eb95187: ``php FILE`` (polled, 15 s); "PHP Parse
  error" in stdout is a SyntaxError, a non-zero exit an Exception (no Timeout status).
* Go, ``evaluation/src/eval_go.py`` @ 03515eb95187: ``go test FILE_test.go`` through
  ``subprocess.run`` (30 s); "[setup failed]"/"[build failed]" in stdout is a SyntaxError,
  "FAIL" in stdout an Exception, else OK (the exit status is not looked at).
* Java, ``evaluation/src/eval_java.py`` @ 6263b23e25eb: ``CLASSPATH`` set to MultiPL-E's
  javatuples jar; ``javac -encoding UTF8 -d TMPDIR FILE`` then ``java -ea -cp TMPDIR:JAR
  Problem``, both polled (15 s).
* Rust, ``src/eval_rust.py`` @ 44ca8bbdd65c (also in bigcode-evaluation-harness copies):
  ``rustc FILE -o BASENAME`` (no flags: debug build, edition 2015; ``subprocess.run``, 15 s),
  then ``BASENAME`` (5 s); the binary is removed.
* C++, ``src/eval_cpp.py`` @ 73dd78b3ec9e: ``g++ FILE -o BASENAME -std=c++17`` then
  ``BASENAME``, both polled (15 s); the binary is left behind, as there.
* TypeScript, ``src/eval_ts.py`` @ a1f3916711ef: ``tsc --target esnext FILE`` then ``node
  FILE.js``, both polled (15 s); the .js is left behind, as there.
* JavaScript, ``src/eval_javascript.py`` @ 44ca8bbdd65c: ``node FILE`` through
  ``subprocess.run`` (5 s).
* Ruby, ``src/eval_ruby.py`` @ c506d79be62d (the same rules in bigcode-evaluation-harness's
  copy): ``ruby FILE`` through ``subprocess.run(check=True)`` (5 s); a failure with empty
  stderr is an Exception, with stderr a SyntaxError.
* C#, ``src/eval_cs.py`` @ de45e02c61da, with the later rule of bigcode-evaluation-harness's
  copy: ``csc /d:DEBUG -r:System.Numerics.dll FILE /out:BASENAME.exe`` (no time limit), then
  ``mono BASENAME.exe`` with only ``PATH`` and ``MONO_TRACE_LISTENER=Console.Error`` in its
  environment (5 s); the exit status is ignored: the run failed when stderr holds
  "System.Diagnostics.DefaultTraceListener.Fail" (a failed ``Debug.Assert``) or "Unhandled
  Exception". The exe is removed.
* Lua: no ``eval_lua.py`` of the current layout is in the stored copy (the ``src/`` one is an
  older whole-directory script); the rule used, ``lua FILE`` polled (15 s), Timeout / OK on exit
  status 0 / Exception, is the one of the copies of MultiPL-E's evaluators found elsewhere.

Where the behaviour had to be guessed or adapted:

* ``evaluation/src/eval_javascript.py`` is not in the stored copy; the newest stored
  ``src/eval_javascript.py`` (``subprocess.run``, 5 s) is followed. Should the current one use
  the polled runner, as its TypeScript sibling does, MultiPL-E would be slower than this peer.
* ``csc`` (Roslyn) is not installed here: when it is missing, Mono's ``mcs`` is run with the
  same arguments (it accepts them).
* The javatuples jar is not installed; its path stays on the class path as in MultiPL-E's
  container (a missing class path entry is ignored by javac and java).
* main.py rewrites a problem's whole results file after every completion; this peer appends
  one JSON line per result instead (cheaper, so it favours the peer).
* main.py runs one thread pool per problem file (the completions of one problem); this peer
  runs one pool over every program in DIR (never slower, so it favours the peer).
* The C++ evaluator's checks for two broken cluster compilers (it raises on their paths in
  stderr) are left out: they cannot fire here.

``--tmpdir`` puts the temporary files somewhere else than the system's temporary directory
(MultiPL-E leaves C++ binaries and TypeScript's .js files there; the benchmark passes a
scratch folder that it deletes).
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

TICK_S = 0.1  # safe_subprocess: one poll (and one read of each pipe) per tick
CHUNK = 1024  # bytes read from each pipe per tick
KEEP = 2048  # bytes of each stream kept
POLLED_TIMEOUT_S = 15
JAVATUPLES_JAR = "/usr/multiple/javatuples-1.2.jar"


# --------------------------------------------------------------------------- processes


@dataclass
class Ran:
    timed_out: bool
    exit_code: int  # -1 when timed out
    stdout: str
    stderr: str


def polled_run(argv: list[str], timeout_s: int = POLLED_TIMEOUT_S, env: dict[str, str] | None = None) -> Ran:
    """Start ``argv`` in its own session and look at it once per tick: take what each pipe has
    (a chunk at most), then ask whether it has exited; after ``timeout_s`` seconds' worth of
    ticks give up. The whole process group is killed either way."""
    proc = subprocess.Popen(
        argv,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
        bufsize=CHUNK,
        env=env,
    )
    streams = (proc.stdout, proc.stderr)
    for stream in streams:
        flags = fcntl.fcntl(stream.fileno(), fcntl.F_GETFL)
        fcntl.fcntl(stream.fileno(), fcntl.F_SETFL, flags | os.O_NONBLOCK)
    group = os.getpgid(proc.pid)
    kept: list[list[bytes]] = [[], []]
    sizes = [0, 0]
    status = None
    ticks = round(timeout_s / TICK_S)
    for _ in range(ticks):
        for k, stream in enumerate(streams):
            data = stream.read(CHUNK)
            if data is not None and sizes[k] < KEEP:
                kept[k].append(data)
                sizes[k] += len(data)
        status = proc.poll()
        if status is not None:
            break
        time.sleep(TICK_S)
    try:
        os.killpg(group, signal.SIGKILL)
    except ProcessLookupError:
        pass
    for stream in streams:
        stream.close()
    proc.wait()
    out, err = (b"".join(parts).decode("utf-8", errors="ignore") for parts in kept)
    return Ran(status is None, -1 if status is None else status, out, err)


def plain_run(argv: list[str], timeout_s: float | None, env: dict[str, str] | None = None) -> Ran:
    """``subprocess.run`` with captured output, as the evaluators that do not poll call it."""
    try:
        done = subprocess.run(argv, capture_output=True, timeout=timeout_s, env=env)
    except subprocess.TimeoutExpired as exc:
        return Ran(True, -1, _text(exc.stdout), _text(exc.stderr))
    return Ran(False, done.returncode, _text(done.stdout), _text(done.stderr))


def _text(data: bytes | str | None) -> str:
    if data is None:
        return ""
    return data if isinstance(data, str) else data.decode("utf-8", errors="ignore")


def _stem(path: Path) -> str:
    """The file's path without its last extension (where compiled PLs put their binary)."""
    return str(path.with_suffix(""))


def _verdict(status: str, ran: Ran) -> dict:
    return {"status": status, "exit_code": ran.exit_code, "stdout": ran.stdout, "stderr": ran.stderr}


# --------------------------------------------------------------------------- evaluators


def eval_python(path: Path) -> dict:
    r = polled_run(["python3", str(path)])
    if r.timed_out:
        return _verdict("Timeout", r)
    if r.exit_code == 0:
        return _verdict("OK", r)
    return _verdict("SyntaxError" if "SyntaxError" in r.stderr else "Exception", r)


def _node_status(r: Ran, text: str) -> str:
    """The JavaScript/TypeScript evaluators' names for a node run that did not exit 0."""
    for marker, status in (("ERR_ASSERTION", "AssertionError"), ("SyntaxError", "SyntaxError"), ("ReferenceError", "ReferenceError")):
        if marker in text:
            return status
    return "Exception"


def eval_javascript(path: Path) -> dict:
    r = plain_run(["node", str(path)], 5)
    if r.timed_out:
        return _verdict("Timeout", r)
    if r.exit_code == 0:
        return _verdict("OK", r)
    # The evaluator searches the printed CompletedProcess, i.e. both streams.
    return _verdict(_node_status(r, r.stdout + r.stderr), r)


def eval_typescript(path: Path) -> dict:
    built = polled_run(["tsc", "--target", "esnext", str(path)], 15)
    if built.exit_code != 0:
        return _verdict("SyntaxError", built)
    r = polled_run(["node", str(path).replace(".ts", ".js")], 15)
    if r.timed_out:
        return _verdict("Timeout", r)
    if r.exit_code == 0:
        return _verdict("OK", r)
    return _verdict(_node_status(r, r.stderr), r)


def eval_rust(path: Path) -> dict:
    binary = _stem(path)
    built = plain_run(["rustc", str(path), "-o", binary], 15)
    if built.timed_out:
        return {"status": "Timeout", "exit_code": -1, "stdout": "Compiler timeout", "stderr": "Compiler timeout"}
    if built.exit_code != 0:
        return _verdict("SyntaxError", built)
    r = plain_run([binary], 5)
    os.remove(binary)
    if r.timed_out:
        return _verdict("Timeout", r)
    return _verdict("OK" if r.exit_code == 0 else "Exception", r)


def eval_go(path: Path) -> dict:
    r = plain_run(["go", "test", str(path)], 30)
    if r.timed_out:
        return {"status": "Timeout", "exit_code": None, "stdout": None, "stderr": None}
    if "[setup failed]" in r.stdout or "[build failed]" in r.stdout:
        status = "SyntaxError"
    elif "FAIL" in r.stdout:
        status = "Exception"
    else:
        status = "OK"
    return _verdict(status, r)


def eval_java(path: Path) -> dict:
    env = dict(os.environ, CLASSPATH=JAVATUPLES_JAR)
    with tempfile.TemporaryDirectory() as classes:
        built = polled_run(["javac", "-encoding", "UTF8", "-d", classes, str(path)], env=env)
        if built.exit_code != 0:
            return _verdict("SyntaxError", built)
        r = polled_run(["java", "-ea", "-cp", f"{classes}:{JAVATUPLES_JAR}", "Problem"], env=env)
    if r.timed_out:
        return _verdict("Timeout", r)
    return _verdict("OK" if r.exit_code == 0 else "Exception", r)


def eval_cpp(path: Path) -> dict:
    binary = _stem(path)
    built = polled_run(["g++", str(path), "-o", binary, "-std=c++17"])
    if built.exit_code != 0:
        return _verdict("SyntaxError", built)
    r = polled_run([binary])
    if r.timed_out:
        return _verdict("Timeout", r)
    return _verdict("Exception" if r.exit_code != 0 else "OK", r)


def eval_csharp(path: Path) -> dict:
    exe = _stem(path) + ".exe"
    compiler = "csc" if shutil.which("csc") else "mcs"
    built = plain_run([compiler, "/d:DEBUG", "-r:System.Numerics.dll", str(path), f"/out:{exe}"], None)
    if built.exit_code != 0:
        return _verdict("SyntaxError", built)
    r = plain_run(["mono", exe], 5, env={"PATH": os.environ.get("PATH", ""), "MONO_TRACE_LISTENER": "Console.Error"})
    os.remove(exe)
    if r.timed_out:
        return _verdict("Timeout", r)
    # Mono's exit status is not trusted there: failing asserts and uncaught exceptions are
    # recognised by what they print.
    failed = "System.Diagnostics.DefaultTraceListener.Fail" in r.stderr or "Unhandled Exception" in r.stderr
    return _verdict("Exception" if failed else "OK", r)


def eval_php(path: Path) -> dict:
    r = polled_run(["php", str(path)])
    if "PHP Parse error" in r.stdout:
        return _verdict("SyntaxError", r)
    return _verdict("Exception" if r.exit_code != 0 else "OK", r)


def eval_ruby(path: Path) -> dict:
    r = plain_run(["ruby", str(path)], 5)
    if r.timed_out:
        return _verdict("Timeout", r)
    if r.exit_code == 0:
        return _verdict("OK", r)
    # Any message on stderr counts as a syntax error there; a silent failure as an exception.
    return _verdict("SyntaxError" if r.stderr else "Exception", r)


def eval_lua(path: Path) -> dict:
    r = polled_run(["lua", str(path)])
    if r.timed_out:
        return _verdict("Timeout", r)
    return _verdict("OK" if r.exit_code == 0 else "Exception", r)


# PL -> (evaluator, file suffix); keys are xpl's names, ALIASES adds MultiPL-E's.
EVALUATORS: dict[str, tuple[Callable[[Path], dict], str]] = {
    "python": (eval_python, ".py"),
    "javascript": (eval_javascript, ".js"),
    "typescript": (eval_typescript, ".ts"),
    "rust": (eval_rust, ".rs"),
    "go": (eval_go, "_test.go"),
    "java": (eval_java, ".java"),
    "cpp": (eval_cpp, ".cpp"),
    "csharp": (eval_csharp, ".cs"),
    "php": (eval_php, ".php"),
    "ruby": (eval_ruby, ".rb"),
    "lua": (eval_lua, ".lua"),
}
ALIASES = {"py": "python", "js": "javascript", "ts": "typescript", "rs": "rust", "go_test.go": "go", "cs": "csharp", "rb": "ruby"}


# --------------------------------------------------------------------------- driver


class Evaluator:
    """Evaluates program texts of one PL, each once (later copies get the first result)."""

    def __init__(self, lang: str, tmpdir: str | None):
        self.evaluate_file, self.suffix = EVALUATORS[lang]
        self.tmpdir = tmpdir
        self.seen: dict[str, dict] = {}
        self.lock = threading.Lock()

    def __call__(self, program: str) -> dict:
        with self.lock:
            known = self.seen.get(program)
            if known is None:
                known = self.seen[program] = {}
                mine = True
            else:
                mine = False
        if not mine:
            return known  # filled in by the thread that evaluates it (as there, possibly later)
        with tempfile.NamedTemporaryFile(suffix=self.suffix, dir=self.tmpdir) as fh:
            fh.write(program.encode("utf-8"))
            fh.flush()
            verdict = self.evaluate_file(Path(fh.name))
        known.update(
            program=program,
            stdout=(verdict["stdout"] or "").replace("!!int", ""),
            stderr=verdict["stderr"] or "",
            exit_code=verdict["exit_code"],
            status=verdict["status"],
            timestamp=int(time.time()),
        )
        return known


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lang", required=True, help=f"one of {', '.join(EVALUATORS)} (or MultiPL-E's short name)")
    ap.add_argument("--programs", required=True, type=Path, help="folder with one complete program per file")
    ap.add_argument("--max-workers", type=int, default=None, help="threads (default: cores - 1, at least 1)")
    ap.add_argument("--out", required=True, type=Path, help="results, one JSON line per program in file-name order")
    ap.add_argument("--tmpdir", default=None, help="where the temporary files go (default: the system's)")
    args = ap.parse_args(argv)
    lang = ALIASES.get(args.lang, args.lang)
    if lang not in EVALUATORS:
        ap.error(f"--lang {args.lang!r}: not one of {', '.join(EVALUATORS)}")
    workers = args.max_workers or (os.cpu_count() - 1 if (os.cpu_count() or 1) > 1 else 1)
    files = sorted(p for p in args.programs.iterdir() if p.is_file())
    programs = [p.read_text(encoding="utf-8") for p in files]
    evaluate = Evaluator(lang, args.tmpdir)
    start = time.time()
    with args.out.open("w", encoding="utf-8") as out, ThreadPoolExecutor(max_workers=workers) as pool:
        for path, result in zip(files, pool.map(evaluate, programs)):
            out.write(json.dumps({"id": path.name, "language": lang, **result}) + "\n")
            out.flush()
    print(f"Execution took {time.time() - start} seconds", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
