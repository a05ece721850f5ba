"""Cross-plane fusion of the BEV and frontal planes."""

import pytest
import torch

from occle_core.model.fusion.cross_plane import CrossPlaneFusion


def test_shapes_and_that_both_planes_matter():
    torch.manual_seed(0)
    fusion = CrossPlaneFusion(bev_channels=6, frontal_channels=4, channels=8).eval()
    bev, frontal = torch.randn(2, 6, 5, 7), torch.randn(2, 4, 7, 3)
    out = fusion(bev, frontal)
    assert out.features.shape == (2, 8, 5, 7, 3)
    assert out.occupancy_logits.shape == (2, 1, 5, 7, 3)
    changed_bev = fusion(bev + 1.0, frontal).features
    changed_frontal = fusion(bev, frontal + 1.0).features
    assert not torch.allclose(changed_bev, out.features)
    assert not torch.allclose(changed_frontal, out.features)


def test_a_bev_cell_reaches_its_whole_column_and_a_frontal_cell_its_whole_row():
    fusion = CrossPlaneFusion(2, 2, 4, blocks=0).eval()
    with torch.no_grad():
        fusion.fuse[0].weight.fill_(1.0)  # positive weights: the ReLU passes every change
    bev, frontal = torch.zeros(1, 2, 4, 4), torch.zeros(1, 2, 4, 3)
    base = fusion(bev, frontal).features
    bev[0, :, 1, 2] = 5.0
    delta = (fusion(bev, frontal).features - base).abs().sum(dim=1)[0]
    assert (delta[1, 2, :] > 0).all() and delta.sum() == delta[1, 2, :].sum()
    bev[:] = 0
    frontal[0, :, 2, 1] = 5.0
    delta = (fusion(bev, frontal).features - base).abs().sum(dim=1)[0]
    assert (delta[:, 2, 1] > 0).all() and delta.sum() == delta[:, 2, 1].sum()


def test_mismatched_planes_are_rejected():
    with pytest.raises(ValueError, match="planes"):
        CrossPlaneFusion(2, 2, 4)(torch.zeros(1, 2, 4, 5), torch.zeros(1, 2, 4, 3))
