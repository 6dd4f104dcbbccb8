"""SFT with LoRA adapters: trains, and leaves a plain model with the adapters merged in."""

import pytest
import torch

from tests.training.fixtures import tiny_pretrain_config, tiny_problems
from xpl.models.loading import load_model
from xpl.training.common import LoraConfig, TrainConfig
from xpl.training.pretrain import pretrain
from xpl.training.sft import SFTConfig, sft


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    out = tmp_path_factory.mktemp("lora-base")
    pretrain(*tiny_problems(), tiny_pretrain_config(max_steps=6), out)
    return out / "final"


@pytest.mark.slow  # trains (tests/slow.py)
def test_lora_sft_saves_a_merged_plain_model(base, tmp_path):
    train, _ = tiny_problems()
    lora = LoraConfig(r=4, target_modules=("q_proj", "v_proj"))
    config = SFTConfig(train=TrainConfig(learning_rate=5e-3, batch_size=8, max_steps=4, logging_steps=1, lora=lora))
    record = sft(base, train, config, tmp_path / "sft")
    assert record["steps"] == 4 and record["config"]["train"]["lora"]["r"] == 4
    assert all(r["loss"] > 0 for r in record["train_loss"])

    final = tmp_path / "sft" / "final"
    assert not list(final.glob("adapter_*")), "a merged model needs no adapter files"
    tuned, _ = load_model(final)
    original, _ = load_model(base)
    tuned_weights, base_weights = tuned.state_dict(), original.state_dict()
    assert tuned_weights.keys() == base_weights.keys()  # same plain architecture, no lora_* tensors
    changed = {name for name in base_weights if not torch.equal(tuned_weights[name], base_weights[name])}
    # Only the adapted projections moved (every layer's q_proj and v_proj), nothing else.
    layers = original.config.num_hidden_layers
    expected = {f"model.layers.{i}.self_attn.{m}.weight" for i in range(layers) for m in ("q_proj", "v_proj")}
    assert changed == expected
