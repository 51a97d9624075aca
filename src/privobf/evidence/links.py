"""Which detector evidence speaks for which attribute, and which providers a protection plan needs.

The table (design decision 27, docs/design-decisions.md § Evidence fusion):

| attributes | evidence kinds | why |
|---|---|---|
| faces (`a9_face_complete`, `a10_face_partial`) | face | a face detector's box is the face |
| licence plates (`a103_…`, `a104_…`) | plate | a plate detector's box is the plate |
| nudity (`a12_semi_nudity`, `a13_full_nudity`) | nudity | NudeNet's exposed-body boxes (opt-in provider) |
| the person and every other Human-type attribute (`x1_person_body`, tattoos, age, gender, …) | person, face | they are shown on a person's body; a face is part of that body, and the segmenter misses small people whose face the face detector finds |
| every attribute a text recogniser reports (names, birth date, phone, e-mail, username, addresses, date / time, card and ID numbers; `privobf.reading`) | reading | what the words say decides, and the words are the mask (design decision 37) |
| documents and screens the page's lines say together (passport, ID card, licence, student card, letter or envelope, receipt, ticket, e-mail, chat, medicine label, court papers; `privobf.reading.layouts`) | reading, with the model's look at full weight (`decided_by_look_too`) | the whole page is the mask (design decisions 46, 51) |
| the rest | none | the model's maps, weighted by their prior at full resolution |

A provider runs when a requested attribute needs its kind as evidence, or as the prior that weights the
model's map of an attribute without evidence of its own (`PRIOR_KINDS`). Reading is done by a text provider
that can read (`ppocr-v6`): it reads only when some requested attribute is linked to "reading".
"""

from __future__ import annotations

from functools import lru_cache
from typing import Iterable, Mapping

from ..attributes import Vocabulary
from ..attributes.vocabulary import Attribute, MaskType

FACE_IDS = frozenset({"a9_face_complete", "a10_face_partial"})
PLATE_IDS = frozenset({"a103_license_plate_complete", "a104_license_plate_partial"})
NUDITY_IDS = frozenset({"a12_semi_nudity", "a13_full_nudity"})
# The kinds whose masks make the model's two priors (privobf.priors.prior_set): human and text.
PRIOR_KINDS = {MaskType.HUMAN: ("person", "face", "nudity"), MaskType.TEXT: ("text", "plate")}
READING = "reading"
DOCUMENTS = "Documents"  # the VISPR group whose attributes reading supports but does not decide alone
# The providers' kinds each evidence kind comes from, where they differ: the recognisers read a text provider's lines.
PROVIDED_BY = {READING: "text"}
SCREENS = frozenset({"a97_online_conversation", "a92_email_content"})  # screens: like documents, their look counts


@lru_cache(maxsize=1)
def page_ids() -> frozenset[str]:
    """VISPR's documents and the two screens: what a photo shows as a whole page."""
    from ..attributes.vocabulary import vispr_vocabulary

    return frozenset(a.id for a in vispr_vocabulary() if a.group == DOCUMENTS) | SCREENS


def decided_by_look_too(attribute_id: str) -> bool:
    """Documents and screens: a model that sees the page's look counts at full weight beside reading
    (design decisions 42 and 51), where for other text attributes reading decides (decision 37)."""
    return attribute_id in page_ids()


@lru_cache(maxsize=1)
def readable_ids() -> frozenset[str]:
    """Attributes the text recognisers and the page layouts report, plates excepted (a plate is its plate
    box, read or not)."""
    from ..reading import readable_attributes
    from ..reading.layouts import layout_attributes

    return (frozenset(readable_attributes()) | frozenset(layout_attributes())) - PLATE_IDS


def linked_kinds(attribute: Attribute) -> tuple[str, ...]:
    """The kinds of region that are evidence of `attribute` (empty: the model alone decides)."""
    if attribute.id in FACE_IDS:
        return ("face",)
    if attribute.id in PLATE_IDS:
        return ("plate",)
    if attribute.id in NUDITY_IDS:
        return ("nudity",)
    if attribute.id in readable_ids():
        return (READING,)
    if attribute.mask_type == MaskType.HUMAN:
        return ("person", "face")
    return ()


def needed_kinds(attribute: Attribute) -> tuple[str, ...]:
    """Kinds a plan hiding `attribute` needs: its evidence, and the prior that weights its model map."""
    linked = tuple(PROVIDED_BY.get(kind, kind) for kind in linked_kinds(attribute))
    return tuple(dict.fromkeys((*linked, *PRIOR_KINDS.get(attribute.mask_type, ()))))


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
