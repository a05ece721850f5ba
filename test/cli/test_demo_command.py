"""`occle demo` (the README's main job): the synthetic world scored with the official metric,
and the real-sample tour."""

import json

import numpy as np
from PIL import Image

from occle_core.cli.main import main
from occle_core.data.semantickitti import read_voxel_bits
from occle_core.demos.synthetic_baseline import point_label_baseline
from occle_core.geometry.grid import GridSpec


def test_point_label_baseline_takes_the_majority_of_each_voxel():
    grid = GridSpec(origin=(0.0, 0.0, 0.0), voxel_size=(1.0, 1.0, 1.0), dims=(4, 4, 2))
    points = np.array(
        [
            [0.5, 0.5, 0.5, 0],
            [0.6, 0.4, 0.5, 0],
            [0.2, 0.3, 0.1, 0],
            [3.5, 3.5, 1.5, 0],
            [9.0, 0.0, 0.0, 0],
        ],
        dtype=np.float32,
    )
    classes = np.array([9, 1, 1, 13, 5], dtype=np.uint8)
    prediction = point_label_baseline(points, classes, grid)
    expected = np.zeros((4, 4, 2), np.uint8)
    expected[0, 0, 0] = 1  # two car returns outvote one road return
    expected[3, 3, 1] = 13  # the point outside the grid is ignored
    np.testing.assert_array_equal(prediction, expected)


def test_demo_scores_the_synthetic_baseline_and_tours_the_real_samples(real_data, tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out), "--frames", "10", "--data", str(real_data)]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["num_frames"] == 2  # ground truth every 5th frame
    # A single scan sees surfaces only: what it labels is right, but most occupied space is
    # hidden or unobserved.
    assert metrics["precision"] > 95.0
    assert 5.0 < metrics["iou"] < 60.0
    assert (out / "predictions" / "sequences" / "00" / "predictions" / "000005.label").is_file()
    assert Image.open(out / "preview.png").size[0] > 300
    printed = capsys.readouterr().out
    assert "mIoU (SSC)" in printed and "kitti_projection.png" in printed

    summary = json.loads((out / "real" / "summary.json").read_text())
    steps = {step["name"]: step for step in summary["steps"]}
    # README of the samples: every velodyne_reduced point projects into the image.
    assert steps["kitti_object_projection"]["figures"]["projected_into_image"] == 17238
    nuscenes = steps["nuscenes_surround_projection"]["figures"]
    assert sum(v for k, v in nuscenes.items() if k.startswith("in_CAM_")) == 22152
    assert nuscenes["seen_by_any_camera"] == 20206  # neighbouring cameras overlap
    assert steps["occ3d_ground_truth"]["figures"]["camera_visible_voxels"] == 43355
    voxels = steps["semantickitti_voxelisation"]["figures"]
    assert voxels["occupied_voxels_aggregated"] > voxels["occupied_voxels_one_scan"]
    assert 0.6 < voxels["forward_motion_m"] < 0.75
    occupancy = read_voxel_bits(out / "real" / "sequences" / "00" / "voxels" / "000000.bin")
    assert int(occupancy.sum()) == voxels["occupied_voxels_aggregated"]
    image = np.asarray(Image.open(out / "real" / "kitti_projection.png"))
    assert image.shape == (375, 1242, 3)


def test_demo_with_a_missing_real_folder_fails_with_a_clear_message(tmp_path, capsys):
    missing = tmp_path / "nowhere"
    assert (
        main(["demo", "--out", str(tmp_path / "o"), "--frames", "1", "--data", str(missing)]) == 2
    )
    error = capsys.readouterr().err
    assert str(missing) in error and "--data" in error


def test_demo_without_real_samples_runs_the_synthetic_part_only(tmp_path, capsys):
    out = tmp_path / "o"
    assert main(["demo", "--out", str(out), "--frames", "1", "--no-real"]) == 0
    assert (out / "metrics.json").is_file() and not (out / "real").exists()
    assert main(["demo", "--out", str(out), "--frames", "0"]) == 2
