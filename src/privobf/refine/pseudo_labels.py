"""Pseudo labels from refined maps: confident foreground, confident background, an ignore band.

IRN's `cam_to_ir_label` (dissertation §6 step 2) is the rule: the argmax over [background plane;
maps] at a high plane gives confident foreground, at a low plane confident background, each cleaned
by a label-mode dense CRF; pixels that are foreground in neither are background only where the low
plane also says background, and ignored (255) otherwise. Both thresholds are fixed per method
(the official codes' values, never chosen on ground truth).

Two kinds: "exclusive" label maps [H, W] (0 background, k + 1 = class k of the image's classes;
VOC / COCO) and "multilabel" ternary stacks [K, H, W] of 0 / 1 / 255 for privacy attributes, whose
regions overlap (a face inside a person), where each class is its own foreground-vs-rest problem.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Literal

import numpy as np
import torch
import torch.nn.functional as F

from .localisation import Localisation

IGNORE = 255
# (foreground, background) planes of the official codes [C]: irn/run_sample.py, AdvCAM, RIB, w-ood run_sample.py.
THRESHOLD_PRESETS = {"irn": (0.30, 0.05), "advcam": (0.35, 0.15), "rib": (0.35, 0.17), "wood": (0.30, 0.15)}
LabelCrf = Callable[[np.ndarray, np.ndarray, int], np.ndarray]  # (image, labels [H, W], n_labels) -> labels


@dataclass
class PseudoLabelConfig:
    """foreground / background: the two planes (IRN's conf_fg_thres / conf_bg_thres); crf: clean each
    with a label-mode CRF (IRN does); kind: exclusive or multilabel; max_side: labels are made at the
    photo's size capped to this long side (IRN works at VOC's ~500 px; a 12 MP photo needs no more)."""

    foreground: float = 0.30
    background: float = 0.05
    crf: bool = True
    kind: Literal["exclusive", "multilabel"] = "exclusive"
    max_side: int = 512

    def __post_init__(self) -> None:
        if not 0.0 <= self.background <= self.foreground <= 1.0:
            raise ValueError(f"need 0 <= background ({self.background}) <= foreground ({self.foreground}) <= 1")
        if self.kind not in ("exclusive", "multilabel"):
            raise ValueError(f"kind must be exclusive or multilabel, got {self.kind!r}")

    @classmethod
    def preset(cls, name: str, **changes) -> "PseudoLabelConfig":
        if name not in THRESHOLD_PRESETS:
            raise ValueError(f"unknown threshold preset {name!r}; available: {', '.join(THRESHOLD_PRESETS)}")
        foreground, background = THRESHOLD_PRESETS[name]
        return cls(foreground=foreground, background=background, **changes)


def label_size(image_size: tuple[int, int], max_side: int) -> tuple[int, int]:
    height, width = image_size
    scale = min(1.0, max_side / max(height, width))
    return max(1, round(height * scale)), max(1, round(width * scale))


def resize_labels(labels: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Nearest-neighbour resize of [H, W] or [K, H, W] labels (never invents a label value)."""
    if labels.shape[-2:] == tuple(size):
        return labels
    tensor = torch.from_numpy(np.ascontiguousarray(labels.astype(np.int32)))
    batched = tensor[None, None] if labels.ndim == 2 else tensor[None]
    out = F.interpolate(batched.float(), size=tuple(size), mode="nearest")[0]
    return (out[0] if labels.ndim == 2 else out).to(torch.int32).numpy().astype(labels.dtype)


def confident_labels(
    pixels: np.ndarray, localisation: Localisation, config: PseudoLabelConfig, crf: LabelCrf | None = None
) -> np.ndarray:
    """uint8 pseudo labels at `label_size` of the photo: exclusive [H, W] or multilabel [K, H, W]."""
    size = label_size(localisation.image_size, config.max_side)
    if not localisation.classes:  # a photo without any class: all of it is confidently background
        shape = size if config.kind == "exclusive" else (0, *size)
        return np.zeros(shape, dtype=np.uint8)
    image = resize_image(pixels, size)
    if config.crf and crf is None:
        crf = default_label_crf()
    clean = crf if config.crf else (lambda _image, labels, _n: labels)
    if config.kind == "exclusive":
        foreground = clean(image, localisation.label_map(config.foreground, size), len(localisation.classes) + 1)
        background = clean(image, localisation.label_map(config.background, size), len(localisation.classes) + 1)
        labels = foreground.astype(np.uint8)
        labels[foreground == 0] = IGNORE
        labels[(foreground == 0) & (background == 0)] = 0
        return labels
    maps = localisation.upsampled(size)
    stack = np.full(maps.shape, IGNORE, dtype=np.uint8)
    for row, class_map in enumerate(maps):
        foreground = clean(image, (class_map >= config.foreground).astype(np.int64), 2)
        background = clean(image, (class_map >= config.background).astype(np.int64), 2)
        stack[row][foreground == 1] = 1
        stack[row][(foreground == 0) & (background == 0)] = 0
    return stack


def argmax_labels(localisation: Localisation, background: float, max_side: int) -> np.ndarray:
    """IRN's final `make_sem_seg_labels` rule: one background plane, no ignore band (exclusive)."""
    return localisation.label_map(background, label_size(localisation.image_size, max_side)).astype(np.uint8)


def default_label_crf() -> LabelCrf:
    """IRN's label-mode CRF (10 iterations, gt_prob 0.7, Gaussian 3/3, bilateral 50/5/10)."""
    from .crf import IRN_LABELS, crf_labels

    def run(image: np.ndarray, labels: np.ndarray, n_labels: int) -> np.ndarray:
        return crf_labels(image, labels, n_labels, IRN_LABELS, gt_prob=0.7)

    return run


def resize_image(pixels: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    if pixels.shape[:2] == tuple(size):
        return np.ascontiguousarray(pixels)
    import cv2

    return cv2.resize(pixels, (size[1], size[0]), interpolation=cv2.INTER_AREA)
