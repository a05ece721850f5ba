"""`occle synth`: write synthetic sequences in exactly the SemanticKITTI layout.

Per sequence: velodyne/, labels/, image_2/, voxels/ (every `gt_every`-th frame: .label, .invalid,
.occluded, .bin), calib.txt, poses.txt, times.txt, plus side folders with what the real dataset
lacks: synthetic/semantic_2/ (2D labels, PNG, 255 = sky), synthetic/depth_2/ (uint16 PNG,
depth * 256, 0 = none: the KITTI depth convention), synthetic/instance_2/ (uint16 PNG, object
instance id, 0 = stuff or sky) and preview/ (PNG per frame). The root gets
`occle_dataset.yaml` describing the grid and the rig, which the readers use for non-standard
grids (the tiny scale).
"""

from __future__ import annotations

import contextlib
import functools
import time
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import yaml
from numpy.typing import NDArray

from occle_core.data.semantickitti.calib import KittiCalibration, write_calib
from occle_core.data.semantickitti.files import (
    write_point_labels,
    write_velodyne,
    write_voxel_bits,
    write_voxel_labels,
)
from occle_core.data.semantickitti.labels import load_label_config
from occle_core.data.semantickitti.poses import write_poses, write_times
from occle_core.data.semantickitti.sequence import DATASET_FILE, sequence_dir
from occle_core.data.synthetic.camera import CameraRender, render_camera
from occle_core.data.synthetic.lidar import LidarScan, simulate_scan
from occle_core.data.synthetic.preview import compose_preview
from occle_core.data.synthetic.rasterize import rasterize
from occle_core.data.synthetic.rig import SensorRig, kitti_like_rig
from occle_core.data.synthetic.street import Scene, generate_scene
from occle_core.data.synthetic.visibility import ScanView, observed_voxels, occluded_voxels
from occle_core.geometry.transforms import invert_rigid, transform_points
from occle_core.geometry.voxelize import voxelize
from occle_core.io.atomic import atomic_write_bytes
from occle_core.io.images import write_png

GENERATOR_VERSION = 1
FRAME_PERIOD_S = 0.1
#: Raw SemanticKITTI ids of moving things, by training class (the dataset's moving-* labels).
MOVING_RAW = {1: 252, 4: 258, 5: 259, 6: 254, 7: 253, 8: 255}
#: Street generated before the first pose and beyond the last one (the grid reaches 51.2 m
#: ahead and 25.6 m aside; the LiDAR sees 80 m).
_STREET_MARGIN_M = 120.0
#: Upper bound of the ego speeds the street sampler draws, m/s (sizes the street).
_MAX_EGO_SPEED = 15.0


@dataclass(frozen=True)
class SynthConfig:
    """What to generate.

    Attributes:
        frames: scans per sequence (10 Hz).
        seed: base seed; each sequence derives its own world from (seed, sequence).
        scale: "tiny" (small grid and image, seconds per sequence) or "full" (KITTI sizes).
        gt_every: voxel ground truth every n-th frame (5 in SemanticKITTI).
        window_before: earlier scans aggregated into the observed volume (`.invalid`).
        window_after: later scans aggregated into the observed volume.
        previews: write a preview PNG per frame.
    """

    frames: int = 20
    seed: int = 0
    scale: str = "tiny"
    gt_every: int = 5
    window_before: int = 5
    window_after: int = 15
    previews: bool = True


@dataclass
class SequenceReport:
    """What was written for one sequence.

    Attributes:
        sequence: two-digit sequence name.
        frames: scans written.
        gt_frames: frames with voxel ground truth.
        points_per_scan: mean returns per scan.
        class_voxels: training class -> labelled voxels over the GT frames.
        seconds: wall time per stage (scene, lidar, camera, ground_truth, visibility, write).
    """

    sequence: str
    frames: int
    gt_frames: list[int]
    points_per_scan: float
    class_voxels: dict[int, int]
    seconds: dict[str, float] = field(default_factory=dict)


class _StageTimer:
    """Accumulates wall time per named stage."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)

    @contextlib.contextmanager
    def __call__(self, stage: str) -> Iterator[None]:
        start = time.perf_counter()
        yield
        self.seconds[stage] += time.perf_counter() - start


def raw_point_labels(scan: LidarScan) -> NDArray[np.uint32]:
    """Raw SemanticKITTI ids of the returns: learning_map_inv, moving-* ids for moving things."""
    raw = load_label_config().inverse_lut()[scan.labels].astype(np.uint32)
    for cls, moving_raw in MOVING_RAW.items():
        raw[scan.moving & (scan.labels == cls)] = moving_raw
    return raw


def kitti_camera_poses(
    lidar_poses: NDArray[np.float64], velo_to_cam0: NDArray[np.float64]
) -> NDArray[np.float64]:
    """World LiDAR poses (N, 4, 4) -> the poses.txt content: cam0 poses in the cam0 frame of the
    first scan, ``Tr @ inv(L0) @ Li @ inv(Tr)``."""
    relative = invert_rigid(lidar_poses[0]) @ lidar_poses
    return velo_to_cam0 @ relative @ invert_rigid(velo_to_cam0)


def instance_to_png(instance: NDArray[np.integer]) -> NDArray[np.uint16]:
    """Object instance ids (0 = stuff or sky) -> uint16 PNG values."""
    if instance.size and (instance.min() < 0 or instance.max() > 65535):
        raise ValueError(f"instance ids {instance.min()}..{instance.max()} do not fit uint16")
    return instance.astype(np.uint16)


def depth_to_png(depth: NDArray[np.float32]) -> NDArray[np.uint16]:
    """Depth in metres -> KITTI depth PNG values (depth * 256, 0 = none)."""
    return np.clip(np.rint(depth * 256.0), 0, 65535).astype(np.uint16)


def sequence_seed(seed: int, sequence: str) -> int:
    """Seed of a sequence's world: different sequences get independent worlds."""
    return int(np.random.SeedSequence([seed, int(sequence)]).generate_state(1)[0])


