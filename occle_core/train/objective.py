"""The OccLE training objective (../shared/design/model.md, sections 2-4):

    L = w_2d L_s2d + w_3d L_s3d + w_geo L_geo_sup + λ_u(t) w_semi L_geo_semi
        + w_final (CE_w + SCAL_sem + SCAL_geo) + w_sap L_sap [+ w_lovasz Lovász]

* L_s2d: CE of the 2D head against the 2D pseudo labels (logits upsampled to the labels).
* L_s3d: CE of the 3D semantic head against the pseudo labels lifted to the LiDAR voxels.
* L_geo_sup: BCE + geometric SCAL of the geometric occupancy on fusion blocks with labels.
* L_geo_semi: masked BCE on the other blocks against the mean teacher's confident decisions,
  overridden by LiDAR evidence (returns: occupied; crossed by a beam: free).
* final: class-weighted CE and semantic/geometric SCAL on the labelled voxels.
* L_sap: scatter-accumulated projection of the final logits against the 2D pseudo labels.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch.nn import functional as F

from occle_core.model.occle import OccLEOutput
from occle_core.train.batch import TrainingBatch
from occle_core.train.losses import (
    geometric_scal_loss,
    lovasz_softmax,
    noise_corrected_cross_entropy,
    occupancy_bce,
    semantic_scal_loss,
    weighted_cross_entropy,
)
from occle_core.train.sap import sap_loss
from occle_core.typed_config import require

IGNORE = 255


@dataclass(frozen=True)
class ObjectiveConfig:
    """Loss weights and the semi-supervision settings.

    Attributes:
        image: weight of L_s2d (0 disables; also disabled without pseudo labels).
        voxel: weight of L_s3d.
        geometry: weight of L_geo_sup.
        semi: weight of L_geo_semi at full ramp (0 disables the teacher).
        final: weight of the final-head losses.
        sap: weight of L_sap (0 disables).
        final_pseudo: weight of a CE of the final head against the 3D pseudo labels on the
            voxels without a voxel label: the dense voxel pseudo labels of key frames (their
            free space as the empty class) and the lifted labels of the input LiDAR voxels (our
            addition, see docs/training.md).
        final_pseudo_end: the weight of that CE at the end of training, reached by a cosine
            decay from `final_pseudo` over all steps (None: constant). Meant to let the exact
            labels and the teacher have the last word; measured on the surround rig it lost
            2 IoU / 4 mIoU points, so it is off by default (docs/training.md, "Which part does
            what").
        final_pseudo_scal: weight of the semantic scene-class-affinity loss (the per-class
            precision / recall / specificity terms the final head has on the voxel labels) on
            the same pseudo targets as `final_pseudo` (our addition: without it only the
            labelled frames' voxels reach those terms, which the small classes answer to; 0:
            off; like the pseudo CE it needs `final_pseudo` > 0).
        final_pseudo_scal_geo: the same for the geometric scene-class-affinity loss (0: off).
        final_pseudo_scal_occupied: compute the semantic term on the class distribution given
            occupancy instead (`occupied_semantic_scal_loss`): only the voxels the pseudo
            targets call occupied, the empty logit left out of the softmax, so that the term
            sorts occupied voxels among the classes and does not move the occupancy decision.
        final_pseudo_scal_head_only: let the semantic term train the final class head alone:
            it is computed on the head's logits of the decoder's features with their gradient
            stopped, so the shared network under the head (which also decides the occupancy)
            never answers to it.
        final_semi: weight of a BCE between the final head's occupancy, max-pooled over each
            fusion block, and the semi-supervised block targets (our addition: without it
            nothing penalises occupancy the final head invents on unlabelled frames). 1.0 in the
            tiny Occ3D configuration; on the KITTI-like rig it lost 6.8 mIoU, so 0 by default
            (docs/training.md, lever 7).
        final_free: weight of a CE of the final head against the empty class on the
            full-resolution LiDAR free-space voxels without a voxel label (our addition).
        lovasz: weight of an optional Lovász-softmax term on the final head.
        class_balance: power of the inverse-frequency factor on the final-CE class weights
            (`balance_class_weights`; 0: the plain 1 / log f weights).
        class_balance_limit: the largest factor the class balance gives a class (1: none).
        pseudo_calibration: multiply the pseudo CE's class weights by the dense pseudo labels'
            precision / recall per class, measured on the labelled frames
            (`occle_core.train.calibration`).
        pseudo_noise_model: strength of the forward noise correction of the pseudo CE (0:
            off, 1: the full measured matrix): the final head's probabilities pass through
            the dense pseudo labels' confusion P(pseudo | true), measured on the labelled
            frames, before the CE (`occle_core.train.calibration.pseudo_transition_matrix`).
        teacher_high: teacher occupancy probability above which a block counts as occupied.
        teacher_low: below which it counts as free.
        sap_min_weight: pixels with less accumulated SAP weight are not supervised.
    """

    image: float = 1.0
    voxel: float = 1.0
    geometry: float = 1.0
    semi: float = 1.0
    final: float = 1.0
    sap: float = 0.5
    final_pseudo: float = 0.5
    final_pseudo_end: float | None = None
    final_pseudo_scal: float = 0.0
    final_pseudo_scal_geo: float = 0.0
    final_pseudo_scal_occupied: bool = False
    final_pseudo_scal_head_only: bool = False
    final_semi: float = 0.0
    final_free: float = 0.0
    lovasz: float = 0.0
    class_balance: float = 0.0
    class_balance_limit: float = 4.0
    pseudo_calibration: bool = False
    pseudo_noise_model: float = 0.0
    teacher_high: float = 0.7
    teacher_low: float = 0.3
    sap_min_weight: float = 0.3

    def __post_init__(self) -> None:
        for name in (
            *("image", "voxel", "geometry", "semi", "final", "sap", "final_pseudo"),
            *("final_semi", "final_free", "lovasz", "sap_min_weight", "class_balance"),
            *("final_pseudo_scal", "final_pseudo_scal_geo"),
        ):
            value = getattr(self, name)
            require(value >= 0, f"objective.{name}", value, ">= 0 (0 disables)")
        limit = self.class_balance_limit
        require(limit >= 1, "objective.class_balance_limit", limit, ">= 1 (1: no gain)")
        end = self.final_pseudo_end
        require(end is None or end >= 0, "objective.final_pseudo_end", end, ">= 0 or null")
        noise = self.pseudo_noise_model
        require(0 <= noise <= 1, "objective.pseudo_noise_model", noise, "in [0, 1] (0: off)")
        require(
            0 <= self.teacher_low <= self.teacher_high <= 1,
            "objective.teacher_low/teacher_high",
            (self.teacher_low, self.teacher_high),
            "0 <= low <= high <= 1",
        )

    @property
    def head_only_scal_on(self) -> bool:
        """Whether `compute_losses` computes the semantic pseudo SCAL term on the head-only
        logits: the term lives under the pseudo CE, so both weights must be on."""
        on = self.final_pseudo_scal > 0 and self.final_pseudo > 0
        return self.final_pseudo_scal_head_only and on


def semi_supervised_targets(
    teacher_logits: torch.Tensor | None,
    evidence: torch.Tensor,
    supervised: torch.Tensor,
    high: float,
    low: float,
) -> torch.Tensor:
    """Occupancy targets for the blocks without labels.

    Args:
        teacher_logits: (B, 1, x, y, z) teacher occupancy logits, or None (evidence only).
        evidence: (B, x, y, z) LiDAR evidence: 1 occupied, 0 free, -1 unknown.
        supervised: (B, x, y, z) occupancy labels; blocks with a label (not 255) get no
            semi-supervised target.
        high, low: teacher confidence thresholds.

    Returns:
        (B, x, y, z) int64 in {0, 1, 255}.
    """
    target = torch.full_like(supervised, IGNORE)
    if teacher_logits is not None:
        probability = torch.sigmoid(teacher_logits.float())[:, 0]
        target[probability > high] = 1
        target[probability < low] = 0
    target[evidence == 0] = 0
    target[evidence == 1] = 1  # LiDAR evidence overrides the teacher
    target[supervised != IGNORE] = IGNORE
    return target


def block_occupancy_bce(
    logits: torch.Tensor, block_target: torch.Tensor, empty_label: int
) -> torch.Tensor:
    """BCE of the final head's block occupancy against block targets.

    Args:
        logits: (B, M, X, Y, Z) final logits.
        block_target: (B, x, y, z) 0/1 targets on the fusion grid, 255 = none.
        empty_label: the empty class.

    Returns:
        Scalar fp32 loss: a block is as occupied as its most occupied voxel.
    """
    occupancy = 1.0 - torch.softmax(logits.float(), dim=1)[:, empty_label]
    x, y, z = block_target.shape[1:]
    stride = tuple(-(-n // m) for n, m in zip(occupancy.shape[1:], (x, y, z), strict=True))
    pooled = F.max_pool3d(occupancy[:, None], stride, stride, ceil_mode=True)[:, 0]
    pooled = pooled[:, :x, :y, :z]
    keep = block_target != IGNORE
    if not bool(keep.any()):
        return logits.float().sum() * 0.0
    probability = pooled[keep].clamp(1e-6, 1 - 1e-6)
    return F.binary_cross_entropy(probability, block_target[keep].float())


def lidar_pseudo_targets(batch: TrainingBatch) -> torch.Tensor:
    """(B, X, Y, Z) pseudo targets of the final head on voxels without a voxel label: the dense
    voxel pseudo labels of the key frame where it has them, else the lifted pseudo label of the
    input LiDAR voxel (255 elsewhere)."""
    target = torch.full_like(batch.labels, IGNORE)
    voxels = batch.inputs.voxels.indices.long()
    b, i, j, k = voxels.unbind(dim=1)
    target[b, i, j, k] = batch.voxel_pseudo
    target = torch.where(batch.dense_pseudo != IGNORE, batch.dense_pseudo, target)
    return torch.where(batch.labels == IGNORE, target, torch.full_like(target, IGNORE))


def occupied_semantic_scal_loss(
    logits: torch.Tensor, target: torch.Tensor, empty_label: int
) -> torch.Tensor:
    """The semantic scene-class-affinity loss of the class distribution given occupancy: the
    empty class's logit is left out of the softmax and its voxels out of the target, so the
    gradient reaches the relative scores of the occupied classes but never the empty logit,
    and nothing pulls a class towards the voxels the target calls free.

    Args:
        logits: (B, C, X, Y, Z) class logits of the final head.
        target: (B, X, Y, Z) classes, 255 = ignored.
        empty_label: the empty class.
    """
    occupied_logits = logits.float().index_fill(
        1, torch.tensor([empty_label], device=logits.device), float("-inf")
    )
    occupied_target = torch.where(target == empty_label, torch.full_like(target, IGNORE), target)
    return semantic_scal_loss(occupied_logits, occupied_target)


def lidar_free_targets(batch: TrainingBatch, empty_label: int) -> torch.Tensor:
    """(B, X, Y, Z) targets: the empty class on LiDAR free-space voxels without a voxel label
    (255 elsewhere)."""
    keep = batch.free_space & (batch.labels == IGNORE)
    target = torch.full_like(batch.labels, IGNORE)
    target[keep] = empty_label
    return target


def compute_losses(
    out: OccLEOutput,
    batch: TrainingBatch,
    config: ObjectiveConfig,
    class_weights: torch.Tensor | None,
    empty_label: int,
    teacher_occupancy: torch.Tensor | None = None,
    semi_weight: float = 1.0,
    final_pseudo_weight: float | None = None,
    pseudo_class_weights: torch.Tensor | None = None,
    pseudo_transition: torch.Tensor | None = None,
    head_only_logits: torch.Tensor | None = None,
) -> dict[str, torch.Tensor]:
    """Every term of the objective (unweighted) and the weighted total under "total".

    Args:
        out: the student's outputs.
        batch: inputs and targets.
        config: weights and thresholds.
        class_weights: (M,) final-CE class weights (None: unweighted).
        empty_label: the empty class of the final head.
        teacher_occupancy: (B, 1, x, y, z) mean-teacher occupancy logits, or None.
        semi_weight: λ_u(t), the ramp-up factor of L_geo_semi.
        final_pseudo_weight: the pseudo CE's weight at this step (None: `config.final_pseudo`);
            the trainer passes the decayed weight when `config.final_pseudo_end` is set.
        pseudo_class_weights: (M,) class weights of the pseudo CE (None: `class_weights`).
        pseudo_transition: (M, M) P(pseudo | true) of the pseudo labels; with it the pseudo
            CE is noise-corrected (None: plain CE).
        head_only_logits: (B, M, X, Y, Z) the final head's logits of the decoder's features
            with their gradient stopped; the semantic pseudo SCAL term takes them instead of
            `out.logits` (`config.final_pseudo_scal_head_only`; None: `out.logits`).

    Returns:
        name -> scalar fp32 tensor.
    """
    terms: dict[str, torch.Tensor] = {}
    weights: dict[str, float] = {}
    labels = batch.labels
    if config.final > 0:
        terms["final_ce"] = weighted_cross_entropy(out.logits, labels, class_weights)
        terms["final_scal_sem"] = semantic_scal_loss(out.logits, labels)
        terms["final_scal_geo"] = geometric_scal_loss(out.logits, labels, empty_label)
        weights.update(final_ce=config.final, final_scal_sem=config.final)
        weights["final_scal_geo"] = config.final
    if config.final_pseudo > 0:
        pseudo_weights = class_weights if pseudo_class_weights is None else pseudo_class_weights
        pseudo_targets = lidar_pseudo_targets(batch)
        if pseudo_transition is None:
            terms["final_pseudo"] = weighted_cross_entropy(
                out.logits, pseudo_targets, pseudo_weights
            )
        else:
            terms["final_pseudo"] = noise_corrected_cross_entropy(
                out.logits, pseudo_targets, pseudo_transition, pseudo_weights
            )
        weights["final_pseudo"] = (
            config.final_pseudo if final_pseudo_weight is None else final_pseudo_weight
        )
        if config.final_pseudo_scal > 0:
            scal_logits = out.logits if head_only_logits is None else head_only_logits
            if config.final_pseudo_scal_occupied:
                terms["pseudo_scal_sem"] = occupied_semantic_scal_loss(
                    scal_logits, pseudo_targets, empty_label
                )
            else:
                terms["pseudo_scal_sem"] = semantic_scal_loss(scal_logits, pseudo_targets)
            weights["pseudo_scal_sem"] = config.final_pseudo_scal
        if config.final_pseudo_scal_geo > 0:
            terms["pseudo_scal_geo"] = geometric_scal_loss(out.logits, pseudo_targets, empty_label)
            weights["pseudo_scal_geo"] = config.final_pseudo_scal_geo
    if config.final_free > 0:
        terms["final_free"] = weighted_cross_entropy(
            out.logits, lidar_free_targets(batch, empty_label), class_weights
        )
        weights["final_free"] = config.final_free
    if config.lovasz > 0:
        terms["final_lovasz"] = lovasz_softmax(out.logits, labels)
        weights["final_lovasz"] = config.lovasz
    if config.geometry > 0:
        terms["geo_bce"] = occupancy_bce(out.occupancy_logits, batch.occupancy)
        terms["geo_scal"] = geometric_scal_loss(out.occupancy_logits, batch.occupancy)
        weights.update(geo_bce=config.geometry, geo_scal=config.geometry)
    if config.semi > 0 and semi_weight > 0:
        target = semi_supervised_targets(
            teacher_occupancy,
            batch.evidence,
            batch.occupancy,
            config.teacher_high,
            config.teacher_low,
        )
        terms["geo_semi"] = occupancy_bce(out.occupancy_logits, target)
        weights["geo_semi"] = config.semi * semi_weight
        if config.final_semi > 0:
            terms["final_semi"] = block_occupancy_bce(out.logits, target, empty_label)
            weights["final_semi"] = config.final_semi * semi_weight
    if config.voxel > 0:
        terms["sem_3d"] = weighted_cross_entropy(
            out.voxel_logits[None].movedim(-1, 1), batch.voxel_pseudo[None]
        )
        weights["sem_3d"] = config.voxel
    if config.image > 0 and batch.image_pseudo is not None:
        pseudo = batch.image_pseudo
        logits = F.interpolate(
            out.image_logits.flatten(0, 1).float(),
            size=pseudo.shape[-2:],
            mode="bilinear",
            align_corners=False,
        )
        terms["sem_2d"] = weighted_cross_entropy(logits, pseudo.flatten(0, 1))
        weights["sem_2d"] = config.image
    if config.sap > 0 and batch.sap_projections:
        parts = [
            sap_loss(out.logits[b], projection, pseudo, config.sap_min_weight, empty_label)
            for b, (projections, pseudos) in enumerate(
                zip(batch.sap_projections, batch.sap_pseudo, strict=True)
            )
            for projection, pseudo in zip(projections, pseudos, strict=True)
        ]
        terms["sap"] = torch.stack(parts).mean()
        weights["sap"] = config.sap
    total = sum(
        (weights[name] * value for name, value in terms.items()),
        out.logits.new_zeros((), dtype=torch.float32),
    )
    terms["total"] = total
    return terms
