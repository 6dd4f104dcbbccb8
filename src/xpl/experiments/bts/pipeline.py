"""The Branch-Train-Stitch experiment's stages (``xpl bts``) and ``run_bts``, which runs (or
resumes) them all and writes the report.

    problems/, base/                      the problem family and the seed (shared stages)
    pool/                                 the training text's problems (another seed, held-out behaviours dropped)
    seed<S>/experts/<name>/final/         each expert: the seed continually pretrained on its PLs
    seed<S>/stitch-k<K>/stitch.pt         BTS: the trained stitch layers (the models stay frozen)
    seed<S>/btx/router.pt                 BTX: the trained routers
    seed<S>/eval/<model>/<pl>.json        pass@1 (greedy) and held-out loss per PL
    seed<S>/eval/<bts model>/gates.json   mean gate per stitch layer, model and PL
    report.md, results.json, *.png

Every stage writes its marker (``stage.json``) when it is finished and is skipped after that;
the training loops resume from their checkpoints, the evaluation from its finished PL files.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from xpl.experiments.bts.config import BTSExperimentConfig
from xpl.experiments.stages import Report, eval_problems, evaluation_record, prepare, silent
from xpl.io import write_json
from xpl.languages import get_language
from xpl.problems.problem import Problem
from xpl.training.common import ConfigError, mark_done, stage_done


def _loss_detail(logs: dict | None) -> str:
    return f"loss {logs['loss']:.3f}" if logs and "loss" in logs else ""


# ----------------------------------------------------------------------------- data


def stage_pool(config: BTSExperimentConfig, out: Path, test: list[Problem], report: Report) -> list[Problem]:
    from xpl.problems import read_problems
    from xpl.problems.family import build

    folder = out / "pool"
    if not stage_done(folder):
        report("pool: generating", 0, None, "")
        p = config.pool
        built = build(p.n, p.seed, folder, None, 0.0, tuple(p.levels), check=False, exclude=test)
        mark_done(folder, {"stage": "pool", "problems": len(built.problems), "excluded": built.excluded})
    problems, _ = read_problems(folder / "train.jsonl")
    return problems


def expert_texts(config: BTSExperimentConfig, pool: list[Problem], languages: list[str], seed: int) -> list[str]:
    from xpl.corpus import pretraining_corpus

    share = {get_language(x).name: 1.0 / len(languages) for x in languages}
    return [d.text for d in pretraining_corpus(pool, share, config.pool.expert_budget, "shuffle", seed, descriptions=config.pool.descriptions)]


def mix_texts(config: BTSExperimentConfig, pool: list[Problem], seed: int) -> list[str]:
    """The stitch / router mix: the experts' PLs in equal shares, plus ``seed_share`` of text
    drawn with the seed's own pretraining proportions."""
    from xpl.corpus import pretraining_corpus

    langs = sorted({get_language(x).name for e in config.experts for x in e.languages})
    shares = {x: (1 - config.pool.seed_share) / len(langs) for x in langs}
    total = sum(config.pool.seed_proportions.values())
    for x, v in config.pool.seed_proportions.items():
        name = get_language(x).name
        shares[name] = shares.get(name, 0.0) + config.pool.seed_share * v / total
    return [d.text for d in pretraining_corpus(pool, shares, config.pool.mix_budget, "shuffle", seed + 7, descriptions=config.pool.descriptions)]


# ----------------------------------------------------------------------------- training stages


def stage_expert(config: BTSExperimentConfig, out: Path, seed: int, index: int, base: Path, pool: list[Problem], report: Report) -> Path:
    from dataclasses import replace

    from xpl.models.loading import load_model
    from xpl.models.stitch import PlainLM
    from xpl.training.bts import token_blocks, train_loop

    expert = config.experts[index]
    folder = out / f"seed{seed}" / "experts" / expert.name
    done = stage_done(folder)
    if done:
        return Path(done["model"])
    model, tokenizer = load_model(base)
    for p in model.parameters():
        p.requires_grad_(True)
    blocks = token_blocks(tokenizer, expert_texts(config, pool, expert.languages, seed), config.pool.context)
    loop = replace(config.expert_train, seed=seed)
    record = train_loop(PlainLM(model), blocks, loop, folder, report=lambda s, m, logs: report(f"seed {seed}: expert {expert.name}", s, m, _loss_detail(logs)))
    final = folder / "final"
    model.save_pretrained(str(final))
    tokenizer.save_pretrained(str(final))
    mark_done(folder, {"stage": "expert", "expert": expert.name, "languages": expert.languages, "model": str(final),
                       "blocks": len(blocks), "tokens_seen": loop.steps * loop.batch_size * config.pool.context, **record})
    return final


