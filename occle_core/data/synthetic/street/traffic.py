"""The vehicle layers: moving traffic in the lanes and cars and vans parked in the bays, each
starting with the mandatory vehicles that must appear ahead of the ego."""

from __future__ import annotations

from occle_core.data.synthetic.street.builder import StreetBuilder
from occle_core.data.synthetic.street.ego_clearance import EGO_HALF_LENGTH
from occle_core.data.synthetic.street.emit import place_template
from occle_core.data.synthetic.street.labels import (
    BICYCLIST,
    CAR,
    MOTORCYCLIST,
    OTHER_VEHICLE,
    TRUCK,
)
from occle_core.data.synthetic.street.layout import BICYCLE_LANE_SPEED, Lane
from occle_core.data.synthetic.street.parking import park_mandatory, place_in_bay
from occle_core.data.synthetic.street.templates import Template, car, other_vehicle, rider, truck

EGO_FOLLOW_TIME = 1.8  # s, time gap to a vehicle ahead in the ego lane (at least 10 m)
LANE_GAP = 3.0  # m, free road kept before and after each moving vehicle in its lane
# Only cars and riders share the ego lane: a truck or bus riding ahead at the ego speed would
# hide the forward view for the whole drive.
EGO_LANE_LABELS = frozenset({CAR, BICYCLIST, MOTORCYCLIST})


def add_parked_vehicles(builder: StreetBuilder) -> None:
    """Cars and vans parked in the bays, filling slots at the scene's occupancy."""
    rng, p = builder.rng, builder.params
    _place_mandatory_vehicle(builder, CAR, car(rng))
    for side in builder.sides:
        s = float(rng.uniform(0.3, 2.0))
        while s < builder.length - 4.0:
            if not builder.bay_at(side.sign, s, s + 1.0):
                s += 1.0
                continue
            if rng.random() > p.parked_car_occupancy:
                s += float(rng.uniform(5.0, 6.5))  # an empty slot
                continue
            template = other_vehicle(rng, parked=True) if rng.random() < 0.07 else car(rng)
            if place_in_bay(builder, side, template, s, mandatory=False):
                s += 2 * template.half_length + float(rng.uniform(0.6, 2.5))
            else:
                s += 1.0


def _place_in_lane(
    builder: StreetBuilder, lane: Lane, template: Template, s: float, mandatory: bool
) -> bool:
    """Put a moving vehicle in a lane at arc length s, driving at the lane's speed.

    Refused where it would overlap a lane-mate, sit behind or too close in front of the ego
    in the ego lane, or cross the ego's path at any time of the drive.
    """
    hl, hw = template.half_length, template.half_width
    if not builder.inside(s - hl, s + hl):
        return False
    follow_gap = max(10.0, EGO_FOLLOW_TIME * builder.params.ego_speed)
    if lane.is_ego and s - hl < builder.ego_start + EGO_HALF_LENGTH + follow_gap:
        return False
    key = [("lane", lane.index)]
    if not builder.book.is_free(key, s - hl - LANE_GAP, s + hl + LANE_GAP):
        return False
    d = lane.d
    if template.label == BICYCLIST:  # ride near the right edge of the lane
        d -= lane.direction * (builder.params.lane_width / 2 - hw - 0.4)
    yaw = builder.heading_along(s, lane.direction)
    if not builder.ego_track.is_clear(builder.world(s, d), yaw, hl, hw, lane.speed):
        return False
    builder.book.take(key, s - hl - LANE_GAP, s + hl + LANE_GAP)
    builder.add(place_template(builder, template, s, d, yaw, 0.0, lane.speed), mandatory)
    return True


def _lanes_for(builder: StreetBuilder, label: int) -> list[Lane]:
    """Lanes a moving class may use, oncoming first (they pass the ego and are seen)."""
    lanes = [lane for lane in builder.lanes if lane.direction < 0] + [
        lane for lane in builder.lanes if lane.direction > 0
    ]
    if label == BICYCLIST:
        lanes = [lane for lane in lanes if lane.speed <= BICYCLE_LANE_SPEED]
    if label not in EGO_LANE_LABELS:
        lanes = [lane for lane in lanes if not lane.is_ego]
    return lanes


def add_traffic(builder: StreetBuilder) -> None:
    """Moving trucks, buses/vans, bicyclists, motorcyclists and cars in the lanes."""
    rng, p = builder.rng, builder.params
    makers = {
        TRUCK: (truck, p.trucks_per_100m),
        OTHER_VEHICLE: (other_vehicle, p.other_vehicles_per_100m),
        BICYCLIST: (lambda r: rider(r, motor=False), p.bicyclists_per_100m),
        MOTORCYCLIST: (lambda r: rider(r, motor=True), p.motorcyclists_per_100m),
        CAR: (car, p.moving_cars_per_100m),
    }
    # Mandatory ones first, least flexible first: trucks only fit moving lanes, bicyclists
    # only slow lanes, motorcyclists may ride ahead in the ego lane, vans may park.
    for label in (TRUCK, BICYCLIST, MOTORCYCLIST, OTHER_VEHICLE):
        _place_mandatory_vehicle(builder, label, makers[label][0](rng))
    for label, (make, density) in makers.items():
        lanes = _lanes_for(builder, label)
        for _ in range(builder.poisson_count(density)):
            template = make(rng)
            for _ in range(8):
                lane = lanes[int(rng.integers(len(lanes)))]
                if _place_in_lane(
                    builder, lane, template, float(rng.uniform(0.0, builder.length)), False
                ):
                    break


def _place_mandatory_vehicle(builder: StreetBuilder, label: int, template: Template) -> None:
    """A vehicle of `label` ahead of the ego, else anywhere on the street.

    Cars try a parking bay first and then the lanes; other classes try the lanes (the ego lane
    last: a vehicle there rides ahead of the ego for the whole drive), and other-vehicles then
    a parked van.
    """
    for low, high in (builder.window, (5.0, builder.length - 5.0)):
        if label == CAR and park_mandatory(builder, template, low, high):
            return
        if _drive_mandatory(builder, label, template, low, high):
            return
        if label == OTHER_VEHICLE and park_mandatory(
            builder, other_vehicle(builder.rng, parked=True), low, high
        ):
            return


def _drive_mandatory(
    builder: StreetBuilder, label: int, template: Template, low: float, high: float
) -> bool:
    """Put `template` moving in some lane at an arc length in [low, high]."""
    lanes = [lane for lane in _lanes_for(builder, label) if not lane.is_ego]
    lanes += [lane for lane in _lanes_for(builder, label) if lane.is_ego]
    for lane in lanes:
        for s in builder.sweep(low, high, 1.0):
            if _place_in_lane(builder, lane, template, s, mandatory=True):
                return True
    return False
