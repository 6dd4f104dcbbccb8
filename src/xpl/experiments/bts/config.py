"""The Branch-Train-Stitch experiment's configuration (``xpl bts``): its YAML sections with their
checks, the embedded configuration and the ``--quick`` version."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field, replace
from pathlib import Path

from xpl.corpus import CorpusError, Descriptions, check_descriptions, check_proportions
from xpl.experiments.spec import ProblemsConfig, check_common
from xpl.languages import UnknownLanguage, get_language
from xpl.training.bts import LoopConfig
from xpl.training.common import ConfigError
from xpl.training.pretrain import PretrainConfig

SEVEN = ["python", "rust", "go", "php", "ruby", "java", "javascript"]
ORGANISM_MIX = {"python": 0.52, "rust": 0.08, "go": 0.08, "php": 0.08, "ruby": 0.08, "java": 0.08, "javascript": 0.08}


@dataclass
class ExpertConfig:
    name: str = ""
    languages: list[str] = field(default_factory=list)  # the PL (or PL group) of its continual pretraining


@dataclass
class PoolConfig:
    """The text the experts and the combiners train on: family problems of another seed, every
    one that behaves like a held-out problem dropped (never verified: rendered from the IR)."""

    n: int = 2500  # of levels 1-3 the generator has about 2,800 distinct behaviours
    seed: int = 21
    levels: list[int] = field(default_factory=lambda: [1, 2, 3])
    descriptions: Descriptions = True  # programs with their problem statement
    context: int = 256
    expert_budget: int = 600_000  # characters of each expert's corpus (its PLs in equal shares)
    mix_budget: int = 400_000  # characters of the stitch / router mix
    seed_share: float = 0.5  # share of the mix drawn with the seed's own proportions ("seed data")
    seed_proportions: dict[str, float] = field(default_factory=lambda: dict(ORGANISM_MIX))

    def validate(self, where: str = "pool") -> None:
        if self.n < 10 or not self.levels:
            raise ConfigError(f"{where}: n must be >= 10 and levels non-empty")
        if self.context < 16 or self.expert_budget <= 0 or self.mix_budget <= 0:
            raise ConfigError(f"{where}: context must be >= 16 and the budgets > 0")
        if not 0 <= self.seed_share < 1:
            raise ConfigError(f"{where}.seed_share must be in [0, 1), got {self.seed_share}")
        try:
            check_descriptions(self.descriptions, f"{where}.descriptions")
            check_proportions(self.seed_proportions, f"{where}.seed_proportions")
        except CorpusError as exc:
            raise ConfigError(str(exc)) from None


@dataclass
class StitchConfig:
    layers: list[int] = field(default_factory=lambda: [4, 1])  # K of each BTS model trained: the first is "BTS", the rest the ablation
    gate_dropout: float = 0.1
    hub_logit: float = 0.0
    h2e_bias: float = -2.0
    train: LoopConfig = field(default_factory=lambda: LoopConfig(steps=150, batch_size=8, learning_rate=1e-3, warmup_steps=10))

    def validate(self, where: str = "stitch") -> None:
        if not self.layers:
            raise ConfigError(f"{where}.layers: name at least one K")
        for k in self.layers:
            if k < 1:
                raise ConfigError(f"{where}.layers: K must be >= 1, got {k}")
        if len(set(self.layers)) != len(self.layers):
            raise ConfigError(f"{where}.layers: repeated K in {self.layers}")
        if not 0 <= self.gate_dropout < 1:
            raise ConfigError(f"{where}.gate_dropout must be in [0, 1), got {self.gate_dropout}")
        self.train.validate(f"{where}.train")


@dataclass
class BTXConfig:
    top_k: int = 2
    include_seed: bool = True  # the seed's MLP is one of the mixture's experts
    learning_rate: float = 1e-3  # the router's; steps, batches and data are the stitch layers'

    def validate(self, where: str = "btx") -> None:
        if self.top_k < 1 or not self.learning_rate > 0:
            raise ConfigError(f"{where}: top_k must be >= 1 and learning_rate > 0")


@dataclass
class BTSEvalConfig:
    languages: list[str] = field(default_factory=lambda: list(SEVEN))
    max_problems: int = 60  # pass@1 problems per PL (0: every held-out problem)
    loss_problems: int = 0  # held-out loss problems per PL (0: every held-out problem)
    max_new_tokens: int = 96
    batch_size: int = 60
    baselines: list[str] = field(default_factory=lambda: ["seed", "experts", "soup", "btx", "btm"])
    removal: bool = True  # BTS with each expert removed (no retraining): held-out loss
    skip_unavailable: bool = True

    def validate(self, where: str = "eval") -> None:
        for name in self.languages:
            get_language(name)
        for name in ("max_problems", "loss_problems"):
            if getattr(self, name) < 0:
                raise ConfigError(f"{where}.{name} must be >= 0")
        if self.max_new_tokens < 1 or self.batch_size < 1:
            raise ConfigError(f"{where}.max_new_tokens and {where}.batch_size must be >= 1")
        for b in self.baselines:
            if b not in BASELINES:
                raise ConfigError(f"{where}.baselines: {b!r} is not one of {', '.join(BASELINES)}")


BASELINES = ("seed", "experts", "soup", "btx", "btm")


@dataclass
class BTSExperimentConfig:
    name: str = "bts"
    model: str = "organism"  # the seed: the shipped organism, a model folder, or tiny:<preset> (pretrained here)
    seeds: list[int] = field(default_factory=lambda: [0])
    source_language: str = "python"  # unused by BTS; the family experiments' shared checks read it
    prompt_style: str = "completion"
    problems: ProblemsConfig = field(default_factory=lambda: ProblemsConfig(n=600, seed=0, test_fraction=0.2, levels=[1, 2], languages=list(SEVEN)))
    pretrain: PretrainConfig = field(default_factory=PretrainConfig)
    pool: PoolConfig = field(default_factory=PoolConfig)
    experts: list[ExpertConfig] = field(default_factory=lambda: [
        ExpertConfig("python", ["python"]),
        ExpertConfig("rust-go-java", ["rust", "go", "java"]),
        ExpertConfig("js-php-ruby", ["javascript", "php", "ruby"]),
    ])
    expert_train: LoopConfig = field(default_factory=lambda: LoopConfig(steps=150, batch_size=8, learning_rate=1e-3, warmup_steps=10, weight_decay=0.1))
    stitch: StitchConfig = field(default_factory=StitchConfig)
    btx: BTXConfig = field(default_factory=BTXConfig)
    eval: BTSEvalConfig = field(default_factory=BTSEvalConfig)
    workers: int = 0

    def validate(self) -> None:
        from xpl.models.loading import is_tiny_spec

        check_common(self)
        if self.prompt_style != "completion":
            raise ConfigError(f"prompt_style: xpl bts prompts in completion style (the stitched model has no chat template), got {self.prompt_style!r}")
        if not self.experts:
            raise ConfigError("experts: name at least one expert")
        names = set()
        for i, e in enumerate(self.experts):
            where = f"experts[{i}]"
            if not e.name or not e.name.replace("-", "").replace("_", "").isalnum():
                raise ConfigError(f"{where}.name: a non-empty name of letters, digits, - and _, got {e.name!r}")
            if e.name in names:
                raise ConfigError(f"{where}.name: {e.name!r} is used twice")
            names.add(e.name)
            if not e.languages:
                raise ConfigError(f"{where}.languages: name at least one PL")
            for lang in e.languages:
                try:
                    get_language(lang)
                except UnknownLanguage as exc:
                    raise ConfigError(f"{where}.languages: {exc}") from None
        self.pool.validate("pool")
        self.expert_train.validate("expert_train")
        self.stitch.validate("stitch")
        self.btx.validate("btx")
        n_btx = len(self.experts) + (1 if self.btx.include_seed else 0)
        if self.btx.top_k > n_btx:
            raise ConfigError(f"btx.top_k is {self.btx.top_k}, but the mixture has {n_btx} MLPs per layer")
        self.eval.validate("eval")
        self.problems.validate("problems")
        if is_tiny_spec(self.model):
            self.pretrain.validate("pretrain")
        layers = seed_layers(self)
        if layers is not None:
            self.check_layers(layers)

    def check_layers(self, num_layers: int) -> None:
        """K against the seed's depth, once the seed is known."""
        for k in self.stitch.layers:
            if k > num_layers:
                raise ConfigError(f"stitch.layers: K={k} is larger than the number of layers of the seed ({num_layers})")


