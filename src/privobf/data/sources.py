"""Training and evaluation data by name: one registry, so readers for new formats plug in the same way."""

from __future__ import annotations

from typing import Any, Callable

from torch.utils.data import Dataset

_SOURCES: dict[str, Callable[..., Dataset]] = {}


def register_source(name: str) -> Callable:
    def decorator(factory: Callable[..., Dataset]) -> Callable[..., Dataset]:
        _SOURCES[name] = factory
        return factory

    return decorator


def list_sources() -> list[str]:
    return sorted(_SOURCES)


def build_source(name: str, **options: Any) -> Dataset:
    """A dataset whose items have `image`, `labels` and optional priors / masks, and `vocabulary_ids`."""
    if name not in _SOURCES:
        raise ValueError(f"unknown data source {name!r}; available: {', '.join(list_sources())}")
    return _SOURCES[name](**options)


@register_source("synthetic")
def _synthetic(n: int = 1000, image_size: int = 448, seed: int = 0, backgrounds: Any = "auto", **options: Any) -> Dataset:
    from .synthetic import SyntheticScenes

    return SyntheticScenes(n, image_size=image_size, seed=seed, backgrounds=backgrounds, **options)
