"""Mean teacher: an exponential moving average of the student's weights."""

from __future__ import annotations

import copy
from typing import cast

import torch
from torch import nn

from occle_core.model.inputs import OccLEInputs
from occle_core.model.occle import OccLE


class MeanTeacher:
    """EMA copy of a model (parameters averaged, buffers copied), always in eval mode.

    Args:
        student: the trained model.
        decay: EMA decay (0.999 in the paper's setting).
    """

    def __init__(self, student: nn.Module, decay: float = 0.999):
        if not 0.0 <= decay < 1.0:
            raise ValueError(f"MeanTeacher: decay {decay} must be in [0, 1)")
        self.decay = decay
        self.model = copy.deepcopy(student).eval()
        for parameter in self.model.parameters():
            parameter.requires_grad_(False)

    @torch.no_grad()
    def update(self, student: nn.Module, step: int) -> None:
        """teacher <- d * teacher + (1 - d) * student, with d warmed up as min(decay,
        (1 + step) / (10 + step)) so that the early teacher is not stuck at initialisation."""
        decay = min(self.decay, (1.0 + step) / (10.0 + step))
        for teacher_p, student_p in zip(self.model.parameters(), student.parameters(), strict=True):
            teacher_p.mul_(decay).add_(student_p.detach(), alpha=1.0 - decay)
        for teacher_b, student_b in zip(self.model.buffers(), student.buffers(), strict=True):
            teacher_b.copy_(student_b)

    @torch.no_grad()
    def occupancy_logits(self, inputs: OccLEInputs) -> torch.Tensor:
        """(B, 1, x, y, z) the teacher's occupancy logits on the fusion grid for `inputs`: its
        geometric branch only (`OccLE.occupancy_logits`), the rest of the network is not run."""
        return cast(OccLE, self.model).occupancy_logits(inputs)

    def state_dict(self) -> dict[str, torch.Tensor]:
        return self.model.state_dict()

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        self.model.load_state_dict(state)
