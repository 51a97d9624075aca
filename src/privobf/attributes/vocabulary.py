"""The attribute vocabulary: VISPR's 68 privacy attributes (plus any extension ids).

A model's outputs are indexed by a :class:`Vocabulary`, and a checkpoint stores the ids
it was trained with, so a checkpoint can never be read against another vocabulary by
accident (see :meth:`Vocabulary.check_compatible`).
"""

from __future__ import annotations

import csv
import difflib
import enum
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Iterable, Sequence

import numpy as np


class MaskType(str, enum.Enum):
    """Which off-the-shelf prior weights an attribute's attention map (paper §3.2, Table 1)."""

    UNMASKED = "unmasked"
    HUMAN = "human"
    TEXT = "text"


@dataclass(frozen=True)
class Attribute:
    index: int
    id: str
    group: str
    description: str
    mask_type: MaskType
    mask_type_reason: str

    @property
    def short_name(self) -> str:
        """`a9_face_complete` -> `face_complete`: the id without its VISPR number."""
        return self.id.split("_", 1)[1] if "_" in self.id else self.id


class UnknownAttributeError(KeyError):
    """An attribute id or name that the vocabulary does not have."""

    def __str__(self) -> str:  # KeyError quotes its message; we want a readable sentence.
        return str(self.args[0])


class AttributeNotDetectedError(UnknownAttributeError):
    """A real VISPR attribute (or group) that this model was not trained to detect: not a typo, so the
    message says what would detect it and what covers it meanwhile."""


class Vocabulary:
    """An ordered set of attributes; position i is output channel i of a model."""

    def __init__(self, attributes: Sequence[Attribute], name: str):
        self.name = name
        self.attributes = tuple(attributes)
        self._by_id = {a.id: a for a in self.attributes}
        if len(self._by_id) != len(self.attributes):
            raise ValueError(f"vocabulary {name!r} has duplicated attribute ids")

    def __len__(self) -> int:
        return len(self.attributes)

    def __iter__(self):
        return iter(self.attributes)

    def __contains__(self, attribute_id: object) -> bool:
        return attribute_id in self._by_id

    @property
    def ids(self) -> list[str]:
        return [a.id for a in self.attributes]

    def __getitem__(self, attribute_id: str) -> Attribute:
        try:
            return self._by_id[attribute_id]
        except KeyError:
            raise UnknownAttributeError(self.unknown_message(attribute_id)) from None

    def index(self, attribute_id: str) -> int:
        return self[attribute_id].index

    def unknown_message(self, name: str) -> str:
        close = difflib.get_close_matches(name.strip().lower(), self.names(), n=1, cutoff=0.6)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        return f"unknown attribute {name!r} in vocabulary {self.name!r}{hint}"

    def resolve(self, name: str) -> list[str]:
        """Ids named by `name`: an id, a short name (`face_complete`), a VISPR group (`documents`), a friendly
        group (`face`, `text`, `plates`: `privobf.attributes.groups`) or `all`."""
        key = name.strip()
        if key in self._by_id:
            return [key]
        lowered = key.lower().replace("-", "_").replace(" ", "_")
        if lowered == "all":
            return [a.id for a in self if a.id != "a0_safe"]
        by_short = [a.id for a in self if a.short_name == lowered]
        if by_short:
            return by_short
        by_group = [a.id for a in self if a.group.lower().replace(" ", "_") == lowered]
        if by_group:
            return by_group
        from .groups import friendly_group

        friendly = friendly_group(self.attributes, lowered)
        if friendly:
            return friendly
        wanted = _known_elsewhere(name) if self.name != FULL_VOCABULARY else []
        if wanted:
            raise AttributeNotDetectedError(self.not_detected_message(name, wanted))
        raise UnknownAttributeError(self.unknown_message(name))

    def not_detected_message(self, name: str, wanted: list[str]) -> str:
        """`name` is VISPR's, not this model's: say so, what would detect it, and what covers it meanwhile."""
        shown = ", ".join(wanted[:4]) + (f", … ({len(wanted)} attributes)" if len(wanted) > 4 else "")
        message = (f"this model does not detect {name.strip()!r} ({shown}): only a model trained on photos labelled "
                   "with it does (a VISPR-trained model, see docs/recipes.md)")
        covers = []
        full = {a.id: a for a in _full_vocabulary()}
        types = {full[attribute_id].mask_type for attribute_id in wanted if attribute_id in full}
        groups = {full[attribute_id].group for attribute_id in wanted if attribute_id in full}
        if MaskType.HUMAN in types and friendly_group_ids(self.attributes, "people"):
            covers.append("--hide people hides the whole person it is shown on")
        if (MaskType.TEXT in types or groups & {"Documents", "Internet"}) and friendly_group_ids(self.attributes, "text"):
            covers.append("--hide text hides the writing the model finds")
        return message + ("; meanwhile " + " and ".join(covers) if covers else "")

    def names(self) -> list[str]:
        """Every name `resolve` accepts: ids, short names, VISPR groups, friendly groups and `all`."""
        from .groups import FRIENDLY_GROUPS

        groups = {a.group.lower().replace(" ", "_") for a in self}
        return self.ids + [a.short_name for a in self] + sorted(groups) + sorted(FRIENDLY_GROUPS) + ["all"]

    def encode(self, attribute_ids: Iterable[str]) -> np.ndarray:
        """A multi-hot float32 vector of length len(self)."""
        vector = np.zeros(len(self), dtype=np.float32)
        for attribute_id in attribute_ids:
            vector[self.index(attribute_id)] = 1.0
        return vector

    def decode(self, vector: np.ndarray, threshold: float = 0.5) -> list[str]:
        return [self.attributes[i].id for i in np.flatnonzero(np.asarray(vector) >= threshold)]

    def mask_type_indices(self, mask_type: MaskType) -> list[int]:
        return [a.index for a in self if a.mask_type == mask_type]

    def subset(self, attribute_ids: Sequence[str], name: str) -> "Vocabulary":
        """A smaller vocabulary (re-indexed) over `attribute_ids`, e.g. the attributes a data set has."""
        chosen = [self[i] for i in attribute_ids]
        return Vocabulary(
            [Attribute(k, a.id, a.group, a.description, a.mask_type, a.mask_type_reason) for k, a in enumerate(chosen)],
            name,
        )

    def check_compatible(self, ids: Sequence[str], source: str) -> None:
        """Raise a clear error if `ids` (e.g. from a checkpoint) are not this vocabulary's ids in order."""
        if list(ids) != self.ids:
            missing = sorted(set(self.ids) - set(ids))[:5]
            extra = sorted(set(ids) - set(self.ids))[:5]
            raise ValueError(
                f"{source}: attribute vocabulary differs from {self.name!r} "
                f"({len(ids)} vs {len(self)} attributes; missing {missing}, extra {extra})"
            )


