"""The procedural street generator: determinism, class coverage, physical plausibility and the
ego's drive."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
from numpy.typing import NDArray

from occle_core.data.synthetic.shapes import Kind, Primitives
from occle_core.data.synthetic.street import (
    ALL_LABELS,
    EGO_HALF_LENGTH,
    EGO_HALF_WIDTH,
    GROUND_LABELS,
    THING_LABELS,
    Centerline,
    Scene,
    StreetParams,
    ego_lane_offset,
    generate_scene,
    ground_height,
    lane_offsets,
    sample_street_params,
)

SEEDS = range(10)
LENGTH = 200.0
DRIVE_TIMES = np.arange(0.0, 10.0 + 1e-9, 0.25)  # s
VEHICLE_LABELS = {1, 2, 3, 4, 5, 7, 8}
SIGN, POLE, VEGETATION, TRUNK = 19, 18, 15, 16


@pytest.fixture(scope="module")
def scenes() -> dict[int, Scene]:
    return {seed: generate_scene(seed, LENGTH) for seed in SEEDS}


def bottoms(prims: Primitives) -> NDArray[np.float64]:
    """(K,) lowest z of each primitive (the same formula for all three kinds)."""
    return prims.center[:, 2] - prims.half[:, 2]


def footprint(prims: Primitives, k: int) -> tuple[NDArray[np.float64], float, tuple[float, float]]:
    """Centre (2,), yaw and (half length, half width) of a primitive's xy bounding rectangle."""
    half = prims.half[k]
    if prims.kind[k] == Kind.CYLINDER:
        return prims.center[k, :2], 0.0, (half[0], half[0])
    return prims.center[k, :2], float(prims.yaw[k]), (half[0], half[1])


def rects_overlap(
    centre_a: NDArray[np.float64],
    yaw_a: float,
    half_a: tuple[float, float],
    centre_b: NDArray[np.float64],
    yaw_b: float,
    half_b: tuple[float, float],
) -> bool:
    """Separating-axis test of two oriented rectangles."""

    def axes(yaw: float) -> list[NDArray[np.float64]]:
        return [np.array([math.cos(yaw), math.sin(yaw)]), np.array([-math.sin(yaw), math.cos(yaw)])]

    ua, ub = axes(yaw_a), axes(yaw_b)
    delta = centre_b - centre_a
    for axis in ua + ub:
        reach_a = half_a[0] * abs(ua[0] @ axis) + half_a[1] * abs(ua[1] @ axis)
        reach_b = half_b[0] * abs(ub[0] @ axis) + half_b[1] * abs(ub[1] @ axis)
        if abs(delta @ axis) > reach_a + reach_b:
            return False
    return True


def ego_xy_yaw(scene: Scene, time_s: float) -> tuple[NDArray[np.float64], float]:
    pose = scene.ego_pose(time_s)
    return pose[:2, 3], math.atan2(pose[1, 0], pose[0, 0])


def is_flat_ground(prims: Primitives) -> NDArray[np.bool_]:
    """Ground boxes at road level (driving over them is fine)."""
    top = prims.center[:, 2] + prims.half[:, 2]
    return np.isin(prims.label, list(GROUND_LABELS)) & (top <= 0.01)


def test_same_seed_gives_identical_primitives() -> None:
    first, second = generate_scene(3, LENGTH), generate_scene(3, LENGTH)
    assert first.params == second.params
    for field in dataclasses.fields(Primitives):
        np.testing.assert_array_equal(
            getattr(first.primitives, field.name), getattr(second.primitives, field.name)
        )


def test_different_seeds_give_different_streets(scenes: dict[int, Scene]) -> None:
    params = [scene.params for scene in scenes.values()]
    assert len({round(p.lane_width, 3) for p in params}) == len(params)
    assert len({round(p.curvature_amplitude, 4) for p in params}) >= 5
    assert len({p.lanes_per_direction for p in params}) == 2
    counts = {tuple(np.bincount(s.primitives.label, minlength=20)) for s in scenes.values()}
    assert len(counts) == len(scenes)


