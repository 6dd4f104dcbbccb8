"""Pretraining documents, SFT examples and Parallel-SFT mixtures from parallel solutions."""

import re
from collections import Counter

import pytest

from xpl.corpus import (
    CorpusError,
    check_proportions,
    completion_text,
    parallel_examples,
    pretraining_corpus,
    program_text,
    sft_examples,
    sft_mixture,
)
from xpl.problems.family import build

LANGS = ["python", "rust", "javascript"]


@pytest.fixture(scope="module")
def problems():
    return build(80, seed=1, languages=LANGS, check=False).problems


def chars_per_language(problems, docs):
    """Characters of each PL's programs in the documents (recovered from the problem texts)."""
    by_name = {p.name: p for p in problems}
    used = Counter()
    for d in docs:
        for lang in d.languages:
            used[lang] += len(program_text(by_name[d.problem], lang))
    return used


@pytest.mark.parametrize("organisation", ["shuffle", "parallel"])
def test_pretraining_shares_follow_the_proportions(problems, organisation):
    shares = {"python": 0.6, "rust": 0.3, "javascript": 0.1}
    docs = pretraining_corpus(problems, shares, 60_000, organisation, seed=3)
    used = chars_per_language(problems, docs)
    total = sum(used.values())
    assert 60_000 <= total <= 62_000
    for lang, share in shares.items():
        assert abs(used[lang] / total - share) < 0.02, (lang, used[lang] / total)
    paired = [d for d in docs if len(d.languages) == 2]
    if organisation == "shuffle":
        assert not paired
    else:
        assert len(paired) > len(docs) // 4
        for d in paired:  # a program followed by the same problem in another PL
            first, second = d.languages
            assert first != second
            assert d.text.index(program_text(next(p for p in problems if p.name == d.problem), second)) > 0


@pytest.mark.parametrize("organisation", ["shuffle", "parallel"])
def test_code_only_pretraining_leaves_the_descriptions_out(problems, organisation):
    by_name = {p.name: p for p in problems}
    docs = pretraining_corpus(problems, {"python": 0.5, "rust": 0.5}, 20_000, organisation, seed=1, descriptions=False)
    assert docs
    for d in docs:
        p = by_name[d.problem]
        first = p.description.splitlines()[0]
        assert first not in d.text  # no description, in any PL's comment syntax
        for lang in d.languages:  # but the whole function: signature and solution
            assert program_text(p, lang, description=False) in d.text
            assert p.solutions[lang] in d.text
    assert program_text(problems[0], "python", description=False).startswith("def ")


def test_pretraining_is_deterministic_and_seeded(problems):
    shares = {"python": 0.5, "rust": 0.5}
    a = pretraining_corpus(problems, shares, 20_000, seed=1)
    assert a == pretraining_corpus(problems, shares, 20_000, seed=1)
    assert a != pretraining_corpus(problems, shares, 20_000, seed=2)


def test_bad_proportions_and_parameters_are_named(problems):
    with pytest.raises(CorpusError, match="sum to 1"):
        check_proportions({"python": 0.5, "rust": 0.4})
    with pytest.raises(CorpusError, match=r"proportions\.rust"):
        check_proportions({"python": 1.2, "rust": -0.2})
    with pytest.raises(CorpusError, match="organisation"):
        pretraining_corpus(problems, {"python": 1.0}, 1000, "interleaved")
    with pytest.raises(CorpusError, match="no problem has a go solution"):
        pretraining_corpus(problems, {"python": 0.5, "go": 0.5}, 1000)
    with pytest.raises(CorpusError, match="two PLs"):
        parallel_examples(problems, ["python"])
    with pytest.raises(CorpusError, match="parallel_ratio"):
        sft_mixture(problems, ["python"], LANGS, parallel_ratio=1.0)


def test_sft_examples_are_prompt_then_solution(problems):
    examples = sft_examples(problems, ["py"])
    assert len(examples) == len(problems)
    p, e = problems[0], examples[0]
    assert e.prompt == p.render("python").prompt and e.completion == completion_text(p, "python")
    assert p.render("python").program(e.completion.rstrip("\n")).startswith(e.prompt + e.completion.rstrip("\n"))


