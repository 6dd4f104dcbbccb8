"""Sampling completions for problems, in batches, and scoring them through the engine.

``sample`` continues each prompt ``n`` times (temperature / top-p sampling, or greedy at
temperature 0), cuts every completion at the first of its problem's stop sequences and
returns the completions. ``evaluate`` runs ``prompt + completion + tests`` for each through the
execution engine and gives the per-problem pass counts and pass@k. Generations are written
in the bigcode-evaluation-harness layout (a JSON list, per problem, of the full programs
``prompt + completion``) so they can be scored by either tool.

The backend is Hugging Face ``generate`` (CPU or GPU). With ``backend="vllm"`` the same call
uses vLLM's offline engine (``VLLMSampler``), which needs a CUDA GPU and the ``vllm`` package
(never installed by default): it gets the model folder (not a loaded model), the very tokens
the Hugging Face path generates from (the prompt text, chat template and prefill included,
tokenized without added special tokens), the stop sequences, ``n``, the temperature, top-p,
the token limit and a seed per prompt. Where vLLM cannot run, ``vllm_unavailable`` says why in
one line, and asking for it is a ``BackendUnavailable`` error carrying that line.
"""

from __future__ import annotations

import gc
import importlib.util
import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from xpl.execution import Engine, Job, Result
from xpl.execution.metrics import pass_at_k
from xpl.io import write_json
from xpl.problems.problem import Problem


@dataclass(frozen=True)
class SamplingConfig:
    n: int = 1  # samples per prompt
    temperature: float = 0.2  # 0 = greedy
    top_p: float = 0.95
    max_new_tokens: int = 256
    batch_size: int = 16  # sequences per generate() call
    seed: int = 0
    backend: str = "hf"  # "hf" or "vllm"

    def __post_init__(self) -> None:
        if self.n < 1 or self.batch_size < 1 or self.max_new_tokens < 1:
            raise ValueError("sampling: n, batch_size and max_new_tokens must be >= 1")
        if self.temperature < 0 or not 0 < self.top_p <= 1:
            raise ValueError(f"sampling: temperature must be >= 0 and top_p in (0, 1], got {self.temperature}, {self.top_p}")
        if self.backend not in ("hf", "vllm"):
            raise ValueError(f"sampling: backend must be hf or vllm, got {self.backend!r}")
        if self.temperature == 0 and self.n > 1:
            raise ValueError("sampling: greedy decoding (temperature 0) gives n identical samples; use n=1")


def truncate(text: str, stops: Sequence[str]) -> str:
    """``text`` up to (not including) the earliest stop sequence."""
    cut = min((i for i in (text.find(s) for s in stops if s) if i >= 0), default=len(text))
    return text[:cut]


def _stop_criteria(tokenizer, stops_per_row: list[Sequence[str]], prompt_len: int):
    """A per-row ``StoppingCriteria``: a row is done once its new text holds a stop sequence.

    Only the tail of each row is decoded at each step (a stop sequence that completes now
    ends within the last few tokens), which keeps the check cheap for long generations."""
    import torch
    from transformers import StoppingCriteria

    longest = max((len(s) for stops in stops_per_row for s in stops), default=1)
    window = max(8, longest + 4)  # tokens; every token decodes to >= 1 character or nothing

    class StopOnSequences(StoppingCriteria):
        def __call__(self, input_ids, scores, **kwargs):
            done = []
            for row, stops in zip(input_ids, stops_per_row):
                new = row[prompt_len:]
                tail = tokenizer.decode(new[-window:], skip_special_tokens=True) if len(new) else ""
                done.append(any(s and s in tail for s in stops))
            return torch.tensor(done, dtype=torch.bool, device=input_ids.device)

    return StopOnSequences()


