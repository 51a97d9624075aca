"""Activation self-modulation (ASM) from seed 003 (§III-C): superpixel-consistent CAMs with reliable
activation selection, as a training-time loss next to the classification loss (eq. 10).

Pipeline for CAM features F [B, K, h, w] of an image batch [B, 3, S, S] with superpixels [B, S, S]
(`asm_loss`):

1. F is upsampled (bilinear) to the alignment size, half the superpixel resolution (seed: "we up-sample
   the CAM here to match the half resolution of the superpixel"): S/2 × S/2 (`ASMConfig.align_scale`).
2. A = ReLU(F) / max(F) per image and class (eq. 1; `normalize_cam`).
3. F̄ = F averaged over each superpixel (eq. 7; `superpixel_average`), the superpixel map being
   downsampled to the alignment size with nearest neighbour (so labels are never blended); then
   Ā = ReLU(F̄) / max(F̄) (eq. 1 again).
4. M = erode(A ≥ T_obj) with a square kernel of size r (eq. 9's region mask; `reliable_mask`), and the
   target is Ā_RS = max(Ā, A ⊙ M) (eq. 9; `reliable_activation_target`).
5. L_a = 1/(C' H' W') Σ_{c present} ‖A^c − Ā_RS^c‖² per image (eq. 8; `alignment_loss`), averaged over
   the images that have at least one present class. The target is detached by default (it is a
   self-produced pseudo target, as in self-modulation / self-training; `ASMConfig.detach_target`).

Erosion unit: the seed calls r the "erosion kernel size" (swept over {2, …, 12}, best 6–10, used 8).
It acts on the mask at the alignment resolution, which in the seed's IRN setting (512 crops) is
256 × 256. `erosion` is therefore a kernel side in pixels of a 256-pixel alignment map, and is scaled to
privobf's alignment size: r_eff = max(1, round(r · align_side / erosion_reference_size)); set
`erosion_reference_size=None` to use r literally in alignment-map pixels. Pixels outside the map count as
"inside the mask" (OpenCV's default erosion border), so an object touching the image border is not
eaten from that side.

Superpixels: the seed uses ICD's superpixels, i.e. Felzenszwalb–Huttenlocher graph segmentation
hierarchically merged with selective search until at most 64 remain. `superpixels` does the same with
scikit-image's `felzenszwalb` and a selective-search merge (colour-histogram + size + fill similarity of
adjacent regions; the texture term is left out), deterministic, labels 0..n-1 in raster order of first
appearance.
"""

from __future__ import annotations

import hashlib
import heapq
import json
import logging
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ..cachedir import NpzStore
from ..priors.cache import image_key

log = logging.getLogger(__name__)

SUPERPIXEL_ALGORITHM_VERSION = "fh-ss-1"
EPS = 1e-6


# --------------------------------------------------------------------------------------------- superpixels


@dataclass(frozen=True)
class SuperpixelParams:
    """Felzenszwalb parameters (selective-search defaults) and the merge target."""

    max_segments: int = 64
    scale: float = 100.0
    sigma: float = 0.8
    min_size: int = 20
    colour_bins: int = 25

    @property
    def version(self) -> str:
        """Changes whenever the parameters or the algorithm change (part of the cache key)."""
        text = json.dumps({"algorithm": SUPERPIXEL_ALGORITHM_VERSION, **asdict(self)}, sort_keys=True)
        return f"{SUPERPIXEL_ALGORITHM_VERSION}-{hashlib.sha256(text.encode()).hexdigest()[:16]}"


def _relabel_raster(labels: np.ndarray) -> np.ndarray:
    """Labels 0..n-1 in raster order of first appearance (deterministic, contiguous)."""
    flat = labels.ravel()
    _, first, inverse = np.unique(flat, return_index=True, return_inverse=True)
    rank = np.empty(first.size, np.int64)
    rank[np.argsort(first, kind="stable")] = np.arange(first.size)
    return rank[inverse.ravel()].reshape(labels.shape).astype(np.int32)


