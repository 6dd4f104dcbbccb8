"""Engine behaviour: batching never changes a result, the store resumes, statuses are right."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import tempfile
import subprocess
import sys
import time
from pathlib import Path

import pytest

from xpl.execution import Engine, Job, Limits, Status, Store
from xpl.languages import all_languages, get_language
from xpl.languages.demo import DEMO_DOC, DEMO_SIG, DEMO_TESTS, examples
from tests.slow import by_toolchain, slow

LIMITS = Limits(timeout_s=20.0)
COMPILED = [lang.name for lang in all_languages() if lang.compiled]


def _programs(lang_name: str) -> list[tuple[str, str]]:
    lang = get_language(lang_name)
    ex = examples(lang_name)
    progs = []
    for kind in ("add", "add_wrong", "broken", "raise_on_zero", "add"):
        progs.append((kind, lang.program(DEMO_SIG, DEMO_DOC, ex[kind], DEMO_TESTS)))
    # a second copy of the correct program that differs (so it is not deduplicated)
    progs[-1] = ("add_variant", progs[-1][1] + "\n")
    return progs


def _expected(lang):
    return lang.expected_results(DEMO_SIG, DEMO_TESTS)


@pytest.mark.parametrize("lang_name", by_toolchain(COMPILED))
def test_broken_candidate_does_not_change_batch_results(lang_name, engine):
    lang = get_language(lang_name)
    if not lang.toolchain.available:
        pytest.skip(f"{lang.display_name} toolchain not installed")
    progs = _programs(lang_name)
    # one engine call with one worker: all five go to the compiler as one batch
    solo_engine = Engine(workers=1)
    try:
        batched = solo_engine.run([Job(lang_name, p, len(DEMO_TESTS), LIMITS, id=k, expected=_expected(lang)) for k, p in progs])
    finally:
        solo_engine.close()
    alone = [engine.run([Job(lang_name, p, len(DEMO_TESTS), LIMITS, id=k, expected=_expected(lang))])[0] for k, p in progs]
    for (kind, _), b, a in zip(progs, batched, alone):
        assert (b.status, b.passed, b.total, b.failed_tests, b.exit_code) == (
            a.status,
            a.passed,
            a.total,
            a.failed_tests,
            a.exit_code,
        ), f"{kind}: batched {b.describe()} vs alone {a.describe()}"
    assert [b.status for b in batched] == [
        Status.OK,
        Status.TEST_FAILURE,
        Status.COMPILE_ERROR,
        Status.RUNTIME_ERROR,
        Status.OK,
    ]
    assert batched[2].compile_output, "a compile error must carry the compiler's diagnostics"


def test_store_skips_finished_jobs(tmp_path):
    store_path = tmp_path / "results.sqlite"
    jobs = [Job("python", f"print({i})\n", limits=LIMITS) for i in range(4)]
    engine = Engine(store=store_path)
    first = engine.run(jobs)
    engine.close()
    assert not any(r.cached for r in first)
    engine = Engine(store=store_path)
    again = engine.run(jobs + [Job("python", "print('new')\n", limits=LIMITS)])
    engine.close()
    assert [r.cached for r in again] == [True, True, True, True, False]
    assert [r.stdout for r in again[:4]] == [r.stdout for r in first]
    assert len(Store(store_path)) == 5


def test_key_depends_on_program_limits_and_toolchain():
    a = Job("python", "print(1)\n")
    assert a.key("v1") == Job("python", "print(1)\n", id="other").key("v1")
    assert a.key("v1") != a.key("v2")
    assert a.key("v1") != Job("python", "print(2)\n").key("v1")
    assert a.key("v1") != Job("python", "print(1)\n", limits=Limits(timeout_s=3)).key("v1")
    assert a.key("v1") != Job("python", "print(1)\n", num_tests=1).key("v1")


@pytest.mark.slow  # kills and resumes xpl exec (tests/slow.py)
def test_interrupted_exec_resumes_without_loss_or_double_counting(tmp_path):
    """kill -9 `xpl exec` mid-run; the rerun only runs what had not finished."""
    n = 24
    jobs_file = tmp_path / "jobs.jsonl"
    with jobs_file.open("w") as fh:
        for i in range(n):
            fh.write(json.dumps({"id": f"j{i}", "language": "python", "program": f"import time\ntime.sleep(0.4)\nprint({i})\n"}) + "\n")
    store = tmp_path / "store.sqlite"
    cmd = [sys.executable, "-m", "xpl.cli", "exec", str(jobs_file), "--store", str(store), "-j", "2"]
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2] / "src")}
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.time() + 60
    while time.time() < deadline and _stored(store) < 4:
        time.sleep(0.1)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    done_before = _stored(store)
    assert 4 <= done_before < n, f"kill came too late or too early: {done_before} of {n} stored"
    out = tmp_path / "out.jsonl"
    rerun = subprocess.run(cmd + ["--out", str(out)], env=env, capture_output=True, text=True, timeout=120)
    assert rerun.returncode == 0, rerun.stderr
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["id"] for r in rows] == [f"j{i}" for i in range(n)]
    assert all(r["status"] == "ok" for r in rows)
    assert [r["stdout"].strip() for r in rows] == [str(i) for i in range(n)]
    assert sum(r["cached"] for r in rows) == done_before
    assert len(Store(store)) == n
    # the killed run's scratch tree was swept by the rerun
    assert not list(Path(tempfile.gettempdir()).glob(f"xpl-exec-{proc.pid}-*"))


def _stored(path: Path) -> int:
    """Rows in a results store, read-only, while another process may be writing it."""
    if not path.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5) as db:
            return db.execute("SELECT COUNT(*) FROM results").fetchone()[0]
    except sqlite3.OperationalError:
        return 0


def test_status_classification_without_harness(engine):
    """Programs without our harness are judged by exit status and the PL's error patterns."""
    progs = {
        "ok": ("print('hi')\n", Status.OK),
        "assert": ("assert 1 == 2\n", Status.TEST_FAILURE),
        "raise": ("raise ValueError('x')\n", Status.RUNTIME_ERROR),
        "syntax": ("def f(:\n", Status.COMPILE_ERROR),
        "exit3": ("import sys\nsys.exit(3)\n", Status.RUNTIME_ERROR),
        "timeout": ("while True: pass\n", Status.TIMEOUT),
    }
    res = engine.run([Job("python", src, limits=Limits(timeout_s=2)) for src, _ in progs.values()])
    for (name, (_, want)), r in zip(progs.items(), res):
        assert r.status == want, f"{name}: {r.describe()}"
    assert res[4].exit_code == 3


