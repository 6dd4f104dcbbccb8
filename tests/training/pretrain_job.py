"""A small pretraining run, started as a separate process by the resume test (so it can be
killed with SIGKILL): python -m tests.training.pretrain_job OUT_DIR."""

import json
import sys

from tests.training.fixtures import tiny_pretrain_config, tiny_problems
from xpl.training.pretrain import pretrain

if __name__ == "__main__":
    train, heldout = tiny_problems()
    record = pretrain(train, heldout, tiny_pretrain_config(max_steps=12, save_steps=3), sys.argv[1])
    print(json.dumps({"steps": record["steps"], "losses": [r["loss"] for r in record["train_loss"]]}))
