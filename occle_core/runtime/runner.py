"""`ModelRunner`: an OccLE model on a device, turning Frames into class grids."""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from numpy.typing import NDArray

from occle_core.data.source import SequenceSource
from occle_core.frame import Frame
from occle_core.geometry.aggregate import aggregated_frame
from occle_core.geometry.mirror import mirror_frame_y, mirrors_onto_itself
from occle_core.model.checkpoint import check_model_config, legacy_class_names, load_checkpoint
from occle_core.model.inputs import OccLEInputs, PixelMapCache, prepare_inputs
from occle_core.model.occle import OccLE, OccLEOutput
from occle_core.occupancy import OccupancyGrid
from occle_core.runtime.device import resolve_device

logger = logging.getLogger("occle")


@dataclass
class Prediction:
    """labels: (X, Y, Z) uint8 classes; confidence: same shape uint8 (0..255 = softmax
    probability 0..1 of the predicted class: the largest one, unless the class-prior correction
    picked a rarer class) or None."""

    labels: NDArray[np.uint8]
    confidence: NDArray[np.uint8] | None


def mirrored_occupancy(
    logits: torch.Tensor, mirrored_logits: torch.Tensor, empty_label: int
) -> torch.Tensor:
    """(B, X, Y, Z) bool: the voxels whose mean logits over a frame and its y-mirror (mapped
    back) do not pick the empty class.

    Averaging the two passes cancels much of the over-filled space a model trained on noisy
    dense pseudo labels predicts next to objects; averaged class scores would also blur the
    small classes (measured in docs/training.md, lever 15), so the class of each
    voxel stays the frame's own.

    Args:
        logits: (B, M, X, Y, Z) logits of the frame.
        mirrored_logits: (B, M, X, Y, Z) logits of its y-mirror (`mirror_frame_y`), y along
            dimension 3 as in the frame's grid.
        empty_label: the empty class.
    """
    mean = 0.5 * (logits + mirrored_logits.flip(3))
    return mean.argmax(dim=1) != empty_label


