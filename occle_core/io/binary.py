"""Checked reading of fixed-record binary files: every failure names the file and the format."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from numpy.typing import DTypeLike, NDArray

from occle_core.errors import DataFormatError
from occle_core.io.atomic import atomic_write_bytes


def read_bytes(path: str | os.PathLike[str], what: str) -> bytes:
    """Read a whole file, turning OS errors into a DataFormatError that says what was wanted."""
    try:
        return Path(path).read_bytes()
    except FileNotFoundError:
        raise DataFormatError(path, f"{what} file not found") from None
    except OSError as error:
        raise DataFormatError(path, f"cannot read {what} file ({error.strerror})") from None


def read_records(
    path: str | os.PathLike[str],
    dtype: DTypeLike,
    record: int,
    what: str,
    expected_records: int | None = None,
) -> NDArray:
    """Read a headerless array of `record`-value rows.

    Args:
        path: file to read.
        dtype: scalar type of every value.
        record: values per row (e.g. 4 for x, y, z, reflectance).
        what: human name of the format, used in errors.
        expected_records: when given, the exact number of rows the file must hold.

    Returns:
        (rows, record) array, or (rows,) when record == 1.

    Raises:
        DataFormatError: missing file, a size that is not a whole number of rows, or the wrong
            number of rows.
    """
    data = read_bytes(path, what)
    item = np.dtype(dtype).itemsize * record
    if len(data) % item:
        raise DataFormatError(
            path,
            f"size {len(data)} B is not a multiple of {item} B",
            f"{what}: rows of {record} x {np.dtype(dtype).name}",
        )
    rows = len(data) // item
    if expected_records is not None and rows != expected_records:
        raise DataFormatError(
            path,
            f"holds {rows} {what} records",
            f"{expected_records} ({expected_records * item} B)",
        )
    array = np.frombuffer(data, dtype=dtype).copy()
    return array if record == 1 else array.reshape(rows, record)


def write_array(path: str | os.PathLike[str], array: NDArray, dtype: DTypeLike) -> None:
    """Write an array as raw little-endian values of `dtype`, atomically."""
    atomic_write_bytes(
        path, np.ascontiguousarray(array, dtype=np.dtype(dtype).newbyteorder("<")).tobytes()
    )