def sample(
    model,
    tokenizer,
    prompts: Sequence[str],
    stops: Sequence[Sequence[str]],
    config: SamplingConfig,
    progress: Callable[[int, int], None] | None = None,
) -> list[list[str]]:
    """``config.n`` completions for each prompt, each cut at its prompt's stop sequences."""
    if len(stops) != len(prompts):
        raise ValueError(f"{len(prompts)} prompts but {len(stops)} lists of stop sequences")
    if isinstance(model, VLLMSampler):
        return model.sample(prompts, stops, config, progress)
    if config.backend == "vllm":
        if not isinstance(model, (str, Path)):
            raise ValueError("backend vllm samples from a model folder (or a VLLMSampler), not from a loaded model")
        sampler = VLLMSampler(model, tokenizer, seed=config.seed)
        try:
            return sampler.sample(prompts, stops, config, progress)
        finally:
            sampler.close()
    import torch

    tokenizer.padding_side = "left"  # generation continues every row at the same position
    rows = [(i, k) for i in range(len(prompts)) for k in range(config.n)]
    out: list[list[str]] = [[] for _ in prompts]
    device = next(model.parameters()).device
    model.eval()
    for start in range(0, len(rows), config.batch_size):
        chunk = rows[start : start + config.batch_size]
        enc = tokenizer([prompts[i] for i, _ in chunk], return_tensors="pt", padding=True, add_special_tokens=False)
        enc = {k: v.to(device) for k, v in enc.items()}
        prompt_len = enc["input_ids"].shape[1]
        torch.manual_seed(config.seed * 1_000_003 + start)  # a batch's samples depend on the seed alone
        kwargs: dict[str, Any] = {"do_sample": config.temperature > 0, "max_new_tokens": config.max_new_tokens}
        if config.temperature > 0:
            kwargs.update(temperature=config.temperature, top_p=config.top_p, top_k=0)
        with torch.no_grad():
            generated = model.generate(
                **enc,
                **kwargs,
                pad_token_id=tokenizer.pad_token_id,
                eos_token_id=tokenizer.eos_token_id,
                stopping_criteria=[_stop_criteria(tokenizer, [stops[i] for i, _ in chunk], prompt_len)],
            )
        for (i, _), row in zip(chunk, generated):
            text = tokenizer.decode(row[prompt_len:], skip_special_tokens=True)
            out[i].append(truncate(text, stops[i]))
        if progress:
            progress(min(start + config.batch_size, len(rows)), len(rows))
    return out


def resolve_prompt_style(requested: str, tokenizer, model_name: str = "") -> str:
    """``chat`` or ``completion`` for a model. ``auto`` is chat when the tokenizer has a chat
    template and the model is an instruct model (its name says instruct, chat or -it), else
    completion; ``chat`` without a chat template is an error naming the model."""
    if requested not in ("auto", "chat", "completion"):
        raise ValueError(f"prompt style must be auto, chat or completion, got {requested!r}")
    has_template = bool(getattr(tokenizer, "chat_template", None))
    if requested == "chat" and not has_template:
        raise ValueError(f"model {model_name or '?'}: its tokenizer has no chat template, so it cannot be prompted in chat style; use completion")
    if requested != "auto":
        return requested
    name = str(model_name or getattr(tokenizer, "name_or_path", "")).lower()
    instruct = any(word in name for word in ("instruct", "chat", "-it"))
    return "chat" if has_template and instruct else "completion"


def sample_problems(
    model,
    tokenizer,
    problems: Sequence[Problem],
    language: str,
    config: SamplingConfig,
    progress: Callable[[int, int], None] | None = None,
    style: str = "completion",
) -> list[list[str]]:
    """``sample`` on the prompts of ``problems`` written in ``language`` (in completion or chat
    style), each cut at its own stop sequences (chat: the closing code fence)."""
    rendered = [p.render_as(language, style) for p in problems]
    return sample(
        model, tokenizer, [r.prompt_text(tokenizer) for r in rendered], [r.stop_sequences for r in rendered], config, progress
    )


class BackendUnavailable(ValueError):
    """A generation backend this machine cannot run (vLLM without the package or a CUDA GPU)."""


