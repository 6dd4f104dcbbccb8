"""Scaling laws: the fit recovers a known law within its bootstrap CIs, bad input is a clear
error, synergy / proportion law / allocation give the known answers on synthetic laws, and a
two-run sweep runs end to end through the CLI (resumed, listed, sharded)."""

from __future__ import annotations

import json
import math
from functools import cache
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from xpl.analysis.scaling import (
    PARAMS,
    ProportionLaw,
    ScalingError,
    allocate,
    check_mixture,
    check_records,
    fit_law,
    fit_proportion_law,
    law,
    organisation_table,
    synergy,
)
from xpl.cli import app
from xpl.corpus import pretraining_corpus
from xpl.experiments.config import from_dict, to_dict
from xpl.experiments.sweep import SweepConfig, expand, parse_shard, shard
from xpl.training.common import ConfigError

TRUE = {"E": 1.2, "A": 60.0, "B": 400.0, "alpha": 0.4, "beta": 0.5}
NS = np.geomspace(2e4, 8e5, 4)
DS = np.geomspace(1.5e4, 1.3e5, 4)


def synthetic(params=TRUE, noise=0.01, seed=1):
    N, D = (a.ravel() for a in np.meshgrid(NS, DS))
    rng = np.random.default_rng(seed)
    return N, D, law(params, N, D) * np.exp(rng.normal(0, noise, N.size))


@cache
def recovered():
    return fit_law(*synthetic(), bootstrap=40, seed=0)


@pytest.mark.slow  # fits with bootstraps or trains (tests/slow.py)
def test_fit_recovers_the_known_law_within_the_bootstrap_cis():
    fit = recovered()
    for k in PARAMS:
        lo, hi = fit.ci[k]
        assert lo <= TRUE[k] <= hi, (k, TRUE[k], fit.params[k], fit.ci[k])
        assert lo <= fit.params[k] <= hi
    # An extrapolated prediction (2x beyond the largest N and D): interval holds the truth.
    pred = fit.predict(1.6e6, 2.6e5)
    assert pred["low"] <= law(TRUE, 1.6e6, 2.6e5) <= pred["high"]
    d = fit.diagnostics
    assert d["rms_log_residual"] < 0.02 and d["r2_log"] > 0.99
    assert set(d["mean_residual_by_N"]) == {str(int(n)) for n in NS}


def test_fit_without_noise_is_exact():
    fit = fit_law(*synthetic(noise=0.0), bootstrap=0)
    for k in PARAMS:
        assert fit.params[k] == pytest.approx(TRUE[k], rel=0.02), k


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda N, D, L: (N[:5], D[:5], L[:5]), "too few points to fit: 5 runs for 5 parameters"),
        (lambda N, D, L: (N, D, np.where(np.arange(L.size) == 3, np.nan, L)), "run3 has loss = nan"),
        (lambda N, D, L: (N, D, np.where(np.arange(L.size) == 0, -1.0, L)), "run0 has loss = -1.0"),
        (lambda N, D, L: (np.full_like(N, 1e5), D, L), "at least 2 model sizes"),
        (lambda N, D, L: (N, D[:-1], L), "same length"),
    ],
)
def test_bad_points_are_clear_errors(change, message):
    N, D, L = change(*synthetic())
    labels = [f"run{i}" for i in range(len(L))]
    with pytest.raises(ScalingError, match=message.replace("(", r"\(")):
        fit_law(N, D, L, bootstrap=0, labels=labels[: len(L)])


def record(id, kind, mixture, size, budget, props, N, D, loss, **kw):
    return {"id": id, "kind": kind, "mixture": mixture, "size": size, "budget_chars": budget, "proportions": props,
            "organisation": "shuffle", "parallel_pairs": [], "N": N, "D": D, "loss": loss, "translation_loss": {}, "vocab": "v", **kw}


