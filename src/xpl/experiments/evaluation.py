"""``xpl eval``: one command from a model (or a generations file) to pass@k per PL with CIs.

For every PL: the benchmark's problems that the PL can express are rendered (completion or
chat style), sampled ``n`` times, and run through the engine. Per PL it writes

    generations_<pl>.json   bigcode-evaluation-harness layout: per problem, the programs
                            without tests (completion: prompt + completion; chat: the
                            reply's code with the PL's header)
    replies_<pl>.json       the raw text the model wrote (chat: after the opening fence)
    results_<pl>.jsonl      one row per sample: problem, sample, status, tests, timings

and, over all PLs, ``summary.json`` and ``report.md`` (pass@1 with a bootstrap 95% CI over
problems, pass@k where ``n >= k``, statuses). A PL's replies are written once its sampling
ends; a rerun samples only the problems its replies file lacks (a larger ``max_problems``)
and finished jobs come from the results store, so a killed run resumes. Replies made with
another model or sampling setting are refused, never scored as this run's.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from xpl.analysis.stats import bootstrap, fmt
from xpl.io import write_json
from xpl.languages import get_language
from xpl.problems.problem import Problem

Progress = Callable[[str, int, int], None]


def _quiet(label: str, done: int, total: int) -> None:
    pass


@dataclass
class EvalRequest:
    model: str | None  # a model spec; None when scoring a generations file
    benchmark: str  # "humaneval" or a problems file (xpl JSONL)
    languages: list[str]
    style: str = "auto"  # auto | chat | completion
    n: int = 1
    temperature: float = 0.0
    top_p: float = 0.95
    max_new_tokens: int = 256
    batch_size: int = 16
    seed: int = 0
    max_problems: int = 0  # 0 = all
    workers: int | None = None
    backend: str = "hf"  # hf (Hugging Face generate) or vllm (vLLM on the model folder: a CUDA GPU)
    # The weights' type while sampling. None: float32 with hf, vLLM's own choice with vllm.
    dtype: str | None = None


def load_benchmark(benchmark: str) -> list[Problem]:
    """HumanEval (``humaneval``) or the problems of an xpl JSONL file (e.g. a family split)."""
    if benchmark == "humaneval":
        from xpl.problems.humaneval import humaneval_problems

        return humaneval_problems()[0]
    from xpl.problems import read_problems

    path = Path(benchmark)
    if not path.is_file():
        raise ValueError(f"--benchmark {benchmark}: neither `humaneval` nor a problems file (xpl JSONL)")
    problems, _ = read_problems(path)
    if not problems:
        raise ValueError(f"{path}: no problems")
    return problems


def problems_for(problems: Sequence[Problem], language: str, max_problems: int = 0) -> list[Problem]:
    lang = get_language(language)
    chosen = [p for p in problems if lang.supports(p.signature) is None]
    return chosen[:max_problems] if max_problems else chosen


def summarize(language: str, ev, style: str, seconds: dict[str, float]) -> dict[str, Any]:
    """One PL's line of the table: pass@1 with its CI over problems, pass@k, statuses."""
    per_problem = np.asarray([ev.per_problem()], dtype=float)
    est = bootstrap(per_problem)
    n = min((len(r) for r in ev.results), default=0)
    return {
        "language": language,
        "style": style,
        "problems": len(ev.problems),
        "samples": n,
        "pass_at_1": est.to_dict(),
        **{f"pass_at_{k}": ev.pass_at(k) for k in (10, 100) if n >= k},
        "statuses": dict(Counter(r.status.value for rs in ev.results for r in rs)),
        "seconds": seconds,
    }