def _adjacent_pairs(labels: np.ndarray) -> np.ndarray:
    pairs = [np.stack([labels[:, :-1].ravel(), labels[:, 1:].ravel()], 1),
             np.stack([labels[:-1, :].ravel(), labels[1:, :].ravel()], 1)]
    pairs = np.concatenate(pairs)
    pairs = pairs[pairs[:, 0] != pairs[:, 1]]
    pairs = np.sort(pairs, axis=1)
    return np.unique(pairs, axis=0)


def _merge_regions(image: np.ndarray, labels: np.ndarray, params: SuperpixelParams) -> np.ndarray:
    """Selective-search hierarchical grouping of adjacent regions until ≤ max_segments remain.

    Similarity s(i, j) = colour histogram intersection (per-channel `colour_bins`-bin histograms,
    L1-normalised) + size term 1 − (|i| + |j|) / |image| + fill term 1 − (|bbox(i ∪ j)| − |i| − |j|) / |image|.
    The most similar adjacent pair is merged first (ties: smaller region ids first), the merged region's
    histogram being the size-weighted mean, exactly as in selective search."""
    n = int(labels.max()) + 1
    if n <= params.max_segments:
        return labels
    height, width = labels.shape
    total = float(height * width)
    flat = labels.ravel()
    sizes = np.bincount(flat, minlength=n).astype(np.float64)
    bins = params.colour_bins
    quantised = np.minimum((image.reshape(-1, 3).astype(np.int64) * bins) // 256, bins - 1)
    hists = np.zeros((n, 3 * bins), np.float64)
    for channel in range(3):
        index = flat * (3 * bins) + channel * bins + quantised[:, channel]
        hists += np.bincount(index, minlength=n * 3 * bins).reshape(n, 3 * bins)
    hists /= np.maximum(hists.sum(1, keepdims=True), 1.0)
    rows, cols = np.divmod(np.arange(flat.size), width)
    boxes = np.stack([np.full(n, height), np.full(n, width), np.full(n, -1), np.full(n, -1)], 1).astype(np.int64)
    np.minimum.at(boxes[:, 0], flat, rows)
    np.minimum.at(boxes[:, 1], flat, cols)
    np.maximum.at(boxes[:, 2], flat, rows)
    np.maximum.at(boxes[:, 3], flat, cols)

    neighbours: dict[int, set[int]] = {i: set() for i in range(n)}
    for a, b in _adjacent_pairs(labels):
        neighbours[int(a)].add(int(b))
        neighbours[int(b)].add(int(a))

    def similarity(i: int, j: int) -> float:
        colour = float(np.minimum(hists[i], hists[j]).sum())
        size = 1.0 - (sizes[i] + sizes[j]) / total
        y0, x0 = min(boxes[i, 0], boxes[j, 0]), min(boxes[i, 1], boxes[j, 1])
        y1, x1 = max(boxes[i, 2], boxes[j, 2]), max(boxes[i, 3], boxes[j, 3])
        fill = 1.0 - ((y1 - y0 + 1) * (x1 - x0 + 1) - sizes[i] - sizes[j]) / total
        return colour + size + fill

    heap = [(-similarity(i, j), i, j) for i in range(n) for j in sorted(neighbours[i]) if i < j]
    heapq.heapify(heap)
    alive = np.ones(n, bool)
    parent = np.arange(n)
    count = n
    while count > params.max_segments and heap:
        _, i, j = heapq.heappop(heap)
        if not (alive[i] and alive[j]) or j not in neighbours[i]:
            continue  # stale entry
        # merge j into i (i < j, so the survivor is deterministic)
        hists[i] = (hists[i] * sizes[i] + hists[j] * sizes[j]) / (sizes[i] + sizes[j])
        sizes[i] += sizes[j]
        boxes[i, :2] = np.minimum(boxes[i, :2], boxes[j, :2])
        boxes[i, 2:] = np.maximum(boxes[i, 2:], boxes[j, 2:])
        alive[j] = False
        parent[j] = i
        count -= 1
        for k in neighbours.pop(j):
            neighbours[k].discard(j)
            if k != i:
                neighbours[k].add(i)
                neighbours[i].add(k)
        neighbours[i].discard(j)
        neighbours[i].discard(i)
        for k in sorted(neighbours[i]):
            a, b = (i, k) if i < k else (k, i)
            heapq.heappush(heap, (-similarity(a, b), a, b))
    # resolve merge chains to the surviving root
    for index in range(n):
        root = index
        while parent[root] != root:
            root = parent[root]
        parent[index] = root
    return parent[labels]


def superpixels(image_uint8: np.ndarray, max_segments: int = 64, params: SuperpixelParams | None = None) -> np.ndarray:
    """int32 superpixel labels [H, W], values 0..n-1 (n ≤ max_segments), deterministic.

    `image_uint8` is [H, W, 3] uint8 (a float image in [0, 1] is accepted and quantised)."""
    from skimage.segmentation import felzenszwalb

    if params is None:
        params = SuperpixelParams(max_segments=max_segments)
    image = np.asarray(image_uint8)
    if image.dtype != np.uint8:
        image = np.clip(np.rint(image.astype(np.float64) * 255.0), 0, 255).astype(np.uint8)
    if image.ndim == 2:
        image = np.repeat(image[:, :, None], 3, axis=2)
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"expected an [H, W, 3] image, got {image.shape}")
    labels = felzenszwalb(image, scale=params.scale, sigma=params.sigma, min_size=params.min_size)
    labels = _relabel_raster(labels.astype(np.int64))
    labels = _merge_regions(image, labels.astype(np.int64), params)
    return _relabel_raster(labels.astype(np.int64))


