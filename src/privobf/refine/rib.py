"""RIB (dissertation §3.4, wsss-methods.md §9): reducing the information bottleneck per photo.

A classifier trained with sigmoid BCE stops passing non-discriminative information once its
logits saturate. RIB fine-tunes a copy of it for a few steps on each photo with a loss that does not
saturate (-Σ t_c min(m, y_c)), pooling with GNDRP (only locations whose CAM is still weak count), and
sums the CAMs of every iterate θ₀ .. θ_{K-1}. Auxiliary training images in the batch stop the copy from
over-fitting the one photo. Every photo starts again from θ₀; the caller's model is never touched.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..data.batching import image_to_tensor
from .attribution import AttributionConfig, Priors, SeedContext, accumulate, register_seed_method, scale_inputs
from .cam_model import CamModel
from .localisation import Localisation

SAFE_LABEL = "a0_safe"
EXCLUDED_LOSS_SCALE = 0.5  # [C]: the photo's 0.5-scale views give a CAM but no loss


@dataclass
class RibConfig:
    """RIB's options; defaults are the dissertation's [D §3.4.4] unless marked [C] (official code)."""

    steps: int = 10  # K [D]: CAMs of θ₀ .. θ_{K-1} are summed (each taken before its update, as in [C])
    learning_rate: float = 8e-6  # λ [D]
    classifier_lr_factor: float = 10.0  # [C]
    batch_size: int = 20  # B [D]: the photo plus B - 1 auxiliary training images
    # m [D]: the loss is -Σ t_c min(m, y_c); we also stop early, as [C]'s stop_th does, once
    # |Σ target logits over the photo's views| exceeds m (the code has the stop but no min).
    margin: float = 600.0
    pooling_threshold: float = 0.4  # τ of GNDRP [D]
    weight_decay: float = 1e-4  # [C]
    poly_power: float = 0.9  # [C] poly schedule over the K steps
    auxiliary_size: int = 0  # side of the square auxiliary images; 0 = the model's image_size
    frozen_stages: int = 2  # [C]: stages 1-2 (and the stem) get no update
    # [C]-only stop (not in [D]): > explode_ratio of pixels with normalised CAM > explode_threshold
    explode_guard: bool = False
    explode_threshold: float = 0.3
    explode_ratio: float = 0.7

    def __post_init__(self) -> None:
        if self.steps < 1:
            raise ValueError("RIB needs at least one step (K = 1 is plain CAM)")
        if self.batch_size < 1:
            raise ValueError("batch_size counts the photo, so it is at least 1")


def gndrp(class_maps: torch.Tensor, targets: torch.Tensor, threshold: float) -> torch.Tensor:
    """Global non-discriminative region pooling: [B, C, h, w] -> logits [B, C].

    For a target class the mean of Z_c over U_τ, the locations whose detached max-normalised CAM is
    ≤ τ; absent classes use every location (plain GAP). We divide by |U_τ| as eq. (GNDRP) of [D]
    writes; the official code divides by |U| (mean of Z·mask), which only rescales the logit."""
    activations = F.relu(class_maps.detach())
    peak = activations.flatten(2).max(dim=2).values.clamp(min=1e-5)
    weak = activations / peak[:, :, None, None] <= threshold
    keep = torch.where(targets.bool()[:, :, None, None], weak, torch.ones_like(weak))
    keep = keep.to(class_maps.dtype)
    return (class_maps * keep).sum(dim=(2, 3)) / keep.sum(dim=(2, 3)).clamp(min=1.0)


def rib_loss(logits: torch.Tensor, targets: torch.Tensor, margin: float) -> torch.Tensor:
    """L_RIB = -Σ_rows Σ_c t_c · min(m, y_c) [D]: no sigmoid, so the gradient never saturates below m."""
    return -(targets * logits.clamp(max=margin)).sum()


class _DetachAfter(nn.Module):
    """A stage transform that cuts the gradient after a stage (keeping any transform already there),
    which is how [C] freezes stages 1-2: nothing before the cut receives a gradient."""

    def __init__(self, inner: Callable[[torch.Tensor], torch.Tensor] | None):
        super().__init__()
        self.inner = inner

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (self.inner(x) if self.inner is not None else x).detach()


class RibTuner:
    """A private copy of the model that fine-tunes per photo and is reset to θ₀ before each one."""

    def __init__(self, model: CamModel, config: RibConfig, dataset: Sequence[Any], seed: int = 0):
        if dataset is None:
            raise ValueError("RIB needs the training set (SeedContext.dataset) to draw its auxiliary images from")
        self.config = config
        self.dataset = dataset
        self.seed = int(seed)
        self.model = copy.deepcopy(model).eval()  # eval throughout: BatchNorm stays frozen [C]
        frozen_by_training = {id(p) for m in getattr(self.model.branch, "frozen_modules", []) for p in m.parameters(recurse=False)}
        for parameter in self.model.parameters():
            parameter.requires_grad_(id(parameter) not in frozen_by_training)
        self._cut_early_stages(config.frozen_stages)
        self.initial_state = {k: v.detach().clone() for k, v in self.model.state_dict().items()}
        self.auxiliary_size = config.auxiliary_size or self.model.image_size

    def _cut_early_stages(self, count: int) -> None:
        if count <= 0:
            return
        backbone = self.model.branch.backbone
        if count >= len(backbone.stage_channels):
            raise ValueError(f"frozen_stages={count} would freeze all {len(backbone.stage_channels)} backbone stages")
        index = count - 1
        backbone.set_stage_transform(index, _DetachAfter(backbone.stage_transforms().get(index)))

    def _parameter_groups(self) -> list[dict[str, Any]]:
        branch = self.model.branch
        classifier = [p for p in branch.classifier.parameters() if p.requires_grad]
        body = [p for m in (branch.backbone, branch.feature_refiner) for p in m.parameters() if p.requires_grad]
        lr = self.config.learning_rate
        return [
            {"params": body, "lr": lr, "initial_lr": lr},
            {"params": classifier, "lr": lr * self.config.classifier_lr_factor,
             "initial_lr": lr * self.config.classifier_lr_factor},
        ]

    def _auxiliary_batch(self, rng: np.random.Generator) -> tuple[torch.Tensor, torch.Tensor] | None:
        count = self.config.batch_size - 1
        if count <= 0 or len(self.dataset) == 0:
            return None
        chosen = rng.choice(len(self.dataset), size=count, replace=len(self.dataset) < count)
        images, targets = [], torch.zeros(count, len(self.model.attribute_ids))
        for row, index in enumerate(chosen):
            item = self.dataset[int(index)]
            images.append(image_to_tensor(item.image, self.auxiliary_size))
            known = [label for label in item.labels if label != SAFE_LABEL and label in self.model.attribute_ids]
            targets[row, self.model.class_indices(known)] = 1.0
        return torch.stack(images), targets

    def localise(
        self, pixels: np.ndarray, classes: Sequence[str], priors: Priors, attribution: AttributionConfig
    ) -> Localisation:
        """§9.4 for one photo: K iterates, the CAM of each taken before its SGD step, summed per scale."""
        config, model = self.config, self.model
        model.load_state_dict(self.initial_state)
        classes = list(classes)
        if not classes:
            return accumulate(model, pixels, classes, lambda *_: torch.zeros(0), attribution, priors)
        optimiser = torch.optim.SGD(self._parameter_groups(), lr=config.learning_rate, weight_decay=config.weight_decay)
        indices = model.class_indices(classes)
        views = [scale_inputs(model, pixels, priors, scale, attribution.flip) for scale in attribution.scales]
        trained = [scale != EXCLUDED_LOSS_SCALE for scale in attribution.scales]
        unit_scale = attribution.scales.index(1.0) if 1.0 in attribution.scales else 0
        photo_targets = torch.zeros(len(model.attribute_ids))
        photo_targets[indices] = 1.0
        sums = [torch.zeros(0)] * len(views)
        rng = np.random.default_rng(self.seed)
        target_logit_sums: list[float] = []
        iterates = 0

        for step in range(config.steps):
            last = step == config.steps - 1
            logits, targets, cams = [], [], []
            for (images, prior), in_loss in zip(views, trained):
                with torch.set_grad_enabled(in_loss and not last):
                    class_maps = model(images, prior)
                cams.append(F.relu(class_maps.detach())[:, indices])
                if in_loss and not last:
                    logits.append(gndrp(class_maps, photo_targets.expand(len(images), -1), config.pooling_threshold))
                    targets.append(photo_targets.expand(len(images), -1))
            if step > 0 and config.explode_guard and self._exploded(cams[unit_scale]):
                break
            sums = [cam if step == 0 else total + cam for total, cam in zip(sums, cams)]
            iterates += 1
            if last or not logits:
                break
            photo_logit_sum = float((torch.cat(logits) * torch.cat(targets)).sum().detach())
            target_logit_sums.append(photo_logit_sum)
            if abs(photo_logit_sum) > config.margin:
                break  # [C] stops here too (after an update whose CAM it never takes)
            auxiliary = self._auxiliary_batch(rng)
            if auxiliary is not None:
                aux_maps = model(auxiliary[0])
                logits.append(gndrp(aux_maps, auxiliary[1], config.pooling_threshold))
                targets.append(auxiliary[1])
            for group in optimiser.param_groups:
                group["lr"] = group["initial_lr"] * (1 - step / config.steps) ** config.poly_power
            optimiser.zero_grad(set_to_none=True)
            rib_loss(torch.cat(logits), torch.cat(targets), config.margin).backward()
            optimiser.step()

        by_size = {tuple(images.shape[-2:]): total for (images, _), total in zip(views, sums)}
        result = accumulate(model, pixels, classes, lambda images, _p, _i: by_size[tuple(images.shape[-2:])],
                            attribution, priors)
        model.load_state_dict(self.initial_state)
        result.extra.update(rib_iterates=iterates, rib_target_logit_sums=target_logit_sums)
        return result

    def _exploded(self, cams: torch.Tensor) -> bool:
        """[C]'s extra stop on the scale-1 maps: too large a share of pixels above explode_threshold."""
        merged = cams[0] + cams[1].flip(-1) if cams.shape[0] == 2 else cams[0]
        peak = merged.flatten(1).max(dim=1).values.clamp(min=1e-5)
        covered = (merged / peak[:, None, None] > self.config.explode_threshold).any(dim=0)
        return float(covered.float().mean()) > self.config.explode_ratio


@register_seed_method("rib", RibConfig, "RIB per-photo fine-tuning that reduces the information bottleneck (dissertation §3.4)")
def rib(
    model: CamModel,
    pixels: np.ndarray,
    classes: Sequence[str],
    priors: Priors,
    config: RibConfig,
    attribution: AttributionConfig,
    context: SeedContext,
) -> Localisation:
    return RibTuner(model, config, context.dataset, context.seed).localise(pixels, classes, priors, attribution)
