"""Tests for privobf.evaluate: cross-checks against scikit-learn / scipy, hand-computed cases, evaluators."""

from __future__ import annotations

import json
import math
import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from scipy import stats
from sklearn import metrics as skm

from privobf.evaluate import (
    AttributeEvaluator,
    BoxCoverageEvaluator,
    Evaluator,
    EvaluatorGroup,
    LabelMapEvaluator,
    MaskEvaluator,
    MultiLabelMaskIoU,
    ProtectionEvaluator,
    ScoreEvaluator,
    UndefinedMetricWarning,
    attribute_accuracy,
    average_precision,
    binary_mask_counts,
    box_coverage,
    changed_pixels,
    confusion_matrix,
    iou_from_confusion,
    labels_from_maps,
    leak_rate,
    mean_average_precision,
    mean_iou,
    multilabel_mask_confusion,
    over_obfuscation,
    pearson,
    pixel_accuracy,
    score_l1,
    spearman,
    sweep_threshold_on_ground_truth,
    to_jsonable,
    upsample_maps,
)

SEEDS = [0, 1, 2]
SIZES = [(1, 7), (13, 17), (64, 48)]


def _assert_plain(value) -> None:
    """Results must hold only built-in types, so `json.dumps` works without a custom encoder."""
    if isinstance(value, dict):
        for key, item in value.items():
            assert type(key) is str
            _assert_plain(item)
    elif isinstance(value, list):
        for item in value:
            _assert_plain(item)
    else:
        assert value is None or type(value) in (bool, int, float, str), f"{value!r} is {type(value)}"


# ------------------------------------------------------------------------------------------------
# Single-label confusion matrix and IoU
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("shape", SIZES)
@pytest.mark.parametrize("n_classes", [2, 5, 21])
def test_confusion_matrix_matches_sklearn(seed: int, shape: tuple[int, int], n_classes: int) -> None:
    rng = np.random.default_rng(seed)
    target = rng.integers(0, n_classes, size=shape)
    pred = rng.integers(0, n_classes, size=shape)
    target[rng.random(shape) < 0.1] = 255
    cm = confusion_matrix(pred, target, n_classes)
    keep = target != 255
    expected = skm.confusion_matrix(target[keep], pred[keep], labels=np.arange(n_classes))
    assert cm.dtype == np.int64
    np.testing.assert_array_equal(cm, expected)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("n_classes", [3, 8])
def test_iou_matches_sklearn_jaccard(seed: int, n_classes: int) -> None:
    rng = np.random.default_rng(seed)
    target = rng.integers(0, n_classes, size=(20, 30))
    pred = np.where(rng.random(target.shape) < 0.6, target, rng.integers(0, n_classes, size=target.shape))
    iou = iou_from_confusion(confusion_matrix(pred, target, n_classes))
    expected = skm.jaccard_score(target.ravel(), pred.ravel(), labels=np.arange(n_classes), average=None)
    np.testing.assert_allclose(iou, expected, rtol=0, atol=1e-12)
    assert mean_iou(confusion_matrix(pred, target, n_classes)) == pytest.approx(expected.mean(), abs=1e-12)


def test_confusion_matrix_hand_computed_3x3() -> None:
    target = np.array([[0, 0, 1], [1, 2, 2], [255, 2, 0]])
    pred = np.array([[0, 1, 1], [1, 2, 0], [2, 2, 0]])
    cm = confusion_matrix(pred, target, 3)
    # rows = target, columns = prediction; the ignored pixel (predicted 2) is not counted
    np.testing.assert_array_equal(cm, [[2, 1, 0], [0, 2, 0], [1, 0, 2]])
    # IoU_0 = 2 / (3 + 3 - 2), IoU_1 = 2 / (2 + 3 - 2), IoU_2 = 2 / (3 + 2 - 2)
    np.testing.assert_allclose(iou_from_confusion(cm), [0.5, 2 / 3, 2 / 3])
    assert pixel_accuracy(cm) == pytest.approx(6 / 8)