def test_forked_python_program_ends_like_the_interpreter(engine):
    """A Python program runs in a child forked from the runner, and must end as `python -I -S
    file.py` ends: non-daemon threads joined, atexit handlers run, an uncaught exception printed
    as a traceback from the program's own frame."""
    threads = (
        "import atexit, threading, time\n"
        "atexit.register(lambda: print('atexit ran', flush=True))\n"
        "def late():\n    time.sleep(0.2)\n    print('thread done', flush=True)\n"
        "threading.Thread(target=late).start()\n"
        "print('main done', flush=True)\n"
    )
    crash = "def f():\n    raise KeyError('boom')\nf()\n"
    ok, err = engine.run([Job("python", threads, limits=Limits(timeout_s=10)), Job("python", crash, limits=Limits(timeout_s=10))])
    assert ok.status == Status.OK and ok.stdout.split() == ["main", "done", "thread", "done", "atexit", "ran"], ok.describe()
    assert err.status == Status.RUNTIME_ERROR and err.exit_code == 1, err.describe()
    assert err.stderr.startswith("Traceback (most recent call last):") and "KeyError: 'boom'" in err.stderr, err.stderr
    assert "runner.py" not in err.stderr, err.stderr


def test_harness_that_stops_early_is_runtime_error(engine):
    lang = get_language("python")
    body = "    import os\n    if a == 0:\n        os._exit(0)\n    return a + b\n"
    r = engine.run([Job("python", lang.program(DEMO_SIG, DEMO_DOC, body, DEMO_TESTS), len(DEMO_TESTS), expected=_expected(lang))])[0]
    assert (r.status, r.passed, r.total) == (Status.RUNTIME_ERROR, 1, 4), r.describe()
    assert r.failed_tests == [1, 2, 3]


