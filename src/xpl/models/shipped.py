"""Writing a finished pretraining as a compact model folder that can live in the repository.

``ship(stage_dir, target)`` takes the ``final`` model of a pretraining stage (``xpl train
pretrain``), stores its weights as float16 safetensors (half the bytes; the tiny models' results
do not change at this precision, see ``docs/organism.md``) with its tokenizer, and writes a
manifest (``organism.json``): the sha256 of every file, the stage record (held-out losses
before and after, steps, tokens, parameters, wall time, the whole pretraining config), and
whatever the caller adds (the commands that made the data, the problem set it is clean
against). ``xpl.models.loading`` verifies the checksum before it loads the shipped base.

The weights load as float32 (``load_model`` asks for it), so training and generation run in
full precision on CPU; only storage is float16.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

from xpl.io import write_json

MANIFEST = "organism.json"
SHIPPED_FILES = ("config.json", "generation_config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json")


class ShipError(ValueError):
    """A stage folder that cannot be shipped (unfinished, or not a pretraining)."""


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def ship(stage_dir: str | Path, target: str | Path, extra: dict[str, Any] | None = None, dtype: str = "float16") -> dict[str, Any]:
    """Write ``stage_dir``'s final model into ``target`` (replaced atomically) and return the
    manifest."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    stage_dir, target = Path(stage_dir), Path(target)
    marker = stage_dir / "stage.json"
    if not marker.is_file():
        raise ShipError(f"{stage_dir}: no stage.json (the pretraining has not finished; rerun it to resume)")
    record = json.loads(marker.read_text())
    if record.get("stage") != "pretrain":
        raise ShipError(f"{marker}: a {record.get('stage')!r} stage, not a pretraining")
    final = Path(record["model"])
    if not final.is_absolute() and not final.is_dir():
        final = stage_dir / final.name
    model = AutoModelForCausalLM.from_pretrained(str(final), dtype=torch.float32)
    tokenizer = AutoTokenizer.from_pretrained(str(final))
    tmp = target.with_name(target.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    model.to(getattr(torch, dtype)).save_pretrained(str(tmp), safe_serialization=True)
    tokenizer.save_pretrained(str(tmp))
    for stray in tmp.iterdir():  # only what loading needs: no copies of special-token maps
        if stray.name not in SHIPPED_FILES:
            stray.unlink()
    manifest = {
        "sha256": {name: sha256(tmp / name) for name in SHIPPED_FILES if (tmp / name).is_file()},
        "dtype": dtype,
        **{k: v for k, v in record.items() if k not in ("model", "train_loss")},
        "train_loss": [{k: r[k] for k in ("step", "loss") if k in r} for r in record.get("train_loss", [])],
        **(extra or {}),
    }
    write_json(tmp / MANIFEST, manifest, indent=2)
    shutil.rmtree(target, ignore_errors=True)
    tmp.rename(target)
    return manifest
