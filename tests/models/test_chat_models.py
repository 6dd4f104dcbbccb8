"""Instruct models end to end on a tiny model given a chat template (built here, no download):
prompt-style resolution, chat sampling and scoring, conversational SFT with the loss on the
assistant turn, GRPO with chat prompts, and `xpl eval` with its one-line errors."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from tests.training.fixtures import tiny_instruct, tiny_problems
from xpl.cli import app
from xpl.corpus import chat_answer, sft_examples
from xpl.languages import get_language
from xpl.models.generation import SamplingConfig, evaluate, resolve_prompt_style, sample_problems
from xpl.models.loading import load_model
from xpl.training.common import TrainConfig
from xpl.training.grpo import GRPOConfig, grpo
from xpl.training.sft import SFTConfig, sft


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    """(a tiny base model folder without a chat template, the same model as an "instruct"
    model folder with one)."""
    if not get_language("python").toolchain.available:
        pytest.skip("no python3 toolchain")
    return tiny_instruct(tmp_path_factory.mktemp("chat"), max_steps=6)


def test_prompt_style_resolution(folders):
    base, instruct = folders
    _, plain = load_model(base)
    _, chat = load_model(instruct)
    assert resolve_prompt_style("auto", chat, str(instruct)) == "chat"
    assert resolve_prompt_style("auto", plain, str(base)) == "completion"
    assert resolve_prompt_style("completion", chat, str(instruct)) == "completion"
    with pytest.raises(ValueError, match="has no chat template"):
        resolve_prompt_style("chat", plain, str(base))


def test_chat_sampling_prefills_the_fence_and_scores_through_the_engine(folders, engine):
    _, instruct = folders
    model, tokenizer = load_model(instruct)
    _, test = tiny_problems()
    problems = list(test[:3])
    rendered = problems[0].render_chat("python")
    text = rendered.prompt_text(tokenizer)
    assert text.startswith("<|user|>\n") and text.endswith("<|assistant|>\n```python\n")
    completions = sample_problems(model, tokenizer, problems, "python", SamplingConfig(n=2, temperature=0.8, max_new_tokens=24), style="chat")
    assert [len(c) for c in completions] == [2, 2, 2]
    assert all("```" not in c for cs in completions for c in cs)  # cut at the closing fence
    ev = evaluate(problems, "python", completions, engine, style="chat")
    assert len(ev.results) == 3 and all(len(r) == 2 for r in ev.results)
    # The reference solutions, as a chat model would answer, pass through the same path.
    answers = [[chat_answer(p, "python")[len("```python\n") :]] for p in problems]
    assert evaluate(problems, "python", answers, engine, style="chat").passed == [1, 1, 1]


def test_conversational_sft_puts_the_loss_on_the_assistant_turn(folders, tmp_path):
    from trl import SFTConfig as TRLConfig
    from trl import SFTTrainer
    from datasets import Dataset

    _, instruct = folders
    train, _ = tiny_problems()
    examples = sft_examples(train[:4], ["python"], chat=True)
    record = examples[0].trl_record()
    assert record["prompt"][0]["role"] == "user" and record["completion"][0]["role"] == "assistant"
    assert record["completion"][0]["content"].startswith("```python\ndef ") and record["completion"][0]["content"].endswith("```")
    model, tokenizer = load_model(instruct)
    trainer = SFTTrainer(
        model=model,
        args=TRLConfig(output_dir=str(tmp_path / "probe"), use_cpu=True, report_to="none", completion_only_loss=True, max_length=1024),
        train_dataset=Dataset.from_list([e.trl_record() for e in examples]),
        processing_class=tokenizer,
    )
    row = trainer.train_dataset[0]
    ids, labels = row["input_ids"], row["labels"]  # -100: no loss on that token
    trained = tokenizer.decode([t for t, label in zip(ids, labels) if label != -100])
    assert trained.startswith("```python\ndef ") and "<|user|>" not in trained
    assert "<|user|>" in tokenizer.decode(ids)
    # And the stage itself, in chat style.
    config = SFTConfig(languages=["python"], prompt_style="chat", train=TrainConfig(learning_rate=2e-3, batch_size=4, max_steps=2, logging_steps=1))
    done = sft(instruct, train[:8], config, tmp_path / "sft")
    assert done["steps"] == 2


def test_chat_stages_refuse_a_model_without_a_template(folders, tmp_path):
    from xpl.training.common import ConfigError

    base, _ = folders
    train, _ = tiny_problems()
    config = SFTConfig(languages=["python"], prompt_style="chat", train=TrainConfig(batch_size=4, max_steps=1))
    with pytest.raises(ConfigError, match="no chat template"):
        sft(base, train[:4], config, tmp_path / "sft")


def test_grpo_with_chat_prompts(folders, tmp_path):
    _, instruct = folders
    train, _ = tiny_problems()
    config = GRPOConfig(
        num_generations=2, max_completion_length=16, prompt_style="chat", probe_problems=2, train=TrainConfig(batch_size=4, max_steps=1, logging_steps=1)
    )
    record = grpo(instruct, train[:6], config, tmp_path / "grpo")
    assert record["steps"] == 1 and record["config"]["prompt_style"] == "chat"
    assert all(0.0 <= v <= 1.0 for v in record["probe"]["per_problem_before"])


# ----------------------------------------------------------------------------- xpl eval


def _problems_file(tmp_path, n: int = 4):
    _, test = tiny_problems()
    path = tmp_path / "problems.jsonl"
    path.write_text("".join(json.dumps(p.to_json()) + "\n" for p in test[:n]))
    return path, list(test[:n])


def test_xpl_eval_samples_scores_and_resumes(folders, tmp_path):
    _, instruct = folders
    problems, _ = _problems_file(tmp_path)
    out = tmp_path / "eval"
    args = ["eval", "--model", str(instruct), "--benchmark", str(problems), "--langs", "py", "--out", str(out), "--max-new-tokens", "16"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "summary.json").read_text())
    row = summary["languages"][0]
    assert row["style"] == "chat" and row["problems"] == 4 and row["samples"] == 1
    assert 0.0 <= row["pass_at_1"]["low"] <= row["pass_at_1"]["mean"] <= row["pass_at_1"]["high"] <= 1.0
    assert len((out / "results_python.jsonl").read_text().splitlines()) == 4
    generations = json.loads((out / "generations_python.json").read_text())
    assert len(generations) == 4 and all(len(g) == 1 for g in generations)
    # Rerun: the replies are reused (not sampled again), the same table comes out.
    stamp = (out / "replies_python.json").stat().st_mtime_ns
    again = CliRunner().invoke(app, args)
    assert again.exit_code == 0 and (out / "replies_python.json").stat().st_mtime_ns == stamp
    assert json.loads((out / "summary.json").read_text())["languages"][0]["pass_at_1"] == row["pass_at_1"]
    # Fewer problems: a subset of the same replies; more problems: only the new ones sampled.
    first = json.loads((out / "replies_python.json").read_text())
    fewer = CliRunner().invoke(app, [*args, "--max-problems", "2"])
    assert fewer.exit_code == 0 and (out / "replies_python.json").stat().st_mtime_ns == stamp
    assert len(json.loads((out / "generations_python.json").read_text())) == 2
    first["completions"][0] = ["not sampled again"]  # a reply no sampling would give
    (out / "replies_python.json").write_text(json.dumps(first))
    problems, _ = _problems_file(tmp_path, n=6)
    grown = CliRunner().invoke(app, args)
    assert grown.exit_code == 0, grown.output
    replies = json.loads((out / "replies_python.json").read_text())
    assert len(replies["problems"]) == 6 and replies["completions"][:4] == first["completions"]
    assert json.loads((out / "summary.json").read_text())["languages"][0]["problems"] == 6
    # Replies of another setting are never scored as this run's.
    other = CliRunner().invoke(app, [*args, "--max-new-tokens", "32"])
    assert other.exit_code == 2 and "max_new_tokens 16 (this run: 32)" in other.output and "Traceback" not in other.output
    # nor are float32 replies taken for bfloat16 ones, or the other way round
    other = CliRunner().invoke(app, [*args, "--dtype", "bfloat16"])
    assert other.exit_code == 2 and "dtype 'default' (this run: 'bfloat16')" in other.output, other.output


def test_xpl_eval_samples_with_bfloat16_weights(folders, tmp_path, monkeypatch):
    """``--dtype bfloat16``: the model is loaded in that type, the setting is recorded (report,
    summary, replies) and a float32 rerun into the same folder is refused."""
    import torch

    import xpl.models.loading as loading

    _, instruct = folders
    problems, _ = _problems_file(tmp_path)
    out = tmp_path / "eval-bf16"
    seen = []
    original = loading.load_model

    def spy(spec, dtype="float32"):
        model, tokenizer = original(spec, dtype=dtype)
        seen.append(next(model.parameters()).dtype)
        return model, tokenizer

    args = ["eval", "--model", str(instruct), "--benchmark", str(problems), "--langs", "py", "--out", str(out), "--max-new-tokens", "16"]
    monkeypatch.setattr(loading, "load_model", spy)
    result = CliRunner().invoke(app, [*args, "--dtype", "bfloat16"])
    monkeypatch.undo()
    assert result.exit_code == 0, result.output
    assert seen == [torch.bfloat16]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["sampling"]["dtype"] == "bfloat16" and "weights in bfloat16" in (out / "report.md").read_text()
    assert json.loads((out / "replies_python.json").read_text())["setting"]["dtype"] == "bfloat16"
    again = CliRunner().invoke(app, args)
    assert again.exit_code == 2 and "dtype 'bfloat16' (this run: 'default')" in again.output, again.output


def test_xpl_eval_scores_generations_files_in_both_styles(tmp_path):
    if not get_language("python").toolchain.available:
        pytest.skip("no python3 toolchain")
    problems, items = _problems_file(tmp_path)
    # Completion style: prompt + body; chat style: code (as a chat model's reply is stored).
    completion = [[p.render("python").prompt + p.solutions["python"]] for p in items]
    chat = [[chat_answer(p, "python")[len("```python\n") : -3]] for p in items]
    for style, data in (("completion", completion), ("chat", chat)):
        gen = tmp_path / f"{style}.json"
        gen.write_text(json.dumps(data))
        out = tmp_path / f"out-{style}"
        result = CliRunner().invoke(app, ["eval", "--generations", str(gen), "--benchmark", str(problems), "--langs", "python", "--out", str(out)])
        assert result.exit_code == 0, result.output
        row = json.loads((out / "summary.json").read_text())["languages"][0]
        assert row["style"] == style and row["pass_at_1"]["mean"] == 1.0


def test_xpl_eval_errors_are_one_line(folders, tmp_path):
    base, _ = folders
    problems, _ = _problems_file(tmp_path)
    runner = CliRunner()
    cases = [
        (["--model", str(base), "--chat"], "has no chat template"),
        (["--langs", "klingon", "--model", str(base)], "unknown language"),
        ([], "give --model"),
        (["--model", str(base), "--benchmark", str(tmp_path / "nope.jsonl")], "neither `humaneval` nor a problems file"),
    ]
    gen = tmp_path / "short.json"
    gen.write_text(json.dumps([["x"]]))
    cases.append((["--generations", str(gen), "--langs", "python"], "expected a JSON list of 4 lists of programs"))
    cases.append((["--model", str(base), "--dtype", "bf16"], "--dtype bf16: expected one of float32, bfloat16, float16"))
    cases.append((["--generations", str(gen), "--dtype", "bfloat16"], "--generations scores a file without sampling"))
    for extra, message in cases:
        args = ["eval", "--benchmark", str(problems), "--out", str(tmp_path / "o"), *extra]
        if "--langs" not in extra:
            args += ["--langs", "python"]
        result = runner.invoke(app, args)
        assert result.exit_code == 2, (extra, result.output)
        assert message in result.output and "Traceback" not in result.output, (extra, result.output)


def test_xpl_compare_pairs_two_eval_folders(tmp_path, monkeypatch):
    if not get_language("python").toolchain.available:
        pytest.skip("no python3 toolchain")
    problems, items = _problems_file(tmp_path, n=8)
    right = [[p.render("python").prompt + p.solutions["python"]] for p in items]
    # After: the first six problems answered wrongly (`return None` fails every test).
    wrong = [[p.render("python").prompt + "    return None\n"] if i < 6 else r for i, (p, r) in enumerate(zip(items, right))]
    runner = CliRunner()
    for name, data in (("before", right), ("after", wrong)):
        gen = tmp_path / f"{name}.json"
        gen.write_text(json.dumps(data))
        result = runner.invoke(app, ["eval", "--generations", str(gen), "--benchmark", str(problems), "--langs", "py", "--out", str(tmp_path / name)])
        assert result.exit_code == 0, result.output
    out = tmp_path / "cmp.json"
    result = runner.invoke(app, ["compare", str(tmp_path / "before"), str(tmp_path / "after"), "--json", str(out)])
    assert result.exit_code == 0, result.output
    row = json.loads(out.read_text())["languages"][0]
    assert row["problems"] == 8 and row["before"]["mean"] == 1.0 and row["after"]["mean"] == 0.25
    assert row["difference"]["mean"] == -0.75 and row["difference"]["high"] < 0
    assert row["down"] == sorted(p.name for p in items[:6]) and row["up"] == []
    assert "| Python | 8 | 1.000 [1.000, 1.000] | 0.250" in result.output
    # The same problems file named by a relative path (from another directory) is the same benchmark.
    monkeypatch.chdir(tmp_path)
    assert runner.invoke(app, ["eval", "--generations", "after.json", "--benchmark", problems.name, "--langs", "py", "--out", "relative"]).exit_code == 0
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    result = runner.invoke(app, ["compare", str(tmp_path / "before"), str(tmp_path / "relative")])
    assert result.exit_code == 0 and "| Python | 8 |" in result.output, result.output
    # One-line errors: not an eval folder, another benchmark, a PL one side lacks.
    (tmp_path / "empty").mkdir()
    other, _ = _problems_file(tmp_path / "empty", n=3)
    gen = tmp_path / "other.json"
    gen.write_text(json.dumps(right[:3]))
    assert runner.invoke(app, ["eval", "--generations", str(gen), "--benchmark", str(other), "--langs", "py", "--out", str(tmp_path / "other")]).exit_code == 0
    cases = [
        ([str(tmp_path / "empty"), str(tmp_path / "after")], "no summary.json"),
        ([str(tmp_path / "before"), str(tmp_path / "other")], "a paired comparison needs the same problems"),
        ([str(tmp_path / "before"), str(tmp_path / "after"), "--langs", "rs"], "has no Rust results"),
    ]
    for args, message in cases:
        result = runner.invoke(app, ["compare", *args])
        assert result.exit_code == 2 and message in result.output and "Traceback" not in result.output, (args, result.output)
