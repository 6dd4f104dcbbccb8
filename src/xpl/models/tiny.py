"""Tiny Llama-architecture models, built from a ``LlamaConfig``, for experiments on a laptop.

The presets span roughly 0.2M to 20M parameters (with a 2,048-token vocabulary); any field of
``LlamaConfig`` can be overridden. The architecture is the one of Llama-3 and of SmolLM2
(RMSNorm, rotary positions, SwiGLU MLP, grouped-query attention), so a recipe tuned on a tiny
model runs unchanged on a real one.
"""

from __future__ import annotations

from typing import Any

PRESETS: dict[str, dict[str, int]] = {
    "xs": {"hidden_size": 64, "intermediate_size": 192, "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2},
    "s": {"hidden_size": 128, "intermediate_size": 384, "num_hidden_layers": 4, "num_attention_heads": 4, "num_key_value_heads": 2},
    "m": {"hidden_size": 256, "intermediate_size": 768, "num_hidden_layers": 6, "num_attention_heads": 8, "num_key_value_heads": 4},
    "l": {"hidden_size": 384, "intermediate_size": 1152, "num_hidden_layers": 8, "num_attention_heads": 8, "num_key_value_heads": 4},
}


def tiny_config(tokenizer, preset: str = "s", max_positions: int = 1024, **overrides: Any):
    """A ``LlamaConfig`` for ``preset`` sized to ``tokenizer``'s vocabulary."""
    from transformers import LlamaConfig

    if preset not in PRESETS:
        raise ValueError(f"unknown tiny preset {preset!r}; presets: {', '.join(PRESETS)}")
    fields = {
        **PRESETS[preset],
        "vocab_size": len(tokenizer),
        "max_position_embeddings": max_positions,
        "bos_token_id": tokenizer.bos_token_id,
        "eos_token_id": tokenizer.eos_token_id,
        "pad_token_id": tokenizer.pad_token_id,
        "tie_word_embeddings": True,
        "rope_theta": 10000.0,
    }
    fields.update(overrides)
    return LlamaConfig(**fields)


def build_tiny(tokenizer, preset: str = "s", seed: int = 0, **overrides: Any):
    """A freshly initialised ``LlamaForCausalLM`` (deterministic in ``seed``)."""
    import torch
    from transformers import LlamaForCausalLM

    config = tiny_config(tokenizer, preset, **overrides)
    torch.manual_seed(seed)
    return LlamaForCausalLM(config)


def count_parameters(model) -> int:
    return sum(p.numel() for p in model.parameters())
