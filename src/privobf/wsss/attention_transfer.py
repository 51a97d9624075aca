"""Attention transfer (AT) from seed 002 (§III-B, §III-D): CAMs of a contrast/brightness-enhanced and a
decreased copy of each image, merged into a supervision CAM, with a similarity loss (eq. 5) and a
background-similarity loss (eq. 6); total L = L_cls + λ_s L_s + λ_bs L_bs (eq. 7), λ_s = λ_bs = 0.5.

Reading of the ambiguous points (see also the docstrings below):

* Eq. 2, g' = α g + β, on the 0–255 pixel scale, with (α, β) = (1.5, 300) "enhance contrast and
  brightness" and (0.8, 150) "decrease contrast and brightness". Read literally, β = 300 turns every pixel
  white (1.5 g + 300 > 255 for all g ≥ 0) and the "decreased" image would be *brighter* than the original
  (0.8 g + 150 ≥ g for g ≤ 750). Both contradict the text, so β is read as a brightness *slider* centred
  at 255 (the common `brightness ∈ [0, 510]`, neutral 255, convention): the offset is β − 255, i.e. +45
  for enhancement and −105 for decrease, which makes both transforms do what the paper says. On privobf's
  [0, 1] images: x' = clip(α x + (β − β_centre) / 255, 0, 1). `ATConfig.beta_centre = 0` gives the
  literal formula.
* Four cases of the merged CAM: "point x of M_e belongs to category C" is a pixel assignment, not the
  confidence itself (otherwise cases 2/3 would be vacuous). It is the usual CAM pseudo-label rule:
  x belongs to C when C is the most confident present class at x and its confidence reaches a background
  threshold (`membership="argmax"`, threshold 0.15 as in IRN's CAM evaluation; the seed gives none);
  `membership="threshold"` instead tests each class on its own (P ≥ threshold), for overlapping privacy
  attributes. Case 1 (both) → max(P_e, P_d); case 2 (exactly one, max > 0.5) → max; case 3 (exactly one,
  both ≤ 0.5) → 0; case 4 (neither) → 0. ("or" in cases 2/3 is exclusive: "both" is case 1.)
* Eq. 5 uses M_o against M_e and M_d (the text before it mentions M̂_o; the equation is followed).
  ‖·‖_1 is the L1 loss, i.e. a mean over elements (PyTorch `L1Loss`), as "We use L1 loss" says.
* Eq. 6 background maps: background pixels (no class belongs) get a reassigned background score
  1 − max_c P_c in an extra channel; at foreground pixels only the most recognisable (highest) class score
  is kept and the other classes are set to 0. The foreground/background split of each map uses that map.
* CAMs are normalised per image and class to [0, 1] (ReLU / max, as privobf's other CAM code) before the
  four-case rule, whose 0.5 threshold needs a [0, 1] scale. The merged CAM is a target and is detached.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

EPS = 1e-6

CASE_BOTH, CASE_ONE_CONFIDENT, CASE_ONE_WEAK, CASE_NEITHER = 1, 2, 3, 4


@dataclass
class ATConfig:
    alpha_e: float = 1.5
    beta_e: float = 300.0
    alpha_d: float = 0.8
    beta_d: float = 150.0
    beta_centre: float = 255.0  # β is a brightness slider with neutral 255; 0 → literal g' = α g + β
    pixel_scale: float = 255.0  # the paper's pixel scale
    lambda_s: float = 0.5
    lambda_bs: float = 0.5
    confidence: float = 0.5  # cases 2/3
    background_threshold: float = 0.15  # "belongs to category C" (not given by the seed)
    membership: str = "argmax"  # or "threshold"


def enhance(images: torch.Tensor, alpha: float, beta: float, beta_centre: float = 255.0,
            pixel_scale: float = 255.0) -> torch.Tensor:
    """Eq. 2 on [0, 1] images: x' = clip(α x + (β − β_centre) / pixel_scale, 0, 1)."""
    return (alpha * images + (beta - beta_centre) / pixel_scale).clamp(0.0, 1.0)


def enhanced(images: torch.Tensor, config: ATConfig | None = None) -> torch.Tensor:
    config = config or ATConfig()
    return enhance(images, config.alpha_e, config.beta_e, config.beta_centre, config.pixel_scale)


def decreased(images: torch.Tensor, config: ATConfig | None = None) -> torch.Tensor:
    config = config or ATConfig()
    return enhance(images, config.alpha_d, config.beta_d, config.beta_centre, config.pixel_scale)


def normalize_cam(cams: torch.Tensor) -> torch.Tensor:
    """ReLU / per-image, per-class spatial max → [0, 1] (eps-guarded)."""
    positive = F.relu(cams)
    return positive / (positive.amax(dim=(-2, -1), keepdim=True) + EPS)


