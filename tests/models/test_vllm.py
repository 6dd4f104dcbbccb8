"""Sampling with vLLM (``backend: vllm``) where vLLM cannot run: a stand-in ``vllm`` module
(``tests/fake_vllm.py``) records what xpl hands to ``vllm.LLM`` and ``vllm.SamplingParams``
(the model folder, the prompts' tokens, the stop sequences, n, temperature, top-p, the token
limit, the seeds) and answers as vLLM's engine does; everything on xpl's side is the real
code, from ``xpl eval`` / ``xpl generate`` / the evaluation stage of ``xpl run`` down. Without
the package, or without a CUDA GPU, every entry point refuses in one line before any work.
Nothing here runs vLLM itself, nor anything on a GPU."""

from __future__ import annotations

import importlib.util
import json

import pytest
from typer.testing import CliRunner

from tests import fake_vllm
from tests.fake_vllm import answer
from tests.training.fixtures import CHAT_TEMPLATE, tiny_problems
from xpl.cli import app
from xpl.corpus import pretraining_corpus
from xpl.experiments.spec import EvalConfig, ExperimentConfig
from xpl.languages import get_language
from xpl.models.generation import SamplingConfig, sample, sample_problems
from xpl.models.loading import load_tokenizer
from xpl.training.common import ConfigError

TEMPLATE = CHAT_TEMPLATE


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """A tiny "instruct" model folder (config.json, a tokenizer with a chat template) without
    weights: what vLLM would load, and what the Hugging Face path could not."""
    from xpl.models.tiny import build_tiny
    from xpl.models.tokenizer import train_tokenizer

    if not get_language("python").toolchain.available:
        pytest.skip("no python3 toolchain")
    train, _ = tiny_problems()
    tokenizer = train_tokenizer([d.text for d in pretraining_corpus(list(train), {"python": 1.0}, 20_000)], vocab_size=512)
    tokenizer.chat_template = TEMPLATE
    path = tmp_path_factory.mktemp("vllm") / "tiny-instruct"
    build_tiny(tokenizer, "xs").config.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


def _expected(tokenizer, texts: list[str], n: int) -> tuple[list[list[int]], list[list[str]]]:
    """The tokens the Hugging Face path generates from, and the stand-in's answers to them."""
    ids = [list(tokenizer(t, add_special_tokens=False)["input_ids"]) for t in texts]
    return ids, [[answer(i, k) for k in range(n)] for i in ids]


def test_vllm_gets_the_folder_the_prompt_tokens_stops_n_and_seeds(folder, monkeypatch):
    fake_vllm.install(monkeypatch, cuda=True)
    tokenizer = load_tokenizer(folder)
    problems = list(tiny_problems()[1][:3])
    config = SamplingConfig(n=3, temperature=0.7, top_p=0.9, max_new_tokens=40, seed=5, backend="vllm")
    completions = sample_problems(folder, tokenizer, problems, "python", config, style="chat")

    [llm] = fake_vllm.LLM.instances
    assert llm.kwargs == {"model": str(folder), "tokenizer": str(folder), "seed": 5}
    assert llm.llm_engine.engine_core.shut_down  # a one-off engine gives its GPU memory back
    [(requests, params)] = llm.calls  # one call for every prompt
    rendered = [p.render_as("python", "chat") for p in problems]
    texts = [r.prompt_text(tokenizer) for r in rendered]
    assert all(t.startswith("<|user|>\n") and t.endswith("<|assistant|>\n```python\n") for t in texts)  # template + prefill
    ids, answers = _expected(tokenizer, texts, 3)
    assert requests == [{"prompt_token_ids": i} for i in ids]
    assert [tokenizer.decode(i) for i in ids] == texts  # the rendered text itself, nothing added
    for i, (sp, r) in enumerate(zip(params, rendered)):
        assert r.stop_sequences == ("```",)
        assert sp.kwargs == {
            "n": 3, "temperature": 0.7, "top_p": 0.9, "max_tokens": 40, "stop": ["```"], "seed": 5 * 1_000_003 + i, "skip_special_tokens": True
        }
    assert completions == answers  # in prompt order, samples in index order

    # Completion style: the PL's prompt as it is, its own stop sequences; greedy has top-p 1.
    greedy = SamplingConfig(n=1, temperature=0.0, max_new_tokens=8, seed=1, backend="vllm")
    out = sample_problems(folder, tokenizer, problems, "python", greedy, style="completion")
    requests, params = fake_vllm.LLM.instances[-1].calls[0]
    plain = [p.render("python") for p in problems]
    ids, answers = _expected(tokenizer, [r.prompt for r in plain], 1)
    assert requests == [{"prompt_token_ids": i} for i in ids] and out == answers
    assert [sp.stop for sp in params] == [list(r.stop_sequences) for r in plain]
    assert {(sp.temperature, sp.top_p, sp.n) for sp in params} == {(0.0, 1.0, 1)}


