"""Training DeepLab-v2 on pseudo labels (stage 4 of the WSSS pipeline), optionally with DSRG.

Two target kinds, both uint8 with 255 = ignore:

* ``"exclusive"``: [H, W], 0 background, k + 1 the vocabulary class k (VOC / COCO: one label per
  pixel) -> K + 1 softmax outputs, cross-entropy with ignore_index 255 (DeepLab-v2's loss);
* ``"multilabel"``: [K, H, W] of 0 / 1 / 255, for privacy attributes, which overlap (a face lies
  inside a person) -> K sigmoid outputs, binary cross-entropy over the non-ignored entries.

A run folder holds ``last.safetensors`` (weights + config, vocabulary, kind, epoch), ``train_state.pt``
(optimizer), both replaced atomically after every epoch, and ``metrics.jsonl`` (one line per epoch).
``resume=True`` continues from the last finished epoch. Every random choice restarts from
(seed, epoch), so a resumed run ends bit-identical to an uninterrupted one on the same device.
"""

from __future__ import annotations

import json
import math
import random
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Callable, Literal, Sequence

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from ..atomic import atomic_write
from ..checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from . import dsrg as region_growing
from .deeplab import DeepLabV2

IGNORE = 255
CHECKPOINT_KIND = "segmentation"
LAST_CHECKPOINT = "last.safetensors"
FINAL_CHECKPOINT = "segmentation.safetensors"
TRAIN_STATE = "train_state.pt"
METRICS_LOG = "metrics.jsonl"
TargetKind = Literal["exclusive", "multilabel"]
TARGET_KINDS = ("exclusive", "multilabel")


@dataclass
class SegmentationConfig:
    """DeepLab-v2 training settings; defaults are the published ones where they apply."""

    backbone: str = "efficientnet_lite0"  # papers: ResNet-101 [D]; the only ImageNet weights shipped here
    pretrained: bool = True  # ImageNet initialisation [D §14.12]
    output_stride: int = 8  # DeepLab-v2 [C: deeplab-pytorch]
    crop_size: int = 321  # [D: VOC crop 321x321]
    batch_size: int = 10  # [C: deeplab-pytorch batch 5 x iter_size 2]
    lr: float = 2.5e-4  # [C: deeplab-pytorch]; 10x on ASPP weights, 20x on ASPP biases
    momentum: float = 0.9  # [C]
    weight_decay: float = 5e-4  # [C]; not applied to the ASPP biases [C: main.py]
    poly_power: float = 0.9  # [C]
    scale_range: tuple[float, float] = (0.5, 1.5)  # random rescale [C: deeplab-pytorch SCALES 0.5..1.5]
    flip: bool = True  # random horizontal flip [C]
    freeze_batchnorm: bool = True  # [C: deeplab-pytorch base.freeze_bn()]
    epochs: int = 20  # [I] ≈ deeplab-pytorch's 20k iterations x 10 crops over VOC's 10,582 images
    iterations_per_epoch: int | None = None  # None: one pass over the samples, ceil(n / batch_size)
    seed: int = 0
    device: str = "auto"  # "auto": cuda when available, else cpu
    dsrg: bool = False  # Deep Seeded Region Growing losses instead of cross-entropy (exclusive only)
    dsrg_bg_threshold: float = region_growing.BACKGROUND_THRESHOLD  # [C: DSRG th1]
    dsrg_fg_threshold: float = region_growing.FOREGROUND_THRESHOLD  # [C: DSRG th2]

    def __post_init__(self) -> None:
        self.scale_range = (float(self.scale_range[0]), float(self.scale_range[1]))
        if not 0 < self.scale_range[0] <= self.scale_range[1]:
            raise ValueError(f"scale_range must be 0 < low <= high, got {self.scale_range}")
        if self.crop_size < 8 or self.batch_size < 1 or self.epochs < 1:
            raise ValueError("crop_size >= 8, batch_size >= 1 and epochs >= 1 are required")
        if self.iterations_per_epoch is not None and self.iterations_per_epoch < 1:
            raise ValueError(f"iterations_per_epoch must be positive, got {self.iterations_per_epoch}")

    def to_dict(self) -> dict[str, Any]:
        values = asdict(self)
        values["scale_range"] = list(self.scale_range)
        return values

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "SegmentationConfig":
        known = {f.name for f in fields(cls)}
        return cls(**{name: value for name, value in values.items() if name in known})


