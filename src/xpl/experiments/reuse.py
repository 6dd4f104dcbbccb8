"""Start a run from another run's finished stages (``xpl run CONFIG --reuse OLD``).

The usual sweep after the Parallel-SFT experiment changes one GRPO or evaluation setting and
keeps everything before it: the problems, the base model, each seed's SFT and Parallel-SFT
models and their evaluations. Those stages take most of a run on a CPU, and every one is
seeded, so a stage whose settings are the same in both configurations gives the same result
whichever run computes it. ``link_stages`` brings such stages into the new run directory,
finished ones only, as hard links (a copy where the file system refuses them): the two runs
then share the files, which no stage writes in place (every record is replaced atomically),
and each run keeps its own configuration, report and results store.

What each stage depends on is written out below, section by section of the configuration.
Keys that only choose which seeds run, how many processes or sandboxes, the run's name or the
representation analysis are in none of them; every key this table does not name (a new
top-level key, the model, the problems, the prompt style, the source PL) is in all of them,
so a key added later makes no stage reusable by mistake. A configuration stored by an older
version, without keys added since, matches while those keys keep their defaults (as a run
directory resumes).
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
from pathlib import Path
from typing import Any

from xpl.experiments.config import to_dict
from xpl.experiments.spec import ARMS, ExperimentConfig
from xpl.experiments.stages import predates
from xpl.io import write_json
from xpl.training.common import ConfigError, stage_done

# Never part of what a stage computes.
NEUTRAL = ("name", "seeds", "seed_workers", "workers", "representations")
# Sections that only some stages depend on (the table in ``_needs``).
SECTIONS = ("sft", "parallel_sft", "grpo", "rl_problems", "eval")
RECORD = "reused.json"


def _needs(config: dict[str, Any]) -> dict[str, list[Any]]:
    """Each stage (a path in the run directory, ``seed*`` and the PL left out) and the parts
    of ``config`` (as stored in config.json) its result depends on."""
    common = {k: v for k, v in config.items() if k not in NEUTRAL + SECTIONS}
    ev = {k: v for k, v in (config.get("eval") or {}).items() if k != "languages"}  # each PL has its own file
    get = config.get
    rl = [get("grpo"), get("rl_problems")]
    needs: dict[str, list[Any]] = {
        "problems": [common],
        "base": [common],
        "rl_problems": [common, get("rl_problems")],
        "sft": [common, get("sft")],
        "parallel_sft": [common, get("parallel_sft")],
        "sft_rl": [common, get("sft"), *rl],
        "parallel_sft_rl": [common, get("parallel_sft"), *rl],
    }
    for arm in ARMS:
        needs[f"eval/{arm}"] = [*needs[arm], ev]
    return needs


def reusable(old: dict[str, Any], new: ExperimentConfig) -> list[str]:
    """The stages (keys of ``_needs``) whose settings are the same in the stored configuration
    ``old`` and in ``new``."""
    default = _needs(to_dict(ExperimentConfig()))
    before, now = _needs(old), _needs(to_dict(new))
    return [
        stage
        for stage in now
        if len(before[stage]) == len(now[stage]) and all(predates(b, n, d) for b, n, d in zip(before[stage], now[stage], default[stage]))
    ]


def link_stages(config: ExperimentConfig, out: Path, source: Path) -> list[str]:
    """Bring ``source``'s finished stages whose settings ``config`` shares into ``out`` (the
    run directory, already tied to ``config``), for the seeds ``config`` runs; what ``out``
    already holds is left alone. Returns the paths brought in (relative to ``out``) and
    records them in ``out/reused.json``."""
    source, out = Path(source), Path(out)
    stamp = source / "config.json"
    if not stamp.is_file():
        raise ConfigError(f"--reuse {source}: not a run directory of `xpl run` (no config.json)")
    if source.resolve() == out.resolve():
        raise ConfigError(f"--reuse {source}: that is the run directory itself (rerunning resumes it)")
    try:
        old = json.loads(stamp.read_text())["config"]
    except (json.JSONDecodeError, KeyError, TypeError):
        raise ConfigError(f"{stamp}: not a run's configuration record") from None
    if not isinstance(old, dict):
        raise ConfigError(f"{stamp}: not a run's configuration record")
    same = set(reusable(old, config))
    brought: list[str] = []
    for stage in ("problems", "base", "rl_problems"):
        if stage in same and _link_stage(source / stage, out / stage):
            brought.append(stage)
    for seed in config.seeds:
        for stage in ("sft", "parallel_sft", "sft_rl", "parallel_sft_rl"):
            where = f"seed{seed}/{stage}"
            if stage in same and _link_stage(source / where, out / where):
                brought.append(where)
        for arm in ARMS:
            if f"eval/{arm}" not in same or (arm != "base" and f"seed{seed}/{arm}" not in brought and not stage_done(out / f"seed{seed}" / arm)):
                continue  # an evaluation only beside the model it evaluated
            for file in sorted((source / f"seed{seed}" / "eval" / arm).glob("*.json")):
                where = f"seed{seed}/eval/{arm}/{file.name}"
                if not (out / where).exists():
                    _link(file, out / where)
                    brought.append(where)
    if brought:
        _copy_store(source / "results.sqlite", out / "results.sqlite")
    record = out / RECORD
    earlier = json.loads(record.read_text()) if record.is_file() else []
    if brought or not earlier:  # a rerun that finds everything in place adds nothing to say
        write_json(record, [*earlier, {"from": str(source), "stages": brought}], indent=2)
    return brought


def _link_stage(folder: Path, target: Path) -> bool:
    if target.exists() or not stage_done(folder):
        return False
    shutil.copytree(folder, target, copy_function=_link, ignore=shutil.ignore_patterns("*.sqlite-wal", "*.sqlite-shm"))
    return True


def _link(src: str | Path, dst: str | Path) -> None:
    """A hard link, except for a results store: SQLite writes those in place, so each run gets
    its own copy."""
    Path(dst).parent.mkdir(parents=True, exist_ok=True)
    if str(src).endswith(".sqlite"):
        _copy_store(Path(src), Path(dst))
        return
    try:
        os.link(src, dst)
    except OSError:  # another file system, or links not allowed: a copy
        shutil.copy2(src, dst)


def _copy_store(src: Path, dst: Path) -> None:
    """The execution results of ``src`` into a new store at ``dst`` (results are keyed by the
    job's content, so every one is valid in any run). SQLite's backup takes what sits in the
    write-ahead log too."""
    if not src.is_file() or dst.exists():
        return
    with sqlite3.connect(str(src)) as a, sqlite3.connect(str(dst)) as b:
        a.backup(b)


def summary(runs: list[dict[str, Any]]) -> str:
    """One line for the report from ``reused.json``'s entries: where stages were reused from,
    and how many of each kind."""
    parts = []
    for entry in runs:
        stages = entry["stages"]
        evals = sum("/eval/" in s for s in stages)
        training = sum(s.startswith("seed") and "/eval/" not in s for s in stages)
        shared = [s for s in stages if not s.startswith("seed")]
        counted = [f"{n} {kind}{'s' if n != 1 else ''}" for n, kind in ((training, "training stage"), (evals, "evaluation")) if n]
        what = ", ".join([*shared, *counted])
        parts.append(f"from `{entry['from']}`: {what or 'nothing'}")
    return "Finished stages with the same settings reused " + "; ".join(parts) + "."
