"""Which detector evidence speaks for which attribute, and which providers a protection plan needs.

The table (design decision 27, docs/design-decisions.md § Evidence fusion):

| attributes | evidence kinds | why |
|---|---|---|
| faces (`a9_face_complete`, `a10_face_partial`) | face | a face detector's box is the face |
| licence plates (`a103_…`, `a104_…`) | plate | a plate detector's box is the plate |
| nudity (`a12_semi_nudity`, `a13_full_nudity`) | nudity | NudeNet's exposed-body boxes (opt-in provider) |
| the person and every other Human-type attribute (`x1_person_body`, tattoos, age, gender, …) | person, face | they are shown on a person's body; a face is part of that body, and the segmenter misses small people whose face the face detector finds |
| Text-type and the rest | none yet | text is decided from what it says (reading, issue 18); the model's maps, weighted by the text prior, remain |

A provider runs when a requested attribute needs its kind as evidence, or as the prior that weights the
model's map of an attribute without evidence of its own (`PRIOR_KINDS`).
"""

from __future__ import annotations

from typing import Iterable, Mapping

from ..attributes import Vocabulary
from ..attributes.vocabulary import Attribute, MaskType

FACE_IDS = frozenset({"a9_face_complete", "a10_face_partial"})
PLATE_IDS = frozenset({"a103_license_plate_complete", "a104_license_plate_partial"})
NUDITY_IDS = frozenset({"a12_semi_nudity", "a13_full_nudity"})
# The kinds whose masks make the model's two priors (privobf.priors.prior_set): human and text.
PRIOR_KINDS = {MaskType.HUMAN: ("person", "face", "nudity"), MaskType.TEXT: ("text", "plate")}


def linked_kinds(attribute: Attribute) -> tuple[str, ...]:
    """The kinds of region that are evidence of `attribute` (empty: the model alone decides)."""
    if attribute.id in FACE_IDS:
        return ("face",)
    if attribute.id in PLATE_IDS:
        return ("plate",)
    if attribute.id in NUDITY_IDS:
        return ("nudity",)
    if attribute.mask_type == MaskType.HUMAN:
        return ("person", "face")
    return ()


def needed_kinds(attribute: Attribute) -> tuple[str, ...]:
    """Kinds a plan hiding `attribute` needs: its evidence, and the prior that weights its model map."""
    return tuple(dict.fromkeys((*linked_kinds(attribute), *PRIOR_KINDS.get(attribute.mask_type, ()))))


def providers_for(
    attribute_ids: Iterable[str] | None, vocabulary: Vocabulary, provider_kinds: Mapping[str, str]
) -> dict[str, list[str]]:
    """{provider: [attribute ids it runs for]} over the providers in `provider_kinds` (name -> kind).

    `attribute_ids` None means a full scan: every provider runs (for every attribute)."""
    if attribute_ids is None:
        return {name: ["every attribute (no --hide)"] for name in provider_kinds}
    reasons: dict[str, list[str]] = {}
    for attribute_id in attribute_ids:
        kinds = needed_kinds(vocabulary[attribute_id])
        for name, kind in provider_kinds.items():
            if kind in kinds:
                reasons.setdefault(name, []).append(attribute_id)
    return {name: reasons[name] for name in provider_kinds if name in reasons}
