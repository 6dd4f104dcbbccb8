"""``xpl run``: the Parallel-SFT transfer experiment from problems to report.

Stages, each resumable and skipped once finished (see ``xpl.training.common``):

    problems/                      generated + verified family problems, train/test splits
    rl_problems/                   GRPO's own problems when ``rl_problems.n`` > 0: new ones in
                                   the source PL, none behaving like a held-out problem
    base/                          pretraining of a tiny model (when the model is tiny:<preset>)
    seed<S>/sft, seed<S>/sft_rl    SFT on the source PL, then GRPO on it
    seed<S>/parallel_sft, .../parallel_sft_rl
                                   Parallel-SFT, then the same GRPO
    seed<S>/eval/<arm>/<pl>.json   zero-shot evaluation of each arm on held-out problems
    representations/               hidden-state analysis of the arms (first seed)
    report.md, results.json, *.png the table with bootstrap CIs, every number, the plots

The base model is shared by all seeds; seeds vary fine-tuning, RL and sampling. A run is
tied to its configuration: rerunning into the same directory with a different configuration
is refused rather than mixing results. The problems and base stages, the evaluation's
sampling and its files are shared with ``xpl flex`` (``xpl.experiments.stages``).
"""

from __future__ import annotations

import copy
import json
import os
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from xpl.experiments.spec import RL_ARMS, SFT_OF, ExperimentConfig, rl_problems_path
from xpl.experiments.seeds import run_seeds
from xpl.experiments.stages import Report, evaluation_record, loss_detail, prepare, quick_family, sample_and_run, silent
from xpl.io import write_json
from xpl.languages import get_language
from xpl.problems.problem import Problem
from xpl.training.common import ConfigError, mark_done, stage_done


def quick(config: ExperimentConfig) -> ExperimentConfig:
    """A minutes-long version of ``config`` for tests and smoke runs: one seed, few problems,
    two evaluation PLs, few steps. The numbers it produces mean nothing."""
    c = quick_family(config)
    c.eval.samples, c.eval.max_problems, c.eval.max_new_tokens = 1, 6, 48
    c.eval.source_samples = c.eval.source_max_problems = c.eval.source_temperature = None
    c.pretrain.train = replace(c.pretrain.train, max_steps=6, save_steps=3, logging_steps=1)
    for sft_config in (c.sft, c.parallel_sft):
        sft_config.train = replace(sft_config.train, max_steps=3, save_steps=3, logging_steps=1)
    c.parallel_sft.parallel_languages = ["python", "javascript"]
    c.grpo.num_generations, c.grpo.max_completion_length = 2, 32
    c.grpo.train = replace(c.grpo.train, batch_size=4, max_steps=2, save_steps=2, logging_steps=1)
    if c.rl_problems.n:
        c.rl_problems.n = 48
    return c


# ----------------------------------------------------------------------------- stages


