"""Analytic primitives the synthetic world is built from, stored as arrays (struct of arrays).

Three kinds cover a street: yaw-rotated boxes (road slabs, buildings, vehicles, fences, signs),
vertical cylinders (poles, trunks, persons' bodies) and ellipsoids (tree crowns, bushes). Every
primitive has a local frame: centre `center`, rotated by `yaw` about the world z axis; `half`
holds the half extents along its local axes (box: hx, hy, hz; cylinder: radius, radius, hz;
ellipsoid: rx, ry, rz).

Keeping them as arrays lets the ray caster and the voxel rasteriser evaluate thousands of
(ray, primitive) pairs in one vectorised call.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import IntEnum

import numpy as np
from numpy.typing import NDArray


class Kind(IntEnum):
    """Primitive kind codes stored in `Primitives.kind`."""

    BOX = 0
    CYLINDER = 1
    ELLIPSOID = 2


@dataclass(frozen=True)
class Primitive:
    """One primitive, the unit the scene generator emits.

    Attributes:
        kind: box, cylinder or ellipsoid.
        center: (x, y, z) world position of the local origin at time 0, metres.
        half: half extents along the local axes, metres.
        yaw: rotation about world z, radians.
        label: SemanticKITTI training class 1..19.
        instance: instance id (0 for stuff such as road or vegetation).
        color: base RGB colour for the camera.
        reflectivity: LiDAR reflectance of the material, 0..1.
        velocity: (vx, vy) world velocity in m/s (0 for static objects).
        texture: amplitude of the camera texture noise, 0..1.
    """

    kind: Kind
    center: tuple[float, float, float]
    half: tuple[float, float, float]
    yaw: float
    label: int
    instance: int = 0
    color: tuple[int, int, int] = (128, 128, 128)
    reflectivity: float = 0.3
    velocity: tuple[float, float] = (0.0, 0.0)
    texture: float = 0.1


@dataclass(frozen=True)
class Primitives:
    """K primitives as arrays.

    Attributes:
        kind: (K,) int8 Kind codes.
        center: (K, 3) float64 world centres.
        half: (K, 3) float64 half extents.
        yaw: (K,) float64 rotation about z.
        label: (K,) uint8 training classes.
        instance: (K,) int32 instance ids.
        color: (K, 3) uint8 RGB.
        reflectivity: (K,) float32.
        velocity: (K, 2) float64 world xy velocity.
        texture: (K,) float32 texture amplitude.
    """

    kind: NDArray[np.int8]
    center: NDArray[np.float64]
    half: NDArray[np.float64]
    yaw: NDArray[np.float64]
    label: NDArray[np.uint8]
    instance: NDArray[np.int32]
    color: NDArray[np.uint8]
    reflectivity: NDArray[np.float32]
    velocity: NDArray[np.float64]
    texture: NDArray[np.float32]

    @classmethod
    def from_list(cls, items: Sequence[Primitive]) -> Primitives:
        """Pack a list of primitives into arrays."""
        return cls(
            kind=np.array([p.kind for p in items], dtype=np.int8),
            center=np.array([p.center for p in items], dtype=np.float64).reshape(-1, 3),
            half=np.array([p.half for p in items], dtype=np.float64).reshape(-1, 3),
            yaw=np.array([p.yaw for p in items], dtype=np.float64),
            label=np.array([p.label for p in items], dtype=np.uint8),
            instance=np.array([p.instance for p in items], dtype=np.int32),
            color=np.array([p.color for p in items], dtype=np.uint8).reshape(-1, 3),
            reflectivity=np.array([p.reflectivity for p in items], dtype=np.float32),
            velocity=np.array([p.velocity for p in items], dtype=np.float64).reshape(-1, 2),
            texture=np.array([p.texture for p in items], dtype=np.float32),
        )

    def __len__(self) -> int:
        return int(self.kind.shape[0])

    def at_time(self, seconds: float) -> Primitives:
        """The primitives with moving ones advanced by `velocity * seconds`."""
        if not self.velocity.any():
            return self
        center = self.center.copy()
        center[:, :2] += self.velocity * seconds
        return Primitives(
            self.kind,
            center,
            self.half,
            self.yaw,
            self.label,
            self.instance,
            self.color,
            self.reflectivity,
            self.velocity,
            self.texture,
        )

    @property
    def is_moving(self) -> NDArray[np.bool_]:
        """(K,) True for primitives with a non-zero velocity."""
        return np.any(self.velocity != 0.0, axis=1)

    def bounding_radius(self) -> NDArray[np.float64]:
        """(K,) radius of a sphere around each centre that contains the whole primitive."""
        return np.linalg.norm(self.half, axis=1)

    def to_local(
        self, points: NDArray[np.floating], index: NDArray[np.intp]
    ) -> NDArray[np.float64]:
        """Express points in the local frames of primitives.

        Args:
            points: (M, 3) world points.
            index: (M,) primitive of each point.

        Returns:
            (M, 3) coordinates in each primitive's local frame.
        """
        return self.rotate_to_local(points - self.center[index], index)

    def point_in_every_frame(self, point: NDArray[np.floating]) -> NDArray[np.float64]:
        """(K, 3) one world point (3,) expressed in the local frame of every primitive."""
        every = np.arange(len(self))
        return self.to_local(np.broadcast_to(np.asarray(point, np.float64), (len(self), 3)), every)

    def rotate_to_local(
        self, vectors: NDArray[np.floating], index: NDArray[np.intp]
    ) -> NDArray[np.float64]:
        """Rotate (M, 3) world direction vectors into the local frames of primitives `index`."""
        cos, sin = np.cos(self.yaw[index]), np.sin(self.yaw[index])
        v = np.asarray(vectors, dtype=np.float64)
        local = np.empty_like(v)
        local[:, 0] = cos * v[:, 0] + sin * v[:, 1]
        local[:, 1] = -sin * v[:, 0] + cos * v[:, 1]
        local[:, 2] = v[:, 2]
        return local

    def rotate_to_world(
        self, vectors: NDArray[np.floating], index: NDArray[np.intp]
    ) -> NDArray[np.float64]:
        """Rotate (M, 3) local direction vectors of primitives `index` into the world frame."""
        cos, sin = np.cos(self.yaw[index]), np.sin(self.yaw[index])
        world = np.empty_like(vectors, dtype=np.float64)
        world[:, 0] = cos * vectors[:, 0] - sin * vectors[:, 1]
        world[:, 1] = sin * vectors[:, 0] + cos * vectors[:, 1]
        world[:, 2] = vectors[:, 2]
        return world

    def local_corners(self) -> NDArray[np.float64]:
        """(K, 8, 3) world corners of each primitive's local bounding box."""
        signs = np.array(
            [[sx, sy, sz] for sx in (-1, 1) for sy in (-1, 1) for sz in (-1, 1)], dtype=np.float64
        )
        local = signs[None, :, :] * self.half[:, None, :]
        cos, sin = np.cos(self.yaw)[:, None], np.sin(self.yaw)[:, None]
        world = np.empty_like(local)
        world[..., 0] = cos * local[..., 0] - sin * local[..., 1] + self.center[:, None, 0]
        world[..., 1] = sin * local[..., 0] + cos * local[..., 1] + self.center[:, None, 1]
        world[..., 2] = local[..., 2] + self.center[:, None, 2]
        return world
