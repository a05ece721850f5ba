"""The official SemanticKITTI label configuration: raw ids, the 19-class learning map, colours."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np
import yaml
from numpy.typing import NDArray

from occle_core.errors import DataFormatError

IGNORE = 255
_REQUIRED_KEYS = (
    "labels",
    "color_map",
    "content",
    "learning_map",
    "learning_map_inv",
    "learning_ignore",
    "split",
)


@dataclass(frozen=True)
class SemanticKittiLabels:
    """Label definitions of SemanticKITTI (the content of `semantic-kitti.yaml`).

    Attributes:
        raw_names: raw label id -> name (e.g. 10 -> "car", 252 -> "moving-car").
        color_map_bgr: raw label id -> BGR colour, as the official file stores it.
        content: raw label id -> share of all points.
        learning_map: raw id -> training class (0 = unlabeled/empty, 1..19).
        learning_map_inv: training class -> raw id.
        learning_ignore: training class -> ignored in point-wise evaluation.
        split: "train" / "valid" / "test" -> sequence numbers.
        source: file the configuration was read from.
    """

    raw_names: dict[int, str]
    color_map_bgr: dict[int, tuple[int, int, int]]
    content: dict[int, float]
    learning_map: dict[int, int]
    learning_map_inv: dict[int, int]
    learning_ignore: dict[int, bool]
    split: dict[str, list[int]]
    source: str = "<package>"

    @property
    def num_classes(self) -> int:
        """Number of training classes including class 0 (20 for the official config)."""
        return len(self.learning_map_inv)

    @property
    def empty_label(self) -> int:
        """The training class of empty voxels (0)."""
        return 0

    @property
    def class_names(self) -> tuple[str, ...]:
        """Name of each training class; class 0 is called "empty" (its meaning for voxels)."""
        names = [self.raw_names[self.learning_map_inv[c]] for c in range(self.num_classes)]
        names[0] = "empty"
        return tuple(names)

    def class_colors_rgb(self) -> NDArray[np.uint8]:
        """(num_classes, 3) uint8 RGB colour of each training class (official colours)."""
        bgr = [self.color_map_bgr[self.learning_map_inv[c]] for c in range(self.num_classes)]
        return np.asarray(bgr, dtype=np.uint8)[:, ::-1].copy()

    def learning_lut(self, completion: bool = True) -> NDArray[np.int64]:
        """Lookup table raw id -> training class, as semantic-kitti-api builds it.

        Args:
            completion: for voxels (SSC), raw 0 means "empty" and stays 0, while every other raw
                id that maps to class 0 (outlier, other-structure, other-object) becomes 255
                (ignored), exactly like `evaluate_completion.py`. For points, False keeps them 0.

        Returns:
            (max_raw_id + 100,) int64 table; ids never listed map to 255 (completion) or 0.
        """
        size = max(self.learning_map) + 100
        lut = np.zeros(size, dtype=np.int64)
        keys = np.fromiter(self.learning_map.keys(), dtype=np.int64)
        values = np.fromiter(self.learning_map.values(), dtype=np.int64)
        lut[keys] = values
        if completion:
            lut[lut == 0] = IGNORE
            lut[0] = 0
        return lut

    def inverse_lut(self) -> NDArray[np.uint16]:
        """(256,) uint16 table training class -> raw id (unlisted classes -> raw 0)."""
        lut = np.zeros(256, dtype=np.uint16)
        for cls, raw in self.learning_map_inv.items():
            lut[cls] = raw
        return lut

    def to_learning(
        self, raw: NDArray[np.integer], source: str, completion: bool = True
    ) -> NDArray[np.uint8]:
        """Map raw ids to training classes (255 = ignored).

        Raises:
            DataFormatError: naming `source`, if a raw id is not in the label definitions.
        """
        known = np.zeros(max(self.learning_map) + 1, dtype=bool)
        known[list(self.learning_map)] = True
        raw64 = raw.astype(np.int64, copy=False)
        bad = (raw64 < 0) | (raw64 >= known.size)
        bad[~bad] = ~known[raw64[~bad]]
        if bad.any():
            unknown = np.unique(raw64[bad])[:10].tolist()
            raise DataFormatError(
                source,
                f"unknown raw label ids {unknown}",
                f"ids from learning_map {sorted(self.learning_map)}",
            )
        return self.learning_lut(completion)[raw64].astype(np.uint8)


def _int_keys(mapping: dict, key: str, source: str) -> dict:
    try:
        return {int(k): v for k, v in mapping.items()}
    except (TypeError, ValueError, AttributeError) as error:
        raise DataFormatError(
            source, f"'{key}' is not a mapping of integer ids ({error})"
        ) from None


def parse_label_config(data: object, source: str) -> SemanticKittiLabels:
    """Validate a parsed `semantic-kitti.yaml` and build the typed configuration."""
    if not isinstance(data, dict):
        raise DataFormatError(source, "label configuration is not a YAML mapping")
    missing = [key for key in _REQUIRED_KEYS if key not in data]
    if missing:
        raise DataFormatError(source, f"missing keys {missing}", f"all of {list(_REQUIRED_KEYS)}")
    learning_map = {
        k: int(v) for k, v in _int_keys(data["learning_map"], "learning_map", source).items()
    }
    inverse = {
        k: int(v)
        for k, v in _int_keys(data["learning_map_inv"], "learning_map_inv", source).items()
    }
    if sorted(inverse) != list(range(len(inverse))):
        raise DataFormatError(source, "learning_map_inv keys are not 0..C-1")
    names = {k: str(v) for k, v in _int_keys(data["labels"], "labels", source).items()}
    colours = {
        k: (int(v[0]), int(v[1]), int(v[2]))
        for k, v in _int_keys(data["color_map"], "color_map", source).items()
    }
    for raw in list(learning_map) + list(inverse.values()):
        if raw not in names or raw not in colours:
            raise DataFormatError(source, f"raw id {raw} has no name or colour")
    return SemanticKittiLabels(
        raw_names=names,
        color_map_bgr=colours,
        content={k: float(v) for k, v in _int_keys(data["content"], "content", source).items()},
        learning_map=learning_map,
        learning_map_inv=inverse,
        learning_ignore={
            k: bool(v)
            for k, v in _int_keys(data["learning_ignore"], "learning_ignore", source).items()
        },
        split={str(k): [int(s) for s in v] for k, v in data["split"].items()},
        source=source,
    )


@functools.lru_cache(maxsize=8)
def load_label_config(path: str | Path | None = None) -> SemanticKittiLabels:
    """Load the label configuration: the packaged official one, or a user file in the same format.

    Args:
        path: a `semantic-kitti.yaml`; None for the copy shipped with occle_core.
    """
    if path is None:
        text = (
            resources.files("occle_core.data").joinpath("resources/semantic-kitti.yaml").read_text()
        )
        source = "occle_core/data/resources/semantic-kitti.yaml"
    else:
        source = str(path)
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as error:
            raise DataFormatError(
                source, f"cannot read label configuration ({error.strerror})"
            ) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise DataFormatError(source, f"invalid YAML ({error})") from None
    return parse_label_config(data, source)
