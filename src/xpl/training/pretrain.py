"""Pretraining a tiny model on a multilingual corpus of programs.

The corpus (``xpl.corpus.pretraining_corpus``) gives each PL its share of the text and is
organised as shuffled single programs or parallel pairs. A byte-level BPE tokenizer is
trained on it, a tiny Llama model is built (``xpl.models.tiny``), and the Hugging Face
``Trainer`` trains it on packed blocks of ``context`` tokens (documents joined with
``</s><s>``, as is usual for causal-LM pretraining). Held-out loss is measured per PL on
problems the model never saw, before and after training.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from xpl.corpus import (
    ORGANISATIONS,
    CorpusError,
    Descriptions,
    check_descriptions,
    check_proportions,
    description_share,
    pretraining_corpus,
    program_text,
)
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
    mean_token_loss,
    progress_callback,
    quiet,
    save_final,
    stage_done,
    train_with_resume,
)


@dataclass
class PretrainConfig:
    proportions: dict[str, float] = field(default_factory=lambda: {"python": 1.0})
    budget: int = 400_000  # characters of training text (one pass)
    organisation: str = "shuffle"  # or "parallel"
    preset: str = "s"
    model_overrides: dict[str, Any] = field(default_factory=dict)
    vocab_size: int = 2048
    context: int = 256
    # A tokenizer folder to use instead of training one on this run's corpus. Runs whose
    # losses are compared with each other (a scaling-law ladder) must share one: a loss in
    # nats per token means nothing across two vocabularies.
    tokenizer: str | None = None
    # With ``parallel`` organisation: the PL pairs that may share a document (each a list of
    # two PLs); empty = any two. Leaving a pair out makes it "unseen" for translation tests.
    parallel_pairs: list[list[str]] = field(default_factory=list)
    # Whether each program carries its problem's English description. False: code only, as
    # in a pretraining corpus of source files; problem statement -> solution is then what
    # SFT teaches (with True, pretraining already holds the SFT data of its problems). A share
    # in [0, 1], or a share per PL, describes that fraction of the programs.
    descriptions: Descriptions = True
    # Every digit its own token: a number in a problem statement and in its solution are then
    # the same tokens whatever surrounds them, which a model must copy.
    split_digits: bool = False
    train: TrainConfig = field(
        default_factory=lambda: TrainConfig(learning_rate=2e-3, batch_size=16, warmup_steps=20)
    )

    def validate(self, where: str = "pretrain") -> None:
        try:
            check_proportions(self.proportions, f"{where}.proportions")
            check_descriptions(self.descriptions, f"{where}.descriptions")
        except CorpusError as exc:
            raise ConfigError(str(exc)) from None
        if self.organisation not in ORGANISATIONS:
            raise ConfigError(
                f"{where}.organisation must be one of {', '.join(ORGANISATIONS)}, got {self.organisation!r}"
            )
        if self.budget <= 0 or self.context < 16 or self.vocab_size < 300:
            raise ConfigError(f"{where}: budget must be > 0, context >= 16, vocab_size >= 300")
        from xpl.models.tiny import PRESETS

        if self.preset not in PRESETS:
            raise ConfigError(f"{where}.preset must be one of {', '.join(PRESETS)}, got {self.preset!r}")
        for i, pair in enumerate(self.parallel_pairs):
            if len(pair) != 2 or pair[0] == pair[1]:
                raise ConfigError(f"{where}.parallel_pairs[{i}]: expected two different PLs, got {pair!r}")
        if self.tokenizer is not None and not (Path(self.tokenizer) / "tokenizer.json").is_file():
            raise ConfigError(f"{where}.tokenizer: {self.tokenizer} holds no tokenizer.json")
        self.train.validate(f"{where}.train")


def pack(token_lists: Sequence[list[int]], block: int) -> list[list[int]]:
    """Concatenate documents and cut the stream into blocks of exactly ``block`` tokens (the
    incomplete tail is dropped)."""
    stream = [t for ids in token_lists for t in ids]
    return [stream[i : i + block] for i in range(0, len(stream) - block + 1, block)]


def non_embedding_parameters(model) -> int:
    """Parameters outside the token embedding and the output layer (counted once when tied)."""
    skip = {id(model.get_input_embeddings().weight), id(model.get_output_embeddings().weight)}
    return sum(p.numel() for p in model.parameters() if id(p) not in skip)


def _described(problems: Sequence[Problem], languages: Sequence[str]):
    for p in problems:
        for lang in languages:
            if get_language(lang).name in p.solutions:
                yield program_text(p, lang)


def heldout_losses(
    model, tokenizer, problems: Sequence[Problem], languages: Sequence[str], context: int, descriptions: Descriptions = True
) -> dict[str, float]:
    """Mean token loss per PL on the programs of ``problems`` (those with that PL's solution),
    written as the training corpus writes them: with descriptions in a PL whose programs
    carry them at all (what the model is later prompted with), else code only."""
    out = {}
    for lang in languages:
        described = description_share(descriptions, lang) > 0
        texts = [program_text(p, lang, described) for p in problems if lang in p.solutions]
        if texts:
            out[lang] = round(mean_token_loss(model, tokenizer, texts, context), 4)
    return out


@library_noise_filtered()
def pretrain(
    train_problems: Sequence[Problem],
    heldout_problems: Sequence[Problem],
    config: PretrainConfig,
    output_dir: str | Path,
    report: Callable[[int, int, dict | None], None] | None = None,
) -> dict[str, Any]:
    """Train (or resume, or skip when finished) and return the stage record: held-out loss
    per PL before and after, steps, tokens and time. The model and tokenizer are saved in
    ``output_dir/final``."""
    limit_threads()
    config.validate()
    out = Path(output_dir)
    done = stage_done(out)
    if done:
        return done
    out.mkdir(parents=True, exist_ok=True)
    from datasets import Dataset
    from transformers import DataCollatorForLanguageModeling, PreTrainedTokenizerFast, Trainer, TrainingArguments

    from xpl.models.tiny import build_tiny, count_parameters
    from xpl.models.tokenizer import save_tokenizer, train_tokenizer

    started = time.perf_counter()
    pairs = [tuple(p) for p in config.parallel_pairs] or None
    languages = [lang for lang, share in config.proportions.items() if share > 0]
    docs = pretraining_corpus(
        train_problems,
        config.proportions,
        config.budget,
        config.organisation,
        config.train.seed,
        pairs=pairs,
        descriptions=config.descriptions,
    )
    args = TrainingArguments(**config.train.trainer_kwargs(out))
    tok_dir = out / "tokenizer"
    # Under several processes the first trains and writes the tokenizer while the others
    # wait, then they read it: no two processes write the same files, none reads half of one.
    with args.main_process_first(local=False, desc="tokenizer"):
        if config.tokenizer is not None:
            tokenizer = PreTrainedTokenizerFast.from_pretrained(config.tokenizer)
        elif (tok_dir / "tokenizer.json").is_file():  # a resumed run must see the same vocabulary
            tokenizer = PreTrainedTokenizerFast.from_pretrained(str(tok_dir))
        else:
            # Code-only pretraining still needs a vocabulary for the English of the prompts
            # the model will later be fine-tuned on (as a real model's tokenizer has one): it
            # is trained on the same problems written with their descriptions.
            texts = (d.text for d in docs) if config.descriptions is True else _described(train_problems, languages)
            tokenizer = train_tokenizer(texts, config.vocab_size, split_digits=config.split_digits)
            save_tokenizer(tokenizer, tok_dir)
    ids = [
        [tokenizer.bos_token_id, *tokenizer(d.text, add_special_tokens=False).input_ids, tokenizer.eos_token_id]
        for d in docs
    ]
    blocks = pack(ids, config.context)
    if not blocks:
        raise ConfigError(
            f"pretrain: the corpus ({sum(map(len, ids))} tokens) is shorter than one context of {config.context}"
        )
    dataset = Dataset.from_dict({"input_ids": blocks})
    model = build_tiny(
        tokenizer, config.preset, seed=config.train.seed, max_positions=config.context, **config.model_overrides
    )
    before = heldout_losses(model, tokenizer, heldout_problems, languages, config.context, config.descriptions)
    trainer = Trainer(
        model=model,
        args=args,
        train_dataset=dataset,
        data_collator=DataCollatorForLanguageModeling(tokenizer, mlm=False),
        callbacks=[progress_callback(report)] if report else [],
    )
    train_with_resume(quiet(trainer), out)
    after = heldout_losses(trainer.model, tokenizer, heldout_problems, languages, config.context, config.descriptions)
    save_final(trainer, tokenizer, out)
    record = {
        "stage": "pretrain",
        "model": str(out / FINAL),
        "parameters": count_parameters(trainer.model),
        # Without the (tied) embedding matrix: the N of scaling laws (Kaplan et al.), which
        # would otherwise be dominated by the vocabulary in models this small.
        "non_embedding_parameters": non_embedding_parameters(trainer.model),
        "documents": len(docs),
        "paired_documents": sum(len(d.languages) > 1 for d in docs),
        "tokens": len(blocks) * config.context,
        "steps": trainer.state.global_step,
        "heldout_loss_before": before,
        "heldout_loss_after": after,
        "train_loss": [r for r in trainer.state.log_history if "loss" in r],
        "seconds": round(time.perf_counter() - started, 1),
        "config": config_dict(config),
    }
    if trainer.is_world_process_zero():
        mark_done(out, record)
    return record
