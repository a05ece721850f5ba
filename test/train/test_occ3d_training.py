"""The Occ3D path end to end on synthetic surround scenes: scenes read like sequences, training
with the label budget, `occle infer --layout occ3d`, `occle eval occ3d`."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from occle_core.cli.main import main as occle
from occle_core.data.nuscenes.occ3d import OCC3D_FREE, read_occ3d_labels
from occle_core.data.nuscenes.scene import Occ3DScene, open_occ3d_scenes, scene_samples
from occle_core.errors import DataFormatError
from occle_core.eval.occ3d import evaluate_occ3d
from occle_core.geometry.camera import project_points
from occle_core.io.images import read_label_image
from occle_core.pseudo.cache import read_point_pseudo_labels, read_voxel_pseudo_labels
from occle_core.train.augment import flip_sample_y
from occle_core.train.config import DataConfig, load_train_config
from occle_core.train.sources import open_sequences
from occle_core.train.trainer import Trainer

REPO = Path(__file__).resolve().parents[2]
TRAIN_CONFIG = REPO / "config" / "train" / "occle_occ3d_tiny_synthetic.yaml"


@pytest.fixture(scope="module")
def surround(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("surround")
    synth = ["synth", "--layout", "occ3d", "--out", str(root), "--sequences", "0", "1"]
    assert occle([*synth, "--frames", "6", "--seed", "3"]) == 0
    pseudo = ["pseudo-label", "--layout", "occ3d", "--dataset", str(root), "--sweeps", "4"]
    assert occle([*pseudo, "--sequences", "scene-0000", "scene-0001"]) == 0
    return root


def test_pseudo_labels_of_every_camera(surround: Path) -> None:
    """Every camera of every key frame is labelled (Occ3D alignment), the points of the key
    sweep and its sweeps are lifted from all six images, and the key frames get dense grids
    whose free space is Occ3D's free class."""
    (scene,) = open_occ3d_scenes(surround, "occle_infos.pkl", ["scene-0001"], sweeps=4)
    cache = surround / "occle" / "scene-0001" / "pseudo_labels"
    for camera in ("CAM_FRONT", "CAM_BACK_LEFT"):
        image = read_label_image(cache / camera / "000001.png")
        assert image.shape == (90, 160) and set(np.unique(image)) <= set(range(17)) | {255}
    summary = json.loads((cache / "summary.json").read_text())
    assert summary["settings"]["target"] == "occ3d" and summary["lifting"]["back"] == 6
    # The layout's voxel window: 4 key frames either side, trails not carved (lever 8).
    window = summary["voxel_window"]
    assert (window["back"], window["forward"], window["carve_trails"]) == (4, 4, None)
    assert summary["image_miou"] > 0.5 and summary["point_miou"] > 0.4
    assert summary["point_coverage"] > 0.8  # six cameras see nearly every return
    points = read_point_pseudo_labels(cache / "velodyne" / "000001.bin", len(scene.frame(1).points))
    assert (points != 255).mean() > 0.5
    dense = read_voxel_pseudo_labels(cache / "voxels" / "000001.npz", scene.grid.shape)
    truth = scene.voxel_ground_truth(1).labels
    free = (dense == OCC3D_FREE) & (truth != 255)
    assert free.sum() > 1000 and (truth[free] == OCC3D_FREE).mean() > 0.95
    assert summary["voxel_empty_precision"] > 0.95


def test_scene_reads_like_a_sequence(surround: Path) -> None:
    (scene,) = open_occ3d_scenes(surround, "occle_infos.pkl", ["scene-0001"], sweeps=4)
    assert isinstance(scene, Occ3DScene) and scene.sequence == "scene-0001"
    assert scene.scan_ids == scene.voxel_ids == [0, 1]  # key frames 0 and 5 of the 10 Hz scans
    assert scene.grid.shape == (64, 64, 8) and scene.grid.frame_id == "ego"
    frame = scene.frame(1)
    assert len(frame.images) == len(frame.cameras) == 6
    assert frame.frame_id == f"scene-0001/{scene.token(1)}"
    assert len(frame.points) > 4 * len(scene.frame(0, load_image=False).points)  # 4 sweeps
    # The LiDAR (ray origin) is 1.84 m above the ego origin.
    np.testing.assert_allclose(
        np.linalg.inv(frame.pose) @ scene.poses[1] @ [0, 0, 0, 1], [0, 0, 1.84, 1], atol=1e-9
    )
    truth = scene.voxel_ground_truth(1)
    labels = read_occ3d_labels(scene.gt_file(1), scene.grid.shape)
    np.testing.assert_array_equal(truth.invalid, ~labels.mask_camera)
    inside = labels.mask_camera
    np.testing.assert_array_equal(truth.labels[inside], labels.semantics[inside])
    assert (truth.labels[~inside] == 255).all() and (truth.labels == OCC3D_FREE).any()
    lidar = open_occ3d_scenes(surround, "occle_infos.pkl", ["scene-0001"], mask="lidar")[0]
    assert (lidar.voxel_ground_truth(1).labels != 255).sum() > (truth.labels != 255).sum()


