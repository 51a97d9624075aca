"""Functional metrics for PrivObfNet: masks, privacy score, attributes and protection.

Everything here is plain numpy (scipy only for tie-averaged ranks) so the numbers can be checked
against scikit-learn / scipy in the tests without the library depending on scikit-learn.
Counts are accumulated as int64 and ratios computed in float64, because a split of a few thousand
megapixel images overflows int32 pixel counts and loses precision in float32.

Evaluation rules that the functions enforce or make visible:

* Thresholds are arguments, fixed in advance. The only function that picks a threshold by looking
  at evaluation ground truth is `sweep_threshold_on_ground_truth`, and its result says so
  (``tuned_on_ground_truth=True``) so it cannot be mistaken for a fixed-threshold number.
* IoU is computed from counts pooled over the whole split (one confusion matrix), not averaged
  per image: a per-image mean over-weights small images and images where a class is tiny.
* Undefined quantities (a class absent from prediction and ground truth, a correlation with a
  constant side, AP of a class without positives) are NaN and excluded from means, never 0,
  because a silent 0 drags a mean down and a silent 1 inflates it.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from typing import Iterable, Sequence

import numpy as np

__all__ = [
    "UndefinedMetricWarning",
    "confusion_matrix",
    "iou_from_confusion",
    "mean_iou",
    "pixel_accuracy",
    "binary_mask_counts",
    "multilabel_mask_confusion",
    "iou_from_counts",
    "MultiLabelMaskIoU",
    "labels_from_maps",
    "score_l1",
    "pearson",
    "spearman",
    "correlation_undefined_reason",
    "attribute_accuracy",
    "average_precision",
    "mean_average_precision",
    "leak_rate",
    "over_obfuscation",
    "box_coverage",
    "changed_pixels",
    "safe_ratio",
    "sweep_threshold_on_ground_truth",
]


class UndefinedMetricWarning(RuntimeWarning):
    """A metric is undefined for the given inputs and was returned as NaN (the message says why)."""


def safe_ratio(numerator: float, denominator: float) -> float:
    """`numerator / denominator` as a Python float, NaN when the denominator is 0 (nothing to measure)."""
    return float(numerator) / float(denominator) if denominator else math.nan


def _nanmean(values: np.ndarray) -> float:
    """Mean of the finite entries; NaN (without numpy's 'mean of empty slice' warning) when there are none."""
    values = np.asarray(values, dtype=np.float64)
    finite = values[~np.isnan(values)]
    return float(finite.mean()) if finite.size else math.nan


# ---------------------------------------------------------------------------------------------
# Single-label segmentation (VOC / COCO style): one label per pixel, one confusion matrix.
# ---------------------------------------------------------------------------------------------


def confusion_matrix(pred: np.ndarray, target: np.ndarray, n_classes: int, ignore_index: int = 255) -> np.ndarray:
    """int64 [n_classes, n_classes] confusion matrix, rows = ground truth, columns = prediction.

    Pixels whose target equals `ignore_index` (VOC's object boundaries) are skipped. Any other
    label outside ``[0, n_classes)``, on either side, raises: silently dropping it would hide a
    label-mapping bug and inflate the scores. Matrices from several images add up, which is how a
    split is pooled.
    """
    pred = np.asarray(pred)
    target = np.asarray(target)
    if pred.shape != target.shape:
        raise ValueError(f"prediction {pred.shape} and target {target.shape} differ in shape")
    if n_classes < 1:
        raise ValueError(f"n_classes must be positive, got {n_classes}")
    for name, array in (("prediction", pred), ("target", target)):
        if not (np.issubdtype(array.dtype, np.integer) or array.dtype == np.bool_):
            raise TypeError(f"{name} labels must be integers, got {array.dtype}")
    target = target.astype(np.int64, copy=False).ravel()
    pred = pred.astype(np.int64, copy=False).ravel()
    keep = target != ignore_index
    target, pred = target[keep], pred[keep]
    for name, array in (("target", target), ("prediction", pred)):
        if array.size and (array.min() < 0 or array.max() >= n_classes):
            bad = array[(array < 0) | (array >= n_classes)][0]
            raise ValueError(f"{name} label {bad} is outside [0, {n_classes}) and is not ignore_index={ignore_index}")
    counts = np.bincount(target * n_classes + pred, minlength=n_classes * n_classes)
    return counts.astype(np.int64, copy=False).reshape(n_classes, n_classes)


def iou_from_confusion(cm: np.ndarray) -> np.ndarray:
    """float64 [n] IoU per class = TP / (TP + FP + FN); NaN for a class absent from both sides."""
    cm = np.asarray(cm, dtype=np.float64)
    if cm.ndim != 2 or cm.shape[0] != cm.shape[1]:
        raise ValueError(f"a confusion matrix is square, got shape {cm.shape}")
    tp = np.diag(cm)
    union = cm.sum(axis=0) + cm.sum(axis=1) - tp
    iou = np.full(tp.shape, np.nan)
    np.divide(tp, union, out=iou, where=union > 0)
    return iou


def mean_iou(cm: np.ndarray) -> float:
    """Mean IoU over the classes that occur in the ground truth or the predictions (NaN classes skipped)."""
    return _nanmean(iou_from_confusion(cm))


def pixel_accuracy(cm: np.ndarray) -> float:
    """Share of counted pixels labelled correctly; NaN for an empty matrix."""
    cm = np.asarray(cm, dtype=np.float64)
    return safe_ratio(np.trace(cm), cm.sum())


def labels_from_maps(maps: np.ndarray, present: np.ndarray | Sequence[bool], threshold: float) -> np.ndarray:
    """int64 [H, W] label map from K class maps: the standard WSSS pseudo-label rule.

    Only classes known to be in the image (`present`, usually the image-level labels) compete;
    a pixel is background (0) where the best present map is below `threshold`, otherwise it takes
    ``argmax + 1`` (ties go to the lower class index). This is only right for single-label datasets
    (VOC, COCO); privacy masks overlap and go through `MultiLabelMaskIoU` instead.
    """
    maps = np.asarray(maps, dtype=np.float64)
    if maps.ndim != 3:
        raise ValueError(f"maps must be [K, H, W], got shape {maps.shape}")
    present = np.asarray(present, dtype=bool)
    if present.shape != (maps.shape[0],):
        raise ValueError(f"present must have one flag per map ({maps.shape[0]}), got shape {present.shape}")
    labels = np.zeros(maps.shape[1:], dtype=np.int64)
    if not present.any():
        return labels
    masked = np.where(present[:, None, None], maps, -np.inf)
    best = masked.max(axis=0)
    winner = masked.argmax(axis=0)
    foreground = best >= threshold
    labels[foreground] = winner[foreground] + 1
    return labels


# ---------------------------------------------------------------------------------------------
# Multi-label masks: privacy regions overlap, so each attribute is its own binary problem.
# ---------------------------------------------------------------------------------------------


def binary_mask_counts(pred: np.ndarray, target: np.ndarray) -> tuple[int, int, int]:
    """(true positives, false positives, false negatives) of one boolean mask against another."""
    pred = np.asarray(pred)
    target = np.asarray(target)
    if pred.shape != target.shape:
        raise ValueError(f"predicted mask {pred.shape} and target mask {target.shape} differ in shape")
    if pred.dtype != np.bool_ or target.dtype != np.bool_:
        raise TypeError(f"masks must be boolean (threshold soft maps first), got {pred.dtype} and {target.dtype}")
    tp = int(np.count_nonzero(pred & target))
    fp = int(np.count_nonzero(pred)) - tp
    fn = int(np.count_nonzero(target)) - tp
    return tp, fp, fn


def multilabel_mask_confusion(pred: np.ndarray, target: np.ndarray) -> np.ndarray:
    """int64 [K, 2, 2] per-attribute background/foreground confusion, ``[[tn, fp], [fn, tp]]``.

    The layout is scikit-learn's `multilabel_confusion_matrix` (rows = ground truth), so results
    from several images add up and can be checked against it.
    """
    pred = np.asarray(pred)
    target = np.asarray(target)
    if pred.ndim < 1 or pred.shape != target.shape:
        raise ValueError(f"predicted masks {pred.shape} and target masks {target.shape} must be equal [K, ...]")
    out = np.zeros((pred.shape[0], 2, 2), dtype=np.int64)
    for k in range(pred.shape[0]):
        tp, fp, fn = binary_mask_counts(pred[k], target[k])
        out[k] = [[pred[k].size - tp - fp - fn, fp], [fn, tp]]
    return out


def iou_from_counts(tp: np.ndarray, fp: np.ndarray, fn: np.ndarray) -> np.ndarray:
    """float64 IoU = tp / (tp + fp + fn), elementwise; NaN where the attribute occurs on neither side."""
    tp = np.asarray(tp, dtype=np.float64)
    union = tp + np.asarray(fp, dtype=np.float64) + np.asarray(fn, dtype=np.float64)
    iou = np.full(np.broadcast(tp, union).shape, np.nan)
    np.divide(tp, union, out=iou, where=union > 0)
    return iou


@dataclass
class MultiLabelMaskIoU:
    """Pooled per-attribute IoU for overlapping masks (a face inside a person, a name on a card).

    Each attribute keeps its own 2x2 confusion accumulated over the whole split; IoU per attribute
    is ``tp / (tp + fp + fn)`` of the pooled counts, and mIoU is the mean over attributes that occur
    in the ground truth or the predictions somewhere in the split.
    """

    n_attributes: int
    confusion: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        if self.n_attributes < 1:
            raise ValueError(f"n_attributes must be positive, got {self.n_attributes}")
        self.reset()

    def reset(self) -> None:
        self.confusion = np.zeros((self.n_attributes, 2, 2), dtype=np.int64)

    def update(self, pred: np.ndarray, target: np.ndarray) -> None:
        """Add one image: boolean [K, H, W] predicted and ground-truth masks."""
        pred = np.asarray(pred)
        if pred.ndim < 1 or pred.shape[0] != self.n_attributes:
            raise ValueError(f"expected masks for {self.n_attributes} attributes, got shape {pred.shape}")
        self.confusion += multilabel_mask_confusion(pred, target)

    def iou(self) -> np.ndarray:
        return iou_from_counts(self.confusion[:, 1, 1], self.confusion[:, 0, 1], self.confusion[:, 1, 0])

    def mean_iou(self) -> float:
        return _nanmean(self.iou())


# ---------------------------------------------------------------------------------------------
# Privacy score: regression against the annotated score.
# ---------------------------------------------------------------------------------------------


def _paired(pred: Sequence[float] | np.ndarray, target: Sequence[float] | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    pred = np.asarray(pred, dtype=np.float64).ravel()
    target = np.asarray(target, dtype=np.float64).ravel()
    if pred.shape != target.shape:
        raise ValueError(f"{pred.size} predictions but {target.size} targets")
    if not (np.isfinite(pred).all() and np.isfinite(target).all()):
        raise ValueError("scores must be finite (a NaN prediction is a bug upstream, not a data point)")
    return pred, target


def score_l1(pred: Sequence[float] | np.ndarray, target: Sequence[float] | np.ndarray) -> float:
    """Mean absolute error between predicted and annotated privacy scores; NaN with no samples."""
    pred, target = _paired(pred, target)
    return float(np.abs(pred - target).mean()) if pred.size else math.nan


def correlation_undefined_reason(pred: np.ndarray, target: np.ndarray) -> str | None:
    """Why a correlation of these samples is undefined, or None when it is defined."""
    pred, target = _paired(pred, target)
    if pred.size < 2:
        return f"correlation needs at least 2 samples, got {pred.size}"
    for name, values in (("predictions", pred), ("targets", target)):
        if np.all(values == values[0]):
            return f"all {name} are equal ({values[0]:g}): correlation is undefined for a constant input"
    return None


def _pearson(x: np.ndarray, y: np.ndarray) -> float:
    dx = x - x.mean()
    dy = y - y.mean()
    denominator = math.sqrt(float(dx @ dx) * float(dy @ dy))
    if denominator == 0.0:  # only when centring wiped out tiny differences; constant inputs are caught earlier
        return math.nan
    return float(np.clip(float(dx @ dy) / denominator, -1.0, 1.0))


def _warn_undefined(metric: str, reason: str) -> float:
    warnings.warn(f"{metric}: {reason}; returning NaN", UndefinedMetricWarning, stacklevel=3)
    return math.nan


def pearson(pred: Sequence[float] | np.ndarray, target: Sequence[float] | np.ndarray) -> float:
    """Pearson correlation; NaN plus an `UndefinedMetricWarning` saying why when a side is constant."""
    pred, target = _paired(pred, target)
    reason = correlation_undefined_reason(pred, target)
    if reason is not None:
        return _warn_undefined("pearson", reason)
    return _pearson(pred, target)


def spearman(pred: Sequence[float] | np.ndarray, target: Sequence[float] | np.ndarray) -> float:
    """Spearman rank correlation (Pearson of ranks, ties get their average rank, as in scipy)."""
    pred, target = _paired(pred, target)
    reason = correlation_undefined_reason(pred, target)
    if reason is not None:
        return _warn_undefined("spearman", reason)
    from scipy.stats import rankdata  # here, not at import: scipy.stats costs 0.4 s of every CLI start

    return _pearson(rankdata(pred, method="average"), rankdata(target, method="average"))


# ---------------------------------------------------------------------------------------------
# Attributes: multi-label classification.
# ---------------------------------------------------------------------------------------------


def _binary_labels(labels: np.ndarray) -> np.ndarray:
    labels = np.asarray(labels)
    if labels.dtype != np.bool_:
        if not np.isin(labels, (0, 1)).all():
            raise ValueError("labels must be 0/1 or boolean")
        labels = labels.astype(bool)
    return labels


def attribute_accuracy(probs: np.ndarray, labels: np.ndarray, threshold: float = 0.5) -> np.ndarray:
    """float64 [K]: per attribute, the share of images where ``prob >= threshold`` equals the label."""
    probs = np.asarray(probs, dtype=np.float64)
    labels = _binary_labels(labels)
    if probs.ndim != 2 or probs.shape != labels.shape:
        raise ValueError(f"probs {probs.shape} and labels {labels.shape} must both be [N, K]")
    if probs.shape[0] == 0:
        return np.full(probs.shape[1], np.nan)
    return ((probs >= threshold) == labels).mean(axis=0)


def average_precision(scores: Sequence[float] | np.ndarray, labels: Sequence[bool] | np.ndarray) -> float:
    """Step-wise average precision, identical to `sklearn.metrics.average_precision_score`.

    ``AP = sum_n (R_n - R_{n-1}) P_n`` over the distinct score thresholds in decreasing order, no
    interpolation. Tied scores form a single threshold (all tied images enter together), which is
    what makes AP independent of the order of tied samples.

    The one deliberate difference: with no positive labels sklearn warns and returns 0.0; here the
    result is NaN, because AP is undefined without positives and a 0 would bias any class mean.
    """
    scores = np.asarray(scores, dtype=np.float64).ravel()
    labels = _binary_labels(labels).ravel()
    if scores.shape != labels.shape:
        raise ValueError(f"{scores.size} scores but {labels.size} labels")
    if not np.isfinite(scores).all():
        raise ValueError("scores must be finite")
    n_positive = int(labels.sum())
    if n_positive == 0:
        return math.nan
    order = np.argsort(-scores, kind="mergesort")
    scores, labels = scores[order], labels[order]
    # The last index of every run of equal scores is one threshold.
    last_of_run = np.r_[np.flatnonzero(np.diff(scores)), scores.size - 1]
    true_positives = np.cumsum(labels, dtype=np.float64)[last_of_run]
    predicted_positives = (last_of_run + 1).astype(np.float64)
    precision = true_positives / predicted_positives
    recall = true_positives / n_positive
    recall_gain = np.diff(np.r_[0.0, recall])
    return float(np.sum(recall_gain * precision))


def mean_average_precision(
    probs: np.ndarray, labels: np.ndarray, min_positives: int = 1
) -> tuple[np.ndarray, float]:
    """(per-attribute AP [K], class-mean AP) over attributes with at least `min_positives` positives.

    Attributes with fewer positives get NaN and are left out of the mean: this is the VISPR
    authors' cmAP (class-mean AP over the attributes present in the test set) for
    ``min_positives=1``; larger values reproduce tables that report only well-populated attributes.
    """
    if min_positives < 1:
        raise ValueError(f"min_positives must be at least 1 (AP needs a positive), got {min_positives}")
    probs = np.asarray(probs, dtype=np.float64)
    labels = _binary_labels(labels)
    if probs.ndim != 2 or probs.shape != labels.shape:
        raise ValueError(f"probs {probs.shape} and labels {labels.shape} must both be [N, K]")
    per_attribute = np.full(probs.shape[1], np.nan)
    positives = labels.sum(axis=0)
    for k in range(probs.shape[1]):
        if positives[k] >= min_positives:
            per_attribute[k] = average_precision(probs[:, k], labels[:, k])
    return per_attribute, _nanmean(per_attribute)


# ---------------------------------------------------------------------------------------------
# Protection: what the obfuscation hid and what it broke.
# ---------------------------------------------------------------------------------------------


def _same_shape_bool(a: np.ndarray, b: np.ndarray, names: tuple[str, str]) -> tuple[np.ndarray, np.ndarray]:
    a, b = np.asarray(a), np.asarray(b)
    if a.dtype != np.bool_ or b.dtype != np.bool_:
        raise TypeError(f"{names[0]} and {names[1]} must be boolean masks, got {a.dtype} and {b.dtype}")
    if a.shape != b.shape:
        raise ValueError(f"{names[0]} {a.shape} and {names[1]} {b.shape} differ in shape")
    return a, b


def leak_rate(changed: np.ndarray, sensitive: np.ndarray) -> tuple[int, int]:
    """(leaked pixels, sensitive pixels): ground-truth sensitive pixels the obfuscation left unchanged.

    Counts rather than a ratio so a split is pooled by summing; ``safe_ratio`` turns them into a rate.
    """
    changed, sensitive = _same_shape_bool(changed, sensitive, ("changed", "sensitive"))
    sensitive_pixels = int(np.count_nonzero(sensitive))
    leaked = sensitive_pixels - int(np.count_nonzero(sensitive & changed))
    return leaked, sensitive_pixels


def over_obfuscation(changed: np.ndarray, sensitive_any: np.ndarray) -> tuple[int, int]:
    """(changed pixels outside all ground truth, pixels outside all ground truth): collateral damage."""
    changed, sensitive_any = _same_shape_bool(changed, sensitive_any, ("changed", "sensitive_any"))
    outside = ~sensitive_any
    return int(np.count_nonzero(changed & outside)), int(np.count_nonzero(outside))


def _axis_overlap(low: float, high: float, length: int) -> tuple[int, np.ndarray]:
    """First pixel index and per-pixel overlap lengths of [low, high) with pixels [i, i + 1) of an axis."""
    start = max(0, math.floor(low))
    stop = min(length, math.ceil(high))
    if stop <= start:
        return start, np.zeros(0)
    edges = np.arange(start, stop + 1, dtype=np.float64)
    weights = np.minimum(edges[1:], high) - np.maximum(edges[:-1], low)
    return start, np.clip(weights, 0.0, None)


def box_coverage(mask: np.ndarray, box: Sequence[float]) -> float:
    """Share of the box's area (clipped to the image) covered by the mask; NaN if nothing is left.

    The box is ``(x0, y0, x1, y1)`` in continuous pixel coordinates: pixel (row i, column j) spans
    ``[j, j + 1) x [i, i + 1)``. Fractional boxes weight the border pixels by their overlap with the
    box, so a box edge at x = 10.5 counts half of column 10 -- coverage does not jump when a box
    moves by less than a pixel. A box entirely outside the image has no area to cover and gives
    NaN; the evaluator counts those instead of scoring them.
    """
    mask = np.asarray(mask)
    if mask.dtype != np.bool_ or mask.ndim != 2:
        raise TypeError(f"mask must be a boolean [H, W] array, got {mask.dtype} {mask.shape}")
    if len(box) != 4:
        raise ValueError(f"a box is (x0, y0, x1, y1), got {box!r}")
    x0, y0, x1, y1 = (float(v) for v in box)
    if not all(math.isfinite(v) for v in (x0, y0, x1, y1)):
        raise ValueError(f"box coordinates must be finite, got {box!r}")
    if x1 < x0 or y1 < y0:
        raise ValueError(f"box {box!r} has x1 < x0 or y1 < y0")
    row0, row_weights = _axis_overlap(y0, y1, mask.shape[0])
    col0, col_weights = _axis_overlap(x0, x1, mask.shape[1])
    area = float(row_weights.sum()) * float(col_weights.sum())
    if area <= 0.0:
        return math.nan
    window = mask[row0 : row0 + row_weights.size, col0 : col0 + col_weights.size].astype(np.float64)
    covered = float(row_weights @ window @ col_weights)
    return min(1.0, covered / area)


def changed_pixels(before: np.ndarray, after: np.ndarray, atol: float = 0.0) -> np.ndarray:
    """bool [H, W]: pixels where any channel of `after` differs from `before` by more than `atol`.

    Works on [H, W] or [H, W, C] images. The default compares exactly, which is right for
    obfuscators that only write inside their mask; a small `atol` absorbs codec noise when the
    obfuscated image went through a lossy save. Differences are taken in float64 so uint8 images
    do not wrap around.
    """
    before, after = np.asarray(before), np.asarray(after)
    if before.shape != after.shape:
        raise ValueError(f"before {before.shape} and after {after.shape} differ in shape")
    if before.ndim not in (2, 3):
        raise ValueError(f"images must be [H, W] or [H, W, C], got shape {before.shape}")
    if atol == 0.0:
        differs = before != after
    else:
        differs = np.abs(before.astype(np.float64) - after.astype(np.float64)) > atol
    return differs.any(axis=2) if differs.ndim == 3 else differs


# ---------------------------------------------------------------------------------------------
# The one place a threshold may be chosen with ground truth -- and the result says so.
# ---------------------------------------------------------------------------------------------


def sweep_threshold_on_ground_truth(
    samples: Iterable[tuple[np.ndarray, np.ndarray] | tuple[np.ndarray, np.ndarray, np.ndarray | None]],
    thresholds: Sequence[float],
) -> dict:
    """Pooled multi-label mIoU at every threshold, and the best one -- an upper bound, not a result.

    `samples` yields ``(maps [K, H, W] float at ground-truth resolution, gt [K, H, W] bool)`` or
    ``(maps, gt, present [K] bool)``; absent attributes predict nothing. Choosing the threshold
    this way uses the evaluation ground truth, so the returned dict carries
    ``tuned_on_ground_truth=True`` and any report quoting it must say "tuned on ground truth".
    The samples are read once; all thresholds are accumulated in the same pass.
    """
    thresholds = [float(t) for t in thresholds]
    if not thresholds:
        raise ValueError("give at least one threshold to sweep")
    accumulators: list[MultiLabelMaskIoU] | None = None
    n_images = 0
    for sample in samples:
        if len(sample) not in (2, 3):
            raise ValueError("each sample is (maps, gt) or (maps, gt, present)")
        maps = np.asarray(sample[0], dtype=np.float64)
        gt = np.asarray(sample[1])
        present = None if len(sample) == 2 else sample[2]
        if maps.shape != gt.shape or maps.ndim != 3:
            raise ValueError(
                f"maps {maps.shape} and gt {gt.shape} must both be [K, H, W]; upsample maps first "
                "(privobf.report.upsample_map)"
            )
        keep = np.ones(maps.shape[0], dtype=bool) if present is None else np.asarray(present, dtype=bool)
        if accumulators is None:
            accumulators = [MultiLabelMaskIoU(maps.shape[0]) for _ in thresholds]
        for threshold, accumulator in zip(thresholds, accumulators):
            accumulator.update((maps >= threshold) & keep[:, None, None], gt)
        n_images += 1
    if accumulators is None:
        raise ValueError("no samples to sweep over")
    mious = [accumulator.mean_iou() for accumulator in accumulators]
    finite = [i for i, value in enumerate(mious) if not math.isnan(value)]
    best = max(finite, key=lambda i: mious[i]) if finite else None
    return {
        "tuned_on_ground_truth": True,
        "threshold_source": "tuned_on_ground_truth",
        "thresholds": thresholds,
        "miou": mious,
        "iou": [accumulator.iou().tolist() for accumulator in accumulators],
        "best_threshold": None if best is None else thresholds[best],
        "best_miou": math.nan if best is None else mious[best],
        "n_images": n_images,
        "note": "threshold chosen on the evaluation ground truth: an oracle upper bound, not a fixed-threshold result",
    }
