"""The Parallel-SFT transfer experiment, as a typed configuration.

An experiment has a problem set (the built-in family, generated and verified), a base model
(a tiny model pretrained here, or a model folder), two training arms and an evaluation:

* ``base``: the base model as it is;
* ``sft`` -> ``sft_rl``: SFT on the source PL, then GRPO on the source PL;
* ``parallel_sft`` -> ``parallel_sft_rl``: Parallel-SFT (the same SFT data plus parallel
  programs), then the same GRPO.

All five models are evaluated zero-shot on held-out problems in every evaluation PL, for
every seed: what RL adds is measured against the SFT model it started from, in each PL.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from xpl.experiments.config import from_dict, load_yaml
from xpl.languages import get_language
from xpl.training.common import ConfigError
from xpl.training.grpo import GRPOConfig
from xpl.training.pretrain import PretrainConfig
from xpl.training.sft import SFTConfig

ARMS = ("base", "sft", "sft_rl", "parallel_sft", "parallel_sft_rl")  # every model evaluated
RL_ARMS = ("sft_rl", "parallel_sft_rl")  # the two training arms, named by their final model
SFT_OF = {"sft_rl": "sft", "parallel_sft_rl": "parallel_sft"}  # the model each GRPO starts from


@dataclass
class ProblemsConfig:
    n: int = 600
    seed: int = 0
    test_fraction: float = 0.2
    levels: list[int] = field(default_factory=lambda: [1, 2, 3, 4])
    languages: list[str] = field(default_factory=list)  # PLs to verify in; empty = every usable PL

    def validate(self, where: str = "problems") -> None:
        if self.n < 10:
            raise ConfigError(f"{where}.n must be at least 10, got {self.n}")


@dataclass
class RLProblemsConfig:
    """GRPO's problems. ``n: 0``: the train split (the SFT problems). Otherwise ``n`` new
    family problems in the source PL, of another seed, generated and verified in the
    ``rl_problems/`` stage with every one that behaves like a held-out problem dropped: RL
    then meets problems the SFT model has not been fitted to, while the held-out split stays
    untouched."""

    n: int = 0
    seed: int = 1
    levels: list[int] = field(default_factory=lambda: [1, 2])
    # Or a problems file (JSONL) instead of generating: "organism" is the pool shipped with the
    # organism (these keys' default-run values, made by `make organism-rl`), the run then pays
    # neither the generation nor the base's sampling.
    file: str = ""
    # all: every generated problem; mixed: those the *base* model passes in some but not all
    # of ``samples`` samples (GRPO's temperature and length). Chosen once, with the model both
    # arms start from, so every arm and seed trains on the same RL problems (grpo.pool mixed
    # instead filters per starting model, at one sampling pass per arm and seed).
    keep: str = "all"
    samples: int = 8

    def validate(self, problems: ProblemsConfig, where: str = "rl_problems") -> None:
        if self.file:
            if self.n:
                raise ConfigError(f"{where}: give file or n, not both (file: {self.file!r}, n: {self.n})")
            path = rl_problems_path(self.file)
            if not path.is_file():
                raise ConfigError(f"{where}.file: {path} does not exist" + (" (rebuild it with `make organism-rl`)" if self.file == "organism" else ""))
            return
        if self.n < 0:
            raise ConfigError(f"{where}.n must be >= 0 (0: GRPO on the train split), got {self.n}")
        if self.keep not in ("all", "mixed"):
            raise ConfigError(f"{where}.keep must be all or mixed, got {self.keep!r}")
        if self.samples < 2:
            raise ConfigError(f"{where}.samples must be >= 2 (a pass rate strictly between 0 and 1 needs two samples), got {self.samples}")
        if not self.levels or not set(self.levels) <= {1, 2, 3, 4}:
            raise ConfigError(f"{where}.levels must be among 1, 2, 3, 4, got {self.levels}")
        if self.n and self.seed == problems.seed:
            raise ConfigError(
                f"{where}.seed must differ from problems.seed ({problems.seed}): the same seed draws the train split's problems again"
            )


def rl_problems_path(file: str) -> Path:
    """``rl_problems.file`` as a path: "organism" is the pool shipped beside the organism,
    "smollm2" the one shipped beside the SmolLM2 experiment's configuration."""
    if file == "organism":
        from xpl.models.loading import ORGANISM_DIR

        return ORGANISM_DIR / "rl_problems.jsonl"
    if file == "smollm2":
        return Path(__file__).resolve().parent / "configs" / "smollm2-rl.jsonl"
    return Path(file)


