"""The OccLE network, grouped by role: `backbones_3d` (sparse voxel networks), `backbones_2d`
(image UNet), `fusion` (lifting, cross-plane, Dual Mamba), `heads` (decoder, class heads); the two
branches in `semantic_branch` / `geometric_branch`, their assembly in `occle`, with its typed
config, `build_model` and checkpoints."""
