"""SophiaG in the Trainer: the update rule, bs = the step's loss tokens, the Hessian estimate
refreshed every k steps from sampled labels, and the clipped fraction logged."""

import pytest
import torch

import xpl.training.flex as flex_module
from tests.training.fixtures import tiny_problems
from tests.training.flex_base import flex_base
from xpl.training.common import ConfigError, LoraConfig, TrainConfig
from xpl.training.flex import FlexConfig, flex_sft
from xpl.training.sft import SFTConfig
from xpl.training.sophia import SophiaConfig, clipped_fraction, sophia_class


def test_one_step_follows_sophias_update_rule():
    torch.manual_seed(0)
    p = torch.nn.Parameter(torch.randn(50))
    opt = sophia_class()([p], lr=0.1, rho=0.05, betas=(0.9, 0.99), weight_decay=0.2)
    p.grad = torch.randn(50)
    opt.update_hessian()  # h = (1 - b2) g^2
    h = 0.01 * p.grad**2
    g, start = p.grad.clone(), p.detach().clone()
    opt.batch_tokens = 37
    opt.step()
    m = 0.1 * g
    ratio = (m.abs() / (0.05 * 37 * h + 1e-15)).clamp(max=1)
    expected = start * (1 - 0.1 * 0.2) - 0.1 * m.sign() * ratio
    torch.testing.assert_close(p.detach(), expected)
    assert opt.last_bs == 37
    assert opt.last_clip_fraction == pytest.approx(float((m.abs() >= 0.05 * 37 * h + 1e-15).float().mean()))


def test_clipped_fraction_reads_the_optimiser_state():
    p = torch.nn.Parameter(torch.zeros(4))
    opt = sophia_class()([p], lr=0.1, rho=0.5)
    opt.state[p] = {"exp_avg": torch.tensor([1.0, -1.0, 0.1, 0.0]), "hessian": torch.tensor([1.0, 0.1, 1.0, 1.0]), "step": torch.tensor(1.0)}
    # bs = 2: thresholds rho*bs*h = [1, 0.1, 1, 1]; |m| reaches them at the first two coordinates.
    assert clipped_fraction(opt, 2) == pytest.approx(0.5)


def test_a_step_without_the_token_count_is_an_error():
    p = torch.nn.Parameter(torch.zeros(3))
    p.grad = torch.ones(3)
    with pytest.raises(RuntimeError, match="batch_tokens"):
        sophia_class()([p]).step()


def test_bad_sophia_settings_name_the_field():
    for bad, field in [
        (SophiaConfig(rho=0), "sophia.rho"),
        (SophiaConfig(betas=(0.9, 1.0)), "sophia.betas"),
        (SophiaConfig(hessian_interval=0), "sophia.hessian_interval"),
    ]:
        with pytest.raises(ConfigError, match=field):
            bad.validate()
    with pytest.raises(ConfigError, match="flex.optimizer"):
        FlexConfig(optimizer="sgd").validate()


@pytest.fixture(scope="module")
def sophia_run(tmp_path_factory):
    """5 steps of 2 micro-batches each, Hessian every 2 steps; records what the trainer saw."""
    seen = {"tokens": [], "refresh": []}
    real_tokens, real_refresh = flex_module.label_tokens, flex_module.refresh_hessian

    def tokens(inputs):
        n = real_tokens(inputs)
        seen["tokens"].append(n)
        return n

    def refresh(model, inputs, optimizer, step):
        before = [s["hessian"].clone() for s in optimizer.state.values() if "hessian" in s]
        real_refresh(model, inputs, optimizer, step)
        after = [s["hessian"] for s in optimizer.state.values()]
        changed = len(before) < len(after) or any(not torch.equal(a, b) for a, b in zip(after, before))
        grads_cleared = all(p.grad is None for g in optimizer.param_groups for p in g["params"])
        seen["refresh"].append((step, changed, grads_cleared))

    mp = pytest.MonkeyPatch()
    mp.setattr(flex_module, "label_tokens", tokens)
    mp.setattr(flex_module, "refresh_hessian", refresh)
    try:
        train, _ = tiny_problems()
        lora = LoraConfig(r=4, target_modules=("q_proj", "v_proj"))
        config = SFTConfig(train=TrainConfig(learning_rate=2e-3, batch_size=4, grad_accum=2, max_steps=5, logging_steps=1, save_steps=100, lora=lora))
        settings = FlexConfig(optimizer="sophia", sophia=SophiaConfig(rho=0.5, hessian_interval=2))
        record = flex_sft(flex_base(), train, config, settings, tmp_path_factory.mktemp("sophia") / "run")
    finally:
        mp.undo()
    return record, seen


@pytest.mark.slow  # trains (tests/slow.py)
def test_hessian_is_refreshed_every_k_steps(sophia_run):
    record, seen = sophia_run
    assert record["hessian_steps"] == [0, 2, 4]
    assert [s for s, _, _ in seen["refresh"]] == [0, 2, 4]
    assert all(changed and cleared for _, changed, cleared in seen["refresh"])  # h moved; no gradient left behind


@pytest.mark.slow  # trains (tests/slow.py)
def test_bs_is_the_token_count_of_each_step(sophia_run):
    record, seen = sophia_run
    micro = seen["tokens"]
    assert len(micro) == 10  # 5 steps x 2 micro-batches
    per_step = [micro[i] + micro[i + 1] for i in range(0, 10, 2)]
    assert [int(r["sophia_bs"]) for r in record["train_loss"]] == per_step
    assert all(n > 0 for n in per_step)


@pytest.mark.slow  # trains (tests/slow.py)
def test_clipped_fraction_is_logged_every_step(sophia_run):
    record, _ = sophia_run
    rows = record["train_loss"]
    assert [r["step"] for r in rows] == [1, 2, 3, 4, 5]
    assert all(0.0 <= r["sophia_clip_fraction"] <= 1.0 for r in rows)
    assert record["flex"]["optimizer"] == "sophia" and record["flex"]["sophia"]["hessian_interval"] == 2
