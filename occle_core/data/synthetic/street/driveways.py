"""Paved openings from the sidewalk into the yards: driveways (other-ground) and, on streets
without parking strips, parking pads with a car on them."""

from __future__ import annotations

import math

from occle_core.data.synthetic.shapes import Kind, Primitive
from occle_core.data.synthetic.street.builder import Placed, StreetBuilder
from occle_core.data.synthetic.street.emit import place_template, stuff_primitive
from occle_core.data.synthetic.street.ground import GROUND_BOTTOM
from occle_core.data.synthetic.street.labels import CAR, OTHER_GROUND, PARKING
from occle_core.data.synthetic.street.layout import Side
from occle_core.data.synthetic.street.materials import DRIVEWAY_MATERIAL, PARKING_MATERIAL
from occle_core.data.synthetic.street.templates import car
from occle_core.data.synthetic.street.zones import driveway_zones

DRIVEWAY_RISE = 0.02  # m, driveways/pads sit this much above the terrain they cross


def _paved_pad(
    builder: StreetBuilder, side: Side, s: float, width: float, depth: float, label: int
) -> tuple[Primitive, float]:
    """A driveway or parking pad from the sidewalk's outer edge `depth` m outwards, `width` m
    along the street. Returns the box and its top height."""
    top = builder.params.curb_height + DRIVEWAY_RISE
    material = DRIVEWAY_MATERIAL if label == OTHER_GROUND else PARKING_MATERIAL
    d = side.sign * (side.sidewalk_outer + depth / 2)
    box = stuff_primitive(
        builder,
        Kind.BOX,
        s,
        d,
        GROUND_BOTTOM,
        (width / 2, depth / 2, (top - GROUND_BOTTOM) / 2),
        material,
        label,
    )
    return box, top


def place_driveway(builder: StreetBuilder, side: Side, s: float, mandatory: bool) -> bool:
    """A paved driveway (other-ground) across terrain strip and yard into a building gap."""
    width = float(builder.rng.uniform(2.8, 3.5))
    if not builder.book.try_take(
        driveway_zones(side.sign), s - width / 2 - 0.5, s + width / 2 + 0.5
    ):
        return False
    depth = builder.params.building_setback[1] + float(builder.rng.uniform(2.0, 6.0))
    box, _ = _paved_pad(builder, side, s, width, depth, OTHER_GROUND)
    builder.add(Placed((box,), s, frozenset({OTHER_GROUND})), mandatory)
    return True


def _place_parking_pad(builder: StreetBuilder, side: Side, s: float) -> bool:
    """An off-street parking pad with a car on it, for streets without parking strips."""
    if not builder.book.try_take(driveway_zones(side.sign), s - 4.5, s + 4.5):
        return False
    depth = min(builder.params.building_setback[0] + 4.0, side.yard_outer - side.sidewalk_outer)
    pad, top = _paved_pad(builder, side, s, 8.0, depth, PARKING)
    parked = car(builder.rng)
    # Parked nose-in, perpendicular to the street.
    d = side.sign * (
        side.sidewalk_outer + min(depth - parked.half_length - 0.3, 3.0 + parked.half_length)
    )
    placed = place_template(
        builder, parked, s, d, builder.heading(s) - side.sign * math.pi / 2, top
    )
    builder.add(Placed((pad, *placed.parts), s, frozenset({PARKING, CAR})), mandatory=True)
    return True


def add_mandatory_openings(builder: StreetBuilder) -> None:
    """Before the buildings: a driveway (and a parking pad on streets without parking) ahead
    of the ego, so their building gaps exist whatever the random layout does."""
    side = builder.right
    builder.place_ahead(lambda s: place_driveway(builder, side, s, mandatory=True))
    if not (builder.params.parking_left or builder.params.parking_right):
        builder.place_ahead(lambda s: _place_parking_pad(builder, side, s))
