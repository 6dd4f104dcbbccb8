"""Talking to instruct models: the user message for a problem, and the code in a reply.

An instruct model is asked through its chat template for the whole function and answers in
markdown. What is run is the code of its reply, put together with what the PL's completion
prompt would have supplied (a Go package clause and imports, a Java class) and the PL's
test harness:

    program = header (+ the reply's own imports, merged) + code + harness

The pieces here are PL-neutral: finding the code block in a reply, the message, and the
text surgery several PLs share (hoisting import lines, renaming a ``main`` the reply wrote so
that the harness's entry point is the one that runs, unwrapping a class). Each PL module
decides which of them apply to it (``Language.split_reply``); docs/languages.md lists the
decisions.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

FENCE = "```"

# A fence line: optional indentation, three or more backticks, an info string.
_FENCE_LINE = re.compile(r"^[ \t]*(`{3,})[ \t]*([^\s`]*)[^\n`]*$", re.MULTILINE)


@dataclass(frozen=True)
class CodeBlock:
    tag: str  # the info string's first word, lower case ("" when none)
    code: str
    closed: bool


def code_blocks(reply: str) -> list[CodeBlock]:
    """Every fenced code block of a markdown reply, in order. A block still open at the end
    of the reply (generation stopped, or was cut, before the closing fence) is included."""
    blocks: list[CodeBlock] = []
    pos = 0
    while True:
        opening = _FENCE_LINE.search(reply, pos)
        if opening is None:
            return blocks
        ticks, tag = opening.group(1), opening.group(2).lower()
        start = opening.end() + 1  # past the newline ending the fence line
        closing = re.compile(r"^[ \t]*" + ticks + r"`*[ \t]*$", re.MULTILINE).search(reply, start)
        if closing is None:
            blocks.append(CodeBlock(tag, reply[start:], False))
            return blocks
        blocks.append(CodeBlock(tag, reply[start : closing.start()], True))
        pos = closing.end()


def extract_code(reply: str, tags: Iterable[str]) -> str:
    """The code to run from a reply: the first block tagged with one of ``tags`` (the PL's
    names), else the first untagged block, else the first block of any tag, else the whole
    reply (a model that answers with bare code)."""
    blocks = code_blocks(reply)
    wanted = {t.lower() for t in tags}
    for choose in (lambda b: b.tag in wanted, lambda b: not b.tag, lambda b: True):
        for block in blocks:
            if choose(block):
                return block.code
    return reply


def user_message(display_name: str, tag: str, signature: str, description: str) -> str:
    """The user turn: the function to write (its signature in the PL), what it does, and the
    answer format.

    Chosen by measurement (SmolLM2-135M-Instruct, greedy, 20 *training* problems of the family
    per PL, Python / Go / Java passed): this form 6 / 3 / 5; the description first and the
    signature in a code block 6 / 2 / 4; the PL's whole completion prompt in a code block
    (signature and description as a comment) 4 / - / -, the model copying the open signature
    back and closing the block; the signature prefilled in the answer 0 / - / -."""
    return (
        f"Write a {display_name} function `{signature}`.\n{description.strip()}\n"
        f"Answer with the complete function in a single {FENCE}{tag} code block."
    )


# ----------------------------------------------------------------------------- text surgery


def hoist_lines(code: str, pattern: str) -> tuple[list[str], str]:
    """Lines of ``code`` matching ``pattern`` (anchored at the line start, after indentation)
    taken out: (the lines, stripped; the rest of the code)."""
    rx = re.compile(r"^[ \t]*(?:" + pattern + r")")
    taken, kept = [], []
    for line in code.splitlines(keepends=True):
        (taken if rx.match(line) else kept).append(line)
    return [t.strip() for t in taken], "".join(kept)


def rename_entry_point(code: str, pattern: str, replacement: str) -> str:
    """Rename a reply's own entry point (``fn main(``, ``int main(``...) so the harness's is the
    one that runs: the reply's stays as an ordinary function, never called."""
    return re.sub(pattern, replacement, code, flags=re.MULTILINE)


def matching_brace(text: str, open_at: int) -> int:
    """The index of the ``}`` closing the ``{`` at ``open_at`` (skipping string and char
    literals and comments), or -1 when it is not closed."""
    depth, i, n = 0, open_at, len(text)
    while i < n:
        ch = text[i]
        if text.startswith("//", i):
            i = text.find("\n", i)
            if i < 0:
                return -1
        elif text.startswith("/*", i):
            i = text.find("*/", i + 2)
            if i < 0:
                return -1
            i += 1
        elif ch in "\"'":
            i += 1
            while i < n and text[i] != ch:
                i += 2 if text[i] == "\\" else 1
        elif ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth == 0:
                return i
        i += 1
    return -1


