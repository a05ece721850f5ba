"""Shared state of one street under construction: layout, zone reservations and the objects
placed so far."""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

from occle_core.data.synthetic.shapes import Primitive
from occle_core.data.synthetic.street.centerline import Centerline
from occle_core.data.synthetic.street.ego_clearance import EgoTrack
from occle_core.data.synthetic.street.layout import (
    SEGMENT_LENGTH,
    Side,
    make_lanes,
    sample_runs,
    street_sides,
)
from occle_core.data.synthetic.street.materials import TERRAIN_COLORS, random_material
from occle_core.data.synthetic.street.params import StreetParams
from occle_core.data.synthetic.street.zones import ZoneBook

MANDATORY_AHEAD = (12.0, 48.0)  # m ahead of the ego start where missing classes are placed
PRESENCE_WINDOW = (-5.0, 60.0)  # m around the ego start where every class should appear


@dataclass(frozen=True)
class LaneAnchor:
    """Where a moving object rides at time 0 and how it follows its lane (or walking line).

    Attributes:
        s: arc length of the object's origin, m.
        d: lateral offset of the object's origin, m.
        yaw_offset: object yaw minus the street heading at s, rad (0 or π).
        speed: signed speed along the street, m/s (+: towards increasing s).
    """

    s: float
    d: float
    yaw_offset: float
    speed: float


@dataclass(frozen=True)
class Placed:
    """One placed object: its primitives, the arc length where it stands (m), its classes,
    and, for a moving object, its lane anchor."""

    parts: tuple[Primitive, ...]
    s: float
    labels: frozenset[int]
    motion: LaneAnchor | None = None


