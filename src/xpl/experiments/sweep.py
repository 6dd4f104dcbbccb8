"""The scaling-law sweep: a grid of model sizes x token budgets x PL mixtures, each cell one
tiny-model pretraining whose held-out loss per PL is recorded.

A sweep is a YAML file (``SweepConfig``) that expands into independent jobs with stable ids
(``python-n2-d40000``, ``python+rust-n1-d80000``, ``mix_a-n3-d160000``):

* monolingual runs: every PL alone at every size x budget (the per-PL laws L(N, D));
* bilingual runs: every pair of PLs at 50/50 on chosen cells (the synergy matrix: PL i
  trained with PL j against PL i alone at the same total budget);
* named mixtures: any proportions, organisation (``shuffle`` or ``parallel`` pairing, with
  the pairs that may share a document) on chosen cells (the proportion-dependent law; the
  data-organisation comparison on held-out translation loss).

Every job writes into its own folder under ``OUT/jobs/<id>/`` and is finished when its
``sweep.json`` exists: a rerun skips finished jobs and resumes a killed one from its last
checkpoint (``xpl.training.pretrain`` does that). Jobs are independent, so ``--shard i/n``
spreads one sweep over n machines (each takes every n-th job of the same deterministic list;
copy the ``jobs/`` folders together afterwards) and ``--jobs k`` runs k at once on one machine.

All runs share one tokenizer, trained once on the sweep's PLs (one program per training
problem and PL) and stored in ``OUT/tokenizer``: losses in nats per token are only comparable
between runs that cut text into the same tokens. Its training is deterministic, so shards on
different machines build the same one (``results`` checks the vocabulary hash of every job).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from itertools import combinations
from pathlib import Path
from typing import Any

from xpl.corpus import CorpusError, Descriptions, check_proportions, description_share, program_text
from xpl.io import write_json
from xpl.training.common import ConfigError
from xpl.training.pretrain import PretrainConfig

RESULT = "sweep.json"  # a finished job's record, next to the pretraining's stage.json
NAME = re.compile(r"^[a-z0-9_.]+$")


@dataclass
class MixtureConfig:
    """A named mixture trained on some cells of the grid."""

    name: str
    proportions: dict[str, float]
    sizes: list[str] = field(default_factory=list)  # empty: every size
    budgets: list[int] = field(default_factory=list)  # empty: every budget
    organisation: str = "shuffle"
    parallel_pairs: list[list[str]] = field(default_factory=list)  # empty: any two PLs
    translation: bool = False  # also measure held-out translation loss between its PLs
    seeds: list[int] = field(default_factory=list)  # one run per seed (ids end in -s<seed>); empty: pretrain.train.seed


@dataclass
class SweepConfig:
    problems: str  # a folder with train.jsonl and test.jsonl (`xpl problems generate`)
    languages: list[str]
    sizes: dict[str, dict[str, Any]]  # size name -> LlamaConfig overrides of the preset
    budgets: list[int]  # characters of training text per run
    # size name -> learning rate (default: pretrain.train.learning_rate). Tiny models tolerate,
    # and need, larger rates the narrower they are; one rate for all sizes leaves the small
    # ones undertrained, which bends the law.
    learning_rates: dict[str, float] = field(default_factory=dict)
    monolingual: bool = True
    bilingual: bool = True
    bilingual_sizes: list[str] = field(default_factory=list)  # empty: every size
    bilingual_budgets: list[int] = field(default_factory=list)  # empty: every budget
    mixtures: list[MixtureConfig] = field(default_factory=list)
    tokenizer_vocab: int = 1024
    max_heldout: int = 0  # held-out problems per PL for the loss (0: all)
    pretrain: PretrainConfig = field(default_factory=PretrainConfig)  # everything else per run

    def validate(self) -> None:
        from xpl.languages import UnknownLanguage, get_language

        try:
            self.languages = [get_language(x).name for x in self.languages]
        except UnknownLanguage as exc:
            raise ConfigError(f"sweep.languages: {exc}") from None
        if len(set(self.languages)) != len(self.languages) or not self.languages:
            raise ConfigError(f"sweep.languages: expected distinct PLs, got {self.languages}")
        if not self.sizes:
            raise ConfigError("sweep.sizes: at least one size is needed")
        for name in self.sizes:
            if not NAME.match(name):
                raise ConfigError(f"sweep.sizes.{name}: a size name may hold only a-z, 0-9, '_' and '.'")
        for name, lr in self.learning_rates.items():
            if name not in self.sizes:
                raise ConfigError(f"sweep.learning_rates: unknown size {name!r}; sizes: {', '.join(self.sizes)}")
            if not lr > 0:
                raise ConfigError(f"sweep.learning_rates.{name}: expected a positive number, got {lr!r}")
        if not self.budgets or any(b <= 0 for b in self.budgets):
            raise ConfigError(f"sweep.budgets: expected positive character counts, got {self.budgets}")
        if len(set(self.budgets)) != len(self.budgets):
            raise ConfigError(f"sweep.budgets: repeated budget in {self.budgets}")
        for s in self.bilingual_sizes:
            if s not in self.sizes:
                raise ConfigError(f"sweep.bilingual_sizes: unknown size {s!r}; sizes: {', '.join(self.sizes)}")
        for b in self.bilingual_budgets:
            if b not in self.budgets:
                raise ConfigError(f"sweep.bilingual_budgets: {b} is not one of the budgets {self.budgets}")
        # Mixtures are checked here, not by a validate of their own: their names, PLs, sizes and
        # budgets are the sweep's.
        seen = set(self.languages)
        for i, m in enumerate(self.mixtures):
            where = f"sweep.mixtures[{i}]"
            if not NAME.match(m.name) or m.name in seen:
                raise ConfigError(f"{where}.name: {m.name!r} must be new and hold only a-z, 0-9, '_' and '.'")
            seen.add(m.name)
            try:
                m.proportions = check_proportions(m.proportions, f"{where}.proportions")
            except (CorpusError, UnknownLanguage) as exc:
                raise ConfigError(str(exc)) from None
            extra = sorted(set(m.proportions) - set(self.languages))
            if extra:
                raise ConfigError(f"{where}.proportions: {', '.join(extra)} not among sweep.languages")
            for s in m.sizes:
                if s not in self.sizes:
                    raise ConfigError(f"{where}.sizes: unknown size {s!r}; sizes: {', '.join(self.sizes)}")
            for b in m.budgets:
                if b not in self.budgets:
                    raise ConfigError(f"{where}.budgets: {b} is not one of the budgets {self.budgets}")
            PretrainConfig(proportions=m.proportions, organisation=m.organisation, parallel_pairs=m.parallel_pairs).validate()
        self.pretrain.validate()


@dataclass(frozen=True)
class SweepJob:
    """One cell of the sweep: a tiny pretraining on a mixture at a size and budget (not an
    execution-engine ``Job``)."""

    id: str
    kind: str  # "mono", "pair" or "mix"
    mixture: str
    size: str
    budget: int
    proportions: tuple[tuple[str, float], ...]
    organisation: str = "shuffle"
    parallel_pairs: tuple[tuple[str, str], ...] = ()
    translation: bool = False
    seed: int | None = None  # None: the sweep's pretrain.train.seed


def expand(config: SweepConfig) -> list[SweepJob]:
    """Every job of the sweep, in a deterministic order (the same on every machine)."""
    jobs: list[SweepJob] = []

    def add(kind, mixture, proportions, sizes, budgets, seeds=(), **kw):
        for size in sizes or list(config.sizes):
            for budget in budgets or config.budgets:
                props = tuple((k, float(v)) for k, v in proportions.items())
                for seed in seeds or [None]:
                    suffix = "" if seed is None else f"-s{seed}"
                    jobs.append(SweepJob(f"{mixture}-{size}-d{budget}{suffix}", kind, mixture, size, budget, props, seed=seed, **kw))

    if config.monolingual:
        for lang in config.languages:
            add("mono", lang, {lang: 1.0}, [], [])
    if config.bilingual:
        for a, b in combinations(config.languages, 2):
            add("pair", f"{a}+{b}", {a: 0.5, b: 0.5}, config.bilingual_sizes, config.bilingual_budgets)
    for m in config.mixtures:
        pairs = tuple(tuple(p) for p in m.parallel_pairs)
        add("mix", m.name, m.proportions, m.sizes, m.budgets, m.seeds, organisation=m.organisation, parallel_pairs=pairs, translation=m.translation)
    return jobs


def parse_shard(text: str) -> tuple[int, int]:
    """``"i/n"`` (0 <= i < n) -> (i, n)."""
    m = re.fullmatch(r"(\d+)/(\d+)", text.strip())
    if not m or int(m.group(2)) < 1 or int(m.group(1)) >= int(m.group(2)):
        raise ConfigError(f"--shard: expected i/n with 0 <= i < n, got {text!r}")
    return int(m.group(1)), int(m.group(2))


def shard(jobs: Sequence[SweepJob], index: int, count: int) -> list[SweepJob]:
    return [j for k, j in enumerate(jobs) if k % count == index]


def load_problems(config: SweepConfig):
    from xpl.problems import read_problems

    folder = Path(config.problems)
    out = []
    for split in ("train", "test"):
        path = folder / f"{split}.jsonl"
        if not path.is_file():
            raise ConfigError(f"sweep.problems: {path} does not exist (make it with `xpl problems generate`)")
        problems, _errors = read_problems(path)
        missing = [lang for lang in config.languages if not any(lang in p.solutions for p in problems)]
        if missing:
            raise ConfigError(f"sweep.problems: {path} has no {', '.join(missing)} solutions")
        out.append(problems)
    train, test = out
    if config.max_heldout > 0:
        test = test[: config.max_heldout]
    return train, test


def shared_tokenizer(config: SweepConfig, train, out: Path) -> Path:
    """Train (once) the tokenizer every run of the sweep uses; returns its folder."""
    folder = out / "tokenizer"
    if (folder / "tokenizer.json").is_file():
        return folder
    from xpl.models.tokenizer import save_tokenizer, train_tokenizer

    texts = [program_text(p, lang, config.pretrain.descriptions) for lang in config.languages for p in train if lang in p.solutions]
    tok = train_tokenizer(texts, config.tokenizer_vocab)
    tmp = out / f"tokenizer.tmp{os.getpid()}"
    save_tokenizer(tok, tmp)
    tmp.replace(folder)  # whole folder at once: a reader never sees half a tokenizer
    return folder


def vocab_hash(tokenizer_dir: Path) -> str:
    return hashlib.sha256((Path(tokenizer_dir) / "tokenizer.json").read_bytes()).hexdigest()[:16]


def job_config(config: SweepConfig, job: SweepJob, tokenizer_dir: Path) -> PretrainConfig:
    return replace(
        config.pretrain,
        proportions=dict(job.proportions),
        budget=job.budget,
        organisation=job.organisation,
        parallel_pairs=[list(p) for p in job.parallel_pairs],
        model_overrides={**config.pretrain.model_overrides, **config.sizes[job.size]},
        tokenizer=str(tokenizer_dir),
        train=replace(
            config.pretrain.train,
            seed=config.pretrain.train.seed if job.seed is None else job.seed,
            learning_rate=config.learning_rates.get(job.size, config.pretrain.train.learning_rate),
        ),
    )


def translation_losses(model, tokenizer, problems, languages: Sequence[str], context: int, descriptions: Descriptions = True) -> dict[str, float]:
    """Held-out translation loss per direction ``a->b``: the mean loss per token of the
    program in PL b when it follows the same problem's program in PL a in one document
    (the parallel-pairing format), i.e. how well the model writes b given a. Each program
    carries its description where its PL's programs carry them at all (as held-out loss)."""
    import torch

    model.eval()
    described = {lang: description_share(descriptions, lang) > 0 for lang in languages}
    out = {}
    for a in languages:
        for b in languages:
            if a == b:
                continue
            total, count = 0.0, 0
            for p in problems:
                if a not in p.solutions or b not in p.solutions:
                    continue
                # Token ids built piecewise so the boundary between source and target is exact.
                src = [tokenizer.bos_token_id, *tokenizer(program_text(p, a, described[a]) + "\n", add_special_tokens=False).input_ids]
                tgt = [*tokenizer(program_text(p, b, described[b]), add_special_tokens=False).input_ids, tokenizer.eos_token_id]
                ids = (src + tgt)[-context:]
                n_tgt = min(len(tgt), len(ids) - 1)
                with torch.no_grad():
                    logits = model(input_ids=torch.tensor([ids])).logits[0, :-1].float()
                labels = torch.tensor(ids[1:])
                losses = torch.nn.functional.cross_entropy(logits, labels, reduction="none")[-n_tgt:]
                total += float(losses.sum())
                count += n_tgt
            if count:
                out[f"{a}->{b}"] = round(total / count, 4)
    return out


