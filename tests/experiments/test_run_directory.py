"""A run directory is tied to its configuration; a run started before a key was added
resumes while the key keeps its default (what that run did), and is refused otherwise."""

import json

import pytest

from xpl.experiments.spec import ExperimentConfig
from xpl.experiments.stages import claim
from xpl.training.common import ConfigError
from xpl.training.grpo import VLLMConfig


def test_a_run_from_before_new_keys_resumes_and_changed_values_are_refused(tmp_path):
    claim(tmp_path, ExperimentConfig())
    stamp = json.loads((tmp_path / "config.json").read_text())
    # config.json as a run written before eval.backend, grpo.vllm and grpo.execution existed
    del stamp["config"]["eval"]["backend"], stamp["config"]["grpo"]["vllm"], stamp["config"]["grpo"]["execution"]
    stamp["digest"] = "0" * 16
    (tmp_path / "config.json").write_text(json.dumps(stamp))
    claim(tmp_path, ExperimentConfig())  # resumes
    for change in (
        lambda c: setattr(c.eval, "backend", "vllm"),
        lambda c: setattr(c.grpo, "vllm", VLLMConfig()),
        lambda c: setattr(c.eval, "samples", 8),
    ):
        config = ExperimentConfig()
        change(config)
        with pytest.raises(ConfigError, match="holds a run of a different configuration"):
            claim(tmp_path, config)
    # A key the stored configuration has and this one lacks is a different configuration too.
    stamp["config"]["eval"]["retired_key"] = 1
    (tmp_path / "config.json").write_text(json.dumps(stamp))
    with pytest.raises(ConfigError, match="different configuration"):
        claim(tmp_path, ExperimentConfig())


def test_a_run_directory_takes_other_seeds_and_records_the_latest(tmp_path):
    """Seeds (and how many run at once) never change what one seed computes: a run directory
    takes more seeds or fewer, and config.json says which ran last; other keys stay refused."""
    first = ExperimentConfig()
    claim(tmp_path, first)
    more = ExperimentConfig(seeds=[0, 1, 2, 3, 4], seed_workers=1)
    claim(tmp_path, more)
    stamp = json.loads((tmp_path / "config.json").read_text())
    assert stamp["config"]["seeds"] == [0, 1, 2, 3, 4] and stamp["config"]["seed_workers"] == 1
    claim(tmp_path, ExperimentConfig(seeds=[1]))
    assert json.loads((tmp_path / "config.json").read_text())["config"]["seeds"] == [1]
    changed = ExperimentConfig(seeds=[0, 1, 2, 3, 4])
    changed.eval.samples = 8
    with pytest.raises(ConfigError, match="different configuration"):
        claim(tmp_path, changed)
    assert json.loads((tmp_path / "config.json").read_text())["config"]["seeds"] == [1]


def test_representations_are_redone_when_the_first_seed_changes(tmp_path, monkeypatch):
    """A run given other seeds may start with another seed: the analysis of the first seed's
    models is reused only for the same models."""
    from types import SimpleNamespace

    import xpl.analysis.representations as reps
    from xpl.experiments.pipeline import stage_representations

    calls = []
    monkeypatch.setattr(reps, "analyze", lambda models, *a, **k: calls.append(dict(models)) or {"models": models})
    monkeypatch.setattr(reps, "write_outputs", lambda results, folder: (folder.mkdir(parents=True, exist_ok=True), (folder / "results.json").write_text(json.dumps(results))))
    config = ExperimentConfig()
    config.representations.languages = ["python", "rust"]
    test = [SimpleNamespace(solutions={"python": "", "rust": ""}) for _ in range(3)]

    def models(seed):
        return {"base": tmp_path / "base", "sft_rl": tmp_path / f"seed{seed}/sft_rl/final"}

    def quiet(*a):
        return None

    stage_representations(config, tmp_path, models(0), test, quiet)
    stage_representations(config, tmp_path, models(0), test, quiet)  # done: reused
    assert len(calls) == 1
    stage_representations(config, tmp_path, models(3), test, quiet)  # seeds 3, ...: redone
    assert len(calls) == 2 and calls[1]["sft_rl"].endswith("seed3/sft_rl/final")
    # a run directory from before the models were recorded: its analysis stands
    marker = tmp_path / "representations" / "stage.json"
    record = json.loads(marker.read_text())
    del record["which"]
    marker.write_text(json.dumps(record))
    stage_representations(config, tmp_path, models(5), test, quiet)
    assert len(calls) == 2


def test_report_names_where_each_pl_was_trained_and_small_shares():
    from xpl.experiments.report import _role, _share

    config = {"parallel_sft": {"parallel_languages": ["python", "rs", "go"]}}
    assert _role("python", "py", config) == "the source PL"
    assert _role("rust", "python", config) == "in Parallel-SFT's data, not in RL"
    assert _role("ruby", "python", config) == "in neither SFT nor RL"
    assert (_share(0.003), _share(0.25)) == ("0.3%", "25%")


