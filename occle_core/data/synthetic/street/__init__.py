"""Procedural street scenes: a curved residential street built from analytic primitives.

The street follows a smooth centreline (`Centerline`). Everything is laid out in street
coordinates (arc length s along the centreline, lateral offset d, positive = left) and converted
to world xy at the end, so a curved street bends every layer with it. Right-hand traffic: the ego
drives along increasing s in the rightmost lane of the right half (d < 0); oncoming traffic uses
the left half.

Cross-section of one half, from the centreline outwards (|d| grows to the right)::

    median | lanes | parking or shoulder | kerb | sidewalk | terrain | property line | yard
    (12/9)   (9)     (10 / 9)                       (11)       (17)                      (17, 13)

Ground is a set of thin boxes (road top at z = 0, raised surfaces at the curb height) laid in
overlapping ~4 m segments; a very large terrain slab just below the road catches every downward
ray. Things and street furniture stand on the surface below them.

Every scene contains all 19 SemanticKITTI training classes: after the random layers, any class
missing within ~60 m ahead of the ego start is supplied by a "mandatory" object that was placed
(and its room reserved) in a sensible spot in that window before the random objects.

Modules, in the order a street is built:

- `params`: `StreetParams` and `sample_street_params`; `centerline`: the curve; `layout`: the
  cross-section bands, lanes and bay/island runs; `zones`: interval reservations per strip.
- `builder`: the state shared while building; `emit`: primitives at street coordinates.
- Layers: `ground`, `driveways`, `buildings`, `property_line`, `street_furniture`,
  `vegetation`, `traffic`, `parking`, `people`; `generator` runs them and assembles the `Scene`.
- `materials` and `templates`: what objects look like; `ego_clearance`: the ego's swept path.
"""

from __future__ import annotations

from occle_core.data.synthetic.street.centerline import Centerline
from occle_core.data.synthetic.street.ego_clearance import EGO_HALF_LENGTH, EGO_HALF_WIDTH
from occle_core.data.synthetic.street.generator import generate_scene
from occle_core.data.synthetic.street.labels import ALL_LABELS, GROUND_LABELS, THING_LABELS
from occle_core.data.synthetic.street.params import (
    MIN_EGO_START,
    MIN_RADIUS,
    StreetParams,
    ego_lane_offset,
    lane_offsets,
    sample_street_params,
)
from occle_core.data.synthetic.street.scene import LaneMotion, Scene, ground_height

__all__ = [
    "ALL_LABELS",
    "EGO_HALF_LENGTH",
    "EGO_HALF_WIDTH",
    "GROUND_LABELS",
    "MIN_EGO_START",
    "MIN_RADIUS",
    "THING_LABELS",
    "Centerline",
    "LaneMotion",
    "Scene",
    "StreetParams",
    "ego_lane_offset",
    "generate_scene",
    "ground_height",
    "lane_offsets",
    "sample_street_params",
]
