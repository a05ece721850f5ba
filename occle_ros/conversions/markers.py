"""OccupancyGrid -> visualization_msgs/MarkerArray (one CUBE_LIST per class) and a labelled
PointCloud2 of occupied voxel centres."""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from occle_core.occupancy import OccupancyGrid
from occle_ros.conversions.pointcloud import labelled_points_cloud
from occle_ros.messages import MessageFactory, header

CUBE_LIST, ADD, DELETEALL = 6, 0, 3


def decimate(indices: NDArray[np.int64], cap: int) -> NDArray[np.int64]:
    """At most `cap` of the (ascending) indices, evenly spread over the list.

    RViz slows down past ~20k cubes; an even stride keeps every region of the grid visible.
    """
    if cap <= 0 or len(indices) <= cap:
        return indices
    keep = np.linspace(0, len(indices) - 1, cap).round().astype(np.int64)
    return indices[keep]


class VoxelPointCache:
    """geometry_msgs/Point of voxel centres, built once per voxel and reused across frames.

    Building a Point object costs about 1.5 us in Python: 20k cubes would take 30 ms per frame.
    Occupied voxels change little between frames, so the node keeps their Points (messages are
    serialised right after they are built and never mutated, so sharing is safe).

    Args:
        factory: builds the Points.
        capacity: cached voxels before the cache is emptied (about 100 bytes each).
    """

    def __init__(self, factory: MessageFactory, capacity: int = 300_000):
        self.factory = factory
        self.capacity = capacity
        self._points: dict[int, Any] = {}
        self._grid: object = None

    def points(self, grid: OccupancyGrid, indices: NDArray[np.int64]) -> list[Any]:
        """Points of the centres of flat voxel `indices` of `grid`."""
        if grid.grid != self._grid or len(self._points) > self.capacity:
            self._points, self._grid = {}, grid.grid
        cache = self._points
        flat = indices.tolist()
        missing = [i for i in flat if i not in cache]
        if missing:
            spec = grid.grid
            centers = spec.centers_of(spec.unravel(np.asarray(missing))).astype(np.float64)
            new = self.factory.new
            for index, (x, y, z) in zip(missing, centers.tolist(), strict=True):
                cache[index] = new("geometry_msgs/msg/Point", x=x, y=y, z=z)
        return [cache[i] for i in flat]


def grid_to_markers(
    factory: MessageFactory,
    grid: OccupancyGrid,
    colors: NDArray[np.uint8],
    stamp_ns: int,
    max_cubes: int = 20_000,
    namespace: str = "occle",
    alpha: float = 1.0,
    cache: VoxelPointCache | None = None,
) -> Any:
    """Occupied voxels as a MarkerArray for RViz.

    The array starts with a DELETEALL marker (stale classes disappear), then one CUBE_LIST per
    class present (namespace "occle/<class>", id = class index, the class colour, cubes of the
    voxel size). Unknown (255) and empty voxels are not drawn.

    Args:
        colors: (num_classes, 3) uint8 RGB per class.
        max_cubes: total cube cap; above it the voxels are decimated evenly (0 = no cap).
        cache: reuse voxel-centre Points across calls (the node and replay keep one).
    """
    spec = grid.grid
    flat = grid.labels.reshape(-1)
    occupied = decimate(grid.occupied_indices(), max_cubes)
    labels = flat[occupied]
    points = (cache or VoxelPointCache(factory)).points(grid, occupied)
    head = header(factory, stamp_ns, spec.frame_id)
    markers = [
        factory.new("visualization_msgs/msg/Marker", header=head, ns=namespace, action=DELETEALL)
    ]
    identity = factory.new(
        "geometry_msgs/msg/Pose",
        orientation=factory.new("geometry_msgs/msg/Quaternion", x=0.0, y=0.0, z=0.0, w=1.0),
    )
    scale = factory.new(
        "geometry_msgs/msg/Vector3",
        x=spec.voxel_size[0],
        y=spec.voxel_size[1],
        z=spec.voxel_size[2],
    )
    order = np.argsort(labels, kind="stable")
    boundaries = np.flatnonzero(np.diff(labels[order])) + 1
    for group in np.split(order, boundaries) if len(order) else []:
        label = int(labels[group[0]])
        r, g, b = (float(c) / 255.0 for c in colors[label])
        name = grid.class_names[label] if label < len(grid.class_names) else str(label)
        markers.append(
            factory.new(
                "visualization_msgs/msg/Marker",
                header=head,
                ns=f"{namespace}/{name}",
                id=label,
                type=CUBE_LIST,
                action=ADD,
                pose=identity,
                scale=scale,
                color=factory.new("std_msgs/msg/ColorRGBA", r=r, g=g, b=b, a=float(alpha)),
                points=[points[i] for i in group.tolist()],
            )
        )
    return factory.new("visualization_msgs/msg/MarkerArray", markers=markers)


def grid_to_cloud(factory: MessageFactory, grid: OccupancyGrid, stamp_ns: int) -> Any:
    """Occupied voxel centres as a PointCloud2 with a uint8 `label` field (no cap)."""
    spec = grid.grid
    occupied = grid.occupied_indices()
    centers = spec.centers_of(spec.unravel(occupied))
    labels = grid.labels.reshape(-1)[occupied]
    return labelled_points_cloud(factory, centers, labels, stamp_ns, spec.frame_id)