def _models(base: Path, experts: list[Path]):
    from xpl.models.loading import load_model

    seed, tokenizer = load_model(base)
    return seed, [load_model(e)[0] for e in experts], tokenizer


def build_stitched(config: BTSExperimentConfig, base: Path, experts: list[Path], k: int):
    from xpl.models.stitch import StitchedModel, StitchSpec

    seed, models, tokenizer = _models(base, experts)
    config.check_layers(seed.config.num_hidden_layers)
    spec = StitchSpec(layers=k, gate_dropout=config.stitch.gate_dropout, hub_logit=config.stitch.hub_logit, h2e_bias=config.stitch.h2e_bias)
    return StitchedModel(seed, models, spec, [e.name for e in config.experts]), tokenizer


def stage_stitch(config: BTSExperimentConfig, out: Path, seed: int, k: int, base: Path, experts: list[Path], mix: list[list[int]], report: Report) -> dict:
    import torch
    from dataclasses import replace

    from xpl.training.bts import train_loop

    folder = out / f"seed{seed}" / f"stitch-k{k}"
    done = stage_done(folder)
    if done:
        return done
    model, _ = build_stitched(config, base, experts, k)
    frozen = {n: p.detach().clone() for n, p in model.named_parameters() if not n.startswith("stitches.")}
    loop = replace(config.stitch.train, seed=seed)
    record = train_loop(model, mix, loop, folder, report=lambda s, m, logs: report(f"seed {seed}: stitch K={k}", s, m, _loss_detail(logs)))
    changed = [n for n, p in model.named_parameters() if n in frozen and not torch.equal(p, frozen[n])]
    if changed:
        raise RuntimeError(f"stitch training changed frozen weights: {changed[:3]}")
    torch.save(model.stitches.state_dict(), folder / "stitch.pt")
    mark_done(folder, {"stage": "stitch", "k": k, "positions": model.positions, "stitch_parameters": sum(p.numel() for p in model.stitch_parameters()),
                       "frozen_unchanged": True, **record})
    return stage_done(folder)


def build_btx_model(config: BTSExperimentConfig, base: Path, experts: list[Path]):
    from xpl.models.stitch import build_btx

    seed, models, tokenizer = _models(base, experts)
    return build_btx(([seed] if config.btx.include_seed else []) + models, config.btx.top_k), tokenizer


def stage_btx(config: BTSExperimentConfig, out: Path, seed: int, base: Path, experts: list[Path], mix: list[list[int]], report: Report) -> dict:
    import torch
    from dataclasses import replace

    from xpl.models.stitch import PlainLM, router_parameters
    from xpl.training.bts import train_loop

    folder = out / f"seed{seed}" / "btx"
    done = stage_done(folder)
    if done:
        return done
    model, _ = build_btx_model(config, base, experts)
    loop = replace(config.stitch.train, seed=seed, learning_rate=config.btx.learning_rate)
    record = train_loop(PlainLM(model), mix, loop, folder, report=lambda s, m, logs: report(f"seed {seed}: BTX router", s, m, _loss_detail(logs)))
    torch.save({n: p.detach() for n, p in model.named_parameters() if p.requires_grad}, folder / "router.pt")
    mark_done(folder, {"stage": "btx", "router_parameters": sum(p.numel() for p in router_parameters(model)), **record})
    return stage_done(folder)


# ----------------------------------------------------------------------------- evaluation