def test_records_with_bad_proportions_or_nan_losses_are_refused():
    good = record("a-n1-d1", "mono", "a", "n1", 1, {"python": 1.0}, 10, 10, {"python": 2.0})
    check_records([good])
    with pytest.raises(ScalingError, match=r"run b-n1-d1: proportions must be >= 0 and sum to 1, they sum to 0.9"):
        check_records([good, {**good, "id": "b-n1-d1", "proportions": {"python": 0.5, "rust": 0.4}}])
    with pytest.raises(ScalingError, match="run c-n1-d1: held-out loss on python is nan"):
        check_records([{**good, "id": "c-n1-d1", "loss": {"python": float("nan")}}])
    with pytest.raises(ScalingError, match="shares must sum to 1, they sum to 1.2"):
        check_mixture({"python": 0.6, "rust": 0.6}, ["python", "rust"])
    with pytest.raises(ScalingError, match="go not among the fitted PLs"):
        check_mixture({"python": 0.5, "go": 0.5}, ["python", "rust"])
    with pytest.raises(ScalingError, match=r"proportions.rust: a share must be a finite number >= 0, got -0.5"):
        check_mixture({"python": 1.5, "rust": -0.5}, ["python", "rust"])


LAWS = {
    "python": {"E": 1.0, "A": 50.0, "B": 300.0, "alpha": 0.4, "beta": 0.5},
    "rust": {"E": 1.1, "A": 50.0, "B": 300.0, "alpha": 0.4, "beta": 0.5},
    "go": {"E": 0.9, "A": 50.0, "B": 300.0, "alpha": 0.4, "beta": 0.5},
}
LANGS = list(LAWS)
C_TRUE = np.array([[0, 1.5, 0.5], [1.5, 0, -0.5], [0.5, -0.5, 0]])


def mixture_records(model: ProportionLaw, cells=((1e5, 4e4), (4e5, 1.6e5))):
    """Monolingual, bilingual and 3-PL runs whose losses the model predicts exactly."""
    recs = []
    mixes = {k: {k: 1.0} for k in LANGS}
    mixes.update({f"{a}+{b}": {a: 0.5, b: 0.5} for i, a in enumerate(LANGS) for b in LANGS[i + 1 :]})
    mixes.update({"m1": {"python": 0.6, "rust": 0.2, "go": 0.2}, "m2": {"python": 0.2, "rust": 0.4, "go": 0.4}})
    for c, (N, D) in enumerate(cells):
        for name, props in mixes.items():
            full = {k: props.get(k, 0.0) for k in LANGS}
            kind = "mono" if len(props) == 1 else ("pair" if "+" in name else "mix")
            loss = model.losses(N, D, full)
            recs.append(record(f"{name}-n{c}-d{int(D)}", kind, name, f"n{c}", int(D), props, N, D, loss))
    return recs


def test_synergy_matrix_has_the_known_gains():
    model = ProportionLaw(LANGS, LAWS, C_TRUE)
    recs = mixture_records(model)
    syn = synergy(recs, LANGS)
    gain = np.array(syn["gain"])
    for i, a in enumerate(LANGS):
        for j, b in enumerate(LANGS):
            if i == j:
                assert gain[i, j] == 0
                continue
            expect = np.mean([model.losses(N, D, {a: 1.0})[a] - model.losses(N, D, {a: 0.5, b: 0.5})[a] for N, D in ((1e5, 4e4), (4e5, 1.6e5))])
            assert gain[i, j] == pytest.approx(expect)
    # c = 1.5 > 0 but below 2: rust's tokens are worth less to python than python's own.
    assert gain[0, 1] < 0 and gain[0, 1] > gain[1, 2]
    with pytest.raises(ScalingError, match="no bilingual run"):
        synergy([r for r in recs if r["kind"] != "pair"], LANGS)


