"""Real 2D foundation models through `transformers`, loaded from local checkpoint folders.

* `SemanticSegmenter`: any `AutoModelForSemanticSegmentation` checkpoint (SegFormer, UperNet,
  DPT, ...) with its image processor; its `config.id2label` names are mapped to the target
  classes by the alignment table (e.g. a Cityscapes SegFormer).
* `GroundedSegmenter`: the open-vocabulary pair. A text-grounded detector (Grounding DINO via
  `AutoModelForZeroShotObjectDetection`) finds boxes for each prompt of the alignment table, and
  a promptable segmenter (SAM via `SamModel`) turns the boxes into masks.
* `FoundationLabeller`: both routes and the Boolean merge, the `PseudoLabeller` of real data.

Nothing is downloaded: folders are read with ``local_files_only=True``. `transformers` is an
optional dependency (the `pseudo` extra); importing this module without it raises an error
that says so.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import torch
from numpy.typing import NDArray
from torch.nn import functional as F

from occle_core.data.source import SequenceSource
from occle_core.errors import DataFormatError
from occle_core.pseudo.alignment import ClassAlignment
from occle_core.pseudo.merge import merge_pseudo_labels


def _transformers() -> Any:
    try:
        import transformers
    except ImportError as error:  # pragma: no cover - depends on the installation
        raise ImportError(
            "the foundation-model pseudo labels need `transformers`: pip install 'occle[pseudo]'"
        ) from error
    return transformers


def _load(kind: str, path: str | os.PathLike[str], loader: Any) -> Any:
    if not Path(path).is_dir():
        raise DataFormatError(path, f"{kind} checkpoint folder not found", "a local folder")
    try:
        return loader.from_pretrained(str(path), local_files_only=True)
    except (OSError, ValueError, KeyError) as error:
        raise DataFormatError(path, f"cannot load the {kind}: {error}") from error


class SemanticSegmenter:
    """The dataset-specific route: per-pixel target classes from a semantic segmentation model.

    Args:
        path: local checkpoint folder (model + image processor).
        alignment: maps the model's class names to target ids.
        device: where the model runs.
    """

    def __init__(
        self, path: str | os.PathLike[str], alignment: ClassAlignment, device: str = "cpu"
    ):
        transformers = _transformers()
        self.processor = _load("image processor", path, transformers.AutoImageProcessor)
        self.model = (
            _load("segmentation model", path, transformers.AutoModelForSemanticSegmentation)
            .to(device)
            .eval()
        )
        self.device = device
        self.lut = torch.from_numpy(
            alignment.segmenter_lut(dict(self.model.config.id2label), str(path)).astype(np.int64)
        )

    @torch.no_grad()
    def __call__(self, image: NDArray[np.uint8]) -> NDArray[np.uint8]:
        """(H, W, 3) RGB image -> (H, W) uint8 target ids (255 = no 3D class, e.g. sky)."""
        inputs = self.processor(images=image, return_tensors="pt").to(self.device)
        logits = self.model(**inputs).logits
        logits = F.interpolate(logits, size=image.shape[:2], mode="bilinear", align_corners=False)
        classes = logits.argmax(dim=1)[0].cpu()
        return self.lut[classes].numpy().astype(np.uint8)


class GroundedSegmenter:
    """The open-vocabulary route: prompt -> boxes (grounded detector) -> masks (SAM).

    Args:
        detector_path: local Grounding DINO folder (model + processor with its tokenizer).
        segmenter_path: local SAM folder (model + processor).
        alignment: the open-vocabulary classes and their prompts.
        box_threshold: minimum box score.
        text_threshold: minimum text-token score.
        device: where the models run.
    """

    def __init__(
        self,
        detector_path: str | os.PathLike[str],
        segmenter_path: str | os.PathLike[str],
        alignment: ClassAlignment,
        box_threshold: float = 0.35,
        text_threshold: float = 0.25,
        device: str = "cpu",
    ):
        transformers = _transformers()
        self.detector_processor = _load(
            "detector processor", detector_path, transformers.AutoProcessor
        )
        self.detector = (
            _load(
                "grounded detector", detector_path, transformers.AutoModelForZeroShotObjectDetection
            )
            .to(device)
            .eval()
        )
        self.sam_processor = _load("SAM processor", segmenter_path, transformers.SamProcessor)
        self.sam = _load("SAM model", segmenter_path, transformers.SamModel).to(device).eval()
        self.alignment = alignment
        self.box_threshold = box_threshold
        self.text_threshold = text_threshold
        self.device = device

    @torch.no_grad()
    def boxes(self, image: NDArray[np.uint8], prompt: str) -> NDArray[np.float32]:
        """(K, 4) pixel boxes (x0, y0, x1, y1) the detector grounds `prompt` to."""
        text = prompt if prompt.endswith(".") else prompt + "."
        inputs = self.detector_processor(images=image, text=text, return_tensors="pt")
        outputs = self.detector(**inputs.to(self.device))
        result = self.detector_processor.post_process_grounded_object_detection(
            outputs,
            inputs["input_ids"],
            threshold=self.box_threshold,
            text_threshold=self.text_threshold,
            target_sizes=[image.shape[:2]],
        )[0]
        return result["boxes"].cpu().numpy().astype(np.float32).reshape(-1, 4)

    @torch.no_grad()
    def masks(self, image: NDArray[np.uint8], boxes: NDArray[np.float32]) -> NDArray[np.bool_]:
        """Union of SAM's masks for the boxes: (H, W) bool."""
        union = np.zeros(image.shape[:2], dtype=bool)
        if len(boxes) == 0:
            return union
        inputs = self.sam_processor(
            images=image, input_boxes=[boxes.tolist()], return_tensors="pt"
        ).to(self.device)
        outputs = self.sam(**inputs, multimask_output=False)
        masks = self.sam_processor.post_process_masks(
            outputs.pred_masks.cpu(),
            inputs["original_sizes"].cpu(),
            inputs["reshaped_input_sizes"].cpu(),
        )[0]
        return union | masks.reshape(-1, *image.shape[:2]).any(dim=0).numpy()

    def __call__(self, image: NDArray[np.uint8]) -> dict[int, NDArray[np.bool_]]:
        """Target id -> (H, W) mask for every open-vocabulary class found in the image."""
        found = {}
        for item in self.alignment.open_vocabulary:
            mask = self.masks(image, self.boxes(image, item.prompt))
            if mask.any():
                found[item.class_id] = mask
        return found


class FoundationLabeller:
    """Pseudo labels of real images: dataset-specific map + open-vocabulary masks, merged.

    Args:
        segmenter: the dataset-specific route.
        grounded: the open-vocabulary route (None: dataset-specific classes only).
    """

    name = "foundation-models"

    def __init__(self, segmenter: SemanticSegmenter, grounded: GroundedSegmenter | None):
        self.segmenter = segmenter
        self.grounded = grounded

    def __call__(self, image: NDArray[np.uint8]) -> NDArray[np.uint8]:
        """(H, W, 3) RGB -> (H, W) uint8 merged pseudo labels (255 = unknown)."""
        dataset_map = self.segmenter(image)
        if self.grounded is None:
            return dataset_map
        alignment = self.grounded.alignment
        return merge_pseudo_labels(dataset_map, self.grounded(image), alignment)

    def label(
        self, sequence: SequenceSource, index: int, camera: str, image: NDArray[np.uint8]
    ) -> NDArray[np.uint8]:
        return self(image)
