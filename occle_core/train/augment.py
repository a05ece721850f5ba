"""Training augmentations (../shared/design/model.md, section 6).

* `flip_y` (student and teacher alike): mirror the scene across the x-z plane. Points and every
  grid flip along y, images and 2D pseudo labels flip horizontally, and each camera is changed so
  that it still projects the flipped points onto the flipped image
  (`occle_core.geometry.mirror`). Needs grids symmetric about y = 0 (SemanticKITTI, Occ3D and
  the tiny grid are).
* `point_dropout`, `color_jitter` (student only): drop a random share of the points, scale the
  image brightness and contrast by random factors; the mean teacher sees the clean sample.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from occle_core.frame import Frame
from occle_core.geometry.grid import GridSpec
from occle_core.geometry.mirror import mirror_frame_y, mirrors_onto_itself
from occle_core.train.dataset import TrainingSample


@dataclass(frozen=True)
class AugmentConfig:
    """Which augmentations training applies.

    Attributes:
        flip_y: mirror half of the samples across the x-z plane (joint, see module docstring).
        point_dropout: share of the points dropped from the student's input (0 disables).
        color_jitter: brightness and contrast factors of the student's images are drawn from
            [1 - j, 1 + j] (0 disables).
    """

    flip_y: bool = False
    point_dropout: float = 0.0
    color_jitter: float = 0.0

    def __post_init__(self) -> None:
        if not 0.0 <= self.point_dropout < 1.0 or not 0.0 <= self.color_jitter < 1.0:
            raise ValueError(
                f"augment: point_dropout {self.point_dropout} and color_jitter "
                f"{self.color_jitter} must be in [0, 1)"
            )

    @property
    def student_only(self) -> bool:
        return self.point_dropout > 0 or self.color_jitter > 0


def flip_sample_y(sample: TrainingSample, grid: GridSpec) -> TrainingSample:
    """The sample mirrored across the x-z plane (y -> -y), with cameras adjusted.

    Raises:
        ValueError: the grid is not symmetric about y = 0, or its y axis is not array axis 1.
    """
    if not mirrors_onto_itself(grid):
        raise ValueError(f"flip_y needs a grid symmetric about y = 0 with y as axis 1: {grid}")
    flipped = mirror_frame_y(sample.frame)

    def mirror(grid_labels: np.ndarray | None) -> np.ndarray | None:
        return None if grid_labels is None else np.ascontiguousarray(grid_labels[:, ::-1])

    return dataclasses.replace(
        sample,
        frame=flipped,
        labels=mirror(sample.labels),
        truth=mirror(sample.truth),
        dense_pseudo=mirror(sample.dense_pseudo),
        image_pseudo=[np.ascontiguousarray(p[:, ::-1]) for p in sample.image_pseudo],
        evidence=np.ascontiguousarray(sample.evidence[:, ::-1]),
        free_space=mirror(sample.free_space),
    )


def student_view(
    sample: TrainingSample, config: AugmentConfig, rng: np.random.Generator
) -> TrainingSample:
    """The student's copy: points dropped and images jittered (labels untouched)."""
    frame = sample.frame
    keep = np.ones(len(frame.points), dtype=bool)
    if config.point_dropout > 0:
        keep = rng.random(len(frame.points)) >= config.point_dropout
    images = frame.images
    if config.color_jitter > 0:
        images = []
        for image in frame.images:
            brightness, contrast = rng.uniform(1 - config.color_jitter, 1 + config.color_jitter, 2)
            pixels = image.astype(np.float32)
            mean = pixels.mean()
            pixels = (pixels - mean) * contrast + mean * brightness
            images.append(np.clip(pixels, 0, 255).astype(np.uint8))
    student = Frame(
        frame.points[keep], images, frame.cameras, frame.pose, frame.time, frame.frame_id
    )
    return dataclasses.replace(sample, frame=student, point_pseudo=sample.point_pseudo[keep])
