"""A SemanticKITTI sequence folder as Frames and voxel ground truth; the prediction writer."""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np
import yaml
from numpy.typing import NDArray

from occle_core.data.semantickitti.calib import KittiCalibration, read_calib
from occle_core.data.semantickitti.files import (
    read_point_labels,
    read_velodyne,
    read_voxel_bits,
    read_voxel_labels,
    write_voxel_labels,
)
from occle_core.data.semantickitti.labels import SemanticKittiLabels, load_label_config
from occle_core.data.semantickitti.poses import read_poses, read_times
from occle_core.errors import DataFormatError
from occle_core.frame import Frame
from occle_core.geometry.grid import SEMANTICKITTI_GRID, GridSpec
from occle_core.io.images import read_image
from occle_core.occupancy import OccupancyGrid

Path_ = str | os.PathLike[str]

#: Optional file at a dataset root describing a non-standard grid (written by `occle synth`).
DATASET_FILE = "occle_dataset.yaml"


@dataclass(frozen=True)
class VoxelGroundTruth:
    """SSC ground truth of one frame, in training classes.

    Attributes:
        labels: (256, 256, 32) uint8 training class per voxel; 0 empty, 1..19 classes,
            255 ignored (raw ids that map to "unlabeled", and `.invalid` voxels).
        invalid: (256, 256, 32) bool, voxels never observed (excluded from evaluation).
        occluded: (256, 256, 32) bool or None when the file is absent.
        scan_occupancy: (256, 256, 32) bool occupancy of the single scan (`.bin`) or None.
    """

    labels: NDArray[np.uint8]
    invalid: NDArray[np.bool_]
    occluded: NDArray[np.bool_] | None
    scan_occupancy: NDArray[np.bool_] | None


def _numbered_files(folder: Path, suffix: str) -> list[int]:
    """Sorted frame numbers of `NNNNNN<suffix>` files in `folder` (other names are skipped)."""
    if not folder.is_dir():
        return []
    return sorted(int(p.stem) for p in folder.glob(f"*{suffix}") if p.stem.isdigit())


def dataset_grid(root: Path_, default: GridSpec = SEMANTICKITTI_GRID) -> GridSpec:
    """The voxel grid of a dataset root: from `occle_dataset.yaml` when present, else `default`
    (the official 256 x 256 x 32 SemanticKITTI grid; `OCC3D_GRID` for an Occ3D root)."""
    file = Path(root) / DATASET_FILE
    if not file.exists():
        return default
    try:
        grid = yaml.safe_load(file.read_text(encoding="utf-8"))["grid"]
        return GridSpec(
            origin=tuple(grid["origin"]),
            voxel_size=tuple(grid["voxel_size"]),
            dims=tuple(grid["dims"]),
            axis_order=grid.get("axis_order", "xyz"),
            frame_id=grid.get("frame_id", default.frame_id),
        )
    except (OSError, yaml.YAMLError, KeyError, TypeError, ValueError) as error:
        raise DataFormatError(
            file,
            f"cannot read the grid description ({error})",
            "a mapping 'grid' with origin, voxel_size, dims",
        ) from None


def sequence_dir(root: Path_, sequence: str | int) -> Path:
    """`ROOT/sequences/XX` with the sequence number zero-padded to two digits."""
    return Path(root) / "sequences" / f"{int(sequence):02d}"


