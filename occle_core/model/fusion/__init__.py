"""Where features of different sources meet.

Modules: `lifting` (image features onto fusion voxels, frontal-plane pooling), `cross_plane`
(BEV x frontal plane -> 3D geometry), `mamba` / `serialization` / `dual_mamba` (the Dual Mamba
fusion of the semantic and geometric grids, with its scan orders).
"""
