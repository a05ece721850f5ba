"""`occle to-bag`, `occle bag-eval` and `occle play`: the rosbag2 commands (need `rosbags`: the
`ros` extra; `play` also needs rclpy, a ROS 2 Jazzy install or scripts/setup_ros.sh).

`occle_core.cli.main` adds these commands when occle_ros is installed next to it.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    register_to_bag(subparsers)
    register_bag_eval(subparsers)
    register_play(subparsers)


def register_to_bag(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "to-bag",
        help="write a SemanticKITTI sequence or an Occ3D-nuScenes scene as a rosbag2",
        description=(
            "Turn a SemanticKITTI-format sequence (real or `occle synth`) into a rosbag2 with "
            "PointCloud2, Image (or CompressedImage) + CameraInfo per camera, /tf (odom -> "
            "LiDAR from poses.txt) and /tf_static (LiDAR -> camera), stamped from times.txt. "
            "With --layout occ3d, a scene of a nuScenes / Occ3D root (real or `occle synth "
            "--layout occ3d`): every LiDAR sweep at its own time on /LIDAR_TOP, the six "
            "key-frame JPEGs as CompressedImage + CameraInfo, /tf map -> base_link at every "
            "sweep and image, /tf_static base_link -> LIDAR_TOP and cameras (the topics of "
            "config/occle_nuscenes.yaml). Play it with `ros2 bag play` against the node, or "
            "replay it with `occle bag-eval`."
        ),
    )
    parser.add_argument("--dataset", type=Path, required=True, help="dataset root")
    parser.add_argument(
        "--sequence", required=True, metavar="XX|SCENE", help="sequence, or scene name (occ3d)"
    )
    parser.add_argument(
        "--layout", choices=("semantickitti", "occ3d"), default="semantickitti",
        help="dataset layout (default: %(default)s)",
    )  # fmt: skip
    parser.add_argument(
        "--info-file",
        default="occle_infos.pkl",
        help="occ3d: info file or nuScenes tables folder listing the scene, relative to "
        "--dataset (default: %(default)s)",
    )
    parser.add_argument("--out", type=Path, required=True, help="bag folder to create")
    parser.add_argument("--storage", choices=["mcap", "sqlite3"], default="mcap")
    parser.add_argument(
        "--compressed",
        action="store_true",
        help="jpeg CompressedImage topics (occ3d scenes always carry their JPEG files)",
    )
    parser.add_argument("--frames", type=int, nargs="+", help="only these scans (semantickitti)")
    parser.add_argument("--distro", choices=["humble", "jazzy"], default="humble")
    parser.set_defaults(func=run_to_bag)


def run_to_bag(args: argparse.Namespace) -> int:
    from occle_core.cli.progress import ProgressDisplay
    from occle_core.io.paths import check_arguments
    from occle_ros.bag.occ3d_bag import write_occ3d_scene_bag
    from occle_ros.bag.to_bag import write_sequence_bag

    check_arguments(args, folders=["dataset"], new=["out"])
    unit = "key frames" if args.layout == "occ3d" else "scans"

    display = ProgressDisplay("to-bag", unit=unit)

    def progress(done: int, total: int) -> None:
        display.update(done, total=total)

    try:
        if args.layout == "occ3d":
            if args.frames:
                raise ValueError("--frames selects scans of a SemanticKITTI sequence only")
            out = write_occ3d_scene_bag(
                args.dataset,
                args.info_file,
                args.sequence,
                args.out,
                storage=args.storage,
                distro=args.distro,
                progress=progress,
            )
        else:
            out = write_sequence_bag(
                args.dataset,
                args.sequence,
                args.out,
                storage=args.storage,
                compressed=args.compressed,
                frames=args.frames,
                distro=args.distro,
                progress=progress,
            )
    except (FileExistsError, ValueError) as error:
        display.close()
        print(f"occle to-bag: error: {error}", file=sys.stderr)
        return 2
    display.close()
    print(f"wrote {out}")
    return 0


def register_bag_eval(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "bag-eval",
        help="replay a rosbag2 through the node's pipeline: outputs, frames/s, latency, scores",
        description=(
            "Read a sqlite3 or mcap rosbag2, take extrinsics from /tf_static and /tf, pair the "
            "camera and LiDAR messages as the node does, run the model, print frames/s and "
            "per-stage latency, score against SemanticKITTI or Occ3D ground truth (--gt) and "
            "write SemanticOccupancy, MarkerArray and voxel clouds to an mcap (--out) that "
            "Foxglove and RViz open."
        ),
    )
    parser.add_argument("bag", type=Path, help="rosbag2 folder or .mcap file")
    parser.add_argument("--checkpoint", required=True, help="OccLE checkpoint (.pt)")
    parser.add_argument(
        "--config", default="", help="model configuration; must match the checkpoint's"
    )
    parser.add_argument(
        "--params", type=Path, help="node parameter file (default: the shipped config/occle.yaml)"
    )
    parser.add_argument("--image-topic", nargs="+", help="image topic per camera")
    parser.add_argument("--camera-info-topic", nargs="+", help="CameraInfo topic per camera")
    parser.add_argument("--cloud-topic", help="PointCloud2 topic")
    parser.add_argument("--gt", type=Path, help="dataset root with voxel ground truth")
    parser.add_argument(
        "--gt-sequence", help="its sequence or Occ3D scene (default: named in the bag)"
    )
    parser.add_argument(
        "--gt-layout",
        choices=("semantickitti", "occ3d"),
        help="ground-truth layout (default: named in the bag, else semantickitti); occ3d "
        "scores key frames inside mask_camera",
    )
    parser.add_argument(
        "--gt-info-file", help="occ3d: info file listing the scene (default: named in the bag)"
    )
    parser.add_argument("--out", type=Path, help="mcap bag of the outputs to create")
    parser.add_argument("--with-inputs", action="store_true", help="copy inputs and TF to --out")
    parser.add_argument("--device", help="override model.device (auto, cpu, cuda[:N])")
    parser.add_argument("--scans", type=int, help="override input.scans")
    parser.add_argument("--json", type=Path, help="write the report as JSON")
    parser.set_defaults(func=run_bag_eval)


def run_bag_eval(args: argparse.Namespace) -> int:
    import dataclasses

    from occle_core.cli.progress import ProgressDisplay
    from occle_core.errors import ConfigError, DataFormatError
    from occle_core.eval.report import format_table, report_dict
    from occle_core.io.atomic import atomic_write_bytes
    from occle_core.io.paths import check_arguments
    from occle_core.runtime import ModelRunner
    from occle_ros.bag.replay import replay_bag
    from occle_ros.bag.topic_selection import TopicChoice
    from occle_ros.pipeline.config import load_node_config, shipped_node_params

    check_arguments(
        args, files=["checkpoint", "params"], folders=["gt"], new=["out"], out_files=["json"]
    )
    if not args.bag.exists():
        raise ConfigError("bag", f"{args.bag}: no such bag", "a rosbag2 folder or .mcap file")
    if args.scans is not None and args.scans < 1:
        raise ConfigError("--scans", f"{args.scans}", ">= 1")
    config = load_node_config(args.params or shipped_node_params())
    model = config.model
    if args.device:
        model = dataclasses.replace(model, device=args.device)
    config = dataclasses.replace(config, model=model)
    if args.scans:
        config = dataclasses.replace(
            config, input=dataclasses.replace(config.input, scans=args.scans)
        )
    # The node's device policy: a replay of the node falls back to the CPU as the node does.
    runner = ModelRunner.from_checkpoint(
        args.checkpoint,
        args.config,
        model.device,
        model.amp,
        fallback=True,
        mirror_occupancy=model.mirror_occupancy,
    )
    chosen = TopicChoice(args.cloud_topic, args.image_topic, args.camera_info_topic)

    display = ProgressDisplay("bag-eval", unit="frames")

    def progress(frames: int) -> None:
        display.update(frames)

    try:
        report = replay_bag(
            args.bag,
            runner,
            config,
            chosen,
            args.gt,
            args.gt_sequence,
            args.out,
            args.with_inputs,
            progress,
            args.gt_layout,
            args.gt_info_file,
        )
    finally:
        display.close()
    print(
        f"{report.frames} frames in {report.wall_seconds:.1f} s: "
        f"{report.frames_per_second:.2f} frames/s ({runner.device}); "
        f"{report.skipped} skipped, {report.unsynced} unpaired messages"
    )
    from occle_ros.pipeline.latency import format_summary

    print(format_summary(report.latency))
    result: dict[str, object] = {
        "frames": report.frames,
        "skipped": report.skipped,
        "unsynced": report.unsynced,
        "frames_per_second": report.frames_per_second,
        "device": str(runner.device),
        "latency": report.latency,
    }
    if report.bad_messages:
        print(f"skipped before pairing: {report.bad_messages}")
    if report.frames == 0:
        raise DataFormatError(
            args.bag,
            f"no frame predicted ({report.skipped} sets skipped, {report.unsynced} messages "
            "unpaired)",
            "camera/LiDAR sets the node can pair and transform (see the skips above)",
        )
    if report.scores is not None:
        if not report.scored_frames:
            raise DataFormatError(
                args.bag,
                f"none of its {report.frames} predicted frames matched a ground-truth frame of "
                f"{args.gt} by stamp",
                "the bag of that sequence (its /occle/source), or --gt-sequence",
            )
        print(f"scored {len(report.scored_frames)} frames with ground truth")
        print(format_table(report.scores))
        result["scores"] = report_dict(report.scores)
    if args.out:
        print(f"wrote {args.out}")
    if args.json:
        atomic_write_bytes(args.json, json.dumps(result, indent=2).encode())
    return 0


def register_play(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "play",
        help="publish a rosbag2 on the live ROS 2 graph, with /clock (no rosbag2 needed)",
        description=(
            "Publish the messages of a sqlite3 or mcap rosbag2 (e.g. from `occle to-bag`) on "
            "their recorded topics, as recorded (CDR bytes), at the recorded pace divided by "
            "--rate, with /clock at every message's log time (start nodes with "
            "use_sim_time:=true). For machines without `ros2 bag`. Needs rclpy."
        ),
    )
    parser.add_argument("bag", type=Path, help="rosbag2 folder or .mcap file")
    parser.add_argument("--rate", type=float, default=1.0, help="speed factor (default 1)")
    parser.add_argument("--topics", nargs="+", help="only these topics")
    parser.add_argument("--no-clock", action="store_true", help="do not publish /clock")
    parser.add_argument(
        "--delay",
        type=float,
        default=1.0,
        help="seconds between creating the publishers and the first message, for discovery "
        "(default 1)",
    )
    parser.set_defaults(func=run_play)


def run_play(args: argparse.Namespace) -> int:
    import time

    try:
        import rclpy

        from occle_ros.player import BagPlayer
    except ImportError as error:
        print(f"occle play: error: needs rclpy ({error}); see the README's ROS 2 section",
              file=sys.stderr)  # fmt: skip
        return 2
    if not args.rate > 0 or not args.delay >= 0:
        print("occle play: error: --rate must be > 0 and --delay >= 0", file=sys.stderr)
        return 2
    rclpy.init()
    node = rclpy.create_node("occle_player")
    try:
        player = BagPlayer(node, args.bag, args.topics, clock=not args.no_clock)
        try:
            time.sleep(args.delay)
            count = player.play(args.rate)
        finally:
            player.close()
        print(f"published {count} messages from {args.bag}")
    except KeyboardInterrupt:
        return 130
    finally:
        node.destroy_node()
        rclpy.try_shutdown()
    return 0
