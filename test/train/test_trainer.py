"""Training end to end on a small synthetic dataset: pseudo labels, budget manifest, losses,
checkpoints, exact resume, inference in the official layout, scoring with `occle eval`."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
import yaml

from occle_core.cli.main import main
from occle_core.data.semantickitti.sequence import SemanticKittiSequence, read_prediction
from occle_core.data.synthetic.generate import SynthConfig, write_synthetic_dataset
from occle_core.model.checkpoint import load_checkpoint, save_checkpoint
from occle_core.model.config import load_model_config
from occle_core.pseudo.cache import pseudo_image_path, pseudo_points_path
from occle_core.train.config import load_train_config
from occle_core.train.trainer import Trainer
from occle_core.typed_config import to_mapping


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("synthetic")
    synth = SynthConfig(frames=10, seed=1, scale="tiny", window_after=4, previews=False)
    write_synthetic_dataset(root, [0, 1], synth)
    assert main(["pseudo-label", "--dataset", str(root), "--sequences", "0", "1"]) == 0
    return root


@pytest.fixture(scope="module")
def micro_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tiny = load_model_config("occle_tiny")
    micro = dataclasses.replace(
        tiny,
        name="micro",
        image_size=(48, 160),
        level_channels=(8, 8),
        fusion=dataclasses.replace(tiny.fusion, channels=8, orders=("xyz",)),
    )
    path = tmp_path_factory.mktemp("model") / "micro.yaml"
    path.write_text(yaml.safe_dump(to_mapping(micro)))
    return path


def _config(dataset: Path, model: Path, *overrides: str):
    return load_train_config(
        None,
        [
            f"model={model}",
            f"data.root={dataset}",
            "data.train_sequences=['00']",
            "data.val_sequences=['01']",
            "budget.ratio=0.5",
            "epochs=3",
            "optim.warmup_steps=2",
            "log_every=1",
            "validate_every=2",
            "threads=2",
            *overrides,
        ],
    )


def _unlabelled_forward(dataset: Path, model: Path, tmp_path: Path):
    """A trainer, the batch of a frame whose labels the budget drops (frame 5 of sequence 00)
    and the network's outputs on it (no gradients, seed 0)."""
    trainer = Trainer(_config(dataset, model), tmp_path / "run", checkpoint_every=0)
    batch = trainer.builder([trainer.train_set[1]])
    torch.manual_seed(0)
    with torch.no_grad():
        out = trainer.network(batch.inputs)
    return trainer, batch, out


def test_pseudo_labels_are_cached_for_every_scan(dataset: Path):
    sequence = SemanticKittiSequence(dataset, 0)
    for index in sequence.scan_ids:
        assert pseudo_image_path(sequence, index).exists()
        points = sequence.frame(index, load_image=False).points
        assert pseudo_points_path(sequence, index).stat().st_size == len(points)
    summary = json.loads((sequence.path / "pseudo_labels" / "summary.json").read_text())
    assert summary["source"] == "simulated-foundation-model"
    assert 0.4 < summary["image_miou"] < 0.95 and summary["image_coverage"] > 0.95
    # The front camera sees a wedge (~13 %) of each scan; earlier frames label more of it.
    assert 0.15 < summary["point_coverage"] < 0.9 and summary["lifting"]["back"] == 30


def test_training_writes_a_run_folder_and_learns(dataset: Path, micro_model: Path, tmp_path):
    config = _config(dataset, micro_model)
    trainer = Trainer(config, tmp_path / "run", checkpoint_every=0)
    assert len(trainer.train_set) == 2 and trainer.total_steps == 6
    result = trainer.fit()
    run = tmp_path / "run"
    manifest = json.loads((run / "label_budget.json").read_text())
    assert manifest["mode"] == "frames" and manifest["every"] == 2
    assert manifest["sequences"]["00"] == {"labelled_frames": 2, "kept_frames": [0]}
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    losses = [r for r in records if "total" in r]
    assert [r["step"] for r in losses] == [1, 2, 3, 4, 5, 6]
    for name in ("final_ce", "geo_bce", "geo_semi", "sem_3d", "sem_2d", "sap"):
        assert all(np.isfinite(r[name]) for r in losses), name
    assert any(r["final_ce"] > 0 for r in losses) and any(r["final_ce"] == 0 for r in losses)
    validations = [r for r in records if "val_miou" in r]
    assert [r["step"] for r in validations] == [4, 6]
    assert result.best_miou == max(r["val_miou"] for r in validations)
    model, extra = load_checkpoint(result.best_checkpoint)
    assert model.config.name == "micro" and extra["train_config"]["budget"]["ratio"] == 0.5
    assert yaml.safe_load((run / "config.yaml").read_text())["data"]["root"] == str(dataset)
    # TensorBoard events (the tensorboard package is part of the dev extra).
    events = list((run / "tensorboard").glob("events.out.tfevents.*"))
    assert len(events) == 1 and events[0].stat().st_size > 0