def test_a_chat_template_bos_reaches_vllm_once(folder, monkeypatch):
    """A tokenizer that adds a BOS to what it encodes, and a chat template that writes one
    (Llama 3): vLLM gets the prompt's tokens with a single BOS, as the Hugging Face path does
    (vLLM given the text would add a second)."""
    from tokenizers.processors import TemplateProcessing

    from xpl.models.generation import VLLMSampler

    fake_vllm.install(monkeypatch, cuda=True)
    tokenizer = load_tokenizer(folder)
    bos = tokenizer.bos_token_id
    tokenizer._tokenizer.post_processor = TemplateProcessing(single="<s> $A", special_tokens=[("<s>", bos)])
    tokenizer.chat_template = "{{ bos_token }}" + TEMPLATE
    problem = tiny_problems()[1][0]
    text = problem.render_as("python", "chat").prompt_text(tokenizer)
    assert text.startswith("<s><|user|>") and tokenizer(text)["input_ids"][:2] == [bos, bos]
    with VLLMSampler(folder, tokenizer) as sampler:
        sampler.sample([text], [["```"]], SamplingConfig(backend="vllm"))
    [(requests, _)] = fake_vllm.LLM.instances[0].calls
    ids = requests[0]["prompt_token_ids"]
    assert ids[0] == bos and ids[1] != bos and ids == tokenizer(text, add_special_tokens=False)["input_ids"]


def test_backend_vllm_samples_from_a_folder_not_a_loaded_model(folder, monkeypatch):
    fake_vllm.install(monkeypatch, cuda=True)
    tokenizer = load_tokenizer(folder)
    with pytest.raises(ValueError, match="from a model folder"):
        sample(object(), tokenizer, ["x"], [["\n"]], SamplingConfig(backend="vllm"))
    assert not fake_vllm.LLM.instances


def test_the_run_evaluation_stage_with_backend_vllm(folder, monkeypatch, tmp_path):
    """``eval.backend: vllm`` in an ``xpl run`` configuration: one engine on the model folder
    (which has no weights: the Hugging Face model is never loaded), every PL's completions
    in order in the evaluation file, run through the engine, and the engine closed."""
    from xpl.experiments.pipeline import stage_eval
    from xpl.experiments.stages import eval_problems, silent

    fake_vllm.install(monkeypatch, cuda=True)
    config = ExperimentConfig(prompt_style="chat", workers=1)
    config.eval = EvalConfig(languages=["python", "javascript"], samples=2, temperature=0.8, max_new_tokens=32, max_problems=3, backend="vllm")
    config.eval.validate()  # vLLM "installed" and a GPU "visible": accepted
    test = list(tiny_problems()[1])
    stage_eval(config, tmp_path, 7, "base", folder, test, ["python", "javascript"], silent)

    [llm] = fake_vllm.LLM.instances  # one engine for both PLs
    assert llm.kwargs["model"] == str(folder) and llm.kwargs["seed"] == 7
    assert llm.llm_engine.engine_core.shut_down
    tokenizer = load_tokenizer(folder)
    for (requests, params), lang in zip(llm.calls, ["python", "javascript"], strict=True):
        problems = eval_problems(config, test, lang)
        ids, answers = _expected(tokenizer, [p.render_as(lang, "chat").prompt_text(tokenizer) for p in problems], 2)
        assert requests == [{"prompt_token_ids": i} for i in ids]
        assert {(sp.n, sp.temperature, sp.max_tokens) for sp in params} == {(2, 0.8, 32)}
        assert [sp.seed for sp in params] == [7 * 1_000_003 + i for i in range(len(problems))]
        record = json.loads((tmp_path / "seed7" / "eval" / "base" / f"{lang}.json").read_text())
        assert record["problems"] == [p.name for p in problems] and record["completions"] == answers
        assert [len(s) for s in record["statuses"]] == [2] * len(problems)  # every sample ran


