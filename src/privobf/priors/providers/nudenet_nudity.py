"""Exposed intimate body parts from NudeNet's 320n detector (YOLOv8n, ONNX), decoded here in numpy.

Off by default: the licence of the weights is unclear. Only the model *file* of the `nudenet` package is used.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..base import PriorResult, ProviderUnavailable, onnx_session, register_provider
from ..geometry import nms
from ._common import DownscalingProvider, box_result, package_version, packaged_model_file

NAME = "nudenet"
EXTRA = "nudity"
INPUT_SIZE = 320

# Output channel order of 320n.onnx after the 4 box coordinates (the label list of nudenet 3.4).
LABELS = (
    "FEMALE_GENITALIA_COVERED", "FACE_FEMALE", "BUTTOCKS_EXPOSED", "FEMALE_BREAST_EXPOSED",
    "FEMALE_GENITALIA_EXPOSED", "MALE_BREAST_EXPOSED", "ANUS_EXPOSED", "FEET_EXPOSED", "BELLY_COVERED",
    "FEET_COVERED", "ARMPITS_COVERED", "ARMPITS_EXPOSED", "FACE_MALE", "BELLY_EXPOSED", "MALE_GENITALIA_EXPOSED",
    "ANUS_COVERED", "FEMALE_BREAST_COVERED", "BUTTOCKS_COVERED",
)
# Nudity in the privacy sense: exposed intimate parts only. Exposed feet, bellies, armpits and male chests
# are everyday beachwear/sport content and covered parts are not nudity, so they are left out by default.
EXPOSED_CLASSES = (
    "BUTTOCKS_EXPOSED", "FEMALE_BREAST_EXPOSED", "FEMALE_GENITALIA_EXPOSED", "MALE_GENITALIA_EXPOSED", "ANUS_EXPOSED",
)


def _model_path() -> Path:
    return packaged_model_file(NAME, EXTRA, "nudenet", "320n.onnx")


@register_provider(NAME)
class NudeNetProvider(DownscalingProvider):
    """Boxes of exposed intimate body parts (EXPOSED_CLASSES unless `classes` is given), filled into the mask."""

    name = NAME
    kind = "nudity"

    def __init__(self, threshold: float = 0.3, nms_iou: float = 0.45, classes: tuple[str, ...] | None = None):
        classes = tuple(EXPOSED_CLASSES if classes is None else classes)
        unknown = sorted(set(classes) - set(LABELS))
        if unknown:
            raise ValueError(f"unknown NudeNet classes {unknown}; known: {', '.join(LABELS)}")
        self.threshold, self.nms_iou, self.classes = float(threshold), float(nms_iou), classes
        self._class_index = np.array([LABELS.index(c) for c in classes], dtype=np.int64)
        path = _model_path()
        self._session = onnx_session(str(path), NAME, EXTRA)
        self._input = self._session.get_inputs()[0].name
        try:
            import cv2
        except ImportError as error:
            raise ProviderUnavailable(NAME, EXTRA, f"opencv could not be imported: {error}") from error
        self._cv2 = cv2
        package = package_version("nudenet")
        self.version = (
            f"nudenet-{package}/320n/r1/threshold={self.threshold:g}/nms={self.nms_iou:g}/classes={','.join(sorted(classes))}"
        )

    def find(self, image: np.ndarray, factor: float, height: int, width: int) -> PriorResult:
        # max_side is None: `image` is the input itself (factor 1). Letterbox like NudeNet: pad bottom/right to a square, resize to 320, RGB in [0, 1].
        side = max(height, width)
        factor = INPUT_SIZE / side
        new_w, new_h = max(1, int(round(width * factor))), max(1, int(round(height * factor)))
        interpolation = self._cv2.INTER_AREA if factor < 1 else self._cv2.INTER_LINEAR
        resized = self._cv2.resize(image, (new_w, new_h), interpolation=interpolation)
        blob = np.zeros((1, 3, INPUT_SIZE, INPUT_SIZE), dtype=np.float32)
        blob[0, :, :new_h, :new_w] = resized.transpose(2, 0, 1).astype(np.float32) / 255.0
        output = self._session.run(None, {self._input: blob})[0][0]  # [4 + classes, anchors]
        class_scores = output[4:][self._class_index]  # [wanted classes, anchors]
        best = class_scores.argmax(0)
        scores = class_scores[best, np.arange(class_scores.shape[1])].astype(np.float64)
        keep = scores >= self.threshold
        if not keep.any():
            return PriorResult.empty(height, width)
        cx, cy, bw, bh = (output[i, keep].astype(np.float64) / factor for i in range(4))
        boxes = np.stack([cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2], 1)
        boxes[:, 0::2] = np.clip(boxes[:, 0::2], 0, width)
        boxes[:, 1::2] = np.clip(boxes[:, 1::2], 0, height)
        scores, labels = scores[keep], best[keep]
        kept = []
        for label in np.unique(labels):  # per-class NMS
            members = np.nonzero(labels == label)[0]
            kept.extend(members[nms(boxes[members], scores[members], self.nms_iou)].tolist())
        kept = sorted(kept, key=lambda i: (-scores[i], i))
        return box_result(boxes[kept], scores[kept], 1.0, height, width, "box",
                          texts=[self.classes[labels[i]] for i in kept])
