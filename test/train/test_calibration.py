"""Count calibration of the pseudo CE: precision / recall of the pseudo labels per class."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from occle_core.pseudo.quality import LabelAgreement
from occle_core.train.calibration import pseudo_count_factors


def test_confusion_counts_only_voxels_with_both_labels():
    truth = np.array([[0, 1, 1, 2], [2, 255, 1, 2]], dtype=np.uint8)
    pseudo = np.array([[0, 1, 2, 2], [255, 1, 1, 1]], dtype=np.uint8)
    agreement = LabelAgreement(["0", "1", "2"])
    agreement.add(pseudo, truth)
    agreement.add(pseudo, truth)  # accumulates
    expected = np.array([[1, 0, 0], [0, 2, 1], [0, 1, 1]]) * 2
    np.testing.assert_array_equal(agreement.matrix, expected)


def test_factors_are_precision_over_recall_clipped_and_keep_the_empty_class():
    # Rows truth, columns pseudo. Class 1 (like trunk): 30 of its 100 voxels named 1, 60 named 2;
    # the pseudo labels name it 40 times (30 right): p = 0.75, r = 0.3, p / r = 2.5 = 100 / 40.
    confusion = np.array(
        [
            [500, 10, 40, 0],
            [0, 30, 60, 10],
            [0, 0, 200, 0],
            [0, 0, 0, 5],  # too few voxels to measure: 1
        ]
    )
    factors = pseudo_count_factors(confusion, keep=0)
    torch.testing.assert_close(factors, torch.tensor([1.0, 2.5, 200 / 300, 1.0]))
    # Without `keep` the empty class is calibrated too (its 550 true voxels, named 500 times).
    assert float(pseudo_count_factors(confusion)[0]) == pytest.approx(550 / 500)
    # Clipped to [1 / limit, limit]; a class the pseudo labels never get right stays at 1.
    clipped = pseudo_count_factors(confusion, keep=0, limit=2.0)
    torch.testing.assert_close(clipped, torch.tensor([1.0, 2.0, 200 / 300, 1.0]))
    never = np.array([[100, 0], [50, 0]])
    torch.testing.assert_close(pseudo_count_factors(never, keep=0), torch.ones(2))


def test_transition_rows_are_the_measured_confusion_and_unmeasured_classes_stay_exact():
    from occle_core.train.calibration import pseudo_transition_matrix

    # Rows truth, columns pseudo: class 1 (like trunk) is named 2 (vegetation) 60 % of the time.
    confusion = np.array([[500, 0, 0, 0], [0, 30, 60, 10], [0, 10, 190, 0], [0, 0, 3, 2]])
    transition = pseudo_transition_matrix(confusion)
    expected = torch.tensor(
        [
            [1.0, 0.0, 0.0, 0.0],
            [0.0, 0.3, 0.6, 0.1],
            [0.0, 0.05, 0.95, 0.0],
            [0.0, 0.0, 0.0, 1.0],  # 5 true voxels, too few to measure: the identity row
        ]
    )
    torch.testing.assert_close(transition, expected)
    half = pseudo_transition_matrix(confusion, strength=0.5)
    torch.testing.assert_close(half, 0.5 * expected + 0.5 * torch.eye(4))
    torch.testing.assert_close(half.sum(dim=1), torch.ones(4))
    torch.testing.assert_close(pseudo_transition_matrix(confusion, strength=0.0), torch.eye(4))
