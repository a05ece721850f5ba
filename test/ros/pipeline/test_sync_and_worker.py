"""Approximate-time pairing (message_filters' rule) and the newest-only inference worker."""

from __future__ import annotations

import threading
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from occle_ros.pipeline.sync import ApproximateTimeSync
from occle_ros.pipeline.worker import LatestOnlyWorker

MS = 1_000_000


def collector():
    sets: list[dict] = []
    return sets, sets.append


def test_pairs_each_cloud_with_the_closest_image_within_slop():
    sets, callback = collector()
    sync = ApproximateTimeSync(["cloud", "image"], 50 * MS, 5, callback)
    assert not sync.add("image", 0, "i0")
    assert not sync.add("image", 90 * MS, "i90")
    assert sync.add("cloud", 100 * MS, "c100")  # 10 ms from i90, 100 ms from i0
    assert sets == [{"cloud": "c100", "image": "i90"}]
    # Only the paired messages left their queues (message_filters' rule): a late cloud still
    # finds i0.
    assert sync.add("cloud", 10 * MS, "c10")
    assert sets[-1] == {"cloud": "c10", "image": "i0"}


def test_the_spread_must_be_strictly_below_the_slop():
    sets, callback = collector()
    sync = ApproximateTimeSync(["cloud", "image"], 50 * MS, 5, callback)
    sync.add("image", 0, "i0")
    assert not sync.add("cloud", 50 * MS, "c50")  # exactly the slop apart
    assert sync.add("cloud", 50 * MS - 1, "c49")
    assert sets == [{"cloud": "c49", "image": "i0"}]


def test_a_repeated_stamp_replaces_the_queued_message():
    sets, callback = collector()
    sync = ApproximateTimeSync(["cloud", "image"], 10 * MS, 5, callback)
    sync.add("image", 0, "first")
    sync.add("image", 0, "second")
    sync.add("cloud", 1 * MS, "c")
    assert sets == [{"cloud": "c", "image": "second"}] and sync.stats.overflow == 1


def test_no_set_when_stamps_are_further_apart_than_the_slop():
    sets, callback = collector()
    sync = ApproximateTimeSync(["cloud", "image", "info"], 20 * MS, 5, callback)
    sync.add("cloud", 100 * MS, "c")
    sync.add("image", 130 * MS, "i")
    sync.add("info", 100 * MS, "n")
    assert sets == []
    sync.add("image", 110 * MS, "i2")
    assert sets == [{"cloud": "c", "image": "i2", "info": "n"}]


def test_spread_of_the_whole_set_is_bounded_not_only_each_pair():
    sets, callback = collector()
    sync = ApproximateTimeSync(["a", "b", "c"], 30 * MS, 5, callback)
    sync.add("a", 0, "a0")
    sync.add("b", 30 * MS, "b30")
    sync.add("c", -25 * MS, "c-25")  # within 30 ms of a, 55 ms from b
    assert sets == []


def test_queue_overflow_drops_the_oldest():
    sets, callback = collector()
    sync = ApproximateTimeSync(["cloud", "image"], 5 * MS, 2, callback)
    for k in range(4):
        sync.add("image", k * 100 * MS, f"i{k}")
    assert sync.stats.overflow == 2
    sync.add("cloud", 0, "c0")  # its partner i0 was pushed out
    assert sets == []
    sync.add("cloud", 300 * MS, "c3")
    assert sets == [{"cloud": "c3", "image": "i3"}]


def test_bad_arguments():
    with pytest.raises(ValueError, match="distinct"):
        ApproximateTimeSync(["a", "a"], 0, 1, print)
    sync = ApproximateTimeSync(["a"], 0, 1, print)
    with pytest.raises(KeyError, match="unknown input 'b'"):
        sync.add("b", 0, None)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from(["cloud", "image", "info"]), st.integers(0, 2_000)),
        max_size=60,
    ),
    st.integers(0, 200),
    st.integers(1, 6),
)
def test_every_emitted_set_is_within_slop_and_uses_each_message_once(arrivals, slop, queue):
    """Whatever the arrival order: every set has one message per input, its stamps spread less
    than the slop and no message is used twice (the exact rule is held to message_filters by
    test_sync_equivalence.py)."""
    sets, callback = collector()
    sync = ApproximateTimeSync(["cloud", "image", "info"], slop, queue, callback)
    for number, (name, stamp) in enumerate(arrivals):
        sync.add(name, stamp, (name, stamp, number))
    used = set()
    for found in sets:
        assert set(found) == {"cloud", "image", "info"}
        stamps = [m[1] for m in found.values()]
        assert max(stamps) - min(stamps) < slop
        for name, message in found.items():
            assert message[0] == name and message not in used
            used.add(message)
    assert sync.stats.emitted == len(sets)


def test_worker_runs_only_the_newest_item_while_busy():
    started, release = threading.Event(), threading.Event()
    done: list[int] = []

    def process(item: int) -> None:
        if item == 0:
            started.set()
            release.wait(5)
        done.append(item)

    worker: LatestOnlyWorker[int] = LatestOnlyWorker(process)
    worker.submit(0)
    assert started.wait(5)
    for item in (1, 2, 3):  # arrive while 0 runs: only 3 should run next
        worker.submit(item)
    release.set()
    assert worker.wait_idle(5)
    worker.stop()
    assert done == [0, 3]
    assert worker.dropped == 2 and worker.processed == 2


def test_worker_survives_a_failing_item():
    errors: list[BaseException] = []
    done: list[int] = []

    def process(item: int) -> None:
        if item == 1:
            raise RuntimeError("bad frame")
        done.append(item)

    worker: LatestOnlyWorker[int] = LatestOnlyWorker(process, errors.append)
    for item in (1, 2):
        worker.submit(item)
        assert worker.wait_idle(5)
    worker.stop()
    assert done == [2] and [str(e) for e in errors] == ["bad frame"]


def test_worker_stop_returns_promptly():
    worker: LatestOnlyWorker[int] = LatestOnlyWorker(lambda item: None)
    began = time.perf_counter()
    worker.stop()
    assert time.perf_counter() - began < 2
