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


def encode_png(array: NDArray[np.uint8]) -> bytes:
    """PNG bytes of an (H, W) or (H, W, 3|4) uint8 array."""
    if array.dtype != np.uint8 or array.ndim not in (2, 3):
        raise ValueError(f"encode_png: got {array.dtype} array of shape {array.shape}")
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG")
    return buffer.getvalue()


def write_png(path: str | os.PathLike[str], array: NDArray[np.uint8]) -> None:
    """Write an image array to a PNG file atomically."""
    atomic_write_bytes(path, encode_png(array))
