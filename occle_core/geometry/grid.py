"""The voxel grid specification used by datasets, the model, metrics and the ROS message.

Convention (the one SemanticKITTI and Occ3D use): a grid is an axis-aligned box in a reference
frame (LiDAR for SemanticKITTI, ego for Occ3D). `origin` is the metric position of the outer
corner of voxel (0, 0, 0), so voxel (i, j, k) spans
``origin + [i, j, k] * voxel_size`` .. ``origin + [i+1, j+1, k+1] * voxel_size`` and its centre is
at ``origin + ([i, j, k] + 0.5) * voxel_size``. `origin`, `voxel_size` and `dims` are given per
metric axis (x, y, z). `axis_order` says how the arrays are laid out: array axis `a` runs along
metric axis `axis_order[a]`; "xyz" (the default and the dataset layout) means ``labels[i, j, k]``
with i along x, j along y, k along z, flattened in C order, so the flat index is
``(i * dims_y + j) * dims_z + k``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

_AXES = "xyz"


@dataclass(frozen=True)
class GridSpec:
    """An axis-aligned voxel grid.

    Attributes:
        origin: (x, y, z) metric position of the outer corner of voxel (0, 0, 0), metres.
        voxel_size: (x, y, z) edge lengths of one voxel, metres.
        dims: number of voxels along (x, y, z).
        axis_order: permutation of "xyz" giving the metric axis of each array axis.
        frame_id: name of the reference frame the grid is expressed in.
    """

    origin: tuple[float, float, float]
    voxel_size: tuple[float, float, float]
    dims: tuple[int, int, int]
    axis_order: str = "xyz"
    frame_id: str = "lidar"

    def __post_init__(self) -> None:
        if sorted(self.axis_order) != sorted(_AXES):
            raise ValueError(
                f"GridSpec.axis_order: {self.axis_order!r} is not a permutation of 'xyz'"
            )
        if len(self.origin) != 3 or len(self.voxel_size) != 3 or len(self.dims) != 3:
            raise ValueError("GridSpec: origin, voxel_size and dims need three values each")
        for name in ("origin", "voxel_size", "dims"):
            values = getattr(self, name)
            if not all(
                isinstance(v, int | float | np.number) and not isinstance(v, bool) for v in values
            ):
                raise ValueError(f"GridSpec.{name}: {values} must be three numbers")
        if not all(np.isfinite(s) and s > 0 for s in self.voxel_size):
            raise ValueError(f"GridSpec.voxel_size: {self.voxel_size} must be finite and positive")
        if not all(np.isfinite(o) for o in self.origin):
            raise ValueError(f"GridSpec.origin: {self.origin} must be finite")
        if any(int(d) != d or d <= 0 for d in self.dims):
            raise ValueError(f"GridSpec.dims: {self.dims} must be positive integers")

    @classmethod
    def from_range(
        cls,
        lower: tuple[float, float, float],
        upper: tuple[float, float, float],
        voxel_size: float,
        frame_id: str = "lidar",
    ) -> GridSpec:
        """Build a grid from a metric box [lower, upper) and a cubic voxel size."""
        x, y, z = (round((u - lo) / voxel_size) for lo, u in zip(lower, upper, strict=True))
        return cls(
            origin=(float(lower[0]), float(lower[1]), float(lower[2])),
            voxel_size=(voxel_size, voxel_size, voxel_size),
            dims=(x, y, z),
            frame_id=frame_id,
        )

    # --- derived layout -------------------------------------------------------------------------
    @property
    def permutation(self) -> tuple[int, int, int]:
        """Metric axis index (0=x, 1=y, 2=z) of each array axis."""
        return tuple(_AXES.index(a) for a in self.axis_order)  # type: ignore[return-value]

    @property
    def shape(self) -> tuple[int, int, int]:
        """Array shape of a label grid in this spec's axis order."""
        return tuple(self.dims[m] for m in self.permutation)  # type: ignore[return-value]

    @property
    def num_voxels(self) -> int:
        return int(np.prod(self.dims))

    @property
    def upper(self) -> tuple[float, float, float]:
        """(x, y, z) metric position of the far corner of the grid."""
        return tuple(
            o + s * d for o, s, d in zip(self.origin, self.voxel_size, self.dims, strict=True)
        )  # type: ignore[return-value]

    # --- conversions ----------------------------------------------------------------------------
    def points_to_indices(
        self, xyz: NDArray[np.floating]
    ) -> tuple[NDArray[np.int64], NDArray[np.bool_]]:
        """Voxel of each point.

        Args:
            xyz: (N, 3) metric points in the grid's frame.

        Returns:
            indices: (N, 3) int64 voxel indices in array axis order (meaningful where inside).
            inside: (N,) bool, True for points inside the grid box.
        """
        metric = np.floor(
            (xyz.astype(np.float64) - np.asarray(self.origin)) / np.asarray(self.voxel_size)
        ).astype(np.int64)
        inside = np.all((metric >= 0) & (metric < np.asarray(self.dims)), axis=1)
        return metric[:, self.permutation], inside

    def linear_indices(self, indices: NDArray[np.integer]) -> NDArray[np.int64]:
        """C-order flat index of (N, 3) array-order voxel indices."""
        return np.ravel_multi_index(tuple(indices.T.astype(np.int64)), self.shape).astype(np.int64)

    def unravel(self, linear: NDArray[np.integer]) -> NDArray[np.int64]:
        """(N,) flat indices to (N, 3) array-order voxel indices."""
        return np.stack(np.unravel_index(linear, self.shape), axis=1).astype(np.int64)

    def centers_of(self, indices: NDArray[np.integer]) -> NDArray[np.float32]:
        """Metric (x, y, z) centres of (N, 3) array-order voxel indices."""
        metric = np.empty_like(indices, dtype=np.float64)
        metric[:, list(self.permutation)] = indices
        centers = np.asarray(self.origin) + (metric + 0.5) * np.asarray(self.voxel_size)
        return centers.astype(np.float32)

    def voxel_centers(self) -> NDArray[np.float32]:
        """Metric centres of every voxel.

        Returns:
            (*shape, 3) float32 array; ``voxel_centers()[i, j, k]`` is the (x, y, z) centre of
            array voxel (i, j, k).
        """
        grid = np.stack(np.meshgrid(*(np.arange(n) for n in self.shape), indexing="ij"), axis=-1)
        return self.centers_of(grid.reshape(-1, 3)).reshape(*self.shape, 3)

    def to_dict(self) -> dict[str, object]:
        return {
            "origin": list(self.origin),
            "voxel_size": list(self.voxel_size),
            "dims": list(self.dims),
            "axis_order": self.axis_order,
            "frame_id": self.frame_id,
        }


#: SemanticKITTI SSC: 51.2 m ahead, 25.6 m to each side, -2.0..4.4 m, in the LiDAR frame.
SEMANTICKITTI_GRID = GridSpec(
    origin=(0.0, -25.6, -2.0), voxel_size=(0.2, 0.2, 0.2), dims=(256, 256, 32), frame_id="velodyne"
)

#: Occ3D-nuScenes: +-40 m around the ego vehicle, -1.0..5.4 m, in the ego frame.
OCC3D_GRID = GridSpec(
    origin=(-40.0, -40.0, -1.0), voxel_size=(0.4, 0.4, 0.4), dims=(200, 200, 16), frame_id="ego"
)
