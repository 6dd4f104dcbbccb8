"""The scaling-law fit of a sweep as files: ``fit.json``, ``report.md`` and the plots
(``xpl scaling fit``), and the plots of an allocation (``xpl scaling allocate``).

The fits themselves are ``xpl.analysis.scaling``'s; this module only runs them over a sweep's
records and writes what they found.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from xpl.analysis.scaling import (
    PARAMS,
    LawFit,
    ScalingError,
    check_records,
    fit_languages,
    fit_proportion_law,
    law,
    organisation_table,
    predictions,
    synergy,
)
from xpl.io import write_json


def _numpy(o: Any) -> Any:
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, np.generic):
        return o.item()
    raise TypeError(type(o))


def save_json(data: Any, path: str | Path) -> None:
    """``data`` (numpy arrays and scalars included) as indented JSON, written atomically."""
    write_json(path, data, indent=2, default=_numpy)


def _fmt_ci(v: float, ci) -> str:
    return f"{v:.4g} [{ci[0]:.4g}, {ci[1]:.4g}]"


def fit_sweep(records: Sequence[Mapping[str, Any]], out: str | Path, bootstrap: int = 200, seed: int = 0, progress=None) -> dict[str, Any]:
    """Per-PL laws, synergy, proportion law and organisation comparison of a sweep's runs;
    writes ``fit.json``, ``report.md`` and the plots into ``out``; returns fit.json's data."""
    check_records(records)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    languages = sorted({k for r in records if r["kind"] == "mono" for k in r["proportions"]})
    if not languages:
        raise ScalingError("no monolingual runs: the per-PL laws are fitted on runs of one PL alone")
    step = (lambda what: progress(what)) if progress else (lambda what: None)
    fits = fit_languages(records, languages, bootstrap, seed, progress=lambda lang: step(f"law {lang}"))
    result: dict[str, Any] = {"languages": languages, "runs": len(records), "laws": {k: f.to_dict() for k, f in fits.items()}}
    result["predictions"] = predictions(fits)
    plot_fits(fits, out / "fits.png")
    plot_residuals(fits, out / "residuals.png")
    plots = ["fits.png", "residuals.png"]
    try:
        syn = synergy(records, languages)
        result["synergy"] = syn
        plot_synergy(syn, out / "synergy.png")
        plots.append("synergy.png")
    except ScalingError as exc:
        result["synergy"] = {"error": str(exc)}
    step("synergy")
    try:
        plaw = fit_proportion_law(records, fits, languages, bootstrap=bootstrap, seed=seed)
        result["proportion_law"] = plaw.to_dict()
    except ScalingError as exc:
        result["proportion_law"] = {"error": str(exc)}
    step("proportion law")
    result["organisation"] = organisation_table(records)
    result["plots"] = plots
    save_json(result, out / "fit.json")
    (out / "report.md").write_text(report_markdown(result))
    return result