def test_proportion_law_recovers_the_cross_pl_terms():
    model = ProportionLaw(LANGS, LAWS, C_TRUE)
    recs = mixture_records(model)
    fitted = fit_proportion_law(recs, LAWS, LANGS, bootstrap=5)
    assert np.allclose(fitted.c, C_TRUE, atol=0.02)
    assert fitted.gamma == pytest.approx(1.5, abs=0.02)
    assert np.abs(fitted.tau).max() == pytest.approx(1.0)
    paper = fitted.paper_form({"python": 0.5, "rust": 0.5, "go": 0.0})
    assert paper["E"] == pytest.approx(1.05) and paper["alpha_N"] == pytest.approx(0.4)
    assert paper["D_x_over_D"] == pytest.approx(1 + 2 * 0.25 * 1.5, abs=0.02)
    d = fitted.to_dict()
    assert set(d["pairs"]) == {"python+rust", "python+go", "rust+go"}
    with pytest.raises(ScalingError, match="too few points to fit: 2 mixture runs for 3 pair coefficients"):
        fit_proportion_law([r for r in recs if r["kind"] == "mono" or r["id"].startswith("python+rust")], LAWS, LANGS, bootstrap=0)


def test_allocation_uniform_when_symmetric_and_favours_the_faster_falling_pl():
    same = {k: dict(LAWS["python"]) for k in LANGS}
    sym = allocate(ProportionLaw(LANGS, same, np.zeros((3, 3))), 1e5, 1e5)
    assert all(v == pytest.approx(1 / 3, abs=1e-3) for v in sym["proportions"].values())
    fast = {**same, "rust": {**same["rust"], "B": 900.0}}  # rust's loss falls faster with its data
    res = allocate(ProportionLaw(LANGS, fast, np.zeros((3, 3))), 1e5, 1e5)
    assert res["proportions"]["rust"] > 0.4 > res["proportions"]["python"]
    assert res["objective"] < res["uniform"]["objective"]
    assert sum(res["proportions"].values()) == pytest.approx(1.0)
    weighted = allocate(ProportionLaw(LANGS, same, np.zeros((3, 3))), 1e5, 1e5, weights={"go": 3.0})
    assert weighted["proportions"]["go"] > 0.4
    with pytest.raises(ScalingError, match="weights: java not among the fitted PLs"):
        allocate(ProportionLaw(LANGS, same, np.zeros((3, 3))), 1e5, 1e5, weights={"java": 1.0})
    with pytest.raises(ScalingError, match="floor must be in"):
        allocate(ProportionLaw(LANGS, same, np.zeros((3, 3))), 1e5, 1e5, floor=0.5)


def test_organisation_table_marks_seen_and_unseen_pairs():
    props = {"python": 0.34, "rust": 0.33, "go": 0.33}
    shu = record("s", "mix", "s", "n1", 5, props, 1, 1, {}, translation_loss={"python->rust": 2.0, "rust->go": 3.0})
    par = record("p", "mix", "p", "n1", 5, props, 1, 1, {}, translation_loss={"python->rust": 1.5, "rust->go": 2.9})
    par.update(organisation="parallel", parallel_pairs=[["python", "rust"], ["python", "go"]])
    rows = {r["direction"]: r for r in organisation_table([shu, par])}
    assert rows["python->rust"]["seen"] and not rows["rust->go"]["seen"]
    assert rows["python->rust"]["change"] == pytest.approx(-0.5)


# ---------------------------------------------------------------------------------------------
# The sweep


