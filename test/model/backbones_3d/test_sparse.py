"""Sparse 3D networks: the spconv CPU shims, sparse vs dense convolution, module shapes."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from occle_core.geometry.grid import GridSpec
from occle_core.geometry.voxelize import VoxelizedPoints, voxelize
from occle_core.model.backbones_3d import spconv_compat
from occle_core.model.backbones_3d.encoder import SparseEncoder, to_bev, to_dense
from occle_core.model.backbones_3d.spconv_compat import (
    apply_cpu_shims,
    cpu_shims_active,
    load_spconv,
)
from occle_core.model.backbones_3d.unet import SparseUNet
from occle_core.model.backbones_3d.voxel_encoder import (
    SparseVoxelFeatures,
    VoxelBatch,
    VoxelFeatureEncoder,
    batch_voxels,
)

spconv = load_spconv()

CPU_ONLY = not torch.cuda.is_available()
GRID = GridSpec(origin=(0.0, 0.0, 0.0), voxel_size=(1.0, 1.0, 1.0), dims=(9, 7, 5))


def _sparse_from_dense(dense: torch.Tensor, mask: torch.Tensor):  # -> SparseConvTensor
    """Sparse tensor of the `mask` sites of a (B, C, D0, D1, D2) tensor; features are a leaf."""
    # nonzero() is column-major; spconv silently misreads non-contiguous indices.
    indices = mask.nonzero().int().contiguous()
    features = dense.permute(0, 2, 3, 4, 1)[mask].detach().clone().requires_grad_(True)
    return spconv.SparseConvTensor(features, indices, list(mask.shape[1:]), mask.shape[0])


def _conv3d_weight(sparse_weight: torch.Tensor) -> torch.Tensor:
    """spconv 2.x stores (out, k0, k1, k2, in); conv3d wants (out, in, k0, k1, k2)."""
    return sparse_weight.permute(0, 4, 1, 2, 3)


def _random_frames(seed: int, counts: tuple[int, ...], max_points: int) -> list[VoxelizedPoints]:
    rng = np.random.default_rng(seed)
    upper = np.array(GRID.dims, dtype=np.float64)
    frames = []
    for n in counts:
        points = np.c_[rng.uniform(0.0, upper, (n, 3)), rng.uniform(0.0, 1.0, (n, 1))]
        frames.append(voxelize(points, GRID, max_points=max_points))
    return frames


# --- the CPU shims ---------------------------------------------------------------------------


@pytest.mark.skipif(not CPU_ONLY, reason="the shims are only applied when CUDA is unavailable")
def test_shims_replace_every_bound_reference_idempotently() -> None:
    import spconv.pytorch.cppcore as cppcore
    import spconv.pytorch.ops as ops
    from spconv.core_cc.csrc.sparse.all import SpconvOps

    assert cpu_shims_active()
    proxy = ops.SpconvOps
    assert apply_cpu_shims() and apply_cpu_shims()
    assert ops.SpconvOps is proxy and proxy.wrapped is SpconvOps  # not wrapped twice
    assert ops.SpconvOps.gather_cpu is SpconvOps.gather_cpu  # everything else forwarded
    stand_in = spconv_compat._cpu_current_stream
    assert cppcore.get_current_stream is stand_in
    assert ops.get_current_stream is stand_in
    for name, module in list(sys.modules.items()):
        if name.startswith("spconv.") and hasattr(module, "get_current_stream"):
            assert module.get_current_stream is stand_in, name
    assert cppcore.get_current_stream() == 0


@pytest.mark.skipif(not CPU_ONLY, reason="the shims are only applied when CUDA is unavailable")
def test_scatter_add_shim_adds_each_row_once() -> None:
    import spconv.pytorch.ops as ops
    from spconv.pytorch.cppcore import torch_tensor_to_tv

    generator = torch.Generator().manual_seed(0)
    for dtype in (torch.float32, torch.float64):
        for _ in range(20):
            target_rows = torch.randperm(200, generator=generator)[:100].int()
            # A reused buffer: rows past len(target_rows) must be ignored.
            rows = torch.randn(120, 16, dtype=dtype, generator=generator)
            out = torch.randn(200, 16, dtype=dtype, generator=generator)
            expected = out.clone()
            expected.index_add_(0, target_rows.long(), rows[:100])
            ops.SpconvOps.scatter_add_cpu(
                torch_tensor_to_tv(out), torch_tensor_to_tv(rows), torch_tensor_to_tv(target_rows)
            )
            torch.testing.assert_close(out, expected, rtol=0, atol=0)


def test_torch_fx_tracing_notice_is_kept_out_of_the_logs() -> None:
    # Building a SparseConvTensor asks torch.fx whether it is tracing; torch logs a one-time
    # notice about that, which load_spconv filters out. Other records of that logger pass.
    import logging

    from spconv.pytorch import SparseConvTensor
    from torch.fx import _symbolic_trace

    records: list[logging.LogRecord] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    logger = logging.getLogger("torch.fx._symbolic_trace")
    handler = Collect(level=logging.DEBUG)
    logger.addHandler(handler)
    try:
        _symbolic_trace.is_fx_tracing_warning.cache_clear()
        features = torch.zeros(2, 3)
        indices = torch.tensor([[0, 0, 0, 0], [0, 1, 1, 1]], dtype=torch.int32)
        SparseConvTensor(features, indices, [4, 4, 4], 1)
        logger.warning("another torch.fx warning")
    finally:
        logger.removeHandler(handler)
    assert [record.getMessage() for record in records] == ["another torch.fx warning"]


def test_shim_is_not_applied_when_cuda_is_available() -> None:
    # A fresh interpreter, because this one is already patched.
    script = textwrap.dedent(
        """
        import torch
        torch.cuda.is_available = lambda: True
        import occle_core.model.backbones_3d.blocks
        import spconv.pytorch.cppcore as cppcore
        import spconv.pytorch.ops as ops
        from occle_core.model.backbones_3d import spconv_compat
        from spconv.core_cc.csrc.sparse.all import SpconvOps
        assert not spconv_compat.apply_cpu_shims()
        assert not spconv_compat.cpu_shims_active()
        assert cppcore.get_current_stream.__module__ == "spconv.pytorch.cppcore"
        assert ops.get_current_stream is cppcore.get_current_stream
        assert ops.SpconvOps is SpconvOps
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr


