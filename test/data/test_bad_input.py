"""Bad input: every reader either returns a correctly shaped result or raises DataFormatError.

Covers truncated and mis-sized files, malformed text and JSON, unknown label ids, missing files
(the message must name the file and what was expected), property-based fuzzing of every reader
with random bytes and random truncations of the real files, and the atomicity of every writer.
"""

from __future__ import annotations

import copy
import io
import json
import struct
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from occle_core.data.nuscenes.occ3d import (
    Occ3DLabels,
    read_occ3d_labels,
    read_occ3d_prediction,
    write_occ3d_labels,
    write_occ3d_prediction,
)
from occle_core.data.nuscenes.sample import (
    NuScenesCalibration,
    read_nuscenes_calibration,
    read_nuscenes_lidar,
)
from occle_core.data.semantickitti.calib import KittiCalibration, read_calib
from occle_core.data.semantickitti.files import (
    read_point_labels,
    read_velodyne,
    read_voxel_bits,
    read_voxel_labels,
    write_point_labels,
    write_voxel_bits,
    write_voxel_labels,
)
from occle_core.data.semantickitti.labels import load_label_config
from occle_core.data.semantickitti.poses import read_poses, read_times
from occle_core.data.semantickitti.sequence import read_prediction
from occle_core.errors import DataFormatError
from occle_core.geometry.grid import SEMANTICKITTI_GRID
from occle_core.geometry.voxelize import voxelize
from occle_core.io.images import read_image, write_png

SSC = (256, 256, 32)
OCC = (200, 200, 16)
SMALL = (4, 4, 2)  # 32 voxels: 4 bytes of bits, 64 bytes of uint16 labels
TOKEN = "29796060110c4163b07f06eff4af0753"
NUSCENES_CALIB = "nuscenes/ca9a282c9e77460f8360f564131a8af5_calib.json"
FUZZ = settings(max_examples=50, deadline=None, derandomize=True, database=None)

TR_ROTATION = np.array([[0.0, -1.0, 0.0], [0.0, 0.0, -1.0], [1.0, 0.0, 0.0]])
TR = np.eye(4)
TR[:3, :3] = TR_ROTATION


