"""`privobf train-detector | bbam`: BBAM's box detector and its box-driven pseudo masks as commands.

BBAM (dissertation §5.3, `privobf.refine.bbam`) turns the boxes of a training set into pixel pseudo
labels by asking a box detector which part of the image it needs. These commands put it in the mask
pipeline: `train-detector` trains the detector on a data set's boxes, `bbam` writes a
"pseudo-labels" stage folder (BBAM's own ternary labels: object / background / ignore band) that
`privobf train-seg` trains on and `privobf evaluate-maps` scores, resumable like every stage folder.

Boxes: a format's annotated boxes where it has them (OpenALPR, PrivMini, SROIE, VOC, COCO, YOLO);
for data with pixel masks but no boxes (synthetic scenes) the bounding box of every connected part
of a mask, which is the box an annotator would draw around each visible instance. `--boxes
detections` runs the detector itself on a dense grid of anchors instead (it has no proposal network)
and keeps the image's own labelled classes above a score threshold.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator, Mapping, Sequence

import numpy as np

if TYPE_CHECKING:
    import torch

from .commands import add_data_options, add_stage_arguments, finish_stage, load_data, parse_options, progress_printer, run_guarded

Box = tuple[float, float, float, float]
BOX_SOURCES = ("annotations", "detections")
MIN_MASK_PART_PIXELS = 16  # smaller mask fragments get no box (the synthetic scenes' own visibility floor)


# ----------------------------------------------------------------------------------------- boxes


def mask_boxes(mask: np.ndarray, min_pixels: int = MIN_MASK_PART_PIXELS) -> list[Box]:
    """Bounding boxes (x0, y0, x1, y1; x1 / y1 exclusive) of the 8-connected parts of a bool mask
    with at least `min_pixels` pixels, largest first."""
    import cv2

    count, _, stats, _ = cv2.connectedComponentsWithStats(np.asarray(mask, dtype=np.uint8), connectivity=8)
    parts = [stats[k] for k in range(1, count) if stats[k][cv2.CC_STAT_AREA] >= min_pixels]
    parts.sort(key=lambda s: -int(s[cv2.CC_STAT_AREA]))
    return [(float(s[0]), float(s[1]), float(s[0] + s[2]), float(s[1] + s[3])) for s in parts]


def annotation_boxes(sample: Any, classes: Sequence[str]) -> tuple[dict[str, list[Box]], str]:
    """The boxes of `classes` in a data item and where they came from ("annotations" or "mask-derived").

    A format with boxes is used as is, even when it has masks too; otherwise boxes come from the masks."""
    annotated = getattr(sample, "boxes", None) or {}
    if annotated:
        boxes = {c: [tuple(float(v) for v in box) for box in annotated.get(c, [])] for c in classes}
        return {c: b for c, b in boxes.items() if b}, "annotations"
    masks = getattr(sample, "masks", None) or {}
    boxes = {c: mask_boxes(masks[c]) for c in classes if c in masks}
    return {c: b for c, b in boxes.items() if b}, "mask-derived"


def scale_boxes(boxes: Mapping[str, Sequence[Box]], scale_x: float, scale_y: float) -> dict[str, list[Box]]:
    return {c: [(b[0] * scale_x, b[1] * scale_y, b[2] * scale_x, b[3] * scale_y) for b in bs] for c, bs in boxes.items()}


def box_count(boxes: Mapping[str, Sequence[Box]]) -> int:
    return sum(len(b) for b in boxes.values())


# ------------------------------------------------------------------------------------- detection


@dataclass
class DetectionConfig:
    """How `--boxes detections` finds boxes with a detector that has no proposal network: score a
    dense grid of anchors (sizes as fractions of the detector input's long side, aspect ratios as
    height / width, centres every `anchor_step` of the anchor size), regress them, keep a class's
    boxes at p >= score_threshold, then greedy non-maximum suppression."""

    score_threshold: float = 0.5
    nms_iou: float = 0.5
    max_detections: int = 20  # per class and image
    anchor_fractions: tuple[float, ...] = (0.0625, 0.125, 0.25, 0.5)
    aspect_ratios: tuple[float, ...] = (0.25, 0.5, 1.0, 2.0)  # 0.25: plates and text lines are wide
    anchor_step: float = 0.5
    min_anchor_side: float = 8.0  # px of detector input: smaller anchors pool less than a feature cell
    chunk: int = 256  # anchors per head pass (RoIAlign memory)


@dataclass
class Detection:
    class_id: str
    box: Box  # photo pixels
    score: float


def anchor_boxes(height: int, width: int, config: DetectionConfig) -> torch.Tensor:
    """[N, 4] anchors (x0, y0, x1, y1) clipped to a height x width image; degenerate ones dropped."""
    import torch

    rows = []
    long_side = max(height, width)
    for fraction in config.anchor_fractions:
        side = fraction * long_side
        if side < config.min_anchor_side:
            continue
        step = max(1.0, side * config.anchor_step)
        centres_x = torch.arange(step / 2, width, step)
        centres_y = torch.arange(step / 2, height, step)
        cy, cx = torch.meshgrid(centres_y, centres_x, indexing="ij")
        for ratio in config.aspect_ratios:
            half_w, half_h = side / ratio**0.5 / 2, side * ratio**0.5 / 2  # area side^2, h / w = ratio
            rows.append(torch.stack((cx - half_w, cy - half_h, cx + half_w, cy + half_h), dim=-1).reshape(-1, 4))
    anchors = torch.cat(rows) if rows else torch.zeros(0, 4)
    anchors[:, 0::2] = anchors[:, 0::2].clamp(0, width)
    anchors[:, 1::2] = anchors[:, 1::2].clamp(0, height)
    keep = ((anchors[:, 2] - anchors[:, 0]) >= 2) & ((anchors[:, 3] - anchors[:, 1]) >= 2)
    return anchors[keep]


def non_maximum_suppression(boxes: torch.Tensor, scores: torch.Tensor, iou_threshold: float) -> list[int]:
    """Indices of the boxes greedy NMS keeps, best score first."""
    from .detector import box_iou

    if len(boxes) == 0:
        return []
    order = scores.argsort(descending=True)
    overlaps = box_iou(boxes[order], boxes[order])
    suppressed = np.zeros(len(order), dtype=bool)
    keep = []
    for rank in range(len(order)):
        if suppressed[rank]:
            continue
        keep.append(int(order[rank]))
        suppressed |= (overlaps[rank] > iou_threshold).numpy()
    return keep


def detect_boxes(detector, pixels: np.ndarray, classes: Sequence[str], config: DetectionConfig) -> list[Detection]:
    """Detections of `classes` (those the detector knows) in a photo, in photo pixels."""
    import torch

    known = [c for c in classes if c in detector.classes]
    if not known:
        return []
    image, scale = detector.prepare(pixels)
    height, width = image.shape[-2:]
    anchors = anchor_boxes(height, width, config).to(image.device)
    if len(anchors) == 0:
        return []
    probabilities, deltas = [], []
    with torch.no_grad():
        features = detector.backbone(image)
        for chunk in anchors.split(config.chunk):
            logits, chunk_deltas = detector.box_head(detector.roi_align(features, [chunk.to(features.dtype)]))
            probabilities.append(logits.softmax(dim=1))
            deltas.append(chunk_deltas)
    probabilities, deltas = torch.cat(probabilities).cpu(), torch.cat(deltas).cpu()
    anchors = anchors.cpu()
    found = []
    for class_id in known:
        index = detector.class_index(class_id)
        scores = probabilities[:, index + 1]
        rows = (scores >= config.score_threshold).nonzero(as_tuple=True)[0]
        rows = rows[scores[rows].argsort(descending=True)[: 50 * config.max_detections]]  # bounds NMS's N x N
        boxes = detector.decode_boxes(anchors[rows], deltas[rows, index])
        boxes[:, 0::2] = boxes[:, 0::2].clamp(0, width)
        boxes[:, 1::2] = boxes[:, 1::2].clamp(0, height)
        for kept in non_maximum_suppression(boxes, scores[rows], config.nms_iou)[: config.max_detections]:
            x0, y0, x1, y1 = (float(v) / scale for v in boxes[kept])
            if x1 - x0 >= 1 and y1 - y0 >= 1:
                found.append(Detection(class_id, (x0, y0, x1, y1), float(scores[rows][kept])))
    return found


# --------------------------------------------------------------------------------- train-detector


@dataclass
class DetectorTrainingSummary:
    """What `train-detector` did: read by `finish_stage` (exit 1 when an image failed) and saved beside the checkpoint."""

    checkpoint: str
    data: str
    classes: list[str]
    images_used: int = 0
    boxes: int = 0
    skipped_without_boxes: int = 0
    box_source: dict[str, int] = field(default_factory=dict)
    failed: list[tuple[str, str]] = field(default_factory=list)
    steps: int = 0
    first_losses: list[float] = field(default_factory=list)
    last_losses: list[float] = field(default_factory=list)
    seconds: float = 0.0
    config: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["failed"] = [{"image": image, "reason": reason} for image, reason in self.failed]
        return data


def resize_to_long_side(pixels: np.ndarray, boxes: Mapping[str, Sequence[Box]], long_side: int):
    """The photo at the detector's input size and its boxes scaled alike: the detector resizes every
    photo to this size anyway, and keeping only that copy bounds the memory of a training set."""
    from .pseudo_labels import resize_image

    height, width = pixels.shape[:2]
    scale = long_side / max(height, width)
    size = (max(1, round(height * scale)), max(1, round(width * scale)))
    if size == (height, width):
        return pixels, {c: list(b) for c, b in boxes.items()}
    return resize_image(pixels, size), scale_boxes(boxes, size[1] / width, size[0] / height)


def detector_samples(dataset: Sequence[Any], attribute_ids: Sequence[str], long_side: int,
                     summary: DetectorTrainingSummary) -> list[tuple[np.ndarray, dict[str, list[Box]]]]:
    """(photo at the detector size, boxes) of every readable image with boxes; the rest counted in `summary`."""
    from .pipeline import pipeline_items

    failures: list = []
    samples = []
    for item in pipeline_items(dataset, attribute_ids, use_priors=False, failures=failures):
        try:
            boxes, source = annotation_boxes(item.sample, item.classes)
            if not boxes:
                summary.skipped_without_boxes += 1
                continue
            pixels = np.asarray(item.pixels)
            if pixels.ndim != 3 or pixels.shape[2] != 3 or pixels.dtype != np.uint8:
                raise ValueError(f"expected uint8 pixels [H, W, 3], got {pixels.dtype} {pixels.shape}")
            samples.append(resize_to_long_side(pixels, boxes, long_side))
        except (ValueError, OSError) as error:
            failures.append((item.image_id, f"{type(error).__name__}: {error}"))
            continue
        summary.box_source[source] = summary.box_source.get(source, 0) + 1
        summary.boxes += box_count(boxes)
    summary.images_used = len(samples)
    summary.failed = failures
    return samples


def _vocabulary(model_path: str | None) -> tuple[list[str], dict[str, Any]]:
    """The attribute ids of the image model (the vocabulary every stage folder uses) and where they came from."""
    from ..models.loading import load_image_model

    model = load_image_model(model_path)
    source = getattr(model, "source", {}) or {}
    return list(model.attribute_ids), {"model": source.get("sha256") or source.get("path") or "in-memory"}


def command_train_detector(args: argparse.Namespace) -> int:
    from .attribution import config_from_options
    from .detector import DetectorConfig, save_detector, train_detector
    from .pipeline import SAFE_LABEL

    config = config_from_options(DetectorConfig, parse_options(args.option))
    out = Path(args.out)
    if out.suffix != ".safetensors":
        raise ValueError(f"--out {out}: a detector checkpoint must end in .safetensors")
    attribute_ids, _ = _vocabulary(args.model)
    dataset, description = load_data(args)
    summary = DetectorTrainingSummary(str(out), description, [], config=dataclasses.asdict(config))
    samples = detector_samples(dataset, attribute_ids, config.image_long_side, summary)
    if not samples:
        raise ValueError(f"no readable image of {description} has boxes of the model's attributes; "
                         f"{summary.skipped_without_boxes} without boxes, {len(summary.failed)} unreadable")
    present = {class_id for _, boxes in samples for class_id in boxes}
    # The model's order, so a detector trained on any data names its classes the same way.
    summary.classes = [c for c in attribute_ids if c in present and c != SAFE_LABEL]
    losses: list[float] = []

    def report(step: dict) -> None:
        losses.append(float(step["loss"]))
        if not args.no_progress and step["step"] % 10 == 0:
            print(f"privobf train-detector: {json.dumps(step)}", file=sys.stderr)

    started = time.perf_counter()
    detector = train_detector(samples, summary.classes, config, progress=report)
    summary.seconds = round(time.perf_counter() - started, 2)
    summary.steps = len(losses)
    summary.first_losses, summary.last_losses = losses[:5], losses[-5:]
    save_detector(out, detector)
    from ..atomic import atomic_write

    text = json.dumps(summary.to_dict(), indent=2, sort_keys=True, default=str)
    atomic_write(summary_path(out), lambda path: path.write_text(text))
    return finish_stage(summary, "train-detector")


def summary_path(checkpoint: Path) -> Path:
    """DET.safetensors -> DET.summary.json, beside it."""
    return checkpoint.with_name(checkpoint.stem + ".summary.json")


# ------------------------------------------------------------------------------------------ bbam


@dataclass
class FoundBoxes:
    """The boxes BBAM explains in one photo (photo pixels), where they came from, and detection scores."""

    boxes: dict[str, list[Box]]
    source: str
    scores: dict[str, list[float]] | None = None


def image_seed(seed: int, image_id: str) -> int:
    """A per-image seed, so an image's masks do not depend on which images ran before it (resume)."""
    return (seed * 1_000_003 + zlib.crc32(image_id.encode())) % (2**63)


