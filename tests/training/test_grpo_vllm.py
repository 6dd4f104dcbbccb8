"""GRPO with TRL's vLLM generation (``grpo.vllm``), checked where vLLM cannot run: the keys
are validated with errors naming them, they land on the fields of the installed TRL's
GRPOConfig (built here with ``use_cpu``, which starts no vLLM), gpu-llama uses them, and the
token ids TRL makes of xpl's chat prompts (what it hands to vLLM, or to ``generate``) are the
ones evaluation samples from. Nothing here runs vLLM or anything on a GPU; the refusals on a
machine without vLLM or CUDA are in ``tests/models/test_vllm.py``."""

from __future__ import annotations

import dataclasses

import pytest
from trl import GRPOConfig as TRLConfig

from tests import fake_vllm
from tests.training.fixtures import tiny_problems
from xpl.experiments.config import from_dict, load_yaml
from xpl.experiments.spec import ExperimentConfig, embedded_config_path
from xpl.training.common import ConfigError
from xpl.training.grpo import GRPOConfig, grpo_rows, release_trl_vllm, trl_prompt

TRL_DEFAULTS = {f.name: f.default for f in dataclasses.fields(TRLConfig)}
TRAIN = {"batch_size": 4, "max_steps": 2}


def _config(vllm, **extra) -> GRPOConfig:
    return from_dict(GRPOConfig, {"num_generations": 2, "vllm": vllm, "train": {**TRAIN, **extra}}, "grpo")


def test_colocate_keys_land_on_trls_fields(tmp_path):
    config = _config({"mode": "colocate", "gpu_memory_utilization": 0.25, "tensor_parallel_size": 1, "max_model_length": 2048, "enable_sleep_mode": True})
    config.vllm.validate("grpo.vllm")
    args = TRLConfig(**config.trl_kwargs(tmp_path))
    assert args.use_cpu  # no GPU here: TRL is given use_cpu, and builds its config without starting vLLM
    assert (args.use_vllm, args.vllm_mode) == (True, "colocate")
    assert (args.vllm_gpu_memory_utilization, args.vllm_tensor_parallel_size, args.vllm_max_model_length, args.vllm_enable_sleep_mode) == (0.25, 1, 2048, True)
    assert (args.num_generations, args.max_completion_length) == (2, config.max_completion_length)
    # The server's keys keep TRL's defaults.
    assert (args.vllm_server_host, args.vllm_server_port) == (TRL_DEFAULTS["vllm_server_host"], TRL_DEFAULTS["vllm_server_port"])


def test_server_keys_land_on_trls_fields(tmp_path):
    config = _config({"mode": "server", "server_host": "10.0.0.2", "server_port": 8001, "server_timeout": 600, "group_port": 51300})
    config.vllm.validate("grpo.vllm")
    args = TRLConfig(**config.trl_kwargs(tmp_path))
    assert (args.use_vllm, args.vllm_mode, args.vllm_server_host, args.vllm_server_port) == (True, "server", "10.0.0.2", 8001)
    assert (args.vllm_server_timeout, args.vllm_group_port, args.vllm_server_base_url) == (600.0, 51300, None)
    assert args.vllm_gpu_memory_utilization == TRL_DEFAULTS["vllm_gpu_memory_utilization"]
    url = _config({"mode": "server", "server_base_url": "http://gpu-box:8000"})
    assert TRLConfig(**url.trl_kwargs(tmp_path)).vllm_server_base_url == "http://gpu-box:8000"
    # Without grpo.vllm: Hugging Face generate, as before.
    plain = from_dict(GRPOConfig, {"num_generations": 2, "train": TRAIN}, "grpo")
    assert plain.vllm is None and TRLConfig(**plain.trl_kwargs(tmp_path)).use_vllm is False