def test_scene_errors_name_what_is_wrong(surround: Path, tmp_path: Path) -> None:
    with pytest.raises(DataFormatError, match=r"occle_infos\.pkl: no samples of scene\(s\)"):
        open_occ3d_scenes(surround, "occle_infos.pkl", ["scene-0009"])
    with pytest.raises(ValueError, match="mask='depth'"):
        Occ3DScene(
            surround, "x", scene_samples(surround / "occle_infos.pkl")["scene-0000"], 0, "depth"
        )
    config = DataConfig(root=str(surround), layout="occ3d", info_file="absent.pkl")
    with pytest.raises(DataFormatError, match=r"absent\.pkl"):
        open_sequences(config, ["scene-0000"])


def test_train_infer_and_eval_on_surround_scenes(surround: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    overrides = [
        f"data.root={surround}",
        "data.train_sequences=[scene-0000]",
        "data.val_sequences=[scene-0001]",
        "max_steps=2",
        "validate_every=2",
    ]
    assert occle(["train", "--config", str(TRAIN_CONFIG), "--run", str(run), *overrides]) == 0
    manifest = json.loads((run / "label_budget.json").read_text())
    assert manifest["voxels"]["kept_share"] > 0  # the budget kept a labelled key frame
    metrics = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    validation = [m for m in metrics if "val_miou" in m]
    assert validation and 0.0 <= validation[-1]["val_miou"] <= 1.0
    predictions = tmp_path / "pred"
    infer = ["infer", "--layout", "occ3d", "--checkpoint", str(run / "checkpoints/last.pt")]
    scene = ["--dataset", str(surround), "--sequences", "scene-0001", "--sweeps", "4"]
    assert occle([*infer, *scene, "--out", str(predictions)]) == 0
    assert len(list(predictions.glob("*.npz"))) == 2
    report = tmp_path / "eval.json"
    evaluate = ["eval", "occ3d", "--gts", str(surround / "gts"), "--predictions", str(predictions)]
    assert occle([*evaluate, "--scenes", "scene-0001", "--json", str(report)]) == 0
    scores = json.loads(report.read_text())
    direct = evaluate_occ3d(surround / "gts", predictions, scenes=["scene-0001"])
    assert scores["num_frames"] == 2 and scores["miou"] == pytest.approx(
        100 * direct.miou, abs=0.01
    )
    # The trainer's own validation of the last step scored the same frames the same way.
    assert validation[-1]["val_miou"] == pytest.approx(direct.miou, abs=1e-4)
    with pytest.raises(DataFormatError, match=r"no scene\(s\) \['scene-0007'\]"):
        evaluate_occ3d(surround / "gts", predictions, scenes=["scene-0007"])


def test_a_mirrored_surround_sample_agrees_in_every_camera(surround: Path, tmp_path: Path) -> None:
    """`augment.flip_y` on the six-camera rig: every camera of the mirrored sample sees the
    mirrored points where the original camera saw the originals (the mirrored image's pixel is
    the original's), and the camera mask of the ground truth moves with its voxels."""
    overrides = [f"data.root={surround}", "data.train_sequences=[scene-0000]"]
    config = load_train_config(TRAIN_CONFIG, [*overrides, "data.val_sequences=[]"])
    trainer = Trainer(config, tmp_path / "run", checkpoint_every=0)
    original = trainer.train_set[1]
    mirrored = flip_sample_y(original, trainer.model_config.grid)
    before = project_points(original.frame.xyz, original.frame.cameras)
    after = project_points(mirrored.frame.xyz, mirrored.frame.cameras)
    assert len(original.frame.cameras) == 6
    for camera in range(6):
        valid = before.valid[camera]
        assert valid.sum() > 100  # every camera sees a part of the scan
        np.testing.assert_array_equal(after.valid[camera], valid)
        old, new = before.pixels()[camera][valid], after.pixels()[camera][valid]
        np.testing.assert_array_equal(
            original.frame.images[camera][old[:, 1], old[:, 0]],
            mirrored.frame.images[camera][new[:, 1], new[:, 0]],
        )
    assert original.truth is not None and mirrored.truth is not None
    np.testing.assert_array_equal(mirrored.truth, original.truth[:, ::-1])
    assert (original.truth == 255).any() and not np.array_equal(mirrored.truth, original.truth)


def test_scenes_of_an_info_file_without_scene_names_come_from_gts(surround: Path) -> None:
    """mmdetection3d's own v1.1 converter writes no scene name; the Occ3D ground-truth folders
    `gts/<scene>/<token>/` say which scene each sample belongs to."""
    import pickle

    info = pickle.loads((surround / "occle_infos.pkl").read_bytes())
    for entry in info["data_list"]:
        del entry["scene_name"], entry["occ_path"]
    (surround / "v11_plain.pkl").write_bytes(pickle.dumps(info))
    expected = open_occ3d_scenes(surround, "occle_infos.pkl", ["scene-0000", "scene-0001"])
    found = open_occ3d_scenes(surround, "v11_plain.pkl", ["scene-0000", "scene-0001"])
    for want, got in zip(expected, found, strict=True):
        assert [got.token(i) for i in got.scan_ids] == [want.token(i) for i in want.scan_ids]
    # A sample with neither a scene name nor a ground-truth folder is named in the error.
    info["data_list"][0]["token"] = "f" * 32
    (surround / "v11_orphan.pkl").write_bytes(pickle.dumps(info))
    with pytest.raises(DataFormatError, match=r"f{32} names no scene"):
        open_occ3d_scenes(surround, "v11_orphan.pkl", ["scene-0000"])
