"""Training data from problems with parallel solutions: pretraining documents, SFT examples
and Parallel-SFT mixtures.

Every text here is made of *programs*: a problem rendered in one PL (its prompt: signature and
description as a comment) followed by its solution body and the PL's function closing, i.e.
exactly what a model sees and completes at evaluation time, without the test harness.

* ``pretraining_corpus``: documents for causal-LM pretraining with per-PL shares of the text
  (measured in characters, or tokens with ``measure``) and one of two organisations:
  ``shuffle`` (every program its own document, in random order) or ``parallel`` (a program
  concatenated with its translation into another PL in the same document, as in the
  multilingual scaling-law paper's "parallel pairing").
* ``sft_examples``: prompt -> completion pairs for supervised fine-tuning in chosen PLs.
* ``parallel_examples``: the Parallel-SFT additions, in one of three formats: ``multi`` (the same
  problem solved in several PLs, each as its own example), ``concat`` (one example whose
  completion is the solution followed by the whole program in the other PLs), ``translate``
  (the program in one PL as context, then the prompt in another PL to complete).
* ``sft_mixture``: source-PL SFT examples plus parallel examples at a given ratio.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from xpl.languages import get_language
from xpl.problems.problem import Problem

ORGANISATIONS = ("shuffle", "parallel")
PARALLEL_FORMATS = ("multi", "concat", "translate")


class CorpusError(ValueError):
    """Bad corpus parameters (proportions, formats, PLs without solutions)."""


@dataclass(frozen=True)
class Document:
    text: str
    languages: tuple[str, ...]
    problem: str


@dataclass(frozen=True)
class Example:
    """One supervised example: the model reads ``prompt`` and learns to write ``completion``."""

    prompt: str
    completion: str
    language: str  # the PL of the completion
    problem: str
    kind: str  # "sft" or the parallel format
    chat: bool = False  # prompt is the user turn, completion the assistant turn

    def to_dict(self) -> dict[str, Any]:
        return {
            "prompt": self.prompt,
            "completion": self.completion,
            "language": self.language,
            "problem": self.problem,
            "kind": self.kind,
            "chat": self.chat,
        }

    def trl_record(self) -> dict[str, Any]:
        """The example in TRL's prompt-completion format: plain text, or (chat) conversational,
        so the chat template is applied and the loss falls on the assistant turn only."""
        if self.chat:
            return {"prompt": [{"role": "user", "content": self.prompt}], "completion": [{"role": "assistant", "content": self.completion}]}
        return {"prompt": self.prompt, "completion": self.completion}


def completion_text(problem: Problem, language: str) -> str:
    """The solution body with the PL's function closing: what follows the prompt."""
    lang = get_language(language)
    body = problem.solutions[lang.name]
    if body and not body.endswith("\n"):
        body += "\n"
    return body + lang.completion_suffix


def chat_answer(problem: Problem, language: str) -> str:
    """The assistant turn in chat style: the whole function (signature, body, closing) in one
    code block, as ``Problem.render_chat`` asks for it; its opening fence is what generation
    prefills."""
    from xpl.languages.chat import FENCE

    lang = get_language(language)
    stub = lang.prompt(problem.signature, "")
    code = stub[len(lang.chat_header(problem.signature)) :] + completion_text(problem, language)
    return f"{FENCE}{lang.name}\n{code}{FENCE}"


def _example(problem: Problem, language: str, kind: str, chat: bool, context: str = "", completion: str | None = None) -> Example:
    """One example asking for ``problem`` in ``language``: in chat style the user message and
    the fenced answer, else the completion prompt and the solution body."""
    if chat:
        prompt = context + problem.render_chat(language).messages[0]["content"]
        return Example(prompt, completion if completion is not None else chat_answer(problem, language), language, problem.name, kind, True)
    prompt = context + problem.render(language).prompt
    return Example(prompt, completion if completion is not None else completion_text(problem, language), language, problem.name, kind)


def program_text(problem: Problem, language: str, description: bool = True) -> str:
    """The whole function in one PL: prompt (signature + description) and solution; with
    ``description=False`` the bare function, as it would sit in a source file."""
    if description:
        return problem.render(language).prompt + completion_text(problem, language)
    return get_language(language).prompt(problem.signature, "") + completion_text(problem, language)


Descriptions = bool | float | dict[str, float]


def description_share(descriptions: Descriptions, language: str) -> float:
    """The share of ``language``'s programs that carry their problem's description:
    ``descriptions`` is True (all), False (none), one share for every PL, or a share per PL
    (PLs it does not name: none)."""
    if isinstance(descriptions, bool):
        return 1.0 if descriptions else 0.0
    if isinstance(descriptions, (int, float)):
        return float(descriptions)
    name = get_language(language).name
    for key, share in descriptions.items():
        if get_language(key).name == name:
            return float(share)
    return 0.0