@dataclass
class EvalConfig:
    problems: str = "family"  # "family": the held-out split; "humaneval": HumanEval in each PL
    languages: list[str] = field(default_factory=lambda: ["python", "rust", "go", "php", "ruby", "java", "javascript", "julia"])
    samples: int = 4  # completions per problem (pass@1 is estimated from them)
    temperature: float = 0.2
    top_p: float = 0.95
    max_new_tokens: int = 160
    batch_size: int = 32
    max_problems: int = 0  # 0 = every held-out problem
    # The source PL is where RL's own effect is measured (RL - SFT): more problems and samples
    # there narrow that interval for little time (one PL of many). null: as for the other PLs.
    source_samples: int | None = None
    source_max_problems: int | None = None  # 0 = every held-out problem
    # Several samples of greedy decoding are one sample: a greedy evaluation that wants more
    # samples in the source PL samples there at this temperature (null: eval.temperature).
    source_temperature: float | None = None
    skip_unavailable: bool = True  # a PL without a toolchain here (Julia) is left out, with a note
    # hf: Hugging Face generate (CPU or GPU); vllm: vLLM's engine on the model folder (a CUDA
    # GPU and the vllm package; refused up front where either is missing)
    backend: str = "hf"

    def validate(self, where: str = "eval") -> None:
        from xpl.models.generation import vllm_unavailable

        for name in self.languages:
            get_language(name)
        if self.problems not in ("family", "humaneval"):
            raise ConfigError(f"{where}.problems must be family or humaneval, got {self.problems!r}")
        if self.samples < 1 or self.max_new_tokens < 1:
            raise ConfigError(f"{where}.samples and {where}.max_new_tokens must be >= 1")
        if self.source_samples is not None and self.source_samples < 1:
            raise ConfigError(f"{where}.source_samples must be >= 1 (or null: {where}.samples), got {self.source_samples}")
        for key in ("temperature", "source_temperature"):
            value = getattr(self, key)
            if value is not None and value < 0:
                raise ConfigError(f"{where}.{key} must be >= 0 (0: greedy), got {value}")
        for key in ("max_problems", "source_max_problems"):
            value = getattr(self, key)
            if value is not None and value < 0:
                raise ConfigError(f"{where}.{key} must be >= 0 (0: every held-out problem), got {value}")
        if self.backend not in ("hf", "vllm"):
            raise ConfigError(f"{where}.backend must be hf or vllm, got {self.backend!r}")
        problem = vllm_unavailable() if self.backend == "vllm" else None
        if problem:
            raise ConfigError(f"{where}.backend vllm: {problem}; use {where}.backend hf here")

    def samples_for(self, language: str, source: str) -> int:
        """Completions per problem in ``language`` (``source``: the experiment's source PL)."""
        return self._for(language, source, self.source_samples, self.samples)

    def temperature_for(self, language: str, source: str) -> float:
        """The sampling temperature in ``language`` (``source``: the experiment's source PL)."""
        return self._for(language, source, self.source_temperature, self.temperature)

    def max_problems_for(self, language: str, source: str) -> int:
        """At most this many held-out problems in ``language`` (0: all)."""
        return self._for(language, source, self.source_max_problems, self.max_problems)

    @staticmethod
    def _for(language: str, source: str, for_source, otherwise):
        same = get_language(language).name == get_language(source).name
        return for_source if same and for_source is not None else otherwise


@dataclass
class RepresentationsConfig:
    """The representation analysis of the three arms (seed of the first run) on held-out
    parallel programs: are equivalent programs in different PLs closer after Parallel-SFT?"""

    enabled: bool = True
    languages: list[str] = field(default_factory=list)  # empty: the pretraining/parallel PLs with solutions
    max_problems: int = 60
    layers: str = "all"
    pooling: str = "mean"

    def validate(self, where: str = "representations") -> None:
        if self.pooling not in ("mean", "last"):
            raise ConfigError(f"{where}.pooling must be mean or last, got {self.pooling!r}")
        for name in self.languages:
            get_language(name)