def stage_rl_problems(config: ExperimentConfig, out: Path, test: list[Problem], base: Path, report: Report) -> list[Problem] | None:
    """GRPO's own problems (``rl_problems``), or None when GRPO runs on the train split: new
    family problems of another seed in the source PL, generated and verified, with every one
    that behaves like a held-out problem dropped (``test``: the whole held-out split); with
    ``keep: mixed``, only those the base model passes in some but not all of its samples."""
    from xpl.problems import read_problems, write_problems
    from xpl.problems.family import build

    spec = config.rl_problems
    if not spec.n and not spec.file:
        return None
    folder = out / "rl_problems"
    if spec.file and not stage_done(folder):
        path = rl_problems_path(spec.file)
        sidecar = path.with_suffix(".json")  # the shipped pool's sha256, how it was made, against which set
        about = json.loads(sidecar.read_text()) if sidecar.is_file() else {}
        expected = about.get("sha256")
        if expected:
            from xpl.models.shipped import sha256

            if sha256(path) != expected:
                raise ConfigError(f"rl_problems.file: {path} does not match the sha256 in {sidecar}; restore it (git checkout) or rebuild it with `make organism-rl`")
        problems, errors = read_problems(path)
        if errors or not problems:
            raise ConfigError(f"rl_problems.file: {path}: " + (f"{len(errors)} unreadable lines, the first: {errors[0]}" if errors else "no problems"))
        write_problems(folder / "rl.jsonl", problems)
        record = {"stage": "rl_problems", "file": str(path), "kept": len(problems)}
        mark_done(folder, record | {k: about[k] for k in ("about", "clean_against") if k in about})
    elif not stage_done(folder):
        built = build(
            spec.n,
            spec.seed,
            folder,
            [config.source_language],
            0.0,
            tuple(spec.levels),
            workers=config.workers or None,
            progress=lambda stage, d, t: report(f"RL problems: {stage}", d, t, ""),
            exclude=test,
        )
        record = {"stage": "rl_problems", "generated": spec.n, "excluded": built.excluded, "verified": len(built.problems)}
        kept = built.problems
        if spec.keep == "mixed":
            kept, counts = _mixed_with_base(config, base, kept, folder, report)
            record["mixed"] = counts
        write_problems(folder / "rl.jsonl", kept)
        mark_done(folder, {**record, "kept": len(kept)})
    problems, _ = read_problems(folder / "rl.jsonl")
    return problems


def _mixed_with_base(config: ExperimentConfig, base: Path, problems: list[Problem], folder: Path, report: Report) -> tuple[list[Problem], dict]:
    """The problems the base model passes in some but not all of ``rl_problems.samples``
    samples at GRPO's temperature and completion length (the pass rates kept in
    ``pass_rates.json``, so a resumed stage keeps the same problems)."""
    from xpl.execution import Engine
    from xpl.models.loading import load_model
    from xpl.training.grpo import ExecutionReward, mixed_pool

    rl = copy.deepcopy(config.grpo)
    rl.pool_samples, rl.train = config.rl_problems.samples, replace(rl.train, seed=config.rl_problems.seed)
    label = "RL problems: sampling the base"
    report(label, 0, None, "")
    model, tokenizer = load_model(base)
    tokenizer.padding_side = "left"
    engine = Engine(workers=config.workers or None)
    try:
        reward = ExecutionReward(problems, rl.language, rl.reward, rl.timeout_s, engine, rl.prompt_style)
        kept, counts = mixed_pool(
            model,
            tokenizer,
            problems,
            rl,
            reward,
            folder / "pass_rates.json",
            what="rl_problems.keep mixed: the base model",
            progress=lambda d, t: report(label, d, t, ""),
        )
    finally:
        engine.close()
    return kept, counts


def stage_arm(
    config: ExperimentConfig, out: Path, seed: int, arm: str, base: Path, train: list[Problem], report: Report, rl_problems: list[Problem] | None = None
) -> tuple[Path, Path, dict]:
    """SFT (plain or parallel) then GRPO for one seed; returns the SFT model, the final model
    and the GRPO record. GRPO runs on ``rl_problems`` when given, else on ``train``."""
    from xpl.training.grpo import grpo
    from xpl.training.sft import sft

    first = SFT_OF[arm]
    sft_config = copy.deepcopy(getattr(config, first))  # config.sft or config.parallel_sft
    sft_config.train = replace(sft_config.train, seed=seed)
    folder = out / f"seed{seed}"
    label = f"seed {seed}: {first.replace('_', '-')}"
    rec = sft(base, train, sft_config, folder / first, report=lambda s, m, logs: report(label, s, m, loss_detail(logs)))
    rl_config = copy.deepcopy(config.grpo)
    rl_config.train = replace(rl_config.train, seed=seed)
    label = f"seed {seed}: GRPO after {first.replace('_', '-')}"
    rl = grpo(
        rec["model"],
        rl_problems or train,
        rl_config,
        folder / arm,
        report=lambda s, m, logs: report(label, s, m, f"reward {logs['reward']:.2f}" if logs and "reward" in logs else ""),
        workers=config.workers or None,
    )
    return Path(rec["model"]), Path(rl["model"]), rl