def test_absent_class_is_nan_and_excluded_from_mean() -> None:
    target = np.array([[0, 0], [1, 1]])
    pred = np.array([[0, 1], [1, 1]])
    cm = confusion_matrix(pred, target, 3)
    iou = iou_from_confusion(cm)
    assert iou[0] == pytest.approx(0.5) and iou[1] == pytest.approx(2 / 3)
    assert math.isnan(iou[2])
    assert mean_iou(cm) == pytest.approx((0.5 + 2 / 3) / 2)  # not divided by 3


def test_empty_confusion_gives_nan_without_warning() -> None:
    cm = np.zeros((2, 2), dtype=np.int64)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert math.isnan(mean_iou(cm)) and math.isnan(pixel_accuracy(cm))


def test_confusion_matrix_rejects_bad_labels() -> None:
    with pytest.raises(ValueError, match="outside"):
        confusion_matrix(np.array([0, 3]), np.array([0, 1]), 3)
    with pytest.raises(ValueError, match="outside"):
        confusion_matrix(np.array([0, 1]), np.array([0, 7]), 3)
    with pytest.raises(TypeError):
        confusion_matrix(np.array([0.0, 1.0]), np.array([0, 1]), 3)
    with pytest.raises(ValueError, match="shape"):
        confusion_matrix(np.zeros((2, 2), int), np.zeros((2, 3), int), 3)


def test_pooled_miou_differs_from_mean_of_per_image_miou() -> None:
    # Image A: a large object predicted perfectly. Image B: a tiny object missed entirely.
    target_a = np.zeros((10, 10), int)
    target_a[:, :5] = 1
    pred_a = target_a.copy()
    target_b = np.zeros((10, 10), int)
    target_b[0, 0] = 1
    pred_b = np.zeros((10, 10), int)
    cm_a, cm_b = confusion_matrix(pred_a, target_a, 2), confusion_matrix(pred_b, target_b, 2)
    per_image = (mean_iou(cm_a) + mean_iou(cm_b)) / 2  # (1 + (99/100 + 0) / 2) / 2
    pooled = mean_iou(cm_a + cm_b)  # class 1: 50 / 51, class 0: 149 / 150
    assert per_image == pytest.approx((1 + 0.495) / 2)
    assert pooled == pytest.approx((149 / 150 + 50 / 51) / 2)
    assert abs(pooled - per_image) > 0.2

    evaluator = LabelMapEvaluator(["background", "thing"], threshold=0.5)
    for pred, target in ((pred_a, target_a), (pred_b, target_b)):
        maps = pred[None].astype(np.float32)  # one class map: 1 on the predicted object
        evaluator.process(maps=maps, present=[True], gt=target)
    assert evaluator.evaluate()["miou"] == pytest.approx(pooled)


# ------------------------------------------------------------------------------------------------
# Multi-label masks and the single-label pseudo-label rule
# ------------------------------------------------------------------------------------------------


def test_binary_mask_counts_hand_computed() -> None:
    pred = np.array([[1, 1, 0], [0, 1, 0]], bool)
    target = np.array([[1, 0, 0], [1, 1, 1]], bool)
    assert binary_mask_counts(pred, target) == (2, 1, 2)
    with pytest.raises(TypeError):
        binary_mask_counts(pred.astype(np.uint8), target)


@pytest.mark.parametrize("seed", SEEDS)
def test_multilabel_confusion_and_iou_match_sklearn(seed: int) -> None:
    rng = np.random.default_rng(seed)
    k = 4
    images = [(rng.random((k, h, w)) < 0.3, rng.random((k, h, w)) < 0.4) for h, w in [(5, 6), (9, 4), (3, 3)]]
    images[0][0][3] = False  # attribute 3 is never predicted nor present ...
    images[0][1][3] = False
    for pred, target in images[1:]:
        pred[3] = False
        target[3] = False
    accumulator = MultiLabelMaskIoU(k)
    for pred, target in images:
        accumulator.update(pred, target)
    flat_pred = np.concatenate([p.reshape(k, -1) for p, _ in images], axis=1).T
    flat_target = np.concatenate([t.reshape(k, -1) for _, t in images], axis=1).T
    np.testing.assert_array_equal(accumulator.confusion, skm.multilabel_confusion_matrix(flat_target, flat_pred))
    iou = accumulator.iou()
    for a in range(3):
        assert iou[a] == pytest.approx(skm.jaccard_score(flat_target[:, a], flat_pred[:, a]), abs=1e-12)
    assert math.isnan(iou[3])  # ... so it is NaN and left out of the mean
    assert accumulator.mean_iou() == pytest.approx(np.mean(iou[:3]))
    accumulator.reset()
    assert accumulator.confusion.sum() == 0