def model_labels(config: BTSExperimentConfig) -> list[str]:
    """Every evaluated model, in the report's order."""
    out = []
    b = config.eval.baselines
    if "seed" in b:
        out.append("seed")
    if "experts" in b:
        out += [f"expert-{e.name}" for e in config.experts]
    for name in ("soup", "btx", "btm"):
        if name in b:
            out.append(name)
    out += [f"bts-k{k}" for k in config.stitch.layers]
    return out


def loader(config: BTSExperimentConfig, out: Path, seed: int, label: str, base: Path, experts: list[Path]):
    """A function building (model, tokenizer) for ``label``."""
    import torch

    from xpl.models.loading import load_model
    from xpl.models.stitch import Ensemble, soup

    names = [e.name for e in config.experts]
    if label == "seed":
        return lambda: load_model(base)
    if label.startswith("expert-"):
        return lambda: load_model(experts[names.index(label[len("expert-"):])])
    if label == "soup":
        def make_soup():
            _, models, tok = _models(base, experts)
            return soup(models), tok
        return make_soup
    if label == "btm":
        def make_btm():
            _, models, tok = _models(base, experts)
            return Ensemble(models), tok
        return make_btm
    if label == "btx":
        def make_btx():
            model, tok = build_btx_model(config, base, experts)
            state = torch.load(out / f"seed{seed}" / "btx" / "router.pt", weights_only=True)
            with torch.no_grad():
                for n, p in model.named_parameters():
                    if n in state:
                        p.copy_(state[n])
            return model, tok
        return make_btx
    if label.startswith("bts-k"):
        rest = label[len("bts-k"):]
        k, _, removed = rest.partition("-minus-")

        def make_bts():
            model, tok = build_stitched(config, base, experts, int(k))
            model.stitches.load_state_dict(torch.load(out / f"seed{seed}" / f"stitch-k{k}" / "stitch.pt", weights_only=True))
            if removed:
                model = model.without_expert(names.index(removed))
            model.eval()
            return model, tok
        return make_bts
    raise ValueError(label)


def gate_means(model, tokenizer, texts: list[str], batch_size: int = 32) -> list[dict[str, Any]]:
    """Per stitch layer: the mean gate of each model over every real token of ``texts`` (and
    over the hidden dimensions): E2H the softmax weight of the hub and each expert, H2E each
    expert's sigmoid share taken from the hub."""
    import torch

    sums: list[torch.Tensor] = []
    count = 0
    for i in range(0, len(texts), batch_size):
        enc = tokenizer([tokenizer.bos_token + t for t in texts[i : i + batch_size]], return_tensors="pt", padding=True, add_special_tokens=False)
        with torch.no_grad():
            out = model(enc["input_ids"], enc["attention_mask"])
        keep = enc["attention_mask"].bool()
        for j, (_, g) in enumerate(out.gates):
            s = g[keep].mean(dim=-1).sum(dim=0)  # [models]
            if len(sums) <= j:
                sums.append(torch.zeros_like(s))
            sums[j] += s
        count += int(keep.sum())
    return [{"after_layer": pos + 1, "kind": kind, "mean": (s / count).tolist()} for (pos, kind), s in zip(model.positions, sums)]


