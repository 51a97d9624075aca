"""Imitations of off-the-shelf detectors: a person segmenter and an OCR text detector.

PrivObfNet weights its attention maps with such priors (paper §3.2). Real priors are wrong in
typical ways, and a model trained on perfect priors would lean on them too hard, so both are
made from the exact visible regions and then damaged the way real detectors fail:

human prior: each visible person (labelled or not, including face close-ups and pasted real
people) is sometimes missed entirely (more often when small), sometimes loses a limb, is
eroded or dilated by a few pixels, gets a confidence below 1, and the boundary is blurred;
a few soft false-positive blobs are added.

text prior: each visible text line (private or harmless) is missed with a probability that
grows for small lines and hard-to-read ones (signatures), otherwise it becomes a detector box:
a rotated quad or an axis-aligned box fitted to the visible pixels, with jittered padding,
centre and angle, and a confidence below 1; some false-positive thin boxes are added.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np


@dataclass
class HumanRegion:
    """The visible pixels of one person (canvas-sized bool) and of its limbs."""

    mask: np.ndarray
    limbs: list[np.ndarray] = field(default_factory=list)


@dataclass
class TextRegion:
    """The visible pixels of one text line (a window of the canvas at `offset`) and how detectable it is."""

    mask: np.ndarray
    offset: tuple[int, int]  # (top, left) of the window in the canvas
    detect: float
    visible_fraction: float


def human_prior(rng: np.random.Generator, shape: tuple[int, int], people: list[HumanRegion]) -> np.ndarray:
    """float32 [H, W] in [0, 1]: what a person segmenter would output for these people."""
    prior = np.zeros(shape, dtype=np.float32)
    side = float(min(shape))
    for person in people:
        area = int(person.mask.sum())
        if area == 0:
            continue
        size = float(np.sqrt(area))
        if rng.random() < 0.04 + 0.25 * (size < 0.05 * side):
            continue
        mask = person.mask.copy()
        if person.limbs and rng.random() < 0.3:
            mask &= ~person.limbs[int(rng.integers(len(person.limbs)))]
        mask = _erode_or_dilate(mask, int(round(rng.uniform(-1.0, 1.0) * max(1.0, 0.04 * size))))
        np.maximum(prior, mask.astype(np.float32) * rng.uniform(0.75, 1.0), out=prior)
    _add_blobs(rng, prior, count=int(rng.poisson(0.7)), side=side)
    prior = cv2.GaussianBlur(prior, (0, 0), rng.uniform(1.0, 3.0))
    return np.clip(prior, 0.0, 1.0)


def _erode_or_dilate(mask: np.ndarray, radius: int) -> np.ndarray:
    if radius == 0:
        return mask
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * abs(radius) + 1, 2 * abs(radius) + 1))
    operation = cv2.dilate if radius > 0 else cv2.erode
    return operation(mask.view(np.uint8), kernel) > 0


def _add_blobs(rng: np.random.Generator, prior: np.ndarray, count: int, side: float) -> None:
    """Soft false positives: ellipses where there is no person."""
    h, w = prior.shape
    for _ in range(count):
        centre = (int(rng.integers(w)), int(rng.integers(h)))
        axes = (max(2, int(side * rng.uniform(0.02, 0.1))), max(2, int(side * rng.uniform(0.03, 0.15))))
        blob = np.zeros_like(prior)
        cv2.ellipse(blob, centre, axes, float(rng.uniform(0, 180)), 0, 360, float(rng.uniform(0.25, 0.7)), -1)
        np.maximum(prior, blob, out=prior)


def text_prior(rng: np.random.Generator, shape: tuple[int, int], lines: list[TextRegion]) -> np.ndarray:
    """float32 [H, W] in [0, 1]: what an OCR text detector would output for these lines."""
    boxes: list[tuple[float, np.ndarray]] = []
    for line in lines:
        if line.visible_fraction < 0.3:
            continue
        points = cv2.findNonZero(line.mask.view(np.uint8))
        if points is None or len(points) < 4:
            continue
        height = cv2.boundingRect(points)[3]
        miss = 0.04 + 0.5 * (1.0 - line.detect) + 0.3 * (height < 8)
        if rng.random() < miss:
            continue
        top, left = line.offset
        quad = _detector_box(rng, points.reshape(-1, 2).astype(np.float32) + np.float32([left, top]))
        boxes.append((float(rng.uniform(0.65, 1.0)), quad))
    prior = np.zeros(shape, dtype=np.float32)
    for confidence, quad in sorted(boxes, key=lambda b: b[0]):  # ascending: overlaps keep the maximum
        cv2.fillConvexPoly(prior, np.round(quad).astype(np.int32), confidence, cv2.LINE_8)
    _add_false_boxes(rng, prior, count=int(rng.poisson(0.4)))
    prior = cv2.GaussianBlur(prior, (0, 0), rng.uniform(0.5, 1.5))
    return np.clip(prior, 0.0, 1.0)


def _detector_box(rng: np.random.Generator, points: np.ndarray) -> np.ndarray:
    """A quad around `points` as a detector reports it: loose padding, small shifts, maybe axis-aligned."""
    (cx, cy), (w, h), angle = cv2.minAreaRect(points)
    short = max(min(w, h), 1.0)
    w *= rng.uniform(0.97, 1.12)
    h *= rng.uniform(0.97, 1.12)
    w, h = w + short * rng.uniform(0.0, 0.3), h + short * rng.uniform(0.0, 0.3)
    cx, cy = cx + rng.normal(0, 0.04 * short), cy + rng.normal(0, 0.04 * short)
    quad = cv2.boxPoints(((cx, cy), (w, h), angle + rng.normal(0, 1.5)))
    if rng.random() < 0.4:  # many detectors only output axis-aligned boxes
        x0, y0 = quad.min(axis=0)
        x1, y1 = quad.max(axis=0)
        quad = np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], dtype=np.float32)
    return quad


def _add_false_boxes(rng: np.random.Generator, prior: np.ndarray, count: int) -> None:
    """Thin low-confidence boxes on textures, as detectors fire on stripes and railings."""
    h, w = prior.shape
    for _ in range(count):
        bh = int(min(h, w) * rng.uniform(0.015, 0.05)) + 2
        bw = int(bh * rng.uniform(2.0, 8.0))
        x0, y0 = int(rng.integers(0, max(1, w - bw))), int(rng.integers(0, max(1, h - bh)))
        window = prior[y0 : y0 + bh, x0 : x0 + bw]
        np.maximum(window, float(rng.uniform(0.2, 0.55)), out=window)
