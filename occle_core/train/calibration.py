"""Count calibration of the pseudo targets, measured on the labelled frames.

The dense voxel pseudo labels hold a class c with some precision p_c and recall r_c: they name
TP_c / p_c voxels c where the truth has TP_c / r_c. A class the pseudo labels under-count
(trunk: 81 % precision, 32 % recall on the synthetic KITTI-like world; its other voxels are
called vegetation) is outvoted in the final head's pseudo CE by the class that takes its
voxels, however rare it is. Weighting the pseudo CE of class c by p_c / r_c gives each class the
total weight its true voxel count would have. p_c and r_c are counted where both a voxel label
and a pseudo label exist, which the label budget allows only on the labelled frames: nothing of
the unlabelled frames' ground truth is used.
"""

from __future__ import annotations

import numpy as np
import torch
from numpy.typing import NDArray


def pseudo_count_factors(
    confusion: NDArray[np.int64],
    keep: int | None = None,
    limit: float = 4.0,
    min_voxels: int = 20,
) -> torch.Tensor:
    """Per-class factors p_c / r_c of the pseudo CE.

    Args:
        confusion: (C, C) counts, rows the voxel labels, columns the pseudo labels (the
            `matrix` of `occle_core.pseudo.quality.LabelAgreement`).
        keep: a class left at 1 (the empty class: its balance with the occupied ones is the
            geometry's, tuned on its own).
        limit: factors are clipped to [1 / limit, limit].
        min_voxels: a class with fewer true or pseudo voxels than this keeps 1 (too few to
            measure), as does one the pseudo labels never get right.

    Returns:
        (C,) float32 factors.
    """
    counts = confusion.astype(np.float64)
    hits = np.diag(counts)
    named = counts.sum(axis=0)  # voxels the pseudo labels call c
    true = counts.sum(axis=1)  # voxels that are c
    factors = np.ones(len(counts))
    measured = (named >= min_voxels) & (true >= min_voxels) & (hits > 0)
    # p / r = (hits / named) / (hits / true) = true / named
    factors[measured] = true[measured] / named[measured]
    if keep is not None:
        factors[keep] = 1.0
    return torch.from_numpy(np.clip(factors, 1.0 / limit, limit)).float()


def pseudo_transition_matrix(
    confusion: NDArray[np.int64], strength: float = 1.0, min_voxels: int = 20
) -> torch.Tensor:
    """How the pseudo labels err, as a row-stochastic matrix T[i, j] = P(pseudo j | true i),
    measured on the labelled frames (forward loss correction, Patrini et al., CVPR 2017).

    The simulated and the real foundation models err systematically: trunk is called
    vegetation, parking road, other_flat terrain. A plain CE against such targets teaches the
    network the errors; a CE of `softmax(logits) @ T` against them lets the network say trunk
    where the pseudo label says vegetation at the price the labelled frames measured, so the
    labelled voxels and the image features, not the pseudo labeller's habits, decide.

    Args:
        confusion: (C, C) counts, rows the voxel labels, columns the pseudo labels.
        strength: T is mixed with the identity, `strength * T + (1 - strength) * I`
            (0: no correction, 1: the measured matrix).
        min_voxels: a class with fewer true voxels than this keeps its identity row (too
            few to measure).

    Returns:
        (C, C) float32, every row summing to 1.
    """
    counts = confusion.astype(np.float64)
    identity = np.eye(len(counts))
    true = counts.sum(axis=1, keepdims=True)
    measured = true[:, 0] >= min_voxels
    transition = identity.copy()
    transition[measured] = counts[measured] / true[measured]
    mixed = strength * transition + (1.0 - strength) * identity
    return torch.from_numpy(mixed).float()
