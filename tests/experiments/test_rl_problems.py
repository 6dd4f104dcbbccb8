"""`rl_problems`: GRPO's own problems, new family problems that never behave like a held-out one."""

import json

import pytest

from xpl.experiments.pipeline import stage_rl_problems
from xpl.experiments.spec import load_experiment
from xpl.experiments.stages import silent
from xpl.models.loading import organism_folder
from xpl.problems import read_problems
from xpl.problems.family import build
from xpl.problems.family.split import _passes
from xpl.training.common import ConfigError


@pytest.fixture(scope="module")
def held_out(tmp_path_factory):
    # Level 1 has few behaviours, so a fresh draw of level-1 problems meets held-out ones.
    built = build(80, 0, tmp_path_factory.mktemp("set"), ["python"], 0.5, (1,), check=False)
    return built.split("test")


def _config(n, keep="all"):
    config = load_experiment()
    config.rl_problems.file = ""  # generate, rather than the default's shipped pool
    config.rl_problems.n, config.rl_problems.seed, config.rl_problems.levels, config.rl_problems.keep = n, 5, [1], keep
    config.rl_problems.samples = 4
    return config


def test_rl_problems_are_new_python_problems_none_behaving_like_a_held_out_one(tmp_path, held_out):
    problems = stage_rl_problems(_config(120), tmp_path, held_out, organism_folder(), silent)
    stage = json.loads((tmp_path / "rl_problems" / "stage.json").read_text())
    assert stage["excluded"] > 0 and stage["kept"] == len(problems) == stage["verified"] == 120 - stage["excluded"]
    assert all(p.name.startswith("family-s5-") and set(p.solutions) == {"python"} for p in problems)
    # The same check the split uses: no RL problem's solution passes a held-out problem's
    # tests (of the same types), in either direction.
    for p in problems:
        namespace: dict = {}
        exec(p.render_as("python", "completion").code(p.solutions["python"]), namespace)
        call = namespace[p.signature.name]
        for t in held_out:
            if tuple(x.type for x in t.signature.params) == tuple(x.type for x in p.signature.params) and t.signature.returns == p.signature.returns:
                assert not _passes(call, t), (p.name, t.name)
    # Done once: a second call reads the same problems back without generating again.
    (tmp_path / "rl_problems" / "problems.jsonl").unlink()
    assert stage_rl_problems(_config(120), tmp_path, held_out, organism_folder(), silent) == problems


def test_keep_mixed_keeps_what_the_base_passes_only_sometimes(tmp_path, held_out):
    try:
        problems = stage_rl_problems(_config(120, "mixed"), tmp_path, held_out, organism_folder(), silent)
    except ConfigError as exc:  # possible in principle: then it must say so, naming the key
        assert "rl_problems.keep mixed: the base model passes all or none" in str(exc)
        return
    rates = json.loads((tmp_path / "rl_problems" / "pass_rates.json").read_text())["pass_rates"]
    assert {p.name for p in problems} == {n for n, r in rates.items() if 0 < r < 1}
    stage = json.loads((tmp_path / "rl_problems" / "stage.json").read_text())
    assert stage["mixed"]["samples"] == 4 and stage["kept"] == len(problems) < stage["verified"]
    assert read_problems(tmp_path / "rl_problems" / "rl.jsonl")[0] == problems


def test_a_problems_file_instead_of_generating(tmp_path, held_out):
    from xpl.problems import write_problems

    source = tmp_path / "mine.jsonl"
    write_problems(source, held_out[:5])  # any problems file; here five at hand
    config = load_experiment()
    config.rl_problems.n, config.rl_problems.file = 0, str(source)
    config.rl_problems.validate(config.problems)
    problems = stage_rl_problems(config, tmp_path / "run", held_out, organism_folder(), silent)
    assert problems == held_out[:5]
    assert json.loads((tmp_path / "run" / "rl_problems" / "stage.json").read_text())["kept"] == 5


@pytest.mark.parametrize(
    "keys, message",
    [
        ({"file": "nowhere.jsonl"}, "rl_problems.file: nowhere.jsonl does not exist"),
        ({"file": "organism", "n": 100}, "give file or n, not both"),
        ({"n": 100, "seed": 0}, "rl_problems.seed must differ from problems.seed"),
        ({"n": 100, "samples": 1}, "rl_problems.samples"),
    ],
)
def test_bad_rl_problems_keys_are_named(keys, message):
    config = load_experiment()
    config.rl_problems.file, config.rl_problems.n = "", 0
    for key, value in keys.items():
        setattr(config.rl_problems, key, value)
    with pytest.raises(ConfigError, match=message):
        config.rl_problems.validate(config.problems)


def test_a_problems_file_that_does_not_match_its_sidecar_is_refused(tmp_path, held_out):
    import shutil

    from xpl.experiments.spec import rl_problems_path

    shipped = rl_problems_path("organism")
    copy = tmp_path / "rl_problems.jsonl"
    shutil.copyfile(shipped, copy)
    shutil.copyfile(shipped.with_suffix(".json"), copy.with_suffix(".json"))
    lines = copy.read_text().splitlines()
    copy.write_text("\n".join(lines[:-1]) + "\n")  # one problem short
    config = load_experiment()
    config.rl_problems.file = str(copy)
    with pytest.raises(ConfigError, match="does not match the sha256"):
        stage_rl_problems(config, tmp_path / "run", held_out, organism_folder(), silent)
