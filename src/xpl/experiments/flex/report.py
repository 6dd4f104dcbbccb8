"""The FLeX experiment's report: ``results.json`` (every number), ``report.md`` (Table 2's
shape: pass@1 and held-out loss per PL with bootstrap CIs, paired differences, Sophia's steps
to the same validation loss, in plain words too) and the loss-curve and clipping plots."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from xpl.analysis.stats import bootstrap, bootstrap_difference, fmt, verdict
from xpl.experiments.config import to_dict
from xpl.experiments.flex.config import ARM_NAMES, OPT_NAMES, VARIANTS, FlexExperimentConfig
from xpl.experiments.stages import base_record, load_scores, setup_lines, versions
from xpl.io import write_json, write_text
from xpl.languages import get_language


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


def write_report(config: FlexExperimentConfig, out: Path, languages: list[str], skipped: dict[str, str], records: dict[str, dict], elapsed: float, invocations: list[float] | None = None) -> dict[str, Any]:
    seeds = list(config.seeds)
    table: dict[str, dict[str, Any]] = {}
    matrices: dict[tuple[str, str, str], np.ndarray] = {}
    for label, optimizer, arm, variant in rows(config):
        table[label] = {"optimizer": optimizer, "arm": arm, "variant": variant, "pass_at_1": {}, "loss": {}}
        for lang in languages:
            for metric, key in (("pass", "pass_at_1"), ("loss", "loss")):
                m, _ = load_scores(out, seeds, label, lang, metric)
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
        "pretraining": base_record(out),
        "seconds": round(elapsed, 1),  # this invocation
        "seconds_all_invocations": [round(x, 1) for x in (invocations or [elapsed])],
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
        cells = [fmt(row["pass_at_1"][x]) for x in langs] + [fmt(row["loss"][x]) for x in langs]
        lines.append(f"| {row_name(row['optimizer'], row['arm'], row['variant'])} | " + " | ".join(cells) + " |")
    lines += ["", "## Differences (paired bootstrap, 95% CI)", "",
              "| difference | " + " | ".join(f"{n} pass@1" for n in names) + " | " + " | ".join(f"{n} loss" for n in names) + " |",
              "|---|" + "---:|" * (2 * len(langs))]
    for key, d in results["deltas"].items():
        a, b = key.split(" - ")
        cells = [fmt(d["pass_at_1"][x], True) for x in langs] + [fmt(d["loss"][x], True) for x in langs]
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
                f"- **{name}** ({role}, {OPT_NAMES[opt]}): on pass@1, {verdict(d['pass_at_1'][lang], 'the Fourier regulariser')}; "
                f"on held-out loss, {verdict(d['loss'][lang], 'the Fourier regulariser', lower_is_better=True)}."
            )
    for opt in cfg["optimizers"]:
        for arm in cfg["arms"]:
            key = f"{opt}/{arm}-{variant0} - base"
            if key in results["deltas"]:
                parts = [f"{name} {fmt(results['deltas'][key]['loss'][lang], True)}" for lang, name in zip(langs, names)]
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