def check_descriptions(descriptions: Descriptions, what: str = "descriptions") -> None:
    """Raise ``CorpusError`` unless every share is a number in [0, 1] and every key a PL."""
    if isinstance(descriptions, bool):
        return
    items = descriptions.items() if isinstance(descriptions, Mapping) else [("", descriptions)]
    for key, share in items:
        where = f"{what}.{key}" if key else what
        if key:
            get_language(key)  # UnknownLanguage names the PL
        if isinstance(share, bool) or not isinstance(share, (int, float)) or not 0.0 <= share <= 1.0:
            raise CorpusError(f"{where}: a description share must be a number in [0, 1] (or true/false), got {share!r}")


def check_proportions(proportions: Mapping[str, float], what: str = "proportions") -> dict[str, float]:
    """PL -> share, with canonical PL names; the shares must be >= 0 and sum to 1."""
    if not proportions:
        raise CorpusError(f"{what}: no PLs given")
    out: dict[str, float] = {}
    for name, share in proportions.items():
        if not isinstance(share, (int, float)) or isinstance(share, bool) or share < 0:
            raise CorpusError(f"{what}.{name}: a share must be a number >= 0, got {share!r}")
        out[get_language(name).name] = float(share)
    total = sum(out.values())
    if abs(total - 1.0) > 1e-6:
        raise CorpusError(
            f"{what}: shares must sum to 1, they sum to {total:.6g} ({', '.join(f'{k}={v}' for k, v in out.items())})"
        )
    return out


def _require_solutions(problems: Sequence[Problem], languages: Sequence[str]) -> None:
    for lang in languages:
        if not any(lang in p.solutions for p in problems):
            raise CorpusError(f"no problem has a {lang} solution; generate or verify problems in {lang} first")


def pretraining_corpus(
    problems: Sequence[Problem],
    proportions: Mapping[str, float],
    budget: int,
    organisation: str = "shuffle",
    seed: int = 0,
    measure: Callable[[str], int] = len,
    pairs: Collection[tuple[str, str]] | None = None,
    descriptions: Descriptions = True,
) -> list[Document]:
    """Documents whose total size (``measure``: characters by default, or a tokenizer's token
    count) is about ``budget``, each PL holding about its share of it.

    Programs are drawn problem by problem in a seeded order, cycling through the problems
    again (a further epoch) when a PL's share needs more text than one pass gives. With
    ``parallel`` organisation each document is a program followed by the same problem in a
    second PL that is still below its share (drawn in proportion to the shares), so both
    PLs' text counts towards their shares and no share is exceeded by pairing. ``pairs``
    (unordered PL pairs) restricts which PLs may share a document; None allows any two.
    ``descriptions=False`` leaves out each problem's English description: code only, so that
    the problem statement -> solution pairing is left to SFT; a share (or a share per PL)
    describes that fraction of the programs, drawn program by program (an instruct-like base
    in some PLs, a code-only one in others)."""
    shares = check_proportions(proportions)
    if organisation not in ORGANISATIONS:
        raise CorpusError(f"organisation must be one of {', '.join(ORGANISATIONS)}, got {organisation!r}")
    if budget <= 0:
        raise CorpusError(f"budget must be positive, got {budget}")
    active = [lang for lang, share in shares.items() if share > 0]
    _require_solutions(problems, active)
    check_descriptions(descriptions)
    described = {lang: description_share(descriptions, lang) for lang in active}
    # A second generator, used only for fractional shares: with all-or-nothing descriptions
    # the documents are exactly those of a corpus built before shares existed.
    coin = random.Random(f"descriptions:{seed}")

    def with_description(lang: str) -> bool:
        share = described[lang]
        return share >= 1.0 or (share > 0.0 and coin.random() < share)

    allowed = None if pairs is None else {frozenset(get_language(x).name for x in pair) for pair in pairs}
    rng = random.Random(f"pretrain:{seed}")
    targets = {lang: shares[lang] * budget for lang in active}
    used = dict.fromkeys(active, 0)
    queues: dict[str, list[Problem]] = {lang: [] for lang in active}

    def next_problem(lang: str) -> Problem:
        if not queues[lang]:
            pool = [p for p in problems if lang in p.solutions]
            rng.shuffle(pool)
            queues[lang] = pool
        return queues[lang].pop()

    docs: list[Document] = []
    while True:
        # The PL furthest below its target (relative to its share) goes next.
        behind = [lang for lang in active if used[lang] < targets[lang]]
        if not behind:
            break
        lang = min(behind, key=lambda x: used[x] / targets[x])
        problem = next_problem(lang)
        text = program_text(problem, lang, with_description(lang))
        used[lang] += measure(text)
        langs = (lang,)
        if organisation == "parallel":
            # Only PLs still below their target: pairing never pushes a PL past its share,
            # so once the low-resource PLs are full the rest stays single-PL documents.
            others = [
                x
                for x in active
                if x != lang
                and x in problem.solutions
                and used[x] < targets[x]
                and (allowed is None or frozenset((lang, x)) in allowed)
            ]
            if others:
                partner = rng.choices(others, weights=[shares[x] for x in others])[0]
                pair_text = program_text(problem, partner, with_description(partner))
                used[partner] += measure(pair_text)
                text = text + "\n" + pair_text
                langs = (lang, partner)
        docs.append(Document(text, langs, problem.name))
    rng.shuffle(docs)
    return docs


