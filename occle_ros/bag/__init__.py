"""rosbag2 tools (through `rosbags`, no ROS install).

`to_bag` / `occ3d_bag`: a SemanticKITTI sequence or an Occ3D scene -> bag; `writer`: the one
atomic bag writer; `topic_selection`: which bag topics feed the pipeline; `ground_truth`: the
dataset frames a replay is scored against; `replay`: the replay loop behind `occle bag-eval`;
`tf_buffer`: the offline TF buffer that answers as tf2 does.
"""
