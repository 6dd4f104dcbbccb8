"""`xpl run --reuse OLD`: which stages a changed configuration may take from another run, and
how they are brought in (finished ones only, linked, the results store copied)."""

import copy
import json
import sqlite3
from dataclasses import replace
from pathlib import Path

import pytest

from xpl.experiments.config import to_dict
from xpl.experiments.reuse import link_stages, reusable, summary
from xpl.experiments.spec import ExperimentConfig, load_experiment
from xpl.experiments.stages import claim
from xpl.training.common import ConfigError, mark_done

EVERY = ["problems", "base", "rl_problems", "sft", "parallel_sft", "sft_rl", "parallel_sft_rl"] + [
    f"eval/{arm}" for arm in ("base", "sft", "sft_rl", "parallel_sft", "parallel_sft_rl")
]


def _changed(edit) -> list[str]:
    old = load_experiment()
    new = copy.deepcopy(old)
    edit(new)
    return reusable(to_dict(old), new)


@pytest.mark.parametrize(
    "edit, kept",
    [
        (lambda c: None, EVERY),
        (lambda c: setattr(c, "seeds", [0, 1, 2, 3]), EVERY),
        (lambda c: setattr(c, "name", "other"), EVERY),
        (lambda c: setattr(c, "workers", 3), EVERY),
        (lambda c: setattr(c.representations, "enabled", False), EVERY),
        (lambda c: setattr(c.eval, "languages", ["python"]), EVERY),
        (lambda c: setattr(c.grpo, "beta", 0.04), [s for s in EVERY if not s.endswith("_rl")]),
        (lambda c: setattr(c.rl_problems, "file", None), [s for s in EVERY if not s.endswith("_rl") and s != "rl_problems"]),
        (lambda c: setattr(c.eval, "samples", 3), [s for s in EVERY if not s.startswith("eval/")]),
        (
            lambda c: setattr(c.sft, "train", replace(c.sft.train, learning_rate=1e-3)),
            ["problems", "base", "rl_problems", "parallel_sft", "parallel_sft_rl", "eval/base", "eval/parallel_sft", "eval/parallel_sft_rl"],
        ),
        (lambda c: setattr(c, "model", "tiny:s"), []),
        (lambda c: setattr(c.problems, "seed", 7), []),
        (lambda c: setattr(c, "prompt_style", "completion"), []),
    ],
    ids=["same", "seeds", "name", "workers", "representations", "eval-languages", "grpo", "rl-problems", "eval-samples", "sft", "model", "problems", "prompt-style"],
)
def test_a_stage_is_reusable_only_when_everything_it_depends_on_is_the_same(edit, kept):
    assert _changed(edit) == kept


def test_an_older_stored_config_matches_while_new_keys_keep_their_defaults():
    new = load_experiment()
    old = to_dict(new)
    del old["grpo"]["pool"]  # a key added after that run, at its default now
    assert reusable(old, new) == EVERY
    new.grpo.pool = "mixed"  # the same missing key, now away from its default
    assert "sft" in reusable(old, new) and "sft_rl" not in reusable(old, new)
    old = {**to_dict(load_experiment()), "gone": 1}  # a key this version does not know
    assert reusable(old, load_experiment()) == []


def _fake_run(root: Path, config: ExperimentConfig) -> Path:
    """A run directory with seed 0's SFT finished and evaluated, its GRPO finished and
    evaluated, Parallel-SFT unfinished, and a results store with one row."""
    root.mkdir()
    (root / "config.json").write_text(json.dumps({"digest": "x", "config": to_dict(config)}))
    for stage in ("problems", "base", "rl_problems", "seed0/sft", "seed0/sft_rl"):
        (root / stage).mkdir(parents=True)
        mark_done(root / stage, {"stage": stage})
    (root / "seed0" / "sft" / "final").mkdir()
    (root / "seed0" / "sft" / "final" / "model.safetensors").write_bytes(b"weights")
    (root / "seed0" / "parallel_sft" / "checkpoint-10").mkdir(parents=True)
    for arm in ("base", "sft", "sft_rl"):
        (root / "seed0" / "eval" / arm).mkdir(parents=True)
        (root / "seed0" / "eval" / arm / "python.json").write_text(json.dumps({"arm": arm}))
    with sqlite3.connect(str(root / "results.sqlite")) as db:
        db.execute("CREATE TABLE results (key TEXT PRIMARY KEY, record TEXT)")
        db.execute("INSERT INTO results VALUES ('k', 'r')")
    return root


def test_link_stages_brings_finished_stages_with_the_same_settings(tmp_path):
    old = load_experiment()
    old.seeds = [0]
    source = _fake_run(tmp_path / "old", old)
    new = copy.deepcopy(old)
    new.grpo.beta = 0.04
    out = tmp_path / "new"
    claim(out, new)
    brought = link_stages(new, out, source)
    assert brought == ["problems", "base", "rl_problems", "seed0/sft", "seed0/eval/base/python.json", "seed0/eval/sft/python.json"]
    assert not (out / "seed0" / "sft_rl").exists() and not (out / "seed0" / "eval" / "sft_rl").exists()
    assert not (out / "seed0" / "parallel_sft").exists()  # unfinished: the new run trains it
    weights = out / "seed0" / "sft" / "final" / "model.safetensors"
    assert weights.read_bytes() == b"weights" and weights.stat().st_ino == (source / "seed0" / "sft" / "final" / "model.safetensors").stat().st_ino
    store = out / "results.sqlite"
    assert store.stat().st_ino != (source / "results.sqlite").stat().st_ino
    with sqlite3.connect(str(store)) as db:
        assert db.execute("SELECT key, record FROM results").fetchall() == [("k", "r")]
    assert link_stages(new, out, source) == []  # what is there already stays
    line = summary(json.loads((out / "reused.json").read_text()))
    assert f"from `{source}`: problems, base, rl_problems, 1 training stage, 2 evaluations" in line
    assert len(json.loads((out / "reused.json").read_text())) == 1


def test_link_stages_refuses_what_is_not_another_run(tmp_path):
    config = load_experiment()
    out = tmp_path / "new"
    claim(out, config)
    (tmp_path / "empty").mkdir()
    with pytest.raises(ConfigError, match="not a run directory"):
        link_stages(config, out, tmp_path / "empty")
    with pytest.raises(ConfigError, match="the run directory itself"):
        link_stages(config, out, out)
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "config.json").write_text("[1]")
    with pytest.raises(ConfigError, match="not a run's configuration record"):
        link_stages(config, out, tmp_path / "bad")
