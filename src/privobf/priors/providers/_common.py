"""What the built-in providers share: installed package versions (cache keys) and box results."""

from __future__ import annotations

import importlib.metadata
from typing import Sequence

import numpy as np

from ..base import PriorResult
from ..geometry import fill_boxes, scale_boxes


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
