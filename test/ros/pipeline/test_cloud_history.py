"""The LiDAR history of `FrameAssembler`: every cloud received on the LiDAR topic (synchronised
with cameras or not) joins the next frames, moved through the fixed frame, in the training
data's order; near returns of earlier clouds can be dropped; a cloud that cannot be placed is
left out and counted."""

from __future__ import annotations

import numpy as np
import pytest

from occle_ros.conversions.camera import camera_info_message
from occle_ros.conversions.image import array_to_image
from occle_ros.conversions.pointcloud import array_to_cloud
from occle_ros.messages import RosbagsFactory, typestore
from occle_ros.pipeline.config import TopicParams
from occle_ros.pipeline.frames import FrameAssembler

FACTORY = RosbagsFactory(typestore("humble"))
STEP_NS = 100_000_000  # 10 Hz LiDAR


def ego_pose(stamp_ns: int) -> np.ndarray:
    """map <- base_link: the vehicle drives +x at 10 m/s."""
    pose = np.eye(4)
    pose[0, 3] = 10.0 * stamp_ns * 1e-9
    return pose


def lookup(target: str, source: str, stamp_ns: int) -> np.ndarray:
    if (target, source) == ("map", "base_link"):
        if stamp_ns == 3 * STEP_NS:
            raise LookupError("no odometry at 0.3 s")
        return ego_pose(stamp_ns)
    if (target, source) == ("base_link", "lidar"):
        return np.eye(4)
    if source == "base_link" and target == "cam":
        return np.eye(4)
    raise LookupError(f"no transform {source} -> {target}")


def cloud(stamp_ns: int, intensity: float) -> object:
    """Two returns fixed in the map: at x = 20 m (far) and 0.5 m ahead of the sensor (near)."""
    x = 10.0 * stamp_ns * 1e-9
    points = np.array([[20.0 - x, 0, 0, intensity], [0.5, 0, 0, intensity]], dtype=np.float32)
    return array_to_cloud(FACTORY, points, stamp_ns, "lidar")


def assemble(assembler: FrameAssembler, stamp_ns: int, intensity: float) -> np.ndarray:
    image = array_to_image(FACTORY, np.zeros((4, 6, 3), np.uint8), stamp_ns, "cam")
    info = camera_info_message(FACTORY, np.eye(3), 6, 4, stamp_ns, "cam")
    return assembler.assemble(cloud(stamp_ns, intensity), [image], [info]).points


def make(scans: int, newest_first: bool = False, min_range: float = 0.0) -> FrameAssembler:
    topics = TopicParams(cloud="/lidar", images=("/image",), camera_infos=("/info",))
    return FrameAssembler(
        "base_link",
        topics,
        lookup,
        scans=scans,
        fixed_frame="map",
        history_min_range=min_range,
        newest_first=newest_first,
    )


def test_unsynchronised_clouds_join_the_next_frame_in_the_map() -> None:
    assembler = make(scans=3, min_range=1.0)
    for k in (0, 1, 2):  # sweeps without camera partners, then a camera set at 0.4 s
        assembler.observe(cloud(k * STEP_NS, intensity=k))
    assembler.observe(cloud(5 * STEP_NS, intensity=5))  # newer than the set: not its history
    points = assemble(assembler, 4 * STEP_NS, intensity=4)
    # Sweeps 1 and 2 (the 2 newest before 0.4 s), oldest first, then the current cloud whole.
    np.testing.assert_array_equal(points[:, 3], [1, 2, 4, 4])
    # The far return is fixed in the map: the same place in the current base_link frame.
    np.testing.assert_allclose(points[:, 0], [16.0, 16.0, 16.0, 0.5], atol=1e-5)


def test_newest_first_order_and_duplicates_kept_once() -> None:
    assembler = make(scans=3, newest_first=True)
    assembler.observe(cloud(1 * STEP_NS, intensity=1))
    assembler.observe(cloud(2 * STEP_NS, intensity=2))
    assembler.observe(cloud(2 * STEP_NS, intensity=2))
    first = assemble(assembler, 2 * STEP_NS, intensity=2)  # its own cloud is not history
    np.testing.assert_array_equal(first[:, 3], [2, 2, 1, 1])
    assembler.observe(cloud(4 * STEP_NS, intensity=4))
    second = assemble(assembler, 4 * STEP_NS, intensity=4)
    np.testing.assert_array_equal(second[:, 3], [4, 4, 2, 2, 1, 1])


def test_a_cloud_without_odometry_is_left_out_and_counted() -> None:
    assembler = make(scans=4)
    for k in (1, 2, 3):
        assembler.observe(cloud(k * STEP_NS, intensity=k))
    points = assemble(assembler, 4 * STEP_NS, intensity=4)
    np.testing.assert_array_equal(points[:, 3], [1, 1, 2, 2, 4, 4])
    assert assembler.dropped_history_clouds == 1
    # Without odometry for the frame itself, it stands alone.
    alone = assemble(assembler, 3 * STEP_NS, intensity=3)
    np.testing.assert_array_equal(alone[:, 3], [3, 3])
    assert assembler.single_scan_fallbacks == 1


def test_one_scan_keeps_no_history() -> None:
    assembler = make(scans=1)
    assembler.observe(cloud(0, intensity=0))
    np.testing.assert_array_equal(assemble(assembler, STEP_NS, intensity=1)[:, 3], [1, 1])


def test_camera_placed_at_its_own_stamp() -> None:
    """A camera firing 40 ms before the LiDAR, on a vehicle doing 10 m/s, sat 0.4 m behind the
    grid origin of the LiDAR's stamp (seen from the camera: the origin is 0.4 m ahead)."""

    def moving_lookup(target: str, source: str, stamp_ns: int) -> np.ndarray:
        if (target, source) == ("map", "base_link"):
            return ego_pose(stamp_ns)
        if (target, source) == ("cam", "map"):
            if stamp_ns < 0:
                raise LookupError("before the first odometry message")
            return np.linalg.inv(ego_pose(stamp_ns))  # the camera is mounted at base_link
        return lookup(target, source, stamp_ns)

    def camera_offset(compensate: bool, image_ns: int, cloud_ns: int) -> tuple[float, int]:
        topics = TopicParams(cloud="/lidar", images=("/image",), camera_infos=("/info",))
        assembler = FrameAssembler(
            "base_link", topics, moving_lookup, fixed_frame="map",
            camera_time_compensation=compensate,
        )  # fmt: skip
        image = array_to_image(FACTORY, np.zeros((4, 6, 3), np.uint8), image_ns, "cam")
        info = camera_info_message(FACTORY, np.eye(3), 6, 4, image_ns, "cam")
        frame = assembler.assemble(cloud(cloud_ns, 0.0), [image], [info])
        return float(frame.cameras[0].cam_from_ref[0, 3]), assembler.uncompensated_cameras

    assert camera_offset(True, 960_000_000, 1_000_000_000) == (pytest.approx(0.4), 0)
    assert camera_offset(False, 960_000_000, 1_000_000_000) == (0.0, 0)
    # No odometry at the image stamp: the mounting alone, counted.
    assert camera_offset(True, -40_000_000, 0) == (0.0, 1)
