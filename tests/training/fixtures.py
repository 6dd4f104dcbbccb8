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


# A ChatML-like template over plain text (the tiny byte-level tokenizer has no special tokens
# for roles); the assistant turn ends with the end-of-sequence token.
CHAT_TEMPLATE = (
    "{% for m in messages %}<|{{ m['role'] }}|>\n{{ m['content'] }}"
    "{% if m['role'] == 'assistant' %}{{ eos_token }}{% endif %}\n{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>\n{% endif %}"
)


def tiny_instruct(root, max_steps: int = 6):
    """(a tiny base model folder without a chat template, the same model saved as an
    "instruct" model folder with CHAT_TEMPLATE), pretrained here for ``max_steps``."""
    from xpl.models.loading import load_model
    from xpl.training.pretrain import pretrain

    pretrain(*tiny_problems(), tiny_pretrain_config(max_steps=max_steps), root / "base")
    model, tokenizer = load_model(root / "base" / "final")
    tokenizer.chat_template = CHAT_TEMPLATE
    instruct = root / "tiny-instruct"
    model.save_pretrained(instruct)
    tokenizer.save_pretrained(instruct)
    return root / "base" / "final", instruct