def evaluate_model(request: EvalRequest, out: Path, progress: Progress = _quiet) -> dict[str, Any]:
    """Sample and score every PL of ``request``; returns (and writes) the summary. With
    ``backend="vllm"`` one vLLM engine on the model folder samples every PL (the Hugging Face
    model is never loaded); where vLLM cannot run, a one-line ``BackendUnavailable`` comes
    before any work."""
    from xpl.execution import Engine
    from xpl.models.generation import SamplingConfig, VLLMSampler, require_vllm, resolve_prompt_style, sample_problems
    from xpl.models.loading import load_model, load_tokenizer, resolve

    if request.backend == "vllm":
        require_vllm("backend vllm")
    sampling = SamplingConfig(
        request.n, request.temperature, request.top_p, request.max_new_tokens, request.batch_size, request.seed, backend=request.backend
    )
    langs = [get_language(x).name for x in request.languages]
    benchmark = load_benchmark(request.benchmark)
    out.mkdir(parents=True, exist_ok=True)
    loaded = None
    style = request.style
    rows = []
    engine = Engine(workers=request.workers, store=out / "results.sqlite")
    try:
        for lang in langs:
            problems = problems_for(benchmark, lang, request.max_problems)
            replies_path = out / f"replies_{lang}.json"
            seconds: dict[str, float] = {}
            replies, lang_style = saved_replies(replies_path, request)
            todo = [p for p in problems if p.name not in replies]
            if todo:
                if loaded is None:
                    if request.backend == "vllm":
                        tokenizer = load_tokenizer(request.model)
                        engine_args = {"dtype": request.dtype} if request.dtype else {}
                        loaded = (VLLMSampler(resolve(request.model), tokenizer, seed=request.seed, **engine_args), tokenizer)
                    else:
                        loaded = load_model(request.model, dtype=request.dtype or "float32")
                    style = resolve_prompt_style(request.style, loaded[1], str(resolve(request.model)))
                lang_style = lang_style or style
                started = time.perf_counter()
                sampled = sample_problems(
                    *loaded, todo, lang, sampling, progress=lambda d, t: progress(f"{lang}: sampling", d, t), style=lang_style
                )
                seconds["sampling"] = round(time.perf_counter() - started, 1)
                replies.update({p.name: c for p, c in zip(todo, sampled, strict=True)})
                write_json(
                    replies_path,
                    {"model": request.model, "style": lang_style, "setting": reply_setting(request),
                     "problems": list(replies), "completions": list(replies.values())},
                )
            completions = [replies[p.name] for p in problems]
            rendered = [p.render_as(lang, lang_style) for p in problems]
            write_generations(out / f"generations_{lang}.json", rendered, completions)
            rows.append(score(problems, lang, completions, lang_style, engine, out, seconds, progress))
    finally:
        engine.close()
        if loaded is not None and isinstance(loaded[0], VLLMSampler):
            loaded[0].close()
    return write_summary(out, request, rows)


def benchmark_id(benchmark: str) -> str:
    """``humaneval``, or the absolute path of a problems file: the same benchmark however its
    path was written, and wherever the command was run from."""
    return benchmark if benchmark == "humaneval" else str(Path(benchmark).resolve())


def reply_setting(request: EvalRequest) -> dict[str, Any]:
    """What makes a model's replies what they are, besides the model (the batch size and the
    backend do not; the weights' type does, and is recorded when it is not the default)."""
    setting = {"benchmark": benchmark_id(request.benchmark), "n": request.n, "temperature": request.temperature, "top_p": request.top_p,
               "max_new_tokens": request.max_new_tokens, "seed": request.seed}
    if request.dtype:
        setting["dtype"] = request.dtype
    return setting


