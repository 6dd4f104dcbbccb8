"""The problem record every PL is rendered from, and its typed JSON form.

A problem is written once, in PL-neutral terms: a typed signature (from Python annotations),
an English description (the docstring, with its examples), test cases as structured values,
optionally a canonical solution body per PL, helper functions per PL that the prompt defines
for the solution to call (HumanEval/10's ``is_palindrome``: a problem with helpers renders
only in the PLs they are written in), and notes on how the problem was derived from its
source (e.g. which of the original checks a translation dropped). ``Problem.render(lang)``
turns it into what a model sees (prompt, stop sequences) and what the engine runs (``prompt +
completion + tests``), through the PL module.

JSON keeps values exact by following the types: tuples are lists, dicts are lists of
``[key, value]`` pairs (keys need not be strings), floats that JSON cannot spell are the
strings ``"nan"``, ``"inf"``, ``"-inf"`` (``encode`` and ``decode``, from
``xpl.languages.values``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from xpl.languages import Language, get_language
from xpl.languages.types import Param, Signature, TestCase, UnsupportedError, parse_type
from xpl.languages.values import Expected, decode, encode


class ProblemFormatError(ValueError):
    """A problem record that does not follow the format; the message names the field."""


@dataclass(frozen=True)
class Rendered:
    """One problem in one PL: what a model completes and what the engine appends to it."""

    language: str
    prompt: str
    stop_sequences: tuple[str, ...]
    tests: str  # completion suffix + harness: program = prompt + completion + tests
    num_tests: int
    # What the engine compares the harness's output with (the program holds only arguments):
    # pass it as Job.expected.
    expected: Expected | None = None

    def prompt_text(self, tokenizer=None) -> str:
        """The model's input (the same for every tokenizer in completion mode)."""
        return self.prompt

    def code(self, completion: str) -> str:
        """The program without its tests (what a bigcode generations file holds)."""
        return self.prompt + completion

    def program(self, completion: str) -> str:
        if completion and not completion.endswith("\n"):
            completion += "\n"
        return self.prompt + completion + self.tests


PROMPT_STYLES = ("completion", "chat")


@dataclass(frozen=True)
class ChatRendered:
    """One problem in one PL for an instruct model: the conversation, the opening of the
    answer (the code fence, so the reply is code from its first token), and how a reply
    becomes a program: header + the reply's code + the harness (``Language.chat_program``).
    ``completion`` below is what the model wrote after ``prefill``."""

    language: str
    messages: tuple[dict[str, str], ...]
    prefill: str
    stop_sequences: tuple[str, ...]  # the closing fence
    signature: Signature
    harness: str  # the PL's harness, without the completion-mode closing text
    num_tests: int
    expected: Expected | None = None  # as Rendered.expected

    def prompt_text(self, tokenizer) -> str:
        """The model's input: the conversation through the tokenizer's chat template, with the
        assistant turn opened and started with ``prefill``."""
        return tokenizer.apply_chat_template(list(self.messages), add_generation_prompt=True, tokenize=False) + self.prefill

    def reply(self, completion: str) -> str:
        return self.prefill + completion

    def program(self, completion: str) -> str:
        return get_language(self.language).chat_program(self.signature, self.reply(completion), self.harness)

    def code(self, completion: str) -> str:
        """The program without its tests (what a bigcode generations file holds): the reply's
        code with the PL's header."""
        return get_language(self.language).chat_program(self.signature, self.reply(completion), "")


