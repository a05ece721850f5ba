"""`occle infer`: predictions from a checkpoint in the official SemanticKITTI layout, or in the
Occ3D-nuScenes challenge layout (`--layout occ3d`)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from occle_core.cli.layout_args import add_layout_arguments
from occle_core.errors import ConfigError


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "infer",
        help="predict sequences with a trained checkpoint (official submission layout)",
        description=(
            "Load a checkpoint (its model configuration travels inside it), predict the frames "
            "a SemanticKITTI SSC submission needs (those with a voxels/ file, or --frame), and "
            "write OUT/sequences/XX/predictions/NNNNNN.label, which `occle eval "
            "semantickitti` scores. With --layout occ3d: predict every key frame of the named "
            "scenes of the info file and write OUT/<token>.npz, which `occle eval occ3d` scores."
        ),
    )
    parser.add_argument("--checkpoint", type=Path, required=True, help="checkpoint (.pt)")
    parser.add_argument(
        "--config",
        help="model configuration (file or shipped name); must match the checkpoint's",
    )
    parser.add_argument("--dataset", type=Path, required=True, help="dataset root")
    parser.add_argument("--sequences", nargs="+", default=["08"], metavar="XX")
    parser.add_argument("--out", type=Path, required=True, help="prediction root (created)")
    parser.add_argument("--frame", type=int, nargs="+", help="only these frame numbers")
    parser.add_argument("--scans", type=int, default=3, help="aggregated scans (default: 3)")
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda[:N]")
    parser.add_argument(
        "--prior-strength",
        type=float,
        metavar="S",
        help="strength of the class-prior correction of the decision (0: the plain argmax; "
        "default: the checkpoint's, chosen on validation in training; docs/training.md)",
    )
    parser.add_argument(
        "--mirror-occupancy",
        action="store_true",
        help="decide which voxels are occupied from each frame and its y-mirror together (two "
        "forward passes; the classes stay the frame's own; docs/training.md, lever 15)",
    )
    add_layout_arguments(parser, "every key frame is predicted as PRED/<token>.npz")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from occle_core.cli.progress import sequence_progress
    from occle_core.infer import infer_sequences
    from occle_core.io.paths import check_arguments
    from occle_core.runtime import ModelRunner, resolve_device

    check_arguments(args, files=["checkpoint"], folders=["dataset"], out_folders=["out"])
    if args.scans < 1:
        raise ConfigError("--scans", f"{args.scans}", ">= 1")
    if args.prior_strength is not None and not args.prior_strength >= 0:
        raise ConfigError("--prior-strength", f"{args.prior_strength}", ">= 0")
    resolve_device(args.device, "--device")  # refused before the checkpoint is read
    runner = ModelRunner.from_checkpoint(
        args.checkpoint, args.config or "", args.device, mirror_occupancy=args.mirror_occupancy
    )
    if args.prior_strength is not None:
        runner.model.set_prior_strength(args.prior_strength)
    show = sequence_progress("predicting")
    if args.layout == "occ3d":
        from occle_core.data.nuscenes.scene import open_occ3d_scenes
        from occle_core.infer import infer_occ3d_scenes

        scenes = open_occ3d_scenes(args.dataset, args.info_file, args.sequences, args.sweeps)
        written = infer_occ3d_scenes(
            runner,
            scenes,
            args.out,
            progress=lambda seq, done, total: show(seq, "key frames", done, total),
        )
        print(f"wrote {len(written)} predictions under {args.out}", file=sys.stdout)
        return 0
    written = infer_sequences(
        runner,
        args.dataset,
        args.sequences,
        args.out,
        frames=args.frame,
        scans=args.scans,
        progress=lambda seq, done, total: show(seq, "frames", done, total),
    )
    print(f"wrote {len(written)} predictions under {args.out}", file=sys.stdout)
    return 0
