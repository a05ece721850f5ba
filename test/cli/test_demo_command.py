"""`occle demo` (the README's main job) on the real sensor samples."""

import json

import numpy as np
from PIL import Image

from occle_core.cli.main import main
from occle_core.data.semantickitti import read_voxel_bits


def test_demo_writes_every_output_with_real_figures(real_data, tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(["demo", "--data", str(real_data), "--out", str(out)]) == 0
    summary = json.loads((out / "summary.json").read_text())
    steps = {step["name"]: step for step in summary["steps"]}
    assert steps["kitti_object_projection"]["figures"]["points"] == 17238
    # README of the samples: every velodyne_reduced point projects into the image.
    assert steps["kitti_object_projection"]["figures"]["projected_into_image"] == 17238
    nuscenes = steps["nuscenes_surround_projection"]["figures"]
    per_camera = sum(v for k, v in nuscenes.items() if k.startswith("in_CAM_"))
    assert per_camera == 22152
    assert nuscenes["seen_by_any_camera"] < per_camera  # neighbouring cameras overlap
    assert steps["occ3d_ground_truth"]["figures"]["camera_visible_voxels"] == 43355
    voxels = steps["semantickitti_voxelisation"]["figures"]
    assert voxels["occupied_voxels_aggregated"] > voxels["occupied_voxels_one_scan"]
    assert 0.6 < voxels["forward_motion_m"] < 0.75
    occupancy = read_voxel_bits(out / "sequences" / "00" / "voxels" / "000000.bin")
    assert int(occupancy.sum()) == voxels["occupied_voxels_aggregated"]
    for step in summary["steps"]:
        for name in step["outputs"]:
            assert (out / name).stat().st_size > 0
    image = np.asarray(Image.open(out / "kitti_projection.png"))
    assert image.shape == (375, 1242, 3)
    assert "kitti_projection.png" in capsys.readouterr().out


def test_demo_without_data_fails_with_a_clear_message(tmp_path, capsys):
    missing = tmp_path / "nowhere"
    assert main(["demo", "--data", str(missing), "--out", str(tmp_path / "o")]) == 2
    error = capsys.readouterr().err
    assert str(missing) in error and "--data" in error