def saved_replies(path: Path, request: EvalRequest) -> tuple[dict[str, list[str]], str | None]:
    """The replies an earlier run of the same request left in ``path`` (problem name ->
    completions) and their prompt style; empty when there is no file. A rerun with more
    problems (a larger ``--max-problems``) samples only the new ones. Replies of another model,
    sampling or style are refused in one line rather than scored as this request's."""
    if not path.is_file():
        return {}, None
    try:
        saved = json.loads(path.read_text())
        replies = dict(zip(saved["problems"], saved["completions"], strict=True))
        model, style, setting = saved["model"], saved["style"], saved.get("setting")
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"{path}: not a replies file of xpl eval ({exc}); delete it or use another --out") from None
    if setting is None:
        raise ValueError(f"{path}: written by an older xpl eval, without the setting its replies were sampled with; delete it to sample again, or use another --out")
    wanted = reply_setting(request)
    differs = [
        f"{name} {theirs!r} (this run: {ours!r})"
        for name, theirs, ours in [
            ("model", model, request.model),
            *[(k, setting.get(k), v) for k, v in wanted.items() if k != "dtype"],
            ("dtype", setting.get("dtype") or "default", wanted.get("dtype") or "default"),
        ]
        if theirs != ours
    ]
    if request.style not in ("auto", style):
        differs.append(f"style {style!r} (this run: {request.style!r})")
    if differs:
        raise ValueError(f"{path.parent}: holds replies made with another setting: {'; '.join(differs)}; use another --out")
    return replies, style


def write_generations(path: Path, rendered, completions: Sequence[Sequence[str]]) -> None:
    """bigcode layout: per problem, the programs without their tests."""
    write_json(path, [[r.code(c) for c in comps] for r, comps in zip(rendered, completions, strict=True)])


def score(problems, lang: str, completions, style: str, engine, out: Path, seconds: dict[str, float], progress: Progress = _quiet) -> dict[str, Any]:
    """Run one PL's samples, write its per-sample results, and return its summary row."""
    from xpl.models.generation import evaluate

    started = time.perf_counter()
    ev = evaluate(problems, lang, completions, engine, progress=lambda d, t: progress(f"{lang}: running tests", d, t), style=style)
    seconds["tests"] = round(time.perf_counter() - started, 1)
    with (out / f"results_{lang}.jsonl").open("w") as fh:
        for name, comps, results in zip(ev.problems, ev.completions, ev.results):
            for k, (c, r) in enumerate(zip(comps, results)):
                fh.write(json.dumps({"problem": name, "sample": k, "completion": c, **r.to_dict()}) + "\n")
    return summarize(lang, ev, style, seconds)


def score_generations(path: Path, benchmark: str, language: str, out: Path, style: str = "auto", max_problems: int = 0,
                      workers: int | None = None, progress: Progress = _quiet) -> dict[str, Any]:
    """Score a bigcode-format generations file for one PL. ``auto`` reads programs that start
    with the completion prompt as completions, others as code (chat style)."""
    from xpl.execution import Engine
    from xpl.models.generation import read_bigcode_generations

    lang = get_language(language).name
    problems = problems_for(load_benchmark(benchmark), lang, max_problems)
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path}: not a readable JSON file ({exc})") from None
    if not isinstance(data, list) or len(data) != len(problems):
        got = f"{len(data)} items" if isinstance(data, list) else type(data).__name__
        raise ValueError(f"{path}: expected a JSON list of {len(problems)} lists of programs (the {lang} problems of {benchmark}), got {got}")
    prompts = [p.render(lang).prompt for p in problems]
    if style == "auto":
        completion = all(isinstance(ps, list) and all(isinstance(x, str) and x.startswith(pr) for x in ps) for ps, pr in zip(data, prompts))
        style = "completion" if completion else "chat"
    if style == "completion":
        completions = read_bigcode_generations(path, prompts)
    else:
        for i, programs in enumerate(data):
            if not isinstance(programs, list) or not all(isinstance(x, str) for x in programs):
                raise ValueError(f"{path}: item {i} must be a list of strings")
        # A chat program is code already: the opening fence tells extraction where it starts.
        completions = data
    out.mkdir(parents=True, exist_ok=True)
    engine = Engine(workers=workers, store=out / "results.sqlite")
    try:
        row = score(problems, lang, completions, style, engine, out, {}, progress)
    finally:
        engine.close()
    return write_summary(out, EvalRequest(None, benchmark, [lang], style), [row], generations=str(path))