class SuperpixelCache(NpzStore):
    """Superpixel maps keyed by image content + parameters version:
    `<folder>/superpixels/<version>/<key[:2]>/<key>.npz` with key = `privobf.priors.cache.image_key`.

    An entry that cannot be read back whole (truncated, corrupt, wrong shape, non-contiguous labels) is
    deleted and recomputed, never trusted."""

    def __init__(self, folder: str | Path, params: SuperpixelParams | None = None):
        super().__init__("superpixel")
        self.folder = Path(folder)
        self.params = params or SuperpixelParams()

    def path(self, key: str) -> Path:
        return self.folder / "superpixels" / self.params.version / key[:2] / f"{key}.npz"

    def get(self, image: np.ndarray) -> np.ndarray | None:
        def decode(stored) -> np.ndarray:
            labels = stored["labels"]
            if labels.shape != tuple(image.shape[:2]) or labels.dtype.kind not in "iu":
                raise ValueError(f"labels {labels.dtype} {labels.shape}, expected integers {image.shape[:2]}")
            count = int(labels.max()) + 1 if labels.size else 0
            if labels.size and (labels.min() < 0 or count > self.params.max_segments
                                or np.unique(labels).size != count):
                raise ValueError("labels not contiguous 0..n-1 within max_segments")
            return labels.astype(np.int32)

        return self.read(self.path(image_key(image)), decode)

    def put(self, image: np.ndarray, labels: np.ndarray) -> np.ndarray:
        labels = np.asarray(labels, np.int32)
        small = labels.astype(np.uint8) if labels.size and labels.max() < 256 else labels
        self.write(self.path(image_key(image)), labels=small)
        return labels

    def get_or_compute(self, image: np.ndarray) -> np.ndarray:
        labels = self.get(image)
        if labels is None:
            labels = self.put(image, superpixels(image, params=self.params))
        return labels


def batch_superpixels(images: torch.Tensor, cache: SuperpixelCache | None = None,
                      params: SuperpixelParams | None = None) -> torch.Tensor:
    """Superpixels [B, S, S] long for a float batch [B, 3, S, S] in [0, 1] (cached when `cache` is given)."""
    arrays = (images.detach().clamp(0, 1) * 255.0).round().to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()
    out = []
    for array in arrays:
        array = np.ascontiguousarray(array)
        out.append(cache.get_or_compute(array) if cache is not None else superpixels(array, params=params))
    return torch.from_numpy(np.stack(out).astype(np.int64)).to(images.device)


# ------------------------------------------------------------------------------------------------ ASM maths


