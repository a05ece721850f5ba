"""Losses of OccLE: class-weighted cross-entropy, scene-class-affinity (SCAL) losses, the
occupancy BCE, and Lovasz-softmax.

All take logits and integer targets where 255 marks ignored voxels, and compute in fp32.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

IGNORE = 255
_EPS = 1e-7


def class_weights_from_frequencies(counts: torch.Tensor, offset: float = 0.001) -> torch.Tensor:
    """Weights w_c = 1 / log(f_c + offset), f_c the voxel count of class c in the labelled
    training subset (the SSC convention: counts, so log f_c > 0 and rare classes weigh more).

    Args:
        counts: (C,) voxel count per class.
        offset: the 0.001 of the formula.

    Returns:
        (C,) float32 weights. Classes with fewer than 2 voxels would get an infinite or negative
        weight; they get the largest weight of the others instead (they never appear as a
        target of the labelled subset anyway).
    """
    counts = counts.double()
    present = counts >= 2
    weights = torch.zeros_like(counts)
    weights[present] = 1.0 / torch.log(counts[present] + offset)
    if bool(present.any()):
        weights[~present] = weights[present].max()
    else:
        weights[:] = 1.0
    return weights.float()


def balance_class_weights(
    weights: torch.Tensor,
    counts: torch.Tensor,
    power: float,
    keep: int | None = None,
    limit: float = 4.0,
) -> torch.Tensor:
    """Sharpen SSC class weights towards inverse frequency.

    `1 / log f_c` barely separates classes (a class 1000 times rarer weighs less than twice as
    much), so a rare class the labelled frames hold a few hundred voxels of is outvoted by the
    pseudo targets of its surroundings. The weight of every class rarer than the median class
    (over the present classes but `keep`) is multiplied by `(median / f_c) ** power`, at most
    `limit`; the others keep theirs. Only rare classes gain: scaling the common ones down as well
    (a two-sided factor that keeps the total weight) cost the common classes far more than it
    gave the rare ones (validation of the protocol, terrain 65 -> 23 % at power 0.5,
    docs/training.md).

    Args:
        weights: (C,) weights of `class_weights_from_frequencies`.
        counts: (C,) the voxel counts they came from.
        power: 0 leaves the weights as they are; 0.5 is inverse square root frequency.
        keep: a class left unchanged (the empty class: inverse frequency there would let the
            network over-fill the scene).
        limit: the largest factor.

    Returns:
        (C,) float32 weights.
    """
    if power == 0:
        return weights
    counts = counts.double()
    present = counts >= 2
    if keep is not None:
        present[keep] = False
    if not bool(present.any()):
        return weights
    median = counts[present].median()
    factor = torch.ones_like(counts)
    factor[present] = (median / counts[present]) ** power
    factor = factor.clamp(1.0, limit)
    return (weights.double() * factor).float()


def weighted_cross_entropy(
    logits: torch.Tensor, target: torch.Tensor, weights: torch.Tensor | None = None
) -> torch.Tensor:
    """Cross-entropy over voxels (or pixels) ignoring 255.

    Args:
        logits: (B, C, ...) class logits.
        target: (B, ...) classes, 255 = ignored.
        weights: optional (C,) class weights.
    """
    if not bool((target != IGNORE).any()):
        return logits.float().sum() * 0.0
    return F.cross_entropy(logits.float(), target.long(), weight=weights, ignore_index=IGNORE)


def noise_corrected_cross_entropy(
    logits: torch.Tensor,
    target: torch.Tensor,
    transition: torch.Tensor,
    weights: torch.Tensor | None = None,
) -> torch.Tensor:
    """Cross-entropy against noisy targets through their noise model (forward correction):
    -w_y log sum_i softmax(logits)_i T[i, y], ignoring 255, averaged by the targets' weights
    as `weighted_cross_entropy` does.

    Args:
        logits: (B, C, ...) class logits.
        target: (B, ...) noisy classes, 255 = ignored.
        transition: (C, C) row-stochastic P(noisy j | true i) (`pseudo_transition_matrix`).
        weights: optional (C,) class weights, indexed by the noisy target.
    """
    if not bool((target != IGNORE).any()):
        return logits.float().sum() * 0.0
    probabilities = torch.softmax(logits.float(), dim=1)
    noisy = torch.einsum("bi...,ij->bj...", probabilities, transition.to(probabilities))
    log_noisy = torch.log(noisy.clamp_min(_EPS))
    return F.nll_loss(log_noisy, target.long(), weight=weights, ignore_index=IGNORE)


def _bce_to_one(value: torch.Tensor) -> torch.Tensor:
    """Binary cross-entropy of a ratio in [0, 1] against 1: -log(value)."""
    return -torch.log(value.clamp(_EPS, 1.0))


def _masked(logits: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(N, C) probabilities and (N,) targets of the voxels whose target is not ignored."""
    probabilities = torch.softmax(logits.float(), dim=1)
    classes = probabilities.shape[1]
    flat = probabilities.movedim(1, -1).reshape(-1, classes)
    labels = target.reshape(-1).long()
    keep = labels != IGNORE
    return flat[keep], labels[keep]


