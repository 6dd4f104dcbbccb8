"""A stand-in for the ``vllm`` package, which cannot run here (no CUDA): it records what xpl
hands to ``vllm.LLM`` and ``vllm.SamplingParams`` and answers as vLLM's offline engine does
(one output per request, in request order, each with ``n`` completions ordered by index).

A completion's text is made from the request's token ids (``answer``), so a test can tell
which prompt each completion came from, and in which order they came back."""

from __future__ import annotations

import sys
import types
from types import SimpleNamespace


def answer(prompt_token_ids: list[int], k: int) -> str:
    """The fake engine's ``k``-th completion of a prompt: its token ids' sum and length."""
    return f"    return {sum(prompt_token_ids)} + {len(prompt_token_ids)} + {k}\n"


class SamplingParams:
    def __init__(self, **kwargs):
        self.kwargs = kwargs
        for key, value in kwargs.items():
            setattr(self, key, value)


class _EngineCore:
    def __init__(self):
        self.shut_down = False

    def shutdown(self):
        self.shut_down = True


class LLM:
    instances: list[LLM] = []

    def __init__(self, **kwargs):
        self.kwargs = kwargs
        self.calls: list[tuple[list, list]] = []
        self.llm_engine = SimpleNamespace(engine_core=_EngineCore())
        LLM.instances.append(self)

    def generate(self, prompts, sampling_params=None, use_tqdm=True):
        params = sampling_params if isinstance(sampling_params, list) else [sampling_params] * len(prompts)
        self.calls.append((list(prompts), list(params)))
        outputs = []
        for prompt, sp in zip(prompts, params, strict=True):
            ids = prompt["prompt_token_ids"]
            completions = [SimpleNamespace(index=k, text=answer(ids, k), token_ids=[]) for k in range(sp.n)]
            outputs.append(SimpleNamespace(prompt_token_ids=ids, outputs=completions))
        return outputs


def install(monkeypatch, cuda: bool) -> types.ModuleType:
    """Put the stand-in in ``sys.modules`` as ``vllm``; ``cuda``: whether PyTorch answers that a
    CUDA GPU is visible (xpl asks it before using vLLM). Both are undone after the test."""
    import torch

    module = types.ModuleType("vllm")
    module.LLM = LLM
    module.SamplingParams = SamplingParams
    LLM.instances = []
    monkeypatch.setitem(sys.modules, "vllm", module)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda)
    return module
