"""`EvidenceReport`: a report whose presence and masks follow detector evidence (`fusion`).

Everything that hides or draws (obfuscation, previews, the web page, mask-only output) asks the report
for `mask(id)` / `soft_mask(id)`, so this is the one place the evidence mode changes what is hidden:

* an attribute with supporting regions: the union of their shapes at image resolution (face ellipses,
  plate boxes, person silhouettes, each grown by the fusion's margin); the mask threshold does not apply;
* any other attribute: the model's own map (before prior weighting), upsampled to the image, weighted
  by its prior at image resolution (the person silhouettes and face ellipses for Human-type attributes,
  text lines and plates for Text-type ones), renormalised and cut at the mask threshold. This is the
  paper's weighting (§3.2), done where the detector's shape is still sharp rather than at the map stride;
* a text attribute decided by reading (`Fused.read`): the found words' shapes, or nothing if none was found;
  never the model's map (issue 18: words, not blobs);
* with a segmentation network (`--segmentation`), attributes it knows and no region supports take its maps;
* an appearance attribute from label statistics (`Fused.derived`): its face and person regions, or where no
  detector found the face the model did, the face attribute's mask (`stand_in`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from ..report import upsample_map
from ..segmentation.mask_source import SEGMENTATION, SegmentedReport
from .appearance import ANCHOR
from .appearance import SOURCE as APPEARANCE_SOURCE
from .fusion import Fused, FusionConfig
from .layouts import page_rectangles
from .links import decided_by_look_too
from .regions import Region

DETECTOR = "detector"
READING = "reading"
MODEL = "model"
PRIOR_SOURCES = {"human": ("person", "face", "nudity"), "text": ("text", "plate")}


@dataclass
class EvidenceReport(SegmentedReport):
    regions: list[Region] = field(default_factory=list)
    fusion: FusionConfig = field(default_factory=FusionConfig)
    fused: Fused | None = None
    raw_maps: np.ndarray | None = None  # float32 [K, h, w] in [0, 1]: the maps before prior weighting
    prior_of: dict[str, str] = field(default_factory=dict)  # attribute id -> "human" | "text" (weighted ones)
    priors_available: tuple[str, ...] = ()  # which of "human", "text" some provider computed for this photo
    given_priors: dict[str, np.ndarray] = field(default_factory=dict)  # priors the caller passed as arrays
    prior_floor: float = 0.0
    _rasters: dict[Any, np.ndarray] = field(default_factory=dict, repr=False)

    # --------------------------------------------------------------------------------------- sources

    def supporting(self, attribute_id: str) -> list[Region]:
        """The regions whose shapes make this attribute's mask (linked, and above the drawing floor)."""
        if self.fusion.paper or self.fused is None:
            return []
        return [self.regions[index] for index in self.fused.drawn.get(attribute_id, [])]

    def read(self, attribute_id: str) -> bool:
        """Whether reading decided this attribute on this photo (its mask: the found words, or nothing)."""
        return not self.fusion.paper and self.fused is not None and attribute_id in self.fused.read

    def stand_in(self, attribute_id: str) -> str | None:
        """The attribute whose mask an appearance attribute from label statistics takes where no detector region
        supports it (the face the model found without a detector), else None."""
        if (self.fused is None or self.fusion.paper or attribute_id not in self.fused.derived
                or self.supporting(attribute_id) or ANCHOR not in self.attribute_ids):
            return None
        return ANCHOR

    def mask_source(self, attribute_id: str) -> str:
        self._index(attribute_id)
        if self.stand_in(attribute_id):
            return self.mask_source(ANCHOR)
        if self.read(attribute_id):
            return READING
        supporting = self.supporting(attribute_id)
        if supporting:  # a document supported by what was read on it is reading's too (decision 42)
            return READING if all(region.kind == READING for region in supporting) else DETECTOR
        return super().mask_source(attribute_id)

    # --------------------------------------------------------------------------------------- masks

    def soft_mask(self, attribute_id: str) -> np.ndarray:
        if self.fusion.paper:
            return super().soft_mask(attribute_id)
        if self.stand_in(attribute_id):
            return self.soft_mask(ANCHOR)
        if self.supporting(attribute_id) or self.read(attribute_id):
            return self._region_mask(attribute_id).astype(np.float32)
        if super().mask_source(attribute_id) == SEGMENTATION or self.raw_maps is None:
            return super().soft_mask(attribute_id)
        return self._weighted_map(attribute_id)

    def mask(self, attribute_id: str, threshold: float | None = None) -> np.ndarray:
        if self.fusion.paper:
            return super().mask(attribute_id, threshold)
        if self.stand_in(attribute_id):
            return self.mask(ANCHOR, threshold)
        if self.supporting(attribute_id) or self.read(attribute_id):
            return self._region_mask(attribute_id).copy()
        if super().mask_source(attribute_id) == SEGMENTATION or self.raw_maps is None:
            return super().mask(attribute_id, threshold)
        # Deciding, drawing, listing and previewing ask for the same mask several times: the full-resolution
        # weighting is done once per attribute and threshold (a bool image, an eighth of the float map's size).
        key = ("weighted", attribute_id, self.mask_threshold if threshold is None else threshold)
        if key not in self._rasters:
            self._rasters[key] = self._model_mask(attribute_id, key[2])
        return self._rasters[key].copy()

    def _model_mask(self, attribute_id: str, threshold: float) -> np.ndarray:
        """The weighted map cut at `threshold`; for a document or a screen, each part filled out to its
        rotated rectangle (the page's shape, design decision 51)."""
        drawn = self._weighted_map(attribute_id) >= threshold
        return page_rectangles(drawn) if decided_by_look_too(attribute_id) else drawn

    def _region_mask(self, attribute_id: str) -> np.ndarray:
        # Keyed by the regions drawn, not the attribute: the person, the face and the appearance attributes
        # label statistics derive from them share their shapes, drawn once per photo.
        joined = self._joined_with_map(attribute_id)
        key = ("regions", tuple(self.fused.drawn.get(attribute_id, ())), attribute_id if joined else None)
        if key not in self._rasters:
            drawn = self.fusion.draw(self.supporting(attribute_id), self.image_size)
            if joined:
                drawn |= self._model_mask(attribute_id, self.mask_threshold)
            self._rasters[key] = drawn
        return self._rasters[key]

    def _joined_with_map(self, attribute_id: str) -> bool:
        """A document supported by what was read on it: its mask is the read words and the model's map, since
        the whole document identifies (design decision 42)."""
        return (attribute_id in self.fused.joined and self.raw_maps is not None
                and super().mask_source(attribute_id) != SEGMENTATION)

    def _weighted_map(self, attribute_id: str) -> np.ndarray:
        """The model's map at image resolution, times floor + (1 - floor) * prior, renormalised to [0, 1]."""
        soft = upsample_map(self.raw_maps[self._index(attribute_id)], self.image_size)
        prior_name = self.prior_of.get(attribute_id)
        if prior_name is None or prior_name not in self.priors_available:
            return soft  # un-masked attribute, or no provider computed its prior: the model's map as is
        prior = self.prior_raster(prior_name)
        soft *= self.prior_floor + (1.0 - self.prior_floor) * prior
        peak = float(soft.max())
        return soft / peak if peak > 1e-5 else soft

    def prior_raster(self, prior_name: str) -> np.ndarray:
        """float32 [H, W]: the human or text prior at image resolution, drawn from the regions (and, where the
        caller gave the prior as an array, the most of both)."""
        key = ("prior", prior_name)
        if key not in self._rasters:
            kinds = PRIOR_SOURCES[prior_name]
            regions = [region for region in self.regions if region.kind in kinds]
            drawn = self.fusion.draw(regions, self.image_size).astype(np.float32)
            given = self.given_priors.get(prior_name)
            if given is not None:
                drawn = np.maximum(drawn, np.clip(upsample_map(np.asarray(given, np.float32), self.image_size), 0, 1))
            self._rasters[key] = drawn
        return self._rasters[key]

    def at_size(self, size: tuple[int, int]) -> "EvidenceReport":
        """The report for the photo resized to `size`: regions scaled with it (their shapes are in pixels),
        nothing drawn for the old size carried over."""
        import dataclasses

        factor_y, factor_x = size[0] / self.image_size[0], size[1] / self.image_size[1]
        return dataclasses.replace(self, image_size=(int(size[0]), int(size[1])), _rasters={},
                                   regions=[region.scaled(factor_y, factor_x) for region in self.regions])

    # --------------------------------------------------------------------------------------- telling

    def hidden_regions(self, attribute_ids: Sequence[str]) -> list[dict[str, Any]]:
        """What a report lists for the attributes a plan hides: each supporting region (source "detector",
        with its provider and confidence), or each part of the model's mask (source "model", confidence the
        attribute's probability). Boxes in image pixels; never the pixels or any text."""
        listed: list[dict[str, Any]] = []
        for attribute_id in attribute_ids:
            anchor = self.stand_in(attribute_id)
            if anchor:
                listed += [{**entry, "attribute": attribute_id} for entry in self.hidden_regions([anchor])]
                continue
            regions = self.supporting(attribute_id)
            if regions or self.read(attribute_id):
                listed += [{**region.to_dict(), "attribute": attribute_id,
                            "source": READING if region.kind == READING else DETECTOR} for region in regions]
                continue
            source = SEGMENTATION if super().mask_source(attribute_id) == SEGMENTATION else MODEL
            listed += [{**entry, "source": source} for entry in super().hidden_regions([attribute_id])]
        return listed

    def to_dict(self) -> dict[str, Any]:
        summary = super().to_dict()
        summary["fusion"] = self.fusion.describe()
        if self.fused is not None and not self.fusion.paper:
            summary["evidence"] = {
                attribute_id: {
                    "model": round(float(self.fused.model_probabilities[k]), 4),
                    "detectors": round(float(self.fused.evidence[k]), 4),
                    "fused": round(float(self.probabilities[k]), 4),
                    **({"source": APPEARANCE_SOURCE} if attribute_id in self.fused.derived else {}),
                }
                for k, attribute_id in enumerate(self.attribute_ids)
                if attribute_id in self.fused.supports or attribute_id in self.fused.derived
            }
            summary["regions"] = [region.to_dict() for region in self.regions]
        return summary

