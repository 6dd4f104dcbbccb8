"""`xpl run` with seeds side by side in processes (``seed_workers``): the same results as one
seed after the other, progress from every process, and a failing seed's error in the parent."""

import json
import shutil
from pathlib import Path

import pytest

from xpl.experiments.pipeline import quick, run_experiment, seed_processes
from xpl.experiments.spec import load_experiment

# Every test here runs the --quick experiment with two seeds: `slow` (tests/slow.py).
pytestmark = pytest.mark.slow


def _config(seed_workers: int):
    c = quick(load_experiment())
    c.seeds = [0, 1]
    c.seed_workers = seed_workers
    return c


def _comparable(out: Path) -> dict:
    results = json.loads((out / "results.json").read_text())
    results["config"].pop("seed_workers")
    return {k: v for k, v in results.items() if k not in ("seconds", "versions", "rl_reward_share")}


def _prepared(source: Path, target: Path) -> Path:
    """A run directory that already holds ``source``'s problems and base model (no pretraining)."""
    target.mkdir(parents=True)
    for stage in ("problems", "base"):
        shutil.copytree(source / stage, target / stage)
    return target


@pytest.fixture(scope="module")
def in_processes(tmp_path_factory):
    out = tmp_path_factory.mktemp("seeds") / "processes"
    calls = []
    run_experiment(_config(2), out, report=lambda *call: calls.append(call))
    return out, calls


def test_seeds_in_processes_give_the_results_of_seeds_in_turn(in_processes, tmp_path, monkeypatch):
    out, calls = in_processes
    stages = {call[0] for call in calls}
    # progress came back from both seed processes (GRPO reports each step with its reward)
    assert any(s.startswith("seed 0: GRPO") for s in stages) and any(s.startswith("seed 1: GRPO") for s in stages)
    for seed in (0, 1):
        assert (out / f"seed{seed}" / "eval" / "parallel_sft_rl" / "python.json").is_file()
    monkeypatch.setenv("OMP_NUM_THREADS", "1")  # what each of the two processes had on 2 cores
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(max(1, (__import__("os").cpu_count() or 1) // 2))
    try:
        again = _prepared(out, tmp_path / "in-turn")
        run_experiment(_config(1), again)
    finally:
        torch.set_num_threads(threads)
    assert _comparable(again) == _comparable(out)


def test_a_failing_seed_stops_the_run_with_its_error(in_processes, tmp_path):
    out, _ = in_processes
    config = _config(2)
    config.sft.train.extra = {"no_such_trainer_argument": 1}  # refused by TRL inside each seed's SFT
    run = _prepared(out, tmp_path / "failing")
    with pytest.raises(TypeError, match="no_such_trainer_argument") as caught:
        run_experiment(config, run)
    assert any("in the process of seed" in note for note in getattr(caught.value, "__notes__", []))
    assert not (run / "results.json").exists()


def test_seed_processes_follow_the_config():
    c = _config(0)
    assert seed_processes(c) == 2  # CI: CPU only; one process per seed up to twice the cores
    c.seed_workers = 1
    assert seed_processes(c) == 1
    c.seed_workers, c.seeds = 8, [0, 1, 2]
    assert seed_processes(c) == 3  # never more processes than seeds
