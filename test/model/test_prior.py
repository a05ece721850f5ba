"""The class-prior correction of the voxel decision (`occle_core.model.prior`) and its buffers
in the model and its checkpoints."""

from __future__ import annotations

import math

import pytest
import torch

from occle_core.model.build import build_model
from occle_core.model.checkpoint import load_checkpoint, save_checkpoint
from occle_core.model.config import load_model_config
from occle_core.model.occle import OccLEOutput
from occle_core.model.prior import decide_labels, log_prior_from_counts


def test_log_prior_is_the_log_share_and_zero_for_an_unseen_class():
    prior = log_prior_from_counts(torch.tensor([600, 300, 0, 100]))
    expected = torch.tensor([math.log(0.6), math.log(0.3), 0.0, math.log(0.1)])
    torch.testing.assert_close(prior, expected)
    assert prior.dtype == torch.float32
    torch.testing.assert_close(log_prior_from_counts(torch.zeros(3)), torch.zeros(3))
    with pytest.raises(ValueError, match="non-negative"):
        log_prior_from_counts(torch.tensor([1, -1]))


def _logits(*columns: list[float]) -> torch.Tensor:
    """(1, M, V, 1, 1) logits of V voxels from one list of M logits per voxel."""
    return torch.tensor(columns, dtype=torch.float32).T.reshape(1, len(columns[0]), -1, 1, 1)


def test_the_correction_picks_rare_classes_of_occupied_voxels_only():
    # Classes: 0 empty, 1 common (share 0.9), 2 rare (share 0.1), 3 never labelled.
    log_prior = log_prior_from_counts(torch.tensor([0, 900, 100, 0]))
    logits = _logits(
        [0.0, 2.0, 1.0, -5.0],  # occupied, common by 1.0: the rare class wins at strength 1
        [0.0, 2.0, 0.5, -5.0],  # occupied, common by 1.5: log(0.9 / 0.1) = 2.2 > 1.5
        [3.0, 2.0, 1.9, -5.0],  # empty by the plain argmax: stays empty whatever the strength
        [0.0, 1.0, 0.0, 1.5],  # the unseen class leads: it gets no boost (its log prior is 0)
    )
    plain = decide_labels(logits, 0, log_prior, 0.0)
    assert plain.flatten().tolist() == [1, 1, 0, 3]
    assert torch.equal(plain, logits.argmax(dim=1))
    half = decide_labels(logits, 0, log_prior, 0.5)  # 0.5 x 2.2 = 1.1: beats 1.0, not 1.5
    assert half.flatten().tolist() == [2, 1, 0, 3]
    full = decide_labels(logits, 0, log_prior, 1.0)
    # 0 - log 0.1 = 2.3 beats 1.5 + 0: the rare class overtakes the unseen one, never boosted.
    assert full.flatten().tolist() == [2, 2, 0, 2]
    # Occupancy never moves: the empty voxels are the plain argmax's at every strength.
    for strength in (0.5, 1.0, 3.0):
        labels = decide_labels(logits, 0, log_prior, strength)
        assert torch.equal(labels == 0, plain == 0)


def test_an_occupancy_given_from_elsewhere_replaces_the_plain_argmax_for_empty():
    # Classes: 0 empty, 1 common (share 0.9), 2 rare (share 0.1).
    log_prior = log_prior_from_counts(torch.tensor([0, 900, 100]))
    logits = _logits(
        [3.0, 2.0, 1.5],  # empty by its own argmax, occupied by the rule: its best class
        [0.0, 2.0, 1.5],  # occupied by both
        [0.0, 2.0, 1.0],  # occupied by its argmax, empty by the rule
    )
    occupied = torch.tensor([True, True, False]).reshape(1, 3, 1, 1)
    assert decide_labels(logits, 0, log_prior, 0.0, occupied).flatten().tolist() == [1, 1, 0]
    assert decide_labels(logits, 0, None, 0.0, occupied).flatten().tolist() == [1, 1, 0]
    # at strength 1 the rare class wins by log(0.9 / 0.1) = 2.2 > 0.5
    assert decide_labels(logits, 0, log_prior, 1.0, occupied).flatten().tolist() == [2, 2, 0]
    # Without the rule the plain argmax decides empty, as before.
    assert decide_labels(logits, 0, log_prior, 1.0).flatten().tolist() == [0, 2, 2]
    output = OccLEOutput(logits, logits, logits, logits, logits, 0, log_prior, prior_strength=1.0)
    assert output.labels(occupied=occupied).flatten().tolist() == [2, 2, 0]
    assert output.labels(0.0, occupied).flatten().tolist() == [1, 1, 0]


def test_the_empty_class_may_be_the_last_one():
    # Occ3D: free is the last class.
    log_prior = log_prior_from_counts(torch.tensor([900, 100, 0]))
    logits = _logits([2.0, 1.0, 1.5], [2.0, 1.0, 3.0])
    assert decide_labels(logits, 2, log_prior, 1.0).flatten().tolist() == [1, 2]


def test_model_buffers_drive_labels_and_travel_in_the_checkpoint(tmp_path):
    config = load_model_config("occle_tiny")
    model = build_model(config, seed=0)
    assert float(model.prior_strength) == 0.0 and not model.class_log_prior.any()
    counts = torch.arange(config.num_classes, dtype=torch.int64) * 10
    model.set_class_prior(counts)
    model.set_prior_strength(0.5)
    torch.testing.assert_close(model.class_log_prior, log_prior_from_counts(counts))
    with pytest.raises(ValueError, match="counts of shape"):
        model.set_class_prior(torch.ones(3))
    with pytest.raises(ValueError, match="must be >= 0"):
        model.set_prior_strength(-1.0)
    path = tmp_path / "with_prior.pt"
    save_checkpoint(path, model)
    loaded, _ = load_checkpoint(path)
    assert float(loaded.prior_strength) == 0.5
    torch.testing.assert_close(loaded.class_log_prior, model.class_log_prior)

    # A checkpoint from before the buffers existed decides with the plain argmax.
    payload = torch.load(path, weights_only=True)
    for key in ("class_log_prior", "prior_strength"):
        del payload["model"][key]
    old = tmp_path / "old.pt"
    torch.save(payload, old)
    legacy, _ = load_checkpoint(old)
    assert float(legacy.prior_strength) == 0.0 and not legacy.class_log_prior.any()


def test_output_labels_use_the_strength_given_or_the_models():
    log_prior = log_prior_from_counts(torch.tensor([0, 900, 100]))
    logits = _logits([0.0, 2.0, 1.0])
    empty = torch.zeros(0)
    out = OccLEOutput(logits, empty, empty, empty, empty, 0, log_prior, 1.0)
    assert out.labels().flatten().tolist() == [2]
    assert out.labels(0.0).flatten().tolist() == [1]
    bare = OccLEOutput(logits, empty, empty, empty, empty)  # no prior known: plain argmax
    assert bare.labels(1.0).flatten().tolist() == [1]
