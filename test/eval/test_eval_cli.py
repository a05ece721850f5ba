"""`occle eval`: end-to-end runs on small datasets, the JSON report and the percent rounding."""

from __future__ import annotations

import json
import math
from importlib import resources
from pathlib import Path

import numpy as np
import pytest
import yaml

from occle_core.cli.main import main
from occle_core.data.nuscenes.occ3d import Occ3DLabels, write_occ3d_labels, write_occ3d_prediction
from occle_core.data.semantickitti.files import write_voxel_bits, write_voxel_labels
from occle_core.data.semantickitti.sequence import sequence_dir, write_prediction
from occle_core.eval import Occ3DConfusion, percent, report_dict, write_json_report

KITTI_SHAPE = (256, 256, 32)
OCC3D_SHAPE = (200, 200, 16)


def kitti_frame(data: Path, preds: Path, seq: int) -> None:
    """Cars: 8 of 10 found; road: all 5 found plus 5 on empty voxels; ignored + invalid voxels."""
    raw = np.zeros(KITTI_SHAPE, dtype=np.uint16)
    raw[0, 0, 0:10] = 10  # car
    raw[1, 0, 0:5] = 40  # road
    raw[2, 0, 0:4] = 1  # outlier: ignored
    invalid = np.zeros(KITTI_SHAPE, dtype=bool)
    invalid[4, 0, :] = True
    voxels = sequence_dir(data, seq) / "voxels"
    write_voxel_labels(voxels / "000000.label", raw)
    write_voxel_bits(voxels / "000000.invalid", invalid)
    pred = np.zeros(KITTI_SHAPE, dtype=np.uint8)
    pred[0, 0, 0:8] = 1
    pred[1, 0, 0:5] = 9
    pred[5, 0, 0:5] = 9
    pred[2, 0, 0:4] = 13
    pred[4, 0, :] = 13
    write_prediction(preds, seq, 0, pred)


