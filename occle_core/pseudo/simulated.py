"""A *simulated* foundation model for synthetic scenes.

Foundation-model weights cannot be downloaded here, and on synthetic scenes the exact 2D labels
are known. This module derives pseudo labels from those exact labels with the kinds of errors
real 2D foundation models make, then runs them through the real class alignment and Boolean
merge, so that training sees realistic, imperfect pseudo labels:

* the dataset-specific route never outputs the classes it lacks (it says their stand-in, e.g.
  trunk -> vegetation), blurs class boundaries (pixels near a boundary may take a neighbour's
  label), confuses similar classes (a whole car called truck, a patch of terrain called
  vegetation) and misses small objects (they take the label around them);
* the open-vocabulary route (the classes the dataset-specific model lacks) is weaker: whole
  regions are missed and its masks have rougher boundaries.

It is named as what it is everywhere it appears: it is not a model and it needs ground truth.
Its quality is reported as pseudo-label mIoU against the exact labels (`pseudo_label_scores`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from occle_core.pseudo.alignment import IGNORE, ClassAlignment
from occle_core.pseudo.merge import merge_pseudo_labels


@dataclass(frozen=True)
class SimulatedErrors:
    """Error rates of the simulated foundation model.

    Attributes:
        boundary_radius: pixels within this distance of a class boundary may take a label from
            up to this far away.
        boundary_rate: share of such boundary pixels that do.
        confusion_rate: chance that an object instance is labelled as a similar class.
        stuff_confusion_rate: chance per (image, stuff class) of a patch called a similar class.
        small_object_pixels: object instances smaller than this are missed.
        open_vocabulary_miss_rate: chance per (image, class) that the open-vocabulary route
            misses the class entirely.
        open_vocabulary_boundary_radius: boundary roughness of open-vocabulary masks, pixels.
    """

    boundary_radius: int = 2
    boundary_rate: float = 0.5
    confusion_rate: float = 0.1
    stuff_confusion_rate: float = 0.15
    small_object_pixels: int = 30
    open_vocabulary_miss_rate: float = 0.25
    open_vocabulary_boundary_radius: int = 3


def _boundary(labels: NDArray[np.integer], radius: int) -> NDArray[np.bool_]:
    """Pixels with a different label within `radius` along rows or columns."""
    edge = np.zeros(labels.shape, dtype=bool)
    for shift in range(1, radius + 1):
        differs = labels[:, shift:] != labels[:, :-shift]
        edge[:, shift:] |= differs
        edge[:, :-shift] |= differs
        differs = labels[shift:, :] != labels[:-shift, :]
        edge[shift:, :] |= differs
        edge[:-shift, :] |= differs
    return edge


def _jitter_boundaries(
    labels: NDArray[np.uint8], radius: int, rate: float, rng: np.random.Generator
) -> NDArray[np.uint8]:
    """Boundary pixels take the label of a random pixel up to `radius` away."""
    if radius < 1 or rate <= 0:
        return labels
    rows, cols = np.nonzero(_boundary(labels, radius))
    pick = rng.random(rows.size) < rate
    rows, cols = rows[pick], cols[pick]
    height, width = labels.shape
    src_r = np.clip(rows + rng.integers(-radius, radius + 1, rows.size), 0, height - 1)
    src_c = np.clip(cols + rng.integers(-radius, radius + 1, cols.size), 0, width - 1)
    out = labels.copy()
    out[rows, cols] = labels[src_r, src_c]
    return out


def _surrounding_label(labels: NDArray[np.uint8], mask: NDArray[np.bool_]) -> int:
    """Most common label in a 3-pixel ring around `mask` (255 if none)."""
    rows, cols = np.nonzero(mask)
    r0, r1 = max(rows.min() - 3, 0), rows.max() + 4
    c0, c1 = max(cols.min() - 3, 0), cols.max() + 4
    window, inside = labels[r0:r1, c0:c1], mask[r0:r1, c0:c1]
    around = window[~inside]
    around = around[around != IGNORE]
    if around.size == 0:
        return IGNORE
    return int(np.bincount(around).argmax())


class SimulatedFoundationModel:
    """Pseudo labels from exact 2D labels with realistic foundation-model errors (see module).

    Args:
        alignment: the target's class alignment (stand-ins, similar classes, open-vocabulary
            classes and their parents).
        errors: error rates.
    """

    name = "simulated-foundation-model"

    def __init__(self, alignment: ClassAlignment, errors: SimulatedErrors | None = None):
        self.alignment = alignment
        self.errors = errors or SimulatedErrors()

    def dataset_specific(
        self,
        semantic: NDArray[np.uint8],
        instance: NDArray[np.integer],
        rng: np.random.Generator,
    ) -> NDArray[np.uint8]:
        """What the dataset-specific segmenter would say: (H, W) target ids, 255 unknown."""
        e = self.errors
        lut = np.arange(256, dtype=np.uint8)
        for target, stand_in in self.alignment.stand_in.items():
            lut[target] = stand_in
        labels = lut[semantic]
        for object_id in np.unique(instance[instance > 0]):
            mask = instance == object_id
            area = int(mask.sum())
            if area < e.small_object_pixels:
                labels[mask] = _surrounding_label(labels, mask)
                continue
            current = int(np.bincount(labels[mask]).argmax())
            similar = self.alignment.similar.get(current, ())
            if similar and rng.random() < e.confusion_rate:
                labels[mask & (labels == current)] = similar[rng.integers(len(similar))]
        height, width = labels.shape
        things = np.unique(semantic[instance > 0])
        for stuff in np.unique(labels):
            similar = self.alignment.similar.get(int(stuff), ())
            if stuff in things or not similar or rng.random() >= e.stuff_confusion_rate:
                continue
            rows, cols = np.nonzero(labels == stuff)
            centre = rng.integers(rows.size)
            half_h, half_w = max(height // 8, 1), max(width // 8, 1)
            r0, c0 = max(rows[centre] - half_h, 0), max(cols[centre] - half_w, 0)
            patch = labels[r0 : r0 + 2 * half_h, c0 : c0 + 2 * half_w]
            patch[patch == stuff] = similar[rng.integers(len(similar))]
        return _jitter_boundaries(labels, e.boundary_radius, e.boundary_rate, rng)

    def open_vocabulary(
        self, semantic: NDArray[np.uint8], rng: np.random.Generator
    ) -> dict[int, NDArray[np.bool_]]:
        """The open-vocabulary masks: target id -> (H, W) bool, missing classes absent."""
        e = self.errors
        masks = {}
        for item in self.alignment.open_vocabulary:
            mask = semantic == item.class_id
            if not mask.any() or rng.random() < e.open_vocabulary_miss_rate:
                continue
            rough = _jitter_boundaries(
                mask.astype(np.uint8), e.open_vocabulary_boundary_radius, 0.6, rng
            )
            masks[item.class_id] = rough.astype(bool)
        return masks

    def __call__(
        self,
        semantic: NDArray[np.uint8],
        instance: NDArray[np.integer],
        rng: np.random.Generator,
    ) -> NDArray[np.uint8]:
        """Pseudo labels s̄ of one image.

        Args:
            semantic: (H, W) exact target ids, 255 = no class (sky).
            instance: (H, W) object instance ids (0 = stuff).
            rng: randomness of the errors (seed it per frame for reproducible labels).

        Returns:
            (H, W) uint8 merged pseudo labels, 255 = unknown.
        """
        if semantic.shape != instance.shape:
            raise ValueError(
                f"SimulatedFoundationModel: labels {semantic.shape} and instances "
                f"{instance.shape} differ"
            )
        dataset_map = self.dataset_specific(semantic, instance, rng)
        return merge_pseudo_labels(dataset_map, self.open_vocabulary(semantic, rng), self.alignment)
