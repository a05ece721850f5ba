"""One checkpoint format for CPU and GPU, for the own scan and mamba-ssm alike.

A checkpoint is a `torch.save`d dict of plain types and tensors only, so it loads with
``torch.load(weights_only=True)``::

    {"format": "occle-checkpoint", "version": 2,
     "config": <OccLEConfig as nested dicts>, "model": <state dict>, "extra": {...}}

Version 1 named the parts of both branches flat (``semantic_vfe.``, ``cross_plane.``, ...);
version 2 nests them in the branch modules (``semantic.vfe.``, ``geometric.cross_plane.``).
Version 1 files still load: `read_checkpoint` renames their keys (model and mean teacher).
Files written before the decision's class-prior buffers existed (`OccLE.class_log_prior`,
`OccLE.prior_strength`) load with their defaults, the plain argmax (`with_decision_buffers`).

The Mamba blocks keep mamba-ssm's parameter layout, so the same file runs on mamba-ssm's kernel
and on `occle_core.ops.selective_scan`. Tensors are saved on the CPU.
"""

from __future__ import annotations

import dataclasses
import io
import os
from typing import Any

import torch

from occle_core.errors import DataFormatError
from occle_core.io.atomic import atomic_write_bytes
from occle_core.model.build import build_model
from occle_core.model.config import OccLEConfig, load_model_config
from occle_core.model.occle import OccLE
from occle_core.typed_config import from_mapping, to_mapping

CHECKPOINT_FORMAT = "occle-checkpoint"
CHECKPOINT_VERSION = 2
# Version 1 key prefix -> version 2 key prefix (the branches became modules).
_V1_PREFIXES = {
    **{
        f"semantic_{part}.": f"semantic.{part}."
        for part in ("vfe", "unet", "head", "pyramid", "image", "lifter", "fuse")
    },
    **{f"geometric_{part}.": f"geometric.{part}." for part in ("vfe", "pyramid", "image")},
    "geometric_lifter.": "geometric.lifter.",
    "frontal_pool.": "geometric.frontal_pool.",
    "cross_plane.": "geometric.cross_plane.",
}


def upgrade_v1_state(state: dict[str, Any]) -> dict[str, Any]:
    """A version 1 state dict with its keys renamed to version 2 (values unchanged, order kept).

    Args:
        state: a model state dict as written by checkpoint version 1.
    """
    renamed = {}
    for key, value in state.items():
        for old, new in _V1_PREFIXES.items():
            if key.startswith(old):
                key = new + key[len(old) :]
                break
        renamed[key] = value
    return renamed


def save_checkpoint(
    path: str | os.PathLike[str], model: OccLE, extra: dict[str, Any] | None = None
) -> None:
    """Write the model (config + weights) atomically: a crash never leaves a partial file.

    Args:
        path: destination file.
        model: the network; its config travels with the weights.
        extra: more plain data or tensors to store (training state, metrics).
    """
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    payload = {
        "format": CHECKPOINT_FORMAT,
        "version": CHECKPOINT_VERSION,
        "config": to_mapping(model.config),
        "model": state,
        "extra": extra or {},
    }
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    atomic_write_bytes(path, buffer.getvalue())