class SemanticKittiSequence:
    """Read access to one sequence of a SemanticKITTI root.

    Args:
        root: folder holding `sequences/`.
        sequence: sequence number (e.g. 8 or "08").
        labels: label configuration (default: the official one).
        grid: SSC grid of the voxel files (default: `dataset_grid(root)`, i.e. 256 x 256 x 32
            unless the root's `occle_dataset.yaml` describes another grid).
    """

    def __init__(
        self,
        root: Path_,
        sequence: str | int,
        labels: SemanticKittiLabels | None = None,
        grid: GridSpec | None = None,
    ):
        self.root = Path(root)
        self.sequence = f"{int(sequence):02d}"
        self.path = sequence_dir(root, sequence)
        self.labels = labels or load_label_config()
        self.grid = grid or dataset_grid(root)
        #: NaN or infinite returns dropped from the scans read so far.
        self.non_finite_points = 0
        self._last_finite: tuple[int, NDArray[np.bool_]] | None = None
        if not self.path.is_dir():
            raise DataFormatError(
                self.path, "sequence folder not found", "ROOT/sequences/XX as in SemanticKITTI"
            )

    # --- sequence-wide files --------------------------------------------------------------------
    @cached_property
    def calib(self) -> KittiCalibration:
        return read_calib(self.path / "calib.txt")

    @cached_property
    def poses(self) -> NDArray[np.float64]:
        """(N, 4, 4) velodyne poses in the velodyne frame of scan 0 (identity if no poses.txt).

        Raises:
            DataFormatError: a poses.txt without a pose for every scan.
        """
        file = self.path / "poses.txt"
        if not file.exists():
            return np.tile(np.eye(4), (self._scans_needed(), 1, 1))
        poses = read_poses(file, self.calib.velo_to_cam0)
        self._check_one_per_scan(file, len(poses), "poses")
        return poses

    @cached_property
    def times(self) -> NDArray[np.float64]:
        """(N,) scan times in seconds (0.1 s apart if no times.txt)."""
        file = self.path / "times.txt"
        if not file.exists():
            return np.arange(self._scans_needed(), dtype=np.float64) * 0.1
        times = read_times(file)
        self._check_one_per_scan(file, len(times), "timestamps")
        return times

    def _scans_needed(self) -> int:
        """Rows a per-scan table needs: one per scan index up to the last scan."""
        return max(self.scan_ids, default=-1) + 1

    def _check_one_per_scan(self, file: Path, rows: int, what: str) -> None:
        needed = self._scans_needed()
        if rows < needed:
            raise DataFormatError(
                file,
                f"{rows} {what} for scans up to {needed - 1:06d}",
                f"one line per scan ({needed} lines), as SemanticKITTI has",
            )

    @cached_property
    def scan_ids(self) -> list[int]:
        """Indices of the scans present in `velodyne/`, sorted."""
        return _numbered_files(self.path / "velodyne", ".bin")

    @property
    def num_scans(self) -> int:
        return len(self.scan_ids)

    @cached_property
    def voxel_ids(self) -> list[int]:
        """Indices of the frames with voxel ground truth (`voxels/NNNNNN.label`), sorted."""
        return _numbered_files(self.path / "voxels", ".label")

    # --- per-frame files ------------------------------------------------------------------------
    def file(self, folder: str, index: int, suffix: str) -> Path:
        return self.path / folder / f"{index:06d}{suffix}"

    def _pose_and_time(self, index: int) -> tuple[NDArray[np.float64], float]:
        return self.poses[index], float(self.times[index])

    def scan(self, index: int) -> tuple[NDArray[np.float32], NDArray[np.bool_]]:
        """The points of scan `index` with a finite x, y, z, and which of the file's points
        they are (NaN and infinite returns are dropped and counted in `non_finite_points`).

        Raises:
            DataFormatError: a scan file without any point.
        """
        file = self.file("velodyne", index, ".bin")
        raw = read_velodyne(file)
        if len(raw) == 0:
            raise DataFormatError(file, "holds no points", "a LiDAR scan (float32 x, y, z, i)")
        finite = np.asarray(np.isfinite(raw[:, :3]).all(axis=1), dtype=np.bool_)
        self._last_finite = (index, finite)
        if finite.all():
            return raw, finite
        self.non_finite_points += int((~finite).sum())
        return raw[finite], finite

    def frame(self, index: int, load_image: bool = True, image: str = "image_2") -> Frame:
        """Frame `index`: its scan (finite points only), the colour image (when present) and
        calibration."""
        points, _ = self.scan(index)
        images, cameras = [], []
        image_file = self.file(image, index, ".png")
        if load_image and image_file.exists():
            pixels = read_image(image_file)
            images.append(pixels)
            cameras.append(self.calib.camera(image, width=pixels.shape[1], height=pixels.shape[0]))
        pose, time = self._pose_and_time(index)
        return Frame(
            points=points,
            images=images,
            cameras=cameras,
            pose=pose,
            time=time,
            frame_id=f"{self.sequence}/{index:06d}",
        )

    def point_labels(
        self, index: int, num_points: int | None = None
    ) -> tuple[NDArray[np.uint8], NDArray[np.uint16]]:
        """Training class (0..19) and instance id of every finite point of scan `index` (the
        points `frame` returns; `num_points`, when given, is checked against them)."""
        file = self.file("labels", index, ".label")
        if self._last_finite is not None and self._last_finite[0] == index:
            finite = self._last_finite[1]  # the scan `frame` just read: not read twice
        else:
            _, finite = self.scan(index)
        semantic, instance = read_point_labels(file, len(finite))
        semantic, instance = semantic[finite], instance[finite]
        if num_points is not None and len(semantic) != num_points:
            raise ValueError(f"{file}: {len(semantic)} labelled points, caller has {num_points}")
        return self.labels.to_learning(semantic, str(file), completion=False), instance

    def voxel_ground_truth(self, index: int) -> VoxelGroundTruth:
        """SSC ground truth of frame `index`; `.invalid` voxels are set to 255 in `labels`."""
        label_file = self.file("voxels", index, ".label")
        raw = read_voxel_labels(label_file, self.grid.shape)
        labels = self.labels.to_learning(raw, str(label_file), completion=True)
        invalid = read_voxel_bits(self.file("voxels", index, ".invalid"), self.grid.shape)
        labels[invalid] = 255
        occluded_file = self.file("voxels", index, ".occluded")
        scan_file = self.file("voxels", index, ".bin")
        return VoxelGroundTruth(
            labels=labels,
            invalid=invalid,
            occluded=read_voxel_bits(occluded_file, self.grid.shape)
            if occluded_file.exists()
            else None,
            scan_occupancy=read_voxel_bits(scan_file, self.grid.shape)
            if scan_file.exists()
            else None,
        )

    def ground_truth_grid(self, index: int) -> OccupancyGrid:
        """The voxel ground truth of frame `index` as an OccupancyGrid."""
        _, time = self._pose_and_time(index)
        return OccupancyGrid(
            grid=self.grid,
            labels=self.voxel_ground_truth(index).labels,
            class_names=self.labels.class_names,
            empty_label=0,
            stamp=time,
            frame_id=f"{self.sequence}/{index:06d}",
        )


