"""Split-level evaluators in the detectron2 style: ``reset()``, ``process(**sample)`` per image, ``evaluate()``.

Each evaluator accumulates raw counts (pixels, boxes, per-image values) and only turns them into
rates in `evaluate`, so the numbers are pooled over the whole split rather than averaged per image.
`evaluate` returns plain Python dicts (floats, ints, lists, strings); undefined values are NaN
floats, and `to_jsonable` turns those into ``None`` for strict JSON.
"""

from __future__ import annotations

import inspect
import math
from typing import Any, Mapping, Protocol, Sequence, runtime_checkable

import numpy as np

from ..report import upsample_maps
from . import metrics

__all__ = [
    "Evaluator",
    "MaskEvaluator",
    "LabelMapEvaluator",
    "ScoreEvaluator",
    "AttributeEvaluator",
    "ProtectionEvaluator",
    "BoxCoverageEvaluator",
    "EvaluatorGroup",
    "upsample_maps",
    "to_jsonable",
]


@runtime_checkable
class Evaluator(Protocol):
    def reset(self) -> None: ...

    def process(self, **sample: Any) -> None: ...

    def evaluate(self) -> dict: ...


def to_jsonable(value: Any) -> Any:
    """Recursively convert a result to strict-JSON types: numpy -> Python, tuples -> lists, NaN/inf -> None."""
    if isinstance(value, Mapping):
        return {str(key): to_jsonable(item) for key, item in value.items()}
    if isinstance(value, np.ndarray):
        return to_jsonable(value.tolist())
    if isinstance(value, (list, tuple)):
        return [to_jsonable(item) for item in value]
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        value = float(value)
        return value if math.isfinite(value) else None
    return value


def _floats(values: np.ndarray) -> list[float]:
    return [float(v) for v in np.asarray(values, dtype=np.float64).ravel()]


class MaskEvaluator:
    """Per-attribute pooled IoU of thresholded attention maps against overlapping ground-truth masks.

    ``process(maps, gt_masks, present=None, image_size=None)``:

    * `maps` float [K, h, w] at map or image resolution; when smaller than the ground truth they are
      upsampled bilinearly (``align_corners=False``, as the report does) before thresholding, because
      thresholding first and resizing a binary mask gives blocky, biased borders.
    * `gt_masks` maps attribute id -> bool [H, W]. An id missing from the dict is absent from the
      image (all background); an id outside the vocabulary raises, since it means mismatched vocabularies.
    * `present` optional bool [K]: attributes not flagged predict an empty mask. Pass the image's
      true labels to measure localisation alone, or thresholded probabilities for the end-to-end number.
    * `image_size` (H, W) is required when `gt_masks` is empty (an image without sensitive content);
      otherwise it is optional and must agree with the masks.

    The threshold is fixed at construction and reported with ``threshold_source="fixed"``; to tune
    it on ground truth use `metrics.sweep_threshold_on_ground_truth`, which labels its result.
    """

    def __init__(self, attribute_ids: Sequence[str], threshold: float) -> None:
        self.attribute_ids = list(attribute_ids)
        if not self.attribute_ids or len(set(self.attribute_ids)) != len(self.attribute_ids):
            raise ValueError("attribute_ids must be a non-empty list of distinct ids")
        self.threshold = float(threshold)
        self._index = {attribute_id: k for k, attribute_id in enumerate(self.attribute_ids)}
        self.reset()

    def reset(self) -> None:
        self._iou = metrics.MultiLabelMaskIoU(len(self.attribute_ids))
        self._n_images = 0

    def process(
        self,
        maps: np.ndarray,
        gt_masks: Mapping[str, np.ndarray],
        present: Sequence[bool] | np.ndarray | None = None,
        image_size: tuple[int, int] | None = None,
    ) -> None:
        k = len(self.attribute_ids)
        maps = np.asarray(maps)
        if maps.ndim != 3 or maps.shape[0] != k:
            raise ValueError(f"expected maps [{k}, h, w], got shape {maps.shape}")
        unknown = sorted(set(gt_masks) - set(self._index))
        if unknown:
            raise KeyError(f"ground-truth attributes {unknown} are not in the evaluator's vocabulary")
        sizes = {tuple(np.asarray(mask).shape) for mask in gt_masks.values()}
        if image_size is not None:
            sizes.add((int(image_size[0]), int(image_size[1])))
        if len(sizes) > 1:
            raise ValueError(f"ground-truth masks and image_size disagree on the image size: {sorted(sizes)}")
        if not sizes:
            # An image without sensitive content still scores false positives, counted in image
            # pixels; guessing the size from the maps would under-weight them at map resolution.
            raise ValueError("gt_masks is empty: pass image_size=(H, W) so predicted pixels are counted at image size")
        size = sizes.pop()
        if len(size) != 2:
            raise ValueError(f"ground-truth masks must be [H, W], got {size}")
        keep = np.ones(k, dtype=bool) if present is None else np.asarray(present, dtype=bool)
        if keep.shape != (k,):
            raise ValueError(f"present must have {k} flags, got shape {keep.shape}")
        pred = upsample_maps(maps, size) >= self.threshold
        pred &= keep[:, None, None]
        target = np.zeros((k, *size), dtype=bool)
        for attribute_id, mask in gt_masks.items():
            mask = np.asarray(mask)
            if mask.dtype != np.bool_:
                raise TypeError(f"ground-truth mask of {attribute_id!r} must be boolean, got {mask.dtype}")
            target[self._index[attribute_id]] = mask
        self._iou.update(pred, target)
        self._n_images += 1

    def evaluate(self) -> dict:
        iou = self._iou.iou()
        confusion = self._iou.confusion
        scored = [a for a, value in zip(self.attribute_ids, iou) if not math.isnan(value)]
        return {
            "iou": dict(zip(self.attribute_ids, _floats(iou))),
            "miou": self._iou.mean_iou(),
            "threshold": self.threshold,
            "threshold_source": "fixed",
            "n_images": self._n_images,
            "attributes_in_mean": scored,
            "pixels": {
                a: {"tp": int(c[1, 1]), "fp": int(c[0, 1]), "fn": int(c[1, 0])}
                for a, c in zip(self.attribute_ids, confusion)
            },
            "rule": (
                "per-attribute IoU from background/foreground counts pooled over the split; mIoU is the mean "
                "over attributes occurring in ground truth or predictions; maps upsampled bilinearly "
                "(align_corners=False) to ground-truth size, then thresholded at the fixed threshold"
            ),
        }


