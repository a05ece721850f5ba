"""Trees and bushes: an avenue or scattered street trees in the terrain strips, bushes, and
trees in front yards and building gaps."""

from __future__ import annotations

import math

from occle_core.data.synthetic.shapes import Kind
from occle_core.data.synthetic.street.builder import Placed, StreetBuilder
from occle_core.data.synthetic.street.emit import stuff_primitive
from occle_core.data.synthetic.street.labels import TRUNK, VEGETATION
from occle_core.data.synthetic.street.layout import Side
from occle_core.data.synthetic.street.materials import TRUNK_MATERIAL, foliage_material
from occle_core.data.synthetic.street.zones import ZoneKey, terrain_keys

CROWN_CLEARANCE = 2.0  # m, tree crowns start at least this high above the ground


def grow_tree(builder: StreetBuilder, s: float, d: float, max_crown: float) -> Placed | None:
    """A trunk with an ellipsoid crown at (s, d), crown radius at most `max_crown` m."""
    rng, base = builder.rng, builder.params.curb_height
    crown = min(float(rng.uniform(1.8, 4.0)), max_crown)
    if crown < 1.0:
        return None
    crown_height = float(rng.uniform(1.5, 3.2))
    # The crown's lower 40 % wraps the trunk top; keep its underside above pedestrians.
    low_trunk = CROWN_CLEARANCE + 0.4 * crown_height
    trunk_height = float(rng.uniform(max(2.0, low_trunk), max(2.0, low_trunk) + 1.0))
    radius = float(rng.uniform(0.15, 0.3))
    foliage = foliage_material(rng, 10)
    trunk = stuff_primitive(
        builder,
        Kind.CYLINDER,
        s,
        d,
        base,
        (radius, radius, trunk_height / 2),
        TRUNK_MATERIAL,
        TRUNK,
    )
    crown_bottom = base + trunk_height - 0.4 * crown_height
    leaves = stuff_primitive(
        builder,
        Kind.ELLIPSOID,
        s,
        d,
        crown_bottom,
        (crown, crown, crown_height),
        foliage,
        VEGETATION,
    )
    return Placed((trunk, leaves), s, frozenset({TRUNK, VEGETATION}))


def place_gap_tree(
    builder: StreetBuilder, side: Side, a: float, c: float, front_line: float
) -> None:
    """A yard tree inside a building gap, behind the building line."""
    s = float(builder.rng.uniform(a + 1.0, c - 1.0)) if c - a > 2.0 else 0.5 * (a + c)
    if not builder.book.try_take([("gap_tree", side.sign), ("yard", side.sign)], s - 1.0, s + 1.0):
        return
    magnitude = front_line + float(builder.rng.uniform(1.5, 5.0))
    # The crown must stay inside the gap (arc lengths shrink/grow with offset on curves).
    scale = 1.0 + builder.centerline.max_curvature * magnitude
    max_crown = min(s - a, c - s) / scale - 0.3
    tree = grow_tree(builder, s, side.sign * magnitude, max_crown)
    if tree is not None:
        builder.objects.append(tree)


def _place_street_tree(builder: StreetBuilder, side: Side, s: float, mandatory: bool) -> bool:
    """A tree in the middle of the terrain strip; the crown stays over the kerb-side edge of
    the sidewalk and clear of building fronts."""
    if not builder.inside(s - 1.0, s + 1.0):
        return False
    middle = builder.params.terrain_width / 2
    magnitude = side.sidewalk_outer + middle
    max_crown = min(
        magnitude - side.kerb,
        builder.building_front(side.sign, s - 4.0, s + 4.0) - magnitude - 0.3,
        4.0,
    )
    keys = terrain_keys(side, middle - 0.6, middle + 0.6)  # trunk plus elbow room
    if not builder.book.is_free(keys, s - 1.0, s + 1.0):
        return False
    for crown_room in (max_crown, 2.0, 1.2):
        crown_room = min(crown_room, max_crown)
        if builder.book.is_free([("canopy", side.sign)], s - crown_room, s + crown_room):
            tree = grow_tree(builder, s, side.sign * magnitude, crown_room)
            if tree is None:
                return False
            crown = tree.parts[1].half[0]
            builder.book.take(keys, s - 1.0, s + 1.0)
            builder.book.take([("canopy", side.sign)], s - crown, s + crown)
            builder.add(tree, mandatory)
            return True
    return False


