"""The node's ROS parameters: declared with the type of their `NodeConfig` field, read back as a
`NodeConfig` (needs rclpy).

Every parameter is declared statically typed from its dataclass annotation, never from its
default, so that empty lists (``tf.cam_from_lidar: []``) have a type and `ros2 param describe`
shows it. Bad values never raise out of the node: a value of the wrong ROS type is kept as given
and reported by `read_node_config` with the parameter's name, like any other invalid value, and
the lifecycle transition that reads it fails instead of the process.
"""

from __future__ import annotations

import array
import dataclasses
import typing
from typing import Any

from rcl_interfaces.msg import ParameterDescriptor
from rclpy.exceptions import InvalidParameterTypeException
from rclpy.node import Node
from rclpy.parameter import Parameter

from occle_ros.pipeline.config import NodeConfig, node_config_from_parameters, parameter_defaults
from occle_ros.pipeline.descriptions import parameter_descriptions

_SCALAR_TYPES = {
    bool: Parameter.Type.BOOL,
    int: Parameter.Type.INTEGER,
    float: Parameter.Type.DOUBLE,
    str: Parameter.Type.STRING,
}
_ARRAY_TYPES = {
    bool: Parameter.Type.BOOL_ARRAY,
    int: Parameter.Type.INTEGER_ARRAY,
    float: Parameter.Type.DOUBLE_ARRAY,
    str: Parameter.Type.STRING_ARRAY,
}


def _field_hints(cls: type = NodeConfig, prefix: str = "") -> dict[str, Any]:
    """Dotted parameter name -> type annotation of every leaf field of `NodeConfig`."""
    hints = typing.get_type_hints(cls)
    out: dict[str, Any] = {}
    for field in dataclasses.fields(cls):
        hint = hints[field.name]
        if isinstance(hint, type) and dataclasses.is_dataclass(hint):
            out.update(_field_hints(hint, f"{prefix}{field.name}."))
        else:
            out[f"{prefix}{field.name}"] = hint
    return out


def ros_type(hint: Any) -> Parameter.Type:
    """The ROS parameter type of a `NodeConfig` field annotation."""
    if typing.get_origin(hint) is typing.Literal:
        return _SCALAR_TYPES[type(typing.get_args(hint)[0])]
    if typing.get_origin(hint) is tuple:
        return _ARRAY_TYPES[typing.get_args(hint)[0]]
    return _SCALAR_TYPES[hint]


def _choices(hint: Any) -> str:
    if typing.get_origin(hint) is typing.Literal:
        return "one of " + ", ".join(str(v) for v in typing.get_args(hint))
    return ""


def declare_node_parameters(node: Node) -> None:
    """Declare every `NodeConfig` parameter on `node` with its type, default and description."""
    descriptions = parameter_descriptions()
    hints = _field_hints()
    for name, default in parameter_defaults().items():
        kind = ros_type(hints[name])
        descriptor = ParameterDescriptor(
            description=descriptions.get(name, ""),
            type=kind.value,
            additional_constraints=_choices(hints[name]),
        )
        try:
            # Declared by type, not by default: an empty list's type cannot be inferred.
            declared = node.declare_parameter(name, kind, descriptor)
        except InvalidParameterTypeException:
            # An override of another type (`intensity_scale: 1`, a string for a number): keep it
            # as given so that configure can name the parameter and what it expects.
            dynamic = ParameterDescriptor(description=descriptor.description, dynamic_typing=True)
            declared = node.declare_parameter(name, default, dynamic)
        if declared.type_ == Parameter.Type.NOT_SET:
            # No override (or an empty YAML list, which rcl reads as unset): the default.
            node.set_parameters([Parameter(name, kind, default)])


def read_node_config(node: Node) -> NodeConfig:
    """The node's current parameters as a `NodeConfig`.

    Raises:
        DataFormatError: a value of the wrong type or out of range, naming the parameter.
    """
    values: dict[str, Any] = {}
    for name in parameter_defaults():
        value = node.get_parameter(name).value
        # rclpy returns numeric arrays as array.array.
        values[name] = list(value) if isinstance(value, list | tuple | array.array) else value
    return node_config_from_parameters(values, f"node {node.get_fully_qualified_name()} parameters")
