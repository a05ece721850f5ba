"""Object templates: vehicles, two-wheelers, riders and pedestrians as parts in their own
frame, ready to be placed in the street."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from occle_core.data.synthetic.shapes import Kind
from occle_core.data.synthetic.street.labels import (
    BICYCLE,
    BICYCLIST,
    CAR,
    MOTORCYCLE,
    MOTORCYCLIST,
    OTHER_VEHICLE,
    PERSON,
    TRUCK,
)
from occle_core.data.synthetic.street.materials import (
    BUS_PAINTS,
    CAR_PAINTS,
    CARAVAN_WHITE,
    CARGO_PAINTS,
    GLASS,
    Material,
    blend_colors,
    jitter_color,
    random_color,
    random_material,
)


@dataclass(frozen=True)
class Part:
    """One primitive of a multi-part object, in the object's frame (x forward, y left).

    Attributes:
        kind: primitive kind.
        offset: (x, y) of the part's centre in the object frame, m.
        bottom: height of the part's lowest point above the object's base, m.
        half: half extents, m.
        material: surface.
    """

    kind: Kind
    offset: tuple[float, float]
    bottom: float
    half: tuple[float, float, float]
    material: Material


@dataclass(frozen=True)
class Template:
    """An object to place: parts, class and footprint half extents (m) in its own frame."""

    parts: tuple[Part, ...]
    label: int
    half_length: float
    half_width: float


def _base_box(length: float, width: float, height: float, material: Material) -> Part:
    """A box of the given full extents (m) centred on the object's origin, standing on its base."""
    return Part(Kind.BOX, (0.0, 0.0), 0.0, (length / 2, width / 2, height / 2), material)


def _paint(rng: np.random.Generator) -> Material:
    """Car paint: a common colour, little texture, metallic reflectivity."""
    return Material(random_color(rng, CAR_PAINTS, 10), float(rng.uniform(0.4, 0.6)), 0.05)


def car(rng: np.random.Generator) -> Template:
    """A car from two boxes: body and a narrower, glazed cabin set slightly back."""
    length, width = rng.uniform(3.9, 4.9), rng.uniform(1.7, 1.95)
    height = rng.uniform(1.4, 1.65)
    body_height = 0.58 * height
    paint = _paint(rng)
    cabin = Material(blend_colors(paint.color, GLASS, 0.6), 0.25, 0.05)
    parts = (
        _base_box(length, width, body_height, paint),
        Part(
            Kind.BOX,
            (-0.06 * length, 0.0),
            body_height,
            (0.25 * length, 0.44 * width, (height - body_height) / 2),
            cabin,
        ),
    )
    return Template(parts, CAR, length / 2, width / 2)


def truck(rng: np.random.Generator) -> Template:
    """A truck: a cab in front of a taller cargo box."""
    length, width = rng.uniform(7.0, 9.0), rng.uniform(2.4, 2.55)
    height, cab_length = rng.uniform(3.0, 3.6), rng.uniform(2.0, 2.4)
    cargo_length = length - cab_length - 0.2
    cab = _paint(rng)
    cargo = random_material(rng, CARGO_PAINTS, 12, 0.5, 0.1)
    parts = (
        Part(
            Kind.BOX,
            (length / 2 - cab_length / 2, 0.0),
            0.0,
            (cab_length / 2, width / 2, 0.42 * height),
            cab,
        ),
        Part(
            Kind.BOX,
            (-length / 2 + cargo_length / 2, 0.0),
            0.0,
            (cargo_length / 2, width / 2, height / 2),
            cargo,
        ),
    )
    return Template(parts, TRUCK, length / 2, width / 2)


