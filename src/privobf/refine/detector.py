"""A Fast R-CNN-style two-head detector that runs on *given* proposals, for BBAM.

BBAM (dissertation [D] §5.3) asks a detector "how much of the image do you need to keep to still
say class c and regress to this box?", so it needs the classification head f^cls and the box head
f^box evaluated on proposals it chooses itself (jittered copies of the annotated box). A region
proposal network would only be bypassed, so this detector has none: backbone -> RoIAlign (7x7,
sampling ratio 2, aligned=True) -> two fully connected layers -> class logits (C + 1, 0 is
background) and class-specific box deltas (4 C, the standard (dx, dy, dw, dh) encoding with weights
(10, 10, 5, 5)).

Deviation: the paper's detector is Faster R-CNN R101-FPN from maskrcnn-benchmark [C]. No such
weights exist offline here, so the backbone comes from privobf's registry (EfficientNet-Lite0 at
output stride 16 by default, a single feature level instead of an FPN) and the heads are trained
from the boxes alone with jittered-box proposals in place of RPN proposals.
"""

from __future__ import annotations

import math
import random
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..checkpoint import load_checkpoint, save_checkpoint
from ..models.backbones import create_backbone

Box = tuple[float, float, float, float]
BoxSamples = Sequence[tuple[np.ndarray, dict[str, Sequence[Box]]]]

BOX_CODER_WEIGHTS = (10.0, 10.0, 5.0, 5.0)  # Fast/Faster R-CNN's standard delta weights [C]
# Largest |dw|, |dh| before exp(): boxes at most 1000/16 times the proposal (Detectron convention).
DELTA_CLAMP = math.log(1000.0 / 16)
DETECTOR_KIND = "bbam-detector"


@dataclass
class DetectorConfig:
    """Detector shape and training schedule.

    Faster R-CNN samples 512 RoIs per image at 1:3 positives:negatives [C]; boxes here come from a
    few annotations per photo, so 128 jittered proposals already cover them densely.
    """

    backbone: str = "efficientnet_lite0"
    pretrained: bool = True
    output_stride: int = 16
    image_long_side: int = 512  # VOC photos are ~500 px on the long side
    hidden: int = 1024  # two FC layers of 1024, as in the R-CNN box head [C]
    roi_size: int = 7
    sampling_ratio: int = 2
    proposals_per_image: int = 128
    positive_fraction: float = 0.25  # 1:3 positives:negatives [C]
    positive_iou: float = 0.5  # foreground proposals: IoU >= 0.5 with a box [C]
    positive_jitter: float = 0.25  # relative jitter that makes positive proposals
    epochs: int = 12
    max_steps: int | None = None  # stop early (tests, smoke runs)
    batch_size: int = 4
    lr: float = 1e-3  # Adam on the heads
    backbone_lr_scale: float = 0.1  # pretrained features move slower than fresh heads
    weight_decay: float = 1e-4
    smooth_l1_beta: float = 1.0
    seed: int = 0
    device: str = "cpu"