@dataclass
class SegSample:
    """One training image: pixels, its (pseudo) label target, and its image-level classes.

    target: uint8 [H, W] (exclusive) or [K, H, W] (multi-label), 255 = ignore / unlabelled.
    present: vocabulary indices of the image-level classes; DSRG grows seeds only into these.
    """

    image: np.ndarray
    target: np.ndarray
    image_id: str = ""
    present: list[int] = field(default_factory=list)


@dataclass
class SegmentationModel:
    """A trained network with what it needs to be used: its vocabulary and its target kind."""

    network: DeepLabV2
    vocabulary_ids: list[str]
    kind: str
    config: SegmentationConfig
    epoch: int = 0
    path: Path | None = None

    @property
    def n_outputs(self) -> int:
        return output_count(self.kind, len(self.vocabulary_ids))


def output_count(kind: str, n_classes: int) -> int:
    """K + 1 softmax outputs (background first) for exclusive targets, K sigmoids for multi-label."""
    if kind not in TARGET_KINDS:
        raise ValueError(f"kind must be one of {TARGET_KINDS}, got {kind!r}")
    return n_classes + 1 if kind == "exclusive" else n_classes


def resolve_device(device: str) -> str:
    if device in ("auto", "", None):
        return "cuda" if torch.cuda.is_available() else "cpu"
    return device


# ---------------------------------------------------------------------------------------------
# Data: validation and DeepLab's augmentation (random scale, flip, pad with mean / ignore, crop).
# ---------------------------------------------------------------------------------------------


def check_samples(samples: Sequence[SegSample], n_classes: int, kind: str) -> None:
    """Fail before training, naming the sample, rather than with a shape error deep in a batch."""
    if not samples:
        raise ValueError("no training samples")
    for sample in samples:
        image, target = np.asarray(sample.image), np.asarray(sample.target)
        name = sample.image_id or "<unnamed>"
        if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
            raise ValueError(f"{name}: image must be uint8 [H, W, 3], got {image.dtype} {image.shape}")
        if target.dtype != np.uint8:
            raise ValueError(f"{name}: target must be uint8 (255 = ignore), got {target.dtype}")
        expected = image.shape[:2] if kind == "exclusive" else (n_classes, *image.shape[:2])
        if target.shape != tuple(expected):
            raise ValueError(f"{name}: a {kind} target must have shape {tuple(expected)}, got {target.shape}")
        valid = target[target != IGNORE]
        limit = n_classes if kind == "exclusive" else 1
        if valid.size and int(valid.max()) > limit:
            raise ValueError(f"{name}: target value {int(valid.max())} exceeds {limit} for a {kind} target over {n_classes} classes")
        if any(not 0 <= index < n_classes for index in sample.present):
            raise ValueError(f"{name}: present indices {sample.present} are outside the vocabulary of {n_classes}")


