"""One optimiser step of label-efficient training: the micro-batches of a gradient accumulation
(augmented), the student's forward, the mean teacher's occupancy on the clean inputs, the losses,
gradient clipping, the (fp16) gradient scaler and the teacher's EMA update."""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from occle_core.model.config import OccLEConfig
from occle_core.model.inputs import OccLEInputs
from occle_core.model.occle import OccLE
from occle_core.train.augment import flip_sample_y, student_view
from occle_core.train.batch import BatchBuilder, TrainingBatch
from occle_core.train.config import TrainConfig
from occle_core.train.dataset import TrainingSample
from occle_core.train.objective import compute_losses
from occle_core.train.schedule import cosine_between, sigmoid_rampup
from occle_core.train.teacher import MeanTeacher


def autocast(device: torch.device, amp: str) -> contextlib.AbstractContextManager[Any]:
    """The mixed-precision context of `amp` ("off", "bf16", "fp16") on `device`."""
    if amp == "off":
        return contextlib.nullcontext()
    dtype = torch.bfloat16 if amp == "bf16" else torch.float16
    return torch.autocast(device_type=device.type, dtype=dtype)


@dataclass
class TrainingStep:
    """The parts one step changes, and how it changes them.

    Attributes:
        config: the run.
        model_config: the network's configuration (grid, empty class).
        model: the student (its parameters are optimised).
        network: what the step calls forward: `model`, or its DistributedDataParallel wrapper.
        teacher: the mean teacher (EMA of `model`).
        optimizer: over `model`'s parameters.
        scaler: the gradient scaler (active only for fp16 on CUDA).
        builder: samples -> batch.
        class_weights: (M,) final-CE class weights on `device`.
        device: where the batches go.
        pseudo_class_weights: (M,) class weights of the pseudo CE on `device` (None: the same
            as `class_weights`).
        pseudo_transition: (M, M) P(pseudo | true) on `device` for the pseudo CE's noise
            correction (None: plain CE).
    """

    config: TrainConfig
    model_config: OccLEConfig
    model: OccLE
    network: torch.nn.Module
    teacher: MeanTeacher
    optimizer: torch.optim.Optimizer
    scaler: torch.amp.GradScaler
    builder: BatchBuilder
    class_weights: torch.Tensor
    device: torch.device
    pseudo_class_weights: torch.Tensor | None = None
    pseudo_transition: torch.Tensor | None = None

    def run(
        self,
        step: int,
        total_steps: int,
        lr: float,
        next_samples: Callable[[], list[TrainingSample]],
    ) -> dict[str, float]:
        """Optimiser step number `step` (0-based) of `total_steps` at learning rate `lr`.

        Args:
            next_samples: this rank's samples of the next micro-batch; called
                `optim.accumulate` times.

        Returns:
            Loss name -> value averaged over the micro-batches ("total" included).

        Raises:
            FloatingPointError: the total loss is not finite (the run diverged).
        """
        config = self.config
        accumulate = config.optim.accumulate
        self.optimizer.zero_grad(set_to_none=True)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        totals: dict[str, float] = {}
        for part in range(accumulate):
            samples = next_samples()
            # Seeded by (seed, step, part): a resumed run draws what the uninterrupted one did.
            rng = np.random.default_rng([config.seed, step, part])
            batch, teacher_inputs = self.augmented(samples, rng)
            losses = self.losses(batch, teacher_inputs, step, total_steps)
            self.scaler.scale(losses["total"] / accumulate).backward()
            for name, value in losses.items():
                totals[name] = totals.get(name, 0.0) + float(value.detach()) / accumulate
        if config.optim.grad_clip > 0:
            self.scaler.unscale_(self.optimizer)
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), config.optim.grad_clip)
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.teacher.update(self.model, step)
        if not math.isfinite(totals["total"]):
            raise FloatingPointError(f"training diverged at step {step + 1}: {totals}")
        return totals

    def augmented(
        self, samples: list[TrainingSample], rng: np.random.Generator
    ) -> tuple[TrainingBatch, OccLEInputs | None]:
        """The student's batch and, when student-only augmentations apply, the teacher's clean
        inputs (None: the teacher reads the student's inputs)."""
        augment = self.config.augment
        if augment.flip_y:
            samples = [
                flip_sample_y(s, self.model_config.grid) if rng.random() < 0.5 else s
                for s in samples
            ]
        if not augment.student_only:
            return self.builder(samples, rng).to(self.device), None
        student = [student_view(s, augment, rng) for s in samples]
        teacher_inputs = self.builder.inputs(samples).to(self.device)
        return self.builder(student, rng).to(self.device), teacher_inputs

    def losses(
        self,
        batch: TrainingBatch,
        teacher_inputs: OccLEInputs | None,
        step: int,
        total_steps: int,
    ) -> dict[str, torch.Tensor]:
        """The weighted losses of one micro-batch at optimiser step `step` (see
        `compute_losses`); the teacher runs only while the semi-supervised term weighs."""
        config = self.config
        ramp = sigmoid_rampup(step, int(config.ramp_fraction * total_steps))
        teacher_occupancy = None
        use_teacher = config.objective.semi > 0 and ramp > 0
        with autocast(self.device, config.amp):
            out = self.network(batch.inputs)
            if use_teacher:
                clean = teacher_inputs if teacher_inputs is not None else batch.inputs
                teacher_occupancy = self.teacher.occupancy_logits(clean)
            head_only_logits = None
            # the head's second pass only when the term it feeds is on
            if config.objective.head_only_scal_on and out.decoded is not None:
                head_only_logits = self.model.head(out.decoded.detach())
        return compute_losses(
            out,
            batch,
            config.objective,
            self.class_weights,
            self.model_config.empty_label,
            teacher_occupancy,
            ramp,
            final_pseudo_weight(config, step, total_steps),
            self.pseudo_class_weights,
            self.pseudo_transition,
            head_only_logits,
        )


def final_pseudo_weight(config: TrainConfig, step: int, total_steps: int) -> float:
    """The final head's pseudo CE weight at optimiser step `step` (0-based): constant, or
    decayed from `final_pseudo` at the first step to `final_pseudo_end` at the last."""
    objective = config.objective
    if objective.final_pseudo_end is None:
        return objective.final_pseudo
    return cosine_between(objective.final_pseudo, objective.final_pseudo_end, step, total_steps - 1)