def prediction_path(root: Path_, sequence: str | int, index: int) -> Path:
    """`ROOT/sequences/XX/predictions/NNNNNN.label` (the official submission layout)."""
    return sequence_dir(root, sequence) / "predictions" / f"{index:06d}.label"


def write_prediction(
    root: Path_,
    sequence: str | int,
    index: int,
    prediction: OccupancyGrid | NDArray[np.integer],
    labels: SemanticKittiLabels | None = None,
) -> Path:
    """Write a predicted grid of training classes as raw ids (learning_map_inv), uint16.

    Args:
        root: submission root (gets `sequences/XX/predictions/`).
        sequence: sequence number.
        index: frame number.
        prediction: (256, 256, 32) training classes 0..19, or an OccupancyGrid of them.
        labels: label configuration (default: official).

    Returns:
        The written file.
    """
    config = labels or load_label_config()
    classes = prediction.labels if isinstance(prediction, OccupancyGrid) else np.asarray(prediction)
    path = prediction_path(root, sequence, index)
    if classes.size and (classes.min() < 0 or classes.max() >= config.num_classes):
        raise DataFormatError(
            path,
            f"prediction holds class {int(classes.max())}",
            f"training classes 0..{config.num_classes - 1}",
        )
    write_voxel_labels(path, config.inverse_lut()[classes.astype(np.int64)])
    return path


def read_prediction(
    path: Path_,
    shape: tuple[int, int, int] = SEMANTICKITTI_GRID.shape,
    labels: SemanticKittiLabels | None = None,
) -> NDArray[np.uint8]:
    """Read a submission `.label` back to training classes (255 where a raw id maps to none)."""
    config = labels or load_label_config()
    raw = read_voxel_labels(path, shape)
    return config.to_learning(raw, str(path), completion=True)