class LabelMapEvaluator:
    """Classic single-label WSSS evaluation (VOC / COCO): one confusion matrix over the split.

    ``process(maps [K, h, w], present [K] bool, gt [H, W] int)`` turns the maps into a label map with
    `metrics.labels_from_maps` (background 0 where the best present map is below the threshold,
    ``argmax + 1`` elsewhere) after upsampling them to the ground-truth size. `class_names` include
    the background first, so ``len(class_names) == K + 1``.
    """

    def __init__(self, class_names: Sequence[str], threshold: float, ignore_index: int = 255) -> None:
        self.class_names = list(class_names)
        if len(self.class_names) < 2:
            raise ValueError("class_names must hold the background and at least one class")
        self.threshold = float(threshold)
        self.ignore_index = ignore_index
        self.reset()

    def reset(self) -> None:
        n = len(self.class_names)
        self._confusion = np.zeros((n, n), dtype=np.int64)
        self._n_images = 0

    def process(self, maps: np.ndarray, present: Sequence[bool] | np.ndarray, gt: np.ndarray) -> None:
        gt = np.asarray(gt)
        if gt.ndim != 2:
            raise ValueError(f"gt must be an [H, W] label map, got shape {gt.shape}")
        maps = np.asarray(maps)
        if maps.ndim != 3 or maps.shape[0] != len(self.class_names) - 1:
            raise ValueError(f"expected maps [{len(self.class_names) - 1}, h, w], got shape {maps.shape}")
        labels = metrics.labels_from_maps(upsample_maps(maps, gt.shape), present, self.threshold)
        self._confusion += metrics.confusion_matrix(labels, gt, len(self.class_names), self.ignore_index)
        self._n_images += 1

    def evaluate(self) -> dict:
        iou = metrics.iou_from_confusion(self._confusion)
        return {
            "iou": dict(zip(self.class_names, _floats(iou))),
            "miou": metrics.mean_iou(self._confusion),
            "pixel_accuracy": metrics.pixel_accuracy(self._confusion),
            "threshold": self.threshold,
            "threshold_source": "fixed",
            "n_images": self._n_images,
            "confusion": self._confusion.tolist(),
        }


class ScoreEvaluator:
    """Privacy-score regression: L1, Pearson and Spearman over the split.

    Correlations are undefined when either side is constant (or with fewer than two images); they
    are then NaN and ``notes`` says why, instead of a misleading 0.
    """

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self._pred: list[float] = []
        self._target: list[float] = []

    def process(self, pred: float, target: float) -> None:
        pred, target = float(pred), float(target)
        if not (math.isfinite(pred) and math.isfinite(target)):
            raise ValueError(f"scores must be finite, got pred={pred}, target={target}")
        self._pred.append(pred)
        self._target.append(target)

    def evaluate(self) -> dict:
        pred, target = np.asarray(self._pred), np.asarray(self._target)
        reason = metrics.correlation_undefined_reason(pred, target)
        if reason is None:
            pearson, spearman, notes = metrics.pearson(pred, target), metrics.spearman(pred, target), []
        else:
            pearson, spearman, notes = math.nan, math.nan, [f"pearson and spearman are undefined: {reason}"]
        return {
            "l1": metrics.score_l1(pred, target),
            "pearson": pearson,
            "spearman": spearman,
            "n": len(self._pred),
            "notes": notes,
        }


