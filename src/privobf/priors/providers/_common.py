"""What the built-in providers share: installed package versions (cache keys) and box results."""

from __future__ import annotations

import importlib.metadata
from typing import Sequence

import numpy as np

from ..base import PriorResult
from ..geometry import check_image, detection_image, fill_boxes, scale_boxes, too_small


def package_version(*distributions: str) -> str:
    """The installed version of the first of `distributions` found, else "unknown"."""
    for distribution in distributions:
        try:
            return importlib.metadata.version(distribution)
        except importlib.metadata.PackageNotFoundError:
            continue
    return "unknown"


def box_result(
    boxes: np.ndarray | Sequence,
    scores: Sequence[float],
    factor: float,
    height: int,
    width: int,
    shape: str = "box",
    grow: float = 1.0,
    texts: Sequence[str] = (),
) -> PriorResult:
    """Boxes found on the detection image (`factor` x the original) -> the original's mask and boxes."""
    mapped = scale_boxes(np.asarray(boxes, dtype=np.float64).reshape(-1, 4), factor, height, width)
    box_list = [tuple(float(v) for v in box) for box in mapped]
    mask = fill_boxes((height, width), box_list, shape, grow)
    return PriorResult(mask, box_list, [float(s) for s in scores], list(texts))


class DownscalingProvider:
    """The part of `__call__` every built-in provider shares: validate the input (a clear ValueError for
    anything but uint8 RGB), an empty mask for images too small to detect anything in, and a copy
    downscaled to `max_side` (None: as is) for the detector; subclasses implement `find`."""

    name: str
    max_side: int | None = None

    def __call__(self, image: np.ndarray) -> PriorResult:
        image = check_image(image, self.name)
        height, width = image.shape[:2]
        if too_small(image):
            return PriorResult.empty(height, width)
        small, factor = detection_image(image, self.max_side)
        return self.find(small, factor, height, width)

    def find(self, small: np.ndarray, factor: float, height: int, width: int) -> PriorResult:
        """`small` is the detection image (`factor` x the original of `height` x `width`)."""
        raise NotImplementedError
