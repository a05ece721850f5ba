"""The ROS 2 side of OccLE: message conversions, the ROS-free pipeline, the rclpy node.

Only `occle_ros.node` (to come) imports rclpy; everything else runs and is tested without ROS.
The generated message module `occle_ros.msg` is installed here by colcon (see CMakeLists.txt).
"""