def vllm_unavailable() -> str | None:
    """Why vLLM cannot run here, in one line; None when it can (the ``vllm`` package is
    installed and PyTorch sees a CUDA GPU). Looks for the package without importing it."""
    try:
        installed = importlib.util.find_spec("vllm") is not None
    except ValueError:  # already imported, without a module spec
        installed = True
    if not installed:
        return "vLLM is not installed in this environment (it needs a CUDA GPU: `pip install vllm` on such a machine)"
    import torch

    if not torch.cuda.is_available():
        return "vLLM needs a CUDA GPU and this machine has none visible (torch.cuda.is_available() is False)"
    return None


def require_vllm(what: str, instead: str = "use backend hf here") -> None:
    """Raise ``BackendUnavailable`` (``"<what>: <why>; <instead>"``, one line) unless vLLM can
    run here."""
    problem = vllm_unavailable()
    if problem:
        raise BackendUnavailable(f"{what}: {problem}; {instead}")


def release_vllm(llm) -> None:
    """Give back the GPU memory of a vLLM engine that is no longer needed (best effort: the
    engine core process, where vLLM runs one, is shut down; then the caches are emptied).
    The caller drops its own references to ``llm`` first or after."""
    core = getattr(getattr(llm, "llm_engine", None), "engine_core", None)
    shutdown = getattr(core, "shutdown", None)
    if callable(shutdown):
        shutdown()
    del llm, core, shutdown
    gc.collect()
    import torch

    if torch.cuda.is_available():
        torch.cuda.empty_cache()


class VLLMSampler:
    """vLLM's offline engine on one model folder, for many ``sample`` calls (an evaluation
    stage keeps one for all its PLs); ``close`` gives its GPU memory back.

    Prompts go to vLLM as token ids: the prompt text (for chat prompts, the conversation
    through the chat template plus the prefill) tokenized exactly as the Hugging Face path
    tokenizes it, without added special tokens. Text would be tokenized again by vLLM with
    them, which puts a second BOS before a chat template's own (Llama 3)."""

    def __init__(self, model_path: str | Path, tokenizer, seed: int = 0, **engine_args: Any):
        require_vllm("backend vllm")
        from vllm import LLM  # type: ignore[import-not-found]

        self.model_path = str(model_path)
        self.tokenizer = tokenizer
        self.llm = LLM(model=self.model_path, tokenizer=self.model_path, seed=seed, **engine_args)

    def sample(
        self,
        prompts: Sequence[str],
        stops: Sequence[Sequence[str]],
        config: SamplingConfig,
        progress: Callable[[int, int], None] | None = None,
    ) -> list[list[str]]:
        """``config.n`` completions per prompt, in prompt order, each cut at its prompt's stop
        sequences (vLLM stops there already; the cut is the Hugging Face path's, kept for
        identical results). One request per prompt, seeded by ``config.seed`` and its index,
        so a prompt's samples do not depend on the others in the batch."""
        from vllm import SamplingParams  # type: ignore[import-not-found]

        if self.llm is None:
            raise RuntimeError("this VLLMSampler is closed")
        if len(stops) != len(prompts):
            raise ValueError(f"{len(prompts)} prompts but {len(stops)} lists of stop sequences")
        requests = [{"prompt_token_ids": list(self.tokenizer(p, add_special_tokens=False)["input_ids"])} for p in prompts]
        params = [
            SamplingParams(
                n=config.n,
                temperature=config.temperature,
                top_p=config.top_p if config.temperature > 0 else 1.0,
                max_tokens=config.max_new_tokens,
                stop=list(stop),
                seed=config.seed * 1_000_003 + i,
                skip_special_tokens=True,
            )
            for i, stop in enumerate(stops)
        ]
        outputs = self.llm.generate(requests, params, use_tqdm=False) if requests else []
        if len(outputs) != len(prompts):
            raise RuntimeError(f"vLLM returned {len(outputs)} outputs for {len(prompts)} prompts")
        out = []
        for output, stop in zip(outputs, stops):
            samples = sorted(output.outputs, key=lambda c: c.index)
            if len(samples) != config.n:
                raise RuntimeError(f"vLLM returned {len(samples)} samples for a prompt, not n={config.n}")
            out.append([truncate(c.text, stop) for c in samples])
        if progress:
            progress(len(prompts) * config.n, len(prompts) * config.n)
        return out

    def close(self) -> None:
        llm, self.llm = self.llm, None
        if llm is not None:
            release_vllm(llm)

    def __enter__(self) -> VLLMSampler:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# ----------------------------------------------------------------------------- evaluation


