"""One-line descriptions of every node parameter, read from the `Attributes:` sections of the
configuration dataclasses (one source for ROS parameter descriptors and the README table)."""

from __future__ import annotations

import dataclasses
import inspect
import re
import typing
from typing import Any

from occle_ros.pipeline.config import NodeConfig

_ENTRY = re.compile(r"^\s{0,8}(\w+): (.*)$")


def _attributes(cls: type) -> dict[str, str]:
    doc = inspect.getdoc(cls) or ""
    out: dict[str, str] = {}
    current = None
    for line in doc.split("Attributes:", 1)[-1].splitlines():
        match = _ENTRY.match(line)
        if match and match.group(1) in {f.name for f in dataclasses.fields(cls)}:
            current = match.group(1)
            out[current] = match.group(2).strip()
        elif current and line.strip():
            out[current] += " " + line.strip()
    return out


def parameter_descriptions(cls: type = NodeConfig, prefix: str = "") -> dict[str, str]:
    """Dotted parameter name -> description."""
    hints = typing.get_type_hints(cls)
    own = _attributes(cls)
    out: dict[str, str] = {}
    for field in dataclasses.fields(cls):
        hint: Any = hints[field.name]
        if isinstance(hint, type) and dataclasses.is_dataclass(hint):
            out.update(parameter_descriptions(hint, f"{prefix}{field.name}."))
        else:
            out[f"{prefix}{field.name}"] = own.get(field.name, "")
    return out