def image_pseudo_labels(detector, pixels: np.ndarray, found: FoundBoxes, labelled: Sequence[str],
                        attribute_ids: Sequence[str], kind: str, config, max_side: int, generator,
                        crf) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """BBAM pseudo labels of one photo at `label_size(photo, max_side)`, as a pseudo-labels folder stores them.

    A box of a class the detector does not know, or without positive proposals, gets BBAM's fallback
    (the box as a foreground prior, shaped by the CRF). A labelled class without any box has no
    evidence of where it is: multilabel gives it an all-ignore row, exclusive ignores what would
    otherwise be background."""
    from .bbam import IGNORE, bbam_attribution, bbam_masks, bbam_pseudo_label, box_region
    from .pseudo_labels import label_size, resize_image

    height, width = pixels.shape[:2]
    size = label_size((height, width), max_side)
    image = resize_image(pixels, size) if size != (height, width) else pixels
    boxes = scale_boxes(found.boxes, size[1] / width, size[0] / height)
    classes = [c for c in attribute_ids if c in boxes]
    maps: dict[str, list[np.ndarray | None]] = {}
    positives: dict[str, list[int]] = {}
    attribution = np.zeros((len(classes), *size), dtype=np.float32)
    for row, class_id in enumerate(classes):
        maps[class_id], positives[class_id] = [], []
        for box in boxes[class_id]:
            result = None
            if class_id in detector.classes:
                result = bbam_attribution(detector, image, box, class_id, config, generator)
            maps[class_id].append(None if result is None else result.attribution)
            positives[class_id].append(0 if result is None else result.positives)
            if result is not None:
                inside = np.where(box_region(box, size), result.attribution, 0.0)
                attribution[row] = np.maximum(attribution[row], inside)
    without_boxes = [c for c in labelled if c not in boxes]
    if kind == "exclusive":
        labels, _ = bbam_pseudo_label(image, boxes, maps, classes, config, crf)
        if without_boxes:
            labels[labels == 0] = IGNORE
    else:
        masks = bbam_masks(image, boxes, maps, config, crf)
        rows = [masks[c] for c in classes] + [np.full(size, IGNORE, np.uint8) for _ in without_boxes]
        labels = np.stack(rows) if rows else np.zeros((0, *size), np.uint8)
        classes = classes + without_boxes
    meta = {
        "classes": classes, "kind": kind, "image_size": [height, width], "label_size": list(size),
        "boxes": {c: [[round(v, 2) for v in box] for box in b] for c, b in found.boxes.items()},
        "box_source": found.source, "positives": positives,
        "fallback_boxes": sum(1 for counts in positives.values() for n in counts if n == 0),
        "classes_without_boxes": without_boxes,
    }
    if found.scores is not None:
        meta["scores"] = found.scores
    return {"labels": labels, "attribution": attribution.astype(np.float16)}, meta


