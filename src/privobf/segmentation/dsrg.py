"""DSRG — Deep Seeded Region Growing [D §2.3.2, Eqs. 2.3–2.4; C: speedinghzl/DSRG pylayers.py].

DSRG trains the segmentation network from *incomplete* labels (seeds; everything else unlabelled)
and lets the seeds grow during training: at every iteration an unlabelled pixel joins a class's
region when it touches that region and the current network is confident it belongs to it. The loss
is a class-balanced cross-entropy on the (grown) seeds plus SEC's constrain-to-boundary term, a KL
divergence between the prediction and its dense-CRF refinement, which pulls the masks onto image
edges where no seed says anything.

Everything here works at the network's output resolution (41x41 for a 321 crop in the official
code), with label maps that use the project's exclusive convention: 0 background, k + 1 the
vocabulary class k, 255 unlabelled.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

IGNORE = 255
# [C: speedinghzl/DSRG train-s.prototxt {'th1': 0.99, 'th2': 0.85}]
BACKGROUND_THRESHOLD = 0.99
FOREGROUND_THRESHOLD = 0.85
# [C: pylayers.py ConstrainLossLayer: T.clip(probs_smooth / probs, 0.05, 20)]
CONSTRAIN_RATIO_RANGE = (0.05, 20.0)
# [C: pylayers.py min_prob] added to the softmax and renormalised, so log H stays finite.
MIN_PROBABILITY = 1e-4
# [C: pylayers.py CRFLayer: CRF(im, unary, scale_factor=12.0)]
DSRG_CRF_SCALE_FACTOR = 12.0

CrfFunction = Callable[[np.ndarray, np.ndarray], np.ndarray]


def stable_softmax(logits: Tensor) -> Tensor:
    """DSRG's softmax: probabilities + 1e-4, renormalised [C: SoftmaxLayer], so no class is exactly 0."""
    probabilities = torch.softmax(logits, dim=1) + MIN_PROBABILITY
    return probabilities / probabilities.sum(dim=1, keepdim=True)


def grow_seeds(
    seeds: Tensor,
    probabilities: Tensor,
    present: Tensor,
    bg_threshold: float = BACKGROUND_THRESHOLD,
    fg_threshold: float = FOREGROUND_THRESHOLD,
) -> Tensor:
    """Grow the seed regions into the unlabelled pixels the network is confident about.

    seeds: int64 [B, h, w], 0 background, k + 1 class k, 255 unlabelled. probabilities: softmax
    [B, K + 1, h, w]. present: bool [B, K + 1], the image-level classes (background is forced
    present). Returns the grown int64 [B, h, w]; labelled seeds never change.

    An unlabelled pixel u joins class c when (a) c is the argmax of u's probabilities over the
    *present* classes (the official code argmaxes over the image's classes only), (b) that
    probability exceeds c's threshold (0.99 background, 0.85 foreground), and (c) u is 8-connected
    to c's current region. The paper grows by a breadth-first search from the seeds. Because (a)
    and (b) fix for every pixel the single class it may join, independently of the order of visits,
    the BFS result is exactly "every candidate of class c that an 8-connected path of candidates of
    class c links to a seed of c"; repeating one 3x3 dilation of every region, restricted to its
    candidates, until nothing changes reaches the same fixed point. The loop runs at most as many
    times as the longest such path, a few dozen on a 41x41 grid.
    """
    if seeds.dim() != 3 or probabilities.dim() != 4 or seeds.shape[0] != probabilities.shape[0]:
        raise ValueError(f"seeds must be [B, h, w] and probabilities [B, C, h, w], got {tuple(seeds.shape)} and {tuple(probabilities.shape)}")
    if seeds.shape[1:] != probabilities.shape[2:]:
        raise ValueError(f"seeds {tuple(seeds.shape)} and probabilities {tuple(probabilities.shape)} differ in size")
    n_classes = probabilities.shape[1]
    present = present.to(dtype=torch.bool, device=probabilities.device).clone()
    if present.shape != (seeds.shape[0], n_classes):
        raise ValueError(f"present must be [B, {n_classes}], got {tuple(present.shape)}")
    present[:, 0] = True
    probabilities = probabilities.detach()
    masked = probabilities.masked_fill(~present[:, :, None, None], -1.0)
    best_probability, best_class = masked.max(dim=1)
    thresholds = torch.full((n_classes,), float(fg_threshold), device=probabilities.device)
    thresholds[0] = float(bg_threshold)
    grown = seeds.to(torch.int64).clone()
    candidate = (grown == IGNORE) & (best_probability > thresholds[best_class])
    if not candidate.any():
        return grown
    classes = torch.arange(n_classes, device=grown.device)[None, :, None, None]
    while True:
        regions = (grown[:, None] == classes).to(probabilities.dtype)
        touching = F.max_pool2d(regions, kernel_size=3, stride=1, padding=1) > 0
        joins = candidate & touching.gather(1, best_class[:, None]).squeeze(1)
        if not joins.any():
            return grown
        grown[joins] = best_class[joins]
        candidate &= ~joins


