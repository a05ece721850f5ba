"""Which samples one training epoch visits, and how often.

With 10 % of the frames labelled, a plain pass over the data shows the network a voxel label on
one step in ten; the other nine carry only pseudo labels and the LiDAR geometry. Semi-supervised
segmentation usually mixes labelled and unlabelled data in fixed proportions instead; here that
is `data.labelled_repeat`: every frame whose voxel labels the budget keeps is visited that many
times per epoch, every other frame once. `data.unlabelled_frames: false` leaves the other frames
out: the labels-alone baseline has no pseudo labels, so a step on such a frame has no loss (and
yet leaving them out measured worse: docs/training.md). The trainer shuffles with the epoch's seed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence


def epoch_items(
    items: Sequence[tuple[str, int]],
    keeps_labels: Callable[[str, int], bool],
    labelled_repeat: int = 1,
    unlabelled_frames: bool = True,
) -> list[int]:
    """The dataset indices one epoch visits, in dataset order (before shuffling).

    Args:
        items: the dataset's samples as (sequence, frame index), in dataset order.
        keeps_labels: whether the label budget keeps the voxel labels of (sequence, frame).
        labelled_repeat: visits per epoch of each sample with kept labels (>= 1).
        unlabelled_frames: whether samples without kept labels are visited (once each).

    Returns:
        indices into `items`; a labelled sample's index appears `labelled_repeat` times.

    Raises:
        ValueError: `labelled_repeat` < 1, or no sample left to visit.
    """
    if labelled_repeat < 1:
        raise ValueError(f"data.labelled_repeat must be >= 1, got {labelled_repeat}")
    indices: list[int] = []
    for index, (sequence, frame) in enumerate(items):
        if keeps_labels(sequence, frame):
            indices.extend([index] * labelled_repeat)
        elif unlabelled_frames:
            indices.append(index)
    if not indices and not unlabelled_frames:
        raise ValueError(
            "data.unlabelled_frames is false but the label budget keeps the labels of no "
            f"training frame ({len(items)} frames): nothing to train on"
        )
    return indices
