"""Entry point of the `occle` command.

Each sub-command lives in its own module exposing ``register(subparsers)``, which adds its
parser and sets ``func`` (a callable taking the parsed namespace and returning an exit code).
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from occle_core import __version__
from occle_core.cli import (
    bench_command,
    demo_command,
    eval_command,
    infer_command,
    kitti_raw_command,
    pseudo_command,
    synth_command,
    train_command,
)
from occle_core.errors import DataFormatError

_COMMANDS = (
    bench_command,
    demo_command,
    eval_command,
    infer_command,
    kitti_raw_command,
    pseudo_command,
    synth_command,
    train_command,
)


#: Modules outside occle_core that add commands when installed (occle_core stays usable alone).
_PLUGINS = ("occle_ros.cli",)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="occle",
        description="OccLE: label-efficient 3D semantic occupancy from cameras and LiDAR.",
    )
    parser.add_argument("--version", action="version", version=f"occle {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for command in _COMMANDS:
        command.register(subparsers)
    for name in _PLUGINS:
        try:
            plugin = importlib.import_module(name)
        except ModuleNotFoundError as error:
            if error.name is None or not name.startswith(error.name):
                raise  # the plugin is there but broken: say so
            continue
        plugin.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the process exit code (2 for bad input, with a one-line reason)."""
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except DataFormatError as error:
        print(f"occle {args.command}: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
