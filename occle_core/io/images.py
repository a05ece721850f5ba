"""Image reading and atomic PNG writing."""

from __future__ import annotations

import io
import os

import numpy as np
from numpy.typing import NDArray
from PIL import Image, UnidentifiedImageError

from occle_core.errors import DataFormatError
from occle_core.io.atomic import atomic_write_bytes
from occle_core.io.binary import read_bytes


def read_image(path: str | os.PathLike[str]) -> NDArray[np.uint8]:
    """Read a PNG/JPEG image as (H, W, 3) uint8 RGB.

    Raises:
        DataFormatError: missing or undecodable file.
    """
    data = read_bytes(path, "image")
    try:
        with Image.open(io.BytesIO(data)) as image:
            return np.asarray(image.convert("RGB"), dtype=np.uint8).copy()
    except (UnidentifiedImageError, Image.DecompressionBombError, OSError, ValueError) as error:
        raise DataFormatError(path, f"not a readable image ({error})", "PNG or JPEG") from None


def read_uint16_image(
    path: str | os.PathLike[str], what: str = "16-bit image"
) -> NDArray[np.uint16]:
    """Read a single-channel 16-bit PNG as (H, W) uint16."""
    data = read_bytes(path, what)
    try:
        with Image.open(io.BytesIO(data)) as image:
            if image.mode not in ("I;16", "I"):
                raise DataFormatError(path, f"{what} has mode {image.mode}", "16-bit PNG")
            return np.asarray(image).astype(np.uint16)
    except (UnidentifiedImageError, Image.DecompressionBombError, OSError, ValueError) as error:
        raise DataFormatError(path, f"not a readable PNG ({error})") from None


def read_depth_image(path: str | os.PathLike[str]) -> NDArray[np.float32]:
    """Read a KITTI-convention depth PNG (uint16, depth * 256, 0 = no depth) as metres."""
    return read_uint16_image(path, "depth image").astype(np.float32) / 256.0


def read_label_image(path: str | os.PathLike[str]) -> NDArray[np.uint8]:
    """Read a single-channel label PNG as (H, W) uint8 without any colour conversion."""
    data = read_bytes(path, "label image")
    try:
        with Image.open(io.BytesIO(data)) as image:
            if image.mode not in ("L", "P"):
                raise DataFormatError(
                    path, f"label image has mode {image.mode}", "8-bit single channel"
                )
            return np.asarray(image, dtype=np.uint8).copy()
    except (UnidentifiedImageError, Image.DecompressionBombError, OSError, ValueError) as error:
        raise DataFormatError(path, f"not a readable PNG ({error})") from None


def encode_png(array: NDArray[np.uint8] | NDArray[np.uint16]) -> bytes:
    """PNG bytes of an (H, W) or (H, W, 3|4) uint8 array, or an (H, W) uint16 array."""
    is_uint8 = array.dtype == np.uint8 and array.ndim in (2, 3)
    is_uint16 = array.dtype == np.uint16 and array.ndim == 2
    if not (is_uint8 or is_uint16):
        raise ValueError(f"encode_png: got {array.dtype} array of shape {array.shape}")
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG")
    return buffer.getvalue()


def write_png(path: str | os.PathLike[str], array: NDArray[np.uint8] | NDArray[np.uint16]) -> None:
    """Write an image array to a PNG file atomically."""
    atomic_write_bytes(path, encode_png(array))


def write_jpeg(path: str | os.PathLike[str], array: NDArray[np.uint8], quality: int = 92) -> None:
    """Write an (H, W, 3) uint8 RGB image as a JPEG file atomically (nuScenes stores JPEGs)."""
    if array.dtype != np.uint8 or array.ndim != 3 or array.shape[2] != 3:
        raise ValueError(f"write_jpeg: got {array.dtype} array of shape {array.shape}")
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="JPEG", quality=quality)
    atomic_write_bytes(path, buffer.getvalue())
