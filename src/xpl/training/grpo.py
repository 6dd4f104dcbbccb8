"""Reinforcement learning with execution rewards: TRL's ``GRPOTrainer`` on one source PL.

For each prompt GRPO samples a group of ``num_generations`` completions; each is cut at the
problem's stop sequences, appended to the problem's test harness and run by the execution
engine. The whole batch of completions goes to the engine in one call (one batched build
per compiled PL, every program sandboxed, a hard ``timeout_s`` per program), so a stuck or
hostile completion can neither stall training nor touch the machine. Reward: 1.0 when every
test passes and 0.0 otherwise (``reward="pass"``), or the fraction of tests passed
(``reward="fraction"``).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

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
    execution: ExecutionConfig = field(default_factory=ExecutionConfig)
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
        if self.timeout_s <= 0 or self.max_completion_length < 1 or self.temperature <= 0:
            raise ConfigError(f"{where}: timeout_s, max_completion_length and temperature must be positive")
        self.train.validate(f"{where}.train")


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


def probe_reward(
    model, tokenizer, problems: Sequence[Problem], config: GRPOConfig, reward: ExecutionReward, seed: int
) -> list[float]:
    """Each problem's mean reward over ``num_generations`` samples (GRPO's temperature and
    completion length)."""
    from xpl.models.generation import SamplingConfig, sample_problems

    sampling = SamplingConfig(
        config.num_generations, config.temperature, 1.0, config.max_completion_length, 64, seed=seed
    )
    completions = sample_problems(model, tokenizer, problems, reward.language, sampling, style=reward.style)
    names = [p.name for p, cs in zip(problems, completions) for _ in cs]
    scores = reward.score([c for cs in completions for c in cs], names)  # not training's reward time
    k = config.num_generations
    return [round(sum(scores[i : i + k]) / k, 4) for i in range(0, len(scores), k)]


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
    # Chat prompts are rendered here (template + the opening fence), so TRL sees plain text and
    # the policy writes code from its first token, exactly as evaluation samples it.
    dataset = Dataset.from_list(
        [{"prompt": p.render_as(lang, config.prompt_style).prompt_text(tokenizer), "problem": p.name} for p in usable]
    )
    started = time.perf_counter()
    try:
        engine = make_engine(config.execution.ray, workers=workers, languages=[lang])
    except (ClusterUnavailable, ToolchainMissing) as exc:
        raise ConfigError(f"grpo.execution.ray: {exc}") from None
    reward = ExecutionReward(usable, lang, config.reward, config.timeout_s, engine, config.prompt_style)
    probe = usable[: config.probe_problems]
    probe_file = out / "probe_before.json"
    probe_seconds = 0.0  # kept out of the stage's time, so the reward share is training's
    try:
        if probe and not probe_file.is_file():  # measured once, on the starting model
            t = time.perf_counter()
            before = probe_reward(model, tokenizer, probe, config, reward, config.train.seed)
            probe_file.write_text(json.dumps({"per_problem": before}) + "\n")
            probe_seconds += time.perf_counter() - t
        model.train()
        args = TRLConfig(
            **config.train.trainer_kwargs(out),
            num_generations=config.num_generations,
            max_completion_length=config.max_completion_length,
            temperature=config.temperature,
            beta=config.beta,
        )
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
        t = time.perf_counter()
        after = probe_reward(trainer.model, tokenizer, probe, config, reward, config.train.seed) if probe else None
        probe_seconds += time.perf_counter() - t
    finally:
        engine.close()
    save_final(trainer, tokenizer, out, merge_lora=True)
    history = [r for r in trainer.state.log_history if "reward" in r]
    seconds = time.perf_counter() - started - probe_seconds
    record = {
        "stage": "grpo",
        "model": str(out / FINAL),
        "language": lang,
        "problems": len(usable),
        "steps": trainer.state.global_step,
        "reward_curve": [
            {"step": r.get("step"), "reward": r["reward"], "reward_std": r.get("reward_std")} for r in history
        ],
        "probe": _probe_record(json.loads(probe_file.read_text())["per_problem"], after) if probe else None,
        "reward_seconds": round(reward.seconds, 2),
        "reward_share": round(reward.seconds / seconds, 4) if seconds else None,
        "seconds": round(seconds, 1),
        "probe_seconds": round(probe_seconds, 1),
        "config": config_dict(config),
    }
    if trainer.is_world_process_zero():
        mark_done(out, record)
    return record
