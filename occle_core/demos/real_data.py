"""The real-sample tour: read every real sensor sample, project, voxelise and render.

This is the README's main job until the synthetic world and training arrive: it exercises the
readers, the geometry core and the renderers on real KITTI, SemanticKITTI, nuScenes and Occ3D
files, and writes PNGs plus a `summary.json` with the measured figures.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from occle_core.data.nuscenes import (
    OCC3D_COLORS_RGB,
    OCC3D_FREE,
    find_occ3d_samples,
    load_nuscenes_sample,
    read_occ3d_labels,
)
from occle_core.data.semantickitti import SemanticKittiSequence, load_label_config, write_voxel_bits
from occle_core.data.semantickitti.files import read_velodyne
from occle_core.errors import DataFormatError
from occle_core.frame import Frame
from occle_core.geometry import (
    SEMANTICKITTI_GRID,
    CameraModel,
    aggregate_frames,
    project_points,
    voxelize,
)
from occle_core.io.atomic import atomic_write_bytes
from occle_core.io.images import read_image, write_png
from occle_core.viz import bev_height_image, bev_label_image, colorize_values, draw_points, mosaic

ENV_VAR = "OCCLE_REAL_DATA"


def default_real_data_dir() -> Path:
    """Where the real samples are: $OCCLE_REAL_DATA, else `../shared/data/real` from the current
    folder, else from the source checkout this package was installed from."""
    if os.environ.get(ENV_VAR):
        return Path(os.environ[ENV_VAR])
    candidates = [
        Path.cwd() / ".." / "shared" / "data" / "real",
        Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "real",
    ]
    for candidate in candidates:
        if candidate.is_dir():
            return candidate.resolve()
    return candidates[0]


@dataclass
class StepResult:
    """What one step of the tour produced."""

    name: str
    outputs: list[str] = field(default_factory=list)
    figures: dict[str, float | int] = field(default_factory=dict)
    seconds: float = 0.0


def _depth_overlay(frame: Frame, camera_index: int, max_depth: float) -> tuple[np.ndarray, int]:
    projection = project_points(frame.xyz, [frame.cameras[camera_index]], min_depth=1.0)
    valid = projection.valid[0]
    depth = projection.depth[0][valid]
    order = np.argsort(-depth)  # far first, so near points are drawn on top
    colors = colorize_values(depth[order], 0.0, max_depth)
    image = draw_points(
        frame.images[camera_index], projection.uv[0][valid][order], colors, radius=1
    )
    return image, int(valid.sum())


def kitti_projection(data: Path, out: Path) -> StepResult:
    """Project the KITTI object frame 000008 LiDAR into its colour image."""
    result = StepResult("kitti_object_projection")
    calib_file = data / "kitti_object" / "000008_calib.json"
    try:
        calib = json.loads(calib_file.read_text())
        rect_from_velo = np.asarray(calib["R0_rect"]) @ np.asarray(calib["Tr_velo_to_cam"])
        p2 = np.asarray(calib["P2_cam2img"])[:3, :]
    except (OSError, KeyError, ValueError) as error:
        raise DataFormatError(calib_file, f"cannot read KITTI calibration ({error})") from None
    image = read_image(data / "kitti_object" / "training" / "image_2" / "000008.png")
    camera = CameraModel.from_projection_matrix(
        "image_2", p2, rect_from_velo, image.shape[1], image.shape[0]
    )
    points = read_velodyne(data / "kitti_object" / "training" / "velodyne_reduced" / "000008.bin")
    frame = Frame(points=points, images=[image], cameras=[camera], frame_id="kitti_object/000008")
    overlay, visible = _depth_overlay(frame, 0, max_depth=50.0)
    write_png(out / "kitti_projection.png", overlay)
    result.outputs.append("kitti_projection.png")
    result.figures.update(points=len(points), projected_into_image=visible)
    return result


def semantickitti_voxels(data: Path, out: Path) -> StepResult:
    """Aggregate two real scans of sequence 00 with their poses and voxelise into the SSC grid."""
    result = StepResult("semantickitti_voxelisation")
    sequence = SemanticKittiSequence(data / "semantickitti", 0, labels=load_label_config())
    frames = [sequence.frame(i, load_image=False) for i in sequence.scan_ids]
    merged = aggregate_frames(frames, reference=frames[0])
    single = voxelize(frames[0].points, SEMANTICKITTI_GRID, max_points=10)
    both = voxelize(merged.points, SEMANTICKITTI_GRID, max_points=10)
    occupancy = both.occupancy(SEMANTICKITTI_GRID)
    # The official `.bin` format: bit-packed occupancy of the 256x256x32 grid.
    write_voxel_bits(out / "sequences" / "00" / "voxels" / "000000.bin", occupancy)
    write_png(
        out / "semantickitti_bev.png",
        np.kron(bev_height_image(occupancy), np.ones((2, 2, 1), np.uint8)),
    )
    result.outputs += ["sequences/00/voxels/000000.bin", "semantickitti_bev.png"]
    result.figures.update(
        scans=len(frames),
        points=len(merged.points),
        occupied_voxels_one_scan=single.num_voxels,
        occupied_voxels_aggregated=both.num_voxels,
        forward_motion_m=round(float(frames[-1].pose[0, 3] - frames[0].pose[0, 3]), 3),
    )
    return result


def nuscenes_projection(data: Path, out: Path) -> StepResult:
    """Project the nuScenes LIDAR_TOP sweep into all six cameras."""
    result = StepResult("nuscenes_surround_projection")
    root = data / "nuscenes"
    calib = root / "ca9a282c9e77460f8360f564131a8af5_calib.json"
    frame = load_nuscenes_sample(root, calib)
    tiles, per_camera = [], {}
    for index, camera in enumerate(frame.cameras):
        tile, visible = _depth_overlay(frame, index, max_depth=40.0)
        tiles.append(tile)
        per_camera[camera.name] = visible
    write_png(out / "nuscenes_projection.png", mosaic(tiles, columns=3, tile_width=640))
    seen = project_points(frame.xyz, frame.cameras, min_depth=1.0).valid.any(axis=0)
    result.outputs.append("nuscenes_projection.png")
    result.figures.update(
        points=len(frame.points),
        seen_by_any_camera=int(seen.sum()),
        **{f"in_{name}": n for name, n in per_camera.items()},
    )
    return result


def occ3d_ground_truth(data: Path, out: Path) -> StepResult:
    """Render the real Occ3D-nuScenes ground truth from above."""
    result = StepResult("occ3d_ground_truth")
    samples = find_occ3d_samples(data / "occ3d_nuscenes" / "gts")
    if not samples:
        raise DataFormatError(data / "occ3d_nuscenes" / "gts", "no labels.npz found")
    labels = read_occ3d_labels(samples[0].path)
    visible = np.where(labels.mask_camera, labels.semantics, OCC3D_FREE)
    image = bev_label_image(visible, OCC3D_COLORS_RGB, empty=OCC3D_FREE)
    write_png(out / "occ3d_bev.png", np.kron(image, np.ones((3, 3, 1), np.uint8)))
    result.outputs.append("occ3d_bev.png")
    counts = np.bincount(labels.semantics[labels.mask_camera].ravel(), minlength=18)
    result.figures.update(
        camera_visible_voxels=int(labels.mask_camera.sum()),
        occupied_visible_voxels=int(counts[:OCC3D_FREE].sum()),
    )
    return result


STEPS: tuple[Callable[[Path, Path], StepResult], ...] = (
    kitti_projection,
    semantickitti_voxels,
    nuscenes_projection,
    occ3d_ground_truth,
)


def run_real_data_tour(
    data: Path, out: Path, report: Callable[[StepResult], None] = lambda _: None
) -> list[StepResult]:
    """Run every step, write `summary.json`, and return the results.

    Args:
        data: the real-samples folder (layout of ../shared/data/real).
        out: output folder (created).
        report: called after each step, e.g. to print progress.
    """
    if not data.is_dir():
        raise DataFormatError(
            data,
            "real sample folder not found",
            f"the real-samples layout; pass --data or set {ENV_VAR}",
        )
    out.mkdir(parents=True, exist_ok=True)
    results = []
    for step in STEPS:
        start = time.perf_counter()
        result = step(data, out)
        result.seconds = round(time.perf_counter() - start, 3)
        results.append(result)
        report(result)
    summary = {"data": str(data), "steps": [asdict(r) for r in results]}
    atomic_write_bytes(out / "summary.json", json.dumps(summary, indent=2).encode())
    return results
