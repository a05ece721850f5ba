"""The ROS-free pipeline shared by the node and bag replay: time synchronisation, frame
assembly, inference, encoding, latency accounting."""
