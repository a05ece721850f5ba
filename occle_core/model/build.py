"""`build_model`: the one way to make an OccLE network from a configuration."""

from __future__ import annotations

import torch

from occle_core.model.config import OccLEConfig
from occle_core.model.occle import OccLE


def build_model(config: OccLEConfig, seed: int | None = None) -> OccLE:
    """Build the network, optionally with a fixed initialisation.

    Args:
        config: the network configuration (`load_model_config` reads one from YAML).
        seed: when given, the initial weights depend only on it (the global torch RNG state is
            left as it was).

    Returns:
        The model on the CPU in training mode, image networks loaded from
        `config.{semantic,geometric}.image.weights` where set.
    """
    with torch.random.fork_rng(devices=[]):
        if seed is not None:
            torch.manual_seed(seed)
        model = OccLE(config)
    for network, weights in (
        (model.semantic.image, config.semantic.image.weights),
        (model.geometric.image, config.geometric.image.weights),
    ):
        if weights:
            network.load_pretrained(weights)
    return model