def test_resume_after_a_kill_gives_the_same_weights(dataset: Path, micro_model: Path, tmp_path):
    straight = Trainer(_config(dataset, micro_model), tmp_path / "straight", checkpoint_every=0)
    straight.fit()

    def kill_at_step_3(progress):
        if progress.step == 3:
            raise KeyboardInterrupt

    first = Trainer(_config(dataset, micro_model), tmp_path / "resumed", checkpoint_every=3)
    with pytest.raises(KeyboardInterrupt):
        first.fit(kill_at_step_3)
    # A new process resumes from last.pt (written at step 3, before the "kill").
    resumed = Trainer(_config(dataset, micro_model), tmp_path / "resumed", checkpoint_every=0)
    assert resumed.resume() and resumed.step == 3
    resumed.fit()
    for (name, a), b in zip(
        straight.model.state_dict().items(), resumed.model.state_dict().values(), strict=True
    ):
        torch.testing.assert_close(a, b, rtol=0, atol=0, msg=name)
    steps = [
        json.loads(line)["step"]
        for line in (tmp_path / "resumed" / "metrics.jsonl").read_text().splitlines()
        if "total" in line
    ]
    assert steps == [1, 2, 3, 4, 5, 6]


def test_cached_samples_train_the_same_weights(dataset: Path, micro_model: Path, tmp_path):
    # Three epochs over two samples: epochs 2 and 3 come from the cache, and a step that wrote
    # into a cached sample would make them differ from freshly read ones.
    read = Trainer(_config(dataset, micro_model), tmp_path / "read", checkpoint_every=0)
    read.fit()
    config = _config(dataset, micro_model, "data.cache_samples=true")
    cached = Trainer(config, tmp_path / "cached", checkpoint_every=0)
    cached.fit()
    assert cached.train_set.cache is not None and len(cached.train_set.cache) == 2
    for (name, a), b in zip(
        read.model.state_dict().items(), cached.model.state_dict().values(), strict=True
    ):
        torch.testing.assert_close(a, b, rtol=0, atol=0, msg=name)


def test_cli_train_infer_eval(dataset: Path, micro_model: Path, tmp_path, capsys):
    run = tmp_path / "run"
    argv = ["train", "--run", str(run), f"model={micro_model}", f"data.root={dataset}"]
    argv += ["data.val_sequences=[]", "epochs=1", "threads=2"]
    assert main(argv) == 0
    assert "trained 2 steps" in capsys.readouterr().out
    out = tmp_path / "predictions"
    checkpoint = run / "checkpoints" / "best.pt"
    argv = ["infer", "--checkpoint", str(checkpoint), "--dataset", str(dataset)]
    assert main([*argv, "--sequences", "01", "--out", str(out)]) == 0
    files = sorted((out / "sequences" / "01" / "predictions").iterdir())
    assert [f.name for f in files] == ["000000.label", "000005.label"]
    grid = SemanticKittiSequence(dataset, 1).grid
    assert read_prediction(files[0], grid.shape).shape == (64, 64, 8)
    renders = tmp_path / "renders"
    evaluate = ["eval", "semantickitti", "--dataset", str(dataset), "--predictions", str(out)]
    assert main([*evaluate, "--sequences", "01", "--render", str(renders)]) == 0
    printed = capsys.readouterr().out
    assert "mIoU" in printed and "wrote 7 renderings" in printed
    assert (renders / "confusion.png").is_file() and (renders / "01_000005_3d.png").is_file()
    # A mismatching --config is refused with the checkpoint named.
    assert main([*argv, "--config", "occle_tiny", "--sequences", "01", "--out", str(out)]) == 2
    assert "best.pt" in capsys.readouterr().err
    # The checkpoint's class-prior correction decides, unless --prior-strength overrides it.
    model, _ = load_checkpoint(checkpoint)
    counts = torch.full((model.config.num_classes,), 1000)
    counts[1] = 1  # class 1 is very rare: a strong correction gives it every occupied voxel
    model.set_class_prior(counts)
    model.set_prior_strength(3.0)
    corrected = tmp_path / "corrected.pt"
    save_checkpoint(corrected, model)
    argv = ["infer", "--checkpoint", str(corrected), "--dataset", str(dataset), "--sequences"]
    plain, adjusted = tmp_path / "plain", tmp_path / "adjusted"
    assert main([*argv, "01", "--out", str(plain), "--prior-strength", "0"]) == 0
    assert main([*argv, "01", "--out", str(adjusted)]) == 0
    for name in ("000000.label", "000005.label"):
        path = Path("sequences") / "01" / "predictions" / name
        before = read_prediction(out / path, grid.shape)
        assert np.array_equal(read_prediction(plain / path, grid.shape), before)
        after = read_prediction(adjusted / path, grid.shape)
        assert np.array_equal(after == 0, before == 0)  # occupancy is the plain argmax's
        assert (after[after != 0] == 1).all() and (before[before != 0] != 1).any()
    assert main([*argv, "01", "--out", str(tmp_path / "bad"), "--prior-strength", "-1"]) == 2
    assert "--prior-strength" in capsys.readouterr().err


