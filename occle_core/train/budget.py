"""The voxel-label budget: which ground-truth voxels training may see.

OccLE trains with 10 % of the voxel annotations. The paper does not say how the 10 % are drawn,
so two modes exist (../shared/design/model.md, section 5), plus the two reference points:

* ``frames``: n = max(1, round(ratio * F)) of the F voxel-labelled frames keep their ground
  truth, evenly spaced along the frames of all sequences in order (every k-th, k = F // n, from
  an offset the seed picks); the other frames keep only images, LiDAR and pseudo labels. Counting
  over all sequences, not per sequence, is what makes small ratios exact: 1 % of 40 frames in 4
  sequences is one frame, where "every 100th frame of each sequence" would be four.
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
        everything = [(s, i) for s, frames in self.labelled_frames.items() for i in frames]
        total = len(everything)
        self.kept_frame_count = max(1, round(config.ratio * total)) if total else 0
        self.every = total // self.kept_frame_count if total else 1
        # The offset moves back one frame per seed, so that seeds pick different frames.
        offset = -config.seed % self.every
        self._frames_kept = {
            everything[(j * total // self.kept_frame_count + offset) % total]
            for j in range(self.kept_frame_count)
        }

    def keeps_frame(self, sequence: str, index: int) -> bool:
        """Whether frame `index` of `sequence` contributes any voxel labels."""
        if index not in self.labelled_frames.get(sequence, []):
            return False
        return self.config.mode != "frames" or (sequence, index) in self._frames_kept

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
            "kept_frame_count": self.kept_frame_count if self.config.mode == "frames" else None,
            "sequences": sequences,
            "voxels": {
                "valid_in_visited_frames": valid,
                "kept": kept,
                "kept_share": kept / valid if valid else None,
                "per_frame_kept": dict(sorted(self._kept_voxels.items())),
            },
        }
