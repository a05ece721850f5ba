"""Street parameters: what shapes one street, how a plausible street is drawn, and where its
lanes lie across the cross-section."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

MIN_RADIUS = 1000.0  # m, tightest centreline radius drawn by sample_street_params
MIN_EGO_START = 30.0  # m, the world must extend behind the ego


@dataclass(frozen=True)
class StreetParams:
    """Everything that shapes one street. Densities are expected counts per 100 m of street.

    Attributes:
        lanes_per_direction: number of driving lanes in each direction.
        lane_width: width of one lane, m.
        median_width: width of the central strip between the two directions, m (0: a painted
            centre line only).
        median_island_fraction: share of the street length, 0..1, where the central strip is a
            raised island (other-ground); elsewhere it is road.
        parking_right: whether the right kerb (ego side) has a parking strip.
        parking_left: whether the left kerb has a parking strip.
        parking_width: width of a parking strip, m.
        parking_fraction: share, 0..1, of a parking strip laid out as bays (parking); the rest
            is road (no-parking zones).
        shoulder_width: road strip between the outer lane and the kerb on sides without
            parking, m.
        sidewalk_width: width of each sidewalk, m (at least 2.2 so two walkers can pass).
        curb_height: height of kerb, sidewalk, terrain and islands above the road, m.
        terrain_width: width of the grass strip between sidewalk and property line, m.
        building_setback: (min, max) distance from the sidewalk's outer edge to a building
            front, m.
        building_depth: (min, max) building depth perpendicular to the street, m.
        building_height: (min, max) building height, m.
        building_length: (min, max) building length along the street, m.
        building_gap: (min, max) gap between neighbouring buildings, m (gaps under 1 m close to
            attached row houses).
        driveway_probability: chance, 0..1, that a building gap gets a paved driveway.
        parked_car_occupancy: share, 0..1, of parking-bay slots that hold a vehicle.
        moving_cars_per_100m: moving cars, all lanes together.
        trucks_per_100m: moving trucks.
        other_vehicles_per_100m: moving buses, vans and caravans (vans also park in bays).
        motorcycles_per_100m: parked motorcycles.
        bicycles_per_100m: parked bicycles.
        persons_per_100m: pedestrians on the sidewalks (walking or standing).
        bicyclists_per_100m: riding bicyclists.
        motorcyclists_per_100m: riding motorcyclists.
        trees_per_100m: street trees per side along the terrain strip.
        tree_avenue: plant street trees at regular spacing (an avenue) instead of at random.
        bushes_per_100m: bushes per side in the terrain strips and front yards.
        pole_spacing: (min, max) distance between consecutive street-light poles on one side, m.
        sign_probability: share, 0..1, of street-light poles that carry a traffic sign.
        signs_per_100m: free-standing sign posts per side.
        fence_fraction: share, 0..1, of the property line lined by fences.
        hedge_fraction: share, 0..1, of the property line lined by hedges.
        curvature_amplitude: amplitude A of the heading oscillation, rad.
        curvature_wavelength: wavelength P of the heading oscillation, m.
        curvature_phase: phase of the heading oscillation at s = 0, rad.
        ego_speed: ego speed along its lane, m/s.
        ego_start: arc length where the ego starts, m (at least MIN_EGO_START).
    """

    lanes_per_direction: int = 1
    lane_width: float = 3.25
    median_width: float = 0.0
    median_island_fraction: float = 0.0
    parking_right: bool = True
    parking_left: bool = True
    parking_width: float = 2.3
    parking_fraction: float = 0.7
    shoulder_width: float = 0.5
    sidewalk_width: float = 2.8
    curb_height: float = 0.15
    terrain_width: float = 2.5
    building_setback: tuple[float, float] = (4.5, 9.0)
    building_depth: tuple[float, float] = (9.0, 16.0)
    building_height: tuple[float, float] = (6.0, 14.0)
    building_length: tuple[float, float] = (10.0, 24.0)
    building_gap: tuple[float, float] = (1.5, 10.0)
    driveway_probability: float = 0.4
    parked_car_occupancy: float = 0.7
    moving_cars_per_100m: float = 3.0
    trucks_per_100m: float = 0.5
    other_vehicles_per_100m: float = 0.5
    motorcycles_per_100m: float = 1.0
    bicycles_per_100m: float = 2.0
    persons_per_100m: float = 4.0
    bicyclists_per_100m: float = 1.0
    motorcyclists_per_100m: float = 0.6
    trees_per_100m: float = 6.0
    tree_avenue: bool = True
    bushes_per_100m: float = 8.0
    pole_spacing: tuple[float, float] = (20.0, 32.0)
    sign_probability: float = 0.4
    signs_per_100m: float = 1.5
    fence_fraction: float = 0.35
    hedge_fraction: float = 0.3
    curvature_amplitude: float = 0.08
    curvature_wavelength: float = 500.0
    curvature_phase: float = 0.0
    ego_speed: float = 8.0
    ego_start: float = 40.0

    def __post_init__(self) -> None:
        checks: list[tuple[bool, str]] = [
            (self.lanes_per_direction >= 1, "lanes_per_direction must be >= 1"),
            (self.lane_width >= 2.5, "lane_width must be >= 2.5 m"),
            (self.median_width >= 0.0, "median_width must be >= 0"),
            (self.parking_width >= 2.1, "parking_width must be >= 2.1 m"),
            (self.shoulder_width >= 0.2, "shoulder_width must be >= 0.2 m"),
            (self.sidewalk_width >= 2.2, "sidewalk_width must be >= 2.2 m"),
            (0.0 < self.curb_height <= 0.3, "curb_height must be in (0, 0.3] m"),
            (self.terrain_width >= 1.5, "terrain_width must be >= 1.5 m"),
            (
                self.building_setback[0] >= self.terrain_width + 1.5,
                "building_setback[0] must leave >= 1.5 m beyond the terrain strip",
            ),
            (self.curvature_wavelength > 0.0, "curvature_wavelength must be > 0"),
            (self.ego_speed > 0.0, "ego_speed must be > 0"),
            (self.ego_start >= MIN_EGO_START, f"ego_start must be >= {MIN_EGO_START} m"),
            (self.pole_spacing[0] >= 5.0, "pole_spacing[0] must be >= 5 m"),
            (
                self.fence_fraction + self.hedge_fraction <= 1.0,
                "fence_fraction + hedge_fraction must be <= 1",
            ),
            (self.building_length[0] >= 5.0, "building_length[0] must be >= 5 m"),
        ]
        for name in (
            "building_setback",
            "building_depth",
            "building_height",
            "building_length",
            "building_gap",
            "pole_spacing",
        ):
            low, high = getattr(self, name)
            checks.append((0.0 <= low <= high, f"{name} must be an ordered (min, max) pair"))
        for name in (
            "median_island_fraction",
            "parking_fraction",
            "driveway_probability",
            "parked_car_occupancy",
            "sign_probability",
            "fence_fraction",
            "hedge_fraction",
        ):
            checks.append((0.0 <= getattr(self, name) <= 1.0, f"{name} must be in [0, 1]"))
        for ok, message in checks:
            if not ok:
                raise ValueError(f"StreetParams: {message}")


def sample_street_params(rng: np.random.Generator) -> StreetParams:
    """Draw a plausible residential street: width, curvature, density and object mix."""
    lanes = 1 if rng.random() < 0.7 else 2
    lane_width = float(rng.uniform(2.9, 3.6))
    median_width = 0.0 if rng.random() < 0.6 else float(rng.uniform(1.2, 3.0))
    island_fraction = float(rng.uniform(0.3, 0.8)) if median_width > 0.0 else 0.0
    # At least one kerb has parking: parked cars are the most common thing in SemanticKITTI.
    parking_draw = rng.random()
    parking_right = parking_draw < 0.75
    parking_left = parking_draw < 0.45 or parking_draw >= 0.75
    terrain_width = float(rng.uniform(1.5, 4.0))
    # Front gardens are shallow in the dense residential streets SemanticKITTI was recorded in.
    setback_low = terrain_width + float(rng.uniform(1.6, 2.6))
    height_low = float(rng.uniform(4.0, 8.0))
    length_low = float(rng.uniform(8.0, 12.0))
    pole_low = float(rng.uniform(15.0, 25.0))
    fence_fraction = float(rng.uniform(0.2, 0.7))
    hedge_fraction = float(rng.uniform(0.4, 0.9)) * (1.0 - fence_fraction)
    wavelength = float(rng.uniform(400.0, 1200.0))
    # Keep the tightest radius >= MIN_RADIUS: `Primitives.at_time` moves objects in straight
    # lines, which drift off a curved lane by ~distance²/(2R); a gentle street keeps them near
    # their lanes for consumers that use it instead of `Scene.primitives_at`.
    max_amplitude = min(0.12, wavelength / (2.0 * math.pi * MIN_RADIUS))
    amplitude = 0.0 if rng.random() < 0.3 else float(rng.uniform(0.02, max_amplitude))
    return StreetParams(
        lanes_per_direction=lanes,
        lane_width=lane_width,
        median_width=median_width,
        median_island_fraction=island_fraction,
        parking_right=bool(parking_right),
        parking_left=bool(parking_left),
        parking_width=float(rng.uniform(2.1, 2.5)),
        parking_fraction=float(rng.uniform(0.5, 0.9)),
        shoulder_width=float(rng.uniform(0.3, 0.8)),
        sidewalk_width=float(rng.uniform(2.2, 4.0)),
        curb_height=float(rng.uniform(0.12, 0.18)),
        terrain_width=terrain_width,
        building_setback=(setback_low, setback_low + float(rng.uniform(1.5, 6.0))),
        building_depth=(float(rng.uniform(8.0, 10.0)), float(rng.uniform(12.0, 20.0))),
        building_height=(height_low, height_low + float(rng.uniform(4.0, 14.0))),
        building_length=(length_low, length_low + float(rng.uniform(8.0, 18.0))),
        building_gap=(float(rng.uniform(0.0, 3.0)), float(rng.uniform(6.0, 15.0))),
        driveway_probability=float(rng.uniform(0.2, 0.7)),
        parked_car_occupancy=float(rng.uniform(0.4, 0.95)),
        moving_cars_per_100m=float(rng.uniform(1.0, 6.0)),
        trucks_per_100m=float(rng.uniform(0.1, 0.8)),
        other_vehicles_per_100m=float(rng.uniform(0.1, 0.8)),
        motorcycles_per_100m=float(rng.uniform(0.3, 2.0)),
        bicycles_per_100m=float(rng.uniform(0.5, 4.0)),
        persons_per_100m=float(rng.uniform(1.0, 8.0)),
        bicyclists_per_100m=float(rng.uniform(0.3, 2.0)),
        motorcyclists_per_100m=float(rng.uniform(0.2, 1.5)),
        trees_per_100m=float(rng.uniform(6.0, 14.0)),
        tree_avenue=bool(rng.random() < 0.5),
        bushes_per_100m=float(rng.uniform(10.0, 30.0)),
        pole_spacing=(pole_low, pole_low + float(rng.uniform(5.0, 15.0))),
        sign_probability=float(rng.uniform(0.2, 0.6)),
        signs_per_100m=float(rng.uniform(0.5, 3.0)),
        fence_fraction=fence_fraction,
        hedge_fraction=hedge_fraction,
        curvature_amplitude=amplitude,
        curvature_wavelength=wavelength,
        curvature_phase=float(rng.uniform(0.0, 2.0 * math.pi)),
        ego_speed=float(rng.uniform(5.0, 11.0)),
        ego_start=40.0,
    )


def lane_offsets(params: StreetParams) -> tuple[list[float], list[float]]:
    """Lateral offsets d (m) of the lane centres.

    Returns:
        (ego-direction lanes, oncoming lanes), each ordered from the median outwards; the ego
        lane is the last ego-direction lane (the rightmost).
    """
    base = params.median_width / 2.0
    outward = [base + (i + 0.5) * params.lane_width for i in range(params.lanes_per_direction)]
    return [-d for d in outward], outward


def ego_lane_offset(params: StreetParams) -> float:
    """Lateral offset d (m, negative: right of the centreline) of the ego lane's centre."""
    return lane_offsets(params)[0][-1]
