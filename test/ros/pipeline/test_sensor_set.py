"""SensorSet: the one type of a synchronised set, from message_filters' positional callback
arguments and from the replay synchroniser's named inputs alike."""

import numpy as np
import pytest

pytest.importorskip("rosbags")

from occle_ros.conversions.pointcloud import array_to_cloud
from occle_ros.messages import RosbagsFactory, typestore
from occle_ros.pipeline.config import TopicParams
from occle_ros.pipeline.sensors import SensorSet, inputs_of_topics, sync_inputs

FACTORY = RosbagsFactory(typestore("humble"))


def test_sync_inputs_follow_the_subscription_order() -> None:
    assert sync_inputs(0) == ["cloud"]
    assert sync_inputs(2) == ["cloud", "image0", "info0", "image1", "info1"]


def test_positional_and_named_messages_give_the_same_set() -> None:
    cloud = array_to_cloud(FACTORY, np.array([[1.0, 2.0, 3.0, 0.5]]), 1_500_000_123, "lidar")
    positional = SensorSet.from_synced([cloud, "img0", "inf0", "img1", "inf1"])
    named = SensorSet.from_named(
        {"info1": "inf1", "cloud": cloud, "image1": "img1", "image0": "img0", "info0": "inf0"}
    )
    assert positional == named
    assert named.images == ("img0", "img1") and named.camera_infos == ("inf0", "inf1")
    assert named.stamp_ns == 1_500_000_123


def test_incomplete_sets_are_refused_with_the_expected_inputs() -> None:
    with pytest.raises(ValueError, match="expected a cloud then an image and a camera info"):
        SensorSet.from_synced(["cloud", "image"])
    with pytest.raises(ValueError, match=r"expected \['cloud', 'image0', 'info0'\]"):
        SensorSet.from_named({"cloud": 1, "image0": 2, "camera0": 3})
    with pytest.raises(ValueError, match="2 images but 1 camera infos"):
        SensorSet("cloud", ("a", "b"), ("c",))


def test_a_topic_feeding_two_cameras_feeds_both_inputs() -> None:
    topics = TopicParams(
        cloud="/lidar", images=("/cam_l", "/cam_r"), camera_infos=("/info", "/info")
    )
    assert inputs_of_topics(topics) == {
        "/lidar": ["cloud"],
        "/cam_l": ["image0"],
        "/cam_r": ["image1"],
        "/info": ["info0", "info1"],
    }
