"""Reinforcement learning with execution rewards: TRL's ``GRPOTrainer`` on one source PL.

For each prompt GRPO samples a group of ``num_generations`` completions; each is cut at the
problem's stop sequences, appended to the problem's test harness and run by the execution
engine. The whole batch of completions goes to the engine in one call (one batched build
per compiled PL, every program sandboxed, a hard ``timeout_s`` per program), so a stuck or
hostile completion can neither stall training nor touch the machine. Reward: 1.0 when every
test passes and 0.0 otherwise (``reward="pass"``), or the fraction of tests passed
(``reward="fraction"``).

Completions are sampled by the policy through Hugging Face ``generate`` unless ``vllm`` is set:
then TRL's own vLLM generation makes them (``VLLMConfig``: ``colocate``, an engine inside the
training process sharing its GPU, or ``server``, a ``trl vllm-serve`` process on other GPUs that
TRL sends the new weights to after every step). Either way TRL generates from the token ids it
makes of xpl's prompt text (``trl_prompt``: for chat prompts, the conversation through the
chat template plus the opening code fence), the same ids evaluation samples from.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from xpl.io import write_json
from xpl.languages import get_language
from xpl.problems.problem import Problem
from xpl.training.common import (
    FINAL,
    ConfigError,
    TrainConfig,
    config_dict,
    library_noise_filtered,
    limit_threads,
    mark_done,
    progress_callback,
    quiet,
    save_final,
    stage_done,
    train_with_resume,
)

REWARDS = ("pass", "fraction")


@dataclass
class ExecutionConfig:
    """Where the reward runs the completions: on this machine (``ray: null``, the default), or
    spread over the nodes of a Ray cluster (``ray: auto``, ``ray://HEAD:10001``, ``HEAD:6379``;
    ``xpl.execution.cluster``)."""

    ray: str | None = None

    def validate(self, where: str = "execution") -> None:
        if self.ray is not None:
            from xpl.execution.cluster import check_address

            try:
                check_address(self.ray)
            except ValueError as exc:
                raise ConfigError(f"{where}.ray: {exc}") from None


# grpo.vllm's keys, per mode; each maps onto TRL's GRPOConfig field ``vllm_<key>``
VLLM_MODE_KEYS = {
    "colocate": ("gpu_memory_utilization", "tensor_parallel_size", "max_model_length", "enable_sleep_mode"),
    "server": ("server_host", "server_port", "server_base_url", "server_timeout", "group_port"),
}
# where a server takes the colocate keys: the options of `trl vllm-serve` (or of `vllm serve`,
# to which it passes the options it does not know)
SERVER_FLAGS = {
    "gpu_memory_utilization": "--gpu-memory-utilization",
    "tensor_parallel_size": "--tensor-parallel-size",
    "max_model_length": "--max-model-len",
    "enable_sleep_mode": "--enable-sleep-mode",
}


@dataclass
class VLLMConfig:
    """TRL's vLLM generation for GRPO (``grpo.vllm``; absent or null: Hugging Face generate).

    ``colocate``: vLLM runs inside the training process, on the same GPU(s), with
    ``gpu_memory_utilization`` of each (TRL's default 0.3; the rest is training's), optionally
    sharded over ``tensor_parallel_size`` GPUs of a multi-process launch, ``max_model_length``
    tokens long, its memory freed between generations with ``enable_sleep_mode``.
    ``server``: a vLLM server started beforehand (``trl vllm-serve --model M``, on GPUs the
    training does not use) at ``server_host``:``server_port`` (or ``server_base_url``), waited
    for ``server_timeout`` seconds; ``group_port`` is where TRL sends it the weights.
    A key left out (null) keeps TRL's default; a key of the other mode is an error. Every
    other TRL field (``vllm_importance_sampling_correction``, ...) goes through ``train.extra``."""

    mode: str = "colocate"
    gpu_memory_utilization: float | None = None
    tensor_parallel_size: int | None = None
    max_model_length: int | None = None
    enable_sleep_mode: bool | None = None
    server_host: str | None = None
    server_port: int | None = None
    server_base_url: str | None = None
    server_timeout: float | None = None
    group_port: int | None = None

    def validate(self, where: str = "vllm") -> None:
        if self.mode not in VLLM_MODE_KEYS:
            raise ConfigError(f"{where}.mode must be colocate or server, got {self.mode!r}")
        for mode, keys in VLLM_MODE_KEYS.items():
            for key in keys:
                if mode != self.mode and getattr(self, key) is not None:
                    hint = f" (a server takes it when started: trl vllm-serve {SERVER_FLAGS[key]})" if mode == "colocate" else ""
                    raise ConfigError(f"{where}.{key} applies to mode {mode} only, and mode is {self.mode}{hint}")
        u = self.gpu_memory_utilization
        if u is not None and not 0 < u <= 1:
            raise ConfigError(f"{where}.gpu_memory_utilization must be in (0, 1], got {u}")
        for key in ("tensor_parallel_size", "max_model_length"):
            value = getattr(self, key)
            if value is not None and value < 1:
                raise ConfigError(f"{where}.{key} must be >= 1, got {value}")
        for key in ("server_port", "group_port"):
            value = getattr(self, key)
            if value is not None and not 0 < value < 65536:
                raise ConfigError(f"{where}.{key} must be a port number (1-65535), got {value}")
        if self.server_timeout is not None and self.server_timeout <= 0:
            raise ConfigError(f"{where}.server_timeout must be a positive number of seconds, got {self.server_timeout}")
        if self.server_base_url is not None and not self.server_base_url.startswith(("http://", "https://")):
            raise ConfigError(f"{where}.server_base_url must be an http:// or https:// URL, got {self.server_base_url!r}")
        if self.server_host is not None and not self.server_host.strip():
            raise ConfigError(f"{where}.server_host must name a host")

    def trl_kwargs(self, where: str = "vllm") -> dict[str, Any]:
        """TRL GRPOConfig arguments: ``use_vllm``, ``vllm_mode`` and ``vllm_<key>`` for each key
        set; a key the installed TRL has no field for is an error naming it."""
        from trl import GRPOConfig as TRLConfig

        kwargs: dict[str, Any] = {"use_vllm": True, "vllm_mode": self.mode}
        for key in VLLM_MODE_KEYS[self.mode]:
            value = getattr(self, key)
            if value is not None:
                kwargs[f"vllm_{key}"] = value
        fields = TRLConfig.__dataclass_fields__
        for name in kwargs:
            if name not in fields:
                import trl

                key = name.removeprefix("vllm_")
                raise ConfigError(f"{where}.{key}: the installed TRL ({trl.__version__}) has no GRPOConfig field {name}")
        return kwargs


@dataclass
class GRPOConfig:
    language: str = "python"
    num_generations: int = 8  # completions per prompt (the group)
    max_completion_length: int = 160  # tokens
    temperature: float = 1.0
    beta: float = 0.0  # KL penalty to the starting model (> 0 keeps a reference copy)
    reward: str = "pass"
    timeout_s: float = 3.0  # per program; a completion that runs longer gets reward 0
    # completion: the PL's prompt, completions cut at its stop sequences; chat: the problem as
    # a user message through the chat template, the answer opened with the code fence, the
    # code cut at the closing fence and extracted as evaluation does.
    prompt_style: str = "completion"
    # The training curve's mean reward moves with whichever prompts each step drew; a fixed
    # probe set of this many RL problems, sampled the same way before and after training,
    # says whether the policy itself improved (0 = no probe).
    probe_problems: int = 0
    # all: RL on every problem; mixed: only on those the starting model passes sometimes but
    # not always (pool_samples samples each at this temperature, before training): a group
    # whose completions all pass, or all fail, has no advantage to learn from
    pool: str = "all"
    pool_samples: int = 8
    execution: ExecutionConfig = field(default_factory=ExecutionConfig)
    # TRL's vLLM generation of the completions (null: Hugging Face generate); VLLMConfig
    vllm: VLLMConfig | None = None
    train: TrainConfig = field(
        default_factory=lambda: TrainConfig(
            learning_rate=5e-5, batch_size=16, max_steps=40, save_steps=10, logging_steps=1
        )
    )

    def validate(self, where: str = "grpo") -> None:
        lang = get_language(self.language)
        self.execution.validate(f"{where}.execution")
        if not lang.toolchain.available and self.execution.ray is None:  # on Ray: the nodes' toolchains
            raise ConfigError(f"{where}.language: {lang.toolchain.problem}")
        if self.prompt_style not in ("completion", "chat"):
            raise ConfigError(f"{where}.prompt_style must be completion or chat, got {self.prompt_style!r}")
        if self.reward not in REWARDS:
            raise ConfigError(f"{where}.reward must be one of {', '.join(REWARDS)}, got {self.reward!r}")
        if self.num_generations < 2:
            raise ConfigError(f"{where}.num_generations must be >= 2 (GRPO compares completions within a group)")
        if self.train.batch_size % self.num_generations:
            raise ConfigError(
                f"{where}.train.batch_size ({self.train.batch_size}) must be a multiple of num_generations "
                f"({self.num_generations}): a batch holds whole groups of completions"
            )
        if self.probe_problems < 0:
            raise ConfigError(f"{where}.probe_problems must be >= 0, got {self.probe_problems}")
        if self.pool not in ("all", "mixed"):
            raise ConfigError(f"{where}.pool must be all or mixed, got {self.pool!r}")
        if self.pool_samples < 2:
            raise ConfigError(f"{where}.pool_samples must be >= 2 (a pass rate strictly between 0 and 1 needs two samples), got {self.pool_samples}")
        if self.timeout_s <= 0 or self.max_completion_length < 1 or self.temperature <= 0:
            raise ConfigError(f"{where}: timeout_s, max_completion_length and temperature must be positive")
        self.train.validate(f"{where}.train")
        if self.vllm is not None:
            from xpl.models.generation import vllm_unavailable

            self.vllm.validate(f"{where}.vllm")
            mapped = {"use_vllm", "vllm_mode", *(f"vllm_{key}" for key in VLLM_MODE_KEYS[self.vllm.mode])}
            clash = sorted(k for k in self.train.extra if k in mapped)
            if clash:
                raise ConfigError(f"{where}.train.extra sets {', '.join(clash)}, which {where}.vllm sets: give them as {where}.vllm keys")
            problem = vllm_unavailable()
            if problem:
                raise ConfigError(f"{where}.vllm: {problem}; leave {where}.vllm out here (Hugging Face generate)")

    def trl_kwargs(self, output_dir: Path, where: str = "grpo") -> dict[str, Any]:
        """Every argument of TRL's GRPOConfig for this stage: the Trainer's, GRPO's and, with
        ``vllm``, TRL's vLLM fields."""
        kwargs = self.train.trainer_kwargs(output_dir)
        own = {
            "num_generations": self.num_generations,
            "max_completion_length": self.max_completion_length,
            "temperature": self.temperature,
            "beta": self.beta,
            **(self.vllm.trl_kwargs(f"{where}.vllm") if self.vllm is not None else {}),
        }
        clash = sorted(set(kwargs) & set(own))
        if clash:
            raise ConfigError(f"{where}.train.extra sets {', '.join(clash)}, which the {where} keys set")
        return {**kwargs, **own}