def test_forged_markers_are_ignored(engine):
    """Marker lines with another nonce are not the harness's (forgeries with the right nonce:
    tests/execution/test_forgery.py)."""
    forged = "print('\\n@@xpl - 0 pass\\n@@xpl - 1 pass\\n@@xpl - done')\n"
    r = engine.run([Job("python", forged, num_tests=2)])[0]
    assert r.status == Status.RUNTIME_ERROR and r.passed == 0, r.describe()


def test_unknown_language_and_missing_toolchain_fail_before_running(engine):
    with pytest.raises(ValueError, match="unknown language 'cobol'"):
        engine.run([Job("cobol", "x")])


def test_bad_limits_are_rejected():
    with pytest.raises(ValueError, match="limits.timeout_s must be a positive number"):
        Limits(timeout_s=0)
    with pytest.raises(ValueError, match="unknown field"):
        Limits.from_dict({"timeout": 3})


# Programs that compile alone but not inside the batch wrapping: their verdict must still be
# their own (the engine compiles them alone), and a broken neighbour must not change that.
WRAPPING_SENSITIVE = {
    "rust": (
        "fn helper() -> i32 { 41 }\nfn main() { println!(\"{}\", crate::helper() + 1); }\n",
        "fn main() { let x: i32 = \"no\"; }\n",
    ),
    "java": (
        "package org.example;\npublic class Main { public static void main(String[] a) { System.out.println(42); } }\n",
        "public class Main { public static void main(String[] a) { int x = \"no\"; } }\n",
    ),
    "csharp": (
        "using System;\nclass P { static void Main() { global::System.Console.WriteLine(42); } }\n",
        "class P { static void Main() { int x = \"no\"; } }\n",
    ),
}


@pytest.mark.parametrize("lang_name", by_toolchain(sorted(WRAPPING_SENSITIVE)))
def test_wrapping_sensitive_program_keeps_its_solo_verdict(lang_name):
    lang = get_language(lang_name)
    if not lang.toolchain.available:
        pytest.skip(f"{lang.display_name} toolchain not installed")
    good, broken = WRAPPING_SENSITIVE[lang_name]
    engine = Engine(workers=1)
    try:
        res = engine.run([Job(lang_name, good, limits=LIMITS), Job(lang_name, broken, limits=LIMITS)])
    finally:
        engine.close()
    assert res[0].status == Status.OK and res[0].stdout.strip() == "42", res[0].describe()
    assert res[1].status == Status.COMPILE_ERROR, res[1].describe()


@pytest.mark.parametrize("lang_name", by_toolchain(["java", "cpp", "go", "typescript"]))
def test_final_batch_verdict_carries_only_its_own_diagnostics(lang_name):
    lang = get_language(lang_name)
    if not lang.toolchain.available:
        pytest.skip(f"{lang.display_name} toolchain not installed")
    progs = dict(_programs(lang_name))
    second_broken = progs["broken"] + "\n\n"  # a different program, the same error
    engine = Engine(workers=1)
    try:
        res = engine.run([Job(lang_name, p, len(DEMO_TESTS), LIMITS, expected=_expected(lang)) for p in (progs["add"], progs["broken"], second_broken)])
    finally:
        engine.close()
    assert [r.status for r in res] == [Status.OK, Status.COMPILE_ERROR, Status.COMPILE_ERROR]
    for r in res[1:]:
        assert r.compile_output.strip(), r.describe()
    # each carries the lines about its own file, not the whole batch's output
    assert res[1].compile_output != res[2].compile_output


# Programs whose brackets do not balance by the look of them go to a compile of their own
# (Language.likely_broken / plan_suspects): each still gets the verdict it has alone, a valid
# program the hint misreads included, and one the hint misses still fails only itself.
SUSPECTS = {
    "rust": {
        "good": 'fn main() { println!("1"); }\n',
        "truncated": 'fn main() {\n    println!("2");\n    if true {\n',
        "stray": 'fn main() {\n    )\n    println!("3");\n}\n',
        "misread": 'fn main() { /* /* */ ( */ println!("4"); }\n',  # a nested comment: valid Rust
        "missed": 'fn main() { let x: i64 = "5"; println!("{}", x); }\n',  # balanced, a type error
        "good2": 'fn main() { println!("6"); }\n',
    },
    "csharp": {
        "good": 'class P { static void Main() { System.Console.WriteLine("1"); } }\n',
        "truncated": 'class P { static void Main() {\n    System.Console.WriteLine("2");\n',
        "stray": 'class P { static void Main() { ) System.Console.WriteLine("3"); } }\n',
        "misread": 'class P { static void Main() {\n#if false\n (\n#endif\n System.Console.WriteLine("4"); } }\n',
        "missed": 'class P { static void Main() { int x = "5"; System.Console.WriteLine(x); } }\n',
        "good2": 'class P { static void Main() { System.Console.WriteLine("6"); } }\n',
    },
}


