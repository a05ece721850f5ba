#!/usr/bin/env python3
"""Benchmark of the synthetic world generator (`occle synth`): seconds per frame and per stage.

Generates a sequence at each scale into a temporary folder and prints, per stage (scene
generation, LiDAR ray casting, camera rendering, ground-truth rasterisation, visibility for
`.invalid`/`.occluded`, file writing), the total and the per-frame time, plus the cost of one
complete key frame (LiDAR + image + voxel ground truth).

    python benchmarks/bench_synth.py [--frames 10] [--scales full tiny] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from pathlib import Path

from occle_core.data.synthetic.generate import SynthConfig, write_synthetic_dataset

STAGES = ("scene", "lidar", "camera", "ground_truth", "visibility", "write")


def bench(scale: str, frames: int) -> dict[str, object]:
    config = SynthConfig(frames=frames, seed=0, scale=scale, previews=True)
    with tempfile.TemporaryDirectory() as folder:
        start = time.perf_counter()
        (report,) = write_synthetic_dataset(Path(folder), ["00"], config)
        wall = time.perf_counter() - start
    key_frames = len(report.gt_frames)
    per_frame = {s: report.seconds.get(s, 0.0) / frames for s in ("lidar", "camera")}
    per_key = {s: report.seconds.get(s, 0.0) / key_frames for s in ("visibility",)}
    # Previews rasterise every frame; a key frame's own ground truth is one rasterisation.
    raster = report.seconds.get("ground_truth", 0.0) / frames
    key_frame = per_frame["lidar"] + per_frame["camera"] + raster + per_key["visibility"]
    return {
        "scale": scale,
        "frames": frames,
        "key_frames": key_frames,
        "wall_s": wall,
        "points_per_scan": report.points_per_scan,
        "stages_s": report.seconds,
        "seconds_per_frame": wall / frames,
        "key_frame_s": key_frame,
    }


def cpu_name() -> str:
    """The CPU model (Linux), for the record next to the figures."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=10)
    parser.add_argument("--scales", nargs="+", default=["full", "tiny"], choices=["full", "tiny"])
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = parser.parse_args()
    print(
        f"machine: {platform.processor() or platform.machine()}, python {platform.python_version()}"
    )
    results = [bench(scale, args.frames) for scale in args.scales]
    header = f"{'stage [s total]':<22}" + "".join(f"{r['scale']:>12}" for r in results)
    print(header)
    print("-" * len(header))
    for stage in STAGES:
        print(f"{stage:<22}" + "".join(f"{r['stages_s'].get(stage, 0.0):>12.2f}" for r in results))
    print("-" * len(header))
    for key, label in (
        ("wall_s", "wall total"),
        ("seconds_per_frame", "wall per frame"),
        ("key_frame_s", "one key frame*"),
        ("points_per_scan", "points per scan"),
    ):
        print(f"{label:<22}" + "".join(f"{r[key]:>12.2f}" for r in results))
    print("* LiDAR + camera + voxel ground truth (rasterisation and visibility) of one frame")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
