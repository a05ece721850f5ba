"""From fused features to classes: the voxel decoder with skips (`decoder`) and the class
heads (`class_heads`: per LiDAR voxel, dense M-class)."""