def test_sampled_params_are_valid_and_varied() -> None:
    rng = np.random.default_rng(123)
    drawn = [sample_street_params(rng) for _ in range(50)]
    assert any(p.curvature_amplitude == 0.0 for p in drawn)
    assert any(p.curvature_amplitude > 0.05 for p in drawn)
    assert any(p.median_width > 0.0 for p in drawn)
    assert all(p.parking_left or p.parking_right for p in drawn)
    assert len({(p.parking_left, p.parking_right) for p in drawn}) == 3


@pytest.mark.parametrize("seed", SEEDS)
def test_every_class_is_present_near_the_ego_start(scenes: dict[int, Scene], seed: int) -> None:
    scene = scenes[seed]
    assert set(np.unique(scene.primitives.label).tolist()) == set(ALL_LABELS)
    start, _ = ego_xy_yaw(scene, 0.0)
    near = np.linalg.norm(scene.primitives.center[:, :2] - start, axis=1) < 70.0
    assert set(np.unique(scene.primitives.label[near]).tolist()) == set(ALL_LABELS)


def test_every_class_is_present_without_parking_or_median() -> None:
    params = StreetParams(
        parking_left=False,
        parking_right=False,
        median_width=0.0,
        driveway_probability=0.0,
        moving_cars_per_100m=0.0,
        trucks_per_100m=0.0,
        other_vehicles_per_100m=0.0,
        persons_per_100m=0.0,
        bicycles_per_100m=0.0,
        motorcycles_per_100m=0.0,
        bicyclists_per_100m=0.0,
        motorcyclists_per_100m=0.0,
        fence_fraction=0.0,
        signs_per_100m=0.0,
        sign_probability=0.0,
        trees_per_100m=0.0,
    )
    scene = generate_scene(5, 150.0, params)
    assert set(np.unique(scene.primitives.label).tolist()) == set(ALL_LABELS)


def test_instances_are_unique_per_thing(scenes: dict[int, Scene]) -> None:
    for scene in scenes.values():
        prims = scene.primitives
        is_thing = np.isin(prims.label, list(THING_LABELS))
        assert np.all(prims.instance[is_thing] > 0)
        assert np.all(prims.instance[~is_thing] == 0)
        for instance in np.unique(prims.instance[is_thing]):
            members = prims.instance == instance
            assert len(np.unique(prims.label[members])) == 1
            assert len(np.unique(prims.velocity[members], axis=0)) == 1


@pytest.mark.parametrize("seed", SEEDS)
def test_objects_rest_on_the_ground(scenes: dict[int, Scene], seed: int) -> None:
    prims = scenes[seed].primitives
    bottom = bottoms(prims)
    ground = ground_height(prims, prims.center[:, :2])
    # Things: the lowest part of every instance stands on the surface below it.
    for instance in np.unique(prims.instance[prims.instance > 0]):
        members = np.flatnonzero(prims.instance == instance)
        lowest = members[np.argmin(bottom[members])]
        assert bottom[lowest] == pytest.approx(ground[lowest], abs=0.01), prims.label[lowest]
    # Stuff standing on the ground: buildings, fences, trunks, poles and box hedges.
    standing = np.isin(prims.label, [13, 14, TRUNK, POLE]) | (
        (prims.label == VEGETATION) & (prims.kind == Kind.BOX)
    )
    np.testing.assert_allclose(bottom[standing], ground[standing], atol=0.01)
    # Vegetation ellipsoids are crowns on trunks or bushes sunk a little into the ground.
    trunks = np.flatnonzero(prims.label == TRUNK)
    for k in np.flatnonzero((prims.label == VEGETATION) & (prims.kind == Kind.ELLIPSOID)):
        if bottom[k] > ground[k] + 1.5:
            below = np.linalg.norm(prims.center[trunks, :2] - prims.center[k, :2], axis=1) < 0.01
            tops = prims.center[trunks, 2] + prims.half[trunks, 2]
            assert np.any(below & (tops > bottom[k])), "crown without a trunk"
        else:
            assert ground[k] - 0.3 * prims.half[k, 2] <= bottom[k] <= ground[k] + 0.01
    # Signs hang on a pole, above head height.
    poles = np.flatnonzero(prims.label == POLE)
    pole_tops = prims.center[poles, 2] + prims.half[poles, 2]
    for k in np.flatnonzero(prims.label == SIGN):
        assert bottom[k] > ground[k] + 2.0
        near = np.linalg.norm(prims.center[poles, :2] - prims.center[k, :2], axis=1) < 0.5
        assert np.any(near & (pole_tops >= bottom[k]))


