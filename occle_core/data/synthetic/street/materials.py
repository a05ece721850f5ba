"""Surface materials (camera colour, LiDAR reflectivity, texture), the colour palettes the
street is painted from, and the random draws of colours and materials."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from occle_core.data.synthetic.shapes import Kind, Primitive

Color = tuple[int, int, int]  # RGB, 0..255


@dataclass(frozen=True)
class Material:
    """Camera colour, LiDAR reflectivity (0..1) and texture amplitude (0..1) of a surface."""

    color: Color
    reflectivity: float
    texture: float

    def primitive(
        self,
        kind: Kind,
        center: tuple[float, float, float],
        half: tuple[float, float, float],
        yaw: float,
        label: int,
        instance: int = 0,
        velocity: tuple[float, float] = (0.0, 0.0),
    ) -> Primitive:
        """A primitive of this material: world centre and half extents in m, yaw in rad,
        velocity in m/s; static stuff (instance 0, at rest) unless told otherwise."""
        return Primitive(
            kind=kind,
            center=center,
            half=half,
            yaw=yaw,
            label=label,
            instance=instance,
            color=self.color,
            reflectivity=self.reflectivity,
            velocity=velocity,
            texture=self.texture,
        )


FACADE_COLORS: tuple[Color, ...] = (
    (205, 195, 175),
    (185, 175, 160),
    (165, 85, 65),
    (225, 220, 205),
    (150, 150, 155),
    (195, 165, 125),
    (125, 115, 105),
    (210, 200, 160),
    (175, 120, 90),
)
CAR_PAINTS: tuple[Color, ...] = (
    (20, 20, 22),
    (235, 235, 235),
    (170, 172, 175),
    (95, 97, 100),
    (150, 20, 25),
    (25, 45, 110),
    (20, 30, 60),
    (30, 70, 40),
    (200, 170, 40),
    (120, 60, 30),
)
BUS_PAINTS: tuple[Color, ...] = ((210, 40, 40), (240, 200, 40), (230, 230, 230))
CARGO_PAINTS: tuple[Color, ...] = ((230, 230, 225), (200, 60, 40), (60, 90, 150))
CARAVAN_WHITE: Color = (225, 225, 215)
FOLIAGE_GREENS: tuple[Color, ...] = (
    (55, 95, 40),
    (70, 110, 45),
    (45, 80, 35),
    (85, 120, 55),
    (60, 100, 60),
)
TERRAIN_COLORS: tuple[Color, ...] = ((105, 115, 60), (95, 120, 55), (120, 115, 70), (110, 100, 65))
SIGN_COLORS: tuple[Color, ...] = ((200, 30, 30), (30, 70, 170), (240, 240, 240), (240, 200, 0))
GLASS: Color = (45, 50, 60)

ROAD_MATERIAL = Material((70, 70, 75), 0.25, 0.15)
PARKING_MATERIAL = Material((100, 96, 92), 0.27, 0.3)  # often cobbles in German streets
SIDEWALK_MATERIAL = Material((170, 165, 160), 0.35, 0.25)
ISLAND_MATERIAL = Material((150, 145, 135), 0.3, 0.25)
DRIVEWAY_MATERIAL = Material((125, 115, 105), 0.3, 0.3)
TRUNK_MATERIAL = Material((85, 65, 45), 0.3, 0.45)
POLE_MATERIAL = Material((125, 125, 130), 0.5, 0.05)


def pick_color(rng: np.random.Generator, options: Sequence[Color]) -> Color:
    """One colour of a palette."""
    return options[int(rng.integers(len(options)))]


def jitter_color(rng: np.random.Generator, color: Color, amount: int) -> Color:
    """`color` with every channel moved by up to ±amount, clipped to 0..255."""
    shifted = np.asarray(color) + rng.integers(-amount, amount + 1, size=3)
    clipped = np.clip(shifted, 0, 255)
    return int(clipped[0]), int(clipped[1]), int(clipped[2])


def blend_colors(a: Color, b: Color, weight: float) -> Color:
    """(1 - weight)·a + weight·b."""
    mixed = [round((1.0 - weight) * x + weight * y) for x, y in zip(a, b, strict=True)]
    return mixed[0], mixed[1], mixed[2]


def random_color(rng: np.random.Generator, palette: Sequence[Color], amount: int) -> Color:
    """A colour picked from `palette` with every channel moved by up to ±amount."""
    return jitter_color(rng, pick_color(rng, palette), amount)


def random_material(
    rng: np.random.Generator,
    palette: Sequence[Color],
    amount: int,
    reflectivity: float,
    texture: float,
) -> Material:
    """A material with a `random_color` of `palette` and fixed reflectivity and texture."""
    return Material(random_color(rng, palette, amount), reflectivity, texture)


def foliage_material(rng: np.random.Generator, amount: int) -> Material:
    """Leaves (tree crowns, bushes, hedges): a random green, matte and strongly textured."""
    return random_material(rng, FOLIAGE_GREENS, amount, 0.35, 0.7)


def fence_material(rng: np.random.Generator) -> Material:
    """Wooden, metal or concrete fence."""
    choice = int(rng.integers(3))
    if choice == 0:
        return Material(jitter_color(rng, (125, 95, 65), 12), 0.3, 0.35)
    if choice == 1:
        return Material(jitter_color(rng, (90, 95, 100), 10), 0.5, 0.1)
    return Material(jitter_color(rng, (160, 155, 150), 10), 0.3, 0.2)