def write_summary(out: Path, request: EvalRequest, rows: list[dict[str, Any]], generations: str | None = None) -> dict[str, Any]:
    summary = {
        "model": request.model,
        "generations": generations,
        "benchmark": request.benchmark,
        "benchmark_id": benchmark_id(request.benchmark),
        "sampling": {
            "n": request.n,
            "temperature": request.temperature,
            "top_p": request.top_p,
            "max_new_tokens": request.max_new_tokens,
            "seed": request.seed,
            "backend": request.backend,
            "dtype": request.dtype,
        },
        "languages": rows,
    }
    write_json(out / "summary.json", summary)
    (out / "report.md").write_text(render_table(summary))
    return summary


def render_table(summary: dict[str, Any]) -> str:
    rows = summary["languages"]
    ks = [k for k in (10, 100) if any(f"pass_at_{k}" in r for r in rows)]
    head = "| PL | style | problems | samples | pass@1 (95% CI over problems) |" + "".join(f" pass@{k} |" for k in ks) + " statuses |"
    lines = [
        f"# xpl eval: {summary['model'] or summary['generations']} on {summary['benchmark']}",
        "",
        head,
        "|" + "---|" * (head.count("|") - 1),
    ]
    for r in rows:
        p = r["pass_at_1"]
        statuses = ", ".join(f"{k} {v}" for k, v in sorted(r["statuses"].items(), key=lambda kv: -kv[1]))
        extra = "".join(f" {r[f'pass_at_{k}']:.3f} |" if f"pass_at_{k}" in r else " - |" for k in ks)
        lines.append(
            f"| {get_language(r['language']).display_name} | {r['style']} | {r['problems']} | {r['samples']} | "
            f"{fmt(p)} |{extra} {statuses} |"
        )
    s = summary["sampling"]
    backend = " with vLLM" if s.get("backend") == "vllm" else ""
    dtype = f", weights in {s['dtype']}" if s.get("dtype") else ""
    lines += ["", f"Sampling{backend}: n={s['n']}, temperature {s['temperature']}, top-p {s['top_p']}, at most {s['max_new_tokens']} new tokens, seed {s['seed']}{dtype}."]
    return "\n".join(lines) + "\n"


# ----------------------------------------------------------------------------- comparison


def _eval_folder(path: Path) -> dict[str, Any]:
    try:
        summary = json.loads((Path(path) / "summary.json").read_text())
    except FileNotFoundError:
        raise ValueError(f"{path}: no summary.json (not an `xpl eval --out` folder)") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path}/summary.json: unreadable ({exc})") from None
    if not isinstance(summary, dict) or not isinstance(summary.get("languages"), list):
        raise ValueError(f"{path}/summary.json: not an `xpl eval` summary (no `languages` list)")
    return summary


def per_problem_scores(folder: Path, language: str) -> dict[str, float]:
    """``{problem: fraction of its samples that passed}`` from an eval folder's results file."""
    path = Path(folder) / f"results_{language}.jsonl"
    passed: dict[str, list[bool]] = {}
    try:
        lines = path.read_text().splitlines()
    except OSError as exc:
        raise ValueError(f"{path}: unreadable ({exc.strerror or exc})") from None
    for i, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            name, status = row["problem"], row["status"]
        except (json.JSONDecodeError, KeyError, TypeError):
            raise ValueError(f"{path}:{i}: not a result row (needs `problem` and `status`)") from None
        passed.setdefault(name, []).append(status == "ok")
    return {name: float(np.mean(v)) for name, v in passed.items()}


