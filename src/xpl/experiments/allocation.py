"""The allocation study (``xpl scaling allocate``): the per-PL proportions that the fitted
proportion law says minimise the (weighted) average loss at one cell of a sweep, the sweep
configuration that trains them against the uniform mixture, and -- once those runs exist --
their measured held-out losses beside the predictions.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from xpl.analysis.scaling import ScalingError, allocate, load_fit
from xpl.analysis.scaling_report import plot_allocation, save_json
from xpl.experiments.config import from_dict
from xpl.experiments.sweep import SweepConfig, results


def _rounded(props: Mapping[str, float], digits: int = 4) -> dict[str, float]:
    """Shares rounded for a config file, the last one taking the remainder (sum exactly 1)."""
    keys = list(props)
    out = {k: round(float(props[k]), digits) for k in keys[:-1]}
    out[keys[-1]] = round(1.0 - sum(out.values()), 10)
    return out


def allocation_study(
    fit_path: str | Path,
    sweep_dir: str | Path,
    size: str,
    budget: int,
    out: str | Path,
    name: str = "alloc",
    weights: Mapping[str, float] | None = None,
    floor: float = 0.02,
    seeds: Sequence[int] = (0,),
) -> dict[str, Any]:
    """The allocation at one cell (size, budget) of a sweep, with the sweep config that trains
    it and the uniform baseline (``allocation.yaml``), and -- once those runs exist in the
    sweep folder -- their measured held-out losses beside the predictions."""
    data, model = load_fit(fit_path)
    sweep_dir = Path(sweep_dir)
    cfg_path = sweep_dir / "sweep.json"
    if not cfg_path.is_file():
        raise ScalingError(f"{sweep_dir}: not a sweep folder (no sweep.json)")
    cfg = from_dict(SweepConfig, json.loads(cfg_path.read_text()), str(cfg_path))
    if size not in cfg.sizes:
        raise ScalingError(f"--size: unknown size {size!r}; the sweep's sizes: {', '.join(cfg.sizes)}")
    records = results([sweep_dir])
    cell = [r for r in records if r["kind"] == "mono" and r["size"] == size and r["budget_chars"] == budget]
    if not cell:
        raise ScalingError(f"no monolingual run at size {size} and budget {budget} in {sweep_dir} (N and D are read from those runs)")
    N = float(cell[0]["N"])
    D = float(np.mean([r["D"] for r in cell]))
    result = allocate(model, N, D, weights, floor)
    result.update({"size": size, "budget_chars": budget, "name": name})
    props = _rounded(result["proportions"])
    uniform = _rounded({k: 1.0 / len(model.languages) for k in model.languages})
    config = json.loads(cfg_path.read_text())
    config.update(monolingual=False, bilingual=False, mixtures=[
        {"name": name, "proportions": props, "sizes": [size], "budgets": [budget], "seeds": list(seeds)},
        {"name": "uniform", "proportions": uniform, "sizes": [size], "budgets": [budget], "seeds": list(seeds)},
    ])
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    import yaml

    (out / "allocation.yaml").write_text(
        f"# Train the allocation and the uniform baseline: xpl scaling sweep {out / 'allocation.yaml'} --out {sweep_dir}\n"
        + yaml.safe_dump(config, sort_keys=False)
    )
    w = result["weights"]
    measured = {}
    for key, mix in (("allocation", name), ("uniform", "uniform")):
        # Every seed's run of this mixture at this cell; the measured loss is their mean.
        runs = [r for r in records if r["mixture"] == mix and r["size"] == size and r["budget_chars"] == budget]
        if runs:
            per_run = [{k: float(v) for k, v in r["loss"].items()} for r in runs]
            loss = {k: float(np.mean([x[k] for x in per_run])) for k in per_run[0]}
            objectives = [sum(w[k] * x[k] for k in x) for x in per_run]
            measured[key] = {
                "run": f"{mix}-{size}-d{budget} x{len(runs)}",
                "runs": [r["id"] for r in runs],
                "proportions": runs[0]["proportions"],
                "loss": loss,
                "loss_per_run": per_run,
                "objective": float(np.mean(objectives)),
                "objective_per_run": objectives,
                "D": float(np.mean([r["D"] for r in runs])),
            }
    result["measured"] = measured
    save_json(result, out / "allocation.json")
    plot_allocation(result, out / "allocation.png")
    return result
