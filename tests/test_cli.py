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
    jobs.write_text(
        "\n".join(
            [
                json.dumps({"id": "good", "language": "py", "program": "print(42)\n"}),
                "{not json",
                json.dumps({"id": "nolang", "program": "x"}),
                json.dumps({"id": "cobol", "language": "cobol", "program": "x"}),
                json.dumps({"id": "badn", "language": "python", "program": "x", "num_tests": -1}),
                json.dumps({"id": "badlim", "language": "python", "program": "x", "limits": {"timeout": 1}}),
                json.dumps({"id": "fails", "language": "python", "program": "raise SystemExit(2)\n"}),
            ]
        )
        + "\n"
    )
    out = tmp_path / "out.jsonl"
    res = runner.invoke(app, ["exec", str(jobs), "--out", str(out)])
    assert res.exit_code == 0, res.output
    for lineno, field in [(2, "not valid JSON"), (3, "'language'"), (4, "unknown language 'cobol'"), (5, "num_tests"), (6, "timeout")]:
        assert f"{jobs}:{lineno}:" in res.output and field in res.output, (lineno, res.output)
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [(r["id"], r["status"]) for r in rows] == [("good", "ok"), ("fails", "runtime_error")]
    assert rows[0]["stdout"].strip() == "42"


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
    assert "HumanEval/10: the prompt defines helper functions" in res.output
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
