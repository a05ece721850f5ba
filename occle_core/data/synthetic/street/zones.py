"""Reservation zones: named strips of the street (a lane, a kerb, a terrain band, ...) in
which objects book arc-length intervals so that they never overlap."""

from __future__ import annotations

from collections.abc import Sequence

from occle_core.data.synthetic.street.layout import Side

ZoneKey = tuple[str, int]
TERRAIN_NEAR = 1.15  # m, band of the terrain strip next to the sidewalk where two-wheelers park


class ZoneBook:
    """Reserved s-intervals per zone key, so objects in the same zone never overlap."""

    def __init__(self) -> None:
        self._taken: dict[ZoneKey, list[tuple[float, float]]] = {}

    def conflict(self, key: ZoneKey, low: float, high: float) -> tuple[float, float] | None:
        """The earliest reserved interval of `key` overlapping [low, high], if any."""
        hits = [iv for iv in self._taken.get(key, []) if iv[0] < high and low < iv[1]]
        return min(hits) if hits else None

    def is_free(self, keys: Sequence[ZoneKey], low: float, high: float) -> bool:
        """Whether [low, high] is free in every zone of `keys`."""
        return all(self.conflict(key, low, high) is None for key in keys)

    def take(self, keys: Sequence[ZoneKey], low: float, high: float) -> None:
        """Reserve [low, high] in every zone of `keys`."""
        for key in keys:
            self._taken.setdefault(key, []).append((low, high))

    def try_take(self, keys: Sequence[ZoneKey], low: float, high: float) -> bool:
        """Reserve [low, high] in all of `keys` if it is free in all of them."""
        if not self.is_free(keys, low, high):
            return False
        self.take(keys, low, high)
        return True


def driveway_zones(sign: int) -> list[ZoneKey]:
    """Zones a driveway or pad cuts through, from the sidewalk to behind the buildings."""
    return [
        ("terrain_near", sign),
        ("terrain", sign),
        ("canopy", sign),
        ("property", sign),
        ("yard", sign),
        ("gap", sign),
        ("building", sign),
    ]


def terrain_keys(side: Side, low: float, high: float) -> list[ZoneKey]:
    """Zones of the terrain strip covered by an object spanning [low, high] m from the
    sidewalk's outer edge: the near band (two-wheelers) and/or the rest (trees, bushes)."""
    keys: list[ZoneKey] = []
    if low < TERRAIN_NEAR:
        keys.append(("terrain_near", side.sign))
    if high > TERRAIN_NEAR:
        keys.append(("terrain", side.sign))
    return keys