def stage_eval(config: BTSExperimentConfig, out: Path, seed: int, label: str, load, test: list[Problem], languages: list[str], engine,
               report: Report, pass_at_1: bool = True) -> None:
    """Held-out loss (and pass@1, greedy) of one model in every evaluation PL, one file per PL
    written when complete; BTS models also get their gates per PL."""
    from xpl.corpus import program_text
    from xpl.experiments.flex.pipeline import held_out_losses
    from xpl.models.generation import evaluate
    from xpl.models.stitch import StitchedModel, greedy_generate

    folder = out / f"seed{seed}" / "eval" / label
    todo = [lang for lang in languages if not (folder / f"{lang}.json").is_file()]
    gates_file = folder / "gates.json"
    if not todo and (gates_file.is_file() or not label.startswith("bts-")):
        return
    folder.mkdir(parents=True, exist_ok=True)
    model, tokenizer = load()
    model.eval()
    ev = config.eval
    tokenizer.padding_side = "right"
    for lang in todo:
        name = f"seed {seed}: {label} on {get_language(lang).display_name}"
        report(name, 0, None, "held-out loss")
        held, losses = held_out_losses(model, tokenizer, test, lang, ev.loss_problems, ev.batch_size)
        record: dict[str, Any] = {"seed": seed, "model": label, "language": lang, "loss_problems": [p.name for p in held], "loss": losses}
        if pass_at_1:
            problems = eval_problems(config, test, lang)
            rendered = [p.render_as(lang, "completion") for p in problems]
            completions = greedy_generate(model, tokenizer, [r.prompt_text(tokenizer) for r in rendered], [r.stop_sequences for r in rendered],
                                          ev.max_new_tokens, ev.batch_size, progress=lambda d, t: report(name, d, t, "greedy decoding"))
            result = evaluate(problems, lang, [[c] for c in completions], engine, progress=lambda d, t: report(name, d, t, "running tests"))
            record.update(evaluation_record(result, 1))
        write_json(folder / f"{lang}.json", record)
        tokenizer.padding_side = "right"
    if isinstance(model, StitchedModel) and not gates_file.is_file():
        per_lang = {}
        for lang in languages:
            held = [p for p in test if lang in p.solutions][:48]
            per_lang[lang] = gate_means(model, tokenizer, [program_text(p, lang) for p in held])
        write_json(gates_file, {"names": ["hub", *model.names], "languages": per_lang}, indent=1)


# ----------------------------------------------------------------------------- the run


def run_bts(config: BTSExperimentConfig, out: str | Path, report: Report = silent) -> dict[str, Any]:
    """Run (or resume) every stage of the BTS experiment and write its report."""
    from xpl.execution import Engine
    from xpl.experiments.bts.report import write_report
    from xpl.models.loading import load_model
    from xpl.training.bts import token_blocks
    from xpl.training.common import limit_threads

    limit_threads()
    started = time.perf_counter()
    timings: dict[str, float] = {}

    def timed(name: str, t0: float) -> None:
        timings[name] = timings.get(name, 0.0) + round(time.perf_counter() - t0, 1)

    t0 = time.perf_counter()
    out, languages, skipped, _train, test, base = prepare(config, out, report)
    seed_model, tokenizer = load_model(base)
    config.check_layers(seed_model.config.num_hidden_layers)
    del seed_model
    pool = stage_pool(config, out, test, report)
    timed("problems, seed and pool", t0)
    labels = model_labels(config)
    engine = Engine(workers=config.workers or None, store=out / "results.sqlite")
    try:
        for seed in config.seeds:
            t0 = time.perf_counter()
            experts = [stage_expert(config, out, seed, i, base, pool, report) for i in range(len(config.experts))]
            timed("experts", t0)
            t0 = time.perf_counter()
            mix = token_blocks(tokenizer, mix_texts(config, pool, seed), config.pool.context)
            for k in config.stitch.layers:
                stage_stitch(config, out, seed, k, base, experts, mix, report)
            timed("stitch layers", t0)
            if "btx" in config.eval.baselines:
                t0 = time.perf_counter()
                stage_btx(config, out, seed, base, experts, mix, report)
                timed("BTX router", t0)
            t0 = time.perf_counter()
            for label in labels:
                stage_eval(config, out, seed, label, loader(config, out, seed, label, base, experts), test, languages, engine, report)
            if config.eval.removal and len(config.experts) > 1:
                k = config.stitch.layers[0]
                for e in config.experts:
                    label = f"bts-k{k}-minus-{e.name}"
                    stage_eval(config, out, seed, label, loader(config, out, seed, label, base, experts), test, languages, engine, report, pass_at_1=False)
            timed("evaluation", t0)
    finally:
        engine.close()
    ledger = out / "elapsed.json"
    spent = json.loads(ledger.read_text()) if ledger.is_file() else []
    elapsed = time.perf_counter() - started
    write_json(ledger, [*spent, round(elapsed, 1)])
    stamp = out / "stage_seconds.json"
    before = json.loads(stamp.read_text()) if stamp.is_file() else []
    write_json(stamp, [*before, timings])
    return write_report(config, out, languages, skipped, labels, elapsed, [*spent, elapsed], [*before, timings])


__all__ = ["run_bts", "ConfigError"]
