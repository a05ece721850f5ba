"""Our ROS-free implementations against the real ROS 2 packages the live node uses, on thousands
of random inputs: `occle bag-eval` must pair, transform and read clouds exactly as the node does.

- pairing: occle_ros.pipeline.sync.ApproximateTimeSync vs message_filters'
  ApproximateTimeSynchronizer (random rates, jitter, drops, duplicates, out-of-order delivery,
  one to six cameras);
- TF: occle_ros.bag.tf_buffer.TransformBuffer vs tf2_ros.Buffer (tf2's C++ BufferCore): random
  trees, static and dynamic links, re-parenting, out-of-order and old samples, ageing out,
  invalid transforms, lookups inside and outside the buffered span;
- clouds: occle_ros.conversions.pointcloud.cloud_to_array vs sensor_msgs_py.point_cloud2
  .read_points on random field layouts (types, offsets, padding, byte order, NaNs).
"""

from __future__ import annotations

import contextlib
import sys

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from live_graph import require_ros_modules

require_ros_modules("rclpy", "message_filters", "tf2_ros", "sensor_msgs_py")

import message_filters  # noqa: E402
import tf2_ros  # noqa: E402
from builtin_interfaces.msg import Time as TimeMessage  # noqa: E402
from geometry_msgs.msg import TransformStamped  # noqa: E402
from rclpy.duration import Duration  # noqa: E402
from rclpy.time import Time  # noqa: E402
from sensor_msgs.msg import PointCloud2, PointField  # noqa: E402
from sensor_msgs_py import point_cloud2  # noqa: E402
from std_msgs.msg import Header  # noqa: E402

from occle_ros.bag.tf_buffer import TransformBuffer  # noqa: E402
from occle_ros.conversions.pointcloud import cloud_to_array  # noqa: E402
from occle_ros.errors import MessageError  # noqa: E402
from occle_ros.pipeline.sync import ApproximateTimeSync, seconds_to_ns  # noqa: E402

MS = 1_000_000


def time_message(ns: int) -> TimeMessage:
    sec, nanosec = divmod(ns, 1_000_000_000)
    return TimeMessage(sec=sec, nanosec=nanosec)


# --- pairing ----------------------------------------------------------------------------------
class Stamped:
    """A message with a header, as message_filters reads it."""

    def __init__(self, key: tuple[int, int, int]):
        self.key = key
        self.header = Header(stamp=time_message(key[1]))


def random_streams(rng: np.random.Generator, inputs: int) -> list[tuple[int, int, int]]:
    """(input, stamp ns, serial) in delivery order: per-input rates and phases, stamp jitter,
    dropped and repeated messages, delivery delays that reorder them."""
    events = []
    serial = 0
    for index in range(inputs):
        period = int(rng.choice([33, 50, 83, 100, 250])) * MS
        phase = int(rng.integers(0, period))
        jitter = int(rng.integers(0, 30)) * MS
        drop, repeat = rng.uniform(0, 0.3), rng.uniform(0, 0.1)
        for k in range(int(rng.integers(2, 12))):
            if rng.random() < drop:
                continue
            stamp = 10**9 + phase + k * period + int(rng.integers(-jitter, jitter + 1))
            for _ in range(1 + (rng.random() < repeat)):
                arrival = stamp + int(rng.integers(0, 150)) * MS
                events.append((arrival, index, stamp, serial))
                serial += 1
    events.sort()
    return [(index, stamp, number) for _, index, stamp, number in events]


def pair_with_message_filters(
    arrivals: list[tuple[int, int, int]], inputs: int, queue: int, slop: float
) -> list[tuple]:
    filters = [message_filters.SimpleFilter() for _ in range(inputs)]
    synchronizer = message_filters.ApproximateTimeSynchronizer(filters, queue, slop)
    emitted: list[tuple] = []
    synchronizer.registerCallback(lambda *messages: emitted.append(tuple(m.key for m in messages)))
    for key in arrivals:
        filters[key[0]].signalMessage(Stamped(key))
    return emitted


def pair_with_ours(
    arrivals: list[tuple[int, int, int]], inputs: int, queue: int, slop: float
) -> list[tuple]:
    names = [f"in{i}" for i in range(inputs)]
    emitted: list[tuple] = []
    sync = ApproximateTimeSync(
        names,
        seconds_to_ns(slop),
        queue,
        lambda found: emitted.append(tuple(found[n] for n in names)),
    )
    for key in arrivals:
        sync.add(names[key[0]], key[1], key)
    return emitted


@settings(max_examples=2000, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    inputs=st.sampled_from([1, 2, 3, 5, 7]),
    queue=st.integers(1, 8),
    slop=st.floats(0.001, 0.2),
)
def test_pairing_is_message_filters_pairing(seed, inputs, queue, slop):
    arrivals = random_streams(np.random.default_rng(seed), inputs)
    assert pair_with_ours(arrivals, inputs, queue, slop) == pair_with_message_filters(
        arrivals, inputs, queue, slop
    )