def augment(
    image: np.ndarray, target: np.ndarray, config: SegmentationConfig, rng: np.random.Generator, fill: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """deeplab-pytorch's training transform: random scale, random crop (padding the image with the
    mean colour and the target with 255 where the scaled image is smaller than the crop), random flip.

    image uint8 [H, W, 3]; target [H, W] or [K, H, W]. Returns a uint8 [crop, crop, 3] image and the
    target cut the same way (channels first for multi-label).
    """
    height, width = image.shape[:2]
    scale = float(rng.uniform(*config.scale_range))
    new_h, new_w = max(1, int(round(height * scale))), max(1, int(round(width * scale)))
    image = cv2.resize(image, (new_w, new_h), interpolation=cv2.INTER_LINEAR)
    channels_last = target if target.ndim == 2 else np.moveaxis(target, 0, -1)
    resized = cv2.resize(np.ascontiguousarray(channels_last), (new_w, new_h), interpolation=cv2.INTER_NEAREST)
    resized = resized.reshape(new_h, new_w, -1)
    crop = config.crop_size
    pad_h, pad_w = max(crop - new_h, 0), max(crop - new_w, 0)
    if pad_h or pad_w:
        padded_image = np.empty((new_h + pad_h, new_w + pad_w, 3), dtype=np.uint8)
        padded_image[:] = fill
        padded_image[:new_h, :new_w] = image
        padded_target = np.full((new_h + pad_h, new_w + pad_w, resized.shape[2]), IGNORE, dtype=np.uint8)
        padded_target[:new_h, :new_w] = resized
        image, resized = padded_image, padded_target
    top = int(rng.integers(0, image.shape[0] - crop + 1))
    left = int(rng.integers(0, image.shape[1] - crop + 1))
    image = image[top : top + crop, left : left + crop]
    resized = resized[top : top + crop, left : left + crop]
    if config.flip and rng.random() < 0.5:
        image, resized = image[:, ::-1], resized[:, ::-1]
    out_target = resized[..., 0] if target.ndim == 2 else np.moveaxis(resized, -1, 0)
    return np.ascontiguousarray(image), np.ascontiguousarray(out_target)


@dataclass
class Batch:
    images: Tensor  # float [B, 3, crop, crop] in [0, 1]
    targets: Tensor  # int64 [B, crop, crop] or float [B, K, crop, crop] (255 = ignore)
    present: Tensor  # bool [B, K + 1] for exclusive targets (background always), [B, K] otherwise


def make_batch(
    samples: Sequence[SegSample], indices: Sequence[int], config: SegmentationConfig, rng: np.random.Generator,
    fill: np.ndarray, n_classes: int, kind: str, device: str,
) -> Batch:
    images, targets = [], []
    offset = 1 if kind == "exclusive" else 0
    present = torch.zeros(len(indices), n_classes + offset, dtype=torch.bool)
    for row, index in enumerate(indices):
        sample = samples[index]
        image, target = augment(np.asarray(sample.image), np.asarray(sample.target), config, rng, fill)
        images.append(torch.from_numpy(image).permute(2, 0, 1))
        targets.append(torch.from_numpy(target))
        present[row, [offset + k for k in sample.present]] = True
    if kind == "exclusive":
        present[:, 0] = True
    image_tensor = torch.stack(images).float().div_(255.0)
    target_tensor = torch.stack(targets).to(torch.int64)
    return Batch(image_tensor.to(device), target_tensor.to(device), present.to(device))


# ---------------------------------------------------------------------------------------------
# Losses.
# ---------------------------------------------------------------------------------------------


def upsampled(logits: Tensor, size: tuple[int, int]) -> Tensor:
    """Bilinear (align_corners=False) logits at the target's size: the loss sees every labelled pixel."""
    if tuple(logits.shape[2:]) == tuple(size):
        return logits
    return F.interpolate(logits, size=size, mode="bilinear", align_corners=False)


def exclusive_loss(logits: Tensor, targets: Tensor) -> Tensor:
    """Softmax cross-entropy, 255 ignored; 0 (with a graph) when a batch has no labelled pixel."""
    if not bool((targets != IGNORE).any()):
        return logits.sum() * 0.0
    return F.cross_entropy(upsampled(logits, targets.shape[1:]), targets, ignore_index=IGNORE)


def multilabel_loss(logits: Tensor, targets: Tensor) -> Tensor:
    """Per-attribute sigmoid BCE averaged over the entries that are not 255."""
    valid = targets != IGNORE
    scores = upsampled(logits, targets.shape[2:])
    terms = F.binary_cross_entropy_with_logits(scores, torch.where(valid, targets, 0).float(), reduction="none")
    return (terms * valid).sum() / valid.sum().clamp_min(1)


def dsrg_loss(
    logits: Tensor, batch: Batch, config: SegmentationConfig, crf: region_growing.CrfFunction
) -> tuple[Tensor, dict[str, Tensor]]:
    """l_seed + l_constrain at the output resolution; the seeds are the pseudo labels (255 =
    unlabelled) shrunk to the output grid (nearest) and grown from the current prediction.

    Deviation: l_seed uses the exact log-softmax. The official layer takes log(softmax + 1e-4,
    renormalised), whose gradient vanishes on a seed the network is sure is another class (d/dz of
    log(p + 1e-4) ~ p / 1e-4 -> 0), so a network that once predicts all-background never recovers
    (observed on the tiny test network). H for growing and for l_constrain keeps the 1e-4 floor."""
    probabilities = region_growing.stable_softmax(logits)
    seeds = F.interpolate(batch.targets[:, None].float(), size=logits.shape[2:], mode="nearest")[:, 0].long()
    grown = region_growing.grow_seeds(seeds, probabilities, batch.present, config.dsrg_bg_threshold, config.dsrg_fg_threshold)
    seed_term = region_growing.balanced_seed_loss(F.log_softmax(logits, dim=1), grown)
    constrain_term = region_growing.constrain_to_boundary_loss(probabilities, region_growing.crf_targets(batch.images, probabilities, crf))
    grown_share = (grown != IGNORE).float().mean().detach()
    return seed_term + constrain_term, {"seed": seed_term, "constrain": constrain_term, "labelled_share": grown_share}


# ---------------------------------------------------------------------------------------------
# The loop.
# ---------------------------------------------------------------------------------------------


def build_network(config: SegmentationConfig, n_outputs: int, pretrained: bool | None = None) -> DeepLabV2:
    return DeepLabV2(
        config.backbone,
        n_outputs=n_outputs,
        pretrained=config.pretrained if pretrained is None else pretrained,
        output_stride=config.output_stride,
    )


def build_optimizer(network: DeepLabV2, config: SegmentationConfig) -> torch.optim.SGD:
    """SGD with deeplab-pytorch's groups: backbone 1x, ASPP weights 10x, ASPP biases 20x without decay."""
    groups = network.parameter_groups()
    settings = {"1x": (1.0, config.weight_decay), "10x": (10.0, config.weight_decay), "20x": (20.0, 0.0)}
    param_groups = [
        {"params": groups[name], "lr": config.lr * factor, "base_lr": config.lr * factor, "weight_decay": decay}
        for name, (factor, decay) in settings.items()
        if groups[name]
    ]
    return torch.optim.SGD(param_groups, lr=config.lr, momentum=config.momentum)


def poly_factor(iteration: int, total: int, power: float) -> float:
    """(1 - iteration / total) ** power: DeepLab's "poly" schedule (iteration counted from 0)."""
    return (1.0 - min(iteration, total) / total) ** power


def checkpoint_metadata(config: SegmentationConfig, vocabulary_ids: list[str], kind: str, epoch: int) -> dict[str, Any]:
    return {
        "kind": CHECKPOINT_KIND,
        "target_kind": kind,
        "attribute_ids": list(vocabulary_ids),
        "config": config.to_dict(),
        "n_outputs": output_count(kind, len(vocabulary_ids)),
        "epoch": epoch,
    }


def train_segmentation(
    samples: Sequence[SegSample],
    vocabulary_ids: list[str],
    kind: TargetKind,
    config: SegmentationConfig,
    out_dir: str | Path,
    resume: bool = False,
    progress: Callable[[dict[str, Any]], None] | None = None,
    crf: region_growing.CrfFunction | None = None,
) -> Path:
    """Train DeepLab-v2 on `samples`; returns the final checkpoint (``out_dir/segmentation.safetensors``).

    Deterministic for a given `config.seed` on one device. `progress` is called with each epoch's
    metrics record. With ``config.dsrg`` (exclusive targets only: the seeded-region-growing losses are
    defined on a softmax over mutually exclusive classes, so multi-label targets raise ValueError) the
    cross-entropy is replaced by DSRG's l_seed + l_constrain; `crf(image uint8 [h, w, 3],
    probabilities [C, h, w]) -> [C, h, w]` computes Q(H), default `privobf.refine.crf.dense_crf`.
    """
    vocabulary_ids = list(vocabulary_ids)
    if kind not in TARGET_KINDS:
        raise ValueError(f"kind must be one of {TARGET_KINDS}, got {kind!r}")
    if not vocabulary_ids or len(set(vocabulary_ids)) != len(vocabulary_ids):
        raise ValueError("vocabulary_ids must be a non-empty list of distinct ids")
    if config.dsrg and kind != "exclusive":
        raise ValueError("DSRG needs exclusive targets (a softmax over background + classes); multi-label targets cannot use it")
    check_samples(samples, len(vocabulary_ids), kind)
    out_dir = Path(out_dir)
    device = resolve_device(config.device)
    crf_function = crf if crf is not None else region_growing.default_crf

    seed_everything(config.seed)
    n_outputs = output_count(kind, len(vocabulary_ids))
    network = build_network(config, n_outputs)
    if config.freeze_batchnorm:
        network.freeze_batchnorm()
    network.to(device)
    optimizer = build_optimizer(network, config)
    start_epoch, history = 1, []
    if resume:
        start_epoch, history = restore(out_dir, network, optimizer, config, vocabulary_ids, kind)
    out_dir.mkdir(parents=True, exist_ok=True)

    n_batches = config.iterations_per_epoch or math.ceil(len(samples) / config.batch_size)
    total_iterations = n_batches * config.epochs
    fill = np.round(network.backbone.pixel_mean.detach().cpu().numpy().reshape(3) * 255).astype(np.uint8)
    for epoch in range(start_epoch, config.epochs + 1):
        # Every source of randomness restarts from (seed, epoch): epoch k of a resumed run equals
        # epoch k of an uninterrupted one.
        torch.manual_seed(config.seed * 100_003 + epoch)
        rng = np.random.default_rng([config.seed, epoch])
        record = run_epoch(
            network, optimizer, samples, config, rng, fill, len(vocabulary_ids), kind, device,
            epoch, n_batches, total_iterations, crf_function,
        )
        history.append(record)
        save_state(out_dir, network, optimizer, config, vocabulary_ids, kind, epoch, history)
        if progress is not None:
            progress(record)
    final_epoch = history[-1]["epoch"] if history else 0
    return save_checkpoint(
        out_dir / FINAL_CHECKPOINT, network.state_dict(), checkpoint_metadata(config, vocabulary_ids, kind, final_epoch)
    )


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)


