"""3D backbones: sparse voxel networks on spconv.

Modules: `spconv_compat` (loading spconv, CPU backward shim), `voxel_encoder` (points -> voxel
features, frame batching), `blocks` (conv + norm + ReLU blocks), `unet` (sparse 3D UNet) and
`encoder` (downsampling encoder, dense BEV). Nothing is imported here, so that the torch-only
parts do not load spconv.
"""