@settings(max_examples=100, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), queue=st.integers(1, 5))
def test_pairing_of_six_cameras_is_message_filters_pairing(seed, queue):
    """A LiDAR and six (image, info) pairs: 13 inputs, nuScenes-like rates."""
    arrivals = random_streams(np.random.default_rng(seed), 13)
    assert pair_with_ours(arrivals, 13, queue, 0.05) == pair_with_message_filters(
        arrivals, 13, queue, 0.05
    )


def test_the_slop_is_truncated_to_nanoseconds_as_rclpy_does():
    assert seconds_to_ns(0.00013) == Duration(seconds=0.00013).nanoseconds == 129_999


# --- TF -------------------------------------------------------------------------------------
FRAMES = ["map", "odom", "base", "lidar", "cam", "imu"]


def random_quaternion(rng: np.random.Generator) -> np.ndarray:
    q = rng.normal(size=4)
    q /= np.linalg.norm(q)
    roll = rng.random()
    if roll < 0.1:
        q *= rng.uniform(0.5, 2.0)  # tf2 normalises what is not a unit quaternion
    elif roll < 0.12:
        q[:] = 0.0  # refused
    elif roll < 0.15:
        q[int(rng.integers(4))] = np.nan  # refused
    return q


def transform_message(
    rng: np.random.Generator, parent: str, child: str, stamp_ns: int
) -> TransformStamped:
    message = TransformStamped()
    message.header.frame_id = parent
    message.header.stamp = time_message(stamp_ns)
    message.child_frame_id = child
    q = random_quaternion(rng)
    t = rng.uniform(-10, 10, 3)
    message.transform.translation.x, message.transform.translation.y = t[0], t[1]
    message.transform.translation.z = t[2]
    r = message.transform.rotation
    r.x, r.y, r.z, r.w = (float(v) for v in q)
    return message


