"""Latency of the node on a live ROS 2 graph: `ros2 launch occle_ros occle.launch.py` with a
model, a publisher streaming a synthetic sequence as a robot would (TF, PointCloud2, Image,
CameraInfo stamped at publication) and a subscriber timing every SemanticOccupancy.

    . scripts/ros_env.sh
    python benchmarks/ros_latency.py [--configs occle_tiny occle_semantickitti] [--frames N]
        [--json OUT]

For each model configuration (random weights: latency does not depend on them) it prints the
stamp-to-output latency seen by the subscriber (p50 / p95 over the frames; each frame is
published once the previous output is in, so nothing queues) and, from the node's
/diagnostics, what it spends converting the messages, inferring and encoding the outputs; the
rest of the latency is the ROS layer around them (message_filters, executor hand-offs, DDS
transport of the inputs and outputs, deserialisation). The dataset scale follows the model's
grid (tiny synthetic scenes for the tiny model, KITTI-sized scans and images for the full one).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

SECOND = 1_000_000_000


def percentiles(values: list[float]) -> dict[str, float]:
    array = np.asarray(values)
    return {
        "p50_ms": float(np.percentile(array, 50)),
        "p95_ms": float(np.percentile(array, 95)),
        "mean_ms": float(array.mean()),
    }


def cpu_model() -> str:
    """The CPU's model name (/proc/cpuinfo), else the architecture."""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.machine()


def parameter_file(work: Path, cpu_threads: int | None) -> Path | None:
    """A copy of the shipped node parameters with model.cpu_threads set (None: shipped)."""
    if cpu_threads is None:
        return None
    import yaml

    from occle_ros.pipeline.config import shipped_node_params

    params = yaml.safe_load(shipped_node_params().read_text())
    params["occle"]["ros__parameters"]["model"]["cpu_threads"] = cpu_threads
    path = work / f"occle_{cpu_threads}_threads.yaml"
    path.write_text(yaml.safe_dump(params))
    return path


def measure(
    config_name: str, frames: int, work: Path, cpu_threads: int | None = None
) -> dict[str, Any]:
    from diagnostic_msgs.msg import DiagnosticArray

    from occle_core.data.synthetic.generate import SynthConfig, write_synthetic_dataset
    from occle_core.model.build import build_model
    from occle_core.model.checkpoint import save_checkpoint
    from occle_core.model.config import load_model_config
    from occle_ros.graph import KittiRig, launched, probe, wait_for_state, wait_until
    from occle_ros.msg import SemanticOccupancy

    config = load_model_config(config_name)
    scale = "tiny" if config.grid.shape[0] <= 64 else "full"
    root = work / f"data_{config_name}"
    write_synthetic_dataset(
        root, [0], SynthConfig(frames=frames, seed=0, scale=scale, previews=False)
    )
    checkpoint = work / f"{config_name}.pt"
    save_checkpoint(checkpoint, build_model(config, seed=0))
    arguments: dict[str, Any] = {"checkpoint": checkpoint, "device": "cpu"}
    params = parameter_file(work, cpu_threads)
    if params is not None:
        arguments["params_file"] = params
    latencies: list[float] = []
    with (
        probe("occle_latency_probe") as helper,
        launched("occle.launch.py", arguments, work / f"{config_name}.log") as launch,
    ):
        rig = KittiRig(helper, root)
        received: list[tuple[int, int]] = []  # (stamp, receipt time) of every output

        def arrived(message: Any) -> None:
            stamp = message.header.stamp.sec * SECOND + message.header.stamp.nanosec
            received.append((stamp, time.time_ns()))

        helper.node.create_subscription(SemanticOccupancy, "/occle/output/occupancy", arrived, 2)
        diagnostics = helper.collect(DiagnosticArray, "/diagnostics")
        wait_for_state(helper, launch, "active", timeout=300)
        rig.wait_for_node()
        rig.publish_static()
        time.sleep(1.0)  # the node sees this probe's subscription before the first frame
        timeout = 600.0 if scale == "full" else 60.0
        for index in range(frames):
            stamp = rig.publish_frame(index)
            done = wait_until(
                lambda s=stamp: next((t for st, t in received if st == s), None),
                timeout,
                f"the output of frame {index}",
            )
            latencies.append((done - stamp) * 1e-6)
            time.sleep(0.1)
        began = time.time()
        wait_until(
            lambda: diagnostics and diagnostics[-1].header.stamp.sec > began, 10, "diagnostics"
        )
        values = {kv.key: kv.value for kv in diagnostics[-1].status[0].values}
    stages = {
        stage: float(values[f"{stage} p50 ms"])
        for stage in ("convert", "inference", "encode", "processing", "stamp_to_publish")
        if f"{stage} p50 ms" in values
    }
    # The first frame pays for lazy initialisation (pixel maps, marker cache): report it apart.
    steady = latencies[1:] if len(latencies) > 2 else latencies
    result = {
        "config": config_name,
        "cpu_threads": values.get("cpu_threads", cpu_threads),
        "grid": list(config.grid.shape),
        "frames": frames,
        "first_frame_ms": latencies[0],
        "stamp_to_output": percentiles(steady),
        "node_stage_p50_ms": stages,
    }
    result["ros_layer_p50_ms"] = result["stamp_to_output"]["p50_ms"] - stages.get("inference", 0.0)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--configs", nargs="+", default=["occle_tiny", "occle_semantickitti"])
    parser.add_argument("--frames", type=int, default=12, help="frames per configuration")
    parser.add_argument(
        "--cpu-threads", type=int, help="model.cpu_threads (default: the shipped parameter, 0)"
    )
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    if os.environ.get("ROS_AUTOMATIC_DISCOVERY_RANGE") != "LOCALHOST":
        raise SystemExit("source scripts/ros_env.sh first (DDS discovery must stay on loopback)")
    results = []
    with tempfile.TemporaryDirectory() as work:
        for name in args.configs:
            frames = args.frames if "tiny" in name else max(3, args.frames // 3)
            result = measure(name, frames, Path(work), args.cpu_threads)
            results.append(result)
            latency, stages = result["stamp_to_output"], result["node_stage_p50_ms"]
            print(
                f"{name} {tuple(result['grid'])}, cpu_threads {args.cpu_threads or 0}: "
                f"stamp-to-output p50 {latency['p50_ms']:.0f} ms"
                f", p95 {latency['p95_ms']:.0f} ms over {frames - 1} frames (first frame "
                f"{result['first_frame_ms']:.0f} ms); node p50: convert "
                f"{stages.get('convert', 0):.1f} ms, inference {stages.get('inference', 0):.0f}"
                f" ms, encode {stages.get('encode', 0):.1f} ms; ROS layer around inference "
                f"{result['ros_layer_p50_ms']:.0f} ms",
                flush=True,
            )
    report = {
        "machine": f"{cpu_model()}, {os.cpu_count()} cores",
        "python": platform.python_version(),
        "results": results,
    }
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
