"""Tiny randomly initialised Llama models for the Branch-Train-Stitch tests (no download), and
a child process that trains stitch layers until it is killed (``python -m`` this module)."""

from __future__ import annotations

import sys

import torch

VOCAB = 64


def tiny_llama(seed: int, layers: int = 4, hidden: int = 32):
    from transformers import LlamaConfig, LlamaForCausalLM

    config = LlamaConfig(vocab_size=VOCAB, hidden_size=hidden, intermediate_size=2 * hidden, num_hidden_layers=layers,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=64, tie_word_embeddings=True,
                         bos_token_id=1, eos_token_id=2, pad_token_id=0)
    torch.manual_seed(seed)
    model = LlamaForCausalLM(config)
    model.eval()
    return model


def family(n_experts: int = 2, layers: int = 4):
    """A seed and ``n_experts`` experts branched from it (the seed's weights, perturbed)."""
    seed = tiny_llama(0, layers)
    experts = []
    for i in range(n_experts):
        e = tiny_llama(0, layers)
        g = torch.Generator().manual_seed(100 + i)
        with torch.no_grad():
            for p in e.parameters():
                p.add_(0.05 * torch.randn(p.shape, generator=g))
        experts.append(e)
    return seed, experts


def blocks(n: int = 24, length: int = 16, seed: int = 0) -> list[list[int]]:
    g = torch.Generator().manual_seed(seed)
    return torch.randint(3, VOCAB, (n, length), generator=g).tolist()


def stitched(k: int = 4, n_experts: int = 2):
    from xpl.models.stitch import StitchedModel, StitchSpec

    seed, experts = family(n_experts)
    return StitchedModel(seed, experts, StitchSpec(layers=k))


if __name__ == "__main__":  # the child of the kill -9 test: trains slowly until killed
    import time

    from xpl.training.bts import LoopConfig, train_loop

    torch.set_num_threads(1)
    out = sys.argv[1]
    model = stitched()
    train_loop(model, blocks(), LoopConfig(steps=40, batch_size=4, save_steps=2, logging_steps=2, warmup_steps=2), out,
               report=lambda s, m, logs: time.sleep(0.05))