@dataclass
class Evaluation:
    language: str
    problems: list[str]
    completions: list[list[str]]
    results: list[list[Result]]

    @property
    def passed(self) -> list[int]:
        return [sum(r.ok for r in rs) for rs in self.results]

    def pass_at(self, k: int) -> float:
        """Mean unbiased pass@k over problems (NaN when some problem has fewer than k samples)."""
        if not self.results:
            return math.nan
        values = [pass_at_k(len(rs), c, k) for rs, c in zip(self.results, self.passed) if len(rs) >= k]
        return sum(values) / len(values) if len(values) == len(self.results) else math.nan

    def per_problem(self) -> list[float]:
        """Fraction of each problem's samples that passed (its pass@1 estimate)."""
        return [c / len(rs) for c, rs in zip(self.passed, self.results)]


def evaluate(
    problems: Sequence[Problem],
    language: str,
    completions: Sequence[Sequence[str]],
    engine: Engine,
    progress: Callable[[int, int], None] | None = None,
    style: str = "completion",
) -> Evaluation:
    """Run every completion of every problem through the engine (chat style: the code of each
    reply, with the PL's header and harness)."""
    jobs, index = [], []
    for i, (problem, comps) in enumerate(zip(problems, completions, strict=True)):
        rendered = problem.render_as(language, style)
        for k, completion in enumerate(comps):
            jobs.append(
                Job(
                    language,
                    rendered.program(completion),
                    rendered.num_tests,
                    id=f"{problem.name}#{k}",
                    meta={"problem": problem.name},
                    expected=rendered.expected,
                )
            )
            index.append(i)
    flat = engine.run(jobs, progress=progress) if jobs else []
    grouped: list[list[Result]] = [[] for _ in problems]
    for i, r in zip(index, flat):
        grouped[i].append(r)
    return Evaluation(language, [p.name for p in problems], [list(c) for c in completions], grouped)


def write_bigcode_generations(path: str | Path, prompts: Sequence[str], completions: Sequence[Sequence[str]]) -> None:
    """bigcode-evaluation-harness ``generations.json``: per problem, the full programs."""
    data = [[prompt + c for c in comps] for prompt, comps in zip(prompts, completions, strict=True)]
    write_json(path, data, indent=1)


def read_bigcode_generations(path: str | Path, prompts: Sequence[str]) -> list[list[str]]:
    """The completions in a bigcode-style ``generations.json`` (each program must start with
    its problem's prompt, as the harness writes them)."""
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path}: not a readable JSON file ({exc})") from None
    if not isinstance(data, list) or len(data) != len(prompts):
        raise ValueError(f"{path}: expected a JSON list of {len(prompts)} lists of programs")
    out = []
    for i, (programs, prompt) in enumerate(zip(data, prompts)):
        if not isinstance(programs, list) or not all(isinstance(p, str) for p in programs):
            raise ValueError(f"{path}: item {i} must be a list of strings")
        bad = [k for k, p in enumerate(programs) if not p.startswith(prompt)]
        if bad:
            raise ValueError(f"{path}: item {i}, program {bad[0]} does not start with the problem's prompt")
        out.append([p[len(prompt) :] for p in programs])
    return out
