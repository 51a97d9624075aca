"""FickleNet (dissertation §3.2.1, wsss-methods.md §7): stochastic hidden-unit selection at inference.

A trained 1x1 CAM classifier is turned into a k x k classifier whose inputs are chosen at random
for every window position: the features are unfolded into non-overlapping k x k windows (the
"map expansion" of Fig. 3.2), element-wise dropout picks the hidden units, and a stride-k
convolution with the 1x1 weights spread uniformly over the window (W / k²) scores each position.
Different random selections light up differently shaped object parts; aggregating many passes
covers more of the object than one deterministic map. With p = 0 the layer is exactly a k x k
average of the features followed by the trained classifier, so no retraining is needed.

Per pass we take ReLU(Z_c) rather than Grad-CAM: the head is linear, so Σ_d f_d ∂S/∂f_d at a
location is Z_c there (with per-location gradients); Selvaraju's spatially pooled weights would
average the dropout pattern away, which is the opposite of what FickleNet wants.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F

from .attribution import AttributionConfig, Priors, SeedContext, accumulate, register_seed_method
from .cam_model import CamModel
from .localisation import Localisation

AGGREGATIONS = ("max", "mean")


@dataclass
class FickleNetConfig:
    """FickleNet's options. The dissertation gives none; the FickleNet paper (Lee et al., CVPR 2019) is
    recalled [U, not verified here: the search tool returned only its abstract] to use a 3x3 window and
    dropout p = 0.9 both in training and inference, and ~200 maps per image."""

    kernel_size: int = 3  # k [U: paper]; odd, so the window is centred on its position
    dropout_rate: float = 0.9  # p [U: paper]
    passes: int = 30  # N; the paper uses ~200 [U] — 30 keeps a CPU run to seconds per photo
    # "max": a pixel counts if it scores high in *any* pass (the paper's assignment rule); "mean": average
    aggregation: str = "max"

    def __post_init__(self) -> None:
        if self.kernel_size < 1 or self.kernel_size % 2 == 0:
            raise ValueError(f"kernel_size must be a positive odd number, got {self.kernel_size}")
        if not 0.0 <= self.dropout_rate < 1.0:
            raise ValueError(f"dropout_rate must be in [0, 1), got {self.dropout_rate}")
        if self.passes < 1:
            raise ValueError(f"passes must be at least 1, got {self.passes}")
        if self.aggregation not in AGGREGATIONS:
            raise ValueError(f"aggregation must be one of {AGGREGATIONS}, got {self.aggregation!r}")


def expand_features(features: torch.Tensor, kernel_size: int) -> torch.Tensor:
    """[B, C, h, w] -> [B, C, h·k, w·k]: each position's k x k window (zero-padded) laid out as its
    own non-overlapping k x k block, so dropout on this map drops a unit *per window position*."""
    batch, channels, height, width = features.shape
    k = kernel_size
    columns = F.unfold(features, k, padding=k // 2)  # [B, C·k·k, h·w], channel-major then window row, col
    blocks = columns.view(batch, channels, k, k, height, width)
    return blocks.permute(0, 1, 4, 2, 5, 3).reshape(batch, channels, height * k, width * k)


def spread_classifier(model: CamModel, kernel_size: int) -> torch.Tensor:
    """The trained 1x1 weights [K, C, 1, 1] spread uniformly over a k x k window: [K, C, k, k] / k²."""
    weight = model.branch.classifier.weight
    return weight.expand(-1, -1, kernel_size, kernel_size) / float(kernel_size**2)


def stochastic_class_maps(
    model: CamModel,
    expanded: torch.Tensor,
    weights: torch.Tensor,
    config: FickleNetConfig,
    generator: torch.Generator,
    priors: torch.Tensor | None = None,
) -> torch.Tensor:
    """One stochastic pass: dropout on the expanded map (inverted: divided by the keep rate so the
    expectation is the p = 0 map), the stride-k window classifier, then the prior weighting. [B, K, h, w]."""
    keep_rate = 1.0 - config.dropout_rate
    if config.dropout_rate > 0:
        keep = torch.rand(expanded.shape, generator=generator, dtype=expanded.dtype) < keep_rate
        expanded = expanded * keep / keep_rate
    maps = F.conv2d(expanded, weights, stride=config.kernel_size)
    return model.branch.weight_by_priors(maps, priors)


def ficklenet_per_scale(model: CamModel, config: FickleNetConfig, generator: torch.Generator):
    """The `PerScale` of :func:`accumulate`: N passes, each max-normalised per row and class, aggregated."""
    weights = spread_classifier(model, config.kernel_size).detach()

    def run(images: torch.Tensor, priors: torch.Tensor | None, indices: list[int]) -> torch.Tensor:
        with torch.no_grad():
            expanded = expand_features(model.features(images), config.kernel_size)
            aggregate: torch.Tensor | None = None
            for _ in range(config.passes):
                maps = F.relu(stochastic_class_maps(model, expanded, weights, config, generator, priors)[:, indices])
                peak = maps.flatten(2).max(dim=2).values.clamp(min=1e-5)
                maps = maps / peak[:, :, None, None]
                if aggregate is None:
                    aggregate = maps
                elif config.aggregation == "max":
                    aggregate = torch.maximum(aggregate, maps)
                else:
                    aggregate = aggregate + maps
            return aggregate if config.aggregation == "max" else aggregate / config.passes

    return run


@register_seed_method("ficklenet", FickleNetConfig, "FickleNet stochastic hidden-unit selection (dissertation §3.2.1)")
def ficklenet(
    model: CamModel,
    pixels: np.ndarray,
    classes: Sequence[str],
    priors: Priors,
    config: FickleNetConfig,
    attribution: AttributionConfig,
    context: SeedContext,
) -> Localisation:
    was_training = model.training
    model.eval()  # the randomness is FickleNet's own dropout, never BatchNorm's batch statistics
    try:
        generator = torch.Generator().manual_seed(int(context.seed))
        return accumulate(model, pixels, classes, ficklenet_per_scale(model, config, generator), attribution, priors)
    finally:
        model.train(was_training)
