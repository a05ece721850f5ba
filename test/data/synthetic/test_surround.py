"""The surround-rig scenes in the Occ3D-nuScenes layout, read back through the same readers as
the real nuScenes / Occ3D files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from occle_core.cli.main import main as occle
from occle_core.data.nuscenes.infos import read_nuscenes_infos
from occle_core.data.nuscenes.occ3d import (
    OCC3D_CLASS_NAMES,
    OCC3D_FREE,
    find_occ3d_samples,
    read_occ3d_labels,
)
from occle_core.data.nuscenes.sample import NUSCENES_CAMERAS, load_nuscenes_sample
from occle_core.data.synthetic.camera import CameraRender
from occle_core.data.synthetic.surround import (
    INFO_FILE,
    SEMANTICKITTI_TO_OCC3D,
    camera_visible,
    occ3d_lut,
    surround_rig,
)
from occle_core.geometry.camera import project_points
from occle_core.io.binary import read_records
from occle_core.io.images import read_label_image

RIG = surround_rig("tiny")


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("surround")
    args = ["synth", "--layout", "occ3d", "--out", str(root), "--sequences", "3", "--frames", "6"]
    assert occle([*args, "--seed", "7"]) == 0
    return root


def test_info_file_lists_the_key_frames_with_their_sweeps(dataset: Path) -> None:
    samples = read_nuscenes_infos(dataset / INFO_FILE)
    assert [s.scene for s in samples] == ["scene-0003", "scene-0003"]
    assert [len(s.sweeps) for s in samples] == [0, 5]  # key frames 0 and 5 at 10 Hz
    second = samples[1]
    assert second.timestamp - second.sweeps[0].timestamp == pytest.approx(0.1)
    assert second.sweeps[-1].file == samples[0].lidar_file  # the previous key scan is a sweep
    assert all(s.file.startswith("sweeps/LIDAR_TOP/") for s in second.sweeps[:4])
    for sample in samples:
        assert sample.lidar_file.startswith("samples/LIDAR_TOP/scene-0003__LIDAR_TOP__")
        assert list(sample.cameras) == list(NUSCENES_CAMERAS)
        assert all((dataset / c.file).is_file() for c in sample.cameras.values())
    found = {s.token: s.scene for s in find_occ3d_samples(dataset / "gts")}
    assert found == {s.sample_token: "scene-0003" for s in samples}


def test_occ3d_ground_truth(dataset: Path) -> None:
    for sample in read_nuscenes_infos(dataset / INFO_FILE):
        path = dataset / "gts" / sample.scene / sample.sample_token / "labels.npz"
        labels = read_occ3d_labels(path, RIG.grid.shape)
        assert labels.semantics.shape == (64, 64, 8)
        present = set(np.unique(labels.semantics).tolist())
        assert {OCC3D_FREE, 11, 13, 15} <= present  # free, driveable surface, sidewalk, manmade
        assert present <= set(occ3d_lut()[:20].tolist())  # only classes the world can make
        # As in the real Occ3D data: what a camera sees the LiDAR observed too.
        assert not (labels.mask_camera & ~labels.mask_lidar).any()
        assert 0.3 < labels.mask_lidar.mean() < 0.8 and 0.2 < labels.mask_camera.mean() < 0.7


def test_scans_and_sweeps_land_on_the_ground_truth(dataset: Path) -> None:
    """Points in the ego frame (key scan + sweeps moved with their ego poses) fall into
    occupied ground-truth voxels: the info file's poses and extrinsics are the ones the scans
    were taken with."""
    sample = read_nuscenes_infos(dataset / INFO_FILE)[1]
    labels = read_occ3d_labels(
        dataset / "gts" / sample.scene / sample.sample_token / "labels.npz", RIG.grid.shape
    )
    key = load_nuscenes_sample(dataset, sample, load_images=False)
    merged = load_nuscenes_sample(dataset, sample, load_images=False, sweeps=5)
    assert len(merged.points) > 5 * len(key.points)
    for frame, least in ((key, 0.97), (merged, 0.95)):
        indices, inside = RIG.grid.points_to_indices(frame.points[:, :3])
        occupied = labels.semantics[tuple(indices[inside].T)] != OCC3D_FREE
        assert occupied.mean() > least
        assert labels.mask_lidar[tuple(indices[inside].T)].mean() > 0.98


def test_images_agree_with_point_labels_through_the_calibration(dataset: Path) -> None:
    sample = read_nuscenes_infos(dataset / INFO_FILE)[0]
    frame = load_nuscenes_sample(dataset, sample)
    assert [image.shape for image in frame.images] == [(90, 160, 3)] * 6
    stem = Path(sample.lidar_file).name.replace(".pcd.bin", ".label")
    point_classes = read_records(dataset / "synthetic/points" / stem, np.uint8, 1, "labels")
    projection = project_points(frame.points[:, :3], frame.cameras)
    assert projection.valid.any(axis=0).mean() > 0.6  # six cameras see most of the scan
    for index, camera in enumerate(frame.cameras):
        image_stem = Path(sample.cameras[camera.name].file).stem
        semantic = read_label_image(
            dataset / "synthetic/semantic" / camera.name / f"{image_stem}.png"
        )
        uv = projection.uv[index][projection.valid[index]].astype(np.int64)
        agree = semantic[uv[:, 1], uv[:, 0]] == point_classes[projection.valid[index]]
        assert agree.mean() > 0.8, camera.name


def test_class_map_covers_every_synthetic_class() -> None:
    lut = occ3d_lut()
    assert lut[0] == OCC3D_FREE and lut[255] == 255
    assert OCC3D_CLASS_NAMES[lut[9]] == "driveable_surface"  # road
    assert OCC3D_CLASS_NAMES[lut[14]] == "barrier"  # fence
    assert len(SEMANTICKITTI_TO_OCC3D) == 20 and (lut[:20] < 18).all()


def test_camera_visibility_stops_at_the_rendered_surface() -> None:
    """A wall 10 m ahead of every camera: voxels in front of it are visible, behind it not."""
    renders = [
        CameraRender(
            image=np.zeros((c.height, c.width, 3), np.uint8),
            semantic=np.zeros((c.height, c.width), np.uint8),
            depth=np.full((c.height, c.width), 10.0, np.float32),
            instance=np.zeros((c.height, c.width), np.int32),
        )
        for c in RIG.cameras
    ]
    height = RIG.lidar.mount_height - 0.3  # the cameras' height above the ego origin
    ahead = np.array([[5.0, 0.0, height], [10.6, 0.0, height], [12.0, 0.0, height]])
    ahead[:, 0] += 0.7  # the front camera sits 0.7 m ahead of the LiDAR
    behind = ahead * np.array([-1.0, 1.0, 1.0])
    seen = camera_visible(np.vstack([ahead, behind]), RIG, renders, margin=0.7)
    assert seen.tolist() == [True, True, False, True, True, False]
