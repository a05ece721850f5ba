"""rosbag2 tools (through `rosbags`, no ROS install): dataset -> bag, bag replay evaluation."""
