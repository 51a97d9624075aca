"""What to hide in a photo, decided once per run and applied to every report: the protection plan.

The CLI (flags and preferences file) and the web page (ticked boxes) both end in a `ProtectionPlan`,
so "which attributes, above which probability, hidden how" is decided in one place and reported the
same way everywhere. Text attributes (names, addresses, plates, documents) get `text_mode`, solid by
default, whatever the general mode: blurred or pixelated text can often be read back, so a user who
asks for `--mode blur` to keep faces pleasant does not silently get reversible text.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Iterable, Mapping

import numpy as np

from .attributes import Vocabulary
from .attributes.groups import is_text_attribute
from .obfuscation import OBFUSCATION_MODES, grow_region, obfuscate
from .report import PrivacyReport

if TYPE_CHECKING:
    from .imageio import LoadedImage

MASK_ONLY = "mask-only"  # write the mask of what would be hidden instead of a changed photo


def check_mode(mode: str, *, allow_mask_only: bool = True) -> str:
    """`mode` if it names a registered obfuscation mode (or mask-only); a ValueError listing them otherwise."""
    known = sorted(OBFUSCATION_MODES) + ([MASK_ONLY] if allow_mask_only else [])
    if mode not in known:
        import difflib

        close = difflib.get_close_matches(str(mode), known, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise ValueError(f"unknown mode {mode!r}{hint} (modes: {', '.join(known)})")
    return mode


@dataclass(frozen=True)
class AttributeChoice:
    """A per-attribute exception to the plan's defaults (from a preferences file)."""

    threshold: float | None = None
    mode: str | None = None


@dataclass(frozen=True)
class Decision:
    """One attribute the plan hides in one photo, and how: what a report says was done."""

    attribute: str
    probability: float
    threshold: float
    mode: str
    area: float  # fraction of the photo's pixels in the attribute's (grown) mask

    def to_dict(self) -> dict[str, Any]:
        return {
            "attribute": self.attribute,
            "probability": round(self.probability, 4),
            "threshold": self.threshold,
            "mode": self.mode,
            "area": round(self.area, 5),
        }