class SequenceWriter:
    """Simulates one sequence and writes it.

    Args:
        root: dataset root (gets `sequences/XX/`).
        sequence: sequence number.
        config: what to generate.
        rig: the sensor rig (default: the KITTI-like rig of `config.scale`).
    """

    def __init__(
        self, root: Path, sequence: str | int, config: SynthConfig, rig: SensorRig | None = None
    ):
        self.sequence = f"{int(sequence):02d}"
        self.path = sequence_dir(root, self.sequence)
        self.config = config
        self.rig = rig or kitti_like_rig(config.scale)
        self.timer = _StageTimer()
        self.rng = np.random.default_rng(sequence_seed(config.seed, self.sequence))
        self.scene: Scene | None = None
        self.views: list[ScanView] = []
        self.scans: list[LidarScan] = []
        # (V, 3) voxel centres in the LiDAR frame, shared by every key frame of the sequence.
        self._grid_centers = self.rig.grid.voxel_centers().reshape(-1, 3).astype(np.float64)

    # --- stages ----------------------------------------------------------------------------------
    def build_scene(self) -> Scene:
        with self.timer("scene"):
            travel = _MAX_EGO_SPEED * FRAME_PERIOD_S * self.config.frames
            self.scene = generate_scene(
                sequence_seed(self.config.seed, self.sequence), length=travel + 2 * _STREET_MARGIN_M
            )
        return self.scene

    def lidar_pose(self, index: int) -> NDArray[np.float64]:
        """(4, 4) world pose of the LiDAR at frame `index`."""
        assert self.scene is not None
        return self.scene.ego_pose(index * FRAME_PERIOD_S) @ self.rig.vehicle_from_lidar()

    def simulate_frame(self, index: int) -> tuple[LidarScan, list[CameraRender]]:
        assert self.scene is not None
        primitives = self.scene.primitives_at(index * FRAME_PERIOD_S)
        pose = self.lidar_pose(index)
        with self.timer("lidar"):
            scan = simulate_scan(primitives, pose, self.rig.lidar, self.rng)
        with self.timer("camera"):
            renders = [
                render_camera(primitives, pose, camera, self.rig.lidar.max_range, self.rng)
                for camera in self.rig.cameras
            ]
        return scan, renders

    def write_frame(self, index: int, scan: LidarScan, renders: Sequence[CameraRender]) -> None:
        name = f"{index:06d}"
        with self.timer("write"):
            write_velodyne(self.path / "velodyne" / f"{name}.bin", scan.points)
            write_point_labels(
                self.path / "labels" / f"{name}.label",
                raw_point_labels(scan),
                scan.instance.astype(np.uint32),
            )
            for camera, render in zip(self.rig.cameras, renders, strict=True):
                suffix = camera.name.split("_")[-1]
                write_png(self.path / camera.name / f"{name}.png", render.image)
                write_png(
                    self.path / "synthetic" / f"semantic_{suffix}" / f"{name}.png", render.semantic
                )
                write_png(
                    self.path / "synthetic" / f"depth_{suffix}" / f"{name}.png",
                    depth_to_png(render.depth),
                )
                write_png(
                    self.path / "synthetic" / f"instance_{suffix}" / f"{name}.png",
                    instance_to_png(render.instance),
                )

    def ground_truth_labels(self, index: int) -> NDArray[np.uint8]:
        """(grid.shape) training classes of frame `index` from the scene geometry."""
        assert self.scene is not None
        with self.timer("ground_truth"):
            primitives = self.scene.primitives_at(index * FRAME_PERIOD_S)
            return rasterize(primitives, self.rig.grid, self.lidar_pose(index)).labels

    def write_ground_truth(self, index: int, labels: NDArray[np.uint8]) -> None:
        """Write `voxels/NNNNNN.{label,invalid,occluded,bin}` for frame `index`."""
        grid = self.rig.grid
        with self.timer("visibility"):
            centers_world = transform_points(self.lidar_pose(index), self._grid_centers)
            first = max(0, index - self.config.window_before)
            last = min(len(self.views), index + self.config.window_after + 1)
            margin = float(np.linalg.norm(grid.voxel_size)) / 2.0
            observed = observed_voxels(
                centers_world, self.views[first:last], self.rig.lidar, margin
            )
            occluded = occluded_voxels(centers_world, self.views[index], self.rig.lidar, margin)
            scan_occupancy = voxelize(self.scans[index].points, grid, max_points=1).occupancy(grid)
        name = f"{index:06d}"
        with self.timer("write"):
            raw = load_label_config().inverse_lut()[labels]
            write_voxel_labels(self.path / "voxels" / f"{name}.label", raw)
            write_voxel_bits(
                self.path / "voxels" / f"{name}.invalid", ~observed.reshape(grid.shape)
            )
            write_voxel_bits(
                self.path / "voxels" / f"{name}.occluded", occluded.reshape(grid.shape)
            )
            write_voxel_bits(self.path / "voxels" / f"{name}.bin", scan_occupancy)

    def write_sequence_files(self) -> None:
        """calib.txt, poses.txt (KITTI camera convention) and times.txt."""
        count = self.config.frames
        lidar_poses = np.stack([self.lidar_pose(i) for i in range(count)])
        with self.timer("write"):
            write_calib(
                self.path / "calib.txt",
                KittiCalibration(self.rig.projections, self.rig.velo_to_cam0),
            )
            write_poses(
                self.path / "poses.txt", kitti_camera_poses(lidar_poses, self.rig.velo_to_cam0)
            )
            write_times(self.path / "times.txt", np.arange(count) * FRAME_PERIOD_S)

    # --- the whole sequence ----------------------------------------------------------------------
    def run(self, progress: Callable[[str, int, int], None] = lambda *_: None) -> SequenceReport:
        """Simulate and write every frame, then the ground truth of the key frames."""
        self.build_scene()
        renders_by_frame: list[list[CameraRender]] = []
        for index in range(self.config.frames):
            scan, renders = self.simulate_frame(index)
            self.write_frame(index, scan, renders)
            self.scans.append(scan)
            self.views.append(ScanView(self.lidar_pose(index), scan.range_image))
            renders_by_frame.append(renders if self.config.previews else [])
            progress("scan", index + 1, self.config.frames)
        self.write_sequence_files()
        gt_frames = list(range(0, self.config.frames, self.config.gt_every))
        class_voxels: dict[int, int] = defaultdict(int)
        for index in range(self.config.frames):
            is_key = index in gt_frames
            if not (is_key or self.config.previews):
                continue
            labels = self.ground_truth_labels(index)
            if is_key:
                self.write_ground_truth(index, labels)
                for cls, count in enumerate(np.bincount(labels.ravel(), minlength=20)):
                    class_voxels[cls] += int(count)
            if self.config.previews:
                with self.timer("write"):
                    first = renders_by_frame[index][0]
                    preview = compose_preview(first.image, first.semantic, labels)
                    write_png(self.path / "preview" / f"{index:06d}.png", preview)
            progress("ground truth", index + 1, self.config.frames)
        points = np.mean([len(s.points) for s in self.scans]) if self.scans else 0.0
        return SequenceReport(
            self.sequence,
            self.config.frames,
            gt_frames,
            float(points),
            dict(class_voxels),
            {k: round(v, 3) for k, v in self.timer.seconds.items()},
        )


