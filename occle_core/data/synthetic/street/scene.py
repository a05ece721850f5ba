"""A generated street (`Scene`): its primitives, the ego's drive and the lane-following motion of
the moving objects; plus `ground_height`, the surface under world points."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import ArrayLike, NDArray

from occle_core.data.synthetic.shapes import Kind, Primitives
from occle_core.data.synthetic.street.centerline import Centerline
from occle_core.data.synthetic.street.labels import GROUND_LABELS
from occle_core.data.synthetic.street.params import StreetParams, ego_lane_offset


@dataclass(frozen=True, eq=False)
class LaneMotion:
    """How the moving primitives follow their lanes (M of them).

    `Primitives.at_time` moves primitives in straight lines, which leaves curved lanes by
    ~distance²/(2R); `Scene.primitives_at` uses this record to keep them on their lanes.

    Attributes:
        index: (M,) indices of the moving primitives in `Scene.primitives`.
        s: (M,) arc length of the owning object's anchor at time 0, m.
        d: (M,) lateral offset of the anchor (its lane or walking line), m.
        speed: (M,) signed speed along the lane, m/s (+: towards increasing s).
        offset: (M, 2) part centre in the object frame (x forward, y left), m.
        yaw_offset: (M,) object yaw minus the lane heading, rad (0 or π).
    """

    index: NDArray[np.intp]
    s: NDArray[np.float64]
    d: NDArray[np.float64]
    speed: NDArray[np.float64]
    offset: NDArray[np.float64]
    yaw_offset: NDArray[np.float64]

    @classmethod
    def empty(cls) -> LaneMotion:
        """No moving primitives."""
        none = np.zeros(0, dtype=np.float64)
        return cls(np.zeros(0, dtype=np.intp), none, none, none, np.zeros((0, 2)), none)

    def __len__(self) -> int:
        return int(self.index.shape[0])


@dataclass(frozen=True, eq=False)
class Scene:
    """A generated street and the ego's drive along it.

    Attributes:
        primitives: every primitive of the world at time 0.
        params: the street parameters used.
        centerline: the street's centreline.
        length: street length along the centreline, m (the world spans s = 0..length).
        seed: the generator seed.
        motion: how the moving primitives follow their lanes (see `primitives_at`).
    """

    primitives: Primitives
    params: StreetParams
    centerline: Centerline
    length: float
    seed: int
    motion: LaneMotion = field(default_factory=LaneMotion.empty)

    def primitives_at(self, time_s: float) -> Primitives:
        """The primitives at `time_s` seconds with moving objects driven along their lanes.

        Unlike `primitives.at_time` (straight lines at the time-0 velocity), vehicles and
        walkers follow the street's curve; both agree at time 0 and on straight streets.
        Velocities are the instantaneous ones.
        """
        motion, prims = self.motion, self.primitives
        if len(motion) == 0:
            return prims
        s = self.centerline.s_after(motion.s, motion.d, motion.speed * time_s)
        anchor = self.centerline.to_world(s, motion.d)
        heading = self.centerline.heading(s)
        yaw = heading + motion.yaw_offset
        cos, sin = np.cos(yaw), np.sin(yaw)
        center, velocity, yaws = prims.center.copy(), prims.velocity.copy(), prims.yaw.copy()
        center[motion.index, 0] = (
            anchor[:, 0] + cos * motion.offset[:, 0] - sin * motion.offset[:, 1]
        )
        center[motion.index, 1] = (
            anchor[:, 1] + sin * motion.offset[:, 0] + cos * motion.offset[:, 1]
        )
        yaws[motion.index] = yaw
        velocity[motion.index] = motion.speed[:, None] * np.stack(
            [np.cos(heading), np.sin(heading)], 1
        )
        return dataclasses.replace(prims, center=center, yaw=yaws, velocity=velocity)

    @property
    def ego_offset(self) -> float:
        """Lateral offset d of the ego lane's centre, m (negative: right of the centreline)."""
        return ego_lane_offset(self.params)

    def ego_arc_length(self, time_s: ArrayLike) -> NDArray[np.float64]:
        """(N,) centreline arc length of the ego at times (N,) s after the start."""
        distance = self.params.ego_speed * np.atleast_1d(np.asarray(time_s, dtype=np.float64))
        return self.centerline.s_after(self.params.ego_start, self.ego_offset, distance)

    def ego_pose(self, time_s: float) -> NDArray[np.float64]:
        """(4, 4) world_from_vehicle at `time_s` seconds.

        The vehicle frame has x forward, y left, z up and its origin on the road surface in
        the middle of the ego lane; it drives at `params.ego_speed` along the lane with the
        centreline's heading.
        """
        s = self.ego_arc_length(time_s)
        xy = self.centerline.to_world(s, self.ego_offset)[0]
        yaw = float(self.centerline.heading(s)[0])
        pose = np.eye(4, dtype=np.float64)
        pose[0, 0], pose[0, 1] = math.cos(yaw), -math.sin(yaw)
        pose[1, 0], pose[1, 1] = math.sin(yaw), math.cos(yaw)
        pose[0, 3], pose[1, 3] = xy
        return pose


def ground_height(primitives: Primitives, xy: ArrayLike) -> NDArray[np.float64]:
    """Top of the highest ground box (road, parking, sidewalk, other-ground, terrain) under
    each point.

    Args:
        primitives: a scene's primitives.
        xy: (M, 2) world points.

    Returns:
        (M,) surface height in metres, -inf where no ground box covers the point.
    """
    points = np.atleast_2d(np.asarray(xy, dtype=np.float64))
    is_ground = (primitives.kind == Kind.BOX) & np.isin(primitives.label, list(GROUND_LABELS))
    index = np.flatnonzero(is_ground)
    centre, half, yaw = primitives.center[index], primitives.half[index], primitives.yaw[index]
    delta = points[:, None, :] - centre[None, :, :2]
    cos, sin = np.cos(yaw)[None, :], np.sin(yaw)[None, :]
    local_x = cos * delta[..., 0] + sin * delta[..., 1]
    local_y = -sin * delta[..., 0] + cos * delta[..., 1]
    inside = (np.abs(local_x) <= half[None, :, 0]) & (np.abs(local_y) <= half[None, :, 1])
    top = np.where(inside, (centre[:, 2] + half[:, 2])[None, :], -np.inf)
    return np.asarray(top.max(axis=1, initial=-np.inf), dtype=np.float64)
