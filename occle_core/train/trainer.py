"""The training loop behind `occle train`.

Run folder::

    RUN/config.yaml            the effective training configuration
    RUN/label_budget.json      the voxel-label split (which frames / voxels were kept)
    RUN/metrics.jsonl          one JSON object per log step and per validation
    RUN/checkpoints/last.pt    written atomically every `checkpoint_every` steps and per epoch
    RUN/checkpoints/best.pt    best validation mIoU (or the last one without validation)
    RUN/tensorboard/           TensorBoard events, when the tensorboard package is installed

Exact resume: every random choice (sample order of an epoch, point sampling inside voxels) is
derived from (seed, epoch) or (seed, step), and a checkpoint holds the model, the teacher, the
optimiser and the position in the epoch, so a run killed and resumed ends with the same weights
as an uninterrupted run (on the same device and thread count).

The parts: `run_log.RunLog` (the folder's records), `step.TrainingStep` (one optimiser step),
`validation.validate` (scores on the validation sequences); this module wires them into the
loop and owns the position in the run (step, epoch, sample order) and its checkpoints.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.nn.parallel import DistributedDataParallel

from occle_core.geometry.mirror import y_symmetric
from occle_core.model.build import build_model
from occle_core.model.checkpoint import read_checkpoint, save_checkpoint, with_decision_buffers
from occle_core.model.config import load_model_config
from occle_core.pseudo.quality import LabelAgreement
from occle_core.runtime.device import resolve_device as runtime_device
from occle_core.train.batch import BatchBuilder
from occle_core.train.budget import IGNORE, LabelBudget
from occle_core.train.calibration import pseudo_count_factors, pseudo_transition_matrix
from occle_core.train.config import TrainConfig
from occle_core.train.dataset import OccupancyDataset, TrainingSample
from occle_core.train.distributed import init_distributed
from occle_core.train.losses import balance_class_weights, class_weights_from_frequencies
from occle_core.train.run_log import RunLog
from occle_core.train.sampling import epoch_items
from occle_core.train.schedule import warmup_cosine
from occle_core.train.sources import open_sequences
from occle_core.train.step import TrainingStep, final_pseudo_weight
from occle_core.train.teacher import MeanTeacher
from occle_core.train.validation import validate
from occle_core.typed_config import to_mapping


def resolve_device(name: str, option: str = "device") -> torch.device:
    """Training's device: `occle_core.runtime.resolve_device` without CPU fallback (a run that
    asked for a GPU must not crawl on the CPU)."""
    return runtime_device(name, option).device


@dataclass(frozen=True)
class LabelledStatistics:
    """What the labelled voxels of the training set give the objective.

    Attributes:
        class_weights: (M,) final-CE class weights.
        pseudo_class_weights: (M,) the pseudo CE's class weights (None: `class_weights`).
        pseudo_transition: (M, M) P(pseudo | true) of the dense pseudo labels (None: the
            pseudo CE is not noise-corrected).
        counts: (M,) labelled voxels per class (int64).
    """

    class_weights: torch.Tensor
    pseudo_class_weights: torch.Tensor | None
    pseudo_transition: torch.Tensor | None
    counts: torch.Tensor


def _on(tensor: torch.Tensor | None, device: torch.device) -> torch.Tensor | None:
    return None if tensor is None else tensor.to(device)


@dataclass
class Progress:
    """What the trainer reports while it runs (for progress bars)."""

    step: int
    total_steps: int
    epoch: int
    loss: float
    elapsed_s: float
    eta_s: float
    validation: dict[str, float] | None = None


@dataclass
class TrainResult:
    """Outcome of `Trainer.fit`."""

    steps: int
    best_miou: float | None
    best_checkpoint: Path
    last_checkpoint: Path
    history: list[dict[str, Any]] = field(default_factory=list)


class Trainer:
    """Label-efficient OccLE training on a SemanticKITTI-layout dataset.

    Args:
        config: the run.
        run_dir: output folder (created).
        checkpoint_every: also write `last.pt` every this many optimiser steps (0: per epoch).
    """

    def __init__(self, config: TrainConfig, run_dir: str | Path, checkpoint_every: int = 50):
        self.config = config
        self.run_dir = Path(run_dir)
        self.checkpoint_every = checkpoint_every
        self.dist = init_distributed()
        self.device = resolve_device(config.device)
        if self.dist.enabled and self.device.type == "cuda":
            self.device = torch.device("cuda", self.dist.local_rank)
        if config.threads > 0:
            torch.set_num_threads(config.threads)
        self.model_config = load_model_config(config.model)
        data = config.data
        self.train_set = OccupancyDataset(
            data.root,
            data.train_sequences,
            self.model_config,
            data.scans,
            key_frames_only=data.frames == "key",
            pseudo_labels=data.pseudo_labels,
            # Full-resolution free space costs a second ray trace per sample: only when used.
            free_space=config.objective.final_free > 0,
            dense_pseudo=data.dense_pseudo and config.objective.final_pseudo > 0,
            opened=open_sequences(data, data.train_sequences),
            cache=data.cache_samples,
            label_transfer=data.label_transfer,
            transfer_into_labels=data.label_transfer_into == "labels",
        )
        self.budget = LabelBudget(config.budget, self.train_set.labelled_frames())
        self.train_set.budget = self.budget
        self.val_set = (
            OccupancyDataset(
                data.root,
                data.val_sequences,
                self.model_config,
                data.scans,
                key_frames_only=True,
                pseudo_labels=False,
                evidence=False,
                opened=open_sequences(data, data.val_sequences),
            )
            if data.val_sequences
            else None
        )
        self.builder = BatchBuilder(self.model_config)
        if config.augment.flip_y:
            for grid in (self.model_config.grid, self.model_config.fusion_grid()):
                if not y_symmetric(grid):
                    raise ValueError(f"augment.flip_y needs grids symmetric about y = 0: {grid}")
        statistics = self._labelled_statistics()
        self.model = build_model(self.model_config, seed=config.seed).to(self.device)
        # The decision's class prior comes from the same labelled voxels as the class weights;
        # its strength is chosen on the validation sequences (`_validate_on_main`).
        self.model.set_class_prior(statistics.counts)
        self.teacher = MeanTeacher(self.model, config.ema_decay)
        # The network the loop runs: DistributedDataParallel under torchrun, else the model.
        self.network: torch.nn.Module = self.model
        if self.dist.enabled:
            device_ids = [self.device.index] if self.device.type == "cuda" else None
            self.network = DistributedDataParallel(self.model, device_ids=device_ids)
        self.optimizer = torch.optim.AdamW(
            self.model.parameters(), lr=config.optim.lr, weight_decay=config.optim.weight_decay
        )
        # One epoch's samples: labelled frames `data.labelled_repeat` times, the others once
        # (or not at all with `data.unlabelled_frames: false`).
        self.epoch_items = epoch_items(
            self.train_set.items,
            self.budget.keeps_frame,
            data.labelled_repeat,
            data.unlabelled_frames,
        )
        global_batch = config.batch_size * self.dist.world_size
        per_epoch = math.ceil(len(self.epoch_items) / (global_batch * config.optim.accumulate))
        self.steps_per_epoch = max(per_epoch, 1)
        self._orders: dict[int, list[int]] = {}
        self.total_steps = config.epochs * self.steps_per_epoch
        if config.max_steps:
            self.total_steps = min(self.total_steps, config.max_steps)
        self.scaler = torch.amp.GradScaler(
            self.device.type, enabled=config.amp == "fp16" and self.device.type == "cuda"
        )
        self.class_weights = statistics.class_weights.to(self.device)
        self.pseudo_class_weights = _on(statistics.pseudo_class_weights, self.device)
        self.pseudo_transition = _on(statistics.pseudo_transition, self.device)
        self.training_step = TrainingStep(
            config,
            self.model_config,
            self.model,
            self.network,
            self.teacher,
            self.optimizer,
            self.scaler,
            self.builder,
            self.class_weights,
            self.device,
            self.pseudo_class_weights,
            self.pseudo_transition,
        )
        self.log = RunLog(self.run_dir, writes=self.dist.is_main)
        self.step = 0
        self.epoch = 0
        self.micro_in_epoch = 0
        self.best_miou: float | None = None

    # --- set-up -----------------------------------------------------------------------------
    def _labelled_statistics(self) -> LabelledStatistics:
        """Final-CE class weights from the voxel counts of the labelled subset (the budget's),
        and what the labelled frames say about the dense pseudo labels: the pseudo CE's class
        weights (`objective.pseudo_calibration`) and their noise model
        (`objective.pseudo_noise_model`)."""
        objective = self.config.objective
        empty = self.model_config.empty_label
        counts = np.zeros(self.model_config.num_classes, dtype=np.int64)
        measure = self.train_set.dense_pseudo and (
            objective.pseudo_calibration or objective.pseudo_noise_model > 0
        )
        agreement = LabelAgreement([str(c) for c in range(counts.size)])
        for name, sequence in self.train_set.sequences.items():
            # Every labelled frame passes the budget once, so that the manifest counts the
            # voxels left out as well as the ones kept.
            for index in sequence.voxel_ids:
                labels = self.budget.apply(name, index, sequence.voxel_ground_truth(index).labels)
                kept = labels[labels != IGNORE]
                counts += np.bincount(kept, minlength=counts.size)[: counts.size]
                if measure and kept.size:
                    agreement.add(self.train_set.dense_pseudo_labels(name, index), labels)
        frequencies = torch.from_numpy(counts)
        weights = balance_class_weights(
            class_weights_from_frequencies(frequencies),
            frequencies,
            objective.class_balance,
            keep=empty,
            limit=objective.class_balance_limit,
        )
        pseudo = None
        if measure and objective.pseudo_calibration:
            pseudo = weights * pseudo_count_factors(agreement.matrix, keep=empty)
        transition = None
        if measure and objective.pseudo_noise_model > 0:
            transition = pseudo_transition_matrix(agreement.matrix, objective.pseudo_noise_model)
        return LabelledStatistics(weights, pseudo, transition, frequencies)

    @property
    def history(self) -> list[dict[str, Any]]:
        """Every record logged (metrics.jsonl), on the main rank."""
        return self.log.history

    def _budget_manifest(self) -> dict[str, Any]:
        manifest = self.budget.manifest()
        manifest["dataset"] = self.train_set.describe()
        return manifest

    # --- checkpoints ----------------------------------------------------------------------
    @property
    def last_path(self) -> Path:
        return self.run_dir / "checkpoints" / "last.pt"

    @property
    def best_path(self) -> Path:
        return self.run_dir / "checkpoints" / "best.pt"

    def _training_state(self) -> dict[str, Any]:
        return {
            "train_config": to_mapping(self.config),
            "step": self.step,
            "epoch": self.epoch,
            "micro_in_epoch": self.micro_in_epoch,
            "best_miou": self.best_miou,
            "optimizer": self.optimizer.state_dict(),
            "teacher": self.teacher.state_dict(),
            "scaler": self.scaler.state_dict(),
        }

    def save(self, path: Path | None = None) -> None:
        if not self.dist.is_main:
            return
        save_checkpoint(path or self.last_path, self.model, extra=self._training_state())

    def resume(self, path: Path | None = None) -> bool:
        """Continue from a checkpoint (default: `last.pt`); False when there is none."""
        path = path or self.last_path
        if not path.exists():
            return False
        payload = read_checkpoint(path)
        self.model.load_state_dict(with_decision_buffers(self.model, payload["model"]))
        state = payload["extra"]
        self.optimizer.load_state_dict(state["optimizer"])
        self.teacher.load_state_dict(with_decision_buffers(self.model, state["teacher"]))
        self.scaler.load_state_dict(state["scaler"])
        self.step, self.epoch = int(state["step"]), int(state["epoch"])
        self.micro_in_epoch = int(state["micro_in_epoch"])
        self.best_miou = state["best_miou"]
        self.log.keep_until(self.step)
        return True

    # --- the loop -------------------------------------------------------------------------
    def _epoch_order(self, epoch: int) -> list[int]:
        if epoch not in self._orders:
            rng = np.random.default_rng([self.config.seed, epoch])
            order = rng.permutation(len(self.epoch_items))
            self._orders = {epoch: [self.epoch_items[int(i)] for i in order]}
        return self._orders[epoch]

    @property
    def batches_per_epoch(self) -> int:
        global_batch = self.config.batch_size * self.dist.world_size
        return max(math.ceil(len(self.epoch_items) / global_batch), 1)

    def _next_indices(self) -> list[int]:
        """This rank's sample indices of the next micro-batch; moves the position in the epoch.

        A global micro-batch holds batch_size samples per rank; rank r takes the r-th share
        (wrapping around at the end of the epoch so that every rank gets a full batch).
        """
        if self.micro_in_epoch >= self.batches_per_epoch:
            self.epoch, self.micro_in_epoch = self.epoch + 1, 0
        size = self.config.batch_size
        order = self._epoch_order(self.epoch)
        start = (self.micro_in_epoch * self.dist.world_size + self.dist.rank) * size
        self.micro_in_epoch += 1
        return [order[i % len(order)] for i in range(start, start + size)]

    def _next_samples(self) -> list[TrainingSample]:
        return [self.train_set[i] for i in self._next_indices()]

    def _learning_rate(self) -> float:
        optim = self.config.optim
        factor = warmup_cosine(self.step, self.total_steps, optim.warmup_steps, optim.min_lr_ratio)
        return optim.lr * factor

    def _final_pseudo_weight(self, step: int) -> float:
        return final_pseudo_weight(self.config, step, self.total_steps)

    def fit(self, progress: Callable[[Progress], None] | None = None) -> TrainResult:
        """Train until `total_steps`, validating per `validate_every` epochs and at the end."""
        self.log.start(self.config, self._budget_manifest())
        config = self.config
        started = time.perf_counter()
        first_step = self.step
        self.network.train()
        while self.step < self.total_steps:
            totals = self.training_step.run(
                self.step, self.total_steps, self._learning_rate(), self._next_samples
            )
            self.step += 1
            if self.step % config.log_every == 0 or self.step == self.total_steps:
                record = {"step": self.step, "epoch": self.epoch, "lr": self._learning_rate()}
                if config.objective.final_pseudo_end is not None:
                    record["final_pseudo_weight"] = self._final_pseudo_weight(self.step - 1)
                self.log.log({**record, **totals})
            epoch_done = self.micro_in_epoch >= self.batches_per_epoch
            if epoch_done:
                self.epoch, self.micro_in_epoch = self.epoch + 1, 0
            validation = None
            last = self.step == self.total_steps
            if (epoch_done and self.epoch % config.validate_every == 0) or last:
                validation = self._validate_and_keep_best()
            if (
                last
                or epoch_done
                or (self.checkpoint_every and self.step % self.checkpoint_every == 0)
            ):
                self.save()
            if progress is not None:
                elapsed = time.perf_counter() - started
                done = self.step - first_step
                eta = elapsed / done * (self.total_steps - self.step) if done else 0.0
                progress(
                    Progress(
                        self.step,
                        self.total_steps,
                        self.epoch,
                        totals["total"],
                        elapsed,
                        eta,
                        validation,
                    )
                )
        self.log.close()
        if self.dist.is_main and not self.best_path.exists():
            self.save(self.best_path)
        return TrainResult(self.step, self.best_miou, self.best_path, self.last_path, self.history)

    def _validate_and_keep_best(self) -> dict[str, float] | None:
        """Rank 0 validates and keeps the best checkpoint; the other ranks wait for it."""
        scores = self._validate_on_main() if self.dist.is_main else None
        self.dist.barrier()
        return scores

    def _validate_on_main(self) -> dict[str, float] | None:
        if self.val_set is None or len(self.val_set) == 0:
            self.save(self.best_path)
            return None
        scores = validate(
            self.model, self.val_set, self.builder, self.device, self.config.prior_strengths
        )
        if "prior_strength" in scores:
            # The decision keeps the strength its validation chose; it is saved with the model.
            self.model.set_prior_strength(scores["prior_strength"])
        self.network.train()
        record: dict[str, Any] = {"step": self.step, "epoch": self.epoch}
        record.update({f"val_{k}": v for k, v in scores.items()})
        self.log.log(record)
        if self.best_miou is None or scores["miou"] > self.best_miou:
            self.best_miou = scores["miou"]
            self.save(self.best_path)
        return scores
