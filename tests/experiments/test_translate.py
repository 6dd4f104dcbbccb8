"""`xpl corpus translate`: prompts, keep-the-first-that-passes, outputs, resumption, and the
CLI end to end on a tiny chat model (built here, no download)."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from xpl.cli import app
from xpl.execution import Job
from xpl.experiments.translate import TranslateRequest, translate, translation_prompt
from xpl.languages import get_language
from xpl.problems import read_problems
from xpl.problems.family import generate, solve

TARGETS = ["javascript", "ruby"]


@pytest.fixture(scope="module")
def problems():
    for lang in ["python", *TARGETS]:
        if not get_language(lang).toolchain.available:
            pytest.skip(f"no {lang} toolchain")
    solved = [solve(g, ["python", *TARGETS]) for g in generate(6, seed=3, levels=(1,))]
    assert all(not failures for _, failures in solved)
    return [p for p, _ in solved]


def test_completion_prompt_shows_the_source_as_comments_then_the_target_prompt(problems):
    p = problems[0]
    prompt = translation_prompt(p, "python", "javascript", "completion")
    js = get_language("javascript")
    assert prompt.text.endswith(p.prompt("javascript"))
    assert prompt.stops == tuple(js.stop_sequences)
    head = prompt.text[: -len(p.prompt("javascript"))]
    assert all(line.startswith("//") for line in head.splitlines())  # JavaScript comments only
    assert "Python version:" in head and p.solutions["python"].splitlines()[0].strip() in head


def test_chat_prompt_opens_the_answer_with_the_fence_and_the_target_prompt(problems):
    class Template:  # what translation_prompt needs of a tokenizer
        def apply_chat_template(self, messages, add_generation_prompt, tokenize):
            assert add_generation_prompt and not tokenize and len(messages) == 1
            return f"<user>{messages[0]['content']}</user><assistant>"

    p = problems[0]
    body = translation_prompt(p, "python", "ruby", "chat", Template())  # prefill: prompt
    assert body.text.endswith("</user><assistant>```ruby\n" + p.prompt("ruby")) and body.prefill == ""
    assert body.stops == (*get_language("ruby").stop_sequences, "```")
    prompt = translation_prompt(p, "python", "ruby", "chat", Template(), prefill="fence")
    assert prompt.text.endswith("</user><assistant>```ruby\n") and prompt.prefill == "```ruby\n"
    assert "Translate this Python function to Ruby." in prompt.text and "```python\ndef " in prompt.text
    assert f"Ruby function `def {p.signature.name}(" in prompt.text  # the target signature
    assert prompt.stops == ("```",)


def _scripted(problems, fail_first: bool):
    """A stand-in model: the problem's own solution in the target PL for even-numbered
    problems (after a wrong sample when ``fail_first``), only wrong bodies for the others."""
    index = {p.name: i for i, p in enumerate(problems)}
    wrong = {"javascript": "    return null;\n", "ruby": "  nil\n"}
    calls = []

    def sampler(prompts):
        calls.append(len(prompts))
        out = []
        for pr in prompts:
            p = problems[index[pr.problem]]
            if index[pr.problem] % 2 == 0:
                out.append([wrong[pr.language], p.solutions[pr.language]] if fail_first else [p.solutions[pr.language]])
            else:
                out.append([wrong[pr.language], wrong[pr.language]])
        return out

    sampler.calls = calls
    return sampler


def test_translate_keeps_the_first_passing_sample_writes_everything_and_resumes(problems, tmp_path, engine):
    out = tmp_path / "tr"
    request = TranslateRequest("scripted", "python", TARGETS, n=2, chunk=2)
    sampler = _scripted(problems, fail_first=True)
    summary = translate(request, problems, out, sampler=sampler)
    assert sampler.calls == [4, 4, 4]  # chunks of 2 problems x 2 PLs
    rows = {r["language"]: r for r in summary["languages"]}
    for lang in TARGETS:
        assert rows[lang]["tried"] == 6 and rows[lang]["kept"] == 3 and rows[lang]["yield"] == 0.5
        assert rows[lang]["samples"] == 3 * 2 + 3 * 2 and rows[lang]["passing_samples"] == 3
        assert sum(rows[lang]["reject_statuses"].values()) == 9
    attempts = [json.loads(line) for line in (out / "attempts.jsonl").read_text().splitlines()]
    assert len(attempts) == 12 and all(len(a["samples"]) == 2 for a in attempts)
    assert all(a["kept"] == (1 if int(a["problem"].split("-")[2]) % 2 == 0 else None) for a in attempts)
    # problems.jsonl: the source solution and the kept translations only, marked as such
    written, errors = read_problems(out / "problems.jsonl")
    assert not errors and [p.name for p in written] == [p.name for p in problems]
    for i, p in enumerate(written):
        assert set(p.solutions) == ({"python", *TARGETS} if i % 2 == 0 else {"python"})
        assert set(p.meta["translated"]) == (set(TARGETS) if i % 2 == 0 else set())
    # every kept translation passes its tests again, run fresh from the written file
    jobs = [Job(lang, p.solution_program(lang), len(p.tests), expected=p.expected_results(lang)) for p in written for lang in TARGETS if lang in p.solutions]
    assert len(jobs) == 6 and all(r.ok for r in engine.run(jobs))
    # the pairs as a datasets folder
    from datasets import load_dataset

    pairs = load_dataset("parquet", data_files=str(out / "pairs" / "train.parquet"), split="train")
    assert len(pairs) == 6 and set(pairs["target_language"]) == set(TARGETS)
    assert all(row["source"].startswith("def ") for row in pairs)
    assert "| JavaScript | 6 | 3 | 0.500 | 3/12 |" in (out / "yield.md").read_text()
    # Resumption: nothing is sampled again and the same yield comes out.
    def refuse(prompts):
        raise AssertionError("sampled again")

    assert translate(request, problems, out, sampler=refuse)["languages"] == summary["languages"]
    # A rerun on the first 2 problems counts those 2 only, not every attempt in the file.
    rows = {r["language"]: r for r in translate(request, problems[:2], out, sampler=refuse)["languages"]}
    assert all((rows[lang]["tried"], rows[lang]["kept"]) == (2, 1) for lang in TARGETS)


def test_a_killed_run_resumes_where_it_stopped(problems, tmp_path):
    out = tmp_path / "tr"
    request = TranslateRequest("scripted", "python", TARGETS, n=1, chunk=2)
    sampler = _scripted(problems, fail_first=False)
    translate(request, problems, out, sampler=sampler)
    lines = (out / "attempts.jsonl").read_text().splitlines()
    (out / "attempts.jsonl").write_text("\n".join(lines[:5]) + "\n" + lines[5][:20])  # killed mid-line
    again = _scripted(problems, fail_first=False)
    summary = translate(request, problems, out, sampler=again)
    assert sum(again.calls) == 12 - 5  # only what was not finished
    assert all(r["kept"] == 3 for r in summary["languages"])


def test_bad_requests_are_one_line_errors(problems, tmp_path):
    with pytest.raises(ValueError, match="source PL python is also a target"):
        TranslateRequest("m", "python", ["python", "go"]).validate()
    with pytest.raises(ValueError, match="n must be 1"):
        TranslateRequest("m", temperature=0.0, n=4).validate()
    with pytest.raises(ValueError, match="prefill must be prompt, fence or both"):
        TranslateRequest("m", prefill="half").validate()
    result = CliRunner().invoke(app, ["corpus", "translate", "--model", "m", "--to", "klingon", "--out", str(tmp_path / "x")])
    assert result.exit_code == 2 and "klingon" in result.output and "Traceback" not in result.output


def test_cli_translates_with_a_tiny_chat_model(problems, tmp_path):
    """End to end through the model path (prompt style auto -> chat): a tiny random model
    keeps nothing, but every stage runs and the outputs are written."""
    from tests.training.fixtures import tiny_instruct

    _, instruct = tiny_instruct(tmp_path, max_steps=2)
    source = tmp_path / "problems.jsonl"
    source.write_text("".join(json.dumps(p.to_json()) + "\n" for p in problems[:2]))
    out = tmp_path / "tr"
    args = ["corpus", "translate", "--model", str(instruct), "--problems", str(source), "--to", "js", "--n", "1",
            "--temperature", "0", "--max-new-tokens", "8", "--out", str(out)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "yield.json").read_text())
    assert summary["style"] == "chat" and summary["languages"][0]["tried"] == 2
    assert (out / "pairs" / "train.parquet").is_file() and (out / "problems.jsonl").is_file()


class ChatTemplate:
    """What translate needs of a tokenizer in chat style."""

    def apply_chat_template(self, messages, add_generation_prompt, tokenize):
        return f"<user>{messages[0]['content']}</user><assistant>"


def test_chat_replies_are_run_whole_and_kept_only_when_their_body_passes_alone(problems, tmp_path, engine):
    """Even problems: a reply holding the whole function (kept: its body passes after the
    completion prompt). Odd ones: a reply whose function calls a helper it defines beside it:
    the reply passes, its body alone cannot, so it is not kept."""
    from xpl.corpus import chat_answer

    index = {p.name: i for i, p in enumerate(problems)}

    def sampler(prompts):
        out = []
        for pr in prompts:
            p = problems[index[pr.problem]]
            if index[pr.problem] % 2 == 0:
                reply = chat_answer(p, "javascript")
            else:
                name = p.signature.name
                params = ", ".join(q.name for q in p.signature.params)
                body = p.solutions["javascript"]
                reply = f"```javascript\nfunction {name}({params}) {{\n  return helper({params});\n}}\nfunction helper({params}) {{\n{body}}}\n```"
            assert reply.startswith(pr.prefill)
            out.append([reply[len(pr.prefill) :].removesuffix("```")])
        return out

    request = TranslateRequest("scripted", "python", ["javascript"], style="chat", n=1, prefill="fence")
    summary = translate(request, problems, tmp_path / "tr", sampler=sampler, tokenizer=ChatTemplate())
    row = summary["languages"][0]
    assert summary["style"] == "chat"
    assert (row["tried"], row["passing_samples"], row["kept"]) == (6, 6, 3)
    assert sum(row["body_rejects"].values()) == 3 and "ok" not in row["body_rejects"]
    written, _ = read_problems(tmp_path / "tr" / "problems.jsonl")
    kept = [p for p in written if "javascript" in p.solutions]
    assert [p.name for p in kept] == [p.name for p in problems[::2]]
    jobs = [Job("javascript", p.solution_program("javascript"), len(p.tests), expected=p.expected_results("javascript")) for p in kept]
    assert all(r.ok for r in engine.run(jobs))
    with pytest.raises(ValueError, match="needs a tokenizer"):
        translate(request, problems, tmp_path / "other", sampler=sampler)


def test_function_body_reads_the_body_out_of_a_whole_function():
    from xpl.languages.chat import function_body

    rust = "use std::x;\nfn f(s: String) -> String {\n    let a = 1;\n    s\n}\nfn main() { println!(\"{}\", f(\"a\".into())); }\n"
    assert function_body(rust, "f", "brace") == "    let a = 1;\n    s\n"
    java = "class P {\n  public static void main(String[] a) { System.out.println(f(\"x\")); }\n  static String f(String s) {\n    return s;\n  }\n}\n"
    assert function_body(java, "f", "brace") == "    return s;\n"  # the call in main is not the definition
    python = "import math\nclass A:\n    def f(x):\n        y = x\n\n        return y\n\nprint(A.f(1))\n"
    assert function_body(python, "f", "indent") == "    y = x\n\n    return y\n\n"
    ruby = "def f(x)\n  if x\n    1\n  end\nend\nputs f(1)\n"
    assert function_body(ruby, "f", "end") == "  if x\n    1\n  end\n"
    assert function_body("function g(x) { return x; }", "f", "brace") is None
    assert function_body("def g(x)\n  1\nend\n", "f", "end") is None


def test_both_asks_again_with_the_fence_where_the_target_prompt_kept_nothing(problems, tmp_path, engine):
    """A stand-in that answers a body-prompt with a wrong body and a fence-prompt with the
    whole function: with prefill both, every problem is kept from its second sample."""
    from xpl.corpus import chat_answer

    index = {p.name: i for i, p in enumerate(problems)}
    seen = []

    def sampler(prompts):
        seen.append([bool(pr.prefill) for pr in prompts])
        out = []
        for pr in prompts:
            p = problems[index[pr.problem]]
            out.append([chat_answer(p, "javascript")[len(pr.prefill) :].removesuffix("```")] if pr.prefill else ["    return null;\n"])
        return out

    request = TranslateRequest("scripted", "python", ["javascript"], style="chat", n=1, prefill="both")
    summary = translate(request, problems, tmp_path / "tr", sampler=sampler, tokenizer=ChatTemplate())
    assert seen == [[False] * 6, [True] * 6]  # the target prompt for all, then the fence for the misses
    row = summary["languages"][0]
    assert (row["kept"], row["samples"], row["passing_samples"]) == (6, 12, 6)
    attempts = [json.loads(line) for line in (tmp_path / "tr" / "attempts.jsonl").read_text().splitlines()]
    assert all(a["kept"] == 1 and a["statuses"][1] == "ok" and a["body_statuses"] == [None, "ok"] for a in attempts)
    written, _ = read_problems(tmp_path / "tr" / "problems.jsonl")
    jobs = [Job("javascript", p.solution_program("javascript"), len(p.tests), expected=p.expected_results("javascript")) for p in written]
    assert len(jobs) == 6 and all(r.ok for r in engine.run(jobs))