@pytest.mark.parametrize(
    "vllm, message",
    [
        ({"mode": "both"}, "grpo.vllm.mode must be colocate or server, got 'both'"),
        ({"mode": "colocate", "server_port": 8000}, "grpo.vllm.server_port applies to mode server only, and mode is colocate"),
        ({"mode": "server", "gpu_memory_utilization": 0.5},
         "grpo.vllm.gpu_memory_utilization applies to mode colocate only, and mode is server (a server takes it when started: trl vllm-serve --gpu-memory-utilization)"),
        ({"gpu_memory_utilization": 1.5}, "grpo.vllm.gpu_memory_utilization must be in (0, 1], got 1.5"),
        ({"gpu_memory_utilization": 0}, "grpo.vllm.gpu_memory_utilization must be in (0, 1], got 0.0"),
        ({"mode": "server", "max_model_length": 2048},
         "grpo.vllm.max_model_length applies to mode colocate only, and mode is server (a server takes it when started: trl vllm-serve --max-model-len)"),
        ({"tensor_parallel_size": 0}, "grpo.vllm.tensor_parallel_size must be >= 1, got 0"),
        ({"max_model_length": -1}, "grpo.vllm.max_model_length must be >= 1, got -1"),
        ({"mode": "server", "server_port": 70000}, "grpo.vllm.server_port must be a port number (1-65535), got 70000"),
        ({"mode": "server", "server_base_url": "gpu-box:8000"}, "grpo.vllm.server_base_url must be an http:// or https:// URL, got 'gpu-box:8000'"),
        ({"mode": "server", "server_timeout": 0}, "grpo.vllm.server_timeout must be a positive number of seconds, got 0.0"),
        ({"mode": "server", "server_host": " "}, "grpo.vllm.server_host must name a host"),
    ],
)
def test_bad_vllm_values_name_the_key(vllm, message):
    with pytest.raises(ConfigError) as info:
        _config(vllm).validate("grpo")
    assert str(info.value) == message


def test_bad_vllm_types_keys_and_clashes_name_the_key(tmp_path):
    with pytest.raises(ConfigError, match=r"^grpo\.vllm\.gpu_memory_utilization: expected a number, got 'lots'$"):
        _config({"gpu_memory_utilization": "lots"})
    with pytest.raises(ConfigError, match=r"^grpo\.vllm: unknown key\(s\) host; known: mode, "):
        _config({"host": "x"})
    with pytest.raises(ConfigError, match=r"^grpo\.train\.extra sets vllm_mode, which grpo\.vllm sets: give them as grpo\.vllm keys$"):
        _config({"mode": "colocate"}, extra={"vllm_mode": "server"}).validate("grpo")
    with pytest.raises(ConfigError, match=r"^grpo\.train\.extra sets use_vllm, vllm_gpu_memory_utilization, which grpo\.vllm sets"):
        _config({"mode": "colocate"}, extra={"use_vllm": True, "vllm_gpu_memory_utilization": 0.5}).validate("grpo")
    # TRL's other vLLM fields pass through train.extra, beside grpo.vllm.
    config = _config({"mode": "colocate"}, extra={"vllm_importance_sampling_correction": False})
    assert TRLConfig(**config.trl_kwargs(tmp_path)).vllm_importance_sampling_correction is False
    with pytest.raises(ConfigError, match=r"^grpo\.train\.extra sets num_generations, which the grpo keys set$"):
        _config(None, extra={"num_generations": 4}).trl_kwargs(tmp_path)


def test_a_vllm_config_validates_where_vllm_and_a_gpu_are(monkeypatch):
    fake_vllm.install(monkeypatch, cuda=True)
    _config({"mode": "server", "server_host": "127.0.0.1"}).validate("grpo")


def test_gpu_llama_uses_vllm_and_the_cpu_configs_do_not(tmp_path):
    data = load_yaml(embedded_config_path("gpu-llama"))
    config = from_dict(ExperimentConfig, data, "gpu-llama.yaml")
    assert config.eval.backend == "vllm"
    assert config.grpo.vllm is not None and config.grpo.vllm.mode == "colocate"
    config.grpo.vllm.validate("grpo.vllm")
    args = TRLConfig(**config.grpo.trl_kwargs(tmp_path))
    assert (args.use_vllm, args.vllm_mode, args.vllm_gpu_memory_utilization, args.vllm_max_model_length) == (True, "colocate", 0.3, 2048)
    for name in ("default", "smollm2"):
        cpu = from_dict(ExperimentConfig, load_yaml(embedded_config_path(name)), f"{name}.yaml")
        assert cpu.eval.backend == "hf" and cpu.grpo.vllm is None, name


