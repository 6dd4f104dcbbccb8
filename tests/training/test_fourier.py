"""FLeX's Fourier penalty: the formula (against a brute-force DFT), its gradient, its effect on
training, and LoRA adapters that reload to identical outputs, unmerged and merged."""

import numpy as np
import pytest
import torch

from tests.training.fixtures import tiny_problems
from tests.training.flex_base import flex_base
from xpl.training.common import ConfigError, LoraConfig, TrainConfig
from xpl.training.flex import FlexConfig, expand_target_modules, flex_sft
from xpl.training.fourier import FourierConfig, frequency_weights, high_frequency_energy, lora_matrices, spectral_penalty
from xpl.training.sft import SFTConfig


def dft_penalty(matrices, s: FourierConfig) -> float:
    """The penalty written out: an explicit O(n^2) DFT, no FFT library."""
    terms = []
    for m in matrices:
        w = np.asarray(m, dtype=np.float64).ravel()
        n = w.size
        bins = n // 2 + 1
        k = np.arange(bins)
        spectrum = np.exp(-2j * np.pi * np.outer(k, np.arange(n)) / n) @ w
        if s.norm == "ortho":
            spectrum /= np.sqrt(n)
        phi = s.phi_low + (s.phi_high - s.phi_low) * np.minimum(1.0, k / (bins * s.threshold))
        terms.append(float(np.sum((1 - phi) * np.abs(spectrum) ** 2)))
    return float(np.mean(terms))


@pytest.mark.parametrize(
    "settings",
    [FourierConfig(), FourierConfig(threshold=0.25, phi_low=0.8, phi_high=0.0), FourierConfig(norm="ortho")],
    ids=["paper-defaults", "other-ramp", "ortho"],
)
def test_penalty_matches_a_brute_force_dft(settings):
    rng = np.random.default_rng(0)
    shapes = [(4, 6), (5, 3), (8, 16), (1, 7)]  # even and odd lengths
    mats = [rng.normal(size=s) for s in shapes]
    got = spectral_penalty([torch.tensor(m, dtype=torch.float32) for m in mats], settings)
    assert float(got) == pytest.approx(dft_penalty(mats, settings), rel=1e-4)


def test_frequency_weights_follow_the_ramp():
    rho = frequency_weights(11, FourierConfig()).numpy()
    assert rho[0] == pytest.approx(0.0)  # phi(0) = phi_low = 1: the lowest frequency is free
    assert np.all(np.diff(rho) >= -1e-7)  # high frequencies cost at least as much as low ones
    assert rho[6:] == pytest.approx(np.full(5, 0.9))  # from k = K*T = 5.5 on: 1 - phi_high


def _llama():
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=64, hidden_size=16, intermediate_size=32, num_hidden_layers=1, num_attention_heads=2, num_key_value_heads=1)
    return LlamaForCausalLM(config)


def _peft_llama():
    from peft import LoraConfig as PeftLoraConfig
    from peft import get_peft_model

    lora = PeftLoraConfig(r=4, lora_alpha=8, target_modules=list(expand_target_modules(["attention", "mlp"])), task_type="CAUSAL_LM")
    return get_peft_model(_llama(), lora)


@pytest.mark.slow  # builds or trains a model (tests/slow.py)
def test_the_penalty_carries_gradient_to_every_lora_matrix():
    model = _peft_llama()
    mats = lora_matrices(model)
    assert len(mats) == 2 * 7  # A and B of the 4 attention and 3 MLP projections
    with torch.no_grad():
        for name, p in model.named_parameters():
            if ".lora_B." in name:
                p.normal_()  # B starts at zero, where the penalty's gradient is zero too
    spectral_penalty(mats, FourierConfig()).backward()
    for name, p in model.named_parameters():
        if ".lora_" in name:
            assert p.grad is not None and p.grad.abs().sum() > 0, name
    # The published code takes the FFT of detached weights: a term without a gradient.
    assert not spectral_penalty([w.detach() for w in mats], FourierConfig()).requires_grad


