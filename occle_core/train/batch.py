"""Collating `TrainingSample`s into network inputs and loss targets."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from numpy.typing import NDArray

from occle_core.geometry.camera import CameraModel
from occle_core.geometry.voxelize import voxelize
from occle_core.model.config import OccLEConfig
from occle_core.model.inputs import OccLEInputs, PixelMapCache, camera_key, prepare_inputs
from occle_core.pseudo.lifting import vote_voxel_labels
from occle_core.train.budget import IGNORE
from occle_core.train.dataset import TrainingSample
from occle_core.train.sap import SapProjection


@dataclass
class TrainingBatch:
    """Inputs and targets of B samples.

    Attributes:
        keys: sample keys.
        inputs: network inputs.
        labels: (B, X, Y, Z) int64 voxel labels (255 = not supervised).
        truth: (B, X, Y, Z) int64 complete ground truth where known (255 elsewhere).
        occupancy: (B, x, y, z) int64 occupancy on the fusion grid from `labels`: 1 if a
            labelled voxel of the block is occupied, 0 if every voxel is labelled empty, else 255.
        evidence: (B, x, y, z) int8 LiDAR evidence (1 occupied, 0 free, -1 unknown).
        free_space: (B, X, Y, Z) bool full-resolution LiDAR free space (False where unknown).
        voxel_pseudo: (V,) int64 lifted pseudo label per input voxel (255 = unknown).
        dense_pseudo: (B, X, Y, Z) int64 dense voxel pseudo labels of key frames (255 = unknown
            or not available).
        image_pseudo: (B, N, H, W) int64 2D pseudo labels at camera resolution, or None.
        sap_projections: per sample, per camera, the voxel-to-pixel map of the SAP loss.
        sap_pseudo: per sample, per camera, (h, w) int64 pseudo labels on the SAP pixel grid.
    """

    keys: list[str]
    inputs: OccLEInputs
    labels: torch.Tensor
    truth: torch.Tensor
    occupancy: torch.Tensor
    evidence: torch.Tensor
    free_space: torch.Tensor
    voxel_pseudo: torch.Tensor
    dense_pseudo: torch.Tensor
    image_pseudo: torch.Tensor | None
    sap_projections: list[list[SapProjection]]
    sap_pseudo: list[list[torch.Tensor]]

    def to(self, device: torch.device | str) -> TrainingBatch:
        return TrainingBatch(
            self.keys,
            self.inputs.to(device),
            self.labels.to(device),
            self.truth.to(device),
            self.occupancy.to(device),
            self.evidence.to(device),
            self.free_space.to(device),
            self.voxel_pseudo.to(device),
            self.dense_pseudo.to(device),
            None if self.image_pseudo is None else self.image_pseudo.to(device),
            [[_projection_to(p, device) for p in sample] for sample in self.sap_projections],
            [[t.to(device) for t in sample] for sample in self.sap_pseudo],
        )


def _projection_to(projection: SapProjection, device: torch.device | str) -> SapProjection:
    return SapProjection(
        projection.voxel.to(device),
        projection.pixel.to(device),
        projection.group_start.to(device),
        projection.height,
        projection.width,
    )


def block_occupancy(
    labels: NDArray[np.uint8], stride: tuple[int, int, int], empty: int
) -> NDArray[np.uint8]:
    """Occupancy of the fusion grid's blocks from fine labels (see `TrainingBatch.occupancy`)."""
    shape = labels.shape
    padded_shape = tuple(-(-n // s) * s for n, s in zip(shape, stride, strict=True))
    padded = np.full(padded_shape, IGNORE, dtype=np.uint8)
    padded[: shape[0], : shape[1], : shape[2]] = labels
    blocks = padded.reshape(
        padded_shape[0] // stride[0],
        stride[0],
        padded_shape[1] // stride[1],
        stride[1],
        padded_shape[2] // stride[2],
        stride[2],
    ).transpose(0, 2, 4, 1, 3, 5)
    blocks = blocks.reshape(*blocks.shape[:3], -1)
    occupied = ((blocks != IGNORE) & (blocks != empty)).any(axis=-1)
    all_empty = (blocks == empty).all(axis=-1)
    out = np.full(blocks.shape[:3], IGNORE, dtype=np.uint8)
    out[all_empty] = 0
    out[occupied] = 1
    return out


class BatchBuilder:
    """Turns samples into `TrainingBatch`es, caching per-calibration projections.

    Args:
        config: the model configuration.
        sap_stride: pixel stride of the SAP pixel grid.
    """

    def __init__(self, config: OccLEConfig, sap_stride: int = 2):
        self.config = config
        self.sap_stride = sap_stride
        self.pixel_maps = PixelMapCache(config)
        self._voxel_centers = config.grid.voxel_centers().reshape(-1, 3)
        self._sap: OrderedDict[str, SapProjection] = OrderedDict()

    def _sap_projection(self, camera: CameraModel) -> SapProjection:
        key = camera_key([camera])
        if key not in self._sap:
            self._sap[key] = SapProjection.build(self._voxel_centers, camera, self.sap_stride)
            if len(self._sap) > 32:
                self._sap.popitem(last=False)
        return self._sap[key]

    def inputs(self, samples: Sequence[TrainingSample]) -> OccLEInputs:
        """Network inputs only (e.g. the mean teacher's clean view of augmented samples)."""
        return prepare_inputs([s.frame for s in samples], self.config, self.pixel_maps)

    def __call__(
        self, samples: Sequence[TrainingSample], rng: np.random.Generator | None = None
    ) -> TrainingBatch:
        config = self.config
        shape = config.grid.shape
        voxelized = [
            voxelize(s.frame.points, config.grid, config.lidar.max_points_per_voxel, rng)
            for s in samples
        ]
        inputs = prepare_inputs(
            [s.frame for s in samples], config, self.pixel_maps, rng=rng, voxelized=voxelized
        )
        votes = [
            vote_voxel_labels(v.point_voxel, s.point_pseudo, v.num_voxels, config.num_classes)
            for v, s in zip(voxelized, samples, strict=True)
        ]
        empty = np.full(shape, IGNORE, dtype=np.uint8)
        labels = np.stack([s.labels if s.labels is not None else empty for s in samples])
        truth = np.stack([s.truth if s.truth is not None else empty for s in samples])
        dense = np.stack([empty if s.dense_pseudo is None else s.dense_pseudo for s in samples])
        no_free = np.zeros(shape, dtype=bool)
        occupancy = np.stack(
            [block_occupancy(x, config.total_stride, config.empty_label) for x in labels]
        )
        image_pseudo = None
        sap_projections: list[list[SapProjection]] = []
        sap_pseudo: list[list[torch.Tensor]] = []
        if all(s.image_pseudo for s in samples):
            image_pseudo = torch.from_numpy(np.stack([np.stack(s.image_pseudo) for s in samples]))
            for s in samples:
                sap_projections.append([self._sap_projection(c) for c in s.frame.cameras])
                step = self.sap_stride
                sap_pseudo.append(
                    [torch.from_numpy(p[::step, ::step].astype(np.int64)) for p in s.image_pseudo]
                )
        return TrainingBatch(
            keys=[s.key for s in samples],
            inputs=inputs,
            labels=torch.from_numpy(labels.astype(np.int64)),
            truth=torch.from_numpy(truth.astype(np.int64)),
            occupancy=torch.from_numpy(occupancy.astype(np.int64)),
            evidence=torch.from_numpy(np.stack([s.evidence for s in samples])),
            free_space=torch.from_numpy(
                np.stack([no_free if s.free_space is None else s.free_space for s in samples])
            ),
            voxel_pseudo=torch.from_numpy(np.concatenate(votes).astype(np.int64)),
            dense_pseudo=torch.from_numpy(dense.astype(np.int64)),
            image_pseudo=None if image_pseudo is None else image_pseudo.long(),
            sap_projections=sap_projections,
            sap_pseudo=sap_pseudo,
        )