# --- result checks: "a correctly shaped result" for each reader -----------------------------------
def check_velodyne(result: Any, size: int) -> None:
    assert result.shape == (size // 16, 4) and result.dtype == np.float32


def check_point_labels(result: Any, size: int) -> None:
    semantic, instance = result
    assert semantic.shape == instance.shape == (size // 4,)
    assert semantic.dtype == instance.dtype == np.uint16


def check_point_labels_50(result: Any, size: int) -> None:
    assert result[0].shape == result[1].shape == (50,)


def check_bits(shape: tuple[int, ...]) -> Callable[[Any, int], None]:
    def check(result: Any, size: int) -> None:
        assert result.shape == shape and result.dtype == np.bool_

    return check


def check_voxel_labels(shape: tuple[int, ...]) -> Callable[[Any, int], None]:
    def check(result: Any, size: int) -> None:
        assert result.shape == shape and result.dtype == np.uint16

    return check


def check_calib(result: Any, size: int) -> None:
    assert isinstance(result, KittiCalibration)
    assert sorted(result.projections) == ["P0", "P1", "P2", "P3"]
    assert all(p.shape == (3, 4) and np.isfinite(p).all() for p in result.projections.values())
    assert result.velo_to_cam0.shape == (4, 4)
    np.testing.assert_array_equal(result.velo_to_cam0[3], [0, 0, 0, 1])


def check_poses(result: Any, size: int) -> None:
    assert result.ndim == 3 and result.shape[1:] == (4, 4) and result.dtype == np.float64


def check_times(result: Any, size: int) -> None:
    assert result.ndim == 1 and result.dtype == np.float64


def check_occ3d_labels(shape: tuple[int, ...]) -> Callable[[Any, int], None]:
    def check(result: Any, size: int) -> None:
        assert isinstance(result, Occ3DLabels)
        assert result.semantics.shape == shape and result.semantics.dtype == np.uint8
        assert result.semantics.max(initial=0) <= 17
        assert result.mask_lidar.shape == result.mask_camera.shape == shape
        assert result.mask_lidar.dtype == result.mask_camera.dtype == np.bool_

    return check


def check_prediction(result: Any, size: int) -> None:
    assert result.shape == OCC and result.dtype == np.uint8 and result.max(initial=0) <= 17


def check_nuscenes_calibration(result: Any, size: int) -> None:
    assert isinstance(result, NuScenesCalibration)
    assert result.lidar2ego.shape == result.ego2global.shape == (4, 4)
    assert result.cameras
    for camera in result.cameras.values():
        assert camera.intrinsics.shape == (3, 3) and camera.lidar2cam.shape == (4, 4)
        assert isinstance(camera.timestamp, float)
    assert isinstance(result.timestamp, float)


def check_nuscenes_lidar(result: Any, size: int) -> None:
    assert result.shape == (size // 20, 5) and result.dtype == np.float32


def check_image(result: Any, size: int) -> None:
    assert result.ndim == 3 and result.shape[2] == 3 and result.dtype == np.uint8


READERS: dict[str, tuple[Callable[[Path], Any], Callable[[Any, int], None]]] = {
    "velodyne": (read_velodyne, check_velodyne),
    "point_labels": (read_point_labels, check_point_labels),
    "point_labels_50": (lambda p: read_point_labels(p, 50), check_point_labels_50),
    "voxel_bits": (lambda p: read_voxel_bits(p, SMALL), check_bits(SMALL)),
    "voxel_bits_ssc": (read_voxel_bits, check_bits(SSC)),
    "voxel_labels": (lambda p: read_voxel_labels(p, SMALL), check_voxel_labels(SMALL)),
    "voxel_labels_ssc": (read_voxel_labels, check_voxel_labels(SSC)),
    "calib": (read_calib, check_calib),
    "poses": (read_poses, check_poses),
    "poses_tr": (lambda p: read_poses(p, TR), check_poses),
    "times": (read_times, check_times),
    "occ3d_labels": (read_occ3d_labels, check_occ3d_labels(OCC)),
    "occ3d_labels_small": (lambda p: read_occ3d_labels(p, SMALL), check_occ3d_labels(SMALL)),
    "occ3d_prediction": (read_occ3d_prediction, check_prediction),
    "nuscenes_calibration": (read_nuscenes_calibration, check_nuscenes_calibration),
    "image": (read_image, check_image),
    "nuscenes_lidar": (read_nuscenes_lidar, check_nuscenes_lidar),
}


def read_checked(name: str, path: Path) -> None:
    """Run a reader: a correctly shaped result or a DataFormatError naming the file."""
    reader, check = READERS[name]
    try:
        result = reader(path)
    except DataFormatError as error:
        assert error.source == str(path)
        assert str(path) in str(error)
        return
    check(result, path.stat().st_size)


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


# --- property-based: random bytes -----------------------------------------------------------------
MAGIC = st.sampled_from(
    [
        b"",
        b"PK\x03\x04",
        b"PK\x05\x06",
        b"\x93NUMPY\x01\x00",
        b"\x89PNG\r\n\x1a\n",
        b"\xff\xd8\xff\xe0",
        b"{",
        b"P0: ",
        b"\xef\xbb\xbf",
    ]
)
NUMERIC_TEXT = st.text(alphabet="PTr0123:456789 .-+eE\n\tnaif_", max_size=400).map(str.encode)
RANDOM_FILES = st.one_of(
    st.binary(max_size=700), st.tuples(MAGIC, st.binary(max_size=300)).map(b"".join), NUMERIC_TEXT
)


@pytest.mark.parametrize("name", sorted(READERS))
@FUZZ
@given(data=RANDOM_FILES)
def test_random_bytes_never_crash_a_reader(name: str, data: bytes, scratch: Path) -> None:
    path = scratch / f"random_{name}"
    path.write_bytes(data)
    read_checked(name, path)


@pytest.mark.parametrize("count", [0, 1, 2, 4, 12, 50])
def test_whole_records_of_random_bytes_are_accepted(count: int, scratch: Path) -> None:
    data = np.random.default_rng(count).integers(0, 256, 16 * count, dtype=np.uint8).tobytes()
    (scratch / "records.bin").write_bytes(data)
    assert read_velodyne(scratch / "records.bin").shape == (count, 4)
    assert read_point_labels(scratch / "records.bin")[0].shape == (4 * count,)


# --- property-based: truncations of the real files ------------------------------------------------
def first_lines(path: Path, count: int) -> bytes:
    return b"".join(path.read_bytes().splitlines(keepends=True)[:count])


class ValidFiles(dict):
    """Content per reader name; a short repr keeps Hypothesis' failure reports readable."""

    def __repr__(self) -> str:
        return f"<valid content for {len(self)} readers>"


@pytest.fixture(scope="module")
def valid_files(real_data: Path, scratch: Path) -> dict[str, bytes]:
    """Valid content for every reader, from the real files (derived ones built in scratch)."""
    kitti = real_data / "semantickitti"
    seq = kitti / "sequences/00"
    scan = read_velodyne(seq / "velodyne/000000.bin")
    occupancy = voxelize(scan, SEMANTICKITTI_GRID).occupancy(SEMANTICKITTI_GRID)
    write_voxel_bits(scratch / "scan.bin", occupancy)
    labels = np.where(occupancy, 40, 0).astype(np.uint16)
    write_voxel_labels(scratch / "scan.label", labels)
    write_voxel_bits(scratch / "small.bin", occupancy[:4, 126:130, 8:10])
    write_voxel_labels(scratch / "small.label", labels[:4, 126:130, 8:10])
    gt = real_data / f"occ3d_nuscenes/gts/scene-1077/{TOKEN}/labels.npz"
    write_occ3d_prediction(scratch, TOKEN, read_occ3d_labels(gt).semantics)
    real = read_occ3d_labels(gt)
    write_occ3d_labels(
        scratch / "small.npz",
        Occ3DLabels(
            real.semantics[98:102, 98:102, :2],
            real.mask_lidar[98:102, 98:102, :2],
            real.mask_camera[98:102, 98:102, :2],
        ),
    )
    lidar = (
        "nuscenes/samples/LIDAR_TOP/"
        "n015-2018-07-24-11-22-45+0800__LIDAR_TOP__1532402927647951.pcd.bin"
    )
    return ValidFiles(
        {
            "velodyne": (kitti / "subset50/sequences/00/velodyne/000000.bin").read_bytes(),
            "point_labels": (kitti / "subset50/sequences/00/labels/000000.label").read_bytes(),
            "point_labels_50": (kitti / "subset50/sequences/00/labels/000000.label").read_bytes(),
            "voxel_bits": (scratch / "small.bin").read_bytes(),
            "voxel_bits_ssc": (scratch / "scan.bin").read_bytes(),
            "voxel_labels": (scratch / "small.label").read_bytes(),
            "voxel_labels_ssc": (scratch / "scan.label").read_bytes(),
            "calib": (seq / "calib.txt").read_bytes(),
            "poses": first_lines(seq / "poses.txt", 40),
            "poses_tr": first_lines(kitti / "sequences/08/poses.txt", 40),
            "times": first_lines(seq / "times.txt", 200),
            "occ3d_labels": gt.read_bytes(),
            "occ3d_labels_small": (scratch / "small.npz").read_bytes(),
            "occ3d_prediction": (scratch / f"{TOKEN}.npz").read_bytes(),
            "nuscenes_calibration": (real_data / NUSCENES_CALIB).read_bytes(),
            "image": (real_data / "kitti_object/training/image_2/000008.png").read_bytes(),
            "nuscenes_lidar": (real_data / lidar).read_bytes()[: 20 * 300],
        }
    )


@pytest.mark.real_data
@pytest.mark.parametrize("name", sorted(READERS))
def test_valid_files_are_read(name: str, valid_files: dict[str, bytes], scratch: Path) -> None:
    """The untruncated content passes: the fuzzing below starts from readable files."""
    path = scratch / f"valid_{name}"
    path.write_bytes(valid_files[name])
    reader, check = READERS[name]
    check(reader(path), len(valid_files[name]))


@pytest.mark.real_data
@pytest.mark.parametrize("name", sorted(READERS))
@FUZZ
@given(fraction=st.floats(min_value=0.0, max_value=1.0, exclude_max=True))
def test_truncated_real_files_never_crash_a_reader(
    name: str, fraction: float, valid_files: dict[str, bytes], scratch: Path
) -> None:
    data = valid_files[name]
    path = scratch / f"truncated_{name}"
    path.write_bytes(data[: int(fraction * len(data))])
    read_checked(name, path)


@pytest.mark.real_data
@pytest.mark.parametrize("name", sorted(READERS))
@FUZZ
@given(
    fraction=st.floats(min_value=0.0, max_value=1.0, exclude_max=True),
    flip=st.integers(min_value=1, max_value=255),
)
def test_corrupted_real_files_never_crash_a_reader(
    name: str, fraction: float, flip: int, valid_files: dict[str, bytes], scratch: Path
) -> None:
    """One damaged byte anywhere in a real file (a bad sector, a broken download)."""
    data = bytearray(valid_files[name])
    data[int(fraction * len(data))] ^= flip
    path = scratch / f"corrupted_{name}"
    path.write_bytes(bytes(data))
    read_checked(name, path)


@pytest.mark.real_data
@pytest.mark.parametrize(
    "name",
    [
        "velodyne",
        "point_labels_50",
        "voxel_bits_ssc",
        "voxel_labels_ssc",
        "occ3d_labels",
        "occ3d_prediction",
        "nuscenes_calibration",
        "image",
    ],
)
def test_truncated_binary_files_are_rejected(
    name: str, valid_files: dict[str, bytes], scratch: Path
) -> None:
    """Losing the last byte (or the first half) of a fixed-size or archived file is an error."""
    data = valid_files[name]
    for cut in (len(data) // 2 + 1, len(data) - 1 if name != "image" else len(data) - 100):
        path = scratch / f"cut_{name}"
        path.write_bytes(data[:cut])
        with pytest.raises(DataFormatError) as error:
            READERS[name][0](path)
        assert str(path) in str(error.value)


# --- mis-sized files ------------------------------------------------------------------------------
def test_velodyne_size_not_multiple_of_16(tmp_path: Path) -> None:
    path = tmp_path / "000000.bin"
    path.write_bytes(bytes(16 * 3 + 4))
    with pytest.raises(DataFormatError) as error:
        read_velodyne(path)
    message = str(error.value)
    assert message.startswith(f"{path}: size 52 B is not a multiple of 16 B")
    assert "expected velodyne scan (float32 x, y, z, reflectance): rows of 4 x float32" in message


def test_label_count_differs_from_point_count(tmp_path: Path) -> None:
    path = tmp_path / "000000.label"
    write_point_labels(path, np.zeros(49, np.uint32))
    with pytest.raises(DataFormatError) as error:
        read_point_labels(path, num_points=50)
    assert (
        str(error.value) == f"{path}: holds 49 point labels (uint32) records (expected 50 (200 B))"
    )
    path.write_bytes(bytes(7))
    with pytest.raises(DataFormatError, match="not a multiple of 4 B"):
        read_point_labels(path)


@pytest.mark.parametrize(
    ("size", "reader", "expected"),
    [
        (262143, read_voxel_bits, "expected 262144 (262144 B)"),
        (262145, read_voxel_bits, "expected 262144 (262144 B)"),
        (131072, read_voxel_bits, "expected 262144 (262144 B)"),
        (2 * 2097152 - 2, read_voxel_labels, "expected 2097152 (4194304 B)"),
        (2 * 2097152 - 1, read_voxel_labels, "not a multiple of 2 B"),
        (262144, read_voxel_labels, "expected 2097152 (4194304 B)"),  # a .bin given as .label
    ],
)
def test_voxel_files_of_the_wrong_size(
    size: int, reader: Callable, expected: str, tmp_path: Path
) -> None:
    path = tmp_path / "000000.voxels"
    path.write_bytes(bytes(size))
    with pytest.raises(DataFormatError) as error:
        reader(path)
    assert str(path) in str(error.value) and expected in str(error.value)


def test_voxel_bits_shape_must_be_whole_bytes(tmp_path: Path) -> None:
    (tmp_path / "x.bin").write_bytes(bytes(1))
    with pytest.raises(ValueError, match="multiple of 8"):
        read_voxel_bits(tmp_path / "x.bin", (3, 1, 1))


# --- malformed text files -------------------------------------------------------------------------
CALIB_LINES = [f"P{i}: " + " ".join(["1.0"] * 12) for i in range(4)] + [
    "Tr: 0 -1 0 0.1 0 0 -1 0.2 1 0 0 0.3"
]


def calib_text(lines: list[str]) -> str:
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        (
            CALIB_LINES[:4],
            "missing calibration keys ['Tr'] (expected all of ['P0', 'P1', 'P2', 'P3', 'Tr'])",
        ),
        (CALIB_LINES[1:], "missing calibration keys ['P0']"),
        (
            [*CALIB_LINES[:2], "P2: " + " ".join(["1.0"] * 11), *CALIB_LINES[3:]],
            "key 'P2' holds 11 values (expected 12)",
        ),
        ([*CALIB_LINES[:4], "Tr: " + " ".join(["1.0"] * 13)], "key 'Tr' holds 13 values"),
        (
            [*CALIB_LINES[:4], "Tr: 1 2 3 4 5 6 7 8 9 10 11 twelve"],
            "key 'Tr' (line 5) holds non-numbers (expected 12 floats)",
        ),
        (
            [*CALIB_LINES[:4], "Tr: 1 2 3 4 5 6 7 8 9 10 11 nan"],
            "key 'Tr' holds a NaN or infinite value (expected finite)",
        ),
        (  # a singular Tr (np.linalg.inv would raise LinAlgError deep inside)
            [*CALIB_LINES[:4], "Tr: " + " ".join(["0.0"] * 12)],
            "key 'Tr' is not a rigid transform",
        ),
        (["this line has no colon", *CALIB_LINES], "line 1 has no 'KEY:'"),
    ],
)
def test_malformed_calib(lines: list[str], expected: str, tmp_path: Path) -> None:
    path = tmp_path / "calib.txt"
    path.write_text(calib_text(lines))
    with pytest.raises(DataFormatError) as error:
        read_calib(path)
    assert str(error.value).startswith(f"{path}: ")
    assert expected in str(error.value)


def test_calib_tolerates_blank_lines_and_extra_keys(tmp_path: Path) -> None:
    path = tmp_path / "calib.txt"
    path.write_text(calib_text(["", *CALIB_LINES, "", "R0_rect: 1 0 0 0 1 0 0 0 1"]))
    assert read_calib(path).projections["P3"].shape == (3, 4)


def test_poses_line_with_11_values(tmp_path: Path) -> None:
    path = tmp_path / "poses.txt"
    good = " ".join(["0"] * 12)
    path.write_text(f"{good}\n{good}\n{' '.join(['0'] * 11)}\n")
    with pytest.raises(DataFormatError) as error:
        read_poses(path)
    assert str(error.value) == f"{path}: line 3 holds 11 values (expected 12 (3x4 pose matrices))"
    path.write_text(f"{good}\n1 2 3 x 5 6 7 8 9 10 11 12\n")
    with pytest.raises(DataFormatError, match="line 2 holds non-numbers"):
        read_poses(path)
    path.write_text("")  # an empty poses.txt is no trajectory
    with pytest.raises(DataFormatError, match="empty"):
        read_poses(path)
    path.write_text(f"{good}\n0 0 0 nan 0 0 0 0 0 0 0 0\n")
    with pytest.raises(DataFormatError, match="line 2 holds a NaN or infinite value"):
        read_poses(path)


def test_times_with_two_columns(tmp_path: Path) -> None:
    path = tmp_path / "times.txt"
    path.write_text("0.0\n0.1 0.2\n")
    with pytest.raises(
        DataFormatError, match=r"line 2 holds 2 values \(expected 1 \(timestamps\)\)"
    ):
        read_times(path)


# --- Occ3D archives -------------------------------------------------------------------------------
def npz(path: Path, **arrays: np.ndarray) -> Path:
    np.savez_compressed(path, **arrays)
    return path


def grid_arrays(shape: tuple[int, ...] = OCC) -> dict[str, np.ndarray]:
    return {
        "semantics": np.full(shape, 17, np.uint8),
        "mask_lidar": np.ones(shape, np.uint8),
        "mask_camera": np.zeros(shape, np.uint8),
    }


def test_occ3d_missing_key(tmp_path: Path) -> None:
    arrays = grid_arrays()
    del arrays["mask_camera"]
    path = npz(tmp_path / "labels.npz", **arrays)
    with pytest.raises(DataFormatError) as error:
        read_occ3d_labels(path)
    assert str(error.value) == (
        f"{path}: missing arrays ['mask_camera'] "
        "(expected keys ['semantics', 'mask_lidar', 'mask_camera'])"
    )


@pytest.mark.parametrize(
    ("key", "array", "expected"),
    [
        (
            "semantics",
            np.zeros((200, 200, 15), np.uint8),
            "'semantics' has shape (200, 200, 15) (expected (200, 200, 16))",
        ),
        ("mask_lidar", np.zeros((16, 200, 200), np.uint8), "'mask_lidar' has shape (16, 200, 200)"),
        (
            "semantics",
            np.full(OCC, 18, np.uint8),
            "'semantics' holds values 18..18 (expected classes 0..17)",
        ),
        ("semantics", np.full(OCC, -1, np.int8), "'semantics' holds values -1..-1"),
        ("semantics", np.zeros(OCC, np.float32), "'semantics' has dtype float32"),
    ],
)
def test_occ3d_bad_arrays(key: str, array: np.ndarray, expected: str, tmp_path: Path) -> None:
    arrays = grid_arrays()
    arrays[key] = array
    path = npz(tmp_path / "labels.npz", **arrays)
    with pytest.raises(DataFormatError) as error:
        read_occ3d_labels(path)
    assert str(error.value).startswith(f"{path}: ") and expected in str(error.value)


def test_occ3d_class_18_in_one_voxel(tmp_path: Path) -> None:
    arrays = grid_arrays()
    arrays["semantics"][199, 0, 15] = 18
    with pytest.raises(DataFormatError, match=r"holds values 17\.\.18"):
        read_occ3d_labels(npz(tmp_path / "labels.npz", **arrays))


def test_occ3d_prediction_bad_archives(tmp_path: Path) -> None:
    path = npz(tmp_path / "a.npz", pred=np.zeros(OCC, np.uint8))
    with pytest.raises(DataFormatError, match=r"no 'arr_0' array \(found \['pred'\]\)"):
        read_occ3d_prediction(path)
    path = npz(tmp_path / "b.npz", arr_0=np.full(OCC, 18, np.uint8))
    with pytest.raises(DataFormatError, match="values up to 18"):
        read_occ3d_prediction(path)
    path = npz(tmp_path / "c.npz", arr_0=np.zeros((200, 200), np.uint8))
    with pytest.raises(DataFormatError, match=r"'arr_0' has shape \(200, 200\)"):
        read_occ3d_prediction(path)


def member_offsets(data: bytes) -> tuple[int, int]:
    """(offset of the first member's compressed data, offset of its central-directory header)."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        info = archive.infolist()[0]
    name_length, extra_length = struct.unpack(
        "<HH", data[info.header_offset + 26 : info.header_offset + 30]
    )
    return info.header_offset + 30 + name_length + extra_length, data.index(b"PK\x01\x02")


def test_occ3d_corrupt_deflate_stream(tmp_path: Path) -> None:
    """A flipped bit inside the compressed data (a damaged disk or download)."""
    data = bytearray(npz(tmp_path / "labels.npz", **grid_arrays(SMALL)).read_bytes())
    start, _ = member_offsets(bytes(data))
    data[start] = 0xFF  # deflate block type 3 is reserved: the stream cannot be decoded
    (tmp_path / "labels.npz").write_bytes(bytes(data))
    with pytest.raises(DataFormatError) as error:
        read_occ3d_labels(tmp_path / "labels.npz", SMALL)
    assert str(tmp_path / "labels.npz") in str(error.value)


def test_occ3d_unknown_compression_method(tmp_path: Path) -> None:
    data = bytearray(npz(tmp_path / "labels.npz", **grid_arrays(SMALL)).read_bytes())
    _, central = member_offsets(bytes(data))
    data[central + 10 : central + 12] = struct.pack("<H", 99)  # not a method zipfile knows
    (tmp_path / "labels.npz").write_bytes(bytes(data))
    with pytest.raises(DataFormatError) as error:
        read_occ3d_labels(tmp_path / "labels.npz", SMALL)
    assert str(tmp_path / "labels.npz") in str(error.value)


def test_occ3d_plain_npy_instead_of_npz(tmp_path: Path) -> None:
    """An `np.save` file (.npy) where an .npz archive is expected."""
    np.save(tmp_path / "pred.npy", np.zeros(OCC, np.uint8))
    for reader in (read_occ3d_labels, read_occ3d_prediction):
        with pytest.raises(DataFormatError) as error:
            reader(tmp_path / "pred.npy")
        assert str(tmp_path / "pred.npy") in str(error.value)


def test_occ3d_zip_member_that_is_not_an_array(tmp_path: Path) -> None:
    path = tmp_path / "labels.npz"
    with zipfile.ZipFile(path, "w") as archive:
        for key in ("semantics", "mask_lidar", "mask_camera"):
            archive.writestr(key, b"not an array")  # no .npy suffix: np.load hands back bytes
    with pytest.raises(DataFormatError) as error:
        read_occ3d_labels(path)
    assert str(path) in str(error.value)


def test_occ3d_pickled_object_array_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "labels.npz"
    np.savez(path, semantics=np.array([{"a": 1}], dtype=object))
    with pytest.raises(DataFormatError, match=r"a member is not a plain numeric array") as error:
        read_occ3d_labels(path)
    assert "allow_pickle" not in str(error.value)  # numpy's hint would mislead


# --- nuScenes calibration JSON --------------------------------------------------------------------
@pytest.fixture(scope="module")
def calibration_dict(real_data: Path) -> dict:
    return json.loads((real_data / NUSCENES_CALIB).read_text())


def write_json(path: Path, data: object) -> Path:
    path.write_text(json.dumps(data))
    return path


@pytest.mark.real_data
@pytest.mark.parametrize(
    "field",
    [
        "sample_token",
        "timestamp_s",
        "lidar",
        "lidar.file",
        "lidar.lidar2ego",
        "ego2global",
        "cameras",
        "cameras.CAM_BACK.cam2img",
        "cameras.CAM_FRONT_LEFT.lidar2cam",
        "cameras.CAM_FRONT.file",
    ],
)
def test_calibration_json_missing_field_names_the_dotted_path(
    field: str, calibration_dict: dict, tmp_path: Path
) -> None:
    data = copy.deepcopy(calibration_dict)
    *parents, leaf = field.split(".")
    node = data
    for part in parents:
        node = node[part]
    del node[leaf]
    path = write_json(tmp_path / "calib.json", data)
    with pytest.raises(DataFormatError) as error:
        read_nuscenes_calibration(path)
    expected = "lidar.file" if field == "lidar" else field
    assert str(error.value) == (
        f"{path}: missing field '{expected}' (expected the nuScenes calibration schema)"
    )


@pytest.mark.real_data
@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        (
            "lidar.lidar2ego",
            [[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0]],
            "field 'lidar.lidar2ego' has shape (3, 4) (expected a finite 4x4 matrix)",
        ),
        (
            "cameras.CAM_FRONT.cam2img",
            [[1, 0], [0, 1]],
            "field 'cameras.CAM_FRONT.cam2img' has shape (2, 2)",
        ),
        (
            "cameras.CAM_BACK.lidar2cam",
            "identity",
            "field 'cameras.CAM_BACK.lidar2cam' is not numeric",
        ),
        ("ego2global", [[1, 0, 0], [0, 1]], "field 'ego2global' is not numeric"),
        (
            "ego2global",
            [[1e999, 0, 0, 0]] * 4,
            "field 'ego2global' has shape (4, 4) (expected a finite",
        ),
    ],
)
def test_calibration_json_bad_matrices(
    field: str, value: object, expected: str, calibration_dict: dict, tmp_path: Path
) -> None:
    data = copy.deepcopy(calibration_dict)
    *parents, leaf = field.split(".")
    node = data
    for part in parents:
        node = node[part]
    node[leaf] = value
    path = write_json(tmp_path / "calib.json", data)
    with pytest.raises(DataFormatError) as error:
        read_nuscenes_calibration(path)
    assert str(error.value).startswith(f"{path}: ") and expected in str(error.value)


@pytest.mark.real_data
@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("timestamp_s", "noon"),
        ("timestamp_s", None),
        ("cameras.CAM_FRONT.timestamp_s", "later"),
        ("cameras.CAM_BACK.timestamp_s", [1, 2]),
    ],
)
def test_calibration_json_non_numeric_timestamp(
    field: str, value: object, calibration_dict: dict, tmp_path: Path
) -> None:
    data = copy.deepcopy(calibration_dict)
    *parents, leaf = field.split(".")
    node = data
    for part in parents:
        node = node[part]
    node[leaf] = value
    path = write_json(tmp_path / "calib.json", data)
    with pytest.raises(DataFormatError) as error:
        read_nuscenes_calibration(path)
    assert str(path) in str(error.value) and field in str(error.value)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("{not json", "invalid JSON"),
        ("[1, 2, 3]", "missing field 'cameras'"),
        ('{"cameras": {}}', "field 'cameras' is empty (expected one entry per camera)"),
        ('{"cameras": {"CAM_FRONT": 5}}', "missing field 'cameras.CAM_FRONT.file'"),
        ('{"cameras": []}', "field 'cameras' is empty"),
    ],
)
def test_calibration_json_structure(text: str, expected: str, tmp_path: Path) -> None:
    path = tmp_path / "calib.json"
    path.write_text(text)
    with pytest.raises(DataFormatError) as error:
        read_nuscenes_calibration(path)
    assert str(error.value).startswith(f"{path}: ") and expected in str(error.value)


def test_calibration_json_binary_garbage(tmp_path: Path) -> None:
    path = tmp_path / "calib.json"
    path.write_bytes(b"\xff\xfe\x00\xd8garbage")
    with pytest.raises(DataFormatError, match="invalid JSON"):
        read_nuscenes_calibration(path)


# --- images ---------------------------------------------------------------------------------------
def png_chunk(kind: bytes, payload: bytes) -> bytes:
    return (
        struct.pack(">I", len(payload))
        + kind
        + payload
        + struct.pack(">I", zlib.crc32(kind + payload))
    )


def png_header_only(width: int, height: int) -> bytes:
    """A PNG signature and IHDR chunk (8-bit RGB) with no pixel data."""
    return b"\x89PNG\r\n\x1a\n" + png_chunk(
        b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    )


def test_image_with_header_only(tmp_path: Path) -> None:
    path = tmp_path / "x.png"
    path.write_bytes(png_header_only(64, 32))
    with pytest.raises(DataFormatError, match=r"not a readable image .*\(expected PNG or JPEG\)"):
        read_image(path)


def test_image_claiming_an_enormous_size(tmp_path: Path) -> None:
    """A 20000 x 20000 header (a "decompression bomb") is refused as bad input."""
    path = tmp_path / "bomb.png"
    # A well-formed file whose few bytes of pixel data are far too short for the header's size.
    path.write_bytes(
        png_header_only(20000, 20000)
        + png_chunk(b"IDAT", zlib.compress(bytes(64)))
        + png_chunk(b"IEND", b"")
    )
    with pytest.raises(DataFormatError) as error:
        read_image(path)
    assert str(path) in str(error.value)


def test_image_grey_and_rgba_become_rgb(tmp_path: Path) -> None:
    grey = np.arange(12, dtype=np.uint8).reshape(3, 4)
    write_png(tmp_path / "g.png", grey)
    np.testing.assert_array_equal(read_image(tmp_path / "g.png"), np.repeat(grey[..., None], 3, -1))
    rgba = np.zeros((2, 2, 4), np.uint8)
    rgba[..., 0] = 200
    write_png(tmp_path / "a.png", rgba)
    assert read_image(tmp_path / "a.png")[0, 0].tolist() == [200, 0, 0]


# --- unknown label ids ----------------------------------------------------------------------------
def test_prediction_with_unknown_raw_id(tmp_path: Path) -> None:
    raw = np.zeros(SSC, np.uint16)
    raw[5, 6, 7] = 2
    raw[0, 0, 0] = 1000
    path = tmp_path / "sequences/08/predictions/000000.label"
    write_voxel_labels(path, raw)
    with pytest.raises(DataFormatError) as error:
        read_prediction(path)
    assert str(error.value).startswith(f"{path}: unknown raw label ids [2, 1000]")
    assert "expected ids from learning_map" in str(error.value)


def test_label_config_errors(tmp_path: Path) -> None:
    bad_yaml = tmp_path / "bad.yaml"
    bad_yaml.write_text("labels: [unclosed\n")
    with pytest.raises(DataFormatError, match="invalid YAML") as error:
        load_label_config(bad_yaml)
    assert error.value.source == str(bad_yaml)
    partial = tmp_path / "partial.yaml"
    partial.write_text("labels: {0: unlabeled}\ncolor_map: {0: [0, 0, 0]}\n")
    with pytest.raises(DataFormatError, match="missing keys"):
        load_label_config(partial)
    with pytest.raises(DataFormatError, match="cannot read label configuration"):
        load_label_config(tmp_path / "absent.yaml")


# --- missing files --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("reader", "expectation"),
    [
        (read_velodyne, "velodyne scan (float32 x, y, z, reflectance) file not found"),
        (read_point_labels, "point labels (uint32) file not found"),
        (read_voxel_bits, "bit-packed voxel mask file not found"),
        (read_voxel_labels, "voxel labels (uint16) file not found"),
        (read_calib, "calibration file not found"),
        (read_poses, "3x4 pose matrices file not found"),
        (read_times, "timestamps file not found"),
        (
            read_occ3d_labels,
            "Occ3D labels.npz with semantics, mask_lidar, mask_camera file not found",
        ),
        (
            read_occ3d_prediction,
            "Occ3D prediction .npz with a uint8 array under arr_0 file not found",
        ),
        (read_nuscenes_calibration, "nuScenes calibration JSON file not found"),
        (
            read_nuscenes_lidar,
            "nuScenes LiDAR sweep (float32 x, y, z, intensity, ring) file not found",
        ),
        (read_image, "image file not found"),
        (read_prediction, "voxel labels (uint16) file not found"),
    ],
)
def test_missing_file_names_the_path_and_the_format(
    reader: Callable, expectation: str, tmp_path: Path
) -> None:
    path = tmp_path / "nowhere" / "file.dat"
    with pytest.raises(DataFormatError) as error:
        reader(path)
    assert str(error.value) == f"{path}: {expectation}"
    assert error.value.source == str(path)


def test_directory_instead_of_file(tmp_path: Path) -> None:
    with pytest.raises(DataFormatError, match="cannot read velodyne scan") as error:
        read_velodyne(tmp_path)
    assert error.value.source == str(tmp_path)


def test_data_format_error_fields() -> None:
    error = DataFormatError(Path("a/b.bin"), "too short", "16 B")
    assert isinstance(error, ValueError)
    assert (error.source, error.problem, error.expected) == ("a/b.bin", "too short", "16 B")
    assert str(error) == "a/b.bin: too short (expected 16 B)"
    assert str(DataFormatError("topic", "late")) == "topic: late"
