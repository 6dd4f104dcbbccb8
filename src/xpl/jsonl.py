"""JSON Lines files read a line at a time, for files written by hand or by other tools.

Every non-blank line yields its parsed value or a one-line reason why it has none; a bad line
never stops the others. The rules, the same for every JSONL file xpl reads:

- a line ends at ``\\n`` (a lone ``\\r`` does not end one, so line numbers agree with
  ``wc -l``, ``sed -n`` and editors); a trailing ``\\r`` (Windows line ends) is ignored;
- a line is blank when it holds only JSON whitespace (space, tab, ``\\r``), and is skipped;
- text must be UTF-8 (a byte-order mark at the start of the file is allowed). A line with
  other bytes is reported with the first bad byte and its column, never decoded with
  replacement: that would run or load something other than what the file holds.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

_JSON_WHITESPACE = b" \t\r\n"
_BOM = b"\xef\xbb\xbf"


@dataclass(frozen=True)
class Line:
    """One non-blank line: ``value`` when it parsed, else ``error`` says why (without FILE:LINE)."""

    number: int  # 1-based
    value: Any = None
    error: str | None = None


def read_lines(path: str | Path) -> Iterator[Line]:
    """Every non-blank line of ``path``, in order. Raises ``OSError`` only if the file cannot
    be opened or read."""
    with Path(path).open("rb") as fh:
        for number, raw in enumerate(fh, 1):
            if number == 1 and raw.startswith(_BOM):
                raw = raw[len(_BOM) :]
            if not raw.strip(_JSON_WHITESPACE):
                continue
            yield parse_line(number, raw)


def parse_line(number: int, raw: bytes) -> Line:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return Line(number, error=utf8_error(raw, exc.start))
    try:
        return Line(number, json.loads(text))
    except json.JSONDecodeError as exc:
        return Line(number, error=f"not valid JSON ({exc.msg} at column {exc.colno})")
    except RecursionError:
        return Line(number, error="not readable: JSON nested too deeply")
    except ValueError as exc:  # e.g. an integer with more digits than Python converts
        return Line(number, error=f"not readable: {str(exc).split(';')[0]}")


def utf8_error(data: bytes, position: int) -> str:
    """``not valid UTF-8 (byte 0xff at column 7)`` for the first bad byte of ``data``, at
    ``position``; the column counts characters from the start of its line, as editors do."""
    line_start = data.rfind(b"\n", 0, position) + 1
    column = len(data[line_start:position].decode("utf-8")) + 1
    return f"not valid UTF-8 (byte 0x{data[position]:02x} at column {column}); save the file as UTF-8"