def test_cli_train_needs_a_dataset(capsys, tmp_path):
    assert main(["train", "--run", str(tmp_path / "r")]) == 2
    assert "data.root: not set" in capsys.readouterr().err


def test_torchrun_process_group_of_one_trains_like_a_single_process(
    dataset: Path, micro_model: Path, tmp_path, monkeypatch
):
    import socket

    from torch import distributed as dist

    from occle_core.train.distributed import shutdown

    single = Trainer(_config(dataset, micro_model, "epochs=1"), tmp_path / "single")
    single.fit()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    for key, value in {"RANK": "0", "WORLD_SIZE": "1", "LOCAL_RANK": "0"}.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("MASTER_ADDR", "127.0.0.1")
    monkeypatch.setenv("MASTER_PORT", str(port))
    distributed = Trainer(_config(dataset, micro_model, "epochs=1"), tmp_path / "ddp")
    try:
        assert distributed.dist.enabled and dist.get_backend() == "gloo"
        assert type(distributed.network).__name__ == "DistributedDataParallel"
        distributed.fit()
    finally:
        shutdown(distributed.dist)
    for (name, a), b in zip(
        single.model.state_dict().items(), distributed.model.state_dict().values(), strict=True
    ):
        torch.testing.assert_close(a, b, msg=name)
    assert (tmp_path / "ddp" / "checkpoints" / "best.pt").is_file()


def test_gradient_accumulation_counts_optimiser_steps(dataset: Path, micro_model: Path, tmp_path):
    config = _config(
        dataset, micro_model, "optim.accumulate=2", "epochs=2", "data.val_sequences=[]"
    )
    trainer = Trainer(config, tmp_path / "run", checkpoint_every=0)
    assert trainer.total_steps == 2  # 2 samples per epoch, 2 micro-batches per step
    result = trainer.fit()
    assert result.steps == 2 and trainer.epoch == 2
    steps = [r["step"] for r in result.history if "total" in r]
    assert steps == [1, 2]


def test_training_with_augmentations(dataset: Path, micro_model: Path, tmp_path):
    config = _config(
        dataset,
        micro_model,
        "epochs=1",
        "data.val_sequences=[]",
        "augment.flip_y=true",
        "augment.point_dropout=0.2",
        "augment.color_jitter=0.2",
    )
    result = Trainer(config, tmp_path / "run", checkpoint_every=0).fit()
    losses = [r for r in result.history if "total" in r]
    assert len(losses) == 2 and all(np.isfinite(r["total"]) for r in losses)


def test_final_free_term_trains_on_lidar_free_space(dataset: Path, micro_model: Path, tmp_path):
    config = _config(
        dataset,
        micro_model,
        "epochs=1",
        "data.val_sequences=[]",
        "objective.final_free=0.5",
        "augment.flip_y=true",
    )
    trainer = Trainer(config, tmp_path / "run", checkpoint_every=0)
    sample = trainer.train_set[0]
    assert sample.free_space is not None and sample.free_space.shape == (64, 64, 8)
    assert 0 < sample.free_space.mean() < 0.5
    result = trainer.fit()
    terms = [r["final_free"] for r in result.history if "final_free" in r]
    assert len(terms) == 2 and all(np.isfinite(terms)) and max(terms) > 0


