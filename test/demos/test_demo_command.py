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


def test_demo_trains_evaluates_renders_and_tours_the_real_samples(real_data, tmp_path, capsys):
    out = tmp_path / "demo"
    argv = ["demo", "--out", str(out), "--sequences", "2", "--frames", "10", "--max-steps", "2"]
    assert main([*argv, "--data", str(real_data)]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["occle"]["num_frames"] == 2  # validation sequence 01, frames 0 and 5
    # The LiDAR baseline labels what one scan sees correctly but misses most occupied space.
    assert metrics["lidar_baseline"]["precision"] > 95.0
    assert 5.0 < metrics["lidar_baseline"]["iou"] < 60.0
    assert 0.4 < metrics["pseudo_labels"][0]["image_miou"] < 0.95
    assert (out / "run" / "checkpoints" / "best.pt").is_file()
    manifest = json.loads((out / "run" / "label_budget.json").read_text())
    assert manifest["mode"] == "frames" and manifest["ratio"] == 0.1
    assert (out / "predictions" / "sequences" / "01" / "predictions" / "000005.label").is_file()
    for name in ("01_000005_3d.png", "01_000005_bev.png", "01_000005_camera.png"):
        assert Image.open(out / "renders" / name).size[0] > 300, name
    assert Image.open(out / "renders" / "confusion.png").size[0] > 200
    assert Image.open(out / "renders" / "training_curves.png").size == (480, 480)
    printed = capsys.readouterr().out
    assert "OccLE, 10 % voxel labels" in printed and "kitti_projection.png" in printed
    assert "mIoU (SSC)" in printed

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
    argv = ["demo", "--out", str(tmp_path / "o"), "--sequences", "2", "--frames", "5"]
    assert main([*argv, "--max-steps", "1", "--data", str(missing)]) == 2
    error = capsys.readouterr().err
    assert str(missing) in error and "--data" in error


def test_demo_rejects_bad_arguments(tmp_path, capsys):
    out = str(tmp_path / "o")
    assert main(["demo", "--out", out, "--frames", "3"]) == 2
    assert "--frames >= 5" in capsys.readouterr().err
    assert main(["demo", "--out", out, "--sequences", "1"]) == 2
    assert main(["demo", "--out", out, "--checkpoint", str(tmp_path / "none.pt")]) == 2
    assert "no such checkpoint" in capsys.readouterr().err


def test_demo_evaluates_a_given_checkpoint_without_training(tmp_path):
    from occle_core.model.build import build_model
    from occle_core.model.checkpoint import save_checkpoint
    from occle_core.model.config import load_model_config

    checkpoint = tmp_path / "model.pt"
    save_checkpoint(checkpoint, build_model(load_model_config("occle_tiny"), seed=0))
    out = tmp_path / "o"
    argv = ["demo", "--out", str(out), "--sequences", "2", "--frames", "5", "--no-real"]
    assert main([*argv, "--checkpoint", str(checkpoint)]) == 0
    assert not (out / "run").exists()
    assert json.loads((out / "metrics.json").read_text())["checkpoint"] == str(checkpoint)