class StreetBuilder:
    """Shared state of one scene under construction: layout, reservations and output.

    Layers read the layout (`params`, `centerline`, `sides`, `lanes`, `bays`, `islands`), book
    room in `book` and record what they place: ground boxes in `ground`, random objects in
    `objects`, mandatory ones in `mandatory` (kept only where their classes are missing).

    Attributes:
        rng: the scene's only random generator; every draw happens in a fixed order.
        length: street length along the centreline, m.
        ego_start: arc length where the ego starts, m.
        segment_count: number of SEGMENT_LENGTH ground segments covering the street.
        bays: per side sign, (segment_count,) mask of segments with parking bays.
        islands: (segment_count,) mask of segments where the median is a raised island.
        ground_present: ground classes laid within the presence window.
        buildings: per side sign, (s start, s end, |d| of the front) of each building, m.
        window: arc lengths (m) where mandatory objects are placed, ahead of the ego.
        presence: arc lengths (m) where every class should appear.
        walk_speed: walking speed (m/s) per (side sign, sidewalk slot).
        ego_track: the ego's drive, for collision checks of moving objects.
    """

    def __init__(
        self, rng: np.random.Generator, params: StreetParams, centerline: Centerline, length: float
    ) -> None:
        self.rng = rng
        self.params = params
        self.centerline = centerline
        self.length = length
        self.ego_start = params.ego_start
        self.right, self.left = street_sides(params)
        self.segment_count = math.ceil(length / SEGMENT_LENGTH)
        self.book = ZoneBook()
        self.ground: list[Primitive] = []
        self.objects: list[Placed] = []
        self.mandatory: list[Placed] = []
        self.ground_present: set[int] = set()
        self.buildings: dict[int, list[tuple[float, float, float]]] = {-1: [], 1: []}
        self._instance = 0
        self.window = (
            self.ego_start + MANDATORY_AHEAD[0],
            min(self.ego_start + MANDATORY_AHEAD[1], length - 8.0),
        )
        self.presence = (self.ego_start + PRESENCE_WINDOW[0], self.ego_start + PRESENCE_WINDOW[1])
        self.lanes = make_lanes(rng, params)
        self.bays = {
            side.sign: sample_runs(rng, self.segment_count, params.parking_fraction, 40.0)
            if side.parking
            else np.zeros(self.segment_count, dtype=np.bool_)
            for side in self.sides
        }
        self.islands = sample_runs(rng, self.segment_count, params.median_island_fraction, 30.0)
        if params.median_width < 1.0:  # too narrow to stand on: keep it painted
            self.islands[:] = False
        self._force_bay_in_window()
        self.walk_speed = {
            (side.sign, slot): float(rng.uniform(1.1, 1.5))
            for side in self.sides
            for slot in (0, 1)
        }
        self.terrain_material = random_material(rng, TERRAIN_COLORS, 8, 0.4, 0.6)
        self.ego_track = EgoTrack.drive(centerline, params, length)

    @property
    def sides(self) -> tuple[Side, Side]:
        """(right, left)."""
        return self.right, self.left

    def new_instance(self) -> int:
        """A fresh instance id (> 0) for a thing."""
        self._instance += 1
        return self._instance

    def add(self, placed: Placed, mandatory: bool) -> None:
        """Record a random object, or a mandatory one (kept only if its class is missing)."""
        (self.mandatory if mandatory else self.objects).append(placed)

    def heading(self, s: float) -> float:
        """Street heading at arc length s, rad."""
        return float(self.centerline.heading(s)[0])

    def heading_along(self, s: float, direction: int) -> float:
        """World yaw (rad) of travel at arc length s towards increasing s (direction > 0) or
        decreasing s (direction <= 0)."""
        return self.heading(s) + (0.0 if direction > 0 else math.pi)

    def world(self, s: float, d: float) -> tuple[float, float]:
        """World xy of street coordinates (s, d), m."""
        xy = self.centerline.to_world(s, d)[0]
        return float(xy[0]), float(xy[1])

    def inside(self, s_low: float, s_high: float) -> bool:
        """Whether [s_low, s_high] lies on the street (where its ground exists)."""
        return s_low >= 0.0 and s_high <= self.length

    def segment(self, s: float) -> int:
        """Index of the ground segment containing arc length s (clamped)."""
        return min(max(int(s // SEGMENT_LENGTH), 0), self.segment_count - 1)

    def bay_at(self, sign: int, s_low: float, s_high: float) -> bool:
        """Whether the whole [s_low, s_high] lies in parking bays on side `sign`."""
        if not self.inside(s_low, s_high):
            return False
        return bool(self.bays[sign][self.segment(s_low) : self.segment(s_high) + 1].all())

    def building_front(self, sign: int, s_low: float, s_high: float) -> float:
        """Smallest |d| of a building front overlapping [s_low, s_high] (inf: none)."""
        fronts = [f for start, end, f in self.buildings[sign] if start < s_high and s_low < end]
        return min(fronts, default=math.inf)

    def sweep(self, low: float, high: float, step: float) -> Iterator[float]:
        """Every `step` m through [low, high], starting at a random point and wrapping around,
        so a free spot is found if there is one while spots stay randomly chosen."""
        span = max(high - low, 0.0)
        start = float(self.rng.uniform(0.0, span)) if span > 0.0 else 0.0
        for k in range(math.ceil(span / step) + 1):
            yield low + (start + k * step) % span if span > 0.0 else low

    def place_ahead(self, place: Callable[[float], bool]) -> bool:
        """Try `place(s)` for a mandatory object until it succeeds, at arc lengths s from a
        sweep of the mandatory window ahead of the ego, then of the whole street (a fallback so
        it still exists on crowded streets). Returns whether it succeeded."""
        candidates = itertools.chain(
            self.sweep(*self.window, 1.0), self.sweep(5.0, self.length - 5.0, 2.0)
        )
        return any(place(s) for s in candidates)

    def poisson_count(self, per_100m: float) -> int:
        """A Poisson count for a density per 100 m over the street's length."""
        return int(self.rng.poisson(max(per_100m, 0.0) * self.length / 100.0))

    def random_side(self) -> Side:
        """The right or the left side with equal probability."""
        return self.sides[int(self.rng.integers(2))]

    def _force_bay_in_window(self) -> None:
        """Make sure parking bays exist ahead of the ego start on some parking side."""
        low, high = self.segment(self.ego_start + 10.0), self.segment(self.ego_start + 45.0)
        parking = [side for side in self.sides if side.parking]
        if not parking or any(self.bays[side.sign][low : high + 1].sum() >= 3 for side in parking):
            return
        start = self.segment(self.ego_start + 14.0)
        self.bays[parking[0].sign][start : start + 5] = True
