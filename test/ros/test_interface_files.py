"""The ROS interface files are valid for real ROS 2 tooling: package.xml parses with catkin_pkg
(what colcon/rosdep use), and the message definition registers and serialises with the real
ROS 2 type system from `rosbags` (Humble), round-tripping exactly through CDR."""

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]
MSG = REPO / "msg" / "SemanticOccupancy.msg"


def test_package_xml_is_a_valid_format3_manifest():
    catkin_pkg = pytest.importorskip("catkin_pkg.package", reason="catkin_pkg (dev extra) missing")
    package = catkin_pkg.parse_package(str(REPO / "package.xml"))
    package.validate()
    assert package.name == "occle_ros"
    assert package.package_format == 3
    assert package.get_build_type() == "ament_cmake"
    build_tools = {dep.name for dep in package.buildtool_depends}
    assert {"ament_cmake", "ament_cmake_python", "rosidl_default_generators"} <= build_tools
    assert "rosidl_interface_packages" in {group.name for group in package.member_of_groups}
    assert list(package.licenses) == ["Apache-2.0"]


def test_package_version_matches_python_package():
    catkin_pkg = pytest.importorskip("catkin_pkg.package", reason="catkin_pkg (dev extra) missing")
    import occle_core

    assert catkin_pkg.parse_package(str(REPO / "package.xml")).version == occle_core.__version__


def test_cmakelists_generates_every_message_file():
    text = (REPO / "CMakeLists.txt").read_text()
    for msg in sorted((REPO / "msg").glob("*.msg")):
        assert f'"msg/{msg.name}"' in text, (
            f"{msg.name} is not passed to rosidl_generate_interfaces"
        )


def test_semantic_occupancy_round_trips_through_cdr():
    typesys = pytest.importorskip("rosbags.typesys", reason="rosbags (dev extra) missing")
    store = typesys.get_typestore(typesys.Stores.ROS2_HUMBLE)
    store.register(typesys.get_types_from_msg(MSG.read_text(), "occle_ros/msg/SemanticOccupancy"))
    types = store.types
    msg_type = types["occle_ros/msg/SemanticOccupancy"]
    header = types["std_msgs/msg/Header"](
        stamp=types["builtin_interfaces/msg/Time"](sec=12, nanosec=345), frame_id="velodyne"
    )
    pose = types["geometry_msgs/msg/Pose"](
        position=types["geometry_msgs/msg/Point"](x=0.0, y=-25.6, z=-2.0),
        orientation=types["geometry_msgs/msg/Quaternion"](x=0.0, y=0.0, z=0.0, w=1.0),
    )
    message = msg_type(
        header=header,
        origin=pose,
        voxel_size=np.full(3, 0.2, dtype=np.float32),
        dims=np.array([256, 256, 32], dtype=np.uint32),
        axis_order="xyz",
        class_names=["empty", "car", "road"],
        empty_label=0,
        encoding=msg_type.ENCODING_SPARSE,
        indices=np.array([5, 70000, 2097151], dtype=np.uint32),
        labels=np.array([1, 2, 2], dtype=np.uint8),
        confidence=np.array([255, 128, 3], dtype=np.uint8),
    )
    data = store.serialize_cdr(message, msg_type.__msgtype__)
    back = store.deserialize_cdr(data, msg_type.__msgtype__)
    assert back.header.frame_id == "velodyne" and back.header.stamp.nanosec == 345
    assert back.origin.position.y == pytest.approx(-25.6)
    assert back.dims.tolist() == [256, 256, 32]
    assert back.class_names == ["empty", "car", "road"]
    assert back.indices.tolist() == [5, 70000, 2097151]
    assert back.labels.tolist() == [1, 2, 2]
    assert back.confidence.tolist() == [255, 128, 3]
    assert msg_type.UNKNOWN_LABEL == 255


ROSIDL = shutil.which("rosidl")


@pytest.mark.skipif(
    ROSIDL is None,
    reason="rosidl CLI missing (ROS 2 Jazzy wheels: scripts/setup_ros.sh)",
)
def test_rosidl_adapter_turns_every_message_into_idl(tmp_path):
    """The real ROS 2 rosidl adapter (what colcon runs) accepts our .msg files, and the IDL it
    writes parses with rosidl_parser into the fields we expect."""
    package = tmp_path / "occle_ros"
    shutil.copytree(REPO / "msg", package / "msg")
    shutil.copy(REPO / "package.xml", package / "package.xml")
    messages = sorted(p.name for p in (package / "msg").glob("*.msg"))
    subprocess.run(
        [ROSIDL, "translate", "--to", "idl", "--output-path", str(tmp_path / "idl"), "occle_ros"]
        + [f"msg/{m}" for m in messages],
        cwd=package,
        check=True,
        capture_output=True,
    )
    script = (
        "import sys, json; from pathlib import Path\n"
        "from rosidl_parser.parser import parse_idl_file\n"
        "from rosidl_parser.definition import IdlLocator, Message\n"
        "idl = parse_idl_file(IdlLocator(Path(sys.argv[1]), Path('msg/SemanticOccupancy.idl')))\n"
        "m = idl.content.get_elements_of_type(Message)[0]\n"
        "print(json.dumps([[x.name for x in m.structure.members], "
        "[c.name for c in m.constants]]))\n"
    )
    result = subprocess.run(
        [
            Path(ROSIDL).read_text().splitlines()[0].removeprefix("#!"),
            "-c",
            script,
            tmp_path / "idl",
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    members, constants = json.loads(result.stdout)
    assert members == [
        "header",
        "origin",
        "voxel_size",
        "dims",
        "axis_order",
        "class_names",
        "empty_label",
        "encoding",
        "indices",
        "labels",
        "confidence",
    ]
    assert constants == ["UNKNOWN_LABEL", "ENCODING_DENSE", "ENCODING_SPARSE"]


def test_readme_documents_every_node_parameter():
    from occle_ros.pipeline.config import parameter_defaults

    readme = (REPO / "README.md").read_text()
    missing = [name for name in parameter_defaults() if f"`{name}`" not in readme]
    assert not missing, f"parameters missing from the README table: {missing}"
