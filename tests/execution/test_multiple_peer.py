"""The MultiPL-E peer of the execution benchmark (benchmarks/multiple_peer.py) and the programs
the benchmark gives it (benchmarks/execution.py): the polled runner, status rules, the CLI, and
the fitting of the self-checking programs to the Go and C# evaluators."""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from benchmarks import multiple_peer as peer
from benchmarks.execution import broken, family, for_peer, programs
from xpl.languages import get_language

PY = sys.executable


def test_polled_run_reports_exit_status_and_output():
    r = peer.polled_run([PY, "-c", "import sys; print('hi'); print('oops', file=sys.stderr); sys.exit(3)"])
    assert (r.timed_out, r.exit_code, r.stdout, r.stderr) == (False, 3, "hi\n", "oops\n")


def test_polled_run_times_out_and_kills_the_group():
    t0 = time.perf_counter()
    r = peer.polled_run([PY, "-c", "import subprocess, time; subprocess.Popen(['sleep', '30']); time.sleep(30)"], timeout_s=0.3)
    assert r.timed_out and r.exit_code == -1
    assert time.perf_counter() - t0 < 5


def test_polled_run_waits_a_tick_for_a_program_that_is_not_done_at_once():
    t0 = time.perf_counter()
    peer.polled_run([PY, "-c", "import time; time.sleep(0.02)"])
    assert time.perf_counter() - t0 >= peer.TICK_S


def test_python_status_rules(tmp_path):
    cases = {"ok.py": "print(1)\n", "fails.py": "assert 1 == 2\n", "syntax.py": "def f(:\n"}
    got = {}
    for name, text in cases.items():
        path = tmp_path / name
        path.write_text(text)
        got[name] = peer.eval_python(path)["status"]
    assert got == {"ok.py": "OK", "fails.py": "Exception", "syntax.py": "SyntaxError"}


def test_cli_writes_one_line_per_program_in_name_order(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", f"{Path(PY).parent}{os.pathsep}{os.environ['PATH']}")
    folder = tmp_path / "programs"
    folder.mkdir()
    (folder / "b").write_text("import sys\nsys.exit(1)\n")
    (folder / "a").write_text("print('fine')\n")
    (folder / "c").write_text("print('fine')\n")  # the same text as a: evaluated once
    out = tmp_path / "out.jsonl"
    assert peer.main(["--lang", "py", "--programs", str(folder), "--max-workers", "2", "--out", str(out), "--tmpdir", str(tmp_path)]) == 0
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [(r["id"], r["status"]) for r in rows] == [("a", "OK"), ("b", "Exception"), ("c", "OK")]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.jsonl", "programs"]  # temporary files removed


def test_benchmark_programs_mix_kinds_and_differ():
    progs = programs("python", family(12, 0), 10)
    assert Counter(p.kind for p in progs) == {"correct": 6, "wrong": 2, "broken": 2}
    assert len({p.check for p in progs}) == len({p.engine for p in progs}) == 10


def test_broken_body_keeps_the_indent():
    assert broken("    return 1\n") == "    )\n    return 1\n"


def _check_programs(lang: str):
    problem = family(4, 0)[0]
    lang_ = get_language(lang)
    return for_peer(problem, lang, problem.solutions[lang]), for_peer(problem, lang, lang_.dummy_body(problem.signature))


def test_go_checks_become_a_test_and_csharp_failures_an_assert():
    go, _ = _check_programs("go")
    assert '\t"testing"\n' in go and "func TestXplChecks(t *testing.T) { main() }" in go
    cs, _ = _check_programs("csharp")
    assert cs.count('System.Diagnostics.Debug.Assert(__xplFailed == 0, "xpl: a test failed");') == 1


@pytest.mark.slow
@pytest.mark.parametrize("lang", ["go", "csharp"])
def test_fitted_programs_are_judged_right_by_the_peer(lang, tmp_path):
    tools = {"go": ["go"], "csharp": ["mono"]}[lang]
    if not all(shutil.which(t) for t in tools) or not get_language(lang).toolchain.available:
        pytest.skip(f"no {lang} toolchain")
    evaluate, suffix = peer.EVALUATORS[lang]
    verdicts = []
    for i, program in enumerate(_check_programs(lang)):
        path = tmp_path / f"p{i}{suffix}"
        path.write_text(program)
        verdicts.append(evaluate(path)["status"])
    assert verdicts[0] == "OK" and verdicts[1] != "OK"


@pytest.mark.slow
@pytest.mark.parametrize("lang", ["go", "csharp"])
def test_exported_multipl_e_records_are_judged_right_by_multipl_e_s_evaluators(lang, tmp_path):
    """`xpl problems export` in the two PLs whose MultiPL-E evaluators do not read the exit
    status: Go's runs `go test` on a *_test.go file (the record says `go_test.go`), C#'s reads a
    failed Debug.Assert on stderr. A right completion must come out OK, a wrong one not."""
    from xpl.problems.family import generate, solve
    from xpl.problems.io import to_multipl_e

    if not get_language(lang).toolchain.available:
        pytest.skip(f"no {lang} toolchain")
    problem, failures = solve(generate(1, seed=3, levels=(1,))[0], [lang])
    assert not failures
    rec = to_multipl_e(problem, lang)
    assert rec["language"] == {"go": "go_test.go", "csharp": "cs"}[lang]
    evaluate, suffix = peer.EVALUATORS[lang]
    suffix = "_test.go" if lang == "go" else suffix
    wrong = get_language(lang).return_template.format(get_language(lang).render_value(problem.tests[0].expected, problem.signature.returns))
    verdicts = {}
    for name, body in (("right", problem.solutions[lang]), ("wrong", wrong)):
        path = tmp_path / f"{name}{suffix}"
        path.write_text(rec["prompt"] + body + rec["tests"])
        verdicts[name] = evaluate(path)["status"]
    assert verdicts["right"] == "OK" and verdicts["wrong"] != "OK", verdicts