def run_epoch(
    network: DeepLabV2, optimizer: torch.optim.Optimizer, samples: Sequence[SegSample], config: SegmentationConfig,
    rng: np.random.Generator, fill: np.ndarray, n_classes: int, kind: str, device: str, epoch: int,
    n_batches: int, total_iterations: int, crf: region_growing.CrfFunction,
) -> dict[str, Any]:
    network.train()
    if config.freeze_batchnorm:
        network.freeze_batchnorm()
    totals: dict[str, float] = {}
    started = time.perf_counter()
    batches = epoch_batches(len(samples), n_batches, config.batch_size, rng)
    for step, indices in enumerate(batches):
        iteration = (epoch - 1) * n_batches + step
        factor = poly_factor(iteration, total_iterations, config.poly_power)
        for group in optimizer.param_groups:
            group["lr"] = group["base_lr"] * factor
        batch = make_batch(samples, indices, config, rng, fill, n_classes, kind, device)
        logits = network(batch.images)
        if config.dsrg:
            loss, parts = dsrg_loss(logits, batch, config, crf)
        elif kind == "exclusive":
            loss, parts = exclusive_loss(logits, batch.targets), {}
        else:
            loss, parts = multilabel_loss(logits, batch.targets), {}
        if not torch.isfinite(loss):
            raise FloatingPointError(f"epoch {epoch} step {step}: loss is {loss.item()}; lower the learning rate")
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        for name, value in {"loss": loss, **{f"loss_{k}" if k != "labelled_share" else k: v for k, v in parts.items()}}.items():
            totals[name] = totals.get(name, 0.0) + float(value.detach())
    record: dict[str, Any] = {name: value / max(1, len(batches)) for name, value in totals.items()}
    record.update(
        epoch=epoch, steps=len(batches), seconds=round(time.perf_counter() - started, 3),
        lr=config.lr * poly_factor((epoch - 1) * n_batches, total_iterations, config.poly_power),
    )
    return record


