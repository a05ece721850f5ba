"""Losses on hand-computed cases."""

import math

import pytest
import torch

from occle_core.train.losses import (
    balance_class_weights,
    class_weights_from_frequencies,
    geometric_scal_loss,
    lovasz_softmax,
    occupancy_bce,
    semantic_scal_loss,
    weighted_cross_entropy,
)


def _logits_from_probabilities(p):
    return torch.log(torch.tensor(p, dtype=torch.float64)).float()


def test_class_weights_follow_inverse_log_frequency():
    weights = class_weights_from_frequencies(torch.tensor([900000, 9000, 10, 0]))
    expected = [1 / math.log(f + 0.001) for f in (900000, 9000, 10)]
    expected.append(expected[2])  # an absent class takes the largest present weight
    torch.testing.assert_close(weights, torch.tensor(expected, dtype=torch.float32))
    assert weights[2] > weights[1] > weights[0]


def test_class_balance_lifts_only_the_classes_rarer_than_the_median():
    counts = torch.tensor([4_000_000, 40_000, 10_000, 2_500, 625, 0])
    plain = class_weights_from_frequencies(counts)
    assert torch.equal(balance_class_weights(plain, counts, 0.0, keep=0), plain)
    balanced = balance_class_weights(plain, counts, 0.5, keep=0)
    # The median of classes 1-4 is 6 250 voxels (halfway between 10 000 and 2 500 is taken as
    # torch's lower median, 2 500): classes at or above it keep their weight, rarer ones gain
    # (median / f) ** 0.5; the empty class (keep) and an absent class never change.
    gain = balanced / plain
    torch.testing.assert_close(gain, torch.tensor([1.0, 1.0, 1.0, 1.0, 2.0, 1.0]))
    # The gain is capped at `limit`.
    strong = balance_class_weights(plain, counts, 3.0, keep=0) / plain
    torch.testing.assert_close(strong, torch.tensor([1.0, 1.0, 1.0, 1.0, 4.0, 1.0]))
    # Without `keep` the empty class counts towards the median (10 000 voxels here).
    unkept = balance_class_weights(plain, counts, 0.5) / plain
    torch.testing.assert_close(unkept, torch.tensor([1.0, 1.0, 1.0, 2.0, 4.0, 1.0]))


def test_weighted_cross_entropy_ignores_255_and_weights_classes():
    # (1, C=2, N=2): voxel 0 has probabilities (0.5, 0.5), voxel 1 (0.25, 0.75).
    logits = _logits_from_probabilities([[0.5, 0.25], [0.5, 0.75]])[None]
    target = torch.tensor([[0, 255]])
    assert weighted_cross_entropy(logits, target).item() == pytest.approx(math.log(2), rel=1e-5)
    both = torch.tensor([[0, 1]])
    weights = torch.tensor([1.0, 3.0])
    expected = (1 * math.log(2) + 3 * -math.log(0.75)) / 4
    assert weighted_cross_entropy(logits, both, weights).item() == pytest.approx(expected, rel=1e-5)
    assert weighted_cross_entropy(logits, torch.full((1, 2), 255)).item() == 0.0


def test_semantic_scal_on_two_voxels():
    # Voxel 0 is class 1 (p = 0.8), voxel 1 is class 0 (p(class 1) = 0.4).
    logits = _logits_from_probabilities([[0.2, 0.8], [0.6, 0.4]]).T.reshape(1, 2, 2, 1, 1)
    target = torch.tensor([1, 0]).reshape(1, 2, 1, 1)
    class1 = -math.log(0.8 / 1.2) - math.log(0.8 / 1) - math.log(0.6 / 1)
    class0 = -math.log(0.6 / 0.8) - math.log(0.6 / 1) - math.log(0.8 / 1)
    assert semantic_scal_loss(logits, target).item() == pytest.approx(
        (class0 + class1) / 2, rel=1e-5
    )