def compare_evals(before: Path, after: Path, languages: Sequence[str] | None = None, reps: int = 2000) -> dict[str, Any]:
    """Paired pass@1 difference ``after - before`` of two ``xpl eval`` folders, per PL, on the
    problems both scored: per problem the fraction of samples that passed, a bootstrap 95% CI
    over problems (the same resampled problems for both), and which problems went up or down.

    The folders must be of the same benchmark; a sampling setting that differs is reported
    (comparing greedy with sampled pass@1 is legitimate but should be visible)."""
    a, b = _eval_folder(before), _eval_folder(after)
    # Summaries written before ``benchmark_id`` existed: their benchmarks as they were written.
    if a.get("benchmark_id", a.get("benchmark")) != b.get("benchmark_id", b.get("benchmark")):
        raise ValueError(f"{before} is on {a.get('benchmark')!r} but {after} on {b.get('benchmark')!r}: a paired comparison needs the same problems")
    langs_a = [r["language"] for r in a["languages"]]
    langs_b = {r["language"] for r in b["languages"]}
    wanted = list(dict.fromkeys(get_language(x).name for x in languages)) if languages else [x for x in langs_a if x in langs_b]
    for lang in wanted:
        for folder, have in ((before, langs_a), (after, langs_b)):
            if lang not in have:
                raise ValueError(f"{folder} has no {get_language(lang).display_name} results (it has: {', '.join(sorted(have)) or 'none'})")
    if not wanted:
        raise ValueError(f"{before} and {after} share no PL")
    rows = []
    for lang in wanted:
        sa, sb = per_problem_scores(before, lang), per_problem_scores(after, lang)
        shared = [name for name in sa if name in sb]
        if not shared:
            raise ValueError(f"{before} and {after} share no {get_language(lang).display_name} problem")
        x = np.asarray([[sa[k] for k in shared]])
        y = np.asarray([[sb[k] for k in shared]])
        rows.append({
            "language": lang,
            "problems": len(shared),
            "only_before": len(sa) - len(shared),
            "only_after": len(sb) - len(shared),
            "before": bootstrap(x, reps).to_dict(),
            "after": bootstrap(y, reps).to_dict(),
            "difference": bootstrap(y - x, reps).to_dict(),
            "up": sorted(k for k in shared if sb[k] > sa[k]),
            "down": sorted(k for k in shared if sb[k] < sa[k]),
        })
    return {
        "before": {"folder": str(before), "model": a.get("model") or a.get("generations"), "sampling": a.get("sampling")},
        "after": {"folder": str(after), "model": b.get("model") or b.get("generations"), "sampling": b.get("sampling")},
        "benchmark": a.get("benchmark"),
        "languages": rows,
    }


def render_comparison(result: dict[str, Any]) -> str:
    before, after = result["before"], result["after"]
    lines = [
        f"# xpl compare on {result['benchmark']}",
        "",
        f"before: {before['model']} ({before['folder']})  ",
        f"after: {after['model']} ({after['folder']})",
        "",
        "| PL | problems | before | after | after - before (paired, 95% CI) | problems up / down |",
        "|---|---:|---|---|---|---|",
    ]
    for r in result["languages"]:
        diff = fmt(r["difference"], signed=True)
        if r["difference"]["low"] > 0 or r["difference"]["high"] < 0:
            diff = f"**{diff}**"
        lines.append(
            f"| {get_language(r['language']).display_name} | {r['problems']} | {fmt(r['before'])} | {fmt(r['after'])} | {diff} | "
            f"{len(r['up'])} / {len(r['down'])} |"
        )
    notes = []
    sa, sb = before.get("sampling") or {}, after.get("sampling") or {}
    keys = ("n", "temperature", "top_p", "max_new_tokens")
    if any(sa.get(k) != sb.get(k) for k in keys):
        def show(setting: dict) -> str:
            return ", ".join(f"{k} {setting.get(k)}" for k in keys)

        notes.append(f"The two sampled differently (before: {show(sa)}; after: {show(sb)}).")
    for r in result["languages"]:
        if r["only_before"] or r["only_after"]:
            notes.append(
                f"{get_language(r['language']).display_name}: compared on the {r['problems']} problems both scored "
                f"({r['only_before']} only before, {r['only_after']} only after)."
            )
    notes.append("pass@1 per problem is the fraction of its samples that passed; intervals are a bootstrap over problems, paired.")
    return "\n".join(lines + [""] + notes) + "\n"
