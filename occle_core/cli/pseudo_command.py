"""`occle pseudo-label`: 2D pseudo labels, lifted to the scans, cached next to the dataset."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from occle_core.cli.layout_args import add_layout_arguments
from occle_core.pseudo.generate import PseudoLabelReport
from occle_core.pseudo.temporal import TemporalLifting
from occle_core.pseudo.voxels import VoxelWindow

#: Windows in key frames for Occ3D scenes (2 Hz, each with its LiDAR sweeps): about the same
#: seconds as the 10 Hz defaults would need far more frames for.
OCC3D_WINDOW = (6, 2)
OCC3D_VOXEL_WINDOW = (4, 4)
#: Occ3D scenes keep their trails: carving them gained nothing there (docs/training.md, lever 8).
OCC3D_CARVE_TRAILS = None
#: `--voxel-carve-trails` not given: the layout's default (not a string, so argparse keeps it).
_LAYOUT_DEFAULT = object()


def _scans_or_off(value: str) -> int | None:
    """`--voxel-carve-trails`: a scan count, or 'off'."""
    if value == "off":
        return None
    try:
        return int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a number of scans or 'off', got {value!r}"
        ) from None


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "pseudo-label",
        help="make 2D pseudo labels for every image and lift them to the LiDAR points",
        description=(
            "Label every image_2 image of the sequences with aligned 2D pseudo labels, then "
            "label every scan's points by a vote of the images of its window of frames (its own "
            "image 3 times, the others where their LiDAR saw the same surface), then give every "
            "key frame dense voxel pseudo labels from a window of labelled scans, and cache it "
            "all under sequences/XX/pseudo_labels/ (PNG, one uint8 per point, .npz grids). "
            "Source 'simulated': "
            "the simulated foundation model of synthetic scenes (exact 2D labels with "
            "realistic errors, then the real class alignment and Boolean merge). Source "
            "'transformers': real models from local folders (nothing is downloaded): a semantic "
            "segmenter (--segmenter, e.g. a Cityscapes SegFormer) and optionally Grounding DINO "
            "(--detector) + SAM (--sam) for the classes the segmenter lacks."
        ),
    )
    parser.add_argument("--dataset", type=Path, required=True, help="dataset root")
    parser.add_argument("--sequences", nargs="+", default=["00"], metavar="XX")
    parser.add_argument(
        "--source",
        choices=("simulated", "transformers"),
        default="simulated",
        help="where the 2D labels come from (default: %(default)s)",
    )
    parser.add_argument(
        "--target",
        choices=("semantickitti", "occ3d"),
        help="label set of the alignment table (default: the layout's)",
    )
    add_layout_arguments(
        parser,
        "every camera of every key frame is labelled, caches go to ROOT/occle/<scene>/",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the simulated errors")
    parser.add_argument("--segmenter", type=Path, help="semantic segmentation model folder")
    parser.add_argument("--detector", type=Path, help="Grounding DINO folder (open vocabulary)")
    parser.add_argument("--sam", type=Path, help="SAM folder (masks from the detector's boxes)")
    parser.add_argument("--box-threshold", type=float, default=0.35, help="detector box score")
    parser.add_argument("--text-threshold", type=float, default=0.25, help="detector text score")
    parser.add_argument("--device", default="cpu", help="device of the models (default: cpu)")
    defaults = TemporalLifting()
    parser.add_argument(
        "--window",
        type=int,
        nargs=2,
        metavar=("BACK", "FORWARD"),
        help="frames before and after each scan whose images label its points; 0 0 = its own "
        f"image only (default: {defaults.back} {defaults.forward} scans at 10 Hz; occ3d: "
        f"{OCC3D_WINDOW[0]} {OCC3D_WINDOW[1]} key frames at 2 Hz)",
    )
    voxel_defaults = VoxelWindow()
    parser.add_argument(
        "--voxel-window",
        type=int,
        nargs=2,
        metavar=("BACK", "FORWARD"),
        help="scans accumulated into the dense voxel pseudo labels of each key frame "
        f"(default: {voxel_defaults.back} {voxel_defaults.forward}; occ3d: "
        f"{OCC3D_VOXEL_WINDOW[0]} {OCC3D_VOXEL_WINDOW[1]} key frames)",
    )
    parser.add_argument(
        "--voxel-min-agreement",
        type=float,
        default=voxel_defaults.min_agreement,
        metavar="SHARE",
        help="label a dense voxel only when at least this share of its labelled points agree "
        "with the majority; the others stay unknown (default: %(default)s, every voxel)",
    )
    parser.add_argument(
        "--voxel-movable-reach",
        type=int,
        metavar="SCANS",
        help="points of movable classes (vehicles, people, riders) vote in the dense voxel "
        "pseudo labels only from the scans within SCANS of the key frame (0: the key scan; "
        "default: the whole window, so moving objects leave trails)",
    )
    parser.add_argument(
        "--voxel-follow-people",
        action="store_true",
        help="move the people and riders of the window's scans to where they are at the key "
        "frame (followed scan to scan) in the dense voxel pseudo labels; those not followed to "
        "the key frame are left out (default: off, they leave trails)",
    )
    parser.add_argument(
        "--voxel-carve-trails",
        type=_scans_or_off,
        default=_LAYOUT_DEFAULT,
        metavar="SCANS|off",
        help="make a dense voxel voted a movable class empty where the beams of the scans "
        "within SCANS of the key frame crossed it without a return: the trail a moving object "
        f"left (default: {voxel_defaults.carve_trails}, the key scan's beams; occ3d: off)",
    )
    parser.add_argument(
        "--voxel-vote-balance",
        type=float,
        default=voxel_defaults.vote_balance,
        metavar="EXPONENT",
        help="weigh each vote of a static class in a dense voxel's majority by (median class "
        "share / the class's share of the sequence's labelled points) ** EXPONENT, so that "
        "rare static classes (trunk, traffic sign) keep the voxels they share with a common "
        "stand-in (default: %(default)s, the plain majority: measured, the cleaner grids did "
        "not train better; docs/training.md, lever 9)",
    )
    parser.add_argument(
        "--no-empty",
        action="store_true",
        help="leave the free space of the voxel window unlabelled instead of marking it empty",
    )
    parser.add_argument(
        "--depth-tolerance",
        type=float,
        default=defaults.tolerance,
        metavar="M",
        help="how far (metres, or 3 %% of the depth) a point may lie off the surface another "
        "frame's LiDAR saw and still take that frame's label (default: %(default)s)",
    )
    parser.set_defaults(func=run)


def format_report(report: PseudoLabelReport) -> str:
    def pct(value: float | None) -> str:
        return "-" if value is None else f"{100 * value:.1f} %"

    return (
        f"sequence {report.sequence}: {report.frames} frames ({report.source}); 2D mIoU "
        f"{pct(report.image_miou)}, coverage {pct(report.image_coverage)}; lifted points mIoU "
        f"{pct(report.point_miou)} on {pct(report.point_coverage)} of the labelled points; "
        f"dense voxels of {report.voxel_frames} key frames mIoU {pct(report.voxel_miou)}, "
        f"{pct(report.voxel_coverage)} of the occupied voxels, empty voxels "
        f"{pct(report.voxel_empty_precision)} right"
    )


def run(args: argparse.Namespace) -> int:
    from occle_core.cli.progress import sequence_progress
    from occle_core.io.paths import check_arguments
    from occle_core.pseudo.alignment import load_alignment
    from occle_core.pseudo.generate import (
        PseudoLabeller,
        SimulatedLabeller,
        generate_pseudo_labels,
    )

    check_arguments(args, folders=["dataset", "segmenter", "detector", "sam"])
    target = args.target or args.layout
    alignment = load_alignment(target)
    labeller: PseudoLabeller
    settings: dict[str, object] = {"source": args.source, "target": target}
    if args.source == "simulated":
        labeller = SimulatedLabeller(alignment, None, args.seed)
        settings["seed"] = args.seed
    else:
        from occle_core.pseudo.foundation import (
            FoundationLabeller,
            GroundedSegmenter,
            SemanticSegmenter,
        )

        if args.segmenter is None or (args.detector is None) != (args.sam is None):
            print(
                "occle pseudo-label: error: --source transformers needs --segmenter, and "
                "--detector with --sam for the open-vocabulary classes",
                file=sys.stderr,
            )
            return 2
        segmenter = SemanticSegmenter(args.segmenter, alignment, args.device)
        grounded = None
        if args.detector is not None:
            grounded = GroundedSegmenter(
                args.detector,
                args.sam,
                alignment,
                args.box_threshold,
                args.text_threshold,
                args.device,
            )
        labeller = FoundationLabeller(segmenter, grounded)
        settings.update(
            segmenter=str(args.segmenter), detector=str(args.detector), sam=str(args.sam)
        )
    occ3d = args.layout == "occ3d"
    lifting_defaults, voxel_defaults = TemporalLifting(), VoxelWindow()
    window = args.window or (
        OCC3D_WINDOW if occ3d else (lifting_defaults.back, lifting_defaults.forward)
    )
    voxel_span = args.voxel_window or (
        OCC3D_VOXEL_WINDOW if occ3d else (voxel_defaults.back, voxel_defaults.forward)
    )
    try:
        lifting = TemporalLifting(back=window[0], forward=window[1], tolerance=args.depth_tolerance)
        voxel_window = VoxelWindow(
            voxel_span[0],
            voxel_span[1],
            empty=not args.no_empty,
            min_agreement=args.voxel_min_agreement,
            movable_reach=args.voxel_movable_reach,
            follow_people=args.voxel_follow_people,
            vote_balance=args.voxel_vote_balance,
            carve_trails=(
                args.voxel_carve_trails
                if args.voxel_carve_trails is not _LAYOUT_DEFAULT
                else (OCC3D_CARVE_TRAILS if occ3d else voxel_defaults.carve_trails)
            ),
        )
    except ValueError as error:
        print(f"occle pseudo-label: error: {error}", file=sys.stderr)
        return 2
    opened = None
    if occ3d:
        from occle_core.data.nuscenes.scene import open_occ3d_scenes

        opened = open_occ3d_scenes(args.dataset, args.info_file, args.sequences, args.sweeps)
        settings.update(layout="occ3d", info_file=args.info_file, sweeps=args.sweeps)
    show = sequence_progress("pseudo labels")
    reports = generate_pseudo_labels(
        args.dataset,
        args.sequences,
        labeller,
        settings=settings,
        progress=lambda seq, done, total: show(seq, "images, scans, key frames", done, total),
        lifting=lifting,
        voxel_window=voxel_window,
        opened=opened,
    )
    for report in reports:
        print(format_report(report), file=sys.stdout)
    return 0
