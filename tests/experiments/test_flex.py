"""The FLeX experiment's --quick configuration end to end (report = results.json, resumable),
and bad configs named. The run is in-process (importing torch and transformers again in a
subprocess would double the test's time); the CLI verb is run for its errors."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from xpl.experiments.flex import load_flex, quick, run_flex
from xpl.experiments.spec import load_experiment
from xpl.languages import UnknownLanguage
from xpl.training.common import ConfigError

ROOT = Path(__file__).resolve().parents[2]
XPL = [sys.executable, "-m", "xpl.cli"]


def _env():
    return {**os.environ, "OMP_NUM_THREADS": "1", "OMP_WAIT_POLICY": "PASSIVE", "PYTHONPATH": str(ROOT / "src")}


def _flex(*args, timeout=900):
    return subprocess.run([*XPL, "flex", *map(str, args)], cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("flex") / "quick"
    run_flex(quick(load_flex()), out)
    return out


@pytest.mark.slow  # the --quick run end to end (tests/slow.py)
def test_quick_run_writes_the_table_and_curves(quick_run):
    results = json.loads((quick_run / "results.json").read_text())
    langs = results["languages"]
    assert langs == ["python", "javascript"]
    labels = ["base"] + [f"{o}/{a}-{v}" for o in ("adamw", "sophia") for a in ("lora", "lora_fourier") for v in ("unmerged", "merged")]
    assert list(results["table"]) == labels
    report = (quick_run / "report.md").read_text()
    table = report.split("## pass@1 and held-out loss")[1].split("## Differences")[0]
    lines = [line for line in table.splitlines() if line.startswith("| ") and "model" not in line]
    assert len(lines) == len(labels)
    for line, label in zip(lines, labels):
        cells = [c.strip() for c in line.split("|")[2:-1]]
        row = results["table"][label]
        expected = [row["pass_at_1"][x] for x in langs] + [row["loss"][x] for x in langs]
        for cell, est in zip(cells, expected):
            mean, low, high = map(float, re.match(r"([\d.]+) \[([\d.]+), ([\d.]+)\]", cell).groups())
            assert (mean, low, high) == (round(est["mean"], 3), round(est["low"], 3), round(est["high"], 3))
            assert low <= mean <= high
    # Merged and unmerged adapters score the same (float rounding apart).
    assert results["merge_gap_loss"] < 1e-3
    # Sophia: the Hessian refreshed every k (= 2 in --quick) steps, the clipped fraction logged.
    sophia = results["training"]["0/sophia/lora"]
    assert sophia["hessian_steps"] == [0, 2]
    assert all(0 <= r["sophia_clip_fraction"] <= 1 for r in sophia["train"])
    assert set(results["steps_to_target"]) == {"lora", "lora_fourier"}
    for png in ("loss_curves.png", "sophia_clipping.png"):
        assert (quick_run / png).stat().st_size > 1000
    assert (quick_run / "seed0" / "adamw" / "lora_fourier" / "adapter" / "adapter_config.json").is_file()


@pytest.mark.slow  # the --quick run end to end (tests/slow.py)
def test_rerun_resumes_without_training_again(quick_run):
    before = json.loads((quick_run / "results.json").read_text())
    marker = quick_run / "seed0" / "sophia" / "lora" / "stage.json"
    stamp = marker.stat().st_mtime_ns
    run_flex(quick(load_flex()), quick_run)
    assert marker.stat().st_mtime_ns == stamp  # finished stages are not run again
    after = json.loads((quick_run / "results.json").read_text())
    drop = ("seconds", "seconds_all_invocations", "versions")
    assert {k: v for k, v in after.items() if k not in drop} == {k: v for k, v in before.items() if k not in drop}


@pytest.mark.parametrize(
    "text, message",
    [
        ("arms: [lora, dora]\n", "arms: 'dora'"),
        ("optimizers: [sgd]\n", "optimizers: 'sgd'"),
        ("variants: []\n", "variants"),
        ("lora: {target_modules: [qproj]}\n", "lora.target_modules"),
        ("fourier: {threshold: 0}\n", "fourier.threshold"),
        ("fourier: {phi_low: 2}\n", "fourier.phi_low"),
        ("sophia: {rho: -1}\n", "sophia.rho"),
        ("sophia: {hessian_interval: 0}\n", "sophia.hessian_interval"),
        ("adamw: {learning_rate: 0}\n", "adamw"),
        ("train: {lora: {r: 4}}\n", "train.lora"),
        ("train: {batch_size: x}\n", "train.batch_size"),
        ("eval: {languages: [cobol]}\n", "cobol"),
        ("bogus: 1\n", "bogus"),
    ],
)
def test_bad_configs_name_the_key(tmp_path, text, message):
    cfg = tmp_path / "bad.yaml"
    cfg.write_text(text)
    with pytest.raises((ConfigError, UnknownLanguage), match=re.escape(message)):
        load_flex(cfg)


def test_cli_errors_are_one_line(tmp_path):
    cfg = tmp_path / "bad.yaml"
    cfg.write_text("sophia: {rho: -1}\n")
    proc = _flex(cfg, "--out", tmp_path / "o", timeout=120)
    assert proc.returncode == 2 and "sophia.rho" in proc.stderr and "Traceback" not in proc.stderr
    for name in ("flex", "flex-ortho"):  # `xpl run flex`: the wrong verb for these configs
        with pytest.raises(ConfigError, match=f"xpl flex {name}"):
            load_experiment(name)


def test_embedded_config_and_quick_are_valid():
    config = load_flex()
    assert config.optimizers == ["adamw", "sophia"] and config.arms == ["lora", "lora_fourier"]
    assert config.fourier.weight == 0.02 and config.fourier.threshold == 0.5
    quick(config).validate()
    ortho = load_flex("flex-ortho")
    assert ortho.fourier.norm == "ortho" and ortho.optimizers == ["adamw"]