class AttributeEvaluator:
    """Multi-label attribute classification: per-attribute accuracy and AP, class-mean AP and accuracy.

    Means (``map``, ``mean_accuracy``) are over attributes with at least `min_positives` positive
    images in the split; the rest keep their per-attribute accuracy (AP is None for them) but are
    excluded, as VISPR's cmAP (``min_positives=1``) and the paper's Table 3 (only attributes with
    enough samples) do. The rule and the included ids are part of the result.
    """

    def __init__(self, attribute_ids: Sequence[str], threshold: float = 0.5, min_positives: int = 1) -> None:
        self.attribute_ids = list(attribute_ids)
        if not self.attribute_ids:
            raise ValueError("attribute_ids must not be empty")
        if min_positives < 1:
            raise ValueError(f"min_positives must be at least 1, got {min_positives}")
        self.threshold = float(threshold)
        self.min_positives = int(min_positives)
        self.reset()

    def reset(self) -> None:
        self._probs: list[np.ndarray] = []
        self._labels: list[np.ndarray] = []

    def process(self, probs: Sequence[float] | np.ndarray, labels: Sequence[bool] | np.ndarray) -> None:
        k = len(self.attribute_ids)
        probs = np.asarray(probs, dtype=np.float64).ravel()
        labels = np.asarray(labels).ravel()
        if probs.shape != (k,) or labels.shape != (k,):
            raise ValueError(f"expected {k} probabilities and {k} labels, got {probs.shape} and {labels.shape}")
        self._probs.append(probs)
        self._labels.append(labels)

    def evaluate(self) -> dict:
        k = len(self.attribute_ids)
        probs = np.stack(self._probs) if self._probs else np.zeros((0, k))
        labels = np.stack(self._labels) if self._labels else np.zeros((0, k), dtype=bool)
        accuracy = metrics.attribute_accuracy(probs, labels, self.threshold)
        ap, mean_ap = metrics.mean_average_precision(probs, labels, self.min_positives)
        positives = np.asarray(labels, dtype=bool).sum(axis=0)
        included = positives >= self.min_positives
        return {
            "accuracy": dict(zip(self.attribute_ids, _floats(accuracy))),
            "ap": dict(zip(self.attribute_ids, _floats(ap))),
            "map": mean_ap,
            "mean_accuracy": metrics._nanmean(np.where(included, accuracy, np.nan)),
            "n_positives": {a: int(p) for a, p in zip(self.attribute_ids, positives)},
            "n_images": int(probs.shape[0]),
            "threshold": self.threshold,
            "min_positives": self.min_positives,
            "attributes_in_mean": [a for a, keep in zip(self.attribute_ids, included) if keep],
            "rule": (
                f"map and mean_accuracy average only attributes with at least {self.min_positives} positive "
                "image(s) in the split; AP is None for the others"
            ),
        }


class ProtectionEvaluator:
    """Leak rate and over-obfuscation of an obfuscated image against ground-truth sensitive masks.

    ``process(before, after, gt_masks)``: `before`/`after` are the image before and after hiding the
    image's TRUE attributes; `gt_masks` maps attribute id -> bool [H, W]. A pixel counts as hidden
    when any channel changed. The leak rate is the pooled share of sensitive pixels (union of the
    masks) left unchanged; over-obfuscation the pooled share of pixels outside every mask that changed.
    Per-attribute leak rates pool each attribute's own pixels over the images where it occurs.
    """

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self._leaked = 0
        self._sensitive = 0
        self._changed_outside = 0
        self._outside = 0
        self._per_attribute: dict[str, list[int]] = {}
        self._n_images = 0

    def process(self, before: np.ndarray, after: np.ndarray, gt_masks: Mapping[str, np.ndarray]) -> None:
        changed = metrics.changed_pixels(before, after)
        sensitive_any = np.zeros(changed.shape, dtype=bool)
        for attribute_id, mask in gt_masks.items():
            leaked, sensitive = metrics.leak_rate(changed, np.asarray(mask))
            counts = self._per_attribute.setdefault(attribute_id, [0, 0])
            counts[0] += leaked
            counts[1] += sensitive
            sensitive_any |= mask
        leaked, sensitive = metrics.leak_rate(changed, sensitive_any)
        changed_outside, outside = metrics.over_obfuscation(changed, sensitive_any)
        self._leaked += leaked
        self._sensitive += sensitive
        self._changed_outside += changed_outside
        self._outside += outside
        self._n_images += 1

    def evaluate(self) -> dict:
        return {
            "leak_rate": metrics.safe_ratio(self._leaked, self._sensitive),
            "over_obfuscation": metrics.safe_ratio(self._changed_outside, self._outside),
            "leak_rate_per_attribute": {a: metrics.safe_ratio(l, s) for a, (l, s) in self._per_attribute.items()},
            "leaked_pixels": self._leaked,
            "sensitive_pixels": self._sensitive,
            "changed_outside_pixels": self._changed_outside,
            "outside_pixels": self._outside,
            "n_images": self._n_images,
        }


