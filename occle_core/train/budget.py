"""The voxel-label budget: which ground-truth voxels training may see.

OccLE trains with 10 % of the voxel annotations. The paper does not say how the 10 % are drawn,
so two modes exist (../shared/design/model.md, section 5), plus the two reference points:

* ``frames``: every k-th voxel-labelled frame of each sequence (k = round(1 / ratio)) keeps its
  ground truth; the other frames keep only images, LiDAR and pseudo labels.
* ``voxels``: every labelled frame keeps a class-stratified random share `ratio` of its valid
  ground-truth voxels (at least one voxel of every class present).
* ``all``: every label (the fully supervised upper bound).

The draw depends only on (seed, sequence, frame), so it is reproducible and independent of the
order in which frames are visited. `LabelBudget.manifest` records the split for the run folder.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

IGNORE = 255


@dataclass(frozen=True)
class LabelBudgetConfig:
    """How much voxel ground truth training sees.

    Attributes:
        mode: "frames", "voxels" or "all" (see the module docstring).
        ratio: share of labelled frames or voxels, in (0, 1].
        seed: seed of the draw.
    """

    mode: Literal["frames", "voxels", "all"] = "frames"
    ratio: float = 0.1
    seed: int = 0

    def __post_init__(self) -> None:
        if not 0.0 < self.ratio <= 1.0:
            raise ValueError(f"label budget ratio {self.ratio} must be in (0, 1]")


def _frame_seed(seed: int, sequence: str, index: int) -> int:
    digest = hashlib.sha256(f"{seed}/{sequence}/{index}".encode()).digest()
    return int.from_bytes(digest[:8], "little")


class LabelBudget:
    """Applies a `LabelBudgetConfig` to the voxel-labelled frames of some sequences.

    Args:
        config: the budget.
        labelled_frames: sequence -> sorted indices of its frames with voxel ground truth.
    """

    def __init__(self, config: LabelBudgetConfig, labelled_frames: Mapping[str, Sequence[int]]):
        self.config = config
        self.labelled_frames = {s: sorted(int(i) for i in f) for s, f in labelled_frames.items()}
        self._kept_voxels: dict[str, int] = {}
        self._valid_voxels: dict[str, int] = {}

    @property
    def every(self) -> int:
        """k of the frames mode: one labelled frame in k keeps its ground truth."""
        return max(1, round(1.0 / self.config.ratio))

    def keeps_frame(self, sequence: str, index: int) -> bool:
        """Whether frame `index` of `sequence` contributes any voxel labels."""
        frames = self.labelled_frames.get(sequence, [])
        if index not in frames:
            return False
        if self.config.mode != "frames":
            return True
        # The offset rotates with the seed so that different seeds pick different frames.
        return (frames.index(index) + self.config.seed) % self.every == 0

    def kept_frames(self, sequence: str) -> list[int]:
        return [i for i in self.labelled_frames.get(sequence, []) if self.keeps_frame(sequence, i)]

    def apply(self, sequence: str, index: int, labels: NDArray[np.uint8]) -> NDArray[np.uint8]:
        """The labels training may use for this frame: the rest set to 255 (ignored).

        Args:
            sequence, index: the frame.
            labels: (X, Y, Z) uint8 ground truth in training ids, 255 = ignored already.

        Returns:
            A new array; all 255 where the frame keeps no labels.
        """
        if not self.keeps_frame(sequence, index):
            kept = np.full_like(labels, IGNORE)
        elif self.config.mode != "voxels":
            kept = labels.copy()
        else:
            kept = self._stratified(labels, _frame_seed(self.config.seed, sequence, index))
        key = f"{sequence}/{index:06d}"
        self._valid_voxels[key] = int(np.count_nonzero(labels != IGNORE))
        self._kept_voxels[key] = int(np.count_nonzero(kept != IGNORE))
        return kept

    def _stratified(self, labels: NDArray[np.uint8], seed: int) -> NDArray[np.uint8]:
        rng = np.random.default_rng(seed)
        flat = labels.reshape(-1)
        kept = np.full_like(flat, IGNORE)
        for label in np.unique(flat):
            if label == IGNORE:
                continue
            where = np.flatnonzero(flat == label)
            count = max(1, round(self.config.ratio * where.size))
            chosen = rng.choice(where, size=count, replace=False)
            kept[chosen] = label
        return kept.reshape(labels.shape)

    def manifest(self) -> dict[str, Any]:
        """The split, for `label_budget.json` in the run folder."""
        sequences = {}
        for sequence, frames in self.labelled_frames.items():
            sequences[sequence] = {
                "labelled_frames": len(frames),
                "kept_frames": self.kept_frames(sequence),
            }
        valid = sum(self._valid_voxels.values())
        kept = sum(self._kept_voxels.values())
        return {
            "mode": self.config.mode,
            "ratio": self.config.ratio,
            "seed": self.config.seed,
            "every": self.every if self.config.mode == "frames" else None,
            "sequences": sequences,
            "voxels": {
                "valid_in_visited_frames": valid,
                "kept": kept,
                "kept_share": kept / valid if valid else None,
                "per_frame_kept": dict(sorted(self._kept_voxels.items())),
            },
        }