def semantic_scal_loss(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Semantic scene-class-affinity loss (MonoScene's formulation): for every class present in
    the target, the precision, recall and specificity of its soft prediction, each pushed
    towards 1 with a BCE, averaged over the present classes.

    Args:
        logits: (B, C, X, Y, Z) class logits.
        target: (B, X, Y, Z) classes, 255 = ignored.
    """
    probabilities, labels = _masked(logits, target)
    terms = []
    for cls in torch.unique(labels).tolist():
        p = probabilities[:, cls]
        is_class = (labels == cls).float()
        hit = (p * is_class).sum()
        loss = _bce_to_one(hit / p.sum().clamp_min(_EPS)) + _bce_to_one(hit / is_class.sum())
        others = 1.0 - is_class
        if others.sum() > 0:
            loss = loss + _bce_to_one(((1.0 - p) * others).sum() / others.sum())
        terms.append(loss)
    if not terms:
        return logits.float().sum() * 0.0
    return torch.stack(terms).mean()


def geometric_scal_loss(logits: torch.Tensor, target: torch.Tensor, empty: int = 0) -> torch.Tensor:
    """Geometric scene-class-affinity loss: precision, recall and specificity of the soft
    occupancy (1 - p(empty)) against occupied / empty targets.

    Args:
        logits: (B, C, X, Y, Z) class logits; or (B, 1, X, Y, Z) occupancy logits when C == 1.
        target: (B, X, Y, Z) classes (or 0/1 occupancy), 255 = ignored.
        empty: the empty class index when C > 1.
    """
    if logits.shape[1] == 1:
        occupancy = torch.sigmoid(logits.float()).reshape(-1)
        labels = target.reshape(-1).long()
        keep = labels != IGNORE
        occupancy, occupied = occupancy[keep], (labels[keep] != 0).float()
    else:
        probabilities, labels = _masked(logits, target)
        occupancy, occupied = 1.0 - probabilities[:, empty], (labels != empty).float()
    if occupancy.numel() == 0:
        return logits.float().sum() * 0.0
    hit = (occupancy * occupied).sum()
    loss = _bce_to_one(hit / occupancy.sum().clamp_min(_EPS)) + _bce_to_one(
        hit / occupied.sum().clamp_min(_EPS)
    )
    free = 1.0 - occupied
    if free.sum() > 0:
        loss = loss + _bce_to_one(((1.0 - occupancy) * free).sum() / free.sum())
    return loss


def occupancy_bce(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """BCE of (B, 1, ...) or (B, ...) occupancy logits against 0/1 targets, ignoring 255."""
    flat_logits = logits.float().reshape(-1)
    labels = target.reshape(-1)
    keep = labels != IGNORE
    if not bool(keep.any()):
        return flat_logits.sum() * 0.0
    return F.binary_cross_entropy_with_logits(flat_logits[keep], labels[keep].float())


def lovasz_softmax(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Lovasz-softmax loss (Berman et al. 2018), averaged over the classes present in the target:
    a convex surrogate of 1 - IoU built from the sorted errors of each class.

    Args:
        logits: (B, C, ...) class logits.
        target: (B, ...) classes, 255 = ignored.
    """
    probabilities, labels = _masked(logits, target)
    losses = []
    for cls in torch.unique(labels).tolist():
        foreground = (labels == cls).float()
        errors = (foreground - probabilities[:, cls]).abs()
        errors_sorted, order = torch.sort(errors, descending=True)
        fg_sorted = foreground[order]
        intersection = fg_sorted.sum() - fg_sorted.cumsum(0)
        union = fg_sorted.sum() + (1.0 - fg_sorted).cumsum(0)
        jaccard = 1.0 - intersection / union
        gradient = torch.cat([jaccard[:1], jaccard[1:] - jaccard[:-1]])
        losses.append(torch.dot(errors_sorted, gradient))
    if not losses:
        return logits.float().sum() * 0.0
    return torch.stack(losses).mean()
