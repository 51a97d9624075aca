"""VISPR privacy attributes, their mask types, user profiles and privacy scores."""

from .profiles import UserProfiles, load_profiles, privacy_score, vispr_profiles
from .vocabulary import (
    Attribute,
    AttributeNotDetectedError,
    MaskType,
    UnknownAttributeError,
    Vocabulary,
    vispr_vocabulary,
    vocabulary_from_ids,
)

__all__ = [
    "Attribute",
    "AttributeNotDetectedError",
    "MaskType",
    "UnknownAttributeError",
    "UserProfiles",
    "Vocabulary",
    "load_profiles",
    "privacy_score",
    "vispr_profiles",
    "vispr_vocabulary",
    "vocabulary_from_ids",
]
