"""The one device policy of training and inference."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from occle_core.errors import ConfigError


@dataclass(frozen=True)
class DeviceChoice:
    """The device to run on, and the warning to show when a request could not be met."""

    device: torch.device
    warning: str | None = None


def resolve_device(requested: str, option: str = "device", fallback: bool = False) -> DeviceChoice:
    """The torch device for "auto", "cpu", "cuda" or "cuda:N".

    "auto" is CUDA when available, else the CPU. A CUDA device this machine lacks is an error,
    or, with `fallback` (the ROS node: a robot without its GPU should still publish, slowly),
    the CPU with a warning.

    Args:
        requested: the device name.
        option: the option or key it came from, for errors.
        fallback: fall back to the CPU instead of refusing a missing CUDA device.

    Raises:
        ConfigError: a name torch does not know, or CUDA missing without `fallback`.
    """
    if requested == "auto":
        return DeviceChoice(torch.device("cuda" if torch.cuda.is_available() else "cpu"))
    try:
        device = torch.device(requested)
    except (RuntimeError, ValueError):
        raise ConfigError(option, f"{requested!r}", "auto, cpu, cuda or cuda:N") from None
    if device.type not in ("cpu", "cuda"):
        raise ConfigError(option, f"{requested!r}", "auto, cpu, cuda or cuda:N")
    if device.type == "cpu":
        return DeviceChoice(device)
    problem = None
    if not torch.cuda.is_available():
        problem = "CUDA is not available on this machine"
    elif (device.index or 0) >= torch.cuda.device_count():
        problem = f"this machine has {torch.cuda.device_count()} GPU(s)"
    if problem is None:
        return DeviceChoice(device)
    if not fallback:
        raise ConfigError(option, f"{requested!r}: {problem}", "auto or cpu")
    return DeviceChoice(
        torch.device("cpu"),
        f"{option}={requested}: {problem}, running on the CPU (expect seconds per frame at full "
        "resolution)",
    )
