"""Small geometry helpers shared by the prior providers: input checks, detection-size images, masks from shapes.

Conventions: coordinates are in pixels of the image they refer to, x to the right and y down, and pixel
(row i, column j) covers the square [j, j+1) x [i, i+1). Boxes are (x0, y0, x1, y1). Every helper accepts
shapes partly or wholly outside the image (they are clipped) and empty lists (an all-zero mask).
"""

from __future__ import annotations

import math
from typing import Iterable, Sequence

import cv2
import numpy as np

# Below this many pixels on the shorter side no built-in detector can see anything useful (their strides are
# 4-32 px), so providers answer with an empty mask instead of feeding degenerate tensors to a network.
MIN_DETECTABLE_SIDE = 16

# Polygon vertices are clipped to this far outside the image before rasterising, so absurd coordinates cannot
# overflow OpenCV's int32 fixed-point arithmetic.
_COORD_LIMIT = float(1 << 20)


def check_image(image: np.ndarray, provider: str = "prior provider") -> np.ndarray:
    """Validate a provider's input: uint8 [H, W, 3] RGB with H, W >= 1. Returns it C-contiguous.

    Grayscale, RGBA, float and empty images are rejected with a ValueError saying what was wrong, rather than
    converted silently, so every provider treats every input the same way (convert before calling).
    """
    if not isinstance(image, np.ndarray):
        raise ValueError(f"{provider}: expected a numpy array, got {type(image).__name__}")
    if image.dtype != np.uint8:
        raise ValueError(f"{provider}: expected a uint8 RGB image, got dtype {image.dtype}")
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(
            f"{provider}: expected an RGB image of shape [H, W, 3], got shape {tuple(image.shape)} "
            "(convert grayscale or RGBA images to RGB first)"
        )
    if image.shape[0] == 0 or image.shape[1] == 0:
        raise ValueError(f"{provider}: the image is empty (shape {tuple(image.shape)}); it needs at least 1x1 pixels")
    return np.ascontiguousarray(image)


def too_small(image: np.ndarray) -> bool:
    """True when the image is too small on either side for any detector (providers return an empty mask)."""
    return min(image.shape[0], image.shape[1]) < MIN_DETECTABLE_SIDE


def detection_image(image: np.ndarray, max_side: int | None) -> tuple[np.ndarray, float]:
    """Downscale (never upscale) so the longer side is at most `max_side`, keeping the aspect ratio.

    Returns (resized uint8 image, scale) with scale = resized size / original size (1.0 when unchanged).
    Area interpolation, which averages rather than skipping pixels and so keeps small text and faces legible.
    """
    height, width = image.shape[:2]
    longest = max(height, width)
    if max_side is None or max_side <= 0 or longest <= max_side:
        return image, 1.0
    scale = max_side / longest
    new_w = max(1, int(round(width * scale)))
    new_h = max(1, int(round(height * scale)))
    resized = cv2.resize(image, (new_w, new_h), interpolation=cv2.INTER_AREA)
    return resized, scale


def scale_boxes(boxes: np.ndarray, scale: float, height: int, width: int) -> np.ndarray:
    """Map [N, 4] boxes found on a detection image (of `scale` x the original) back to the original, clipped."""
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4) / scale
    boxes[:, 0::2] = np.clip(boxes[:, 0::2], 0.0, width)
    boxes[:, 1::2] = np.clip(boxes[:, 1::2], 0.0, height)
    return boxes


def fill_quads(shape: Sequence[int], quads: Iterable) -> np.ndarray:
    """A float32 mask of `shape` (H, W) with each polygon (any number >= 3 of (x, y) vertices) filled with 1."""
    height, width = int(shape[0]), int(shape[1])
    mask = np.zeros((height, width), dtype=np.float32)
    if height == 0 or width == 0:
        return mask
    shift = 4  # sub-pixel precision of the rasteriser: vertices are rounded to 1/16 px
    polygons = []
    for quad in quads:
        points = np.asarray(quad, dtype=np.float64).reshape(-1, 2)
        if len(points) < 3 or not np.all(np.isfinite(points)):
            continue
        points = np.clip(points, -_COORD_LIMIT, _COORD_LIMIT)
        # OpenCV samples pixel centres at integer coordinates; ours are at +0.5, hence the half-pixel shift.
        polygons.append(np.round((points - 0.5) * (1 << shift)).astype(np.int32))
    if polygons:
        cv2.fillPoly(mask, polygons, 1.0, lineType=cv2.LINE_8, shift=shift)
    return mask


