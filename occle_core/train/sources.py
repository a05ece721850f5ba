"""Opening the training data's sequences in the layout the configuration names."""

from __future__ import annotations

from collections.abc import Sequence

from occle_core.data.semantickitti.sequence import SemanticKittiSequence
from occle_core.data.source import SequenceSource
from occle_core.train.config import DataConfig


def open_sequences(data: DataConfig, names: Sequence[str]) -> list[SequenceSource]:
    """The named sequences of `data.root` in `data.layout` (Occ3D: scenes of the info file)."""
    if data.layout == "occ3d":
        from occle_core.data.nuscenes.scene import open_occ3d_scenes

        return list(
            open_occ3d_scenes(data.root, data.info_file, list(names), data.sweeps, data.mask)
        )
    return [SemanticKittiSequence(data.root, name) for name in names]
