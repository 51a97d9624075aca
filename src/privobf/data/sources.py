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


# Formats whose folders hold one set of images, without train / val splits.
WITHOUT_SPLITS = frozenset({"openalpr", "sroie"})


def open_dataset(name: str, root: Any, split: str) -> Dataset:
    """A real data set in its original layout under `root`; `split` is ignored by formats without splits."""
    return build_source(name, root=root) if name in WITHOUT_SPLITS else build_source(name, root=root, split=split)


def build_source(name: str, **options: Any) -> Dataset:
    """A dataset whose items have `image`, `labels` and optional priors / masks, and `vocabulary_ids`."""
    if name not in _SOURCES:
        raise ValueError(f"unknown data source {name!r}; available: {', '.join(list_sources())}")
    return _SOURCES[name](**options)


@register_source("synthetic")
def _synthetic(n: int = 1000, image_size: int = 448, seed: int = 0, backgrounds: Any = "auto", **options: Any) -> Dataset:
    from .synthetic import SyntheticScenes

    return SyntheticScenes(n, image_size=image_size, seed=seed, backgrounds=backgrounds, **options)


@register_source("vispr")
def _vispr(**options: Any) -> Dataset:
    from .vispr import VisprDataset

    return VisprDataset(**options)


@register_source("voc")
def _voc(**options: Any) -> Dataset:
    from .voc import VocDataset

    return VocDataset(**options)


@register_source("openalpr")
def _openalpr(root: Any = None, **options: Any) -> Dataset:
    from .openalpr import OpenAlprDataset

    return OpenAlprDataset(root, **options)


@register_source("sroie")
def _sroie(root: Any = None, fields: Any = ("address", "date"), **options: Any) -> Dataset:
    from .sroie import SroieDataset

    return SroieDataset(root, fields=tuple(fields), **options)


@register_source("coco")
def _coco(root: str, split: str = "val2017", class_map: dict[str, str] | None = None) -> Dataset:
    from .coco import CocoDataset

    return CocoDataset(root, split=split, class_map=class_map)


@register_source("yolo")
def _yolo(root: Any = None, split: str = "train2017", task: str = "detect", class_map: dict[str, str] | None = None) -> Dataset:
    from .roots import default_data_root
    from .yolo import YoloDataset

    return YoloDataset(root or default_data_root() / "coco128", split=split, task=task, class_map=class_map)


@register_source("privmini")
def _privmini(root: Any = None, split: str = "train") -> Dataset:
    from .privmini import PrivMini

    return PrivMini(root, split=split)
