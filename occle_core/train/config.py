"""The typed training configuration (`config/train/*.yaml`, `occle train --config FILE k=v ...`)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from occle_core.config_files import find_config
from occle_core.errors import ConfigError
from occle_core.train.augment import AugmentConfig
from occle_core.train.budget import LabelBudgetConfig
from occle_core.train.objective import ObjectiveConfig
from occle_core.typed_config import apply_overrides, from_mapping, read_yaml, require


@dataclass(frozen=True)
class DataConfig:
    """Where the training data is.

    Attributes:
        root: dataset root (real or `occle synth`), in the `layout` given.
        layout: "semantickitti" (sequences/XX) or "occ3d" (nuScenes samples/ + sweeps/, an
            info file and Occ3D gts/<scene>/<token>/labels.npz; sequences are scene names).
        train_sequences: sequences (scenes) to train on.
        val_sequences: sequences (scenes) to validate on (their voxel-labelled frames; may be
            empty).
        scans: LiDAR scans aggregated per sample.
        frames: "key": train on the frames with voxel ground truth files (every 5th in
            SemanticKITTI; the budget decides whether their labels are used), "all": every scan.
        pseudo_labels: use the cached pseudo labels (`occle pseudo-label`); off for the
            no-pseudo-label baseline.
        dense_pseudo: the final head's pseudo CE (`objective.final_pseudo`) also uses the cached
            dense voxel pseudo labels of key frames (a window of pseudo-labelled scans voted per
            voxel); off: only the lifted labels of the input LiDAR voxels.
        info_file: occ3d: the mmdetection3d info file or the nuScenes tables folder
            (v1.0-trainval), relative to `root` (or absolute).
        sweeps: occ3d: earlier LiDAR sweeps aggregated into every key frame.
        mask: occ3d: voxels outside this Occ3D mask ("camera", "lidar" or "none") are not
            supervised (the official evaluation counts `mask_camera` only).
        cache_samples: keep the training samples in memory after their first read (LiDAR
            aggregation, ray tracing and pseudo-label reads then happen once per sample, not once
            per epoch; results are unchanged). For datasets that fit in memory.
        labelled_repeat: visits per epoch of every frame whose voxel labels the budget keeps
            (the others: one), so that the few labelled frames weigh more in each epoch
            (`occle_core.train.sampling`). An epoch gets longer: set `max_steps` to compare runs
            at the same step count.
        label_transfer: the dense pseudo labels of every key frame whose voxel labels the budget
            drops take the static classes (and the empty space) of the nearest labelled key
            frame of the same sequence within this many scans, moved with the poses
            (`occle_core.train.transfer`; no new labels: the kept ones reach more frames). 0:
            off. Needs the budget's frame mode (in the voxel mode every frame keeps some
            labels, so none is a target) and, into the pseudo labels, `dense_pseudo`.
        label_transfer_into: where the carried labels go: "pseudo" (the frame's dense pseudo
            labels, trained by the pseudo CE and its weights) or "labels" (the frame's voxel
            labels, trained by the labelled losses like a labelled frame's).
        unlabelled_frames: visit the frames whose voxel labels the budget drops (false: train
            on the labelled frames only; for runs without pseudo labels, where those frames
            carry no loss).
    """

    root: str = ""
    layout: Literal["semantickitti", "occ3d"] = "semantickitti"
    train_sequences: tuple[str, ...] = ("00",)
    val_sequences: tuple[str, ...] = ()
    scans: int = 3
    frames: Literal["key", "all"] = "key"
    pseudo_labels: bool = True
    dense_pseudo: bool = True
    info_file: str = "occle_infos.pkl"
    sweeps: int = 0
    mask: Literal["camera", "lidar", "none"] = "camera"
    cache_samples: bool = False
    labelled_repeat: int = 1
    label_transfer: int = 0
    label_transfer_into: Literal["pseudo", "labels"] = "pseudo"
    unlabelled_frames: bool = True

    def __post_init__(self) -> None:
        require(self.label_transfer >= 0, "data.label_transfer", self.label_transfer, ">= 0")
        require(self.scans >= 1, "data.scans", self.scans, ">= 1")
        require(self.labelled_repeat >= 1, "data.labelled_repeat", self.labelled_repeat, ">= 1")
        require(self.sweeps >= 0, "data.sweeps", self.sweeps, ">= 0")
        require(bool(self.train_sequences), "data.train_sequences", self.train_sequences, "some")


@dataclass(frozen=True)
class OptimConfig:
    """AdamW with linear warm-up then cosine decay.

    Attributes:
        lr: peak learning rate.
        weight_decay: AdamW weight decay.
        warmup_steps: optimiser steps of linear warm-up.
        min_lr_ratio: final learning rate as a share of `lr`.
        grad_clip: max gradient norm (0 disables).
        accumulate: micro-batches per optimiser step.
    """

    lr: float = 2e-4
    weight_decay: float = 0.01
    warmup_steps: int = 500
    min_lr_ratio: float = 0.0
    grad_clip: float = 35.0
    accumulate: int = 1

    def __post_init__(self) -> None:
        require(self.lr > 0, "optim.lr", self.lr, "> 0")
        require(self.weight_decay >= 0, "optim.weight_decay", self.weight_decay, ">= 0")
        require(self.warmup_steps >= 0, "optim.warmup_steps", self.warmup_steps, ">= 0")
        require(0 <= self.min_lr_ratio <= 1, "optim.min_lr_ratio", self.min_lr_ratio, "in [0, 1]")
        require(self.grad_clip >= 0, "optim.grad_clip", self.grad_clip, ">= 0 (0: off)")
        require(self.accumulate >= 1, "optim.accumulate", self.accumulate, ">= 1")


@dataclass(frozen=True)
class TrainConfig:
    """A training run.

    Attributes:
        model: model configuration file or shipped name (`config/models`).
        data: datasets.
        budget: the voxel-label budget.
        objective: loss weights and semi-supervision thresholds.
        optim: optimiser and schedule.
        augment: data augmentation (flip, and student-only point dropout / colour jitter).
        epochs: passes over the training samples.
        max_steps: stop after this many optimiser steps (0: run all epochs).
        batch_size: samples per micro-batch.
        amp: autocast dtype ("off", "bf16", "fp16"); the scan and SAP stay fp32.
        ema_decay: mean-teacher EMA decay.
        ramp_fraction: share of training over which the semi-supervised weight ramps up.
        seed: seeds the model, data order and augmentation.
        validate_every: validate every this many epochs (and at the end).
        log_every: log the losses every this many optimiser steps.
        device: "auto" (CUDA when available), "cpu" or "cuda[:N]".
        threads: torch CPU threads (0: torch's default).
        prior_strengths: strengths of the decision's class-prior correction
            (`occle_core.model.prior`) scored at every validation; the model keeps the one with
            the best validation mIoU, and its checkpoints carry it (empty: the plain argmax, no
            choice made; needs `data.val_sequences`).
    """

    model: str = "occle_tiny"
    data: DataConfig = field(default_factory=DataConfig)
    budget: LabelBudgetConfig = field(default_factory=LabelBudgetConfig)
    objective: ObjectiveConfig = field(default_factory=ObjectiveConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    epochs: int = 30
    max_steps: int = 0
    batch_size: int = 1
    amp: Literal["off", "bf16", "fp16"] = "off"
    ema_decay: float = 0.999
    ramp_fraction: float = 0.2
    seed: int = 0
    validate_every: int = 1
    log_every: int = 10
    device: str = "auto"
    threads: int = 0
    prior_strengths: tuple[float, ...] = ()

    def __post_init__(self) -> None:
        require(self.epochs >= 1, "epochs", self.epochs, ">= 1")
        require(self.max_steps >= 0, "max_steps", self.max_steps, ">= 0 (0: all epochs)")
        require(self.batch_size >= 1, "batch_size", self.batch_size, ">= 1")
        require(0 <= self.ema_decay < 1, "ema_decay", self.ema_decay, "in [0, 1)")
        require(0 <= self.ramp_fraction <= 1, "ramp_fraction", self.ramp_fraction, "in [0, 1]")
        require(self.validate_every >= 1, "validate_every", self.validate_every, ">= 1")
        require(self.log_every >= 1, "log_every", self.log_every, ">= 1")
        require(self.threads >= 0, "threads", self.threads, ">= 0 (0: torch's default)")
        strengths = self.prior_strengths
        require(all(s >= 0 for s in strengths), "prior_strengths", strengths, "values >= 0")


def load_train_config(
    path: str | os.PathLike[str] | None, overrides: Sequence[str] = ()
) -> TrainConfig:
    """A training configuration from YAML (a path or the name of a shipped one, e.g.
    ``occle_tiny_synthetic``; None for the defaults) plus ``key.sub=value`` overrides."""
    if path is not None:
        path = find_config("train", path)
    data = read_yaml(path) if path is not None else {}
    if path is not None and not data:
        # Probably a truncated or wrong file: training on all defaults would hide it.
        raise ConfigError(path, "empty", "a training configuration (config/train/*.yaml)")
    source = str(path) if path is not None else "<defaults>"
    return from_mapping(TrainConfig, apply_overrides(data, overrides, source), source)