def epoch_batches(n_samples: int, n_batches: int, batch_size: int, rng: np.random.Generator) -> list[list[int]]:
    """Sample indices of one epoch's batches: shuffled passes over the data, cut into batches.

    With the default one pass (n_batches = ceil(n / batch)) the last batch holds the remainder;
    with more iterations per epoch, further shuffled passes follow so every batch is full."""
    if n_batches == math.ceil(n_samples / batch_size):
        order = [int(i) for i in rng.permutation(n_samples)]
        return [order[i * batch_size : (i + 1) * batch_size] for i in range(n_batches)]
    order: list[int] = []
    while len(order) < n_batches * batch_size:
        order.extend(int(i) for i in rng.permutation(n_samples))
    return [order[i * batch_size : (i + 1) * batch_size] for i in range(n_batches)]


# ---------------------------------------------------------------------------------------------
# Checkpoints.
# ---------------------------------------------------------------------------------------------


def save_state(
    out_dir: Path, network: DeepLabV2, optimizer: torch.optim.Optimizer, config: SegmentationConfig,
    vocabulary_ids: list[str], kind: str, epoch: int, history: list[dict[str, Any]],
) -> None:
    """Weights, optimizer and metrics after an epoch, each replaced atomically (weights first, so a
    crash between the writes leaves the optimizer of an older epoch, which `restore` detects)."""
    save_checkpoint(out_dir / LAST_CHECKPOINT, network.state_dict(), checkpoint_metadata(config, vocabulary_ids, kind, epoch))
    state = {"epoch": epoch, "optimizer": optimizer.state_dict()}
    atomic_write(out_dir / TRAIN_STATE, lambda temp: torch.save(state, temp))
    lines = "".join(json.dumps(record, sort_keys=True) + "\n" for record in history)
    atomic_write(out_dir / METRICS_LOG, lambda temp: Path(temp).write_text(lines))


