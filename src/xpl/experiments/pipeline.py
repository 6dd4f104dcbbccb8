"""``xpl run``: the Parallel-SFT transfer experiment from problems to report.

Stages, each resumable and skipped once finished (see ``xpl.training.common``):

    problems/                      generated + verified family problems, train/test splits
    base/                          pretraining of a tiny model (when the model is tiny:<preset>)
    seed<S>/sft, seed<S>/sft_rl    SFT on the source PL, then GRPO on it
    seed<S>/parallel_sft, .../parallel_sft_rl
                                   Parallel-SFT, then the same GRPO
    seed<S>/eval/<arm>/<pl>.json   zero-shot evaluation of each arm on held-out problems
    representations/               hidden-state analysis of the arms (first seed)
    report.md, results.json, *.png the table with bootstrap CIs, every number, the plots

The base model is shared by all seeds; seeds vary fine-tuning, RL and sampling. A run is
tied to its configuration: rerunning into the same directory with a different configuration
is refused rather than mixing results.
"""

from __future__ import annotations

import copy
import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from xpl.experiments.config import to_dict
from xpl.experiments.spec import ARMS, ExperimentConfig
from xpl.io import write_json
from xpl.languages import get_language
from xpl.problems.problem import Problem
from xpl.training.common import ConfigError, mark_done, stage_done

# (stage label, done, total, detail)
Report = Callable[[str, int, int | None, str], None]


def _quiet(stage: str, done: int, total: int | None, detail: str) -> None:
    pass


def quick_family(config):
    """A copy of an experiment on the family (``xpl run``, ``xpl flex``) cut to its smoke-run
    size: one seed, ``tiny:xs``, 48 problems in Python and JavaScript (whose tests run
    fastest), a small pretraining corpus. Each experiment then shortens its own stages."""
    c = copy.deepcopy(config)
    c.seeds = c.seeds[:1]
    if c.model.startswith("tiny:"):
        c.model = "tiny:xs"
    c.problems.n = 48
    c.problems.languages = ["python", "javascript"]
    c.eval.languages = ["python", "javascript"]
    c.pretrain.budget, c.pretrain.preset, c.pretrain.context, c.pretrain.vocab_size = 30_000, "xs", 128, 512
    c.pretrain.proportions = {"python": 0.75, "javascript": 0.25}
    return c


def quick(config: ExperimentConfig) -> ExperimentConfig:
    """A minutes-long version of ``config`` for tests and smoke runs: one seed, few problems,
    two evaluation PLs, few steps. The numbers it produces mean nothing."""
    c = quick_family(config)
    c.eval.samples, c.eval.max_problems, c.eval.max_new_tokens = 1, 6, 48
    c.pretrain.train = replace(c.pretrain.train, max_steps=6, save_steps=3, logging_steps=1)
    for sft_config in (c.sft, c.parallel_sft):
        sft_config.train = replace(sft_config.train, max_steps=3, save_steps=3, logging_steps=1)
    c.parallel_sft.parallel_languages = ["python", "javascript"]
    c.grpo.num_generations, c.grpo.max_completion_length = 2, 32
    c.grpo.train = replace(c.grpo.train, batch_size=4, max_steps=2, save_steps=2, logging_steps=1)
    return c


def config_digest(config: ExperimentConfig) -> str:
    return hashlib.sha256(json.dumps(to_dict(config), sort_keys=True).encode()).hexdigest()[:16]


def _claim(out: Path, config: ExperimentConfig) -> None:
    """Tie ``out`` to this configuration (or check that it already is)."""
    out.mkdir(parents=True, exist_ok=True)
    stamp = out / "config.json"
    digest = config_digest(config)
    if stamp.is_file():
        previous = json.loads(stamp.read_text()).get("digest")
        if previous != digest:
            raise ConfigError(
                f"{out} holds a run of a different configuration (digest {previous}, now {digest}); "
                "use another --out, or delete the directory to start over"
            )
        return
    stamp.write_text(json.dumps({"digest": digest, "config": to_dict(config)}, indent=2) + "\n")


# ----------------------------------------------------------------------------- stages


def stage_problems(config: ExperimentConfig, out: Path, report: Report) -> tuple[list[Problem], list[Problem]]:
    from xpl.problems import read_problems
    from xpl.problems.family import build

    folder = out / "problems"
    if not stage_done(folder):
        spec = config.problems
        built = build(
            spec.n,
            spec.seed,
            folder,
            spec.languages or None,
            spec.test_fraction,
            tuple(spec.levels),
            workers=config.workers or None,
            progress=lambda stage, d, t: report(f"problems: {stage}", d, t, ""),
        )
        mark_done(folder, {"stage": "problems", "kept": len(built.problems)})
    train, _ = read_problems(folder / "train.jsonl")
    test, _ = read_problems(folder / "test.jsonl")
    return train, test


