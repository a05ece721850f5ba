"""The inference runtime: one place that loads a checkpoint with its configuration, chooses the
device by one policy, prepares inputs and predicts. `occle infer`, `occle bench model`, bag
replay and the ROS node all run their models through `occle_core.runtime.ModelRunner`."""

from occle_core.runtime.device import DeviceChoice, resolve_device
from occle_core.runtime.runner import ModelRunner, Prediction

__all__ = ["DeviceChoice", "ModelRunner", "Prediction", "resolve_device"]
