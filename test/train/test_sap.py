"""Scatter-accumulated projection on hand-built cases."""

import numpy as np
import pytest
import torch

from occle_core.geometry.camera import CameraModel
from occle_core.train.sap import SapProjection, composite, sap_loss


def _camera(width=4, height=4):
    # Looks along +x of the reference frame: camera z = ref x, camera x = -ref y, camera y = -ref z.
    extrinsic = np.array([[0, -1, 0, 0], [0, 0, -1, 0], [1, 0, 0, 0], [0, 0, 0, 1]], float)
    k = np.array([[2.0, 0, 2.0], [0, 2.0, 2.0], [0, 0, 1]])
    return CameraModel("cam", k, extrinsic, width, height)


def test_two_voxels_on_one_pixel_get_front_to_back_visibility_weights():
    # Both voxel centres lie on the optical axis: pixel (2, 2); voxel 1 is in front of voxel 0.
    centers = np.array([[6.0, 0.0, 0.0], [3.0, 0.0, 0.0]])
    projection = SapProjection.build(centers, _camera())
    assert projection.voxel.tolist() == [1, 0]
    assert projection.pixel.tolist() == [2 * 4 + 2] * 2
    # Classes: 0 empty, 1, 2. Front voxel: occupied 0.6, all class 1; back: occupied 0.5, class 2.
    probs = torch.tensor([[0.5, 0.0, 0.5], [0.4, 0.6, 0.0]])
    render = composite(probs, projection)
    w_front, w_back = 0.6, 0.5 * (1 - 0.6)
    assert render.weight[10].item() == pytest.approx(w_front + w_back)
    expected = torch.tensor([w_front, w_back]) / (w_front + w_back)
    torch.testing.assert_close(render.probabilities[10], expected)
    assert render.weight.sum().item() == pytest.approx(w_front + w_back)  # nothing elsewhere


def test_stride_groups_neighbouring_pixels_and_skips_voxels_behind_the_camera():
    centers = np.array([[4.0, 0.0, 0.0], [4.0, -0.5, 0.0], [-4.0, 0.0, 0.0]])
    projection = SapProjection.build(centers, _camera(), stride=2)
    assert (projection.height, projection.width) == (2, 2)
    assert sorted(projection.voxel.tolist()) == [0, 1]  # the voxel behind is dropped
    assert len(set(projection.pixel.tolist())) == 1


def test_loss_prefers_the_pseudo_label_and_has_gradients():
    centers = np.array([[3.0, 0.0, 0.0], [6.0, 0.0, 0.0]])
    projection = SapProjection.build(centers, _camera())
    labels = torch.full((4, 4), 255, dtype=torch.long)
    labels[2, 2] = 2
    logits = torch.zeros(3, 2, 1, 1, requires_grad=True)  # (M, X, Y, Z) with X*Y*Z = 2 voxels
    loss = sap_loss(logits, projection, labels, min_weight=0.0)
    loss.backward()
    assert loss.item() == pytest.approx(np.log(2.0), rel=1e-4)  # uniform over classes 1 and 2
    # Raising class 2 of the front voxel lowers the loss.
    assert logits.grad[2, 0, 0, 0] < 0 < logits.grad[1, 0, 0, 0]


def test_loss_ignores_unknown_pixels_and_low_weight():
    projection = SapProjection.build(np.array([[3.0, 0.0, 0.0]]), _camera())
    labels = torch.full((4, 4), 255, dtype=torch.long)
    logits = torch.zeros(3, 1, 1, 1, requires_grad=True)
    assert sap_loss(logits, projection, labels).item() == 0.0
    labels[2, 2] = 1
    empty = torch.tensor([10.0, 0.0, 0.0]).reshape(3, 1, 1, 1)  # confidently empty: weight ~0
    assert sap_loss(empty, projection, labels, min_weight=0.3).item() == 0.0
    with pytest.raises(ValueError, match="pixels"):
        sap_loss(logits, projection, torch.zeros(3, 3, dtype=torch.long))


def test_empty_class_anywhere_in_the_label_set():
    """Occ3D's free class is the last one (17): with empty_label=2 the loss equals the one of
    the same logits and labels with classes renumbered so that empty is 0."""
    centers = np.array([[3.0, 0.0, 0.0], [6.0, 0.0, 0.0]])
    projection = SapProjection.build(centers, _camera())
    generator = torch.Generator().manual_seed(0)
    logits = torch.randn(3, 2, 1, 1, generator=generator)  # classes: 0 car, 1 road, 2 empty
    labels = torch.full((4, 4), 255, dtype=torch.long)
    labels[2, 2], labels[2, 1] = 1, 2  # road, and an "empty" pixel that must not count
    loss = sap_loss(logits, projection, labels, min_weight=0.0, empty_label=2)
    renumbered = logits[[2, 0, 1]]  # empty first: 0 empty, 1 car, 2 road
    labels_renumbered = torch.full((4, 4), 255, dtype=torch.long)
    labels_renumbered[2, 2] = 2
    expected = sap_loss(renumbered, projection, labels_renumbered, min_weight=0.0)
    assert loss.item() == pytest.approx(expected.item(), rel=1e-6) and loss.item() > 0
