"""Text from RapidOCR (PP-OCRv4 detection, optionally recognition), on onnxruntime."""

from __future__ import annotations


import numpy as np

from ..base import PriorResult, ProviderUnavailable, register_provider
from ..geometry import fill_quads
from ._common import DownscalingProvider, package_version

NAME = "rapidocr"
EXTRA = "priors"


@register_provider(NAME)
class RapidOCRProvider(DownscalingProvider):
    """Text-line quads from PP-OCRv4's DB detector, filled into the mask; `read=True` also recognises them.

    The image is downscaled to `max_side` (never upscaled) and fed at that size (limit_type "max"): RapidOCR's
    default ("min" 736) would upscale every small image and slow each call down.
    """

    name = NAME
    kind = "text"

    def __init__(self, read: bool = False, max_side: int = 960, box_thresh: float = 0.5, unclip_ratio: float = 1.6):
        try:
            import cv2
            from rapidocr_onnxruntime import RapidOCR
        except (ImportError, OSError) as error:
            raise ProviderUnavailable(NAME, EXTRA, f"rapidocr_onnxruntime could not be imported: {error}") from error
        self._cv2 = cv2
        self.read, self.max_side = bool(read), int(max_side)
        self.box_thresh, self.unclip_ratio = float(box_thresh), float(unclip_ratio)
        self._engine = RapidOCR(
            intra_op_num_threads=2, inter_op_num_threads=1, det_limit_type="max", det_limit_side_len=self.max_side,
            det_box_thresh=self.box_thresh, det_unclip_ratio=self.unclip_ratio, max_side_len=max(self.max_side, 32),
        )
        package = package_version("rapidocr_onnxruntime", "rapidocr-onnxruntime")
        self.version = (
            f"rapidocr_onnxruntime-{package}/PP-OCRv4/r1/read={self.read}/max_side={self.max_side}"
            f"/box_thresh={self.box_thresh:g}/unclip={self.unclip_ratio:g}"
        )

    def find(self, small: np.ndarray, factor: float, height: int, width: int) -> PriorResult:
        bgr = self._cv2.cvtColor(small, self._cv2.COLOR_RGB2BGR)  # RapidOCR takes arrays as OpenCV BGR
        kwargs = dict(box_thresh=self.box_thresh, unclip_ratio=self.unclip_ratio, text_score=0.5)
        result, _elapsed = self._engine(bgr, use_det=True, use_cls=self.read, use_rec=self.read, **kwargs)
        if not result:
            return PriorResult.empty(height, width)
        quads, texts, scores = [], [], []
        for item in result:
            quad = item[0] if self.read else item
            quads.append(np.asarray(quad, dtype=np.float64).reshape(-1, 2) / factor)
            if self.read:
                texts.append(str(item[1]))
                scores.append(float(item[2]))
            else:
                scores.append(1.0)  # detection-only RapidOCR does not return box scores
        for quad in quads:
            quad[:, 0] = np.clip(quad[:, 0], 0, width)
            quad[:, 1] = np.clip(quad[:, 1], 0, height)
        boxes = [(float(q[:, 0].min()), float(q[:, 1].min()), float(q[:, 0].max()), float(q[:, 1].max())) for q in quads]
        return PriorResult(fill_quads((height, width), quads), boxes, scores, texts, quads)
