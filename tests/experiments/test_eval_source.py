"""`eval.source_samples` / `eval.source_max_problems`: the source PL evaluated on more problems
and samples than the others, and the report saying so."""

import json

import pytest

from xpl.experiments.pipeline import stage_eval
from xpl.experiments.report import what_ran
from xpl.experiments.spec import load_experiment
from xpl.experiments.stages import silent
from xpl.models.loading import organism_folder
from xpl.problems.family import build
from xpl.training.common import ConfigError


@pytest.fixture(scope="module")
def held_out(tmp_path_factory):
    built = build(40, 0, tmp_path_factory.mktemp("set"), ["python", "javascript"], 0.5, (1, 2), check=False)
    return built.split("test")


def _config(source_samples, source_max_problems):
    config = load_experiment()
    config.prompt_style = "completion"
    config.eval.languages = ["python", "javascript"]
    config.eval.samples, config.eval.max_problems, config.eval.max_new_tokens = 1, 3, 48
    config.eval.source_samples, config.eval.source_max_problems = source_samples, source_max_problems
    return config


def test_the_source_pl_gets_its_own_problems_and_samples(tmp_path, held_out):
    assert len(held_out) > 6
    stage_eval(_config(3, 0), tmp_path, 0, "base", organism_folder(), held_out, ["python", "javascript"], silent)
    python = json.loads((tmp_path / "seed0" / "eval" / "base" / "python.json").read_text())
    javascript = json.loads((tmp_path / "seed0" / "eval" / "base" / "javascript.json").read_text())
    assert python["samples"] == 3 and len(python["problems"]) == len(held_out)  # 0: every held-out problem
    assert all(len(c) == 3 for c in python["completions"])
    assert javascript["samples"] == 1 and len(javascript["problems"]) == 3
    assert all(len(c) == 1 for c in javascript["completions"])


def test_null_keeps_the_source_pl_like_the_others():
    config = _config(None, None)
    assert config.eval.samples_for("py", "python") == 1 and config.eval.max_problems_for("python", "python") == 3
    config = _config(4, 0)
    assert config.eval.samples_for("py", "python") == 4 and config.eval.max_problems_for("python", "python") == 0
    assert config.eval.samples_for("rust", "python") == 1 and config.eval.max_problems_for("rust", "python") == 3


@pytest.mark.parametrize("key, value", [("source_samples", 0), ("source_max_problems", -1), ("max_problems", -2)])
def test_bad_values_name_the_key(key, value):
    config = _config(None, None)
    setattr(config.eval, key, value)
    with pytest.raises(ConfigError, match=f"eval.{key}"):
        config.validate()


def test_the_report_names_the_pl_with_other_samples():
    results = {
        "experiment": "x", "model": "organism", "seeds": [0], "source_language": "python",
        "languages": ["python", "rust"], "problems_per_language": {"python": 120, "rust": 60},
        "samples_per_problem": 2, "samples_per_language": {"python": 4, "rust": 2}, "seconds": 60.0,
    }
    assert "; 2 samples per problem (Python: 4); held-out problems per PL: Python 120, Rust 60. Run time 1.0 min." in what_ran(results)
    for same in ({"python": 2, "rust": 2}, None):  # None: the results of a run before the key
        results["samples_per_language"] = same
        assert "; 2 samples per problem; held-out" in what_ran(results)


@pytest.mark.parametrize("key", ["workers", "seed_workers"])
def test_negative_process_counts_name_the_key_in_run_and_flex(key):
    from xpl.experiments.flex import load_flex

    for config in (_config(None, None), load_flex()):
        setattr(config, key, -1)
        with pytest.raises(ConfigError, match=f"^{key} must be >= 0"):
            config.validate()


def test_source_temperature_samples_the_source_pl_and_the_report_says_so(tmp_path, held_out):
    config = _config(2, 4)
    config.eval.temperature, config.eval.source_temperature = 0.0, 1.0
    assert config.eval.temperature_for("py", "python") == 1.0 and config.eval.temperature_for("javascript", "python") == 0.0
    stage_eval(config, tmp_path, 0, "base", organism_folder(), held_out, ["python", "javascript"], silent)
    folder = tmp_path / "seed0" / "eval" / "base"
    python, javascript = (json.loads((folder / f"{x}.json").read_text()) for x in ("python", "javascript"))
    assert python["temperature"] == 1.0 and javascript["temperature"] == 0.0
    assert any(len(set(c)) > 1 for c in python["completions"])  # sampled: two samples of one problem differ somewhere
    results = {
        "experiment": "x", "model": "organism", "seeds": [0], "source_language": "python",
        "languages": ["python", "rust"], "problems_per_language": {"python": 120, "rust": 60},
        "samples_per_problem": 1, "samples_per_language": {"python": 4, "rust": 1}, "seconds": 60.0,
        "temperature": 0.0, "temperature_per_language": {"python": 0.2, "rust": 0.0},
    }
    assert "; 1 sample per problem at temperature 0 (Python: 4 at temperature 0.2); held-out" in what_ran(results)


def test_source_temperature_null_is_eval_temperature_and_negative_names_the_key():
    config = _config(None, None)
    assert config.eval.temperature_for("python", "python") == config.eval.temperature
    config.eval.source_temperature = -0.5
    with pytest.raises(ConfigError, match="eval.source_temperature must be >= 0"):
        config.validate()
