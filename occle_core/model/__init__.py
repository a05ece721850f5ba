"""OccLE network modules: sparse 3D voxel backbones and the other model parts."""
