"""Every `occle` sub-command driven with hostile paths and values: a file where a folder belongs,
a folder where a file belongs, missing inputs, paths under a file, unwritable places, an output
that already exists, NaN, negative and zero numbers, empty files. Each must end with exit code
2 and one line (no traceback), and leave every file the user already had as it was."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from occle_core.cli.main import main
from occle_core.data.synthetic.generate import SynthConfig, write_synthetic_dataset
from occle_core.model.build import build_model
from occle_core.model.checkpoint import save_checkpoint
from occle_core.model.config import load_model_config

pytest.importorskip("rosbags", reason="rosbags (dev extra) missing")

#: How a role's argument can be wrong (paths relative to the workspace; see `workspace`).
HOSTILE = {
    "in_file": ["missing.pt", "folder", "under_file/x.pt", "empty_file"],
    "in_folder": ["missing_dir", "user_file.txt", "under_file/sub"],
    "out_folder": ["user_file.txt", "under_file/sub", "/proc/occle_not_here/x"],
    "out_file": ["folder", "under_file/out.json", "/proc/occle_not_here/out.json"],
    "new": ["user_file.txt", "folder", "under_file/bag"],
    "count": ["0", "-3", "nan", "-inf", "1e400"],
    "positive": ["nan", "-1", "0", "inf"],
}


def commands(w: Path) -> dict[str, tuple[list[str], dict[str, tuple[str, str]]]]:
    """name -> (valid arguments, {placeholder: (role, valid value)}); every placeholder in the
    arguments is replaced by its valid value except the one being spoiled."""
    ds, ckpt, bag = str(w / "ds"), str(w / "tiny.pt"), str(w / "bag")
    return {
        "synth": (
            ["synth", "--out", "{out}", "--frames", "{frames}", "--scale", "tiny", "--no-preview"],
            {"out": ("out_folder", str(w / "new_ds")), "frames": ("count", "2")},
        ),
        "pseudo-label": (
            ["pseudo-label", "--dataset", "{dataset}", "--depth-tolerance", "{tolerance}"],
            {"dataset": ("in_folder", ds), "tolerance": ("positive", "1.0")},
        ),
        "train": (
            [
                "train",
                "--run",
                "{run}",
                "--config",
                "{config}",
                f"data.root={ds}",
                "optim.lr={lr}",
                "batch_size={batch}",
                "max_steps=1",
            ],
            {
                "run": ("out_folder", str(w / "new_run")),
                "config": ("in_file", "occle_tiny_synthetic"),
                "lr": ("count", "0.001"),
                "batch": ("count", "1"),
            },
        ),
        "infer": (
            [
                "infer",
                "--checkpoint",
                "{ckpt}",
                "--dataset",
                "{dataset}",
                "--sequences",
                "00",
                "--out",
                "{out}",
                "--scans",
                "{scans}",
                "--frame",
                "0",
            ],
            {
                "ckpt": ("in_file", ckpt),
                "dataset": ("in_folder", ds),
                "out": ("out_folder", str(w / "new_pred")),
                "scans": ("count", "1"),
            },
        ),
        "eval semantickitti": (
            [
                "eval",
                "semantickitti",
                "--dataset",
                "{dataset}",
                "--predictions",
                "{pred}",
                "--sequences",
                "00",
                "--json",
                "{json}",
            ],
            {
                "dataset": ("in_folder", ds),
                "pred": ("in_folder", str(w / "pred")),
                "json": ("out_file", str(w / "new_scores.json")),
            },
        ),
        "eval occ3d": (
            ["eval", "occ3d", "--gts", "{gts}", "--predictions", "{pred}", "--json", "{json}"],
            {
                "gts": ("in_folder", str(w / "folder")),
                "pred": ("in_folder", str(w / "folder")),
                "json": ("out_file", str(w / "new_scores.json")),
            },
        ),
        "to-bag": (
            ["to-bag", "--dataset", "{dataset}", "--sequence", "00", "--out", "{out}"],
            {"dataset": ("in_folder", ds), "out": ("new", str(w / "new_bag"))},
        ),
        "bag-eval": (
            [
                "bag-eval",
                bag,
                "--checkpoint",
                "{ckpt}",
                "--gt",
                "{gt}",
                "--out",
                "{out}",
                "--json",
                "{json}",
                "--scans",
                "{scans}",
            ],
            {
                "ckpt": ("in_file", ckpt),
                "gt": ("in_folder", ds),
                "out": ("new", str(w / "new_outputs")),
                "json": ("out_file", str(w / "new_report.json")),
                "scans": ("count", "1"),
            },
        ),
        "kitti-raw": (
            ["kitti-raw", "--dataset", "{dataset}", "--sequence", "00", "--out", "{out}"],
            {"dataset": ("in_folder", ds), "out": ("out_folder", str(w / "new_raw"))},
        ),
        "demo": (
            [
                "demo",
                "--out",
                "{out}",
                "--checkpoint",
                "{ckpt}",
                "--no-real",
                "--frames",
                "{frames}",
            ],
            {
                "out": ("out_folder", str(w / "new_demo")),
                "ckpt": ("in_file", ckpt),
                "frames": ("count", "5"),
            },
        ),
        "bench scan": (
            ["bench", "scan", "--lengths", "{length}", "--json", "{json}"],
            {"length": ("count", "64"), "json": ("out_file", str(w / "new_bench.json"))},
        ),
    }


def snapshot(root: Path) -> dict[str, str]:
    """relative path -> content hash of every file under `root` (folders by name)."""
    state = {}
    for path in sorted(root.rglob("*")):
        key = str(path.relative_to(root))
        state[key] = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "dir"
    return state


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from occle_ros.bag.to_bag import write_sequence_bag

    w = tmp_path_factory.mktemp("hostile")
    write_synthetic_dataset(w / "ds", [0], SynthConfig(frames=6, scale="tiny", previews=False))
    save_checkpoint(w / "tiny.pt", build_model(load_model_config("occle_tiny"), seed=0))
    write_sequence_bag(w / "ds", "00", w / "bag", frames=[0, 1])
    (w / "user_file.txt").write_text("the user's own file\n")
    (w / "under_file").write_text("a file, so nothing can be under it\n")
    (w / "empty_file").write_bytes(b"")
    (w / "folder").mkdir()
    (w / "folder" / "keep.txt").write_text("keep me\n")
    (w / "pred").mkdir()
    return w


def hostile_cases(w: Path) -> list[tuple[str, str, str]]:
    """(command, placeholder, hostile value) for every spoilable argument."""
    cases = []
    for name, (_, placeholders) in commands(w).items():
        for placeholder, (role, _) in placeholders.items():
            cases += [(name, placeholder, value) for value in HOSTILE[role]]
    return cases


def arguments(w: Path, name: str, spoiled: str, value: str) -> list[str]:
    template, placeholders = commands(w)[name]
    values = {key: valid for key, (_, valid) in placeholders.items()}
    hostile = value if value.startswith("/") else str(w / value)
    values[spoiled] = value if placeholders[spoiled][0] in ("count", "positive") else hostile
    return [part.format(**values) for part in template]


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_hostile_arguments_exit_2_with_one_line_and_touch_nothing(
    workspace: Path, data: st.DataObject, capsys: pytest.CaptureFixture[str]
) -> None:
    name, spoiled, value = data.draw(st.sampled_from(hostile_cases(workspace)), label="case")
    argv = arguments(workspace, name, spoiled, value)
    before = snapshot(workspace)
    try:
        code = main(argv)
    except SystemExit as stop:  # argparse refusing a value of the wrong type
        code = stop.code
    err = capsys.readouterr().err
    assert code == 2, f"{argv}: exit {code}\n{err}"
    assert "Traceback" not in err, err
    lines = [line for line in err.splitlines() if "error:" in line]
    assert len(lines) == 1, err
    assert snapshot(workspace) == before, f"{argv} changed the workspace"


def test_the_valid_arguments_of_each_table_entry_are_valid(workspace: Path) -> None:
    """The spoiled runs fail because of the spoiled argument: with every argument valid, the
    quick commands succeed (the slow ones, train, demo, pseudo-label and bench, are run by
    their own tests)."""
    for name in ("infer", "to-bag", "kitti-raw", "synth"):
        template, placeholders = commands(workspace)[name]
        values = {key: valid for key, (_, valid) in placeholders.items()}
        assert main([part.format(**values) for part in template]) == 0, name


def test_debug_shows_the_traceback(workspace: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    argv = ["infer", "--checkpoint", str(workspace / "empty_file"), "--dataset"]
    argv += [str(workspace / "ds"), "--out", str(workspace / "new_pred2")]
    from occle_core.errors import DataFormatError

    assert main(argv) == 2
    with pytest.raises(DataFormatError, match="empty_file"):
        main(["--debug", *argv])
    monkeypatch.setenv("OCCLE_DEBUG", "1")
    with pytest.raises(DataFormatError):
        main(argv)