def matrix_of(message: TransformStamped) -> np.ndarray:
    t, r = message.transform.translation, message.transform.rotation
    q = np.array([r.x, r.y, r.z, r.w])
    x, y, z, w = q / np.linalg.norm(q)
    out = np.eye(4)
    out[:3, :3] = [
        [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
        [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
        [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
    ]
    out[:3, 3] = (t.x, t.y, t.z)
    return out


def tf2_lookup(buffer: tf2_ros.Buffer, target: str, source: str, stamp_ns: int):
    try:
        found = buffer.lookup_transform(target, source, Time(nanoseconds=stamp_ns))
    except tf2_ros.TransformException as error:
        return type(error).__name__
    return matrix_of(found)


def our_lookup(buffer: TransformBuffer, target: str, source: str, stamp_ns: int):
    try:
        return buffer.lookup(target, source, stamp_ns)
    except LookupError as error:
        return type(error).__name__


def compare_lookups(rng, ours, theirs, stamps, lookups) -> None:
    span = (min(stamps), max(stamps)) if stamps else (10**9, 2 * 10**9)
    for _ in range(lookups):
        names = FRAMES if rng.random() < 0.85 else [*FRAMES, "nowhere", "/odom", ""]
        target, source = rng.choice(names, 2)
        if rng.random() < 0.4 and stamps:
            stamp = int(rng.choice(stamps))  # exactly at a sample
        else:
            stamp = int(rng.integers(max(span[0] - 10**9, 1), span[1] + 10**9))
        expected = tf2_lookup(theirs, str(target), str(source), stamp)
        found = our_lookup(ours, str(target), str(source), stamp)
        if isinstance(expected, str):
            assert isinstance(found, str), (target, source, stamp, expected)
        else:
            assert not isinstance(found, str), (target, source, stamp, found)
            np.testing.assert_allclose(found, expected, atol=1e-9, err_msg=f"{target}<-{source}")


@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32 - 1), cache_seconds=st.sampled_from([0.5, 2.0, 10.0]))
def test_lookups_are_tf2_lookups(seed, cache_seconds):
    rng = np.random.default_rng(seed)
    cache_ns = int(cache_seconds * 1e9)
    theirs = tf2_ros.Buffer(cache_time=Duration(nanoseconds=cache_ns))
    ours = TransformBuffer(cache_ns=cache_ns)
    parents = {child: FRAMES[int(rng.integers(0, i))] for i, child in enumerate(FRAMES) if i}
    static = {child: bool(rng.random() < 0.4) for child in parents}
    stamps: list[int] = []
    clock = 10**9
    for _ in range(int(rng.integers(5, 40))):
        child = str(rng.choice(list(parents)))
        if rng.random() < 0.05:  # re-parenting, and a frame changing kind, now and then
            parents[child] = str(rng.choice([f for f in FRAMES if f != child]))
        if rng.random() < 0.05:
            static[child] = not static[child]
        clock += int(rng.integers(0, 600)) * MS
        stamp = clock - int(rng.integers(0, 3_000)) * MS * (rng.random() < 0.2)  # late samples
        stamp = max(stamp, 1)
        message = transform_message(rng, parents[child], child, stamp)
        if static[child]:
            theirs.set_transform_static(message, "test")
        else:
            theirs.set_transform(message, "test")
        with contextlib.suppress(MessageError):  # tf2 logs and ignores the same transforms
            ours.add(message, static[child], "/tf")
        stamps.append(stamp)
        compare_lookups(rng, ours, theirs, stamps, 3)
    compare_lookups(rng, ours, theirs, stamps, 30)


# --- clouds ---------------------------------------------------------------------------------
DATATYPES = {
    PointField.INT8: "i1",
    PointField.UINT8: "u1",
    PointField.INT16: "i2",
    PointField.UINT16: "u2",
    PointField.INT32: "i4",
    PointField.UINT32: "u4",
    PointField.FLOAT32: "f4",
    PointField.FLOAT64: "f8",
}


def random_cloud(rng: np.random.Generator) -> tuple[PointCloud2, str]:
    """A cloud with x, y, z (float32 or float64), an intensity-like field of any type and
    extra fields, in shuffled order with gaps, either byte order, organised or not."""
    intensity = str(rng.choice(["intensity", "reflectivity", "i"]))
    coordinate = str(rng.choice(["f4", "f8"]))
    names = ["x", "y", "z", intensity, "ring", "t"]
    kinds = [coordinate] * 3 + [str(rng.choice(list(DATATYPES.values())))] + ["u2", "f8"]
    keep = [True] * 3 + list(rng.random(3) < 0.7)
    order = rng.permutation(len(names))
    fields, offset = [], 0
    for index in order:
        if not keep[index]:
            continue
        offset += int(rng.integers(0, 3))  # gaps
        size = np.dtype(kinds[index]).itemsize
        offset = (offset + size - 1) // size * size  # keep fields aligned, as drivers do
        datatype = next(k for k, v in DATATYPES.items() if v == kinds[index])
        fields.append(PointField(name=names[index], offset=offset, datatype=datatype, count=1))
        offset += size
    point_step = offset + int(rng.integers(0, 9))
    height = int(rng.choice([1, 2, 4]))
    width = int(rng.integers(0, 40))
    big = bool(rng.random() < 0.3)
    record = np.dtype(
        {
            "names": [f.name for f in fields],
            "formats": [(">" if big else "<") + DATATYPES[f.datatype] for f in fields],
            "offsets": [f.offset for f in fields],
            "itemsize": point_step,
        }
    )
    points = np.zeros(height * width, dtype=record)
    for field in fields:
        kind = np.dtype(DATATYPES[field.datatype])
        if kind.kind == "f":
            points[field.name] = rng.uniform(-100, 100, len(points))
        else:
            info = np.iinfo(kind)
            points[field.name] = rng.integers(info.min, info.max, len(points), endpoint=True)
    for axis in "xyz":
        points[axis][rng.random(len(points)) < 0.1] = np.nan
    cloud = PointCloud2(
        header=Header(frame_id="lidar"),
        height=height,
        width=width,
        fields=fields,
        is_bigendian=big,
        point_step=point_step,
        row_step=point_step * width,
        is_dense=False,
    )
    cloud.data = points.tobytes()
    return cloud, intensity


@settings(max_examples=1000, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_clouds_read_as_sensor_msgs_py_reads_them(seed):
    cloud, intensity = random_cloud(np.random.default_rng(seed))
    ours = cloud_to_array(cloud, "/points", intensity).copy()  # before read_points byteswaps
    wanted = ["x", "y", "z"] + ([intensity] if intensity in [f.name for f in cloud.fields] else [])
    theirs = point_cloud2.read_points(cloud, field_names=wanted, skip_nans=True)
    assert len(ours) == len(theirs)
    for column, name in enumerate(wanted):
        np.testing.assert_array_equal(ours[:, column], theirs[name].astype(np.float32))
    if len(wanted) == 3:
        assert not ours[:, 3].any()  # no intensity field: 0


@pytest.mark.skipif(sys.byteorder != "little", reason="the packed fast path is little endian")
def test_a_packed_cloud_is_read_without_copying_as_sensor_msgs_py_reads_it():
    rng = np.random.default_rng(0)
    values = rng.uniform(-50, 50, (1000, 4)).astype("<f4")
    fields = [
        PointField(name=n, offset=4 * i, datatype=PointField.FLOAT32, count=1)
        for i, n in enumerate(["x", "y", "z", "intensity"])
    ]
    cloud = PointCloud2(height=1, width=1000, fields=fields, point_step=16, row_step=16_000)
    cloud.data = values.tobytes()
    ours = cloud_to_array(cloud)
    theirs = point_cloud2.read_points_numpy(cloud, field_names=["x", "y", "z", "intensity"])
    np.testing.assert_array_equal(ours, theirs)
    assert not ours.flags.owndata