@dataclass
class ExperimentConfig:
    name: str = "parallel-sft"
    model: str = "tiny:s"  # tiny:<preset> (pretrained here), a model folder, or smollm2-135m
    seeds: list[int] = field(default_factory=lambda: [0, 1, 2])
    source_language: str = "python"
    # auto: chat for an instruct model with a chat template, else completion (the SFT data,
    # the GRPO prompts and the evaluation all follow it); or chat / completion.
    prompt_style: str = "auto"
    problems: ProblemsConfig = field(default_factory=ProblemsConfig)
    pretrain: PretrainConfig = field(default_factory=PretrainConfig)
    sft: SFTConfig = field(default_factory=SFTConfig)
    parallel_sft: SFTConfig = field(default_factory=lambda: SFTConfig(parallel_languages=["python", "rust", "go", "javascript"]))
    grpo: GRPOConfig = field(default_factory=GRPOConfig)
    rl_problems: RLProblemsConfig = field(default_factory=RLProblemsConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    representations: RepresentationsConfig = field(default_factory=RepresentationsConfig)
    workers: int = 0  # engine sandboxes; 0 = one per core (divided among the seed_workers processes)
    # Seeds run side by side in this many processes (each seed's stages stay in order, each
    # resumable); 0 = one per seed up to twice the cores on a CPU-only machine, 1 where a GPU
    # or vLLM is used. On CPUs a small model keeps a core busier per process than with two
    # threads in one (2 cores, the default: 1.6x the GRPO steps a minute).
    seed_workers: int = 0

    def validate(self) -> None:
        check_common(self)
        self.eval.validate("eval")
        self.problems.validate("problems")
        # Checked whichever base the run uses: a bad key is an error, not a silent leftover.
        self.pretrain.validate("pretrain")
        self.sft.validate("sft")
        self.parallel_sft.validate("parallel_sft")
        if not self.parallel_sft.parallel:
            raise ConfigError("parallel_sft.parallel_languages: name at least two PLs (that is what makes it Parallel-SFT)")
        if self.sft.parallel:
            raise ConfigError("sft.parallel_languages must be empty: the sft arm is plain SFT (parallel data is the other arm)")
        self.grpo.validate("grpo")
        self.rl_problems.validate(self.problems, "rl_problems")
        self.representations.validate("representations")
        if get_language(self.grpo.language).name != get_language(self.source_language).name:
            raise ConfigError(f"grpo.language ({self.grpo.language}) must be the source_language ({self.source_language})")


def check_common(config) -> None:
    """Checks every experiment on the family shares: the model exists, the seeds are distinct
    and there is at least one, the source PL is known, process counts are not negative."""
    from xpl.models.loading import check

    check(config.model)
    if config.prompt_style not in ("auto", "chat", "completion"):
        raise ConfigError(f"prompt_style must be auto, chat or completion, got {config.prompt_style!r}")
    if not config.seeds:
        raise ConfigError("seeds: at least one seed")
    if len(set(config.seeds)) != len(config.seeds):
        raise ConfigError(f"seeds: repeated seeds {config.seeds}")
    get_language(config.source_language)
    for key in ("workers", "seed_workers"):  # the ones the experiment has
        value = getattr(config, key, 0)
        if value < 0:
            raise ConfigError(f"{key} must be >= 0 (0: automatic), got {value}")


def embedded_config_path(name: str = "default") -> Path:
    return Path(str(resources.files("xpl.experiments") / "configs" / f"{name}.yaml"))


OTHER_EXPERIMENTS = {"flex": "xpl flex", "bts": "xpl bts"}  # embedded configurations (NAME or NAME-*) of other experiments, and their verb


def other_experiment(name: str) -> str | None:
    """The verb that runs the embedded configuration ``name`` when it is another experiment's."""
    return OTHER_EXPERIMENTS.get(name.split("-", 1)[0])


def embedded_configs(experiment: str | None = None) -> list[str]:
    """The embedded configurations of this experiment (``xpl run NAME``), or of another one."""
    names = (p.name[: -len(".yaml")] for p in resources.files("xpl.experiments").joinpath("configs").iterdir() if p.name.endswith(".yaml"))
    if experiment is None:
        return sorted(n for n in names if other_experiment(n) is None)
    return sorted(n for n in names if n.split("-", 1)[0] == experiment)


def load_other_experiment(cls, experiment: str, title: str, path: str | Path | None = None):
    """A ``cls`` configuration of another experiment (``flex``, ``bts``) from ``path`` (a YAML
    file, or the name of one of its embedded configurations), or its embedded default named
    ``experiment``; validated. ``title`` names the experiment in errors."""
    source = Path(path) if path else embedded_config_path(experiment)
    if path and not source.exists() and str(path) in embedded_configs(experiment):
        source = embedded_config_path(str(path))
    elif not source.exists():
        raise ConfigError(f"{path}: no such file, and not an embedded {title} configuration ({', '.join(embedded_configs(experiment))})")
    config = from_dict(cls, load_yaml(source), source.name)
    config.validate()
    return config


def load_experiment(path: str | Path | None = None) -> ExperimentConfig:
    """The experiment in ``path`` (a YAML file, or the name of an embedded configuration such
    as ``smollm2``), or the embedded default; validated."""
    source = Path(path) if path else embedded_config_path()
    if path and not source.exists() and other_experiment(str(path)):
        raise ConfigError(f"{path} is the configuration of another experiment: run `{other_experiment(str(path))} {path}`")
    if path and not source.exists() and str(path) in embedded_configs():
        source = embedded_config_path(str(path))
    elif path and not source.exists():
        raise ConfigError(f"{path}: no such file, and not an embedded configuration ({', '.join(embedded_configs())})")
    data = load_yaml(source)
    config = from_dict(ExperimentConfig, data, source.name)
    config.validate()
    return config
