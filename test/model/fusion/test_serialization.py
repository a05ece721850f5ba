"""Scan orders of the Dual Mamba stages."""

import numpy as np
import pytest
import torch

from occle_core.model.fusion.serialization import SCAN_ORDERS, scan_permutation


@pytest.mark.parametrize("order", SCAN_ORDERS)
def test_every_order_is_a_permutation(order):
    perm = scan_permutation(order, (4, 3, 2))
    assert sorted(perm.tolist()) == list(range(24))


def test_raster_orders_visit_axes_in_the_named_order():
    shape = (2, 3, 2)
    index = np.arange(12).reshape(shape)
    assert scan_permutation("xyz", shape).tolist() == list(range(12))
    assert scan_permutation("yxz", shape).tolist() == index.transpose(1, 0, 2).ravel().tolist()
    assert scan_permutation("zxy", shape).tolist() == index.transpose(2, 0, 1).ravel().tolist()


def test_morton_keeps_each_2x2x2_block_together():
    perm = scan_permutation("morton", (4, 4, 4))
    coords = np.stack(np.unravel_index(perm.numpy(), (4, 4, 4)), axis=1)
    for start in range(0, 64, 8):
        block = coords[start : start + 8] // 2
        assert (block == block[0]).all()


def test_serialise_and_restore_round_trip():
    tokens = torch.randn(2, 24, 5)
    perm = scan_permutation("morton", (4, 3, 2))
    restored = torch.empty_like(tokens)
    restored[:, perm] = tokens[:, perm]
    torch.testing.assert_close(restored, tokens)
    with pytest.raises(ValueError, match="scan order"):
        scan_permutation("xxz", (2, 2, 2))
