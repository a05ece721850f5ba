"""Class alignment between 2D foundation models and a target label set.

A dataset-specific segmenter (e.g. a Cityscapes SegFormer) names its classes; the alignment
table maps each name to a target class. The target classes it lacks are found by an
open-vocabulary route (text-grounded detector + promptable segmenter), each with a prompt and the
parent classes inside which it may appear. Tables: `occle_core/pseudo/resources/alignment_*.yaml`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import resources

import numpy as np
import yaml
from numpy.typing import NDArray

from occle_core.data.nuscenes.occ3d import OCC3D_CLASS_NAMES
from occle_core.data.semantickitti.labels import load_label_config
from occle_core.errors import DataFormatError

IGNORE = 255


@dataclass(frozen=True)
class OpenVocabularyClass:
    """A target class served by the open-vocabulary route.

    Attributes:
        class_id: target id.
        name: target class name.
        prompt: text given to the grounded detector.
        parents: target ids of the dataset-specific map inside which the class is accepted.
    """

    class_id: int
    name: str
    prompt: str
    parents: tuple[int, ...]


@dataclass(frozen=True)
class ClassAlignment:
    """How foundation-model outputs map to a target label set.

    Attributes:
        target: "semantickitti" or "occ3d".
        class_names: target class names by id.
        dataset_specific: segmenter label name -> target id (255: no 3D class, e.g. sky).
        open_vocabulary: classes of the open-vocabulary route, in merge priority order.
        stand_in: target id -> the id a dataset-specific segmenter outputs instead (simulation).
        similar: target id -> ids a segmenter confuses it with (simulation).
    """

    target: str
    class_names: tuple[str, ...]
    dataset_specific: Mapping[str, int]
    open_vocabulary: tuple[OpenVocabularyClass, ...]
    stand_in: Mapping[int, int]
    similar: Mapping[int, tuple[int, ...]]

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def segmenter_lut(self, id2label: Mapping[int, str], source: str) -> NDArray[np.uint8]:
        """A lookup table from a segmenter's class ids to target ids.

        Args:
            id2label: the segmenter's class names (its ``config.id2label``).
            source: the segmenter's name, for errors.

        Raises:
            DataFormatError: a segmenter class the table does not know.
        """
        lut = np.full(max(id2label) + 1 if id2label else 1, IGNORE, dtype=np.uint8)
        for index, name in id2label.items():
            key = name.lower().replace("_", " ").replace("-", " ")
            if key not in self.dataset_specific:
                raise DataFormatError(
                    source,
                    f"segmenter class {name!r} has no entry in the {self.target} alignment table",
                    f"one of {sorted(self.dataset_specific)}",
                )
            lut[int(index)] = self.dataset_specific[key]
        return lut


def _class_id(names: Sequence[str], name: str, where: str) -> int:
    if name not in names:
        raise DataFormatError(where, f"unknown target class {name!r}", f"one of {list(names)}")
    return names.index(name)


def load_alignment(target: str) -> ClassAlignment:
    """The shipped alignment table of "semantickitti" or "occ3d"."""
    if target == "semantickitti":
        names: tuple[str, ...] = tuple(load_label_config().class_names)
    elif target == "occ3d":
        names = tuple(OCC3D_CLASS_NAMES)
    else:
        raise ValueError(f"unknown alignment target {target!r}; use semantickitti or occ3d")
    file = f"alignment_{target}.yaml"
    data = yaml.safe_load(
        resources.files("occle_core.pseudo").joinpath("resources", file).read_text()
    )
    dataset_specific = {
        key.lower(): IGNORE if value is None else _class_id(names, value, file)
        for key, value in data["dataset_specific"].items()
    }
    open_vocabulary = tuple(
        OpenVocabularyClass(
            class_id=_class_id(names, item["class"], file),
            name=item["class"],
            prompt=item["prompt"],
            parents=tuple(_class_id(names, p, file) for p in item["parents"]),
        )
        for item in data["open_vocabulary"]
    )
    stand_in = {
        _class_id(names, k, file): _class_id(names, v, file) for k, v in data["stand_in"].items()
    }
    similar = {
        _class_id(names, k, file): tuple(_class_id(names, v, file) for v in values)
        for k, values in data.get("similar", {}).items()
    }
    return ClassAlignment(target, names, dataset_specific, open_vocabulary, stand_in, similar)