def other_vehicle(rng: np.random.Generator, parked: bool = False) -> Template:
    """A bus, van or caravan (a van when parked: it must fit a parking bay)."""
    kind = "van" if parked else ("bus", "van", "caravan")[int(rng.integers(3))]
    if kind == "bus":
        size = (rng.uniform(10.0, 12.0), 2.55, rng.uniform(3.0, 3.3))
        color = random_color(rng, BUS_PAINTS, 10)
    elif kind == "van":
        size = (rng.uniform(4.8, 6.0), rng.uniform(1.9, 2.0), rng.uniform(2.0, 2.6))
        color = random_color(rng, CAR_PAINTS, 10)
    else:
        size = (rng.uniform(5.0, 7.0), rng.uniform(2.2, 2.4), rng.uniform(2.4, 2.9))
        color = jitter_color(rng, CARAVAN_WHITE, 10)
    length, width, height = (float(v) for v in size)
    part = _base_box(length, width, height, Material(color, 0.5, 0.08))
    return Template((part,), OTHER_VEHICLE, length / 2, width / 2)


@dataclass(frozen=True)
class _TwoWheelerBox:
    """Size and paint of a two-wheeler's box.

    Attributes:
        sizes: (min, max) ranges of its length, width and height, m.
        jitter: paint colour jitter per channel (0..255 units).
        reflectivity: LiDAR reflectivity, 0..1.
        texture: texture amplitude, 0..1.
    """

    sizes: tuple[tuple[float, float], tuple[float, float], tuple[float, float]]
    jitter: int
    reflectivity: float
    texture: float


_MOTORCYCLE_BOX = _TwoWheelerBox(((1.9, 2.2), (0.7, 0.85), (1.05, 1.3)), 15, 0.5, 0.08)
_BICYCLE_BOX = _TwoWheelerBox(((1.65, 1.85), (0.45, 0.6), (0.95, 1.15)), 30, 0.45, 0.1)


def _two_wheeler_box(rng: np.random.Generator, motor: bool) -> tuple[Part, float, float]:
    """The box of a motorcycle or bicycle and its half length / half width, m."""
    spec = _MOTORCYCLE_BOX if motor else _BICYCLE_BOX
    length, width, height = (rng.uniform(low, high) for low, high in spec.sizes)
    material = random_material(rng, CAR_PAINTS, spec.jitter, spec.reflectivity, spec.texture)
    return _base_box(length, width, height, material), float(length / 2), float(width / 2)


def _clothes(rng: np.random.Generator) -> Material:
    """Random clothing."""
    color = rng.integers(20, 200, size=3)
    return Material((int(color[0]), int(color[1]), int(color[2])), 0.3, 0.2)


def bicycle(rng: np.random.Generator) -> Template:
    """A parked bicycle."""
    part, half_length, half_width = _two_wheeler_box(rng, motor=False)
    return Template((part,), BICYCLE, half_length, half_width)


def motorcycle(rng: np.random.Generator) -> Template:
    """A parked motorcycle."""
    part, half_length, half_width = _two_wheeler_box(rng, motor=True)
    return Template((part,), MOTORCYCLE, half_length, half_width)


def rider(rng: np.random.Generator, motor: bool) -> Template:
    """A bicyclist or motorcyclist: the vehicle plus a seated rider, all one class."""
    vehicle, half_length, half_width = _two_wheeler_box(rng, motor)
    radius = float(rng.uniform(0.25, 0.3) if motor else rng.uniform(0.2, 0.25))
    seat = 0.6 if motor else 0.75  # the rider's body starts inside the vehicle box
    top = float(rng.uniform(1.5, 1.7) if motor else rng.uniform(1.65, 1.85))
    rider = Part(
        Kind.CYLINDER, (-0.15, 0.0), seat, (radius, radius, (top - seat) / 2), _clothes(rng)
    )
    label = MOTORCYCLIST if motor else BICYCLIST
    return Template((vehicle, rider), label, half_length, max(half_width, radius))


def person(rng: np.random.Generator, max_radius: float = 0.28) -> Template:
    """A pedestrian as a vertical cylinder."""
    radius = float(rng.uniform(0.2, max_radius))
    height = float(rng.uniform(1.55, 1.9))
    part = Part(Kind.CYLINDER, (0.0, 0.0), 0.0, (radius, radius, height / 2), _clothes(rng))
    return Template((part,), PERSON, radius, radius)
