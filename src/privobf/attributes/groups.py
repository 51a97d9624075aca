"""Friendly names for sets of attributes, the words people use rather than VISPR's ids.

`--hide face,documents,text` should mean what a user thinks it means. VISPR's own groups
("Personal Description", "Whereabouts", ...) stay available through `Vocabulary.resolve`; these add
the everyday ones. Each group is defined by a rule over attributes, not a list of ids, so it also
works for vocabularies that hold only some VISPR attributes.
"""

from __future__ import annotations

from typing import Callable

from .vocabulary import Attribute, MaskType

AttributeRule = Callable[[Attribute], bool]


def _short_names(*names: str) -> AttributeRule:
    return lambda attribute: attribute.short_name in names


def is_text_attribute(attribute: Attribute) -> bool:
    """Attributes shown as writing: names, addresses, plates, e-mails, ... and whole documents.

    These default to solid fill: blurred or pixelated text can often be read back (by trying candidate
    strings through the same blur), so only a flat colour removes it for good.
    """
    return attribute.mask_type == MaskType.TEXT or attribute.group == "Documents"


FRIENDLY_GROUPS: dict[str, tuple[str, AttributeRule]] = {
    "face": ("complete and partial faces", _short_names("face_complete", "face_partial")),
    "faces": ("alias of face", _short_names("face_complete", "face_partial")),
    "people": ("everything shown on a person's body (faces, tattoos, nudity, ...)", lambda a: a.mask_type == MaskType.HUMAN),
    "nudity": ("semi and full nudity", _short_names("semi_nudity", "full_nudity")),
    "text": ("every attribute shown as writing, documents included", is_text_attribute),
    "names": ("full, first and last names", _short_names("name_full", "name_first", "name_last")),
    "addresses": ("home and current addresses, complete or partial", lambda a: "address" in a.short_name),
    "plates": ("complete and partial licence plates", _short_names("license_plate_complete", "license_plate_partial")),
    "license_plate": ("alias of plates", _short_names("license_plate_complete", "license_plate_partial")),
    "online": ("usernames, e-mails, online conversations", lambda a: a.group == "Internet"),
}


def friendly_group(attributes: "list[Attribute] | tuple[Attribute, ...]", name: str) -> list[str] | None:
    """Ids of `attributes` in the friendly group `name`, or None when `name` is not a friendly group."""
    entry = FRIENDLY_GROUPS.get(name)
    if entry is None:
        return None
    return [a.id for a in attributes if entry[1](a)]