@dataclass(frozen=True)
class ProtectionPlan:
    """Which attributes to hide, above which probability, and how; ids of one model's vocabulary.

    hide: the attribute ids to consider; None means every attribute the model finds.
    threshold: probability from which an attribute counts as shown (None: the report's).
    force: hide the `hide` attributes even where the model thinks they are absent (their masks
        still come from the attention maps).
    """

    vocabulary: Vocabulary
    hide: tuple[str, ...] | None = None
    threshold: float | None = None
    mode: str = "solid"
    text_mode: str = "solid"
    strength: float | None = None
    dilate: int = 0
    force: bool = False
    overrides: Mapping[str, AttributeChoice] = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_mode(self.mode)
        check_mode(self.text_mode, allow_mask_only=False)
        for attribute_id, choice in self.overrides.items():
            self.vocabulary[attribute_id]  # raises a readable error for an id the model does not have
            if choice.mode is not None:
                check_mode(choice.mode, allow_mask_only=False)
        for attribute_id in self.hide or ():
            self.vocabulary[attribute_id]
        if self.threshold is not None and not 0.0 <= self.threshold <= 1.0:
            raise ValueError(f"threshold must be within [0, 1], got {self.threshold}")
        if self.dilate < 0:
            raise ValueError(f"dilate must be >= 0 pixels, got {self.dilate}")

    @property
    def mask_only(self) -> bool:
        return self.mode == MASK_ONLY

    def mode_for(self, attribute_id: str) -> str:
        """The attribute's own mode, else text_mode for text attributes, else the plan's mode."""
        choice = self.overrides.get(attribute_id)
        if choice is not None and choice.mode is not None:
            return choice.mode
        if is_text_attribute(self.vocabulary[attribute_id]):
            return self.text_mode
        return "solid" if self.mask_only else self.mode

    def threshold_for(self, attribute_id: str, report: PrivacyReport) -> float:
        choice = self.overrides.get(attribute_id)
        if choice is not None and choice.threshold is not None:
            return choice.threshold
        return report.attribute_threshold if self.threshold is None else self.threshold

    def decide(self, report: PrivacyReport) -> list[Decision]:
        """The attributes this plan hides in `report`'s photo, most likely first."""
        candidates: Iterable[str] = self.hide if self.hide is not None else report.attribute_ids
        decisions = []
        for attribute_id in candidates:
            if attribute_id == "a0_safe":
                continue
            probability = report.probability(attribute_id)
            threshold = self.threshold_for(attribute_id, report)
            if probability < threshold and not (self.force and self.hide is not None):
                continue
            area = float(self._region(report, [attribute_id]).mean())
            if area == 0.0:  # nothing to hide (e.g. --force on a photo without that attribute): not a decision
                continue
            decisions.append(Decision(attribute_id, probability, threshold, self.mode_for(attribute_id), area))
        return sorted(decisions, key=lambda d: -d.probability)

    def _region(self, report: PrivacyReport, attribute_ids: list[str]) -> np.ndarray:
        return grow_region(report.union_mask(attribute_ids), self.dilate)

    def mask(self, report: PrivacyReport, decisions: list[Decision] | None = None) -> np.ndarray:
        """bool [H, W]: every pixel the plan hides (what `--mode mask-only` writes)."""
        decisions = self.decide(report) if decisions is None else decisions
        return self._region(report, [d.attribute for d in decisions])

    def apply(self, pixels: np.ndarray, report: PrivacyReport, decisions: list[Decision] | None = None) -> np.ndarray:
        """A new image with the decided attributes hidden; pixels outside their masks are untouched."""
        decisions = self.decide(report) if decisions is None else decisions
        modes = {d.attribute: d.mode for d in decisions}
        return obfuscate(pixels, report, hide=list(modes), mode=modes, dilate=self.dilate, strength=self.strength)

    def describe(self) -> dict[str, Any]:
        """The plan as the reports record it."""
        return {
            "hide": "everything found" if self.hide is None else list(self.hide),
            "threshold": self.threshold,
            "mode": self.mode,
            "text_mode": self.text_mode,
            "strength": self.strength,
            "dilate": self.dilate,
            "force": self.force,
            "overrides": {k: {"threshold": v.threshold, "mode": v.mode} for k, v in self.overrides.items()},
        }


@dataclass(frozen=True)
class ProtectedImage:
    """What to write for one photo: the obfuscated pixels (or, for mask-only, the 0 / 255 mask) and the
    metadata that may travel with them."""

    pixels: np.ndarray
    exif: bytes | None  # None unless keep_metadata: then the technical tags only
    icc_profile: bytes | None  # kept for photos (it describes colours only); masks have none
    exif_removed: list[str]  # identifying tags removed from a kept EXIF; empty when none was kept


def protect(
    plan: ProtectionPlan,
    image: "LoadedImage",
    report: PrivacyReport,
    decisions: list[Decision] | None = None,
    *,
    keep_metadata: bool = False,
) -> ProtectedImage:
    """The plan applied to a loaded photo, with its metadata handled as privobf promises: no EXIF unless
    asked, and then never GPS, serials, names, comments, maker note or thumbnail. One place for the CLI
    and the web page, so both write the same file for the same choice."""
    from .metadata import identifying_exif_removed

    decisions = plan.decide(report) if decisions is None else decisions
    if plan.mask_only:
        return ProtectedImage(plan.mask(report, decisions).astype(np.uint8) * 255, None, None, [])
    exif, removed = identifying_exif_removed(image.exif) if keep_metadata else (None, [])
    return ProtectedImage(plan.apply(image.pixels, report, decisions), exif, image.icc_profile, removed)


def resolve_names(vocabulary: Vocabulary, names: Iterable[str]) -> tuple[str, ...]:
    """Ids for attribute ids, short names and groups, in vocabulary order, each once."""
    chosen = {attribute_id for name in names for attribute_id in vocabulary.resolve(name)}
    return tuple(attribute_id for attribute_id in vocabulary.ids if attribute_id in chosen)