def finished(out: Path, job: SweepJob) -> dict[str, Any] | None:
    """The record of ``job`` when it has finished in ``out``; an error when the finished run
    under that id was trained with other settings (never mixed in silently)."""
    marker = Path(out) / "jobs" / job.id / RESULT
    if not marker.is_file():
        return None
    rec = json.loads(marker.read_text())
    ran = (rec["proportions"], rec["budget_chars"], rec["organisation"], [list(p) for p in rec["parallel_pairs"]])
    want = (dict(job.proportions), job.budget, job.organisation, [list(p) for p in job.parallel_pairs])
    if ran != want:
        raise ConfigError(f"job {job.id}: {marker.parent} was run with other settings ({ran}); use another mixture name or folder")
    return rec


def run_job(
    config: SweepConfig,
    job: SweepJob,
    out: Path,
    train,
    test,
    tokenizer_dir: Path,
    report: Callable[[int, int, dict | None], None] | None = None,
) -> dict[str, Any]:
    """Train one job (or resume it, or return its record when finished)."""
    from xpl.training.pretrain import pretrain

    folder = out / "jobs" / job.id
    marker = folder / RESULT
    done = finished(out, job)
    if done:
        return done
    cfg = job_config(config, job, tokenizer_dir)
    record = pretrain(train, test, cfg, folder, report=report)
    translation = {}
    if job.translation:
        from transformers import AutoModelForCausalLM, PreTrainedTokenizerFast

        model = AutoModelForCausalLM.from_pretrained(record["model"])
        tok = PreTrainedTokenizerFast.from_pretrained(str(tokenizer_dir))
        translation = translation_losses(model, tok, test, [k for k, v in job.proportions if v > 0], cfg.context, cfg.descriptions)
    result = {
        "id": job.id,
        "kind": job.kind,
        "mixture": job.mixture,
        "size": job.size,
        "budget_chars": job.budget,
        "proportions": dict(job.proportions),
        "organisation": job.organisation,
        "parallel_pairs": [list(p) for p in job.parallel_pairs],
        "seed": cfg.train.seed,
        "learning_rate": cfg.train.learning_rate,
        "N": record["non_embedding_parameters"],
        "N_total": record["parameters"],
        "D": record["tokens"],
        "steps": record["steps"],
        "loss": record["heldout_loss_after"],
        "loss_before": record["heldout_loss_before"],
        "translation_loss": translation,
        "seconds": record["seconds"],
        "vocab": vocab_hash(tokenizer_dir),
    }
    write_json(marker, result, indent=2)
    return result


