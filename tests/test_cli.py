import json
import os

from typer.testing import CliRunner

from xpl.cli import app

runner = CliRunner()


def test_langs_lists_every_language():
    res = runner.invoke(app, ["langs", "--json"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.output)
    names = [r["language"] for r in data["languages"]]
    assert names == ["python", "rust", "go", "php", "ruby", "java", "javascript", "typescript", "cpp", "csharp", "lua", "julia"]
    for row in data["languages"]:
        assert row["usable"] or row["problem"], row
    if os.environ.get("CI"):
        # CI installs every toolchain Debian has (`make test`): all but Julia must be usable.
        unusable = [r["language"] for r in data["languages"] if not r["usable"]]
        assert unusable in ([], ["julia"]), unusable


def test_exec_reports_bad_lines_and_runs_the_rest(tmp_path):
    jobs = tmp_path / "jobs.jsonl"
    lines = [
        json.dumps({"id": "good", "language": "py", "program": "print(42)\n"}).encode(),
        b"{not json",
        json.dumps({"id": "nolang", "program": "x"}).encode(),
        json.dumps({"id": "cobol", "language": "cobol", "program": "x"}).encode(),
        json.dumps({"id": "badn", "language": "python", "program": "x", "num_tests": -1}).encode(),
        json.dumps({"id": "badlim", "language": "python", "program": "x", "limits": {"timeout": 1}}).encode(),
        json.dumps({"id": "fails", "language": "python", "program": "raise SystemExit(2)\n"}).encode(),
        b'{"id": "bytes", "language": "py", "program": "print(\xff)"}',  # not UTF-8
        b'{"id": "surrogate", "language": "py", "program": "print(\\"\\udc80\\")"}',  # valid JSON, not Unicode
        json.dumps({"id": "intlim", "language": "py", "program": "x", "limits": 5}).encode(),
        b"",  # blank lines get no row
        json.dumps({"language": "[/]", "program": "x"}).encode(),  # rich markup in a message
        b"[1, 2]",
        json.dumps({"id": "last", "language": "py", "program": "print('after')\n", "meta": {"problem": "p"}}).encode(),
    ]
    jobs.write_bytes(b"\n".join(lines) + b"\n")
    out = tmp_path / "out.jsonl"
    res = runner.invoke(app, ["exec", str(jobs), "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert res.exception is None or isinstance(res.exception, SystemExit), res.exception
    for lineno, message in [
        (2, "not valid JSON"),
        (3, "field 'language' is missing"),
        (4, "field 'language' must name a PL, got 'cobol'"),
        (5, "field 'num_tests' must be an integer from 0"),
        (6, "field 'limits' has unknown field(s) 'timeout'"),
        (8, "not valid UTF-8 (byte 0xff at column 53)"),
        (9, "field 'program' holds a lone surrogate (U+DC80 at character 8)"),
        (10, "field 'limits' must be an object"),
        (12, "field 'language' must name a PL, got '[/]'"),
        (13, "expected a JSON object, got an array"),
    ]:
        assert f"{jobs}:{lineno}: {message}" in res.output, (lineno, res.output)
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    # One row per non-blank line, in order: inputs and results align by position, line and id.
    assert [r["line"] for r in rows] == [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 12, 13, 14]
    assert [(r["id"], r["status"]) for r in rows] == [
        ("good", "ok"),
        (f"{jobs}:2", "invalid_input"),
        ("nolang", "invalid_input"),
        ("cobol", "invalid_input"),
        ("badn", "invalid_input"),
        ("badlim", "invalid_input"),
        ("fails", "runtime_error"),
        (f"{jobs}:8", "invalid_input"),
        ("surrogate", "invalid_input"),
        ("intlim", "invalid_input"),
        (f"{jobs}:12", "invalid_input"),
        (f"{jobs}:13", "invalid_input"),
        ("last", "ok"),
    ]
    assert rows[0]["stdout"].strip() == "42" and rows[-1]["meta"] == {"problem": "p"}
    assert rows[3]["detail"].startswith(f"{jobs}:4: field 'language'")
    assert rows[4]["language"] == "python" and rows[3]["language"] == "-"
    # The status table counts the invalid lines (8 of them for python and unknown PLs).
    assert "invalid_input" in res.output and "wrote 13 results" in res.output
    assert "10 lines not a job" in res.output


def test_exec_with_no_runnable_line_still_writes_a_row_per_line(tmp_path):
    jobs = tmp_path / "jobs.jsonl"
    jobs.write_bytes(b'\xfe\xff\n{"id": 1, "language": "py"}\n\r\n  \n"just a string"\n')
    out = tmp_path / "out.jsonl"
    res = runner.invoke(app, ["exec", str(jobs), "--out", str(out)])
    assert res.exit_code == 2, res.output
    assert "no job could run" in res.output
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [(r["line"], r["id"], r["status"]) for r in rows] == [
        (1, f"{jobs}:1", "invalid_input"),
        (2, "1", "invalid_input"),
        (5, f"{jobs}:5", "invalid_input"),
    ]
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n\n")
    res = runner.invoke(app, ["exec", str(empty), "--out", str(out)])
    assert res.exit_code == 2 and "no jobs (the file is empty)" in res.output
    assert out.read_text() == ""


def test_exec_gives_a_job_in_a_pl_without_toolchain_a_row_and_runs_the_others(tmp_path, monkeypatch):
    from xpl.languages import get_language
    from xpl.languages.base import Toolchain

    lua = get_language("lua")
    monkeypatch.setitem(lua.__dict__, "toolchain", Toolchain("lua", False, {}, problem="lua: `lua5.4` not found"))
    jobs = tmp_path / "jobs.jsonl"
    jobs.write_text(
        json.dumps({"id": "l", "language": "lua", "program": "print(1)\n"}) + "\n" + json.dumps({"id": "p", "language": "py", "program": "print(1)\n"}) + "\n"
    )
    out = tmp_path / "out.jsonl"
    res = runner.invoke(app, ["exec", str(jobs), "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert "not run 1 lua job(s): lua: `lua5.4` not found" in res.output
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [(r["id"], r["status"]) for r in rows] == [("l", "sandbox_error"), ("p", "ok")]
    assert "no toolchain here" in rows[0]["detail"]


def test_exec_errors_on_unreadable_paths_are_one_line(tmp_path):
    jobs = tmp_path / "jobs.jsonl"
    jobs.write_text(json.dumps({"language": "py", "program": "print(1)\n"}) + "\n")
    res = runner.invoke(app, ["exec", str(jobs), "--out", str(tmp_path)])
    assert res.exit_code == 2 and "is a directory" in res.output and "Traceback" not in res.output
    res = runner.invoke(app, ["exec", str(tmp_path)])
    assert res.exit_code == 2 and "is a directory, not a JSONL file" in res.output


def test_bad_bytes_in_problem_and_config_files_are_one_line_errors(tmp_path):
    problems = tmp_path / "problems.jsonl"
    problems.write_bytes(b'{"name": "a\xc3"}\n[\n')
    res = runner.invoke(app, ["train", "pretrain", "--problems", str(problems), "--out", str(tmp_path / "m")])
    assert res.exit_code == 2, res.output
    assert f"{problems}:1: not valid UTF-8 (byte 0xc3 at column 12)" in res.output
    assert f"{problems}:2: not valid JSON" in res.output
    assert "holds no usable problem" in res.output and "Traceback" not in res.output
    config = tmp_path / "c.yaml"
    config.write_bytes(b"train:\n  lr: 0.1 # caf\xe9\n")
    res = runner.invoke(app, ["train", "pretrain", "--problems", str(problems), "--out", str(tmp_path / "m"), "--config", str(config)])
    assert res.exit_code == 2, res.output
    assert f"{config}:2: not valid UTF-8 (byte 0xe9 at column 16)" in res.output and "Traceback" not in res.output


def test_exec_missing_file_is_a_one_line_error(tmp_path):
    res = runner.invoke(app, ["exec", str(tmp_path / "nope.jsonl")])
    assert res.exit_code == 2
    assert "nope.jsonl: no such file" in res.output


def test_exec_reports_pass_at_k_when_jobs_name_their_problem(tmp_path):
    jobs = tmp_path / "jobs.jsonl"
    rows = []
    for problem, outcomes in {"p1": [True, False, False, False], "p2": [True, True, True, True]}.items():
        for i, ok in enumerate(outcomes):
            program = "print('ok')\n" if ok else "raise SystemExit(1)\n"
            rows.append({"id": f"{problem}-{i}", "language": "python", "program": program + f"# {problem} {i}\n", "meta": {"problem": problem}})
    jobs.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    res = runner.invoke(app, ["exec", str(jobs), "--out", str(tmp_path / "out.jsonl")])
    assert res.exit_code == 0, res.output
    assert "pass@k" in res.output
    assert "0.625" in res.output  # pass@1 = mean(1/4, 4/4)


def test_problems_export_writes_multipl_e_jsonl(tmp_path):
    out = tmp_path / "he-rs.jsonl"
    res = runner.invoke(app, ["problems", "export", "humaneval", "--lang", "rs", "--out", str(out)])
    assert res.exit_code == 0, res.output
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) >= 145 and all(r["language"] == "rs" for r in rows)
    assert "HumanEval/32: check() tests only random inputs" in res.output
    res = runner.invoke(app, ["problems", "export", "humaneval", "--lang", "cobol"])
    assert res.exit_code == 2 and "unknown language 'cobol'" in res.output


def test_problems_generate_writes_verified_splits(tmp_path):
    out = tmp_path / "family"
    res = runner.invoke(app, ["problems", "generate", "--n", "16", "--seed", "4", "--langs", "py", "--out", str(out)])
    assert res.exit_code == 0, res.output
    from xpl.problems import read_problems

    problems, errors = read_problems(out / "problems.jsonl")
    assert not errors and len(problems) == 16
    assert all(p.solutions.keys() == {"python"} and p.meta["split"] in ("train", "test") for p in problems)
    train, _ = read_problems(out / "train.jsonl")
    test, _ = read_problems(out / "test.jsonl")
    assert len(train) + len(test) == 16 and test
    report = json.loads((out / "verification.json").read_text())
    assert {k: v for k, v in report["verification"]["languages"]["python"].items() if k in ("passed", "failed")} == {"passed": 16, "failed": 0}
    # A rerun gets every result from the store and writes the same problems.
    again = runner.invoke(app, ["problems", "generate", "--n", "16", "--seed", "4", "--langs", "py", "--out", str(out)])
    assert again.exit_code == 0, again.output
    assert read_problems(out / "problems.jsonl")[0] == problems


def test_problems_generate_rejects_bad_options(tmp_path):
    for args, message in [
        (["--langs", "cobol"], "cobol"),
        (["--levels", "1,9"], "--levels"),
        (["--test-fraction", "1.5"], "--test-fraction"),
        (["--n", "0"], "--n"),
    ]:
        res = runner.invoke(app, ["problems", "generate", "--out", str(tmp_path / "x"), *args])
        assert res.exit_code == 2, res.output
        assert message in res.output and "Traceback" not in res.output


def test_problems_generate_asked_for_more_behaviours_than_exist_is_a_one_line_error(tmp_path, monkeypatch):
    from xpl.problems.family import generator

    # Level 1 has about 930 behaviours; a short stall limit keeps the search brief.
    monkeypatch.setattr(generator, "STALL_DRAWS", 3000)
    res = runner.invoke(app, ["problems", "generate", "--n", "5000", "--levels", "1", "--no-verify", "--out", str(tmp_path / "x")])
    assert res.exit_code == 2, res.output
    assert "asked for 5000 problems of levels 1" in res.output and "--n" in res.output
    assert "Traceback" not in res.output and not (tmp_path / "x" / "problems.jsonl").exists()


def test_a_pool_generated_with_exclude_then_merged(tmp_path):
    """The organism's data commands: pools that exclude another set's test split, joined
    with repeated behaviours dropped."""
    gen = ["problems", "generate", "--langs", "py", "--no-verify", "--test-fraction", "0"]
    held = runner.invoke(app, ["problems", "generate", "--n", "60", "--seed", "0", "--levels", "1", "--langs", "py", "--no-verify", "-o", str(tmp_path / "set")])
    assert held.exit_code == 0, held.output
    for seed in ("11", "12"):
        res = runner.invoke(app, [*gen, "--n", "80", "--seed", seed, "--levels", "1", "--exclude", str(tmp_path / "set" / "test.jsonl"), "-o", str(tmp_path / seed)])
        assert res.exit_code == 0 and "behave like one in" in res.output, res.output
    from xpl.problems import read_problems

    a, _ = read_problems(tmp_path / "11" / "train.jsonl")
    b, _ = read_problems(tmp_path / "12" / "train.jsonl")
    res = runner.invoke(app, ["problems", "merge", str(tmp_path / "11" / "train.jsonl"), str(tmp_path / "12" / "train.jsonl"), "-o", str(tmp_path / "pool.jsonl")])
    assert res.exit_code == 0, res.output
    pool, _ = read_problems(tmp_path / "pool.jsonl")
    repeats = len({p.meta["fingerprint"] for p in a} & {p.meta["fingerprint"] for p in b})
    assert repeats > 0 and len(pool) == len(a) + len(b) - repeats
    assert len({p.meta["fingerprint"] for p in pool}) == len(pool)
    bad = runner.invoke(app, [*gen, "--n", "5", "--exclude", str(tmp_path / "nope.jsonl"), "-o", str(tmp_path / "x")])
    assert bad.exit_code == 2 and "nope.jsonl does not exist" in bad.output


def test_train_ship_refuses_a_folder_that_is_no_finished_pretraining(tmp_path):
    res = runner.invoke(app, ["train", "ship", str(tmp_path), "-o", str(tmp_path / "out")])
    assert res.exit_code == 2 and "has not finished" in res.output and "Traceback" not in res.output


def test_command_lists_show_each_command_in_one_sentence():
    """``--help`` lists commands by their docstring's first sentence on one line (typer printed
    the whole first paragraph with the docstring's own line breaks, cutting lines mid-way)."""
    from xpl import cli

    def walk(group):
        for info in group.registered_commands:
            yield info
        for sub in group.registered_groups:
            yield from walk(sub.typer_instance)

    infos = list(walk(cli.app))
    assert len(infos) > 20
    for info in infos:
        short = info.short_help
        assert short and "\n" not in short and "``" not in short, (info.name, short)
        assert len(short) < 300, (info.name, short)
    assert cli._first_sentence("List every PL: its path. Probes\n are cached.") == "List every PL: its path."
    assert cli._first_sentence("Serve it (e.g. verl, TRL). More.") == "Serve it (e.g. verl, TRL)."
    out = CliRunner().invoke(cli.app, ["--help"], env={"COLUMNS": "80"}).output
    assert "Probes" not in out and "usable here." in out
