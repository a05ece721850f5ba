"""A whole synthetic Occ3D-nuScenes dataset (`occle synth --layout occ3d`): every scene through
`SurroundSceneWriter`, then the files that describe them all (the mmdetection3d info file, the
nuScenes tables, occle_dataset.yaml).

It sits above `surround` (one scene) and `surround_tables` (the tables of written scenes), so
neither of them imports the other's user.
"""

from __future__ import annotations

import functools
import pickle
from collections.abc import Callable, Sequence
from pathlib import Path

import yaml

from occle_core.data.semantickitti.sequence import DATASET_FILE
from occle_core.data.synthetic.generate import SynthConfig
from occle_core.data.synthetic.surround import (
    INFO_FILE,
    SurroundReport,
    SurroundSceneWriter,
    scene_name,
    surround_rig,
)
from occle_core.data.synthetic.surround_tables import scene_tables, write_tables
from occle_core.io.atomic import atomic_write_bytes


def write_surround_dataset(
    root: str | Path,
    sequences: Sequence[str | int],
    config: SynthConfig,
    progress: Callable[[str, str, int, int], None] = lambda *_: None,
) -> list[SurroundReport]:
    """Generate every scene under `root` in the Occ3D-nuScenes layout, then the info file.

    Args:
        root: dataset root (created).
        sequences: scene numbers (scene-0000, ...).
        config: what to generate.
        progress: called as (scene, stage, done, total).

    Returns:
        One report per scene.
    """
    rig = surround_rig(config.scale)
    root_path = Path(root)
    root_path.mkdir(parents=True, exist_ok=True)
    reports, data_list, tables = [], [], []
    for sequence in sequences:
        writer = SurroundSceneWriter(root_path, sequence, config, rig)
        report, infos = writer.run(functools.partial(progress, writer.scene))
        reports.append(report)
        data_list.extend(infos)
        tables.append(scene_tables(writer))
    write_tables(root_path, tables)
    info_file = {
        "metainfo": {
            "dataset": "occle-synthetic-surround",
            "version": "v1.0-occle",
            "info_version": "1.1",
        },
        "data_list": [{"sample_idx": i, **info} for i, info in enumerate(data_list)],
    }
    atomic_write_bytes(root_path / INFO_FILE, pickle.dumps(info_file, protocol=4))
    description = {
        "generator": "occle synth --layout occ3d",
        "layout": "occ3d",
        "seed": config.seed,
        "scale": config.scale,
        "frames": config.frames,
        "key_every": config.gt_every,
        "scenes": [scene_name(s) for s in sequences],
        "info_file": INFO_FILE,
        "grid": rig.grid.to_dict(),
        "lidar": {k: getattr(rig.lidar, k) for k in rig.lidar.__dataclass_fields__},
        "cameras": [{"name": c.name, "width": c.width, "height": c.height} for c in rig.cameras],
    }
    atomic_write_bytes(
        root_path / DATASET_FILE, yaml.safe_dump(description, sort_keys=False).encode()
    )
    return reports