def read_checkpoint(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Load and check a checkpoint dict (weights only, no code execution)."""
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError as error:
        raise DataFormatError(path, "no such file") from error
    except Exception as error:  # torch raises many types for corrupt files
        raise DataFormatError(path, f"not a readable torch checkpoint ({error})") from error
    if not isinstance(payload, dict) or payload.get("format") != CHECKPOINT_FORMAT:
        raise DataFormatError(path, "not an OccLE checkpoint", f"format {CHECKPOINT_FORMAT!r}")
    version = payload.get("version")
    if version not in (1, CHECKPOINT_VERSION):
        raise DataFormatError(path, f"checkpoint version {version}", f"1 or {CHECKPOINT_VERSION}")
    _check_finite(payload.get("model", {}), path)
    if version == 1:
        payload = _upgrade_v1(payload)
    return payload


def _upgrade_v1(payload: dict[str, Any]) -> dict[str, Any]:
    extra = dict(payload.get("extra") or {})
    if isinstance(extra.get("teacher"), dict):  # the mean teacher is a copy of the model
        extra["teacher"] = upgrade_v1_state(extra["teacher"])
    model = payload.get("model")
    return {
        **payload,
        "version": CHECKPOINT_VERSION,
        "model": upgrade_v1_state(model) if isinstance(model, dict) else model,
        "extra": extra,
    }


#: Buffers of the decision (`occle_core.model.prior`) that older checkpoints do not hold.
DECISION_BUFFERS = ("class_log_prior", "prior_strength")


def with_decision_buffers(model: OccLE, state: dict[str, Any]) -> dict[str, Any]:
    """`state` with the decision buffers `model` has now wherever `state` lacks them (a
    checkpoint from before the class-prior correction decides with the plain argmax)."""
    missing = [key for key in DECISION_BUFFERS if key not in state]
    if not missing:
        return state
    current = model.state_dict()
    return {**state, **{key: current[key] for key in missing}}


def _check_finite(weights: Any, path: str | os.PathLike[str]) -> None:
    """A weight that is NaN or infinite (a diverged run, a corrupt file) would turn every
    prediction into the same class without a word: refuse it, naming the tensor."""
    if not isinstance(weights, dict):
        return
    for name, tensor in weights.items():
        if (
            isinstance(tensor, torch.Tensor)
            and tensor.is_floating_point()
            and not bool(torch.isfinite(tensor).all())
        ):
            bad = int((~torch.isfinite(tensor)).sum())
            raise DataFormatError(
                path, f"weight {name} holds {bad} NaN or infinite values", "finite weights"
            )


def load_checkpoint(
    path: str | os.PathLike[str], device: torch.device | str = "cpu"
) -> tuple[OccLE, dict[str, Any]]:
    """Rebuild the model saved in `path`.

    Returns:
        The model in eval mode on `device`, and the checkpoint's `extra` dict.

    Raises:
        DataFormatError: the file is missing, corrupt, of another format, or its weights do
            not fit its own configuration.
    """
    payload = read_checkpoint(path)
    config = from_mapping(OccLEConfig, payload["config"], f"{path} (config)")
    if not config.class_names:
        config = dataclasses.replace(config, class_names=legacy_class_names(config))
    model = build_model(without_image_weights(config))
    try:
        model.load_state_dict(with_decision_buffers(model, payload["model"]))
    except RuntimeError as error:  # missing, unexpected or mis-shaped tensors
        first = str(error).split("\n\t")[1:2] or [str(error)]
        raise DataFormatError(path, f"weights do not fit the config: {first[0]}") from error
    return model.to(device).eval(), payload.get("extra", {})


def legacy_class_names(config: OccLEConfig) -> tuple[str, ...]:
    """The class names of a checkpoint written before they travelled inside it, from what its
    class count implies: SemanticKITTI (20 classes, empty 0), Occ3D-nuScenes (18, free 17),
    else class_<i>."""
    from occle_core.data.nuscenes.occ3d import OCC3D_CLASS_NAMES, OCC3D_FREE
    from occle_core.data.semantickitti.labels import load_label_config

    kitti = load_label_config().class_names
    if config.num_classes == len(kitti) and config.empty_label == 0:
        return tuple(kitti)
    if config.num_classes == len(OCC3D_CLASS_NAMES) and config.empty_label == OCC3D_FREE:
        return tuple(OCC3D_CLASS_NAMES)
    return tuple(f"class_{i}" for i in range(config.num_classes))


def without_image_weights(config: OccLEConfig) -> OccLEConfig:
    """The config with the pretrained-image paths cleared: a checkpoint already holds them."""
    semantic = dataclasses.replace(
        config.semantic, image=dataclasses.replace(config.semantic.image, weights=None)
    )
    geometric = dataclasses.replace(
        config.geometric, image=dataclasses.replace(config.geometric.image, weights=None)
    )
    return dataclasses.replace(config, semantic=semantic, geometric=geometric)


def check_model_config(
    checkpoint: str | os.PathLike[str], model_config: OccLEConfig, name_or_path: str
) -> None:
    """A model configuration named next to a checkpoint must be the one inside it.

    Raises:
        DataFormatError: naming the checkpoint, the configuration and the differing fields.
    """
    expected = load_model_config(name_or_path)
    if expected != model_config:
        differing = [
            f.name
            for f in dataclasses.fields(OccLEConfig)
            if getattr(expected, f.name) != getattr(model_config, f.name)
        ]
        raise DataFormatError(
            checkpoint,
            f"holds model {model_config.name!r}, which differs from config {name_or_path} "
            f"in {differing}",
            "the configuration the checkpoint was trained with (or no config)",
        )