def seed_layers(config: BTSExperimentConfig) -> int | None:
    """The seed's number of decoder layers, read before anything is built (None when unknown
    until it is loaded)."""
    import json

    from xpl.models.loading import ORGANISM, is_tiny_spec, organism_folder, resolve
    from xpl.models.tiny import PRESETS

    if is_tiny_spec(config.model):
        preset = config.model.split(":", 1)[1] or config.pretrain.preset
        return config.pretrain.model_overrides.get("num_hidden_layers", PRESETS.get(preset, {}).get("num_hidden_layers"))
    try:
        folder = organism_folder(verify=False) if config.model == ORGANISM else resolve(config.model)
        return json.loads((Path(folder) / "config.json").read_text()).get("num_hidden_layers")
    except (OSError, ValueError):
        return None


def load_bts(path: str | Path | None = None) -> BTSExperimentConfig:
    """The BTS experiment in ``path`` (a YAML file or the name of an embedded ``bts``
    configuration), or the embedded ``bts`` configuration; validated."""
    from xpl.experiments.spec import load_other_experiment

    return load_other_experiment(BTSExperimentConfig, "bts", "BTS", path)


def quick(config: BTSExperimentConfig) -> BTSExperimentConfig:
    """A minutes-long smoke version: two experts (Python; JavaScript), Python and JavaScript
    only, few problems and steps. Its numbers mean nothing."""
    c = copy.deepcopy(config)
    c.seeds = c.seeds[:1]
    c.problems.n = 60
    c.problems.languages = ["python", "javascript"]
    c.eval.languages = ["python", "javascript"]
    c.eval.max_problems, c.eval.loss_problems, c.eval.max_new_tokens = 4, 8, 32
    c.experts = [ExpertConfig("python", ["python"]), ExpertConfig("javascript", ["javascript"])]
    c.pool.n, c.pool.expert_budget, c.pool.mix_budget, c.pool.context = 100, 20_000, 20_000, 128
    c.pool.seed_proportions = {"python": 0.5, "javascript": 0.5}
    if c.model.startswith("tiny:"):
        c.model = "tiny:xs"
        c.pretrain.budget, c.pretrain.preset, c.pretrain.context, c.pretrain.vocab_size = 30_000, "xs", 128, 512
        c.pretrain.proportions = {"python": 0.75, "javascript": 0.25}
        c.pretrain.train = replace(c.pretrain.train, max_steps=4, save_steps=4, logging_steps=1)
    c.expert_train = replace(c.expert_train, steps=3, batch_size=4, save_steps=2, logging_steps=1, warmup_steps=1)
    c.stitch.train = replace(c.stitch.train, steps=3, batch_size=4, save_steps=2, logging_steps=1, warmup_steps=1)
    c.stitch.layers = [2, 1]
    return c
