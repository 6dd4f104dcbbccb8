"""Seeds side by side in processes (``seed_workers``, xpl.experiments.seeds) in `xpl run` and
`xpl flex`: the same results as one seed after the other, progress from every process, a
failing seed's error in the parent, no seed left running after kill -9."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from xpl.experiments.pipeline import quick, run_experiment
from xpl.experiments.seeds import seed_processes
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


RUN = """
import sys
from xpl.experiments.pipeline import quick, run_experiment
from xpl.experiments.spec import load_experiment
c = quick(load_experiment())
c.seeds, c.seed_workers = [0, 1], 2
run_experiment(c, sys.argv[1])
"""


def _children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc")
def test_kill_9_leaves_no_seed_running_and_a_rerun_finishes_the_same(in_processes, tmp_path):
    out = _prepared(in_processes[0], tmp_path / "killed")
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, "-c", RUN, str(out)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 600
    while not any(out.glob("seed*/sft/checkpoint-*/trainer_state.json")):
        assert proc.poll() is None and time.time() < deadline, "the run ended before a seed trained"
        time.sleep(0.05)
    seeds = _children(proc.pid)
    assert seeds, "no seed processes found"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    deadline = time.time() + 15
    while any(_alive(pid) for pid in seeds) and time.time() < deadline:
        time.sleep(0.2)
    assert not any(_alive(pid) for pid in seeds), "a seed process outlived the killed run"
    again = subprocess.run([sys.executable, "-c", RUN, str(out)], env=env, capture_output=True, text=True, timeout=900)
    assert again.returncode == 0, again.stderr[-3000:]
    assert _comparable(out) == _comparable(in_processes[0])


def test_seed_processes_follow_the_config():
    c = _config(0)
    assert seed_processes(c) == 2  # CI: CPU only; one process per seed up to twice the cores
    c.seed_workers = 1
    assert seed_processes(c) == 1
    c.seed_workers, c.seeds = 8, [0, 1, 2]
    assert seed_processes(c) == 3  # never more processes than seeds


def test_flex_seeds_in_processes_give_the_results_of_seeds_in_turn(tmp_path):
    import torch

    from xpl.experiments.flex import load_flex, run_flex
    from xpl.experiments.flex import quick as quick_flex

    def config(seed_workers):
        c = quick_flex(load_flex())
        c.seeds, c.seed_workers = [0, 1], seed_workers
        c.optimizers, c.arms = c.optimizers[:1], c.arms[:1]  # one trained model per seed is enough here
        return c

    def timeless(value):  # every number but the clock's: wall times and throughputs differ
        if isinstance(value, dict):
            return {k: timeless(v) for k, v in value.items() if not k.endswith(("seconds", "runtime", "per_second", "seconds_all_invocations"))}
        return [timeless(v) for v in value] if isinstance(value, list) else value

    def comparable(out):
        results = json.loads((out / "results.json").read_text())
        results["config"].pop("seed_workers")
        return timeless({k: v for k, v in results.items() if k != "versions"})

    calls = []
    run_flex(config(2), tmp_path / "processes", report=lambda *call: calls.append(call))
    assert any(c[0].startswith("seed 1") for c in calls), sorted({c[0] for c in calls})[:20]
    threads = torch.get_num_threads()
    torch.set_num_threads(max(1, (os.cpu_count() or 1) // 2))
    try:
        again = tmp_path / "in-turn"
        again.mkdir()
        for stage in ("problems", "base"):
            shutil.copytree(tmp_path / "processes" / stage, again / stage)
        run_flex(config(1), again)
    finally:
        torch.set_num_threads(threads)
    assert comparable(again) == comparable(tmp_path / "processes")
