"""Occ3D-nuScenes ground truth (`labels.npz`) and predictions (`<token>.npz`)."""

from __future__ import annotations

import io
import os
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from occle_core.errors import DataFormatError
from occle_core.geometry.grid import OCC3D_GRID
from occle_core.io.atomic import atomic_write_bytes
from occle_core.io.binary import read_bytes
from occle_core.occupancy import OccupancyGrid

Path_ = str | os.PathLike[str]

#: Occ3D-nuScenes classes in index order (17 = free space).
OCC3D_CLASS_NAMES: tuple[str, ...] = (
    "others",
    "barrier",
    "bicycle",
    "bus",
    "car",
    "construction_vehicle",
    "motorcycle",
    "pedestrian",
    "traffic_cone",
    "trailer",
    "truck",
    "driveable_surface",
    "other_flat",
    "sidewalk",
    "terrain",
    "manmade",
    "vegetation",
    "free",
)
OCC3D_FREE = 17

#: Display colours (RGB), following the nuScenes-lidarseg palette of the same categories.
OCC3D_COLORS_RGB: NDArray[np.uint8] = np.array(
    [
        [0, 0, 0],
        [112, 128, 144],
        [220, 20, 60],
        [255, 127, 80],
        [255, 158, 0],
        [233, 150, 70],
        [255, 61, 99],
        [0, 0, 230],
        [47, 79, 79],
        [255, 140, 0],
        [255, 99, 71],
        [0, 207, 191],
        [175, 0, 75],
        [75, 0, 75],
        [112, 180, 60],
        [222, 184, 135],
        [0, 175, 0],
        [255, 255, 255],
    ],
    dtype=np.uint8,
)

_GT_KEYS = ("semantics", "mask_lidar", "mask_camera")


@dataclass(frozen=True)
class Occ3DLabels:
    """Occ3D ground truth of one sample, indexed [x, y, z] in the ego frame (OCC3D_GRID).

    Attributes:
        semantics: (200, 200, 16) uint8 classes 0..17 (17 = free).
        mask_lidar: (200, 200, 16) bool, voxels observed by the LiDAR.
        mask_camera: (200, 200, 16) bool, voxels visible in the cameras (the evaluation mask).
    """

    semantics: NDArray[np.uint8]
    mask_lidar: NDArray[np.bool_]
    mask_camera: NDArray[np.bool_]

    def to_grid(self, frame_id: str = "") -> OccupancyGrid:
        return OccupancyGrid(
            grid=OCC3D_GRID,
            labels=self.semantics,
            class_names=OCC3D_CLASS_NAMES,
            empty_label=OCC3D_FREE,
            frame_id=frame_id,
        )


@dataclass(frozen=True)
class Occ3DSample:
    """Where one ground-truth sample lives: `GTS/<scene>/<token>/labels.npz`."""

    scene: str
    token: str
    path: Path


def _load_npz(path: Path_, what: str) -> dict[str, NDArray]:
    data = read_bytes(path, what)
    try:
        loaded = np.load(io.BytesIO(data), allow_pickle=False)
        if not isinstance(loaded, np.lib.npyio.NpzFile):
            raise DataFormatError(path, "is a single .npy array, not an .npz archive", what)
        with loaded as archive:
            arrays = {key: archive[key] for key in archive.files}
    except (
        zipfile.BadZipFile,
        zlib.error,
        ValueError,
        OSError,
        EOFError,
        KeyError,
        NotImplementedError,
    ) as error:
        # Damaged archives surface as any of these from zipfile / zlib / numpy's format reader.
        if "allow_pickle" in str(error):
            # numpy's own wording would suggest loading pickles, which occle never does.
            raise DataFormatError(
                path, "a member is not a plain numeric array (damaged, or pickled objects)", what
            ) from None
        raise DataFormatError(path, f"not a readable .npz archive ({error})", what) from None
    for key, value in arrays.items():
        if not isinstance(value, np.ndarray):
            raise DataFormatError(path, f"member {key!r} is not a .npy array", what)
    return arrays


def _check_grid(path: Path_, key: str, array: NDArray, shape: tuple[int, ...]) -> None:
    if array.shape != shape:
        raise DataFormatError(path, f"'{key}' has shape {array.shape}", f"{shape}")
    if not (np.issubdtype(array.dtype, np.integer) or array.dtype == np.bool_):
        raise DataFormatError(path, f"'{key}' has dtype {array.dtype}", "an integer or bool array")