def stage_eval(config: ExperimentConfig, out: Path, seed: int, arm: str, model_dir: Path, test: list[Problem], languages: list[str], report: Report) -> None:
    """Sample and run every evaluation PL for one (seed, arm); each PL's file is written when
    its results are complete, so a killed evaluation redoes at most the PLs it had not finished.
    ``eval.backend: vllm`` samples with one vLLM engine on the model folder for all the PLs
    (the Hugging Face model is then never loaded) and gives its GPU memory back at the end."""
    from xpl.execution import Engine
    from xpl.models.generation import SamplingConfig, VLLMSampler
    from xpl.models.loading import load_model, load_tokenizer

    folder = out / f"seed{seed}" / "eval" / arm
    todo = [lang for lang in languages if not (folder / f"{lang}.json").is_file()]
    if arm == "base":
        todo = [lang for lang in todo if not reuse_greedy_base(config, out, seed, lang)]
    if not todo:
        return
    folder.mkdir(parents=True, exist_ok=True)
    ev = config.eval
    if ev.backend == "vllm":
        tokenizer = load_tokenizer(model_dir)
        model = VLLMSampler(model_dir, tokenizer, seed=seed)
    else:
        model, tokenizer = load_model(model_dir)
    engine = Engine(workers=config.workers or None, store=out / "results.sqlite")
    try:
        for lang in todo:
            label = f"seed {seed}: {arm} on {get_language(lang).display_name}"
            samples = ev.samples_for(lang, config.source_language)
            sampling = SamplingConfig(samples, ev.temperature_for(lang, config.source_language), ev.top_p, ev.max_new_tokens, ev.batch_size, seed=seed, backend=ev.backend)
            limit = ev.max_problems_for(lang, config.source_language)
            result = sample_and_run(config, test, lang, model, tokenizer, sampling, engine, label, report, limit)
            record = {"seed": seed, "arm": arm, "language": lang, "temperature": sampling.temperature, **evaluation_record(result, samples)}
            write_json(folder / f"{lang}.json", record)
    finally:
        engine.close()
        if isinstance(model, VLLMSampler):
            model.close()


def reuse_greedy_base(config: ExperimentConfig, out: Path, seed: int, lang: str) -> bool:
    """The base model is shared by all seeds and greedy decoding ignores the seed, so a PL that
    another seed has already evaluated the base in greedily is copied rather than decoded again
    (SmolLM2: 11 minutes of each further seed; replies checked identical across seeds).
    Sampled PLs (temperature > 0) are each seed's own. True when the file was copied."""
    ev = config.eval
    samples = ev.samples_for(lang, config.source_language)
    if ev.temperature_for(lang, config.source_language) != 0:
        return False
    mine = out / f"seed{seed}" / "eval" / "base" / f"{lang}.json"
    for path in sorted(out.glob(f"seed*/eval/base/{lang}.json")):  # any seed this directory has run
        if path == mine:
            continue
        record = json.loads(path.read_text())
        if record.get("temperature") == 0 and record.get("samples") == samples:
            record = {**record, "seed": seed, "copied_from_seed": record.get("copied_from_seed", record.get("seed"))}
            mine.parent.mkdir(parents=True, exist_ok=True)
            write_json(mine, record)
            return True
    return False


