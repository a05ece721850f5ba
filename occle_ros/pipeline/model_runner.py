"""The model side of the pipeline: device choice, checkpoint loading, one Frame -> grid."""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
from dataclasses import dataclass

import numpy as np
import torch
from numpy.typing import NDArray

from occle_core.frame import Frame
from occle_core.model.checkpoint import check_model_config, load_checkpoint
from occle_core.model.config import OccLEConfig
from occle_core.model.inputs import PixelMapCache, prepare_inputs
from occle_core.model.occle import OccLE
from occle_core.occupancy import OccupancyGrid
from occle_core.train.trainer import resolve_device as resolve_training_device

logger = logging.getLogger("occle_ros")


def resolve_device(requested: str) -> tuple[torch.device, str | None]:
    """The torch device for a `model.device` parameter, and a warning when it falls back.

    "auto" picks CUDA when available; "cuda"/"cuda:N" without CUDA falls back to the CPU with a
    warning (a robot without its GPU should still publish, slowly); anything else is an error.
    """
    if requested != "cpu" and requested != "auto" and not requested.startswith("cuda"):
        raise ValueError(f"model.device={requested!r}: expected 'auto', 'cpu', 'cuda' or 'cuda:N'")
    if requested.startswith("cuda") and not torch.cuda.is_available():
        return torch.device("cpu"), (
            f"model.device={requested}: CUDA is not available, running on the CPU "
            "(expect seconds per frame at full resolution)"
        )
    return resolve_training_device(requested), None


def default_class_names(config: OccLEConfig) -> tuple[str, ...]:
    """Class names of the model's label set: SemanticKITTI (20 classes, empty 0), Occ3D (18,
    free 17), else "class_<i>"."""
    from occle_core.data.nuscenes.occ3d import OCC3D_CLASS_NAMES, OCC3D_FREE
    from occle_core.data.semantickitti.labels import load_label_config

    kitti = load_label_config().class_names
    if config.num_classes == len(kitti) and config.empty_label == 0:
        return kitti
    if config.num_classes == len(OCC3D_CLASS_NAMES) and config.empty_label == OCC3D_FREE:
        return OCC3D_CLASS_NAMES
    return tuple(f"class_{i}" for i in range(config.num_classes))


@dataclass
class Prediction:
    """labels: (X, Y, Z) uint8 classes; confidence: same shape uint8 or None."""

    labels: NDArray[np.uint8]
    confidence: NDArray[np.uint8] | None


class ModelRunner:
    """An OccLE model on a device, turning Frames into class grids.

    Args:
        model: the network (moved to `device`, put in eval mode).
        device: where it runs.
        amp: "off", "bf16" or "fp16" autocast (CUDA only; ignored on CPU).
    """

    def __init__(self, model: OccLE, device: torch.device, amp: str = "off"):
        self.model = model.to(device).eval()
        self.config = model.config
        self.device = device
        self.amp = amp
        self.class_names = default_class_names(model.config)
        self._pixel_maps = PixelMapCache(model.config)

    @classmethod
    def from_checkpoint(
        cls, checkpoint: str, config: str = "", device: str = "auto", amp: str = "off"
    ) -> ModelRunner:
        """Load a checkpoint (and check it against `config` when one is named)."""
        if not checkpoint:
            raise ValueError("model.checkpoint is empty: give the OccLE checkpoint to run")
        torch_device, warning = resolve_device(device)
        if warning:
            logger.warning(warning)
        model, _ = load_checkpoint(checkpoint, torch_device)
        if config:
            check_model_config(checkpoint, model.config, config)
        return cls(model, torch_device, amp)

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

    @torch.no_grad()
    def predict(self, frame: Frame, confidence: bool = False) -> Prediction:
        """Classes (and optionally confidences) of every voxel of the model grid."""
        inputs = prepare_inputs([frame], self.config, self._pixel_maps, device=self.device)
        autocast = contextlib.nullcontext()
        if self.amp != "off" and self.device.type == "cuda":
            dtype = torch.bfloat16 if self.amp == "bf16" else torch.float16
            autocast = torch.autocast("cuda", dtype=dtype)  # type: ignore[assignment]
        with autocast:
            out = self.model(inputs)
        labels = out.labels()[0].to("cpu").numpy().astype(np.uint8)
        scores = None
        if confidence:
            probability = torch.softmax(out.logits[0].float(), dim=0).amax(dim=0)
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
