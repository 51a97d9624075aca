"""Off-the-shelf masks of people, text, faces, plates and nudity that PrivObfNet weights its maps with."""

from .base import PRIOR_KINDS, PriorProvider, PriorResult, ProviderUnavailable, create_provider, list_providers, register_provider
from .cache import PriorCache, image_key
from .prior_set import DEFAULT_PROVIDERS, PriorMaps, PriorSet

__all__ = [
    "DEFAULT_PROVIDERS", "PRIOR_KINDS", "PriorCache", "PriorMaps", "PriorProvider", "PriorResult", "PriorSet",
    "ProviderUnavailable", "create_provider", "image_key", "list_providers", "register_provider",
]
