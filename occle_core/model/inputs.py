"""From `Frame`s to the tensors the network reads.

`prepare_inputs` voxelises the points (VoxelNet style, on the output grid), resizes and
normalises the images to the configured size, and projects the fusion-grid voxel centres into
every camera. The projection depends only on the calibration, so `PixelMapCache` computes it
once per distinct camera set (a KITTI sequence has one; a nuScenes scene a handful).
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch.nn import functional as F

from occle_core.frame import Frame
from occle_core.geometry.camera import CameraModel
from occle_core.geometry.voxelize import VoxelizedPoints, voxelize
from occle_core.model.backbones_3d.voxel_encoder import VoxelBatch, batch_voxels
from occle_core.model.config import OccLEConfig
from occle_core.model.fusion.lifting import VoxelPixelMap

#: ImageNet statistics: what pretrained image backbones expect.
IMAGE_MEAN = (0.485, 0.456, 0.406)
IMAGE_STD = (0.229, 0.224, 0.225)


@dataclass(frozen=True)
class OccLEInputs:
    """One batch of network inputs.

    Attributes:
        voxels: the non-empty LiDAR voxels of the B frames on the output grid.
        images: (B, N, 3, H, W) float normalised images, (H, W) = `config.image_size`.
        pixel_map: batched (B, N, V, 2) projections of the V fusion-grid voxel centres.
    """

    voxels: VoxelBatch
    images: torch.Tensor
    pixel_map: VoxelPixelMap

    @property
    def batch_size(self) -> int:
        return int(self.images.shape[0])

    def to(self, device: torch.device | str) -> OccLEInputs:
        return OccLEInputs(
            self.voxels.to(device), self.images.to(device), self.pixel_map.to(device)
        )


def camera_key(cameras: Sequence[CameraModel]) -> str:
    """A digest of the calibration (intrinsics, extrinsics, size) of some cameras."""
    digest = hashlib.sha1()
    for camera in cameras:
        digest.update(np.asarray(camera.intrinsics, dtype=np.float64).tobytes())
        digest.update(np.asarray(camera.cam_from_ref, dtype=np.float64).tobytes())
        digest.update(f"{camera.width}x{camera.height}".encode())
    return digest.hexdigest()


class PixelMapCache:
    """Fusion-grid voxel-centre projections, computed once per distinct calibration.

    Args:
        config: the model configuration (its fusion grid).
        capacity: calibrations kept (least recently used are dropped).
    """

    def __init__(self, config: OccLEConfig, capacity: int = 32):
        self.centers = config.fusion_grid().voxel_centers().reshape(-1, 3)
        self.capacity = capacity
        self._maps: OrderedDict[str, VoxelPixelMap] = OrderedDict()

    def __call__(self, cameras: Sequence[CameraModel]) -> VoxelPixelMap:
        key = camera_key(cameras)
        if key in self._maps:
            self._maps.move_to_end(key)
            return self._maps[key]
        pixel_map = VoxelPixelMap.build(self.centers, cameras)
        self._maps[key] = pixel_map
        if len(self._maps) > self.capacity:
            self._maps.popitem(last=False)
        return pixel_map


def images_to_tensor(images: Sequence[np.ndarray], size: tuple[int, int]) -> torch.Tensor:
    """(H, W, 3) uint8 RGB images -> (N, 3, size[0], size[1]) normalised float32.

    Resizing keeps the lifting exact: voxel projections are stored in normalised image
    coordinates, which do not change when an image is scaled.
    """
    batch = torch.from_numpy(np.stack([np.ascontiguousarray(i) for i in images]))
    batch = batch.permute(0, 3, 1, 2).float().div_(255.0)
    if tuple(batch.shape[2:]) != tuple(size):
        batch = F.interpolate(
            batch, size=size, mode="bilinear", align_corners=False, antialias=True
        )
    mean = torch.tensor(IMAGE_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(IMAGE_STD).view(1, 3, 1, 1)
    return (batch - mean) / std


def prepare_inputs(
    frames: Sequence[Frame],
    config: OccLEConfig,
    pixel_maps: PixelMapCache | None = None,
    device: torch.device | str = "cpu",
    rng: np.random.Generator | None = None,
    voxelized: Sequence[VoxelizedPoints] | None = None,
) -> OccLEInputs:
    """Turn B frames into network inputs.

    Args:
        frames: frames whose points (already aggregated over time if wanted) and cameras are
            in the reference frame of `config.grid`; every frame has `config.num_cameras`
            images.
        config: the model configuration.
        pixel_maps: a cache to reuse across calls (one is made when None).
        device: where the tensors go.
        rng: random point sampling inside crowded voxels (training); deterministic when None.
        voxelized: the frames' points already voxelised on `config.grid` (callers that also
            need the point-to-voxel map, e.g. to vote labels per voxel, voxelise once).

    Raises:
        ValueError: no frames, or a frame whose camera count or images do not match the config.
    """
    if not frames:
        raise ValueError("prepare_inputs: no frames")
    cache = pixel_maps or PixelMapCache(config)
    for frame in frames:
        if frame.num_cameras != config.num_cameras or len(frame.images) != config.num_cameras:
            raise ValueError(
                f"frame {frame.frame_id or '?'}: {len(frame.images)} images and "
                f"{frame.num_cameras} cameras, model {config.name!r} expects "
                f"{config.num_cameras} of each"
            )
    voxels = (
        list(voxelized)
        if voxelized is not None
        else [
            voxelize(frame.points, config.grid, config.lidar.max_points_per_voxel, rng)
            for frame in frames
        ]
    )
    if len(voxels) != len(frames):
        raise ValueError(f"prepare_inputs: {len(voxels)} voxelisations for {len(frames)} frames")
    images = torch.stack([images_to_tensor(frame.images, config.image_size) for frame in frames])
    pixel_map = VoxelPixelMap.stack([cache(frame.cameras) for frame in frames])
    return OccLEInputs(
        voxels=batch_voxels(voxels, config.grid.shape),
        images=images,
        pixel_map=pixel_map,
    ).to(device)