_CLASS = re.compile(
    r"^[ \t]*(?:(?:public|private|protected|internal|static|final|abstract|sealed|partial)\s+)*(?:class|namespace)\s+[\w.]+[^{;]*\{",
    re.MULTILINE,
)


def unwrap_classes(code: str) -> str:
    """Java/C#: the members of every top-level class (and C# namespace) the reply declared, in
    place of the declaration (the harness's own class then holds them), with anything outside
    kept. Nested declarations are unwrapped in turn."""
    out, pos = [], 0
    while True:
        m = _CLASS.search(code, pos)
        if m is None:
            out.append(code[pos:])
            return "".join(out)
        close = matching_brace(code, m.end() - 1)
        if close < 0:  # an unclosed class (a reply cut short): its members run to the end
            out.append(code[pos : m.start()] + code[m.end() :])
            return "".join(out)
        out.append(code[pos : m.start()] + unwrap_classes(code[m.end() : close]))
        pos = close + 1


def remove_method(code: str, pattern: str) -> str:
    """Remove every method whose header matches ``pattern`` (a regex ending before its ``{``),
    body included: a ``main`` the reply added to its class."""
    rx = re.compile(pattern, re.MULTILINE)
    while True:
        m = rx.search(code)
        if m is None:
            return code
        brace = code.find("{", m.end())
        close = matching_brace(code, brace) if brace >= 0 else -1
        if close < 0:
            return code[: m.start()]
        code = code[: m.start()] + code[close + 1 :]


_NOT_TYPES = frozenset("return new else throw case goto yield await".split())
_NOT_NAMES = frozenset("if for foreach while switch catch using lock synchronized return new".split())
_METHOD = re.compile(
    r"^([ \t]*)((?:(?:public|private|protected|internal|final|override|virtual)\s+)*)"
    r"([A-Za-z_][\w<>\[\],.? ]*?)\s+(\w+)\s*\(([^()]*)\)\s*(?:throws\s+[\w., ]+)?\s*\{?\s*$",
    re.MULTILINE,
)


def make_static(code: str) -> str:
    """Java/C#: ``static`` added to method declarations that lack it (a reply that wrote an
    instance method in its own class; the harness calls it from static code)."""

    def fix(m: re.Match) -> str:
        indent, modifiers, rtype, name = m.group(1), m.group(2), m.group(3).strip(), m.group(4)
        if "static" in (modifiers + " " + rtype).split() or rtype.split()[0] in _NOT_TYPES or name in _NOT_NAMES or "=" in m.group(0):
            return m.group(0)
        return f"{indent}{modifiers}static {m.group(0)[len(indent) + len(modifiers):]}"

    return _METHOD.sub(fix, code)


def function_body(code: str, name: str, block: str) -> str | None:
    """The body of the function ``name`` defined in ``code`` (a reply's whole function), as a
    completion would write it after the PL's prompt: the text inside its braces (``brace``),
    or the lines under its ``def``/``function`` line up to its ``end`` (``end``) or to the next
    line indented no deeper (``indent``), those lines shifted left by the definition's
    indentation. None when no definition of ``name`` is found."""
    if block == "brace":
        for match in re.finditer(rf"\b{re.escape(name)}\s*\(", code):
            close = _closing_paren(code, match.end() - 1)
            if close < 0:
                continue
            brace, semicolon = code.find("{", close), code.find(";", close)
            if brace < 0 or (0 <= semicolon < brace):
                continue  # a call or a declaration, not the definition
            end = matching_brace(code, brace)
            if end < 0:
                return None
            body = code[brace + 1 : end]
            first_newline = body.find("\n")
            if first_newline >= 0 and not body[:first_newline].strip():
                body = body[first_newline + 1 :]
            body = body.rstrip(" \t")
            return body if not body or body.endswith("\n") else body + "\n"
        return None
    keyword = r"def" if block == "indent" else r"(?:def|function)"
    lines = code.splitlines(keepends=True)
    for i, line in enumerate(lines):
        match = re.match(rf"([ \t]*){keyword}\s+{re.escape(name)}\b", line)
        if not match:
            continue
        indent = match.group(1)
        body = []
        for later in lines[i + 1 :]:
            stripped = later.strip()
            depth = len(later) - len(later.lstrip(" \t"))
            if block == "end" and stripped.startswith("end") and re.match(r"end\b", stripped) and depth <= len(indent):
                return "".join(body)
            if block == "indent" and stripped and depth <= len(indent):
                break
            body.append(later[len(indent) :] if later.startswith(indent) else later)
        return "".join(body) if block == "indent" else None
    return None


def _closing_paren(text: str, open_at: int) -> int:
    """The index of the ``)`` closing the ``(`` at ``open_at`` (plain nesting), or -1."""
    depth = 0
    for i in range(open_at, len(text)):
        if text[i] == "(":
            depth += 1
        elif text[i] == ")":
            depth -= 1
            if depth == 0:
                return i
    return -1
