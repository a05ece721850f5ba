"""SemanticKITTI readers and writers on the real KITTI odometry files, and every round trip."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

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
from occle_core.data.semantickitti.labels import load_label_config
from occle_core.data.semantickitti.poses import read_poses, read_times, write_poses, write_times
from occle_core.data.semantickitti.sequence import (
    SemanticKittiSequence,
    prediction_path,
    read_prediction,
    write_prediction,
)
from occle_core.errors import DataFormatError
from occle_core.geometry.grid import SEMANTICKITTI_GRID
from occle_core.io.images import write_png
from occle_core.occupancy import OccupancyGrid

SSC_SHAPE = (256, 256, 32)

P2_IN_FILE = [
    7.188560000000e02,
    0.0,
    6.071928000000e02,
    4.538225000000e01,
    0.0,
    7.188560000000e02,
    1.852157000000e02,
    -1.130887000000e-01,
    0.0,
    0.0,
    1.0,
    3.779761000000e-03,
]
TR_IN_FILE = [
    4.276802385584e-04,
    -9.999672484946e-01,
    -8.084491683471e-03,
    -1.198459927713e-02,
    -7.210626507497e-03,
    8.081198471645e-03,
    -9.999413164504e-01,
    -5.403984729748e-02,
    9.999738645903e-01,
    4.859485810390e-04,
    -7.206933692422e-03,
    -2.921968648686e-01,
]


@pytest.fixture(scope="module")
def seq00(real_data: Path) -> Path:
    return real_data / "semantickitti/sequences/00"


@pytest.fixture(scope="module")
def subset(real_data: Path) -> Path:
    return real_data / "semantickitti/subset50/sequences/00"


# --- real files -----------------------------------------------------------------------------------
@pytest.mark.real_data
def test_real_scans_point_counts(seq00: Path) -> None:
    scan0 = read_velodyne(seq00 / "velodyne/000000.bin")
    scan1 = read_velodyne(seq00 / "velodyne/000001.bin")
    assert scan0.shape == (124668, 4) and scan0.dtype == np.float32
    assert scan1.shape == (124605, 4)
    assert np.isfinite(scan0).all()
    # A 360 degree HDL-64E sweep: returns in front and behind, reflectance within 0..1.
    assert scan0[:, 0].min() < -20 and scan0[:, 0].max() > 20
    assert scan0[:, 3].min() >= 0.0 and scan0[:, 3].max() <= 1.0


@pytest.mark.real_data
def test_real_subset50_labels(seq00: Path, subset: Path) -> None:
    points = read_velodyne(subset / "velodyne/000000.bin")
    assert points.shape == (50, 4)
    semantic, instance = read_point_labels(subset / "labels/000000.label", num_points=50)
    assert semantic.shape == (50,) and semantic.dtype == np.uint16
    assert set(semantic.tolist()) == {0, 50, 52, 70, 71, 80}
    assert not instance.any()
    config = load_label_config()
    classes = config.to_learning(semantic, "subset50", completion=False)
    mapping = dict(zip(semantic.tolist(), classes.tolist(), strict=True))
    assert mapping == {0: 0, 50: 13, 52: 0, 70: 15, 71: 16, 80: 18}
    assert [config.class_names[c] for c in (13, 15, 16, 18)] == [
        "building",
        "vegetation",
        "trunk",
        "pole",
    ]
    # The 50 points are real rows of the full scan 00/000000.
    full = read_velodyne(seq00 / "velodyne/000000.bin")
    rows = {row.tobytes() for row in full}
    assert all(row.tobytes() in rows for row in points)


@pytest.mark.real_data
def test_real_calib_values(seq00: Path) -> None:
    calib = read_calib(seq00 / "calib.txt")
    assert sorted(calib.projections) == ["P0", "P1", "P2", "P3"]
    np.testing.assert_array_equal(calib.projections["P2"].ravel(), P2_IN_FILE)
    np.testing.assert_array_equal(calib.velo_to_cam0[:3].ravel(), TR_IN_FILE)
    np.testing.assert_array_equal(calib.velo_to_cam0[3], [0, 0, 0, 1])
    assert calib.projections["P1"][0, 3] == -3.861448000000e02
    assert calib.source == str(seq00 / "calib.txt")
    # Tr is a rotation: LiDAR x (forward) becomes camera z (forward).
    rotation = calib.velo_to_cam0[:3, :3]
    np.testing.assert_allclose(rotation @ rotation.T, np.eye(3), atol=1e-6)
    assert rotation[2, 0] > 0.999
    assert read_calib(seq00.parent / "08/calib.txt").projections["P2"].shape == (3, 4)


@pytest.mark.real_data
def test_real_poses_and_times(seq00: Path) -> None:
    camera_poses = read_poses(seq00 / "poses.txt")
    assert camera_poses.shape == (4541, 4, 4)
    assert read_poses(seq00.parent / "08/poses.txt").shape == (4071, 4, 4)
    np.testing.assert_array_equal(camera_poses[1, :3, 3], [-0.00135393, -0.0248245, 0.672716])
    np.testing.assert_array_equal(camera_poses[:, 3], np.tile([0, 0, 0, 1], (4541, 1)))
    times = read_times(seq00 / "times.txt")
    assert times.shape == (4541,)
    assert times[0] == 0.0 and times[1] == 0.1037359
    assert (np.diff(times) > 0).all()
    assert read_times(seq00.parent / "08/times.txt").shape == (4071,)


@pytest.mark.real_data
def test_read_poses_converts_to_velodyne_poses(seq00: Path) -> None:
    tr = read_calib(seq00 / "calib.txt").velo_to_cam0
    camera_poses = read_poses(seq00 / "poses.txt")
    velodyne_poses = read_poses(seq00 / "poses.txt", tr)
    np.testing.assert_allclose(
        velodyne_poses[1], np.linalg.inv(tr) @ camera_poses[1] @ tr, atol=1e-12
    )
    np.testing.assert_allclose(velodyne_poses[0], np.eye(4), atol=1e-8)
    # The camera moves along its z (forward); the velodyne pose moves ~0.67 m along +x (forward).
    translation = velodyne_poses[1, :3, 3]
    assert 0.66 < translation[0] < 0.69
    assert abs(translation[1]) < 0.03 and abs(translation[2]) < 0.03
    np.testing.assert_allclose(
        velodyne_poses[:, :3, :3] @ velodyne_poses[:, :3, :3].transpose(0, 2, 1),
        np.broadcast_to(np.eye(3), (4541, 3, 3)),
        atol=1e-4,
    )


# --- round trips ----------------------------------------------------------------------------------
def test_velodyne_round_trip(tmp_path: Path) -> None:
    points = np.random.default_rng(0).normal(0, 20, (1000, 4)).astype(np.float32)
    path = tmp_path / "nested/velodyne/000042.bin"
    write_velodyne(path, points)
    assert path.stat().st_size == 16000
    assert path.read_bytes() == points.astype("<f4").tobytes()
    np.testing.assert_array_equal(read_velodyne(path), points)
    write_velodyne(path, points[:0])
    assert read_velodyne(path).shape == (0, 4)
    with pytest.raises(ValueError, match=r"\(N, 4\)"):
        write_velodyne(path, points[:, :3])


def test_point_labels_round_trip_with_instance_bits(tmp_path: Path) -> None:
    semantic = np.array([10, 252, 0, 40, 0xFFFF], dtype=np.uint16)
    instance = np.array([0, 5, 0xFFFF, 1, 7], dtype=np.uint16)
    path = tmp_path / "000000.label"
    write_point_labels(path, semantic, instance)
    on_disk = np.fromfile(path, dtype="<u4")
    np.testing.assert_array_equal(
        on_disk, [10, 252 | 5 << 16, 0xFFFF << 16, 40 | 1 << 16, 0xFFFF | 7 << 16]
    )
    sem, inst = read_point_labels(path, num_points=5)
    np.testing.assert_array_equal(sem, semantic)
    np.testing.assert_array_equal(inst, instance)
    assert inst.dtype == np.uint16
    write_point_labels(path, semantic)  # no instances -> upper bits zero
    np.testing.assert_array_equal(read_point_labels(path)[1], np.zeros(5))
    with pytest.raises(ValueError, match="16 bits"):
        write_point_labels(path, np.array([1 << 16]))
    with pytest.raises(ValueError, match="instance"):
        write_point_labels(path, semantic, instance[:3])


def test_voxel_bits_round_trip_and_bit_order(tmp_path: Path) -> None:
    mask = np.random.default_rng(1).random(SSC_SHAPE) < 0.3
    path = tmp_path / "000000.invalid"
    write_voxel_bits(path, mask)
    assert path.stat().st_size == 256 * 256 * 32 // 8
    np.testing.assert_array_equal(read_voxel_bits(path), mask)

    # First voxel is the most significant bit of the first byte; C order means z runs fastest.
    single = np.zeros(SSC_SHAPE, dtype=bool)
    single[0, 0, 0] = True
    write_voxel_bits(path, single)
    data = path.read_bytes()
    assert data[0] == 0x80 and not any(data[1:])
    single[0, 0, 0], single[0, 0, 7], single[0, 0, 8], single[0, 1, 0] = False, True, True, True
    write_voxel_bits(path, single)
    data = path.read_bytes()
    assert data[:5] == bytes([0x01, 0x80, 0x00, 0x00, 0x80])  # [0,1,0] is voxel 32 -> byte 4
    np.testing.assert_array_equal(read_voxel_bits(path), single)
    # Small grids work with an explicit shape.
    small = np.array([True, False, False, True, True, True, False, True] * 2).reshape(2, 2, 4)
    write_voxel_bits(path, small)
    assert path.read_bytes() == bytes([0b10011101, 0b10011101])
    np.testing.assert_array_equal(read_voxel_bits(path, (2, 2, 4)), small)
    with pytest.raises(ValueError, match="multiple of 8"):
        write_voxel_bits(path, np.zeros((3, 1, 1), dtype=bool))


def test_voxel_labels_round_trip(tmp_path: Path) -> None:
    labels = np.random.default_rng(2).integers(0, 260, SSC_SHAPE).astype(np.uint16)
    path = tmp_path / "000000.label"
    write_voxel_labels(path, labels)
    assert path.stat().st_size == 2 * 256 * 256 * 32
    read = read_voxel_labels(path)
    assert read.shape == SSC_SHAPE and read.dtype == np.uint16
    np.testing.assert_array_equal(read, labels)
    on_disk = np.fromfile(path, dtype="<u2")
    assert on_disk[1] == labels[0, 0, 1] and on_disk[32] == labels[0, 1, 0]
    assert on_disk[256 * 32] == labels[1, 0, 0]
    with pytest.raises(DataFormatError, match="uint16"):
        write_voxel_labels(path, np.array([-1, 3]))
    with pytest.raises(DataFormatError, match="uint16"):
        write_voxel_labels(path, np.array([70000]))


@pytest.mark.real_data
def test_calib_round_trip_is_byte_identical(seq00: Path, tmp_path: Path) -> None:
    for sequence in ("00", "08"):
        original = seq00.parent / sequence / "calib.txt"
        calib = read_calib(original)
        write_calib(tmp_path / "calib.txt", calib)
        assert (tmp_path / "calib.txt").read_bytes() == original.read_bytes()
        again = read_calib(tmp_path / "calib.txt")
        for key in calib.projections:
            np.testing.assert_array_equal(again.projections[key], calib.projections[key])
        np.testing.assert_array_equal(again.velo_to_cam0, calib.velo_to_cam0)


def test_calib_round_trip_synthetic(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    rotation, _ = np.linalg.qr(rng.normal(size=(3, 3)))
    rotation *= np.sign(np.linalg.det(rotation))  # a proper rotation: Tr must be rigid
    tr = np.eye(4)
    tr[:3, :3], tr[:3, 3] = rotation, rng.normal(size=3)
    calib = KittiCalibration(
        projections={k: rng.normal(size=(3, 4)) for k in ("P0", "P1", "P2", "P3")},
        velo_to_cam0=tr,
    )
    write_calib(tmp_path / "calib.txt", calib)
    again = read_calib(tmp_path / "calib.txt")
    np.testing.assert_allclose(again.projections["P3"], calib.projections["P3"], rtol=1e-12)
    np.testing.assert_allclose(again.velo_to_cam0, calib.velo_to_cam0, rtol=1e-12)


@pytest.mark.real_data
def test_poses_round_trip_with_and_without_tr(seq00: Path, tmp_path: Path) -> None:
    tr = read_calib(seq00 / "calib.txt").velo_to_cam0
    camera_poses = read_poses(seq00 / "poses.txt")[:200]
    velodyne_poses = read_poses(seq00 / "poses.txt", tr)[:200]
    path = tmp_path / "poses.txt"

    write_poses(path, camera_poses)
    assert len(path.read_text().splitlines()) == 200
    np.testing.assert_allclose(read_poses(path), camera_poses, rtol=1e-9, atol=1e-15)

    write_poses(path, velodyne_poses, tr)  # stored as camera poses again
    # KITTI's Tr is orthonormal only to ~1e-7 and the conversion inverts it as [R^T, -R^T t], so
    # the round trip is exact only to ~1e-7 of the pose magnitude (here < 20 m -> < 1e-5).
    np.testing.assert_allclose(read_poses(path), camera_poses, rtol=0, atol=1e-5)
    np.testing.assert_allclose(read_poses(path, tr), velodyne_poses, rtol=0, atol=1e-5)
    with pytest.raises(AssertionError):  # without conversion the files would differ
        np.testing.assert_allclose(velodyne_poses, camera_poses, atol=1e-3)


def test_poses_round_trip_with_orthonormal_tr_is_exact(tmp_path: Path) -> None:
    tr = np.array(
        [
            [0.0, -1.0, 0.0, 0.25],
            [0.0, 0.0, -1.0, -0.5],
            [1.0, 0.0, 0.0, -0.125],
            [0.0, 0.0, 0.0, 1.0],
        ]
    )
    velodyne_pose = np.eye(4)
    velodyne_pose[:3, 3] = [2.0, 0.5, -0.25]  # 2 m forward (x), 0.5 m left, 0.25 m down
    write_poses(tmp_path / "poses.txt", np.stack([np.eye(4), velodyne_pose]), tr)
    camera = read_poses(tmp_path / "poses.txt")
    # In camera axes forward is +z, left is -x, down is +y.
    np.testing.assert_allclose(camera[1, :3, 3], [-0.5, 0.25, 2.0], atol=1e-12)
    np.testing.assert_allclose(camera[1, :3, :3], np.eye(3), atol=1e-12)
    np.testing.assert_allclose(read_poses(tmp_path / "poses.txt", tr)[1], velodyne_pose, atol=1e-12)


@pytest.mark.real_data
def test_times_round_trip_is_byte_identical(seq00: Path, tmp_path: Path) -> None:
    times = read_times(seq00 / "times.txt")
    write_times(tmp_path / "times.txt", times)
    assert (tmp_path / "times.txt").read_bytes() == (seq00 / "times.txt").read_bytes()
    np.testing.assert_array_equal(read_times(tmp_path / "times.txt"), times)


def test_times_round_trip_synthetic(tmp_path: Path) -> None:
    times = np.array([0.0, 0.1037359, 12.5, 470.1234])
    write_times(tmp_path / "times.txt", times)
    assert (tmp_path / "times.txt").read_text() == (
        "0.000000e+00\n1.037359e-01\n1.250000e+01\n4.701234e+02\n"
    )
    np.testing.assert_array_equal(read_times(tmp_path / "times.txt"), times)


def test_prediction_round_trip_via_learning_map_inv(tmp_path: Path) -> None:
    classes = np.random.default_rng(4).integers(0, 20, SSC_SHAPE).astype(np.uint8)
    classes[0, 0, :4] = [1, 0, 19, 9]
    path = write_prediction(tmp_path, 8, 123, classes)
    assert path == tmp_path / "sequences/08/predictions/000123.label"
    assert path == prediction_path(tmp_path, "08", 123)
    raw = np.fromfile(path, dtype="<u2")
    assert raw.size == 256 * 256 * 32
    np.testing.assert_array_equal(raw[:4], [10, 0, 81, 40])  # car, empty, traffic-sign, road
    inverse = load_label_config().inverse_lut()
    np.testing.assert_array_equal(raw, inverse[classes.ravel()])
    back = read_prediction(path)
    assert back.dtype == np.uint8
    np.testing.assert_array_equal(back, classes)
    # An OccupancyGrid works the same way.
    grid = OccupancyGrid(SEMANTICKITTI_GRID, classes, load_label_config().class_names)
    np.testing.assert_array_equal(
        read_prediction(write_prediction(tmp_path, "00", 1, grid)), classes
    )
    with pytest.raises(DataFormatError, match="class 20"):
        write_prediction(tmp_path, 8, 124, np.full(SSC_SHAPE, 20, np.uint8))
    assert not prediction_path(tmp_path, 8, 124).exists()


# --- label configuration --------------------------------------------------------------------------
def test_label_configuration() -> None:
    config = load_label_config()
    assert config.num_classes == 20
    assert config.class_names == (
        "empty",
        "car",
        "bicycle",
        "motorcycle",
        "truck",
        "other-vehicle",
        "person",
        "bicyclist",
        "motorcyclist",
        "road",
        "parking",
        "sidewalk",
        "other-ground",
        "building",
        "fence",
        "vegetation",
        "trunk",
        "terrain",
        "pole",
        "traffic-sign",
    )
    colours = config.class_colors_rgb()
    assert colours.shape == (20, 3) and colours.dtype == np.uint8
    assert tuple(colours[1]) == (100, 150, 245)  # car (BGR 245, 150, 100 in the file)
    assert tuple(colours[6]) == (255, 30, 30)  # person
    assert tuple(colours[9]) == (255, 0, 255)  # road
    assert tuple(colours[13]) == (255, 200, 0)  # building
    assert tuple(colours[15]) == (0, 175, 0)  # vegetation
    assert config.color_map_bgr[10] == (245, 150, 100)
    assert config.raw_names[252] == "moving-car" and config.learning_map[252] == 1
    assert config.learning_ignore[0] and not any(config.learning_ignore[c] for c in range(1, 20))
    assert config.split["valid"] == [8] and 0 in config.split["train"]
    assert config is load_label_config()  # cached


def test_learning_lut_completion_and_points() -> None:
    config = load_label_config()
    voxels = config.learning_lut(completion=True)
    points = config.learning_lut(completion=False)
    assert voxels.size == points.size == 259 + 100
    assert voxels[52] == 255 and points[52] == 0  # other-structure: ignored for SSC only
    assert voxels[0] == 0 and points[0] == 0
    assert voxels[1] == 255 and voxels[99] == 255  # outlier, other-object
    assert voxels[10] == 1 and voxels[252] == 1 and voxels[259] == 5 and voxels[81] == 19
    assert voxels[2] == 255 and points[2] == 0  # never listed
    for cls, raw in config.learning_map_inv.items():
        assert points[raw] == cls
    inverse = config.inverse_lut()
    assert inverse.dtype == np.uint16 and inverse[1] == 10 and inverse[19] == 81
    assert inverse[200] == 0
    with pytest.raises(DataFormatError, match=r"my/file.label: unknown raw label ids \[2, 300\]"):
        config.to_learning(np.array([10, 2, 300], dtype=np.uint16), "my/file.label")


# --- a whole sequence written into tmp_path -------------------------------------------------------
@pytest.fixture
def dataset(tmp_path: Path, seq00: Path, subset: Path) -> dict:
    """A SemanticKITTI root in tmp_path, derived from the real files (never copied to the repo)."""
    root = tmp_path / "kitti"
    seq = root / "sequences/00"
    points = read_velodyne(subset / "velodyne/000000.bin")
    semantic, _ = read_point_labels(subset / "labels/000000.label")
    write_velodyne(seq / "velodyne/000000.bin", points)
    write_velodyne(seq / "velodyne/000005.bin", points[:20] + np.float32(1.0))
    write_point_labels(seq / "labels/000000.label", semantic, np.arange(50))
    calib = read_calib(seq00 / "calib.txt")
    write_calib(seq / "calib.txt", calib)
    camera_poses = read_poses(seq00 / "poses.txt")[:6]
    write_poses(seq / "poses.txt", camera_poses)
    times = read_times(seq00 / "times.txt")[:6]
    write_times(seq / "times.txt", times)

    rng = np.random.default_rng(5)
    raw = rng.choice(np.array([0, 10, 40, 52, 70, 252]), SSC_SHAPE).astype(np.uint16)
    invalid = rng.random(SSC_SHAPE) < 0.2
    occluded = rng.random(SSC_SHAPE) < 0.1
    write_voxel_labels(seq / "voxels/000000.label", raw)
    write_voxel_bits(seq / "voxels/000000.invalid", invalid)
    write_voxel_bits(seq / "voxels/000000.occluded", occluded)
    write_voxel_bits(seq / "voxels/000000.bin", raw == 10)
    return {
        "root": root,
        "seq": seq,
        "points": points,
        "semantic": semantic,
        "calib": calib,
        "camera_poses": camera_poses,
        "times": times,
        "raw": raw,
        "invalid": invalid,
        "occluded": occluded,
    }


@pytest.mark.real_data
def test_sequence_frames(dataset: dict) -> None:
    sequence = SemanticKittiSequence(dataset["root"], 0)
    assert sequence.sequence == "00" and sequence.path == dataset["seq"]
    assert sequence.scan_ids == [0, 5] and sequence.num_scans == 2
    assert sequence.voxel_ids == [0]
    frame = sequence.frame(0)
    np.testing.assert_array_equal(frame.points, dataset["points"])
    assert frame.frame_id == "00/000000" and frame.time == 0.0
    assert frame.images == [] and frame.cameras == []
    np.testing.assert_allclose(frame.pose, np.eye(4), atol=1e-8)
    tr = dataset["calib"].velo_to_cam0
    frame5 = sequence.frame(5)
    assert frame5.frame_id == "00/000005" and frame5.time == dataset["times"][5]
    np.testing.assert_allclose(
        frame5.pose, np.linalg.inv(tr) @ dataset["camera_poses"][5] @ tr, atol=1e-8
    )
    assert frame5.points.shape == (20, 4)


@pytest.mark.real_data
def test_sequence_frame_with_image(dataset: dict) -> None:
    image = np.random.default_rng(6).integers(0, 256, (10, 24, 3), dtype=np.uint8)
    write_png(dataset["seq"] / "image_2/000000.png", image)
    sequence = SemanticKittiSequence(dataset["root"], "00")
    frame = sequence.frame(0)
    np.testing.assert_array_equal(frame.images[0], image)
    camera = frame.cameras[0]
    assert camera.name == "image_2" and (camera.width, camera.height) == (24, 10)
    np.testing.assert_allclose(
        camera.projection, dataset["calib"].lidar_to_image("image_2"), rtol=1e-12, atol=1e-9
    )
    assert sequence.frame(0, load_image=False).images == []


@pytest.mark.real_data
def test_sequence_labels_and_voxel_ground_truth(dataset: dict) -> None:
    sequence = SemanticKittiSequence(dataset["root"], 0)
    classes, instance = sequence.point_labels(0, num_points=50)
    np.testing.assert_array_equal(
        classes, load_label_config().to_learning(dataset["semantic"], "", completion=False)
    )
    np.testing.assert_array_equal(instance, np.arange(50))

    gt = sequence.voxel_ground_truth(0)
    raw, invalid = dataset["raw"], dataset["invalid"]
    expected = np.select(
        [raw == 0, raw == 10, raw == 40, raw == 52, raw == 70, raw == 252], [0, 1, 9, 255, 15, 1]
    ).astype(np.uint8)
    expected[invalid] = 255
    assert gt.labels.dtype == np.uint8
    np.testing.assert_array_equal(gt.labels, expected)
    np.testing.assert_array_equal(gt.invalid, invalid)
    np.testing.assert_array_equal(gt.occluded, dataset["occluded"])
    np.testing.assert_array_equal(gt.scan_occupancy, raw == 10)

    grid = sequence.ground_truth_grid(0)
    np.testing.assert_array_equal(grid.labels, expected)
    assert grid.frame_id == "00/000000" and grid.empty_label == 0 and grid.num_classes == 20

    (dataset["seq"] / "voxels/000000.occluded").unlink()
    (dataset["seq"] / "voxels/000000.bin").unlink()
    lean = sequence.voxel_ground_truth(0)
    assert lean.occluded is None and lean.scan_occupancy is None


@pytest.mark.real_data
def test_sequence_unknown_label_ids_name_the_file(dataset: dict) -> None:
    sequence = SemanticKittiSequence(dataset["root"], 0)
    semantic = dataset["semantic"].copy()
    semantic[3] = 2  # not a SemanticKITTI raw id
    label_file = dataset["seq"] / "labels/000000.label"
    write_point_labels(label_file, semantic)
    with pytest.raises(DataFormatError, match=r"unknown raw label ids \[2\]") as error:
        sequence.point_labels(0)
    assert str(label_file) in str(error.value)

    raw = dataset["raw"].copy()
    raw[10, 20, 3] = 300
    voxel_file = dataset["seq"] / "voxels/000000.label"
    write_voxel_labels(voxel_file, raw)
    with pytest.raises(DataFormatError, match=r"\[300\]") as error:
        sequence.voxel_ground_truth(0)
    assert error.value.source == str(voxel_file)


def test_sequence_folder_missing(tmp_path: Path) -> None:
    with pytest.raises(DataFormatError, match="sequence folder not found") as error:
        SemanticKittiSequence(tmp_path, 3)
    assert error.value.source == str(tmp_path / "sequences/03")


def test_sequence_without_poses_and_times(tmp_path: Path) -> None:
    seq = tmp_path / "sequences/11"
    write_velodyne(seq / "velodyne/000000.bin", np.zeros((3, 4), np.float32))
    write_velodyne(seq / "velodyne/000001.bin", np.ones((2, 4), np.float32))
    sequence = SemanticKittiSequence(tmp_path, "11")
    np.testing.assert_array_equal(sequence.poses, np.tile(np.eye(4), (2, 1, 1)))
    np.testing.assert_allclose(sequence.times, [0.0, 0.1])
    assert sequence.frame(1).time == pytest.approx(0.1)
    assert sequence.voxel_ids == []