def test_overlapping_masks_are_scored_independently() -> None:
    # A face inside a person: a single argmax label map could not represent both.
    person = np.zeros((8, 8), bool)
    person[1:7, 2:6] = True
    face = np.zeros((8, 8), bool)
    face[1:3, 3:5] = True
    gt = np.stack([person, face])
    cm = multilabel_mask_confusion(gt.copy(), gt)
    np.testing.assert_array_equal(cm[:, 1, 1], [person.sum(), face.sum()])
    np.testing.assert_array_equal(cm[:, 0, 1] + cm[:, 1, 0], [0, 0])


def test_labels_from_maps_background_argmax_and_absent_classes() -> None:
    maps = np.array(
        [
            [[0.9, 0.1, 0.2, 0.3]],  # class 1
            [[0.5, 0.8, 0.1, 0.3]],  # class 2
            [[0.99, 0.99, 0.99, 0.99]],  # class 3: strongest everywhere but not in the image
        ]
    )
    labels = labels_from_maps(maps, present=[True, True, False], threshold=0.3)
    # pixel 2: best present map 0.2 < 0.3 -> background; pixel 3: tie at the threshold -> class 1
    np.testing.assert_array_equal(labels, [[1, 2, 0, 1]])
    assert labels.dtype == np.int64
    np.testing.assert_array_equal(labels_from_maps(maps, [False, False, False], 0.3), [[0, 0, 0, 0]])
    with pytest.raises(ValueError):
        labels_from_maps(maps, [True, True], 0.3)


# ------------------------------------------------------------------------------------------------
# Privacy score
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("n", [3, 10, 200])
def test_correlations_match_scipy(seed: int, n: int) -> None:
    rng = np.random.default_rng(seed)
    target = rng.random(n)
    pred = 0.5 * target + 0.5 * rng.random(n)
    assert pearson(pred, target) == pytest.approx(stats.pearsonr(pred, target)[0], abs=1e-12)
    assert spearman(pred, target) == pytest.approx(stats.spearmanr(pred, target)[0], abs=1e-12)
    # heavy ties on both sides: scores quantised to a few levels
    tied_pred = np.round(pred * 3) / 3
    tied_target = np.round(target * 4) / 4
    if np.ptp(tied_pred) > 0 and np.ptp(tied_target) > 0:
        assert spearman(tied_pred, tied_target) == pytest.approx(
            stats.spearmanr(tied_pred, tied_target)[0], abs=1e-12
        )
        assert pearson(tied_pred, tied_target) == pytest.approx(stats.pearsonr(tied_pred, tied_target)[0], abs=1e-12)


def test_spearman_hand_computed_with_ties() -> None:
    # ranks of pred: [1, 2.5, 2.5, 4]; ranks of target: [1, 2, 3, 4]
    value = spearman([0.1, 0.5, 0.5, 0.9], [1, 2, 3, 4])
    assert value == pytest.approx(np.corrcoef([1, 2.5, 2.5, 4], [1, 2, 3, 4])[0, 1])
    assert value < 1.0


def test_correlation_with_constant_side_is_nan_with_reason() -> None:
    with pytest.warns(UndefinedMetricWarning, match="constant"):
        assert math.isnan(pearson([0.5, 0.5, 0.5], [0.1, 0.2, 0.3]))
    with pytest.warns(UndefinedMetricWarning, match="targets"):
        assert math.isnan(spearman([0.1, 0.2, 0.3], [1.0, 1.0, 1.0]))
    with pytest.warns(UndefinedMetricWarning, match="at least 2"):
        assert math.isnan(pearson([0.1], [0.2]))