def test_final_pseudo_targets_prefer_dense_voxel_pseudo_labels(
    dataset: Path, micro_model: Path, tmp_path
):
    from occle_core.train.objective import lidar_pseudo_targets

    trainer = Trainer(_config(dataset, micro_model), tmp_path / "run", checkpoint_every=0)
    sample = trainer.train_set[1]  # frame 5 of sequence 00: its labels are not kept (ratio 0.5)
    assert sample.labels is not None and np.all(sample.labels == 255)
    assert sample.dense_pseudo is not None and sample.dense_pseudo.shape == (64, 64, 8)
    batch = trainer.builder([sample])
    target = lidar_pseudo_targets(batch)[0].numpy()
    dense = sample.dense_pseudo
    np.testing.assert_array_equal(target[dense != 255], dense[dense != 255])
    # Input LiDAR voxels the dense grid leaves unknown keep their own lifted vote.
    extra = (target != 255) & (dense == 255)
    assert np.count_nonzero(dense != 255) > np.count_nonzero(extra)
    # A frame whose labels are kept is supervised by them only.
    kept = trainer.train_set[0]
    assert kept.labels is not None and np.any(kept.labels != 255)
    kept_target = lidar_pseudo_targets(trainer.builder([kept]))[0].numpy()
    assert np.all(kept_target[kept.labels != 255] == 255)
    off = _config(dataset, micro_model, "data.dense_pseudo=false")
    assert Trainer(off, tmp_path / "off", checkpoint_every=0).train_set[1].dense_pseudo is None


def test_final_pseudo_weight_decays_to_its_end_value(dataset: Path, micro_model: Path, tmp_path):
    config = _config(
        dataset,
        micro_model,
        "epochs=2",
        "data.val_sequences=[]",
        "objective.final_pseudo=2.0",
        "objective.final_pseudo_end=0.5",
    )
    result = Trainer(config, tmp_path / "run", checkpoint_every=0).fit()
    losses = [r for r in result.history if "total" in r]
    # The weight each of the 4 steps used: half a cosine from 2.0 at the first to 0.5 at the last.
    expected = [0.5 + 0.75 * (1 + np.cos(np.pi * step / 3)) for step in (0, 1, 2, 3)]
    np.testing.assert_allclose([r["final_pseudo_weight"] for r in losses], expected)
    constant = _config(dataset, micro_model, "epochs=1", "data.val_sequences=[]")
    trainer = Trainer(constant, tmp_path / "constant", checkpoint_every=0)
    assert trainer._final_pseudo_weight(3) == constant.objective.final_pseudo
    assert all("final_pseudo_weight" not in r for r in trainer.fit().history)


def test_compute_losses_weights_the_pseudo_term_by_the_given_weight(
    dataset: Path, micro_model: Path, tmp_path
):
    from occle_core.train.objective import compute_losses

    trainer, batch, out = _unlabelled_forward(dataset, micro_model, tmp_path)
    objective = trainer.config.objective
    empty = trainer.model_config.empty_label
    args = (out, batch, objective, trainer.class_weights, empty)
    full = compute_losses(*args, final_pseudo_weight=None)
    halved = compute_losses(*args, final_pseudo_weight=0.5 * objective.final_pseudo)
    assert float(full["final_pseudo"]) > 0
    drop = float(full["total"] - halved["total"])
    assert drop == pytest.approx(
        0.5 * objective.final_pseudo * float(full["final_pseudo"]), rel=1e-4
    )


