"""The function every PL's examples implement (used by ``xpl demo`` and the conformance tests)."""

from __future__ import annotations

import importlib

from xpl.languages.types import Signature, TestCase

DEMO_SIG = Signature.parse("add", [("a", "int"), ("b", "int")], "int")
DEMO_DOC = "Add two integers.\n>>> add(2, 3)\n5"
DEMO_TESTS = [TestCase((1, 2), 3), TestCase((0, 5), 5), TestCase((-4, 4), 0), TestCase((7, 0), 7)]


def examples(language: str) -> dict[str, str]:
    """The example bodies of one PL (``xpl/languages/examples/<name>.py``)."""
    return importlib.import_module(f"xpl.languages.examples.{language}").SNIPPETS


def demo_bodies(language: str) -> dict[str, str]:
    s = examples(language)
    return {"correct": s["add"], "wrong": s["add_wrong"], "broken": s["broken"]}