def test_score_l1_hand_computed() -> None:
    assert score_l1([0.0, 0.5, 1.0], [0.25, 0.5, 0.0]) == pytest.approx((0.25 + 0 + 1) / 3)
    with pytest.raises(ValueError):
        score_l1([0.1, float("nan")], [0.1, 0.2])


# ------------------------------------------------------------------------------------------------
# Attributes
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("n", [5, 40, 300])
def test_average_precision_matches_sklearn_including_ties(seed: int, n: int) -> None:
    rng = np.random.default_rng(seed)
    labels = rng.random(n) < 0.3
    labels[0] = True
    scores = np.clip(labels * 0.3 + rng.random(n) * 0.7, 0, 1)
    assert average_precision(scores, labels) == pytest.approx(skm.average_precision_score(labels, scores), abs=1e-12)
    for levels in (2, 5):  # many tied scores
        tied = np.round(scores * levels) / levels
        assert average_precision(tied, labels) == pytest.approx(
            skm.average_precision_score(labels, tied), abs=1e-12
        )


def test_average_precision_hand_computed_and_tie_order_independent() -> None:
    # ranks: 0.9 (+), 0.8 (-), 0.7 (+)  ->  AP = 1/2 * 1 + 1/2 * 2/3
    assert average_precision([0.9, 0.8, 0.7], [1, 0, 1]) == pytest.approx(0.5 + 1 / 3)
    # all scores tied: one threshold, AP = precision at full recall = prevalence, whatever the order
    assert average_precision([0.5, 0.5, 0.5, 0.5], [1, 0, 0, 0]) == pytest.approx(0.25)
    assert average_precision([0.5, 0.5, 0.5, 0.5], [0, 0, 0, 1]) == pytest.approx(0.25)
    assert average_precision([0.2, 0.4], [1, 1]) == pytest.approx(1.0)


def test_average_precision_without_positives_is_nan_where_sklearn_says_zero() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert skm.average_precision_score([0, 0, 0], [0.1, 0.5, 0.2]) == 0.0
    assert math.isnan(average_precision([0.1, 0.5, 0.2], [0, 0, 0]))


