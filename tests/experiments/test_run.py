"""`xpl run --quick` end to end: the report matches results.json, and kill -9 loses nothing."""

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from xpl.experiments.spec import ARMS

# Every test here runs the --quick experiment or the CLI on it: `slow` (tests/slow.py).
pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
XPL = [sys.executable, "-m", "xpl.cli"]


def _env():
    return {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT / "src")}


def run_quick(out: Path, kill_when=None) -> subprocess.CompletedProcess | None:
    cmd = [*XPL, "run", "--quick", "--out", str(out)]
    if kill_when is None:
        return subprocess.run(cmd, cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=1200)
    proc = subprocess.Popen(cmd, cwd=ROOT, env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 900
    while not kill_when(out):
        assert proc.poll() is None, "the run finished before the moment to kill it"
        assert time.time() < deadline
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (out / "results.json").exists()
    return None


def comparable(results: dict) -> dict:
    """results.json without what legitimately differs between runs (timings, versions)."""
    out = {k: v for k, v in results.items() if k not in ("seconds", "versions", "rl_reward_share")}
    if out.get("pretraining"):
        out["pretraining"] = {k: v for k, v in out["pretraining"].items() if k != "seconds"}
    return out


@pytest.fixture(scope="module")
def whole(tmp_path_factory):
    out = tmp_path_factory.mktemp("run") / "whole"
    proc = run_quick(out)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return out


def test_quick_run_report_matches_results(whole):
    results = json.loads((whole / "results.json").read_text())
    report = (whole / "report.md").read_text()
    langs = results["languages"]
    assert langs == ["python", "javascript"]
    table = report.split("## pass@1")[1].split("## Differences")[0]
    rows = {line.split("|")[1].strip(): line for line in table.splitlines() if line.startswith("| ") and "arm" not in line}
    names = {"base": "base", "sft": "SFT", "sft_rl": "SFT + RL", "parallel_sft": "Parallel-SFT", "parallel_sft_rl": "Parallel-SFT + RL"}
    for arm in ARMS:
        cells = [c.strip() for c in rows[names[arm]].split("|")[2:-1]]
        assert len(cells) == len(langs)
        for cell, lang in zip(cells, langs):
            mean, low, high = map(float, re.match(r"([\d.]+) \[([\d.]+), ([\d.]+)\]", cell).groups())
            est = results["pass_at_1"][arm][lang]
            assert (mean, low, high) == (round(est["mean"], 3), round(est["low"], 3), round(est["high"], 3))
            assert low <= mean <= high
    for png in ("pass_at_1.png", "rewards.png"):
        assert (whole / png).stat().st_size > 1000
    # The raw material is kept: completions and statuses per seed, arm and PL.
    raw = json.loads((whole / "seed0" / "eval" / "sft_rl" / "python.json").read_text())
    assert len(raw["completions"]) == len(raw["problems"]) == results["problems_per_language"]["python"]


def _checkpoint_in(stage: str):
    return lambda out: any((out / "seed0" / stage).glob("checkpoint-*/trainer_state.json"))


def _eval_file(out: Path) -> bool:
    return (out / "seed0" / "eval" / "sft_rl" / "python.json").is_file()


@pytest.mark.parametrize("when", [_checkpoint_in("parallel_sft"), _eval_file], ids=["during-training", "during-evaluation"])
def test_kill_9_and_rerun_gives_the_same_results(whole, tmp_path, when):
    out = tmp_path / "killed"
    run_quick(out, kill_when=when)
    proc = run_quick(out)
    assert proc.returncode == 0, proc.stderr[-3000:]
    again = json.loads((out / "results.json").read_text())
    assert comparable(again) == comparable(json.loads((whole / "results.json").read_text()))


def test_a_moved_run_directory_resumes_from_its_own_files(whole, tmp_path):
    """A run directory copied elsewhere and the original deleted (a run carried to another
    machine): a missing evaluation is redone from the copy's own models, which the stage
    records name by the path they were first written to."""
    import shutil

    first, moved = tmp_path / "first", tmp_path / "moved"
    shutil.copytree(whole, first)
    records = list(first.rglob("stage.json"))
    for record in records:  # as a run made in `first` would have written them
        record.write_text(record.read_text().replace(str(whole), str(first)))
    assert any(str(first / "seed0" / "sft_rl" / "final") in r.read_text() for r in records)
    first.rename(moved)
    shutil.rmtree(moved / "seed0" / "eval" / "sft_rl")
    shutil.rmtree(moved / "representations")
    proc = subprocess.run([*XPL, "run", "--quick", "--out", str(moved)], cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=1200)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert comparable(json.loads((moved / "results.json").read_text())) == comparable(json.loads((whole / "results.json").read_text()))


def test_reuse_takes_the_stages_a_changed_grpo_setting_leaves_alone(whole, tmp_path):
    """`--reuse`: a config that changes only GRPO's temperature takes the finished run's
    problems, SFT and Parallel-SFT models and their evaluations (the same files), trains and
    evaluates GRPO again, and its report says what it took from where."""
    from xpl.experiments.spec import embedded_config_path

    config = tmp_path / "hotter.yaml"
    text = embedded_config_path().read_text()
    assert text.count("temperature: 0.8") == 1
    config.write_text(text.replace("temperature: 0.8", "temperature: 1.0"))
    out = tmp_path / "hotter"
    proc = subprocess.run([*XPL, "run", str(config), "--quick", "--out", str(out), "--reuse", str(whole)], cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=1200)
    assert proc.returncode == 0, proc.stderr[-3000:]
    for kept in ("seed0/sft/stage.json", "seed0/parallel_sft/stage.json", "seed0/eval/sft/python.json", "seed0/eval/base/javascript.json"):
        assert (out / kept).stat().st_ino == (whole / kept).stat().st_ino, kept
    for redone in ("seed0/sft_rl/stage.json", "seed0/eval/parallel_sft_rl/python.json"):
        assert (out / redone).stat().st_ino != (whole / redone).stat().st_ino, redone
    assert json.loads((out / "seed0" / "sft_rl" / "stage.json").read_text())["model"] == str(out / "seed0" / "sft_rl" / "final")
    results, before = json.loads((out / "results.json").read_text()), json.loads((whole / "results.json").read_text())
    for arm in ("base", "sft", "parallel_sft"):
        assert results["pass_at_1"][arm] == before["pass_at_1"][arm]
    assert results["reused"]["runs"][0]["from"] == str(whole)
    assert f"reused from `{whole}`: problems, base" in (out / "report.md").read_text()
    proc = subprocess.run([*XPL, "run", "--quick", "--out", str(tmp_path / "x"), "--reuse", str(tmp_path / "nowhere")], cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "no such run directory" in proc.stderr and "Traceback" not in proc.stderr


def test_a_different_config_is_refused_in_the_same_directory(whole, tmp_path):
    proc = subprocess.run([*XPL, "run", "--out", str(whole)], cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert "different configuration" in proc.stderr and "Traceback" not in proc.stderr


def test_more_seeds_resume_a_finished_run_and_keep_its_stages(whole, tmp_path):
    """`--seeds` over a finished run: the finished seed is not redone, the new one is run, and
    the report pools both; a malformed --seeds is one line."""
    import shutil

    out = tmp_path / "more"
    shutil.copytree(whole, out)
    before = {p.relative_to(out): p.read_text() for p in (out / "seed0").rglob("stage.json")}
    assert before
    proc = subprocess.run([*XPL, "run", "--quick", "--out", str(out), "--seeds", "0-1"], cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=1200)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert {p.relative_to(out): p.read_text() for p in (out / "seed0").rglob("stage.json")} == before
    assert (out / "seed1" / "eval").is_dir()
    results = json.loads((out / "results.json").read_text())
    assert results["config"]["seeds"] == [0, 1]
    assert "seeds [0, 1]" in (out / "report.md").read_text()
    for bad, message in [("2-1", "runs backwards"), ("a", "expected seeds like"), ("0,0", "named twice"), ("0-", "expected seeds like")]:
        proc = subprocess.run([*XPL, "run", "--quick", "--out", str(out), "--seeds", bad], cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=120)
        assert proc.returncode == 2 and message in proc.stderr and "Traceback" not in proc.stderr, (bad, proc.stderr[-2000:])


def test_bad_experiment_configs_name_the_key(tmp_path):
    for text, message in [
        ("seeds: []\n", "seeds"),
        ("eval: {languages: [cobol]}\n", "cobol"),
        ("grpo: {num_generations: 3}\n", "multiple of num_generations"),
        ("pretrain: {proportions: {python: 0.9}}\n", "sum to 1"),
        ("pretrain: {bogus: 1}\n", "bogus"),
        ("model: meta-llama/Llama-3.1-8B\n", "huggingface-cli download"),
        ("rl_problems: {n: 100, seed: 0}\n", "rl_problems.seed must differ from problems.seed"),
        ("rl_problems: {n: 100, keep: some}\n", "rl_problems.keep"),
        ("rl_problems: {n: -1}\n", "rl_problems.n"),
    ]:
        cfg = tmp_path / "bad.yaml"
        cfg.write_text(text)
        proc = subprocess.run([*XPL, "run", str(cfg), "--out", str(tmp_path / "o")], cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=120)
        assert proc.returncode == 2, (text, proc.stdout, proc.stderr[-2000:])
        assert message in proc.stderr and "Traceback" not in proc.stderr, (text, proc.stderr[-2000:])
