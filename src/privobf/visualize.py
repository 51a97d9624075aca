"""Pictures a person would rather look at than JSON: heat maps with outlines, before / after."""

from __future__ import annotations

from typing import Sequence

import cv2
import numpy as np

from .report import PrivacyReport

# Distinct, colour-blind-friendly outline colours (Okabe-Ito), cycled over attributes.
PALETTE = [(230, 159, 0), (86, 180, 233), (0, 158, 115), (240, 228, 66), (0, 114, 178), (213, 94, 0), (204, 121, 167)]


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
    for k, attribute_id in enumerate(attribute_ids):
        contours, _ = cv2.findContours(report.mask(attribute_id).astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        cv2.drawContours(out, contours, -1, PALETTE[k % len(PALETTE)], thickness)
    return out


def side_by_side(before: np.ndarray, after: np.ndarray, gap: int = 8) -> np.ndarray:
    height = max(before.shape[0], after.shape[0])
    canvas = np.full((height, before.shape[1] + gap + after.shape[1], 3), 255, np.uint8)
    canvas[: before.shape[0], : before.shape[1]] = before
    canvas[: after.shape[0], before.shape[1] + gap :] = after
    return canvas
