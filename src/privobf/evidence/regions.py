"""A region: one thing a detector found, with its shape at image resolution, its confidence and its source.

Providers return masks and boxes (`privobf.priors.PriorResult`); this turns each result into instances:
a face or plate box, a text line's polygon, a person's silhouette (one connected part of the segmenter's
mask). A region keeps the detector's own box; the margin a mask grows it by is the fusion's choice
(`FusionConfig`), so the same regions can be drawn tighter or looser without running the detector again.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import cv2
import numpy as np

from ..priors.base import PriorResult
from ..priors.geometry import fill_boxes, fill_quads

Box = tuple[float, float, float, float]  # x0, y0, x1, y1 in pixels of the image
BOX_SHAPED_KINDS = {"face": "ellipse", "plate": "box", "nudity": "box", "text": "box"}
PERSON_THRESHOLD = 0.5  # segmenter value from which a pixel is inside a silhouette (its own 0.5 convention)
MIN_PERSON_AREA = 0.0005  # smaller silhouette parts (a hand's shadow, a speck) are not people


@dataclass(frozen=True, eq=False)
class Region:
    kind: str  # "face", "person", "text", "plate", "nudity": what the provider finds
    provider: str  # registry name of the provider that found it
    box: Box  # bounding box of the shape
    confidence: float  # the provider's own score (for a silhouette: its mean mask value)
    shape: str = "box"  # "box" | "ellipse" | "polygon" | "mask"
    polygon: np.ndarray | None = None  # [N, 2] vertices (shape "polygon")
    mask: np.ndarray | None = None  # bool crop of the silhouette over `origin` (shape "mask")
    origin: tuple[int, int] = (0, 0)  # (x, y) of the crop's top-left pixel
    attribute: str | None = None  # the one attribute it is evidence of, where the provider says (reading)

    def raster(self, size: tuple[int, int], grow: float | tuple[float, float] = 1.0, margin: int = 0,
               shape: str | None = None) -> np.ndarray:
        """bool [H, W]: the shape, boxes and ellipses grown `grow`x (or (width, height)x) about their centre, masks and polygons
        dilated by `margin` pixels. `shape` redraws a box-shaped region as "box" or "ellipse"."""
        height, width = size
        if self.shape in ("box", "ellipse"):
            return fill_boxes(size, [self.box], shape or self.shape, grow) > 0
        if self.shape == "polygon":
            drawn = fill_quads(size, [self.polygon]) > 0
        else:
            drawn = np.zeros((height, width), dtype=bool)
            x, y = self.origin
            crop = self.mask[: max(0, height - y), : max(0, width - x)]
            drawn[y : y + crop.shape[0], x : x + crop.shape[1]] = crop
        if margin > 0 and drawn.any():
            drawn = _dilated(drawn, margin, self.box)
        return drawn

    def scaled(self, factor_y: float, factor_x: float) -> "Region":
        """The region on the photo resized by these factors (a preview of it)."""
        box = (self.box[0] * factor_x, self.box[1] * factor_y, self.box[2] * factor_x, self.box[3] * factor_y)
        polygon = None if self.polygon is None else self.polygon * np.array([factor_x, factor_y])
        mask, origin = self.mask, self.origin
        if mask is not None:
            height = max(1, round(mask.shape[0] * factor_y))
            width = max(1, round(mask.shape[1] * factor_x))
            mask = cv2.resize(mask.astype(np.uint8), (width, height), interpolation=cv2.INTER_NEAREST) > 0
            origin = (round(self.origin[0] * factor_x), round(self.origin[1] * factor_y))
        return Region(self.kind, self.provider, box, self.confidence, self.shape, polygon, mask, origin, self.attribute)

    def to_dict(self) -> dict[str, Any]:
        """What a report says of it: never pixels, never recognised text."""
        told = {
            "kind": self.kind,
            "provider": self.provider,
            "box": [round(float(v), 1) for v in self.box],
            "confidence": round(float(self.confidence), 4),
            "shape": self.shape,
        }
        if self.attribute is not None:
            told["attribute"] = self.attribute
        return told


def regions_from_result(provider: str, kind: str, result: PriorResult, *, person_threshold: float = PERSON_THRESHOLD,
                        min_person_area: float = MIN_PERSON_AREA) -> list[Region]:
    """The instances in one provider's result on one image."""
    if kind == "person":
        return silhouettes(provider, result.mask, person_threshold, min_person_area)
    shape = BOX_SHAPED_KINDS.get(kind, "box")
    regions = []
    for index, box in enumerate(result.boxes):
        score = float(result.scores[index]) if index < len(result.scores) else 1.0
        polygon = result.quads[index] if index < len(result.quads) else None
        if polygon is not None and len(polygon) >= 3:
            regions.append(Region(kind, provider, _box(box), score, "polygon", polygon=np.asarray(polygon, np.float64)))
        else:
            regions.append(Region(kind, provider, _box(box), score, shape))
    return regions


def silhouettes(provider: str, soft_mask: np.ndarray, threshold: float, min_area: float) -> list[Region]:
    """One region per connected part of `soft_mask >= threshold` covering at least `min_area` of the image;
    its confidence is the mean soft value inside it (how sure the segmenter is of that part)."""
    binary = (np.asarray(soft_mask) >= threshold).astype(np.uint8)
    if not binary.any():
        return []
    count, labels, stats, _ = cv2.connectedComponentsWithStats(binary, connectivity=8)
    smallest = min_area * binary.size
    regions = []
    for label in range(1, count):
        x, y, w, h, area = (int(v) for v in stats[label])
        if area < smallest:
            continue
        crop = labels[y : y + h, x : x + w] == label
        confidence = float(np.asarray(soft_mask)[y : y + h, x : x + w][crop].mean())
        regions.append(Region("person", provider, (float(x), float(y), float(x + w), float(y + h)), confidence,
                              "mask", mask=crop, origin=(x, y)))
    return regions


def _dilated(drawn: np.ndarray, margin: int, box: Box) -> np.ndarray:
    """`drawn` grown by a disc of `margin` pixels, computed on the region's box grown by the margin only:
    a distance transform is linear in the pixels, where a 160-pixel dilation kernel on a 12-megapixel photo
    took seconds."""
    height, width = drawn.shape
    top, left = max(0, int(box[1]) - margin - 1), max(0, int(box[0]) - margin - 1)
    bottom, right = min(height, int(np.ceil(box[3])) + margin + 1), min(width, int(np.ceil(box[2])) + margin + 1)
    window = drawn[top:bottom, left:right]
    distance = cv2.distanceTransform((~window).astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    grown = drawn.copy()
    grown[top:bottom, left:right] = distance <= margin
    return grown


def _box(box: Sequence[float]) -> Box:
    x0, y0, x1, y1 = (float(v) for v in box)
    return (x0, y0, x1, y1)
