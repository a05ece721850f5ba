"""Parking: vehicles along the kerb in the parking bays, and bicycles and motorcycles on the
terrain strip."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from occle_core.data.synthetic.street.builder import StreetBuilder
from occle_core.data.synthetic.street.emit import place_template
from occle_core.data.synthetic.street.labels import BICYCLE, MOTORCYCLE
from occle_core.data.synthetic.street.layout import Side
from occle_core.data.synthetic.street.templates import Template, bicycle, motorcycle
from occle_core.data.synthetic.street.zones import terrain_keys


def place_in_bay(
    builder: StreetBuilder, side: Side, template: Template, s_low: float, mandatory: bool
) -> bool:
    """Park a vehicle along the kerb with its rear at s_low (in the side's driving
    direction), keeping clear of the outer lane."""
    p = builder.params
    hl, hw = template.half_length, template.half_width
    s_high = s_low + 2 * hl
    room = p.parking_width - 0.07 - 2 * hw  # 5 cm from the lane edge, 2 cm from the kerb
    if room < 0.0 or not builder.bay_at(side.sign, s_low, s_high):
        return False
    if not builder.book.try_take([("strip", side.sign)], s_low - 0.3, s_high + 0.3):
        return False
    s = 0.5 * (s_low + s_high)
    d = side.sign * (side.lane_edge + 0.05 + hw + room * float(builder.rng.uniform(0.3, 0.9)))
    # Facing the driving direction of its side, parked a little askew.
    yaw = builder.heading_along(s, -side.sign) + float(builder.rng.uniform(-0.01, 0.01))
    builder.add(place_template(builder, template, s, d, yaw, 0.0), mandatory)
    return True


def park_mandatory(builder: StreetBuilder, template: Template, low: float, high: float) -> bool:
    """Park `template` in a bay at an arc length in [low, high], preferring the right side."""
    sides = [side for side in (builder.right, builder.left) if side.parking]
    for s in builder.sweep(low, high, 0.5):
        for side in sides:
            if place_in_bay(builder, side, template, s, mandatory=True):
                return True
    return False


def _place_two_wheeler(
    builder: StreetBuilder, side: Side, s: float, template: Template, mandatory: bool
) -> bool:
    """Park a bicycle or motorcycle on the terrain strip along the sidewalk, or in a bay."""
    rng = builder.rng
    hl, hw = template.half_length, template.half_width
    if template.label == MOTORCYCLE and side.parking and rng.random() < 0.5:
        return place_in_bay(builder, side, template, s - hl, mandatory)
    rack = template.label == BICYCLE and builder.params.terrain_width >= 2.1 and rng.random() < 0.5
    if rack:  # perpendicular in a bike rack, front wheel towards the sidewalk
        yaw, offset, reach = builder.heading(s) + side.sign * math.pi / 2, 0.05 + hl, hw
        keys = terrain_keys(side, 0.0, 0.05 + 2 * hl)
    else:
        yaw = (
            builder.heading(s)
            + float(rng.uniform(-0.08, 0.08))
            + (0.0 if rng.random() < 0.5 else math.pi)
        )
        offset, reach = 0.2 + hw, hl
        keys = terrain_keys(side, 0.0, 0.3 + 2 * hw)
    if not builder.inside(s - reach, s + reach):
        return False
    if not builder.book.try_take(keys, s - reach - 0.2, s + reach + 0.2):
        return False
    magnitude = side.sidewalk_outer + offset
    builder.add(
        place_template(
            builder, template, s, side.sign * magnitude, yaw, builder.params.curb_height
        ),
        mandatory,
    )
    return True


def add_two_wheelers(builder: StreetBuilder) -> None:
    """Parked bicycles and motorcycles: a mandatory one of each ahead of the ego, then the
    random ones at the street's densities."""
    rng, p = builder.rng, builder.params
    for make, density in ((bicycle, p.bicycles_per_100m), (motorcycle, p.motorcycles_per_100m)):
        _place_mandatory_two_wheeler(builder, make)
        for _ in range(builder.poisson_count(density)):
            side = builder.random_side()
            _place_two_wheeler(
                builder, side, float(rng.uniform(2.0, builder.length - 2.0)), make(rng), False
            )


def _place_mandatory_two_wheeler(
    builder: StreetBuilder, make: Callable[[np.random.Generator], Template]
) -> None:
    """A two-wheeler from `make` ahead of the ego, more often on the right (ego) side; every
    candidate spot draws a fresh side and template."""
    rng = builder.rng
    builder.place_ahead(
        lambda s: _place_two_wheeler(
            builder,
            builder.right if rng.random() < 0.7 else builder.left,
            s,
            make(rng),
            mandatory=True,
        )
    )
