"""Rows of buildings along both sides and what fills the gaps between them (driveways, fences
and yard trees)."""

from __future__ import annotations

import math

from occle_core.data.synthetic.shapes import Kind
from occle_core.data.synthetic.street.builder import Placed, StreetBuilder
from occle_core.data.synthetic.street.driveways import place_driveway
from occle_core.data.synthetic.street.emit import along_street_boxes, stuff_primitive
from occle_core.data.synthetic.street.labels import BUILDING, FENCE
from occle_core.data.synthetic.street.layout import Side
from occle_core.data.synthetic.street.materials import (
    FACADE_COLORS,
    fence_material,
    random_material,
)
from occle_core.data.synthetic.street.vegetation import place_gap_tree


def add_buildings(builder: StreetBuilder) -> None:
    """Rows of box buildings behind the yards on both sides, with varied gaps."""
    p, rng = builder.params, builder.rng
    # A long straight box on a curve bulges towards the street by length²/(8R); cap it.
    max_length = (
        math.sqrt(3.2 / builder.centerline.max_curvature)
        if builder.centerline.max_curvature > 0.0
        else p.building_length[1]
    )
    for side in builder.sides:
        key = ("building", side.sign)
        s = float(rng.uniform(0.5, 4.0))
        while s < builder.length - 6.0:
            length = min(
                float(rng.uniform(*p.building_length)), max_length, builder.length - 0.5 - s
            )
            blocked = builder.book.conflict(key, s, s + length)
            if blocked is not None and blocked[0] - s < 6.0:
                s = blocked[1] + float(rng.uniform(0.5, 2.0))
                continue
            if blocked is not None:
                length = blocked[0] - s
            if length < 5.0:
                break
            _place_building(builder, side, s, length)
            gap = float(rng.uniform(*p.building_gap))
            s += length + (gap if gap >= 1.0 else 0.0)
    _ensure_building(builder)


def _place_building(builder: StreetBuilder, side: Side, s: float, length: float) -> None:
    """One building occupying [s, s + length] along the street."""
    p, rng = builder.params, builder.rng
    front = side.sidewalk_outer + float(rng.uniform(*p.building_setback))
    depth, height = float(rng.uniform(*p.building_depth)), float(rng.uniform(*p.building_height))
    material = random_material(rng, FACADE_COLORS, 12, 0.3, 0.25)
    s_mid = s + length / 2
    box = stuff_primitive(
        builder,
        Kind.BOX,
        s_mid,
        side.sign * (front + depth / 2),
        p.curb_height,
        (length / 2, depth / 2, height / 2),
        material,
        BUILDING,
    )
    builder.book.take([("building", side.sign)], s, s + length)
    builder.buildings[side.sign].append((s, s + length, front))
    builder.objects.append(Placed((box,), s_mid, frozenset({BUILDING})))


def _ensure_building(builder: StreetBuilder) -> None:
    """Add a building ahead of the ego if the random rows left none near the start."""
    low, high = builder.presence
    if any(
        a < high and low < c for side in builder.sides for a, c, _ in builder.buildings[side.sign]
    ):
        return
    builder.place_ahead(lambda s: _place_small_building(builder, s))


def _place_small_building(builder: StreetBuilder, s: float) -> bool:
    """A 10 m building starting at arc length s on the first side (right, then left) with
    room for it and 0.5 m to spare at both ends."""
    for side in builder.sides:
        if builder.book.is_free([("building", side.sign)], s - 0.5, s + 10.5):
            _place_building(builder, side, s, 10.0)
            return True
    return False


def _gaps(builder: StreetBuilder, sign: int) -> list[tuple[float, float]]:
    """Stretches [a, c] along the street without a building on side `sign`."""
    gaps, cursor = [], 0.0
    for a, c, _ in sorted(builder.buildings[sign]):
        if a - cursor > 0.5:
            gaps.append((cursor, a))
        cursor = max(cursor, c)
    if builder.length - cursor > 0.5:
        gaps.append((cursor, builder.length))
    return gaps


def add_gap_features(builder: StreetBuilder) -> None:
    """Fill building gaps: driveways, fences across the gap at the building line, and trees
    and bushes behind it."""
    p, rng = builder.params, builder.rng
    for side in builder.sides:
        front_line = side.sidewalk_outer + p.building_setback[0]
        for a, c in _gaps(builder, side.sign):
            width = c - a
            if width >= 4.5 and rng.random() < p.driveway_probability:
                place_driveway(builder, side, float(rng.uniform(a + 2.2, c - 2.2)), mandatory=False)
            if width >= 2.0 and rng.random() < 0.4:
                _place_gap_fence(builder, side, a + 0.1, c - 0.1, front_line - 0.2)
            for _ in range(int(width // 6.0) + (1 if width >= 3.0 else 0)):
                place_gap_tree(builder, side, a, c, front_line)


def _place_gap_fence(
    builder: StreetBuilder, side: Side, s_low: float, s_high: float, magnitude: float
) -> None:
    """A fence across a building gap at offset |d| = magnitude."""
    if not builder.book.try_take([("gap", side.sign)], s_low, s_high):
        return
    height = float(builder.rng.uniform(1.2, 2.0))
    parts = along_street_boxes(
        builder,
        s_low,
        s_high,
        side.sign * magnitude,
        builder.params.curb_height,
        0.06,
        height,
        fence_material(builder.rng),
        FENCE,
    )
    builder.objects.append(Placed(tuple(parts), 0.5 * (s_low + s_high), frozenset({FENCE})))
