"""Text lines read by PP-OCRv6 (RapidOCR 3.10, bundled small models, onnxruntime): quads, text and word boxes.

The reading provider of issue 18. Its detector gives the same kind of text-line quads as the PP-OCRv4
provider (`rapidocr`), so its mask is the text prior as before; with `read=True` it also recognises each line
and returns the words with their boxes, which `privobf.evidence.reading` hands to the recognisers. On 30
SROIE train receipts (`benchmarks/ocr_engines.py`) PP-OCRv6 read 0.769 of the lines exactly against 0.728 for
PP-OCRv4, and it keeps the spaces between words that PP-OCRv4 often drops ("JALAN SAGU 18", not
"JALANSAGU18"), which the address and name recognisers need. Detection alone costs what PP-OCRv4's does
(40-80 ms at 960 px on 2 cores); recognition runs only on detected lines (none on a photo without text).

Recognised text stays in memory: `PriorCache` never writes a result that carries text (privobf.priors.cache).
"""

from __future__ import annotations

import numpy as np

from ..base import PriorResult, ProviderUnavailable, register_provider
from ..geometry import fill_quads
from ._common import DownscalingProvider, package_version

NAME = "ppocr-v6"
EXTRA = "reading"


@register_provider(NAME)
class PPOCRv6Reader(DownscalingProvider):
    """Text-line quads (the mask), and with `read` each line's text, score and words with their quads.

    The image is downscaled to `max_side` (never upscaled) and fed at that size: RapidOCR's default (shortest
    side to 736) would upscale every small photo. The angle classifier is off: lines upside down are rare in
    photos people share and it costs a pass per line.
    """

    name = NAME
    kind = "text"

    def __init__(self, read: bool = True, max_side: int = 960, box_thresh: float = 0.5, unclip_ratio: float = 1.6,
                 text_score: float = 0.5):
        try:
            import cv2
            from rapidocr import RapidOCR
        except (ImportError, OSError) as error:
            raise ProviderUnavailable(NAME, EXTRA, f"rapidocr 3.10 could not be imported: {error}") from error
        self._cv2 = cv2
        self.read, self.max_side = bool(read), int(max_side)
        self.box_thresh, self.unclip_ratio, self.text_score = float(box_thresh), float(unclip_ratio), float(text_score)
        self._engine = RapidOCR(params={
            "Global.log_level": "critical", "Global.use_cls": False, "Global.text_score": self.text_score,
            "Global.max_side_len": max(self.max_side, 32), "Det.limit_type": "max", "Det.limit_side_len": self.max_side,
            "Det.box_thresh": self.box_thresh, "Det.unclip_ratio": self.unclip_ratio,
            "EngineConfig.onnxruntime.intra_op_num_threads": 2, "EngineConfig.onnxruntime.inter_op_num_threads": 1,
        })
        package = package_version("rapidocr")
        self.version = (
            f"rapidocr-{package}/PP-OCRv6-small/r1/read={self.read}/max_side={self.max_side}"
            f"/box_thresh={self.box_thresh:g}/unclip={self.unclip_ratio:g}/text_score={self.text_score:g}"
        )

    def find(self, small: np.ndarray, factor: float, height: int, width: int) -> PriorResult:
        bgr = self._cv2.cvtColor(small, self._cv2.COLOR_RGB2BGR)  # RapidOCR takes arrays as OpenCV BGR
        # RapidOCR keeps the switches of the last call: every call names all of them.
        output = self._engine(bgr, use_det=True, use_cls=False, use_rec=self.read, return_word_box=self.read,
                              box_thresh=self.box_thresh, unclip_ratio=self.unclip_ratio, text_score=self.text_score)
        if output.boxes is None or len(output.boxes) == 0:
            return PriorResult.empty(height, width)
        quads = [_clipped(np.asarray(quad, dtype=np.float64).reshape(-1, 2) / factor, height, width)
                 for quad in output.boxes]
        texts, scores, words = [], [1.0] * len(quads), []
        if self.read:
            texts = [str(text) for text in (output.txts or ())]
            scores = [float(score) for score in (output.scores or ())]
            words = [_words(line, factor, height, width) for line in (output.word_results or ())]
            if not (len(texts) == len(scores) == len(words) == len(quads)):  # RapidOCR drops lines it cannot read
                raise RuntimeError(f"RapidOCR returned {len(quads)} lines, {len(texts)} texts, {len(words)} word lists")
        boxes = [(float(q[:, 0].min()), float(q[:, 1].min()), float(q[:, 0].max()), float(q[:, 1].max())) for q in quads]
        return PriorResult(fill_quads((height, width), quads), boxes, scores, texts, quads, words)


def _clipped(quad: np.ndarray, height: int, width: int) -> np.ndarray:
    quad[:, 0] = np.clip(quad[:, 0], 0, width)
    quad[:, 1] = np.clip(quad[:, 1], 0, height)
    return quad


def _words(line, factor: float, height: int, width: int) -> list[tuple[str, np.ndarray]]:
    """One line's words as (text, quad in the photo's pixels); RapidOCR gives (text, score, box) per word."""
    words = []
    for item in line:
        text, box = str(item[0]), item[2] if len(item) > 2 else None
        if not text.strip() or box is None:
            continue
        words.append((text, _clipped(np.asarray(box, dtype=np.float64).reshape(-1, 2) / factor, height, width)))
    return words
