"""The combination rule: the classifier and the detectors linked to an attribute decide together.

For attribute k with model probability p_k and linked regions r (`links.linked_kinds`):

    e_k = max over r of precision(provider(r), confidence(r))      # how often such a detection is real
          (over the regions at or above their drawing floor, decision 50)
    fused_k = 1 - (1 - p_k) * (1 - e_k)                              # noisy-OR of two sources of evidence

so a face CenterFace finds at 0.9 (precision ~0.95 on the calibration photos) is present whatever the
classifier says, a photo where no detector fires keeps the classifier's probability unchanged, and two
weak sources add up. A person silhouette on which a detected face lies counts with that face's precision
(the face says it is a person, not a shadow or a coat on a chair). `precision` is a step function per provider, measured on calibration data only
(`benchmarks/calibrate_evidence.py`, resource `calibration.json`): the share of its detections at or above
each confidence that match a human-labelled instance. A provider without a calibration counts its own
confidence clipped to [0, 1].

Text attributes a recogniser reports (`links.readable_ids`) are decided by reading, where a reading provider
read the photo (design decision 37): the model's probability counts at `model_weight_read` (0.5) in the
noisy-OR, so the model alone cannot make a text attribute present, a recogniser's finding can, and a weak
finding with a confident model adds up; the attribute's mask is the found words' shapes, and nothing when
none was found (never the model's blob). A reading region is evidence of its own attribute only.
Documents and screens (a card number, a passport's machine-readable zone, a chat) are the exception: what
is read there is evidence in the noisy-OR at full model weight, and the mask is the read words joined with
the model's map (the document's look), decision 42; but where reading read `legible_lines` lines or more and
none of them says the type, the model counts at `model_weight_read` (a textbook page the model took for a
receipt at 0.89, decision 51).

The masks of attributes with regions are the shapes of those regions whose precision reaches the kind's
drawing floor (`draw_floor`: below it a region is too often not the thing to black out, or to count as
evidence of it: design decision 50), grown by the
margins here; the others keep
the model's map, weighted by the full-resolution prior (`report.EvidenceReport`). `mode="paper"` turns all
of this off: presence is the classifier's, masks are its prior-weighted maps at map resolution, as
PrivObfNet does.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import Any, Mapping, Sequence

import numpy as np

from ..attributes import Vocabulary
from .layouts import is_layout
from .links import READING, decided_by_look_too, linked_kinds
from .plates import SUFFIX as PLATE_TEXT_SUFFIX
from .plates import is_plate_line, superseded
from .regions import Region

FUSION_MODES = ("evidence", "paper")


@lru_cache(maxsize=1)
def _calibration_document() -> dict[str, Any]:
    text = resources.files("privobf.evidence").joinpath("calibration.json").read_text(encoding="utf-8")
    return json.loads(text)


def shipped_calibration() -> dict[str, tuple[tuple[float, float], ...]]:
    """provider -> ((minimum confidence, precision), ...) ascending, from the packaged calibration.json."""
    return {name: tuple((float(step[0]), float(step[1])) for step in entry["steps"])
            for name, entry in _calibration_document()["providers"].items()}


def calibrated_shape(name: str, fallback: Any) -> Any:
    """A shape setting (face_grow, ...) chosen by benchmarks/calibrate_evidence.py, else `fallback`."""
    return _calibration_document().get("shapes", {}).get(name, fallback)


@dataclass(frozen=True)
class FusionConfig:
    """How detector evidence and the model combine (module docstring). Margins are measured choices,
    documented in docs/design-decisions.md (§ Evidence fusion) with the calibration runs behind them."""

    mode: str = "evidence"
    # A face mask is the detector box grown this much (its width face_grow, its height face_height_grow:
    # face detectors' boxes are narrower than the faces people mark, ears and hair included), drawn as an
    # ellipse inscribed in it or as the box.
    face_shape: str = field(default_factory=lambda: calibrated_shape("face_shape", "ellipse"))
    face_grow: float = field(default_factory=lambda: calibrated_shape("face_grow", 1.35))
    face_height_grow: float = field(default_factory=lambda: calibrated_shape("face_height_grow", 1.35))
    plate_grow: float = field(default_factory=lambda: calibrated_shape("plate_grow", 1.2))  # the frame, the screws
    # A plate-shaped text line is drawn as its box grown this much (privobf.evidence.plates).
    plate_text_grow: float = field(default_factory=lambda: calibrated_shape("plate_text_grow", 1.3))
    text_grow: float = 1.0
    # Found words are drawn as their rotated rectangle dilated by this share of the text's height (OCR word
    # boxes stop at the ink's edge; accents and descenders stick out).
    reading_margin: float = 0.25
    # Where reading decides a text attribute, the classifier's probability counts this much (module docstring).
    model_weight_read: float = 0.5
    # A document or screen the model sees on a photo where reading read at least this many lines, none of
    # them saying that type, counts at model_weight_read too (design decision 51).
    legible_lines: int = 5
    nudity_grow: float = 1.1
    # Silhouettes dilated by this share of the image diagonal (hair, edges the segmenter leaves out).
    person_margin: float = field(default_factory=lambda: calibrated_shape("person_margin", 0.004))
    # Regions less precise than this (per kind, or per provider where one is named) are neither drawn into
    # masks nor counted as evidence (design decision 50); they stay listed as the attribute's supports.
    draw_floor: Mapping[str, float] = field(default_factory=lambda: calibrated_shape("draw_floor", {}))
    calibration: Mapping[str, Sequence[tuple[float, float]]] | None = None  # None: the shipped one

    def __post_init__(self) -> None:
        if self.mode not in FUSION_MODES:
            raise ValueError(f"unknown fusion {self.mode!r}; choose one of {', '.join(FUSION_MODES)}")
        if self.face_shape not in ("ellipse", "box"):
            raise ValueError(f"face_shape must be 'ellipse' or 'box', got {self.face_shape!r}")
        for name in ("reading_margin", "model_weight_read"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be within [0, 1], got {getattr(self, name)}")
        for name in ("face_grow", "face_height_grow", "plate_grow", "plate_text_grow", "text_grow", "nudity_grow"):
            if not 0.5 <= getattr(self, name) <= 4.0:
                raise ValueError(f"{name} must be within [0.5, 4], got {getattr(self, name)}")

    @property
    def paper(self) -> bool:
        return self.mode == "paper"

    def grow(self, region: Region) -> float | tuple[float, float]:
        """How much a box-shaped region is grown when drawn (about its centre; a pair: width, height)."""
        if region.provider.endswith(PLATE_TEXT_SUFFIX):
            return self.plate_text_grow
        return {"face": (self.face_grow, self.face_height_grow), "plate": self.plate_grow, "text": self.text_grow,
                "nudity": self.nudity_grow}.get(region.kind, 1.0)

    def shape(self, region: Region) -> str | None:
        """The shape a box-shaped region is drawn as (None: its own)."""
        return self.face_shape if region.kind == "face" else None

    def margin(self, region: Region, size: tuple[int, int]) -> int:
        """Pixels a silhouette or polygon is dilated by when drawn."""
        if region.kind == "person":
            return int(round(self.person_margin * float(np.hypot(*size))))
        if region.kind == READING and region.polygon is not None and not is_layout(region):
            sides = np.linalg.norm(np.diff(np.vstack([region.polygon, region.polygon[:1]]), axis=0), axis=1)
            return max(2, int(round(self.reading_margin * float(sides.min()))))
        return 0

    def draw(self, regions: Sequence[Region], size: tuple[int, int]) -> np.ndarray:
        """bool [H, W]: the regions drawn with these shapes and margins."""
        drawn = np.zeros(size, dtype=bool)
        for region in regions:
            drawn |= region.raster(size, self.grow(region), self.margin(region, size), self.shape(region))
        return drawn

    def floor(self, region: Region) -> float:
        """The drawing floor of a region: its provider's (e.g. "haar-plate@no-text") if set, else its kind's."""
        return float(self.draw_floor.get(region.provider, self.draw_floor.get(region.kind, 0.0)))

    def precision(self, region: Region) -> float:
        """How likely a region of this provider at this confidence is a real instance."""
        steps = (self.calibration if self.calibration is not None else shipped_calibration()).get(region.provider)
        if steps is None:
            return float(np.clip(region.confidence, 0.0, 1.0))
        if not steps:
            return float(np.clip(region.confidence, 0.0, 1.0))
        chosen = steps[0][1]  # below the lowest confidence calibrated: like the lowest block (it passed the
        for step in steps:    # provider's own threshold, so it is evidence, not nothing)
            if region.confidence >= step[0]:  # step: (minimum confidence, precision[, detections behind it])
                chosen = step[1]
        return chosen

    def describe(self) -> dict[str, Any]:
        return {"mode": self.mode, "face_shape": self.face_shape, "face_grow": self.face_grow,
                "face_height_grow": self.face_height_grow,
                "plate_grow": self.plate_grow, "plate_text_grow": self.plate_text_grow,
                "person_margin": self.person_margin, "reading_margin": self.reading_margin,
                "model_weight_read": self.model_weight_read, "legible_lines": self.legible_lines,
                "draw_floor": dict(self.draw_floor)}


@dataclass
class Fused:
    """One image's fusion: fused probabilities, the detector evidence behind them, and each attribute's
    supporting regions (indices into the image's region list)."""

    probabilities: np.ndarray  # float32 [K]
    model_probabilities: np.ndarray  # float32 [K], the classifier's
    evidence: np.ndarray  # float32 [K], e_k (0 where no linked region)
    supports: dict[str, list[int]] = field(default_factory=dict)
    precisions: list[float] = field(default_factory=list)  # per region: how likely it is real
    drawn: dict[str, list[int]] = field(default_factory=dict)  # the supports whose shapes make the mask
    read: frozenset[str] = frozenset()  # attributes decided by reading: their mask is their words', if any
    joined: frozenset[str] = frozenset()  # documents read on: their mask is the words and the model's map
    derived: frozenset[str] = frozenset()  # appearance attributes from label statistics: P(A | face) x P(face)


def fuse(probabilities: np.ndarray, regions: Sequence[Region], vocabulary: Vocabulary, config: FusionConfig,
         read: bool = False, derived: Mapping[str, float] | None = None, read_lines: int = 0) -> Fused:
    """The rule of the module docstring for one image; `read`: a reading provider read it (`read_lines`
    lines); `derived`: the
    appearance attributes the model lacks, with P(attribute | face) (`appearance`), given the face's fused
    probability times that, and the face and person regions they show on."""
    model = np.asarray(probabilities, dtype=np.float32)
    evidence = np.zeros_like(model)
    supports: dict[str, list[int]] = {}
    if config.paper:
        return Fused(model.copy(), model, evidence, supports)
    precisions = region_precisions(regions, config)
    drawn: dict[str, list[int]] = {}
    weights = np.ones_like(model)  # how much the classifier counts in the noisy-OR
    decided, joined = set(), set()
    for attribute in vocabulary:
        kinds = linked_kinds(attribute)
        if not kinds or attribute.id == "a0_safe":
            continue
        if READING in kinds:
            if not read:
                continue
            if decided_by_look_too(attribute.id):  # a document or a screen is decided by its look too (decisions 42, 51)
                joined.add(attribute.id)
            else:
                decided.add(attribute.id)
                weights[attribute.index] = config.model_weight_read
        linked = [index for index, region in enumerate(regions)
                  if region.kind in kinds and region.attribute in (None, attribute.id)]
        if attribute.id in joined and not linked and read_lines >= config.legible_lines:
            weights[attribute.index] = config.model_weight_read  # the page's words were read, none of this type's
        if not linked:
            continue
        supports[attribute.id] = linked
        above = [k for k in linked if precisions[k] >= config.floor(regions[k])]
        evidence[attribute.index] = max((precisions[index] for index in above), default=0.0)
        lines = [regions[k] for k in above if is_plate_line(regions[k])]
        drawn[attribute.id] = [k for k in above if not (regions[k].kind == "plate" and superseded(regions[k], regions, lines))]
    fused = 1.0 - (1.0 - model * weights) * (1.0 - evidence)
    derived = {a: q for a, q in (derived or {}).items() if a in vocabulary}
    if derived:
        _derive_appearance(derived, vocabulary, regions, fused, evidence, supports, drawn)
    if "a0_safe" in vocabulary:  # a photo with a real face is not safe, whatever the classifier thought
        safe = vocabulary.index("a0_safe")
        fused[safe] = model[safe] * float(np.prod(1.0 - evidence[np.arange(len(model)) != safe]))
    return Fused(fused.astype(np.float32), model, evidence, supports, precisions, drawn, frozenset(decided),
                 frozenset(joined), frozenset(derived))


def _derive_appearance(derived: Mapping[str, float], vocabulary: Vocabulary, regions: Sequence[Region],
                       fused: np.ndarray, evidence: np.ndarray, supports: dict[str, list[int]],
                       drawn: dict[str, list[int]]) -> None:
    """P(A) = q_A x P(face) for each derived attribute (in place); its regions: the faces, and the people
    too where it shows on the body (`appearance.SHOWN_ON`)."""
    from .appearance import SHOWN_ON
    from .links import FACE_IDS

    faces = [vocabulary.index(a) for a in sorted(FACE_IDS) if a in vocabulary]
    if not faces:
        return
    face = float(max(fused[k] for k in faces))
    face_evidence = float(max(evidence[k] for k in faces))
    for attribute_id, q in derived.items():
        k = vocabulary.index(attribute_id)
        fused[k] = q * face
        evidence[k] = q * face_evidence
        kinds = SHOWN_ON.get(attribute_id, ("face",))
        supports[attribute_id] = [j for j in supports.get(attribute_id, []) if regions[j].kind in kinds]
        drawn[attribute_id] = [j for j in drawn.get(attribute_id, []) if regions[j].kind in kinds]
        if not supports[attribute_id]:
            del supports[attribute_id], drawn[attribute_id]


def region_precisions(regions: Sequence[Region], config: FusionConfig) -> list[float]:
    """Each region's calibrated precision, where another detector agrees: a silhouette a detected face lies on
    takes the face's precision if higher; a plate-shaped text line inside a cascade's plate box is two
    detectors agreeing on one plate (noisy-OR of both), where alone it is weak (most plate-shaped lines in
    photos are not plates)."""
    from .people import contains_a_face
    from .plates import inside_a_box, is_plate_line

    precisions = [config.precision(region) for region in regions]
    faces = [(k, region) for k, region in enumerate(regions) if region.kind == "face"]
    boxes = [(k, region) for k, region in enumerate(regions) if region.kind == "plate" and not is_plate_line(region)]
    confirmed = list(precisions)
    for k, region in enumerate(regions):
        if region.kind == "person" and faces:
            confirming = [precisions[j] for j, face in faces if contains_a_face(region, [face])]
            if confirming:
                confirmed[k] = max(precisions[k], max(confirming))
        elif is_plate_line(region) and boxes:
            agreeing = [precisions[j] for j, box in boxes if inside_a_box(region, box)]
            if agreeing:
                confirmed[k] = 1.0 - (1.0 - precisions[k]) * (1.0 - max(agreeing))
    return confirmed
