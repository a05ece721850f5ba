"""Ray casting against analytic primitives: exact distances and normals on hand-built cases."""

import numpy as np
import pytest

from occle_core.data.synthetic.raycast import cast_rays
from occle_core.data.synthetic.shapes import Kind, Primitive, Primitives


def _unit(*vectors):
    array = np.asarray(vectors, dtype=np.float64)
    return array / np.linalg.norm(array, axis=1, keepdims=True)


def test_box_rotated_by_45_degrees_is_hit_on_its_corner_diagonal():
    scene = Primitives.from_list([Primitive(Kind.BOX, (10, 0, 0), (1, 2, 1), np.pi / 4, 1)])
    hits = cast_rays(scene, np.zeros(3), _unit([1, 0, 0]), max_range=100)
    # Along y = 0 the local x half extent (1) limits: |x - 10| * cos45 <= 1.
    assert hits.distance[0] == pytest.approx(10 - np.sqrt(2))
    np.testing.assert_allclose(hits.normal[0], [-np.sqrt(0.5), -np.sqrt(0.5), 0], atol=1e-12)
    assert hits.primitive[0] == 0


def test_cylinder_side_and_top_cap():
    scene = Primitives.from_list([Primitive(Kind.CYLINDER, (5, 0, 0), (0.5, 0.5, 1), 0, 18)])
    origin = np.array([0.0, 0.0, 0.0])
    side = cast_rays(scene, origin, _unit([1, 0, 0]), 100)
    assert side.distance[0] == pytest.approx(4.5)
    np.testing.assert_allclose(side.normal[0], [-1, 0, 0], atol=1e-12)
    # From above, straight down onto the top cap at z = 1.
    top = cast_rays(scene, np.array([5.0, 0.2, 3.0]), _unit([0, 0, -1]), 100)
    assert top.distance[0] == pytest.approx(2.0)
    np.testing.assert_allclose(top.normal[0], [0, 0, 1], atol=1e-12)
    # Passing above the top misses.
    over = cast_rays(scene, np.array([0.0, 0.0, 1.5]), _unit([1, 0, 0]), 100)
    assert over.primitive[0] == -1 and np.isinf(over.distance[0])


def test_ellipsoid_hit_and_normal():
    scene = Primitives.from_list([Primitive(Kind.ELLIPSOID, (0, 6, 0), (1, 1, 2), 0, 15)])
    hits = cast_rays(scene, np.zeros(3), _unit([0, 1, 0]), 100)
    assert hits.distance[0] == pytest.approx(5.0)
    np.testing.assert_allclose(hits.normal[0], [0, -1, 0], atol=1e-12)
    top = cast_rays(scene, np.array([0.0, 6.0, 5.0]), _unit([0, 0, -1]), 100)
    assert top.distance[0] == pytest.approx(3.0)
    np.testing.assert_allclose(top.normal[0], [0, 0, 1], atol=1e-12)
    # A ray through (0, 6, 2.5) passes above the top (radius z = 2).
    assert cast_rays(scene, np.zeros(3), _unit([0, 6, 2.5]), 100).primitive[0] == -1


def test_nearest_primitive_wins_and_range_limits():
    scene = Primitives.from_list(
        [
            Primitive(Kind.BOX, (20, 0, 0), (1, 1, 1), 0, 13),
            Primitive(Kind.BOX, (10, 0, 0), (1, 1, 1), 0, 1),
        ]
    )
    hits = cast_rays(scene, np.zeros(3), _unit([1, 0, 0], [-1, 0, 0]), max_range=15)
    assert hits.primitive.tolist() == [1, -1]
    assert hits.distance[0] == pytest.approx(9.0)
    short = cast_rays(scene, np.zeros(3), _unit([1, 0, 0]), max_range=8.5)
    assert short.primitive[0] == -1


def test_rays_starting_inside_a_box_do_not_hit_it():
    scene = Primitives.from_list([Primitive(Kind.BOX, (0, 0, 0), (5, 5, 5), 0, 13)])
    hits = cast_rays(scene, np.zeros(3), _unit([1, 0, 0], [0, 0, 1]), 100)
    assert (hits.primitive == -1).all()


def test_chunking_does_not_change_results():
    rng = np.random.default_rng(3)
    items = [
        Primitive(
            Kind(int(rng.integers(0, 3))),
            tuple(rng.uniform(-20, 20, 3)),
            tuple(rng.uniform(0.3, 2.0, 3)),
            float(rng.uniform(0, 3)),
            1,
        )
        for _ in range(40)
    ]
    scene = Primitives.from_list(items)
    dirs = rng.normal(size=(3000, 3))
    dirs /= np.linalg.norm(dirs, axis=1, keepdims=True)
    one = cast_rays(scene, np.zeros(3), dirs, 60, chunk=100000)
    many = cast_rays(scene, np.zeros(3), dirs, 60, chunk=97)
    np.testing.assert_array_equal(one.primitive, many.primitive)
    np.testing.assert_array_equal(one.distance, many.distance)
    # Every hit point lies on the surface of its primitive: brute force check for boxes.
    boxes = np.flatnonzero(scene.kind == Kind.BOX)
    for ray in np.flatnonzero(np.isin(one.primitive, boxes))[:200]:
        k = one.primitive[ray]
        point = dirs[ray] * one.distance[ray]
        local = scene.to_local(point[None], np.array([k]))[0]
        assert np.max(np.abs(local) / scene.half[k]) == pytest.approx(1.0, abs=1e-9)