@pytest.mark.parametrize("seed", SEEDS)
def test_mean_average_precision_excludes_classes_without_enough_positives(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n, k = 60, 6
    labels = rng.random((n, k)) < 0.4
    labels[:, 2] = False  # all-negative class
    labels[:, 4] = False
    labels[:2, 4] = True  # only two positives
    probs = np.round(np.clip(labels * 0.2 + rng.random((n, k)) * 0.8, 0, 1), 1)  # ties
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = skm.average_precision_score(labels, probs, average=None)
    per_attribute, mean = mean_average_precision(probs, labels)
    assert math.isnan(per_attribute[2])
    keep = [0, 1, 3, 4, 5]
    np.testing.assert_allclose(per_attribute[keep], expected[keep], atol=1e-12)
    assert mean == pytest.approx(expected[keep].mean(), abs=1e-12)
    per_attribute, mean = mean_average_precision(probs, labels, min_positives=3)
    assert math.isnan(per_attribute[4]) and math.isnan(per_attribute[2])
    assert mean == pytest.approx(expected[[0, 1, 3, 5]].mean(), abs=1e-12)
    with pytest.raises(ValueError):
        mean_average_precision(probs, labels, min_positives=0)


@pytest.mark.parametrize("seed", SEEDS)
def test_attribute_accuracy_matches_sklearn(seed: int) -> None:
    rng = np.random.default_rng(seed)
    probs = rng.random((50, 4))
    labels = rng.random((50, 4)) < 0.5
    probs[0, 0] = 0.5  # exactly at the threshold counts as predicted present
    accuracy = attribute_accuracy(probs, labels, threshold=0.5)
    for k in range(4):
        assert accuracy[k] == pytest.approx(skm.accuracy_score(labels[:, k], probs[:, k] >= 0.5))


# ------------------------------------------------------------------------------------------------
# Protection
# ------------------------------------------------------------------------------------------------


def test_leak_rate_extremes_and_partial() -> None:
    sensitive = np.zeros((6, 6), bool)
    sensitive[1:4, 1:5] = True  # 12 pixels
    assert leak_rate(sensitive.copy(), sensitive) == (0, 12)
    assert leak_rate(np.zeros_like(sensitive), sensitive) == (12, 12)
    changed = np.zeros_like(sensitive)
    changed[1:4, 1:3] = True  # half of the region, plus pixels outside it
    changed[5, :] = True
    assert leak_rate(changed, sensitive) == (6, 12)
    assert over_obfuscation(changed, sensitive) == (6, 24)
    with pytest.raises(TypeError):
        leak_rate(changed.astype(np.uint8), sensitive)


def test_changed_pixels_any_channel_and_no_uint8_wraparound() -> None:
    before = np.zeros((2, 3, 3), np.uint8)
    after = before.copy()
    after[0, 1, 2] = 1
    after[1, 2, 0] = 200
    np.testing.assert_array_equal(changed_pixels(before, after), [[False, True, False], [False, False, True]])
    # with a tolerance of 2, the +1 is noise; 0 - 200 must not wrap to 56 and must stay changed
    np.testing.assert_array_equal(changed_pixels(after, before, atol=2), [[False, False, False], [False, False, True]])
    assert changed_pixels(before[..., 0], after[..., 0]).shape == (2, 3)


def test_box_coverage_half_covered_partly_outside_and_outside() -> None:
    mask = np.zeros((10, 10), bool)
    mask[:, :5] = True
    assert box_coverage(mask, (2, 2, 8, 6)) == pytest.approx(0.5)  # columns 2..7, half of them masked
    assert box_coverage(mask, (0, 0, 10, 10)) == pytest.approx(0.5)
    # box reaching past the right edge: clipped to columns 6..9, none masked
    assert box_coverage(mask, (6, 0, 14, 10)) == pytest.approx(0.0)
    # box sticking out on the left: clipped to columns 0..3, all masked
    assert box_coverage(mask, (-5, -5, 4, 4)) == pytest.approx(1.0)
    # fractional box: columns 4.5..5.5 -> half of column 4 (masked) and half of column 5 (not)
    assert box_coverage(mask, (4.5, 0, 5.5, 10)) == pytest.approx(0.5)
    assert math.isnan(box_coverage(mask, (20, 20, 30, 30)))
    assert math.isnan(box_coverage(mask, (3, 3, 3, 8)))  # zero area
    with pytest.raises(ValueError):
        box_coverage(mask, (5, 5, 2, 8))


# ------------------------------------------------------------------------------------------------
# Threshold sweep on ground truth
# ------------------------------------------------------------------------------------------------


def test_sweep_is_labelled_and_agrees_with_fixed_threshold_evaluator() -> None:
    rng = np.random.default_rng(3)
    ids = ["a", "b"]
    samples = []
    for _ in range(3):
        gt = rng.random((2, 12, 10)) < 0.3
        maps = np.clip(gt * 0.4 + rng.random(gt.shape) * 0.6, 0, 1)
        samples.append((maps, gt))
    thresholds = [0.2, 0.4, 0.6]
    result = sweep_threshold_on_ground_truth(iter(samples), thresholds)
    assert result["tuned_on_ground_truth"] is True
    assert result["best_threshold"] == thresholds[int(np.argmax(result["miou"]))]
    for threshold, miou in zip(thresholds, result["miou"]):
        evaluator = MaskEvaluator(ids, threshold)
        for maps, gt in samples:
            evaluator.process(maps=maps, gt_masks=dict(zip(ids, gt)))
        assert evaluator.evaluate()["miou"] == pytest.approx(miou)
        assert evaluator.evaluate()["threshold_source"] == "fixed"


# ------------------------------------------------------------------------------------------------
# Evaluators
# ------------------------------------------------------------------------------------------------


def test_mask_evaluator_upsamples_bilinearly_before_thresholding() -> None:
    rng = np.random.default_rng(4)
    maps = rng.random((2, 4, 5)).astype(np.float32)
    gt = {"face": rng.random((16, 20)) < 0.5}
    evaluator = MaskEvaluator(["face", "name"], threshold=0.5)
    evaluator.process(maps=maps, gt_masks=gt)
    up = F.interpolate(torch.from_numpy(maps)[None], size=(16, 20), mode="bilinear", align_corners=False)[0].numpy()
    np.testing.assert_allclose(upsample_maps(maps, (16, 20)), up)
    face_pred = up[0] >= 0.5
    tp, fp, fn = binary_mask_counts(face_pred, gt["face"])
    result = evaluator.evaluate()
    assert result["iou"]["face"] == pytest.approx(tp / (tp + fp + fn))
    # "name" is absent from the ground truth: every predicted pixel is a false positive -> IoU 0
    assert (up[1] >= 0.5).any() and result["iou"]["name"] == 0.0
    assert result["miou"] == pytest.approx(tp / (tp + fp + fn) / 2)
    assert result["threshold"] == 0.5 and result["threshold_source"] == "fixed"
    _assert_plain(result)


def test_mask_evaluator_present_flags_reset_and_validation() -> None:
    maps = np.ones((2, 4, 4), np.float32)
    gt = {"face": np.ones((4, 4), bool)}
    evaluator = MaskEvaluator(["face", "name"], threshold=0.3)
    evaluator.process(maps=maps, gt_masks=gt, present=[True, False])
    result = evaluator.evaluate()
    assert result["iou"]["face"] == 1.0 and math.isnan(result["iou"]["name"])
    assert result["miou"] == 1.0 and result["attributes_in_mean"] == ["face"]
    evaluator.reset()
    evaluator.process(maps=np.zeros((2, 4, 4)), gt_masks=gt)
    result = evaluator.evaluate()
    assert result["n_images"] == 1 and result["iou"]["face"] == 0.0
    with pytest.raises(KeyError):
        evaluator.process(maps=maps, gt_masks={"passport": np.ones((4, 4), bool)})
    with pytest.raises(ValueError, match="image_size"):
        evaluator.process(maps=maps, gt_masks={})
    evaluator.process(maps=maps[:, :2, :2], gt_masks={}, image_size=(4, 4))  # a safe image: 16 false positives each
    assert evaluator.evaluate()["pixels"]["name"]["fp"] == 16


def test_score_evaluator_matches_functions_and_resets() -> None:
    rng = np.random.default_rng(5)
    pred, target = rng.random(30), rng.random(30)
    evaluator = ScoreEvaluator()
    for p, t in zip(pred, target):
        evaluator.process(pred=p, target=t)
    result = evaluator.evaluate()
    assert result["n"] == 30
    assert result["l1"] == pytest.approx(np.abs(pred - target).mean())
    assert result["pearson"] == pytest.approx(stats.pearsonr(pred, target)[0])
    assert result["spearman"] == pytest.approx(stats.spearmanr(pred, target)[0])
    _assert_plain(result)
    evaluator.reset()
    for t in target[:5]:
        evaluator.process(pred=0.5, target=t)
    result = evaluator.evaluate()
    assert result["n"] == 5 and math.isnan(result["pearson"]) and "constant" in result["notes"][0]


def test_attribute_evaluator_reports_rule_and_matches_sklearn() -> None:
    rng = np.random.default_rng(6)
    ids = ["a1", "a2", "a3"]
    labels = rng.random((40, 3)) < 0.5
    labels[:, 2] = False
    labels[0, 2] = True  # a3 has a single positive
    probs = rng.random((40, 3))
    evaluator = AttributeEvaluator(ids, threshold=0.5, min_positives=2)
    for p, l in zip(probs, labels):
        evaluator.process(probs=p, labels=l)
    result = evaluator.evaluate()
    assert result["attributes_in_mean"] == ["a1", "a2"] and "at least 2" in result["rule"]
    assert math.isnan(result["ap"]["a3"]) and not math.isnan(result["accuracy"]["a3"])
    expected_ap = [skm.average_precision_score(labels[:, k], probs[:, k]) for k in range(2)]
    assert result["map"] == pytest.approx(np.mean(expected_ap), abs=1e-12)
    expected_acc = [skm.accuracy_score(labels[:, k], probs[:, k] >= 0.5) for k in range(2)]
    assert result["mean_accuracy"] == pytest.approx(np.mean(expected_acc))
    assert result["n_positives"] == {"a1": int(labels[:, 0].sum()), "a2": int(labels[:, 1].sum()), "a3": 1}
    assert json.loads(json.dumps(to_jsonable(result), allow_nan=False))["ap"]["a3"] is None
    evaluator.reset()
    assert evaluator.evaluate()["n_images"] == 0


def test_protection_evaluator_pools_over_images() -> None:
    # Image 1: large face fully hidden. Image 2: tiny name left visible, and one background pixel changed.
    before1 = np.zeros((10, 10, 3), np.uint8)
    face = np.zeros((10, 10), bool)
    face[:6, :6] = True
    after1 = before1.copy()
    after1[face] = 255
    before2 = np.zeros((4, 4, 3), np.uint8)
    name = np.zeros((4, 4), bool)
    name[0, :2] = True
    after2 = before2.copy()
    after2[3, 3, 1] = 9
    evaluator = ProtectionEvaluator()
    evaluator.process(before=before1, after=after1, gt_masks={"face": face})
    evaluator.process(before=before2, after=after2, gt_masks={"name": name, "face": np.zeros((4, 4), bool)})
    result = evaluator.evaluate()
    assert result["leak_rate"] == pytest.approx(2 / 38)  # pooled, not (0 + 1) / 2
    assert result["over_obfuscation"] == pytest.approx(1 / (64 + 14))
    assert result["leak_rate_per_attribute"] == {"face": 0.0, "name": 1.0}
    assert result["n_images"] == 2
    _assert_plain(result)
    evaluator.reset()
    assert math.isnan(evaluator.evaluate()["leak_rate"])


def test_box_coverage_evaluator_counts_outside_boxes() -> None:
    mask = np.zeros((10, 10), bool)
    mask[:, :5] = True
    evaluator = BoxCoverageEvaluator(coverage_threshold=0.5)
    evaluator.process(mask=mask, boxes=[(0, 0, 5, 5), (2, 2, 8, 6), (6, 0, 10, 10), (50, 50, 60, 60)])
    result = evaluator.evaluate()
    assert result["n_boxes"] == 3 and result["n_skipped_outside"] == 1
    assert result["mean_coverage"] == pytest.approx(0.5)
    assert result["leak"] == pytest.approx(0.5)
    assert result["recall"] == pytest.approx(2 / 3)
    evaluator.reset()
    assert evaluator.evaluate()["n_boxes"] == 0


def test_evaluator_group_routes_arguments_and_serialises() -> None:
    ids = ["face", "name"]
    group = EvaluatorGroup(
        masks=MaskEvaluator(ids, threshold=0.5),
        attributes=AttributeEvaluator(ids),
        score=ScoreEvaluator(),
        protection=ProtectionEvaluator(),
    )
    assert all(isinstance(e, Evaluator) for e in group.values())
    rng = np.random.default_rng(7)
    for i in range(4):
        gt = {"face": rng.random((8, 8)) < 0.5}
        image = rng.integers(0, 255, (8, 8, 3), dtype=np.uint8)
        hidden = image.copy()
        hidden[gt["face"]] = 0
        group.process(
            maps=rng.random((2, 4, 4)),
            gt_masks=gt,
            probs=rng.random(2),
            labels=[True, i % 2 == 0],
            before=image,
            after=hidden,
            score={"pred": rng.random(), "target": rng.random()},
        )
    result = group.evaluate()
    assert set(result) == {"masks", "attributes", "score", "protection"}
    assert result["score"]["n"] == 4 and result["masks"]["n_images"] == 4
    json.dumps(result)
    text = json.dumps(to_jsonable(result), allow_nan=False)
    assert json.loads(text)["attributes"]["min_positives"] == 1
    group.reset()
    assert group.evaluate()["score"]["n"] == 0
    with pytest.raises(TypeError, match="score"):
        group.process(maps=rng.random((2, 4, 4)), gt_masks=gt, probs=rng.random(2), labels=[1, 0], before=image, after=image)


def test_to_jsonable_converts_numpy_and_nan() -> None:
    value = {"a": np.float32(0.5), "b": np.int64(3), "c": (np.nan, np.inf), "d": np.array([1.0, np.nan]), 1: True}
    assert to_jsonable(value) == {"a": 0.5, "b": 3, "c": [None, None], "d": [1.0, None], "1": True}
    _assert_plain(to_jsonable(value))


# ------------------------------------------------------------------------------------------------
# Properties
# ------------------------------------------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(
    n_classes=st.integers(1, 6),
    data=st.data(),
)
def test_confusion_sums_to_counted_pixels_and_iou_in_unit_interval(n_classes: int, data: st.DataObject) -> None:
    shape = data.draw(hnp.array_shapes(min_dims=1, max_dims=3, max_side=8))
    labels = st.sampled_from([*range(n_classes), 255])
    target = data.draw(hnp.arrays(np.int64, shape, elements=labels))
    pred = data.draw(hnp.arrays(np.int64, shape, elements=st.integers(0, n_classes - 1)))
    cm = confusion_matrix(pred, target, n_classes)
    assert cm.sum() == int((target != 255).sum())
    iou = iou_from_confusion(cm)
    finite = iou[~np.isnan(iou)]
    assert ((finite >= 0) & (finite <= 1)).all()
    value = mean_iou(cm)
    assert math.isnan(value) or 0.0 <= value <= 1.0


