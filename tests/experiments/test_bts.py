"""The Branch-Train-Stitch experiment (``xpl bts``): bad configurations named in one line, the
embedded configuration, and the --quick run end to end (report, frozen weights, gates,
expert removal, resumption). The run is in-process; the CLI verb is run for its errors."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from xpl.experiments.bts import load_bts, quick, run_bts
from xpl.experiments.bts.pipeline import model_labels
from xpl.experiments.spec import load_experiment
from xpl.training.common import ConfigError

ROOT = Path(__file__).resolve().parents[2]
XPL = [sys.executable, "-m", "xpl.cli"]


def _env():
    return {**os.environ, "OMP_NUM_THREADS": "1", "OMP_WAIT_POLICY": "PASSIVE", "PYTHONPATH": str(ROOT / "src")}


def _write(tmp_path, text: str) -> Path:
    path = tmp_path / "bts.yaml"
    path.write_text(text)
    return path


def test_embedded_config_is_the_default_and_loads():
    config = load_bts()
    assert config.model == "organism" and [e.name for e in config.experts] == ["python", "rust-go-java", "js-php-ruby"]
    assert config.stitch.layers == [4, 1]
    assert model_labels(config) == ["seed", "expert-python", "expert-rust-go-java", "expert-js-php-ruby", "soup", "btx", "btm", "bts-k4", "bts-k1"]
    with pytest.raises(ConfigError, match="xpl bts"):
        load_experiment("bts")  # `xpl run bts` points at the right verb


@pytest.mark.parametrize(
    "text, message",
    [
        ("stitchh: 1\n", r"bts.yaml: unknown key\(s\) stitchh"),
        ("stitch: {layerz: [4]}\n", r"bts.yaml.stitch: unknown key\(s\) layerz"),
        ("experts:\n  - {name: x, languages: [klingon]}\n", r"experts\[0\].languages: unknown language 'klingon'"),
        ("experts:\n  - {name: x, languages: []}\n", r"experts\[0\].languages: name at least one PL"),
        ("experts:\n  - {name: a, languages: [python]}\n  - {name: a, languages: [rust]}\n", r"experts\[1\].name: 'a' is used twice"),
        ("experts: []\n", r"experts: name at least one expert"),
        ("stitch: {layers: [9]}\n", r"stitch.layers: K=9 is larger than the number of layers of the seed \(4\)"),
        ("stitch: {layers: [0]}\n", r"stitch.layers: K must be >= 1"),
        ("stitch: {train: {steps: 0}}\n", r"stitch.train.steps must be >= 1"),
        ("btx: {top_k: 9}\n", r"btx.top_k is 9, but the mixture has 4 MLPs per layer"),
        ("eval: {baselines: [seed, moe]}\n", r"eval.baselines: 'moe' is not one of"),
        ("pool: {seed_share: 1.5}\n", r"pool.seed_share must be in \[0, 1\)"),
        ("prompt_style: chat\n", r"prompt_style: xpl bts prompts in completion style"),
    ],
)
def test_bad_configs_name_the_key(tmp_path, text, message):
    with pytest.raises(ConfigError, match=message):
        load_bts(_write(tmp_path, text))


def test_cli_reports_a_bad_config_in_one_line(tmp_path):
    path = _write(tmp_path, "stitch: {layers: [9]}\n")
    proc = subprocess.run([*XPL, "bts", str(path), "--out", str(tmp_path / "run")], cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0
    assert "K=9 is larger than the number of layers" in proc.stdout + proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr
    assert not (tmp_path / "run" / "problems").exists()  # refused before any stage


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("bts") / "quick"
    results = run_bts(quick(load_bts()), out)
    return out, results


@pytest.mark.slow  # the --quick run end to end (tests/slow.py)
def test_quick_run_writes_report_and_keeps_models_frozen(quick_run):
    out, results = quick_run
    labels = ["seed", "expert-python", "expert-javascript", "soup", "btx", "btm", "bts-k2", "bts-k1"]
    assert results["labels"] == labels
    for label in labels:
        for lang in ("python", "javascript"):
            cell = results["table"][label]["loss"][lang]
            assert cell["low"] <= cell["mean"] <= cell["high"]
            assert 0 <= results["table"][label]["pass_at_1"][lang]["mean"] <= 1
    for k in (2, 1):
        stage = json.loads((out / "seed0" / f"stitch-k{k}" / "stage.json").read_text())
        assert stage["frozen_unchanged"] and stage["k"] == k
    # The experts never changed on disk during stitching, and the gates are gates.
    gates = json.loads((out / "seed0" / "eval" / "bts-k2" / "gates.json").read_text())
    assert gates["names"] == ["hub", "python", "javascript"]
    for layer in gates["languages"]["python"]:
        if layer["kind"] == "experts_into_hub":
            assert abs(sum(layer["mean"]) - 1) < 1e-4
        assert all(0 <= v <= 1 for v in layer["mean"])
    assert set(results["removal"]) == {"python", "javascript"}
    report = (out / "report.md").read_text()
    assert "BTS K=2" in report and "In plain words" in report and (out / "gates_bts-k2.png").is_file()


@pytest.mark.slow
def test_rerun_resumes_without_training_again(quick_run):
    out, first = quick_run
    again = run_bts(quick(load_bts()), out)
    assert again["table"] == first["table"]
    assert again["seconds"] < 60
