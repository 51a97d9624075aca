"""`PrivacyReport`: the one object that crosses from "understanding" a photo to "hiding" parts of it.

The scanner fills it; the obfuscator, the CLI and the web page read it. It never holds a model
or a file path. Attention maps are kept at the model's map resolution (a few KB per attribute)
and upsampled to image resolution only for the attributes someone asks for, so a report of a
12-megapixel photo stays small.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable

import numpy as np


@dataclass
class PrivacyReport:
    image_size: tuple[int, int]  # (height, width) of the analysed image, after EXIF orientation
    attribute_ids: list[str]
    probabilities: np.ndarray  # float32 [K]: probability that each attribute is shown
    attention_maps: np.ndarray  # float32 [K, h, w] in [0, 1]: where each attribute is, map resolution
    privacy_score: float  # overall score in [0, 1] (mean over the VISPR profiles, or the chosen profile)
    profile_scores: np.ndarray | None = None  # float32 [P] per-profile scores in [0, 1]
    attribute_threshold: float = 0.5  # probability above which an attribute counts as present
    mask_threshold: float = 0.3  # attention value above which a pixel belongs to an attribute's mask
    model: dict[str, Any] = field(default_factory=dict)  # name, preset, checkpoint digest
    priors: dict[str, Any] = field(default_factory=dict)  # which prior providers ran, and which could not
    notes: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        k = len(self.attribute_ids)
        if self.probabilities.shape != (k,) or self.attention_maps.ndim != 3 or self.attention_maps.shape[0] != k:
            raise ValueError(
                f"report shapes disagree: {k} ids, probabilities {self.probabilities.shape}, "
                f"maps {self.attention_maps.shape}"
            )

    def _index(self, attribute_id: str) -> int:
        try:
            return self.attribute_ids.index(attribute_id)
        except ValueError:
            raise KeyError(f"attribute {attribute_id!r} is not in this report's vocabulary") from None

    def probability(self, attribute_id: str) -> float:
        return float(self.probabilities[self._index(attribute_id)])

    def present(self, threshold: float | None = None) -> list[str]:
        """Attributes whose probability reaches `threshold` (default: the report's), most likely first."""
        threshold = self.attribute_threshold if threshold is None else threshold
        order = np.argsort(-self.probabilities, kind="stable")
        return [
            self.attribute_ids[i] for i in order if self.probabilities[i] >= threshold and self.attribute_ids[i] != "a0_safe"
        ]

    def soft_mask(self, attribute_id: str) -> np.ndarray:
        """float32 [H, W] in [0, 1]: the attribute's attention map, bilinearly upsampled to the image."""
        return upsample_map(self.attention_maps[self._index(attribute_id)], self.image_size)

    def mask(self, attribute_id: str, threshold: float | None = None) -> np.ndarray:
        """bool [H, W]: the pixels of the attribute's mask at image resolution."""
        threshold = self.mask_threshold if threshold is None else threshold
        return self.soft_mask(attribute_id) >= threshold

    def union_mask(self, attribute_ids: Iterable[str], threshold: float | None = None) -> np.ndarray:
        region = np.zeros(self.image_size, dtype=bool)
        for attribute_id in attribute_ids:
            region |= self.mask(attribute_id, threshold)
        return region

    def at_size(self, size: tuple[int, int]) -> "PrivacyReport":
        """The same report for the photo resized to `size` (H, W), e.g. a preview: maps are stored at map
        resolution, so only the size changes."""
        import dataclasses

        return dataclasses.replace(self, image_size=(int(size[0]), int(size[1])))

    def hidden_regions(self, attribute_ids: Iterable[str]) -> list[dict[str, Any]]:
        """Each connected part of the masks of `attribute_ids`: attribute, source ("model": the classifier's
        map), box [x0, y0, x1, y1] in image pixels, confidence (the attribute's probability). Never pixels."""
        return [
            {"attribute": attribute_id, "source": "model", "box": box, "confidence": round(self.probability(attribute_id), 4)}
            for attribute_id in attribute_ids for box in component_boxes(self.mask(attribute_id))
        ]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready summary (no maps): score, attributes with probabilities, versions."""
        return {
            "image_size": {"height": self.image_size[0], "width": self.image_size[1]},
            "privacy_score": round(float(self.privacy_score), 4),
            "profile_scores": None if self.profile_scores is None else [round(float(s), 4) for s in self.profile_scores],
            "attribute_threshold": self.attribute_threshold,
            "mask_threshold": self.mask_threshold,
            "present": self.present(),
            "attributes": {a: round(float(p), 4) for a, p in zip(self.attribute_ids, self.probabilities)},
            "model": self.model,
            "priors": self.priors,
            "notes": self.notes,
            # The score is pooled over the attributes this scanner reports, and only those (issue 19).
            "privacy_score_over": list(self.attribute_ids),
            "not_detected": not_detected(self.attribute_ids),
        }


def not_detected(attribute_ids: Iterable[str]) -> list[str] | None:
    """VISPR's attributes a scanner does not report ("not detected by this model": a model trained on VISPR's
    photos would, docs/recipes.md), for a vocabulary drawn from VISPR's; None for other vocabularies (VOC,
    COCO, a user's own), where VISPR's list says nothing."""
    from .attributes.vocabulary import vispr_vocabulary

    ids = list(attribute_ids)
    vispr = vispr_vocabulary().ids
    if sum(a in vispr for a in ids) * 2 < len(ids):
        return None
    return [a for a in vispr if a not in ids]


def upsample_maps(maps: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """float32 [K, H, W]: bilinear resize of [K, h, w] maps, align_corners=False, like the model's own upsampling.

    Maps already at `size` are returned unchanged, without a round trip through torch.
    """
    maps = np.asarray(maps, dtype=np.float32)
    if maps.ndim != 3:
        raise ValueError(f"maps must be [K, h, w], got shape {maps.shape}")
    size = (int(size[0]), int(size[1]))
    if maps.shape[1:] == size:
        return maps
    import torch
    import torch.nn.functional as F

    tensor = torch.from_numpy(np.ascontiguousarray(maps))[None]
    return F.interpolate(tensor, size=size, mode="bilinear", align_corners=False)[0].numpy()


def upsample_map(attention_map: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """One [h, w] map resized to `size` (H, W): :func:`upsample_maps` with K = 1, always a new array
    (callers may modify it without touching the report's maps)."""
    resized = upsample_maps(np.asarray(attention_map)[None], size)[0]
    return resized.copy() if np.shares_memory(resized, attention_map) else resized


def component_boxes(mask: np.ndarray, limit: int = 50) -> list[list[int]]:
    """Bounding boxes [x0, y0, x1, y1] of a mask's connected parts, largest first (at most `limit`)."""
    if not mask.any():
        return []
    import cv2

    count, _, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    order = sorted(range(1, count), key=lambda label: -int(stats[label][4]))[:limit]
    return [[int(stats[k][0]), int(stats[k][1]), int(stats[k][0] + stats[k][2]), int(stats[k][1] + stats[k][3])]
            for k in order]
