"""Street furniture at the kerb: street-light poles, some carrying a traffic sign, and
free-standing sign posts."""

from __future__ import annotations

import math

from occle_core.data.synthetic.shapes import Kind, Primitive
from occle_core.data.synthetic.street.builder import Placed, StreetBuilder
from occle_core.data.synthetic.street.emit import stuff_primitive
from occle_core.data.synthetic.street.labels import POLE, TRAFFIC_SIGN
from occle_core.data.synthetic.street.layout import Side
from occle_core.data.synthetic.street.materials import POLE_MATERIAL, SIGN_COLORS, random_material

SIGN_CLEARANCE = 2.1  # m, sign plates start at least this high above the sidewalk


def _sign_plate(
    builder: StreetBuilder, side: Side, s: float, d: float, pole_radius: float, bottom_z: float
) -> Primitive:
    """A retro-reflective sign plate facing the traffic of its side, mounted on a pole with
    its lower edge at `bottom_z` (m)."""
    rng = builder.rng
    half = (0.025, float(rng.uniform(0.25, 0.3)), float(rng.uniform(0.2, 0.35)))
    material = random_material(rng, SIGN_COLORS, 8, 0.9, 0.05)
    # Mount the plate on the pole's face towards the approaching traffic of its side (coming
    # from smaller s on the right, larger s on the left) instead of through the pole.
    heading = builder.heading(s)
    shift = side.sign * (pole_radius + half[0] + 0.005)
    x, y = builder.world(s, d)
    center = (x + shift * math.cos(heading), y + shift * math.sin(heading), bottom_z + half[2])
    return material.primitive(Kind.BOX, center, half, heading, TRAFFIC_SIGN)


def _place_pole(
    builder: StreetBuilder, side: Side, s: float, sign: bool, lamp: bool, mandatory: bool
) -> bool:
    """A street-light pole (optionally carrying a sign) or a short sign post at the kerb."""
    if not builder.inside(s - 0.5, s + 0.5):
        return False
    if not builder.book.try_take([("kerb", side.sign), ("canopy", side.sign)], s - 0.5, s + 0.5):
        return False
    rng, base = builder.rng, builder.params.curb_height
    d = side.sign * (side.kerb + 0.35)
    # Plates hang above head height: walkers pass under them at the kerb-side slot.
    plate_bottom = base + float(rng.uniform(SIGN_CLEARANCE, SIGN_CLEARANCE + 0.4))
    if lamp:
        radius, height = float(rng.uniform(0.08, 0.12)), float(rng.uniform(4.0, 7.0))
    else:
        radius, height = float(rng.uniform(0.04, 0.06)), 0.0
    plate = _sign_plate(builder, side, s, d, radius, plate_bottom) if sign else None
    if not lamp:  # a sign post ends flush with the top of its plate
        height = plate_bottom - base + 2 * (plate.half[2] if plate else 0.3)
    pole = stuff_primitive(
        builder, Kind.CYLINDER, s, d, base, (radius, radius, height / 2), POLE_MATERIAL, POLE
    )
    parts = [pole] if plate is None else [pole, plate]
    labels = frozenset({POLE, TRAFFIC_SIGN}) if sign else frozenset({POLE})
    builder.add(Placed(tuple(parts), s, labels), mandatory)
    return True


def add_street_furniture(builder: StreetBuilder) -> None:
    """Street lights every 15-40 m along the kerb, some with signs, and sign posts."""
    rng, p = builder.rng, builder.params
    builder.place_ahead(
        lambda s: _place_pole(builder, builder.right, s, sign=True, lamp=False, mandatory=True)
    )
    for side in builder.sides:
        s = float(rng.uniform(2.0, p.pole_spacing[1]))
        while s < builder.length - 1.0:
            with_sign = bool(rng.random() < p.sign_probability)
            for shift in (0.0, 1.5, -1.5, 3.0):  # step aside from an occupied spot
                if _place_pole(builder, side, s + shift, with_sign, lamp=True, mandatory=False):
                    break
            s += float(rng.uniform(*p.pole_spacing))
        for _ in range(builder.poisson_count(p.signs_per_100m)):
            _place_pole(
                builder,
                side,
                float(rng.uniform(1.0, builder.length - 1.0)),
                sign=True,
                lamp=False,
                mandatory=False,
            )
