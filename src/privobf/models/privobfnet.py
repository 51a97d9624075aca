"""PrivObfNet (Tay, Subbaraju, Kandappu, WACV 2024): Model-Image and Model-Cropped.

One :class:`PrivObfBranch` is one of the paper's two models: a backbone, the attention-map
generator (a CAM classifier, one map per attribute), the weighting of Human / Text attribute maps
by prior masks (§3.2), an attribute head (§3.5) and a privacy head (§3.4). :class:`PrivObfNet`
holds two branches of the same architecture and runs them as training needs (§3.1); only
Model-Image is used at inference.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ..attributes import MaskType, Vocabulary
from .backbones import create_backbone
from .config import ModelConfig
from .crops import CropBox, crop_images, crop_maps, sample_crop_boxes

PRIOR_CHANNELS = {MaskType.HUMAN: 0, MaskType.TEXT: 1}  # priors tensors are [B, 2, H, W]: human, text


@dataclass
class BranchOutput:
    raw_maps: torch.Tensor  # [B, K, h, w] CAMs before prior weighting
    attention_maps: torch.Tensor  # [B, K, h, w] after prior weighting
    class_scores: torch.Tensor  # [B, K] global average of attention_maps (CAM classification logits)
    attribute_logits: torch.Tensor | None  # [B, K]
    privacy: torch.Tensor | None  # [B, P] per-profile scores in [0, 1]


class PrivObfBranch(nn.Module):
    """One model of the ensemble: features -> attention maps -> attribute and privacy outputs."""

    def __init__(
        self, config: ModelConfig, n_attributes: int, prior_channel: list[int], pretrained: bool | str, with_heads: bool = True
    ):
        """`with_heads=False` builds Model-Cropped: eq. 3-5 use only its attention maps (L_att and L_priv are
        computed on Model-Image, §3.5), so attribute and privacy heads there would be weights no loss trains."""
        super().__init__()
        self.config = config
        self.backbone = create_backbone(config.backbone, pretrained=pretrained, output_stride=config.output_stride)
        self.frozen_modules = self._freeze(config.frozen_backbone_prefixes)
        channels = self.backbone.out_channels
        # Issue 5's architectural parts (DRS on backbone stages, the focused-unfocused module): identity when off.
        self.feature_refiner: nn.Module = nn.Identity()
        if config.wsss.drs or config.wsss.fum:
            from ..wsss.architecture import apply_architecture

            self.feature_refiner = apply_architecture(self.backbone, channels, config.wsss)
        self.dropout = nn.Dropout2d(config.dropout) if config.dropout > 0 else nn.Identity()
        # Attributes taught later on the frozen network are the last ones; the original heads keep their size.
        self.n_base = n_attributes - config.extension_attributes
        if self.n_base < 1:
            raise ValueError(f"{config.extension_attributes} extension attributes leave none of {n_attributes} for the classifier")
        self.extension = (ExtensionHead(channels, config.extension_hidden, config.extension_attributes)
                          if config.extension_attributes else None)
        # The attention-map generator: a bias-free 1x1 classifier, so the pooled map *is* the class score (CAM).
        self.classifier = nn.Conv2d(channels, self.n_base, kernel_size=1, bias=False)
        self.attribute_head = (
            nn.Linear(channels, self.n_base)
            if with_heads and config.use_attribute_task and config.attribute_head == "separate"
            else None
        )
        # f(V): the privacy feature vector is the pooled image feature with the pooled attention of every
        # attribute ("attention maps ... used for privacy score and attribute learning", Fig. 1).
        self.privacy_head = (
            nn.Sequential(
                nn.Linear(channels + self.n_base, config.privacy_hidden),
                nn.ReLU(inplace=True),
                nn.Linear(config.privacy_hidden, config.n_profiles),
            )
            if with_heads and config.use_privacy_task
            else None
        )
        # -1: un-masked; 0: human prior; 1: text prior (a buffer so it moves with the module).
        self.register_buffer("prior_channel", torch.tensor(prior_channel, dtype=torch.long), persistent=False)

    def _freeze(self, prefixes: tuple[str, ...]) -> list[nn.Module]:
        if not prefixes:
            return []
        frozen = [m for name, m in self.backbone.named_modules() if name and name.startswith(tuple(prefixes))]
        if not frozen:
            raise ValueError(f"frozen_backbone_prefixes {prefixes} match no module of {self.config.backbone}")
        for module in frozen:
            for parameter in module.parameters(recurse=False):
                parameter.requires_grad_(False)
        return frozen

    def train(self, mode: bool = True) -> "PrivObfBranch":
        super().train(mode)
        for module in self.frozen_modules:  # frozen layers keep their ImageNet BatchNorm statistics
            module.eval()
        return self

    def new_modules(self) -> list[nn.Module]:
        return [m for m in (self.feature_refiner, self.classifier, self.attribute_head, self.privacy_head, self.extension)
                if m is not None]

    def weight_by_priors(self, maps: torch.Tensor, priors: torch.Tensor | None) -> torch.Tensor:
        """A_k * (floor + (1 - floor) * prior) for Human / Text attributes; others unchanged.

        `priors` is [B, 2, H, W] in [0, 1] at any resolution (area-resampled to the map), or None. A
        per-image flag of all-NaN priors means "no prior for this image" (prior dropout, missing provider).
        """
        if priors is None:
            return maps
        priors = F.interpolate(priors.to(maps.dtype), size=maps.shape[-2:], mode="area")
        available = ~torch.isnan(priors).flatten(2).any(-1)  # [B, 2]
        priors = torch.nan_to_num(priors, nan=1.0)
        floor = self.config.prior_floor
        weight = floor + (1.0 - floor) * priors  # [B, 2, h, w]
        index = self.prior_channel.clamp(min=0)
        per_attribute = weight[:, index]  # [B, K, h, w]
        use = (self.prior_channel >= 0)[None, :] & available[:, index]  # [B, K]
        return torch.where(use[:, :, None, None], maps * per_attribute, maps)

    def forward(self, images: torch.Tensor, priors: torch.Tensor | None = None) -> BranchOutput:
        raw_maps, pooled_features = self.maps_and_features(images)
        return self.heads(raw_maps, pooled_features, priors)

    def maps_and_features(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The convolutional part: raw attention maps [B, K, h, w] and pooled features [B, C]. Split from
        :meth:`heads` because it is what an ONNX export can carry (the prior weighting's area resampling
        to a size known only at run time is not)."""
        features = self.feature_refiner(self.backbone(images))
        maps = self.classifier(self.dropout(features))
        if self.extension is not None:
            maps = torch.cat([maps, self.extension(features)], 1)
        return maps, features.mean(dim=(2, 3))

    def heads(self, raw_maps: torch.Tensor, pooled_features: torch.Tensor, priors: torch.Tensor | None) -> BranchOutput:
        """Prior weighting, class scores, the attribute and privacy heads."""
        attention_maps = self.weight_by_priors(raw_maps, priors)
        class_scores = attention_maps.mean(dim=(2, 3))
        extension_scores = None
        if self.extension is not None:  # scored on their maps before any prior weighting, as they were taught
            extension_scores = self.extension.scores(raw_maps[:, self.n_base:])
            class_scores = torch.cat([class_scores[:, : self.n_base], extension_scores], 1)
        if self.attribute_head is not None:
            attribute_logits = self.attribute_head(pooled_features)
            if extension_scores is not None:
                attribute_logits = torch.cat([attribute_logits, extension_scores], 1)
        elif self.config.use_attribute_task and self.config.attribute_head == "cam":
            attribute_logits = class_scores
        else:
            attribute_logits = None
        privacy = None
        if self.privacy_head is not None:
            base_scores = torch.sigmoid(class_scores[:, : self.n_base])
            privacy = torch.sigmoid(self.privacy_head(torch.cat([pooled_features, base_scores], 1)))
        return BranchOutput(raw_maps, attention_maps, class_scores, attribute_logits, privacy)

    def attribute_probabilities(self, output: BranchOutput) -> torch.Tensor:
        logits = output.attribute_logits if output.attribute_logits is not None else output.class_scores
        return torch.sigmoid(logits)