class ExecutionReward:
    """The reward function handed to ``GRPOTrainer``: scores a batch of completions by running
    them all in one engine call. Keeps the time it spends, to report its share of training."""

    def __init__(self, problems: Sequence[Problem], language: str, reward: str, timeout_s: float, engine, style: str = "completion"):
        from xpl.execution import Limits

        self.language = get_language(language).name
        self.style = style
        self.rendered = {p.name: p.render_as(self.language, style) for p in problems}
        self.reward = reward
        self.limits = Limits(timeout_s=timeout_s, cpu_s=timeout_s)
        self.engine = engine
        self.seconds = 0.0
        self.calls = 0
        self.__name__ = f"execution_{reward}"  # TRL names the logged reward after the function

    def __call__(self, prompts: list[str], completions: list[str], problem: list[str], **_: Any) -> list[float]:
        """GRPOTrainer's call: the scores, with the time counted as training's reward time."""
        start = time.perf_counter()
        scores = self.score(completions, problem)
        self.seconds += time.perf_counter() - start
        self.calls += 1
        return scores

    def score(self, completions: Sequence[str], problem: Sequence[str]) -> list[float]:
        """Reward of each completion of the problem named beside it, in one engine call."""
        from xpl.execution import Job
        from xpl.models.generation import truncate

        jobs = []
        for name, completion in zip(problem, completions, strict=True):
            r = self.rendered[name]
            program = r.program(truncate(completion, r.stop_sequences))
            jobs.append(Job(self.language, program, r.num_tests, self.limits, expected=r.expected))
        results = self.engine.run(jobs)
        if self.reward == "pass":
            return [1.0 if res.ok else 0.0 for res in results]
        return [res.passed / res.total if res.total else 0.0 for res in results]


