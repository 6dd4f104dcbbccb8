"""Branch-Train-Stitch's model (xpl.models.stitch) and its training loop (xpl.training.bts), on
tiny randomly initialised Llama models: stitch layout, shapes and parameter counts, gates,
the seed recovered with gates forced to the hub, frozen weights after training, removing an
expert, resumption after kill -9, the baselines (soup, BTX, BTM) and greedy decoding."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from tests.models.stitch_fixtures import blocks, family, stitched, tiny_llama
from xpl.models.stitch import (
    E2H,
    H2E,
    Ensemble,
    ExpertsIntoHub,
    HubIntoExperts,
    PlainLM,
    StitchError,
    StitchedModel,
    StitchSpec,
    build_btx,
    router_parameters,
    soup,
    stitch_parameter_count,
    stitch_positions,
)
from xpl.training.bts import CHECKPOINT, LoopConfig, batch_indices, train_loop

torch.set_num_threads(1)


def _ids(batch: int = 2, length: int = 10, seed: int = 1):
    g = torch.Generator().manual_seed(seed)
    return torch.randint(3, 64, (batch, length), generator=g)


def test_positions_follow_the_paper_layout():
    assert stitch_positions(4, 4) == [(0, H2E), (1, E2H), (2, H2E), (3, E2H)]
    assert stitch_positions(4, 1) == [(3, E2H)]
    assert stitch_positions(4, 2) == [(1, H2E), (3, E2H)]
    assert [k for _, k in stitch_positions(30, 4)] == [H2E, E2H, H2E, E2H]
    assert [p for p, _ in stitch_positions(30, 4)] == [6, 13, 20, 27]  # every floor(30/4) = 7 layers


@pytest.mark.parametrize("k", [0, 5])
def test_bad_k_names_the_layers(k):
    with pytest.raises(StitchError, match="K="+str(k) if k else "at least 1"):
        stitch_positions(4, k)


def test_stitch_layer_shapes_and_parameter_counts():
    d, m = 32, 3
    e2h, h2e = ExpertsIntoHub(d, m), HubIntoExperts(d, m)
    hub, experts = torch.randn(2, 5, d), [torch.randn(2, 5, d) for _ in range(m)]
    new_hub, same, g = e2h(hub, experts)
    assert new_hub.shape == hub.shape and same is experts and g.shape == (2, 5, m + 1, d)
    hub2, new_experts, g2 = h2e(hub, experts)
    assert hub2 is hub and [e.shape for e in new_experts] == [(2, 5, d)] * m and g2.shape == (2, 5, m, d)
    assert sum(p.numel() for p in e2h.parameters()) == d * (m + 1) * d + (m + 1) * d + m * d * d
    assert sum(p.numel() for p in h2e.parameters()) == 2 * m * d * d + m * d
    model = stitched(k=4, n_experts=2)
    assert sum(p.numel() for p in model.stitch_parameters()) == stitch_parameter_count(32, 2, model.positions)
    assert {n for n, p in model.named_parameters() if p.requires_grad} == {f"stitches.{n}" for n, _ in model.stitches.named_parameters()}


def test_gates_sum_to_one_and_lie_in_unit_interval():
    model = stitched(k=4, n_experts=2)
    with torch.no_grad():  # move the gates away from their initialisation
        for p in model.stitch_parameters():
            p.add_(0.5 * torch.randn_like(p))
    out = model(_ids())
    kinds = [k for k, _ in out.gates]
    assert kinds == [H2E, E2H, H2E, E2H]
    for kind, g in out.gates:
        assert torch.all(g >= 0) and torch.all(g <= 1)
        if kind == E2H:
            assert torch.allclose(g.sum(dim=-2), torch.ones(()), atol=1e-6)
            assert g.shape[-2] == 3  # hub + 2 experts


@pytest.mark.parametrize("k", [1, 4])
def test_one_expert_gates_forced_to_hub_is_the_seed(k):
    seed, (expert,) = family(1)
    reference = tiny_llama(0)  # the seed's weights, untouched by stitching
    model = StitchedModel(seed, [expert], StitchSpec(layers=k))
    ids = _ids()
    mask = torch.ones_like(ids)
    mask[1, -3:] = 0  # right padding
    want = reference(input_ids=ids, attention_mask=mask).logits
    got = model(ids, mask, force_hub=True).logits
    keep = mask.bool()
    assert torch.allclose(got[keep], want[keep], atol=1e-5)
    assert not torch.allclose(model(ids, mask).logits[keep], want[keep], atol=1e-3)  # the real gates do mix


def test_training_moves_only_the_stitch_layers(tmp_path):
    model = stitched(k=4, n_experts=2)
    frozen = {n: p.detach().clone() for n, p in model.named_parameters() if not n.startswith("stitches.")}
    before = {n: p.detach().clone() for n, p in model.stitches.named_parameters()}
    data = blocks(n=4)
    batch = torch.tensor(data)
    with torch.no_grad():
        start = float(model(batch, labels=batch).loss)
    record = train_loop(model, data, LoopConfig(steps=8, batch_size=4, learning_rate=1e-2, warmup_steps=1, save_steps=3, logging_steps=1), tmp_path)
    assert record["steps"] == 8 and len(record["losses"]) == 8
    for n, p in model.named_parameters():
        if not n.startswith("stitches."):
            assert torch.equal(p, frozen[n]), n  # bit-identical
    assert any(not torch.equal(p, before[n]) for n, p in model.stitches.named_parameters())
    with torch.no_grad():
        assert float(model(batch, labels=batch).loss) < start


def test_removing_an_expert_keeps_the_others_and_needs_no_training():
    model = stitched(k=4, n_experts=3)
    with torch.no_grad():
        for p in model.stitch_parameters():
            p.add_(0.3 * torch.randn_like(p))
    smaller = model.without_expert(1)
    assert smaller.names == ["expert0", "expert2"] and len(smaller.experts) == 2
    assert smaller.experts[0] is model.experts[0] and smaller.experts[1] is model.experts[2]
    assert sum(p.numel() for p in smaller.stitch_parameters()) == stitch_parameter_count(32, 2, smaller.positions)
    ids = _ids()
    out = smaller(ids)
    assert out.logits.shape == (2, 10, 64) and torch.isfinite(out.logits).all()
    # Its Experts-into-Hub gates are the full model's with expert 1's row dropped, renormalised.
    full = model.stitches[1].gates(torch.ones(1, 1, 32))
    kept = smaller.stitches[1].gates(torch.ones(1, 1, 32))
    sub = full[..., [0, 1, 3], :]
    assert torch.allclose(kept, sub / sub.sum(dim=-2, keepdim=True), atol=1e-6)
    # Removing expert 1 equals the full model with expert 1 given no weight at all.
    with torch.no_grad():
        for s in model.stitches:
            if isinstance(s, ExpertsIntoHub):
                s.gate.bias[2 * 32 : 3 * 32] = -1e9
    assert torch.allclose(model(ids).logits, smaller(ids).logits, atol=1e-5)
    with pytest.raises(StitchError):
        smaller.without_expert(0).without_expert(0)


def test_resume_after_kill_9_gives_the_uninterrupted_result(tmp_path):
    config = LoopConfig(steps=40, batch_size=4, save_steps=2, logging_steps=2, warmup_steps=2)
    child = subprocess.Popen([sys.executable, "-m", "tests.models.stitch_fixtures", str(tmp_path / "killed")],
                             cwd=Path(__file__).resolve().parents[2], env={**os.environ, "OMP_NUM_THREADS": "1"})
    ckpt = tmp_path / "killed" / CHECKPOINT
    deadline = time.time() + 60
    while time.time() < deadline and not ckpt.is_file():
        time.sleep(0.05)
    time.sleep(0.3)
    child.send_signal(signal.SIGKILL)
    child.wait()
    assert ckpt.is_file(), "the child never wrote a checkpoint"
    resumed_from = torch.load(ckpt, weights_only=False)["step"]
    assert 0 < resumed_from < 40
    resumed = stitched()
    record = train_loop(resumed, blocks(), config, tmp_path / "killed")
    straight = stitched()
    train_loop(straight, blocks(), config, tmp_path / "straight")
    assert record["steps"] == 40
    for (n, a), (_, b) in zip(resumed.stitches.named_parameters(), straight.stitches.named_parameters()):
        assert torch.equal(a, b), n


def test_batches_depend_on_seed_and_step_only():
    assert batch_indices(10, 4, 3, 0) == batch_indices(10, 4, 3, 0)
    first_pass = [i for s in range(5) for i in batch_indices(10, 2, s, 0)]
    assert sorted(first_pass) == list(range(10))  # one pass sees every block once


def test_soup_btx_and_ensemble():
    seed, experts = family(2)
    s = soup(experts)
    for (n, p), a, b in zip(s.named_parameters(), experts[0].parameters(), experts[1].parameters()):
        assert torch.allclose(p, (a + b) / 2), n
    btx = build_btx([seed, *experts], top_k=2)
    routers = router_parameters(btx)
    assert len(routers) == 4 and all(p.requires_grad for p in routers)
    assert {n for n, p in btx.named_parameters() if p.requires_grad} == {f"model.layers.{i}.mlp.router.weight" for i in range(4)}
    ids = _ids()
    assert PlainLM(btx)(ids).logits.shape == (2, 10, 64)
    # BTX with top-1 routing to one expert everywhere is that expert's MLPs on the averaged rest.
    ens = Ensemble(experts)
    probs = torch.softmax(ens(ids).logits, -1)
    want = (torch.softmax(experts[0](input_ids=ids).logits, -1) + torch.softmax(experts[1](input_ids=ids).logits, -1)) / 2
    assert torch.allclose(probs, want, atol=1e-5)
    assert torch.isfinite(ens(ids, labels=ids).loss)


def test_models_that_do_not_match_the_seed_are_refused():
    seed, experts = family(1)
    with pytest.raises(StitchError, match="num_hidden_layers"):
        StitchedModel(seed, [tiny_llama(0, layers=2)])
    with pytest.raises(StitchError, match="at least one expert"):
        StitchedModel(seed, [])


def test_greedy_generation_with_cache_matches_full_recomputation():
    from xpl.models.stitch import greedy_generate

    model = stitched(k=2, n_experts=2)

    class Tok:  # ids as text: one character per id
        eos_token_id, pad_token_id = 2, 0

        def __call__(self, text, add_special_tokens=False):
            return {"input_ids": [ord(c) - 60 for c in text]}

        def decode(self, ids, skip_special_tokens=True):
            return "".join(chr(i + 60) for i in ids)

    tok = Tok()
    prompts = ["ABCDEFGH", "PQRS"]
    got = greedy_generate(model, tok, prompts, [[], []], max_new_tokens=6, batch_size=2)
    for prompt, text in zip(prompts, got):
        ids = torch.tensor([tok(prompt)["input_ids"]])
        want = []
        for _ in range(len(text)):
            nxt = int(model(ids).logits[0, -1].argmax())
            want.append(nxt)
            ids = torch.cat([ids, torch.tensor([[nxt]])], dim=1)
        assert text == tok.decode(want)
