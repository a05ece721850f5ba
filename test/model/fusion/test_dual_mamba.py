"""Dual Mamba fusion on a tiny grid."""

import pytest
import torch

from occle_core.model.fusion.dual_mamba import DualMamba, DualMambaConfig


def _model(orders=("xyz", "morton")):
    return DualMamba(DualMambaConfig(channels=8, orders=orders, d_state=4, expand=2))


def test_shapes_and_stage_orders():
    torch.manual_seed(0)
    model = _model(("xyz", "yxz", "zxy", "morton"))
    assert list(model.orders) == ["xyz", "yxz", "zxy", "morton"]
    s, g = torch.randn(2, 8, 4, 3, 2), torch.randn(2, 8, 4, 3, 2)
    out_s, out_g = model(s, g)
    assert out_s.shape == s.shape and out_g.shape == g.shape


def test_each_grid_is_gated_by_the_other():
    torch.manual_seed(0)
    model = _model().eval()
    s, g = torch.randn(1, 8, 3, 3, 2), torch.randn(1, 8, 3, 3, 2)
    base_s, _ = model(s, g)
    # A different geometric grid (not a shift or scale, which the LayerNorm removes) changes
    # the semantic output through the gate.
    changed_s, _ = model(s, torch.randn_like(g))
    assert not torch.allclose(base_s, changed_s)


def test_backward_reaches_every_parameter():
    torch.manual_seed(0)
    model = _model()
    s = torch.randn(1, 8, 3, 2, 2, requires_grad=True)
    g = torch.randn(1, 8, 3, 2, 2, requires_grad=True)
    out_s, out_g = model(s, g)
    (out_s.square().mean() + out_g.square().mean()).backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None or p.grad.abs().sum() == 0]
    assert not missing, missing


def test_bad_inputs():
    with pytest.raises(ValueError, match="scan orders"):
        DualMamba(DualMambaConfig(channels=8, orders=("diagonal",)))
    with pytest.raises(ValueError, match="differ"):
        _model()(torch.zeros(1, 8, 2, 2, 2), torch.zeros(1, 8, 2, 2, 3))
