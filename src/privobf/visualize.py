"""Pictures a person would rather look at than JSON: heat maps with outlines, before / after."""

from __future__ import annotations

from typing import Sequence

import cv2
import numpy as np

from .report import PrivacyReport

# Distinct, colour-blind-friendly outline colours (Okabe-Ito), cycled over attributes.
PALETTE = [(230, 159, 0), (86, 180, 233), (0, 158, 115), (240, 228, 66), (0, 114, 178), (213, 94, 0), (204, 121, 167)]
# With detector evidence the outline says where a mask came from, which is what a user checks a preview for.
SOURCE_COLOURS = {"detector": (0, 158, 115), "reading": (204, 121, 167), "model": (230, 159, 0), "classifier": (230, 159, 0),
                  "segmentation": (86, 180, 233)}


def heatmap_overlay(image: np.ndarray, report: PrivacyReport, attribute_ids: Sequence[str] | None = None) -> np.ndarray:
    """The photo with the strongest map of the chosen attributes as a heat map, and each mask outlined."""
    attribute_ids = list(attribute_ids if attribute_ids is not None else report.present())
    out = image.copy()
    if not attribute_ids:
        return out
    heat = np.max([report.soft_mask(a) for a in attribute_ids], axis=0)
    coloured = cv2.applyColorMap((heat * 255).astype(np.uint8), cv2.COLORMAP_JET)[..., ::-1]
    alpha = (0.55 * heat)[..., None]
    out = (out * (1 - alpha) + coloured * alpha).astype(np.uint8)
    thickness = max(1, round(max(image.shape[:2]) / 300))
    by_source = hasattr(report, "regions")  # an evidence report: colour by source, and say which is which
    used: dict[str, tuple[int, int, int]] = {}
    for k, attribute_id in enumerate(attribute_ids):
        contours, _ = cv2.findContours(report.mask(attribute_id).astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        colour = PALETTE[k % len(PALETTE)]
        if by_source:
            source = report.mask_source(attribute_id)
            colour = used.setdefault(source, SOURCE_COLOURS.get(source, PALETTE[k % len(PALETTE)]))
        cv2.drawContours(out, contours, -1, colour, thickness)
    _legend(out, used, thickness)
    return out


def _legend(image: np.ndarray, colours: dict[str, tuple[int, int, int]], thickness: int) -> None:
    """"outline colour = source" in the top-left corner, on a white band so it reads on any photo."""
    scale = max(0.4, max(image.shape[:2]) / 1600)
    y = int(22 * scale) + 4
    for source, colour in colours.items():
        text = f"{source}"
        (width, height), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, thickness)
        cv2.rectangle(image, (4, y - height - 4), (14 + width, y + 4), (255, 255, 255), -1)
        cv2.putText(image, text, (9, y), cv2.FONT_HERSHEY_SIMPLEX, scale, colour, thickness, cv2.LINE_AA)
        y += height + 12


def side_by_side(before: np.ndarray, after: np.ndarray, gap: int = 8) -> np.ndarray:
    height = max(before.shape[0], after.shape[0])
    canvas = np.full((height, before.shape[1] + gap + after.shape[1], 3), 255, np.uint8)
    canvas[: before.shape[0], : before.shape[1]] = before
    canvas[: after.shape[0], before.shape[1] + gap :] = after
    return canvas
