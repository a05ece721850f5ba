"""Entry point of the `occle` command.

Each sub-command lives in its own module exposing ``register(subparsers)``, which adds its
parser and sets ``func`` (a callable taking the parsed namespace and returning an exit code).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from importlib.metadata import entry_points

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


#: Entry-point group through which installed packages add sub-commands (occle_core knows none of
#: them, so it stays usable alone): each entry point is a `register(subparsers)` function;
#: occle_ros registers to-bag, bag-eval and play (setup.py).
COMMAND_GROUP = "occle.commands"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="occle",
        description="OccLE: label-efficient 3D semantic occupancy from cameras and LiDAR.",
        epilog="Bad input (a wrong file, value or path) exits with status 2 and one line saying "
        "what and where; --debug (or OCCLE_DEBUG=1) shows the traceback instead.",
    )
    parser.add_argument("--version", action="version", version=f"occle {__version__}")
    parser.add_argument(
        "--debug", action="store_true", help="show tracebacks of input errors (OCCLE_DEBUG=1)"
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for command in _COMMANDS:
        command.register(subparsers)
    for entry in sorted(entry_points(group=COMMAND_GROUP), key=lambda e: e.name):
        register = entry.load()  # an installed plugin that fails to import is a broken install
        register(subparsers)
    return parser


def _describe(error: OSError) -> str:
    """One line for an OSError on a path: what the system said and about which path."""
    reason = error.strerror or type(error).__name__
    if error.filename is None:
        return str(error)
    where = f"{error.filename}" + (f" -> {error.filename2}" if error.filename2 else "")
    return f"{where}: {reason}"


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the process exit code.

    Bad input exits with 2 and one line: a `DataFormatError` (a wrong file or message, and its
    `ConfigError` kind for values and options) or an `OSError` on a path (a file where a folder
    belongs, a missing or unwritable folder). Everything else is a bug and keeps its traceback.
    """
    args = build_parser().parse_args(argv)
    debug = args.debug or os.environ.get("OCCLE_DEBUG", "") not in ("", "0")
    try:
        return int(args.func(args))
    except DataFormatError as error:
        if debug:
            raise
        print(f"occle {args.command}: error: {error}", file=sys.stderr)
        return 2
    except OSError as error:
        if debug:
            raise
        print(f"occle {args.command}: error: {_describe(error)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"occle {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
