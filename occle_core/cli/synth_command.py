"""`occle synth`: generate the synthetic driving dataset in the SemanticKITTI format, or seen by
a nuScenes-like surround rig in the Occ3D-nuScenes layout (`--layout occ3d`)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from occle_core.cli.progress import sequence_progress
from occle_core.data.synthetic.generate import SequenceReport, SynthConfig, write_synthetic_dataset
from occle_core.errors import ConfigError
from occle_core.io.paths import output_folder


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "synth",
        help="generate synthetic sequences in the SemanticKITTI format",
        description=(
            "Generate procedural streets (all 19 SemanticKITTI classes), drive a KITTI-like rig "
            "through them at 10 Hz, and write velodyne scans with point labels, camera images, "
            "calib/poses/times and voxel ground truth (every 5th frame) exactly as SemanticKITTI "
            "does, plus 2D labels, depth and preview images in side folders. With --layout "
            "occ3d: a 32-beam LiDAR and six surround cameras, written as nuScenes samples/ and "
            "sweeps/ (key frame every --gt-every scans), Occ3D gts/<scene>/<token>/labels.npz "
            "(semantics, mask_lidar, mask_camera), an mmdetection3d v1.1 info file and the same "
            "scenes as nuScenes tables (v1.0-occle/*.json)."
        ),
    )
    parser.add_argument(
        "--out", type=Path, required=True, help="dataset root to write (gets sequences/)"
    )
    parser.add_argument(
        "--sequences",
        nargs="+",
        default=["00"],
        metavar="XX",
        help="sequence numbers to generate (default: 00)",
    )
    parser.add_argument(
        "--frames", type=int, default=20, help="scans per sequence (default: %(default)s)"
    )
    parser.add_argument("--seed", type=int, default=0, help="world seed (default: %(default)s)")
    parser.add_argument(
        "--scale",
        choices=("tiny", "full"),
        default="tiny",
        help="tiny: 64x64x8 grid, 310x94 image, 32-beam LiDAR (seconds); full: "
        "256x256x32, 1241x376, 64 beams (KITTI sizes). Default: %(default)s",
    )
    parser.add_argument(
        "--gt-every",
        type=int,
        default=5,
        help="voxel ground truth every n-th frame (default: %(default)s)",
    )
    parser.add_argument("--no-preview", action="store_true", help="skip the preview PNGs")
    parser.add_argument(
        "--layout",
        choices=("semantickitti", "occ3d"),
        default="semantickitti",
        help="semantickitti: KITTI-like rig, sequences/XX; occ3d: nuScenes-like surround rig, "
        "scenes scene-NNNN in the Occ3D-nuScenes layout (tiny: 64x64x8 grid of 0.8 m over the "
        "inner 51.2 m, six 160x90 cameras; full: the 200x200x16 Occ3D grid, 1600x900). "
        "Default: %(default)s",
    )
    parser.set_defaults(func=run)


def _summary(report: SequenceReport) -> str:
    stages = ", ".join(f"{k} {v:.1f} s" for k, v in report.seconds.items())
    return (
        f"sequence {report.sequence}: {report.frames} frames, {len(report.gt_frames)} with voxel "
        f"ground truth, {report.points_per_scan:.0f} points per scan ({stages})"
    )


def _check_out(out: Path) -> None:
    """`synth` writes a whole dataset (its description lists exactly the sequences written):
    into a new or empty folder only, never over or beside another dataset."""
    output_folder(out, "--out")
    if out.is_dir() and any(out.iterdir()):
        held = ", ".join(sorted(p.name for p in out.iterdir())[:4])
        raise ConfigError("--out", f"{out} is not empty ({held})", "a new or empty folder")


def run(args: argparse.Namespace) -> int:
    _check_out(args.out)
    for name, value in (("--frames", args.frames), ("--gt-every", args.gt_every)):
        if value < 1:
            print(f"occle synth: error: {name} must be >= 1", file=sys.stderr)
            return 2
    try:
        sequences = [f"{int(s):02d}" for s in args.sequences]
    except ValueError:
        print(
            f"occle synth: error: --sequences takes numbers, got {args.sequences}", file=sys.stderr
        )
        return 2
    config = SynthConfig(
        frames=args.frames,
        seed=args.seed,
        scale=args.scale,
        gt_every=args.gt_every,
        previews=not args.no_preview,
    )
    print(
        f"occle synth: {len(sequences)} sequence(s) x {args.frames} frames, scale {args.scale}, "
        f"layout {args.layout}, seed {args.seed} -> {args.out}"
    )
    if args.layout == "occ3d":
        from occle_core.data.synthetic.surround_dataset import write_surround_dataset

        for scene in write_surround_dataset(
            args.out, sequences, config, progress=sequence_progress("scene")
        ):
            print(
                f"{scene.scene}: {scene.frames} scans, {scene.samples} key frames with Occ3D "
                f"ground truth, {scene.points_per_scan:.0f} points per scan, mask_lidar "
                f"{100 * scene.mask_lidar:.1f} % / mask_camera {100 * scene.mask_camera:.1f} % "
                "of the grid"
            )
        return 0
    for report in write_synthetic_dataset(
        args.out, sequences, config, progress=sequence_progress("sequence")
    ):
        print(_summary(report))
    return 0