def stage_base(config: ExperimentConfig, out: Path, train: list[Problem], test: list[Problem], report: Report) -> Path:
    from xpl.models.loading import is_tiny_spec, resolve
    from xpl.training.pretrain import pretrain

    if not is_tiny_spec(config.model):
        return resolve(config.model)
    pre = copy.deepcopy(config.pretrain)
    pre.preset = config.model.split(":", 1)[1] or pre.preset
    record = pretrain(train, test, pre, out / "base", report=lambda s, m, logs: report("pretraining", s, m, _loss(logs)))
    return Path(record["model"])


def _loss(logs: dict | None) -> str:
    return f"loss {logs['loss']:.3f}" if logs and "loss" in logs else ""


def stage_arm(config: ExperimentConfig, out: Path, seed: int, arm: str, base: Path, train: list[Problem], report: Report) -> tuple[Path, dict]:
    """SFT (plain or parallel) then GRPO for one seed; returns the final model and GRPO record."""
    from xpl.training.grpo import grpo
    from xpl.training.sft import sft

    first = "sft" if arm == "sft_rl" else "parallel_sft"
    sft_config = copy.deepcopy(config.sft if arm == "sft_rl" else config.parallel_sft)
    sft_config.train = replace(sft_config.train, seed=seed)
    folder = out / f"seed{seed}"
    label = f"seed {seed}: {first.replace('_', '-')}"
    rec = sft(base, train, sft_config, folder / first, report=lambda s, m, logs: report(label, s, m, _loss(logs)))
    rl_config = copy.deepcopy(config.grpo)
    rl_config.train = replace(rl_config.train, seed=seed)
    label = f"seed {seed}: GRPO after {first.replace('_', '-')}"
    rl = grpo(
        rec["model"],
        train,
        rl_config,
        folder / arm,
        report=lambda s, m, logs: report(label, s, m, f"reward {logs['reward']:.2f}" if logs and "reward" in logs else ""),
        workers=config.workers or None,
    )
    return Path(rl["model"]), rl


def eval_languages(config: ExperimentConfig) -> tuple[list[str], dict[str, str]]:
    usable, skipped = [], {}
    for name in config.eval.languages:
        lang = get_language(name)
        if lang.toolchain.available:
            usable.append(lang.name)
        elif config.eval.skip_unavailable:
            skipped[lang.name] = lang.toolchain.problem
        else:
            raise ConfigError(f"eval.languages: {lang.toolchain.problem}")
    return usable, skipped


def eval_problems(config: ExperimentConfig, test: list[Problem], language: str) -> list[Problem]:
    lang = get_language(language)
    chosen = [p for p in test if lang.supports(p.signature) is None]
    return chosen[: config.eval.max_problems] if config.eval.max_problems else chosen


def sample_and_run(config, test: list[Problem], language: str, model, tokenizer, sampling, engine, label: str, report: Report):
    """Sample completions for the evaluation problems of ``language`` (in the experiment's
    resolved prompt style) and run their tests; returns the ``Evaluation``."""
    from xpl.models.generation import evaluate, sample_problems

    problems = eval_problems(config, test, language)
    style = config.prompt_style
    completions = sample_problems(
        model, tokenizer, problems, language, sampling, progress=lambda d, t: report(label, d, t, "sampling"), style=style
    )
    return evaluate(problems, language, completions, engine, progress=lambda d, t: report(label, d, t, "running tests"), style=style)


def resolve_style(config, base: Path) -> None:
    """Settle ``config.prompt_style`` (``auto``: chat for an instruct model with a chat template)
    once the base model exists, and hand it to the training stages that build prompts."""
    from xpl.models.generation import resolve_prompt_style

    if config.prompt_style != "completion":
        from transformers import AutoTokenizer

        try:
            tokenizer = AutoTokenizer.from_pretrained(str(base))
        except (OSError, ValueError) as exc:
            raise ConfigError(f"{base}: no usable tokenizer ({exc})") from None
        try:
            config.prompt_style = resolve_prompt_style(config.prompt_style, tokenizer, str(base))
        except ValueError as exc:
            raise ConfigError(f"prompt_style: {exc}") from None
    for stage in ("sft", "parallel_sft", "grpo"):
        if hasattr(config, stage):
            getattr(config, stage).prompt_style = config.prompt_style


def evaluation_record(result, samples: int) -> dict[str, Any]:
    """The per-PL evaluation file's common fields: what ran, what passed, every completion."""
    return {
        "problems": result.problems,
        "passed": result.passed,
        "samples": samples,
        "pass_at_1": result.pass_at(1),
        "statuses": [[r.status.value for r in rs] for rs in result.results],
        "completions": result.completions,
    }


