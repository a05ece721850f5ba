"""Conversions between ROS 2 messages and arrays, with the real Humble and Jazzy message
definitions of `rosbags` and CDR round trips (what a bag or a DDS link carries)."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("rosbags", reason="rosbags (dev extra) missing")

from occle_core.geometry.grid import GridSpec
from occle_core.occupancy import OccupancyGrid
from occle_core.viz.palette import class_colors
from occle_ros.conversions.camera import camera_info_message, camera_info_to_intrinsics
from occle_ros.conversions.image import (
    ENCODINGS,
    array_to_compressed,
    array_to_image,
    compressed_to_array,
    image_to_array,
)
from occle_ros.conversions.markers import DELETEALL, grid_to_cloud, grid_to_markers
from occle_ros.conversions.occupancy import grid_to_message, message_to_grid
from occle_ros.conversions.pointcloud import array_to_cloud, cloud_to_array
from occle_ros.conversions.transform import transform_stamped, transform_to_matrix
from occle_ros.errors import MessageError
from occle_ros.messages import RosbagsFactory, typestore

DISTROS = ["humble", "jazzy"]


def roundtrip(store, message):
    """Serialise to CDR and back, as a bag or a DDS link would."""
    data = store.serialize_cdr(message, message.__msgtype__)
    return store.deserialize_cdr(data, message.__msgtype__)


def make_cloud(factory, fields, point_step, records, *, big=False, height=1, row_pad=0):
    """A PointCloud2 from (name, offset, datatype) fields and a structured array of points."""
    width = len(records) // height
    order = ">" if big else "<"
    record = np.dtype(
        {
            "names": [f[0] for f in fields],
            "formats": [
                order + {7: "f4", 8: "f8", 4: "u2", 2: "u1", 5: "i4"}[f[2]] for f in fields
            ],
            "offsets": [f[1] for f in fields],
            "itemsize": point_step,
        }
    )
    packed = np.zeros(len(records), dtype=record)
    for name in record.names:
        packed[name] = records[name]
    rows = packed.view(np.uint8).reshape(height, width * point_step)
    data = np.concatenate([rows, np.zeros((height, row_pad), np.uint8)], axis=1).reshape(-1)
    return factory.new(
        "sensor_msgs/msg/PointCloud2",
        height=height,
        width=width,
        fields=[
            factory.new("sensor_msgs/msg/PointField", name=n, offset=o, datatype=t, count=1)
            for n, o, t in fields
        ],
        is_bigendian=big,
        point_step=point_step,
        row_step=width * point_step + row_pad,
        data=data,
        is_dense=True,
    )


def random_points(n=60, seed=0):
    rng = np.random.default_rng(seed)
    records = np.zeros(n, dtype=[("x", "f8"), ("y", "f8"), ("z", "f8"), ("intensity", "f8")])
    for name in records.dtype.names:
        records[name] = rng.uniform(-50, 50, n).round(2)
    records["intensity"] = rng.integers(0, 255, n)
    return records


@pytest.mark.parametrize("distro", DISTROS)
def test_packed_cloud_round_trips_through_cdr_without_copy(distro):
    store = typestore(distro)
    factory = RosbagsFactory(store)
    points = np.random.default_rng(1).normal(size=(1000, 4)).astype(np.float32)
    message = roundtrip(store, array_to_cloud(factory, points, 5, "velodyne"))
    out = cloud_to_array(message, "/points")
    np.testing.assert_array_equal(out, points)
    assert np.shares_memory(out, message.data)  # a view of the message buffer


@pytest.mark.parametrize("distro", DISTROS)
@pytest.mark.parametrize(
    ("fields", "step", "big", "height", "row_pad"),
    [
        # Ouster-like: x y z, padding, then intensity at 16, 32-byte points.
        ([("x", 0, 7), ("y", 4, 7), ("z", 8, 7), ("intensity", 16, 7)], 32, False, 1, 0),
        # reversed field order, float64, big endian, organised 2 rows with row padding.
        ([("intensity", 0, 4), ("z", 2, 8), ("y", 10, 8), ("x", 18, 8)], 26, True, 2, 6),
        # int32 coordinates (millimetre drivers would scale; we read the numbers as given).
        ([("x", 0, 5), ("y", 4, 5), ("z", 8, 5), ("intensity", 12, 2)], 13, False, 3, 1),
    ],
)
def test_cloud_any_layout(distro, fields, step, big, height, row_pad):
    store = typestore(distro)
    factory = RosbagsFactory(store)
    records = random_points(60)
    if fields[0][2] == 5:
        for name in "xyz":
            records[name] = records[name].round()
    message = roundtrip(
        store, make_cloud(factory, fields, step, records, big=big, height=height, row_pad=row_pad)
    )
    out = cloud_to_array(message, "/points")
    expected = np.stack([records[n] for n in ("x", "y", "z", "intensity")], axis=1)
    np.testing.assert_allclose(out, expected.astype(np.float32), rtol=1e-6)


def test_cloud_without_intensity_and_with_non_finite_points():
    factory = RosbagsFactory(typestore("humble"))
    records = random_points(10)
    records["x"][[2, 7]] = np.nan
    records["z"][4] = np.inf
    message = make_cloud(factory, [("x", 0, 7), ("y", 4, 7), ("z", 8, 7)], 12, records)
    out = cloud_to_array(message)
    keep = [i for i in range(10) if i not in (2, 4, 7)]
    np.testing.assert_allclose(out[:, 0], records["x"][keep].astype(np.float32))
    assert out.shape == (7, 4) and not out[:, 3].any()


def test_cloud_bad_input_names_topic_and_field():
    factory = RosbagsFactory(typestore("humble"))
    records = random_points(4)
    no_z = make_cloud(factory, [("x", 0, 7), ("y", 4, 7)], 8, records)
    with pytest.raises(MessageError, match=r"/lidar: PointCloud2.fields: no field z"):
        cloud_to_array(no_z, "/lidar")
    good = make_cloud(factory, [("x", 0, 7), ("y", 4, 7), ("z", 8, 7)], 12, records)
    good.data = good.data[:-3]
    with pytest.raises(MessageError, match=r"PointCloud2.data: 45 bytes"):
        cloud_to_array(good, "/lidar")
    good.data = np.zeros(48, np.uint8)
    good.fields[0].datatype = 42
    with pytest.raises(MessageError, match="unknown datatype 42"):
        cloud_to_array(good, "/lidar")
    good.fields[0].datatype = 8
    good.fields[0].offset = 8
    with pytest.raises(MessageError, match="ends at byte 16 of a 12-byte point"):
        cloud_to_array(good, "/lidar")


def test_empty_cloud_is_an_empty_array():
    factory = RosbagsFactory(typestore("humble"))
    out = cloud_to_array(array_to_cloud(factory, np.zeros((0, 4), np.float32), 0, "l"))
    assert out.shape == (0, 4)


@pytest.mark.parametrize("distro", DISTROS)
@pytest.mark.parametrize("encoding", sorted(ENCODINGS))
def test_image_encodings_round_trip(distro, encoding):
    store = typestore(distro)
    factory = RosbagsFactory(store)
    rgb = np.random.default_rng(2).integers(0, 256, (5, 7, 3), dtype=np.uint8)
    if encoding == "mono8":
        rgb[:] = rgb[:, :, :1]
    out = image_to_array(roundtrip(store, array_to_image(factory, rgb, 1, "cam", encoding)), "/img")
    np.testing.assert_array_equal(out, rgb)


def test_image_with_row_padding_and_bad_images():
    factory = RosbagsFactory(typestore("humble"))
    rgb = np.arange(2 * 3 * 3, dtype=np.uint8).reshape(2, 3, 3)
    padded = np.zeros((2, 12), np.uint8)
    padded[:, :9] = rgb.reshape(2, 9)
    message = factory.new(
        "sensor_msgs/msg/Image",
        height=2,
        width=3,
        encoding="rgb8",
        step=12,
        data=padded.reshape(-1),
    )
    np.testing.assert_array_equal(image_to_array(message), rgb)
    message.step = 8
    with pytest.raises(MessageError, match=r"/cam: Image.step: step 8 < width 3 x 3 bytes"):
        image_to_array(message, "/cam")
    message.step = 12
    message.data = message.data[:-1]
    with pytest.raises(MessageError, match=r"Image\.data: 23 bytes"):
        image_to_array(message, "/cam")
    message.encoding = "yuv422"
    with pytest.raises(MessageError, match="unsupported encoding 'yuv422'"):
        image_to_array(message, "/cam")


@pytest.mark.parametrize("fmt", ["png", "jpeg"])
def test_compressed_images(fmt):
    store = typestore("jazzy")
    factory = RosbagsFactory(store)
    rgb = np.zeros((16, 24, 3), np.uint8)
    rgb[:, :12] = (200, 30, 30)
    rgb[:, 12:] = (20, 40, 220)
    out = compressed_to_array(roundtrip(store, array_to_compressed(factory, rgb, 0, "cam", fmt)))
    error = np.abs(out.astype(int) - rgb)
    if fmt == "png":
        assert error.max() == 0
    else:  # lossy, and chroma is subsampled across the colour edge at column 12
        assert error[:, :8].max() <= 6 and error[:, 16:].max() <= 6
    broken = array_to_compressed(factory, rgb, 0, "cam", fmt)
    broken.data = broken.data[:20]
    with pytest.raises(MessageError, match=r"CompressedImage\.data: does not decode"):
        compressed_to_array(broken, "/cam/compressed")
    broken.format = "theora"
    with pytest.raises(MessageError, match="unsupported format 'theora'"):
        compressed_to_array(broken)


def test_camera_info_round_trip_and_bad_k():
    store = typestore("humble")
    factory = RosbagsFactory(store)
    k = np.array([[718.9, 0, 607.2], [0, 718.9, 185.2], [0, 0, 1]])
    message = roundtrip(store, camera_info_message(factory, k, 1241, 376, 7, "cam2"))
    out = camera_info_to_intrinsics(message, "/info")
    np.testing.assert_array_equal(out.intrinsics, k)
    assert (out.width, out.height, out.frame_id, out.distorted) == (1241, 376, "cam2", False)
    message.k = np.zeros(9)
    with pytest.raises(MessageError, match=r"/info: CameraInfo.k: not a pinhole matrix"):
        camera_info_to_intrinsics(message, "/info")


def rigid(seed):
    rng = np.random.default_rng(seed)
    q, _ = np.linalg.qr(rng.normal(size=(3, 3)))
    q *= np.sign(np.linalg.det(q))
    m = np.eye(4)
    m[:3, :3] = q
    m[:3, 3] = rng.normal(size=3) * 5
    return m


@pytest.mark.parametrize("seed", range(5))
def test_transform_round_trip(seed):
    store = typestore("humble")
    factory = RosbagsFactory(store)
    matrix = rigid(seed)
    message = roundtrip(store, transform_stamped(factory, matrix, 3, "base", "lidar"))
    np.testing.assert_allclose(transform_to_matrix(message.transform), matrix, atol=1e-12)


def kitti_grid(seed=0, confidence=True):
    spec = GridSpec((0.0, -25.6, -2.0), (0.2, 0.2, 0.2), (256, 256, 32), frame_id="velodyne")
    rng = np.random.default_rng(seed)
    labels = np.zeros(spec.shape, np.uint8)
    labels[rng.random(spec.shape) < 0.08] = 9
    labels[rng.random(spec.shape) < 0.02] = 1
    labels[rng.random(spec.shape) < 0.01] = 255
    conf = rng.integers(0, 256, spec.shape, dtype=np.uint8) if confidence else None
    from occle_core.data.semantickitti.labels import load_label_config

    names = load_label_config().class_names
    return OccupancyGrid(spec, labels, names, confidence=conf, stamp=12.5)


@pytest.mark.parametrize("distro", DISTROS)
@pytest.mark.parametrize("encoding", ["dense", "sparse"])
def test_occupancy_message_round_trip_is_exact(distro, encoding):
    store = typestore(distro)
    factory = RosbagsFactory(store)
    grid = kitti_grid()
    message = roundtrip(store, grid_to_message(factory, grid, encoding))
    back = message_to_grid(message)
    np.testing.assert_array_equal(back.labels, grid.labels)
    assert back.grid == grid.grid and back.class_names == grid.class_names
    assert back.stamp == pytest.approx(12.5) and back.empty_label == 0
    listed = grid.labels != 0 if encoding == "sparse" else np.ones(grid.labels.shape, bool)
    np.testing.assert_array_equal(back.confidence[listed], grid.confidence[listed])
    if encoding == "sparse":
        assert message.labels.size == np.count_nonzero(grid.labels)
        # 4-byte index + label + confidence per listed voxel, plus a small fixed part.
        size = len(store.serialize_cdr(message, message.__msgtype__))
        assert 6 * message.labels.size < size < 6 * message.labels.size + 1024


def test_occupancy_with_another_axis_order_round_trips():
    factory = RosbagsFactory(typestore("humble"))
    spec = GridSpec((1.0, 2.0, 3.0), (0.5, 0.4, 0.25), (4, 6, 2), axis_order="zxy", frame_id="ego")
    labels = np.random.default_rng(3).integers(0, 5, spec.shape).astype(np.uint8)
    grid = OccupancyGrid(spec, labels, ("empty", "a", "b", "c", "d"))
    message = grid_to_message(factory, grid, "sparse")
    assert message.dims.tolist() == [2, 4, 6]
    assert message.voxel_size.tolist() == pytest.approx([0.25, 0.5, 0.4])
    back = message_to_grid(message)
    assert back.grid == spec
    np.testing.assert_array_equal(back.labels, labels)


def test_occupancy_message_bad_input():
    factory = RosbagsFactory(typestore("humble"))
    message = grid_to_message(factory, kitti_grid(confidence=False), "sparse")
    message.indices = message.indices[::-1].copy()
    with pytest.raises(MessageError, match="/occ: indices: out of range or not ascending"):
        message_to_grid(message, "/occ")
    message = grid_to_message(factory, kitti_grid(confidence=False), "dense")
    message.labels = message.labels[:-1]
    with pytest.raises(MessageError, match="labels: 2097151 values"):
        message_to_grid(message, "/occ")


def test_markers_one_cube_list_per_class_with_official_colours_and_cap():
    factory = RosbagsFactory(typestore("humble"))
    grid = kitti_grid(confidence=False)
    colors = class_colors(grid.class_names)
    markers = grid_to_markers(factory, grid, colors, 5, max_cubes=0).markers
    assert markers[0].action == DELETEALL
    by_class = {m.id: m for m in markers[1:]}
    assert set(by_class) == {1, 9}
    assert len(by_class[9].points) == np.count_nonzero(grid.labels == 9)
    assert by_class[1].ns == "occle/car"
    assert (by_class[1].color.r, by_class[1].color.g, by_class[1].color.b) == pytest.approx(
        tuple(colors[1] / 255)
    )
    index = np.argwhere(grid.labels == 1)[0]
    center = grid.grid.centers_of(index[None])[0]
    first = by_class[1].points[0]
    assert (first.x, first.y, first.z) == pytest.approx(tuple(center), abs=1e-5)
    capped = grid_to_markers(factory, grid, colors, 5, max_cubes=20_000).markers
    assert sum(len(m.points) for m in capped[1:]) == 20_000
    assert {m.id for m in capped[1:]} == {1, 9}


def test_occupied_voxel_cloud_carries_labels():
    store = typestore("humble")
    factory = RosbagsFactory(store)
    grid = kitti_grid(confidence=False)
    cloud = roundtrip(store, grid_to_cloud(factory, grid, 5))
    xyz = cloud_to_array(cloud)[:, :3]
    labels = np.frombuffer(cloud.data, np.uint8).reshape(-1, 16)[:, 12]
    occupied = grid.occupied_indices()
    np.testing.assert_allclose(xyz, grid.grid.centers_of(grid.grid.unravel(occupied)), atol=1e-5)
    np.testing.assert_array_equal(labels, grid.labels.reshape(-1)[occupied])