def membership(cam: torch.Tensor, labels: torch.Tensor | None = None, threshold: float = 0.15,
               mode: str = "argmax") -> torch.Tensor:
    """Bool [B, K, h, w]: pixel x belongs to class c (see module docstring). Absent classes never belong."""
    present = torch.ones(cam.shape[:2], dtype=torch.bool, device=cam.device) if labels is None else labels > 0.5
    present = present[:, :, None, None]
    if mode == "threshold":
        return (cam >= threshold) & present
    if mode != "argmax":
        raise ValueError(f"membership must be 'argmax' or 'threshold', not {mode!r}")
    scores = torch.where(present, cam, torch.full_like(cam, -1.0))
    best = scores.max(dim=1, keepdim=True)
    one_hot = torch.zeros_like(cam, dtype=torch.bool).scatter(1, best.indices, True)
    return one_hot & (best.values >= threshold) & present


def merge_cases(cam_enhanced: torch.Tensor, cam_decreased: torch.Tensor, labels: torch.Tensor | None = None,
                config: ATConfig | None = None) -> torch.Tensor:
    """Case index 1–4 per pixel and class for normalised CAMs [B, K, h, w] (long)."""
    config = config or ATConfig()
    in_e = membership(cam_enhanced, labels, config.background_threshold, config.membership)
    in_d = membership(cam_decreased, labels, config.background_threshold, config.membership)
    confident = torch.maximum(cam_enhanced, cam_decreased) > config.confidence
    cases = torch.full(cam_enhanced.shape, CASE_NEITHER, dtype=torch.long, device=cam_enhanced.device)
    one = in_e ^ in_d
    cases[one & confident] = CASE_ONE_CONFIDENT
    cases[one & ~confident] = CASE_ONE_WEAK
    cases[in_e & in_d] = CASE_BOTH
    return cases


def merge_cams(cam_enhanced: torch.Tensor, cam_decreased: torch.Tensor, labels: torch.Tensor | None = None,
               config: ATConfig | None = None, normalize: bool = True) -> torch.Tensor:
    """M̂_o: max(P_e, P_d) in cases 1 and 2, 0 in cases 3 and 4 (detached target)."""
    with torch.no_grad():
        if normalize:
            cam_enhanced, cam_decreased = normalize_cam(cam_enhanced), normalize_cam(cam_decreased)
        cases = merge_cases(cam_enhanced, cam_decreased, labels, config)
        keep = (cases == CASE_BOTH) | (cases == CASE_ONE_CONFIDENT)
        return torch.maximum(cam_enhanced, cam_decreased) * keep


def similarity_loss(cam_original: torch.Tensor, cam_enhanced: torch.Tensor, cam_decreased: torch.Tensor) -> torch.Tensor:
    """Eq. 5: (‖M_o − M_d‖_1 + ‖M_o − M_e‖_1) / 2, each an element mean."""
    return 0.5 * (F.l1_loss(cam_original, cam_decreased) + F.l1_loss(cam_original, cam_enhanced))


def background_map(cam: torch.Tensor, labels: torch.Tensor | None = None, config: ATConfig | None = None) -> torch.Tensor:
    """[B, 1 + K, h, w]: channel 0 = 1 − max_c P_c on background pixels (0 on foreground); channels 1..K =
    at foreground pixels only the most recognisable class keeps its score, the rest are 0.
    The split is not differentiated; the kept scores are."""
    config = config or ATConfig()
    belongs = membership(cam, labels, config.background_threshold, config.membership)
    foreground = belongs.any(dim=1, keepdim=True)
    if labels is not None:
        cam = cam * (labels > 0.5)[:, :, None, None]
    top = cam.max(dim=1, keepdim=True)
    keep = torch.zeros_like(cam, dtype=torch.bool).scatter(1, top.indices, True) & foreground
    background = (1.0 - top.values) * (~foreground)
    return torch.cat([background, cam * keep], dim=1)


def background_similarity_loss(cam_original: torch.Tensor, cam_merged: torch.Tensor,
                               labels: torch.Tensor | None = None, config: ATConfig | None = None) -> torch.Tensor:
    """Eq. 6: ‖M_b − M̂_b‖_1 (element mean) between the background maps of M_o and M̂_o."""
    return F.l1_loss(background_map(cam_original, labels, config), background_map(cam_merged, labels, config))


def attention_transfer_losses(cam_original: torch.Tensor, cam_enhanced: torch.Tensor, cam_decreased: torch.Tensor,
                              labels: torch.Tensor | None = None, config: ATConfig | None = None) -> dict[str, torch.Tensor]:
    """Raw CAMs of the original, enhanced and decreased images → normalised, merged, L_s, L_bs and the
    weighted sum λ_s L_s + λ_bs L_bs (add L_cls for eq. 7)."""
    config = config or ATConfig()
    m_o, m_e, m_d = normalize_cam(cam_original), normalize_cam(cam_enhanced), normalize_cam(cam_decreased)
    merged = merge_cams(m_e, m_d, labels, config, normalize=False)
    l_s = similarity_loss(m_o, m_e, m_d)
    l_bs = background_similarity_loss(m_o, merged, labels, config)
    return {"merged": merged, "similarity": l_s, "background_similarity": l_bs,
            "total": config.lambda_s * l_s + config.lambda_bs * l_bs}
