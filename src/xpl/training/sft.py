"""Supervised fine-tuning, plain or Parallel-SFT, with TRL's ``SFTTrainer``.

Plain SFT trains on prompt -> solution examples in ``languages`` (by default the source PL,
Python). Parallel-SFT adds parallel programs (``xpl.corpus.parallel_examples``) in
``parallel_languages`` at ``parallel_ratio`` of the mixture, in one of the formats ``multi``,
``concat`` or ``translate``. The loss is on completion tokens only (the prompt is context),
and every completion ends with the end-of-sequence token so the model learns to stop.

Other stages built on SFT (FLeX: a Fourier-regularised LoRA, Sophia) pass ``SFTHooks``: a
trainer subclass and its arguments, held-out examples for a validation loss during training,
and whether to keep the unmerged adapter next to the merged model.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from xpl.corpus import PARALLEL_FORMATS, Example, sft_mixture
from xpl.languages import get_language
from xpl.problems.problem import Problem
from xpl.training.common import (
    FINAL,
    ConfigError,
    TrainConfig,
    config_dict,
    library_noise_filtered,
    limit_threads,
    mark_done,
    progress_callback,
    quiet,
    save_final,
    stage_done,
    train_with_resume,
)


@dataclass
class SFTHooks:
    """What a stage built on SFT changes in it (see ``xpl.training.flex``)."""

    stage: str  # the stage's name in its record
    trainer_class: type | None = None  # an SFTTrainer subclass; None: SFTTrainer
    trainer_kwargs: dict[str, Any] = field(default_factory=dict)  # more arguments for it
    args: dict[str, Any] = field(default_factory=dict)  # more TRL config arguments (e.g. the evaluation schedule)
    eval_examples: dict[str, list[Example]] = field(default_factory=dict)  # name -> held-out examples
    keep_adapter: bool = False  # with LoRA: also save the unmerged adapter in ``adapter/``
    record: Callable[[Any], dict[str, Any]] | None = None  # trainer -> more entries for the record


ADAPTER = "adapter"  # sub-folder holding the unmerged LoRA adapter (when kept)


@dataclass
class SFTConfig:
    languages: list[str] = field(default_factory=lambda: ["python"])
    parallel_languages: list[str] = field(default_factory=list)  # empty: plain SFT
    parallel_format: str = "multi"
    parallel_ratio: float = 0.5
    # generated: the parallel programs are the problems' own (the family's renderers); a path:
    # an xpl JSONL problems file (e.g. `xpl corpus translate`'s problems.jsonl) whose programs,
    # matched by problem name, replace them in the parallel PLs other than `languages`
    parallel_source: str = "generated"
    # completion: prompt -> body; chat: conversations (user message -> fenced function) through
    # the tokenizer's chat template, loss on the assistant turn only.
    prompt_style: str = "completion"
    train: TrainConfig = field(default_factory=lambda: TrainConfig(learning_rate=5e-4, batch_size=16, epochs=2))

    @property
    def parallel(self) -> bool:
        return bool(self.parallel_languages) and self.parallel_ratio > 0

    def validate(self, where: str = "sft") -> None:
        if not self.languages:
            raise ConfigError(f"{where}.languages: at least one PL")
        for name in [*self.languages, *self.parallel_languages]:
            get_language(name)  # raises UnknownLanguage naming the PL and the known ones
        if self.parallel_format not in PARALLEL_FORMATS:
            raise ConfigError(f"{where}.parallel_format must be one of {', '.join(PARALLEL_FORMATS)}, got {self.parallel_format!r}")
        if self.prompt_style not in ("completion", "chat"):
            raise ConfigError(f"{where}.prompt_style must be completion or chat, got {self.prompt_style!r}")
        if not 0.0 <= self.parallel_ratio < 1.0:
            raise ConfigError(f"{where}.parallel_ratio must be in [0, 1), got {self.parallel_ratio}")
        if self.parallel_languages and len(self.parallel_languages) < 2:
            raise ConfigError(f"{where}.parallel_languages needs at least two PLs, got {self.parallel_languages}")
        if self.parallel_source != "generated" and not Path(self.parallel_source).is_file():
            raise ConfigError(f"{where}.parallel_source: {self.parallel_source}: no such file (generated, or an xpl JSONL problems file)")
        self.train.validate(f"{where}.train")


def _parallel_source(problems: Sequence[Problem], config: SFTConfig) -> tuple[list[Problem], dict[str, Any]]:
    """The problems with their parallel programs from ``config.parallel_source``."""
    from xpl.corpus import with_parallel_source
    from xpl.problems import read_problems

    source, errors = read_problems(config.parallel_source)
    if errors:
        raise ConfigError(f"parallel_source: {config.parallel_source}: {errors[0]}" + (f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""))
    out, record = with_parallel_source(problems, source, config.languages, config.parallel_languages)
    if not record["programs"]:
        raise ConfigError(
            f"parallel_source: {config.parallel_source} has no program in {', '.join(config.parallel_languages)} "
            f"for any of the {len(problems)} training problems (problems are matched by name)"
        )
    return out, record


@library_noise_filtered()
def sft(
    model_dir: str | Path,
    problems: Sequence[Problem],
    config: SFTConfig,
    output_dir: str | Path,
    report: Callable[[int, int, dict | None], None] | None = None,
    hooks: SFTHooks | None = None,
) -> dict[str, Any]:
    """Fine-tune the model in ``model_dir`` (resuming, or skipping when finished); the result
    is saved in ``output_dir/final`` (LoRA adapters merged, so later stages load a plain model)."""
    limit_threads()
    config.validate()
    out = Path(output_dir)
    done = stage_done(out)
    if done:
        return done
    out.mkdir(parents=True, exist_ok=True)
    from datasets import Dataset
    from trl import SFTConfig as TRLConfig
    from trl import SFTTrainer

    from xpl.models.loading import load_model

    started = time.perf_counter()
    source_record = None
    if config.parallel and config.parallel_source != "generated":
        problems, source_record = _parallel_source(problems, config)
    examples = sft_mixture(
        problems,
        config.languages,
        config.parallel_languages if config.parallel else (),
        config.parallel_format,
        config.parallel_ratio,
        config.train.seed,
        chat=config.prompt_style == "chat",
    )
    dataset = Dataset.from_list([e.trl_record() for e in examples])
    hooks = hooks or SFTHooks(stage="parallel_sft" if config.parallel else "sft")
    eval_dataset = {
        name: Dataset.from_list([e.trl_record() for e in items])
        for name, items in hooks.eval_examples.items()
        if items
    }
    model, tokenizer = load_model(model_dir)
    if config.prompt_style == "chat" and not getattr(tokenizer, "chat_template", None):
        raise ConfigError(f"prompt_style chat: the tokenizer of {model_dir} has no chat template; use completion")
    model.train()
    args = TRLConfig(
        **config.train.trainer_kwargs(out),
        max_length=config.train.max_length,
        completion_only_loss=True,
        packing=False,
        **hooks.args,
    )
    trainer = (hooks.trainer_class or SFTTrainer)(
        model=model,
        args=args,
        train_dataset=dataset,
        eval_dataset=eval_dataset or None,
        processing_class=tokenizer,
        peft_config=config.train.lora.peft_config(model) if config.train.lora else None,
        callbacks=[progress_callback(report)] if report else [],
        **hooks.trainer_kwargs,
    )
    train_with_resume(quiet(trainer), out)
    adapter = None
    if hooks.keep_adapter and config.train.lora:
        # Saved before merging: merge_and_unload folds the adapter into the base weights in place.
        adapter = out / ADAPTER
        if trainer.is_world_process_zero():
            trainer.model.save_pretrained(str(adapter))
            tokenizer.save_pretrained(str(adapter))
    save_final(trainer, tokenizer, out, merge_lora=True)
    record = {
        "stage": hooks.stage,
        "model": str(out / FINAL),
        **({"adapter": str(adapter)} if adapter else {}),
        "examples": len(examples),
        "examples_by_kind": dict(Counter(e.kind for e in examples)),
        "examples_by_language": dict(Counter(e.language for e in examples)),
        **({"parallel_source": {"file": config.parallel_source, **source_record}} if source_record else {}),
        "steps": trainer.state.global_step,
        "train_loss": [r for r in trainer.state.log_history if "loss" in r],
        "seconds": round(time.perf_counter() - started, 1),
        "config": config_dict(config),
        **(hooks.record(trainer) if hooks.record else {}),
    }
    if trainer.is_world_process_zero():
        mark_done(out, record)
    return record