class RoiAlign(nn.Module):
    """RoIAlign with the aligned=True convention (Detectron2 / torchvision), via grid_sample.

    Box coordinates are in input pixels; a box is scaled by `spatial_scale` and shifted by half a
    pixel so that feature cell i covers [i, i + 1) and has its centre at i + 0.5. Each of the
    `output_size`^2 bins averages `sampling_ratio`^2 bilinear samples at the centres of a regular
    sub-grid. Samples more than one cell outside the map read 0; samples within that one-cell margin
    are clamped to the border, which is what the reference CUDA kernel does.
    """

    def __init__(self, output_size: int = 7, spatial_scale: float = 1 / 16, sampling_ratio: int = 2):
        super().__init__()
        if sampling_ratio < 1:
            raise ValueError("sampling_ratio must be >= 1 (the adaptive variant is not implemented)")
        self.output_size = output_size
        self.spatial_scale = spatial_scale
        self.sampling_ratio = sampling_ratio

    def sample_points(self, boxes: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Feature-cell coordinates (y, x) of every sample: [N, S, S] each, S = output * ratio."""
        scaled = boxes * self.spatial_scale - 0.5
        x0, y0, x1, y1 = scaled.unbind(dim=1)
        steps = self.output_size * self.sampling_ratio
        fractions = (torch.arange(steps, dtype=boxes.dtype, device=boxes.device) + 0.5) / steps
        ys = y0[:, None] + (y1 - y0)[:, None] * fractions[None]
        xs = x0[:, None] + (x1 - x0)[:, None] * fractions[None]
        return ys[:, :, None].expand(-1, steps, steps), xs[:, None, :].expand(-1, steps, steps)

    def forward(self, features: torch.Tensor, boxes: Sequence[torch.Tensor]) -> torch.Tensor:
        """features [B, C, h, w]; boxes: B tensors [N_b, 4] (x0, y0, x1, y1) -> [sum N_b, C, S, S]."""
        if len(boxes) != features.shape[0]:
            raise ValueError(f"{len(boxes)} proposal sets for a batch of {features.shape[0]}")
        height, width = features.shape[-2:]
        pooled = []
        for index, image_boxes in enumerate(boxes):
            if image_boxes.numel() == 0:
                pooled.append(features.new_zeros(0, features.shape[1], self.output_size, self.output_size))
                continue
            ys, xs = self.sample_points(image_boxes.to(features.dtype))
            inside = (ys >= -1) & (ys <= height) & (xs >= -1) & (xs <= width)
            ys = ys.clamp(0, height - 1)
            xs = xs.clamp(0, width - 1)
            # grid_sample with align_corners=False puts cell i's centre at (2 i + 1) / size - 1.
            grid = torch.stack(((2 * xs + 1) / width - 1, (2 * ys + 1) / height - 1), dim=-1)
            count, steps = grid.shape[0], grid.shape[1]
            samples = F.grid_sample(
                features[index : index + 1],
                grid.reshape(1, count * steps, steps, 2),
                mode="bilinear",
                padding_mode="border",
                align_corners=False,
            )  # [1, C, N * S, S]
            samples = samples.reshape(features.shape[1], count, steps, steps).permute(1, 0, 2, 3)
            samples = samples * inside[:, None].to(samples.dtype)
            pooled.append(F.avg_pool2d(samples, self.sampling_ratio))
        return torch.cat(pooled, dim=0)


def encode_boxes(targets: torch.Tensor, proposals: torch.Tensor, weights: Sequence[float] = BOX_CODER_WEIGHTS) -> torch.Tensor:
    """Deltas (dx, dy, dw, dh) that move each proposal [N, 4] onto its target [N, 4]."""
    wx, wy, ww, wh = weights
    proposal_w = proposals[:, 2] - proposals[:, 0]
    proposal_h = proposals[:, 3] - proposals[:, 1]
    proposal_x = proposals[:, 0] + 0.5 * proposal_w
    proposal_y = proposals[:, 1] + 0.5 * proposal_h
    target_w = targets[:, 2] - targets[:, 0]
    target_h = targets[:, 3] - targets[:, 1]
    target_x = targets[:, 0] + 0.5 * target_w
    target_y = targets[:, 1] + 0.5 * target_h
    return torch.stack(
        (
            wx * (target_x - proposal_x) / proposal_w,
            wy * (target_y - proposal_y) / proposal_h,
            ww * torch.log(target_w / proposal_w),
            wh * torch.log(target_h / proposal_h),
        ),
        dim=1,
    )


def decode_boxes(deltas: torch.Tensor, proposals: torch.Tensor, weights: Sequence[float] = BOX_CODER_WEIGHTS) -> torch.Tensor:
    """Boxes from deltas: deltas [N, ..., 4] (e.g. [N, C, 4]) on proposals [N, 4] -> [N, ..., 4]."""
    wx, wy, ww, wh = weights
    shape = [proposals.shape[0]] + [1] * (deltas.dim() - 2)
    proposal_w = (proposals[:, 2] - proposals[:, 0]).reshape(shape)
    proposal_h = (proposals[:, 3] - proposals[:, 1]).reshape(shape)
    proposal_x = proposals[:, 0].reshape(shape) + 0.5 * proposal_w
    proposal_y = proposals[:, 1].reshape(shape) + 0.5 * proposal_h
    dx, dy = deltas[..., 0] / wx, deltas[..., 1] / wy
    dw = (deltas[..., 2] / ww).clamp(max=DELTA_CLAMP)
    dh = (deltas[..., 3] / wh).clamp(max=DELTA_CLAMP)
    centre_x = proposal_x + dx * proposal_w
    centre_y = proposal_y + dy * proposal_h
    half_w = 0.5 * proposal_w * torch.exp(dw)
    half_h = 0.5 * proposal_h * torch.exp(dh)
    return torch.stack((centre_x - half_w, centre_y - half_h, centre_x + half_w, centre_y + half_h), dim=-1)


def box_iou(first: torch.Tensor, second: torch.Tensor) -> torch.Tensor:
    """Pairwise IoU of [N, 4] and [M, 4] boxes -> [N, M]."""
    area_first = (first[:, 2] - first[:, 0]).clamp(min=0) * (first[:, 3] - first[:, 1]).clamp(min=0)
    area_second = (second[:, 2] - second[:, 0]).clamp(min=0) * (second[:, 3] - second[:, 1]).clamp(min=0)
    top_left = torch.maximum(first[:, None, :2], second[None, :, :2])
    bottom_right = torch.minimum(first[:, None, 2:], second[None, :, 2:])
    overlap = (bottom_right - top_left).clamp(min=0).prod(dim=-1)
    union = area_first[:, None] + area_second[None] - overlap
    return overlap / union.clamp(min=1e-9)


class BoxHead(nn.Module):
    """Two FC layers, then class logits [N, C + 1] and class-specific deltas [N, C, 4]."""

    def __init__(self, in_features: int, hidden: int, num_classes: int):
        super().__init__()
        self.num_classes = num_classes
        self.fc1 = nn.Linear(in_features, hidden)
        self.fc2 = nn.Linear(hidden, hidden)
        self.cls_score = nn.Linear(hidden, num_classes + 1)
        self.bbox_pred = nn.Linear(hidden, num_classes * 4)
        # The R-CNN predictor initialisation [C]: near-uniform scores, near-zero deltas.
        nn.init.normal_(self.cls_score.weight, std=0.01)
        nn.init.normal_(self.bbox_pred.weight, std=0.001)
        nn.init.zeros_(self.cls_score.bias)
        nn.init.zeros_(self.bbox_pred.bias)

    def forward(self, pooled: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        hidden = F.relu(self.fc2(F.relu(self.fc1(pooled.flatten(1)))))
        return self.cls_score(hidden), self.bbox_pred(hidden).reshape(-1, self.num_classes, 4)


class BoxDetector(nn.Module):
    """Backbone + RoIAlign + box head; `classes[k]` is class index k + 1 of the softmax (0 = background)."""

    def __init__(self, classes: Sequence[str], config: DetectorConfig, pretrained: bool | None = None):
        super().__init__()
        if not classes:
            raise ValueError("a detector needs at least one class")
        self.classes = list(classes)
        self.config = config
        use_pretrained = config.pretrained if pretrained is None else pretrained
        self.backbone = create_backbone(config.backbone, pretrained=use_pretrained, output_stride=config.output_stride)
        self.roi_align = RoiAlign(config.roi_size, 1.0 / self.backbone.output_stride, config.sampling_ratio)
        self.box_head = BoxHead(self.backbone.out_channels * config.roi_size**2, config.hidden, len(self.classes))

    def class_index(self, class_id: str | int) -> int:
        """0-based position of a class id (or an index, checked) among `classes`."""
        if isinstance(class_id, (int, np.integer)) and not isinstance(class_id, bool):
            if not 0 <= int(class_id) < len(self.classes):
                raise ValueError(f"class index {class_id} out of range for {len(self.classes)} classes")
            return int(class_id)
        if class_id not in self.classes:
            raise ValueError(f"the detector has no class {class_id!r}; it knows {self.classes}")
        return self.classes.index(class_id)

    def raw_heads(self, images: torch.Tensor, proposals: Sequence[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """(class logits [N, C + 1], deltas [N, C, 4]) for proposals in input pixels of `images`."""
        features = self.backbone(images)
        pooled = self.roi_align(features, [p.to(images.device, images.dtype) for p in proposals])
        return self.box_head(pooled)

    def heads(self, images: torch.Tensor, proposals: Sequence[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """f^cls and f^box on fixed proposals: (class probabilities [N, C + 1], box deltas [N, C, 4]).

        images: float [B, 3, H, W] in [0, 1]; proposals: B tensors [N_b, 4] in input pixels,
        concatenated in batch order in the outputs."""
        logits, deltas = self.raw_heads(images, proposals)
        return logits.softmax(dim=1), deltas

    def decode_boxes(self, proposals: torch.Tensor, deltas: torch.Tensor) -> torch.Tensor:
        """Regressed boxes [N, C, 4] (or [N, 4] for per-proposal deltas [N, 4]) in input pixels."""
        return decode_boxes(deltas, proposals.to(deltas.dtype))

    def input_scale(self, height: int, width: int) -> float:
        """Factor from photo pixels to detector input pixels (long side -> image_long_side)."""
        return self.config.image_long_side / max(height, width)

    def prepare(self, pixels: np.ndarray) -> tuple[torch.Tensor, float]:
        """uint8 [H, W, 3] -> (float [1, 3, h, w] in [0, 1] at the detector's size, scale factor)."""
        return prepare_image(pixels, self.config.image_long_side, self.config.device)


def prepare_image(pixels: np.ndarray, long_side: int, device: str = "cpu") -> tuple[torch.Tensor, float]:
    """Resize a uint8 photo so its long side is `long_side`; return the tensor and the scale."""
    if pixels.ndim != 3 or pixels.shape[2] != 3:
        raise ValueError(f"expected uint8 pixels [H, W, 3], got {pixels.shape}")
    height, width = pixels.shape[:2]
    scale = long_side / max(height, width)
    image = torch.from_numpy(np.ascontiguousarray(pixels)).to(device).permute(2, 0, 1)[None].float() / 255.0
    size = (max(1, round(height * scale)), max(1, round(width * scale)))
    if size != (height, width):
        image = F.interpolate(image, size=size, mode="bilinear", align_corners=False)
    return image, scale


def jitter_boxes(box: torch.Tensor, count: int, amount: float, generator: torch.Generator, image_size: tuple[int, int]) -> torch.Tensor:
    """`count` copies of box [4] with each coordinate moved by U(-amount, amount) x width/height,
    clipped to the image (BBAM's proposal jitter [C]); degenerate results are dropped."""
    width, height = float(box[2] - box[0]), float(box[3] - box[1])
    scale = torch.tensor([width, height, width, height], dtype=torch.float32)
    offsets = (torch.rand(count, 4, generator=generator) * 2 - 1) * amount * scale
    boxes = box[None].float() + offsets
    boxes[:, 0::2] = boxes[:, 0::2].clamp(0, image_size[1])
    boxes[:, 1::2] = boxes[:, 1::2].clamp(0, image_size[0])
    keep = ((boxes[:, 2] - boxes[:, 0]) >= 1) & ((boxes[:, 3] - boxes[:, 1]) >= 1)
    return boxes[keep]


def random_boxes(count: int, image_size: tuple[int, int], generator: torch.Generator) -> torch.Tensor:
    """Boxes with uniform corners anywhere in the image (at least 4 px a side)."""
    height, width = image_size
    corners = torch.rand(count, 4, generator=generator) * torch.tensor([width, height, width, height])
    x0 = torch.minimum(corners[:, 0], corners[:, 2])
    x1 = torch.maximum(corners[:, 0], corners[:, 2])
    y0 = torch.minimum(corners[:, 1], corners[:, 3])
    y1 = torch.maximum(corners[:, 1], corners[:, 3])
    boxes = torch.stack((x0, y0, x1, y1), dim=1)
    keep = ((x1 - x0) >= 4) & ((y1 - y0) >= 4)
    return boxes[keep]


@dataclass
class ProposalSample:
    """Sampled training RoIs of one image: labels 0 = background, k + 1 = classes[k]."""

    proposals: torch.Tensor
    labels: torch.Tensor
    targets: torch.Tensor  # the assigned box per proposal (meaningful for positives only)


def sample_proposals(
    gt_boxes: torch.Tensor, gt_labels: torch.Tensor, image_size: tuple[int, int], config: DetectorConfig, generator: torch.Generator
) -> ProposalSample:
    """Fast R-CNN RoI sampling with jittered boxes standing in for RPN proposals.

    Positives: the boxes themselves and jittered copies with IoU >= positive_iou (their regression
    targets are the box they overlap most). Negatives: random and strongly jittered boxes whose IoU
    with every box is below positive_iou. Up to positive_fraction of the RoIs are positives."""
    total = config.proposals_per_image
    wanted_positives = int(round(total * config.positive_fraction))
    if gt_boxes.numel() == 0:
        negatives = random_boxes(total * 2, image_size, generator)[:total]
        return ProposalSample(negatives, torch.zeros(len(negatives), dtype=torch.long), torch.zeros_like(negatives))
    candidates = [gt_boxes.float()]
    for box in gt_boxes:
        candidates.append(jitter_boxes(box, 4 * wanted_positives, config.positive_jitter, generator, image_size))
    positive_pool = torch.cat(candidates)
    overlaps = box_iou(positive_pool, gt_boxes.float())
    best_overlap, assigned = overlaps.max(dim=1)
    positive_pool, assigned = positive_pool[best_overlap >= config.positive_iou], assigned[best_overlap >= config.positive_iou]
    order = torch.randperm(len(positive_pool), generator=generator)[:wanted_positives]
    positives, positive_gt = positive_pool[order], assigned[order]

    negative_candidates = [random_boxes(total * 2, image_size, generator)]
    for box in gt_boxes:
        negative_candidates.append(jitter_boxes(box, total, 1.0, generator, image_size))
    negative_pool = torch.cat(negative_candidates)
    negative_pool = negative_pool[box_iou(negative_pool, gt_boxes.float()).max(dim=1).values < config.positive_iou]
    order = torch.randperm(len(negative_pool), generator=generator)[: total - len(positives)]
    negatives = negative_pool[order]

    proposals = torch.cat((positives, negatives))
    labels = torch.cat((gt_labels[positive_gt], torch.zeros(len(negatives), dtype=torch.long)))
    targets = torch.cat((gt_boxes.float()[positive_gt], torch.zeros_like(negatives)))
    return ProposalSample(proposals, labels, targets)


def detector_loss(
    logits: torch.Tensor, deltas: torch.Tensor, sample: ProposalSample, beta: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """(cross-entropy over all RoIs, smooth-L1 of the true class's deltas on positives), both
    normalised by the number of RoIs as in Fast R-CNN [C]."""
    classification = F.cross_entropy(logits, sample.labels)
    positive = sample.labels > 0
    if not positive.any():
        return classification, deltas.sum() * 0
    rows = positive.nonzero(as_tuple=True)[0]
    predicted = deltas[rows, sample.labels[rows] - 1]
    targets = encode_boxes(sample.targets[rows], sample.proposals[rows])
    regression = F.smooth_l1_loss(predicted, targets, beta=beta, reduction="sum") / max(1, len(sample.labels))
    return classification, regression


def _samples_to_tensors(
    samples: BoxSamples, classes: Sequence[str], long_side: int
) -> list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
    """(image [3, h, w] at the detector's size, boxes [M, 4] scaled, labels [M]) per sample."""
    prepared = []
    for pixels, boxes in samples:
        image, scale = prepare_image(pixels, long_side)
        rows, labels = [], []
        for class_id, class_boxes in boxes.items():
            if class_id not in classes:
                raise ValueError(f"box class {class_id!r} is not one of the detector classes {list(classes)}")
            for box in class_boxes:
                rows.append([float(v) * scale for v in box])
                labels.append(list(classes).index(class_id) + 1)
        box_tensor = torch.tensor(rows, dtype=torch.float32).reshape(-1, 4)
        prepared.append((image[0], box_tensor, torch.tensor(labels, dtype=torch.long)))
    return prepared


def _pad_batch(images: Sequence[torch.Tensor], fill: torch.Tensor) -> torch.Tensor:
    """Stack images of different sizes, padding bottom/right with the backbone's pixel mean (so the
    padding is zero after normalisation and proposal coordinates stay valid)."""
    height = max(image.shape[1] for image in images)
    width = max(image.shape[2] for image in images)
    batch = fill.reshape(1, 3, 1, 1).expand(len(images), 3, height, width).clone()
    for index, image in enumerate(images):
        batch[index, :, : image.shape[1], : image.shape[2]] = image
    return batch


def train_detector(
    samples: BoxSamples,
    classes: list[str],
    config: DetectorConfig | None = None,
    progress: Callable[[dict], None] | None = None,
) -> BoxDetector:
    """Train the detector from box annotations: samples are (uint8 [H, W, 3], {class_id: [boxes]})
    with boxes (x0, y0, x1, y1) in photo pixels. `progress` receives a dict per step."""
    config = config or DetectorConfig()
    torch.manual_seed(config.seed)
    generator = torch.Generator().manual_seed(config.seed)
    order_random = random.Random(config.seed)
    detector = BoxDetector(classes, config).to(config.device)
    detector.train()
    backbone_parameters = list(detector.backbone.parameters())
    head_parameters = list(detector.box_head.parameters())
    optimiser = torch.optim.Adam(
        [
            {"params": backbone_parameters, "lr": config.lr * config.backbone_lr_scale},
            {"params": head_parameters, "lr": config.lr},
        ],
        weight_decay=config.weight_decay,
    )
    prepared = _samples_to_tensors(samples, classes, config.image_long_side)
    if not prepared:
        raise ValueError("no training samples")
    fill = detector.backbone.pixel_mean.reshape(3).cpu()
    step = 0
    for epoch in range(config.epochs):
        order = list(range(len(prepared)))
        order_random.shuffle(order)
        for start in range(0, len(order), config.batch_size):
            chunk = [prepared[i] for i in order[start : start + config.batch_size]]
            images = _pad_batch([image for image, _, _ in chunk], fill).to(config.device)
            picks = [
                sample_proposals(boxes, labels, tuple(image.shape[1:]), config, generator) for image, boxes, labels in chunk
            ]
            logits, deltas = detector.raw_heads(images, [p.proposals for p in picks])
            merged = ProposalSample(
                torch.cat([p.proposals for p in picks]).to(config.device),
                torch.cat([p.labels for p in picks]).to(config.device),
                torch.cat([p.targets for p in picks]).to(config.device),
            )
            classification, regression = detector_loss(logits, deltas, merged, config.smooth_l1_beta)
            loss = classification + regression
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
            step += 1
            if progress is not None:
                progress({"epoch": epoch, "step": step, "loss": loss.item(), "cls": classification.item(), "box": regression.item()})
            if config.max_steps is not None and step >= config.max_steps:
                return detector.eval()
    return detector.eval()


def save_detector(path: str | Path, detector: BoxDetector) -> Path:
    """Atomic safetensors file with the classes and the config as metadata."""
    metadata = {
        "kind": DETECTOR_KIND,
        "attribute_ids": list(detector.classes),
        "detector_config": asdict(detector.config),
    }
    return save_checkpoint(path, detector.state_dict(), metadata)


def load_detector(path: str | Path, device: str = "cpu") -> BoxDetector:
    """Rebuild a saved detector (no packaged weights are loaded: the file has them all)."""
    checkpoint = load_checkpoint(path)
    if checkpoint.kind != DETECTOR_KIND:
        raise ValueError(f"{path}: not a BBAM detector checkpoint (kind {checkpoint.kind!r})")
    known = DetectorConfig.__dataclass_fields__
    config = DetectorConfig(**{k: v for k, v in checkpoint.metadata["detector_config"].items() if k in known})
    config.device = device
    detector = BoxDetector(checkpoint.attribute_ids, config, pretrained=False)
    detector.load_state_dict(checkpoint.state)
    return detector.to(device).eval()


__all__ = [
    "BOX_CODER_WEIGHTS",
    "BoxDetector",
    "BoxHead",
    "DetectorConfig",
    "ProposalSample",
    "RoiAlign",
    "box_iou",
    "decode_boxes",
    "detector_loss",
    "encode_boxes",
    "jitter_boxes",
    "load_detector",
    "prepare_image",
    "random_boxes",
    "sample_proposals",
    "save_detector",
    "train_detector",
]
