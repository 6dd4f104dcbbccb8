"""The FLeX experiment's configuration (``xpl flex``): its YAML sections with their checks,
the embedded configurations and the ``--quick`` version."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

from xpl.experiments.spec import ProblemsConfig, check_common
from xpl.experiments.stages import quick_family
from xpl.languages import get_language
from xpl.training.common import ConfigError, LoraConfig, TrainConfig
from xpl.training.flex import OPTIMIZERS, expand_target_modules
from xpl.training.fourier import FourierConfig
from xpl.training.pretrain import PretrainConfig
from xpl.training.sophia import SophiaConfig


ARMS = ("lora", "lora_fourier")
VARIANTS = ("unmerged", "merged")
ARM_NAMES = {"base": "base", "lora": "LoRA", "lora_fourier": "LoRA + Fourier"}
OPT_NAMES = {"adamw": "AdamW", "sophia": "Sophia"}


def _check_optimizer(where: str, learning_rate: float, weight_decay: float) -> None:
    if not learning_rate > 0 or weight_decay < 0:
        raise ConfigError(f"{where}: learning_rate must be > 0 and weight_decay >= 0, got {learning_rate}, {weight_decay}")


@dataclass
class FlexAdamWConfig:
    learning_rate: float = 2e-3
    weight_decay: float = 0.01

    def validate(self, where: str = "adamw") -> None:
        _check_optimizer(where, self.learning_rate, self.weight_decay)


@dataclass
class FlexSophiaConfig(SophiaConfig):
    learning_rate: float = 2e-3
    weight_decay: float = 0.1

    def validate(self, where: str = "sophia") -> None:
        super().validate(where)
        _check_optimizer(where, self.learning_rate, self.weight_decay)


@dataclass
class FlexEvalConfig:
    languages: list[str] = field(default_factory=lambda: ["python", "java"])
    samples: int = 2
    temperature: float = 0.2
    top_p: float = 0.95
    max_new_tokens: int = 128
    batch_size: int = 32
    max_problems: int = 30  # pass@1 problems per PL (0: every held-out problem)
    loss_problems: int = 0  # held-out loss problems per PL (0: every held-out problem)
    validation_steps: int = 5  # validation loss during training every n steps (the loss curves)
    validation_problems: int = 48  # held-out problems per PL in that validation loss (0: all)
    skip_unavailable: bool = True

    def validate(self, where: str = "eval") -> None:
        for name in self.languages:
            get_language(name)
        if self.samples < 1 or self.max_new_tokens < 1 or self.batch_size < 1:
            raise ConfigError(f"{where}.samples, {where}.max_new_tokens and {where}.batch_size must be >= 1")
        for name in ("validation_steps", "validation_problems", "max_problems", "loss_problems"):
            if getattr(self, name) < 0:
                raise ConfigError(f"{where}.{name} must be >= 0, got {getattr(self, name)}")


@dataclass
class FlexExperimentConfig:
    name: str = "flex"
    model: str = "tiny:s"
    seeds: list[int] = field(default_factory=lambda: [0, 1, 2])
    source_language: str = "python"
    prompt_style: str = "auto"  # as in `xpl run`: the SFT data and the evaluation follow it
    problems: ProblemsConfig = field(default_factory=ProblemsConfig)
    pretrain: PretrainConfig = field(default_factory=PretrainConfig)
    arms: list[str] = field(default_factory=lambda: list(ARMS))
    optimizers: list[str] = field(default_factory=lambda: list(OPTIMIZERS))
    variants: list[str] = field(default_factory=lambda: list(VARIANTS))
    lora: LoraConfig = field(default_factory=lambda: LoraConfig(target_modules=("attention", "mlp")))
    fourier: FourierConfig = field(default_factory=FourierConfig)
    train: TrainConfig = field(default_factory=lambda: TrainConfig(batch_size=16, epochs=3, logging_steps=1))
    adamw: FlexAdamWConfig = field(default_factory=FlexAdamWConfig)
    sophia: FlexSophiaConfig = field(default_factory=FlexSophiaConfig)
    eval: FlexEvalConfig = field(default_factory=FlexEvalConfig)
    workers: int = 0  # engine sandboxes; 0 = one per core (divided among the seed_workers processes)
    seed_workers: int = 0  # seeds side by side, as in `xpl run` (xpl.experiments.seeds); 0 = automatic

    def validate(self) -> None:
        from xpl.models.loading import is_tiny_spec

        check_common(self)
        for key, values, known in (("arms", self.arms, ARMS), ("optimizers", self.optimizers, OPTIMIZERS), ("variants", self.variants, VARIANTS)):
            if not values:
                raise ConfigError(f"{key}: name at least one of {', '.join(known)}")
            for value in values:
                if value not in known:
                    raise ConfigError(f"{key}: {value!r} is not one of {', '.join(known)}")
        expand_target_modules(self.lora.target_modules, "lora.target_modules")  # FLeX's shorthands (attention, mlp)
        self.lora.validate("lora")
        self.fourier.validate("fourier")
        self.sophia.validate("sophia")
        self.adamw.validate("adamw")
        if self.train.lora is not None:
            raise ConfigError("train.lora: set LoRA in the top-level lora section (every arm is LoRA)")
        self.train.validate("train")
        self.eval.validate("eval")
        self.problems.validate("problems")
        if is_tiny_spec(self.model):
            self.pretrain.validate("pretrain")


def load_flex(path: str | Path | None = None) -> FlexExperimentConfig:
    """The FLeX experiment in ``path`` (a YAML file, or the name of an embedded FLeX
    configuration such as ``flex-ortho``), or the embedded ``flex`` configuration."""
    from xpl.experiments.spec import load_other_experiment

    return load_other_experiment(FlexExperimentConfig, "flex", "FLeX", path)


def quick(config: FlexExperimentConfig) -> FlexExperimentConfig:
    """A minutes-long version for tests and smoke runs (one seed, few problems and steps,
    Python and JavaScript, whose tests run fastest). Its numbers mean nothing."""
    c = quick_family(config)
    c.eval.samples, c.eval.max_problems, c.eval.loss_problems, c.eval.max_new_tokens, c.eval.validation_steps = 1, 4, 8, 32, 2
    c.pretrain.train = replace(c.pretrain.train, max_steps=4, save_steps=4, logging_steps=1)
    c.train = replace(c.train, max_steps=4, batch_size=8, save_steps=4, logging_steps=1)
    c.sophia.hessian_interval = 2
    return c
