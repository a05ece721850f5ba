"""Fences and hedges along the property line (the outer edge of the terrain strips)."""

from __future__ import annotations

import numpy as np

from occle_core.data.synthetic.shapes import Primitive
from occle_core.data.synthetic.street.builder import Placed, StreetBuilder
from occle_core.data.synthetic.street.emit import along_street_boxes
from occle_core.data.synthetic.street.labels import FENCE, VEGETATION
from occle_core.data.synthetic.street.layout import SEGMENT_LENGTH, Side
from occle_core.data.synthetic.street.materials import fence_material, foliage_material


def add_property_line(builder: StreetBuilder) -> None:
    """Fences and hedges along the outer edge of the terrain strips."""
    rng, p = builder.rng, builder.params
    builder.place_ahead(  # a mandatory fence ahead of the ego
        lambda s: _place_property_run(builder, builder.right, s, s + 10.0, "fence", mandatory=True)
    )
    for side in builder.sides:
        s = float(rng.uniform(0.0, 5.0))
        while s < builder.length - 2.0:
            run = float(rng.uniform(6.0, 30.0))
            draw = rng.random()
            kind = (
                "fence"
                if draw < p.fence_fraction
                else "hedge"
                if draw < p.fence_fraction + p.hedge_fraction
                else ""
            )
            if kind:
                _place_property_run(
                    builder, side, s, min(s + run, builder.length), kind, mandatory=False
                )
            s += run


def _place_property_run(
    builder: StreetBuilder, side: Side, s_low: float, s_high: float, kind: str, mandatory: bool
) -> bool:
    """A fence or hedge along the property line over the free parts of [s_low, s_high]."""
    rng, p = builder.rng, builder.params
    key = [("property", side.sign)]
    edges = np.arange(s_low, s_high + 1e-9, SEGMENT_LENGTH)
    free = [
        (float(a), float(min(a + SEGMENT_LENGTH, s_high)))
        for a in edges
        if min(a + SEGMENT_LENGTH, s_high) - a > 0.5
        and builder.book.is_free(key, a, min(a + SEGMENT_LENGTH, s_high))
    ]
    if not free:
        return False
    if kind == "fence":
        width, height, material, label = (
            0.06,
            float(rng.uniform(0.9, 1.8)),
            fence_material(rng),
            FENCE,
        )
    else:
        width, height, label = (
            float(rng.uniform(0.6, 1.0)),
            float(rng.uniform(0.9, 2.2)),
            VEGETATION,
        )
        material = foliage_material(rng, 10)
    d = side.sign * (side.property_line + width / 2 + 0.02)  # outside the terrain strip
    parts: list[Primitive] = []
    for a, c in free:
        builder.book.take(key, a, c)
        parts += along_street_boxes(builder, a, c, d, p.curb_height, width, height, material, label)
    builder.add(
        Placed(tuple(parts), 0.5 * (free[0][0] + free[-1][1]), frozenset({label})), mandatory
    )
    return True