def boxed_items(items: Iterator[Any], store, find, found: dict[str, FoundBoxes], counts: dict[str, Any],
                failures: list) -> Iterator[Any]:
    """The items BBAM has work for: finished ones pass through (the stage counts them as resumed),
    the rest get their boxes in `found`; images without any box are counted and left out."""
    for item in items:
        if store.has(item.image_id):
            yield item
            continue
        started = time.perf_counter()
        try:
            boxes = find(item)
        except (ValueError, RuntimeError, OSError) as error:
            failures.append((item.image_id, f"{type(error).__name__}: {error}"))
            continue
        counts["box_seconds"] += time.perf_counter() - started
        if not boxes.boxes:
            counts["skipped_without_boxes"] += 1
            continue
        counts["boxes"] += box_count(boxes.boxes)
        counts["box_source"][boxes.source] = counts["box_source"].get(boxes.source, 0) + 1
        found[item.image_id] = boxes
        yield item


def command_bbam(args: argparse.Namespace) -> int:
    import torch

    from ..checkpoint import file_digest
    from .attribution import config_from_options
    from .bbam import BbamConfig, default_crf
    from .detector import load_detector
    from .pipeline import manifest_for, pipeline_items, run_stage
    from .store import StageStore

    config = config_from_options(BbamConfig, parse_options(args.option))
    if args.detect_option and args.boxes != "detections":
        raise ValueError("--detect-option only applies with --boxes detections")
    detection = config_from_options(DetectionConfig, parse_options(args.detect_option)) if args.boxes == "detections" else None
    if args.max_side < 32:
        raise ValueError(f"--max-side {args.max_side} is too small (at least 32)")
    detector = load_detector(args.detector, args.device)
    attribute_ids, model_input = _vocabulary(args.model)
    dataset, description = load_data(args)
    store = StageStore.create(args.out, manifest_for("pseudo-labels", {
        "method": "bbam", "kind": args.kind, "boxes": args.boxes, "max_side": args.max_side, "seed": args.seed,
        "bbam": dataclasses.asdict(config), "detection": None if detection is None else dataclasses.asdict(detection),
    }, {"detector": file_digest(args.detector), "detector_classes": detector.classes, **model_input,
        "data": description}), args.resume)
    crf = default_crf() if config.crf else False

    def find(item) -> FoundBoxes:
        if detection is None:
            return FoundBoxes(*annotation_boxes(item.sample, item.classes))
        boxes: dict[str, list[Box]] = {}
        scores: dict[str, list[float]] = {}
        for found_box in detect_boxes(detector, item.pixels, item.classes, detection):
            boxes.setdefault(found_box.class_id, []).append(found_box.box)
            scores.setdefault(found_box.class_id, []).append(round(found_box.score, 4))
        return FoundBoxes(boxes, "detections", scores)

    def work(item):
        generator = torch.Generator().manual_seed(image_seed(args.seed, item.image_id))
        return image_pseudo_labels(detector, item.pixels, found.pop(item.image_id), item.classes, attribute_ids,
                                   args.kind, config, args.max_side, generator, crf)

    failures: list = []
    found: dict[str, FoundBoxes] = {}
    counts: dict[str, Any] = {"boxes": 0, "skipped_without_boxes": 0, "box_source": {}, "box_seconds": 0.0}
    items = pipeline_items(dataset, attribute_ids, use_priors=False, failures=failures)
    summary = run_stage(boxed_items(items, store, find, found, counts, failures), store, work, failures=failures,
                        progress=progress_printer(args, "bbam"))
    counts["box_seconds"] = round(counts["box_seconds"], 3)
    summary.extra.update(counts)
    summary.write(store)
    return finish_stage(summary, "bbam")