def test_load_spconv_names_the_missing_package(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "spconv.pytorch", None)
    with pytest.raises(ImportError, match="pip install spconv"):
        load_spconv()


def test_backward_through_subm_and_strided_conv_runs() -> None:
    torch.manual_seed(0)
    mask = torch.rand(1, 6, 5, 4) < 0.4
    x = _sparse_from_dense(torch.randn(1, 3, 6, 5, 4), mask)
    subm = spconv.SubMConv3d(3, 4, 3, indice_key="s0")
    down = spconv.SparseConv3d(4, 2, 3, stride=2, padding=1)
    y = down(subm(x))
    y.features.square().sum().backward()
    for grad in (x.features.grad, subm.weight.grad, down.weight.grad):
        assert grad is not None and torch.isfinite(grad).all() and grad.abs().sum() > 0


# --- sparse convolution == dense convolution ---------------------------------------------------


@pytest.mark.parametrize(
    ("density", "stride"),
    [(1.0, 1), (0.35, 2)],
    ids=["fully-dense-stride1", "sparse-stride2"],
)
def test_sparse_conv_matches_dense_conv3d(density: float, stride: int) -> None:
    # A regular sparse conv equals conv3d on the zero-filled grid everywhere: an output site
    # outside the sparse output has no active input in reach, so it is 0 and has no gradient.
    torch.manual_seed(1)
    dense = torch.randn(2, 3, 5, 4, 3, dtype=torch.float64)
    mask = torch.rand(2, 5, 4, 3) < density
    dense = dense * mask[:, None]
    x = _sparse_from_dense(dense, mask)
    conv = spconv.SparseConv3d(3, 4, 3, stride=stride, padding=1, bias=False).double()
    y = conv(x)
    upstream = torch.randn(y.features.shape, dtype=torch.float64)
    (y.features * upstream).sum().backward()

    dense_in = dense.clone().requires_grad_(True)
    weight = _conv3d_weight(conv.weight.detach()).clone().requires_grad_(True)
    ref = F.conv3d(dense_in, weight, stride=stride, padding=1)
    assert tuple(ref.shape[2:]) == tuple(y.spatial_shape)
    upstream_dense = to_dense(y.replace_feature(upstream))
    (ref * upstream_dense).sum().backward()

    torch.testing.assert_close(to_dense(y), ref, rtol=1e-10, atol=1e-12)
    assert x.features.grad is not None and dense_in.grad is not None and weight.grad is not None
    grad_in = dense_in.grad.permute(0, 2, 3, 4, 1)[mask]
    torch.testing.assert_close(x.features.grad, grad_in, rtol=1e-10, atol=1e-12)
    assert conv.weight.grad is not None
    torch.testing.assert_close(_conv3d_weight(conv.weight.grad), weight.grad)