def trl_prompt(tokenizer, text: str) -> str:
    """The prompt text to give TRL for ``text`` (a rendered prompt), such that the token ids TRL
    makes of it, and hands to ``generate`` or to vLLM, are the ids evaluation samples from
    (``text`` tokenized without added special tokens). TRL tokenizes a text prompt with the
    tokenizer's special tokens: where those add a BOS that a chat template has already written
    (Llama 3), the written one is left out here, so the prompt keeps a single BOS."""
    want = list(tokenizer(text, add_special_tokens=False)["input_ids"])
    if list(tokenizer(text)["input_ids"]) == want:
        return text
    bos = tokenizer.bos_token
    if bos and text.startswith(bos):
        rest = text[len(bos) :]
        if list(tokenizer(rest)["input_ids"]) == want:
            return rest
    return text  # e.g. a completion prompt, to which the tokenizer adds the BOS the model expects


def grpo_rows(problems: Sequence[Problem], language: str, style: str, tokenizer) -> list[dict[str, str]]:
    """GRPO's dataset rows: ``prompt`` (rendered here in ``style``: chat prompts through the chat
    template, with the opening fence, so the policy writes code from its first token exactly
    as evaluation samples it; then ``trl_prompt``) and the ``problem``'s name for the reward."""
    return [{"prompt": trl_prompt(tokenizer, p.render_as(language, style).prompt_text(tokenizer)), "problem": p.name} for p in problems]


