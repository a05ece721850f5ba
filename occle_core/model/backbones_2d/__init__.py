"""2D image backbones: the image encoder-decoder of both branches (`image_unet`)."""