@pytest.mark.parametrize("fmt", ["multi", "concat", "translate"])
def test_parallel_formats(problems, fmt):
    examples = parallel_examples(problems, LANGS, fmt, seed=0)
    if fmt == "multi":
        assert len(examples) == 3 * len(problems)
        assert Counter(e.language for e in examples) == Counter(dict.fromkeys(LANGS, len(problems)))
    elif fmt == "concat":
        assert len(examples) == len(problems)
        e = examples[0]
        p = next(q for q in problems if q.name == e.problem)
        others = [lang for lang in LANGS if lang != e.language]
        assert all(program_text(p, lang) in e.completion for lang in others)
    else:
        e = examples[0]
        p = next(q for q in problems if q.name == e.problem)
        assert e.prompt.endswith(p.render(e.language).prompt)
        source = [lang for lang in LANGS if lang != e.language and e.prompt.startswith(program_text(p, lang))]
        assert len(source) == 1


def test_mixture_ratio(problems):
    mixed = sft_mixture(problems, ["python"], LANGS, "multi", parallel_ratio=0.25, seed=0)
    kinds = Counter(e.kind for e in mixed)
    assert kinds["sft"] == len(problems)
    assert kinds["multi"] == round(len(problems) * 0.25 / 0.75)
    plain = sft_mixture(problems, ["python"])
    assert Counter(e.kind for e in plain) == {"sft": len(problems)}


# ----------------------------------------------------------------------------- description shares


def _described_docs(problems, docs, lang):
    by_name = {p.name: p for p in problems}
    with_desc = sum(d.text == program_text(by_name[d.problem], lang, True) for d in docs if d.languages == (lang,))
    total = sum(d.languages == (lang,) for d in docs)
    return with_desc, total


def test_description_shares_per_language(problems):
    docs = pretraining_corpus(
        problems, {"python": 0.5, "rust": 0.5}, 80_000, seed=2, descriptions={"python": 1.0, "rust": 0.25}
    )
    py_desc, py_total = _described_docs(problems, docs, "python")
    rs_desc, rs_total = _described_docs(problems, docs, "rust")
    assert py_desc == py_total > 50
    assert 0.12 < rs_desc / rs_total < 0.40  # a quarter, drawn program by program


def test_all_or_nothing_descriptions_give_the_corpus_they_always_gave(problems):
    """True/False (and shares 1.0/0.0) draw no coin: the documents are those of a bool."""
    shares = {"python": 0.7, "javascript": 0.3}
    assert pretraining_corpus(problems, shares, 20_000, seed=5, descriptions=False) == pretraining_corpus(
        problems, shares, 20_000, seed=5, descriptions={"python": 0.0}
    )
    assert pretraining_corpus(problems, shares, 20_000, seed=5, descriptions=True) == pretraining_corpus(
        problems, shares, 20_000, seed=5, descriptions=1.0
    )


@pytest.mark.parametrize(
    "descriptions, message",
    [({"python": 1.5}, "descriptions.python: a description share must be a number in [0, 1]"), (-0.1, "in [0, 1]"), ({"klingon": 0.5}, "klingon")],
)
def test_bad_description_shares_are_named(problems, descriptions, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        pretraining_corpus(problems, {"python": 1.0}, 5_000, descriptions=descriptions)


def test_parallel_programs_from_another_source_replace_only_the_parallel_pls(problems):
    from dataclasses import replace

    from xpl.corpus import parallel_examples, with_parallel_source

    source = [replace(p, solutions={"javascript": "FROM FILE", "python": "NOT USED"}) for p in problems[:5]]
    mixed, record = with_parallel_source(problems, source, ["python"], ["python", "javascript"])
    assert record == {"source_problems": 5, "matched": 5, "unused": 0, "programs": {"javascript": 5}}
    assert [p.solutions for p in mixed[:5]] == [{"python": p.solutions["python"], "javascript": "FROM FILE"} for p in problems[:5]]
    assert all(set(p.solutions) == {"python"} for p in mixed[5:])
    examples = parallel_examples(mixed, ["python", "javascript"], "multi")
    assert {e.problem for e in examples} == {p.name for p in problems[:5]}
    assert all("FROM FILE" in e.completion for e in examples if e.language == "javascript")
