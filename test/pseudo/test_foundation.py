"""Foundation-model adapters: tiny randomly initialised models of the real classes are saved to
a temporary folder and loaded through the same code path as real checkpoints."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

transformers = pytest.importorskip("transformers")

from occle_core.errors import DataFormatError  # noqa: E402
from occle_core.pseudo.alignment import IGNORE, load_alignment  # noqa: E402
from occle_core.pseudo.foundation import (  # noqa: E402
    FoundationLabeller,
    GroundedSegmenter,
    SemanticSegmenter,
)

CITYSCAPES = (
    "road", "sidewalk", "building", "wall", "fence", "pole", "traffic light", "traffic sign",
    "vegetation", "terrain", "sky", "person", "rider", "car", "truck", "bus", "train",
    "motorcycle", "bicycle",
)  # fmt: skip
WORDS = (
    "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", ".", "tree", "trunk", "parking", "lot",
    "traffic", "island", "person", "riding", "a", "motorcycle",
)  # fmt: skip


@pytest.fixture(scope="module")
def segformer(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("segformer")
    config = transformers.SegformerConfig(
        num_encoder_blocks=1, depths=[1], sr_ratios=[1], hidden_sizes=[8], patch_sizes=[7],
        strides=[4], num_attention_heads=[1], mlp_ratios=[1], decoder_hidden_size=8,
        num_labels=len(CITYSCAPES), id2label=dict(enumerate(CITYSCAPES)),
        label2id={n: i for i, n in enumerate(CITYSCAPES)},
    )  # fmt: skip
    model = transformers.SegformerForSemanticSegmentation(config)
    with torch.no_grad():  # make "car" win everywhere except where "sky" is forced below
        model.decode_head.classifier.bias.zero_()
        model.decode_head.classifier.bias[CITYSCAPES.index("car")] = 50.0
    model.save_pretrained(folder)
    transformers.SegformerImageProcessor(size={"height": 64, "width": 128}).save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def grounding_dino(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("grounding_dino")
    (folder / "vocab.txt").write_text("\n".join(WORDS) + "\n")
    tokenizer = transformers.BertTokenizerFast(vocab_file=str(folder / "vocab.txt"))
    backbone = transformers.SwinConfig(
        image_size=64, patch_size=4, embed_dim=8, depths=[1, 1], num_heads=[1, 1],
        window_size=2, out_features=["stage1", "stage2"],
    )  # fmt: skip
    text = transformers.BertConfig(
        vocab_size=len(WORDS), hidden_size=32, num_hidden_layers=1, num_attention_heads=1,
        intermediate_size=16, max_position_embeddings=64,
    )  # fmt: skip
    config = transformers.GroundingDinoConfig(
        backbone_config=backbone, text_config=text, d_model=32, encoder_layers=1,
        decoder_layers=2, encoder_ffn_dim=16, decoder_ffn_dim=16, encoder_attention_heads=2,
        decoder_attention_heads=2, num_queries=5, num_feature_levels=2, encoder_n_points=1,
        decoder_n_points=1, max_text_len=32, use_timm_backbone=False,
    )  # fmt: skip
    transformers.GroundingDinoForObjectDetection(config).save_pretrained(folder)
    processor = transformers.GroundingDinoProcessor(
        image_processor=transformers.GroundingDinoImageProcessor(
            size={"shortest_edge": 64, "longest_edge": 128}
        ),
        tokenizer=tokenizer,
    )
    processor.save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def sam(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("sam")
    vision = transformers.SamVisionConfig(
        hidden_size=16, output_channels=16, num_hidden_layers=1, num_attention_heads=1,
        image_size=64, patch_size=16, global_attn_indexes=[0], mlp_dim=16, window_size=0,
        num_pos_feats=8,
    )  # fmt: skip
    prompt = transformers.SamPromptEncoderConfig(
        hidden_size=16, image_size=64, patch_size=16, mask_input_channels=4
    )
    decoder = transformers.SamMaskDecoderConfig(
        hidden_size=16, num_hidden_layers=1, num_attention_heads=1, mlp_dim=16,
        iou_head_hidden_dim=16,
    )  # fmt: skip
    config = transformers.SamConfig(
        vision_config=vision, prompt_encoder_config=prompt, mask_decoder_config=decoder
    )
    transformers.SamModel(config).save_pretrained(folder)
    image_processor = transformers.SamImageProcessorPil(
        size={"longest_edge": 64}, pad_size={"height": 64, "width": 64}
    )
    transformers.SamProcessor(image_processor=image_processor).save_pretrained(folder)
    return folder


IMAGE = np.random.default_rng(0).integers(0, 256, (94, 310, 3), dtype=np.uint8)


def test_segmenter_maps_its_class_names_to_target_ids(segformer):
    kitti = load_alignment("semantickitti")
    labels = SemanticSegmenter(segformer, kitti)(IMAGE)
    assert labels.shape == (94, 310) and labels.dtype == np.uint8
    assert (labels == kitti.class_names.index("car")).all()


def test_grounded_segmenter_gives_masks_per_open_vocabulary_class(grounding_dino, sam):
    kitti = load_alignment("semantickitti")
    # Threshold 0: every query of the random detector counts, so every prompt gets boxes.
    grounded = GroundedSegmenter(grounding_dino, sam, kitti, box_threshold=0.0, text_threshold=0.0)
    boxes = grounded.boxes(IMAGE, "tree trunk")
    assert boxes.shape == (5, 4)
    assert (boxes[:, 2] >= boxes[:, 0]).all() and (boxes[:, 3] >= boxes[:, 1]).all()
    masks = grounded(IMAGE)
    assert set(masks) <= {item.class_id for item in kitti.open_vocabulary}
    assert all(m.shape == (94, 310) and m.dtype == bool for m in masks.values())
    strict = GroundedSegmenter(grounding_dino, sam, kitti, box_threshold=1.01)
    assert strict.boxes(IMAGE, "tree trunk").shape == (0, 4)
    assert strict(IMAGE) == {}


def test_labeller_merges_inside_parent_classes(segformer, grounding_dino, sam):
    kitti = load_alignment("semantickitti")
    segmenter = SemanticSegmenter(segformer, kitti)
    grounded = GroundedSegmenter(grounding_dino, sam, kitti, box_threshold=0.0, text_threshold=0.0)
    labels = FoundationLabeller(segmenter, grounded)(IMAGE)
    # The segmenter says car everywhere; no open-vocabulary class has car as a parent (only
    # motorcyclist's parents are bicyclist/person), so the merge keeps car.
    assert (labels == kitti.class_names.index("car")).all()
    assert (FoundationLabeller(segmenter, None)(IMAGE) != IGNORE).all()


def test_missing_or_broken_checkpoints_are_named(tmp_path, segformer):
    kitti = load_alignment("semantickitti")
    with pytest.raises(DataFormatError, match="checkpoint folder not found"):
        SemanticSegmenter(tmp_path / "absent", kitti)
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "config.json").write_text("{}")
    with pytest.raises(DataFormatError, match="broken"):
        SemanticSegmenter(broken, kitti)


def test_cli_labels_a_sequence_with_local_models(tmp_path, segformer, grounding_dino, sam):
    from occle_core.cli.main import main
    from occle_core.data.semantickitti.sequence import SemanticKittiSequence
    from occle_core.data.synthetic.generate import SynthConfig, write_synthetic_dataset
    from occle_core.io.images import read_label_image
    from occle_core.pseudo.cache import pseudo_image_path

    root = tmp_path / "data"
    write_synthetic_dataset(root, [0], SynthConfig(frames=2, window_after=0, previews=False))
    argv = ["pseudo-label", "--dataset", str(root), "--source", "transformers"]
    assert main([*argv, "--segmenter", str(segformer), "--detector", str(grounding_dino)]) == 2
    models = ["--segmenter", str(segformer), "--detector", str(grounding_dino), "--sam", str(sam)]
    assert main([*argv, *models]) == 0
    labels = read_label_image(pseudo_image_path(SemanticKittiSequence(root, 0), 1))
    assert labels.shape == (94, 310)
    assert (labels == load_alignment("semantickitti").class_names.index("car")).all()
