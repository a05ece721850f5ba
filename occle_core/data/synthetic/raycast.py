"""Vectorised ray casting against analytic primitives (the LiDAR and the camera of the world).

All rays of a bundle share one origin (the sensor centre). Each primitive is first culled with
its bounding sphere (a cone test per ray), then the surviving (ray, primitive) pairs are
intersected exactly in the primitive's local frame, and the nearest hit per ray is kept.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from occle_core.data.synthetic.shapes import Kind, Primitives
from occle_core.data.synthetic.windows import RayWindows

_EPS = 1e-9


@dataclass(frozen=True)
class RayHits:
    """Nearest hit of every ray.

    Attributes:
        distance: (R,) float64 distance along the unit ray; inf where nothing is hit in range.
        primitive: (R,) int64 index of the hit primitive; -1 where nothing is hit.
        normal: (R, 3) float64 world unit normal of the hit surface (zeros where no hit).
    """

    distance: NDArray[np.float64]
    primitive: NDArray[np.int64]
    normal: NDArray[np.float64]

    @property
    def hit(self) -> NDArray[np.bool_]:
        return self.primitive >= 0


def _candidate_pairs(
    primitives: Primitives,
    origin: NDArray[np.float64],
    directions: NDArray[np.float32],
    max_range: float,
) -> tuple[NDArray[np.intp], NDArray[np.intp]]:
    """(ray, primitive) pairs whose ray passes through the primitive's bounding sphere."""
    to_center = primitives.center - origin
    distance = np.linalg.norm(to_center, axis=1)
    radius = primitives.bounding_radius()
    near = np.flatnonzero(distance - radius <= max_range)
    if near.size == 0:
        return np.zeros(0, np.intp), np.zeros(0, np.intp)
    inside = distance[near] <= radius[near]
    axis = to_center[near] / np.maximum(distance[near], _EPS)[:, None]
    ratio = np.clip(radius[near] / np.maximum(distance[near], _EPS), 0.0, 1.0)
    # A ray meets the sphere iff its angle to the centre direction is below asin(r / d).
    threshold = np.where(inside, -2.0, np.sqrt(1.0 - ratio**2))
    cosines = directions @ axis.T.astype(np.float32)
    rays, columns = np.nonzero(cosines >= threshold.astype(np.float32) - 1e-6)
    return rays, near[columns]


def _intersect_boxes(o: NDArray, d: NDArray, half: NDArray) -> tuple[NDArray, NDArray]:
    """Slab test; returns distance (inf on miss or when the origin is inside) and local normal."""
    safe = np.where(np.abs(d) < _EPS, _EPS, d)
    inv = 1.0 / safe
    t1 = (-half - o) * inv
    t2 = (half - o) * inv
    t_near = np.minimum(t1, t2)
    t_far = np.maximum(t1, t2)
    # Column-wise max/min: much faster than reductions over a length-3 axis.
    entry = np.maximum(np.maximum(t_near[:, 0], t_near[:, 1]), t_near[:, 2])
    exit_ = np.minimum(np.minimum(t_far[:, 0], t_far[:, 1]), t_far[:, 2])
    hit = (entry <= exit_) & (entry > _EPS)
    axis = np.where(t_near[:, 0] >= entry, 0, np.where(t_near[:, 1] >= entry, 1, 2))
    normal = np.zeros_like(o)
    rows = np.arange(len(o))
    normal[rows, axis] = -np.sign(safe[rows, axis])
    return np.where(hit, entry, np.inf), normal


def _intersect_cylinders(o: NDArray, d: NDArray, half: NDArray) -> tuple[NDArray, NDArray]:
    """Vertical capped cylinder (radius half[:, 0], half height half[:, 2])."""
    radius, hz = half[:, 0], half[:, 2]
    a = d[:, 0] ** 2 + d[:, 1] ** 2
    b = 2.0 * (o[:, 0] * d[:, 0] + o[:, 1] * d[:, 1])
    c = o[:, 0] ** 2 + o[:, 1] ** 2 - radius**2
    disc = b * b - 4.0 * a * c
    root = np.sqrt(np.maximum(disc, 0.0))
    t_side = (-b - root) / np.maximum(2.0 * a, _EPS)
    z_side = o[:, 2] + t_side * d[:, 2]
    side_ok = (disc >= 0) & (a > _EPS) & (t_side > _EPS) & (np.abs(z_side) <= hz)
    # The cap facing the origin: the top one when the origin is above, the bottom one below.
    cap_z = np.where(o[:, 2] > 0, hz, -hz)
    safe_dz = np.where(np.abs(d[:, 2]) < _EPS, _EPS, d[:, 2])
    t_cap = (cap_z - o[:, 2]) / safe_dz
    cap_xy = o[:, :2] + t_cap[:, None] * d[:, :2]
    cap_ok = (t_cap > _EPS) & (np.sum(cap_xy**2, axis=1) <= radius**2) & (np.abs(o[:, 2]) > hz)
    t_side = np.where(side_ok, t_side, np.inf)
    t_cap = np.where(cap_ok, t_cap, np.inf)
    use_cap = t_cap < t_side
    normal = np.zeros_like(o)
    side_point = o[:, :2] + np.where(np.isfinite(t_side), t_side, 0.0)[:, None] * d[:, :2]
    normal[:, :2] = side_point / np.maximum(radius, _EPS)[:, None]
    normal[use_cap] = 0.0
    normal[use_cap, 2] = np.sign(cap_z[use_cap])
    return np.minimum(t_side, t_cap), normal