class ModelRunner:
    """An OccLE model on a device, turning Frames into class grids.

    Args:
        model: the network (moved to `device`, put in eval mode).
        device: where it runs.
        amp: "off", "bf16" or "fp16" autocast (CUDA only; ignored on the CPU).
        mirror_occupancy: decide which voxels are occupied from the frame and its y-mirror
            together (`mirrored_occupancy`; two forward passes per frame), the class of each
            occupied voxel from the frame alone. Needs a grid symmetric about y = 0.

    Raises:
        ConfigError: `mirror_occupancy` with a grid that is not symmetric about y = 0.
    """

    def __init__(
        self, model: OccLE, device: torch.device, amp: str = "off", mirror_occupancy: bool = False
    ):
        from occle_core.errors import ConfigError

        grid = model.config.grid
        if mirror_occupancy and not mirrors_onto_itself(grid):
            raise ConfigError(
                "model.mirror_occupancy",
                f"true with a grid from y = {grid.origin[1]} to {grid.upper[1]} "
                f"(axes {grid.axis_order})",
                "a grid symmetric about y = 0 with y as its second axis, or false",
            )
        self.model = model.to(device).eval()
        self.config = model.config
        self.device = device
        self.amp = amp
        self.mirror_occupancy = mirror_occupancy
        self.class_names = model.config.class_names or legacy_class_names(model.config)
        self._pixel_maps = PixelMapCache(model.config)

    @classmethod
    def from_checkpoint(
        cls,
        checkpoint: str | os.PathLike[str],
        config: str = "",
        device: str = "auto",
        amp: str = "off",
        fallback: bool = False,
        mirror_occupancy: bool = False,
    ) -> ModelRunner:
        """Load a checkpoint (its model configuration travels inside it), checked against
        `config` when one is named, on `device` (see `resolve_device`; `fallback`: the CPU, with
        a warning, when CUDA is missing); `mirror_occupancy` as in the constructor.

        Raises:
            ConfigError: no checkpoint named, or a device that cannot be used.
            DataFormatError: an unreadable checkpoint, or one that is not `config`.
        """
        from occle_core.errors import ConfigError

        if not str(checkpoint):
            raise ConfigError("model.checkpoint", "empty", "the OccLE checkpoint to run")
        choice = resolve_device(device, "model.device", fallback=fallback)
        if choice.warning:
            logger.warning(choice.warning)
        model, _ = load_checkpoint(checkpoint, choice.device)
        if config:
            check_model_config(checkpoint, model.config, config)
        return cls(model, choice.device, amp, mirror_occupancy)

    # --- one frame ---------------------------------------------------------------------------
    def prepare(self, frame: Frame) -> OccLEInputs:
        """The network's inputs for one frame (voxelisation, image resize, pixel maps)."""
        return prepare_inputs([frame], self.config, self._pixel_maps, device=self.device)

    @torch.no_grad()
    def forward(self, inputs: OccLEInputs) -> OccLEOutput:
        """The network on prepared inputs, under the configured autocast."""
        autocast = contextlib.nullcontext()
        if self.amp != "off" and self.device.type == "cuda":
            dtype = torch.bfloat16 if self.amp == "bf16" else torch.float16
            autocast = torch.autocast("cuda", dtype=dtype)  # type: ignore[assignment]
        with autocast:
            return self.model(inputs)

    def predict(self, frame: Frame, confidence: bool = False) -> Prediction:
        """Classes (and optionally confidences) of every voxel of the model grid."""
        out = self.forward(self.prepare(frame))
        occupied = None
        if self.mirror_occupancy:
            mirrored = self.forward(self.prepare(mirror_frame_y(frame)))
            occupied = mirrored_occupancy(out.logits, mirrored.logits, self.config.empty_label)
        chosen = out.labels(occupied=occupied)[0]
        labels = chosen.to("cpu").numpy().astype(np.uint8)
        scores = None
        if confidence:
            probabilities = torch.softmax(out.logits[0].float(), dim=0)
            probability = probabilities.gather(0, chosen.unsqueeze(0)).squeeze(0)
            scores = (probability * 255).round().to(torch.uint8).cpu().numpy()
        return Prediction(labels, scores)

    def grid(
        self, prediction: Prediction, stamp: float, frame_id: str, grid_frame: str = ""
    ) -> OccupancyGrid:
        """The prediction as an `OccupancyGrid` in the model's grid frame (named `grid_frame`
        in TF when given, else the model configuration's `grid.frame_id`)."""
        spec = self.config.grid
        return OccupancyGrid(
            grid=dataclasses.replace(spec, frame_id=grid_frame) if grid_frame else spec,
            labels=prediction.labels,
            class_names=self.class_names,
            empty_label=self.config.empty_label,
            confidence=prediction.confidence,
            stamp=stamp,
            frame_id=frame_id,
        )

    # --- datasets ----------------------------------------------------------------------------
    def predict_sequence(
        self, sequence: SequenceSource, indices: Sequence[int], scans: int = 3
    ) -> Iterator[tuple[int, NDArray[np.uint8]]]:
        """(index, (X, Y, Z) uint8 classes) of each frame, with `scans` scans aggregated (the
        earlier ones moved into its frame by their poses)."""
        for index in indices:
            yield index, self.predict(aggregated_frame(sequence, index, scans)).labels

    # --- resources ---------------------------------------------------------------------------
    def use_cpu_threads(self, requested: int) -> int:
        """Set torch's CPU threads (process-wide): `requested`, or all cores but one for 0.
        Returns the count."""
        threads = requested or max((os.cpu_count() or 1) - 1, 1)
        torch.set_num_threads(threads)
        return threads

    def cpu_threads(self) -> int:
        """torch's CPU threads now."""
        return int(torch.get_num_threads())

    def release_device_memory(self) -> None:
        """Return the GPU's cached blocks to the driver (a deactivated node holds no cache)."""
        if self.device.type == "cuda":
            torch.cuda.empty_cache()
