"""What every experiment on the problem family shares (``xpl run``, ``xpl flex``).

* ``prepare``: validate the configuration, tie the run directory to it, pick the evaluation
  PLs, then the shared stages: ``problems/`` (the family, generated and verified, split into
  train and held-out problems) and ``base/`` (a tiny model pretrained here, or the model
  folder), and settle the prompt style;
* ``quick_family``: the common part of each experiment's ``--quick`` configuration;
* evaluation: ``sample_and_run`` samples the evaluation problems of one PL and runs their
  tests; ``evaluation_record`` is the per-PL evaluation file's common part
  (``seed<S>/eval/<model>/<pl>.json``, written with ``xpl.io.write_json``) and
  ``load_scores`` reads those files back as ``[seed, problem]`` matrices;
* the reports' common parts: ``versions`` and ``setup_lines``.

Progress goes to a ``Report``: ``report(stage label, done, total, detail)``.
"""

from __future__ import annotations

import copy
import hashlib
import json
import platform
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from xpl.experiments.config import to_dict
from xpl.io import write_json
from xpl.languages import get_language
from xpl.problems.problem import Problem
from xpl.training.common import ConfigError, mark_done, stage_done

# (stage label, done, total, detail)
Report = Callable[[str, int, int | None, str], None]


def silent(stage: str, done: int, total: int | None, detail: str) -> None:
    """A ``Report`` that shows nothing."""


def loss_detail(logs: dict | None) -> str:
    """``loss 0.123`` for a progress line, from the Trainer's logs (empty without a loss)."""
    return f"loss {logs['loss']:.3f}" if logs and "loss" in logs else ""


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


def config_digest(config) -> str:
    return hashlib.sha256(json.dumps(to_dict(config), sort_keys=True).encode()).hexdigest()[:16]


def predates(stored: Any, current: Any, default: Any) -> bool:
    """``stored`` (a run directory's configuration) is ``current`` as written before some keys
    existed: the keys it lacks are at their defaults now, and everything else is equal."""
    if not (isinstance(stored, dict) and isinstance(current, dict)):
        return stored == current
    default = default if isinstance(default, dict) else {}
    if set(stored) - set(current):
        return False
    for key, value in current.items():
        if key not in stored:
            if key not in default or default[key] != value:
                return False
        elif not predates(stored[key], value, default.get(key)):
            return False
    return True


# Keys that say which seeds run and how many at once, never what one seed computes (each
# seed's stages live in their own seed<S>/ folder, and seeds side by side give the numbers of
# seeds in turn): a run directory takes more seeds, or fewer, and keeps every finished one.
SEED_KEYS = ("seeds", "seed_workers")


def _without_seed_keys(config: Any) -> Any:
    return {k: v for k, v in config.items() if k not in SEED_KEYS} if isinstance(config, dict) else config


def claim(out: Path, config) -> None:
    """Tie ``out`` to this configuration (or check that it already is). A run started before
    a configuration key was added (its config.json lacks the key) is the same configuration
    while the key keeps its default, which is what that run did: it resumes. The seed keys
    (``SEED_KEYS``) may change between invocations; config.json then records the latest."""
    out.mkdir(parents=True, exist_ok=True)
    stamp = out / "config.json"
    digest = config_digest(config)
    current = to_dict(config)
    if stamp.is_file():
        saved = json.loads(stamp.read_text())
        previous = saved.get("digest")
        if previous == digest:
            return
        stored = saved.get("config")
        if not predates(_without_seed_keys(stored), _without_seed_keys(current), _without_seed_keys(to_dict(type(config)()))):
            raise ConfigError(
                f"{out} holds a run of a different configuration (digest {previous}, now {digest}); "
                "use another --out, or delete the directory to start over"
            )
        if not isinstance(stored, dict) or all(stored.get(k) == current.get(k) for k in SEED_KEYS):
            return  # a run from before some keys existed: its config.json stays as it was
    write_json(stamp, {"digest": digest, "config": current}, indent=2)