def test_ground_height_of_the_cross_section(scenes: dict[int, Scene]) -> None:
    scene = scenes[0]
    params, cl = scene.params, scene.centerline
    s = np.full(3, 100.0)
    kerb = (
        params.median_width / 2
        + params.lanes_per_direction * params.lane_width
        + (params.parking_width if params.parking_right else params.shoulder_width)
    )
    d = np.array(
        [
            ego_lane_offset(params),
            -(kerb + 0.5 * params.sidewalk_width),
            -(kerb + params.sidewalk_width + 0.5 * params.terrain_width),
        ]
    )
    heights = ground_height(scene.primitives, cl.to_world(s, d))
    np.testing.assert_allclose(heights, [0.0, params.curb_height, params.curb_height], atol=1e-9)
    # Far from the street only the catch-all terrain slab remains.
    far = cl.to_world(100.0, 120.0)
    assert ground_height(scene.primitives, far)[0] == pytest.approx(-0.02)


@pytest.mark.parametrize("seed", SEEDS)
def test_static_objects_keep_clear_of_the_ego_lane(scenes: dict[int, Scene], seed: int) -> None:
    scene = scenes[seed]
    prims = scene.primitives
    corridor_half = (EGO_HALF_LENGTH, scene.params.lane_width / 2 - 0.1)
    candidates = np.flatnonzero(~prims.is_moving & ~is_flat_ground(prims))
    for time_s in DRIVE_TIMES:
        ego, yaw = ego_xy_yaw(scene, float(time_s))
        near = np.linalg.norm(prims.center[candidates, :2] - ego, axis=1) < (
            prims.bounding_radius()[candidates] + 8.0
        )
        for k in candidates[near]:
            centre, prim_yaw, half = footprint(prims, int(k))
            assert not rects_overlap(ego, yaw, corridor_half, centre, prim_yaw, half), (
                f"t={time_s}: label {prims.label[k]} intrudes the ego lane"
            )


@pytest.mark.parametrize("seed", SEEDS)
def test_moving_objects_never_hit_the_ego(scenes: dict[int, Scene], seed: int) -> None:
    scene = scenes[seed]
    for time_s in DRIVE_TIMES:
        prims = scene.primitives.at_time(float(time_s))
        ego, yaw = ego_xy_yaw(scene, float(time_s))
        for k in np.flatnonzero(prims.is_moving):
            centre, prim_yaw, half = footprint(prims, int(k))
            assert not rects_overlap(
                ego, yaw, (EGO_HALF_LENGTH, EGO_HALF_WIDTH), centre, prim_yaw, half
            )


def test_ego_lane_traffic_moves_at_the_ego_speed(scenes: dict[int, Scene]) -> None:
    for scene in scenes.values():
        prims, params = scene.primitives, scene.params
        _, d = scene.centerline.project(prims.center[:, :2])
        in_ego_lane = prims.is_moving & (
            np.abs(d - ego_lane_offset(params)) < params.lane_width / 2
        )
        speeds = np.linalg.norm(prims.velocity[in_ego_lane], axis=1)
        np.testing.assert_allclose(speeds, params.ego_speed)