def test_submanifold_conv_matches_dense_conv3d_at_active_sites() -> None:
    torch.manual_seed(2)
    dense = torch.randn(1, 2, 6, 5, 4, dtype=torch.float64)
    mask = torch.rand(1, 6, 5, 4) < 0.4
    dense = dense * mask[:, None]
    x = _sparse_from_dense(dense, mask)
    conv = spconv.SubMConv3d(2, 3, 3, bias=False).double()
    y = conv(x)
    assert torch.equal(y.indices, x.indices)
    upstream = torch.randn(y.features.shape, dtype=torch.float64)
    (y.features * upstream).sum().backward()

    dense_in = dense.clone().requires_grad_(True)
    weight = _conv3d_weight(conv.weight.detach()).clone().requires_grad_(True)
    ref = F.conv3d(dense_in, weight, padding=1)
    # Only the active sites count: the upstream gradient is zero everywhere else.
    ref_at_active = ref.permute(0, 2, 3, 4, 1)[mask]
    (ref_at_active * upstream).sum().backward()

    torch.testing.assert_close(y.features, ref_at_active, rtol=1e-10, atol=1e-12)
    assert x.features.grad is not None and dense_in.grad is not None and weight.grad is not None
    grad_in = dense_in.grad.permute(0, 2, 3, 4, 1)[mask]
    torch.testing.assert_close(x.features.grad, grad_in, rtol=1e-10, atol=1e-12)
    assert conv.weight.grad is not None
    torch.testing.assert_close(_conv3d_weight(conv.weight.grad), weight.grad)


# --- batching and the voxel feature encoder ---------------------------------------------------


def test_batch_voxels_tags_frames_and_pads_to_the_largest_cap() -> None:
    (first,) = _random_frames(3, (40,), max_points=3)
    second = voxelize(np.array([[0.5, 0.5, 0.5, 1.0], [8.5, 6.5, 4.5, 2.0]]), GRID, max_points=5)
    batch = batch_voxels([first, second], GRID.shape)

    v1 = first.num_voxels
    assert batch.batch_size == 2 and batch.spatial_shape == GRID.shape
    assert batch.num_voxels == v1 + 2
    assert batch.indices.dtype == torch.int32 and batch.indices.shape == (v1 + 2, 4)
    assert batch.points.shape == (v1 + 2, 5, 7) and batch.points.dtype == torch.float32
    np.testing.assert_array_equal(batch.indices[:v1, 0], 0)
    np.testing.assert_array_equal(batch.indices[v1:, 0], 1)
    np.testing.assert_array_equal(batch.indices[:v1, 1:], first.coords)
    np.testing.assert_array_equal(batch.indices[v1:, 1:], [[0, 0, 0], [8, 6, 4]])
    np.testing.assert_array_equal(batch.points[:v1, :3], first.features)
    assert not batch.points[:v1, 3:].any()  # padding to T = 5
    np.testing.assert_array_equal(batch.num_points, [*first.num_points, 1, 1])
    np.testing.assert_array_equal(batch.point_mask().sum(dim=1), batch.num_points)


def test_batch_voxels_rejects_bad_input() -> None:
    (frame,) = _random_frames(4, (10,), max_points=2)
    with pytest.raises(ValueError, match="no frames"):
        batch_voxels([], GRID.shape)
    with pytest.raises(ValueError, match="outside"):
        batch_voxels([frame], (1, 1, 1))


def test_voxel_encoder_shape_and_padding_is_ignored() -> None:
    torch.manual_seed(5)
    batch = batch_voxels(_random_frames(6, (60, 50), max_points=4), GRID.shape)
    encoder = VoxelFeatureEncoder(channels=(8, 12))
    out = encoder(batch)
    assert isinstance(out, SparseVoxelFeatures)
    assert out.features.shape == (batch.num_voxels, 12)
    assert torch.equal(out.indices, batch.indices) and out.batch_size == 2
    assert (out.features >= 0).all()  # max of ReLU outputs

    # Garbage in the padding rows changes nothing, in training (BatchNorm statistics) too.
    noisy_points = torch.where(batch.point_mask()[..., None], batch.points, 1e3)
    noisy = VoxelBatch(
        batch.indices, noisy_points, batch.num_points, batch.spatial_shape, batch.batch_size
    )
    torch.testing.assert_close(encoder(noisy).features, out.features)