def test_pseudo_scal_adds_the_affinity_losses_of_the_pseudo_targets(
    dataset: Path, micro_model: Path, tmp_path
):
    from occle_core.train.losses import geometric_scal_loss, semantic_scal_loss
    from occle_core.train.objective import compute_losses, lidar_pseudo_targets

    trainer, batch, out = _unlabelled_forward(dataset, micro_model, tmp_path)
    empty = trainer.model_config.empty_label
    objective = trainer.config.objective
    assert objective.final_pseudo_scal == 0
    off = compute_losses(out, batch, objective, trainer.class_weights, empty)
    assert "pseudo_scal_sem" not in off and float(off["final_scal_sem"]) == 0.0
    semantic = dataclasses.replace(objective, final_pseudo_scal=1.5)
    with_sem = compute_losses(out, batch, semantic, trainer.class_weights, empty)
    assert "pseudo_scal_geo" not in with_sem
    both = dataclasses.replace(semantic, final_pseudo_scal_geo=0.5)
    on = compute_losses(out, batch, both, trainer.class_weights, empty)
    targets = lidar_pseudo_targets(batch)
    sem = float(semantic_scal_loss(out.logits, targets))
    geo = float(geometric_scal_loss(out.logits, targets, empty))
    assert sem > 0 and geo > 0
    assert float(on["pseudo_scal_sem"]) == pytest.approx(sem)
    assert float(on["pseudo_scal_geo"]) == pytest.approx(geo)
    assert float(with_sem["total"] - off["total"]) == pytest.approx(1.5 * sem, rel=1e-4)
    assert float(on["total"] - off["total"]) == pytest.approx(1.5 * sem + 0.5 * geo, rel=1e-4)
    for key in ("final_pseudo_scal", "final_pseudo_scal_geo"):
        with pytest.raises(ValueError, match=rf"objective\.{key} "):
            _config(dataset, micro_model, f"objective.{key}=-1")


def test_pseudo_scal_given_occupancy_leaves_the_empty_class_untouched(
    dataset: Path, micro_model: Path, tmp_path
):
    from occle_core.train.losses import semantic_scal_loss
    from occle_core.train.objective import (
        compute_losses,
        lidar_pseudo_targets,
        occupied_semantic_scal_loss,
    )

    trainer, batch, out = _unlabelled_forward(dataset, micro_model, tmp_path)
    empty = trainer.model_config.empty_label
    targets = lidar_pseudo_targets(batch)
    occupied = torch.where(targets == empty, torch.full_like(targets, 255), targets)
    # the frame has pseudo free space and pseudo occupied voxels, so the two domains differ
    assert bool((targets == empty).any()) and bool((occupied != 255).any())
    # the loss is the plain one on the occupied voxels, with the empty class out of the softmax
    without_empty = torch.cat([out.logits[:, :empty], out.logits[:, empty + 1 :]], dim=1)
    shifted = torch.where(occupied > empty, occupied - 1, occupied)
    shifted = torch.where(occupied == 255, occupied, shifted)
    expected = float(semantic_scal_loss(without_empty, shifted))
    assert float(occupied_semantic_scal_loss(out.logits, targets, empty)) == pytest.approx(
        expected, rel=1e-5
    )
    # its gradient never reaches the empty logit, and does reach the others
    logits = out.logits.detach().clone().requires_grad_(True)
    occupied_semantic_scal_loss(logits, targets, empty).backward()
    assert logits.grad is not None
    assert float(logits.grad[:, empty].abs().max()) == 0.0
    assert float(logits.grad.abs().sum()) > 0.0
    everywhere = dataclasses.replace(trainer.config.objective, final_pseudo_scal=1.0)
    given_occupancy = dataclasses.replace(everywhere, final_pseudo_scal_occupied=True)
    plain = compute_losses(out, batch, everywhere, trainer.class_weights, empty)
    conditional = compute_losses(out, batch, given_occupancy, trainer.class_weights, empty)
    assert float(conditional["pseudo_scal_sem"]) == pytest.approx(expected, rel=1e-5)
    assert expected != pytest.approx(float(plain["pseudo_scal_sem"]))
    assert float(conditional["final_pseudo"]) == pytest.approx(float(plain["final_pseudo"]))


