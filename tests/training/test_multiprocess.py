"""Training under ``accelerate launch`` with two CPU processes (DDP over gloo): the same stage
code that runs on one process, and would run on several GPUs.

``accelerate launch --cpu --num_processes 2`` starts a *single* process unless an MPI hostfile
is given (accelerate's CPU launcher is mpirun); the torchrun launcher behind ``--multi_gpu``
starts real workers, and with CUDA hidden every worker trains on the CPU over gloo."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from xpl.models.loading import load_model
from xpl.training.common import stage_done

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow  # trains in two processes (tests/slow.py)
def test_pretrain_then_sft_with_two_cpu_processes(tmp_path):
    out = tmp_path / "run"
    env = {
        **os.environ,
        "OMP_NUM_THREADS": "1",
        "OMP_WAIT_POLICY": "PASSIVE",
        "CUDA_VISIBLE_DEVICES": "",  # CPU workers even where GPUs are
        "ACCELERATE_USE_CPU": "true",
        "PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'src'}",
    }
    cmd = [
        sys.executable, "-m", "accelerate.commands.launch",
        "--multi_gpu", "--num_processes", "2", "--num_machines", "1",
        "--mixed_precision", "no", "--dynamo_backend", "no", "--main_process_port", "0",
        "-m", "tests.training.multiprocess_job", str(out),
    ]  # fmt: skip
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-4000:]

    lines = [json.loads(f.read_text()) for f in sorted(out.glob("rank*.json"))]
    assert sorted(x["rank"] for x in lines) == [0, 1], proc.stdout
    for line in lines:
        assert line["world_size"] == 2 and line["backend"] == "gloo", line
        assert line["distributed_type"].endswith("MULTI_CPU"), line
        assert line["pretrain_steps"] == 4 and line["sft_steps"] == 4, line

    # One process (rank 0) wrote each stage's marker, once.
    assert (out / "marks.log").read_text().splitlines() == ["0 pretrain", "0 sft"]
    for stage, name in (("pretrain", "pretrain"), ("sft", "sft")):
        record = stage_done(out / stage)
        assert record is not None and record["stage"] == name and record["steps"] == 4
        model, tokenizer = load_model(out / stage / "final")
        assert model.config.vocab_size == len(tokenizer) == 512
    assert (out / "pretrain" / "tokenizer" / "tokenizer.json").is_file()
