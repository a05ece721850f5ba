"""`occle eval`: score predictions with the official SemanticKITTI SSC and Occ3D metrics."""

from __future__ import annotations

import argparse
from pathlib import Path

from occle_core.data.semantickitti.labels import load_label_config
from occle_core.eval.occ3d import evaluate_occ3d
from occle_core.eval.report import Scores, format_table, write_json_report
from occle_core.eval.semantickitti import SSCScores, evaluate_semantickitti
from occle_core.io.paths import check_arguments

_JSON_HELP = (
    "also write the scores as JSON to OUT (percent with 2 decimals: miou, per_class with "
    "null for classes absent from ground truth and prediction, num_frames%s); the file "
    "is replaced atomically and its folder created"
)


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add `occle eval semantickitti` and `occle eval occ3d` to the `occle` parser."""
    parser = subparsers.add_parser(
        "eval",
        help="score predictions with the official SemanticKITTI SSC or Occ3D-nuScenes metrics",
        description=(
            "Compare predicted voxel grids with the ground truth and print the per-class IoU and "
            "the summary metrics. The numbers are identical to the official evaluation scripts "
            "(semantic-kitti-api evaluate_completion.py; the Occ3D challenge's Metric_mIoU with "
            "the camera mask). Bad or missing files end the command with exit code 2 and a "
            "message naming the file."
        ),
    )
    benchmarks = parser.add_subparsers(dest="benchmark", metavar="BENCHMARK", required=True)
    _register_semantickitti(benchmarks)
    _register_occ3d(benchmarks)


def _register_semantickitti(benchmarks: argparse._SubParsersAction) -> None:
    parser = benchmarks.add_parser(
        "semantickitti",
        help="SemanticKITTI semantic scene completion (mIoU, completion IoU, precision, recall)",
        description=(
            "Evaluate SemanticKITTI SSC predictions. Every ground-truth frame "
            "ROOT/sequences/XX/voxels/NNNNNN.label (with its .invalid mask) of the chosen "
            "sequences needs a prediction PRED/sequences/XX/predictions/NNNNNN.label holding "
            "256x256x32 uint16 raw label ids (learning_map_inv of the training classes, as "
            "written by occle_core.data.semantickitti.write_prediction). Voxels whose ground "
            "truth is unlabeled or invalid are not counted. mIoU averages classes 1..19."
        ),
    )
    parser.add_argument(
        "--dataset",
        type=Path,
        required=True,
        metavar="ROOT",
        help="SemanticKITTI root: the folder that holds sequences/XX/voxels/",
    )
    parser.add_argument(
        "--predictions",
        type=Path,
        required=True,
        metavar="ROOT",
        help="submission root: the folder that holds sequences/XX/predictions/",
    )
    parser.add_argument(
        "--sequences",
        nargs="+",
        type=_sequence_number,
        default=None,
        metavar="XX",
        help="sequence numbers to evaluate, e.g. 08 (default: the 'valid' split of "
        "the label configuration, sequence 08 on the official one)",
    )
    parser.add_argument(
        "--label-config",
        type=Path,
        default=None,
        metavar="YAML",
        help="label configuration in the format of semantic-kitti.yaml (default: "
        "the official one shipped with occle)",
    )
    parser.add_argument(
        "--json",
        type=Path,
        default=None,
        metavar="OUT",
        help=_JSON_HELP % ", plus iou (completion), precision and recall",
    )
    parser.add_argument(
        "--render",
        type=Path,
        default=None,
        metavar="DIR",
        help="also write the confusion matrix and prediction-vs-ground-truth renderings (3D, "
        "top view, camera) of the last --render-frames frames of each sequence to DIR",
    )
    parser.add_argument(
        "--render-frames", type=int, default=2, help="frames to render per sequence (default: 2)"
    )
    parser.set_defaults(func=run_semantickitti)


def _register_occ3d(benchmarks: argparse._SubParsersAction) -> None:
    parser = benchmarks.add_parser(
        "occ3d",
        help="Occ3D-nuScenes occupancy mIoU inside the camera visibility mask",
        description=(
            "Evaluate Occ3D-nuScenes predictions. Every ground-truth sample "
            "GTS/<scene>/<token>/labels.npz needs a prediction PRED/<token>.npz holding the "
            "200x200x16 classes 0..17 under the key arr_0. Only voxels inside mask_camera are "
            "counted; mIoU averages classes 0..16 (free is left out) and skips classes absent "
            "from both ground truth and prediction."
        ),
    )
    parser.add_argument(
        "--gts",
        type=Path,
        required=True,
        metavar="ROOT",
        help="Occ3D ground-truth folder: the one that holds <scene>/<token>/labels.npz",
    )
    parser.add_argument(
        "--predictions",
        type=Path,
        required=True,
        metavar="ROOT",
        help="folder that holds one <token>.npz per ground-truth sample",
    )
    parser.add_argument(
        "--scenes",
        nargs="+",
        metavar="SCENE",
        help="only the samples of these scenes (a validation split); default: every scene",
    )
    parser.add_argument("--json", type=Path, default=None, metavar="OUT", help=_JSON_HELP % "")
    parser.set_defaults(func=run_occ3d)


def _sequence_number(text: str) -> int:
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"{text!r} is not a sequence number (e.g. 08)")
    return int(text)


def _finish(scores: Scores, json_path: Path | None) -> int:
    print(format_table(scores))
    if json_path is not None:
        write_json_report(json_path, scores)
        print(f"scores written to {json_path}")
    return 0


def run_semantickitti(args: argparse.Namespace) -> int:
    """Run `occle eval semantickitti`; returns the exit code."""
    check_arguments(
        args,
        files=["label_config"],
        folders=["dataset", "predictions"],
        out_files=["json"],
        out_folders=["render"],
    )
    labels = load_label_config(args.label_config)
    sequences = args.sequences if args.sequences is not None else labels.split.get("valid", [])
    scores = evaluate_semantickitti(args.dataset, args.predictions, sequences, labels)
    if args.render is not None:
        _render(args, sequences, scores)
    return _finish(scores, args.json)


def _render(args: argparse.Namespace, sequences: list[int], scores: SSCScores) -> None:
    from occle_core.data.semantickitti.sequence import (
        SemanticKittiSequence,
        prediction_path,
        read_prediction,
    )
    from occle_core.demos.render import render_confusion, render_frame_comparison

    written = [
        render_confusion(scores.confusion, scores.class_names, args.render / "confusion.png")
    ]
    for number in sequences:
        sequence = SemanticKittiSequence(args.dataset, number)
        for index in (
            sequence.voxel_ids[-max(args.render_frames, 0) :] if args.render_frames else []
        ):
            path = prediction_path(args.predictions, number, index)
            prediction = read_prediction(path, sequence.grid.shape, sequence.labels)
            written += render_frame_comparison(sequence, index, prediction, args.render)
    print(f"wrote {len(written)} renderings to {args.render}")


def run_occ3d(args: argparse.Namespace) -> int:
    """Run `occle eval occ3d`; returns the exit code."""
    check_arguments(args, folders=["gts", "predictions"], out_files=["json"])
    return _finish(evaluate_occ3d(args.gts, args.predictions, scenes=args.scenes), args.json)
