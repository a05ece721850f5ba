"""Turning boxes and templates at street coordinates into world primitives."""

from __future__ import annotations

import itertools
import math

import numpy as np

from occle_core.data.synthetic.shapes import Kind, Primitive
from occle_core.data.synthetic.street.builder import LaneAnchor, Placed, StreetBuilder
from occle_core.data.synthetic.street.labels import THING_LABELS
from occle_core.data.synthetic.street.layout import SEGMENT_LENGTH
from occle_core.data.synthetic.street.materials import Material
from occle_core.data.synthetic.street.templates import Template


def stuff_primitive(
    builder: StreetBuilder,
    kind: Kind,
    s: float,
    d: float,
    bottom: float,
    half: tuple[float, float, float],
    material: Material,
    label: int,
    yaw: float | None = None,
) -> Primitive:
    """A static stuff primitive standing at street coordinates (s, d) with its lowest point at
    `bottom` (m); yaw defaults to the local street heading."""
    x, y = builder.world(s, d)
    yaw = builder.heading(s) if yaw is None else yaw
    return material.primitive(kind, (x, y, bottom + half[2]), half, yaw, label)


def place_template(
    builder: StreetBuilder,
    template: Template,
    s: float,
    d: float,
    yaw: float,
    base: float,
    speed: float = 0.0,
) -> Placed:
    """Place a template with its frame at street coordinates (s, d), rotated to world `yaw`,
    standing on a surface at height `base`; moving objects drive forward at `speed` m/s."""
    x, y = builder.world(s, d)
    cos, sin = math.cos(yaw), math.sin(yaw)
    velocity = (speed * cos, speed * sin) if speed else (0.0, 0.0)
    instance = builder.new_instance() if template.label in THING_LABELS else 0
    parts = tuple(
        part.material.primitive(
            part.kind,
            (
                x + cos * part.offset[0] - sin * part.offset[1],
                y + sin * part.offset[0] + cos * part.offset[1],
                base + part.bottom + part.half[2],
            ),
            part.half,
            yaw,
            template.label,
            instance=instance,
            velocity=velocity,
        )
        for part in template.parts
    )
    motion = None
    if speed:
        yaw_offset = math.remainder(yaw - builder.heading(s), 2 * math.pi)
        along = speed if abs(yaw_offset) < math.pi / 2 else -speed
        motion = LaneAnchor(s, d, yaw_offset, along)
    return Placed(parts, s, frozenset({template.label}), motion)


def along_street_boxes(
    builder: StreetBuilder,
    s_low: float,
    s_high: float,
    d: float,
    bottom: float,
    width: float,
    height: float,
    material: Material,
    label: int,
) -> list[Primitive]:
    """A long thin box (fence, hedge) following the curve from s_low to s_high at offset d,
    as pieces of at most one ground segment so it bends with the street."""
    pieces = max(1, math.ceil((s_high - s_low) / SEGMENT_LENGTH))
    edges = np.linspace(s_low, s_high, pieces + 1)
    out = []
    for a, c in itertools.pairwise(edges):
        half_length = 0.5 * (c - a) * (1.0 + builder.centerline.max_curvature * abs(d)) + 0.02
        out.append(
            stuff_primitive(
                builder,
                Kind.BOX,
                0.5 * (a + c),
                d,
                bottom,
                (half_length, width / 2, height / 2),
                material,
                label,
            )
        )
    return out
