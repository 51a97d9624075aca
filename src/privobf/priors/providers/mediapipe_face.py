"""Faces from MediaPipe's BlazeFace full-range detector (model_selection=1: faces up to ~5 m away)."""

from __future__ import annotations

import numpy as np

from ..base import PriorResult, register_provider
from ._common import DownscalingProvider, box_result
from ._mediapipe import build_quietly, import_solution, mediapipe_version

NAME = "mediapipe-face"
EXTRA = "priors"


@register_provider(NAME)
class MediaPipeFaceProvider(DownscalingProvider):
    """Face boxes from MediaPipe face detection; mask = ellipses in the boxes grown 1.2x, like centerface.

    model_selection=1 (full range) because photos, unlike selfies, mostly show faces that are not close to
    the camera; the short-range model (0) only finds faces filling a good part of the frame.
    """

    name = NAME
    kind = "face"

    def __init__(self, min_confidence: float = 0.5, model_selection: int = 1, max_side: int = 1280, grow: float = 1.2):
        face_detection = import_solution(NAME, EXTRA, "face_detection")
        self.min_confidence, self.model_selection = float(min_confidence), int(model_selection)
        self.max_side, self.grow = int(max_side), float(grow)
        self._detect = build_quietly(lambda: face_detection.FaceDetection(
            model_selection=self.model_selection, min_detection_confidence=self.min_confidence))
        self.version = (
            f"mediapipe-{mediapipe_version()}/face_detection/r1/model={self.model_selection}"
            f"/min_confidence={self.min_confidence:g}/max_side={self.max_side}/grow={self.grow:g}"
        )

    def find(self, small: np.ndarray, factor: float, height: int, width: int) -> PriorResult:
        small_h, small_w = small.shape[:2]
        result = self._detect(np.ascontiguousarray(small))
        boxes, scores = [], []
        for detection in result.detections or []:
            rel = detection.location_data.relative_bounding_box
            x0, y0 = rel.xmin * small_w, rel.ymin * small_h
            boxes.append((x0, y0, x0 + rel.width * small_w, y0 + rel.height * small_h))
            scores.append(float(detection.score[0]) if detection.score else 0.0)
        return box_result(boxes, scores, factor, height, width, "ellipse", self.grow)