def release_trl_vllm(trainer) -> None:
    """Once training is over, let go of TRL's vLLM: the engine it started inside this process
    (``colocate``) gives its GPU memory back, and the weight-sync group with a server
    (``server``) is closed, so that a later stage of the same run (an evaluation, the next
    arm's GRPO) has the GPU, and can join the server again. Nothing to do without vLLM."""
    generation = getattr(trainer, "vllm_generation", None)
    if generation is None:
        return
    client = getattr(generation, "vllm_client", None)
    if client is not None and hasattr(client, "close_communicator"):
        client.close_communicator()
    llm = getattr(generation, "llm", None)
    if llm is not None:
        from xpl.models.generation import release_vllm

        generation.llm = None
        release_vllm(llm)


def probe_reward(
    model,
    tokenizer,
    problems: Sequence[Problem],
    config: GRPOConfig,
    reward: ExecutionReward,
    seed: int,
    n: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> list[float]:
    """Each problem's mean reward over ``n`` samples (default ``num_generations``; GRPO's
    temperature and completion length); ``progress(done, total)`` as the samples come."""
    from xpl.models.generation import SamplingConfig, sample_problems

    n = n or config.num_generations
    sampling = SamplingConfig(n, config.temperature, 1.0, config.max_completion_length, 64, seed=seed)
    completions = sample_problems(model, tokenizer, problems, reward.language, sampling, progress=progress, style=reward.style)
    names = [p.name for p, cs in zip(problems, completions) for _ in cs]
    scores = reward.score([c for cs in completions for c in cs], names)  # not training's reward time
    return [round(sum(scores[i : i + n]) / n, 4) for i in range(0, len(scores), n)]


def mixed_pool(
    model,
    tokenizer,
    problems: Sequence[Problem],
    config: GRPOConfig,
    reward: ExecutionReward,
    path: Path,
    what: str = "grpo.pool mixed: the starting model",
    progress: Callable[[int, int], None] | None = None,
) -> tuple[list[Problem], dict[str, Any]]:
    """The problems the starting model passes sometimes but not always (``pool_samples``
    samples each), and the counts; kept in ``path`` so a resumed stage trains on the same pool.
    ``what`` opens the error when none is left; ``progress(done, total)`` follows the sampling."""
    if path.is_file():
        rates = json.loads(path.read_text())["pass_rates"]
    else:
        values = probe_reward(model, tokenizer, problems, config, reward, config.train.seed, n=config.pool_samples, progress=progress)
        rates = {p.name: r for p, r in zip(problems, values, strict=True)}
        write_json(path, {"samples": config.pool_samples, "pass_rates": rates})
    kept = [p for p in problems if 0 < rates[p.name] < 1]
    if not kept:
        raise ConfigError(
            f"{what} passes all or none of the {config.pool_samples} samples of every one of "
            f"the {len(problems)} problems; nothing to learn from (keep them all, or use other problems)"
        )
    counts = {
        "of": len(problems),
        "kept": len(kept),
        "always_passed": sum(rates[p.name] == 1 for p in problems),
        "never_passed": sum(rates[p.name] == 0 for p in problems),
        "samples": config.pool_samples,
    }
    return kept, counts


def _probe_record(before: list[float], after: list[float]) -> dict[str, Any]:
    return {
        "problems": len(before),
        "reward_before": round(sum(before) / len(before), 4),
        "reward_after": round(sum(after) / len(after), 4),
        "per_problem_before": before,
        "per_problem_after": after,
    }


@library_noise_filtered()
def grpo(
    model_dir: str | Path,
    problems: Sequence[Problem],
    config: GRPOConfig,
    output_dir: str | Path,
    report: Callable[[int, int, dict | None], None] | None = None,
    workers: int | None = None,
) -> dict[str, Any]:
    """Train with GRPO from the model in ``model_dir`` on ``problems`` in ``config.language``
    (resuming, or skipping when finished); the result is saved in ``output_dir/final``."""
    limit_threads()
    config.validate()
    out = Path(output_dir)
    done = stage_done(out)
    if done:
        return done
    out.mkdir(parents=True, exist_ok=True)
    from datasets import Dataset
    from trl import GRPOConfig as TRLConfig
    from trl import GRPOTrainer

    from xpl.execution.cluster import ClusterUnavailable, make_engine
    from xpl.languages import ToolchainMissing
    from xpl.models.loading import load_model

    language = get_language(config.language)
    lang = language.name
    usable = [p for p in problems if language.supports(p.signature) is None]
    if not usable:
        raise ConfigError(f"grpo: none of the {len(problems)} problems can be written in {lang}")
    model, tokenizer = load_model(model_dir)
    tokenizer.padding_side = "left"
    if config.prompt_style == "chat" and not getattr(tokenizer, "chat_template", None):
        raise ConfigError(f"grpo.prompt_style chat: the tokenizer of {model_dir} has no chat template; use completion")
    started = time.perf_counter()
    try:
        engine = make_engine(config.execution.ray, workers=workers, languages=[lang])
    except (ClusterUnavailable, ToolchainMissing) as exc:
        raise ConfigError(f"grpo.execution.ray: {exc}") from None
    reward = ExecutionReward(usable, lang, config.reward, config.timeout_s, engine, config.prompt_style)
    probe_seconds = 0.0  # kept out of the stage's time, so the reward share is training's
    pool, pool_seconds = None, 0.0  # the pool's sampling is kept out of the stage's time too
    try:
        if config.pool == "mixed":
            t = time.perf_counter()
            usable, pool = mixed_pool(model, tokenizer, usable, config, reward, out / "pool.json")
            pool_seconds = time.perf_counter() - t
        dataset = Dataset.from_list(grpo_rows(usable, lang, config.prompt_style, tokenizer))
        probe = usable[: config.probe_problems]
        probe_file = out / "probe_before.json"
        if probe and not probe_file.is_file():  # measured once, on the starting model
            t = time.perf_counter()
            before = probe_reward(model, tokenizer, probe, config, reward, config.train.seed)
            write_json(probe_file, {"per_problem": before})
            probe_seconds += time.perf_counter() - t
        model.train()
        args = TRLConfig(**config.trl_kwargs(out))
        trainer = GRPOTrainer(
            model=str(model_dir) if config.beta > 0 else model,  # beta > 0 reloads a reference copy by path
            reward_funcs=[reward],
            args=args,
            train_dataset=dataset,
            processing_class=tokenizer,
            peft_config=config.train.lora.peft_config(model) if config.train.lora else None,
            callbacks=[progress_callback(report)] if report else [],
        )
        train_with_resume(quiet(trainer), out)
        release_trl_vllm(trainer)  # the GPU memory of a colocated engine, before the probe and the next stages
        t = time.perf_counter()
        after = probe_reward(trainer.model, tokenizer, probe, config, reward, config.train.seed) if probe else None
        probe_seconds += time.perf_counter() - t
    finally:
        engine.close()
    save_final(trainer, tokenizer, out, merge_lora=True)
    history = [r for r in trainer.state.log_history if "reward" in r]
    seconds = time.perf_counter() - started - probe_seconds - pool_seconds
    record = {
        "stage": "grpo",
        "model": str(out / FINAL),
        "language": lang,
        "problems": len(usable),
        "pool": pool,
        "steps": trainer.state.global_step,
        "reward_curve": [
            {"step": r.get("step"), "reward": r["reward"], "reward_std": r.get("reward_std")} for r in history
        ],
        "probe": _probe_record(json.loads(probe_file.read_text())["per_problem"], after) if probe else None,
        "reward_seconds": round(reward.seconds, 2),
        "reward_share": round(reward.seconds / seconds, 4) if seconds else None,
        "seconds": round(seconds, 1),
        "probe_seconds": round(probe_seconds, 1),
        "pool_seconds": round(pool_seconds, 1),
        "config": config_dict(config),
    }
    if trainer.is_world_process_zero():
        mark_done(out, record)
    return record