def _worker(config: SweepConfig, job: SweepJob, out: str, threads: int) -> dict[str, Any]:
    """One job in a pool process (its own torch thread count, its own problem load)."""
    os.environ["OMP_NUM_THREADS"] = str(threads)
    import torch

    torch.set_num_threads(threads)
    train, test = load_problems(config)
    return run_job(config, job, Path(out), train, test, Path(out) / "tokenizer")


def check_folder(config: SweepConfig, out: Path) -> None:
    """A sweep folder keeps the config that created it (``sweep.json``); later configs run
    into it (e.g. the allocation's) must agree on what the shared tokenizer and the held-out
    losses depend on."""
    path = out / "sweep.json"
    mine = _plain(config)
    if not path.is_file():
        write_json(path, mine, indent=2)
        return
    first = json.loads(path.read_text())
    for key in ("problems", "languages", "tokenizer_vocab", "max_heldout"):
        if first.get(key) != mine.get(key):
            raise ConfigError(f"sweep.{key}: {mine.get(key)!r} differs from {first.get(key)!r} of the sweep already in {out}; use another --out")


def run_sweep(
    config: SweepConfig,
    out: str | Path,
    jobs: Sequence[SweepJob] | None = None,
    workers: int = 1,
    threads: int | None = None,
    on_job: Callable[[SweepJob, dict[str, Any] | None, str], None] | None = None,
    on_step: Callable[[SweepJob, int, int], None] | None = None,
    ray: str | None = None,
) -> list[dict[str, Any]]:
    """Run ``jobs`` (default: all) of the sweep, skipping finished ones; returns their
    records. ``on_job(job, record, state)`` is called with state "start" and "done";
    ``on_step(job, step, total)`` as a job in this process trains. ``ray``: a Ray cluster's
    address; each job is then a Ray task asking for ``threads`` CPUs (``out`` and the
    problems on a file system every node shares)."""
    from xpl.training.common import limit_threads

    limit_threads()
    config.validate()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    check_folder(config, out)
    jobs = list(expand(config) if jobs is None else jobs)
    train, test = load_problems(config)
    tok = shared_tokenizer(config, train, out)
    env_threads = os.environ.get("OMP_NUM_THREADS", "")
    threads = threads or (int(env_threads) if env_threads.isdigit() and int(env_threads) > 0 else max(1, (os.cpu_count() or 1) // max(workers, 1)))
    records: list[dict[str, Any]] = []
    todo = []
    for job in jobs:
        rec = finished(out, job)
        if rec:
            records.append(rec)
            if on_job:
                on_job(job, rec, "skipped")
        else:
            todo.append(job)
    if ray is not None:
        from xpl.execution.cluster import run_tasks

        for job in todo:
            if on_job:
                on_job(job, None, "start")
        calls = [(config, job, str(out), threads) for job in todo]
        for i, rec in run_tasks(_worker, calls, ray, num_cpus=threads, requires=[str(tok), config.problems]):
            records.append(rec)
            if on_job:
                on_job(todo[i], rec, "done")
        return records
    if workers <= 1:
        import torch

        torch.set_num_threads(threads)
        for job in todo:
            if on_job:
                on_job(job, None, "start")
            step_report = (lambda s, t, _logs, j=job: on_step(j, s, t)) if on_step else None
            rec = run_job(config, job, out, train, test, tok, report=step_report)
            records.append(rec)
            if on_job:
                on_job(job, rec, "done")
        return records
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed

    with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        futures = {pool.submit(_worker, config, job, str(out), threads): job for job in todo}
        for job in todo:
            if on_job:
                on_job(job, None, "start")
        for fut in as_completed(futures):
            rec = fut.result()
            records.append(rec)
            if on_job:
                on_job(futures[fut], rec, "done")
    return records


def results(folders: Sequence[str | Path]) -> list[dict[str, Any]]:
    """Every finished job's record under the sweep folders (shards copied together or
    several folders), checked to share one tokenizer."""
    recs: dict[str, dict[str, Any]] = {}
    for folder in folders:
        folder = Path(folder)
        if not folder.is_dir():
            raise ConfigError(f"{folder}: no such sweep folder")
        for marker in sorted(folder.glob(f"jobs/*/{RESULT}")):
            rec = json.loads(marker.read_text())
            recs[rec["id"]] = rec
    vocabs = {r["vocab"] for r in recs.values()}
    if len(vocabs) > 1:
        raise ConfigError(f"the runs used {len(vocabs)} different tokenizers; their losses are not comparable")
    return [recs[k] for k in sorted(recs)]


def _plain(config: SweepConfig) -> dict[str, Any]:
    from xpl.experiments.config import to_dict

    return to_dict(config)


def load_sweep(path: str | Path) -> SweepConfig:
    from xpl.experiments.config import load_config

    cfg = load_config(SweepConfig, path)
    cfg.validate()
    return cfg
