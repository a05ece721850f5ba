"""`occle demo`: the README's main job."""

from __future__ import annotations

import argparse
from pathlib import Path

from occle_core.demos.real_data import (
    ENV_VAR,
    StepResult,
    default_real_data_dir,
    run_real_data_tour,
)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="run the end-to-end demo on the real sensor samples",
        description=(
            "Read the real KITTI, SemanticKITTI, nuScenes and Occ3D samples, project LiDAR into "
            "the camera images, aggregate and voxelise scans into the SemanticKITTI grid, render "
            "the Occ3D ground truth, and write PNGs, an official-format voxel file and "
            "summary.json to the output folder."
        ),
    )
    parser.add_argument(
        "--data",
        type=Path,
        default=None,
        help=f"real-samples folder (default: ${ENV_VAR} or ../shared/data/real)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=Path("results/demo"),
        help="output folder (default: %(default)s)",
    )
    parser.set_defaults(func=run)


def _print_step(result: StepResult) -> None:
    figures = ", ".join(f"{k}={v}" for k, v in result.figures.items())
    print(f"[{result.seconds:6.2f} s] {result.name}: {figures}")
    for output in result.outputs:
        print(f"           wrote {output}")


def run(args: argparse.Namespace) -> int:
    data = args.data or default_real_data_dir()
    print(f"occle demo: real samples from {data}, results in {args.out}")
    run_real_data_tour(Path(data), Path(args.out), report=_print_step)
    print(f"occle demo: done, see {args.out}/summary.json")
    return 0
