"""The street's centreline: a smooth planar curve parametrised by arc length, with the
conversions between street coordinates (s, d) and world xy."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import ArrayLike, NDArray

CENTERLINE_STEP = 0.25  # m, integration step of the centreline table


@dataclass(frozen=True)
class Centerline:
    """A smooth planar curve parametrised by arc length s (m).

    Heading θ(s) = A·sin(2πs/P + φ) + θ0; positions integrate (cos θ, sin θ) on a fine table
    (`step`) and interpolate linearly, with position(0) = origin. Outside [s_min, s_max] the
    curve continues straight along the end tangents.
    """

    amplitude: float = 0.0
    wavelength: float = 500.0
    phase: float = 0.0
    heading0: float = 0.0
    s_min: float = -100.0
    s_max: float = 500.0
    step: float = CENTERLINE_STEP
    origin: tuple[float, float] = (0.0, 0.0)
    _s: NDArray[np.float64] = field(init=False, repr=False, compare=False)
    _xy: NDArray[np.float64] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.s_max <= self.s_min or self.step <= 0.0 or self.wavelength <= 0.0:
            raise ValueError("Centerline: need s_max > s_min, step > 0, wavelength > 0")
        count = math.ceil((self.s_max - self.s_min) / self.step) + 1
        s = self.s_min + self.step * np.arange(count, dtype=np.float64)
        theta = self.heading(s)
        direction = np.stack([np.cos(theta), np.sin(theta)], axis=1)
        # Trapezoid rule: exact to O(step² κ), far below a millimetre for gentle streets.
        increments = 0.5 * (direction[1:] + direction[:-1]) * np.diff(s)[:, None]
        xy = np.concatenate([np.zeros((1, 2)), np.cumsum(increments, axis=0)], axis=0)
        at_zero = np.array([np.interp(0.0, s, xy[:, 0]), np.interp(0.0, s, xy[:, 1])])
        xy += np.asarray(self.origin, dtype=np.float64) - at_zero
        object.__setattr__(self, "_s", s)
        object.__setattr__(self, "_xy", xy)

    def heading(self, s: ArrayLike) -> NDArray[np.float64]:
        """(N,) heading in radians (world yaw of the tangent) at arc lengths s (N,)."""
        s_arr = np.atleast_1d(np.asarray(s, dtype=np.float64))
        angle = 2.0 * math.pi * s_arr / self.wavelength + self.phase
        return np.asarray(self.amplitude * np.sin(angle) + self.heading0, dtype=np.float64)

    def curvature(self, s: ArrayLike) -> NDArray[np.float64]:
        """(N,) signed curvature dθ/ds in 1/m (positive: turning left)."""
        s_arr = np.atleast_1d(np.asarray(s, dtype=np.float64))
        rate = 2.0 * math.pi / self.wavelength
        return np.asarray(self.amplitude * rate * np.cos(rate * s_arr + self.phase))

    @property
    def max_curvature(self) -> float:
        """Largest |curvature| anywhere on the curve, 1/m."""
        return abs(self.amplitude) * 2.0 * math.pi / self.wavelength

    def position(self, s: ArrayLike) -> NDArray[np.float64]:
        """(N, 2) world xy of the centreline at arc lengths s (N,)."""
        s_arr = np.atleast_1d(np.asarray(s, dtype=np.float64))
        table_s, table_xy = self._s, self._xy
        xy = np.stack(
            [np.interp(s_arr, table_s, table_xy[:, 0]), np.interp(s_arr, table_s, table_xy[:, 1])],
            axis=1,
        )
        for end, outside in ((0, s_arr < table_s[0]), (-1, s_arr > table_s[-1])):
            if outside.any():
                theta = float(self.heading(table_s[end])[0])
                run = s_arr[outside] - table_s[end]
                xy[outside] = table_xy[end] + run[:, None] * np.array(
                    [math.cos(theta), math.sin(theta)]
                )
        return xy

    def to_world(self, s: ArrayLike, d: ArrayLike) -> NDArray[np.float64]:
        """(N, 2) world xy of points at arc length s and lateral offset d (m, + = left).

        s and d broadcast against each other (scalars or (N,) arrays).
        """
        s_arr, d_arr = np.broadcast_arrays(
            np.atleast_1d(np.asarray(s, dtype=np.float64)),
            np.atleast_1d(np.asarray(d, dtype=np.float64)),
        )
        theta = self.heading(s_arr)
        normal = np.stack([-np.sin(theta), np.cos(theta)], axis=1)
        return self.position(s_arr) + d_arr[:, None] * normal

    def project(self, xy: ArrayLike) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Street coordinates of world points.

        Args:
            xy: (M, 2) world points.

        Returns:
            (s, d), each (M,): arc length of the nearest centreline point and the signed lateral
            offset (+ = left), refined to sub-millimetre accuracy for points well inside the
            radius of curvature.
        """
        points = np.atleast_2d(np.asarray(xy, dtype=np.float64))
        nearest = np.empty(len(points), dtype=np.intp)
        for start in range(0, len(points), 256):  # chunks bound the (M, table) distance matrix
            chunk = points[start : start + 256]
            dist = np.sum((chunk[:, None, :] - self._xy[None, :, :]) ** 2, axis=2)
            nearest[start : start + 256] = np.argmin(dist, axis=1)
        s = self._s[nearest]
        lateral = np.zeros(len(points))
        for _ in range(3):  # Newton steps on (p - c(s)) · t(s) = 0
            theta = self.heading(s)
            delta = points - self.position(s)
            along = delta[:, 0] * np.cos(theta) + delta[:, 1] * np.sin(theta)
            lateral = -delta[:, 0] * np.sin(theta) + delta[:, 1] * np.cos(theta)
            s = s + along / (1.0 - self.curvature(s) * lateral)
        return s, lateral

    def s_after(self, s_start: ArrayLike, d: ArrayLike, distance: ArrayLike) -> NDArray[np.float64]:
        """(N,) centreline arc length reached after driving `distance` m (negative: backwards)
        from arc length `s_start` along the parallel curve at lateral offset `d`; the three
        broadcast to (N,).

        A parallel curve at offset d has length element (1 - κ d) ds, so a car in an outer
        lane covers more centreline per metre than one in an inner lane.
        """
        start, offset, dist = np.broadcast_arrays(
            *(np.atleast_1d(np.asarray(v, dtype=np.float64)) for v in (s_start, d, distance))
        )
        s = np.empty(dist.shape, dtype=np.float64)
        for value in np.unique(offset):  # one length table per lane (a handful)
            rows = offset == value
            s[rows] = self._s_after_on(float(value), start[rows], dist[rows])
        return s

    def _s_after_on(
        self, d: float, s_start: NDArray[np.float64], distance: NDArray[np.float64]
    ) -> NDArray[np.float64]:
        """s_after for one lateral offset d; s_start and distance are (N,)."""
        table_s = self._s
        element = 1.0 - self.curvature(table_s) * d
        cumulative = np.concatenate(
            [[0.0], np.cumsum(0.5 * (element[1:] + element[:-1]) * np.diff(table_s))]
        )
        target = np.interp(s_start, table_s, cumulative) + distance
        s = np.interp(target, cumulative, table_s)
        beyond = target > cumulative[-1]
        s[beyond] = table_s[-1] + (target[beyond] - cumulative[-1]) / element[-1]
        before = target < cumulative[0]
        s[before] = table_s[0] + (target[before] - cumulative[0]) / element[0]
        return np.asarray(s, dtype=np.float64)
