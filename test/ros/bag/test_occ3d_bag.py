"""A surround-rig scene in the Occ3D layout end to end through the bag tools: `occle to-bag
--layout occ3d` writes every LiDAR sweep, six cameras and TF as a nuScenes robot records them;
`occle bag-eval` with the shipped nuScenes parameters (six synchronised camera pairs, sweeps
aggregated from the LiDAR topic) must predict what `occle infer --layout occ3d --sweeps 4`
predicts from the files, and score the key frames with the Occ3D metric."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
import torch

pytest.importorskip("rosbags", reason="rosbags (dev extra) missing")

from occle_core.cli.main import main
from occle_core.data.nuscenes.sample import NUSCENES_CAMERAS
from occle_core.data.nuscenes.scene import open_occ3d_scenes
from occle_core.data.synthetic.surround import INFO_FILE
from occle_core.data.synthetic.surround_tables import TABLES_FOLDER
from occle_core.errors import DataFormatError
from occle_core.eval.occ3d import Occ3DScores
from occle_core.geometry.transforms import invert_rigid
from occle_core.infer import predict_frames
from occle_core.model.build import build_model
from occle_core.model.checkpoint import load_checkpoint, save_checkpoint
from occle_core.model.config import load_model_config
from occle_core.runtime import ModelRunner
from occle_ros.bag.messages_of import read_bag_messages
from occle_ros.bag.occ3d_bag import write_occ3d_scene_bag
from occle_ros.bag.replay import replay_bag
from occle_ros.conversions.occupancy import message_to_grid
from occle_ros.messages import stamp_to_ns
from occle_ros.pipeline.config import load_node_config

REPO = Path(__file__).resolve().parents[3]
SCENE = "scene-0002"
SCANS = 11  # 10 Hz: key frames 0, 5, 10 (2 Hz) and 8 sweeps between them
KEYS = 3


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("surround")
    args = ["synth", "--layout", "occ3d", "--out", str(root), "--sequences", "2"]
    assert main([*args, "--frames", str(SCANS), "--seed", "4", "--no-preview"]) == 0
    return root


@pytest.fixture(scope="module")
def bag(dataset: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("bags") / SCENE
    return write_occ3d_scene_bag(dataset, INFO_FILE, SCENE, out)


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    model = build_model(load_model_config("occle_occ3d_tiny"), seed=2)
    path = tmp_path_factory.mktemp("model") / "occ3d_tiny.pt"
    save_checkpoint(path, model)
    return path


def test_bag_holds_every_sweep_and_the_key_frame_cameras(bag: Path, dataset: Path) -> None:
    topics = read_bag_messages(bag)
    (scene,) = open_occ3d_scenes(dataset, INFO_FILE, [SCENE])
    clouds = topics["/LIDAR_TOP"]
    assert len(clouds) == SCANS and len(topics["/tf"]) == SCANS
    stamps = [stamp_to_ns(m.header.stamp) for m in clouds]
    assert stamps == sorted(stamps) and len(set(stamps)) == SCANS
    keys = [round(s.timestamp * 1e9) for s in scene.samples]
    assert [stamps[i] for i in (0, 5, 10)] == keys
    for camera in NUSCENES_CAMERAS:
        images = topics[f"/{camera}/image_rect_compressed"]
        assert [stamp_to_ns(m.header.stamp) for m in images] == keys
        # The recorded JPEG, byte for byte.
        first = dataset / scene.samples[0].cameras[camera].file
        assert bytes(images[0].data) == first.read_bytes() and images[0].format == "jpeg"
        info = topics[f"/{camera}/camera_info"][0]
        np.testing.assert_allclose(
            np.reshape(info.k, (3, 3)), scene.samples[0].cameras[camera].intrinsics
        )
    (static,) = topics["/tf_static"]
    children = [(t.header.frame_id, t.child_frame_id) for t in static.transforms]
    assert children == [("base_link", "LIDAR_TOP")] + [("base_link", c) for c in NUSCENES_CAMERAS]
    source = json.loads(topics["/occle/source"][0].data)
    assert (source["layout"], source["sequence"]) == ("occ3d", SCENE)


def test_replay_predicts_what_infer_predicts_and_scores_occ3d(
    bag: Path, dataset: Path, checkpoint: Path, tmp_path: Path
) -> None:
    config = load_node_config(REPO / "config" / "occle_nuscenes.yaml")
    runner = ModelRunner.from_checkpoint(str(checkpoint), device="cpu")
    seen: list = []
    predict = runner.predict

    def recording_predict(frame, confidence=False):  # type: ignore[no-untyped-def]
        seen.append(frame)
        return predict(frame, confidence)

    runner.predict = recording_predict  # type: ignore[method-assign]
    out = tmp_path / "outputs"
    report = replay_bag(bag, runner, config, gt_root=dataset, out=out)
    # One frame per key frame; the 8 sweeps between them found no camera partners.
    assert report.frames == KEYS and report.skipped == 0 and report.unsynced == SCANS - KEYS
    # The dataset path: key sweep + 4 earlier sweeps in the ego frame, one key frame at a time.
    (scene,) = open_occ3d_scenes(dataset, INFO_FILE, [SCENE], sweeps=4)
    (single,) = open_occ3d_scenes(dataset, INFO_FILE, [SCENE], sweeps=0)
    key_points = [len(single.frame(i, load_image=False).points) for i in range(KEYS)]
    assert len(seen[0].points) == key_points[0]  # nothing before the first key frame
    assert all(len(seen[i].points) > 4 * key_points[i] for i in (1, 2))  # 4 sweeps joined
    for index, frame in enumerate(seen):
        expected = scene.frame(index)
        assert frame.points.shape[0] == expected.points.shape[0], f"key frame {index}"
        np.testing.assert_allclose(frame.points[:, :4], expected.points[:, :4], atol=2e-4)
        for got, want in zip(frame.cameras, expected.cameras, strict=True):
            np.testing.assert_allclose(got.cam_from_ref, want.cam_from_ref, atol=1e-6)
        for got, want in zip(frame.images, expected.images, strict=True):
            np.testing.assert_array_equal(got, want)
    model, _ = load_checkpoint(checkpoint)
    predicted = dict(predict_frames(model, scene, scene.scan_ids, 1))
    replayed = read_bag_messages(out)["/occle/occupancy"]
    assert len(replayed) == KEYS
    for index, message in enumerate(replayed):
        grid = message_to_grid(message)
        assert message.header.frame_id == "base_link"
        agreement = (grid.labels == predicted[index]).mean()
        assert agreement > 0.999, f"key frame {index}: {agreement:.5f} of voxels agree"
    assert report.scored_frames == [0, 1, 2]
    assert isinstance(report.scores, Occ3DScores) and report.scores.num_frames == KEYS
    # The scores are the Occ3D metric of those predictions inside mask_camera.
    from occle_core.eval.occ3d import Occ3DConfusion

    confusion = Occ3DConfusion()
    masked = open_occ3d_scenes(dataset, INFO_FILE, [SCENE], mask="camera")[0]
    for index in range(KEYS):
        confusion.add(predicted[index], masked.voxel_ground_truth(index).labels)
    assert report.scores.miou == pytest.approx(confusion.scores().miou, abs=1e-3)


def test_cli_writes_and_scores_a_scene(
    dataset: Path, checkpoint: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "scene.db3"
    to_bag = ["to-bag", "--layout", "occ3d", "--dataset", str(dataset), "--sequence", SCENE]
    to_bag += ["--info-file", TABLES_FOLDER]  # the nuScenes tables instead of the info file
    assert main([*to_bag, "--out", str(out), "--storage", "sqlite3"]) == 0
    assert list(out.glob("*.db3"))
    assert main([*to_bag, "--out", str(out)]) == 2  # never overwritten
    assert "already exists" in capsys.readouterr().err
    report = tmp_path / "report.json"
    evaluate = ["bag-eval", str(out), "--checkpoint", str(checkpoint), "--gt", str(dataset)]
    params = ["--params", str(REPO / "config" / "occle_nuscenes.yaml")]
    assert main([*evaluate, *params, "--json", str(report)]) == 0
    printed = capsys.readouterr().out
    assert "Occ3D-nuScenes (camera mask): 3 frames" in printed
    result = json.loads(report.read_text())
    assert result["frames"] == KEYS and result["scores"]["benchmark"] == "occ3d_nuscenes"


def test_unknown_scene_and_missing_info_file_are_named(dataset: Path, tmp_path: Path) -> None:
    with pytest.raises(DataFormatError, match="scene-0009"):
        write_occ3d_scene_bag(dataset, INFO_FILE, "scene-0009", tmp_path / "bag")
    with pytest.raises(DataFormatError, match=r"missing\.pkl"):
        write_occ3d_scene_bag(dataset, "missing.pkl", SCENE, tmp_path / "bag")
    # One /tf_static holds the mountings: a camera moved between key frames is refused.
    import pickle

    info = pickle.loads((dataset / INFO_FILE).read_bytes())
    info["data_list"][1]["images"]["CAM_BACK"]["cam2ego"][0][3] += 0.05
    (dataset / "moved_camera.pkl").write_bytes(pickle.dumps(info))
    with pytest.raises(DataFormatError, match="CAM_BACK mounting differs"):
        write_occ3d_scene_bag(dataset, "moved_camera.pkl", SCENE, tmp_path / "bag")
    assert not (tmp_path / "bag").exists() and not (tmp_path / "bag.partial").exists()


def test_node_parameters_aggregate_like_training() -> None:
    config = load_node_config(REPO / "config" / "occle_nuscenes.yaml")
    train = (REPO / "config" / "train" / "occle_occ3d_tiny_synthetic.yaml").read_text()
    assert "sweeps: 4" in train and config.input.scans == 5
    assert config.input.newest_first and config.input.history_min_range == 1.0
    assert dataclasses.asdict(config)["tf"]["grid_frame"] == "base_link"


@pytest.mark.real_data
def test_real_nuscenes_sample_through_a_bag(real_data: Path, tmp_path: Path) -> None:
    """The real v1.1 sample (scene-0061 of v1.0-mini): its info file names no scene, so an
    Occ3D-style `gts/<scene>/<token>/` folder says it; the bag carries the real LiDAR sweep and
    the six real JPEGs, and the frame the node's pipeline rebuilds from TF and CameraInfo equals
    the one the dataset reader loads."""
    nuscenes = real_data / "nuscenes"
    token = "ca9a282c9e77460f8360f564131a8af5"
    root = tmp_path / "root"
    (root / "gts" / "scene-0061" / token).mkdir(parents=True)
    (root / "samples").symlink_to((nuscenes / "samples").resolve())
    info = "n015-2018-07-24-11-22-45+0800.pkl"
    (root / info).symlink_to((nuscenes / info).resolve())
    bag = write_occ3d_scene_bag(root, info, "scene-0061", tmp_path / "bag")
    topics = read_bag_messages(bag)
    assert len(topics["/LIDAR_TOP"]) == 1 and topics["/LIDAR_TOP"][0].width == 34688
    assert len(topics["/tf"]) == 7  # the ego pose at the LiDAR's and at each camera's stamp
    assert all(len(topics[f"/{c}/image_rect_compressed"]) == 1 for c in NUSCENES_CAMERAS)
    model = build_model(load_model_config("occle_occ3d_tiny"), seed=0)
    runner = ModelRunner(model, torch.device("cpu"))
    seen: list = []
    predict = runner.predict

    def recording_predict(frame, confidence=False):  # type: ignore[no-untyped-def]
        seen.append(frame)
        return predict(frame, confidence)

    runner.predict = recording_predict  # type: ignore[method-assign]
    config = load_node_config(REPO / "config" / "occle_nuscenes.yaml")
    report = replay_bag(bag, runner, config)
    # Real cameras are up to 43 ms apart from the LiDAR: inside the 50 ms slop.
    assert report.frames == 1 and report.skipped == 0 and report.unsynced == 0
    (scene,) = open_occ3d_scenes(root, info, ["scene-0061"])
    expected = scene.frame(0)
    (frame,) = seen
    np.testing.assert_allclose(frame.points[:, :4], expected.points[:, :4], atol=2e-4)
    calibration = scene.samples[0].cameras
    motions: list[float] = []
    for got, want in zip(frame.cameras, expected.cameras, strict=True):
        assert (got.width, got.height) == (1600, 900)
        # The mounting alone would put some cameras 0.2-0.4 m off: the vehicle moved between
        # the camera's and the LiDAR's stamps, and the node follows it through map -> base_link.
        mounting_only = invert_rigid(calibration[got.name].cam2ego)
        motions.append(float(np.linalg.norm(mounting_only[:3, 3] - want.cam_from_ref[:3, 3])))
        np.testing.assert_allclose(got.intrinsics, want.intrinsics)
        np.testing.assert_allclose(got.cam_from_ref, want.cam_from_ref, atol=1e-6)
    for got, want in zip(frame.images, expected.images, strict=True):
        np.testing.assert_array_equal(got, want)
    assert max(motions) > 0.3 and min(motions) < 0.01