# ----------------------------------------------------------------------------- shared stages


def stage_problems(config, out: Path, report: Report) -> tuple[list[Problem], list[Problem]]:
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


def stage_base(config, out: Path, train: list[Problem], test: list[Problem], report: Report) -> Path:
    from xpl.models.loading import ORGANISM, is_tiny_spec, organism_folder, organism_manifest, resolve
    from xpl.training.pretrain import pretrain

    if config.model == ORGANISM:
        folder = organism_folder()
        if not stage_done(out / "base"):
            (out / "base").mkdir(parents=True, exist_ok=True)
            manifest = organism_manifest()
            mark_done(out / "base", {**manifest, "stage": "pretrain", "shipped": True, "model": str(folder),
                                     "heldout_clean": organism_clean(config.problems, manifest)})
        return folder
    if not is_tiny_spec(config.model):
        return resolve(config.model)
    pre = copy.deepcopy(config.pretrain)
    pre.preset = config.model.split(":", 1)[1] or pre.preset
    record = pretrain(train, test, pre, out / "base", report=lambda s, m, logs: report("pretraining", s, m, loss_detail(logs)))
    return Path(record["model"])


def organism_clean(problems, manifest: dict) -> bool:
    """Whether the experiment's problem set is the one the shipped base's pretraining pool
    was cleaned against (no pool problem behaves like one of its test problems). Another set
    may share behaviours with the pool: the report then says so."""
    clean = manifest.get("clean_against") or {}
    current = to_dict(problems)
    return bool(clean) and all(current.get(key) == value for key, value in clean.items())


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


def eval_languages(config) -> tuple[list[str], dict[str, str]]:
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


def prepare(
    config, out: str | Path, report: Report, claimed: Callable[[Path], None] | None = None
) -> tuple[Path, list[str], dict[str, str], list[Problem], list[Problem], Path]:
    """What every experiment on the family does first (``xpl run``, ``xpl flex``): validate,
    tie the run directory to the config, pick the evaluation PLs, then the problems and base
    stages. ``claimed(out)`` runs once the directory is tied to the config, before any stage
    (``xpl run --reuse`` links finished stages there). Returns (run directory, evaluation
    PLs, skipped PLs, train, test, base model)."""
    config.validate()
    out = Path(out)
    claim(out, config)
    if claimed is not None:
        claimed(out)
    languages, skipped = eval_languages(config)
    train, test = stage_problems(config, out, report)
    base = stage_base(config, out, train, test, report)
    resolve_style(config, base)
    return out, languages, skipped, train, test, base


# ----------------------------------------------------------------------------- evaluation


def eval_problems(config, test: list[Problem], language: str, limit: int | None = None) -> list[Problem]:
    """The held-out problems ``language`` can express, the first ``limit`` of them
    (default: ``config.eval.max_problems``; 0 = all)."""
    lang = get_language(language)
    chosen = [p for p in test if lang.supports(p.signature) is None]
    limit = config.eval.max_problems if limit is None else limit
    return chosen[:limit] if limit else chosen


def sample_and_run(config, test: list[Problem], language: str, model, tokenizer, sampling, engine, label: str, report: Report, limit: int | None = None):
    """Sample completions for the evaluation problems of ``language`` (in the experiment's
    resolved prompt style; at most ``limit``, see ``eval_problems``) and run their tests;
    returns the ``Evaluation``."""
    from xpl.models.generation import evaluate, sample_problems

    problems = eval_problems(config, test, language, limit)
    style = config.prompt_style
    completions = sample_problems(
        model, tokenizer, problems, language, sampling, progress=lambda d, t: report(label, d, t, "sampling"), style=style
    )
    return evaluate(problems, language, completions, engine, progress=lambda d, t: report(label, d, t, "running tests"), style=style)


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