def dataset_description(config: SynthConfig, rig: SensorRig, sequences: Sequence[str]) -> dict:
    """Content of `occle_dataset.yaml`: how the dataset was made, its grid and rig."""
    return {
        "generator": "occle synth",
        "generator_version": GENERATOR_VERSION,
        "seed": config.seed,
        "scale": config.scale,
        "frames": config.frames,
        "gt_every": config.gt_every,
        "sequences": list(sequences),
        "grid": rig.grid.to_dict(),
        "lidar": {k: getattr(rig.lidar, k) for k in rig.lidar.__dataclass_fields__},
        "cameras": [{"name": c.name, "width": c.width, "height": c.height} for c in rig.cameras],
    }


def write_synthetic_dataset(
    root: str | Path,
    sequences: Sequence[str | int],
    config: SynthConfig,
    progress: Callable[[str, str, int, int], None] = lambda *_: None,
) -> list[SequenceReport]:
    """Generate every sequence under `root` and describe the dataset in `occle_dataset.yaml`.

    Args:
        root: dataset root (created).
        sequences: sequence numbers.
        config: what to generate.
        progress: called as (sequence, stage, done, total).

    Returns:
        One report per sequence.
    """
    names = [f"{int(s):02d}" for s in sequences]
    rig = kitti_like_rig(config.scale)
    root_path = Path(root)
    root_path.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(
        root_path / DATASET_FILE,
        yaml.safe_dump(dataset_description(config, rig, names), sort_keys=False).encode(),
    )
    reports = []
    for name in names:
        writer = SequenceWriter(root_path, name, config, rig)
        reports.append(writer.run(functools.partial(progress, name)))
    return reports