class ExtensionHead(nn.Module):
    """Maps of attributes taught on a frozen network: a per-location two-layer network on the features
    (a document type is a configuration of features a single linear map cannot pick out: measured in
    docs/results.md), scored by the log of the maps' mean exponential, a smooth maximum, because a document
    may fill a tenth of the photo and a mean would dilute it."""

    def __init__(self, channels: int, hidden: int, count: int):
        super().__init__()
        self.reduce = nn.Conv2d(channels, hidden, kernel_size=1)
        self.maps = nn.Conv2d(hidden, count, kernel_size=1)
        self.bias = nn.Parameter(torch.zeros(count))

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.maps(F.relu(self.reduce(features)))

    def scores(self, maps: torch.Tensor) -> torch.Tensor:
        """Logits [B, K] from maps [B, K, h, w]: log(mean(exp(map))) + bias."""
        return torch.logsumexp(maps.flatten(2), -1) - math.log(maps.shape[-2] * maps.shape[-1]) + self.bias


@dataclass
class TrainingOutput:
    image: BranchOutput
    cropped: BranchOutput | None
    global_crops: torch.Tensor | None  # [B*N, K, s, s] crops of Model-Image's attention maps (G_i)
    boxes: list[list[CropBox]] | None
    views: list[BranchOutput] | None = None  # Model-Image on extra views of the images (attention transfer)
    reconstruction: torch.Tensor | None = None  # [B, 3, S, S] in [-1, 1]: CAM-driven reconstruction (SSC)


