"""The ROS 2 side of OccLE: message conversions, the ROS-free pipeline, bag tools, the rclpy node.

Only `occle_ros.node`, `node_parameters`, `player`, `graph` and `launch_description` import
rclpy or launch; everything else runs and is tested without ROS. The generated message module
`occle_ros.msg` is installed by colcon into the workspace's copy of this package (see
CMakeLists.txt), never into the source tree or a pip install. So that `import occle_ros.msg`
works whichever copy Python finds first (the source tree from the repository root, pip's
editable install, or the colcon install), this package's path spans every `occle_ros` folder on
`sys.path`.
"""

from pkgutil import extend_path

__path__ = extend_path(__path__, __name__)
