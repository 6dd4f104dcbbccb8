"""The experiment's report: ``results.json`` (every number), ``report.md`` (the paper-style
table with bootstrap CIs and deltas, in plain words too) and plots.

Every number in the report is computed here from the evaluation files the run wrote; the
table is produced from ``results.json``'s values, so the two always agree.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from xpl.analysis.stats import bootstrap, bootstrap_difference, fmt, verdict
from xpl.experiments.config import to_dict
from xpl.experiments.spec import ARMS, ExperimentConfig
from xpl.experiments.stages import base_record, load_scores, setup_lines, versions
from xpl.io import write_json, write_text
from xpl.languages import get_language

ARM_NAMES = {"base": "base", "sft": "SFT", "sft_rl": "SFT + RL", "parallel_sft": "Parallel-SFT", "parallel_sft_rl": "Parallel-SFT + RL"}
# The paired differences reported, the question each answers first.
DELTAS = (
    "sft_rl - sft",  # what RL on the source PL adds after SFT
    "parallel_sft_rl - parallel_sft",  # ... and after Parallel-SFT
    "parallel_sft_rl - sft_rl",  # the two recipes, end to end
    "parallel_sft - sft",  # the two SFTs, before RL
    "sft_rl - base",
    "parallel_sft_rl - base",
)


def write_report(
    config: ExperimentConfig,
    out: Path,
    languages: list[str],
    skipped: dict[str, str],
    rl_records: dict[str, dict[int, dict]],
    elapsed: float,
    representations: dict[str, Any] | None = None,
) -> dict[str, Any]:
    seeds = list(config.seeds)
    table: dict[str, dict[str, Any]] = {arm: {} for arm in ARMS}
    deltas: dict[str, dict[str, Any]] = {key: {} for key in DELTAS}
    changes: dict[str, dict[str, Any]] = {key: {} for key in DELTAS}
    problems_per_language = {}
    for lang in languages:
        scores = {}
        for arm in ARMS:
            scores[arm], names = load_scores(out, seeds, arm, lang)
            est = bootstrap(scores[arm])
            table[arm][lang] = {**est.to_dict(), "per_seed": [float(x) for x in scores[arm].mean(axis=1)]}
        problems_per_language[lang] = len(names)
        for key in deltas:
            a, b = key.split(" - ")
            deltas[key][lang] = bootstrap_difference(scores[a], scores[b]).to_dict()
            changes[key][lang] = changed_problems(scores[a], scores[b], names)
    results = {
        "experiment": config.name,
        "model": config.model,
        "seeds": seeds,
        "source_language": config.source_language,
        "languages": languages,
        "skipped_languages": skipped,
        "problems_per_language": problems_per_language,
        "samples_per_problem": config.eval.samples,
        "samples_per_language": {lang: config.eval.samples_for(lang, config.source_language) for lang in languages},
        "temperature": config.eval.temperature,
        "temperature_per_language": {lang: config.eval.temperature_for(lang, config.source_language) for lang in languages},
        "pass_at_1": table,
        "deltas": deltas,
        "changed_problems": changes,
        "rl_reward_curves": {arm: {str(s): r["reward_curve"] for s, r in recs.items()} for arm, recs in rl_records.items()},
        "rl_reward_share": {arm: {str(s): r.get("reward_share") for s, r in recs.items()} for arm, recs in rl_records.items()},
        "rl_pool": {arm: {str(s): r.get("pool") for s, r in recs.items()} for arm, recs in rl_records.items()},
        "rl_problems": _rl_problems_record(out, config),
        "pretraining": base_record(out),
        "representations": {k: representations[k] for k in ("languages", "num_groups", "summary") if k in representations}
        if representations
        else None,
        "reused": _reused(out),
        "seconds": round(elapsed, 1),
        "versions": versions(),
        "config": to_dict(config),
    }
    write_json(out / "results.json", results, indent=2)
    plots = _plots(results, out)
    text = render_markdown(results, plots)
    if representations:
        from xpl.analysis.representations import report_markdown

        section = report_markdown(representations).replace("## Representations", "## Representations (first seed)", 1)
        images = "".join(f"![{p}](representations/{p})\n" for p in representations.get("plots", []))
        text += "\n" + section + "\n" + images
    write_text(out / "report.md", text)
    return results


def changed_problems(after: np.ndarray, before: np.ndarray, names: list[str]) -> dict[str, dict[str, float]]:
    """Where a paired difference comes from: per family function (a problem's own name outside
    the family), the (seed, problem) pairs whose pass@1 rose and fell, and the net change summed
    over them (the difference is the net over all groups / (problems x seeds))."""
    from xpl.problems.family import function_of

    groups: dict[str, dict[str, float]] = {}
    diff = after - before  # [seed, problem]
    for j, name in enumerate(names):
        column = diff[:, j]
        if not column.any():
            continue
        g = groups.setdefault(function_of(name) or name, {"up": 0, "down": 0, "net": 0.0})
        g["up"] += int((column > 0).sum())
        g["down"] += int((column < 0).sum())
        g["net"] = round(g["net"] + float(column.sum()), 4)
    return dict(sorted(groups.items(), key=lambda kv: (-abs(kv[1]["net"]), kv[0])))


def _changes_line(key: str, groups: dict[str, dict[str, float]], most: int = 4) -> str:
    a, b = key.split(" - ")
    if not groups:
        return f"{ARM_NAMES[a]} − {ARM_NAMES[b]}: no problem changed"
    shown = [f"{name} {g['net']:+.1f} ({g['up']} up, {g['down']} down)" for name, g in list(groups.items())[:most]]
    more = len(groups) - most
    return f"{ARM_NAMES[a]} − {ARM_NAMES[b]}: " + "; ".join(shown) + (f"; {more} more" if more > 0 else "")


def _per_seed_lines(results: dict[str, Any], source: str) -> list[str]:
    """Each seed's difference in the source PL, and their spread: a pooled interval over a few
    seeds says little where seeds disagree as much as the mean (on the organism, 117 of the
    1,140 three-seed subsets of twenty seeds resolved RL's gain after SFT)."""
    seeds = results.get("seeds") or []
    table = results["pass_at_1"]
    if len(seeds) < 2 or any("per_seed" not in table[arm].get(source, {}) for arm in ARMS):
        return []
    lines = ["", f"Per seed, in {get_language(source).display_name} (seeds {', '.join(map(str, seeds))}; standard deviation over seeds):", ""]
    for key in DELTAS[:4]:
        a, b = key.split(" - ")
        diffs = np.array(table[a][source]["per_seed"]) - np.array(table[b][source]["per_seed"])
        each = ", ".join(f"{d:+.3f}" for d in diffs)
        lines.append(f"- {ARM_NAMES[a]} − {ARM_NAMES[b]}: {each} (sd {diffs.std(ddof=1):.3f})")
    lines += ["", "Where seeds spread about as widely as their mean difference, a few seeds cannot settle it: `--seeds 0-9` adds seeds to this run directory and keeps the finished ones."]
    return lines


def what_ran(results: dict[str, Any]) -> str:
    """The report's first line: model, seeds, samples and held-out problems per PL, run time."""
    langs = results["languages"]
    counts = ", ".join(f"{get_language(x).display_name} {results['problems_per_language'][x]}" for x in langs)
    per_language = results.get("samples_per_language") or {}  # absent in the results of older runs
    other = {x: k for x, k in per_language.items() if k != results["samples_per_problem"]}
    temperatures = results.get("temperature_per_language") or {}  # likewise
    hot = {x: t for x, t in temperatures.items() if t != results.get("temperature")}
    differ = [x for x in per_language if x in other or x in hot]
    k = results["samples_per_problem"]

    def how(x: str) -> str:
        return f"{get_language(x).display_name}: {other.get(x, k)}" + (f" at temperature {hot[x]:g}" if x in hot else "")

    samples = f"{k} sample{'s' if k != 1 else ''} per problem" + (
        f" at temperature {results['temperature']:g}" if hot else ""
    ) + (" (" + ", ".join(how(x) for x in differ) + ")" if differ else "")
    reused = results.get("reused")
    return (
        f"Model `{results['model']}`; seeds {results['seeds']}; {samples}; held-out problems per PL: {counts}. "
        f"Run time {results['seconds'] / 60:.1f} min." + (f" {reused['summary']}" if reused else "")
    )


def _reused(out: Path) -> dict[str, Any] | None:
    """Where finished stages were taken from (``xpl run --reuse``), if anywhere."""
    from xpl.experiments.reuse import RECORD, summary

    record = out / RECORD
    if not record.is_file():
        return None
    runs = json.loads(record.read_text())
    return {"runs": runs, "summary": summary(runs)}


def render_markdown(results: dict[str, Any], plots: list[str]) -> str:
    langs = results["languages"]
    names = [get_language(x).display_name for x in langs]
    source = results["source_language"]
    lines = [
        f"# {results['experiment']}: does RL on {get_language(source).display_name} transfer to other PLs?",
        "",
        what_ran(results),
        "",
        "## pass@1 (95% bootstrap CI over problems and seeds)",
        "",
        "| arm | " + " | ".join(names) + " |",
        "|---|" + "---:|" * len(langs),
    ]
    for arm in ARMS:
        cells = [fmt(results["pass_at_1"][arm][x]) for x in langs]
        lines.append(f"| {ARM_NAMES[arm]} | " + " | ".join(cells) + " |")
    lines += ["", "## Differences (paired bootstrap, 95% CI)", "", "| difference | " + " | ".join(names) + " |", "|---|" + "---:|" * len(langs)]
    for key, row in results["deltas"].items():
        a, b = key.split(" - ")
        cells = [fmt(row[x], signed=True) for x in langs]
        lines.append(f"| {ARM_NAMES[a]} − {ARM_NAMES[b]} | " + " | ".join(cells) + " |")
    lines += ["", "## In plain words", ""]
    rl_on = f"RL on {get_language(source).display_name}"
    for lang, name in zip(langs, names):
        deltas = {key: row[lang] for key, row in results["deltas"].items()}
        after_sft = verdict(deltas["sft_rl - sft"], f"{rl_on} after SFT")
        after_par = verdict(deltas["parallel_sft_rl - parallel_sft"], "after Parallel-SFT it")
        recipe = verdict(deltas["parallel_sft_rl - sft_rl"], "Parallel-SFT + RL against SFT + RL")
        role = _role(lang, source, results.get("config", {}))
        lines.append(f"- **{name}** ({role}): {after_sft}; {after_par}. End to end, {recipe}.")
    changes = results.get("changed_problems")
    if changes:
        lines += [
            "",
            f"Where the {get_language(source).display_name} differences come from: the problems whose pass@1 changed, "
            "by family function (seed x problem pairs up and down; net change in problems, summed over seeds):",
            "",
        ]
        lines += [f"- {_changes_line(key, changes[key].get(source, {}))}" for key in DELTAS[:4]]
    lines += _per_seed_lines(results, source)
    lines += setup_lines(results)
    shares = [s for recs in results["rl_reward_share"].values() for s in recs.values() if s is not None]
    if shares:
        low, high = _share(min(shares)), _share(max(shares))
        span = low if low == high else f"{low}–{high}"
        lines += ["", f"RL rewards come from running every completion's tests in the sandbox; that took {span} of the RL stages' time."]
    rl = results.get("rl_problems")
    if rl and "file" in rl:
        shipped = {"organism": "the pool shipped with the organism", "smollm2": "the pool shipped with this configuration"}.get(rl["file"], f"`{rl['file']}`")
        lines += ["", f"RL problems (`rl_problems.file`): not the SFT data but the {rl['kept']:,} problems of {shipped}" + (f": {rl['about']}" if rl.get("about") else ".")]
        if rl.get("clean") is False:
            lines += ["", "**Warning**: the RL problems were cleaned against another problem set than this run's; some may behave like a held-out problem here."]
    elif rl:
        levels = ", ".join(map(str, rl["levels"]))
        kept = (
            f"of the {rl['verified']:,} left, the {rl['kept']:,} the base model passed in some but not all of {rl['mixed']['samples']} samples, the same for every arm and seed"
            if rl.get("mixed")
            else f"{rl['kept']:,} kept"
        )
        lines += ["", f"RL problems (`rl_problems`): not the SFT data but new family problems in {get_language(source).display_name} (seed {rl['seed']}, levels {levels}): {rl['generated']:,} generated, {rl['excluded']:,} dropped for behaving like a held-out problem; {kept}."]
    pools = [p for recs in results.get("rl_pool", {}).values() for p in recs.values() if p]
    if pools:
        kept = ", ".join(str(p["kept"]) for p in pools)
        what = "RL problems" if rl else "training problems"
        lines += ["", f"RL pool (grpo.pool mixed): of {pools[0]['of']:,} {what}, the ones the starting model passed in some but not all of {pools[0]['samples']} samples: {kept} (per arm and seed)."]
    if plots:
        lines += ["", "## Plots", ""] + [f"![{p}]({p})" for p in plots]
    lines += ["", "Every number above is in `results.json`, with the configuration and library versions; raw completions and test outcomes are under `seed*/eval/`."]
    return "\n".join(lines) + "\n"


def _rl_problems_record(out: Path, config: ExperimentConfig) -> dict[str, Any] | None:
    """The ``rl_problems`` stage's counts and spec (None when GRPO ran on the train split)."""
    path = out / "rl_problems" / "stage.json"
    if not (config.rl_problems.n or config.rl_problems.file) or not path.is_file():
        return None
    rec = json.loads(path.read_text())
    spec = config.rl_problems
    if "file" in rec:  # a problems file, with what its sidecar said when the stage read it
        clean = rec.get("clean_against")
        return {"file": spec.file, "kept": rec["kept"], "about": rec.get("about"), "clean": None if clean is None else clean == to_dict(config.problems)}
    return {k: rec.get(k) for k in ("generated", "excluded", "verified", "kept", "mixed")} | {"seed": spec.seed, "levels": list(spec.levels), "keep": spec.keep}


def _role(lang: str, source: str, config: dict[str, Any]) -> str:
    """Where a PL was trained on: the source PL (SFT and RL), Parallel-SFT's data only, or neither."""
    if lang == get_language(source).name:
        return "the source PL"
    parallel = {get_language(x).name for x in config.get("parallel_sft", {}).get("parallel_languages", [])}
    return "in Parallel-SFT's data, not in RL" if lang in parallel else "in neither SFT nor RL"


def _share(x: float) -> str:
    return f"{x:.0%}" if x >= 0.01 else f"{x:.1%}"


def _plots(results: dict[str, Any], out: Path) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    made = []
    langs = results["languages"]
    fig, ax = plt.subplots(figsize=(max(7, 1.8 * len(langs) + 2), 4))
    width = 0.8 / len(ARMS)
    x = np.arange(len(langs))
    for i, arm in enumerate(ARMS):
        row = results["pass_at_1"][arm]
        means = np.array([row[lang]["mean"] for lang in langs])
        err = np.array([[row[lang]["mean"] - row[lang]["low"] for lang in langs], [row[lang]["high"] - row[lang]["mean"] for lang in langs]])
        ax.bar(x + (i - (len(ARMS) - 1) / 2) * width, means, width, yerr=err, capsize=3, label=ARM_NAMES[arm])
    ax.set_xticks(x, [get_language(lang).display_name for lang in langs])
    ax.set_ylabel("pass@1 (95% CI)")
    ax.set_title("pass@1 per PL and arm")
    ax.legend()
    fig.tight_layout()
    fig.savefig(out / "pass_at_1.png", dpi=120)
    plt.close(fig)
    made.append("pass_at_1.png")
    curves = results["rl_reward_curves"]
    if any(curves[arm] for arm in curves):
        fig, ax = plt.subplots(figsize=(6, 4))
        for (arm, per_seed), colour in zip(curves.items(), ("tab:orange", "tab:green")):
            for k, curve in enumerate(per_seed.values()):
                steps = [c["step"] for c in curve]
                ax.plot(steps, [c["reward"] for c in curve], color=colour, alpha=0.8, label=ARM_NAMES[arm] if k == 0 else None)
        ax.set_xlabel("GRPO step")
        ax.set_ylabel("mean reward (tests passed)")
        ax.set_title(f"RL on {get_language(results['source_language']).display_name}: reward per step (one line per seed)")
        ax.legend()
        fig.tight_layout()
        fig.savefig(out / "rewards.png", dpi=120)
        plt.close(fig)
        made.append("rewards.png")
    return made