def resize_segments(segments: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Nearest-neighbour resize of label maps [B, H, W] (labels are never blended)."""
    if tuple(segments.shape[-2:]) == tuple(size):
        return segments.long()
    return F.interpolate(segments[:, None].float(), size=size, mode="nearest")[:, 0].long()


def superpixel_average(maps: torch.Tensor, segments: torch.Tensor) -> torch.Tensor:
    """Each map replaced by its mean over each superpixel (eq. 7): [B, C, h, w] -> [B, C, h, w].

    The averaging happens at the maps' resolution: `segments` [B, H, W] are resized to (h, w) with
    nearest neighbour when the sizes differ (callers wanting a finer average upsample the maps first, as
    `asm_loss` does). Vectorised with scatter_add; differentiable with respect to `maps`."""
    batch, channels, height, width = maps.shape
    segs = resize_segments(segments.to(maps.device), (height, width)).reshape(batch, 1, height * width)
    count = int(segs.max().item()) + 1 if segs.numel() else 1
    flat = maps.reshape(batch, channels, height * width)
    index = segs.expand(batch, channels, height * width)
    sums = flat.new_zeros(batch, channels, count).scatter_add(2, index, flat)
    sizes = flat.new_zeros(batch, 1, count).scatter_add(2, segs, torch.ones_like(segs, dtype=flat.dtype))
    means = sums / sizes.clamp(min=1.0)
    return means.gather(2, index).reshape(batch, channels, height, width)


def normalize_cam(features: torch.Tensor) -> torch.Tensor:
    """Eq. 1: A^c = ReLU(F^c) / max(F^c) per image and class (eps-guarded: an all-negative map gives 0)."""
    positive = F.relu(features)
    peak = positive.amax(dim=(-2, -1), keepdim=True)
    return positive / (peak + EPS)


def present_classes(labels: torch.Tensor, known: torch.Tensor | None = None) -> torch.Tensor:
    """Bool [B, K]: classes that exist in the image (label > 0.5, and annotated when `known` is given)."""
    present = labels > 0.5
    if known is not None:
        present = present & known.bool()
    return present


def erosion_kernel(erosion: int, align_side: int, reference: float | None) -> int:
    if reference is None:
        return max(1, int(erosion))
    return max(1, int(round(erosion * align_side / reference)))


def erode(mask: torch.Tensor, kernel: int) -> torch.Tensor:
    """Binary erosion of [B, K, h, w] masks with a square kernel × kernel (anchor at kernel // 2, as
    OpenCV); outside the map counts as inside the mask."""
    if kernel <= 1:
        return mask.bool()
    holes = (~mask.bool()).float()
    before, after = kernel // 2, kernel - 1 - kernel // 2
    holes = F.pad(holes, (before, after, before, after), value=0.0)
    return F.max_pool2d(holes, kernel_size=kernel, stride=1) < 0.5


def reliable_mask(cam: torch.Tensor, t_obj: float = 0.3, kernel: int = 8) -> torch.Tensor:
    """M^c = erode(A^c ≥ T_obj) for normalised CAMs A [B, K, h, w]; bool."""
    return erode(cam >= t_obj, kernel)


@dataclass
class ASMTarget:
    target: torch.Tensor  # Ā_RS [B, K, h, w] (eq. 9), zero on absent classes
    loss_mask: torch.Tensor  # bool [B, K, h, w]: where eq. 8 applies (every pixel of present classes)
    reliable: torch.Tensor  # bool [B, K, h, w]: M^c, the eroded high-activation mask (present classes only)
    averaged: torch.Tensor  # Ā [B, K, h, w]: the superpixel-consistent CAM before selection


def reliable_activation_target(cams: torch.Tensor, labels: torch.Tensor, segments: torch.Tensor,
                               t_obj: float = 0.3, erosion: int = 8, erosion_reference_size: float | None = None,
                               known: torch.Tensor | None = None) -> ASMTarget:
    """Eq. 7 + 9 for raw CAM features `cams` [B, K, h, w] already at the alignment resolution.

    A = normalize_cam(cams); Ā = normalize_cam(superpixel_average(cams, segments));
    M = erode(A ≥ t_obj, r_eff) for present classes; target = max(Ā, A ⊙ M), zeroed on absent classes.
    `erosion` is the kernel side r; with `erosion_reference_size` set it is in pixels of a map of that side
    and rescaled to h (see module docstring), otherwise in pixels of `cams`."""
    cam = normalize_cam(cams)
    averaged = normalize_cam(superpixel_average(cams, segments))
    kernel = erosion_kernel(erosion, cams.shape[-2], erosion_reference_size)
    present = present_classes(labels, known)[:, :, None, None].to(cams.device)
    reliable = reliable_mask(cam, t_obj, kernel) & present
    target = torch.maximum(averaged, cam * reliable) * present
    loss_mask = present.expand_as(cam)
    return ASMTarget(target, loss_mask, reliable, averaged)


def alignment_loss(cam: torch.Tensor, target: torch.Tensor, loss_mask: torch.Tensor) -> torch.Tensor:
    """Eq. 8: L_a = 1/(C' H' W') Σ_{c ∈ present} ‖A^c − Ā^c‖² per image, mean over images with C' > 0.

    `cam` are normalised CAMs A [B, K, H', W'], `target` Ā_RS, `loss_mask` bool [B, K, H', W'] marking the
    present classes (all pixels of a present class). Gradient reaches `cam` only where the mask is set."""
    mask = loss_mask.to(cam.dtype)
    squared = (cam - target) ** 2 * mask
    height, width = cam.shape[-2:]
    present = loss_mask.flatten(2).any(dim=2).sum(dim=1).to(cam.dtype)  # C' per image
    per_image = squared.flatten(1).sum(dim=1) / (present.clamp(min=1.0) * height * width)
    with_classes = present > 0
    if not bool(with_classes.any()):
        return cam.sum() * 0.0
    return per_image[with_classes].mean()


@dataclass
class ASMConfig:
    """ASM settings (seed 003 defaults). Total loss (eq. 10): L = L_cls + β_p L_p + β_a L_a."""

    t_obj: float = 0.3
    erosion: int = 8  # kernel side r, in pixels of an `erosion_reference_size` alignment map
    erosion_reference_size: float | None = 256.0  # seed: 512 crops, alignment at half → 256
    align_scale: float = 0.5  # alignment at half the superpixel (image) resolution
    beta_a: float = 1.0
    beta_p: float = 1.0  # weight of the CAM-driven reconstruction (perceptual) term, when present
    detach_target: bool = True
    max_segments: int = 64


def asm_loss(features: torch.Tensor, labels: torch.Tensor, segments: torch.Tensor,
             config: ASMConfig | None = None, known: torch.Tensor | None = None) -> tuple[torch.Tensor, ASMTarget]:
    """L_a (unweighted) for raw CAM features [B, K, h, w] and superpixels [B, H, W] (image resolution).

    Returns (loss, target); multiply by `config.beta_a` (or use `total_loss`) for eq. 10."""
    config = config or ASMConfig()
    height, width = segments.shape[-2:]
    size = (max(1, int(round(height * config.align_scale))), max(1, int(round(width * config.align_scale))))
    upsampled = features if tuple(features.shape[-2:]) == size else F.interpolate(
        features, size=size, mode="bilinear", align_corners=False)
    source = upsampled.detach() if config.detach_target else upsampled
    result = reliable_activation_target(source, labels, segments, config.t_obj, config.erosion,
                                        config.erosion_reference_size, known)
    loss = alignment_loss(normalize_cam(upsampled), result.target, result.loss_mask)
    return loss, result


def total_loss(l_cls: torch.Tensor, l_a: torch.Tensor, config: ASMConfig | None = None,
               l_p: torch.Tensor | None = None) -> torch.Tensor:
    """Eq. 10: L_cls + β_p L_p + β_a L_a (the L_p term only when given)."""
    config = config or ASMConfig()
    total = l_cls + config.beta_a * l_a
    if l_p is not None:
        total = total + config.beta_p * l_p
    return total
