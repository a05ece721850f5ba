"""SemanticKITTI training class ids (1..19) and the groups of them the street generator uses."""

from __future__ import annotations

CAR, BICYCLE, MOTORCYCLE, TRUCK, OTHER_VEHICLE = 1, 2, 3, 4, 5
PERSON, BICYCLIST, MOTORCYCLIST = 6, 7, 8
ROAD, PARKING, SIDEWALK, OTHER_GROUND = 9, 10, 11, 12
BUILDING, FENCE, VEGETATION, TRUNK, TERRAIN, POLE, TRAFFIC_SIGN = 13, 14, 15, 16, 17, 18, 19

ALL_LABELS: tuple[int, ...] = tuple(range(1, 20))
THING_LABELS = frozenset(range(1, 9))  # classes with instance ids (vehicles, riders, people)
GROUND_LABELS = frozenset({ROAD, PARKING, SIDEWALK, OTHER_GROUND, TERRAIN})  # ground boxes
