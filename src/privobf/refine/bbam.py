"""BBAM: pixel masks from bounding boxes, through what a detector needs to see (dissertation [D] §5.3).

Face and plate detectors (and OpenALPR's annotations) give rectangles; obfuscating a whole rectangle
hides more than the private object. BBAM asks a box detector for the smallest part of the image it
needs to keep so that, on many jittered proposals of an annotated box, it still predicts the box's
class (f^cls) and regresses to the same box (f^box). That part, M*, is the Bounding Box Attribution
Map; thresholding it inside the box with an ignore band gives pseudo masks.

    Phi(I, M) = I o up(M) + mu o (1 - up(M))                          mu: the backbone's pixel mean
    M* = argmin_M  E_{o in O+}[ |t^c - f^box(Phi, o)|_1 + |p^c - f^cls(Phi, o)|_1 ] + lambda |M|_1   (5.3)

Choices (each also in the report): the L1 term is the plain sum over mask cells (|M|_1 of Eq. 5.1);
the code's per-term halving of the perturbation loss is kept; the adaptive stride uses the
detector's predicted box by default ([D]; "gt" gives the code's choice).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable, Mapping, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from .detector import Box, BoxDetector, box_iou, jitter_boxes

CrfFunction = Callable[[np.ndarray, np.ndarray], np.ndarray]
IGNORE = 255


@dataclass
class BbamConfig:
    """Published BBAM settings; [D] dissertation, [C] official code (tools/BBAM, make_annotation)."""

    sparsity: float = 0.007  # lambda of the L1 term [D]
    stride_base: float = 16.0  # s(a) = 16 + 48 sqrt(a) [D §5.4.1]
    stride_scale: float = 48.0
    stride_area: str = "predicted"  # "predicted": the detector's box [D]; "gt": the annotated box [C]
    lr: float = 0.02  # Adam [D]
    iterations: int = 300  # [D]
    jitter: float = 0.3  # each coordinate +-30% of the box width/height [D, C]
    proposal_samples: int = 1000  # jittered proposals per box [C]
    positive_ious: tuple[float, ...] = (0.9, 0.85, 0.8)  # tried in order until > max_positives [C]
    max_positives: int = 100  # [C]
    use_box_head: bool = True  # 1_box [D]
    use_cls_head: bool = True  # 1_cls [D]
    mask_init: str = "boxes"  # "boxes": 1 inside the regressed positive boxes, 0 elsewhere [C]; "ones"
    tv_weight: float = 0.0  # [D] has no TV term; the code uses 1e-4 [C]
    tv_beta: float = 3.0  # [C]
    fg_threshold: float = 0.8  # theta_fg [D] (the code's area-rank 0.85 [C])
    bg_threshold: float = 0.2  # theta_bg [D]
    crf: bool = True  # CRF on every attribution mask [D]
    fallback_box_prior: float = 0.7  # no positives: the box itself at this foreground prior [C]


def adaptive_stride(area_fraction: float, config: BbamConfig | None = None) -> float:
    """s(a) = 16 + 48 sqrt(a), a = box area / image area: large objects get a coarse mask, small
    ones a fine one, since a fixed stride leaves artefacts (Fig. 5.1(b))."""
    config = config or BbamConfig()
    return config.stride_base + config.stride_scale * math.sqrt(min(max(area_fraction, 0.0), 1.0))


def mask_grid_size(image_size: tuple[int, int], stride: float) -> tuple[int, int]:
    """The mask M lives on a ceil(h / s) x ceil(w / s) grid."""
    return max(1, math.ceil(image_size[0] / stride)), max(1, math.ceil(image_size[1] / stride))


def perturb(images: torch.Tensor, mask: torch.Tensor, pixel_mean: torch.Tensor) -> torch.Tensor:
    """Phi(I, M): keep the image where the upsampled mask is 1, fill with the training mean where it
    is 0 (the mean is zero after the backbone's normalisation, so deleted pixels carry no signal)."""
    upsampled = F.interpolate(mask, size=images.shape[-2:], mode="bilinear", align_corners=False)
    return images * upsampled + pixel_mean * (1 - upsampled)


def total_variation(mask: torch.Tensor, beta: float) -> torch.Tensor:
    """TV_beta of the code [C]: mean |vertical diff|^beta + mean |horizontal diff|^beta."""
    vertical = (mask[..., 1:, :] - mask[..., :-1, :]).abs().pow(beta)
    horizontal = (mask[..., :, 1:] - mask[..., :, :-1]).abs().pow(beta)
    zero = mask.sum() * 0
    return (vertical.mean() if vertical.numel() else zero) + (horizontal.mean() if horizontal.numel() else zero)


def perturbation_loss(
    probabilities: torch.Tensor,
    deltas: torch.Tensor,
    target_probabilities: torch.Tensor,
    target_deltas: torch.Tensor,
    config: BbamConfig,
) -> torch.Tensor:
    """Eq. 5.3 as the code computes it: per positive, mean |change of the class's 4 deltas| / 2 plus
    |change of its softmax probability| / 2, averaged over the positives."""
    per_proposal = torch.zeros_like(target_probabilities)
    if config.use_box_head:
        per_proposal = per_proposal + (deltas - target_deltas).abs().mean(dim=1) / 2
    if config.use_cls_head:
        per_proposal = per_proposal + (probabilities - target_probabilities).abs() / 2
    return per_proposal.mean()


@dataclass
class PositiveProposals:
    """The proposals BBAM explains: correct class, regressed close to the box (O+)."""

    proposals: torch.Tensor  # [N, 4] detector input pixels
    regressed: torch.Tensor  # [N, 4] f^box's boxes for the class
    probabilities: torch.Tensor  # [N] p^c on the clean image
    deltas: torch.Tensor  # [N, 4] t^c on the clean image
    iou_threshold: float


def positive_proposals(
    detector: BoxDetector, image: torch.Tensor, box: torch.Tensor, class_index: int, config: BbamConfig, generator: torch.Generator
) -> PositiveProposals | None:
    """Jitter the box, run both heads on the clean image, keep proposals whose predicted class is
    the box's and whose regressed box overlaps it above the first IoU threshold that yields more
    than max_positives (else the last threshold) [C]; None when there are none."""
    proposals = jitter_boxes(box, config.proposal_samples, config.jitter, generator, tuple(image.shape[-2:]))
    if len(proposals) == 0:
        return None
    with torch.no_grad():
        probabilities, deltas = detector.heads(image, [proposals])
    class_deltas = deltas[:, class_index]
    regressed = detector.decode_boxes(proposals, class_deltas)
    overlaps = box_iou(regressed, box[None].to(regressed))[:, 0]
    correct = probabilities.argmax(dim=1) == class_index + 1
    selected = torch.zeros_like(correct)
    used = config.positive_ious[-1]
    for threshold in config.positive_ious:
        selected = correct & (overlaps > threshold)
        used = threshold
        if int(selected.sum()) > config.max_positives:
            break
    rows = selected.nonzero(as_tuple=True)[0][: config.max_positives]
    if len(rows) == 0:
        return None
    return PositiveProposals(
        proposals[rows], regressed[rows], probabilities[rows, class_index + 1], class_deltas[rows], used
    )


def initial_mask(positives: PositiveProposals, image_size: tuple[int, int], grid: tuple[int, int], config: BbamConfig) -> torch.Tensor:
    """[1, 1, gh, gw]: the union of the regressed positive boxes, area-averaged onto the grid [C]
    (cells cut by a box edge start fractional), or all ones."""
    if config.mask_init == "ones":
        return torch.ones(1, 1, *grid)
    if config.mask_init != "boxes":
        raise ValueError(f"mask_init must be 'boxes' or 'ones', got {config.mask_init!r}")
    height, width = image_size
    centres_y = torch.arange(height, dtype=torch.float32) + 0.5
    centres_x = torch.arange(width, dtype=torch.float32) + 0.5
    union = torch.zeros(height, width)
    for x0, y0, x1, y1 in positives.regressed.tolist():
        rows = (centres_y >= y0) & (centres_y <= y1)
        cols = (centres_x >= x0) & (centres_x <= x1)
        union[rows[:, None] & cols[None, :]] = 1
    return F.interpolate(union[None, None], size=grid, mode="area")


@dataclass
class BbamResult:
    """M* upsampled to the photo, with what produced it."""

    attribution: np.ndarray  # float32 [H, W] in [0, 1]
    mask: np.ndarray  # float32 [gh, gw], M* on its own grid
    stride: float  # in detector input pixels
    positives: int
    iou_threshold: float
    losses: list[float] = field(default_factory=list)


def bbam_attribution(
    detector: BoxDetector,
    pixels: np.ndarray,
    box: Box,
    class_id: str | int,
    config: BbamConfig | None = None,
    generator: torch.Generator | None = None,
) -> BbamResult | None:
    """Optimise M for one annotated box (photo pixels) of class `class_id`; None without positives."""
    config = config or BbamConfig()
    generator = generator or torch.Generator().manual_seed(0)
    class_index = detector.class_index(class_id)
    detector.eval()
    image, scale = detector.prepare(pixels)
    working_size = tuple(image.shape[-2:])
    scaled_box = torch.tensor([float(v) * scale for v in box], dtype=torch.float32)
    positives = positive_proposals(detector, image, scaled_box, class_index, config, generator)
    if positives is None:
        return None

    if config.stride_area == "predicted":
        area_box = positives.regressed.mean(dim=0)
    elif config.stride_area == "gt":
        area_box = scaled_box
    else:
        raise ValueError(f"stride_area must be 'predicted' or 'gt', got {config.stride_area!r}")
    box_area = float((area_box[2] - area_box[0]).clamp(min=0) * (area_box[3] - area_box[1]).clamp(min=0))
    stride = adaptive_stride(box_area / (working_size[0] * working_size[1]), config)
    grid = mask_grid_size(working_size, stride)

    mask = initial_mask(positives, working_size, grid, config).to(image.device).requires_grad_(True)
    optimiser = torch.optim.Adam([mask], lr=config.lr)
    pixel_mean = detector.backbone.pixel_mean
    proposals = [positives.proposals.to(image.device)]
    losses: list[float] = []
    frozen = [p for p in detector.parameters() if p.requires_grad]
    for parameter in frozen:
        parameter.requires_grad_(False)
    try:
        for _ in range(config.iterations):
            probabilities, deltas = detector.heads(perturb(image, mask, pixel_mean), proposals)
            loss = perturbation_loss(
                probabilities[:, class_index + 1], deltas[:, class_index], positives.probabilities, positives.deltas, config
            )
            loss = loss + config.sparsity * mask.abs().sum()
            if config.tv_weight:
                loss = loss + config.tv_weight * total_variation(mask, config.tv_beta)
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
            with torch.no_grad():
                mask.clamp_(0, 1)
            losses.append(loss.item())
    finally:
        for parameter in frozen:
            parameter.requires_grad_(True)

    final = mask.detach()
    attribution = F.interpolate(final, size=pixels.shape[:2], mode="bilinear", align_corners=False)[0, 0]
    return BbamResult(
        attribution.clamp(0, 1).cpu().numpy().astype(np.float32),
        final[0, 0].cpu().numpy().astype(np.float32),
        stride,
        len(positives.proposals),
        positives.iou_threshold,
        losses,
    )


def bbam_map(
    detector: BoxDetector,
    pixels: np.ndarray,
    box: Box,
    class_id: str | int,
    config: BbamConfig | None = None,
    generator: torch.Generator | None = None,
) -> np.ndarray | None:
    """The BBAM of one box: float32 [H, W] in [0, 1], or None when the detector has no positive
    proposal for it (the caller then falls back to the box prior, see `fallback_box_prior`)."""
    result = bbam_attribution(detector, pixels, box, class_id, config, generator)
    return None if result is None else result.attribution


# --- from attribution maps to pseudo labels -------------------------------------------------------


@dataclass
class BoxMask:
    """One annotated box's ternary mask on the photo: 1 object, 0 background, 255 ignore."""

    class_id: str
    box: Box
    mask: np.ndarray  # uint8 [H, W]; 0 everywhere outside the box
    foreground: np.ndarray  # float32 [H, W], the (CRF-refined) foreground score that was thresholded


def box_region(box: Box, size: tuple[int, int]) -> np.ndarray:
    """bool [H, W]: pixels whose centres lie inside the box."""
    x0, y0, x1, y1 = box
    centres_y = np.arange(size[0]) + 0.5
    centres_x = np.arange(size[1]) + 0.5
    return ((centres_y >= y0) & (centres_y <= y1))[:, None] & ((centres_x >= x0) & (centres_x <= x1))[None, :]


def ternary(foreground: np.ndarray, region: np.ndarray, config: BbamConfig) -> np.ndarray:
    """>= theta_fg -> 1, < theta_bg -> 0, between -> 255 (ignore), inside `region`; 0 outside."""
    labels = np.zeros(foreground.shape, dtype=np.uint8)
    labels[region & (foreground >= config.bg_threshold)] = IGNORE
    labels[region & (foreground >= config.fg_threshold)] = 1
    return labels


def default_crf() -> CrfFunction:
    """The project's dense CRF with its BBAM preset, imported only when needed (an optional module)."""
    try:
        from . import crf as crf_module
    except ImportError as error:
        raise ImportError(
            "BBAM's CRF step needs privobf.refine.crf; pass crf=<callable> or set BbamConfig(crf=False)"
        ) from error
    return lambda image, probabilities: crf_module.dense_crf(image, probabilities, crf_module.BBAM)


def box_masks(
    pixels: np.ndarray,
    boxes: Mapping[str, Sequence[Box]],
    maps: Mapping[str, Sequence[np.ndarray | None]],
    config: BbamConfig | None = None,
    crf: CrfFunction | bool | None = None,
) -> list[BoxMask]:
    """Ternary mask per box. maps[c][i] is the BBAM of boxes[c][i] (photo size) or None, which
    means the code's fallback: the box itself as a foreground prior of `fallback_box_prior`, left to
    the CRF (without a CRF such a box is all ignore: nothing says where the object is). crf: a
    callable (image, probabilities [2, H, W]) -> [2, H, W]; None = the project's CRF when config.crf;
    False = no CRF."""
    config = config or BbamConfig()
    if crf is None:
        crf = default_crf() if config.crf else None
    elif crf is False:
        crf = None
    size = pixels.shape[:2]
    results = []
    for class_id, class_boxes in boxes.items():
        class_maps = list(maps.get(class_id, [None] * len(class_boxes)))
        if len(class_maps) != len(class_boxes):
            raise ValueError(f"{len(class_boxes)} boxes but {len(class_maps)} maps for class {class_id!r}")
        for box, attribution in zip(class_boxes, class_maps):
            region = box_region(box, size)
            if attribution is None:
                foreground = np.where(region, config.fallback_box_prior, 0.0).astype(np.float32)
            else:
                attribution = np.asarray(attribution, dtype=np.float32)
                if attribution.shape != size:
                    raise ValueError(f"map of shape {attribution.shape} for an image of {size}")
                foreground = np.where(region, np.clip(attribution, 0, 1), 0.0).astype(np.float32)
            if crf is not None:
                refined = np.asarray(crf(pixels, np.stack((1 - foreground, foreground))), dtype=np.float32)
                foreground = np.where(region, refined[1], 0.0).astype(np.float32)
            results.append(BoxMask(class_id, tuple(box), ternary(foreground, region, config), foreground))
    return results


def _contains(outer: Box, inner: Box) -> bool:
    return outer[0] <= inner[0] and outer[1] <= inner[1] and outer[2] >= inner[2] and outer[3] >= inner[3]


def _area(box: Box) -> float:
    return max(0.0, box[2] - box[0]) * max(0.0, box[3] - box[1])


def authority_regions(masks: Sequence[BoxMask], size: tuple[int, int]) -> list[np.ndarray]:
    """Where each box's mask decides: its rectangle minus every strictly smaller box inside it (the
    code lets a box fully inside another override that region [C]; nested chains work the same)."""
    regions = []
    for index, outer in enumerate(masks):
        region = box_region(outer.box, size)
        for other, inner in enumerate(masks):
            if other != index and _contains(outer.box, inner.box) and _area(inner.box) < _area(outer.box):
                region &= ~box_region(inner.box, size)
        regions.append(region)
    return regions


def bbam_pseudo_label(
    pixels: np.ndarray,
    boxes: Mapping[str, Sequence[Box]],
    maps: Mapping[str, Sequence[np.ndarray | None]],
    classes: Sequence[str],
    config: BbamConfig | None = None,
    crf: CrfFunction | bool | None = None,
) -> tuple[np.ndarray, list[BoxMask]]:
    """Semantic pseudo label: uint8 [H, W], 0 background, k + 1 = classes[k], 255 ignore.

    Outside every box is background. A pixel is ignored when two classes claim it as foreground, or
    one claims it and another class's ignore band covers it, or only ignore bands cover it [D]."""
    per_box = box_masks(pixels, boxes, maps, config, crf)
    size = pixels.shape[:2]
    classes = list(classes)
    unknown = sorted({m.class_id for m in per_box} - set(classes))
    if unknown:
        raise ValueError(f"boxes of {unknown} are not in the class list {classes}")
    foreground_claims = np.zeros((len(classes), *size), dtype=bool)
    uncertain_claims = np.zeros((len(classes), *size), dtype=bool)
    for box_mask, region in zip(per_box, authority_regions(per_box, size)):
        index = classes.index(box_mask.class_id)
        foreground_claims[index] |= region & (box_mask.mask == 1)
        uncertain_claims[index] |= region & (box_mask.mask == IGNORE)
    uncertain_claims &= ~foreground_claims
    any_claims = foreground_claims | uncertain_claims
    claimants = any_claims.sum(axis=0)
    labels = np.zeros(size, dtype=np.uint8)
    single_foreground = (foreground_claims.sum(axis=0) == 1) & (claimants == 1)
    labels[single_foreground] = foreground_claims.argmax(axis=0)[single_foreground].astype(np.uint8) + 1
    labels[(claimants >= 1) & ~single_foreground] = IGNORE
    return labels, per_box


def bbam_masks(
    pixels: np.ndarray,
    boxes: Mapping[str, Sequence[Box]],
    maps: Mapping[str, Sequence[np.ndarray | None]],
    config: BbamConfig | None = None,
    crf: CrfFunction | bool | None = None,
) -> dict[str, np.ndarray]:
    """Multi-label variant: {class_id: uint8 [H, W] 1 / 0 / 255} per class, overlaps allowed
    (privacy attributes overlap: a plate on a car, a face on a person). Foreground of any of the
    class's boxes wins over its ignore bands; outside the class's boxes is 0."""
    per_box = box_masks(pixels, boxes, maps, config, crf)
    size = pixels.shape[:2]
    result: dict[str, np.ndarray] = {}
    for class_id in boxes:
        mine = [m for m in per_box if m.class_id == class_id]
        foreground = np.zeros(size, dtype=bool)
        uncertain = np.zeros(size, dtype=bool)
        for box_mask in mine:
            foreground |= box_mask.mask == 1
            uncertain |= box_mask.mask == IGNORE
        labels = np.zeros(size, dtype=np.uint8)
        labels[uncertain] = IGNORE
        labels[foreground] = 1
        result[class_id] = labels
    return result


__all__ = [
    "BbamConfig",
    "BbamResult",
    "BoxMask",
    "PositiveProposals",
    "adaptive_stride",
    "authority_regions",
    "bbam_attribution",
    "bbam_map",
    "bbam_masks",
    "bbam_pseudo_label",
    "box_masks",
    "box_region",
    "mask_grid_size",
    "perturb",
    "perturbation_loss",
    "positive_proposals",
    "ternary",
    "total_variation",
]