@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_multilabel_iou_in_unit_interval(data: st.DataObject) -> None:
    shape = data.draw(hnp.array_shapes(min_dims=3, max_dims=3, max_side=6))
    pred = data.draw(hnp.arrays(np.bool_, shape))
    target = data.draw(hnp.arrays(np.bool_, shape))
    accumulator = MultiLabelMaskIoU(shape[0])
    accumulator.update(pred, target)
    assert accumulator.confusion.sum() == pred.size
    iou = accumulator.iou()
    finite = iou[~np.isnan(iou)]
    assert ((finite >= 0) & (finite <= 1)).all()
    np.testing.assert_array_equal(np.isnan(iou), ~(pred | target).reshape(shape[0], -1).any(axis=1))


@settings(max_examples=60, deadline=None)
@given(
    mask=hnp.arrays(np.bool_, hnp.array_shapes(min_dims=2, max_dims=2, max_side=9)),
    corners=st.lists(st.floats(-5, 15, allow_nan=False), min_size=4, max_size=4),
)
def test_box_coverage_in_unit_interval(mask: np.ndarray, corners: list[float]) -> None:
    x0, x1 = sorted(corners[:2])
    y0, y1 = sorted(corners[2:])
    value = box_coverage(mask, (x0, y0, x1, y1))
    assert math.isnan(value) or 0.0 <= value <= 1.0
    if mask.all() and not math.isnan(value):
        assert value == pytest.approx(1.0)


@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_average_precision_property_matches_sklearn(data: st.DataObject) -> None:
    n = data.draw(st.integers(1, 20))
    labels = np.array(data.draw(st.lists(st.booleans(), min_size=n, max_size=n)))
    scores = np.array(data.draw(st.lists(st.sampled_from([0.0, 0.25, 0.5, 0.75, 1.0]), min_size=n, max_size=n)))
    value = average_precision(scores, labels)
    if labels.any():
        assert value == pytest.approx(skm.average_precision_score(labels, scores), abs=1e-12)
        assert 0.0 <= value <= 1.0
    else:
        assert math.isnan(value)
