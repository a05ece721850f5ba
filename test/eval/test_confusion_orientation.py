"""Both metrics read their confusion matrix the same way: rows = ground truth."""

import numpy as np

from occle_core.eval.occ3d import Occ3DConfusion
from occle_core.eval.semantickitti import SSCConfusion


def test_ssc_and_occ3d_confusions_share_one_orientation() -> None:
    rng = np.random.default_rng(0)
    names = ("empty", "car", "road", "free")
    gt = rng.integers(0, 4, size=(6, 6, 2))
    pred = rng.integers(0, 4, size=(6, 6, 2))
    ssc, occ3d = SSCConfusion(names), Occ3DConfusion(names)
    ssc.add(pred, gt)
    occ3d.add(pred, gt)
    np.testing.assert_array_equal(ssc.confusion, occ3d.confusion)
    # Row c holds the voxels whose ground truth is c, whatever was predicted there.
    for c in range(4):
        assert ssc.confusion[c].sum() == np.count_nonzero(gt == c)
        assert ssc.confusion[:, c].sum() == np.count_nonzero(pred == c)