@dataclass(frozen=True)
class Problem:
    name: str
    source: str  # where it comes from, e.g. "humaneval" or "xpl-family"
    signature: Signature
    description: str
    tests: tuple[TestCase, ...]
    solutions: dict[str, str] = field(default_factory=dict, compare=False, hash=False)  # PL -> body
    # Free-form, JSON-serialisable labels (e.g. a generated problem's level and split).
    meta: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)
    notes: tuple[str, ...] = field(default=(), compare=False, hash=False)  # e.g. checks a translation dropped
    # PL -> code of the helper functions the prompt defines before the function (completion
    # prompts only: an instruct model is asked for a self-contained function).
    helpers: dict[str, str] = field(default_factory=dict, compare=False, hash=False)

    def __post_init__(self) -> None:
        if not self.tests:
            raise ProblemFormatError(f"problem {self.name!r}: no test cases")
        for i, t in enumerate(self.tests):
            try:
                t.check(self.signature)
            except TypeError as exc:
                raise ProblemFormatError(f"problem {self.name!r}, test {i}: {exc}") from None

    def prompt(self, language: str | Language) -> str:
        """The completion prompt in ``language``, with the problem's helper functions."""
        lang = get_language(language)
        if not self.helpers:
            return lang.prompt(self.signature, self.description)
        if lang.name not in self.helpers:
            raise UnsupportedError(
                lang.name, f"no {lang.display_name} translation of the helper functions its prompt defines"
            )
        return lang.prompt_with_helpers(self.signature, self.description, self.helpers[lang.name])

    def render(self, language: str | Language) -> Rendered:
        """The problem in ``language``; raises ``UnsupportedError`` (with the reason) when the
        PL cannot express one of its types or values."""
        lang = get_language(language)
        prompt = self.prompt(lang)
        tests = lang.completion_suffix + lang.harness(self.signature, self.tests)
        expected = lang.expected_results(self.signature, self.tests)
        return Rendered(lang.name, prompt, tuple(lang.stop_sequences), tests, len(self.tests), expected)

    def render_chat(self, language: str | Language) -> ChatRendered:
        """The problem in ``language`` for an instruct model (see ``ChatRendered``)."""
        lang = get_language(language)
        from xpl.languages.chat import FENCE

        message = lang.chat_message(self.signature, self.description)
        harness = lang.harness(self.signature, self.tests)
        return ChatRendered(
            lang.name,
            ({"role": "user", "content": message},),
            f"{FENCE}{lang.name}\n",
            (FENCE,),
            self.signature,
            harness,
            len(self.tests),
            lang.expected_results(self.signature, self.tests),
        )

    def render_as(self, language: str | Language, style: str) -> Rendered | ChatRendered:
        """``render`` (style ``completion``) or ``render_chat`` (style ``chat``)."""
        if style not in PROMPT_STYLES:
            raise ValueError(f"prompt style must be one of {', '.join(PROMPT_STYLES)}, got {style!r}")
        return self.render_chat(language) if style == "chat" else self.render(language)

    def solution_program(self, language: str | Language) -> str:
        lang = get_language(language)
        if lang.name not in self.solutions:
            raise KeyError(f"problem {self.name!r} has no {lang.name} solution")
        body = self.solutions[lang.name]
        if body and not body.endswith("\n"):
            body += "\n"
        return self.prompt(lang) + body + lang.completion_suffix + lang.harness(self.signature, self.tests)

    def expected_results(self, language: str | Language) -> Expected:
        """The expected values that go with ``solution_program`` (and any rendered program)."""
        return get_language(language).expected_results(self.signature, self.tests)

    # ------------------------------------------------------------------ JSON
    def to_json(self) -> dict[str, Any]:
        sig = self.signature
        return {
            "name": self.name,
            "source": self.source,
            "entry_point": sig.name,
            "params": [[p.name, p.type.annotation()] for p in sig.params],
            "returns": sig.returns.annotation(),
            "description": self.description,
            "tests": [
                {"args": [encode(a, p.type) for a, p in zip(t.args, sig.params)], "expected": encode(t.expected, sig.returns)}
                for t in self.tests
            ],
            "solutions": dict(self.solutions),
            "notes": list(self.notes),
            **({"helpers": dict(self.helpers)} if self.helpers else {}),
            **({"meta": dict(self.meta)} if self.meta else {}),
        }

    @classmethod
    def from_json(cls, rec: Any) -> Problem:
        if not isinstance(rec, dict):
            raise ProblemFormatError("a problem must be a JSON object")
        name = _field(rec, "name", str)
        where = f"problem {name!r}"
        try:
            params = tuple(Param(p, parse_type(t)) for p, t in _field(rec, "params", list))
            returns = parse_type(_field(rec, "returns", str))
        except (ValueError, TypeError) as exc:
            raise ProblemFormatError(f"{where}, field 'params'/'returns': {exc}") from None
        sig = Signature(_field(rec, "entry_point", str), params, returns)
        tests = []
        for i, t in enumerate(_field(rec, "tests", list)):
            try:
                args = tuple(decode(a, p.type) for a, p in zip(t["args"], params, strict=True))
                tests.append(TestCase(args, decode(t["expected"], returns)))
            except (KeyError, TypeError, ValueError) as exc:
                raise ProblemFormatError(f"{where}, field 'tests[{i}]': {exc}") from None
        solutions = rec.get("solutions") or {}
        if not isinstance(solutions, dict) or not all(isinstance(v, str) for v in solutions.values()):
            raise ProblemFormatError(f"{where}, field 'solutions': expected an object of PL -> source body")
        notes = rec.get("notes") or []
        if not isinstance(notes, list) or not all(isinstance(n, str) for n in notes):
            raise ProblemFormatError(f"{where}, field 'notes': expected an array of strings")
        meta = rec.get("meta") or {}
        if not isinstance(meta, dict):
            raise ProblemFormatError(f"{where}, field 'meta': expected an object")
        helpers = rec.get("helpers") or {}
        if not isinstance(helpers, dict) or not all(isinstance(v, str) for v in helpers.values()):
            raise ProblemFormatError(f"{where}, field 'helpers': expected an object of PL -> source code")
        return cls(
            name,
            _field(rec, "source", str),
            sig,
            _field(rec, "description", str),
            tuple(tests),
            solutions={get_language(k).name: v for k, v in solutions.items()},
            meta=meta,
            notes=tuple(notes),
            helpers={get_language(k).name: v for k, v in helpers.items()},
        )


def _field(rec: dict, name: str, kind: type) -> Any:
    if name not in rec:
        raise ProblemFormatError(f"field {name!r} is missing")
    if not isinstance(rec[name], kind):
        raise ProblemFormatError(f"field {name!r} must be a {kind.__name__}, got {type(rec[name]).__name__}")
    return rec[name]
