"""qos.reliability: which reliability the node's input subscriptions ask for."""

from __future__ import annotations

import pytest

from occle_ros.pipeline.reliability import wants_reliable


@pytest.mark.parametrize(
    ("setting", "publishers", "reliable"),
    [
        ("auto", [True, True], True),  # whole large messages from reliable publishers
        ("auto", [True, False], False),  # a best-effort publisher must still be heard
        ("auto", [], False),  # nothing known yet: hear anyone, decide again later
        ("best_effort", [True], False),
        ("reliable", [False], True),  # the user's choice, even if it mismatches
    ],
)
def test_reliability_follows_the_setting_and_the_publishers(setting, publishers, reliable):
    assert wants_reliable(setting, publishers) is reliable