def read_occ3d_labels(path: Path_, shape: tuple[int, int, int] = OCC3D_GRID.shape) -> Occ3DLabels:
    """Read an Occ3D `labels.npz`.

    Raises:
        DataFormatError: missing keys, wrong shapes or dtypes, classes outside 0..17.
    """
    arrays = _load_npz(path, "Occ3D labels.npz with semantics, mask_lidar, mask_camera")
    missing = [key for key in _GT_KEYS if key not in arrays]
    if missing:
        raise DataFormatError(path, f"missing arrays {missing}", f"keys {list(_GT_KEYS)}")
    for key in _GT_KEYS:
        _check_grid(path, key, arrays[key], shape)
    semantics = arrays["semantics"]
    if semantics.size and (semantics.min() < 0 or semantics.max() > OCC3D_FREE):
        raise DataFormatError(
            path,
            f"'semantics' holds values {int(semantics.min())}..{int(semantics.max())}",
            f"classes 0..{OCC3D_FREE}",
        )
    return Occ3DLabels(
        semantics=semantics.astype(np.uint8),
        mask_lidar=arrays["mask_lidar"].astype(bool),
        mask_camera=arrays["mask_camera"].astype(bool),
    )


def _npz_bytes(**arrays: NDArray) -> bytes:
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)  # type: ignore[arg-type]
    return buffer.getvalue()


def write_occ3d_labels(path: Path_, labels: Occ3DLabels) -> None:
    """Write ground truth as the official `labels.npz` (uint8 arrays), atomically."""
    atomic_write_bytes(
        path,
        _npz_bytes(
            semantics=labels.semantics.astype(np.uint8),
            mask_lidar=labels.mask_lidar.astype(np.uint8),
            mask_camera=labels.mask_camera.astype(np.uint8),
        ),
    )


def find_occ3d_samples(gts_root: Path_) -> list[Occ3DSample]:
    """All `<scene>/<token>/labels.npz` under an Occ3D `gts` folder, sorted by scene and token."""
    root = Path(gts_root)
    if not root.is_dir():
        raise DataFormatError(
            root, "Occ3D ground-truth folder not found", "GTS/<scene>/<token>/labels.npz"
        )
    return [
        Occ3DSample(scene=p.parent.parent.name, token=p.parent.name, path=p)
        for p in sorted(root.glob("*/*/labels.npz"))
    ]


def occ3d_prediction_path(root: Path_, token: str) -> Path:
    return Path(root) / f"{token}.npz"


def write_occ3d_prediction(
    root: Path_,
    token: str,
    prediction: OccupancyGrid | NDArray[np.integer],
    shape: tuple[int, int, int] = OCC3D_GRID.shape,
) -> Path:
    """Write a prediction as `<root>/<token>.npz` holding uint8 classes under `arr_0` (`shape`:
    the official grid unless a synthetic dataset describes another)."""
    classes = prediction.labels if isinstance(prediction, OccupancyGrid) else np.asarray(prediction)
    path = occ3d_prediction_path(root, token)
    if classes.shape != tuple(shape):
        raise DataFormatError(path, f"prediction has shape {classes.shape}", f"{tuple(shape)}")
    if classes.size and (classes.min() < 0 or classes.max() > OCC3D_FREE):
        raise DataFormatError(
            path, f"prediction holds class {int(classes.max())}", f"0..{OCC3D_FREE}"
        )
    atomic_write_bytes(path, _npz_bytes(arr_0=classes.astype(np.uint8)))
    return path


def read_occ3d_prediction(
    path: Path_, shape: tuple[int, int, int] = OCC3D_GRID.shape
) -> NDArray[np.uint8]:
    """Read a `<token>.npz` prediction (the first array, as `arr_0`) as uint8 classes."""
    arrays = _load_npz(path, "Occ3D prediction .npz with a uint8 array under arr_0")
    if "arr_0" not in arrays:
        raise DataFormatError(path, f"no 'arr_0' array (found {sorted(arrays)})", "arr_0")
    array = arrays["arr_0"]
    _check_grid(path, "arr_0", array, shape)
    if array.size and (array.min() < 0 or array.max() > OCC3D_FREE):
        raise DataFormatError(
            path, f"prediction holds values up to {int(array.max())}", f"0..{OCC3D_FREE}"
        )
    return array.astype(np.uint8)