def stage_eval(config: ExperimentConfig, out: Path, seed: int, arm: str, model_dir: Path, test: list[Problem], languages: list[str], report: Report) -> None:
    """Sample and run every evaluation PL for one (seed, arm); each PL's file is written when
    its results are complete, so a killed evaluation redoes at most the PLs it had not finished."""
    from xpl.execution import Engine
    from xpl.models.generation import SamplingConfig
    from xpl.models.loading import load_model

    folder = out / f"seed{seed}" / "eval" / arm
    todo = [lang for lang in languages if not (folder / f"{lang}.json").is_file()]
    if not todo:
        return
    folder.mkdir(parents=True, exist_ok=True)
    model, tokenizer = load_model(model_dir)
    ev = config.eval
    sampling = SamplingConfig(ev.samples, ev.temperature, ev.top_p, ev.max_new_tokens, ev.batch_size, seed=seed)
    engine = Engine(workers=config.workers or None, store=out / "results.sqlite")
    try:
        for lang in todo:
            label = f"seed {seed}: {arm} on {get_language(lang).display_name}"
            result = sample_and_run(config, test, lang, model, tokenizer, sampling, engine, label, report)
            record = {"seed": seed, "arm": arm, "language": lang, **evaluation_record(result, ev.samples)}
            write_json(folder / f"{lang}.json", record)
    finally:
        engine.close()


def stage_representations(config: ExperimentConfig, out: Path, models: dict[str, Path], test: list[Problem], report: Report) -> dict | None:
    """Representation analysis of the arms of the first seed on held-out parallel programs."""
    from xpl.analysis.representations import analyze, write_outputs

    spec = config.representations
    folder = out / "representations"
    if not spec.enabled:
        return None
    done = stage_done(folder)
    if done:
        return json.loads((folder / "results.json").read_text())
    langs = [get_language(x).name for x in spec.languages] or [
        lang for lang in config.parallel_sft.parallel_languages if all(lang in p.solutions for p in test)
    ]
    problems = [p for p in test if all(lang in p.solutions for lang in langs)]
    if len(langs) < 2 or len(problems) < 2:
        return None
    results = analyze(
        {name: str(path) for name, path in models.items()},
        problems,
        langs,
        layers=spec.layers,
        pooling=spec.pooling,
        max_problems=spec.max_problems,
        progress=lambda stage, d, t: report("representations", d, t, stage),
    )
    write_outputs(results, folder)
    mark_done(folder, {"stage": "representations", "models": list(models)})
    return results


# ----------------------------------------------------------------------------- driver


def prepare(config, out: str | Path, report: Report) -> tuple[Path, list[str], dict[str, str], list[Problem], list[Problem], Path]:
    """What every experiment on the family does first (``xpl run``, ``xpl flex``): validate,
    tie the run directory to the config, pick the evaluation PLs, then the problems and base
    stages. Returns (run directory, evaluation PLs, skipped PLs, train, test, base model)."""
    config.validate()
    out = Path(out)
    _claim(out, config)
    languages, skipped = eval_languages(config)
    train, test = stage_problems(config, out, report)
    base = stage_base(config, out, train, test, report)
    resolve_style(config, base)
    return out, languages, skipped, train, test, base


def run_experiment(config: ExperimentConfig, out: str | Path, report: Report = _quiet) -> dict[str, Any]:
    """Run (or resume) every stage and write the report; returns the results."""
    from xpl.experiments.report import write_report
    from xpl.training.common import limit_threads

    limit_threads()
    started = time.perf_counter()
    out, languages, skipped, train, test, base = prepare(config, out, report)
    eval_set = test
    if config.eval.problems == "humaneval":
        from xpl.problems.humaneval import humaneval_problems

        eval_set = humaneval_problems()[0]
    rl_records: dict[str, dict[int, dict]] = {arm: {} for arm in ARMS[1:]}
    first_models: dict[str, Path] = {"base": base}
    for seed in config.seeds:
        stage_eval(config, out, seed, "base", base, eval_set, languages, report)
        for arm in ARMS[1:]:
            model_dir, rl = stage_arm(config, out, seed, arm, base, train, report)
            rl_records[arm][seed] = rl
            if seed == config.seeds[0]:
                first_models[arm] = model_dir
            stage_eval(config, out, seed, arm, model_dir, eval_set, languages, report)
    representations = stage_representations(config, out, first_models, test, report)
    return write_report(config, out, languages, skipped, rl_records, time.perf_counter() - started, representations)
