"""`xpl compare RUN_A RUN_B`: two run directories' models, paired seed by seed and problem by problem."""

import json

import numpy as np
from typer.testing import CliRunner

from xpl.analysis.stats import bootstrap
from xpl.cli import app
from xpl.experiments.compare import compare_runs

PROBLEMS = [f"family-s0-{i:05d}-{'check_number' if i % 2 else 'compare_pair'}" for i in range(10)]


def _evaluation(run, seed, model, lang, passed, samples=4, temperature=0.2, problems=PROBLEMS):
    folder = run / f"seed{seed}" / "eval" / model
    folder.mkdir(parents=True, exist_ok=True)
    record = {"seed": seed, "arm": model, "language": lang, "temperature": temperature, "problems": problems, "passed": passed, "samples": samples}
    (folder / f"{lang}.json").write_text(json.dumps(record))


def _run(path, seeds=(0, 1, 2)):
    path.mkdir()
    (path / "config.json").write_text(json.dumps({"digest": "x", "config": {}}))
    for seed in seeds:
        (path / f"seed{seed}").mkdir()
    return path


def _pair(tmp_path):
    rng = np.random.default_rng(1)
    a, b = _run(tmp_path / "a"), _run(tmp_path / "b")
    before, after = {}, {}
    for seed in (0, 1, 2):
        base = rng.integers(0, 5, len(PROBLEMS)).tolist()
        for run in (a, b):  # the starting models: linked in by --reuse, the same files
            _evaluation(run, seed, "sft", "python", base)
        before[seed] = rng.integers(0, 5, len(PROBLEMS)).tolist()
        after[seed] = [min(4, x + (1 if i % 2 == 0 else 0)) for i, x in enumerate(before[seed])]  # compare_pair up
        _evaluation(a, seed, "sft_rl", "python", before[seed])
        _evaluation(b, seed, "sft_rl", "python", after[seed])
    return a, b, before, after


def test_compare_runs_pairs_seeds_and_problems(tmp_path):
    a, b, before, after = _pair(tmp_path)
    result = compare_runs(a, b)
    assert [(r["model"], r["language"]) for r in result["rows"]] == [("sft_rl", "python")]
    assert result["identical"] == [{"model": "sft", "language": "python", "seeds": [0, 1, 2]}]
    row = result["rows"][0]
    x = np.array([before[s] for s in (0, 1, 2)]) / 4
    y = np.array([after[s] for s in (0, 1, 2)]) / 4
    assert row["seeds"] == [0, 1, 2] and row["problems"] == len(PROBLEMS)
    assert row["difference"] == bootstrap(y - x).to_dict()  # the run report's two-level bootstrap
    assert row["per_seed"] == [round(float(d), 6) for d in (y - x).mean(axis=1)]
    assert row["difference"]["mean"] > 0 and set(row["changes"]) == {"compare_pair"}
    assert row["changes"]["compare_pair"]["down"] == 0


def test_compare_runs_says_what_was_left_out_and_refuses_different_problems(tmp_path):
    a, b, before, _ = _pair(tmp_path)
    (b / "seed3").mkdir()
    _evaluation(b, 3, "sft_rl", "python", before[0])  # a seed only one run has
    row = compare_runs(a, b)["rows"][0]
    assert row["seeds"] == [0, 1, 2] and row["only_after"] == [3] and row["only_before"] == []
    # The same passes from fewer samples is another evaluation, not the same one: a row, with a note.
    _evaluation(b, 0, "sft", "python", [x // 2 for x in json.loads((a / "seed0/eval/sft/python.json").read_text())["passed"]], samples=2)
    rows = {r["model"]: r for r in compare_runs(a, b)["rows"]}
    assert rows["sft"]["sampling"] == ["before 4 samples at T 0.2, after 2 at T 0.2"]
    _evaluation(b, 1, "sft_rl", "python", before[1][:5], problems=PROBLEMS[:5])
    try:
        compare_runs(a, b)
    except ValueError as exc:
        assert "seed 1, sft_rl/python: the two runs evaluated different problems" in str(exc)
    else:
        raise AssertionError("different problems were compared")


def test_compare_runs_skips_what_is_not_pass_at_1(tmp_path):
    # xpl bts: a gates file beside the per-PL files, and models evaluated for held-out loss only.
    a, b, _, _ = _pair(tmp_path)
    for run in (a, b):
        (run / "seed0" / "eval" / "sft_rl" / "gates.json").write_text(json.dumps({"python": [0.5, 0.5]}))
        for seed in (0, 1, 2):
            folder = run / f"seed{seed}" / "eval" / "seed-model"
            folder.mkdir(parents=True)
            (folder / "python.json").write_text(json.dumps({"seed": seed, "model": "seed-model", "language": "python", "loss_problems": PROBLEMS, "loss": [1.0] * 10}))
    result = compare_runs(a, b)
    assert [r["model"] for r in result["rows"]] == ["sft_rl"]
    assert result["notes"] == ["seed-model in Python: held-out loss only, no pass@1 to compare."]


def test_xpl_compare_on_two_runs_and_its_one_line_errors(tmp_path):
    a, b, _, _ = _pair(tmp_path)
    runner = CliRunner()
    out = tmp_path / "cmp.json"
    result = runner.invoke(app, ["compare", str(a), str(b), "--json", str(out)])
    assert result.exit_code == 0, result.output
    assert "| SFT + RL | Python | 3 | 10 |" in result.output
    assert "The same in both runs, pass for pass on every seed" in result.output and "SFT in Python" in result.output
    assert "compare_pair +" in result.output
    assert json.loads(out.read_text())["rows"][0]["model"] == "sft_rl"
    only = runner.invoke(app, ["compare", str(a), str(b), "--models", "sft"])
    assert only.exit_code == 0 and "every model both runs evaluated is the same in both" in only.output
    (tmp_path / "plain").mkdir()
    cases = [
        ([str(a), str(b), "--models", "sftrl"], "no model 'sftrl' in either run"),
        ([str(a), str(tmp_path / "plain")], "is an `xpl run` directory but"),
        ([str(a), str(b), "--langs", "cobol"], "cobol"),
        ([str(tmp_path / "plain"), str(tmp_path / "plain"), "--models", "sft"], "--models picks models of two `xpl run` directories"),
    ]
    for args, message in cases:
        result = runner.invoke(app, ["compare", *args])
        assert result.exit_code == 2 and message in result.output and "Traceback" not in result.output, (args, result.output)
