"""AdvCAM (dissertation §3.3, wsss-methods.md §8): anti-adversarial climbing of the input image.

The image is pushed *towards* its class (gradient ascent on the class logit, all other logits
suppressed) so that non-discriminative object parts join the CAM; the CAMs of every iterate are summed.
A mask-restricted L1 term keeps the already strong regions from exploding. Every (class, scale)
restarts from the clean image, so one class's climb never leaks into another's.

The climb happens in the network's *normalised* input space ((x - mean) / std), the space the published
code climbs in: its step sizes (ξ = 0.008 raw, 0.08 max-normalised) and its clamp to [min X⁰, max X⁰]
only mean the same thing there. Our images are in [0, 1] and the backbone normalises internally, so we
keep the iterate normalised and map it back (x * std + mean) for each forward pass.
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

STEP_RULES = ("raw", "max_normalised")


@dataclass
class AdvCamConfig:
    """AdvCAM's options; defaults are the dissertation's [D §3.3.3] unless marked [C] (official code)."""

    steps: int = 27  # T [D]; the CAMs of x^0 .. x^{T-1} are summed, as in the code
    step_size: float = 0.008  # ξ [D]
    # "raw": x <- x + ξ ∇L (eq. 3.5, the default the issue asks for); "max_normalised": x <- x + ξ g / max|g| [C]
    step_rule: str = "raw"
    regularisation: float = 7.0  # λ [D] (code AD_coeff = 7)
    mask_threshold: float = 0.5  # τ [D] (code score_th = 0.5)
    steps_at_half_scale: int | None = None  # [C] uses 13 at scale 0.5; None = `steps` at every scale

    def __post_init__(self) -> None:
        if isinstance(self.steps_at_half_scale, str):  # from a CLI `--option steps_at_half_scale=13`
            text = self.steps_at_half_scale.strip().lower()
            self.steps_at_half_scale = None if text in ("", "none") else int(text)
        if self.step_rule not in STEP_RULES:
            raise ValueError(f"step_rule must be one of {STEP_RULES}, got {self.step_rule!r}")
        if self.steps < 1 or (self.steps_at_half_scale is not None and self.steps_at_half_scale < 1):
            raise ValueError("AdvCAM needs at least one step (T = 1 is plain CAM)")

    @classmethod
    def official_code(cls) -> "AdvCamConfig":
        """The official code's settings [C: AdvCAM/obtain_CAM_masking.py]: ξ = 0.08 on g / max|g|, 13 steps at 0.5."""
        return cls(step_size=0.08, step_rule="max_normalised", steps_at_half_scale=13)


@dataclass
class ClimbResult:
    """Per-scale climbing output, every tensor [rows_per_photo, len(classes), h', w'] (rows: image, mirror)."""

    cam_sum: torch.Tensor  # Σ_t CAM(x^t), t = 0 .. steps-1 (eq. 3.3 before the normalisation)
    cam_initial: torch.Tensor  # CAM(x^0)
    cam_last: torch.Tensor  # CAM(x^{steps-1})


def advcam_objective(
    class_maps: torch.Tensor,
    row_classes: torch.Tensor,
    cam_initial: torch.Tensor,
    config: AdvCamConfig,
) -> torch.Tensor:
    """Eq. 3.6 summed over rows: y_c - Σ_{k≠c} y_k - λ Σ M |CAM - CAM⁰| for each row's class c.

    class_maps: Z [R, C, h, w] (with grad); row_classes: [R] class index of each row; cam_initial:
    CAM⁰ [R, h, w]. Logits are GAP(ReLU(Z)) over *all* classes [D]; the mask M = 1(CAM/max CAM > τ)
    is recomputed from the current CAM and detached; the L1 term compares unnormalised CAMs [C]."""
    rows = torch.arange(class_maps.shape[0], device=class_maps.device)
    activations = F.relu(class_maps)
    cams = activations[rows, row_classes]  # [R, h, w]
    logits = activations.mean(dim=(2, 3))  # [R, C]
    target = logits[rows, row_classes]
    others = logits.sum(dim=1) - target
    detached = cams.detach()
    peak = detached.flatten(1).max(dim=1).values.clamp(min=1e-5)
    mask = (detached / peak[:, None, None] > config.mask_threshold).to(cams.dtype)
    penalty = (mask * (cams - cam_initial).abs()).flatten(1).sum(dim=1)
    return (target - others - config.regularisation * penalty).sum()


