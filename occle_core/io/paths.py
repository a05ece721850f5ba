"""Paths given by the user, checked where they enter (the command line), before any work: a
file where a folder belongs, a folder that is a file, a missing input, an unwritable place or an
output that would overwrite something all end as one `ConfigError` naming the option."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from occle_core.errors import ConfigError


def _nearest_existing(path: Path) -> Path:
    for candidate in (path, *path.parents):
        if candidate.exists():
            return candidate
    return Path()


def _can_create_in(folder: Path) -> bool:
    """Whether a file can be created in `folder`, tried with a temporary file removed at once
    (permission bits say nothing for root, or on read-only and virtual file systems)."""
    if not os.access(folder, os.W_OK | os.X_OK):
        return False
    try:
        fd, name = tempfile.mkstemp(prefix=".occle-probe-", dir=folder)
    except OSError:
        return False
    os.close(fd)
    os.unlink(name)
    return True


def _writable_place(path: Path, option: str) -> None:
    """`path` can be created: its nearest existing ancestor is a writable folder."""
    ancestor = _nearest_existing(path.parent if path != Path() else path)
    if not ancestor.is_dir():
        raise ConfigError(option, f"{path}: {ancestor} is a file", "a path inside a folder")
    if not _can_create_in(ancestor):
        raise ConfigError(option, f"{path}: {ancestor} is not writable", "a writable folder")


def input_file(path: str | os.PathLike[str], option: str) -> Path:
    """An existing, readable file."""
    path = Path(path)
    if not path.exists():
        raise ConfigError(option, f"{path}: no such file", "an existing file")
    if path.is_dir():
        raise ConfigError(option, f"{path} is a folder", "a file")
    if not os.access(path, os.R_OK):
        raise ConfigError(option, f"{path} is not readable", "a readable file")
    return path


def input_folder(path: str | os.PathLike[str], option: str) -> Path:
    """An existing, readable folder."""
    path = Path(path)
    if not path.exists():
        raise ConfigError(option, f"{path}: no such folder", "an existing folder")
    if not path.is_dir():
        raise ConfigError(option, f"{path} is a file", "a folder")
    if not os.access(path, os.R_OK | os.X_OK):
        raise ConfigError(option, f"{path} is not readable", "a readable folder")
    return path


def output_folder(path: str | os.PathLike[str], option: str) -> Path:
    """A folder to write into: an existing writable folder, or a path that can be created."""
    path = Path(path)
    if path.exists():
        if not path.is_dir():
            raise ConfigError(option, f"{path} is a file", "a folder (existing or new)")
        if not _can_create_in(path):
            raise ConfigError(option, f"{path} is not writable", "a writable folder")
        return path
    _writable_place(path, option)
    return path


def output_file(path: str | os.PathLike[str], option: str) -> Path:
    """A file to write (replaced atomically if it exists): not a folder, in a writable place."""
    path = Path(path)
    if path.is_dir():
        raise ConfigError(option, f"{path} is a folder", "a file name")
    _writable_place(path, option)
    return path


def new_output(path: str | os.PathLike[str], option: str) -> Path:
    """A file or folder to create that must not exist yet (a bag, a dataset)."""
    path = Path(path)
    if path.exists() or path.is_symlink():
        raise ConfigError(option, f"{path} already exists", "a new path (remove it, or choose one)")
    _writable_place(path, option)
    return path


_CHECKS = {
    "files": input_file,
    "folders": input_folder,
    "out_folders": output_folder,
    "out_files": output_file,
    "new": new_output,
}


def check_arguments(args: object, **roles: list[str]) -> None:
    """Check the path arguments of a parsed command line before any work.

    Args:
        args: the argparse namespace.
        **roles: attribute names by role: `files`, `folders` (inputs), `out_folders`,
            `out_files`, `new` (outputs that must not exist). Unset (None) arguments are
            skipped; a list argument is checked item by item.

    Raises:
        ConfigError: the first argument that does not fit its role, named as its option.
    """
    for role, names in roles.items():
        check = _CHECKS[role]
        for name in names:
            value = getattr(args, name, None)
            if value is None:
                continue
            option = "--" + name.replace("_", "-")
            for item in value if isinstance(value, list) else [value]:
                check(item, option)
