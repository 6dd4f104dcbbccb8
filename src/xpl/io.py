"""Files written whole or not at all.

A run can be killed at any moment (and resumed): a stage marker, an evaluation file or a
results file that a reader finds must never be half written. ``write_text`` and
``write_json`` write to a temporary file beside the target (named after it and the process,
so processes writing the same file never share one) and rename it over the target, which is
atomic on POSIX file systems. Importable from every package (it imports nothing of xpl).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Callable


def write_text(path: str | Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically: a reader sees the old file or the new one."""
    path = Path(path)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(text)
        tmp.replace(path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_json(
    path: str | Path,
    data: Any,
    *,
    indent: int | None = None,
    sort_keys: bool = False,
    default: Callable[[Any], Any] | None = None,
) -> None:
    """Write ``data`` as JSON (one trailing newline) to ``path`` atomically."""
    write_text(path, json.dumps(data, indent=indent, sort_keys=sort_keys, default=default) + "\n")
