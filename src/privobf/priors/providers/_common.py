"""What the built-in providers share: installed package versions (cache keys) and box results."""

from __future__ import annotations

import importlib.metadata
import importlib.util
from pathlib import Path
from typing import Sequence

import numpy as np

from ..base import PriorResult, ProviderUnavailable
from ..geometry import check_image, detection_image, fill_boxes, scale_boxes, too_small


def package_version(*distributions: str) -> str:
    """The installed version of the first of `distributions` found, else "unknown"."""
    for distribution in distributions:
        try:
            return importlib.metadata.version(distribution)
        except importlib.metadata.PackageNotFoundError:
            continue
    return "unknown"


def packaged_model_file(provider: str, extra: str, package: str, filename: str) -> Path:
    """A model file shipped inside an installed package (no import of the package itself, no download)."""
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError) as error:
        raise ProviderUnavailable(provider, extra, f"the {package} package is not installed: {error}") from error
    if spec is None or not spec.submodule_search_locations:
        raise ProviderUnavailable(provider, extra, f"the {package} package (which ships {filename}) is not installed")
    path = Path(next(iter(spec.submodule_search_locations))) / filename
    if not path.is_file():
        raise ProviderUnavailable(provider, extra, f"model file {path} is missing")
    return path


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
