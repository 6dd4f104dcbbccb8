"""``xpl flex``: FLeX, does a Fourier-regularised LoRA fine-tuned on Python transfer better to
other PLs, and does Sophia reach the same loss in fewer steps than AdamW?

Stages (each resumable, skipped once finished; problems and the base model are the
Parallel-SFT pipeline's own stages):

    problems/, base/                       the problem family and the pretrained tiny base
    seed<S>/<optimizer>/<arm>/             LoRA fine-tuning on the source PL (``flex_sft``):
                                           adapter/ (unmerged) and final/ (merged)
    seed<S>/eval/base/<pl>.json            the base model
    seed<S>/eval/<optimizer>/<arm>-<variant>/<pl>.json
                                           each fine-tuned model, with its adapter unmerged
                                           (base + PEFT adapter) and merged (a plain model)
    report.md, results.json, *.png         Table 2's shape with bootstrap CIs, loss curves

Arms: ``lora`` (plain LoRA) and ``lora_fourier`` (LoRA + the Fourier penalty); optimisers
``adamw`` and ``sophia``; every arm x optimiser shares the seed's adapter initialisation and
data order, so the differences are paired. Each model is measured two ways on held-out
problems per PL: pass@1 (sampled completions run against the tests) and the held-out loss
(mean nats per token of the reference solution given the prompt, per problem); the loss
moves long before a tiny model passes tests, so it is the sensitive measure of transfer here.

Steps to target loss: per seed and arm, the target is the higher of AdamW's and Sophia's
final validation loss on the source PL (a loss both reached); each optimiser's count is the
first evaluation step at which its validation loss was at or below it.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from xpl.experiments.config import from_dict, load_yaml, to_dict
from xpl.experiments.pipeline import Report, _loss, _quiet, evaluation_record, prepare, quick_family, sample_and_run
from xpl.experiments.spec import ProblemsSpec, check_common
from xpl.experiments.report import setup_lines
from xpl.analysis.stats import Estimate, bootstrap, bootstrap_difference
from xpl.io import write_json
from xpl.languages import get_language
from xpl.problems.problem import Problem
from xpl.training.common import ConfigError, LoraSettings, TrainSettings
from xpl.training.flex import OPTIMIZERS, FlexSettings, expand_target_modules, flex_sft
from xpl.training.fourier import FourierSettings
from xpl.training.pretrain import PretrainConfig
from xpl.training.sft import SFTConfig
from xpl.training.sophia import SophiaSettings

ARMS = ("lora", "lora_fourier")
VARIANTS = ("unmerged", "merged")
ARM_NAMES = {"base": "base", "lora": "LoRA", "lora_fourier": "LoRA + Fourier"}
OPT_NAMES = {"adamw": "AdamW", "sophia": "Sophia"}


@dataclass
class AdamWSpec:
    learning_rate: float = 2e-3
    weight_decay: float = 0.01


@dataclass
class SophiaSpec(SophiaSettings):
    learning_rate: float = 2e-3
    weight_decay: float = 0.1


@dataclass
class FlexEvalSpec:
    languages: list[str] = field(default_factory=lambda: ["python", "java"])
    samples: int = 2
    temperature: float = 0.2
    top_p: float = 0.95
    max_new_tokens: int = 128
    batch_size: int = 32
    max_problems: int = 30  # pass@1 problems per PL (0: every held-out problem)
    loss_problems: int = 0  # held-out loss problems per PL (0: every held-out problem)
    validation_steps: int = 5  # validation loss during training every n steps (the loss curves)
    validation_problems: int = 48  # held-out problems per PL in that validation loss (0: all)
    skip_unavailable: bool = True


@dataclass
class FlexExperimentConfig:
    name: str = "flex"
    model: str = "tiny:s"
    seeds: list[int] = field(default_factory=lambda: [0, 1, 2])
    source_language: str = "python"
    prompt_style: str = "auto"  # as in `xpl run`: the SFT data and the evaluation follow it
    problems: ProblemsSpec = field(default_factory=ProblemsSpec)
    pretrain: PretrainConfig = field(default_factory=PretrainConfig)
    arms: list[str] = field(default_factory=lambda: list(ARMS))
    optimizers: list[str] = field(default_factory=lambda: list(OPTIMIZERS))
    variants: list[str] = field(default_factory=lambda: list(VARIANTS))
    lora: LoraSettings = field(default_factory=lambda: LoraSettings(target_modules=("attention", "mlp")))
    fourier: FourierSettings = field(default_factory=FourierSettings)
    train: TrainSettings = field(default_factory=lambda: TrainSettings(batch_size=16, epochs=3, logging_steps=1))
    adamw: AdamWSpec = field(default_factory=AdamWSpec)
    sophia: SophiaSpec = field(default_factory=SophiaSpec)
    eval: FlexEvalSpec = field(default_factory=FlexEvalSpec)
    workers: int = 0

    def validate(self) -> None:
        from xpl.models.loading import is_tiny_spec

        check_common(self)
        for key, values, known in (("arms", self.arms, ARMS), ("optimizers", self.optimizers, OPTIMIZERS), ("variants", self.variants, VARIANTS)):
            if not values:
                raise ConfigError(f"{key}: name at least one of {', '.join(known)}")
            for value in values:
                if value not in known:
                    raise ConfigError(f"{key}: {value!r} is not one of {', '.join(known)}")
        expand_target_modules(self.lora.target_modules, "lora.target_modules")
        if self.lora.r < 1 or self.lora.alpha <= 0 or not 0 <= self.lora.dropout < 1:
            raise ConfigError(f"lora: r must be >= 1, alpha > 0 and dropout in [0, 1), got r={self.lora.r}, alpha={self.lora.alpha}, dropout={self.lora.dropout}")
        self.fourier.validate("fourier")
        self.sophia.validate("sophia")
        for name in ("adamw", "sophia"):
            spec = getattr(self, name)
            if not spec.learning_rate > 0 or spec.weight_decay < 0:
                raise ConfigError(f"{name}: learning_rate must be > 0 and weight_decay >= 0, got {spec.learning_rate}, {spec.weight_decay}")
        if self.train.lora is not None:
            raise ConfigError("train.lora: set LoRA in the top-level lora section (every arm is LoRA)")
        self.train.validate("train")
        for name in self.eval.languages:
            get_language(name)
        if self.eval.samples < 1 or self.eval.max_new_tokens < 1 or self.eval.batch_size < 1:
            raise ConfigError("eval.samples, eval.max_new_tokens and eval.batch_size must be >= 1")
        for name in ("validation_steps", "validation_problems", "max_problems", "loss_problems"):
            if getattr(self.eval, name) < 0:
                raise ConfigError(f"eval.{name} must be >= 0, got {getattr(self.eval, name)}")
        if self.problems.n < 10:
            raise ConfigError(f"problems.n must be at least 10, got {self.problems.n}")
        if is_tiny_spec(self.model):
            self.pretrain.validate()


def load_flex(path: str | Path | None = None) -> FlexExperimentConfig:
    """The FLeX experiment in ``path`` (a YAML file, or the name of an embedded FLeX
    configuration such as ``flex-ortho``), or the embedded ``flex`` configuration."""
    from xpl.experiments.spec import embedded_config_path, embedded_configs

    source = Path(path) if path else embedded_config_path("flex")
    if path and not source.exists() and str(path) in embedded_configs("flex"):
        source = embedded_config_path(str(path))
    elif not source.exists():
        raise ConfigError(f"{path}: no such file, and not an embedded FLeX configuration ({', '.join(embedded_configs('flex'))})")
    config = from_dict(FlexExperimentConfig, load_yaml(source), source.name)
    config.validate()
    return config


def quick(config: FlexExperimentConfig) -> FlexExperimentConfig:
    """A minutes-long version for tests and smoke runs (one seed, few problems and steps,
    Python and JavaScript, whose tests run fastest). Its numbers mean nothing."""
    c = quick_family(config)
    c.eval.samples, c.eval.max_problems, c.eval.loss_problems, c.eval.max_new_tokens, c.eval.validation_steps = 1, 4, 8, 32, 2
    c.pretrain.train = replace(c.pretrain.train, max_steps=4, save_steps=4, logging_steps=1)
    c.train = replace(c.train, max_steps=4, batch_size=8, save_steps=4, logging_steps=1)
    c.sophia.hessian_interval = 2
    return c


# ----------------------------------------------------------------------------- stages


def train_settings(config: FlexExperimentConfig, optimizer: str, seed: int) -> TrainSettings:
    spec = config.adamw if optimizer == "adamw" else config.sophia
    lora = replace(config.lora, target_modules=expand_target_modules(config.lora.target_modules))
    return replace(config.train, learning_rate=spec.learning_rate, weight_decay=spec.weight_decay, seed=seed, lora=lora)


def stage_train(config: FlexExperimentConfig, out: Path, seed: int, optimizer: str, arm: str, base: Path, train: list[Problem], test: list[Problem], languages: list[str], report: Report) -> dict:
    sophia = SophiaSettings(rho=config.sophia.rho, betas=config.sophia.betas, hessian_interval=config.sophia.hessian_interval)
    settings = FlexSettings(
        optimizer=optimizer,
        sophia=sophia,
        fourier=config.fourier if arm == "lora_fourier" else None,
        eval_steps=config.eval.validation_steps,
        eval_batch_size=config.eval.batch_size,
    )
    sft_config = SFTConfig(languages=[config.source_language], prompt_style=config.prompt_style, train=train_settings(config, optimizer, seed))
    label = f"seed {seed}: {ARM_NAMES[arm]} ({OPT_NAMES[optimizer]})"
    return flex_sft(
        base,
        train,
        sft_config,
        settings,
        out / f"seed{seed}" / optimizer / arm,
        report=lambda s, m, logs: report(label, s, m, _loss(logs)),
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
    model = PeftModel.from_pretrained(model, record["adapter"])
    model.eval()
    return model, tokenizer


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
    from xpl.corpus import completion_text
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
        held = [p for p in test if lang in p.solutions]
        held = held[: ev.loss_problems] if ev.loss_problems else held
        report(name, 0, None, "held-out loss")
        losses = completion_losses(model, tokenizer, [p.render(lang).prompt for p in held], [completion_text(p, lang) for p in held], ev.batch_size)
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


def run_flex(config: FlexExperimentConfig, out: str | Path, report: Report = _quiet) -> dict[str, Any]:
    """Run (or resume) every stage of the FLeX experiment and write its report."""
    from xpl.execution import Engine
    from xpl.training.common import limit_threads

    limit_threads()
    started = time.perf_counter()
    out, languages, skipped, train, test, base = prepare(config, out, report)
    records: dict[str, dict] = {}
    engine = Engine(workers=config.workers or None, store=out / "results.sqlite")
    try:
        for seed in config.seeds:
            stage_eval(config, out, seed, "base", lambda: _load_plain(base), test, languages, engine, report)
            for optimizer in config.optimizers:
                for arm in config.arms:
                    rec = stage_train(config, out, seed, optimizer, arm, base, train, test, languages, report)
                    records[f"{seed}/{optimizer}/{arm}"] = rec
                    for variant in config.variants:
                        label = f"{optimizer}/{arm}-{variant}"
                        stage_eval(config, out, seed, label, lambda rec=rec, variant=variant: load_variant(base, rec, variant), test, languages, engine, report)
    finally:
        engine.close()
    # A resumed run's wall time is the sum over its invocations (each adds its own).
    ledger = out / "elapsed.json"
    spent = json.loads(ledger.read_text()) if ledger.is_file() else []
    elapsed = time.perf_counter() - started
    ledger.write_text(json.dumps([*spent, round(elapsed, 1)]) + "\n")
    return write_report(config, out, languages, skipped, records, elapsed, [*spent, elapsed])


def _load_plain(path: Path):
    from xpl.models.loading import load_model

    return load_model(path)


# ----------------------------------------------------------------------------- report


def rows(config: FlexExperimentConfig) -> list[tuple[str, str, str, str]]:
    """(label, optimizer, arm, variant) for every evaluated model, the base first."""
    out = [("base", "", "base", "")]
    for optimizer in config.optimizers:
        for arm in config.arms:
            for variant in config.variants:
                out.append((f"{optimizer}/{arm}-{variant}", optimizer, arm, variant))
    return out


def row_name(optimizer: str, arm: str, variant: str) -> str:
    return "base" if arm == "base" else f"{ARM_NAMES[arm]}, {OPT_NAMES[optimizer]}, {variant}"


def load_matrix(out: Path, seeds: list[int], label: str, language: str, metric: str) -> np.ndarray:
    """``[seed, problem]`` per-problem pass@1 (``pass``) or held-out loss (``loss``)."""
    matrix, names = [], None
    for seed in seeds:
        rec = json.loads((out / f"seed{seed}" / "eval" / label / f"{language}.json").read_text())
        key = "problems" if metric == "pass" else "loss_problems"
        if names is not None and rec[key] != names:
            raise RuntimeError(f"{label}/{language}: seeds were evaluated on different problems")
        names = rec[key]
        matrix.append([p / rec["samples"] for p in rec["passed"]] if metric == "pass" else rec["loss"])
    return np.array(matrix, dtype=float)


def steps_to_target(records: dict[str, dict], seeds: list[int], arms: list[str], source: str) -> dict[str, Any]:
    """Per arm and seed: the validation-loss target both optimisers reached and the steps each took."""
    key = f"eval_{source}_loss"
    out: dict[str, Any] = {}
    for arm in arms:
        per_seed = {}
        for seed in seeds:
            curves = {}
            for opt in ("adamw", "sophia"):
                rec = records.get(f"{seed}/{opt}/{arm}")
                points = [(r["step"], r[key]) for r in (rec or {}).get("eval_loss", []) if key in r]
                if points:
                    curves[opt] = points
            if len(curves) < 2:
                continue
            target = max(curves["adamw"][-1][1], curves["sophia"][-1][1])
            steps = {opt: next(s for s, v in pts if v <= target + 1e-12) for opt, pts in curves.items()}
            # A target already met at the first evaluation (a loss that never fell) compares nothing.
            trivial = any(pts[0][1] <= target + 1e-12 for pts in curves.values())
            per_seed[str(seed)] = {"target": target, "adamw": steps["adamw"], "sophia": steps["sophia"], "trivial": trivial,
                                   "final": {opt: pts[-1][1] for opt, pts in curves.items()}}
        if per_seed:
            kept = [v for v in per_seed.values() if not v["trivial"]]
            a = [v["adamw"] for v in kept]
            s = [v["sophia"] for v in kept]
            out[arm] = {"per_seed": per_seed, "seeds_compared": len(kept),
                        "adamw_mean": float(np.mean(a)) if kept else None, "sophia_mean": float(np.mean(s)) if kept else None,
                        "sophia_over_adamw": float(np.mean(s) / np.mean(a)) if kept and np.mean(a) else None}
    return out


def _fmt(e: Estimate, signed: bool = False, digits: int = 3) -> str:
    sign = "+" if signed else ""
    return f"{e.mean:{sign}.{digits}f} [{e.low:{sign}.{digits}f}, {e.high:{sign}.{digits}f}]"


def _verdict(delta: dict, what: str, lower_is_better: bool = False) -> str:
    e = Estimate(**delta)
    better = e.high < 0 if lower_is_better else e.low > 0
    worse = e.low > 0 if lower_is_better else e.high < 0
    if better:
        return f"{what} helped ({_fmt(e, True)}; the 95% CI excludes 0)"
    if worse:
        return f"{what} hurt ({_fmt(e, True)}; the 95% CI excludes 0)"
    return f"{what} made no measurable difference ({_fmt(e, True)}; the 95% CI includes 0)"


def write_report(config: FlexExperimentConfig, out: Path, languages: list[str], skipped: dict[str, str], records: dict[str, dict], elapsed: float, invocations: list[float] | None = None) -> dict[str, Any]:
    from xpl.experiments.report import _versions

    seeds = list(config.seeds)
    table: dict[str, dict[str, Any]] = {}
    matrices: dict[tuple[str, str, str], np.ndarray] = {}
    for label, optimizer, arm, variant in rows(config):
        table[label] = {"optimizer": optimizer, "arm": arm, "variant": variant, "pass_at_1": {}, "loss": {}}
        for lang in languages:
            for metric, key in (("pass", "pass_at_1"), ("loss", "loss")):
                m = load_matrix(out, seeds, label, lang, metric)
                matrices[(label, lang, metric)] = m
                table[label][key][lang] = {**bootstrap(m).to_dict(), "per_seed": [float(x) for x in m.mean(axis=1)]}
    deltas: dict[str, dict[str, Any]] = {}

    def delta(name: str, a: str, b: str) -> None:
        deltas[name] = {
            metric: {lang: bootstrap_difference(matrices[(a, lang, m)], matrices[(b, lang, m)]).to_dict() for lang in languages}
            for metric, m in (("pass_at_1", "pass"), ("loss", "loss"))
        }

    variant0 = config.variants[0]
    for optimizer in config.optimizers:
        for variant in config.variants:
            if "lora" in config.arms and "lora_fourier" in config.arms:
                delta(f"{optimizer}/lora_fourier-{variant} - {optimizer}/lora-{variant}", f"{optimizer}/lora_fourier-{variant}", f"{optimizer}/lora-{variant}")
        for arm in config.arms:
            delta(f"{optimizer}/{arm}-{variant0} - base", f"{optimizer}/{arm}-{variant0}", "base")
    if "adamw" in config.optimizers and "sophia" in config.optimizers:
        for arm in config.arms:
            delta(f"sophia/{arm}-{variant0} - adamw/{arm}-{variant0}", f"sophia/{arm}-{variant0}", f"adamw/{arm}-{variant0}")
    if set(VARIANTS) <= set(config.variants):
        # Merged and unmerged should agree up to float rounding: the largest gap, measured.
        gaps = []
        for label, _optimizer, _arm, variant in rows(config):
            if variant == "merged":
                for lang in languages:
                    u = matrices[(label.replace("-merged", "-unmerged"), lang, "loss")]
                    gaps.append(float(np.abs(matrices[(label, lang, "loss")] - u).max()))
        merge_gap = max(gaps) if gaps else None
    else:
        merge_gap = None
    source = get_language(config.source_language).name
    curves = {
        key: {
            "train": [{"step": r["step"], "task_loss": r.get("task_loss"), "loss": r.get("loss"),
                       "fourier_penalty": r.get("fourier_penalty"), "lora_hf_fraction": r.get("lora_hf_fraction"),
                       "sophia_clip_fraction": r.get("sophia_clip_fraction"), "sophia_bs": r.get("sophia_bs")}
                      for r in rec["train_loss"]],
            "eval": rec.get("eval_loss", []),
            "final_spectrum": rec.get("final_spectrum"),
            "hessian_steps": rec.get("hessian_steps"),
            "seconds": rec.get("seconds"),
        }
        for key, rec in records.items()
    }
    pre_path = out / "base" / "stage.json"
    pre = json.loads(pre_path.read_text()) if pre_path.is_file() else None
    results = {
        "experiment": config.name,
        "model": config.model,
        "seeds": seeds,
        "source_language": source,
        "languages": languages,
        "skipped_languages": skipped,
        "problems_per_language": {lang: {"pass": int(matrices[("base", lang, "pass")].shape[1]), "loss": int(matrices[("base", lang, "loss")].shape[1])} for lang in languages},
        "samples_per_problem": config.eval.samples,
        "table": table,
        "deltas": deltas,
        "merge_gap_loss": merge_gap,
        "steps_to_target": steps_to_target(records, seeds, config.arms, source),
        "training": curves,
        "pretraining": {k: pre[k] for k in ("heldout_loss_before", "heldout_loss_after", "steps", "tokens", "parameters", "seconds")} if pre else None,
        "seconds": round(elapsed, 1),  # this invocation
        "seconds_all_invocations": [round(x, 1) for x in (invocations or [elapsed])],
        "versions": _versions(),
        "config": to_dict(config),
    }
    (out / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    plots = _plots(results, out)
    (out / "report.md").write_text(render_markdown(results, plots))
    return results


def render_markdown(results: dict[str, Any], plots: list[str]) -> str:
    langs = results["languages"]
    names = [get_language(x).display_name for x in langs]
    source = results["source_language"]
    src_name = get_language(source).display_name
    cfg = results["config"]
    counts = ", ".join(f"{n} {results['problems_per_language'][x]['pass']} (pass@1) / {results['problems_per_language'][x]['loss']} (loss)" for n, x in zip(names, langs))
    f = cfg["fourier"]
    lines = [
        f"# {results['experiment']}: FLeX, LoRA fine-tuned on {src_name}, with and without the Fourier regulariser, "
        + " vs ".join(OPT_NAMES[o] for o in cfg["optimizers"]),
        "",
        f"Model `{results['model']}`; seeds {results['seeds']}; LoRA r={cfg['lora']['r']}, alpha={cfg['lora']['alpha']}, "
        f"targets {', '.join(cfg['lora']['target_modules'])}; Fourier penalty lambda={f['weight']}, T={f['threshold']}, "
        f"phi_low={f['phi_low']}, phi_high={f['phi_high']}{'' if f.get('norm', 'backward') == 'backward' else ', FFT norm ' + f['norm']}; {results['samples_per_problem']} samples per problem at temperature "
        f"{cfg['eval']['temperature']}; held-out problems per PL: {counts}. {_run_time(results)}",
        "",
        "## pass@1 and held-out loss (95% bootstrap CI over problems and seeds)",
        "",
        "Held-out loss: mean nats per token of the reference solution given the prompt (lower is better).",
        "",
        "| model | " + " | ".join(f"{n} pass@1" for n in names) + " | " + " | ".join(f"{n} loss" for n in names) + " |",
        "|---|" + "---:|" * (2 * len(langs)),
    ]
    for row in results["table"].values():
        cells = [_fmt(Estimate(**{k: row["pass_at_1"][x][k] for k in ("mean", "low", "high")})) for x in langs]
        cells += [_fmt(Estimate(**{k: row["loss"][x][k] for k in ("mean", "low", "high")})) for x in langs]
        lines.append(f"| {row_name(row['optimizer'], row['arm'], row['variant'])} | " + " | ".join(cells) + " |")
    lines += ["", "## Differences (paired bootstrap, 95% CI)", "",
              "| difference | " + " | ".join(f"{n} pass@1" for n in names) + " | " + " | ".join(f"{n} loss" for n in names) + " |",
              "|---|" + "---:|" * (2 * len(langs))]
    for key, d in results["deltas"].items():
        a, b = key.split(" - ")
        cells = [_fmt(Estimate(**d["pass_at_1"][x]), True) for x in langs] + [_fmt(Estimate(**d["loss"][x]), True) for x in langs]
        lines.append(f"| {_label_name(a)} − {_label_name(b)} | " + " | ".join(cells) + " |")
    lines += ["", "## In plain words", ""]
    variant0 = cfg["variants"][0]
    for opt in cfg["optimizers"]:
        key = f"{opt}/lora_fourier-{variant0} - {opt}/lora-{variant0}"
        if key not in results["deltas"]:
            continue
        for lang, name in zip(langs, names):
            role = "the fine-tuning PL" if lang == source else "transfer"
            d = results["deltas"][key]
            lines.append(
                f"- **{name}** ({role}, {OPT_NAMES[opt]}): on pass@1, {_verdict(d['pass_at_1'][lang], 'the Fourier regulariser')}; "
                f"on held-out loss, {_verdict(d['loss'][lang], 'the Fourier regulariser', lower_is_better=True)}."
            )
    for opt in cfg["optimizers"]:
        for arm in cfg["arms"]:
            key = f"{opt}/{arm}-{variant0} - base"
            if key in results["deltas"]:
                parts = [f"{name} {_fmt(Estimate(**results['deltas'][key]['loss'][lang]), True)}" for lang, name in zip(langs, names)]
                lines.append(f"- {ARM_NAMES[arm]} ({OPT_NAMES[opt]}) against the base model, held-out loss: " + "; ".join(parts) + " (negative: better than the base).")
    first = [(c["train"][0]["fourier_penalty"], c["train"][0]["task_loss"]) for k, c in results["training"].items() if k.endswith("/lora_fourier") and c["train"] and c["train"][0].get("fourier_penalty") is not None]
    if first:
        lam = f["weight"]
        pen, task = np.mean([p for p, _ in first]), np.mean([t for _, t in first])
        last = [c["train"][-1]["fourier_penalty"] for k, c in results["training"].items() if k.endswith("/lora_fourier") and c["train"]]
        lines.append(
            f"- Size of the penalty: at the first step lambda x penalty = {lam * pen:.3g} against a task loss of {task:.3g} "
            f"(mean over runs); at the last step lambda x penalty = {lam * np.mean(last):.3g}."
        )
    gap = results.get("merge_gap_loss")
    if gap is not None:
        lines.append(f"- Merged and unmerged adapters: the largest per-problem held-out loss difference is {gap:.2e} nats (float rounding).")
    stt = results["steps_to_target"]
    if stt:
        lines += ["", f"## Sophia vs AdamW: steps to the same validation loss ({src_name})", "",
                  "Target per seed: the higher of the two optimisers' final validation losses (a loss both reached).", "",
                  "| arm | seed | target loss | AdamW steps | Sophia steps | final loss AdamW | final loss Sophia |", "|---|---|---:|---:|---:|---:|---:|"]
        for arm, v in stt.items():
            for seed, s in v["per_seed"].items():
                note = " (met at the first evaluation: no comparison)" if s.get("trivial") else ""
                lines.append(f"| {ARM_NAMES[arm]} | {seed}{note} | {s['target']:.4f} | {s['adamw']} | {s['sophia']} | {s['final']['adamw']:.4f} | {s['final']['sophia']:.4f} |")
            if v["sophia_over_adamw"] is not None:
                lines.append(f"| {ARM_NAMES[arm]} | mean of {v['seeds_compared']} | | {v['adamw_mean']:.1f} | {v['sophia_mean']:.1f} | Sophia/AdamW = {v['sophia_over_adamw']:.2f} | |")
            else:
                lines.append(f"| {ARM_NAMES[arm]} | mean | | n/a | n/a | | |")
    parts = []
    for arm in cfg["arms"]:
        clip = [r["sophia_clip_fraction"] for k, c in results["training"].items() if k.endswith(f"/sophia/{arm}") for r in c["train"] if r.get("sophia_clip_fraction") is not None]
        if clip:
            inside = np.mean([0.1 <= x <= 0.5 for x in clip])
            parts.append(f"{ARM_NAMES[arm]}: median {np.median(clip):.2f}, range {min(clip):.2f}–{max(clip):.2f}, {inside:.0%} of steps within 0.1–0.5")
    if parts:
        lines += ["", "Sophia's clipped-coordinate fraction per step (all seeds): " + "; ".join(parts)
                  + f" (the authors tune rho to keep it in 0.1–0.5; rho = {cfg['sophia']['rho']}, Hessian refreshed every {cfg['sophia']['hessian_interval']} steps;"
                  " the Hessian estimate covers the task loss only, so coordinates driven by the Fourier penalty clip more)."]
    spectra = {}
    for k, c in results["training"].items():
        if c.get("final_spectrum"):
            spectra.setdefault(k.split("/", 1)[1], []).append(c["final_spectrum"]["fraction"])
    if spectra:
        lines += ["", "Share of the LoRA weights' spectral energy in the penalised band (k ≥ K·T) at the end of training, mean over seeds: "
                  + "; ".join(f"{ARM_NAMES[k.split('/')[1]]} ({OPT_NAMES[k.split('/')[0]]}) {np.mean(v):.3f}" for k, v in sorted(spectra.items())) + "."]
    lines += setup_lines(results)
    if plots:
        lines += ["", "## Plots", ""] + [f"![{p}]({p})" for p in plots]
    lines += ["", "Every number above is in `results.json`, with the configuration and library versions; completions and test outcomes are under `seed*/eval/`."]
    return "\n".join(lines) + "\n"


def _run_time(results: dict[str, Any]) -> str:
    runs = results.get("seconds_all_invocations") or [results["seconds"]]
    if len(runs) == 1:
        return f"Run time {runs[0] / 60:.1f} min."
    return f"Run time {sum(runs) / 60:.1f} min over {len(runs)} invocations (resumed; the last took {runs[-1] / 60:.1f} min)."


def _label_name(label: str) -> str:
    if label == "base":
        return "base"
    opt, rest = label.split("/", 1)
    arm, variant = rest.rsplit("-", 1)
    return row_name(opt, arm, variant)


def _plots(results: dict[str, Any], out: Path) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cfg = results["config"]
    source = results["source_language"]
    others = [x for x in results["languages"] if x != source]
    colours = {"adamw": "tab:blue", "sophia": "tab:red"}
    styles = {"lora": "-", "lora_fourier": "--"}
    fig, axes = plt.subplots(1, 2 + len(others), figsize=(6 * (2 + len(others)), 4.5))
    for opt in cfg["optimizers"]:
        for arm in cfg["arms"]:
            runs = [results["training"].get(f"{s}/{opt}/{arm}") for s in results["seeds"]]
            runs = [r for r in runs if r]
            if not runs:
                continue
            label = f"{ARM_NAMES[arm]}, {OPT_NAMES[opt]}"
            steps = [p["step"] for p in runs[0]["train"] if p["task_loss"] is not None]
            train = np.array([[p["task_loss"] for p in r["train"] if p["task_loss"] is not None][: len(steps)] for r in runs]).mean(axis=0)
            window = max(1, min(5, len(train) // 4))  # a moving average (5 steps): per-batch losses are noisy
            smooth = np.convolve(train, np.ones(window) / window, mode="valid")
            axes[0].plot(steps[window - 1 :], smooth, styles[arm], color=colours[opt], label=label, alpha=0.85)
            for ax, lang in zip(axes[1:], [source, *others]):
                key = f"eval_{lang}_loss"
                ev = [[(p["step"], p[key]) for p in r["eval"] if key in p] for r in runs]
                if ev and ev[0]:
                    n = min(len(e) for e in ev)
                    ax.plot([e[0] for e in ev[0][:n]], np.mean([[v for _, v in e[:n]] for e in ev], axis=0), styles[arm], color=colours[opt], label=label, marker="o", ms=3)
    axes[0].set_title(f"training loss, {get_language(source).display_name} (5-step mean, mean over seeds)")
    for ax, lang in zip(axes[1:], [source, *others]):
        role = "fine-tuning PL" if lang == source else "transfer"
        ax.set_title(f"validation loss, held-out {get_language(lang).display_name} ({role})")
    for ax in axes:
        ax.set_xlabel("optimiser step")
        ax.set_ylabel("nats / token")
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out / "loss_curves.png", dpi=110)
    plt.close(fig)
    made = ["loss_curves.png"]
    sophia = [(k, c) for k, c in results["training"].items() if "/sophia/" in k]
    if sophia:
        fig, ax = plt.subplots(figsize=(6, 4))
        for k, c in sophia:
            pts = [(p["step"], p["sophia_clip_fraction"]) for p in c["train"] if p.get("sophia_clip_fraction") is not None]
            seed, _, arm = k.split("/")
            ax.plot([s for s, _ in pts], [v for _, v in pts], styles[arm], alpha=0.7, label=f"{ARM_NAMES[arm]}, seed {seed}")
        ax.axhspan(0.1, 0.5, color="grey", alpha=0.15, label="authors' target band")
        ax.set_ylim(0, 1.02)
        ax.set_xlabel("optimiser step")
        ax.set_ylabel("fraction of coordinates clipped")
        ax.set_title("Sophia: clipped coordinates per step")
        ax.legend(fontsize=7)
        fig.tight_layout()
        fig.savefig(out / "sophia_clipping.png", dpi=120)
        plt.close(fig)
        made.append("sophia_clipping.png")
    return made

