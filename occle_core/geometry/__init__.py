"""Geometry shared by every module: grids, cameras, projection, voxelisation, aggregation."""

from occle_core.geometry.aggregate import AggregatedPoints, aggregate_frames
from occle_core.geometry.camera import CameraModel, PixelProjection, project_points
from occle_core.geometry.grid import OCC3D_GRID, SEMANTICKITTI_GRID, GridSpec
from occle_core.geometry.transforms import invert_rigid, to_homogeneous, transform_points
from occle_core.geometry.voxelize import VoxelizedPoints, voxelize

__all__ = [
    "OCC3D_GRID",
    "SEMANTICKITTI_GRID",
    "AggregatedPoints",
    "CameraModel",
    "GridSpec",
    "PixelProjection",
    "VoxelizedPoints",
    "aggregate_frames",
    "invert_rigid",
    "project_points",
    "to_homogeneous",
    "transform_points",
    "voxelize",
]
