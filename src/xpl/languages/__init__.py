"""Programming languages: one module per PL behind ``xpl.languages.base.Language``.

Adding a PL = writing one module with a ``Language`` subclass and listing it in ``_MODULES``.
"""

from __future__ import annotations

import importlib
from functools import cache

from xpl.languages.base import Language, Toolchain, ToolchainMissing
from xpl.languages.types import Signature, TestCase, UnsupportedError

# module name -> class name, in the order PLs are listed everywhere.
_MODULES = {
    "python": "Python",
    "rust": "Rust",
    "go": "Go",
    "php": "PHP",
    "ruby": "Ruby",
    "java": "Java",
    "javascript": "JavaScript",
    "typescript": "TypeScript",
    "cpp": "Cpp",
    "csharp": "CSharp",
    "lua": "Lua",
    "julia": "Julia",
}


class UnknownLanguage(ValueError):
    pass


@cache
def all_languages() -> tuple[Language, ...]:
    langs = []
    for module, cls in _MODULES.items():
        mod = importlib.import_module(f"xpl.languages.{module}")
        langs.append(getattr(mod, cls)())
    return tuple(langs)


@cache
def _index() -> dict[str, Language]:
    idx: dict[str, Language] = {}
    for lang in all_languages():
        for key in (lang.name, *lang.aliases, lang.display_name.lower()):
            idx[key.lower()] = lang
    return idx


def get_language(name: str | Language) -> Language:
    """Look a PL up by name or alias (``"rust"``, ``"rs"``, ``"Rust"``)."""
    if isinstance(name, Language):
        return name
    lang = _index().get(str(name).strip().lower())
    if lang is None:
        known = ", ".join(f"{lg.name} ({'/'.join(lg.aliases)})" for lg in all_languages())
        raise UnknownLanguage(f"unknown language {name!r}; known: {known}")
    return lang


__all__ = [
    "Language",
    "Signature",
    "TestCase",
    "Toolchain",
    "ToolchainMissing",
    "UnknownLanguage",
    "UnsupportedError",
    "all_languages",
    "get_language",
]