def sweep_config(problems: str, **kw) -> SweepConfig:
    data = {
        "problems": problems,
        "languages": ["python", "javascript"],
        "sizes": {"a": {"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 1, "num_attention_heads": 2, "num_key_value_heads": 1}},
        "budgets": [6000],
        "bilingual": False,
        "learning_rates": {"a": 0.004},
        "tokenizer_vocab": 300,
        "max_heldout": 8,
        "pretrain": {"preset": "xs", "context": 64, "train": {"learning_rate": 0.005, "batch_size": 8, "warmup_steps": 1, "logging_steps": 1}},
        **kw,
    }
    return from_dict(SweepConfig, data, "sweep")


def test_expand_gives_stable_ids_and_shards_partition_the_jobs():
    cfg = sweep_config("p", languages=["python", "javascript", "rust"], budgets=[100, 200], bilingual=True, bilingual_budgets=[200],
                       mixtures=[{"name": "mix", "proportions": {"python": 0.5, "rust": 0.5}, "budgets": [100]},
                                 {"name": "seeded", "proportions": {"rust": 1.0}, "budgets": [200], "seeds": [0, 1]}])
    cfg.validate()
    jobs = expand(cfg)
    ids = [j.id for j in jobs]
    assert ids[:2] == ["python-a-d100", "python-a-d200"] and "javascript+rust-a-d200" in ids and "mix-a-d100" in ids
    assert ids[-2:] == ["seeded-a-d200-s0", "seeded-a-d200-s1"] and [j.seed for j in jobs[-2:]] == [0, 1]
    assert len(ids) == 3 * 2 + 3 + 1 + 2 == len(set(ids))
    parts = [shard(jobs, i, 3) for i in range(3)]
    assert sorted(j.id for p in parts for j in p) == sorted(ids)
    assert parse_shard("1/3") == (1, 3)
    with pytest.raises(ConfigError, match="--shard: expected i/n"):
        parse_shard("3/3")


@pytest.mark.parametrize(
    "kw, message",
    [
        ({"bilingual_sizes": ["b"]}, "sweep.bilingual_sizes: unknown size 'b'"),
        ({"budgets": [0]}, "sweep.budgets: expected positive"),
        ({"learning_rates": {"z": 0.01}}, "sweep.learning_rates: unknown size 'z'"),
        ({"learning_rates": {"a": 0}}, "sweep.learning_rates.a: expected a positive number"),
        ({"mixtures": [{"name": "m", "proportions": {"python": 0.7, "javascript": 0.2}}]}, "sweep.mixtures[0].proportions: shares must sum to 1"),
        ({"mixtures": [{"name": "m", "proportions": {"python": 0.5, "go": 0.5}}]}, "go not among sweep.languages"),
        ({"mixtures": [{"name": "python", "proportions": {"python": 1.0}}]}, "sweep.mixtures[0].name"),
    ],
)
def test_sweep_config_errors_name_the_field(kw, message):
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
        sweep_config("p", **kw).validate()
    with pytest.raises(ConfigError, match="sweep: unknown key"):
        from_dict(SweepConfig, {**to_dict(sweep_config("p")), "sizez": {}}, "sweep")


@cache
def problems_dir(root: str) -> str:
    from xpl.problems.family import build

    build(40, 0, Path(root) / "problems", languages=["python", "javascript", "lua"], check=False)
    return str(Path(root) / "problems")


@pytest.fixture(scope="module")
def problems(tmp_path_factory):
    return problems_dir(str(tmp_path_factory.mktemp("scaling")))


def test_parallel_pairs_restrict_which_pls_share_a_document(problems):
    from xpl.problems import read_problems

    train, _ = read_problems(Path(problems) / "train.jsonl")
    props = {"python": 0.34, "javascript": 0.33, "lua": 0.33}
    docs = pretraining_corpus(train, props, 20000, "parallel", pairs=[("python", "lua")])
    paired = {frozenset(d.languages) for d in docs if len(d.languages) == 2}
    assert paired == {frozenset(("python", "lua"))}
    assert pretraining_corpus(train, props, 20000, "parallel") == pretraining_corpus(train, props, 20000, "parallel", pairs=None)


@pytest.mark.slow  # fits with bootstraps or trains (tests/slow.py)
def test_two_run_sweep_end_to_end_through_the_cli(problems, tmp_path):
    import yaml

    cfg = to_dict(sweep_config(problems, monolingual=False, mixtures=[
        {"name": "solo", "proportions": {"python": 1.0}},
        {"name": "par", "proportions": {"python": 0.5, "javascript": 0.5}, "organisation": "parallel", "translation": True},
    ]))
    path = tmp_path / "sweep.yaml"
    path.write_text(yaml.safe_dump(cfg))
    out = tmp_path / "sweep"
    runner = CliRunner()
    res = runner.invoke(app, ["scaling", "sweep", str(path), "--out", str(out), "--shard", "0/2"])
    assert res.exit_code == 0, res.output
    assert "1 jobs finished (1 trained now" in res.output
    res = runner.invoke(app, ["scaling", "sweep", str(path), "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert "2 jobs finished (1 trained now, 1 already done)" in res.output
    res = runner.invoke(app, ["scaling", "sweep", str(path), "--out", str(out), "--list"])
    assert "2 of 2 jobs finished" in res.output
    rec = json.loads((out / "jobs" / "par-a-d6000" / "sweep.json").read_text())
    assert set(rec["loss"]) == {"python", "javascript"} and rec["N"] < rec["N_total"] and rec["D"] > 0
    assert rec["learning_rate"] == 0.004  # the size's own rate, not pretrain.train's
    assert set(rec["translation_loss"]) == {"python->javascript", "javascript->python"}
    assert all(math.isfinite(v) for v in rec["translation_loss"].values())
    solo = json.loads((out / "jobs" / "solo-a-d6000" / "sweep.json").read_text())
    assert solo["vocab"] == rec["vocab"]  # one shared tokenizer
    # Two runs cannot be fitted: a one-line error, exit code 2.
    res = runner.invoke(app, ["scaling", "fit", str(out)])
    assert res.exit_code == 2 and "no monolingual runs" in res.output
    # Changing a finished job's settings under the same id is refused.
    cfg["mixtures"][0]["proportions"] = {"python": 0.5, "javascript": 0.5}
    path.write_text(yaml.safe_dump(cfg))
    res = runner.invoke(app, ["scaling", "sweep", str(path), "--out", str(out)])
    assert res.exit_code == 2 and "job solo-a-d6000" in res.output and "other settings" in res.output
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({**cfg, "budgets": "many"}))
    res = runner.invoke(app, ["scaling", "sweep", str(bad), "--out", str(out)])
    assert res.exit_code == 2 and "sweep.yaml" not in res.output and "budgets: expected a list" in res.output


def fake_sweep(folder: Path, model: ProportionLaw, problems: str = "p") -> None:
    """A sweep folder holding runs whose losses come from ``model`` with 1% noise."""
    rng = np.random.default_rng(0)
    sizes = {f"n{i}": {"hidden_size": 16 * (i + 1)} for i in range(4)}
    budgets = [10000, 20000, 40000, 80000]
    cfg = sweep_config(problems, languages=LANGS, sizes=sizes, budgets=budgets, learning_rates={})
    (folder).mkdir(parents=True)
    (folder / "sweep.json").write_text(json.dumps(to_dict(cfg)))
    recs = []
    for i, size in enumerate(sizes):
        N = 2e4 * 3**i
        for budget in budgets:
            D = budget / 2
            cells = [(k, {k: 1.0}, "mono") for k in LANGS]
            if size in ("n1", "n3") and budget in (20000, 80000):
                cells += [(f"{a}+{b}", {a: 0.5, b: 0.5}, "pair") for j, a in enumerate(LANGS) for b in LANGS[j + 1 :]]
                cells += [("mix", {"python": 0.6, "rust": 0.2, "go": 0.2}, "mix")]
            for name, props, kind in cells:
                loss = {k: v * math.exp(rng.normal(0, 0.01)) for k, v in model.losses(N, D, {k: props.get(k, 0) for k in LANGS}).items()}
                recs.append(record(f"{name}-{size}-d{budget}", kind, name, size, budget, props, N, D, loss))
    for r in recs:
        (folder / "jobs" / r["id"]).mkdir(parents=True)
        (folder / "jobs" / r["id"] / "sweep.json").write_text(json.dumps(r))


@pytest.mark.slow  # fits with bootstraps or trains (tests/slow.py)
def test_fit_and_allocate_through_the_cli(tmp_path):
    laws = {**LAWS, "rust": {**LAWS["rust"], "B": 900.0}}
    model = ProportionLaw(LANGS, laws, C_TRUE)
    folder = tmp_path / "sweep"
    fake_sweep(folder, model)
    runner = CliRunner()
    res = runner.invoke(app, ["scaling", "fit", str(folder), "--bootstrap", "8"])
    assert res.exit_code == 0, res.output
    fit = json.loads((folder / "fit" / "fit.json").read_text())
    assert set(fit["laws"]) == set(LANGS) and fit["synergy"]["languages"] == sorted(LANGS)
    assert abs(fit["laws"]["rust"]["params"]["beta"] - 0.5) < 0.1
    beyond = fit["predictions"]["rust"][0]
    assert beyond["low"] <= beyond["loss"] <= beyond["high"] and beyond["D"] == 2 * 40000
    for png in ("fits.png", "residuals.png", "synergy.png"):
        assert (folder / "fit" / png).stat().st_size > 1000
    assert "## Synergy" in (folder / "fit" / "report.md").read_text()
    res = runner.invoke(app, ["scaling", "allocate", "--fit", str(folder / "fit" / "fit.json"), "--sweep", str(folder), "--size", "n3", "--budget", "80000"])
    assert res.exit_code == 0, res.output
    alloc_dir = folder / "fit" / "allocation-n3-d80000"
    result = json.loads((alloc_dir / "allocation.json").read_text())
    assert result["proportions"]["rust"] > 1 / 3 and result["objective"] <= result["uniform"]["objective"]
    assert (alloc_dir / "allocation.png").is_file()
    from xpl.experiments.sweep import expand, load_sweep

    jobs = expand(load_sweep(alloc_dir / "allocation.yaml"))
    assert [j.id for j in jobs] == ["alloc-n3-d80000-s0", "uniform-n3-d80000-s0"]
    # Once those runs exist, the allocation shows what they measured.
    for job in jobs:
        props = dict(job.proportions)
        loss = model.losses(3 * 3**3 * 2e4 / 3, 40000, {k: props.get(k, 0) for k in LANGS})
        r = record(job.id, "mix", job.mixture, "n3", 80000, props, 5.4e5, 40000, loss)
        (folder / "jobs" / job.id).mkdir()
        (folder / "jobs" / job.id / "sweep.json").write_text(json.dumps(r))
    res = runner.invoke(app, ["scaling", "allocate", "--fit", str(folder / "fit" / "fit.json"), "--sweep", str(folder), "--size", "n3", "--budget", "80000"])
    assert res.exit_code == 0, res.output
    result = json.loads((alloc_dir / "allocation.json").read_text())
    assert set(result["measured"]) == {"allocation", "uniform"}
    res = runner.invoke(app, ["scaling", "allocate", "--fit", str(folder / "fit" / "fit.json"), "--sweep", str(folder), "--size", "n9", "--budget", "80000"])
    assert res.exit_code == 2 and "unknown size 'n9'" in res.output
    res = runner.invoke(app, ["scaling", "allocate", "--fit", str(folder / "fit" / "fit.json"), "--sweep", str(folder), "--size", "n3", "--budget", "80000", "--weights", "python=x"])
    assert res.exit_code == 2 and "--weights: expected PL=number" in res.output


def test_the_shared_tokenizer_is_the_same_on_every_machine(problems, tmp_path):
    """Shards on different machines each train the sweep's tokenizer: it must come out the same."""
    from xpl.experiments.sweep import load_problems, shared_tokenizer, vocab_hash

    cfg = sweep_config(problems)
    cfg.validate()
    train, _ = load_problems(cfg)
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir(), b.mkdir()
    assert vocab_hash(shared_tokenizer(cfg, train, a)) == vocab_hash(shared_tokenizer(cfg, list(train), b))
