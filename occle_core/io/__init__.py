"""Low-level file helpers shared by every writer."""

from occle_core.io.atomic import atomic_write, atomic_write_bytes

__all__ = ["atomic_write", "atomic_write_bytes"]
