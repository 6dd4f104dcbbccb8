"""The BTS experiment's report: ``results.json`` (every number), ``report.md`` (held-out loss and
pass@1 per PL for the seed, each expert, the soup, BTX, BTM and BTS with bootstrap CIs,
paired differences, expert removal, in plain words too) and the gate and training plots."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from xpl.analysis.stats import bootstrap, bootstrap_difference, fmt, verdict
from xpl.experiments.bts.config import BTSExperimentConfig
from xpl.experiments.config import to_dict
from xpl.experiments.stages import base_record, load_scores, setup_lines, versions
from xpl.io import write_json, write_text
from xpl.languages import get_language


def display(label: str) -> str:
    if label == "seed":
        return "seed"
    if label.startswith("expert-"):
        return f"expert {label[len('expert-'):]}"
    if label.startswith("bts-k"):
        k, _, removed = label[len("bts-k"):].partition("-minus-")
        return f"BTS K={k}" + (f" without {removed}" if removed else "")
    return {"soup": "soup (weight average)", "btx": "BTX (MoE of MLPs)", "btm": "BTM (probability ensemble)"}.get(label, label)


def own_expert(config: BTSExperimentConfig, lang: str) -> str | None:
    for e in config.experts:
        if lang in {get_language(x).name for x in e.languages}:
            return f"expert-{e.name}"
    return None


def write_report(config: BTSExperimentConfig, out: Path, languages: list[str], skipped: dict[str, str], labels: list[str],
                 elapsed: float, invocations: list[float], timings: list[dict[str, float]]) -> dict[str, Any]:
    seeds = list(config.seeds)
    matrices: dict[tuple[str, str, str], np.ndarray] = {}
    table: dict[str, dict[str, Any]] = {}
    for label in labels:
        table[label] = {"pass_at_1": {}, "loss": {}}
        for lang in languages:
            for metric, key in (("pass", "pass_at_1"), ("loss", "loss")):
                m, _ = load_scores(out, seeds, label, lang, metric)
                matrices[(label, lang, metric)] = m
                table[label][key][lang] = bootstrap(m).to_dict()
    bts = f"bts-k{config.stitch.layers[0]}"
    deltas: dict[str, dict[str, Any]] = {}

    def delta(name: str, a: str, b_of) -> None:
        row: dict[str, dict[str, Any]] = {"pass_at_1": {}, "loss": {}}
        for lang in languages:
            b = b_of(lang)
            if b is None or (b, lang, "pass") not in matrices:
                continue
            for metric, key in (("pass", "pass_at_1"), ("loss", "loss")):
                row[key][lang] = {**bootstrap_difference(matrices[(a, lang, metric)], matrices[(b, lang, metric)]).to_dict(), "against": b}
        deltas[name] = row

    delta(f"{bts} - seed", bts, lambda lang: "seed")
    delta(f"{bts} - own expert", bts, lambda lang: own_expert(config, lang))
    for other in ("soup", "btx", "btm"):
        if other in labels:
            delta(f"{bts} - {other}", bts, lambda lang, other=other: other)
    for k in config.stitch.layers[1:]:
        delta(f"{bts} - bts-k{k}", bts, lambda lang, k=k: f"bts-k{k}")
    if "experts" in config.eval.baselines:
        row: dict[str, dict[str, Any]] = {"pass_at_1": {}, "loss": {}}
        for lang in languages:
            e = own_expert(config, lang)
            if e and (e, lang, "pass") in matrices and ("seed", lang, "pass") in matrices:
                for metric, key in (("pass", "pass_at_1"), ("loss", "loss")):
                    row[key][lang] = {**bootstrap_difference(matrices[(e, lang, metric)], matrices[("seed", lang, metric)]).to_dict(), "against": "seed", "expert": e}
        deltas["own expert - seed"] = row
    removal: dict[str, Any] = {}
    if config.eval.removal and len(config.experts) > 1:
        for e in config.experts:
            label = f"{bts}-minus-{e.name}"
            if not (out / f"seed{seeds[0]}" / "eval" / label).is_dir():
                continue
            removal[e.name] = {}
            for lang in languages:
                m, _ = load_scores(out, seeds, label, lang, "loss")
                removal[e.name][lang] = {"loss": bootstrap(m).to_dict(),
                                         "delta": bootstrap_difference(m, matrices[(bts, lang, "loss")]).to_dict()}
    gates = {}
    for label in labels + [f"{bts}-minus-{e.name}" for e in config.experts]:
        path = out / f"seed{seeds[0]}" / "eval" / label / "gates.json"
        if path.is_file():
            gates[label] = json.loads(path.read_text())
    training = {}
    for seed in seeds:
        for sub in sorted((out / f"seed{seed}").glob("experts/*/stage.json")) + sorted((out / f"seed{seed}").glob("*/stage.json")):
            rec = json.loads(sub.read_text())
            training[f"seed{seed}/{sub.parent.relative_to(out / f'seed{seed}')}"] = {k: rec.get(k) for k in ("losses", "seconds", "steps", "stitch_parameters", "router_parameters", "tokens_seen", "blocks", "positions")}
    pool = json.loads((out / "pool" / "stage.json").read_text())
    results = {
        "experiment": config.name,
        "model": config.model,
        "seeds": seeds,
        "languages": languages,
        "skipped_languages": skipped,
        "labels": labels,
        "problems_per_language": {lang: {"pass": int(matrices[(labels[0], lang, "pass")].shape[1]), "loss": int(matrices[(labels[0], lang, "loss")].shape[1])} for lang in languages},
        "table": table,
        "deltas": deltas,
        "removal": removal,
        "gates": gates,
        "training": training,
        "pool": {"problems": pool.get("problems"), "excluded": pool.get("excluded")},
        "pretraining": base_record(out),
        "seconds": round(elapsed, 1),
        "seconds_all_invocations": [round(x, 1) for x in invocations],
        "stage_seconds": timings,
        "versions": versions(),
        "config": to_dict(config),
    }
    write_json(out / "results.json", results, indent=2)
    plots = _plots(results, out)
    write_text(out / "report.md", render_markdown(results, plots))
    return results


def render_markdown(results: dict[str, Any], plots: list[str]) -> str:
    langs = results["languages"]
    names = [get_language(x).display_name for x in langs]
    cfg = results["config"]
    bts = f"bts-k{cfg['stitch']['layers'][0]}"
    experts = ", ".join(f"{e['name']} ({', '.join(get_language(x).display_name for x in e['languages'])})" for e in cfg["experts"])
    runs = results["seconds_all_invocations"]
    run_time = f"{sum(runs) / 60:.1f} min" + (f" over {len(runs)} invocations" if len(runs) > 1 else "")
    counts = ", ".join(f"{results['problems_per_language'][x]['pass']} (pass@1) / {results['problems_per_language'][x]['loss']} (loss)" for x in langs[:1])
    st = cfg["stitch"]["train"]
    lines = [
        f"# {results['experiment']}: Branch-Train-Stitch on `{results['model']}`",
        "",
        f"Experts (the seed continually pretrained for {cfg['expert_train']['steps']} steps of {cfg['expert_train']['batch_size']} x {cfg['pool']['context']} tokens on its PLs): {experts}. "
        f"Stitch layers (K = {', '.join(map(str, cfg['stitch']['layers']))}) and the BTX router: {st['steps']} steps of {st['batch_size']} x {cfg['pool']['context']} tokens on one mix "
        f"(the experts' PLs, plus {cfg['pool']['seed_share']:.0%} with the seed's proportions); only they train. Training text: {results['pool']['problems']} family problems of seed {cfg['pool']['seed']} "
        f"({results['pool']['excluded']} dropped for behaving like a held-out problem). Held-out problems per PL: {counts}; pass@1 greedy (one completion per problem). "
        f"Seeds {results['seeds']}. Run time {run_time}.",
        "",
        "## Held-out loss per PL (nats per token of the reference solution given the prompt; 95% bootstrap CI over problems)",
        "",
        "| model | " + " | ".join(names) + " |",
        "|---|" + "---:|" * len(langs),
    ]
    for label in results["labels"]:
        lines.append(f"| {display(label)} | " + " | ".join(fmt(results["table"][label]["loss"][x]) for x in langs) + " |")
    lines += ["", "## pass@1 per PL (greedy; 95% bootstrap CI over problems)", "", "| model | " + " | ".join(names) + " |", "|---|" + "---:|" * len(langs)]
    for label in results["labels"]:
        lines.append(f"| {display(label)} | " + " | ".join(fmt(results["table"][label]["pass_at_1"][x]) for x in langs) + " |")
    lines += ["", "## Differences (paired bootstrap over problems, 95% CI)", "",
              "\"own expert\": in each PL, the expert whose PLs include it.", "",
              "| difference | metric | " + " | ".join(names) + " |", "|---|---|" + "---:|" * len(langs)]
    for key, d in results["deltas"].items():
        a, b = key.split(" - ")
        for metric, mname in (("loss", "loss"), ("pass_at_1", "pass@1")):
            cells = [fmt(d[metric][x], True) if x in d[metric] else "n/a" for x in langs]
            lines.append(f"| {display(a) if a != 'own expert' else 'own expert'} − {display(b) if b != 'own expert' else 'own expert'} | {mname} | " + " | ".join(cells) + " |")
    lines += ["", "## In plain words", ""]
    for lang, name in zip(langs, names):
        parts = []
        for key, what in ((f"{bts} - seed", "against the seed"), (f"{bts} - own expert", "against its own expert")):
            d = results["deltas"].get(key, {})
            if lang in d.get("loss", {}):
                parts.append(f"{what}, on loss {verdict(d['loss'][lang], 'BTS', lower_is_better=True)}; on pass@1 {verdict(d['pass_at_1'][lang], 'BTS')}")
        e = results["deltas"].get("own expert - seed", {})
        if lang in e.get("loss", {}):
            parts.insert(0, f"the expert against the seed: on loss {verdict(e['loss'][lang], 'continual pretraining', lower_is_better=True)}")
        if parts:
            lines.append(f"- **{name}**: " + "; ".join(parts) + ".")
    if results["removal"]:
        lines += ["", f"## Removing an expert from {display(bts)} (no retraining): held-out loss and its change", "",
                  "| removed | " + " | ".join(names) + " |", "|---|" + "---:|" * len(langs)]
        for name, row in results["removal"].items():
            lines.append(f"| {name} | " + " | ".join(f"{row[x]['loss']['mean']:.3f} ({row[x]['delta']['mean']:+.3f} [{row[x]['delta']['low']:+.3f}, {row[x]['delta']['high']:+.3f}])" for x in langs) + " |")
    if results["gates"].get(bts):
        g = results["gates"][bts]
        lines += ["", f"## Gates of {display(bts)} (mean over the tokens of held-out programs and the hidden dimensions)", "",
                  "| PL | " + " | ".join(f"after layer {s['after_layer']} ({'experts→hub' if s['kind'] == 'experts_into_hub' else 'hub→experts'})" for s in g["languages"][langs[0]]) + " |",
                  "|---|" + "---|" * len(g["languages"][langs[0]])]
        for lang, name in zip(langs, names):
            cells = []
            for s in g["languages"][lang]:
                who = g["names"] if s["kind"] == "experts_into_hub" else g["names"][1:]
                cells.append(", ".join(f"{w} {v:.2f}" for w, v in zip(who, s["mean"])))
            lines.append(f"| {name} | " + " | ".join(cells) + " |")
    lines += ["", "## Training and time", ""]
    for key, rec in results["training"].items():
        losses = rec.get("losses") or []
        if losses:
            extra = f", {rec['stitch_parameters']:,} trainable parameters" if rec.get("stitch_parameters") else (f", {rec['router_parameters']:,} trainable parameters" if rec.get("router_parameters") else "")
            lines.append(f"- {key}: loss {losses[0]['loss']:.3f} → {losses[-1]['loss']:.3f} in {rec['steps']} steps, {rec['seconds']:.0f} s{extra}")
    for i, t in enumerate(results["stage_seconds"]):
        lines.append(f"- invocation {i + 1}: " + ", ".join(f"{k} {v / 60:.1f} min" for k, v in t.items()))
    lines += setup_lines(results)
    if plots:
        lines += ["", "## Plots", ""] + [f"![{p}]({p})" for p in plots]
    lines += ["", "Every number above is in `results.json`; completions and test outcomes are under `seed*/eval/`."]
    return "\n".join(lines) + "\n"


def _plots(results: dict[str, Any], out: Path) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    made = []
    langs = results["languages"]
    for label, g in results["gates"].items():
        if "-minus-" in label:
            continue
        layers = g["languages"][langs[0]]
        fig, axes = plt.subplots(1, len(layers), figsize=(4.2 * len(layers), 3.8), squeeze=False)
        for ax, j in zip(axes[0], range(len(layers))):
            kind = layers[j]["kind"]
            who = g["names"] if kind == "experts_into_hub" else g["names"][1:]
            x = np.arange(len(langs))
            width = 0.8 / len(who)
            for w, name in enumerate(who):
                ax.bar(x + w * width - 0.4 + width / 2, [g["languages"][lang][j]["mean"][w] for lang in langs], width, label=name)
            ax.set_xticks(x, [get_language(lang).display_name for lang in langs], rotation=45, fontsize=8)
            ax.set_ylim(0, 1)
            ax.set_title(f"after layer {layers[j]['after_layer']}: {'experts → hub (softmax)' if kind == 'experts_into_hub' else 'hub → experts (sigmoid)'}", fontsize=9)
            ax.legend(fontsize=7)
        fig.suptitle(f"{display(label)}: mean gate per model and PL")
        fig.tight_layout()
        name = f"gates_{label}.png"
        fig.savefig(out / name, dpi=100)
        plt.close(fig)
        made.append(name)
    fig, ax = plt.subplots(figsize=(7, 4))
    for key, rec in results["training"].items():
        losses = rec.get("losses") or []
        if losses:
            ax.plot([r["step"] for r in losses], [r["loss"] for r in losses], label=key.split("/", 1)[1])
    ax.set_xlabel("step")
    ax.set_ylabel("training loss (nats / token)")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out / "training.png", dpi=100)
    plt.close(fig)
    made.append("training.png")
    return made
