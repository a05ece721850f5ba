"""Validation during training: the model's scores on the voxel-labelled key frames of the
validation sequences, with the metric of the dataset's layout."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from occle_core.eval.occ3d import Occ3DConfusion
from occle_core.eval.semantickitti import SSCConfusion
from occle_core.model.occle import OccLE
from occle_core.train.batch import BatchBuilder
from occle_core.train.dataset import OccupancyDataset


@torch.no_grad()
def validate(
    model: OccLE,
    dataset: OccupancyDataset,
    builder: BatchBuilder,
    device: torch.device,
    prior_strengths: Sequence[float] = (),
) -> dict[str, float]:
    """Scores (fractions) of `model` on the voxel-labelled frames of `dataset`: the official
    SSC metric when the empty class is 0 (SemanticKITTI), else the Occ3D one (mIoU over every
    class but the last, free one) with the occupied-vs-free IoU. Voxels labelled 255 (outside
    the Occ3D mask, invalid in SemanticKITTI) are not counted by either.

    Args:
        prior_strengths: strengths of the decision's class-prior correction to score
            (`occle_core.model.prior`), each on the same forward passes; the scores returned
            are those of the strength with the best mIoU (ties: the weakest). Empty: the
            model's own strength only.

    Returns:
        {"miou", "iou"} and, for SemanticKITTI, {"precision", "recall"}; with
        `prior_strengths`, also "prior_strength" (the chosen one) and "miou_prior_<s>" for
        each strength s. NaN without frames.
    """
    model.eval()
    if len(dataset) == 0:
        return {"miou": float("nan"), "iou": float("nan")}
    num_classes, empty = model.config.num_classes, model.config.empty_label
    occ3d = empty != 0
    if occ3d and empty != num_classes - 1:
        raise ValueError(f"validate: the Occ3D metric wants free last, not class {empty}")
    names = [f"class{c}" for c in range(num_classes)]
    strengths: list[float | None] = [*sorted(set(prior_strengths))] or [None]
    confusions = {s: Occ3DConfusion(names) if occ3d else SSCConfusion(names) for s in strengths}
    for index in range(len(dataset)):
        sample = dataset[index]
        if sample.truth is None:  # only key frames are validated; they all have ground truth
            raise ValueError(f"validate: {sample.key} has no voxel ground truth")
        out = model(builder.inputs([sample]).to(device))
        for strength, confusion in confusions.items():
            confusion.add(out.labels(strength)[0].cpu().numpy(), sample.truth)
    scored = {s: _scores(c) for s, c in confusions.items()}
    best = max(strengths, key=lambda s: (_or_lowest(scored[s]["miou"]), -(s or 0.0)))
    scores = dict(scored[best])
    if best is not None:
        scores["prior_strength"] = best
        scores.update({f"miou_prior_{s:g}": scored[s]["miou"] for s in strengths if s is not None})
    return scores


def _or_lowest(value: float) -> float:
    return value if value == value else float("-inf")  # NaN (no class scored) loses


def _scores(confusion: SSCConfusion | Occ3DConfusion) -> dict[str, float]:
    if isinstance(confusion, Occ3DConfusion):
        occ3d_scores = confusion.scores()
        return {"miou": float(occ3d_scores.miou), "iou": occ3d_scores.geometry_iou()}
    scores = confusion.scores()
    return {
        "miou": float(scores.miou),
        "iou": float(scores.completion_iou),
        "precision": float(scores.precision),
        "recall": float(scores.recall),
    }
