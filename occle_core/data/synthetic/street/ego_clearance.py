"""The ego's swept path and the test that keeps moving objects out of it."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from occle_core.data.synthetic.street.centerline import Centerline
from occle_core.data.synthetic.street.params import StreetParams, ego_lane_offset

EGO_HALF_LENGTH = 3.0  # m, conservative half length of the ego car (collision checks)
EGO_HALF_WIDTH = 1.0  # m, conservative half width of the ego car
EGO_CLEARANCE = 0.3  # m, extra margin kept between moving objects and the ego
TRACK_STEP = 0.1  # s, sampling interval of the ego track
MIN_TRACK_DURATION = 10.0  # s, the track covers at least this much of the drive


@dataclass(frozen=True, eq=False)
class EgoTrack:
    """The ego's drive sampled in time (T samples) for collision checks.

    Attributes:
        times: (T,) seconds since the start.
        xy: (T, 2) world position of the ego, m.
        yaw: (T,) world heading of the ego, rad.
    """

    times: NDArray[np.float64]
    xy: NDArray[np.float64]
    yaw: NDArray[np.float64]

    @classmethod
    def drive(cls, centerline: Centerline, params: StreetParams, length: float) -> EgoTrack:
        """The ego's whole drive along its lane until it reaches the street's end at arc
        length `length` m (but at least MIN_TRACK_DURATION), every TRACK_STEP."""
        horizon = max(MIN_TRACK_DURATION, (length - params.ego_start) / params.ego_speed)
        times = np.arange(0.0, horizon + TRACK_STEP, TRACK_STEP)
        offset = ego_lane_offset(params)
        s = centerline.s_after(params.ego_start, offset, params.ego_speed * times)
        return cls(times, centerline.to_world(s, offset), centerline.heading(s))

    def is_clear(
        self,
        xy: tuple[float, float],
        yaw: float,
        half_length: float,
        half_width: float,
        speed: float,
    ) -> bool:
        """Whether a footprint at world `xy` (m) with heading `yaw` (rad), moving in a straight
        line at `speed` m/s along its heading (as `Primitives.at_time` moves it), never
        overlaps the ego, with a margin of EGO_CLEARANCE, over the whole drive."""
        velocity = (speed * math.cos(yaw), speed * math.sin(yaw))
        centres = np.asarray(xy)[None, :] + np.asarray(velocity)[None, :] * self.times[:, None]
        ego_half = (EGO_HALF_LENGTH + EGO_CLEARANCE, EGO_HALF_WIDTH + EGO_CLEARANCE)
        hits = rects_overlap(
            self.xy,
            self.yaw,
            ego_half,
            centres,
            np.full(len(centres), yaw),
            (half_length, half_width),
        )
        return not bool(hits.any())


def rects_overlap(
    centre_a: NDArray[np.float64],
    yaw_a: NDArray[np.float64],
    half_a: tuple[float, float],
    centre_b: NDArray[np.float64],
    yaw_b: NDArray[np.float64],
    half_b: tuple[float, float],
) -> NDArray[np.bool_]:
    """(T,) separating-axis test of two oriented rectangles at T instants.

    Args:
        centre_a, centre_b: (T, 2) centres.
        yaw_a, yaw_b: (T,) orientations, rad.
        half_a, half_b: (half length, half width) of each rectangle, m.
    """
    delta = centre_b - centre_a
    axes_a = _axes(yaw_a)
    axes_b = _axes(yaw_b)
    overlap = np.ones(len(delta), dtype=np.bool_)
    for axis in (*axes_a, *axes_b):
        gap = np.abs(np.sum(delta * axis, 1))
        overlap &= gap <= _reach(axes_a, half_a, axis) + _reach(axes_b, half_b, axis)
    return overlap


def _axes(yaw: NDArray[np.float64]) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """(T, 2) unit length and width axes of rectangles rotated by yaw (T,)."""
    cos, sin = np.cos(yaw), np.sin(yaw)
    return np.stack([cos, sin], 1), np.stack([-sin, cos], 1)


def _reach(
    axes: tuple[NDArray[np.float64], NDArray[np.float64]],
    half: tuple[float, float],
    axis: NDArray[np.float64],
) -> NDArray[np.float64]:
    """(T,) half width of a rectangle's projection onto `axis` (T, 2)."""
    along = np.abs(np.sum(axes[0] * axis, 1))
    across = np.abs(np.sum(axes[1] * axis, 1))
    return np.asarray(half[0] * along + half[1] * across)