def _read_tsv(name: str) -> list[list[str]]:
    text = resources.files("privobf.attributes").joinpath("resources", name).read_text(encoding="utf-8")
    return [row for row in csv.reader(text.splitlines(), delimiter="\t") if row]


@lru_cache(maxsize=None)
def vispr_vocabulary() -> Vocabulary:
    """The 68 VISPR attributes in the order of the VISPR release (`idx` column)."""
    rows = _read_tsv("vispr_attributes.tsv")[1:]
    mask_rows = {row[0]: row for row in _read_tsv("mask_types.tsv")[1:]}
    attributes = []
    for idx, attribute_id, group, description in rows:
        _, mask_type, reason = mask_rows[attribute_id]
        attributes.append(Attribute(int(idx), attribute_id, group, description, MaskType(mask_type), reason))
    return Vocabulary(attributes, "vispr68")


FULL_VOCABULARY = "VISPR+extensions"


@lru_cache(maxsize=1)
def _full_vocabulary() -> Vocabulary:
    """All 68 VISPR attributes and privobf's extensions: what a name may mean in any model."""
    return vocabulary_from_ids(vispr_vocabulary().ids + [a.id for a in extension_attributes()], FULL_VOCABULARY)


def _known_elsewhere(name: str) -> list[str]:
    try:
        return _full_vocabulary().resolve(name)
    except UnknownAttributeError:
        return []


def friendly_group_ids(attributes, name: str) -> list[str]:
    from .groups import friendly_group

    return friendly_group(attributes, name) or []


def vocabulary_from_ids(ids: Sequence[str], name: str = "custom") -> Vocabulary:
    """A vocabulary for `ids`; VISPR ids keep their metadata, other ids become unmasked extensions.

    Extension ids (e.g. `x1_person_body` for data sets with whole-person masks) are how users
    train on label sets VISPR does not have.
    """
    known = {a.id: a for a in vispr_vocabulary()} | {a.id: a for a in extension_attributes()}
    attributes = []
    for k, attribute_id in enumerate(ids):
        if attribute_id in known:
            a = known[attribute_id]
            attributes.append(Attribute(k, a.id, a.group, a.description, a.mask_type, a.mask_type_reason))
        else:
            attributes.append(
                Attribute(k, attribute_id, "Extension", attribute_id, MaskType.UNMASKED, "user extension id")
            )
    return Vocabulary(attributes, name)


@lru_cache(maxsize=None)
def extension_attributes() -> tuple[Attribute, ...]:
    """Attributes privobf adds where VISPR has none (ids start with `x`), e.g. `x1_person_body`."""
    rows = _read_tsv("extensions.tsv")[1:]
    return tuple(
        Attribute(-1, attribute_id, group, description, MaskType(mask_type), reason)
        for attribute_id, group, description, mask_type, reason in rows
    )