def fill_boxes(shape: Sequence[int], boxes: Iterable, shape_kind: str = "box",
               grow: float | tuple[float, float] = 1.0) -> np.ndarray:
    """A float32 mask of `shape` (H, W) with each (x0, y0, x1, y1) box filled with 1.

    shape_kind "box" fills every pixel the (grown) box touches; "ellipse" fills the pixels whose centres lie in
    the ellipse inscribed in the (grown) box. `grow` scales each box's width and height about its centre; a
    pair (width, height) scales them apart (a detector's boxes can be narrower than what people label).
    """
    if shape_kind not in ("box", "ellipse"):
        raise ValueError(f"shape_kind must be 'box' or 'ellipse', got {shape_kind!r}")
    grow_x, grow_y = (float(grow), float(grow)) if np.isscalar(grow) else (float(grow[0]), float(grow[1]))
    if not (grow_x > 0 and grow_y > 0):
        raise ValueError(f"grow must be positive, got {grow}")
    height, width = int(shape[0]), int(shape[1])
    mask = np.zeros((height, width), dtype=np.float32)
    for box in boxes:
        x0, y0, x1, y1 = (float(v) for v in np.asarray(box, dtype=np.float64).reshape(-1)[:4])
        if not all(math.isfinite(v) for v in (x0, y0, x1, y1)) or x1 <= x0 or y1 <= y0:
            continue
        cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
        half_w, half_h = (x1 - x0) * grow_x / 2, (y1 - y0) * grow_y / 2
        left = max(0, int(math.floor(cx - half_w)))
        top = max(0, int(math.floor(cy - half_h)))
        right = min(width, int(math.ceil(cx + half_w)))
        bottom = min(height, int(math.ceil(cy + half_h)))
        if right <= left or bottom <= top:
            continue  # wholly outside the image
        if shape_kind == "box":
            mask[top:bottom, left:right] = 1.0
            continue
        ys = (np.arange(top, bottom, dtype=np.float64) + 0.5 - cy) / half_h
        xs = (np.arange(left, right, dtype=np.float64) + 0.5 - cx) / half_w
        inside = ys[:, None] ** 2 + xs[None, :] ** 2 <= 1.0
        window = mask[top:bottom, left:right]
        window[inside] = 1.0
    return mask


def mask_to_size(mask: np.ndarray, height: int, width: int) -> np.ndarray:
    """Bilinearly resize a [h, w] mask to [height, width], as float32 clipped to [0, 1]."""
    mask = np.asarray(mask, dtype=np.float32)
    if mask.ndim != 2:
        raise ValueError(f"expected a 2-D mask, got shape {mask.shape}")
    if height <= 0 or width <= 0:
        return np.zeros((max(height, 0), max(width, 0)), dtype=np.float32)
    if mask.size == 0:
        return np.zeros((height, width), dtype=np.float32)
    if mask.shape != (height, width):
        mask = cv2.resize(mask, (int(width), int(height)), interpolation=cv2.INTER_LINEAR)
    return np.clip(mask, 0.0, 1.0).astype(np.float32, copy=False)


def nms(boxes: np.ndarray, scores: np.ndarray, iou_threshold: float) -> np.ndarray:
    """Greedy non-maximum suppression; returns the indices kept, best score first (ties keep the earlier box)."""
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    scores = np.asarray(scores, dtype=np.float64).reshape(-1)
    if len(boxes) == 0:
        return np.zeros(0, dtype=np.int64)
    areas = np.clip(boxes[:, 2] - boxes[:, 0], 0, None) * np.clip(boxes[:, 3] - boxes[:, 1], 0, None)
    order = np.argsort(-scores, kind="stable")
    keep = []
    while order.size:
        best = order[0]
        keep.append(best)
        rest = order[1:]
        inter_w = np.clip(np.minimum(boxes[best, 2], boxes[rest, 2]) - np.maximum(boxes[best, 0], boxes[rest, 0]), 0, None)
        inter_h = np.clip(np.minimum(boxes[best, 3], boxes[rest, 3]) - np.maximum(boxes[best, 1], boxes[rest, 1]), 0, None)
        inter = inter_w * inter_h
        union = areas[best] + areas[rest] - inter
        iou = np.where(union > 0, inter / np.maximum(union, 1e-12), 0.0)
        order = rest[iou <= iou_threshold]
    return np.asarray(keep, dtype=np.int64)
