"""Data flows one way (README, Architecture): no package of ``xpl`` imports one above it.

Every import in ``src/xpl`` is read with ``ast`` (those inside functions too: a lazy import
is still a dependency), so the check needs nothing installed and runs in a fraction of a
second.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src" / "xpl"

# Lowest first. The top-level modules (jsonl, io) are shared helpers below every package.
LAYERS = [
    ("__init__", "jsonl", "io"),
    ("languages",),
    ("execution",),
    ("problems",),
    ("corpus",),
    ("models",),
    ("training",),
    ("analysis",),
    ("experiments",),
    ("cli",),
]
RANK = {name: rank for rank, names in enumerate(LAYERS) for name in names}


def _unit(path: Path) -> str:
    """The layer name of a source file: its package, or the top-level module's name."""
    rel = path.relative_to(SRC)
    return rel.parts[0] if len(rel.parts) > 1 else rel.stem


def _imports(path: Path) -> list[tuple[int, str]]:
    """(line, imported xpl unit) for every import of ``xpl.*`` in ``path``."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = ["xpl", *path.relative_to(SRC).parts[:-1]]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against the file's package
                base = package[: len(package) - node.level + 1]
                names = [".".join(base + ([node.module] if node.module else []))]
            else:
                names = [node.module or ""]
            if names == ["xpl"]:  # from xpl import cli, ...
                names = [f"xpl.{alias.name}" for alias in node.names]
        else:
            continue
        for name in names:
            parts = name.split(".")
            if parts[0] == "xpl" and len(parts) > 1:
                found.append((node.lineno, parts[1]))
    return found


def _sources() -> list[Path]:
    return sorted(SRC.rglob("*.py"))


def test_every_unit_has_a_layer():
    units = {_unit(p) for p in _sources()}
    assert units <= set(RANK), f"not placed in LAYERS: {sorted(units - set(RANK))}"


def test_no_package_imports_one_above_it():
    upward = []
    for path in _sources():
        mine = _unit(path)
        for line, target in _imports(path):
            if target in RANK and RANK[target] > RANK[mine]:
                upward.append(f"{path.relative_to(SRC.parent)}:{line}: {mine} imports xpl.{target}")
    assert not upward, "imports pointing up the layers:\n" + "\n".join(upward)


@pytest.mark.parametrize(
    "source, expected",
    [
        ("from xpl.experiments.stats import Estimate\n", [(1, "experiments")]),
        ("def f():\n    import xpl.cli\n", [(2, "cli")]),
        ("from xpl import cli\n", [(1, "cli")]),
        ("from ..experiments import sweep\n", [(1, "experiments")]),
        ("import json\nfrom typing import Any\n", []),
    ],
)
def test_the_check_sees_every_form_of_import(tmp_path, monkeypatch, source, expected):
    module = tmp_path / "xpl" / "analysis" / "m.py"
    module.parent.mkdir(parents=True)
    module.write_text(source)
    monkeypatch.setattr(sys.modules[__name__], "SRC", tmp_path / "xpl")
    assert _imports(module) == expected
