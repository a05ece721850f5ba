"""nuScenes sensor data and Occ3D-nuScenes occupancy ground truth.

Occ3D layout::

    GTS/<scene-name>/<sample-token>/labels.npz   semantics, mask_lidar, mask_camera (200x200x16)
    PRED/<sample-token>.npz                      uint8 (200x200x16) under key arr_0
"""

from occle_core.data.nuscenes.occ3d import (
    OCC3D_CLASS_NAMES,
    OCC3D_COLORS_RGB,
    OCC3D_FREE,
    Occ3DLabels,
    Occ3DSample,
    find_occ3d_samples,
    occ3d_prediction_path,
    read_occ3d_labels,
    read_occ3d_prediction,
    write_occ3d_labels,
    write_occ3d_prediction,
)
from occle_core.data.nuscenes.sample import (
    NUSCENES_CAMERAS,
    NuScenesCalibration,
    load_nuscenes_sample,
    read_nuscenes_calibration,
    read_nuscenes_lidar,
)

__all__ = [
    "NUSCENES_CAMERAS",
    "OCC3D_CLASS_NAMES",
    "OCC3D_COLORS_RGB",
    "OCC3D_FREE",
    "NuScenesCalibration",
    "Occ3DLabels",
    "Occ3DSample",
    "find_occ3d_samples",
    "load_nuscenes_sample",
    "occ3d_prediction_path",
    "read_nuscenes_calibration",
    "read_nuscenes_lidar",
    "read_occ3d_labels",
    "read_occ3d_prediction",
    "write_occ3d_labels",
    "write_occ3d_prediction",
]
