"""What every training stage shares: hyper-parameters, Trainer arguments for CPU or GPU,
LoRA, checkpoint resumption and the marker that says a stage is finished.

Resumption: each stage trains with the Hugging Face ``Trainer`` (directly or through TRL),
which saves a checkpoint every ``save_steps`` (model, optimiser, scheduler, RNG states and the
data position). ``train_with_resume`` restarts from the newest complete checkpoint, so a
stage killed at any moment (even ``kill -9``) continues where it was, with the same data
order; a stage whose ``stage.json`` says it finished is not trained again.
"""

from __future__ import annotations

import json
import logging
import os
import time
import warnings
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from xpl.io import write_json

STAGE_MARKER = "stage.json"
FINAL = "final"  # sub-folder holding a finished stage's model (and tokenizer)


class ConfigError(ValueError):
    """A bad stage configuration, found before any work starts; the message names the field."""


def limit_threads() -> None:
    """PyTorch's OpenMP threads spin while waiting, and collapse (5-30x slower) when anything
    else uses a core: make them sleep instead. Call before torch starts its thread pool.
    Also silences the libraries' own progress bars: stages report progress themselves."""
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("HF_DATASETS_DISABLE_PROGRESS_BARS", "1")
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()


# Library messages that tell an xpl user nothing, hidden while xpl trains (each one named by
# its category, its module and its text, so nothing else is lost):
_LIBRARY_WARNINGS = (
    # transformers 5 renamed ``is_gradient_checkpointing``; TRL (once per GRPO step, in
    # unwrap_model_for_generation) and PEFT (building or loading a LoRA model) read the old name.
    (FutureWarning, r"transformers\.modeling_utils", r"`is_gradient_checkpointing` is deprecated"),
)
_LIBRARY_LOG_MESSAGES = (
    # Two checkpoints saved within a second (short runs): the Trainer then orders them by step
    # number, as xpl's own resumption (``latest_checkpoint``) always does.
    ("transformers.trainer_utils", "mtime may not be reliable on this filesystem"),
)


class _DropMessage(logging.Filter):
    def __init__(self, prefix: str):
        super().__init__()
        self.prefix = prefix

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith(self.prefix)


@contextmanager
def library_noise_filtered():
    """Within it (a ``with`` block, or a decorator on a stage), the library warnings and log
    lines above are not shown; every other warning is, as before. Restored on exit."""
    drops = [(logging.getLogger(name), _DropMessage(prefix)) for name, prefix in _LIBRARY_LOG_MESSAGES]
    for logger, drop in drops:
        logger.addFilter(drop)
    try:
        with warnings.catch_warnings():
            for category, module, message in _LIBRARY_WARNINGS:
                warnings.filterwarnings("ignore", message=message, category=category, module=module)
            yield
    finally:
        for logger, drop in drops:
            logger.removeFilter(drop)


def quiet(trainer):
    """Remove the Trainer's log printer (xpl reports progress through ``progress_callback``)."""
    from transformers.trainer_callback import PrinterCallback, ProgressCallback

    trainer.remove_callback(PrinterCallback)
    trainer.remove_callback(ProgressCallback)
    return trainer


@dataclass
class LoraConfig:
    r: int = 8
    alpha: int = 16
    dropout: float = 0.05
    target_modules: tuple[str, ...] = ("q_proj", "k_proj", "v_proj", "o_proj")
    # Adapters on the top N transformer layers only (0 = every layer). Nothing below the
    # lowest adapted layer needs a gradient, so backpropagation stops there: a step's backward
    # pass costs about N / num_layers of a full one.
    top_layers: int = 0

    def validate(self, where: str = "lora") -> None:
        if self.r < 1 or self.alpha <= 0 or not 0 <= self.dropout < 1:
            raise ConfigError(f"{where}: r must be >= 1, alpha > 0 and dropout in [0, 1), got r={self.r}, alpha={self.alpha}, dropout={self.dropout}")

    def peft_config(self, model=None):
        from peft import LoraConfig as PeftLoraConfig

        layers = None
        if self.top_layers:
            if model is None:
                raise ValueError("lora.top_layers needs the model, to count its layers")
            total = model.config.num_hidden_layers
            if self.top_layers > total:
                raise ConfigError(f"lora.top_layers is {self.top_layers}, but the model has {total} layers")
            layers = list(range(total - self.top_layers, total))
        return PeftLoraConfig(
            r=self.r,
            lora_alpha=self.alpha,
            lora_dropout=self.dropout,
            target_modules=list(self.target_modules),
            layers_to_transform=layers,
            task_type="CAUSAL_LM",
        )