@pytest.fixture(scope="module")
def kitti(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("kitti_cli")
    kitti_frame(root / "data", root / "pred", 8)
    return root / "data", root / "pred"


def row(output: str, name: str) -> str:
    """The value column of the table row `name`."""
    for line in output.splitlines():
        if line[:24].strip() == name:
            return line[24:].strip()
    raise AssertionError(f"no row {name!r} in:\n{output}")


def test_semantickitti_cli_prints_table_and_writes_json(
    kitti: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "reports" / "kitti.json"
    argv = ["eval", "semantickitti", "--dataset", str(kitti[0]), "--predictions", str(kitti[1])]
    assert main([*argv, "--sequences", "08", "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    # car 8/10, road 5/(5+5); mIoU (0.8 + 0.5) / 19; occupied: 13 hits, 18 predicted, 15 in GT
    assert row(printed, "car") == "80.00"
    assert row(printed, "road") == "50.00"
    assert row(printed, "building") == "0.00"
    assert row(printed, "mIoU (SSC)") == "6.84"
    assert row(printed, "Precision") == "72.22"
    assert row(printed, "Recall") == "86.67"
    assert row(printed, "IoU (completion)") == "65.00"
    assert "SemanticKITTI SSC: 1 frames" in printed
    report = json.loads(out.read_text())
    assert report["miou"] == 6.84
    assert report["iou"] == 65.0
    assert report["precision"] == 72.22
    assert report["recall"] == 86.67
    assert report["num_frames"] == 1
    assert len(report["per_class"]) == 19 and "empty" not in report["per_class"]
    assert report["per_class"]["car"] == 80.0
    assert report["per_class"]["road"] == 50.0
    assert sum(report["per_class"].values()) == 130.0


def test_semantickitti_default_sequences_come_from_the_label_config(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    kitti_frame(tmp_path / "data", tmp_path / "pred", 9)
    packaged = resources.files("occle_core.data").joinpath("resources/semantic-kitti.yaml")
    config = yaml.safe_load(packaged.read_text())
    config["split"]["valid"] = [9]
    config_file = tmp_path / "custom.yaml"
    config_file.write_text(yaml.safe_dump(config))
    argv = ["eval", "semantickitti", "--dataset", str(tmp_path / "data")]
    argv += ["--predictions", str(tmp_path / "pred")]
    assert main([*argv, "--label-config", str(config_file)]) == 0
    assert row(capsys.readouterr().out, "car") == "80.00"
    # the official config's valid split is sequence 08, which this dataset does not have
    assert main(argv) == 2
    assert "sequences/08: sequence folder not found" in capsys.readouterr().err


def test_semantickitti_cli_errors(
    kitti: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["eval", "semantickitti", "--dataset", str(kitti[0]), "--sequences", "8"]
    assert main([*argv, "--predictions", str(tmp_path / "none")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("occle eval: error: --predictions:") and "no such folder" in err
    (tmp_path / "empty").mkdir()
    assert main([*argv, "--predictions", str(tmp_path / "empty")]) == 2
    err = capsys.readouterr().err
    assert "1 of 1 prediction files are missing" in err and "000000.label" in err
    bad_config = [*argv, "--predictions", str(kitti[1]), "--label-config", str(tmp_path / "x.yaml")]
    assert main(bad_config) == 2
    assert "--label-config" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:
        main([*argv, "--predictions", str(kitti[1]), "--sequences", "eight"])
    assert exit_info.value.code == 2
    assert "not a sequence number" in capsys.readouterr().err


def occ3d_dataset(root: Path) -> None:
    """One sample: 4 visible car voxels, 4 visible free voxels; 2 cars found, 1 free called car."""
    semantics = np.full(OCC3D_SHAPE, 17, dtype=np.uint8)
    semantics[0, 0, 0:4] = 4
    camera = np.zeros(OCC3D_SHAPE, dtype=bool)
    camera[0, 0, 0:8] = True
    labels = Occ3DLabels(semantics, camera, camera)
    write_occ3d_labels(root / "gts" / "scene-0001" / "tok" / "labels.npz", labels)
    pred = np.full(OCC3D_SHAPE, 17, dtype=np.uint8)
    pred[0, 0, 0:2] = 4
    pred[0, 0, 4] = 4
    pred[9, 9, :] = 3  # outside the camera mask
    write_occ3d_prediction(root / "pred", "tok", pred)


def test_occ3d_cli_prints_table_and_writes_json(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    occ3d_dataset(tmp_path)
    out = tmp_path / "occ3d.json"
    argv = [
        "eval",
        "occ3d",
        "--gts",
        str(tmp_path / "gts"),
        "--predictions",
        str(tmp_path / "pred"),
    ]
    assert main([*argv, "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    # car: tp 2, gt 4, predicted 3 -> 2 / 5; bus (3) only predicted outside the mask -> absent
    assert row(printed, "car") == "40.00"
    assert row(printed, "bus") == "n/a"
    assert row(printed, "mIoU") == "40.00"
    assert "free" not in printed
    report = json.loads(out.read_text())
    assert report["miou"] == 40.0
    assert report["num_frames"] == 1
    assert len(report["per_class"]) == 17
    assert report["per_class"]["car"] == 40.0
    assert report["per_class"]["bus"] is None
    assert "iou" not in report
    # Occupied vs free inside the mask: only cars are occupied here, so it equals car's IoU.
    assert report["iou_geometry"] == 40.0 and row(printed, "IoU (geometry)") == "40.00"


def test_occ3d_cli_missing_prediction(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    camera = np.ones(OCC3D_SHAPE, dtype=bool)
    labels = Occ3DLabels(np.zeros(OCC3D_SHAPE, dtype=np.uint8), camera, camera)
    write_occ3d_labels(tmp_path / "gts" / "scene-0001" / "abc" / "labels.npz", labels)
    (tmp_path / "pred").mkdir()
    argv = [
        "eval",
        "occ3d",
        "--gts",
        str(tmp_path / "gts"),
        "--predictions",
        str(tmp_path / "pred"),
    ]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "1 of 1 prediction files are missing" in err and "abc.npz" in err


def test_help_lists_both_benchmarks(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["eval", "--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    assert "semantickitti" in text and "occ3d" in text


# --- report ---------------------------------------------------------------------------------------
def test_percent_rounds_like_the_official_scripts() -> None:
    # 0.28575 * 100 is 28.574999...; the official round() on numpy float64 gives 28.58 (numpy's
    # rule), Python's round() on a plain float would give 28.57.
    assert percent(0.28575) == 28.58
    assert percent(0.28575) == float(round(np.float64(0.28575) * 100, 2))
    assert round(float(np.float64(0.28575) * 100), 2) == 28.57
    assert percent(2 / 3) == 66.67
    assert math.isnan(percent(float("nan")))


def test_json_report_writes_null_for_nan(tmp_path: Path) -> None:
    confusion = Occ3DConfusion()
    confusion.add(np.array([0, 17]), np.array([0, 17]))
    scores = confusion.scores()
    assert report_dict(scores)["per_class"]["car"] is None
    path = tmp_path / "r.json"
    write_json_report(path, scores)
    text = path.read_text()
    assert "NaN" not in text
    assert json.loads(text) == report_dict(scores)
    assert json.loads(text)["miou"] == 100.0