def sft_examples(problems: Sequence[Problem], languages: Sequence[str], chat: bool = False) -> list[Example]:
    """One prompt -> solution example per problem and PL (problems lacking that PL's solution
    are left out of it); ``chat``: user message -> fenced function."""
    langs = [get_language(x).name for x in languages]
    _require_solutions(problems, langs)
    return [_example(p, lang, "sft", chat) for p in problems for lang in langs if lang in p.solutions]


def parallel_examples(
    problems: Sequence[Problem], languages: Sequence[str], fmt: str = "multi", seed: int = 0, chat: bool = False
) -> list[Example]:
    """Parallel-SFT examples over ``languages`` (see the module docstring for the formats); in
    chat style the programs are fenced functions in the assistant's answer (``concat``) or the
    user's message (``translate``)."""
    if fmt not in PARALLEL_FORMATS:
        raise CorpusError(f"parallel format must be one of {', '.join(PARALLEL_FORMATS)}, got {fmt!r}")
    langs = [get_language(x).name for x in languages]
    if len(langs) < 2:
        raise CorpusError(f"parallel examples need at least two PLs, got {langs}")
    _require_solutions(problems, langs)
    rng = random.Random(f"parallel:{fmt}:{seed}")
    out: list[Example] = []
    for p in problems:
        have = [lang for lang in langs if lang in p.solutions]
        if len(have) < 2:
            continue
        if fmt == "multi":
            out += [_example(p, lang, fmt, chat) for lang in have]
        elif fmt == "concat":
            first, *rest = rng.sample(have, len(have))
            if chat:
                tail = "".join(f"\n\nIn {get_language(lang).display_name}:\n{chat_answer(p, lang)}" for lang in rest)
                out.append(_example(p, first, fmt, chat, completion=chat_answer(p, first) + tail))
            else:
                tail = "".join("\n" + program_text(p, lang) for lang in rest)
                out.append(_example(p, first, fmt, chat, completion=completion_text(p, first) + tail))
        else:  # translate: a program in one PL, then the same problem to solve in another
            source, target = rng.sample(have, 2)
            if chat:
                context = f"Here is the function in {get_language(source).display_name}:\n\n{chat_answer(p, source)}\n\n"
            else:
                context = program_text(p, source) + "\n"
            out.append(_example(p, target, fmt, chat, context=context))
    return out


def with_parallel_source(
    problems: Sequence[Problem], source: Sequence[Problem], sft_languages: Sequence[str], parallel_languages: Sequence[str]
) -> tuple[list[Problem], dict[str, Any]]:
    """``problems`` with their programs in the parallel PLs taken from ``source`` (problems of
    the same names, e.g. ``xpl corpus translate``'s output) instead of their own; their
    solutions in ``sft_languages`` stay. A problem that ``source`` lacks keeps only those, so
    it gives no parallel example; ``source`` problems that are not in ``problems`` (held-out
    ones among them) are never used. Returns the problems and counts for the stage record."""
    sft_langs = {get_language(x).name for x in sft_languages}
    parallel = [get_language(x).name for x in parallel_languages if get_language(x).name not in sft_langs]
    by_name = {p.name: p for p in source}
    out, programs = [], Counter()
    for p in problems:
        solutions = {lang: body for lang, body in p.solutions.items() if lang in sft_langs}
        other = by_name.get(p.name)
        if other is not None:
            for lang in parallel:
                if lang in other.solutions:
                    solutions[lang] = other.solutions[lang]
                    programs[lang] += 1
        out.append(replace(p, solutions=solutions))
    used = sum(p.name in by_name for p in problems)
    return out, {"source_problems": len(source), "matched": used, "unused": len(source) - used, "programs": dict(programs)}


def sft_mixture(
    problems: Sequence[Problem],
    sft_languages: Sequence[str],
    parallel_languages: Sequence[str] = (),
    fmt: str = "multi",
    parallel_ratio: float = 0.5,
    seed: int = 0,
    chat: bool = False,
) -> list[Example]:
    """SFT examples in ``sft_languages`` plus, when ``parallel_languages`` is given, parallel
    examples making up ``parallel_ratio`` of the mixture (sampled without replacement where
    there are enough, else repeated), shuffled together."""
    if not 0.0 <= parallel_ratio < 1.0:
        raise CorpusError(f"parallel_ratio must be in [0, 1), got {parallel_ratio}")
    base = sft_examples(problems, sft_languages, chat)
    if not parallel_languages or parallel_ratio == 0.0:
        mixed = list(base)
    else:
        pool = parallel_examples(problems, parallel_languages, fmt, seed, chat)
        if not pool:
            raise CorpusError("no problem has solutions in two of the parallel PLs")
        want = round(len(base) * parallel_ratio / (1.0 - parallel_ratio))
        rng = random.Random(f"mixture:{seed}")
        picked = rng.sample(pool, want) if want <= len(pool) else [pool[i % len(pool)] for i in range(want)]
        mixed = base + picked
    random.Random(f"shuffle:{seed}").shuffle(mixed)
    return mixed
