"""The ground: road, parking bays, median islands, sidewalks and terrain as thin boxes along
the street, plus a catch-all terrain slab below everything."""

from __future__ import annotations

import numpy as np

from occle_core.data.synthetic.shapes import Kind, Primitive
from occle_core.data.synthetic.street.builder import StreetBuilder
from occle_core.data.synthetic.street.emit import stuff_primitive
from occle_core.data.synthetic.street.labels import OTHER_GROUND, PARKING, ROAD, SIDEWALK, TERRAIN
from occle_core.data.synthetic.street.layout import SEGMENT_LENGTH
from occle_core.data.synthetic.street.materials import (
    ISLAND_MATERIAL,
    PARKING_MATERIAL,
    ROAD_MATERIAL,
    SIDEWALK_MATERIAL,
)

GROUND_OVERLAP = 0.15  # m added at both ends of a ground box so curved runs leave no cracks
GROUND_BOTTOM = -0.3  # m, underside of every ground box (road is ~0.3 m thick)
SLAB_TOP = -0.02  # m, top of the catch-all terrain slab, just below the road
SLAB_THICKNESS = 1.0  # m
SLAB_MARGIN = 150.0  # m, how far the slab reaches beyond the street's bounding box


def _cross_section(builder: StreetBuilder, k: int) -> list[tuple[float, float, float, int]]:
    """Ground bands of segment k from right to left as (d_low, d_high, top, label), with
    neighbouring bands of the same class and height merged."""
    p, h = builder.params, builder.params.curb_height
    bands: list[tuple[float, float, float, int]] = []
    for side in builder.sides:
        half: list[tuple[float, float, float, int]] = []
        if p.median_width > 0.0:
            island = bool(builder.islands[k])
            half.append(
                (0.0, p.median_width / 2, h if island else 0.0, OTHER_GROUND if island else ROAD)
            )
        half.append((p.median_width / 2, side.lane_edge, 0.0, ROAD))
        half.append(
            (side.lane_edge, side.kerb, 0.0, PARKING if builder.bays[side.sign][k] else ROAD)
        )
        half.append((side.kerb, side.sidewalk_outer, h, SIDEWALK))
        half.append((side.sidewalk_outer, side.yard_outer, h, TERRAIN))
        for low, high, top, label in half:
            bands.append((-high, -low, top, label) if side.sign < 0 else (low, high, top, label))
    bands.sort()
    merged = [bands[0]]
    for band in bands[1:]:
        last = merged[-1]
        if band[2:] == last[2:] and abs(band[0] - last[1]) < 1e-9:
            merged[-1] = (last[0], band[1], last[2], last[3])
        else:
            merged.append(band)
    return merged


def add_ground(builder: StreetBuilder) -> None:
    """Road, parking bays, sidewalks, median islands and terrain as thin boxes in overlapping
    segments along the centreline, plus the catch-all terrain slab."""
    materials = {
        ROAD: ROAD_MATERIAL,
        PARKING: PARKING_MATERIAL,
        SIDEWALK: SIDEWALK_MATERIAL,
        OTHER_GROUND: ISLAND_MATERIAL,
        TERRAIN: builder.terrain_material,
    }
    for k in range(builder.segment_count):
        s_low, s_high = k * SEGMENT_LENGTH, min((k + 1) * SEGMENT_LENGTH, builder.length)
        s_mid = 0.5 * (s_low + s_high)
        kappa = abs(float(builder.centerline.curvature(s_mid)[0]))
        for d_low, d_high, top, label in _cross_section(builder, k):
            # The outer edge of a band on a curve is longer than the centreline segment.
            reach = max(abs(d_low), abs(d_high))
            half_length = 0.5 * (s_high - s_low) * (1.0 + kappa * reach) + GROUND_OVERLAP
            half = (half_length, 0.5 * (d_high - d_low), 0.5 * (top - GROUND_BOTTOM))
            builder.ground.append(
                stuff_primitive(
                    builder,
                    Kind.BOX,
                    s_mid,
                    0.5 * (d_low + d_high),
                    GROUND_BOTTOM,
                    half,
                    materials[label],
                    label,
                )
            )
            if builder.presence[0] <= s_mid <= builder.presence[1]:
                builder.ground_present.add(label)
    builder.ground.append(_terrain_slab(builder))


def _terrain_slab(builder: StreetBuilder) -> Primitive:
    """One huge terrain box just below the road so every downward ray hits ground."""
    xy = builder.centerline.position(np.linspace(0.0, builder.length, 64))
    low, high = xy.min(axis=0) - SLAB_MARGIN, xy.max(axis=0) + SLAB_MARGIN
    centre = 0.5 * (low + high)
    half = 0.5 * (high - low)
    return builder.terrain_material.primitive(
        Kind.BOX,
        (float(centre[0]), float(centre[1]), SLAB_TOP - SLAB_THICKNESS / 2),
        (float(half[0]), float(half[1]), SLAB_THICKNESS / 2),
        0.0,
        TERRAIN,
    )