def test_a_union_config_key_takes_the_first_type_that_fits(tmp_path):
    """``pretrain.descriptions`` is true/false, one share, or a share per PL; anything else is
    named with every form it could have had."""
    from xpl.experiments.config import from_dict
    from xpl.training.common import ConfigError
    from xpl.training.pretrain import PretrainConfig

    assert from_dict(PretrainConfig, {"descriptions": False}, "p").descriptions is False
    assert from_dict(PretrainConfig, {"descriptions": 0.5}, "p").descriptions == 0.5
    assert from_dict(PretrainConfig, {"descriptions": {"python": 1}}, "p").descriptions == {"python": 1.0}
    with pytest.raises(ConfigError, match=r"p.descriptions: expected true or false, got 'yes' or expected a number"):
        from_dict(PretrainConfig, {"descriptions": "yes"}, "p")


def test_changed_problems_says_which_functions_a_difference_comes_from():
    import numpy as np

    from xpl.experiments.report import changed_problems

    names = ["family-s0-00001-check_number", "family-s0-00002-check_number", "family-s0-00003-scale", "HumanEval/7"]
    before = np.array([[0.0, 1.0, 0.5, 1.0], [0.0, 1.0, 0.5, 1.0]])  # [seed, problem]
    after = np.array([[1.0, 1.0, 0.5, 0.5], [1.0, 0.0, 0.5, 1.0]])
    groups = changed_problems(after, before, names)
    assert groups == {
        "check_number": {"up": 2, "down": 1, "net": 1.0},
        "HumanEval/7": {"up": 0, "down": 1, "net": -0.5},
    }
    assert list(groups) == ["check_number", "HumanEval/7"]  # largest net change first
    # the paired difference is the net change over all groups / (problems x seeds)
    assert sum(g["net"] for g in groups.values()) / after.size == (after - before).mean()
    assert changed_problems(before, before, names) == {}


def test_seeds_on_the_command_line():
    import typer

    from xpl.cli import parse_seeds

    assert parse_seeds("0-9") == list(range(10))
    assert parse_seeds("3,5-7") == [3, 5, 6, 7]
    assert parse_seeds(" 2 , 0 ") == [2, 0]
    for bad in ("", "x", "1-", "-1", "3-2", "1,1-2", "0.5"):
        with pytest.raises(typer.BadParameter):
            parse_seeds(bad)


def test_report_shows_each_seeds_difference_in_the_source_pl():
    from xpl.experiments.report import _per_seed_lines
    from xpl.experiments.spec import ARMS

    per_seed = {"base": [0.5, 0.5], "sft": [0.6, 0.7], "sft_rl": [0.7, 0.65], "parallel_sft": [0.6, 0.6], "parallel_sft_rl": [0.6, 0.62]}
    results = {"seeds": [3, 7], "pass_at_1": {arm: {"python": {"per_seed": per_seed[arm]}} for arm in ARMS}}
    text = "\n".join(_per_seed_lines(results, "python"))
    assert "seeds 3, 7" in text
    assert "- SFT + RL − SFT: +0.100, -0.050 (sd 0.106)" in text
    assert "- Parallel-SFT + RL − Parallel-SFT: +0.000, +0.020 (sd 0.014)" in text
    assert "--seeds 0-9" in text
    # one seed has no spread to show; results from before per-seed numbers were kept show none
    assert _per_seed_lines({**results, "seeds": [3]}, "python") == []
    del results["pass_at_1"]["sft"]["python"]["per_seed"]
    assert _per_seed_lines(results, "python") == []


def test_a_greedy_base_evaluation_is_shared_by_the_seeds(tmp_path):
    """The base model decoded greedily is the same for every seed: another seed's file is
    copied (with its own seed); a sampled PL, or a file decoded otherwise, is not."""
    from xpl.experiments.pipeline import reuse_greedy_base
    from xpl.io import write_json

    config = ExperimentConfig(seeds=[0, 1])
    config.eval.temperature, config.eval.samples = 0.0, 1
    config.eval.source_temperature, config.eval.source_samples = 0.2, 4
    record = {"seed": 0, "arm": "base", "temperature": 0.0, "problems": ["a", "b"], "passed": [1, 0], "samples": 1}
    (tmp_path / "seed0/eval/base").mkdir(parents=True)
    write_json(tmp_path / "seed0/eval/base/rust.json", record)
    write_json(tmp_path / "seed0/eval/base/python.json", {**record, "language": "python", "temperature": 0.2, "samples": 4})
    assert not reuse_greedy_base(config, tmp_path, 1, "python")  # sampled: each seed its own
    assert not reuse_greedy_base(config, tmp_path, 1, "go")  # nobody has it yet
    assert reuse_greedy_base(config, tmp_path, 1, "rust")
    copied = json.loads((tmp_path / "seed1/eval/base/rust.json").read_text())
    assert copied == {**record, "seed": 1, "copied_from_seed": 0}
    assert reuse_greedy_base(config, tmp_path, 2, "rust")  # from seed 0 or the copy: still seed 0's
    assert json.loads((tmp_path / "seed2/eval/base/rust.json").read_text())["copied_from_seed"] == 0
    # the same PL decoded with 2 samples is not what a 1-sample configuration would make
    config.eval.samples = 2
    assert not reuse_greedy_base(config, tmp_path, 3, "rust")
    config.eval.samples, config.eval.temperature = 1, 0.2
    assert not reuse_greedy_base(config, tmp_path, 3, "rust")
    assert not (tmp_path / "seed3").exists()
