"""Where the shipped configuration files are, in a source checkout and once installed.

`config/models/*.yaml` and `config/train/*.yaml` live at the top of the repository (the ROS
package installs them to share/occle_ros/config, pip to share/occle/config). A configuration
can be named by path or by the stem of a shipped file (``occle_tiny``).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path


def config_dirs(kind: str) -> list[Path]:
    """Folders holding the shipped `kind` ("models" or "train") configurations, in priority
    order: the source tree, then the pip and colcon install locations."""
    return [
        Path(__file__).resolve().parents[1] / "config" / kind,
        Path(sys.prefix) / "share" / "occle" / "config" / kind,
        Path(sys.prefix) / "share" / "occle_ros" / "config" / kind,
    ]


def shipped_configs(kind: str) -> dict[str, Path]:
    """Stem -> file of every shipped `kind` configuration (earlier folders win)."""
    found: dict[str, Path] = {}
    for folder in reversed(config_dirs(kind)):
        found.update({f.stem: f for f in sorted(folder.glob("*.yaml"))})
    return found


def find_config(kind: str, name_or_path: str | os.PathLike[str]) -> Path:
    """A configuration file: an existing path, or the name of a shipped one.

    Raises:
        FileNotFoundError: neither; the message lists the shipped names.
    """
    path = Path(name_or_path)
    if path.is_file():
        return path
    shipped = shipped_configs(kind)
    name = path.name.removesuffix(".yaml")
    if name in shipped and path.parent == Path():
        return shipped[name]
    raise FileNotFoundError(
        f"{name_or_path}: no such {kind} config file, and not a shipped config name "
        f"(one of {sorted(shipped)})"
    )
