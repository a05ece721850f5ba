"""How good pseudo labels are: IoU per class against exact labels (synthetic scenes)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

IGNORE = 255


class LabelAgreement:
    """Confusion matrix of pseudo labels against ground truth.

    Args:
        class_names: names by class id.
        skip: class ids left out of the scores (e.g. 0 = empty, which pseudo labels never say).
    """

    def __init__(self, class_names: Sequence[str], skip: Sequence[int] = ()):
        self.class_names = tuple(class_names)
        self.skip = set(skip)
        n = len(self.class_names)
        self.matrix = np.zeros((n, n), dtype=np.int64)  # rows = ground truth, columns = pseudo
        self.unlabelled = 0

    def add(self, pseudo: NDArray[np.uint8], truth: NDArray[np.uint8]) -> None:
        """Count pixels or points where the ground truth has a class (not 255)."""
        n = len(self.class_names)
        keep = truth != IGNORE
        labelled = keep & (pseudo != IGNORE)
        self.unlabelled += int(np.count_nonzero(keep & (pseudo == IGNORE)))
        pairs = truth[labelled].astype(np.int64) * n + pseudo[labelled]
        self.matrix += np.bincount(pairs, minlength=n * n).reshape(n, n)

    @property
    def counted(self) -> bool:
        """Whether any ground-truth-labelled pixel or point was added."""
        return int(self.matrix.sum()) + self.unlabelled > 0

    def iou(self) -> dict[str, float]:
        """IoU per class present in the ground truth or the pseudo labels (0..1)."""
        tp = np.diag(self.matrix)
        union = self.matrix.sum(0) + self.matrix.sum(1) - tp
        return {
            name: float(tp[c] / union[c])
            for c, name in enumerate(self.class_names)
            if union[c] > 0 and c not in self.skip
        }

    def miou(self) -> float:
        values = list(self.iou().values())
        return float(np.mean(values)) if values else float("nan")

    def coverage(self) -> float:
        """Share of ground-truth-labelled pixels or points that got a pseudo label."""
        total = int(self.matrix.sum()) + self.unlabelled
        return float(self.matrix.sum() / total) if total else float("nan")
