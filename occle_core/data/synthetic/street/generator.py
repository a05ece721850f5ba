"""`generate_scene`: the order in which the layers are built, and the final assembly that keeps
only the mandatory objects whose classes are missing and records the lane motion."""

from __future__ import annotations

import math

import numpy as np

from occle_core.data.synthetic.shapes import Primitive, Primitives
from occle_core.data.synthetic.street.builder import LaneAnchor, StreetBuilder
from occle_core.data.synthetic.street.buildings import add_buildings, add_gap_features
from occle_core.data.synthetic.street.centerline import Centerline
from occle_core.data.synthetic.street.driveways import add_mandatory_openings
from occle_core.data.synthetic.street.ground import SLAB_MARGIN, add_ground
from occle_core.data.synthetic.street.labels import ALL_LABELS
from occle_core.data.synthetic.street.params import StreetParams, sample_street_params
from occle_core.data.synthetic.street.parking import add_two_wheelers
from occle_core.data.synthetic.street.people import add_people
from occle_core.data.synthetic.street.property_line import add_property_line
from occle_core.data.synthetic.street.scene import LaneMotion, Scene
from occle_core.data.synthetic.street.street_furniture import add_street_furniture
from occle_core.data.synthetic.street.traffic import add_parked_vehicles, add_traffic
from occle_core.data.synthetic.street.vegetation import add_vegetation


def generate_scene(seed: int, length: float, params: StreetParams | None = None) -> Scene:
    """Generate a street from s = 0 to `length` m with the ego starting at params.ego_start.

    Args:
        seed: the only source of randomness (`np.random.default_rng(seed)`); the same seed,
            length and params give identical primitives.
        length: street length along the centreline, m; at least ego_start + 60 m. Ask for the
            ego's travel plus ~120 m so the sensors always see street ahead.
        params: street parameters; drawn from the seed when omitted.

    Returns:
        The scene, containing every one of the 19 SemanticKITTI training classes.
    """
    rng = np.random.default_rng(seed)
    if params is None:
        params = sample_street_params(rng)
    if length < params.ego_start + 60.0:
        raise ValueError(f"generate_scene: length {length} m is shorter than ego_start + 60 m")
    centerline = Centerline(
        amplitude=params.curvature_amplitude,
        wavelength=params.curvature_wavelength,
        phase=params.curvature_phase,
        s_min=-SLAB_MARGIN,
        s_max=length + 400.0,
    )
    builder = StreetBuilder(rng, params, centerline, float(length))
    add_ground(builder)
    add_mandatory_openings(builder)
    add_buildings(builder)
    add_gap_features(builder)
    add_property_line(builder)
    add_street_furniture(builder)
    add_vegetation(builder)
    add_traffic(builder)
    add_parked_vehicles(builder)
    add_two_wheelers(builder)
    add_people(builder)
    prims, motion = _finalise(builder)
    return Scene(
        primitives=Primitives.from_list(prims),
        params=params,
        centerline=centerline,
        length=float(length),
        seed=seed,
        motion=motion,
    )


def _finalise(builder: StreetBuilder) -> tuple[list[Primitive], LaneMotion]:
    """Ground, random objects, and the mandatory objects whose classes the random layers left
    missing near the ego start; plus the lane-following record of the moving ones."""
    low, high = builder.presence
    present = set(builder.ground_present)
    for obj in builder.objects:
        if low <= obj.s <= high:
            present |= obj.labels
    kept = list(builder.objects)
    for obj in builder.mandatory:
        if not obj.labels <= present:
            kept.append(obj)
            present |= obj.labels
    prims = list(builder.ground)
    rows: list[tuple[int, float, float, float, float, float, float]] = []
    for obj in kept:
        if obj.motion is not None:
            rows.extend(_motion_rows(builder, obj.parts, obj.motion, len(prims)))
        prims.extend(obj.parts)
    missing = set(ALL_LABELS) - {p.label for p in prims}
    if missing:
        raise RuntimeError(f"street generator could not place classes {sorted(missing)}")
    if not rows:
        return prims, LaneMotion.empty()
    table = np.array(rows, dtype=np.float64)
    motion = LaneMotion(
        index=table[:, 0].astype(np.intp),
        s=table[:, 1],
        d=table[:, 2],
        speed=table[:, 3],
        offset=table[:, 4:6],
        yaw_offset=table[:, 6],
    )
    return prims, motion


def _motion_rows(
    builder: StreetBuilder,
    parts: tuple[Primitive, ...],
    anchor: LaneAnchor,
    first: int,
) -> list[tuple[int, float, float, float, float, float, float]]:
    """LaneMotion rows (index, s, d, speed, offset x, offset y, yaw offset) of the parts of a
    moving object riding at `anchor` whose first part lands at index `first`."""
    s, d, yaw_offset, speed = anchor.s, anchor.d, anchor.yaw_offset, anchor.speed
    anchor_x, anchor_y = builder.world(s, d)
    rows = []
    for i, part in enumerate(parts):
        dx, dy = part.center[0] - anchor_x, part.center[1] - anchor_y
        cos, sin = math.cos(part.yaw), math.sin(part.yaw)
        local = (cos * dx + sin * dy, -sin * dx + cos * dy)
        rows.append((first + i, s, d, speed, local[0], local[1], yaw_offset))
    return rows
