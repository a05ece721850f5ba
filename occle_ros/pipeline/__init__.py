"""The ROS-free pipeline shared by the node and bag replay: node parameters (`config`), one
synchronised set (`sensors.SensorSet`), time synchronisation, stamp checks, frame assembly,
inference, encoding, latency accounting."""