def test_geometric_scal_with_class_and_occupancy_logits():
    logits = _logits_from_probabilities([[0.2, 0.8], [0.6, 0.4], [0.5, 0.5]]).T.reshape(
        1, 2, 3, 1, 1
    )
    target = torch.tensor([1, 0, 255]).reshape(1, 3, 1, 1)
    occupancy = torch.tensor([0.8, 0.4])
    precision, recall, specificity = 0.8 / 1.2, 0.8, 0.6
    expected = -math.log(precision) - math.log(recall) - math.log(specificity)
    assert geometric_scal_loss(logits, target).item() == pytest.approx(expected, rel=1e-5)
    occ_logits = torch.log(occupancy / (1 - occupancy)).reshape(1, 1, 2, 1, 1)
    assert geometric_scal_loss(occ_logits, target[:, :2]).item() == pytest.approx(
        expected, rel=1e-5
    )


def test_occupancy_bce_and_lovasz():
    logits = torch.tensor([0.0, 2.0, -1.0])
    target = torch.tensor([1, 0, 255])
    expected = (math.log(2) + math.log(1 + math.exp(2))) / 2
    assert occupancy_bce(logits, target).item() == pytest.approx(expected, rel=1e-5)
    perfect = torch.tensor([[10.0, -10.0], [-10.0, 10.0]]).T[None]  # (1, 2, 2)
    assert lovasz_softmax(perfect, torch.tensor([[0, 1]])).item() == pytest.approx(0.0, abs=1e-6)
    wrong = torch.tensor([[-10.0, 10.0], [10.0, -10.0]]).T[None]
    assert lovasz_softmax(wrong, torch.tensor([[0, 1]])).item() == pytest.approx(1.0, abs=1e-6)


def test_losses_have_gradients():
    logits = torch.randn(1, 4, 3, 3, 2, requires_grad=True)
    target = torch.randint(0, 4, (1, 3, 3, 2))
    total = (
        semantic_scal_loss(logits, target)
        + geometric_scal_loss(logits, target)
        + lovasz_softmax(logits, target)
        + weighted_cross_entropy(logits, target)
    )
    total.backward()
    assert logits.grad is not None and logits.grad.abs().sum() > 0


def test_noise_corrected_cross_entropy_with_exact_labels_is_the_plain_weighted_ce():
    from occle_core.train.losses import noise_corrected_cross_entropy, weighted_cross_entropy

    generator = torch.Generator().manual_seed(0)
    logits = torch.randn(2, 4, 3, 5, generator=generator)
    target = torch.randint(0, 4, (2, 3, 5), generator=generator)
    target[0, 0, 0] = 255
    weights = torch.tensor([0.5, 1.0, 2.0, 1.5])
    corrected = noise_corrected_cross_entropy(logits, target, torch.eye(4), weights)
    torch.testing.assert_close(corrected, weighted_cross_entropy(logits, target, weights))


def test_noise_corrected_cross_entropy_forgives_the_labeller_s_known_confusion():
    from occle_core.train.losses import noise_corrected_cross_entropy, weighted_cross_entropy

    # The labeller calls class 1 "class 0" half of the time. A voxel the network is sure is
    # class 1, labelled 0, costs -log(0.5) through the noise model instead of ~ -log(1e-4).
    transition = torch.tensor([[1.0, 0.0], [0.5, 0.5]])
    logits = torch.tensor([[-5.0, 5.0]]).reshape(1, 2, 1)
    noisy = torch.tensor([[0]])
    corrected = noise_corrected_cross_entropy(logits, noisy, transition)
    plain = weighted_cross_entropy(logits, noisy)
    p1 = torch.sigmoid(torch.tensor(10.0))
    assert float(corrected) == pytest.approx(float(-torch.log(1 - p1 + 0.5 * p1)), rel=1e-5)
    assert float(corrected) < 0.7 < 9.9 < float(plain)
    # Nothing to learn from: zero, and backward still runs (a frame without pseudo labels).
    trained = logits.clone().requires_grad_(True)
    ignored = noise_corrected_cross_entropy(trained, torch.full((1, 1), 255), transition)
    ignored.backward()
    assert float(ignored.detach()) == 0.0 and trained.grad is not None
    assert float(trained.grad.abs().sum()) == 0.0
