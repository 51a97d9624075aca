"""The losses of PrivObfNet (paper eq. 1-5), written to be read next to the paper.

Shapes: K attributes, N crops per image, B images, P user profiles.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ..models.config import LossWeights, ModelConfig
from ..models.privobfnet import TrainingOutput


def image_loss(global_crops: torch.Tensor, crop_maps: torch.Tensor, normalise_crop_maps: bool, detach: bool) -> torch.Tensor:
    """Eq. 2: (1/N) Σ_i ||Softmax(G_i) − S_i||², softmax along the attribute (channel) axis.

    The squared norm is taken per pixel over the K channels and averaged over pixels and crops, so
    the value does not grow with the map size. The paper normalises G_i only; comparing a per-pixel
    distribution with raw, unbounded CAM values would pull the crop CAMs towards [0, 1] against
    L_cr, so by default S_i is softmax-normalised too (`crop_map_normalisation`), and S_i is the
    target (`detach`): the paper transfers Model-Cropped's knowledge *to* Model-Image.
    """
    target = crop_maps.detach() if detach else crop_maps
    if normalise_crop_maps:
        target = torch.softmax(target, dim=1)
    difference = torch.softmax(global_crops, dim=1) - target
    return difference.pow(2).sum(dim=1).mean()


def known_label_bce(logits: torch.Tensor, labels: torch.Tensor, known: torch.Tensor | None = None) -> torch.Tensor:
    """Mean binary cross-entropy with logits over the annotated labels only.

    `known` (same shape, 1 = annotated) comes from partly labelled sources; without it, or when every
    label is annotated, this is exactly `F.binary_cross_entropy_with_logits(logits, labels)`.
    """
    if known is None:
        return F.binary_cross_entropy_with_logits(logits, labels)
    per_label = F.binary_cross_entropy_with_logits(logits, labels, reduction="none")
    return (per_label * known).sum() / known.sum().clamp(min=1.0)


def cropped_loss(crop_class_scores: torch.Tensor, labels: torch.Tensor, n_crops: int, known: torch.Tensor | None = None) -> torch.Tensor:
    """Eq. 3: multi-label soft-margin loss on the pooled crop maps, every crop carrying its image's labels.

    (−1/NC) Σ_i Σ_c [y log σ(f) + (1 − y) log(1 − σ(f))] is exactly the mean binary cross-entropy with logits.
    """
    crop_known = None if known is None else known.repeat_interleave(n_crops, dim=0)
    return known_label_bce(crop_class_scores, labels.repeat_interleave(n_crops, dim=0), crop_known)


def privacy_loss(predicted: torch.Tensor, target: torch.Tensor, upper: torch.Tensor | None = None) -> torch.Tensor:
    """Eq. 4: (1/N) Σ_i MSE(f(V), y_i), i over the user profiles whose preferences give the targets.

    With partly labelled images the true score is only known to lie in [target, upper] (max pooling:
    an unannotated face may raise it, nothing can lower it); the squared distance to that interval
    is the loss, which is eq. 4 exactly when upper == target.
    """
    if upper is None:
        return F.mse_loss(predicted, target)
    below = (target - predicted).clamp(min=0.0)
    above = (predicted - upper).clamp(min=0.0)
    return (below.pow(2) + above.pow(2)).mean()


def attribute_loss(attribute_logits: torch.Tensor, labels: torch.Tensor, known: torch.Tensor | None = None) -> torch.Tensor:
    """Eq. 5: per-attribute binary cross-entropy.

    The paper calls q "the softmax output"; a softmax across attributes cannot give independent
    per-attribute probabilities for multi-label images, and eq. 5's form is the per-attribute
    binary cross-entropy, so q = sigmoid(logit) here.
    """
    return known_label_bce(attribute_logits, labels, known)


def cam_image_loss(class_scores: torch.Tensor, labels: torch.Tensor, known: torch.Tensor | None = None) -> torch.Tensor:
    """The "Attention (Image)" task of Table 4: multi-label soft margin on Model-Image's pooled maps."""
    return known_label_bce(class_scores, labels, known)


@dataclass
class LossTerms:
    total: torch.Tensor
    parts: dict[str, torch.Tensor]


def total_loss(
    output: TrainingOutput,
    labels: torch.Tensor,
    privacy_targets: torch.Tensor | None,
    weights: LossWeights,
    config: ModelConfig,
    label_known: torch.Tensor | None = None,
    privacy_upper: torch.Tensor | None = None,
) -> LossTerms:
    """Eq. 1: λ1 L_img + λ2 L_cr + λ3 L_priv + λ4 L_att (+ the Attention(Image) CAM term).

    `label_known` / `privacy_upper` describe partly labelled images (see `privobf.data.batching`).
    """
    parts: dict[str, torch.Tensor] = {}
    image = output.image
    parts["cam_image"] = cam_image_loss(image.class_scores, labels, label_known)
    if output.cropped is not None and output.global_crops is not None:
        parts["image"] = image_loss(
            output.global_crops,
            output.cropped.attention_maps,
            config.crop_map_normalisation == "softmax",
            config.detach_crop_maps,
        )
        parts["cropped"] = cropped_loss(output.cropped.class_scores, labels, config.n_crops, label_known)
    if image.privacy is not None and privacy_targets is not None:
        parts["privacy"] = privacy_loss(image.privacy, privacy_targets, privacy_upper)
    if image.attribute_logits is not None and config.attribute_head == "separate":
        parts["attribute"] = attribute_loss(image.attribute_logits, labels, label_known)
    elif image.attribute_logits is not None:
        # With the shared head the attribute task *is* the CAM classification: count it once.
        parts["attribute"] = parts.pop("cam_image")
    weight_of = {
        "image": weights.image,
        "cropped": weights.cropped,
        "privacy": weights.privacy,
        "attribute": weights.attribute,
        "cam_image": weights.cam_image,
    }
    total = sum(weight_of[name] * value for name, value in parts.items())
    return LossTerms(total, parts)
