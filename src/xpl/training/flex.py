"""FLeX fine-tuning: LoRA SFT with a differentiable Fourier regulariser, with AdamW or SophiaG.

It is ``xpl.training.sft`` with hooks (``SFTHooks``), not a second copy of it: the same
examples, completion-only loss, resumption and saving, plus

* ``FlexTrainer`` (an ``SFTTrainer``): adds ``weight * penalty`` (``xpl.training.fourier``)
  to the training loss, and drives SophiaG (``xpl.training.sophia``): ``bs`` = the step's
  loss-carrying tokens, the Hessian estimate refreshed every k steps;
* logs, per logging step: ``task_loss`` (the loss without the penalty), ``fourier_penalty``,
  ``lora_hf_fraction`` (share of the LoRA weights' spectral energy in the penalised upper
  band), and with Sophia ``sophia_clip_fraction`` and ``sophia_bs``;
* a validation loss per held-out PL every ``eval_steps`` (the loss curves of the report);
* the unmerged adapter kept in ``adapter/`` next to the merged model in ``final/``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from xpl.corpus import sft_examples
from xpl.languages import get_language
from xpl.problems.problem import Problem
from xpl.training.common import ConfigError
from xpl.training.fourier import FourierConfig, high_frequency_energy, lora_matrices, spectral_penalty
from xpl.training.sft import SFTConfig, SFTHooks, sft
from xpl.training.sophia import SophiaConfig, label_tokens, optimizer_kwargs, refresh_hessian, sophia_class, unwrap

OPTIMIZERS = ("adamw", "sophia")
# Shorthands for the projections of Llama-style models (the tiny models, SmolLM2, Llama, Qwen).
MODULE_GROUPS = {"attention": ("q_proj", "k_proj", "v_proj", "o_proj"), "mlp": ("gate_proj", "up_proj", "down_proj")}


def expand_target_modules(names, where: str = "lora.target_modules") -> tuple[str, ...]:
    """LoRA target modules with ``attention`` and ``mlp`` expanded to their projections."""
    if not names:
        raise ConfigError(f"{where}: name at least one module (attention, mlp, or projections such as q_proj)")
    out: list[str] = []
    for name in names:
        known = [*MODULE_GROUPS, *(m for group in MODULE_GROUPS.values() for m in group)]
        if name not in known:
            # Every model xpl loads is Llama-style; a typo would otherwise surface only as
            # PEFT's error once training starts.
            raise ConfigError(f"{where}: {name!r} is not a projection of a Llama-style model; known: {', '.join(known)}")
        for module in MODULE_GROUPS.get(name, (name,)):
            if module not in out:
                out.append(module)
    return tuple(out)


@dataclass
class FlexConfig:
    optimizer: str = "adamw"  # adamw (the Trainer's AdamW) or sophia (SophiaG)
    sophia: SophiaConfig = field(default_factory=SophiaConfig)
    fourier: FourierConfig | None = None  # None: plain LoRA
    eval_steps: int = 0  # validation loss on held-out examples every n steps (0: never)
    eval_batch_size: int = 32

    def validate(self, where: str = "flex") -> None:
        if self.optimizer not in OPTIMIZERS:
            raise ConfigError(f"{where}.optimizer must be one of {', '.join(OPTIMIZERS)}, got {self.optimizer!r}")
        self.sophia.validate(f"{where}.sophia")
        if self.fourier is not None:
            self.fourier.validate(f"{where}.fourier")
        if self.eval_steps < 0 or self.eval_batch_size < 1:
            raise ConfigError(f"{where}: eval_steps must be >= 0 and eval_batch_size >= 1, got {self.eval_steps}, {self.eval_batch_size}")


_TRAINER = None


def flex_trainer_class():
    """``FlexTrainer`` (built on first use: importing TRL takes seconds)."""
    global _TRAINER
    if _TRAINER is None:
        _TRAINER = _define_trainer()
    return _TRAINER


def _define_trainer():
    from transformers import TrainerCallback
    from trl import SFTTrainer

    class SophiaStepLog(TrainerCallback):
        """Right after each optimiser step (before the Trainer logs): what Sophia did."""

        def __init__(self, trainer):
            self.trainer = trainer

        def on_optimizer_step(self, args, state, control, **kwargs):
            opt = unwrap(self.trainer.optimizer)
            metrics = self.trainer._metrics["train"]
            metrics["sophia_clip_fraction"].append(opt.last_clip_fraction)
            metrics["sophia_bs"].append(opt.last_bs)

    class FlexTrainer(SFTTrainer):
        def __init__(self, *args, fourier: FourierConfig | None = None, sophia: SophiaConfig | None = None, **kwargs):
            super().__init__(*args, **kwargs)
            self.fourier = fourier
            self.sophia = sophia
            self._step_seen = -1  # the optimiser step whose micro-batches are being seen
            self._step_tokens = 0
            self.final_spectrum: dict[str, float] | None = None
            if sophia is not None:
                self.add_callback(SophiaStepLog(self))

        def _loss_is_scaled_for_ga(self, num_items_in_batch) -> bool:
            # The Trainer's own rule (Trainer.training_step): a loss normalised by the step's
            # token count is not divided by the accumulation steps again.
            if self.loss_is_scaled_for_ga is not None:
                return self.loss_is_scaled_for_ga
            return (self.model_accepts_loss_kwargs and num_items_in_batch is not None) or self.compute_loss_func is not None

        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
            out = super().compute_loss(model, inputs, return_outputs=return_outputs, num_items_in_batch=num_items_in_batch)
            if not model.training:  # evaluation: the task loss alone
                return out
            loss = out[0] if return_outputs else out
            # One optimiser step sees the penalty once: each micro-batch adds its share.
            share = self.current_gradient_accumulation_steps if self._loss_is_scaled_for_ga(num_items_in_batch) else 1
            metrics = self._metrics["train"]
            metrics["task_loss"].append(float(loss.detach()) * share)
            if self.fourier is not None and self.fourier.weight > 0:
                penalty = spectral_penalty(lora_matrices(model), self.fourier)
                metrics["fourier_penalty"].append(float(penalty.detach()))
                loss = loss + self.fourier.weight * penalty / share
            return (loss, out[1]) if return_outputs else loss

        def training_step(self, model, inputs, num_items_in_batch=None):
            step = self.state.global_step
            if step != self._step_seen:  # the first micro-batch of this optimiser step
                self._step_seen, self._step_tokens = step, 0
                if self.sophia is not None and step % self.sophia.hessian_interval == 0:
                    model.train()
                    refresh_hessian(model, self._prepare_inputs(inputs), unwrap(self.optimizer), step)
            self._step_tokens += label_tokens(inputs)
            if self.sophia is not None:
                unwrap(self.optimizer).batch_tokens = self._step_tokens
            return super().training_step(model, inputs, num_items_in_batch)

        def log(self, logs: dict[str, float], start_time: float | None = None) -> None:
            if self.model.training and "loss" in logs:
                logs["lora_hf_fraction"] = high_frequency_energy(lora_matrices(self.model), self._threshold())["fraction"]
            super().log(logs, start_time)

        def _threshold(self) -> float:
            return self.fourier.threshold if self.fourier is not None else FourierConfig().threshold

        def train(self, *args, **kwargs):
            result = super().train(*args, **kwargs)
            self.final_spectrum = high_frequency_energy(lora_matrices(self.model), self._threshold())
            return result

    return FlexTrainer


def eval_examples(problems: Sequence[Problem], languages: Sequence[str]) -> dict[str, list]:
    """Held-out prompt -> solution examples per PL (problems without that PL's solution left out)."""
    out = {}
    for name in languages:
        lang = get_language(name).name
        out[lang] = sft_examples([p for p in problems if lang in p.solutions], [lang])
    return out


def flex_sft(
    model_dir: str | Path,
    problems: Sequence[Problem],
    config: SFTConfig,
    settings: FlexConfig,
    output_dir: str | Path,
    report: Callable[[int, int, dict | None], None] | None = None,
    eval_problems: Sequence[Problem] = (),
    eval_languages: Sequence[str] = (),
) -> dict[str, Any]:
    """LoRA fine-tuning (``config.train.lora`` must be set) with the Fourier penalty when
    ``settings.fourier`` is set, with AdamW or SophiaG; resumable like ``sft``. The record
    adds the optimiser, the penalty's settings, Hessian refresh steps and the final spectrum."""
    settings.validate()
    if config.train.lora is None:
        raise ConfigError("flex: train.lora must be set (FLeX fine-tunes LoRA adapters)")
    held = eval_examples(eval_problems, eval_languages) if settings.eval_steps and eval_problems else {}
    trainer_kwargs: dict[str, Any] = {"fourier": settings.fourier}
    if settings.optimizer == "sophia":
        trainer_kwargs["sophia"] = settings.sophia
        # Param groups (weight decay on matrices, none on norms and biases) come from the Trainer.
        trainer_kwargs["optimizer_cls_and_kwargs"] = (sophia_class(), optimizer_kwargs(settings.sophia, config.train.learning_rate))
    args: dict[str, Any] = {}
    if held:
        args = {
            "eval_strategy": "steps",
            "eval_steps": settings.eval_steps,
            "per_device_eval_batch_size": settings.eval_batch_size,
            "prediction_loss_only": True,
        }

    def record(trainer) -> dict[str, Any]:
        opt = unwrap(trainer.optimizer)
        return {
            "flex": {
                "optimizer": settings.optimizer,
                "fourier": asdict(settings.fourier) if settings.fourier else None,
                "sophia": asdict(settings.sophia) if settings.optimizer == "sophia" else None,
            },
            "hessian_steps": list(getattr(opt, "hessian_steps", [])),
            "eval_loss": [r for r in trainer.state.log_history if any(k.startswith("eval_") and k.endswith("_loss") for k in r)],
            "final_spectrum": trainer.final_spectrum,
        }

    hooks = SFTHooks(
        stage="flex",
        trainer_class=flex_trainer_class(),
        trainer_kwargs=trainer_kwargs,
        args=args,
        eval_examples=held,
        keep_adapter=True,
        record=record,
    )
    return sft(model_dir, problems, config, output_dir, report, hooks)
