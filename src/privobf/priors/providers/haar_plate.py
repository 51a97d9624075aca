"""Licence plates from OpenCV's Haar cascade for Russian plates, which also fires on EU-style plates."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..base import PriorResult, ProviderUnavailable, register_provider
from ._common import DownscalingProvider, box_result

NAME = "haar-plate"
EXTRA = "priors"
CASCADE = "haarcascade_russian_plate_number.xml"


@register_provider(NAME)
class HaarPlateProvider(DownscalingProvider):
    """Plate boxes from a Haar cascade on the grayscale image (fixed parameters, so deterministic).

    scaleFactor 1.1, minNeighbors 3: on the 108 OpenALPR EU photos (longer side <= 1280) a box with IoU > 0.3
    with the ground-truth plate was found in 96 images, with 143 boxes in all; minNeighbors 5 found 91 (116
    boxes), minNeighbors 2 found 98 (165 boxes), scaleFactor 1.05 found 99 (173 boxes) at twice the time.
    Scores are the cascade's level weights (not probabilities).
    """

    name = NAME
    kind = "plate"

    def __init__(self, scale_factor: float = 1.1, min_neighbors: int = 3, min_size: int = 12, max_side: int = 1280):
        try:
            import cv2
        except ImportError as error:
            raise ProviderUnavailable(NAME, EXTRA, f"opencv could not be imported: {error}") from error
        path = Path(cv2.data.haarcascades) / CASCADE
        if not path.is_file():
            raise ProviderUnavailable(NAME, EXTRA, f"cascade file {path} is missing")
        self._cv2 = cv2
        self._cascade = cv2.CascadeClassifier(str(path))
        if self._cascade.empty():
            raise ProviderUnavailable(NAME, EXTRA, f"cascade file {path} could not be loaded")
        self.scale_factor, self.min_neighbors = float(scale_factor), int(min_neighbors)
        self.min_size, self.max_side = int(min_size), int(max_side)
        self.version = (
            f"opencv-{cv2.__version__}/{CASCADE}/r1/scale_factor={self.scale_factor:g}"
            f"/min_neighbors={self.min_neighbors}/min_size={self.min_size}/max_side={self.max_side}"
        )

    def find(self, small: np.ndarray, factor: float, height: int, width: int) -> PriorResult:
        gray = self._cv2.cvtColor(small, self._cv2.COLOR_RGB2GRAY)
        found, _levels, weights = self._cascade.detectMultiScale3(
            gray, scaleFactor=self.scale_factor, minNeighbors=self.min_neighbors,
            minSize=(self.min_size, self.min_size), outputRejectLevels=True,
        )
        found = np.asarray(found, dtype=np.float64).reshape(-1, 4)
        weights = np.asarray(weights, dtype=np.float64).reshape(-1)
        order = np.lexsort((found[:, 0], found[:, 1]))  # top to bottom, left to right: a stable output order
        found, weights = found[order], weights[order] if len(weights) == len(found) else np.zeros(len(found))
        boxes = np.stack([found[:, 0], found[:, 1], found[:, 0] + found[:, 2], found[:, 1] + found[:, 3]], 1)
        return box_result(boxes, weights, factor, height, width, "box")