def test_xpl_eval_and_generate_with_backend_vllm(folder, monkeypatch, tmp_path):
    fake_vllm.install(monkeypatch, cuda=True)
    _, test = tiny_problems()
    problems = tmp_path / "problems.jsonl"
    problems.write_text("".join(json.dumps(p.to_json()) + "\n" for p in test[:4]))
    out = tmp_path / "eval"
    args = ["eval", "--model", str(folder), "--benchmark", str(problems), "--langs", "py", "--out", str(out),
            "--n", "2", "--temperature", "0.6", "--max-new-tokens", "24", "--seed", "3", "--backend", "vllm"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    [llm] = fake_vllm.LLM.instances
    assert llm.kwargs["model"] == str(folder) and llm.kwargs["seed"] == 3 and llm.llm_engine.engine_core.shut_down
    tokenizer = load_tokenizer(folder)
    ids, answers = _expected(tokenizer, [p.render_as("python", "chat").prompt_text(tokenizer) for p in test[:4]], 2)
    assert llm.calls[0][0] == [{"prompt_token_ids": i} for i in ids]
    assert {(sp.n, sp.temperature, sp.max_tokens) for sp in llm.calls[0][1]} == {(2, 0.6, 24)}
    replies = json.loads((out / "replies_python.json").read_text())
    assert replies["style"] == "chat" and replies["completions"] == answers
    summary = json.loads((out / "summary.json").read_text())
    assert summary["sampling"]["backend"] == "vllm" and summary["languages"][0]["samples"] == 2
    assert "Sampling with vLLM: n=2" in (out / "report.md").read_text()

    gen = tmp_path / "gen"
    args = ["generate", "--model", str(folder), "--problems", str(problems), "--lang", "py", "--out", str(gen),
            "--n", "1", "--temperature", "0", "--completion", "--no-eval", "--backend", "vllm"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    ids, answers = _expected(tokenizer, [p.render("python").prompt for p in test[:4]], 1)
    assert fake_vllm.LLM.instances[-1].calls[0][0] == [{"prompt_token_ids": i} for i in ids]
    programs = json.loads((gen / "generations_python.json").read_text())
    assert programs == [[p.render("python").prompt + a[0]] for p, a in zip(test[:4], answers)]


def _refusals(folder, tmp_path, why: str) -> None:
    """Every entry point that would start vLLM refuses in one line naming its option or key
    and saying ``why``, exit status 2, before any work."""
    problems = tmp_path / "problems.jsonl"
    problems.write_text(json.dumps(tiny_problems()[1][0].to_json()) + "\n")
    run_cfg = tmp_path / "run.yaml"
    run_cfg.write_text("model: tiny:xs\neval: {backend: vllm}\n")
    grpo_cfg = tmp_path / "grpo.yaml"
    grpo_cfg.write_text("vllm: {mode: colocate, gpu_memory_utilization: 0.3}\n")
    server_cfg = tmp_path / "server.yaml"
    server_cfg.write_text("grpo: {vllm: {mode: server, server_host: 127.0.0.1, server_port: 8000}}\nmodel: tiny:xs\n")
    cases = [
        (["eval", "--model", str(folder), "--benchmark", str(problems), "--langs", "py", "--out", str(tmp_path / "e"), "--backend", "vllm"],
         "error: --backend vllm: ", "; use --backend hf here"),
        (["generate", "--model", str(folder), "--problems", str(problems), "--lang", "py", "--out", str(tmp_path / "g"), "--backend", "vllm"],
         "error: --backend vllm: ", "; use --backend hf here"),
        (["run", str(run_cfg), "--out", str(tmp_path / "r")], "error: eval.backend vllm: ", "; use eval.backend hf here"),
        (["run", str(server_cfg), "--out", str(tmp_path / "s")], "error: grpo.vllm: ", "; leave grpo.vllm out here (Hugging Face generate)"),
        (["train", "grpo", "--model", str(folder), "--problems", str(problems), "--out", str(tmp_path / "t"), "--config", str(grpo_cfg)],
         "error: grpo.vllm: ", "; leave grpo.vllm out here (Hugging Face generate)"),
    ]
    for args, start, end in cases:
        result = CliRunner().invoke(app, args)
        lines = [line for line in result.output.splitlines() if line.strip()]
        assert result.exit_code == 2, (args, result.output)
        assert len(lines) == 1 and lines[0].startswith(start) and why in lines[0] and lines[0].endswith(end), (args, result.output)
    assert not (tmp_path / "e").exists() and not (tmp_path / "r").exists() and not (tmp_path / "t").exists()


@pytest.mark.skipif(importlib.util.find_spec("vllm") is not None, reason="vllm is installed in this environment")
def test_without_the_vllm_package_every_entry_point_refuses_in_one_line(folder, tmp_path):
    _refusals(folder, tmp_path, "vLLM is not installed in this environment (it needs a CUDA GPU: `pip install vllm` on such a machine)")


def test_without_a_cuda_gpu_every_entry_point_refuses_in_one_line(folder, tmp_path, monkeypatch):
    fake_vllm.install(monkeypatch, cuda=False)
    _refusals(folder, tmp_path, "vLLM needs a CUDA GPU and this machine has none visible (torch.cuda.is_available() is False)")
    assert not fake_vllm.LLM.instances  # no engine was started


def test_backend_values_are_checked(folder, tmp_path):
    with pytest.raises(ConfigError, match=r"^eval\.backend must be hf or vllm, got 'cuda'$"):
        EvalConfig(backend="cuda").validate("eval")
    result = CliRunner().invoke(app, ["eval", "--model", str(folder), "--langs", "py", "--backend", "cuda", "--out", str(tmp_path / "o")])
    assert result.exit_code == 2 and "--backend must be hf or vllm, got 'cuda'" in result.output
    generations = tmp_path / "g.json"
    generations.write_text("[]")
    result = CliRunner().invoke(app, ["eval", "--generations", str(generations), "--langs", "py", "--backend", "vllm"])
    assert result.exit_code == 2 and "--generations scores a file and samples nothing" in result.output
