"""The Boolean merge of the dataset-specific map and the open-vocabulary masks."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from numpy.typing import NDArray

from occle_core.pseudo.alignment import ClassAlignment


def merge_pseudo_labels(
    dataset_map: NDArray[np.uint8],
    open_vocabulary_masks: Mapping[int, NDArray[np.bool_]],
    alignment: ClassAlignment,
) -> NDArray[np.uint8]:
    """One pseudo-label map s̄ in the target label set.

    Start from the dataset-specific map (target ids, 255 = unknown). For each open-vocabulary
    class in the alignment's priority order, set s̄ = class where its mask AND one of its parent
    classes (in the dataset-specific map) hold, unless a higher-priority class took the pixel.

    Args:
        dataset_map: (H, W) uint8 target ids from the dataset-specific segmenter.
        open_vocabulary_masks: target id -> (H, W) bool mask from the open-vocabulary route;
            classes without a mask are skipped.
        alignment: the class alignment (priorities and parents).

    Returns:
        (H, W) uint8 merged map.
    """
    merged = dataset_map.copy()
    taken = np.zeros(dataset_map.shape, dtype=bool)
    for item in alignment.open_vocabulary:
        mask = open_vocabulary_masks.get(item.class_id)
        if mask is None:
            continue
        if mask.shape != dataset_map.shape:
            raise ValueError(
                f"merge_pseudo_labels: mask of {item.name} is {mask.shape}, map is "
                f"{dataset_map.shape}"
            )
        accept = mask & np.isin(dataset_map, item.parents) & ~taken
        merged[accept] = item.class_id
        taken |= accept
    return merged