def test_ego_pose_is_a_rigid_transform_moving_at_the_ego_speed(scenes: dict[int, Scene]) -> None:
    for scene in scenes.values():
        cl, dt = scene.centerline, 0.1
        for time_s in (0.0, 3.3, 9.9):
            pose = scene.ego_pose(time_s)
            assert pose.shape == (4, 4)
            np.testing.assert_allclose(pose[:3, :3] @ pose[:3, :3].T, np.eye(3), atol=1e-12)
            assert np.linalg.det(pose[:3, :3]) == pytest.approx(1.0)
            np.testing.assert_array_equal(pose[3], [0.0, 0.0, 0.0, 1.0])
            assert pose[2, 3] == 0.0
            step = scene.ego_pose(time_s + dt)[:3, 3] - pose[:3, 3]
            assert np.linalg.norm(step) / dt == pytest.approx(scene.params.ego_speed, rel=1e-3)
            s, d = cl.project(pose[:2, 3][None, :])
            assert d[0] == pytest.approx(ego_lane_offset(scene.params), abs=1e-3)
            heading = float(cl.heading(s)[0])
            yaw = math.atan2(pose[1, 0], pose[0, 0])
            assert math.remainder(yaw - heading, 2 * math.pi) == pytest.approx(0.0, abs=1e-3)
        start_s, _ = cl.project(scene.ego_pose(0.0)[:2, 3][None, :])
        assert start_s[0] == pytest.approx(scene.params.ego_start, abs=1e-3)
        assert scene.params.ego_start >= 30.0


def test_moving_objects_follow_their_lane_heading(scenes: dict[int, Scene]) -> None:
    for scene in scenes.values():
        prims, cl, params = scene.primitives, scene.centerline, scene.params
        moving = np.flatnonzero(prims.is_moving)
        s, d = cl.project(prims.center[moving, :2])
        heading = cl.heading(s)
        tangent = np.stack([np.cos(heading), np.sin(heading)], axis=1)
        velocity = prims.velocity[moving]
        speed = np.linalg.norm(velocity, axis=1)
        along = np.sum(velocity * tangent, axis=1)
        np.testing.assert_allclose(np.abs(along), speed, rtol=1e-4)  # parallel to the lane
        # Vehicles keep right: with the centreline direction on the right half, against it
        # on the left half; walkers walk both ways at walking pace.
        vehicle = np.isin(prims.label[moving], list(VEHICLE_LABELS))
        np.testing.assert_array_equal(np.sign(along[vehicle]), -np.sign(d[vehicle]))
        carriageway = params.median_width / 2 + params.lanes_per_direction * params.lane_width
        assert np.all(np.abs(d[vehicle]) < carriageway)
        walkers = prims.label[moving] == 6
        assert np.all((speed[walkers] > 1.0) & (speed[walkers] < 1.6))
        # The yaw of a moving primitive points along its velocity.
        yaw = prims.yaw[moving][vehicle]
        direction = np.stack([np.cos(yaw), np.sin(yaw)], axis=1)
        np.testing.assert_allclose(np.sum(direction * velocity[vehicle], axis=1), speed[vehicle])


def test_primitives_at_keeps_movers_in_their_lanes(scenes: dict[int, Scene]) -> None:
    for scene in scenes.values():
        motion, cl = scene.motion, scene.centerline
        prims0 = scene.primitives
        assert set(motion.index.tolist()) == set(np.flatnonzero(prims0.is_moving).tolist())
        at_zero = scene.primitives_at(0.0)
        np.testing.assert_allclose(at_zero.center, prims0.center, atol=1e-9)
        np.testing.assert_allclose(at_zero.velocity, prims0.velocity, atol=1e-9)
        _, d0 = cl.project(prims0.center[motion.index, :2])
        for time_s in (2.5, 10.0):
            prims = scene.primitives_at(time_s)
            static = np.setdiff1d(np.arange(len(prims)), motion.index)
            np.testing.assert_array_equal(prims.center[static], prims0.center[static])
            _, d = cl.project(prims.center[motion.index, :2])
            np.testing.assert_allclose(d, d0, atol=0.02)  # still in the lane (rigid parts: ~mm)
            np.testing.assert_array_equal(prims.center[:, 2], prims0.center[:, 2])
            travelled = np.linalg.norm(
                prims.center[motion.index, :2] - prims0.center[motion.index, :2], axis=1
            )
            speed = np.abs(motion.speed)
            # A chord is a little shorter than the arc; parts off the lane line differ a bit.
            assert np.all(travelled <= speed * time_s * 1.01 + 1e-6)
            assert np.all(travelled >= speed * time_s * 0.98 - 1e-6)
            # Lane-followers never meet the ego either.
            ego, yaw = ego_xy_yaw(scene, time_s)
            for k in motion.index:
                centre, prim_yaw, half = footprint(prims, int(k))
                assert not rects_overlap(
                    ego, yaw, (EGO_HALF_LENGTH, EGO_HALF_WIDTH), centre, prim_yaw, half
                )


