"""The training loop of Branch-Train-Stitch (``xpl bts``): continual pretraining of an expert,
and training only the combiner of frozen models (BTS's stitch layers, BTX's routers), on
packed blocks of next-token prediction.

One small loop rather than the Hugging Face ``Trainer``: the combined models hold several
frozen models (tied weights in each) whose checkpoints would be the models again; here a
checkpoint holds only what trains (its parameters, AdamW's state, the step, the RNG states
and the losses so far). It is written atomically every ``save_steps`` steps and on the last;
a run killed at any moment (even ``kill -9``) resumes from it, with the same data order: the
batch of step s is a function of the seed and s alone (a fresh permutation of the blocks per
pass). Every run of the loop with the same ``steps``, ``batch_size`` and blocks sees the
same tokens, which is what makes the baselines' budgets equal.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from xpl.training.common import ConfigError

CHECKPOINT = "checkpoint.pt"


@dataclass
class LoopConfig:
    steps: int = 200
    batch_size: int = 16
    learning_rate: float = 1e-3
    warmup_steps: int = 10
    weight_decay: float = 0.0
    save_steps: int = 50
    logging_steps: int = 10
    seed: int = 0

    def validate(self, where: str) -> None:
        for name in ("steps", "batch_size", "save_steps", "logging_steps"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{where}.{name} must be >= 1, got {getattr(self, name)}")
        if not self.learning_rate > 0 or self.warmup_steps < 0 or self.weight_decay < 0:
            raise ConfigError(f"{where}: learning_rate must be > 0, warmup_steps and weight_decay >= 0")


def token_blocks(tokenizer, texts: Sequence[str], context: int) -> list[list[int]]:
    """``<s> text </s>`` documents packed into blocks of ``context`` tokens (as pretraining does)."""
    from xpl.training.pretrain import pack

    ids = [[tokenizer.bos_token_id, *tokenizer(t, add_special_tokens=False)["input_ids"], tokenizer.eos_token_id] for t in texts]
    return pack(ids, context)


def batch_indices(n_blocks: int, batch_size: int, step: int, seed: int) -> list[int]:
    """The blocks of optimiser step ``step`` (0-based): consecutive slices of one random
    permutation of the blocks per pass, the passes' permutations seeded by (seed, pass)."""
    import torch

    out: list[int] = []
    position = step * batch_size
    while len(out) < batch_size:
        epoch, offset = divmod(position, n_blocks)
        g = torch.Generator().manual_seed(seed * 100_003 + epoch)
        perm = torch.randperm(n_blocks, generator=g).tolist()
        take = perm[offset : offset + batch_size - len(out)]
        out += take
        position += len(take)
    return out


def _lr(config: LoopConfig, step: int) -> float:
    """Linear warm-up, then cosine decay to 0 (``step`` is 0-based)."""
    if step < config.warmup_steps:
        return config.learning_rate * (step + 1) / config.warmup_steps
    rest = max(1, config.steps - config.warmup_steps)
    return config.learning_rate * 0.5 * (1 + math.cos(math.pi * (step - config.warmup_steps) / rest))


def trainable(model) -> dict[str, Any]:
    return {n: p for n, p in model.named_parameters() if p.requires_grad}


def _save(path: Path, state: dict[str, Any]) -> None:
    import torch

    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    try:
        torch.save(state, tmp)
        tmp.replace(path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def train_loop(
    model,
    blocks: Sequence[Sequence[int]],
    config: LoopConfig,
    out: str | Path,
    report: Callable[[int, int, dict | None], None] | None = None,
    stop_after: int | None = None,
) -> dict[str, Any]:
    """Train the parameters of ``model`` that require a gradient on next-token loss over
    ``blocks`` (``model(input_ids, labels=...)`` returns ``.loss``) for ``config.steps`` steps,
    resuming from ``out/checkpoint.pt``. Returns ``{"losses": [...], "seconds": ...}``.
    ``stop_after`` ends the call after that many steps of this call (tests of resumption)."""
    import torch

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    params = trainable(model)
    if not params:
        raise ValueError("nothing to train: no parameter requires a gradient")
    if not blocks:
        raise ConfigError("no training blocks: the corpus is shorter than one context")
    decay = [p for n, p in params.items() if p.ndim >= 2]
    other = [p for n, p in params.items() if p.ndim < 2]
    optimizer = torch.optim.AdamW([{"params": decay, "weight_decay": config.weight_decay}, {"params": other, "weight_decay": 0.0}],
                                  lr=config.learning_rate, betas=(0.9, 0.95))
    step, losses, seconds = 0, [], 0.0
    ckpt = out / CHECKPOINT
    if ckpt.is_file():
        state = torch.load(ckpt, weights_only=False)
        with torch.no_grad():
            for n, p in params.items():
                p.copy_(state["params"][n])
        optimizer.load_state_dict(state["optimizer"])
        torch.set_rng_state(state["rng"])
        step, losses, seconds = state["step"], state["losses"], state["seconds"]
    data = torch.tensor([list(b) for b in blocks], dtype=torch.long)
    model.train()
    started, done_here, window = time.perf_counter(), 0, []
    while step < config.steps:
        if stop_after is not None and done_here >= stop_after:
            break
        batch = data[batch_indices(len(data), config.batch_size, step, config.seed)]
        for group in optimizer.param_groups:
            group["lr"] = _lr(config, step)
        loss = model(batch, labels=batch).loss
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(list(params.values()), 1.0)
        optimizer.step()
        step += 1
        done_here += 1
        window.append(float(loss.detach()))
        if step % config.logging_steps == 0 or step == config.steps:
            losses.append({"step": step, "loss": sum(window) / len(window)})
            window = []
            if report:
                report(step, config.steps, losses[-1])
        elif report:
            report(step, config.steps, None)
        if step % config.save_steps == 0 or step == config.steps:
            _save(ckpt, {"params": {n: p.detach().clone() for n, p in params.items()}, "optimizer": optimizer.state_dict(),
                         "rng": torch.get_rng_state(), "step": step, "losses": losses,
                         "seconds": seconds + time.perf_counter() - started})
    model.eval()
    return {"steps": step, "losses": losses, "seconds": round(seconds + time.perf_counter() - started, 1)}