class PrivObfNet(nn.Module):
    """Model-Image and (when training with crops) Model-Cropped, same architecture, separate weights."""

    def __init__(self, config: ModelConfig, vocabulary: Vocabulary, pretrained: bool | str | None = None):
        super().__init__()
        config.validate()
        self.config = config
        self.attribute_ids = list(vocabulary.ids)
        prior_channel = [PRIOR_CHANNELS.get(a.mask_type, -1) for a in vocabulary]
        pretrained = config.pretrained if pretrained is None else pretrained
        self.image = PrivObfBranch(config, len(vocabulary), prior_channel, pretrained)
        self.cropped = (
            PrivObfBranch(config, len(vocabulary), prior_channel, pretrained, with_heads=False) if config.use_cropped else None
        )
        # Training-only: rebuilds the image from Model-Image's CAMs (SSC §III-B); not part of the shipped model.
        self.reconstruction: nn.Module | None = None
        if config.wsss.cdr:
            from ..wsss.reconstruction import ReconstructionNetwork

            self.reconstruction = ReconstructionNetwork(len(vocabulary))

    @property
    def stride(self) -> int:
        return self.image.backbone.output_stride

    def forward(
        self,
        images: torch.Tensor,
        priors: torch.Tensor | None = None,
        generator: torch.Generator | None = None,
        views: Sequence[torch.Tensor] = (),
    ) -> TrainingOutput:
        """The training forward: Model-Image on the images (and on any extra `views` of them, in the same
        batch), Model-Cropped on N stride-aligned crops, and the CAM-driven reconstruction when enabled."""
        batch = images.shape[0]
        if views:
            stacked = self.image(torch.cat([images, *views]), None if priors is None else priors.repeat(1 + len(views), 1, 1, 1))
            image_output, *view_outputs = [_batch_slice(stacked, k * batch, (k + 1) * batch) for k in range(1 + len(views))]
        else:
            image_output, view_outputs = self.image(images, priors), None
        reconstruction = None
        if self.reconstruction is not None:
            reconstruction = self.reconstruction(image_output.raw_maps, output_size=images.shape[-2:])
        if self.cropped is None:
            return TrainingOutput(image_output, None, None, None, view_outputs, reconstruction)
        size = images.shape[-1]
        if images.shape[-2] != size:
            raise ValueError("training images must be square (image_size x image_size)")
        boxes = sample_crop_boxes(
            images.shape[0], self.config.n_crops, size, self.config.crop_size, self.stride, generator
        )
        crop_priors = crop_images(priors, boxes) if priors is not None else None
        cropped_output = self.cropped(crop_images(images, boxes), crop_priors)
        global_crops = crop_maps(image_output.attention_maps, boxes, self.stride)
        return TrainingOutput(image_output, cropped_output, global_crops, boxes, view_outputs, reconstruction)


def _batch_slice(output: BranchOutput, start: int, stop: int) -> BranchOutput:
    def cut(tensor: torch.Tensor | None) -> torch.Tensor | None:
        return None if tensor is None else tensor[start:stop]

    return BranchOutput(cut(output.raw_maps), cut(output.attention_maps), cut(output.class_scores),
                        cut(output.attribute_logits), cut(output.privacy))


class ImageModel(nn.Module):
    """Model-Image alone, for inference and shipping: what `privobf scan` loads."""

    def __init__(self, config: ModelConfig, attribute_ids: list[str], branch: PrivObfBranch):
        super().__init__()
        self.config = config
        self.attribute_ids = attribute_ids
        self.branch = branch

    def forward(self, images: torch.Tensor, priors: torch.Tensor | None = None) -> BranchOutput:
        return self.branch(images, priors)