def test_class_balance_and_pseudo_calibration_set_the_final_ce_weights(
    dataset: Path, micro_model: Path, tmp_path
):
    from occle_core.pseudo.cache import pseudo_voxels_path, read_voxel_pseudo_labels
    from occle_core.pseudo.quality import LabelAgreement
    from occle_core.train.calibration import pseudo_count_factors
    from occle_core.train.losses import balance_class_weights

    plain = Trainer(_config(dataset, micro_model), tmp_path / "plain", checkpoint_every=0)
    assert plain.pseudo_class_weights is None and plain.training_step.pseudo_class_weights is None
    tuned = Trainer(
        _config(
            dataset,
            micro_model,
            "objective.class_balance=0.5",
            "objective.pseudo_calibration=true",
        ),
        tmp_path / "tuned",
        checkpoint_every=0,
    )
    # The counts of the budget's labelled voxels, and the pseudo grids of the labelled frames.
    sequence = plain.train_set.sequences["00"]
    classes = plain.model_config.num_classes
    counts = np.zeros(classes, dtype=np.int64)
    agreement = LabelAgreement([str(c) for c in range(classes)])
    for index in sequence.voxel_ids:
        labels = tuned.budget.apply("00", index, sequence.voxel_ground_truth(index).labels)
        counts += np.bincount(labels[labels != 255], minlength=classes)[:classes]
        if (labels != 255).any():
            grid = read_voxel_pseudo_labels(pseudo_voxels_path(sequence, index), labels.shape)
            agreement.add(grid, labels)
    confusion = agreement.matrix
    assert confusion.sum() > 0
    expected = balance_class_weights(plain.class_weights, torch.from_numpy(counts), 0.5, keep=0)
    torch.testing.assert_close(tuned.class_weights, expected)
    assert not torch.equal(tuned.class_weights, plain.class_weights)
    capped = Trainer(
        _config(
            dataset, micro_model, "objective.class_balance=0.5", "objective.class_balance_limit=1"
        ),
        tmp_path / "capped",
        checkpoint_every=0,
    )
    torch.testing.assert_close(capped.class_weights, plain.class_weights)  # a factor of 1 at most
    factors = pseudo_count_factors(confusion, keep=0)
    assert not torch.equal(factors, torch.ones(classes))
    torch.testing.assert_close(tuned.pseudo_class_weights, expected * factors)
    assert tuned.training_step.pseudo_class_weights is tuned.pseudo_class_weights
    # compute_losses: the pseudo weights reach the pseudo CE only.
    _assert_only_the_pseudo_ce_changes(tuned, pseudo_class_weights=tuned.pseudo_class_weights)


def _assert_only_the_pseudo_ce_changes(trainer: Trainer, **pseudo_options: Any) -> None:
    """compute_losses on one training sample with and without `pseudo_options`: the labelled
    CE is the same, the pseudo CE is not."""
    from occle_core.train.objective import compute_losses

    batch = trainer.builder([trainer.train_set[1]])
    with torch.no_grad():
        out = trainer.network(batch.inputs)
    args = (out, batch, trainer.config.objective, trainer.class_weights, 0)
    same = compute_losses(*args)
    changed = compute_losses(*args, **pseudo_options)
    assert float(changed["final_ce"]) == float(same["final_ce"])
    assert float(changed["final_pseudo"]) != pytest.approx(float(same["final_pseudo"]))


def test_pseudo_noise_model_is_measured_on_the_labelled_frames_and_reaches_the_pseudo_ce(
    dataset: Path, micro_model: Path, tmp_path
):
    from occle_core.pseudo.cache import pseudo_voxels_path, read_voxel_pseudo_labels
    from occle_core.pseudo.quality import LabelAgreement
    from occle_core.train.calibration import pseudo_transition_matrix

    plain = Trainer(_config(dataset, micro_model), tmp_path / "plain", checkpoint_every=0)
    assert plain.pseudo_transition is None and plain.training_step.pseudo_transition is None
    corrected = Trainer(
        _config(dataset, micro_model, "objective.pseudo_noise_model=0.8"),
        tmp_path / "corrected",
        checkpoint_every=0,
    )
    sequence = corrected.train_set.sequences["00"]
    classes = corrected.model_config.num_classes
    agreement = LabelAgreement([str(c) for c in range(classes)])
    for index in sequence.voxel_ids:
        labels = corrected.budget.apply("00", index, sequence.voxel_ground_truth(index).labels)
        if (labels != 255).any():  # only the frames the budget keeps
            grid = read_voxel_pseudo_labels(pseudo_voxels_path(sequence, index), labels.shape)
            agreement.add(grid, labels)
    expected = pseudo_transition_matrix(agreement.matrix, 0.8)
    assert not torch.equal(expected, torch.eye(classes))  # the micro world's grids do err
    torch.testing.assert_close(corrected.pseudo_transition, expected)
    assert corrected.training_step.pseudo_transition is corrected.pseudo_transition
    _assert_only_the_pseudo_ce_changes(corrected, pseudo_transition=corrected.pseudo_transition)
    with pytest.raises(ValueError, match=r"objective\.pseudo_noise_model"):
        _config(dataset, micro_model, "objective.pseudo_noise_model=1.5")


