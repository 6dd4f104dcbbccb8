"""Training stages on a tiny model: they learn, resume after kill -9, and refuse bad configs."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.training.fixtures import tiny_pretrain_config, tiny_problems
from xpl.languages import get_language
from xpl.training.common import ConfigError, TrainConfig, latest_checkpoint, stage_done
from xpl.training.grpo import GRPOConfig, grpo
from xpl.training.pretrain import pack, pretrain
from xpl.training.sft import SFTConfig, sft

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def pretrained(tmp_path_factory):
    out = tmp_path_factory.mktemp("pretrain")
    train, heldout = tiny_problems()
    record = pretrain(train, heldout, tiny_pretrain_config(max_steps=30), out)
    return out, record


def test_pack_cuts_the_stream_into_full_blocks():
    assert pack([[1, 2, 3], [4, 5], [6, 7, 8, 9]], 4) == [[1, 2, 3, 4], [5, 6, 7, 8]]
    assert pack([[1]], 4) == []


@pytest.mark.slow  # trains (tests/slow.py)
def test_pretraining_lowers_heldout_loss_in_every_pl(pretrained):
    out, record = pretrained
    assert record["steps"] == 30
    for lang in ("python", "javascript"):
        assert record["heldout_loss_after"][lang] < record["heldout_loss_before"][lang] - 0.5, record
    assert (out / "final" / "config.json").is_file() and (out / "tokenizer" / "tokenizer.json").is_file()


@pytest.mark.slow  # trains (tests/slow.py)
def test_a_finished_stage_is_not_run_again(pretrained):
    out, record = pretrained
    marker = (out / "stage.json").stat().st_mtime
    again = pretrain(*tiny_problems(), tiny_pretrain_config(max_steps=30), out)
    assert again["heldout_loss_after"] == record["heldout_loss_after"]
    assert (out / "stage.json").stat().st_mtime == marker


def test_a_moved_stage_folder_names_its_own_model(tmp_path):
    """Stage records name the model by absolute path: a run directory moved or copied elsewhere
    resumes from its own model folder, and a model outside the stage (the shipped organism)
    stays as recorded; an unfinished or unreadable marker is no finished stage."""
    from xpl.training.common import mark_done

    first = tmp_path / "first" / "seed0" / "sft"
    (first / "final").mkdir(parents=True)
    mark_done(first, {"stage": "sft", "model": str(first / "final")})
    assert stage_done(first)["model"] == str(first / "final")
    moved = tmp_path / "elsewhere" / "seed0" / "sft"
    moved.parent.mkdir(parents=True)
    (tmp_path / "first" / "seed0" / "sft").rename(moved)
    assert stage_done(moved)["model"] == str(moved / "final")
    outside = tmp_path / "shipped" / "organism"
    outside.mkdir(parents=True)
    (tmp_path / "base").mkdir()
    mark_done(tmp_path / "base", {"stage": "pretrain", "model": str(outside)})
    assert stage_done(tmp_path / "base")["model"] == str(outside)
    for text in ('{"done": false, "model": "x"}', "[1, 2]", "{not json"):
        (moved / "stage.json").write_text(text)
        assert stage_done(moved) is None


def _run_job(out: Path, kill_after_checkpoint: int | None = None) -> dict:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'src'}"}
    cmd = [sys.executable, "-m", "tests.training.pretrain_job", str(out)]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    if kill_after_checkpoint is not None:
        deadline = time.time() + 300
        while not (out / f"checkpoint-{kill_after_checkpoint}" / "trainer_state.json").is_file():
            assert proc.poll() is None, "the job ended before it could be killed"
            assert time.time() < deadline, "no checkpoint appeared"
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        assert stage_done(out) is None and latest_checkpoint(out) is not None
        return {}
    stdout, _ = proc.communicate(timeout=600)
    assert proc.returncode == 0
    return json.loads(stdout.strip().splitlines()[-1])


@pytest.mark.slow  # trains (tests/slow.py)
def test_kill_9_then_resume_matches_an_uninterrupted_run(tmp_path):
    whole = _run_job(tmp_path / "whole")
    _run_job(tmp_path / "killed", kill_after_checkpoint=6)
    resumed = _run_job(tmp_path / "killed")
    assert resumed["steps"] == whole["steps"] == 12
    # Same data order and RNG after the resume: the per-step losses are the same.
    assert resumed["losses"] == pytest.approx(whole["losses"], rel=1e-5)


@pytest.mark.slow  # trains (tests/slow.py)
def test_sft_then_grpo_on_the_tiny_model(pretrained, tmp_path):
    if not get_language("python").toolchain.available:
        pytest.skip("no python3 toolchain")
    out, _ = pretrained
    train, _ = tiny_problems()
    config = SFTConfig(
        languages=["python"],
        parallel_languages=["python", "javascript"],
        parallel_ratio=0.5,
        train=TrainConfig(learning_rate=2e-3, batch_size=8, max_steps=6, logging_steps=1),
    )
    record = sft(out / "final", train, config, tmp_path / "sft")
    assert record["stage"] == "parallel_sft" and record["steps"] == 6
    assert record["examples_by_kind"] == {"sft": len(train), "multi": len(train)}
    losses = [r["loss"] for r in record["train_loss"]]
    assert losses[-1] < losses[0]
    rl = GRPOConfig(
        num_generations=2, max_completion_length=24, probe_problems=3, train=TrainConfig(batch_size=4, max_steps=2, logging_steps=1)
    )
    record = grpo(tmp_path / "sft" / "final", train, rl, tmp_path / "grpo")
    assert record["steps"] == 2 and len(record["reward_curve"]) == 2
    assert all(0.0 <= r["reward"] <= 1.0 for r in record["reward_curve"])
    assert record["reward_seconds"] > 0
    # The probe: 3 problems x 2 samples with all-or-nothing rewards, before and after.
    probe = record["probe"]
    assert probe["problems"] == 3 and len(probe["per_problem_before"]) == len(probe["per_problem_after"]) == 3
    assert all(v in (0.0, 0.5, 1.0) for v in probe["per_problem_before"] + probe["per_problem_after"])
    for value in (probe["reward_before"], probe["reward_after"]):
        assert 0.0 <= value <= 1.0 and round(value * 6, 6) == round(value * 6)


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: GRPOConfig(num_generations=4, train=TrainConfig(batch_size=6)).validate(), "multiple of num_generations"),
        (lambda: GRPOConfig(reward="bleu").validate(), "grpo.reward"),
        (lambda: GRPOConfig(probe_problems=-1).validate(), "grpo.probe_problems"),
        (lambda: GRPOConfig(pool="hard").validate(), "grpo.pool must be all or mixed"),
        (lambda: GRPOConfig(pool_samples=1).validate(), "grpo.pool_samples must be >= 2"),
        (lambda: SFTConfig(languages=["cobol"]).validate(), "cobol"),
        (lambda: SFTConfig(parallel_languages=["python"]).validate(), "at least two PLs"),
        (lambda: SFTConfig(parallel_source="nowhere.jsonl").validate("parallel_sft"), "parallel_sft.parallel_source: nowhere.jsonl: no such file"),
        (lambda: tiny_pretrain_config().__class__(proportions={"python": 0.5, "rust": 0.6}).validate(), "sum to 1"),
        (lambda: tiny_pretrain_config().__class__(preset="huge").validate(), "preset"),
        (lambda: TrainConfig(batch_size=0).validate("sft.train"), "sft.train.batch_size"),
    ],
)
def test_bad_configs_fail_before_any_work(make, message):
    with pytest.raises((ConfigError, ValueError), match=message):
        make()


def test_a_missing_model_fails_with_a_clear_message(tmp_path):
    from xpl.models.loading import ModelNotFound, resolve

    with pytest.raises(ModelNotFound, match="huggingface-cli download meta-llama/Llama-3.1-8B-Instruct"):
        resolve("meta-llama/Llama-3.1-8B-Instruct")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelNotFound, match="no config.json"):
        resolve(str(tmp_path / "empty"))


def test_parallel_sft_takes_its_parallel_programs_from_a_file(pretrained, tmp_path):
    """parallel_source: the JavaScript programs come from the file (matched by name); training
    problems it lacks give no parallel example; its other problems are never used."""
    import json
    from dataclasses import replace

    out, _ = pretrained
    train, test = tiny_problems()
    marked = [replace(p, solutions={"javascript": p.solutions["javascript"].replace("return", "return /* file */", 1)}) for p in train[:10]]
    source = tmp_path / "translated.jsonl"
    source.write_text("".join(json.dumps(p.to_json()) + "\n" for p in [*marked, *test[:3]]))
    config = SFTConfig(
        languages=["python"], parallel_languages=["python", "javascript"], parallel_ratio=0.5, parallel_source=str(source),
        train=TrainConfig(learning_rate=2e-3, batch_size=8, max_steps=2, logging_steps=1),
    )
    record = sft(out / "final", train, config, tmp_path / "sft")
    assert record["parallel_source"] == {"file": str(source), "source_problems": 13, "matched": 10, "unused": 3, "programs": {"javascript": 10}}
    assert record["examples_by_kind"]["sft"] == len(train)
    empty = tmp_path / "other.jsonl"
    empty.write_text("".join(json.dumps(p.to_json()) + "\n" for p in test[:3]))
    with pytest.raises(ConfigError, match="no program in python, javascript for any of the"):
        sft(out / "final", train, replace(config, parallel_source=str(empty)), tmp_path / "sft2")


def test_mixed_pool_keeps_what_the_model_sometimes_passes_and_remembers_it(tmp_path, monkeypatch):
    import xpl.training.grpo as grpo_module

    train, _ = tiny_problems()
    problems = list(train[:5])
    rates = [0.0, 0.25, 1.0, 0.875, 0.0]
    calls = []

    def fake_probe(model, tokenizer, ps, config, reward, seed, n=None, progress=None):
        calls.append(n)
        return rates[: len(ps)]

    monkeypatch.setattr(grpo_module, "probe_reward", fake_probe)
    config = GRPOConfig(pool="mixed", pool_samples=8)
    kept, counts = grpo_module.mixed_pool(None, None, problems, config, None, tmp_path / "pool.json")
    assert [p.name for p in kept] == [problems[1].name, problems[3].name]
    assert counts == {"of": 5, "kept": 2, "always_passed": 1, "never_passed": 2, "samples": 8}
    assert calls == [8]
    # a resumed stage reads the pool back instead of sampling again
    again, _ = grpo_module.mixed_pool(None, None, problems, config, None, tmp_path / "pool.json")
    assert again == kept and calls == [8]
    rates[:] = [0.0] * 5
    with pytest.raises(ConfigError, match="passes all or none"):
        grpo_module.mixed_pool(None, None, problems, config, None, tmp_path / "other.json")
