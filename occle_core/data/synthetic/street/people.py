"""Pedestrians on the sidewalks, walking in two lanes of pedestrian traffic or standing."""

from __future__ import annotations

from occle_core.data.synthetic.street.builder import StreetBuilder
from occle_core.data.synthetic.street.emit import place_template
from occle_core.data.synthetic.street.layout import Side
from occle_core.data.synthetic.street.templates import person
from occle_core.data.synthetic.street.zones import ZoneKey


def _place_person(
    builder: StreetBuilder, side: Side, s: float, walking: bool, mandatory: bool
) -> bool:
    """A pedestrian on the sidewalk: walking in one of two lanes of pedestrian traffic, or
    standing at the sidewalk's outer edge (out of the walkers' way)."""
    rng, base = builder.rng, builder.params.curb_height
    if walking:
        slot = int(rng.integers(2))
        template = person(rng)
        magnitude = side.kerb + 0.8 if slot == 0 else side.sidewalk_outer - 0.8
        # Slot 0 walks with the traffic of its side, slot 1 against it.
        direction = -side.sign if slot == 0 else side.sign
        key: ZoneKey = (f"walk{slot}", side.sign)
        speed = builder.walk_speed[(side.sign, slot)]
    else:
        template = person(rng, max_radius=0.25)
        magnitude, direction, key, speed = (
            side.sidewalk_outer - 0.25,
            1,
            ("sw_outer", side.sign),
            0.0,
        )
    yaw = builder.heading_along(s, direction)
    hl = template.half_length
    if not builder.book.is_free([key], s - hl - 0.3, s + hl + 0.3):
        return False
    if not builder.ego_track.is_clear(builder.world(s, side.sign * magnitude), yaw, hl, hl, speed):
        return False
    builder.book.take([key], s - hl - 0.3, s + hl + 0.3)
    builder.add(
        place_template(builder, template, s, side.sign * magnitude, yaw, base, speed), mandatory
    )
    return True


def add_people(builder: StreetBuilder) -> None:
    """Pedestrians on both sidewalks, most of them walking at ~1.3 m/s."""
    rng = builder.rng
    builder.place_ahead(
        lambda s: _place_person(builder, builder.right, s, walking=False, mandatory=True)
    )
    for _ in range(builder.poisson_count(builder.params.persons_per_100m)):
        side = builder.random_side()
        walking = bool(rng.random() < 0.6)
        _place_person(builder, side, float(rng.uniform(1.0, builder.length - 1.0)), walking, False)