def stage_representations(config: ExperimentConfig, out: Path, models: dict[str, Path], test: list[Problem], report: Report) -> dict | None:
    """Representation analysis of the arms of the first seed on held-out parallel programs."""
    from xpl.analysis.representations import analyze, write_outputs

    spec = config.representations
    folder = out / "representations"
    if not spec.enabled:
        return None
    paths = {name: str(path) for name, path in models.items()}
    # Reused only for the same models: a run given other seeds may have another first seed (a
    # record from before the models were kept is from the only first seed its run had). Kept
    # relative to the run directory, so that a moved or differently spelt --out still matches.
    which = {name: os.path.relpath(path, out) for name, path in models.items()}
    done = stage_done(folder)
    if done and done.get("which", which) == which:
        return json.loads((folder / "results.json").read_text())
    langs = [get_language(x).name for x in spec.languages] or [
        lang for lang in config.parallel_sft.parallel_languages if all(lang in p.solutions for p in test)
    ]
    problems = [p for p in test if all(lang in p.solutions for lang in langs)]
    if len(langs) < 2 or len(problems) < 2:
        return None
    results = analyze(
        paths,
        problems,
        langs,
        layers=spec.layers,
        pooling=spec.pooling,
        max_problems=spec.max_problems,
        progress=lambda stage, d, t: report("representations", d, t, stage),
    )
    write_outputs(results, folder)
    mark_done(folder, {"stage": "representations", "models": list(models), "which": which})
    return results


# ----------------------------------------------------------------------------- driver


def run_experiment(config: ExperimentConfig, out: str | Path, report: Report = silent, reuse: str | Path | None = None) -> dict[str, Any]:
    """Run (or resume) every stage and write the report; returns the results. ``reuse``: a
    run directory whose finished stages with the same settings are taken instead of run
    again (``xpl.experiments.reuse``)."""
    from xpl.experiments.report import write_report
    from xpl.training.common import limit_threads

    limit_threads()
    started = time.perf_counter()

    def link(folder: Path) -> None:
        from xpl.experiments.reuse import link_stages

        brought = link_stages(config, folder, Path(reuse))
        report(f"reused from {reuse}", len(brought), len(brought) or 1, "finished stages with the same settings")

    out, languages, skipped, train, test, base = prepare(config, out, report, link if reuse is not None else None)
    eval_set = test
    if config.eval.problems == "humaneval":
        from xpl.problems.humaneval import humaneval_problems

        eval_set = humaneval_problems()[0]
    rl_problems = stage_rl_problems(config, out, test, base, report)
    work = SeedWork(out, base, train, eval_set, languages, rl_problems)
    by_seed = run_seeds(config, run_seed, work, report)
    rl_records = {arm: {seed: by_seed[seed][arm] for seed in config.seeds} for arm in RL_ARMS}
    first_models: dict[str, Path] = {"base": base} | {arm: Path(rl_records[arm][config.seeds[0]]["model"]) for arm in RL_ARMS}
    representations = stage_representations(config, out, first_models, test, report)
    return write_report(config, out, languages, skipped, rl_records, time.perf_counter() - started, representations)


# ----------------------------------------------------------------------------- seeds


@dataclass(frozen=True)
class SeedWork:
    """What every seed's stages share (all picklable: a seed may run in another process)."""

    out: Path
    base: Path
    train: list[Problem]
    eval_set: list[Problem]
    languages: list[str]
    rl_problems: list[Problem] | None


def run_seed(config: ExperimentConfig, work: SeedWork, seed: int, report: Report) -> dict[str, dict]:
    """Every stage of one seed, in order: the base model's evaluation, then per arm SFT, GRPO
    and the evaluation of both models. Returns each arm's GRPO record."""
    out = work.out
    stage_eval(config, out, seed, "base", work.base, work.eval_set, work.languages, report)
    records = {}
    for arm in RL_ARMS:
        sft_dir, model_dir, records[arm] = stage_arm(config, out, seed, arm, work.base, work.train, report, work.rl_problems)
        stage_eval(config, out, seed, SFT_OF[arm], sft_dir, work.eval_set, work.languages, report)
        stage_eval(config, out, seed, arm, model_dir, work.eval_set, work.languages, report)
    return records
