"""The assembled OccLE network: configs, shapes, gradients, cameras, determinism, checkpoints."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import torch

from occle_core.data.nuscenes.sample import load_nuscenes_sample
from occle_core.data.semantickitti.calib import read_calib
from occle_core.data.semantickitti.files import read_velodyne
from occle_core.errors import DataFormatError
from occle_core.frame import Frame
from occle_core.geometry.camera import CameraModel
from occle_core.geometry.grid import OCC3D_GRID, SEMANTICKITTI_GRID, GridSpec
from occle_core.model.backbones_2d.image_unet import ImageUNet
from occle_core.model.build import build_model
from occle_core.model.checkpoint import DECISION_BUFFERS, load_checkpoint, save_checkpoint
from occle_core.model.config import OccLEConfig, load_model_config
from occle_core.model.inputs import PixelMapCache, prepare_inputs
from occle_core.typed_config import to_mapping

REPO = Path(__file__).resolve().parents[2]
CONFIGS = REPO / "config" / "models"
NUSCENES_CALIB = "nuscenes/ca9a282c9e77460f8360f564131a8af5_calib.json"


def ring_camera(yaw_deg: float, name: str, width: int = 96, height: int = 64) -> CameraModel:
    """A pinhole camera at the origin looking along yaw, 90 degree horizontal field of view."""
    yaw = np.deg2rad(yaw_deg)
    forward = np.array([np.cos(yaw), np.sin(yaw), 0.0])
    right = np.array([np.sin(yaw), -np.cos(yaw), 0.0])
    extrinsic = np.eye(4)
    extrinsic[:3, :3] = np.stack([right, [0.0, 0.0, -1.0], forward])
    focal = width / 2
    k = np.array([[focal, 0, width / 2], [0, focal, height / 2], [0, 0, 1]])
    return CameraModel(name, k, extrinsic, width, height)


def random_frame(config: OccLEConfig, cameras: list[CameraModel], seed: int, n: int = 3000):
    rng = np.random.default_rng(seed)
    lower, upper = np.array(config.grid.origin), np.array(config.grid.upper)
    xyz = rng.uniform(lower, upper, (n, 3))
    points = np.concatenate([xyz, rng.uniform(0, 1, (n, 1))], axis=1).astype(np.float32)
    images = [rng.integers(0, 256, (c.height, c.width, 3), dtype=np.uint8) for c in cameras]
    return Frame(points, images, cameras, frame_id=f"random/{seed}")


def micro_config(**changes) -> OccLEConfig:
    """The tiny config shrunk further, for tests that build many models."""
    tiny = load_model_config(CONFIGS / "occle_tiny.yaml")
    base = dataclasses.replace(
        tiny,
        grid=GridSpec.from_range((-8.0, -8.0, -1.0), (8.0, 8.0, 2.2), 0.8),  # 20 x 20 x 4
        image_size=(32, 48),
        fusion=dataclasses.replace(tiny.fusion, channels=16, orders=("xyz", "morton")),
    )
    return dataclasses.replace(base, **changes)


@pytest.fixture(scope="module")
def tiny() -> OccLEConfig:
    return load_model_config(CONFIGS / "occle_tiny.yaml")


@pytest.fixture(scope="module")
def front_camera() -> CameraModel:
    return ring_camera(0.0, "front", 310, 94)


# --- configurations -------------------------------------------------------------------------------
def test_shipped_configs_describe_the_datasets():
    kitti = load_model_config(CONFIGS / "occle_semantickitti.yaml")
    occ3d = load_model_config(CONFIGS / "occle_occ3d.yaml")
    tiny = load_model_config(CONFIGS / "occle_tiny.yaml")
    assert kitti.grid == SEMANTICKITTI_GRID and kitti.num_cameras == 1
    assert kitti.level_shapes()[-1] == (64, 64, 8)  # 32,768 tokens per grid in the Dual Mamba
    assert occ3d.grid == OCC3D_GRID and occ3d.num_cameras == 6
    assert (occ3d.num_classes, occ3d.empty_label) == (18, 17)
    assert occ3d.level_shapes()[-1] == (50, 50, 4)
    assert tiny.grid.shape == (64, 64, 8) and tiny.level_shapes()[-1] == (32, 32, 4)
    for config in (kitti, occ3d, tiny):
        assert config.fusion.orders == ("xyz", "yxz", "zxy", "morton")


def test_fusion_grid_covers_the_output_grid(tiny):
    fusion = tiny.fusion_grid()
    assert fusion.dims == (32, 32, 4) and fusion.voxel_size == (1.6, 1.6, 1.6)
    assert fusion.origin == tiny.grid.origin
    np.testing.assert_allclose(fusion.upper, tiny.grid.upper)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("num_classes: 20\nlevel_chanels: [8, 16]\n", "unknown key level_chanels"),
        ("fusion:\n  chanels: 8\n", "unknown key fusion.chanels"),
        ("num_classes: twenty\n", "num_classes = 'twenty'.*an integer"),
        ("image_size: [100, 320]\n", "not divisible by 8"),
        ("strides: [[2, 2]]\nlevel_channels: [8, 16]\n", r"strides\[0\] has 2 values"),
        ("level_channels: [8]\n", "level_channels has 1 entries for 2 strides"),
        ("- 1\n- 2\n", "top level is list"),
    ],
)
def test_bad_config_names_file_and_key(tmp_path, text, message):
    path = tmp_path / "model.yaml"
    path.write_text(text)
    with pytest.raises(DataFormatError, match=message) as error:
        load_model_config(path)
    assert str(path) in str(error.value)


# --- shapes and gradients -------------------------------------------------------------------------
def test_tiny_model_output_shapes(tiny, front_camera):
    model = build_model(tiny, seed=0).eval()
    inputs = prepare_inputs([random_frame(tiny, [front_camera], 0, n=20000)], tiny)
    assert inputs.images.shape == (1, 1, 3, 96, 320)
    with torch.no_grad():
        out = model(inputs)
    assert out.logits.shape == (1, 20, 64, 64, 8)
    assert out.occupancy_logits.shape == (1, 1, 32, 32, 4)
    assert out.voxel_logits.shape == (inputs.voxels.num_voxels, 20)
    assert out.image_logits.shape == (1, 1, 20, 24, 80)
    assert out.seen.shape == (1, 32, 32, 4)
    assert out.labels().shape == (1, 64, 64, 8)
    assert torch.isfinite(out.logits).all()


def test_geometric_branch_alone_gives_the_forward_occupancy(tiny, front_camera):
    # The mean teacher runs only `occupancy_logits`: it must be the full forward's tensor.
    model = build_model(tiny, seed=3).eval()
    inputs = prepare_inputs([random_frame(tiny, [front_camera], 1, n=20000)], tiny)
    with torch.no_grad():
        alone = model.occupancy_logits(inputs)
        full = model(inputs).occupancy_logits
    assert alone.shape == (1, 1, 32, 32, 4) and alone.std() > 0
    torch.testing.assert_close(alone, full, rtol=0, atol=0)


def test_backward_reaches_every_trainable_parameter(tiny, front_camera):
    model = build_model(tiny, seed=0).train()
    frames = [random_frame(tiny, [front_camera], seed, n=20000) for seed in (1, 2)]
    out = model(prepare_inputs(frames, tiny))
    loss = (
        out.logits.square().mean()
        + out.occupancy_logits.square().mean()
        + out.voxel_logits.square().mean()
        + out.image_logits.square().mean()
    )
    loss.backward()
    unreached = [
        name
        for name, p in model.named_parameters()
        if p.requires_grad and (p.grad is None or not torch.any(p.grad != 0))
    ]
    assert unreached == []
    assert sum(p.numel() for p in model.parameters()) > 500_000


def test_any_grid_shape_round_trips_through_encoder_and_decoder():
    # Odd sizes: the encoders round up (ceil), the decoder crops back.
    config = micro_config(
        grid=GridSpec((0.0, -3.6, -0.8), (0.8, 0.8, 0.8), (9, 7, 5)),
        strides=((2, 2, 1), (3, 2, 2)),
        level_channels=(8, 8, 16),
    )
    assert config.level_shapes() == [(9, 7, 5), (5, 4, 5), (2, 2, 3)]
    model = build_model(config, seed=0).eval()
    camera = ring_camera(0.0, "front")
    with torch.no_grad():
        out = model(prepare_inputs([random_frame(config, [camera], 0, n=400)], config))
    assert out.logits.shape == (1, 20, 9, 7, 5)
    assert out.occupancy_logits.shape == (1, 1, 2, 2, 3)


def test_six_cameras_all_feed_the_prediction():
    config = micro_config(num_cameras=6)
    cameras = [ring_camera(yaw, f"cam{yaw}") for yaw in range(0, 360, 60)]
    model = build_model(config, seed=0).eval()
    inputs = prepare_inputs([random_frame(config, cameras, 0)], config)
    assert inputs.images.shape == (1, 6, 3, 32, 48)
    assert inputs.pixel_map.grid.shape == (1, 6, 10 * 10 * 2, 2)
    images = inputs.images.clone().requires_grad_(True)
    out = model(dataclasses.replace(inputs, images=images))
    # A surround rig sees nearly every fusion voxel.
    assert out.seen.float().mean() > 0.9
    out.logits.sum().backward()
    assert images.grad is not None
    per_camera = images.grad.abs().flatten(2).sum(dim=2)[0]
    assert (per_camera > 0).all(), per_camera
    with pytest.raises(ValueError, match="expects 6"):
        prepare_inputs([random_frame(config, cameras[:1], 0)], config)


def test_batch_equals_samples_with_their_own_calibrations():
    config = micro_config()
    model = build_model(config, seed=3).eval()
    frames = [
        random_frame(config, [ring_camera(0.0, "a")], 5),
        random_frame(config, [ring_camera(20.0, "b")], 6),
    ]
    cache = PixelMapCache(config)
    with torch.no_grad():
        both = model(prepare_inputs(frames, config, cache))
        alone = [model(prepare_inputs([f], config, cache)) for f in frames]
    assert not torch.equal(both.seen[0], both.seen[1])  # the calibrations really differ
    for b in range(2):
        torch.testing.assert_close(both.logits[b], alone[b].logits[0], atol=1e-4, rtol=1e-4)
        torch.testing.assert_close(both.seen[b], alone[b].seen[0])


# --- determinism, weights, checkpoints ------------------------------------------------------------
def test_seed_fixes_the_weights_and_the_output():
    config = micro_config()
    first, second = build_model(config, seed=7), build_model(config, seed=7)
    other = build_model(config, seed=8)
    for (name, a), b in zip(
        first.state_dict().items(),
        second.state_dict().values(),
        strict=True,
    ):
        assert torch.equal(a, b), name
    assert any(
        not torch.equal(a, c) for a, c in zip(first.parameters(), other.parameters(), strict=True)
    )
    inputs = prepare_inputs([random_frame(config, [ring_camera(0.0, "f")], 1)], config)
    first.eval()
    second.eval()
    with torch.no_grad():
        assert torch.equal(first(inputs).logits, second(inputs).logits)
        assert torch.equal(first(inputs).logits, first(inputs).logits)


def test_build_model_leaves_the_global_rng_alone():
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    build_model(micro_config(), seed=0)
    torch.testing.assert_close(torch.rand(3), expected)


def test_image_networks_start_from_local_weights(tmp_path):
    config = micro_config()
    reference = build_model(config, seed=11)
    path = tmp_path / "semantic_image.pt"
    torch.save(reference.semantic.image.state_dict(), path)
    semantic = dataclasses.replace(
        config.semantic, image=dataclasses.replace(config.semantic.image, weights=str(path))
    )
    model = build_model(dataclasses.replace(config, semantic=semantic), seed=12)
    for name, tensor in reference.semantic.image.state_dict().items():
        assert torch.equal(model.semantic.image.state_dict()[name], tensor), name
    assert isinstance(model.semantic.image, ImageUNet)


def test_checkpoint_round_trip_restores_config_and_outputs(tmp_path):
    config = micro_config()
    model = build_model(config, seed=4).eval()
    path = tmp_path / "model.pt"
    save_checkpoint(path, model, extra={"epoch": 3})
    loaded, extra = load_checkpoint(path)
    assert extra == {"epoch": 3}
    assert loaded.config == config
    inputs = prepare_inputs([random_frame(config, [ring_camera(0.0, "f")], 2)], config)
    with torch.no_grad():
        assert torch.equal(model(inputs).logits, loaded(inputs).logits)
    # Plain types and tensors only: loadable without unpickling code.
    payload = torch.load(path, weights_only=True)
    assert payload["format"] == "occle-checkpoint" and payload["config"]["name"] == "occle_tiny"


# The top-level parts of checkpoint version 1, before the branches became modules.
V1_PARTS = [
    *("semantic_vfe", "semantic_unet", "semantic_head", "semantic_pyramid", "semantic_image"),
    *("semantic_lifter", "semantic_fuse", "geometric_vfe", "geometric_pyramid"),
    *("geometric_image", "geometric_lifter", "frontal_pool", "cross_plane"),
    *("dual_mamba", "merge", "decoder", "head"),
]


def _as_version_1(key: str) -> str:
    branch, _, rest = key.partition(".")
    if branch == "semantic" or (branch == "geometric" and rest.split(".")[0] in V1_GEOMETRIC):
        return f"{branch}_{rest}"
    if branch == "geometric":  # frontal_pool and cross_plane were top-level parts
        return rest
    return key


V1_GEOMETRIC = ("vfe", "pyramid", "image", "lifter")


def test_checkpoints_of_version_1_still_load(tmp_path):
    config = micro_config()
    model = build_model(config, seed=5).eval()
    # A version 1 file predates the decision's buffers too (they load with their defaults).
    kept = {k: v for k, v in model.state_dict().items() if k not in DECISION_BUFFERS}
    old_state = {_as_version_1(k): v for k, v in kept.items()}
    # (geometric_lifter holds no weights: it learns no vector for unseen voxels)
    stored = [p for p in V1_PARTS if p != "geometric_lifter"]
    assert list(dict.fromkeys(k.split(".")[0] for k in old_state)) == stored
    payload = {
        "format": "occle-checkpoint",
        "version": 1,
        "config": to_mapping(config),
        "model": old_state,
        "extra": {"teacher": old_state, "step": 7},
    }
    torch.save(payload, tmp_path / "v1.pt")
    loaded, extra = load_checkpoint(tmp_path / "v1.pt")
    assert extra["step"] == 7 and list(extra["teacher"]) == list(kept)
    for (name, before), after in zip(
        model.state_dict().items(), loaded.state_dict().values(), strict=True
    ):
        assert torch.equal(before, after), name
    inputs = prepare_inputs([random_frame(config, [ring_camera(0.0, "f")], 2)], config)
    with torch.no_grad():
        assert torch.equal(model(inputs).logits, loaded(inputs).logits)
    # Written again, it is a version 2 checkpoint with the nested names.
    save_checkpoint(tmp_path / "v2.pt", loaded)
    assert torch.load(tmp_path / "v2.pt", weights_only=True)["version"] == 2
    payload["version"] = 9
    torch.save(payload, tmp_path / "v9.pt")
    with pytest.raises(DataFormatError, match=r"v9\.pt: checkpoint version 9 \(expected 1 or 2\)"):
        load_checkpoint(tmp_path / "v9.pt")


def test_bad_checkpoints_are_named(tmp_path):
    missing = tmp_path / "missing.pt"
    with pytest.raises(DataFormatError, match=r"missing\.pt: no such file"):
        load_checkpoint(missing)
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"not a checkpoint at all")
    with pytest.raises(DataFormatError, match=r"garbage\.pt: not a readable torch checkpoint"):
        load_checkpoint(garbage)
    foreign = tmp_path / "foreign.pt"
    torch.save({"state_dict": {}}, foreign)
    with pytest.raises(DataFormatError, match="not an OccLE checkpoint"):
        load_checkpoint(foreign)
    model = build_model(micro_config(), seed=0)
    mismatched = tmp_path / "mismatched.pt"
    save_checkpoint(mismatched, model)
    payload = torch.load(mismatched, weights_only=True)
    payload["config"]["fusion"]["channels"] = 24
    torch.save(payload, mismatched)
    with pytest.raises(
        DataFormatError, match=r"mismatched\.pt: weights do not fit the config: size mismatch"
    ):
        load_checkpoint(mismatched)


# --- real sensor data -----------------------------------------------------------------------------
@pytest.mark.real_data
def test_real_kitti_frame_prepares_for_the_semantickitti_model(real_data: Path):
    config = load_model_config(CONFIGS / "occle_semantickitti.yaml")
    sequence = real_data / "semantickitti/sequences/00"
    points = read_velodyne(sequence / "velodyne/000000.bin")
    calib = read_calib(sequence / "calib.txt")
    camera = calib.camera("image_2", width=1241, height=376)
    image = np.zeros((376, 1241, 3), dtype=np.uint8)
    inputs = prepare_inputs([Frame(points, [image], [camera])], config)
    assert inputs.images.shape == (1, 1, 3, 376, 1248)
    assert inputs.voxels.spatial_shape == (256, 256, 32)
    # 62,724 of the scan's 124,668 points fall in the grid box, in 11,713 distinct voxels.
    assert inputs.voxels.num_voxels == 11_713
    assert int(inputs.voxels.num_points.sum()) <= 62_724
    seen = inputs.pixel_map.valid[0, 0].reshape(64, 64, 8)
    # The front camera (about 82 degrees wide) sees a wedge: close to half of the ground plan.
    assert 0.3 < seen.float().mean() < 0.7
    assert seen[-1, 32, :].all() and not seen[0, 0, :].any()


@pytest.mark.real_data
def test_real_nuscenes_sample_runs_through_a_six_camera_model(real_data: Path):
    frame = load_nuscenes_sample(real_data / "nuscenes", real_data / NUSCENES_CALIB)
    occ3d = load_model_config(CONFIGS / "occle_occ3d.yaml")
    config = micro_config(
        name="occ3d_micro",
        grid=OCC3D_GRID,
        num_classes=18,
        empty_label=17,
        class_names=occ3d.class_names,
        num_cameras=6,
        image_size=(64, 112),
        level_channels=(4, 8, 16),
        strides=occ3d.strides,
    )
    inputs = prepare_inputs([frame], config)
    assert inputs.images.shape == (1, 6, 3, 64, 112)
    assert inputs.pixel_map.valid.shape == (1, 6, 50 * 50 * 4)
    model = build_model(config, seed=0).eval()
    with torch.no_grad():
        out = model(inputs)
    assert out.logits.shape == (1, 18, 200, 200, 16)
    # Six surround cameras leave only voxels near the car and overhead unseen.
    assert out.seen.float().mean() > 0.8
    assert torch.isfinite(out.logits).all()


def test_shipped_configs_resolve_by_name(tmp_path):
    from occle_core.model.config import resolve_model_config

    assert resolve_model_config("occle_tiny") == CONFIGS / "occle_tiny.yaml"
    assert load_model_config("occle_occ3d.yaml").num_cameras == 6
    own = tmp_path / "occle_tiny.yaml"
    own.write_text("name: mine\n")
    assert load_model_config(own).name == "mine"  # a real file wins over a shipped name
    with pytest.raises(FileNotFoundError, match="occle_semantickitti"):
        resolve_model_config("occle_nonexistent")


def test_bf16_autocast_runs_forward_and_backward():
    config = micro_config()
    model = build_model(config, seed=0).train()
    inputs = prepare_inputs([random_frame(config, [ring_camera(0.0, "f")], 1)], config)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = model(inputs)
    # Dense parts run in bf16; the sparse 3D parts stay fp32 (spconv's CPU build has no bf16).
    assert out.logits.dtype == torch.bfloat16 and out.voxel_logits.dtype == torch.float32
    (out.logits.float().square().mean() + out.voxel_logits.square().mean()).backward()
    grads = [p.grad for p in model.parameters() if p.grad is not None]
    assert grads and all(torch.isfinite(g).all() for g in grads)
