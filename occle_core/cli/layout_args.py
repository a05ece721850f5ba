"""Command-line options shared by the commands that read either dataset layout."""

from __future__ import annotations

import argparse


def add_layout_arguments(parser: argparse.ArgumentParser, occ3d_effect: str) -> None:
    """`--layout`, `--info-file` and `--sweeps`.

    Args:
        parser: the command's parser.
        occ3d_effect: what `--layout occ3d` changes for this command (ends the help text).
    """
    parser.add_argument(
        "--layout",
        choices=("semantickitti", "occ3d"),
        default="semantickitti",
        help=f"dataset layout; occ3d: --sequences are scene names, {occ3d_effect} "
        "(default: %(default)s)",
    )
    parser.add_argument(
        "--info-file",
        default="occle_infos.pkl",
        help="occ3d: info file or nuScenes tables folder (v1.0-trainval), relative to "
        "--dataset (default: %(default)s)",
    )
    parser.add_argument(
        "--sweeps", type=int, default=0, help="occ3d: LiDAR sweeps per key frame (default: 0)"
    )