def test_primitive_budget_and_sizes(scenes: dict[int, Scene]) -> None:
    for scene in scenes.values():
        prims = scene.primitives
        assert 300 <= len(prims) <= 1500
        assert np.all(prims.half > 0.0)
        corners = prims.local_corners()
        for label, low, high in ((1, 3.9, 4.9), (4, 7.0, 9.0), (6, 0.4, 0.56)):
            for instance in np.unique(prims.instance[prims.label == label]):
                members = np.flatnonzero(prims.instance == instance)
                yaw = prims.yaw[members[0]]
                along = corners[members, :, :2] @ np.array([math.cos(yaw), math.sin(yaw)])
                assert low - 1e-6 <= along.max() - along.min() <= high + 1e-6
        assert np.all(prims.reflectivity[prims.label == SIGN] > 0.8)


def test_lane_offsets_put_the_ego_in_the_rightmost_lane() -> None:
    params = StreetParams(lanes_per_direction=2, lane_width=3.0, median_width=2.0)
    same, oncoming = lane_offsets(params)
    assert same == [-2.5, -5.5] and oncoming == [2.5, 5.5]
    assert ego_lane_offset(params) == -5.5


def test_centerline_geometry() -> None:
    cl = Centerline(amplitude=0.2, wavelength=300.0, phase=0.4, s_min=-50.0, s_max=400.0)
    np.testing.assert_allclose(cl.position(0.0), [[0.0, 0.0]], atol=1e-12)
    s = np.linspace(-40.0, 390.0, 200)
    xy = cl.position(s)
    assert xy.shape == (200, 2) and cl.heading(s).shape == (200,)
    # Unit speed and tangent along the heading.
    step = cl.position(s + 0.5) - cl.position(s - 0.5)
    np.testing.assert_allclose(np.linalg.norm(step, axis=1), 1.0, atol=1e-4)
    np.testing.assert_allclose(np.arctan2(step[:, 1], step[:, 0]), cl.heading(s), atol=1e-4)
    # Lateral offsets are perpendicular and to the left; project inverts to_world.
    d = np.linspace(-25.0, 25.0, 200)
    world = cl.to_world(s, d)
    s_back, d_back = cl.project(world)
    np.testing.assert_allclose(s_back, s, atol=2e-3)
    np.testing.assert_allclose(d_back, d, atol=2e-3)
    # s_after measures distance along the parallel curve at the given offset.
    assert cl.s_after(0.0, 0.0, 50.0)[0] == pytest.approx(50.0, abs=1e-6)
    for offset in (-6.0, 6.0):
        end = cl.s_after(10.0, offset, 80.0)[0]
        path = cl.to_world(np.linspace(10.0, end, 4001), offset)
        assert np.sum(np.linalg.norm(np.diff(path, axis=0), axis=1)) == pytest.approx(
            80.0, abs=1e-3
        )
        assert abs(end - 90.0) > 0.01  # the bend makes inner and outer lanes differ


def test_bad_parameters_are_rejected() -> None:
    with pytest.raises(ValueError, match="ego_start"):
        StreetParams(ego_start=10.0)
    with pytest.raises(ValueError, match="sidewalk_width"):
        StreetParams(sidewalk_width=1.0)
    with pytest.raises(ValueError, match="length"):
        generate_scene(0, 80.0)
