"""`occle kitti-raw`: write a SemanticKITTI-format sequence in the KITTI raw-data layout."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "kitti-raw",
        help="write a sequence (e.g. a synthetic one) in the KITTI raw-data layout",
        description=(
            "Write OUT/DATE/{calib_*.txt, DATE_drive_DRIVE_sync/{image_02, velodyne_points, "
            "oxts}} from a SemanticKITTI-format sequence, so tools made for KITTI raw drives "
            "(pykitti, kitti2mcap) read it. The IMU sits at the LiDAR; poses become OXTS "
            "packets around Karlsruhe."
        ),
    )
    parser.add_argument("--dataset", type=Path, required=True, help="dataset root")
    parser.add_argument("--sequence", required=True, metavar="XX")
    parser.add_argument("--out", type=Path, required=True, help="KITTI raw root to write")
    parser.add_argument("--date", default="2011_09_26")
    parser.add_argument("--drive", default="0001")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from occle_core.data.kitti_raw.writer import write_kitti_raw
    from occle_core.io.paths import check_arguments

    check_arguments(args, folders=["dataset"], out_folders=["out"])
    folder = write_kitti_raw(args.dataset, args.sequence, args.out, args.date, args.drive)
    print(f"wrote {folder}")
    print(
        f"convert: kitti2mcap --date {args.date} --drive {args.drive} "
        f"--kitti-dir {args.out} --output drive.mcap"
    )
    return 0
