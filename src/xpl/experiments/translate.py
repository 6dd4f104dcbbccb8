"""``xpl corpus translate``: parallel programs from a model. For every problem and target PL,
sample translations of the problem's solution in the source PL, run each against the
problem's tests in the target PL, and keep the first that passes.

A kept translation is stored as a solution body, like the family's, so that
``Problem.solution_program`` runs it and Parallel-SFT can use it (``parallel_source``):

- chat style: the user turn gives the source program and asks for the function in the target
  PL (its signature named). ``prefill: prompt`` (the default) opens the answer with the code
  fence and the target PL's completion prompt, so the model writes the body, cut at the PL's
  stop sequences or the closing fence. ``prefill: fence`` opens it with the fence alone: the
  model writes the whole function, the reply's code is run as ``xpl eval`` runs chat replies
  (the PL's header, the reply's code, the harness), and a reply that passes has its
  function's body read out (``chat.function_body``) and run again after the completion
  prompt, kept only when that passes too (a body that needs the reply's helpers is not).
  ``prefill: both`` asks with the target prompt first and, where no sample was kept, again
  with the fence alone (small models fail the two in different PLs);
- completion style: the source program as line comments in the target PL, then the target
  prompt; the completion is the body.

Written to ``out``:

    attempts.jsonl     one line per (problem, target PL) once its samples have run: every
                       body sampled, their statuses, the kept one (resumption reads it)
    problems.jsonl     the problems with the source solution and the kept translations only
                       (``meta.translated``: PL -> model and sample), xpl JSONL
    pairs/             a Hugging Face ``datasets`` folder (parquet) of parallel pairs
    yield.json, yield.md   per target PL: problems tried, kept, yield, reject statuses

A killed run resumes: (problem, PL) pairs in ``attempts.jsonl`` are not sampled again.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from xpl.corpus import program_text
from xpl.io import write_json, write_text
from xpl.languages import get_language
from xpl.languages.chat import FENCE
from xpl.languages.types import UnsupportedError
from xpl.problems.problem import Problem

Progress = Callable[[str, int, int], None]


def _quiet(label: str, done: int, total: int) -> None:
    pass


@dataclass
class TranslateRequest:
    model: str
    source: str = "python"
    targets: list[str] = field(default_factory=lambda: ["rust", "go", "java", "javascript"])
    style: str = "auto"  # auto | chat | completion
    n: int = 4  # samples per (problem, PL); the first that passes is kept
    temperature: float = 0.8
    top_p: float = 0.95
    max_new_tokens: int = 384
    batch_size: int = 16
    seed: int = 0
    prefill: str = "prompt"  # chat: open the answer with the target prompt, the fence alone, or both in turn
    chunk: int = 16  # problems sampled and run between two writes of attempts.jsonl
    workers: int | None = None

    def validate(self, where: str = "translate") -> None:
        src = get_language(self.source).name
        targets = [get_language(t).name for t in self.targets]
        if not targets:
            raise ValueError(f"{where}: name at least one target PL")
        if src in targets:
            raise ValueError(f"{where}: the source PL {src} is also a target")
        if self.prefill not in ("prompt", "fence", "both"):
            raise ValueError(f"{where}: prefill must be prompt, fence or both, got {self.prefill!r}")
        if self.n < 1 or self.batch_size < 1 or self.max_new_tokens < 1 or self.chunk < 1:
            raise ValueError(f"{where}: n, batch_size, max_new_tokens and chunk must be >= 1")
        if self.temperature < 0 or (self.temperature == 0 and self.n > 1):
            raise ValueError(f"{where}: temperature must be >= 0 (0 = greedy, then n must be 1), got {self.temperature} with n={self.n}")


@dataclass(frozen=True)
class TranslationPrompt:
    problem: str
    language: str
    text: str  # what the model continues
    stops: tuple[str, ...]
    prefill: str = ""  # chat: the opened fence ending the text (a reply is prefill + completion)


def translation_prompt(problem: Problem, source: str, target: str, style: str, tokenizer=None, prefill: str = "prompt") -> TranslationPrompt:
    """The prompt asking for ``problem``'s ``source`` solution in ``target`` (see the module
    docstring); raises ``UnsupportedError`` when the target PL cannot express the problem."""
    src, tgt = get_language(source), get_language(target)
    code = program_text(problem, src.name).rstrip("\n")
    target_prompt = problem.prompt(tgt)  # raises UnsupportedError
    if style == "chat":
        message = (
            f"Translate this {src.display_name} function to {tgt.display_name}.\n"
            f"{FENCE}{src.name}\n{code}\n{FENCE}\n"
            f"Answer with the {tgt.display_name} function `{tgt.chat_signature(problem.signature)}` in a single {FENCE}{tgt.name} code block."
        )
        opened = tokenizer.apply_chat_template([{"role": "user", "content": message}], add_generation_prompt=True, tokenize=False)
        fence = problem.render_chat(tgt).prefill  # the opened code fence, as evaluation opens it
        if prefill == "fence":
            return TranslationPrompt(problem.name, tgt.name, opened + fence, (FENCE,), fence)
        return TranslationPrompt(problem.name, tgt.name, opened + fence + target_prompt, (*tgt.stop_sequences, FENCE))
    header = tgt.comment(f"{src.display_name} version:\n{code}\n\n{tgt.display_name} version:")
    return TranslationPrompt(problem.name, tgt.name, header + target_prompt, tuple(tgt.stop_sequences))


@dataclass
class Attempt:
    problem: str
    language: str
    kept: int | None  # the index of the kept sample, None when none passed
    statuses: list[str]  # each sample's, as written (chat: the reply's code with the harness)
    solution: str | None  # the kept body
    samples: list[str] = field(default_factory=list)  # every completion, in order
    # chat: for each sample that passed, the status of its body after the completion prompt
    # ("no_body" when no definition of the function was found); None for the others
    body_statuses: list[str | None] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"problem": self.problem, "language": self.language, "kept": self.kept, "statuses": self.statuses,
                "solution": self.solution, "samples": self.samples, "body_statuses": self.body_statuses}


def read_attempts(path: Path) -> dict[tuple[str, str], Attempt]:
    """The attempts a previous run finished (a torn last line, from a kill, is ignored)."""
    done: dict[tuple[str, str], Attempt] = {}
    if not path.is_file():
        return done
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            rec = json.loads(line)
            attempt = Attempt(rec["problem"], rec["language"], rec["kept"], list(rec["statuses"]), rec["solution"],
                              list(rec.get("samples", [])), list(rec.get("body_statuses", [])))
        except (json.JSONDecodeError, KeyError, TypeError):
            continue
        done[(attempt.problem, attempt.language)] = attempt
    return done


def run_attempts(prompts: Sequence[TranslationPrompt], completions: Sequence[Sequence[str]], problems: dict[str, Problem], engine) -> list[Attempt]:
    """Run every sample of every prompt in its target PL; keep the first that passes (chat:
    whose body, read out of the reply, passes after the completion prompt too)."""
    from xpl.execution import Job
    from xpl.languages.chat import extract_code, function_body

    def job(prompt: TranslationPrompt, program: str, ident: str) -> Job:
        p = problems[prompt.problem]
        return Job(prompt.language, program, len(p.tests), id=ident, expected=p.expected_results(prompt.language))

    # chat (whole functions): the reply is run as evaluation runs a chat reply; otherwise the
    # completion is a body after the PL's completion prompt
    rendered = [problems[pr.problem].render_as(pr.language, "chat" if pr.prefill else "completion") for pr in prompts]
    first, owner = [], []
    for i, (prompt, comps) in enumerate(zip(prompts, completions, strict=True)):
        for k, completion in enumerate(comps):
            first.append(job(prompt, rendered[i].program(completion), f"{prompt.problem}#{prompt.language}#{k}"))
            owner.append((i, k))
    statuses: list[list[str]] = [[] for _ in prompts]
    for (i, _), res in zip(owner, engine.run(first) if first else []):
        statuses[i].append(res.status.value)
    bodies: list[list[str | None]] = [list(comps) if not prompt.prefill else [None] * len(comps) for prompt, comps in zip(prompts, completions)]
    body_statuses: list[list[str | None]] = [[None] * len(comps) for comps in completions]
    second, where = [], []
    for i, (prompt, comps) in enumerate(zip(prompts, completions)):
        if not prompt.prefill:
            continue
        p, lang = problems[prompt.problem], get_language(prompt.language)
        for k, completion in enumerate(comps):
            if statuses[i][k] != "ok":
                continue
            body = function_body(extract_code(rendered[i].reply(completion), lang.fence_tags), lang.identifier(p.signature.name), lang.block)
            if body is None:
                body_statuses[i][k] = "no_body"
                continue
            bodies[i][k] = body
            second.append(job(prompt, p.render(lang).program(body), f"{prompt.problem}#{prompt.language}#{k}#body"))
            where.append((i, k))
    for (i, k), res in zip(where, engine.run(second) if second else []):
        body_statuses[i][k] = res.status.value
    attempts = []
    for i, (prompt, comps) in enumerate(zip(prompts, completions)):
        kept = next((k for k, st in enumerate(statuses[i]) if st == "ok" and (not prompt.prefill or body_statuses[i][k] == "ok")), None)
        solution = bodies[i][kept] if kept is not None else None
        attempts.append(Attempt(prompt.problem, prompt.language, kept, statuses[i], solution, list(comps), body_statuses[i] if prompt.prefill else []))
    return attempts


def _then(a: Attempt, b: Attempt) -> Attempt:
    """Attempt ``a`` (nothing kept) followed by ``b`` on the same problem and PL, as one."""
    def pad(x: Attempt) -> list[str | None]:
        return x.body_statuses or [None] * len(x.statuses)

    kept = len(a.statuses) + b.kept if b.kept is not None else None
    return Attempt(a.problem, a.language, kept, a.statuses + b.statuses, b.solution, a.samples + b.samples, pad(a) + pad(b))


Sampler = Callable[[list[TranslationPrompt]], list[list[str]]]


def translate(request: TranslateRequest, problems: Sequence[Problem], out: Path, progress: Progress = _quiet,
              sampler: Sampler | None = None, tokenizer=None) -> dict[str, Any]:
    """Translate ``problems`` (those with a ``request.source`` solution) into every target PL
    and write the outputs listed in the module docstring; returns the yield summary.
    ``sampler`` replaces the model (prompts -> ``n`` completions each), for tests: completion
    style, or chat style with a ``tokenizer`` to apply the chat template."""
    from xpl.execution import Engine

    request.validate()
    src = get_language(request.source).name
    targets = [get_language(t).name for t in request.targets]
    missing = [get_language(t).display_name for t in targets if not get_language(t).toolchain.available]
    if missing:
        raise ValueError(f"no toolchain here for {', '.join(missing)} (see `xpl langs`)")
    usable = [p for p in problems if src in p.solutions]
    if not usable:
        raise ValueError(f"none of the {len(problems)} problems has a {src} solution to translate")
    out.mkdir(parents=True, exist_ok=True)
    attempts_path = out / "attempts.jsonl"
    done = read_attempts(attempts_path)
    if sampler is None:
        sampler, tokenizer, style = _model_sampler(request)
    elif request.style == "chat" and tokenizer is None:
        raise ValueError("chat style needs a tokenizer with a chat template")
    else:
        style = "chat" if request.style == "chat" else "completion"
    by_name = {p.name: p for p in usable}
    unsupported: Counter = Counter()
    todo: list[TranslationPrompt] = []
    for p in usable:
        for lang in targets:
            if (p.name, lang) in done:
                continue
            try:
                todo.append(translation_prompt(p, src, lang, style, tokenizer, "prompt" if request.prefill == "both" else request.prefill))
            except UnsupportedError:
                unsupported[lang] += 1
    engine = Engine(workers=request.workers, store=out / "results.sqlite")
    started = time.perf_counter()
    total = len(todo)
    try:
        step = request.chunk * len(targets)
        for start in range(0, total, step):
            chunk = todo[start : start + step]
            completions = sampler(chunk)
            attempts = run_attempts(chunk, completions, by_name, engine)
            if style == "chat" and request.prefill == "both":
                retry = [i for i, a in enumerate(attempts) if a.kept is None]
                again = [translation_prompt(by_name[attempts[i].problem], src, attempts[i].language, style, tokenizer, "fence") for i in retry]
                if again:
                    for i, b in zip(retry, run_attempts(again, sampler(again), by_name, engine)):
                        attempts[i] = _then(attempts[i], b)
            with attempts_path.open("a", encoding="utf-8") as fh:
                for a in attempts:
                    fh.write(json.dumps(a.to_dict()) + "\n")
                    done[(a.problem, a.language)] = a
            progress("translating", start + len(chunk), total)
    finally:
        engine.close()
    return write_outputs(request, usable, targets, done, unsupported, out, style, time.perf_counter() - started)


def _model_sampler(request: TranslateRequest) -> tuple[Sampler, Any, str]:
    """The model as a sampler of translations, its tokenizer, and the prompt style it
    resolves to."""
    from xpl.models.generation import SamplingConfig, resolve_prompt_style, sample
    from xpl.models.loading import load_model, resolve

    model, tokenizer = load_model(request.model)
    style = resolve_prompt_style(request.style, tokenizer, str(resolve(request.model)))
    config = SamplingConfig(request.n, request.temperature, request.top_p, request.max_new_tokens, request.batch_size, request.seed)

    def sampler(prompts: list[TranslationPrompt]) -> list[list[str]]:
        return sample(model, tokenizer, [p.text for p in prompts], [p.stops for p in prompts], config)

    return sampler, tokenizer, style


def write_outputs(request: TranslateRequest, problems: Sequence[Problem], targets: list[str], done: dict[tuple[str, str], Attempt],
                  unsupported: Counter, out: Path, style: str, seconds: float) -> dict[str, Any]:
    from xpl.problems import write_problems

    src = get_language(request.source).name
    translated, pairs = [], []
    for p in problems:
        solutions = {src: p.solutions[src]}
        made = {}
        for lang in targets:
            a = done.get((p.name, lang))
            if a is not None and a.solution is not None:
                solutions[lang] = a.solution
                made[lang] = {"model": request.model, "sample": a.kept}
        translated.append(replace(p, solutions=solutions, meta={**p.meta, "translated": made}))
        for lang in made:
            pairs.append({
                "problem": p.name,
                "source_language": src,
                "target_language": lang,
                "source": program_text(p, src),
                "target": program_text(translated[-1], lang),
                "model": request.model,
            })
    write_problems(out / "problems.jsonl", translated)
    _write_pairs(out / "pairs", pairs)
    rows = []
    names = {p.name for p in problems}  # a rerun with a smaller --limit counts only its problems
    for lang in targets:
        mine = [a for (name, l), a in done.items() if l == lang and name in names]
        rejects = Counter(s for a in mine for s in a.statuses if s != "ok")
        kept = sum(a.solution is not None for a in mine)
        rows.append({
            "language": lang,
            "tried": len(mine),
            "kept": kept,
            "yield": round(kept / len(mine), 4) if mine else None,
            "samples": sum(len(a.statuses) for a in mine),
            "passing_samples": sum(s == "ok" for a in mine for s in a.statuses),
            # chat: passing replies whose function body did not pass on its own (or had none)
            "body_rejects": dict(Counter(b for a in mine for b in a.body_statuses if b not in (None, "ok")).most_common()),
            "reject_statuses": dict(rejects.most_common()),
            "unsupported": unsupported[lang],
        })
    summary = {
        "model": request.model,
        "source": src,
        "style": style,
        "prefill": request.prefill if style == "chat" else None,
        "sampling": {"n": request.n, "temperature": request.temperature, "top_p": request.top_p, "max_new_tokens": request.max_new_tokens, "seed": request.seed},
        "problems": len(problems),
        "languages": rows,
        "pairs": len(pairs),
        "seconds_this_invocation": round(seconds, 1),
    }
    write_json(out / "yield.json", summary, indent=2)
    write_text(out / "yield.md", render_yield(summary))
    return summary


def _write_pairs(folder: Path, pairs: list[dict[str, Any]]) -> None:
    """The parallel pairs as a ``datasets`` folder: one parquet file (``load_dataset(folder)``)."""
    from datasets import Dataset, Features, Value

    folder.mkdir(parents=True, exist_ok=True)
    columns = ("problem", "source_language", "target_language", "source", "target", "model")
    features = Features({c: Value("string") for c in columns})
    data = Dataset.from_list(pairs, features=features) if pairs else Dataset.from_dict({c: [] for c in columns}, features=features)
    tmp = folder / "train.parquet.tmp"
    data.to_parquet(str(tmp))
    tmp.replace(folder / "train.parquet")


def render_yield(summary: dict[str, Any]) -> str:
    s = summary["sampling"]
    lines = [
        f"# Translations from {get_language(summary['source']).display_name} by `{summary['model']}`",
        "",
        f"{summary['problems']} problems; {s['n']} samples per problem and PL at temperature {s['temperature']:g} "
        f"({summary['style']} prompts"
        + ({"prompt": ", the answer opened with the target prompt", "fence": ", the answer opened with the fence alone",
            "both": ", the answer opened with the target prompt, then with the fence alone where nothing was kept"}.get(summary.get("prefill") or "", ""))
        + "); the first sample that passes the problem's tests is kept"
        + (" (a whole function's body, read out of the reply, must pass on its own too)." if summary.get("prefill") in ("fence", "both") else "."),
        "",
        "| PL | problems tried | kept | yield | passing samples | rejected samples by status | passing, body not kept |",
        "|---|---:|---:|---:|---:|---|---|",
    ]
    for r in summary["languages"]:
        rejects = ", ".join(f"{k} {v}" for k, v in r["reject_statuses"].items()) or "-"
        y = f"{r['yield']:.3f}" if r["yield"] is not None else "-"
        bodies = ", ".join(f"{k} {v}" for k, v in r.get("body_rejects", {}).items()) or "-"
        lines.append(f"| {get_language(r['language']).display_name} | {r['tried']} | {r['kept']} | {y} | {r['passing_samples']}/{r['samples']} | {rejects} | {bodies} |")
    skipped = [f"{get_language(r['language']).display_name} {r['unsupported']}" for r in summary["languages"] if r["unsupported"]]
    if skipped:
        lines += ["", "Problems a PL cannot express (not tried): " + ", ".join(skipped) + "."]
    return "\n".join(lines) + "\n"