@pytest.mark.parametrize("lang_name", by_toolchain(sorted(SUSPECTS)))
def test_suspects_are_compiled_apart_with_their_own_verdicts(lang_name, monkeypatch):
    lang = get_language(lang_name)
    if not lang.toolchain.available:
        pytest.skip(f"{lang.display_name} toolchain not installed")
    import xpl.execution.engine as engine_module

    cases = SUSPECTS[lang_name]
    suspected = {k for k, p in cases.items() if lang.likely_broken(p)}
    assert suspected == {"truncated", "stray", "misread"}
    tasks: list[tuple[bool, int]] = []
    original = engine_module.Engine._do_compile

    def record(self, slot, task):
        tasks.append((task.suspects, len(task.cands)))
        return original(self, slot, task)

    monkeypatch.setattr(engine_module.Engine, "_do_compile", record)
    jobs = [Job(lang_name, p, limits=LIMITS, id=k) for k, p in cases.items()]
    engine = Engine(workers=1)
    try:
        together = engine.run(jobs)
    finally:
        engine.close()
    assert (True, 3) in tasks, tasks  # the three suspects, in one compile task of their own
    monkeypatch.setattr(engine_module.Engine, "_do_compile", original)
    engine = Engine(workers=1)
    try:
        alone = [engine.run([job])[0] for job in jobs]
    finally:
        engine.close()
    for kind, t, a in zip(cases, together, alone):
        assert (t.status, t.stdout, t.exit_code) == (a.status, a.stdout, a.exit_code), f"{kind}: {t.describe()} vs alone {a.describe()}"
    status = {k: r.status for k, r in zip(cases, together)}
    assert status == {"good": Status.OK, "truncated": Status.COMPILE_ERROR, "stray": Status.COMPILE_ERROR,
                      "misread": Status.OK, "missed": Status.COMPILE_ERROR, "good2": Status.OK}
    assert [r.stdout.strip() for r in together if r.status == Status.OK] == ["1", "4", "6"]
    for k, r in zip(cases, together):
        if r.status == Status.COMPILE_ERROR:
            assert r.compile_output.strip(), k


def test_unsandboxed_fallback_still_runs_and_limits():
    """--sandbox none: no isolation (and said so), but builds, runs and deadlines still work."""
    engine = Engine(sandbox="none")
    try:
        assert not engine.sandbox.isolated and "NO filesystem/network isolation" in engine.sandbox.detail
        progs = [(name, get_language(name).program(DEMO_SIG, DEMO_DOC, examples(name)["add"], DEMO_TESTS)) for name in ("python", "cpp")]
        jobs = [Job(name, p, len(DEMO_TESTS), LIMITS, expected=_expected(get_language(name))) for name, p in progs]
        jobs.append(Job("python", "while True:\n    pass\n", limits=Limits(timeout_s=1)))
        res = engine.run(jobs)
    finally:
        engine.close()
    assert [r.status for r in res] == [Status.OK, Status.OK, Status.TIMEOUT], [r.describe() for r in res]


def test_a_dead_runner_costs_only_its_own_program():
    """Without the sandbox's uids a program can kill the runner that started it. The engine
    must then rerun the rest of the chunk and give only that program a sandbox_error."""
    engine = Engine(sandbox="none", workers=1)
    try:
        jobs = [Job("python", f"print({i})\n", limits=LIMITS) for i in range(3)]
        jobs.insert(1, Job("python", "import os, signal\nos.kill(os.getppid(), signal.SIGKILL)\n", limits=LIMITS))
        res = engine.run(jobs)
    finally:
        engine.close()
    assert [r.status for r in res] == [Status.OK, Status.SANDBOX_ERROR, Status.OK, Status.OK], [r.describe() for r in res]
    assert [r.stdout.strip() for r in (res[0], res[2], res[3])] == ["0", "1", "2"]
    assert "runner failed" in res[1].detail


