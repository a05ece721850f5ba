"""One scene of an Occ3D-nuScenes root, read like a SemanticKITTI sequence.

The training, inference and pseudo-label code walks "sequences" of numbered frames
(`SemanticKittiSequence`). A nuScenes scene is the same thing at 2 Hz: its key frames (samples),
in time order, numbered 0..K-1. Each frame is the key LiDAR sweep with `sweeps` earlier sweeps
moved into it (nuScenes' own way of densifying its 32-beam LiDAR), the six camera images, and
the ego pose; every key frame has Occ3D ground truth at `gts/<scene>/<token>/labels.npz`.

Occ3D's ground truth is evaluated inside `mask_camera` only; `voxel_ground_truth` marks the
voxels outside the chosen mask as 255 (unlabelled), which is how the Occ3D baselines train.
Our own caches for a scene (pseudo labels) go under `ROOT/occle/<scene>/`.
"""

from __future__ import annotations

import dataclasses
import os
from collections import defaultdict
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from occle_core.data.nuscenes.infos import read_nuscenes_infos
from occle_core.data.nuscenes.occ3d import OCC3D_CLASS_NAMES, OCC3D_FREE, read_occ3d_labels
from occle_core.data.nuscenes.sample import NuScenesCalibration, load_nuscenes_sample
from occle_core.data.nuscenes.tables import is_tables_folder, read_nuscenes_tables
from occle_core.data.semantickitti.sequence import VoxelGroundTruth, dataset_grid
from occle_core.errors import DataFormatError
from occle_core.frame import Frame
from occle_core.geometry.grid import OCC3D_GRID, GridSpec

Path_ = str | os.PathLike[str]
#: Our per-scene folder (pseudo-label caches) under the data root.
SCENE_DIR = "occle"


@dataclass(frozen=True)
class Occ3DClasses:
    """The label set, shaped like `SemanticKittiLabels` where the pipeline reads it."""

    class_names: tuple[str, ...] = OCC3D_CLASS_NAMES
    empty_label: int = OCC3D_FREE


def occ3d_dataset_grid(root: Path_) -> GridSpec:
    """The grid of an Occ3D root: from `occle_dataset.yaml` when present (synthetic tiny
    scenes), else the official 200 x 200 x 16 grid."""
    return dataset_grid(root, OCC3D_GRID)


class Occ3DScene:
    """Read access to the key frames of one scene.

    Args:
        root: nuScenes data root (holds samples/, sweeps/, gts/).
        scene: scene name.
        samples: the scene's samples (any order; sorted by time here).
        sweeps: earlier LiDAR sweeps aggregated into every frame.
        mask: "camera" (Occ3D's evaluation mask), "lidar" or "none": voxels outside it are
            unlabelled (255) in `voxel_ground_truth`.
        gts: folder of the Occ3D ground truth (default ROOT/gts).
        grid: the ground truth grid (default: `occ3d_dataset_grid(root)`).
    """

    def __init__(
        self,
        root: Path_,
        scene: str,
        samples: list[NuScenesCalibration],
        sweeps: int = 0,
        mask: str = "camera",
        gts: Path_ | None = None,
        grid: GridSpec | None = None,
    ):
        if mask not in ("camera", "lidar", "none"):
            raise ValueError(f"mask={mask!r}; expected 'camera', 'lidar' or 'none'")
        if not samples:
            raise DataFormatError(scene, "scene has no samples", "at least one key frame")
        self.root = Path(root)
        self.sequence = scene
        self.samples = sorted(samples, key=lambda s: s.timestamp)
        self.sweeps = sweeps
        self.mask = mask
        self.gts = Path(gts) if gts is not None else self.root / "gts"
        self.grid = grid or occ3d_dataset_grid(self.root)
        self.labels = Occ3DClasses()
        self.path = self.root / SCENE_DIR / scene

    @cached_property
    def scan_ids(self) -> list[int]:
        """Key frames 0..K-1 in time order."""
        return list(range(len(self.samples)))

    @cached_property
    def voxel_ids(self) -> list[int]:
        """Key frames with an Occ3D ground-truth file (looked up once: the dataset asks for
        every sample)."""
        return [i for i in self.scan_ids if self.gt_file(i).is_file()]

    @cached_property
    def poses(self) -> NDArray[np.float64]:
        """(K, 4, 4) world pose of the LiDAR of every key frame (ego2global @ lidar2ego): the
        origin of its rays. Frames themselves are in the ego frame (`Frame.pose` = ego2global);
        the sweeps of a frame are given the key sweep's origin."""
        return np.stack([s.ego2global @ s.lidar2ego for s in self.samples])

    def token(self, index: int) -> str:
        return self.samples[index].sample_token

    def gt_file(self, index: int) -> Path:
        return self.gts / self.sequence / self.token(index) / "labels.npz"

    def frame(self, index: int, load_image: bool = True) -> Frame:
        """Key frame `index` in the ego frame: LiDAR (+ sweeps), six images and cameras."""
        frame = load_nuscenes_sample(
            self.root, self.samples[index], load_images=load_image, sweeps=self.sweeps
        )
        return dataclasses.replace(frame, frame_id=f"{self.sequence}/{self.token(index)}")

    def voxel_ground_truth(self, index: int) -> VoxelGroundTruth:
        """Occ3D labels of key frame `index`; voxels outside the mask are 255."""
        labels = read_occ3d_labels(self.gt_file(index), self.grid.shape)
        semantics = labels.semantics.copy()
        observed = {
            "camera": labels.mask_camera,
            "lidar": labels.mask_lidar,
            "none": np.ones_like(labels.mask_camera),
        }[self.mask]
        semantics[~observed] = 255
        return VoxelGroundTruth(
            labels=semantics, invalid=~observed, occluded=None, scan_occupancy=None
        )