def _kept_frames(trainer: Trainer) -> list[int]:
    """Indices of the training samples whose voxel labels the budget keeps."""
    items = trainer.train_set.items
    return [i for i, (s, f) in enumerate(items) if trainer.budget.keeps_frame(s, f)]


def test_labelled_repeat_visits_the_kept_frame_more_often(
    dataset: Path, micro_model: Path, tmp_path
):
    # Sequence 00 has 2 voxel-labelled frames (0 and 5); budget.ratio=0.5 keeps one of them.
    config = _config(
        dataset, micro_model, "data.labelled_repeat=3", "epochs=1", "data.val_sequences=[]"
    )
    trainer = Trainer(config, tmp_path / "run", checkpoint_every=0)
    kept = _kept_frames(trainer)
    assert len(kept) == 1 and len(trainer.train_set) == 2
    assert trainer.total_steps == 4  # 3 visits of the labelled frame + 1 of the other
    order = trainer._epoch_order(0)
    assert sorted(order) == sorted([kept[0]] * 3 + [1 - kept[0]])
    assert trainer.fit().steps == 4


def test_without_unlabelled_frames_every_step_is_a_labelled_one(
    dataset: Path, micro_model: Path, tmp_path
):
    # The labels-alone baseline: the frame the budget drops carries no loss without pseudo
    # labels, so `data.unlabelled_frames=false` trains on the kept frame only.
    overrides = ["data.unlabelled_frames=false", "data.pseudo_labels=false", "objective.semi=0"]
    config = _config(dataset, micro_model, *overrides, "epochs=2", "data.val_sequences=[]")
    trainer = Trainer(config, tmp_path / "run", checkpoint_every=0)
    kept = _kept_frames(trainer)
    assert len(kept) == 1 and len(trainer.train_set) == 2
    assert trainer.total_steps == 2  # one visit per epoch, of the labelled frame only
    assert trainer._epoch_order(0) == trainer._epoch_order(1) == kept
    assert trainer.fit().steps == 2