def test_bad_fourier_settings_name_the_field():
    for bad, field in [
        (FourierConfig(threshold=0), "fourier.threshold"),
        (FourierConfig(phi_high=1.5), "fourier.phi_high"),
        (FourierConfig(weight=-1), "fourier.weight"),
        (FourierConfig(norm="unit"), "fourier.norm"),
    ]:
        with pytest.raises(ConfigError, match=field):
            bad.validate()
    with pytest.raises(ConfigError, match="qproj"):
        expand_target_modules(["qproj"])


def _train(out, fourier):
    train, test = tiny_problems()
    lora = LoraConfig(r=4, target_modules=("q_proj", "v_proj", "up_proj"))
    config = SFTConfig(train=TrainConfig(learning_rate=5e-3, batch_size=8, max_steps=6, logging_steps=1, save_steps=100, seed=3, lora=lora))
    return flex_sft(flex_base(), train, config, FlexConfig(fourier=fourier), out, eval_problems=test, eval_languages=["python"])


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("fourier")
    return {"plain": _train(root / "plain", None), "fourier": _train(root / "fourier", FourierConfig())}


@pytest.mark.slow  # builds or trains a model (tests/slow.py)
def test_training_with_the_penalty_lowers_high_frequency_energy(trained):
    plain, reg = trained["plain"]["final_spectrum"], trained["fourier"]["final_spectrum"]
    # Same seed, same data, same adapter initialisation: only the penalty differs.
    assert reg["energy"] < 0.9 * plain["energy"]
    assert reg["fraction"] < plain["fraction"]
    rows = trained["fourier"]["train_loss"]
    assert all(r["fourier_penalty"] > 0 and r["loss"] > r["task_loss"] for r in rows)
    assert all("fourier_penalty" not in r for r in trained["plain"]["train_loss"])
    assert trained["fourier"]["flex"]["fourier"]["weight"] == 0.02


def _logits(model, ids):
    with torch.no_grad():
        return model(input_ids=ids).logits


@pytest.mark.slow  # builds or trains a model (tests/slow.py)
def test_saved_adapter_reloads_to_identical_outputs_unmerged_and_merged(trained):
    from peft import PeftModel

    from xpl.models.loading import load_model

    record = trained["fourier"]
    base, tokenizer = load_model(flex_base())
    ids = tokenizer(["def f(x):\n    return x + 1\n", "function g(a) {"], return_tensors="pt", padding=True)["input_ids"]
    plain = _logits(base, ids)
    unmerged = [_logits(PeftModel.from_pretrained(load_model(flex_base())[0], record["adapter"]).eval(), ids) for _ in range(2)]
    merged, _ = load_model(record["model"])
    assert torch.equal(unmerged[0], unmerged[1])  # reloading is exact
    assert not torch.allclose(unmerged[0], plain, atol=1e-4)  # the adapter does something
    torch.testing.assert_close(_logits(merged, ids), unmerged[0], atol=1e-5, rtol=1e-5)  # merging: float rounding only
    # The merged model is a plain model: the adapter folded into the weights.
    assert not any("lora" in name for name in merged.state_dict())


def test_an_adapter_saved_in_memory_reloads_bit_for_bit(tmp_path):
    from peft import PeftModel

    model = _peft_llama()
    with torch.no_grad():
        for name, p in model.named_parameters():
            if ".lora_" in name:
                p.normal_(std=0.1)
    model.eval()
    ids = torch.tensor([[1, 5, 9, 3, 7]])
    before = _logits(model, ids)
    model.save_pretrained(tmp_path / "adapter")
    base = _llama()  # the same seeded base weights
    again = PeftModel.from_pretrained(base, tmp_path / "adapter").eval()
    assert torch.equal(_logits(again, ids), before)
    torch.testing.assert_close(_logits(again.merge_and_unload(), ids), before, atol=1e-5, rtol=1e-5)


def test_high_frequency_energy_of_a_smooth_and_a_rough_matrix():
    n = 64
    smooth = torch.cos(torch.arange(n) * 2 * torch.pi / n).reshape(8, 8)  # one low frequency
    rough = torch.tensor([(-1.0) ** i for i in range(n)]).reshape(8, 8)  # the highest frequency
    assert high_frequency_energy([smooth])["fraction"] < 1e-6
    assert high_frequency_energy([rough])["fraction"] == pytest.approx(1.0)