def report_markdown(result: Mapping[str, Any]) -> str:
    langs = result["languages"]
    lines = [f"# Scaling-law fit ({result['runs']} runs)", "", "## Per-PL laws L(N, D) = E + A/N^alpha + B/D^beta", ""]
    lines += ["Fitted on the monolingual runs (N: non-embedding parameters, D: training tokens), log-space Huber (delta 1e-3), "
              "L-BFGS-B from a grid; 95% bootstrap intervals over runs.", ""]
    lines += ["| PL | runs | E | A | B | alpha | beta | RMS log residual | R^2 (log) | worst run |", "|---|---:|---|---|---|---|---|---:|---:|---|"]
    for k in langs:
        f = result["laws"][k]
        p, ci, d = f["params"], f["ci95"], f["diagnostics"]
        cells = " | ".join(_fmt_ci(p[x], ci[x]) for x in PARAMS)
        lines.append(f"| {k} | {len(f['points'])} | {cells} | {d['rms_log_residual']:.4f} | {d['r2_log']:.4f} | {d['worst_run']} ({d['max_abs_log_residual']:+.3f}) |")
    lines += ["", "Mean log residual (fitted - measured) by model size and by budget (a trend means the form misses something):", ""]
    for k in langs:
        d = result["laws"][k]["diagnostics"]
        by_n = ", ".join(f"{n}: {v:+.3f}" for n, v in d["mean_residual_by_N"].items())
        by_d = ", ".join(f"{n}: {v:+.3f}" for n, v in d["mean_residual_by_D"].items())
        lines.append(f"- {k}: by N {by_n}; by D {by_d}")
    if result.get("predictions"):
        lines += ["", "Predictions beyond the ladder (95% bootstrap interval):", "", "| PL | N | D | predicted loss |", "|---|---:|---:|---|"]
        for k, rows in result["predictions"].items():
            for r in rows:
                lines.append(f"| {k} | {int(r['N']):,} | {int(r['D']):,} | {_fmt_ci(r['loss'], (r['low'], r['high']))} |")
    syn = result.get("synergy", {})
    lines += ["", "## Synergy", ""]
    if "error" in syn:
        lines.append(f"not computed: {syn['error']}")
    else:
        lines += ["Row i, column j: held-out loss on i of i alone minus that of i + j (50/50) at the same total budget, "
                  "mean over the cells where both ran (positive: j's tokens helped i more than more of i).", ""]
        lines += ["| loss on \\ with | " + " | ".join(langs) + " |", "|---|" + "---:|" * len(langs)]
        for a, i in enumerate(syn["languages"]):
            row = []
            for b, _ in enumerate(syn["languages"]):
                g, rg = syn["gain"][a][b], syn["relative_gain"][a][b]
                row.append("-" if a == b else ("n/a" if g is None or not math.isfinite(g) else f"{g:+.3f} ({rg * 100:+.1f}%)"))
            lines.append(f"| {i} | " + " | ".join(row) + " |")
    pl = result.get("proportion_law", {})
    lines += ["", "## Proportion-dependent law", ""]
    if "error" in pl:
        lines.append(f"not fitted: {pl['error']}")
    else:
        lines += [f"`{pl['form']}`; per-PL E, A, B, alpha from the table above, cross-PL terms fitted on {pl['diagnostics']['runs']} "
                  f"mixture runs ({pl['diagnostics']['observations']} per-PL losses); RMS log residual {pl['diagnostics']['rms_log_residual']:.4f}.", ""]
        g = pl["gamma_ci95"]
        lines.append(f"gamma = {pl['gamma']:.4g}" + (f" (95% CI of max |gamma tau| {g[0]:.4g} - {g[1]:.4g})" if g else ""))
        lines += ["", "| pair | gamma tau_ij [95% CI] | tau_ij |", "|---|---|---:|"]
        for key, v in pl["pairs"].items():
            ci = v["c_ci95"]
            lines.append(f"| {key} | {_fmt_ci(v['c'], ci) if ci else f'{v[chr(99)]:.4g}'} | {v['tau']:+.3f} |")
        lines += ["", "| run | PL | measured | predicted |", "|---|---|---:|---:|"]
        for r in pl["diagnostics"]["residuals"]:
            lines.append(f"| {r['run']} | {r['language']} | {r['loss']:.4f} | {r['predicted']:.4f} |")
    org = result.get("organisation") or []
    lines += ["", "## Data organisation: held-out translation loss", ""]
    if not org:
        lines.append("no shuffle/parallel pair of runs with translation losses")
    else:
        lines += ["| direction | pair seen in parallel training | shuffle | parallel | change |", "|---|---|---:|---:|---:|"]
        for r in org:
            lines.append(f"| {r['direction']} | {'yes' if r['seen'] else 'no'} | {r['shuffle']:.4f} | {r['parallel']:.4f} | {r['change']:+.4f} |")
    lines += [""] + [f"![{p}]({p})" for p in result.get("plots", [])] + [""]
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# Plots


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_fits(fits: Mapping[str, LawFit], path: str | Path) -> None:
    """Per PL: loss against D (one line per N) and against N (one line per D), points as
    measured, curves from the fitted law with the bootstrap 95% band."""
    plt = _plt()
    from matplotlib.ticker import NullFormatter

    langs = list(fits)
    fig, axes = plt.subplots(2, len(langs), figsize=(4.2 * len(langs), 7), squeeze=False)
    for col, lang in enumerate(langs):
        f = fits[lang]
        N, D, L = map(np.array, (f.N, f.D, f.L))
        for row, (xs, other, xlabel) in enumerate(((D, N, "D (training tokens)"), (N, D, "N (non-embedding parameters)"))):
            ax = axes[row][col]
            values = np.unique(other)
            colours = plt.cm.viridis(np.linspace(0, 0.9, len(values)))
            grid = np.geomspace(xs.min() / 1.3, xs.max() * 1.3, 60)
            for v, colour in zip(values, colours):
                sel = other == v
                ax.scatter(xs[sel], L[sel], color=colour, s=18, zorder=3)
                args = (np.full_like(grid, v), grid) if row == 0 else (grid, np.full_like(grid, v))
                pred = f.predict(*args)
                ax.plot(grid, pred["loss"], color=colour, lw=1.2, label=f"{'N' if row == 0 else 'D'}={int(v):,}")
                ax.fill_between(grid, pred["low"], pred["high"], color=colour, alpha=0.15, lw=0)
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.xaxis.set_minor_formatter(NullFormatter())  # minor labels overlap on short ranges
            ax.set_xlabel(xlabel)
            ax.set_ylabel("held-out loss (nats/token)")
            p = f.params
            if row == 0:
                ax.set_title(f"{lang}: E={p['E']:.2f} alpha={p['alpha']:.2f} beta={p['beta']:.2f}", fontsize=9)
            ax.legend(fontsize=6)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_synergy(syn: Mapping[str, Any], path: str | Path) -> None:
    plt = _plt()
    langs = syn["languages"]
    m = np.array(syn["relative_gain"], dtype=float) * 100
    lim = np.nanmax(np.abs(m)) or 1.0
    fig, ax = plt.subplots(figsize=(1.4 * len(langs) + 2.5, 1.2 * len(langs) + 1.5))
    im = ax.imshow(m, cmap="RdBu", vmin=-lim, vmax=lim)
    ax.set_xticks(range(len(langs)), langs, rotation=30)
    ax.set_yticks(range(len(langs)), langs)
    ax.set_xlabel("trained with PL j (half the budget)")
    ax.set_ylabel("held-out loss on PL i")
    for i in range(len(langs)):
        for j in range(len(langs)):
            if i != j and np.isfinite(m[i, j]):
                ax.text(j, i, f"{m[i, j]:+.1f}%", ha="center", va="center", fontsize=9)
    fig.colorbar(im, ax=ax, label="gain vs PL i alone at the same budget (%)")
    ax.set_title("synergy: loss of i alone - loss of i + j")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_allocation(result: Mapping[str, Any], path: str | Path) -> None:
    """Proportions (proposed vs uniform) and per-PL loss, predicted and, where runs exist,
    measured."""
    plt = _plt()
    langs = list(result["proportions"])
    x = np.arange(len(langs))
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(10, 3.8))
    a1.bar(x - 0.2, [result["uniform"]["proportions"][k] for k in langs], 0.4, label="uniform", color="#999")
    a1.bar(x + 0.2, [result["proportions"][k] for k in langs], 0.4, label="allocation", color="#1f77b4")
    a1.set_xticks(x, langs)
    a1.set_ylabel("share of the token budget")
    a1.legend(loc="lower center")
    a1.set_title(f"N={int(result['N']):,}, D={int(result['D']):,}")
    bars = [("uniform, predicted", result["uniform"]["predicted"], "#bbb", None), ("allocation, predicted", result["predicted"], "#9cc3e6", None)]
    measured = result.get("measured") or {}
    runs = {}
    for key, colour in (("uniform", "#666"), ("allocation", "#1f77b4")):
        if measured.get(key):
            bars.append((f"{key}, measured (mean)", measured[key]["loss"], colour, "//"))
            runs[len(bars) - 1] = measured[key].get("loss_per_run", [])
    width = 0.8 / len(bars)
    for b, (label, vals, colour, hatch) in enumerate(bars):
        pos = x - 0.4 + width * (b + 0.5)
        a2.bar(pos, [vals.get(k, np.nan) for k in langs], width, label=label, color=colour, hatch=hatch)
        for per_run in runs.get(b, []):  # each seed's run, to show the spread
            a2.scatter(pos, [per_run.get(k, np.nan) for k in langs], color="k", s=8, zorder=3)
    a2.set_xticks(x, langs)
    a2.set_ylabel("held-out loss (nats/token); dots: runs")
    a2.legend(fontsize=7, loc="lower center")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_residuals(fits: Mapping[str, LawFit], path: str | Path) -> None:
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6, 3.5))
    for lang, f in fits.items():
        pred = law(f.params, f.N, f.D)
        ax.scatter(pred, f.diagnostics["residuals"], s=14, label=lang)
    ax.axhline(0, color="k", lw=0.8)
    ax.set_xscale("log")
    ax.set_xlabel("fitted loss")
    ax.set_ylabel("log residual (fitted - measured)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