@dataclass
class TrainConfig:
    """Hyper-parameters shared by every stage (each stage's config adds its own)."""

    learning_rate: float = 1e-3
    batch_size: int = 16  # per device
    grad_accum: int = 1
    epochs: float = 1.0
    max_steps: int = -1  # > 0 overrides epochs
    warmup_steps: int = 0
    weight_decay: float = 0.0
    scheduler: str = "cosine"
    max_length: int = 512
    seed: int = 0
    bf16: bool = False  # on CPU: ~30% faster here, slightly less exact
    # Recompute activations in the backward pass: saves memory on a large model, costs about a
    # third more compute. TRL's SFT and GRPO configs turn it on by default; xpl leaves it off.
    activation_checkpointing: bool = False
    save_steps: int = 50
    logging_steps: int = 10
    lora: LoraConfig | None = None
    extra: dict[str, Any] = field(default_factory=dict)  # passed to TrainingArguments as is

    def validate(self, where: str = "train") -> None:
        for name in ("learning_rate", "batch_size", "grad_accum", "max_length", "save_steps", "logging_steps"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or value <= 0:
                raise ConfigError(f"{where}.{name} must be a positive number, got {value!r}")
        if self.max_steps <= 0 and self.epochs <= 0:
            raise ConfigError(f"{where}: set epochs > 0 or max_steps > 0")

    def trainer_kwargs(self, output_dir: Path) -> dict[str, Any]:
        """Arguments for ``TrainingArguments`` (or TRL's configs, which extend it)."""
        import torch

        cpu = not torch.cuda.is_available()
        kwargs: dict[str, Any] = {
            "output_dir": str(output_dir),
            "learning_rate": self.learning_rate,
            "per_device_train_batch_size": self.batch_size,
            "gradient_accumulation_steps": self.grad_accum,
            "num_train_epochs": self.epochs,
            "max_steps": self.max_steps,
            "warmup_steps": self.warmup_steps,
            "weight_decay": self.weight_decay,
            "lr_scheduler_type": self.scheduler,
            "seed": self.seed,
            "data_seed": self.seed,
            "bf16": self.bf16,
            checkpointing_argument(): self.activation_checkpointing,
            "use_cpu": cpu,
            "save_strategy": "steps",
            "save_steps": self.save_steps,
            "save_total_limit": 2,
            "logging_steps": self.logging_steps,
            "logging_first_step": True,
            "report_to": "none",
            "dataloader_num_workers": 0,
            "disable_tqdm": True,  # xpl shows its own progress bars
        }
        kwargs.update(self.extra)
        return kwargs


def checkpointing_argument() -> str:
    """``TrainingArguments``' name for activation checkpointing: ``activation_checkpointing``
    since transformers 5 (``gradient_checkpointing`` is its deprecated alias there)."""
    from transformers import TrainingArguments

    fields = TrainingArguments.__dataclass_fields__
    return "activation_checkpointing" if "activation_checkpointing" in fields else "gradient_checkpointing"


def stage_done(output_dir: Path) -> dict[str, Any] | None:
    """The finished stage's record, or None if it has not finished."""
    marker = Path(output_dir) / STAGE_MARKER
    if not marker.is_file():
        return None
    try:
        record = json.loads(marker.read_text())
    except json.JSONDecodeError:
        return None
    if not isinstance(record, dict) or not record.get("done"):
        return None
    return _rebased(record, Path(output_dir))


def _rebased(record: dict[str, Any], output_dir: Path) -> dict[str, Any]:
    """The record with its model folder where the stage folder is now. Records name the model
    by the absolute path it was written to; a run directory moved or copied elsewhere (another
    disk, a cluster) must resume from its own files, not from where they first were. A model
    outside the stage folder (the shipped organism) is left as recorded."""
    model = record.get("model")
    if isinstance(model, str) and model:
        here = output_dir / Path(model).name
        if here.is_dir() and Path(model).resolve() != here.resolve():
            record = {**record, "model": str(here)}
    return record


def mark_done(output_dir: Path, record: dict[str, Any]) -> None:
    # atomic: never a half-written marker
    write_json(Path(output_dir) / STAGE_MARKER, {"done": True, "finished_at": time.strftime("%Y-%m-%dT%H:%M:%S"), **record}, indent=2)


def latest_checkpoint(output_dir: Path) -> str | None:
    """The newest complete ``checkpoint-N`` folder (one with its trainer state written last)."""
    best = None
    for path in Path(output_dir).glob("checkpoint-*"):
        suffix = path.name.split("-", 1)[1]
        if suffix.isdigit() and (path / "trainer_state.json").is_file():
            if best is None or int(suffix) > best[0]:
                best = (int(suffix), path)
    return str(best[1]) if best else None


def train_with_resume(trainer, output_dir: Path) -> Any:
    """``trainer.train()``, resumed from the latest checkpoint when there is one."""
    return trainer.train(resume_from_checkpoint=latest_checkpoint(output_dir))


def log_history(trainer) -> list[dict[str, Any]]:
    return [dict(row) for row in trainer.state.log_history]


def save_final(trainer, tokenizer, output_dir: Path, merge_lora: bool = False) -> Path:
    """Save the trained model (LoRA adapters merged when asked) and tokenizer to ``final/``.

    Under several processes only the first writes, and every process waits here until it has:
    a process that went on at once could start the next stage before the model exists."""
    final = Path(output_dir) / FINAL
    model = trainer.model
    if merge_lora and hasattr(model, "merge_and_unload"):
        model = model.merge_and_unload()
    if trainer.is_world_process_zero():
        model.save_pretrained(str(final))
        tokenizer.save_pretrained(str(final))
    trainer.accelerator.wait_for_everyone()
    return final


def config_dict(config: Any) -> dict[str, Any]:
    return asdict(config)


def progress_callback(report):
    """A ``TrainerCallback`` that calls ``report(step, max_steps, logs)`` as training goes."""
    from transformers import TrainerCallback

    class Report(TrainerCallback):
        def on_step_end(self, args, state, control, **kwargs):
            report(state.global_step, state.max_steps, None)

        def on_log(self, args, state, control, logs=None, **kwargs):
            report(state.global_step, state.max_steps, logs)

    return Report()


def mean_token_loss(model, tokenizer, texts: list[str], max_length: int, batch_size: int = 16) -> float:
    """Mean next-token cross-entropy (nats per token) of ``model`` over ``texts``, each scored
    as one document (``<s> text </s>``, truncated to ``max_length`` tokens)."""
    import torch

    model.eval()
    device = next(model.parameters()).device
    total, count = 0.0, 0
    for start in range(0, len(texts), batch_size):
        batch = [tokenizer.bos_token + t + tokenizer.eos_token for t in texts[start : start + batch_size]]
        tokenizer.padding_side = "right"
        enc = tokenizer(batch, return_tensors="pt", padding=True, truncation=True, max_length=max_length, add_special_tokens=False)
        ids, mask = enc["input_ids"].to(device), enc["attention_mask"].to(device)
        with torch.no_grad():
            logits = model(input_ids=ids, attention_mask=mask).logits[:, :-1].float()
        targets = ids[:, 1:]
        keep = mask[:, 1:].bool()
        losses = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1), reduction="none")
        total += float(losses[keep.reshape(-1)].sum())
        count += int(keep.sum())
    return total / max(count, 1)
