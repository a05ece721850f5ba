"""sensor_msgs/Image and CompressedImage <-> (H, W, 3) uint8 RGB arrays."""

from __future__ import annotations

import io
from typing import Any

import numpy as np
from numpy.typing import NDArray
from PIL import Image as PilImage

from occle_ros.errors import MessageError
from occle_ros.messages import MessageFactory, header

#: encoding -> (channels, indices of R, G, B among them)
ENCODINGS: dict[str, tuple[int, tuple[int, int, int]]] = {
    "rgb8": (3, (0, 1, 2)),
    "bgr8": (3, (2, 1, 0)),
    "rgba8": (4, (0, 1, 2)),
    "bgra8": (4, (2, 1, 0)),
    "mono8": (1, (0, 0, 0)),
}
COMPRESSED_FORMATS = ("jpeg", "png")


def image_to_array(msg: Any, source: str = "Image") -> NDArray[np.uint8]:
    """A raw Image as (H, W, 3) uint8 RGB (mono8 repeated on the three channels).

    Raises:
        MessageError: an unsupported encoding, an empty image, a step smaller than a row, or a
            data size that is not height x step.
    """
    encoding = str(msg.encoding).lower()
    if encoding not in ENCODINGS:
        raise MessageError(
            source, "Image.encoding", f"unsupported encoding {msg.encoding!r}", str(list(ENCODINGS))
        )
    channels, rgb = ENCODINGS[encoding]
    height, width, step = int(msg.height), int(msg.width), int(msg.step)
    if height <= 0 or width <= 0:
        raise MessageError(source, "Image.height/width", f"{width}x{height}", "a non-empty image")
    if step < width * channels:
        raise MessageError(
            source, "Image.step", f"step {step} < width {width} x {channels} bytes", "a full row"
        )
    data = np.frombuffer(msg.data, dtype=np.uint8)
    if data.size != height * step:
        raise MessageError(
            source,
            "Image.data",
            f"{data.size} bytes for height {height} x step {step}",
            f"{height * step} bytes",
        )
    pixels = data.reshape(height, step)[:, : width * channels].reshape(height, width, channels)
    if encoding == "rgb8":
        return pixels
    return np.ascontiguousarray(pixels[:, :, list(rgb)])


def compressed_to_array(
    msg: Any, source: str = "CompressedImage", size: tuple[int, int] | None = None
) -> NDArray[np.uint8]:
    """A jpeg or png CompressedImage as (H, W, 3) uint8 RGB.

    `format` may be "jpeg", "png" or image_transport's "rgb8; jpeg compressed bgr8" form. The
    size in the file's header is checked before anything is decoded: against `size` (the
    CameraInfo's (width, height)) when given, and against PIL's decompression-bomb limit, so a
    few bytes claiming a gigapixel image cost nothing.

    Raises:
        MessageError: another format, a size other than `size`, an image too large to
            decode, or bytes that do not decode.
    """
    fmt = str(msg.format).lower()
    if not any(name in fmt for name in (*COMPRESSED_FORMATS, "jpg")):
        raise MessageError(
            source, "CompressedImage.format", f"unsupported format {msg.format!r}", "jpeg or png"
        )
    try:
        with PilImage.open(io.BytesIO(np.frombuffer(msg.data, np.uint8).tobytes())) as image:
            if size is not None and image.size != tuple(size):
                raise MessageError(
                    source,
                    "CompressedImage.data",
                    f"a {image.size[0]}x{image.size[1]} image",
                    f"the CameraInfo's {size[0]}x{size[1]}",
                )
            return np.asarray(image.convert("RGB"))
    except (PilImage.DecompressionBombError, PilImage.DecompressionBombWarning) as error:
        raise MessageError(
            source, "CompressedImage.data", f"too large to decode ({error})", "a camera image"
        ) from None
    except (OSError, ValueError, SyntaxError) as error:
        if isinstance(error, MessageError):
            raise
        raise MessageError(
            source, "CompressedImage.data", f"does not decode ({error})", f"{fmt} bytes"
        ) from None


def array_to_image(
    factory: MessageFactory,
    rgb: NDArray[np.uint8],
    stamp_ns: int,
    frame_id: str,
    encoding: str = "rgb8",
) -> Any:
    """(H, W, 3) uint8 RGB -> Image in `encoding` (one of `ENCODINGS`)."""
    if encoding not in ENCODINGS:
        raise ValueError(f"encoding {encoding!r}, expected one of {list(ENCODINGS)}")
    channels, order = ENCODINGS[encoding]
    if channels == 1:
        pixels = rgb.mean(axis=2).round().astype(np.uint8)[:, :, None]
    else:
        pixels = np.full((*rgb.shape[:2], channels), 255, dtype=np.uint8)
        pixels[:, :, list(order)] = rgb
    height, width = rgb.shape[:2]
    return factory.new(
        "sensor_msgs/msg/Image",
        header=header(factory, stamp_ns, frame_id),
        height=height,
        width=width,
        encoding=encoding,
        is_bigendian=0,
        step=width * channels,
        data=np.ascontiguousarray(pixels).reshape(-1),
    )


def array_to_compressed(
    factory: MessageFactory,
    rgb: NDArray[np.uint8],
    stamp_ns: int,
    frame_id: str,
    fmt: str = "jpeg",
    quality: int = 90,
) -> Any:
    """(H, W, 3) uint8 RGB -> CompressedImage ("jpeg" or "png")."""
    if fmt not in COMPRESSED_FORMATS:
        raise ValueError(f"format {fmt!r}, expected one of {COMPRESSED_FORMATS}")
    buffer = io.BytesIO()
    options = {"quality": quality} if fmt == "jpeg" else {}
    PilImage.fromarray(rgb).save(buffer, format=fmt.upper(), **options)
    return factory.new(
        "sensor_msgs/msg/CompressedImage",
        header=header(factory, stamp_ns, frame_id),
        format=fmt,
        data=np.frombuffer(buffer.getvalue(), dtype=np.uint8),
    )