def balanced_seed_loss(log_probabilities: Tensor, grown: Tensor) -> Tensor:
    """Eq. 2.3: −mean log H over foreground seeds − mean log H over background seeds.

    Each term is normalised by its own seed count, so the usually much larger background does not
    drown the objects. Like the official SeedLossLayer3 the counts are per image (clamped to 1e-4,
    so an image without foreground seeds contributes 0 to that term) and the two terms are averaged
    over the batch. log_probabilities: [B, K + 1, h, w]; grown: int64 [B, h, w] with 255 unlabelled.
    """
    if log_probabilities.dim() != 4 or grown.shape != (log_probabilities.shape[0], *log_probabilities.shape[2:]):
        raise ValueError(f"expected log probabilities [B, C, h, w] and labels [B, h, w], got {tuple(log_probabilities.shape)} and {tuple(grown.shape)}")
    labelled = grown != IGNORE
    index = torch.where(labelled, grown, torch.zeros_like(grown)).to(torch.int64)
    picked = log_probabilities.gather(1, index[:, None]).squeeze(1)  # log H_{u, label(u)}
    background = (labelled & (grown == 0)).to(picked.dtype)
    foreground = (labelled & (grown > 0)).to(picked.dtype)
    background_term = (picked * background).sum(dim=(1, 2)) / background.sum(dim=(1, 2)).clamp_min(MIN_PROBABILITY)
    foreground_term = (picked * foreground).sum(dim=(1, 2)) / foreground.sum(dim=(1, 2)).clamp_min(MIN_PROBABILITY)
    return -(background_term.mean() + foreground_term.mean())


def constrain_to_boundary_loss(probabilities: Tensor, crf_probabilities: Tensor) -> Tensor:
    """Eq. 2.4, SEC's constrain-to-boundary loss: KL(Q(H) || H) with Q the dense-CRF output.

    Follows the official ConstrainLossLayer: Σ_c Q log(clip(Q / H, 0.05, 20)), summed over the
    classes and *averaged* over pixels and the batch (not summed over seed pixels as Eq. 2.4 is
    printed). Q is a constant target here (the CRF is not differentiated through); the clip bounds
    each pixel's pull and, outside [0.05, 20], stops its gradient.
    """
    if probabilities.shape != crf_probabilities.shape:
        raise ValueError(f"H {tuple(probabilities.shape)} and Q {tuple(crf_probabilities.shape)} differ in shape")
    target = crf_probabilities.detach().to(probabilities.dtype)
    low, high = CONSTRAIN_RATIO_RANGE
    ratio = torch.clamp(target / probabilities, low, high)
    return (target * torch.log(ratio)).sum(dim=1).mean()


def default_crf(image: np.ndarray, probabilities: np.ndarray) -> np.ndarray:
    """Q(H): the project's dense CRF (`privobf.refine.crf.dense_crf`) with DSRG's settings.

    DSRG calls SEC's krahenbuhl2013 CRF on the 41x41 output with scale_factor 12 [C: pylayers.py
    CRFLayer], whose kernels are PSA's (Gaussian sxy 3 / compat 3, bilateral sxy 80 / srgb 13 /
    compat 10) with the spatial deviations divided by the scale factor: `CrfConfig.psa(12)`.
    Imported on first use, so the rest of this module works without the CRF module."""
    from ..refine.crf import CrfConfig, dense_crf

    return dense_crf(image, probabilities, CrfConfig.psa(scale_factor=DSRG_CRF_SCALE_FACTOR))


def crf_targets(images: Tensor, probabilities: Tensor, crf: CrfFunction) -> Tensor:
    """Q(H) for a batch: run `crf(image uint8 [h, w, 3], probabilities [C, h, w])` per image.

    images: float [B, 3, H, W] in [0, 1], shrunk to the output grid first (the official CRF layer
    zooms the image to 41x41 [C]). Returns float [B, C, h, w], clamped at 1e-4 and renormalised
    like the official layer so log(Q / H) stays finite.
    """
    size = probabilities.shape[2:]
    small = F.interpolate(images.detach().float(), size=size, mode="bilinear", align_corners=False, antialias=True)
    small = (small.clamp(0, 1) * 255).round().to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()
    detached = probabilities.detach().float().cpu().numpy()
    refined = []
    for image, probability in zip(small, detached):
        result = np.asarray(crf(np.ascontiguousarray(image), np.ascontiguousarray(probability)), dtype=np.float32)
        if result.shape != probability.shape:
            raise ValueError(f"the CRF returned shape {result.shape} for probabilities {probability.shape}")
        refined.append(result)
    target = torch.from_numpy(np.stack(refined)).to(probabilities.device).clamp_min(MIN_PROBABILITY)
    return target / target.sum(dim=1, keepdim=True)
