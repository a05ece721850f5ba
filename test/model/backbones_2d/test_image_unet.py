"""The 2D image encoder-decoder."""

import pytest
import torch

from occle_core.model.backbones_2d.image_unet import ImageUNet, ImageUNetConfig


@pytest.mark.parametrize("stride", [1, 2, 4])
def test_feature_and_logit_shapes(stride):
    config = ImageUNetConfig(
        base_channels=8, levels=3, out_stride=stride, out_channels=16, num_classes=5
    )
    model = ImageUNet(config)
    out = model(torch.randn(2, 3, 32, 48))
    assert out.features.shape == (2, 16, 32 // stride, 48 // stride)
    assert out.logits is not None and out.logits.shape == (2, 5, 32 // stride, 48 // stride)


def test_bad_stride_is_rejected():
    with pytest.raises(ValueError, match="out_stride"):
        ImageUNet(ImageUNetConfig(levels=2, out_stride=4))
    with pytest.raises(ValueError, match="out_stride"):
        ImageUNet(ImageUNetConfig(out_stride=3))


def test_pretrained_weights_load_from_a_local_file(tmp_path):
    config = ImageUNetConfig(base_channels=4, levels=2, out_stride=1, out_channels=6, num_classes=3)
    source, target = ImageUNet(config), ImageUNet(config)
    file = tmp_path / "image_unet.pt"
    torch.save({"state_dict": source.state_dict()}, file)
    assert target.load_pretrained(file) == []
    for name, tensor in source.state_dict().items():
        torch.testing.assert_close(target.state_dict()[name], tensor)
    torch.save({"bogus.weight": torch.zeros(1)}, tmp_path / "bad.pt")
    with pytest.raises(ValueError, match="unexpected"):
        target.load_pretrained(tmp_path / "bad.pt")


def test_gradients_reach_every_parameter():
    model = ImageUNet(ImageUNetConfig(base_channels=4, levels=3, out_stride=2, out_channels=6))
    out = model(torch.randn(1, 3, 16, 16))
    assert out.logits is not None
    (out.features.sum() + out.logits.sum()).backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in model.parameters())