def gts_scene_index(gts: Path_) -> dict[str, str]:
    """Sample token -> scene name, from the Occ3D ground-truth folders `gts/<scene>/<token>/`
    (the only place the scene of a sample is written when the info file lacks it)."""
    index: dict[str, str] = {}
    root = Path(gts)
    if root.is_dir():
        for scene in root.iterdir():
            if scene.is_dir():
                index.update((token.name, scene.name) for token in scene.iterdir())
    return index


def scene_samples(
    info_file: Path_, gts: Path_ | None = None
) -> dict[str, list[NuScenesCalibration]]:
    """Samples of an info file (or the nuScenes tables) grouped by scene, in file order of
    first appearance.

    Args:
        info_file: the info file, or a folder of nuScenes tables (ROOT/v1.0-trainval).
        gts: the Occ3D ground-truth folder: where a sample names no scene (mmdetection3d's
            v1.1 converter drops it), its `gts/<scene>/<token>/` folder says which.

    Raises:
        DataFormatError: a sample whose scene neither the info file nor `gts` tells.
    """
    grouped: dict[str, list[NuScenesCalibration]] = defaultdict(list)
    from_gts: dict[str, str] | None = None
    samples = (
        read_nuscenes_tables(info_file)
        if is_tables_folder(info_file)
        else read_nuscenes_infos(info_file)
    )
    for sample in samples:
        scene = sample.scene
        if not scene and gts is not None:
            if from_gts is None:
                from_gts = gts_scene_index(gts)
            scene = from_gts.get(sample.sample_token, "")
            sample = dataclasses.replace(sample, scene=scene)
        if not scene:
            where = f" or a folder {Path(gts) / '<scene>' / sample.sample_token}" if gts else ""
            raise DataFormatError(
                info_file,
                f"sample {sample.sample_token} names no scene",
                f"samples with scene_name, scene_token or occ_path{where}",
            )
        grouped[scene].append(sample)
    return dict(grouped)


def open_occ3d_scenes(
    root: Path_,
    info_file: Path_,
    scenes: list[str],
    sweeps: int = 0,
    mask: str = "camera",
) -> list[Occ3DScene]:
    """The named scenes of an info file or a nuScenes tables folder such as v1.0-trainval
    (relative paths start at `root`).

    Raises:
        DataFormatError: a scene the info file does not hold (the known ones are listed).
    """
    path = Path(info_file) if Path(info_file).is_absolute() else Path(root) / info_file
    grouped = scene_samples(path, Path(root) / "gts")
    missing = [s for s in scenes if s not in grouped]
    if missing:
        raise DataFormatError(
            path, f"no samples of scene(s) {missing}", f"one of {sorted(grouped)[:20]}"
        )
    return [Occ3DScene(root, s, grouped[s], sweeps=sweeps, mask=mask) for s in scenes]
