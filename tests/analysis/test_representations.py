"""Representation analysis: metrics on planted vectors, embedding a tiny model, the CLI."""

import itertools
import json
import numpy as np
import pytest
from typer.testing import CliRunner

from tests.training.fixtures import tiny_pretrain_config, tiny_problems
from xpl.analysis import (
    AnalysisError,
    embed,
    inter_distance,
    intra_distances,
    layer_metrics,
    make_groups,
    parse_layers,
    relative_change,
    resample_weights,
    retrieval,
)
from xpl.analysis.representations import group_stats
from xpl.cli import _expand_multi, app
from xpl.problems import write_problems
from xpl.problems.family import build

METRICS = ("intra", "inter", "ratio", "top1", "mrr")


def planted(noise: float, groups: int = 30, pls: int = 3, dim: int = 32, seed: int = 0) -> np.ndarray:
    """[group, pl, dim]: each group's PL vectors are the group's centre plus noise."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(groups, 1, dim))
    return centres + noise * rng.normal(size=(groups, pls, dim))


# ---------------------------------------------------------------------- metrics


def test_tight_groups_score_better_than_loose_ones():
    tight = layer_metrics(planted(0.1), ["python", "rust", "go"])
    loose = layer_metrics(planted(2.0), ["python", "rust", "go"])
    assert tight["intra"]["mean"] < loose["intra"]["mean"]
    assert tight["ratio"]["mean"] < loose["ratio"]["mean"]
    assert tight["top1"]["mean"] > loose["top1"]["mean"]
    assert tight["mrr"]["mean"] > loose["mrr"]["mean"]
    # The intervals do not even overlap at these noise levels.
    assert tight["intra"]["high"] < loose["intra"]["low"] and tight["mrr"]["low"] > loose["mrr"]["high"]
    assert set(tight["pairs"]) == {f"{a}->{b}" for a, b in itertools.permutations(["python", "rust", "go"], 2)}


def test_identical_programs_across_pls_retrieve_perfectly():
    X = np.repeat(np.random.default_rng(1).normal(size=(12, 1, 16)), 4, axis=1)
    m = layer_metrics(X)
    assert m["top1"]["mean"] == 1.0 and m["mrr"]["mean"] == 1.0
    assert m["top1"]["low"] == m["top1"]["high"] == 1.0
    assert all(p == {"top1": 1.0, "mrr": 1.0} for p in m["pairs"].values())
    assert m["intra"]["mean"] == pytest.approx(0.0, abs=1e-12) and m["ratio"]["mean"] == pytest.approx(0.0, abs=1e-12)


def test_ties_are_broken_at_random_in_expectation():
    ret = retrieval(np.ones((4, 2, 3)))  # every program the same: the right one is 1 of 4 equals
    assert ret["top1"] == pytest.approx(0.25)
    assert ret["mrr"] == pytest.approx((1 + 1 / 2 + 1 / 3 + 1 / 4) / 4)


def test_distances_match_a_brute_force_computation():
    X = planted(0.7, groups=7, pls=3, dim=5, seed=3)
    U = X / np.linalg.norm(X, axis=-1, keepdims=True)
    intra = [np.mean([1 - U[g, i] @ U[g, j] for i, j in itertools.combinations(range(3), 2)]) for g in range(7)]
    inter = [1 - U[g, i] @ U[h, j] for g in range(7) for h in range(7) if g != h for i in range(3) for j in range(3)]
    assert intra_distances(X) == pytest.approx(intra)
    assert inter_distance(X) == pytest.approx(np.mean(inter))
    # A bootstrap replicate: inter distance only between different problems, duplicates included.
    W = resample_weights(7, 3, seed=5)
    stats = group_stats(X, W)
    for r in range(3):
        draw = np.repeat(np.arange(7), W[r].astype(int))
        pairs = [1 - U[a, i] @ U[b, j] for a in draw for b in draw if a != b for i in range(3) for j in range(3)]
        assert stats.replicates["inter"][r] == pytest.approx(np.mean(pairs))
        assert stats.replicates["intra"][r] == pytest.approx(np.mean(np.array(intra)[draw]))
    # Retrieval by brute force: rank of the right program among all programs in the other PL.
    rr = []
    for a, b in itertools.permutations(range(3), 2):
        for g in range(7):
            sims = U[:, b] @ U[g, a]
            rr.append(1 / (1 + int((sims > sims[g]).sum())))
    assert retrieval(X)["mrr"] == pytest.approx(np.mean(rr))


def test_bootstrap_intervals_contain_the_point_estimate_and_are_seeded():
    X = planted(1.0)
    m = layer_metrics(X, reps=500, seed=7)
    for metric in METRICS:
        assert m[metric]["low"] <= m[metric]["mean"] <= m[metric]["high"], metric
        assert m[metric]["low"] < m[metric]["high"], metric
    assert layer_metrics(X, reps=500, seed=7) == m
    assert layer_metrics(X, reps=500, seed=8)["intra"] != m["intra"]


def test_relative_change_is_paired_over_the_same_groups():
    W = resample_weights(30, 400, seed=0)
    loose, tight = group_stats(planted(1.0), W), group_stats(planted(0.6), W)
    change = relative_change(tight, loose, "intra")
    assert change.mean == pytest.approx(tight.point["intra"] / loose.point["intra"] - 1)
    assert change.high < 0  # clearly tighter
    same = relative_change(loose, loose, "intra")
    assert (same.mean, same.low, same.high) == (0.0, 0.0, 0.0)


def test_the_best_layer_is_one_where_the_models_differ():
    """With LoRA on the top layers only, the lower layers are the base model's in every model:
    the best-retrieval layer among them would report no change by construction."""
    from xpl.analysis.representations import _choose_layers

    W = resample_weights(30, 50, seed=0)
    shared = {1: group_stats(planted(0.1), W), 2: group_stats(planted(0.1, seed=1), W)}  # the best retrieval
    base = {**shared, 3: group_stats(planted(1.0, seed=2), W), 4: group_stats(planted(1.2, seed=3), W)}
    tuned = {**shared, 3: group_stats(planted(0.8, seed=4), W), 4: group_stats(planted(1.5, seed=5), W)}
    chosen = _choose_layers({"base": base, "tuned": tuned}, "best")
    assert chosen == {"base": 3, "tuned": 3}
    # Models identical everywhere: the best layer overall, as before.
    assert _choose_layers({"base": base, "copy": dict(base)}, "best")["copy"] in (1, 2)


def test_bad_inputs_are_errors():
    with pytest.raises(AnalysisError, match="at least 2 groups and 2 PLs"):
        layer_metrics(np.zeros((5, 1, 3)))
    with pytest.raises(AnalysisError, match="layers must be"):
        parse_layers("first")
    assert parse_layers("0, 3,-1") == [0, 3, -1] and parse_layers("ALL") == "all"


def test_expand_multi_values():
    args = ["--models", "a", "b", "--out", "o", "--names", "x", "y", "-p", "f"]
    assert _expand_multi(args, ("--models", "--names")) == [
        "--models", "a", "--models", "b", "--out", "o", "--names", "x", "--names", "y", "-p", "f",
    ]  # fmt: skip


# ---------------------------------------------------------------------- a tiny model


@pytest.fixture(scope="module")
def analysis_problems():
    built = build(12, seed=1, languages=["python", "javascript"], check=False)
    return built.problems


def _pretrain_quickly(out, steps: int = 6):
    """A tiny model pretrained for a few steps with the training tests' settings (corpus,
    tokenizer, preset xs, context 64, lr 5e-3, batch 8), in a plain loop: the Trainer's
    imports alone would take longer than this whole test."""
    import torch

    from xpl.corpus import pretraining_corpus
    from xpl.models.tiny import build_tiny
    from xpl.models.tokenizer import train_tokenizer
    from xpl.training.pretrain import pack

    config = tiny_pretrain_config()
    train, _ = tiny_problems()
    docs = pretraining_corpus(train, config.proportions, 12_000, config.organisation, seed=0)
    tokenizer = train_tokenizer((d.text for d in docs), config.vocab_size)
    ids = [[tokenizer.bos_token_id, *tokenizer(d.text, add_special_tokens=False).input_ids, tokenizer.eos_token_id] for d in docs]
    blocks = torch.tensor(pack(ids, config.context))
    model = build_tiny(tokenizer, config.preset, seed=0, max_positions=config.context)
    opt = torch.optim.AdamW(model.parameters(), lr=config.train.learning_rate)
    gen = torch.Generator().manual_seed(0)
    model.train()
    for _ in range(steps):
        batch = blocks[torch.randint(len(blocks), (config.train.batch_size,), generator=gen)]
        loss = model(input_ids=batch, labels=batch).loss
        loss.backward()
        opt.step()
        opt.zero_grad()
    model.eval()
    model.save_pretrained(str(out))
    tokenizer.save_pretrained(str(out))
    return model, tokenizer


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    from xpl.models.tiny import build_tiny

    root = tmp_path_factory.mktemp("models")
    model, tokenizer = _pretrain_quickly(root / "trained")
    init = root / "init"  # the same architecture, untrained: a second model to compare with
    build_tiny(tokenizer, "xs", seed=1, max_positions=64).save_pretrained(str(init))
    tokenizer.save_pretrained(str(init))
    return root / "trained", init, model, tokenizer


@pytest.mark.slow  # pretrains a model first (tests/slow.py)
def test_embed_shapes_and_pooling(tiny_model, analysis_problems):
    from xpl.corpus import program_text

    _, _, model, tokenizer = tiny_model
    texts = [program_text(p, lang) for p in analysis_problems[:5] for lang in ("python", "javascript")]
    info = {}
    E = embed(model, tokenizer, texts, batch_size=4, info=info)
    assert E.shape == (model.config.num_hidden_layers + 1, len(texts), model.config.hidden_size)
    assert E.dtype == np.float32 and np.isfinite(E).all()
    assert info["max_length"] == 64 and 0 <= info["truncated"] <= len(texts)
    # Padding never leaks into the pooled vectors: batches of one give the same numbers.
    alone = embed(model, tokenizer, texts, batch_size=1)
    np.testing.assert_allclose(E, alone, atol=2e-4, rtol=1e-3)
    last = embed(model, tokenizer, texts, layers=[0, -1], pooling="last", batch_size=3)
    assert last.shape == (2, len(texts), model.config.hidden_size)
    np.testing.assert_allclose(last[1], embed(model, tokenizer, texts, "last", "last", batch_size=1)[0], atol=2e-4, rtol=1e-3)
    assert not np.allclose(last[1], E[-1])
    with pytest.raises(AnalysisError, match="out of range"):
        embed(model, tokenizer, texts, layers=[7])
    with pytest.raises(AnalysisError, match="pooling"):
        embed(model, tokenizer, texts, pooling="max")


def test_groups_need_every_pl(analysis_problems):
    groups = make_groups(analysis_problems, ["py", "js"], max_problems=5)
    assert len(groups) == 5 and groups.languages == ("python", "javascript") and len(groups.texts) == 10
    assert groups.texts[1].startswith("//") or "function" in groups.texts[1]
    with pytest.raises(AnalysisError, match="no problem has a rust solution"):
        make_groups(analysis_problems, ["python", "rust"])


@pytest.mark.slow  # pretrains a model first (tests/slow.py)
def test_cli_writes_results_report_and_plots(tiny_model, analysis_problems, tmp_path):
    final, init, model, _ = tiny_model
    problems = tmp_path / "problems.jsonl"
    write_problems(problems, analysis_problems)
    out = tmp_path / "analysis"
    args = ["analyze", "representations", "--models", str(init), str(final), "--names", "init", "trained"]
    args += ["--problems", str(problems), "--langs", "python,javascript", "--out", str(out), "--reps", "200"]
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    names = {"results.json", "report.md", "metrics_by_layer.png", "projection_init.png", "projection_trained.png"}
    assert names <= {p.name for p in out.iterdir()}
    results = json.loads((out / "results.json").read_text())
    assert results["num_groups"] == len(analysis_problems) and results["languages"] == ["python", "javascript"]
    states = model.config.num_hidden_layers + 1
    for name in ("init", "trained"):
        m = results["models"][name]
        assert m["num_hidden_states"] == states and [r["layer"] for r in m["layers"]] == list(range(states))
        for row in m["layers"]:
            for metric in METRICS:
                e = row[metric]
                assert all(np.isfinite([e["mean"], e["low"], e["high"]])) and e["low"] <= e["mean"] + 1e-9 <= e["high"] + 2e-9
    layer = results["report_layer"]["layers"]["init"]
    assert 1 <= layer < states and set(results["report_layer"]["layers"].values()) == {layer}
    summary = results["summary"]
    assert summary["init"]["intra_change"] is None  # the reference
    change = summary["trained"]["intra_change"]
    assert change["low"] <= change["mean"] <= change["high"]
    intra = [summary[name]["intra"]["mean"] for name in ("init", "trained")]
    assert change["mean"] == pytest.approx(intra[1] / intra[0] - 1)
    report = (out / "report.md").read_text()
    assert "| trained |" in report and "intra vs init" in report and "(reference)" in report
    assert len(results["projections"]["trained"]["tsne"]) == 2 * len(analysis_problems)


@pytest.mark.slow  # pretrains a model first (tests/slow.py)
def test_cli_errors_are_one_line(tiny_model, analysis_problems, tmp_path):
    final = tiny_model[0]
    problems = tmp_path / "problems.jsonl"
    write_problems(problems, analysis_problems)
    runner = CliRunner()
    base = ["analyze", "representations", "--problems", str(problems), "--out", str(tmp_path / "o")]
    res = runner.invoke(app, [*base, "--models", str(tmp_path / "nope"), "--langs", "python,javascript"])
    assert res.exit_code == 2 and "nope" in res.output and "no such folder" in res.output, res.output
    res = runner.invoke(app, [*base, "--models", str(final), "--langs", "python,rust"])
    assert res.exit_code == 2 and "has no rust solution" in res.output, res.output
    res = runner.invoke(app, [*base, "--models", str(final), str(final), "--names", "a", "--langs", "py,js"])
    assert res.exit_code == 2 and "1 names for 2 models" in res.output, res.output
    res = runner.invoke(app, [*base, "--models", str(final), "--langs", "py,js", "--layers", "0,9"])
    assert res.exit_code == 2 and "layer 9 is out of range" in res.output, res.output
    assert not (tmp_path / "o" / "results.json").exists()
