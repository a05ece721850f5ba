"""Thousands of random and malformed messages thrown at the conversions and the pipeline: no
crash and no hang, only the documented `MessageError` (or a logged skip in the pipeline)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

pytest.importorskip("rosbags", reason="rosbags (dev extra) missing")

from occle_core.model.build import build_model
from occle_core.model.config import load_model_config
from occle_core.runtime import ModelRunner
from occle_ros.conversions.camera import camera_info_message, camera_info_to_intrinsics
from occle_ros.conversions.image import (
    array_to_image,
    compressed_to_array,
    image_to_array,
)
from occle_ros.conversions.occupancy import message_to_grid
from occle_ros.conversions.pointcloud import array_to_cloud, cloud_to_array
from occle_ros.errors import MessageError
from occle_ros.messages import RosbagsFactory, typestore
from occle_ros.pipeline.config import NodeConfig
from occle_ros.pipeline.pipeline import OccupancyPipeline
from occle_ros.pipeline.sensors import SensorSet

FACTORY = RosbagsFactory(typestore("humble"))
MANY = settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])

fields = st.lists(
    st.tuples(
        st.sampled_from(["x", "y", "z", "intensity", "ring", "t"]),
        st.integers(-4, 40),
        st.integers(0, 10),
        st.integers(0, 3),
    ),
    max_size=6,
)


@MANY
@given(
    fields,
    st.integers(-2, 40),
    st.integers(0, 5),
    st.integers(0, 5),
    st.integers(-8, 200),
    st.binary(max_size=400),
    st.booleans(),
)
def test_random_point_clouds(fields, point_step, width, height, row_step, data, big):
    message = FACTORY.new(
        "sensor_msgs/msg/PointCloud2",
        height=height,
        width=width,
        fields=[
            FACTORY.new("sensor_msgs/msg/PointField", name=n, offset=o, datatype=t, count=c)
            for n, o, t, c in fields
        ],
        is_bigendian=big,
        point_step=point_step,
        row_step=row_step,
        data=np.frombuffer(data, np.uint8),
    )
    try:
        points = cloud_to_array(message, "/fuzz")
    except MessageError as error:
        assert str(error).startswith("/fuzz: PointCloud2")
        return
    assert points.dtype == np.float32 and points.shape[1] == 4
    assert np.isfinite(points[:, :3]).all()
    assert len(points) <= width * height


@MANY
@given(
    st.sampled_from(["rgb8", "bgr8", "rgba8", "bgra8", "mono8", "yuv422", "16UC1", ""]),
    st.integers(-1, 6),
    st.integers(-1, 6),
    st.integers(-3, 30),
    st.binary(max_size=200),
)
def test_random_images(encoding, width, height, step, data):
    message = FACTORY.new(
        "sensor_msgs/msg/Image",
        height=height,
        width=width,
        encoding=encoding,
        step=step,
        data=np.frombuffer(data, np.uint8),
    )
    try:
        pixels = image_to_array(message, "/cam")
    except MessageError as error:
        assert str(error).startswith("/cam: Image")
        return
    assert pixels.shape == (height, width, 3) and pixels.dtype == np.uint8


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(["jpeg", "png", "rgb8; jpeg compressed bgr8", "bmp"]), st.binary(max_size=300)
)
def test_random_compressed_images(fmt, data):
    message = FACTORY.new(
        "sensor_msgs/msg/CompressedImage", format=fmt, data=np.frombuffer(data, np.uint8)
    )
    with pytest.raises(MessageError, match=r"^/cam/compressed: CompressedImage"):
        compressed_to_array(message, "/cam/compressed")


@MANY
@given(
    st.lists(st.floats(allow_nan=True, allow_infinity=True, width=64), min_size=0, max_size=12),
    st.integers(-2, 2000),
    st.integers(-2, 2000),
)
def test_random_camera_infos(k, width, height):
    message = FACTORY.new("sensor_msgs/msg/CameraInfo", width=width, height=height)
    message.k = np.asarray(k, dtype=np.float64)
    try:
        out = camera_info_to_intrinsics(message, "/info")
    except MessageError as error:
        assert str(error).startswith("/info: CameraInfo")
        return
    assert out.intrinsics[0, 0] > 0 and out.width > 0


@settings(max_examples=800, deadline=None)
@given(
    st.lists(st.integers(0, 6), min_size=3, max_size=3),
    st.integers(0, 2),
    st.lists(st.integers(0, 400), max_size=20),
    st.lists(st.integers(0, 255), max_size=20),
    st.sampled_from(["xyz", "zyx", "xxy", ""]),
    st.lists(st.floats(-1, 1), min_size=3, max_size=3),
)
def test_random_occupancy_messages(dims, encoding, indices, labels, order, size):
    message = FACTORY.new(
        "occle_ros/msg/SemanticOccupancy",
        dims=np.asarray(dims, np.uint32),
        voxel_size=np.asarray(size, np.float32),
        axis_order=order,
        class_names=["empty", "car", "road"],
        encoding=encoding,
        indices=np.asarray(indices, np.uint32),
        labels=np.asarray(labels, np.uint8),
    )
    message.origin.orientation.w = 1.0
    try:
        grid = message_to_grid(message, "/occ")
    except MessageError as error:
        assert str(error).startswith("/occ: ")
        return
    assert grid.labels.shape == grid.grid.shape


@pytest.fixture(scope="module")
def pipeline():
    config = load_model_config("occle_tiny")
    runner = ModelRunner(build_model(config, seed=0), __import__("torch").device("cpu"))
    cam_from_lidar = np.array([[0, -1, 0, 0], [0, 0, -1, 0], [1, 0, 0, 0], [0, 0, 0, 1.0]])

    def lookup(target, source, stamp):
        if target == "velodyne" and source == "velodyne":
            return np.eye(4)
        if target == "cam":
            return cam_from_lidar
        raise LookupError(f"no transform {source} -> {target}")

    return OccupancyPipeline(runner, NodeConfig(), FACTORY, lookup)


def good_set(stamp=0, points=None, width=310, height=94):
    rng = np.random.default_rng(stamp)
    if points is None:
        points = np.concatenate(
            [rng.uniform((1, -20, -1.5), (40, 20, 2), (3000, 3)), rng.random((3000, 1))], axis=1
        )
    k = np.array([[150.0, 0, width / 2], [0, 150, height / 2], [0, 0, 1]])
    rgb = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
    return {
        "cloud": array_to_cloud(FACTORY, points, stamp, "velodyne"),
        "image0": array_to_image(FACTORY, rgb, stamp, "cam"),
        "info0": camera_info_message(FACTORY, k, width, height, stamp, "cam"),
    }


def test_pipeline_skips_bad_sets_and_keeps_going(pipeline):
    bad_sets = []
    no_xyz = good_set(1)
    no_xyz["cloud"].fields = no_xyz["cloud"].fields[:2]
    bad_sets.append(no_xyz)
    empty = good_set(2, points=np.zeros((0, 4)))
    bad_sets.append(empty)
    wrong_step = good_set(3)
    wrong_step["image0"].step -= 1
    bad_sets.append(wrong_step)
    unknown_encoding = good_set(4)
    unknown_encoding["image0"].encoding = "bayer_rggb8"
    bad_sets.append(unknown_encoding)
    size_mismatch = good_set(5)
    size_mismatch["info0"].width = 320
    bad_sets.append(size_mismatch)
    no_tf = good_set(6)
    no_tf["cloud"].header.frame_id = "base_link"
    bad_sets.append(no_tf)
    for bad in bad_sets:
        assert pipeline.process(SensorSet.from_named(bad)) is None
    assert pipeline.counters.skipped == len(bad_sets)
    assert "base_link" in pipeline.counters.last_error
    output = pipeline.process(SensorSet.from_named(good_set(7)))
    assert output is not None and output.grid.labels.shape == (64, 64, 8)
    assert output.occupancy.header.stamp.nanosec == 7
    assert pipeline.counters.frames == 1