def test_the_class_prior_comes_from_the_budget_and_its_strength_from_validation(
    dataset: Path, micro_model: Path, tmp_path
):
    from occle_core.model.prior import log_prior_from_counts

    strengths = [0.0, 0.5, 1.0]
    config = _config(dataset, micro_model, f"prior_strengths={strengths}")
    trainer = Trainer(config, tmp_path / "run", checkpoint_every=0)
    sequence = trainer.train_set.sequences["00"]
    classes = trainer.model_config.num_classes
    counts = np.zeros(classes, dtype=np.int64)
    for index in sequence.voxel_ids:
        labels = trainer.budget.apply("00", index, sequence.voxel_ground_truth(index).labels)
        counts += np.bincount(labels[labels != 255], minlength=classes)[:classes]
    expected = log_prior_from_counts(torch.from_numpy(counts))
    torch.testing.assert_close(trainer.model.class_log_prior, expected)
    result = trainer.fit()
    lines = (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()
    records = [json.loads(line) for line in lines]
    validations = [r for r in records if "val_miou" in r]
    assert [r["step"] for r in validations] == [4, 6]
    for record in validations:
        by_strength = {s: record[f"val_miou_prior_{s:g}"] for s in strengths}
        best = max(by_strength.values())
        # The weakest strength among the best is chosen, and val_miou is its score.
        assert record["val_prior_strength"] == min(s for s, v in by_strength.items() if v == best)
        assert record["val_miou"] == best
    model, _ = load_checkpoint(result.last_checkpoint)
    assert float(model.prior_strength) == validations[-1]["val_prior_strength"]
    torch.testing.assert_close(model.class_log_prior, expected)
    # The checkpoint's strength decides: validation without candidates scores the model as is.
    from occle_core.train.validation import validate

    again = validate(model, trainer.val_set, trainer.builder, torch.device("cpu"))
    assert again["miou"] == pytest.approx(validations[-1]["val_miou"])
    assert "prior_strength" not in again


def test_pseudo_scal_head_only_trains_the_final_head_alone(
    dataset: Path, micro_model: Path, tmp_path
):
    from occle_core.train.losses import semantic_scal_loss
    from occle_core.train.objective import lidar_pseudo_targets

    overrides = ("objective.final_pseudo_scal=1.0", "objective.final_pseudo_scal_head_only=true")
    config = _config(dataset, micro_model, *overrides)
    trainer = Trainer(config, tmp_path / "run", checkpoint_every=0)
    batch = trainer.builder([trainer.train_set[1]])
    model = trainer.model
    torch.manual_seed(0)
    losses = trainer.training_step.losses(batch, None, step=0, total_steps=6)
    # The term's value is the plain one on the same logits (the head of the same features) ...
    with torch.no_grad():
        out = model(batch.inputs)
    plain = float(semantic_scal_loss(out.logits, lidar_pseudo_targets(batch)))
    assert float(losses["pseudo_scal_sem"].detach()) == pytest.approx(plain, rel=1e-4)
    # ... but its gradient stops at the head's input: the head learns, the network under it not.
    model.zero_grad(set_to_none=True)
    losses["pseudo_scal_sem"].backward()
    head = [p.grad for p in model.head.parameters()]
    below = [p.grad for p in model.decoder.parameters()]
    assert all(g is not None for g in head) and sum(float(g.abs().sum()) for g in head) > 0
    assert all(g is None for g in below)


def test_label_transfer_carries_the_kept_frames_static_labels_into_the_dense_targets(
    dataset: Path, micro_model: Path, tmp_path
):
    from occle_core.pseudo.voxels import movable_class_ids

    config = _config(dataset, micro_model, "data.label_transfer=10")
    trainer = Trainer(config, tmp_path / "run", checkpoint_every=0)
    kept = _kept_frames(trainer)
    assert len(kept) == 1
    other = 1 - kept[0]
    sample = trainer.train_set[other]
    plain = trainer.train_set.dense_pseudo_labels(*trainer.train_set.items[other])
    assert sample.dense_pseudo is not None and sample.truth is not None
    changed = sample.dense_pseudo != plain
    assert np.count_nonzero(changed) > 100
    movable = list(movable_class_ids(SemanticKittiSequence(dataset, "00").labels.class_names))
    # Nothing movable is written, and the pseudo grid's movable voxels are left alone.
    assert not np.isin(sample.dense_pseudo[changed], movable).any()
    assert not np.isin(plain[changed], movable).any()
    # The carried labels are the kept frame's ground truth seen from this frame: they agree with
    # this frame's own ground truth, where the pseudo grid was mostly unknown or wrong.
    valid = changed & (sample.truth != 255)
    carried_right = np.mean(sample.dense_pseudo[valid] == sample.truth[valid])
    pseudo_right = np.mean(plain[valid] == sample.truth[valid])
    assert carried_right > 0.8 and carried_right > pseudo_right + 0.2
    # The kept frame itself is untouched, and off means off.
    kept_item = trainer.train_set.items[kept[0]]
    np.testing.assert_array_equal(
        trainer.train_set[kept[0]].dense_pseudo, trainer.train_set.dense_pseudo_labels(*kept_item)
    )
    off = Trainer(_config(dataset, micro_model), tmp_path / "off", checkpoint_every=0)
    np.testing.assert_array_equal(off.train_set[other].dense_pseudo, plain)
    assert np.all(off.train_set[other].labels == 255)
    # Into the labels: the same voxels become the frame's voxel labels, its pseudo grid stays.
    into_labels = ("data.label_transfer=10", "data.label_transfer_into=labels")
    into = _config(dataset, micro_model, *into_labels)
    as_labels = Trainer(into, tmp_path / "labels", checkpoint_every=0).train_set[other]
    np.testing.assert_array_equal(as_labels.dense_pseudo, plain)
    assert as_labels.labels is not None
    np.testing.assert_array_equal(as_labels.labels[changed], sample.dense_pseudo[changed])
    # Where the pseudo grid says a movable class, the frame stays without a label.
    assert np.all(as_labels.labels[np.isin(plain, movable)] == 255)
    assert np.count_nonzero(as_labels.labels != 255) > np.count_nonzero(changed)
    # The labels-alone run has no pseudo grid to say what moved in: every carried label is used.
    alone = Trainer(
        _config(dataset, micro_model, "data.pseudo_labels=false", *into_labels),
        tmp_path / "alone",
        checkpoint_every=0,
    ).train_set[other]
    assert alone.dense_pseudo is None and alone.labels is not None
    given = as_labels.labels != 255
    np.testing.assert_array_equal(alone.labels[given], as_labels.labels[given])
    assert np.count_nonzero(alone.labels != 255) > np.count_nonzero(given)