_PRINT = {
    "rust": 'fn main() {{ println!("{}"); }}\n',
    "cpp": '#include <cstdio>\nint main() {{ std::printf("{}\\n"); }}\n',
}


@pytest.mark.parametrize("language, split, sizes", [("rust", True, [2, 2]), ("rust", False, [4]), ("cpp", False, [2, 2])])
def test_split_compiles_spreads_or_shares_a_pls_compiler_calls(monkeypatch, language, split, sizes):
    """By default a PL's programs are spread over the workers (shortest wall time); with
    ``split_compiles=False`` (``xpl serve``'s lanes) they share one compiler call, unless the
    PL's programs share no compiler work anyway (C++: one translation unit each)."""
    if not get_language(language).toolchain.available:
        pytest.skip(f"{language}: no toolchain here")
    import xpl.execution.engine as engine_module

    seen: list[int] = []
    original = engine_module.Engine._do_compile

    def record(self, slot, task):
        seen.append(len(task.cands))
        return original(self, slot, task)

    monkeypatch.setattr(engine_module.Engine, "_do_compile", record)
    jobs = [Job(language, _PRINT[language].format(i)) for i in range(4)]
    engine = Engine(workers=2, split_compiles=split)
    try:
        results = engine.run(jobs)
    finally:
        engine.close()
    assert [r.stdout for r in results] == [f"{i}\n" for i in range(4)]
    assert sorted(seen) == sizes


@slow
def test_a_compile_that_times_out_is_not_repeated_by_halving(monkeypatch):
    """A batch past the compile timeout names no culprit. The engine used to halve it, paying
    the timeout again at every level on the half holding the slow program (a SmolLM2 reply
    whose unclosed nesting sends javac's error recovery into minutes cost six 120 s timeouts
    in a 60-problem evaluation); now each of its programs compiles alone."""
    java = get_language("java")
    if not java.toolchain.available:
        pytest.skip("Java: no toolchain here")
    import xpl.execution.engine as engine_module

    timeouts = 0  # compiler invocations that ran past the compile timeout
    original = engine_module.Engine._invoke

    def record(self, slot, runs, *args, **kwargs):
        nonlocal timeouts
        raws, problem = original(self, slot, runs, *args, **kwargs)
        if kwargs.get("compile"):
            timeouts += sum(1 for r in raws if r.get("timed_out"))
        return raws, problem

    monkeypatch.setattr(engine_module.Engine, "_invoke", record)
    good = 'class Problem {{\n    public static void main(String[] a) {{ System.out.println("{}"); }}\n}}\n'
    # 12 unclosed levels: about a minute of javac on this machine, far past the 5 s allowed.
    slow_program = (
        "import java.util.regex.Pattern;\nclass Problem {\n    static int f(String s) {\n"
        "        return g(s, Pattern.newBuilder()\n               .Builder(" + "Pattern.newBuilder(" * 12 + "\n    }\n"
        '    public static void main(String[] a) { System.out.println("x"); }\n}\n'
    )
    limits = Limits(compile_timeout_s=5.0)
    jobs = [Job("java", good.format(i), limits=limits) for i in range(7)]
    jobs.insert(3, Job("java", slow_program, limits=limits))
    engine = Engine(workers=2)
    try:
        results = engine.run(jobs)
    finally:
        engine.close()
    statuses = [r.status for r in results]
    # (once, in a full suite run, this came back compile_error: the output says why next time)
    assert statuses[3] == Status.TIMEOUT and "compiler exceeded 5 s" in results[3].detail, (statuses[3], results[3].detail, results[3].compile_output[-1500:])
    assert statuses[:3] + statuses[4:] == [Status.OK] * 7
    assert [r.stdout for r in results[:3] + results[4:]] == [f"{i}\n" for i in range(7)]
    assert timeouts <= 2, timeouts  # the batch holding it, then itself alone