def ascent_step(
    images: torch.Tensor,
    gradient: torch.Tensor,
    bounds: tuple[float, float],
    rows_per_class: int,
    config: AdvCamConfig,
) -> torch.Tensor:
    """One climbing step in normalised input space, clamped to the clean pair's value range.

    With "max_normalised" the gradient is divided by its max |g| over each class's own rows (the
    image + mirror pair the code climbs together), so batching classes changes nothing."""
    if config.step_rule == "max_normalised":
        grouped = gradient.reshape(-1, rows_per_class * gradient[0].numel())
        peak = grouped.abs().max(dim=1).values.clamp(min=1e-12)
        gradient = (grouped / peak[:, None]).reshape(gradient.shape)
    return (images + config.step_size * gradient).clamp(bounds[0], bounds[1])


def climb(
    model: CamModel,
    images: torch.Tensor,
    priors: torch.Tensor | None,
    indices: Sequence[int],
    config: AdvCamConfig,
    steps: int | None = None,
) -> ClimbResult:
    """Climb every class of `indices` from the same clean input `images` [n, 3, h, w] in [0, 1].

    Classes are rows of one batch [len(indices) * n, 3, h, w] (class-major): in eval mode the rows
    are independent, so one backward pass yields every class's own gradient. The last iterate's
    update is skipped because its CAM would never be summed (the code computes and discards it)."""
    steps = config.steps if steps is None else steps
    indices = list(indices)
    n, classes = images.shape[0], len(indices)
    backbone = model.branch.backbone
    mean, std = backbone.pixel_mean.to(images.dtype), backbone.pixel_std.to(images.dtype)
    clean = ((images - mean) / std).repeat(classes, 1, 1, 1)
    bounds = (float(clean.min()), float(clean.max()))
    row_priors = priors.repeat(classes, 1, 1, 1) if priors is not None else None
    row_classes = torch.tensor(indices, dtype=torch.long).repeat_interleave(n)
    rows = torch.arange(clean.shape[0])

    current = clean
    cam_initial: torch.Tensor | None = None
    cam_sum: torch.Tensor | None = None
    cams = None
    for step in range(steps):
        current = current.detach().requires_grad_(True)
        with torch.enable_grad():
            class_maps = model(current * std + mean, row_priors)
            cams = F.relu(class_maps)[rows, row_classes]
            if cam_initial is None:
                cam_initial = cams.detach()
            cam_sum = cams.detach() if cam_sum is None else cam_sum + cams.detach()
            if step == steps - 1:
                break
            objective = advcam_objective(class_maps, row_classes, cam_initial, config)
            (gradient,) = torch.autograd.grad(objective, current)
        current = ascent_step(current.detach(), gradient, bounds, n, config)

    def per_photo(maps: torch.Tensor) -> torch.Tensor:  # [K * n, h, w] -> [n, K, h, w]
        return maps.reshape(classes, n, *maps.shape[-2:]).transpose(0, 1)

    return ClimbResult(per_photo(cam_sum), per_photo(cam_initial), per_photo(cams.detach()))


def advcam_per_scale(model: CamModel, pixels: np.ndarray, config: AdvCamConfig):
    """The `PerScale` of :func:`accumulate`: climbing at the scale the input size reveals."""
    half_scale_size = model.input_size(pixels.shape[0], pixels.shape[1], 0.5)

    def run(images: torch.Tensor, priors: torch.Tensor | None, indices: list[int]) -> torch.Tensor:
        steps = config.steps
        if config.steps_at_half_scale is not None and tuple(images.shape[-2:]) == tuple(half_scale_size):
            steps = config.steps_at_half_scale
        return climb(model, images, priors, indices, config, steps).cam_sum

    return run


def _frozen(model: CamModel) -> CamModel:
    """The model itself when it is already an eval-mode copy without parameter gradients, else one."""
    if not model.training and not any(p.requires_grad for p in model.parameters()):
        return model
    return model.frozen_copy()


@register_seed_method("advcam", AdvCamConfig, "AdvCAM anti-adversarial climbing (dissertation §3.3)")
def advcam(
    model: CamModel,
    pixels: np.ndarray,
    classes: Sequence[str],
    priors: Priors,
    config: AdvCamConfig,
    attribution: AttributionConfig,
    context: SeedContext,
) -> Localisation:
    frozen = _frozen(model)
    return accumulate(frozen, pixels, classes, advcam_per_scale(frozen, pixels, config), attribution, priors)