def _place_bush(builder: StreetBuilder, side: Side, s: float) -> None:
    """A bush (ellipsoid sunk a little into the ground) in the terrain strip or a front yard."""
    rng, p = builder.rng, builder.params
    rx, ry, rz = (
        float(rng.uniform(0.5, 1.4)),
        float(rng.uniform(0.4, 1.0)),
        float(rng.uniform(0.4, 1.0)),
    )
    in_yard = rng.random() < 0.5
    if in_yard:
        low = side.property_line + 1.1 + ry
        front = builder.building_front(side.sign, s - rx, s + rx)
        if math.isinf(front):  # in a gap: stay in front of a possible gap fence
            front = side.sidewalk_outer + p.building_setback[0] - 0.2
        high = front - 0.3 - ry
    else:
        low, high = side.sidewalk_outer + ry + 0.1, side.property_line - ry - 0.05
    if high < low or not builder.inside(s - rx, s + rx):
        return
    magnitude = float(rng.uniform(low, high))
    keys: list[ZoneKey] = [("yard", side.sign)]
    if not in_yard:
        offset = magnitude - side.sidewalk_outer
        keys = terrain_keys(side, offset - ry, offset + ry)
    if not builder.book.try_take(keys, s - rx, s + rx):
        return
    material = foliage_material(rng, 12)
    d = side.sign * magnitude
    # Sunk by a quarter of its height so it looks rooted rather than balanced on a point.
    bush = stuff_primitive(
        builder, Kind.ELLIPSOID, s, d, p.curb_height - 0.25 * rz, (rx, ry, rz), material, VEGETATION
    )
    builder.objects.append(Placed((bush,), s, frozenset({VEGETATION})))


def add_vegetation(builder: StreetBuilder) -> None:
    """Street trees along the terrain strips (an avenue or scattered) and bushes."""
    rng, p = builder.rng, builder.params
    builder.place_ahead(
        lambda s: _place_street_tree(
            builder, builder.left if rng.random() < 0.5 else builder.right, s, mandatory=True
        )
    )
    for side in builder.sides:
        if p.tree_avenue and p.trees_per_100m > 0.0:
            spacing = 100.0 / p.trees_per_100m
            s = float(rng.uniform(1.0, spacing))
            while s < builder.length - 1.0:
                _place_street_tree(
                    builder, side, s + float(rng.uniform(-1.0, 1.0)), mandatory=False
                )
                s += spacing
        else:
            for _ in range(builder.poisson_count(p.trees_per_100m)):
                _place_street_tree(
                    builder, side, float(rng.uniform(1.0, builder.length - 1.0)), False
                )
        for _ in range(builder.poisson_count(p.bushes_per_100m)):
            _place_bush(builder, side, float(rng.uniform(1.5, builder.length - 1.5)))
        for _ in range(builder.poisson_count(p.trees_per_100m)):
            _place_yard_tree(builder, side, float(rng.uniform(3.0, builder.length - 3.0)))


def _place_yard_tree(builder: StreetBuilder, side: Side, s: float) -> None:
    """A tree in a front yard between the hedge line and the building front."""
    low = side.property_line + 1.5
    front = builder.building_front(side.sign, s - 4.0, s + 4.0)
    if math.isinf(front):  # gaps have their own trees
        return
    if front - low < 2.0 or not builder.book.try_take([("yard", side.sign)], s - 1.0, s + 1.0):
        return
    magnitude = float(builder.rng.uniform(low, front - 1.0))
    tree = grow_tree(
        builder, s, side.sign * magnitude, min(front - magnitude - 0.3, magnitude - side.kerb)
    )
    if tree is not None:
        builder.objects.append(tree)
