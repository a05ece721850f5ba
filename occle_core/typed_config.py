"""Typed configurations from plain mappings (YAML) and back.

Every configuration in the project is a frozen dataclass. `from_mapping` builds one from a
dict, checking every key and value against the dataclass's type hints, so a typo or a wrong
type in a YAML file fails at load time with the file and the dotted key, not deep inside a
training run. `to_mapping` is the inverse (tuples become lists, so the result is plain YAML and
safe for `torch.load(weights_only=True)`).

Supported field types: bool, int, float, str, None unions (``X | None``), ``tuple[T, ...]``,
fixed tuples ``tuple[A, B, C]``, ``Literal[...]`` and nested dataclasses.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import os
import types
import typing
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

import yaml

from occle_core.errors import ConfigError, DataFormatError

T = TypeVar("T")


def _type_name(hint: Any) -> str:
    return getattr(hint, "__name__", None) or str(hint).replace("typing.", "")


def _convert(value: Any, hint: Any, source: str, key: str) -> Any:
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for option in (a for a in args if a is not type(None)):
            try:
                return _convert(value, option, source, key)
            except DataFormatError as error:
                errors.append(error.expected or error.problem)
        raise ConfigError(source, f"{key} = {value!r}", " or ".join(errors))
    if origin is typing.Literal:
        # YAML 1.1 reads a bare `off` / `on` as a boolean: `amp: off` means the option "off".
        if isinstance(value, bool) and ("on" if value else "off") in args:
            value = "on" if value else "off"
        if value not in args:
            raise ConfigError(source, f"{key} = {value!r}", f"one of {list(args)}")
        return value
    if origin is tuple:
        if isinstance(value, str | bytes) or not isinstance(value, Sequence):
            raise ConfigError(source, f"{key} = {value!r}", f"a list ({_type_name(hint)})")
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_convert(v, args[0], source, f"{key}[{i}]") for i, v in enumerate(value))
        if len(value) != len(args):
            raise ConfigError(source, f"{key} has {len(value)} values", f"{len(args)}")
        return tuple(
            _convert(v, a, source, f"{key}[{i}]")
            for i, (v, a) in enumerate(zip(value, args, strict=True))
        )
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        if not isinstance(value, Mapping):
            raise ConfigError(source, f"{key} = {value!r}", f"a mapping ({hint.__name__})")
        return _build(hint, value, source, key)
    if hint is bool:
        if not isinstance(value, bool):
            raise ConfigError(source, f"{key} = {value!r}", "true or false")
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(source, f"{key} = {value!r}", "an integer")
        return value
    if hint is float:
        number = value
        if isinstance(value, str):
            # YAML 1.1 (PyYAML) reads "1e-3" as a string; accept what Python reads as a number.
            with contextlib.suppress(ValueError):
                number = float(value)
        if isinstance(number, bool) or not isinstance(number, int | float):
            raise ConfigError(source, f"{key} = {value!r}", "a number")
        if not math.isfinite(number):
            raise ConfigError(source, f"{key} = {value!r}", "a finite number")
        return float(number)
    if hint is str:
        if not isinstance(value, str):
            raise ConfigError(source, f"{key} = {value!r}", "a string")
        return value
    if hint is Any:
        return value
    raise TypeError(f"typed_config: unsupported field type {hint!r} for {key}")


class _RequirementError(ValueError):
    """What `require` raises: its message already names the key."""


def require(condition: bool, key: str, value: Any, expected: str) -> None:
    """For `__post_init__` range checks: a ValueError naming the key, which `from_mapping`
    reports as a ConfigError of the file (NaN fails every comparison, so it never passes)."""
    if not condition:
        raise _RequirementError(f"{key} = {value!r} (expected {expected})")


def _build(cls: type[T], data: Mapping[str, Any], source: str, prefix: str) -> T:
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}  # type: ignore[arg-type]
    unknown = sorted(set(data) - set(fields))
    if unknown:
        where = f"{prefix}." if prefix else ""
        raise ConfigError(source, f"unknown key {where}{unknown[0]}", f"one of {sorted(fields)}")
    values = {}
    for name, field in fields.items():
        key = f"{prefix}.{name}" if prefix else name
        if name in data:
            values[name] = _convert(data[name], hints[name], source, key)
        elif field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING:
            raise ConfigError(source, f"missing key {key}", _type_name(hints[name]))
    try:
        return cls(**values)
    except (ValueError, TypeError) as error:
        if isinstance(error, DataFormatError):
            raise
        where = "" if isinstance(error, _RequirementError) else f"{prefix or cls.__name__}: "
        raise ConfigError(source, f"{where}{error}") from error


def from_mapping(cls: type[T], data: Mapping[str, Any], source: str = "<config>") -> T:
    """Build the dataclass `cls` from a mapping, checking keys and types.

    Args:
        cls: a dataclass type.
        data: its fields (missing ones take their defaults).
        source: what to name in errors (a file path).

    Raises:
        DataFormatError: an unknown or missing key, or a value of the wrong type, named by its
            dotted key.
    """
    if not isinstance(data, Mapping):
        raise ConfigError(source, f"top level is {type(data).__name__}", "a mapping")
    return _build(cls, data, source, "")


def to_mapping(config: Any) -> dict[str, Any]:
    """A dataclass as nested plain dicts, lists and scalars (inverse of `from_mapping`)."""

    def plain(value: Any) -> Any:
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
        if isinstance(value, tuple | list):
            return [plain(v) for v in value]
        return value

    result = plain(config)
    if not isinstance(result, dict):
        raise TypeError(f"to_mapping: {type(config).__name__} is not a dataclass instance")
    return result


def read_yaml(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a YAML mapping with the safe loader; errors name the file."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as error:
        raise DataFormatError(path, f"cannot read: {error.strerror}") from error
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise DataFormatError(path, f"invalid YAML: {error}") from error
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise DataFormatError(path, f"top level is {type(data).__name__}", "a mapping")
    return data


def load_config(cls: type[T], path: str | os.PathLike[str]) -> T:
    """Read a YAML file into the dataclass `cls` (see `from_mapping`)."""
    return from_mapping(cls, read_yaml(path), str(path))


def apply_overrides(
    data: dict[str, Any], overrides: Sequence[str], source: str = "<overrides>"
) -> dict[str, Any]:
    """Apply ``dotted.key=value`` overrides (values parsed as YAML) to a nested mapping.

    Returns a new mapping; keys are checked later by `from_mapping`.
    """
    result: dict[str, Any] = yaml.safe_load(yaml.safe_dump(data)) or {}
    for item in overrides:
        key, sep, text = item.partition("=")
        if not sep or not key:
            raise ConfigError(source, f"override {item!r}", "key=value")
        node = result
        parts = key.split(".")
        for part in parts[:-1]:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise ConfigError(source, f"override {item!r}: {part} is not a section")
            node = child
        try:
            node[parts[-1]] = yaml.safe_load(text)
        except yaml.YAMLError as error:
            raise ConfigError(source, f"override {item!r}: invalid value ({error})") from error
    return result
