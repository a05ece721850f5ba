"""Conversions between ROS 2 messages and numpy arrays / OccLE types (no rclpy import)."""
