"""Pretraining then SFT on tiny inputs, run by the multi-process test with two CPU processes
(``accelerate launch --multi_gpu --num_processes 2`` with CUDA hidden: torchrun + gloo):
python -m tests.training.multiprocess_job OUT_DIR.

Two probes make the test catch the races of several processes sharing one output folder:

* rank 0 waits a moment before saving the pretrained model, so a process that went on to
  SFT without waiting for that model would find no folder to load;
* every call of a stage's ``mark_done`` is logged (rank and stage) to ``OUT_DIR/marks.log``,
  so the test can check that one process wrote each stage's marker.

Each process writes ``OUT_DIR/rank<N>.json`` at the end: its rank, the distributed set-up the
Trainer used and the steps of the two stages (a file each: two processes printing to one pipe
can run their lines together)."""

import json
import os
import sys
import time
from pathlib import Path

import xpl.training.pretrain as pretrain_module
import xpl.training.sft as sft_module
from tests.training.fixtures import tiny_pretrain_config, tiny_problems
from xpl.training.common import TrainConfig


def _logged(original):
    def mark_done(output_dir, record):
        with open(Path(output_dir).parent / "marks.log", "a") as fh:
            fh.write(f"{os.environ.get('RANK', '?')} {record['stage']}\n")
        original(output_dir, record)

    return mark_done


def _late_on_rank_zero(original, seconds: float = 2.0):
    def save_final(trainer, *args, **kwargs):
        if trainer.is_world_process_zero():
            time.sleep(seconds)
        return original(trainer, *args, **kwargs)

    return save_final


if __name__ == "__main__":
    out = Path(sys.argv[1])
    pretrain_module.save_final = _late_on_rank_zero(pretrain_module.save_final)
    pretrain_module.mark_done = _logged(pretrain_module.mark_done)
    sft_module.mark_done = _logged(sft_module.mark_done)
    train, heldout = tiny_problems()
    pre = pretrain_module.pretrain(train, heldout, tiny_pretrain_config(max_steps=4, save_steps=2), out / "pretrain")
    config = sft_module.SFTConfig(
        languages=["python"],
        train=TrainConfig(learning_rate=2e-3, batch_size=4, max_steps=4, save_steps=2, logging_steps=1),
    )
    tuned = sft_module.sft(out / "pretrain" / "final", train, config, out / "sft")

    from accelerate import PartialState

    state = PartialState()  # the one the Trainer set up
    line = {
        "rank": state.process_index,
        "world_size": state.num_processes,
        "distributed_type": str(state.distributed_type),
        "backend": state.backend,
        "pretrain_steps": pre["steps"],
        "sft_steps": tuned["steps"],
    }
    (out / f"rank{state.process_index}.json").write_text(json.dumps(line))
