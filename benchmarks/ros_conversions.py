"""Benchmarks of the ROS side: PointCloud2 -> array, occupancy message + markers for a full
SemanticKITTI grid, CDR serialisation, and bag replay frames/s (tiny models, synthetic bags: a
SemanticKITTI sequence and an Occ3D surround scene).

    python benchmarks/ros_conversions.py [--replay] [--json OUT]

Prints best-of-N wall times in milliseconds (single thread of Python, numpy as installed).
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np


def best_ms(function: Callable[[], Any], repeats: int = 20) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        function()
        times.append(time.perf_counter() - started)
    return min(times) * 1e3


def kitti_like_grid() -> Any:
    """A full 256 x 256 x 32 grid with a driving-scene occupancy (~4.5 % occupied)."""
    from occle_core.data.semantickitti.labels import load_label_config
    from occle_core.geometry.grid import SEMANTICKITTI_GRID
    from occle_core.occupancy import OccupancyGrid

    rng = np.random.default_rng(0)
    labels = np.zeros(SEMANTICKITTI_GRID.shape, np.uint8)
    labels[:, :, 6:8] = rng.choice([9, 11, 17], size=labels[:, :, 6:8].shape)  # ground
    objects = rng.random(SEMANTICKITTI_GRID.shape) < 0.015
    labels[objects] = rng.choice([1, 13, 15, 18], size=int(objects.sum()))
    names = load_label_config().class_names
    return OccupancyGrid(SEMANTICKITTI_GRID, labels, names, stamp=1.0)


def conversions() -> dict[str, float]:
    from occle_core.viz.palette import class_colors
    from occle_ros.conversions.markers import VoxelPointCache, grid_to_cloud, grid_to_markers
    from occle_ros.conversions.occupancy import grid_to_message
    from occle_ros.conversions.pointcloud import array_to_cloud, cloud_to_array
    from occle_ros.messages import RosbagsFactory, typestore

    store = typestore("humble")
    factory = RosbagsFactory(store)
    rng = np.random.default_rng(0)
    points = rng.normal(size=(120_000, 4)).astype(np.float32)
    packed = array_to_cloud(factory, points, 0, "velodyne")
    ouster = array_to_cloud(factory, points, 0, "velodyne")
    record = np.zeros(
        len(points),
        dtype=[("xyz", "<f4", 3), ("pad", "<f4"), ("i", "<f4"), ("r", "<u2"), ("p", "V10")],
    )
    record["xyz"], record["i"] = points[:, :3], points[:, 3]
    ouster.data = record.view(np.uint8).reshape(-1)
    ouster.point_step, ouster.row_step = 32, 32 * len(points)
    ouster.fields[3].offset = 16
    grid = kitti_like_grid()
    colors = class_colors(grid.class_names)
    sparse = grid_to_message(factory, grid, "sparse")
    cache = VoxelPointCache(factory)
    markers = grid_to_markers(factory, grid, colors, 0, 20_000, cache=cache)
    return {
        "cloud 120k packed xyzi -> array (zero copy) ms": best_ms(lambda: cloud_to_array(packed)),
        "cloud 120k 32-byte Ouster-like -> array ms": best_ms(lambda: cloud_to_array(ouster)),
        "occupied voxels (KITTI grid)": float(grid.occupied_mask().sum()),
        "occupancy msg sparse encode ms": best_ms(lambda: grid_to_message(factory, grid, "sparse")),
        "occupancy msg dense encode ms": best_ms(lambda: grid_to_message(factory, grid, "dense")),
        "markers (cap 20k cubes), first frame ms": best_ms(
            lambda: grid_to_markers(factory, grid, colors, 0, 20_000), 5
        ),
        "markers (cap 20k cubes), cached points ms": best_ms(
            lambda: grid_to_markers(factory, grid, colors, 0, 20_000, cache=cache)
        ),
        "voxel cloud ms": best_ms(lambda: grid_to_cloud(factory, grid, 0)),
        "sparse msg CDR bytes": float(len(store.serialize_cdr(sparse, sparse.__msgtype__))),
        "sparse msg CDR serialise ms": best_ms(
            lambda: store.serialize_cdr(sparse, sparse.__msgtype__)
        ),
        "markers CDR serialise ms": best_ms(
            lambda: store.serialize_cdr(markers, markers.__msgtype__), 5
        ),
    }


def replay() -> dict[str, float]:
    import torch

    from occle_core.data.synthetic.generate import SynthConfig, write_synthetic_dataset
    from occle_core.model.build import build_model
    from occle_core.model.config import load_model_config
    from occle_core.runtime import ModelRunner
    from occle_ros.bag.replay import replay_bag
    from occle_ros.bag.to_bag import write_sequence_bag
    from occle_ros.pipeline.config import NodeConfig

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "synthetic"
        write_synthetic_dataset(
            root, [0], SynthConfig(frames=20, seed=0, scale="tiny", previews=False)
        )
        started = time.perf_counter()
        bag = write_sequence_bag(root, "00", Path(tmp) / "bag")
        to_bag = time.perf_counter() - started
        runner = ModelRunner(
            build_model(load_model_config("occle_tiny"), seed=0), torch.device("cpu")
        )
        report = replay_bag(bag, runner, NodeConfig(), out=Path(tmp) / "out")
    figures = {"to-bag 20 scans s": to_bag, "replay frames/s (tiny, CPU)": report.frames_per_second}
    for stage, stats in report.latency.items():
        figures[f"replay {stage} p50 ms"] = stats["p50_ms"]
    return figures


def replay_occ3d() -> dict[str, float]:
    """A 21-scan surround scene (5 key frames, six cameras) through `bag-eval` with the nuScenes
    parameters: frames/s and per-stage latency of the tiny Occ3D model, sweeps aggregated."""
    import torch

    from occle_core.cli.main import main as occle
    from occle_core.data.synthetic.surround import INFO_FILE
    from occle_core.model.build import build_model
    from occle_core.model.config import load_model_config
    from occle_core.runtime import ModelRunner
    from occle_ros.bag.occ3d_bag import write_occ3d_scene_bag
    from occle_ros.bag.replay import replay_bag
    from occle_ros.pipeline.config import load_node_config

    params = Path(__file__).resolve().parents[1] / "config" / "occle_nuscenes.yaml"
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "surround"
        synth = ["synth", "--layout", "occ3d", "--out", str(root), "--sequences", "0"]
        assert occle([*synth, "--frames", "21", "--no-preview"]) == 0
        started = time.perf_counter()
        bag = write_occ3d_scene_bag(root, INFO_FILE, "scene-0000", Path(tmp) / "bag")
        to_bag = time.perf_counter() - started
        runner = ModelRunner(
            build_model(load_model_config("occle_occ3d_tiny"), seed=0), torch.device("cpu")
        )
        report = replay_bag(bag, runner, load_node_config(params), out=Path(tmp) / "out")
    figures = {
        "occ3d to-bag 21 sweeps s": to_bag,
        "occ3d replay frames/s (tiny, 6 cams, CPU)": report.frames_per_second,
    }
    for stage, stats in report.latency.items():
        figures[f"occ3d replay {stage} p50 ms"] = stats["p50_ms"]
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--replay", action="store_true", help="also time bag replays (SemanticKITTI, Occ3D)"
    )
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    figures = conversions()
    if args.replay:
        figures.update(replay())
        figures.update(replay_occ3d())
    print(f"machine: {platform.processor() or platform.machine()}, {platform.python_version()}")
    for name, value in figures.items():
        print(f"{name:<52}{value:>12.2f}")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