def load_scores(out: Path, seeds: list[int], label: str, language: str, metric: str = "pass") -> tuple[np.ndarray, list[str]]:
    """One model's per-PL evaluation files (``seed<S>/eval/<label>/<language>.json``, one per
    seed) as a ``[seed, problem]`` matrix, with the problem names: per-problem pass@1 (the
    fraction of samples that passed; ``metric="pass"``) or held-out loss (``metric="loss"``,
    in files that hold one). Every seed must have been evaluated on the same problems."""
    rows, names = [], None
    key = "problems" if metric == "pass" else "loss_problems"
    for seed in seeds:
        rec = json.loads((out / f"seed{seed}" / "eval" / label / f"{language}.json").read_text())
        if names is not None and rec[key] != names:
            raise RuntimeError(f"{label}/{language}: seeds were evaluated on different problems")
        names = rec[key]
        rows.append([p / rec["samples"] for p in rec["passed"]] if metric == "pass" else rec["loss"])
    return np.array(rows, dtype=float), names or []


# ----------------------------------------------------------------------------- reports


def versions() -> dict[str, str]:
    """Python, the training libraries and the xpl commit, for ``results.json``."""
    import importlib.metadata as md

    out = {"python": platform.python_version()}
    for pkg in ("torch", "transformers", "trl", "peft", "accelerate", "datasets", "tokenizers"):
        try:
            out[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            pass
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, cwd=Path(__file__).parent, timeout=5)
        if commit.returncode == 0:
            out["xpl_commit"] = commit.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        pass
    return out


BASE_KEYS = ("heldout_loss_before", "heldout_loss_after", "steps", "tokens", "parameters", "seconds", "shipped", "heldout_clean", "clean_against")


def base_record(out: Path) -> dict[str, Any] | None:
    """What a report keeps of the run's base stage (pretrained here, or the shipped organism
    with whether the held-out set is the one it was cleaned against); None for a named model."""
    path = out / "base" / "stage.json"
    if not path.is_file():
        return None
    pre = json.loads(path.read_text())
    return {k: pre[k] for k in BASE_KEYS if k in pre}


def setup_lines(results: dict[str, Any]) -> list[str]:
    """Report lines on the run's set-up: PLs left out here (and why), the base model's
    pretraining."""
    lines: list[str] = []
    style = results.get("config", {}).get("prompt_style")
    if style == "chat":
        lines += ["", "Prompts: chat (the problem as a user message through the model's chat template; the code block of each reply is run)."]
    elif style == "completion":
        lines += ["", "Prompts: completion (the model continues the PL's signature and description)."]
    source = (results.get("config", {}).get("parallel_sft") or {}).get("parallel_source")
    if source and source != "generated":
        lines += ["", f"Parallel-SFT's parallel programs: from `{source}`, matched to the training problems by name (not the family's renderers)."]
    if results["skipped_languages"]:
        lines += ["", "Not evaluated here: " + "; ".join(f"{get_language(k).display_name} ({v})" for k, v in results["skipped_languages"].items())]
    pre = results.get("pretraining")
    if pre and pre.get("shipped"):
        minutes = pre["seconds"] / 60
        lines += ["", f"Base model: the shipped organism (xpl/models/organism; {pre['parameters']:,} parameters, pretrained once by `make organism`: {pre['steps']:,} steps over a corpus of {pre['tokens']:,} tokens, {minutes:.0f} min on 2 cores; no training stage here changes it)."]
        if not pre.get("heldout_clean"):
            against = ", ".join(f"{k}={v}" for k, v in (pre.get("clean_against") or {}).items())
            lines += ["", f"**Warning**: these held-out problems are not the set the organism's pretraining pool was cleaned against (problems {against}); the base may have seen problems that behave like them. Use `model: tiny:<preset>` to pretrain a base on this set's train split."]
    elif pre:
        losses = ", ".join(f"{get_language(k).display_name} {pre['heldout_loss_before'][k]:.2f} → {v:.2f}" for k, v in pre["heldout_loss_after"].items())
        lines += ["", f"Base model: pretrained here ({pre['parameters']:,} parameters, {pre['steps']} steps, {pre['tokens']:,} tokens); held-out loss {losses}."]
    return lines