@pytest.fixture(scope="module")
def tokenizers():
    """The tiny byte-level tokenizer with a chat template (adds no special tokens, as
    SmolLM2's), and a copy that adds a BOS to what it encodes under a template that also
    writes one (as Llama 3's)."""
    from tokenizers.processors import TemplateProcessing

    from xpl.corpus import pretraining_corpus
    from xpl.models.tokenizer import train_tokenizer

    train, _ = tiny_problems()
    texts = [d.text for d in pretraining_corpus(list(train), {"python": 1.0}, 20_000)]
    template = (
        "{% for m in messages %}<|{{ m['role'] }}|>\n{{ m['content'] }}\n{% endfor %}"
        "{% if add_generation_prompt %}<|assistant|>\n{% endif %}"
    )
    plain = train_tokenizer(texts, vocab_size=512)
    plain.chat_template = template
    llama_like = train_tokenizer(texts, vocab_size=512)
    llama_like._tokenizer.post_processor = TemplateProcessing(single="<s> $A", special_tokens=[("<s>", llama_like.bos_token_id)])
    llama_like.chat_template = "{{ bos_token }}" + template
    return plain, llama_like


def test_trl_tokenizes_xpls_chat_prompts_into_the_evaluation_tokens(tokenizers, tmp_path):
    """The ids GRPOTrainer makes of the dataset's prompts (``_tokenize_prompts``: what it
    hands to vLLM as ``prompt_token_ids``, or to ``generate``) are the prompt text's tokens
    without added special tokens: evaluation's. A Llama-like tokenizer would give TRL a
    second BOS from the rendered text; ``trl_prompt`` leaves the written one out."""
    from datasets import Dataset
    from trl import GRPOTrainer

    from xpl.models.tiny import build_tiny

    train, _ = tiny_problems()
    problems = list(train[:4])
    for tokenizer in tokenizers:
        rows = grpo_rows(problems, "python", "chat", tokenizer)
        texts = [p.render_as("python", "chat").prompt_text(tokenizer) for p in problems]
        assert [r["problem"] for r in rows] == [p.name for p in problems]
        args = TRLConfig(**_config(None).trl_kwargs(tmp_path / "trl"))  # as grpo() builds it (HF generate, CPU)
        trainer = GRPOTrainer(model=build_tiny(tokenizer, "xs"), reward_funcs=[lambda completions, **_: [0.0] * len(completions)],
                              args=args, train_dataset=Dataset.from_list(rows), processing_class=tokenizer)
        ids, _, _ = trainer._tokenize_prompts([r["prompt"] for r in rows])
        assert [list(i) for i in ids] == [tokenizer(t, add_special_tokens=False)["input_ids"] for t in texts]
        assert all(t.endswith("<|assistant|>\n```python\n") for t in texts)  # the prefill is in the prompt
        bos = tokenizer.bos_token_id
        if tokenizer is tokenizers[1]:
            assert all(i[0] == bos and i[1] != bos for i in ids)
            assert trainer._tokenize_prompts(texts[:1])[0][0][:2] == [bos, bos]  # the text as it is: two
        else:
            assert [r["prompt"] for r in rows] == texts  # nothing to change
    completion = problems[0].render("python").prompt
    assert trl_prompt(tokenizers[1], completion) == completion  # the tokenizer's BOS is the model's


def test_release_lets_go_of_trls_vllm(monkeypatch):
    """After training: a colocated engine is shut down and dropped, a server's weight-sync
    group closed; a trainer without vLLM is left alone."""
    from types import SimpleNamespace

    module = fake_vllm.install(monkeypatch, cuda=False)
    llm = module.LLM(model="m")
    closed = []
    trainer = SimpleNamespace(vllm_generation=SimpleNamespace(llm=llm, vllm_client=None))
    release_trl_vllm(trainer)
    assert trainer.vllm_generation.llm is None and llm.llm_engine.engine_core.shut_down
    server = SimpleNamespace(vllm_generation=SimpleNamespace(vllm_client=SimpleNamespace(close_communicator=lambda: closed.append(1))))
    release_trl_vllm(server)
    assert closed == [1]
    release_trl_vllm(SimpleNamespace())