# -------------------------------------------------------------------------------------- parsers


def add_bbam_commands(sub: argparse._SubParsersAction) -> None:
    train = sub.add_parser("train-detector", help="train BBAM's box detector on a data set's boxes",
                           description=("Train the Fast R-CNN-style detector BBAM explains (backbone, RoIAlign, class and "
                                        "box heads on jittered-box proposals) on the boxes of --data (or the bounding "
                                        "boxes of its masks' parts where it has no boxes). Images without boxes are "
                                        "skipped and counted; unreadable ones are listed and the run goes on (exit 1). "
                                        "Writes --out atomically and OUT.summary.json beside it."))
    train.add_argument("--model", help="the model whose attribute ids name the classes (default: the embedded model)")
    train.add_argument("--option", action="append", metavar="KEY=VALUE", help=(
        "a DetectorConfig field, repeatable (epochs=, max_steps=, batch_size=, image_long_side=, hidden=, lr=, "
        "backbone=, pretrained=, device=)"))
    train.add_argument("--out", required=True, help="checkpoint to write (DET.safetensors)")
    add_data_options(train)
    train.set_defaults(handler=run_guarded(command_train_detector))

    bbam = sub.add_parser("bbam", help="BBAM pseudo labels from boxes: what a box detector needs to see",
                          description=("For every image of --data with boxes, optimise BBAM's mask for each box (the "
                                       "annotated boxes by default, the paper's setting; --boxes detections runs the "
                                       "detector), threshold it inside the box with BBAM's ignore band (theta_fg / "
                                       "theta_bg, after a CRF), and write a pseudo-labels folder that `privobf train-seg` "
                                       "trains on and `privobf evaluate-maps` scores. Images without boxes are skipped "
                                       "and counted in summary.json."))
    bbam.add_argument("--detector", required=True, help="checkpoint from `privobf train-detector`")
    bbam.add_argument("--model", help="the model whose attribute ids the labels use (default: the embedded model)")
    bbam.add_argument("--boxes", default="annotations", choices=BOX_SOURCES, help=(
        "annotations: the data set's boxes (default); detections: the detector's own boxes of the image's labelled classes"))
    bbam.add_argument("--option", action="append", metavar="KEY=VALUE", help=(
        "a BbamConfig field, repeatable (iterations=, sparsity=, lr=, proposal_samples=, max_positives=, "
        "fg_threshold=, bg_threshold=, crf=, mask_init=, stride_base=, stride_scale=)"))
    bbam.add_argument("--detect-option", action="append", metavar="KEY=VALUE", help=(
        "with --boxes detections: a DetectionConfig field (score_threshold=0.5, nms_iou=0.5, max_detections=20, ...)"))
    bbam.add_argument("--kind", default="exclusive", choices=["exclusive", "multilabel"], help=(
        "exclusive label maps (BBAM's rule for boxes of two classes), or per-attribute 0/1/255 masks (overlaps kept)"))
    bbam.add_argument("--max-side", type=int, default=512, help="labels are made at the photo's size capped to this long side")
    bbam.add_argument("--seed", type=int, default=0, help="seed of the proposal jitter (per image, so resume is exact)")
    bbam.add_argument("--device", default="cpu", help="torch device of the detector (cpu, cuda)")
    add_stage_arguments(bbam, command_bbam, "stage folder to write (a pseudo-labels folder)")
