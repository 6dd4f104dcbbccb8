"""Small, fast inputs shared by the training tests."""

from functools import cache

from xpl.problems.family import build
from xpl.training.common import TrainConfig
from xpl.training.pretrain import PretrainConfig


@cache
def tiny_problems(n: int = 120, seed: int = 0):
    built = build(n, seed, languages=["python", "javascript"], check=False)
    return tuple(built.split("train")), tuple(built.split("test"))


def tiny_pretrain_config(max_steps: int = 20, save_steps: int = 50, organisation: str = "shuffle") -> PretrainConfig:
    return PretrainConfig(
        proportions={"python": 0.75, "javascript": 0.25},
        budget=40_000,
        organisation=organisation,
        preset="xs",
        vocab_size=512,
        context=64,
        train=TrainConfig(
            learning_rate=5e-3, batch_size=8, max_steps=max_steps, warmup_steps=2, save_steps=save_steps, logging_steps=1
        ),
    )
