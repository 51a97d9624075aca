"""The per-image artefact every stage reads and writes: one map per present class on the working grid."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np
import torch

from ..report import upsample_maps


@dataclass
class Localisation:
    """Maps of an image's classes in [0, 1] (seeds: max-normalised per class).

    classes: the attribute / class ids the maps are for, normally the image-level labels (pseudo
    labels never invent a class the image does not have). maps: float32 [len(classes), h, w] on the
    working grid (`CamModel.grid_size`). image_size: the photo's (H, W), so any stage can go to full
    resolution. background: a background score map on the grid, for stages that propagate one (PSA's
    (1 - max CAM)^alpha through the random walk); None means "a constant background plane", the
    threshold of :meth:`label_map`. extra: what a stage keeps beside the maps (e.g. timings).
    """

    classes: list[str]
    maps: np.ndarray
    image_size: tuple[int, int]
    background: np.ndarray | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.maps = np.asarray(self.maps, dtype=np.float32)
        if self.maps.ndim != 3 or self.maps.shape[0] != len(self.classes):
            raise ValueError(f"maps must be [{len(self.classes)}, h, w] for classes {self.classes}, got {self.maps.shape}")
        self.image_size = (int(self.image_size[0]), int(self.image_size[1]))
        if self.background is not None:
            self.background = np.asarray(self.background, dtype=np.float32)
            if self.background.shape != self.maps.shape[1:]:
                raise ValueError(f"background must be {self.maps.shape[1:]}, got {self.background.shape}")

    @property
    def grid(self) -> tuple[int, int]:
        return int(self.maps.shape[1]), int(self.maps.shape[2])

    def upsampled(self, size: tuple[int, int] | None = None) -> np.ndarray:
        """float32 [K, H, W]: bilinear (align_corners=False) to `size`, default the photo's size."""
        size = tuple(size or self.image_size)
        if not self.classes:
            return np.zeros((0, *size), dtype=np.float32)
        return upsample_maps(self.maps, size).copy()

    def label_map(self, background: float, size: tuple[int, int] | None = None) -> np.ndarray:
        """Exclusive labels the WSSS way: argmax over [background; maps], 0 is background, k + 1 is
        `classes[k]`. The background is this localisation's own map if it has one, else the constant
        plane `background`."""
        maps = self.upsampled(size)
        if self.background is not None:
            plane = upsample_maps(self.background[None], maps.shape[1:])
        else:
            plane = np.full((1, *maps.shape[1:]), background, dtype=np.float32)
        return np.concatenate([plane, maps]).argmax(0).astype(np.int64)

    def masks(self, threshold: float, size: tuple[int, int] | None = None) -> np.ndarray:
        """bool [K, H, W] per-class masks (classes may overlap): a map at or above `threshold`, or, when
        this localisation has its own background map, above that background."""
        maps = self.upsampled(size)
        if self.background is not None:
            return maps > upsample_maps(self.background[None], maps.shape[1:])
        return maps >= threshold

    def on_vocabulary(self, attribute_ids: Sequence[str], size: tuple[int, int] | None = None) -> np.ndarray:
        """float32 [len(attribute_ids), H, W] with zeros for classes this image has no map of (evaluators)."""
        maps = self.upsampled(size)
        full = np.zeros((len(attribute_ids), *maps.shape[1:]), dtype=np.float32)
        for row, attribute_id in enumerate(self.classes):
            if attribute_id in attribute_ids:
                full[list(attribute_ids).index(attribute_id)] = maps[row]
        return full


def max_normalise(maps: torch.Tensor, eps: float = 1e-5) -> torch.Tensor:
    """Each class map [K, h, w] divided by its spatial max (CAM eq. 2.1); an all-zero map stays zero."""
    maxima = maps.flatten(1).max(dim=1).values.clamp(min=eps)
    return maps / maxima[:, None, None]
