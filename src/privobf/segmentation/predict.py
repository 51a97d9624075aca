"""Masks from a trained segmentation network, and their mIoU over a split.

Inference follows the usual DeepLab / IRN practice: the photo is resized so its long side is
`long_side`, run at each scale and (optionally) mirrored, the logits are upsampled bilinearly to the
requested size, turned into probabilities (softmax for exclusive, sigmoid for multi-label networks)
and averaged. No CRF is applied at test time: the dissertation never says it is [D §14.11].
"""

from __future__ import annotations

from typing import Any, Iterable, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from ..evaluate import metrics
from .training import IGNORE, SegmentationModel

# [C: deeplab-pytorch test size 513]. Deviation: deeplab-pytorch pads a VOC image (≤ 500 px) to
# 513x513; photos here are megapixels, so they are resized to a 513-px long side instead.
DEFAULT_LONG_SIDE = 513


class SegmentationPredictor:
    """Multi-scale, flip-averaged probabilities and masks of a `SegmentationModel`."""

    def __init__(
        self,
        model: SegmentationModel,
        scales: Sequence[float] = (1.0,),
        flip: bool = True,
        long_side: int | None = DEFAULT_LONG_SIDE,
    ) -> None:
        if not scales or any(scale <= 0 for scale in scales):
            raise ValueError(f"scales must be positive, got {scales}")
        self.model = model
        self.scales = tuple(float(scale) for scale in scales)
        self.flip = flip
        self.long_side = long_side
        self.device = next(model.network.parameters()).device

    @property
    def attribute_ids(self) -> list[str]:
        return list(self.model.vocabulary_ids)

    @property
    def exclusive(self) -> bool:
        return self.model.kind == "exclusive"

    def _base_size(self, height: int, width: int) -> tuple[int, int]:
        if self.long_side is None:
            return height, width
        ratio = self.long_side / max(height, width)
        return max(1, int(round(height * ratio))), max(1, int(round(width * ratio)))

    @torch.no_grad()
    def _averaged(self, pixels: np.ndarray, size: tuple[int, int]) -> torch.Tensor:
        """float32 [C, *size]: probabilities averaged over scales and flips."""
        pixels = np.asarray(pixels)
        if pixels.dtype != np.uint8 or pixels.ndim != 3 or pixels.shape[2] != 3:
            raise ValueError(f"pixels must be uint8 [H, W, 3], got {pixels.dtype} {pixels.shape}")
        network = self.model.network
        network.eval()
        image = torch.from_numpy(np.ascontiguousarray(pixels)).permute(2, 0, 1)[None].float().div(255.0).to(self.device)
        base_h, base_w = self._base_size(*pixels.shape[:2])
        total = None
        count = 0
        for scale in self.scales:
            shape = (max(1, int(round(base_h * scale))), max(1, int(round(base_w * scale))))
            scaled = F.interpolate(image, size=shape, mode="bilinear", align_corners=False) if shape != tuple(pixels.shape[:2]) else image
            views = torch.cat([scaled, scaled.flip(-1)]) if self.flip else scaled
            logits = F.interpolate(network(views), size=size, mode="bilinear", align_corners=False)
            probabilities = torch.softmax(logits, dim=1) if self.exclusive else torch.sigmoid(logits)
            if self.flip:
                probabilities = torch.stack([probabilities[0], probabilities[1].flip(-1)])
            summed = probabilities.sum(dim=0)
            total = summed if total is None else total + summed
            count += probabilities.shape[0]
        return (total / count).float()

    def probabilities(self, pixels: np.ndarray) -> np.ndarray:
        """float32 [K + 1, H, W] softmax (exclusive; background first) or [K, H, W] sigmoid, at full size."""
        return self._averaged(pixels, tuple(np.asarray(pixels).shape[:2])).cpu().numpy()

    def masks(self, pixels: np.ndarray, threshold: float = 0.5) -> dict[str, np.ndarray]:
        """{attribute_id: bool [H, W]}: the argmax class (exclusive) or sigmoid > threshold (multi-label).
        Every vocabulary id is present; an attribute not found has an all-False mask."""
        probabilities = self.probabilities(pixels)
        if self.exclusive:
            labels = probabilities.argmax(axis=0)
            return {attribute_id: labels == k + 1 for k, attribute_id in enumerate(self.attribute_ids)}
        return {attribute_id: probabilities[k] > threshold for k, attribute_id in enumerate(self.attribute_ids)}

    def attention_maps(self, pixels: np.ndarray) -> np.ndarray:
        """float32 [K, h, w] in [0, 1], one map per attribute on a stride-4 grid of the inference size.

        The per-class probabilities (softmax foreground channels, or sigmoids), so a report can use
        them as its per-attribute maps and threshold them like any other mask source."""
        base_h, base_w = self._base_size(*np.asarray(pixels).shape[:2])
        grid = (max(1, -(-base_h // 4)), max(1, -(-base_w // 4)))
        maps = self._averaged(pixels, grid)
        if self.exclusive:
            maps = maps[1:]
        return maps.clamp(0.0, 1.0).cpu().numpy().astype(np.float32)


def exclusive_ground_truth(item: Any, attribute_ids: list[str]) -> np.ndarray:
    """An item's masks as an int64 [H, W] label map: 0 background, k + 1 class k, 255 ignored."""
    height, width = np.asarray(item.image).shape[:2]
    truth = np.zeros((height, width), dtype=np.int64)
    for attribute_id, mask in (item.masks or {}).items():
        if attribute_id not in attribute_ids:
            raise KeyError(f"ground-truth class {attribute_id!r} is not in the model's vocabulary")
        truth[np.asarray(mask, dtype=bool)] = attribute_ids.index(attribute_id) + 1
    ignore = getattr(item, "ignore", None)
    if ignore is not None:
        truth[np.asarray(ignore, dtype=bool)] = IGNORE
    return truth


def predicted_labels(predictor: SegmentationPredictor, pixels: np.ndarray, threshold: float) -> np.ndarray:
    """int64 [H, W] exclusive labels: the argmax of a softmax network, or for a multi-label network
    the best sigmoid where it passes `threshold` (background elsewhere)."""
    probabilities = predictor.probabilities(pixels)
    if predictor.exclusive:
        return probabilities.argmax(axis=0).astype(np.int64)
    return metrics.labels_from_maps(probabilities, np.ones(len(probabilities), dtype=bool), threshold)


def evaluate_segmentation(predictor: SegmentationPredictor, dataset: Iterable[Any], threshold: float = 0.5) -> dict:
    """mIoU of the predictor over a split (items with `.image`, `.labels`, `.masks` {id: bool}, optional `.ignore`).

    Exclusive data (``dataset.exclusive_masks`` true, or by default when the model is exclusive): one
    confusion matrix over background + classes pooled over the split, as VOC / COCO are scored.
    Multi-label data: per-attribute pooled IoU (`MultiLabelMaskIoU`); ignored pixels count for neither
    side. `threshold` applies to sigmoid outputs only.
    """
    ids = predictor.attribute_ids
    exclusive = bool(getattr(dataset, "exclusive_masks", predictor.exclusive))
    n_images = 0
    if exclusive:
        confusion = np.zeros((len(ids) + 1, len(ids) + 1), dtype=np.int64)
        for item in dataset:
            truth = exclusive_ground_truth(item, ids)
            confusion += metrics.confusion_matrix(predicted_labels(predictor, item.image, threshold), truth, len(ids) + 1, IGNORE)
            n_images += 1
        iou = metrics.iou_from_confusion(confusion)
        return {
            "kind": "exclusive",
            "miou": metrics.mean_iou(confusion),
            "iou": dict(zip(["background", *ids], (float(v) for v in iou))),
            "pixel_accuracy": metrics.pixel_accuracy(confusion),
            "n_images": n_images,
            "confusion": confusion.tolist(),
        }
    pooled = metrics.MultiLabelMaskIoU(len(ids))
    for item in dataset:
        predicted = predictor.masks(item.image, threshold)
        pred = np.stack([predicted[a] for a in ids])
        target = np.zeros_like(pred)
        for attribute_id, mask in (item.masks or {}).items():
            if attribute_id not in ids:
                raise KeyError(f"ground-truth attribute {attribute_id!r} is not in the model's vocabulary")
            target[ids.index(attribute_id)] = np.asarray(mask, dtype=bool)
        ignore = getattr(item, "ignore", None)
        if ignore is not None:
            keep = ~np.asarray(ignore, dtype=bool)
            pred &= keep
            target &= keep
        pooled.update(pred, target)
        n_images += 1
    return {
        "kind": "multilabel",
        "miou": pooled.mean_iou(),
        "iou": dict(zip(ids, (float(v) for v in pooled.iou()))),
        "threshold": float(threshold),
        "n_images": n_images,
    }
