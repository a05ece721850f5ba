"""Label-ratio curve: OccLE and the labels-alone baseline at 1, 5, 10, 20, 50 and 100 % of the
labelled frames, and at 10 % of the voxels of every labelled frame, on one rig.

Every point is one `benchmarks/label_efficiency.py` protocol (same world, split, training seeds
and configuration) with runs (b) occle and (c) sparse at that ratio, in OUT/<mode>-<ratio>; all
of them read the one dataset in OUT/synthetic. At 100 % of the frames (b) is the all-labels run
(a) of the protocol. The script writes OUT/label_ratio_<split>.json (every protocol document),
OUT/label_ratio_<split>.md (the table) and OUT/label_ratio_<split>_miou.png and _iou.png (the
curves, one line per method, error bars = standard deviation over the training seeds).

    python benchmarks/label_ratio_curve.py --out results/label_ratio [--split val|test]
        [--layout semantickitti] [--train-seeds 0 1 2] [--jobs 2] [--report-only]

`--report-only` trains nothing: it writes the table and the plots from the points whose runs
are all trained and scored already (an interrupted curve; the missing points are left out).

Cost: 13 trained runs per training seed (about 10 minutes each for the tiny KITTI-like model
with two runs side by side on 2 cores).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from typing import Any

from label_efficiency import (
    Protocol,
    add_protocol_arguments,
    cached_result,
    make_dataset,
    protocol_from_arguments,
    run_protocol,
)

from occle_core.io.atomic import atomic_write_bytes
from occle_core.io.images import write_png
from occle_core.viz.plots import label_ratio_image

RATIOS = (0.01, 0.05, 0.1, 0.2, 0.5, 1.0)
METHODS = {"occle": "OccLE", "sparse": "labels alone"}


def point_name(mode: str, ratio: float) -> str:
    return f"{mode}-{ratio:g}"


def table(points: dict[str, dict[str, Any]]) -> str:
    """Markdown table of IoU and mIoU (mean ± std over the seeds) per point and method."""
    header = "| labels | label share | " + " | ".join(
        f"{label} IoU % | {label} mIoU %" for label in METHODS.values()
    )
    rows = [header + " |", "|" + "---|" * (2 + 2 * len(METHODS))]
    for name, document in points.items():
        runs = document["runs"]
        mode, ratio = name.split("-")
        what = f"{100 * float(ratio):g} % of the {'frames' if mode == 'frames' else 'voxels'}"
        share = 100 * runs["sparse"]["label_share"]
        cells = []
        for method in METHODS:
            run = runs[method]
            for metric in ("iou", "miou"):
                cells.append(f"{run[metric]['mean']:.2f} ± {run[metric]['std']:.2f}")
        rows.append(f"| {what} | {share:.1f} % | " + " | ".join(cells) + " |")
    return "\n".join(rows) + "\n"


def curves(
    points: dict[str, dict[str, Any]], metric: str
) -> tuple[list[float], dict[str, list[float]], dict[str, list[float]]]:
    """The frames-mode points as (ratios, method -> means, method -> spreads); NaN where a
    point is missing."""
    means: dict[str, list[float]] = {label: [] for label in METHODS.values()}
    spreads: dict[str, list[float]] = {label: [] for label in METHODS.values()}
    for ratio in RATIOS:
        document = points.get(point_name("frames", ratio))
        for method, label in METHODS.items():
            run = document["runs"][method] if document else None
            means[label].append(run[metric]["mean"] if run else math.nan)
            spreads[label].append(run[metric]["std"] if run else 0.0)
    return list(RATIOS), means, spreads


def point_is_done(protocol: Protocol) -> bool:
    """Whether every run of a point is trained and scored on the protocol's split."""
    return all(
        cached_result(protocol, protocol.out / method / f"seed-{seed}") is not None
        for method in METHODS
        for seed in protocol.train_seeds
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_protocol_arguments(parser, "results/label_ratio")
    parser.add_argument("--ratios", type=float, nargs="+", default=list(RATIOS))
    parser.add_argument(
        "--report-only", action="store_true", help="train nothing: report the finished points"
    )
    args = parser.parse_args()
    shared = protocol_from_arguments(args, args.out, 0.1, "frames")
    if not shared.dataset.exists() and not args.report_only:
        make_dataset(shared)
    points: dict[str, dict[str, Any]] = {}
    for mode, ratio in [*(("frames", r) for r in args.ratios), ("voxels", 0.1)]:
        folder = args.out / point_name(mode, ratio)
        protocol = protocol_from_arguments(args, folder, ratio, mode)
        if args.report_only and not point_is_done(protocol):
            continue
        folder.mkdir(parents=True, exist_ok=True)
        if not (folder / "synthetic").exists():
            (folder / "synthetic").symlink_to(shared.dataset.resolve())
        points[point_name(mode, ratio)] = run_protocol(protocol, tuple(METHODS), args.jobs)
    stem = args.out / f"label_ratio_{shared.scoring}"
    atomic_write_bytes(stem.with_suffix(".json"), (json.dumps(points, indent=2) + "\n").encode())
    text = table(points)
    atomic_write_bytes(stem.with_suffix(".md"), text.encode())
    print(text)
    for metric, label in (("miou", "mIoU"), ("iou", "IoU")):
        ratios, means, spreads = curves(points, metric)
        title = f"{args.layout} synthetic, {args.split} split"
        image = label_ratio_image(ratios, means, label, spreads, title=title)
        write_png(f"{stem}_{metric}.png", image)
    return 0


if __name__ == "__main__":
    sys.exit(main())
