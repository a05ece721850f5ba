"""The KITTI raw-data layout (date folder, calibration files, `*_sync` drive with OXTS)."""
