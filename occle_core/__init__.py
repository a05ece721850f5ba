"""OccLE: label-efficient 3D semantic occupancy prediction from cameras and LiDAR.

`occle_core` is the ROS-free library: geometry, dataset readers and writers, metrics,
visualisation and the `occle` command line. Nothing in it imports ROS.
"""

from occle_core.errors import DataFormatError
from occle_core.frame import Frame
from occle_core.geometry.camera import CameraModel
from occle_core.geometry.grid import GridSpec
from occle_core.occupancy import OccupancyGrid

__version__ = "0.1.0"

__all__ = ["CameraModel", "DataFormatError", "Frame", "GridSpec", "OccupancyGrid", "__version__"]
