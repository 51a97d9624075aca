"""Appearance attributes from VISPR's label statistics: what a visible face tells about a person (issue 19, source 1).

VISPR's annotators mark a person's gender, skin colour, race, hair colour and approximate age on nearly every
photo where a face is visible (`benchmarks/appearance_statistics.py` computes it from the train labels into
`appearance.json`: P(gender | face) = 0.98, P(age | face) = 0.88, …). The embedded model is not trained on
VISPR's images and has no output for them, so for an attribute A it lacks:

    P(A) = q_A * P(face)        q_A = P(A | a face label) on VISPR train, P(face) = the fused face probability

P(A | no face label) (0.02–0.05 on train) is left out: without a face the person, if any, is hidden as the
person attribute, and VISPR has no person label to condition on. The mask is the face, or the face and the
person's silhouette, as the attribute shows (`SHOWN_ON`): eye colour shows on the face, weight on the body.
The attribute's source in reports is "label statistics"; a model trained on VISPR (docs/recipes.md) predicts
these attributes itself and this table is then not used for them.
"""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources
from typing import Iterable, Mapping

from .links import FACE_IDS

SOURCE = "label statistics"
ANCHOR = "a9_face_complete"  # whose mask stands in where no detector region supports the attribute
# Where each attribute shows, and so what its mask is: the face alone, or the face and the whole person.
SHOWN_ON: Mapping[str, tuple[str, ...]] = {
    "a1_age_approx": ("face",),
    "a5_eye_color": ("face",),
    "a16_race": ("face",),
    "a4_gender": ("face", "person"),
    "a6_hair_color": ("face", "person"),
    "a17_color": ("face", "person"),
    "a2_weight_approx": ("face", "person"),
    "a3_height_approx": ("face", "person"),
}


@lru_cache(maxsize=1)
def statistics_document() -> dict:
    text = resources.files("privobf.evidence").joinpath("appearance.json").read_text(encoding="utf-8")
    return json.loads(text)


def given_face() -> dict[str, float]:
    """{attribute id: P(attribute | a face label) on VISPR train} for the attributes of `SHOWN_ON`."""
    attributes = statistics_document()["attributes"]
    return {attribute: float(attributes[attribute]["given_face"]) for attribute in SHOWN_ON if attribute in attributes}


def derived_attributes(model_ids: Iterable[str]) -> dict[str, float]:
    """The appearance attributes a model lacks, with their q: what label statistics add to a scanner of it.
    Empty for a model that knows no face attribute (no anchor to derive from)."""
    known = set(model_ids)
    if not known & FACE_IDS:
        return {}
    return {attribute: q for attribute, q in given_face().items() if attribute not in known}
