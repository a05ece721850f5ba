"""The class-prior correction of the voxel decision (post-hoc logit adjustment).

A network trained on few labelled frames and many pseudo-labelled ones leans towards the
frequent classes: the dense pseudo grids and the labels are dominated by road, buildings and
vegetation, and a rare class (barrier, other_flat, person) loses every voxel where the evidence
is mixed. Logit adjustment (Menon et al., "Long-tail learning via logit adjustment", ICLR 2021)
undoes that bias at the decision, without retraining: the class of an occupied voxel is

    argmax_c  logit_c - strength * log prior_c        over the non-empty classes c,

where prior_c is the class's share of the labelled voxels the model was trained on (the label
budget's). Two choices of ours:

- **Occupancy is left alone.** Whether a voxel is empty is the plain argmax's decision (is the
  empty class the winner?); the correction only picks the class of the voxels that are
  occupied, so the completion IoU does not move with the strength.
- **A class the labels never show gets no boost** (log prior 0, the largest penalty): on the
  Occ3D metric a class absent from a scene that is predicted anywhere scores 0 instead of
  being skipped, and the labels give no evidence for it.

The prior and the strength are buffers of the model (`OccLE.class_log_prior`,
`OccLE.prior_strength`): they travel in the checkpoint and every consumer of
`OccLEOutput.labels()` (validation, `occle infer`, the ROS node) decides the same way. The
trainer sets the prior from the budget's labelled voxels and picks the strength on the
validation sequences (`prior_strengths` in the training config; docs/training.md, lever 10).
"""

from __future__ import annotations

import torch


def log_prior_from_counts(counts: torch.Tensor) -> torch.Tensor:
    """(M,) float32 log share of each class among the counted voxels; 0 for a class with none.

    Args:
        counts: (M,) voxel count of each class (any numeric dtype, non-negative).
    """
    counts = counts.to(torch.float64)
    if bool((counts < 0).any()):
        raise ValueError("log_prior_from_counts: counts must be non-negative")
    total = counts.sum()
    if total <= 0:
        return torch.zeros(counts.shape, dtype=torch.float32)
    shares = counts / total
    return torch.where(counts > 0, shares.clamp_min(1e-12).log(), 0.0).to(torch.float32)


def decide_labels(
    logits: torch.Tensor,
    empty_label: int,
    log_prior: torch.Tensor | None,
    strength: float,
    occupied: torch.Tensor | None = None,
) -> torch.Tensor:
    """(B, X, Y, Z) int64 class per voxel: the plain argmax decides empty or not (or
    `occupied`, when given), the classes of the occupied voxels are picked with the prior
    correction.

    Args:
        logits: (B, M, X, Y, Z) class logits.
        empty_label: the empty (free) class, never adjusted.
        log_prior: (M,) `log_prior_from_counts` of the labelled voxels (None: no correction).
        strength: how much of the log prior is taken off (0: the plain argmax).
        occupied: (B, X, Y, Z) bool, the voxels decided occupied by another rule (the mirrored
            decision of `occle_core.runtime.ModelRunner`); they get the best non-empty class,
            every other voxel the empty class. None: the plain argmax decides.
    """
    plain = logits.argmax(dim=1)
    if occupied is None:
        if log_prior is None or strength == 0:
            return plain
        occupied = plain != empty_label
    # Only the occupied voxels (a small share of a grid) are re-decided: (N, M) logits.
    adjusted = logits.movedim(1, -1)[occupied]
    if log_prior is not None and strength != 0:
        adjusted = adjusted - (strength * log_prior).to(device=logits.device, dtype=logits.dtype)
    adjusted[:, empty_label] = torch.finfo(adjusted.dtype).min
    labels = torch.full_like(plain, empty_label)
    labels[occupied] = adjusted.argmax(dim=1)
    return labels