def _intersect_ellipsoids(o: NDArray, d: NDArray, half: NDArray) -> tuple[NDArray, NDArray]:
    """Axis-aligned ellipsoid with radii `half`, by scaling it to the unit sphere."""
    os_, ds = o / half, d / half
    a = np.sum(ds * ds, axis=1)
    b = 2.0 * np.sum(os_ * ds, axis=1)
    c = np.sum(os_ * os_, axis=1) - 1.0
    disc = b * b - 4.0 * a * c
    t = (-b - np.sqrt(np.maximum(disc, 0.0))) / (2.0 * a)
    hit = (disc >= 0) & (t > _EPS) & (c > 0)
    point = o + np.where(hit, t, 0.0)[:, None] * d
    normal = point / half**2
    normal /= np.maximum(np.linalg.norm(normal, axis=1, keepdims=True), _EPS)
    return np.where(hit, t, np.inf), normal


_INTERSECTORS = {
    Kind.BOX: _intersect_boxes,
    Kind.CYLINDER: _intersect_cylinders,
    Kind.ELLIPSOID: _intersect_ellipsoids,
}


def _intersect_pairs(
    primitives: Primitives,
    local_origins: NDArray,
    directions: NDArray,
    rays: NDArray[np.intp],
    prims: NDArray[np.intp],
) -> tuple[NDArray, NDArray]:
    """Exact distance and world normal for every (ray, primitive) pair.

    Args:
        primitives: the scene.
        local_origins: (K, 3) the bundle origin expressed in every primitive's local frame.
        directions: (R, 3) world ray directions.
        rays: (P,) ray of each pair.
        prims: (P,) primitive of each pair.
    """
    distance = np.full(rays.size, np.inf)
    normal = np.zeros((rays.size, 3))
    kinds = primitives.kind[prims]
    for kind, intersect in _INTERSECTORS.items():
        select = np.flatnonzero(kinds == kind)
        if select.size == 0:
            continue
        index = prims[select]
        local_dir = primitives.rotate_to_local(directions[rays[select]], index)
        t, n_local = intersect(local_origins[index], local_dir, primitives.half[index])
        distance[select] = t
        hit = np.flatnonzero(np.isfinite(t))
        normal[select[hit]] = primitives.rotate_to_world(n_local[hit], index[hit])
    return distance, normal


def _nearest_per_ray(
    rays: NDArray,
    prims: NDArray,
    t: NDArray,
    n: NDArray,
    best: NDArray,
    which: NDArray,
    normal: NDArray,
) -> None:
    """Fold a batch of pair hits into the running nearest hit of every ray (in place)."""
    order = np.lexsort((t, rays))
    if order.size == 0:
        return
    first = order[np.r_[True, np.diff(rays[order]) != 0]]
    closer = t[first] < best[rays[first]]
    first = first[closer]
    best[rays[first]] = t[first]
    which[rays[first]] = prims[first]
    normal[rays[first]] = n[first]


def cast_rays(
    primitives: Primitives,
    origin: NDArray[np.floating],
    directions: NDArray[np.floating],
    max_range: float,
    windows: RayWindows | None = None,
    chunk: int = 8192,
    max_pairs: int = 2_000_000,
) -> RayHits:
    """Nearest intersection of every ray with the primitives.

    Args:
        primitives: the scene at the capture time.
        origin: (3,) world position all rays start from.
        directions: (R, 3) world unit directions.
        max_range: hits farther than this are dropped (distance inf).
        windows: candidate rays per primitive for bundles on a grid (see `windows`); without
            them every ray is tested against every primitive's bounding sphere.
        chunk: rays per batch of the bounding-sphere culling (bounds its memory).
        max_pairs: (ray, primitive) pairs per batch with windows (bounds memory).

    Returns:
        The nearest hit per ray.
    """
    origin64 = np.asarray(origin, dtype=np.float64)
    dirs64 = np.asarray(directions, dtype=np.float64)
    count = dirs64.shape[0]
    best = np.full(count, np.inf)
    which = np.full(count, -1, dtype=np.int64)
    normal = np.zeros((count, 3))
    local_origins = primitives.point_in_every_frame(origin64)
    for rays, prims in _pair_batches(
        primitives, origin64, dirs64, max_range, windows, chunk, max_pairs
    ):
        t, n = _intersect_pairs(primitives, local_origins, dirs64, rays, prims)
        keep = t <= max_range
        _nearest_per_ray(rays[keep], prims[keep], t[keep], n[keep], best, which, normal)
    return RayHits(distance=best, primitive=which, normal=normal)


def _pair_batches(
    primitives: Primitives,
    origin: NDArray,
    dirs: NDArray,
    max_range: float,
    windows: RayWindows | None,
    chunk: int,
    max_pairs: int,
) -> Iterator[tuple[NDArray[np.int64], NDArray[np.int64]]]:
    """Candidate (ray, primitive) pairs, in batches of bounded size."""
    if windows is None:
        dirs32 = dirs.astype(np.float32)  # the culling only needs single precision
        for start in range(0, len(dirs), chunk):
            rays, prims = _candidate_pairs(
                primitives, origin, dirs32[start : start + chunk], max_range
            )
            yield rays.astype(np.int64) + start, prims.astype(np.int64)
        return
    sizes = windows.sizes()
    active = np.flatnonzero(sizes > 0)
    # Group primitives so that each batch enumerates at most about `max_pairs` pairs.
    group = np.cumsum(sizes[active]) // max_pairs
    for value in np.unique(group):
        yield windows.pairs(active[group == value])
