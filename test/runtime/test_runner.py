"""The inference runtime: one device policy, class names that travel in checkpoints, one
prediction path for `occle infer`, bag replay and the node."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from occle_core.errors import ConfigError
from occle_core.model.build import build_model
from occle_core.model.checkpoint import load_checkpoint, save_checkpoint
from occle_core.model.config import load_model_config
from occle_core.runtime import ModelRunner, resolve_device


def test_one_device_policy():
    assert resolve_device("cpu").device == torch.device("cpu")
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert resolve_device("auto").device.type == expected
    for bad in ("banana", "mps", "cuda:x"):
        with pytest.raises(ConfigError, match="expected auto, cpu, cuda or cuda:N"):
            resolve_device(bad, "--device")
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA: the missing-CUDA branch cannot be taken")
    with pytest.raises(ConfigError, match="--device: 'cuda': CUDA is not available"):
        resolve_device("cuda", "--device")
    choice = resolve_device("cuda:0", "model.device", fallback=True)
    assert choice.device == torch.device("cpu") and "running on the CPU" in (choice.warning or "")


def test_class_names_travel_in_the_checkpoint(tmp_path):
    config = dataclasses.replace(
        load_model_config("occle_tiny"), class_names=tuple(f"mine_{i}" for i in range(20))
    )
    save_checkpoint(tmp_path / "named.pt", build_model(config, seed=0))
    runner = ModelRunner.from_checkpoint(tmp_path / "named.pt", device="cpu")
    assert runner.class_names[:2] == ("mine_0", "mine_1")


def test_checkpoints_written_before_class_names_travelled_still_load(tmp_path):
    config = dataclasses.replace(load_model_config("occle_occ3d_tiny"), class_names=())
    save_checkpoint(tmp_path / "old.pt", build_model(config, seed=0))
    model, _ = load_checkpoint(tmp_path / "old.pt")
    assert model.config.class_names == load_model_config("occle_occ3d_tiny").class_names
    # ... and still match the shipped configuration they were trained with.
    ModelRunner.from_checkpoint(tmp_path / "old.pt", "occle_occ3d_tiny", device="cpu")


def test_predict_sequence_is_predict_on_the_aggregated_frame(tmp_path):
    from occle_core.data.semantickitti.sequence import SemanticKittiSequence
    from occle_core.data.synthetic.generate import SynthConfig, write_synthetic_dataset
    from occle_core.geometry.aggregate import aggregated_frame
    from occle_core.infer import predict_frames

    write_synthetic_dataset(tmp_path, [0], SynthConfig(frames=4, scale="tiny", previews=False))
    sequence = SemanticKittiSequence(tmp_path, "00")
    model = build_model(load_model_config("occle_tiny"), seed=3)
    runner = ModelRunner(model, torch.device("cpu"))
    ((index, labels),) = runner.predict_sequence(sequence, [3], scans=3)
    assert index == 3
    direct = runner.predict(aggregated_frame(sequence, 3, 3)).labels
    np.testing.assert_array_equal(labels, direct)
    ((_, through_infer),) = predict_frames(model, sequence, [3], scans=3)
    np.testing.assert_array_equal(through_infer, direct)
    grid = runner.grid(runner.predict(aggregated_frame(sequence, 3, 3), confidence=True), 1.0, "x")
    assert grid.class_names == model.config.class_names and grid.confidence is not None
    # With a class-prior correction the confidence is the probability of the class published,
    # the largest one wherever the correction leaves the plain argmax's class.
    frame = aggregated_frame(sequence, 3, 3)
    with torch.no_grad():
        probabilities = torch.softmax(model(runner.prepare(frame)).logits[0], dim=0).numpy()
    counts = torch.full((model.config.num_classes,), 1000)
    counts[5] = 1
    model.set_class_prior(counts)
    model.set_prior_strength(1.0)
    corrected = runner.predict(frame, confidence=True)
    assert corrected.confidence is not None
    chosen = np.take_along_axis(probabilities, corrected.labels[None].astype(np.int64), 0)[0]
    np.testing.assert_array_equal(corrected.confidence, np.round(chosen * 255).astype(np.uint8))
    moved = corrected.labels != direct
    assert moved.any() and (corrected.labels[moved] == 5).all()
    assert (chosen[moved] < probabilities.max(axis=0)[moved]).all()


def test_mirrored_occupancy_maps_the_mirror_back_before_averaging():
    from occle_core.runtime.runner import mirrored_occupancy

    logits = torch.randn(1, 5, 6, 4, 3, generator=torch.Generator().manual_seed(0))
    # A scene equal to its own mirror: the mirrored pass is the frame's logits flipped in y,
    # and mapped back they agree with the frame's, so the decision is the plain one.
    symmetric = mirrored_occupancy(logits, logits.flip(3), empty_label=0)
    assert torch.equal(symmetric, logits.argmax(dim=1) != 0)
    # Mirrored logits that say "empty" strongly empty every voxel whatever the frame says.
    loud_empty = torch.zeros_like(logits)
    loud_empty[:, 0] = 100.0
    assert not mirrored_occupancy(logits, loud_empty, empty_label=0).any()


def test_mirror_occupancy_decides_empty_from_both_passes_and_classes_from_the_frame(tmp_path):
    from occle_core.data.semantickitti.sequence import SemanticKittiSequence
    from occle_core.data.synthetic.generate import SynthConfig, write_synthetic_dataset
    from occle_core.geometry.aggregate import aggregated_frame
    from occle_core.geometry.mirror import mirror_frame_y

    write_synthetic_dataset(tmp_path, [0], SynthConfig(frames=2, scale="tiny", previews=False))
    frame = aggregated_frame(SemanticKittiSequence(tmp_path, "00"), 1, 2)
    model = build_model(load_model_config("occle_tiny"), seed=3)
    plain_runner = ModelRunner(model, torch.device("cpu"))
    mirror_runner = ModelRunner(model, torch.device("cpu"), mirror_occupancy=True)
    empty = model.config.empty_label
    with torch.no_grad():
        # An untrained head calls (almost) every voxel the same; move the empty class's bias
        # to its median margin so that about half the grid is empty and the decisions can differ.
        own = model(plain_runner.prepare(frame)).logits
        others = torch.cat([own[:, :empty], own[:, empty + 1 :]], dim=1).amax(dim=1)
        model.head.classify.bias[empty] -= (own[:, empty] - others).median()
        own = model(plain_runner.prepare(frame)).logits
        mirrored = model(plain_runner.prepare(mirror_frame_y(frame))).logits
    occupied = ((0.5 * (own + mirrored.flip(3))).argmax(dim=1) != empty)[0].numpy()
    labels = mirror_runner.predict(frame).labels
    np.testing.assert_array_equal(labels != empty, occupied)
    best_occupied_class = own[0].clone()
    best_occupied_class[empty] = -torch.inf
    np.testing.assert_array_equal(
        labels[occupied], best_occupied_class.argmax(dim=0).numpy()[occupied]
    )
    plain = plain_runner.predict(frame).labels
    assert (plain != labels).any() and (plain == labels).mean() > 0.5


def test_mirror_occupancy_needs_a_grid_symmetric_about_y(tmp_path):
    model = build_model(load_model_config("occle_tiny"), seed=0)
    grid = model.config.grid
    shifted = dataclasses.replace(
        grid, origin=(grid.origin[0], grid.origin[1] + 1.0, grid.origin[2])
    )
    model.config = dataclasses.replace(model.config, grid=shifted)
    with pytest.raises(ConfigError, match=r"model\.mirror_occupancy.*symmetric about y = 0"):
        ModelRunner(model, torch.device("cpu"), mirror_occupancy=True)
    ModelRunner(model, torch.device("cpu"))  # the plain decision does not care


def test_an_empty_checkpoint_name_is_a_config_error():
    with pytest.raises(ConfigError, match=r"model\.checkpoint"):
        ModelRunner.from_checkpoint("", device="cpu")