# --- UNet and encoder ------------------------------------------------------------------------


def test_unet_keeps_the_input_active_set_and_resolution() -> None:
    torch.manual_seed(7)
    batch = batch_voxels(_random_frames(8, (80, 60), max_points=3), GRID.shape)
    x = VoxelFeatureEncoder(channels=(8,))(batch).to_sparse_tensor()
    unet = SparseUNet(8, channels=(8, 16, 16), out_channels=5)
    y = unet(x)
    assert torch.equal(y.indices, x.indices)
    assert list(y.spatial_shape) == list(GRID.shape) and y.batch_size == 2
    assert y.features.shape == (x.features.shape[0], 5)
    y.features.sum().backward()
    assert unet.stem[0].weight.grad is not None


def test_unet_single_level_is_a_submanifold_network() -> None:
    torch.manual_seed(9)
    mask = torch.rand(1, 5, 4, 3) < 0.5
    x = _sparse_from_dense(torch.randn(1, 4, 5, 4, 3), mask)
    y = SparseUNet(4, channels=(6,), blocks_per_level=2)(x)
    assert torch.equal(y.indices, x.indices) and y.features.shape == (x.features.shape[0], 6)


def test_networks_reject_indices_spconv_would_misread() -> None:
    mask = torch.rand(1, 4, 4, 4, generator=torch.Generator().manual_seed(14)) < 0.5
    features = torch.randn(int(mask.sum()), 2)
    column_major = mask.nonzero().int()
    assert not column_major.is_contiguous()
    x = spconv.SparseConvTensor(features, column_major, [4, 4, 4], 1)
    with pytest.raises(ValueError, match="contiguous"):
        SparseUNet(2, channels=(4,))(x)
    x = spconv.SparseConvTensor(features[1:], column_major.contiguous(), [4, 4, 4], 1)
    with pytest.raises(ValueError, match="feature rows"):
        SparseEncoder(2, channels=(4,))(x)


def test_encoder_output_shape_and_bev_folding() -> None:
    torch.manual_seed(10)
    batch = batch_voxels(_random_frames(11, (80, 70), max_points=3), GRID.shape)
    x = VoxelFeatureEncoder(channels=(4,))(batch).to_sparse_tensor()
    encoder = SparseEncoder(4, channels=(4, 8, 6), strides=[2, (2, 2, 1)])
    y = encoder(x)
    assert encoder.total_stride == (4, 4, 2)
    assert tuple(y.spatial_shape) == encoder.output_shape(GRID.shape) == (3, 2, 3)
    assert y.features.shape[1] == 6 and y.batch_size == 2

    dense = to_dense(y)
    with warnings.catch_warnings():  # spconv's own dense() uses deprecated list indexing
        warnings.simplefilter("ignore", UserWarning)
        torch.testing.assert_close(dense, y.dense())
    bev = to_bev(y)
    assert bev.shape == (2, 6 * 3, 3, 2)
    # Channel c * Z + z of the BEV is channel c at height z.
    torch.testing.assert_close(bev[1, 4 * 3 + 2], dense[1, 4, :, :, 2])
    bev.sum().backward()
    assert encoder.stem[0].weight.grad is not None


def test_pipeline_is_deterministic_with_a_seed() -> None:
    batch = batch_voxels(_random_frames(12, (50, 40), max_points=3), GRID.shape)

    def run() -> tuple[torch.Tensor, torch.Tensor]:
        torch.manual_seed(13)
        vfe = VoxelFeatureEncoder(channels=(8, 8))
        unet = SparseUNet(8, channels=(8, 16), out_channels=3)
        out = unet(vfe(batch).to_sparse_tensor()).features
        out.square().sum().backward()
        grad = vfe.layers[0].linear.weight.grad
        assert grad is not None
        return out.detach(), grad

    out_a, grad_a = run()
    out_b, grad_b = run()
    assert torch.equal(out_a, out_b) and torch.equal(grad_a, grad_b)