class BoxCoverageEvaluator:
    """How much of each ground-truth box an obfuscation mask covers (for box-only annotations).

    ``process(mask bool [H, W], boxes [(x0, y0, x1, y1), ...])``. Coverage is per box (area-weighted,
    box clipped to the image), averaged over boxes; ``leak = 1 - mean_coverage``; ``recall`` is the
    share of boxes covered at least `coverage_threshold`. Boxes entirely outside the image cannot be
    scored and are counted in ``n_skipped_outside`` rather than silently dropped or scored as 0.
    """

    def __init__(self, coverage_threshold: float = 0.5) -> None:
        if not 0.0 <= coverage_threshold <= 1.0:
            raise ValueError(f"coverage_threshold must be in [0, 1], got {coverage_threshold}")
        self.coverage_threshold = float(coverage_threshold)
        self.reset()

    def reset(self) -> None:
        self._coverage: list[float] = []
        self._skipped = 0

    def process(self, mask: np.ndarray, boxes: Sequence[Sequence[float]]) -> None:
        for box in boxes:
            coverage = metrics.box_coverage(mask, box)
            if math.isnan(coverage):
                self._skipped += 1
            else:
                self._coverage.append(coverage)

    def evaluate(self) -> dict:
        coverage = np.asarray(self._coverage, dtype=np.float64)
        mean = float(coverage.mean()) if coverage.size else math.nan
        return {
            "mean_coverage": mean,
            "leak": 1.0 - mean,
            "recall": float((coverage >= self.coverage_threshold).mean()) if coverage.size else math.nan,
            "coverage_threshold": self.coverage_threshold,
            "n_boxes": int(coverage.size),
            "n_skipped_outside": self._skipped,
        }


def _accepted_arguments(evaluator: Evaluator) -> tuple[set[str], set[str], bool]:
    """(all parameter names, required parameter names, accepts **kwargs) of `evaluator.process`."""
    names: set[str] = set()
    required: set[str] = set()
    var_keyword = False
    for parameter in inspect.signature(evaluator.process).parameters.values():
        if parameter.kind is inspect.Parameter.VAR_KEYWORD:
            var_keyword = True
        elif parameter.kind in (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY):
            names.add(parameter.name)
            if parameter.default is inspect.Parameter.empty:
                required.add(parameter.name)
    return names, required, var_keyword


class EvaluatorGroup(dict):
    """A named set of evaluators fed from one sample dict (detectron2's `DatasetEvaluators`).

    `process(**sample)` hands every evaluator the sample entries its `process` accepts, so one call
    per image can feed mask, score and attribute evaluators together. When two evaluators use the
    same argument name for different things (``pred`` of a score vs. a mask), pass a dict under the
    evaluator's name: ``group.process(maps=m, gt_masks=g, score={"pred": 0.7, "target": 0.6})`` -- its
    entries go to that evaluator only and take precedence over shared ones.
    `evaluate()` returns ``{name: result}``.
    """

    def reset(self) -> None:
        for evaluator in self.values():
            evaluator.reset()

    def process(self, **sample: Any) -> None:
        shared = {key: value for key, value in sample.items() if key not in self}
        for name, evaluator in self.items():
            own = sample.get(name, {})
            if not isinstance(own, Mapping):
                raise TypeError(f"sample entry {name!r} names an evaluator and must be a dict of its arguments")
            names, required, var_keyword = _accepted_arguments(evaluator)
            arguments = {key: value for key, value in shared.items() if var_keyword or key in names}
            arguments.update(own)
            missing = sorted(required - set(arguments))
            if missing:
                raise TypeError(f"evaluator {name!r} needs {missing} in the sample")
            evaluator.process(**arguments)

    def evaluate(self) -> dict:
        return {name: evaluator.evaluate() for name, evaluator in self.items()}
