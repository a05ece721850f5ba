"""SemanticKITTI (KITTI odometry + SSC voxel ground truth) in its official layout.

Layout of a dataset root::

    ROOT/sequences/XX/velodyne/NNNNNN.bin      float32 x, y, z, reflectance
    ROOT/sequences/XX/labels/NNNNNN.label      uint32 per point: semantic | instance << 16
    ROOT/sequences/XX/image_2/NNNNNN.png       left colour camera
    ROOT/sequences/XX/voxels/NNNNNN.{bin,invalid,occluded}  bit-packed 256x256x32 grids
    ROOT/sequences/XX/voxels/NNNNNN.label      uint16 raw label per voxel
    ROOT/sequences/XX/calib.txt, poses.txt, times.txt
    PRED/sequences/XX/predictions/NNNNNN.label uint16 raw label per voxel (submission layout)
"""

from occle_core.data.semantickitti.calib import KittiCalibration, read_calib, write_calib
from occle_core.data.semantickitti.files import (
    read_point_labels,
    read_velodyne,
    read_voxel_bits,
    read_voxel_labels,
    write_point_labels,
    write_velodyne,
    write_voxel_bits,
    write_voxel_labels,
)
from occle_core.data.semantickitti.labels import SemanticKittiLabels, load_label_config
from occle_core.data.semantickitti.poses import read_poses, read_times, write_poses, write_times
from occle_core.data.semantickitti.sequence import (
    SemanticKittiSequence,
    VoxelGroundTruth,
    read_prediction,
    write_prediction,
)

__all__ = [
    "KittiCalibration",
    "SemanticKittiLabels",
    "SemanticKittiSequence",
    "VoxelGroundTruth",
    "load_label_config",
    "read_calib",
    "read_point_labels",
    "read_poses",
    "read_prediction",
    "read_times",
    "read_velodyne",
    "read_voxel_bits",
    "read_voxel_labels",
    "write_calib",
    "write_point_labels",
    "write_poses",
    "write_prediction",
    "write_times",
    "write_velodyne",
    "write_voxel_bits",
    "write_voxel_labels",
]