def restore(
    out_dir: Path, network: DeepLabV2, optimizer: torch.optim.Optimizer, config: SegmentationConfig,
    vocabulary_ids: list[str], kind: str,
) -> tuple[int, list[dict[str, Any]]]:
    """Load the last finished epoch; returns (next epoch, metrics history up to it)."""
    last = out_dir / LAST_CHECKPOINT
    if not last.is_file():
        raise FileNotFoundError(f"{out_dir}: nothing to resume (no {LAST_CHECKPOINT})")
    checkpoint = load_checkpoint(last, expected_attribute_ids=vocabulary_ids)
    metadata = checkpoint.metadata
    if metadata.get("kind") != CHECKPOINT_KIND or metadata.get("target_kind") != kind:
        raise CheckpointError(f"{last}: a {metadata.get('kind')}/{metadata.get('target_kind')} checkpoint cannot resume {kind} segmentation training")
    saved = SegmentationConfig.from_dict(metadata.get("config", {}))
    for name in ("backbone", "output_stride"):
        if getattr(saved, name) != getattr(config, name):
            raise CheckpointError(f"{last}: trained with {name}={getattr(saved, name)!r}, resumed with {getattr(config, name)!r}")
    network.load_state_dict(checkpoint.state)
    state = torch.load(out_dir / TRAIN_STATE, map_location="cpu", weights_only=True)
    if int(state["epoch"]) != int(metadata["epoch"]):
        raise CheckpointError(f"{out_dir}: {TRAIN_STATE} is from epoch {state['epoch']} but {LAST_CHECKPOINT} from epoch {metadata['epoch']}")
    optimizer.load_state_dict(state["optimizer"])
    log = out_dir / METRICS_LOG
    history = [json.loads(line) for line in log.read_text().splitlines() if line.strip()] if log.is_file() else []
    return int(state["epoch"]) + 1, history[: int(state["epoch"])]


def load_segmentation(path: str | Path, device: str = "cpu") -> SegmentationModel:
    """A trained segmentation network from `path` (a checkpoint written by `train_segmentation`).

    Raises CheckpointError naming the file when it is not a safetensors privobf checkpoint, is a
    different kind (e.g. a PrivObfNet classifier) or its weights do not fit the recorded network."""
    checkpoint = load_checkpoint(path)
    metadata = checkpoint.metadata
    if metadata.get("kind") != CHECKPOINT_KIND:
        raise CheckpointError(f"{path}: a {metadata.get('kind')!r} checkpoint, not a segmentation network (train one with train_segmentation)")
    kind = metadata.get("target_kind")
    if kind not in TARGET_KINDS:
        raise CheckpointError(f"{path}: unknown segmentation target kind {kind!r}")
    config = SegmentationConfig.from_dict(metadata.get("config", {}))
    vocabulary_ids = checkpoint.attribute_ids
    network = build_network(config, output_count(kind, len(vocabulary_ids)), pretrained=False)
    try:
        network.load_state_dict(checkpoint.state)
    except RuntimeError as error:
        raise CheckpointError(f"{path}: weights do not fit a {config.backbone} DeepLab-v2 ({str(error).splitlines()[0]})") from None
    network.to(device).eval()
    return SegmentationModel(network, vocabulary_ids, kind, config, int(metadata.get("epoch", 0)), Path(path))
