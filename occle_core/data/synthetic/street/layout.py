"""Layout of the street across and along it: the two halves' lateral bands, the driving lanes
with their speeds, and the on/off runs of parking bays and median islands."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from occle_core.data.synthetic.street.params import StreetParams, lane_offsets

SEGMENT_LENGTH = 4.0  # m, length of one ground box along the centreline
BICYCLE_LANE_SPEED = 8.5  # m/s, bicyclists only ride in lanes at most this fast


@dataclass(frozen=True)
class Side:
    """Lateral layout of one half of the street; distances are |d| in metres.

    Attributes:
        sign: -1 for the right (ego) side, +1 for the left.
        lane_edge: outer edge of the outermost lane.
        kerb: road edge (kerb line).
        sidewalk_outer: outer edge of the sidewalk.
        property_line: outer edge of the terrain strip.
        yard_outer: outer edge of the yard ground band (beyond the deepest building).
        parking: whether the strip between lane edge and kerb has parking bays.
    """

    sign: int
    lane_edge: float
    kerb: float
    sidewalk_outer: float
    property_line: float
    yard_outer: float
    parking: bool


def street_sides(params: StreetParams) -> tuple[Side, Side]:
    """The (right, left) halves of the street."""
    lane_edge = params.median_width / 2.0 + params.lanes_per_direction * params.lane_width
    sides = []
    for sign, parking in ((-1, params.parking_right), (1, params.parking_left)):
        kerb = lane_edge + (params.parking_width if parking else params.shoulder_width)
        sidewalk_outer = kerb + params.sidewalk_width
        yard_outer = sidewalk_outer + params.building_setback[1] + params.building_depth[1] + 4.0
        sides.append(
            Side(
                sign,
                lane_edge,
                kerb,
                sidewalk_outer,
                sidewalk_outer + params.terrain_width,
                yard_outer,
                parking,
            )
        )
    return sides[0], sides[1]


@dataclass(frozen=True)
class Lane:
    """One driving lane: index, centre offset d (m), direction (+1 along s) and speed (m/s)."""

    index: int
    d: float
    direction: int
    speed: float
    is_ego: bool


def make_lanes(rng: np.random.Generator, params: StreetParams) -> list[Lane]:
    """All lanes with one speed each.

    Every object in a lane moves at the lane's speed, so lane-mates never run into each other;
    the ego lane moves at the ego speed. At least one lane is slow enough for bicyclists.
    """
    same, oncoming = lane_offsets(params)
    lanes: list[Lane] = []
    for i, d in enumerate(same):
        is_ego = i == len(same) - 1
        speed = params.ego_speed if is_ego else params.ego_speed * float(rng.uniform(0.85, 1.3))
        lanes.append(Lane(len(lanes), d, 1, speed, is_ego))
    slow_outer = rng.random() < 0.4
    for i, d in enumerate(oncoming):
        outermost = i == len(oncoming) - 1
        speed = float(rng.uniform(4.5, 7.0) if outermost and slow_outer else rng.uniform(7.0, 14.0))
        lanes.append(Lane(len(lanes), d, -1, speed, False))
    if all(lane.speed > BICYCLE_LANE_SPEED for lane in lanes):
        last = lanes[-1]
        lanes[-1] = Lane(last.index, last.d, last.direction, float(rng.uniform(4.5, 7.0)), False)
    return lanes


def sample_runs(
    rng: np.random.Generator,
    count: int,
    fraction: float,
    mean_on: float,
) -> NDArray[np.bool_]:
    """(count,) mask of ground segments in alternating on/off runs covering ~`fraction`.

    Args:
        count: number of segments.
        fraction: expected share of segments that are on, 0..1.
        mean_on: mean length of an on-run, m.
    """
    mask = np.zeros(count, dtype=np.bool_)
    if fraction <= 0.0:
        return mask
    if fraction >= 1.0:
        mask[:] = True
        return mask
    mean_off = mean_on * (1.0 - fraction) / fraction
    k, on = 0, bool(rng.random() < fraction)
    while k < count:
        run = max(1, round(rng.uniform(0.5, 1.5) * (mean_on if on else mean_off) / SEGMENT_LENGTH))
        if on:
            mask[k : k + run] = True
        k, on = k + run, not on
    return mask
