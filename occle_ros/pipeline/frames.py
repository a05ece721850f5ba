"""Synchronised ROS messages -> an OccLE `Frame` in the model's grid frame."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from occle_core.frame import Frame
from occle_core.geometry.aggregate import merge_clouds
from occle_core.geometry.camera import CameraModel
from occle_core.geometry.transforms import invert_rigid, transform_points
from occle_ros.conversions.camera import camera_info_to_intrinsics
from occle_ros.conversions.image import compressed_to_array, image_to_array
from occle_ros.conversions.pointcloud import cloud_to_array
from occle_ros.errors import MessageError
from occle_ros.messages import stamp_to_ns
from occle_ros.pipeline.config import TopicParams

#: (target frame, source frame, stamp ns) -> (4, 4) target_from_source; raises LookupError.
TransformLookup = Callable[[str, str, int], NDArray[np.float64]]


@dataclass
class _PastCloud:
    """A cloud kept for aggregation: the message until it is first needed, then the grid's world
    pose at its stamp and its points in the grid frame; `failed` once it could not be placed
    (malformed, or no TF at its stamp), so it is not tried again."""

    stamp_ns: int
    message: Any
    converted: tuple[NDArray[np.float64], NDArray[np.float32]] | None = None
    failed: bool = False


class FrameAssembler:
    """Builds Frames from one synchronised set of messages.

    Args:
        grid_frame: the TF frame the model's grid is defined in (points and cameras are
            expressed in it).
        topics: the node's topics (the input names, for messages and errors).
        lookup: TF lookup at a stamp (raises LookupError when it has no answer).
        cam_from_lidar: fallback (4, 4) extrinsic per camera, used when TF has no answer.
        scans: LiDAR clouds aggregated per frame: the synchronised one and the `scans - 1`
            clouds received just before it (`observe`), moved through `fixed_frame`.
        fixed_frame: world-fixed TF frame for aggregation.
        intensity_field, intensity_scale: how to read intensities.
        history_min_range: returns of the earlier clouds closer than this to their sensor
            (metres) are dropped (nuScenes sweeps hit the ego vehicle's own body).
        newest_first: concatenate the clouds newest first (the nuScenes / mmdetection3d order:
            key sweep, then earlier sweeps) instead of oldest first (SemanticKITTI scans). The
            order matters: the voxel encoder keeps the first points of a crowded voxel.
        camera_time_compensation: place each camera at its image's stamp and the grid at the
            cloud's, through `fixed_frame` (the vehicle moves between the two: nuScenes'
            calibration includes it); off = both at the cloud's stamp.
    """

    def __init__(
        self,
        grid_frame: str,
        topics: TopicParams,
        lookup: TransformLookup,
        cam_from_lidar: Sequence[NDArray[np.float64]] = (),
        scans: int = 1,
        fixed_frame: str = "odom",
        intensity_field: str = "intensity",
        intensity_scale: float = 1.0,
        history_min_range: float = 0.0,
        newest_first: bool = False,
        camera_time_compensation: bool = False,
    ):
        self.grid_frame = grid_frame
        self.topics = topics
        self.lookup = lookup
        self.cam_from_lidar = list(cam_from_lidar)
        self.scans = scans
        self.fixed_frame = fixed_frame
        self.intensity_field = intensity_field
        self.intensity_scale = intensity_scale
        self.history_min_range = history_min_range
        self.newest_first = newest_first
        self.camera_time_compensation = camera_time_compensation
        #: Clouds received, oldest first. Clouds newer than the set being assembled may already
        #: be here (the synchroniser waits for the cameras), hence the slack over `scans`.
        self._history: list[_PastCloud] = []
        self._history_size = 2 * max(scans, 1) + 4
        # The node observes clouds on the executor thread and assembles on the worker thread.
        self._lock = threading.Lock()
        self.used_fallback_extrinsics = 0
        self.single_scan_fallbacks = 0
        self.dropped_history_clouds = 0
        self.uncompensated_cameras = 0

    def observe(self, cloud: Any) -> None:
        """Remember a cloud received on the LiDAR topic, synchronised or not (conversion waits
        until a frame needs it). No-op with `scans` = 1."""
        if self.scans > 1:
            self._remember(_PastCloud(stamp_to_ns(cloud.header.stamp), cloud))

    def _remember(self, entry: _PastCloud) -> None:
        """Insert in stamp order; of two entries with one stamp the converted one is kept."""
        with self._lock:
            for index in range(len(self._history) - 1, -1, -1):
                kept = self._history[index]
                if kept.stamp_ns == entry.stamp_ns:
                    if kept.converted is None and entry.converted is not None:
                        self._history[index] = entry
                    return
                if kept.stamp_ns < entry.stamp_ns:
                    self._history.insert(index + 1, entry)
                    break
            else:
                self._history.insert(0, entry)
            del self._history[: max(len(self._history) - self._history_size, 0)]

    def _cloud(
        self, message: Any, stamp_ns: int
    ) -> tuple[NDArray[np.float32], NDArray[np.bool_] | None]:
        """Points of a cloud in the grid frame, and which are far enough from the sensor to be
        kept for later frames (None: all, `history_min_range` is 0)."""
        points = cloud_to_array(message, self.topics.cloud, self.intensity_field)
        if len(points) == 0:
            raise MessageError(
                self.topics.cloud, "PointCloud2", "no finite point", "a non-empty cloud"
            )
        source = str(message.header.frame_id).lstrip("/")
        moved = bool(source) and source != self.grid_frame
        if (moved or self.intensity_scale != 1.0) and points.base is not None:
            # A zero-copy view of the message buffer: never scale or move the message itself.
            points = points.copy()
        far = None
        if self.history_min_range > 0:
            far = np.linalg.norm(points[:, :3], axis=1) >= self.history_min_range
        if self.intensity_scale != 1.0:
            points[:, 3] *= self.intensity_scale
        if moved:
            grid_from_cloud = self.lookup(self.grid_frame, source, stamp_ns)
            points[:, :3] = transform_points(grid_from_cloud, points[:, :3])
        return points, far

    def _convert_past(self, entry: _PastCloud) -> tuple[NDArray[np.float64], NDArray[np.float32]]:
        """(world_from_grid, points in the grid frame) of a remembered cloud (cached)."""
        if entry.converted is None:
            points, far = self._cloud(entry.message, entry.stamp_ns)
            points = points if far is None else points[far]
            world_from_grid = self.lookup(self.fixed_frame, self.grid_frame, entry.stamp_ns)
            entry.converted = (world_from_grid, points)
            entry.message = None  # the points are all that is needed now
        return entry.converted

    def _aggregate(
        self, points: NDArray[np.float32], far: NDArray[np.bool_] | None, stamp_ns: int
    ) -> tuple[NDArray[np.float32], NDArray[np.float64]]:
        if self.scans == 1:
            return points, np.eye(4)
        try:
            world_from_grid = self.lookup(self.fixed_frame, self.grid_frame, stamp_ns)
        except LookupError:
            # No odometry: use this scan alone (earlier clouds cannot be aligned to it).
            self.single_scan_fallbacks += 1
            return points, np.eye(4)
        with self._lock:
            earlier = [e for e in self._history if e.stamp_ns < stamp_ns and not e.failed]
        grid_from_world = invert_rigid(world_from_grid)
        past_clouds, grid_from_past = [], []
        for entry in earlier[-(self.scans - 1) :]:
            try:
                past_pose, past_points = self._convert_past(entry)
            except (MessageError, LookupError):
                # A malformed cloud or one without TF is left out of every frame, not retried.
                entry.failed = True
                self.dropped_history_clouds += 1
                continue
            past_clouds.append(past_points)
            grid_from_past.append(grid_from_world @ past_pose)
        kept = points if far is None else points[far]
        self._remember(_PastCloud(stamp_ns, None, (world_from_grid, kept)))
        # The one merging rule of the dataset readers and training (geometry.aggregate).
        merged, _ = merge_clouds(
            [*past_clouds, points], [*grid_from_past, None], newest_first=self.newest_first
        )
        return merged, world_from_grid

    def _camera(
        self, index: int, image: Any, info: Any, stamp_ns: int
    ) -> tuple[NDArray[np.uint8], CameraModel]:
        image_topic, info_topic = self.topics.images[index], self.topics.camera_infos[index]
        intrinsics = camera_info_to_intrinsics(info, info_topic)
        pixels = (
            # The CameraInfo's size bounds what may be decoded (decompression bombs).
            compressed_to_array(image, image_topic, (intrinsics.width, intrinsics.height))
            if self.topics.compressed
            else image_to_array(image, image_topic)
        )
        if pixels.shape[:2] != (intrinsics.height, intrinsics.width):
            raise MessageError(
                image_topic,
                "Image.width/height",
                f"{pixels.shape[1]}x{pixels.shape[0]} but {info_topic} says "
                f"{intrinsics.width}x{intrinsics.height}",
                "the CameraInfo's size",
            )
        frame = intrinsics.frame_id.lstrip("/") or str(image.header.frame_id).lstrip("/")
        try:
            cam_from_grid = self._cam_from_grid(frame, stamp_to_ns(image.header.stamp), stamp_ns)
        except LookupError as error:
            if index >= len(self.cam_from_lidar):
                raise LookupError(
                    f"camera {index} ({image_topic}): no transform {self.grid_frame} -> {frame} "
                    f"({error}) and no tf.cam_from_lidar fallback"
                ) from None
            cam_from_grid = self.cam_from_lidar[index]
            self.used_fallback_extrinsics += 1
        camera = CameraModel(
            frame or f"camera{index}",
            intrinsics.intrinsics,
            cam_from_grid,
            intrinsics.width,
            intrinsics.height,
        )
        return pixels, camera

    def _cam_from_grid(self, camera: str, image_ns: int, cloud_ns: int) -> NDArray[np.float64]:
        """(4, 4) camera (at the image stamp) <- grid frame (at the cloud stamp)."""
        if self.camera_time_compensation and image_ns != cloud_ns:
            try:
                cam_from_world = self.lookup(camera, self.fixed_frame, image_ns)
                world_from_grid = self.lookup(self.fixed_frame, self.grid_frame, cloud_ns)
                return cam_from_world @ world_from_grid
            except LookupError:
                self.uncompensated_cameras += 1  # no odometry: the mounting alone
        return self.lookup(camera, self.grid_frame, cloud_ns)

    def assemble(self, cloud: Any, images: Sequence[Any], infos: Sequence[Any]) -> Frame:
        """One Frame from a LiDAR cloud and, per camera, an image and its CameraInfo.

        Raises:
            MessageError: a malformed message.
            LookupError: a transform that neither TF nor the fallback provides.
        """
        stamp_ns = stamp_to_ns(cloud.header.stamp)
        points, far = self._cloud(cloud, stamp_ns)
        pixels, cameras = [], []
        for index, (image, info) in enumerate(zip(images, infos, strict=True)):
            image_pixels, camera = self._camera(index, image, info, stamp_ns)
            pixels.append(image_pixels)
            cameras.append(camera)
        points, pose = self._aggregate(points, far, stamp_ns)
        return Frame(points, pixels, cameras, pose, stamp_ns * 1e-9, str(stamp_ns))
