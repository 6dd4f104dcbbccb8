"""``xpl compare RUN_A RUN_B``: two experiment runs' models against each other, model by model.

A sweep over one stage's settings (``xpl run variant.yaml --reuse RUN``) leaves two run
directories whose models of one name (``sft_rl``, ...) differ only in that setting, trained
from the same starting models seed by seed. The question is then not each run's table but
the paired difference: for every model both runs evaluated and every PL, on the seeds both
have, ``after - before`` per (seed, problem), pooled with the same two-level bootstrap as the
run's own report (seeds and problems resampled), each seed's difference and their spread, and
which family functions the difference comes from. The numbers come from the evaluation files
(``seed<S>/eval/<model>/<pl>.json``), so a run still going can be compared on its finished
seeds.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from xpl.analysis.stats import bootstrap, fmt
from xpl.experiments.report import ARM_NAMES, changed_problems
from xpl.experiments.spec import ARMS
from xpl.languages import all_languages, get_language

_SEED_DIR = re.compile(r"seed(\d+)$")


def is_run_directory(path: Path) -> bool:
    """A folder ``xpl run`` (or ``xpl flex``) wrote: its ``config.json`` and seed folders."""
    path = Path(path)
    return (path / "config.json").is_file() and any(_SEED_DIR.match(p.name) for p in path.glob("seed*") if p.is_dir())


def _evaluations(run: Path) -> dict[tuple[str, str], dict[int, Path]]:
    """``{(model, pl): {seed: evaluation file}}`` of a run directory."""
    if not (run / "config.json").is_file():
        raise ValueError(f"{run}: no config.json (not an `xpl run` directory)")
    found: dict[tuple[str, str], dict[int, Path]] = {}
    pls = {lang.name for lang in all_languages()}  # xpl bts keeps its gates.json beside the per-PL files
    for seed_dir in run.glob("seed*"):
        match = _SEED_DIR.match(seed_dir.name)
        if not match or not seed_dir.is_dir():
            continue
        for file in (seed_dir / "eval").glob("*/*.json"):
            if file.stem not in pls:
                continue
            found.setdefault((file.parent.name, file.stem), {})[int(match.group(1))] = file
    if not found:
        raise ValueError(f"{run}: no evaluation files yet (seed*/eval/<model>/<pl>.json)")
    return found


def _read(file: Path) -> dict[str, Any]:
    try:
        rec = json.loads(file.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"{file}: unreadable ({exc})") from None
    if not isinstance(rec, dict) or not (all(k in rec for k in ("problems", "passed", "samples")) or "loss" in rec):
        raise ValueError(f"{file}: not an evaluation file (needs problems, passed, samples)")
    return rec


def _name(model: str) -> str:
    return ARM_NAMES.get(model, model)


def _scores(rec: dict[str, Any]) -> np.ndarray:
    return np.asarray(rec["passed"], dtype=float) / rec["samples"]


def compare_runs(
    before: Path,
    after: Path,
    models: Sequence[str] | None = None,
    languages: Sequence[str] | None = None,
    reps: int = 2000,
) -> dict[str, Any]:
    """Per model and PL both runs evaluated: ``after - before`` on their shared seeds and
    problems (the same problems in both runs, seed by seed, or a one-line error)."""
    before, after = Path(before), Path(after)
    a, b = _evaluations(before), _evaluations(after)
    # The Parallel-SFT experiment's models in its order, then any other experiment's (xpl flex).
    present = {m for m, _ in a} | {m for m, _ in b}
    known = [m for m in ARMS if m in present] + sorted(present - set(ARMS))
    if models:
        unknown = [m for m in models if m not in present]
        if unknown:
            raise ValueError(f"no model {', '.join(map(repr, unknown))} in either run; they evaluated {', '.join(known)}")
    wanted_models = list(dict.fromkeys(models)) if models else known
    wanted_langs = list(dict.fromkeys(get_language(x).name for x in languages)) if languages else None
    rows: list[dict[str, Any]] = []
    identical: list[dict[str, Any]] = []
    notes: list[str] = []
    for model in wanted_models:
        langs = wanted_langs or sorted({lang for m, lang in a if m == model} & {lang for m, lang in b if m == model})
        for lang in langs:
            seeds_a, seeds_b = a.get((model, lang), {}), b.get((model, lang), {})
            shared = sorted(set(seeds_a) & set(seeds_b))
            if not shared:
                if models or wanted_langs:  # asked for by name: say why it is missing
                    have = "no seed at all" if not (seeds_a or seeds_b) else "no seed in common"
                    notes.append(f"{_name(model)} in {get_language(lang).display_name}: {have}.")
                continue
            x_rows, y_rows, names, sampling = [], [], None, set()
            for seed in shared:
                ra, rb = _read(seeds_a[seed]), _read(seeds_b[seed])
                if "passed" not in ra or "passed" not in rb:  # a model evaluated for held-out loss only (xpl bts)
                    break
                if ra["problems"] != rb["problems"]:
                    raise ValueError(
                        f"seed {seed}, {model}/{lang}: the two runs evaluated different problems "
                        f"({len(ra['problems'])} and {len(rb['problems'])}): a paired comparison needs the same ones"
                    )
                if names is not None and ra["problems"] != names:
                    raise ValueError(f"{model}/{lang} was evaluated on different problems in different seeds (seed {seed} and seed {shared[0]})")
                names = ra["problems"]
                x_rows.append(_scores(ra))
                y_rows.append(_scores(rb))
                sampling.add(((ra["samples"], ra.get("temperature")), (rb["samples"], rb.get("temperature"))))
            if len(x_rows) < len(shared):
                notes.append(f"{_name(model)} in {get_language(lang).display_name}: held-out loss only, no pass@1 to compare.")
                continue
            x, y = np.vstack(x_rows), np.vstack(y_rows)
            # (samples, temperature) of each side where the two sampled differently
            differing = sorted(f"before {sa} samples at T {ta}, after {sb} at T {tb}" for (sa, ta), (sb, tb) in sampling if (sa, ta) != (sb, tb))
            if np.array_equal(x, y) and set(seeds_a) == set(seeds_b) and not differing:
                # The same model evaluated the same way (a stage `--reuse` linked in): a row of zeros says nothing.
                identical.append({"model": model, "language": lang, "seeds": shared})
                continue
            per_seed = (y - x).mean(axis=1)
            rows.append({
                "model": model,
                "language": lang,
                "seeds": shared,
                "only_before": sorted(set(seeds_a) - set(seeds_b)),
                "only_after": sorted(set(seeds_b) - set(seeds_a)),
                "problems": len(names or []),
                "before": bootstrap(x, reps).to_dict(),
                "after": bootstrap(y, reps).to_dict(),
                "difference": bootstrap(y - x, reps).to_dict(),
                "per_seed": [round(float(d), 6) for d in per_seed],
                "sd": float(per_seed.std(ddof=1)) if len(shared) > 1 else None,
                "changes": changed_problems(y, x, names or []),
                "sampling": differing,
            })
    if not rows and not identical:
        raise ValueError(f"{before} and {after} share no evaluated model, PL and seed" + (f" ({' '.join(notes)})" if notes else ""))
    return {"before": str(before), "after": str(after), "rows": rows, "identical": identical, "notes": notes}


def render_run_comparison(result: dict[str, Any], most: int = 4) -> str:
    lines = [
        "# xpl compare: two runs, model by model",
        "",
        f"before: {result['before']}  ",
        f"after: {result['after']}",
        "",
        "| model | PL | seeds | problems | before | after | after − before (paired) | per seed (sd) |",
        "|---|---|---:|---:|---|---|---|---|",
    ]
    if not result["rows"]:
        lines.append("| (every model both runs evaluated is the same in both: below) | | | | | | | |")
    for r in result["rows"]:
        diff = fmt(r["difference"], signed=True)
        if r["difference"]["low"] > 0 or r["difference"]["high"] < 0:
            diff = f"**{diff}**"
        each = ", ".join(f"{d:+.3f}" for d in r["per_seed"]) + (f" ({r['sd']:.3f})" if r["sd"] is not None else "")
        lines.append(
            f"| {_name(r['model'])} | {get_language(r['language']).display_name} | {len(r['seeds'])} | {r['problems']} | "
            f"{fmt(r['before'])} | {fmt(r['after'])} | {diff} | {each} |"
        )
    moved = [r for r in result["rows"] if r["changes"]]
    if moved:
        lines += ["", "Where the differences come from (family function: net passing problems summed over seeds; (seed, problem) pairs up, down):", ""]
        for r in moved:
            shown = [f"{name} {g['net']:+.2f} ({g['up']} up, {g['down']} down)" for name, g in list(r["changes"].items())[:most]]
            more = len(r["changes"]) - most
            lines.append(
                f"- {_name(r['model'])}, {get_language(r['language']).display_name}: " + "; ".join(shown) + (f"; {more} more" if more > 0 else "")
            )
    notes = list(result["notes"])
    if result["identical"]:
        by_model: dict[str, list[str]] = {}
        for r in result["identical"]:
            by_model.setdefault(_name(r["model"]), []).append(get_language(r["language"]).display_name)
        same = "; ".join(f"{m} in {', '.join(langs)}" for m, langs in by_model.items())
        notes.append(f"The same in both runs, pass for pass on every seed (an evaluation `--reuse` linked in, or the same model): {same}.")
    for r in result["rows"]:
        where = f"{_name(r['model'])} in {get_language(r['language']).display_name}"
        if r["only_before"] or r["only_after"]:
            notes.append(
                f"{where}: compared on seeds {', '.join(map(str, r['seeds']))} "
                f"(only before: {', '.join(map(str, r['only_before'])) or 'none'}; only after: {', '.join(map(str, r['only_after'])) or 'none'})."
            )
        notes += [f"{where}: the two sampled differently ({s})." for s in r["sampling"]]
    notes.append(
        "pass@1 per problem is the fraction of its samples that passed; intervals resample seeds and problems "
        "(the run report's two-level paired bootstrap), so they cover the spread between seeds too."
    )
    lines += ["", *notes]
    return "\n".join(lines) + "\n"
