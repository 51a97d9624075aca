"""The region of a whole document or screen, around the lines that say what it is (issue 19, sources 3 and 4).

`privobf.reading.layouts` says from a photo's lines that it shows a passport, a receipt, a letter, a chat, …
and which lines say so. A document's layout identifies it as much as the words on it, so its mask is the
whole page, not the words: the lines that say so and every line printed with them (a line joins when its box
is within `CLUSTER_GAP` text heights of a line of the page, in both directions: a page's lines are close, a
sign behind it is not), enclosed in their rotated rectangle, grown by `PAGE_MARGIN` text heights on every side
(the page's border and the ink OCR missed). The region is of kind "reading", its provider
"<ocr>/layout-<rule>", its attribute the document's, drawn as it is (no further margin).
"""

from __future__ import annotations

from typing import Sequence

import cv2
import numpy as np

from ..reading.layouts import LayoutFinding
from .regions import Region

LAYOUT_PREFIX = "layout-"
# Chosen on the seed-1 document photos (the calibration set of benchmarks/document_photos.py): gaps of 4 heights
# keep a letter's paragraphs together (2.5 split them: 0.91 -> 0.94 of the page covered); a margin of 1.5
# heights covers 0.94 of the page with 5.5 % of the photo outside it (1.0: 0.91 / 2.5 %; 2.0: 0.96 / 9.4 %).
CLUSTER_GAP = 4.0
PAGE_MARGIN = 1.5


def is_layout(region: Region) -> bool:
    """Whether a region is a whole document or screen (drawn as it is) rather than found words."""
    return region.provider.rsplit("/", 1)[-1].startswith(LAYOUT_PREFIX)


def layout_regions(provider: str, lines: Sequence, claims: Sequence[LayoutFinding], kind: str) -> list[Region]:
    """One region per document or screen kind the photo's lines say (`lines`: the photo's logical OCR lines in
    reading order, with `.text`, `.box`, `.height` and `.quads`; `claims`: `reading.layouts.find_layouts` of
    their texts and findings)."""
    regions = []
    for claim in claims:
        members = page_lines(lines, claim.lines)
        polygon = page_polygon([lines[k] for k in members])
        box = (float(polygon[:, 0].min()), float(polygon[:, 1].min()), float(polygon[:, 0].max()), float(polygon[:, 1].max()))
        regions.append(Region(kind, f"{provider}/{LAYOUT_PREFIX}{claim.rule}", box, claim.confidence, "polygon",
                              polygon=polygon, attribute=claim.attribute))
    return regions


def page_lines(lines: Sequence, seeds: Sequence[int]) -> list[int]:
    """The seed lines and every line chained to them by gaps of at most `CLUSTER_GAP` text heights."""
    chosen = set(seeds)
    frontier = list(seeds)
    while frontier:
        current = lines[frontier.pop()]
        for index, other in enumerate(lines):
            if index not in chosen and _close(current, other):
                chosen.add(index)
                frontier.append(index)
    return sorted(chosen)


def _close(a, b) -> bool:
    (ax0, ay0, ax1, ay1), (bx0, by0, bx1, by1) = a.box, b.box
    limit = CLUSTER_GAP * max(a.height, b.height)
    return max(bx0 - ax1, ax0 - bx1) <= limit and max(by0 - ay1, ay0 - by1) <= limit


def page_polygon(members: Sequence) -> np.ndarray:
    """float64 [4, 2]: the rotated rectangle around the members' word quads, grown by `PAGE_MARGIN` heights."""
    points = np.concatenate([quad for line in members for quad in line.quads]).astype(np.float32)
    (cx, cy), (width, height), angle = cv2.minAreaRect(points)
    grow = 2 * PAGE_MARGIN * float(np.median([line.height for line in members]))
    return cv2.boxPoints(((cx, cy), (width + grow, height + grow), angle)).astype(np.float64)


def page_rectangles(mask: np.ndarray) -> np.ndarray:
    """bool [H, W]: each connected part of `mask` filled out to its rotated rectangle. A document's or a
    screen's attention map lights up the part that tells its type (a photo, a machine-readable zone, a
    bubble); the rectangle around it is page-shaped and covers more of the page (held-out document scenes,
    the model alone: 0.23 -> 0.31 of the page, 0.6 -> 1.1 % of the rest of the photo, docs/results.md)."""
    parts, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    filled = np.zeros(mask.shape, np.uint8)
    for part in parts:
        cv2.fillPoly(filled, [np.round(cv2.boxPoints(cv2.minAreaRect(part))).astype(np.int32)], 1)
    return filled.astype(bool) | mask
