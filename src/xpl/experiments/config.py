"""Typed configuration from YAML: every section is a dataclass, every key is checked.

``from_dict(Cls, data, "where")`` builds ``Cls`` from a mapping, recursively for nested
dataclasses, and raises ``ConfigError`` naming the full key (``sft.train.batch_size``) for an
unknown key, a value of the wrong type, or a missing required key. Written here rather than
taken from a library because the checks (exact key paths, YAML's ints accepted for floats,
tuples from lists) are a few dozen lines and the alternatives (pydantic, omegaconf) would be a
heavy dependency for that.

Conventions every configuration follows (stages in ``xpl.training``, experiments here):

* a section is a dataclass named ``...Config`` (``TrainConfig``, ``LoraConfig``,
  ``EvalConfig``); its YAML key is the field name in the class that holds it;
* types are checked by ``from_dict``; values by the section's own
  ``validate(where="<its key>")``, which raises ``ConfigError`` naming the full key
  (``f"{where}.batch_size must be ..."``). A class holding sections calls their ``validate``
  with its key prefixed (``self.train.validate(f"{where}.train")``) and checks itself only
  what relates them (``grpo.language`` must be the ``source_language``). A whole file's
  configuration (``ExperimentConfig``, ``FlexExperimentConfig``, ``SweepConfig``) has
  ``validate()``, its keys being the file's own.

(``SamplingConfig`` is built from options, never read from YAML, and checks itself when built.)
"""

from __future__ import annotations

import dataclasses
import types
import typing
from pathlib import Path
from typing import Any, TypeVar

from xpl.jsonl import utf8_error
from xpl.training.common import ConfigError

T = TypeVar("T")


def from_dict(cls: type[T], data: Any, where: str) -> T:
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected a mapping of keys to values, got {type(data).__name__}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}  # type: ignore[arg-type]
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {', '.join(map(str, unknown))}; known: {', '.join(fields)}")
    values = {}
    for name, f in fields.items():
        if name in data:
            value = data[name]
            if isinstance(value, dict) and f.default_factory is not dataclasses.MISSING:
                default = f.default_factory()
                if dataclasses.is_dataclass(default):
                    # A partial section overrides the stage's own defaults, not the class's.
                    value = _merge(to_dict(default), value)
            values[name] = _convert(hints[name], value, f"{where}.{name}")
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise ConfigError(f"{where}.{name}: required")
    try:
        return cls(**values)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{where}: {exc}") from None


def _merge(base: dict, override: dict) -> dict:
    out = dict(base)
    for k, v in override.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def _convert(tp: Any, value: Any, where: str) -> Any:
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        inner = [a for a in args if a is not type(None)]
        if len(inner) == 1:
            return _convert(inner[0], value, where)
        # Several alternatives (``bool | float | dict[str, float]``): the first that takes it.
        problems = []
        for alternative in inner:
            try:
                return _convert(alternative, value, where)
            except ConfigError as exc:
                problems.append(str(exc).removeprefix(f"{where}: "))
        raise ConfigError(f"{where}: {' or '.join(problems)}")
    if dataclasses.is_dataclass(tp):
        return from_dict(tp, value, where)
    if tp is Any:
        return value
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{where}: expected true or false, got {value!r}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{where}: expected an integer, got {value!r}")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{where}: expected a number, got {value!r}")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(f"{where}: expected a string, got {value!r}")
        return value
    if origin in (list, tuple):
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{where}: expected a list, got {value!r}")
        elem = args[0] if args else Any
        items = [_convert(elem, v, f"{where}[{i}]") for i, v in enumerate(value)]
        return tuple(items) if origin is tuple else items
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected a mapping, got {value!r}")
        kt, vt = args if args else (Any, Any)
        return {_convert(kt, k, f"{where}"): _convert(vt, v, f"{where}.{k}") for k, v in value.items()}
    raise ConfigError(f"{where}: unsupported configuration type {tp!r}")


def to_dict(obj: Any) -> Any:
    """A dataclass (tree) as plain YAML/JSON-able data."""
    if dataclasses.is_dataclass(obj):
        return {f.name: to_dict(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, (list, tuple)):
        return [to_dict(v) for v in obj]
    if isinstance(obj, dict):
        return {k: to_dict(v) for k, v in obj.items()}
    return obj


def load_yaml(path: str | Path) -> Any:
    import yaml

    p = Path(path)
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{p}: cannot read ({exc.strerror})") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise ConfigError(f"{p}:{line}: {utf8_error(data, exc.start)}") from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f":{mark.line + 1}" if mark is not None else ""
        why = " ".join(str(getattr(exc, "problem", None) or exc).split())  # one line
        raise ConfigError(f"{p}{line}: not valid YAML ({why})") from None
    except RecursionError:
        raise ConfigError(f"{p}: not readable: YAML nested too deeply") from None
    except ValueError as exc:  # e.g. an integer with more digits than Python converts
        raise ConfigError(f"{p}: not readable: {str(exc).split(';')[0]}") from None


def load_config(cls: type[T], path: str | Path, section: str | None = None) -> T:
    """``cls`` from a YAML file (or one top-level section of it); errors name file and key."""
    data = load_yaml(path)
    where = Path(path).name
    if section is not None:
        if not isinstance(data, dict) or section not in data:
            raise ConfigError(f"{where}: no section {section!r}")
        data, where = data[section], f"{where}:{section}"
    return from_dict(cls, data, where)
