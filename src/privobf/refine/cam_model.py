"""Model-Image seen as the CAM classifier of the WSSS lineage: features f(x), class maps Z = W f.

AdvCAM, RIB, FickleNet and Grad-CAM need the two halves separately (a gradient with respect to the
features, dropout between them, fine-tuning of both), which :class:`ImageModel`'s forward does not
expose. The prior weighting of Human / Text maps (paper §3.2) stays part of the class maps, so every
attribution method sees the same maps `privobf scan` does.
"""

from __future__ import annotations

import copy
from typing import Sequence

import torch
from torch import nn

from ..models.privobfnet import ImageModel
from ..scanning import model_input_size

GRID_STRIDE = 4  # every stage keeps its maps on the model input's stride-4 grid (IRN's `cam` resolution)


class CamModel(nn.Module):
    """Features and class maps of a trained privobf model; images are float [B, 3, H, W] in [0, 1]."""

    def __init__(self, image_model: ImageModel):
        super().__init__()
        self.image_model = image_model
        self.branch = image_model.branch
        self.attribute_ids: list[str] = list(image_model.attribute_ids)
        self.image_size: int = image_model.config.image_size

    @property
    def stride(self) -> int:
        return self.branch.backbone.output_stride

    def features(self, images: torch.Tensor) -> torch.Tensor:
        """f(x): [B, C, h, w], the features the CAM classifier reads."""
        return self.branch.feature_refiner(self.branch.backbone(images))

    def class_maps(self, features: torch.Tensor, priors: torch.Tensor | None = None) -> torch.Tensor:
        """Z = W f, weighted by the priors for Human / Text attributes: [B, K, h, w], before ReLU."""
        return self.branch.weight_by_priors(self.branch.classifier(features), priors)

    def forward(self, images: torch.Tensor, priors: torch.Tensor | None = None) -> torch.Tensor:
        return self.class_maps(self.features(images), priors)

    def class_indices(self, classes: Sequence[str]) -> list[int]:
        """Positions of attribute ids in the model's maps; unknown ids are an error naming them."""
        unknown = [c for c in classes if c not in self.attribute_ids]
        if unknown:
            raise ValueError(f"the model has no map for {unknown}; it knows {len(self.attribute_ids)} attributes")
        return [self.attribute_ids.index(c) for c in classes]

    def input_size(self, height: int, width: int, scale: float = 1.0) -> tuple[int, int]:
        """The model input size of a photo at `scale` (long side image_size * scale, stride multiples)."""
        return model_input_size(height, width, int(round(self.image_size * scale)), self.stride)

    def grid_size(self, height: int, width: int) -> tuple[int, int]:
        """The working grid of every stage: the scale-1 input size divided by GRID_STRIDE (rounded up)."""
        h, w = self.input_size(height, width)
        return -(-h // GRID_STRIDE), -(-w // GRID_STRIDE)

    def frozen_copy(self) -> "CamModel":
        """An eval-mode copy whose parameters need no gradient (input-gradient methods)."""
        clone = copy.deepcopy(self).eval()
        for parameter in clone.parameters():
            parameter.requires_grad_(False)
        return clone
