"""The FLeX experiment's stages (``xpl flex``): LoRA fine-tuning per seed, optimiser and arm,
the evaluation of every model (pass@1 and held-out loss per PL), and ``run_flex``, which runs
(or resumes) them all and writes the report."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from xpl.experiments.flex.config import ARM_NAMES, OPT_NAMES, FlexExperimentConfig
from xpl.experiments.flex.report import write_report
from xpl.experiments.seeds import run_seeds
from xpl.experiments.stages import Report, evaluation_record, loss_detail, prepare, sample_and_run, silent
from xpl.io import write_json
from xpl.languages import get_language
from xpl.problems.problem import Problem
from xpl.training.common import TrainConfig, library_noise_filtered
from xpl.training.flex import FlexConfig, expand_target_modules, flex_sft
from xpl.training.sft import SFTConfig
from xpl.training.sophia import SophiaConfig


def train_config(config: FlexExperimentConfig, optimizer: str, seed: int) -> TrainConfig:
    opt = config.adamw if optimizer == "adamw" else config.sophia
    lora = replace(config.lora, target_modules=expand_target_modules(config.lora.target_modules))
    return replace(config.train, learning_rate=opt.learning_rate, weight_decay=opt.weight_decay, seed=seed, lora=lora)


def stage_train(config: FlexExperimentConfig, out: Path, seed: int, optimizer: str, arm: str, base: Path, train: list[Problem], test: list[Problem], languages: list[str], report: Report) -> dict:
    sophia = SophiaConfig(rho=config.sophia.rho, betas=config.sophia.betas, hessian_interval=config.sophia.hessian_interval)
    settings = FlexConfig(
        optimizer=optimizer,
        sophia=sophia,
        fourier=config.fourier if arm == "lora_fourier" else None,
        eval_steps=config.eval.validation_steps,
        eval_batch_size=config.eval.batch_size,
    )
    sft_config = SFTConfig(languages=[config.source_language], prompt_style=config.prompt_style, train=train_config(config, optimizer, seed))
    label = f"seed {seed}: {ARM_NAMES[arm]} ({OPT_NAMES[optimizer]})"
    return flex_sft(
        base,
        train,
        sft_config,
        settings,
        out / f"seed{seed}" / optimizer / arm,
        report=lambda s, m, logs: report(label, s, m, loss_detail(logs)),
        eval_problems=test[: config.eval.validation_problems] if config.eval.validation_problems else test,
        eval_languages=[config.source_language, *[x for x in languages if x != get_language(config.source_language).name]],
    )


def load_variant(base: Path, record: dict, variant: str):
    """``(model, tokenizer)``: the merged plain model, or the base with the adapter on top."""
    from xpl.models.loading import load_model

    if variant == "merged":
        return load_model(record["model"])
    from peft import PeftModel

    model, tokenizer = load_model(base)
    with library_noise_filtered():
        model = PeftModel.from_pretrained(model, record["adapter"])
    model.eval()
    return model, tokenizer


def held_out_losses(model, tokenizer, test, lang: str, loss_problems: int, batch_size: int):
    """(the held-out problems with a ``lang`` solution, the first ``loss_problems`` of them
    when that is set; the loss per token of each reference solution given its prompt)."""
    from xpl.corpus import completion_text

    held = [p for p in test if lang in p.solutions]
    held = held[:loss_problems] if loss_problems else held
    return held, completion_losses(model, tokenizer, [p.render(lang).prompt for p in held], [completion_text(p, lang) for p in held], batch_size)


def completion_losses(model, tokenizer, prompts: list[str], completions: list[str], batch_size: int = 32) -> list[float]:
    """Mean next-token loss (nats per token) of each completion (and the end-of-sequence token
    after it) given its prompt, tokenised as SFT tokenises them."""
    import torch
    import torch.nn.functional as F

    model.eval()
    device = next(model.parameters()).device
    rows = []
    for prompt, completion in zip(prompts, completions, strict=True):
        start = len(tokenizer(prompt, add_special_tokens=False)["input_ids"])
        ids = tokenizer(prompt + completion, add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]
        rows.append((ids, start))
    out = []
    pad = tokenizer.pad_token_id
    for i in range(0, len(rows), batch_size):
        chunk = rows[i : i + batch_size]
        width = max(len(ids) for ids, _ in chunk)
        ids = torch.full((len(chunk), width), pad, dtype=torch.long)
        mask = torch.zeros((len(chunk), width), dtype=torch.long)
        labels = torch.full((len(chunk), width), -100, dtype=torch.long)
        for r, (row, start) in enumerate(chunk):
            ids[r, : len(row)] = torch.tensor(row)
            mask[r, : len(row)] = 1
            labels[r, start : len(row)] = torch.tensor(row[start:])
        with torch.no_grad():
            logits = model(input_ids=ids.to(device), attention_mask=mask.to(device)).logits[:, :-1].float()
        target = labels[:, 1:].to(device)
        loss = F.cross_entropy(logits.transpose(1, 2), target, ignore_index=-100, reduction="none")
        keep = (target != -100).float()
        out += (loss.sum(1) / keep.sum(1).clamp(min=1)).tolist()
    return out


def stage_eval(config: FlexExperimentConfig, out: Path, seed: int, label: str, load, test: list[Problem], languages: list[str], engine, report: Report) -> None:
    """pass@1 and held-out loss of one model in every evaluation PL, one file per PL (written
    when complete, so a killed evaluation redoes only the PLs it had not finished)."""
    from xpl.models.generation import SamplingConfig

    folder = out / f"seed{seed}" / "eval" / label
    todo = [lang for lang in languages if not (folder / f"{lang}.json").is_file()]
    if not todo:
        return
    folder.mkdir(parents=True, exist_ok=True)
    model, tokenizer = load()
    ev = config.eval
    sampling = SamplingConfig(ev.samples, ev.temperature, ev.top_p, ev.max_new_tokens, ev.batch_size, seed=seed)
    for lang in todo:
        name = f"seed {seed}: {label} on {get_language(lang).display_name}"
        report(name, 0, None, "held-out loss")
        held, losses = held_out_losses(model, tokenizer, test, lang, ev.loss_problems, ev.batch_size)
        result = sample_and_run(config, test, lang, model, tokenizer, sampling, engine, name, report)
        record = {
            "seed": seed,
            "model": label,
            "language": lang,
            **evaluation_record(result, ev.samples),
            "loss_problems": [p.name for p in held],
            "loss": losses,
        }
        write_json(folder / f"{lang}.json", record)


def run_flex(config: FlexExperimentConfig, out: str | Path, report: Report = silent) -> dict[str, Any]:
    """Run (or resume) every stage of the FLeX experiment and write its report."""
    from xpl.training.common import limit_threads

    limit_threads()
    started = time.perf_counter()
    out, languages, skipped, train, test, base = prepare(config, out, report)
    work = FlexWork(out, base, train, test, languages)
    records: dict[str, dict] = {}
    for by_seed in run_seeds(config, run_flex_seed, work, report).values():  # seeds side by side (seed_workers)
        records.update(by_seed)
    # A resumed run's wall time is the sum over its invocations (each adds its own).
    ledger = out / "elapsed.json"
    spent = json.loads(ledger.read_text()) if ledger.is_file() else []
    elapsed = time.perf_counter() - started
    write_json(ledger, [*spent, round(elapsed, 1)])
    return write_report(config, out, languages, skipped, records, elapsed, [*spent, elapsed])


@dataclass(frozen=True)
class FlexWork:
    """What every seed's stages share (picklable: a seed may run in another process)."""

    out: Path
    base: Path
    train: list[Problem]
    test: list[Problem]
    languages: list[str]


def run_flex_seed(config: FlexExperimentConfig, work: FlexWork, seed: int, report: Report) -> dict[str, dict]:
    """Every stage of one seed, in order: the base's evaluation, then per optimizer and arm the
    LoRA training and the evaluation of each variant. Returns the training records by
    ``seed/optimizer/arm``."""
    from xpl.execution import Engine

    out, base, test, languages = work.out, work.base, work.test, work.languages
    records: dict[str, dict] = {}
    engine = Engine(workers=config.workers or None, store=out / "results.sqlite")
    try:
        stage_eval(config, out, seed, "base", lambda: _load_plain(base), test, languages, engine, report)
        for optimizer in config.optimizers:
            for arm in config.arms:
                rec = stage_train(config, out, seed, optimizer, arm, base, work.train, test, languages, report)
                records[f"{seed}/{optimizer}/{arm}"] = rec
                for variant in config.variants:
                    label = f"{optimizer}/{arm}-{variant}"
                    stage_eval(config, out, seed, label, lambda rec=rec, variant=variant: load_variant(base, rec, variant), test, languages, engine, report)
    finally:
        engine.close()
    return records


def _load_plain(path: Path):
    from xpl.models.loading import load_model

    return load_model(path)
