"""IRNet (Inter-pixel Relation Network) refinement: a class-boundary map learnt from pseudo labels,
turned into affinities (eq. 2.6) along which the seed maps random-walk (dissertation §2.3.2; digest
§6 and §14 items 5-6; official code jiwoon-ahn/irn).

The boundary is never labelled: the head learns it from pixel pairs of the confident pseudo labels
(same label -> no boundary between them, different -> some boundary on the segment), which is
multiple-instance learning. A displacement branch is trained beside it as in IRN; semantic
refinement only uses the boundary.

The head reads every stage of the privobf model's backbone with the backbone frozen (IRN detaches
the features), so a refinement model is the small head saved beside the classifier checkpoint.
The training-data helpers here (rescale + flip + crop, frozen stage features) are shared with
:mod:`privobf.refine.affinitynet`, which trains the same way.
"""

from __future__ import annotations

import dataclasses
import math
import os
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from scipy import ndimage
from torch import nn

from ..checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from ..data.batching import image_to_tensor
from .cam_model import GRID_STRIDE, CamModel
from .localisation import Localisation
from .random_walk import (
    DEFAULT_MAX_DENSE_NODES,
    IGNORE,
    PairIndex,
    PairLabels,
    affinity_from_boundary,
    boundary_pair_affinity,
    pair_index,
    pair_labels,
    random_walk,
)

# (pixels uint8 [H, W, 3], labels int [h, w] on the working grid, the image's classes)
TrainingSample = tuple[np.ndarray, np.ndarray, Sequence[str]]
Progress = Callable[[int, int, float], None]  # (step, total steps, loss)

IRN_KIND = "irn-head"


@dataclass
class IrnConfig:
    """IRN's published defaults [C: irn/run_sample.py]; the crop is the one deliberate change."""

    train_radius: int = 10  # [C] pair radius for training, stride-4 grid
    inference_radius: int = 5  # [C] make_sem_seg_labels
    beta: float = 10.0  # [C]
    exp_times: int = 8  # [C] log2 of the walk length: 2^8 = 256 steps by repeated squaring
    epochs: int = 3  # [C]
    # [I] at least this many SGD steps, repeating epochs: IRN's 3 epochs over VOC train_aug are
    # 3 x ceil(10582 / 32) = 993 steps; 3 epochs over a few hundred photos are a dozen, too few to fit.
    min_steps: int = 300
    batch_size: int = 32  # [C]
    lr: float = 0.1  # [C] boundary branch; the displacement branch gets x displacement_lr_multiplier
    displacement_lr_multiplier: float = 10.0  # [C]
    weight_decay: float = 1e-4  # [C]
    # [C quirk, digest §14 item 14] IRN's PolyOptimizer passes weight_decay positionally into SGD's
    # momentum slot, so the effective momentum is 1e-4; its "momentum 0.9" is the poly power.
    momentum: float = 1e-4
    poly_power: float = 0.9  # [C]
    # [C] 512. None = the model's image_size: our photos enter the model at image_size on the long
    # side, so that crop covers a whole scale-1 photo as 512 covers most of a VOC photo.
    crop_size: int | None = None
    rescale: tuple[float, float] = (0.5, 1.5)  # [C] random rescale before cropping
    flip: bool = True  # [C] random horizontal flip
    sem_seg_bg_threshold: float = 0.25  # [C] background plane for the label argmax, used downstream
    # [C] "global": walked maps divided by their max over all classes, so a weak class stays weak. [I]
    # "per_class": each class by its own max, so a small attribute (a face, a plate) whose mass the walk
    # spread thin is not cut by a large one's (a person) in the same photo.
    normalise: str = "global"
    max_dense_nodes: int = DEFAULT_MAX_DENSE_NODES  # [I] dense walk up to this many grid cells
    seed: int = 0

    def __post_init__(self) -> None:
        check_head_schedule(self)
        if self.normalise not in ("global", "per_class"):
            raise ValueError(f"normalise must be global or per_class, got {self.normalise!r}")


def check_head_schedule(config: Any) -> None:
    """The training fields IRN's and AffinityNet's configs share: rescale range (made floats), crop,
    batch size, epochs and min_steps."""
    config.rescale = (float(config.rescale[0]), float(config.rescale[1]))
    if not 0 < config.rescale[0] <= config.rescale[1]:
        raise ValueError(f"rescale must be 0 < low <= high, got {config.rescale}")
    if config.crop_size is not None and (config.crop_size <= 0 or config.crop_size % GRID_STRIDE):
        raise ValueError(f"crop_size must be a positive multiple of {GRID_STRIDE}, got {config.crop_size}")
    if config.batch_size < 1 or config.epochs < 0 or config.min_steps < 0:
        raise ValueError("batch_size must be >= 1, epochs and min_steps >= 0")


def training_crop(cam_model: CamModel, config: Any) -> int:
    """Side of a relation head's training crops: the config's, else the model's input size."""
    return config.crop_size or cam_model.image_size


# ------------------------------------------------------------------------------------------ data


def check_sample(cam_model: CamModel, pixels: np.ndarray, labels: np.ndarray) -> None:
    """Training labels must be on the model's working grid of the photo (stride 4 of its input)."""
    grid = cam_model.grid_size(pixels.shape[0], pixels.shape[1])
    if tuple(labels.shape) != grid:
        raise ValueError(f"labels of a {pixels.shape[:2]} photo must be on the grid {grid}, got {labels.shape}")


def augment(
    cam_model: CamModel,
    pixels: np.ndarray,
    labels: np.ndarray,
    crop_size: int,
    rescale: tuple[float, float],
    flip: bool,
    rng: np.random.Generator,
) -> tuple[torch.Tensor, torch.Tensor]:
    """IRN's training view: random rescale, flip and a crop_size crop (padded where smaller).

    Work is in grid cells so image and labels stay aligned: the rescaled image is 4x its label
    grid, crop offsets are whole cells. The image pad is the backbone's pixel mean (zero after
    normalisation, as IRN pads the normalised image with 0); the label pad is ignore.
    Returns image [3, crop, crop] in [0, 1] and labels [crop/4, crop/4] (long).
    """
    check_sample(cam_model, pixels, labels)
    grid_h, grid_w = labels.shape
    scale = rng.uniform(*rescale)
    cells_h, cells_w = max(1, round(grid_h * scale)), max(1, round(grid_w * scale))
    image = image_to_tensor(pixels, (cells_h * GRID_STRIDE, cells_w * GRID_STRIDE))
    rows = np.minimum(((np.arange(cells_h) + 0.5) * grid_h / cells_h).astype(np.int64), grid_h - 1)
    cols = np.minimum(((np.arange(cells_w) + 0.5) * grid_w / cells_w).astype(np.int64), grid_w - 1)
    label_tensor = torch.from_numpy(np.asarray(labels, dtype=np.int64)[rows][:, cols])
    if flip and rng.random() < 0.5:
        image, label_tensor = image.flip(-1), label_tensor.flip(-1)
    crop_cells = crop_size // GRID_STRIDE
    mean = cam_model.branch.backbone.pixel_mean.reshape(3, 1, 1).float()
    canvas = mean.expand(3, crop_size, crop_size).clone()
    label_canvas = torch.full((crop_cells, crop_cells), IGNORE, dtype=torch.long)
    (src_y, dst_y, n_y), (src_x, dst_x, n_x) = (_crop_span(size, crop_cells, rng) for size in (cells_h, cells_w))
    label_canvas[dst_y : dst_y + n_y, dst_x : dst_x + n_x] = label_tensor[src_y : src_y + n_y, src_x : src_x + n_x]
    s = GRID_STRIDE
    canvas[:, dst_y * s : (dst_y + n_y) * s, dst_x * s : (dst_x + n_x) * s] = image[
        :, src_y * s : (src_y + n_y) * s, src_x * s : (src_x + n_x) * s
    ]
    return canvas, label_canvas


def _crop_span(size: int, crop: int, rng: np.random.Generator) -> tuple[int, int, int]:
    """(source start, destination start, length) of a random crop (or placement when smaller)."""
    if size >= crop:
        return int(rng.integers(0, size - crop + 1)), 0, crop
    return 0, int(rng.integers(0, crop - size + 1)), size


def frozen_stages(cam_model: CamModel, images: torch.Tensor) -> list[torch.Tensor]:
    """Every backbone stage of images [B, 3, H, W], without gradients and with frozen BatchNorm."""
    backbone = cam_model.branch.backbone
    was_training = backbone.training
    backbone.eval()
    try:
        with torch.no_grad():
            return [stage.detach() for stage in backbone.forward_stages(images)]
    finally:
        backbone.train(was_training)


def measure_stage_strides(cam_model: CamModel, probe: int = 64) -> tuple[int, ...]:
    """The stride of every backbone stage, measured on a probe image (backbones do not declare them)."""
    stages = frozen_stages(cam_model, torch.zeros(1, 3, probe, probe))
    return tuple(max(1, round(probe / stage.shape[-1])) for stage in stages)


def grid_of(images: torch.Tensor) -> tuple[int, int]:
    return -(-images.shape[-2] // GRID_STRIDE), -(-images.shape[-1] // GRID_STRIDE)


def to_grid(stage: torch.Tensor, grid: tuple[int, int]) -> torch.Tensor:
    """A stage resized to the stride-4 grid (bilinear; halving is then a 2x2 average)."""
    if tuple(stage.shape[-2:]) == tuple(grid):
        return stage
    return F.interpolate(stage, size=grid, mode="bilinear", align_corners=False)


def poly_lr(optimiser: torch.optim.Optimizer, initial: Sequence[float], step: int, total: int, power: float) -> None:
    """IRN / PSA PolyOptimizer: lr = initial * (1 - step / total)^power."""
    factor = (1 - step / max(total, 1)) ** power
    for group, lr in zip(optimiser.param_groups, initial):
        group["lr"] = lr * factor


# ------------------------------------------------------------------------------------------ head


def _conv_gn(c_in: int, c_out: int) -> nn.Sequential:
    groups = 4 if c_out <= 32 else 8 if c_out <= 64 else 16  # IRN: GN(4, 32), GN(8, 64), GN(16, 128/256)
    return nn.Sequential(nn.Conv2d(c_in, c_out, 1, bias=False), nn.GroupNorm(groups, c_out))


class IrnHead(nn.Module):
    """IRN's two branches over every backbone stage, output at stride 4 of the input.

    Boundary: each stage -> 1x1 conv to 32 + GroupNorm, to the grid, ReLU; concatenated -> 1x1 to 1
    logit. Displacement: shallow stages (stride <= 4) -> 64, 128, ... channels; deep stages -> 256
    each, fused by a 1x1 to 256 (IRN fuses its three deep stages at stride 8 first); everything on
    the grid -> 1x1 to 256 + GN + ReLU -> 1x1 to 2 (dy, dx in grid cells). IRN's ResNet-50 has five
    stages (64/256/512/1024/2048 channels); the widths follow the backbone's `stage_channels`.
    """

    def __init__(self, stage_channels: Sequence[int], stage_strides: Sequence[int]):
        super().__init__()
        if len(stage_channels) != len(stage_strides) or not stage_channels:
            raise ValueError("one stride per stage channel count is needed")
        self.stage_channels = tuple(int(c) for c in stage_channels)
        self.stage_strides = tuple(int(s) for s in stage_strides)
        self.edge_stages = nn.ModuleList(_conv_gn(c, 32) for c in self.stage_channels)
        self.edge_out = nn.Conv2d(32 * len(self.stage_channels), 1, 1, bias=True)
        self.shallow = [i for i, s in enumerate(self.stage_strides) if s <= GRID_STRIDE]
        self.deep = [i for i, s in enumerate(self.stage_strides) if s > GRID_STRIDE]
        widths = {i: min(256, 64 * 2**rank) for rank, i in enumerate(self.shallow)}
        widths.update({i: 256 for i in self.deep})
        self.displacement_stages = nn.ModuleList(_conv_gn(c, widths[i]) for i, c in enumerate(self.stage_channels))
        self.deep_fuse = _conv_gn(256 * len(self.deep), 256) if self.deep else None
        fused = sum(widths[i] for i in self.shallow) + (256 if self.deep else 0)
        self.displacement_out = nn.Sequential(
            _conv_gn(fused, 256), nn.ReLU(inplace=True), nn.Conv2d(256, 2, 1, bias=False)
        )

    @classmethod
    def for_model(cls, cam_model: CamModel) -> "IrnHead":
        return cls(cam_model.branch.backbone.stage_channels, measure_stage_strides(cam_model))

    def edge_logits(self, stages: Sequence[torch.Tensor], grid: tuple[int, int]) -> torch.Tensor:
        """Boundary logits [B, 1, *grid] (sigmoid gives the boundary map B of eq. 2.6)."""
        parts = [F.relu(to_grid(layer(stage), grid)) for layer, stage in zip(self.edge_stages, stages)]
        return self.edge_out(torch.cat(parts, dim=1))

    def displacement(self, stages: Sequence[torch.Tensor], grid: tuple[int, int]) -> torch.Tensor:
        """Displacement field [B, 2, *grid], (dy, dx) in grid cells towards the instance centroid."""
        parts = [F.relu(to_grid(layer(stage), grid)) for layer, stage in zip(self.displacement_stages, stages)]
        fused = [parts[i] for i in self.shallow]
        if self.deep_fuse is not None:
            fused.append(F.relu(self.deep_fuse(torch.cat([parts[i] for i in self.deep], dim=1))))
        return self.displacement_out(torch.cat(fused, dim=1))

    def forward(self, stages: Sequence[torch.Tensor], grid: tuple[int, int]) -> tuple[torch.Tensor, torch.Tensor]:
        return self.edge_logits(stages, grid), self.displacement(stages, grid)

    def boundary_parameters(self) -> list[nn.Parameter]:
        return [*self.edge_stages.parameters(), *self.edge_out.parameters()]

    def displacement_parameters(self) -> list[nn.Parameter]:
        modules = [self.displacement_stages, self.displacement_out] + ([self.deep_fuse] if self.deep_fuse else [])
        return [p for m in modules for p in m.parameters()]


# ------------------------------------------------------------------------------------------ losses


def displacement_targets(labels: np.ndarray) -> np.ndarray:
    """Target displacement [2, h, w] (dy, dx in cells): from each foreground pixel to the centroid of
    its connected class region (8-connected; our labels are semantic, so a region stands for an
    instance), zero on background and ignore pixels."""
    labels = np.asarray(labels)
    target = np.zeros((2, *labels.shape), dtype=np.float32)
    ys, xs = np.mgrid[: labels.shape[0], : labels.shape[1]]
    for value in np.unique(labels):
        if value == 0 or value == IGNORE:
            continue
        components, count = ndimage.label(labels == value, structure=np.ones((3, 3), dtype=bool))
        sizes = np.bincount(components.ravel(), minlength=count + 1).astype(np.float64)
        centre_y = np.bincount(components.ravel(), weights=ys.ravel(), minlength=count + 1) / np.maximum(sizes, 1)
        centre_x = np.bincount(components.ravel(), weights=xs.ravel(), minlength=count + 1) / np.maximum(sizes, 1)
        inside = components > 0
        target[0][inside] = centre_y[components[inside]] - ys[inside]
        target[1][inside] = centre_x[components[inside]] - xs[inside]
    return target


def _masked_mean(values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """IRN's sum(mask * loss) / (sum(mask) + 1e-5): zero when no element is selected."""
    mask = mask.to(values.dtype)
    return (values * mask).sum() / (mask.sum() + 1e-5)


def affinity_losses(affinity: torch.Tensor, labels: PairLabels) -> dict[str, torch.Tensor]:
    """The pair losses of AffinityNet / IRN on affinities [B, P] in [0, 1]:
    positives -log W (background and foreground apart), negatives -log(1 - W)."""
    positive = -torch.log(affinity + 1e-5)
    negative = -torch.log(1.0 + 1e-5 - affinity)
    return {
        "background_positive": _masked_mean(positive, labels.background_positive),
        "foreground_positive": _masked_mean(positive, labels.foreground_positive),
        "negative": _masked_mean(negative, labels.negative),
    }


def irn_loss(
    head: IrnHead, stages: Sequence[torch.Tensor], labels: torch.Tensor, targets: torch.Tensor, index: PairIndex
) -> dict[str, torch.Tensor]:
    """IRN's loss on a batch: (L+ + L-)/2 + (L_dp,fg + L_dp,bg)/2 with L+ = L+_bg/2 + L+_fg/2.

    labels [B, h, w] on `index.grid`; targets [B, 2, h, w] from :func:`displacement_targets`.
    The displacement losses are L1 (sum over dy, dx) averaged over foreground / background pixels.
    """
    edge, displacement = head(stages, index.grid)
    affinity = boundary_pair_affinity(torch.sigmoid(edge[:, 0]), index)
    losses = affinity_losses(affinity, pair_labels(labels, index))
    foreground = (labels > 0) & (labels != IGNORE)
    losses["displacement_foreground"] = _masked_mean((displacement - targets).abs().sum(1), foreground)
    losses["displacement_background"] = _masked_mean(displacement.abs().sum(1), labels == 0)
    positive = losses["background_positive"] / 2 + losses["foreground_positive"] / 2
    losses["total"] = (positive + losses["negative"]) / 2 + (
        losses["displacement_foreground"] + losses["displacement_background"]
    ) / 2
    return losses


# ------------------------------------------------------------------------------------------ training


def training_batches(
    cam_model: CamModel,
    samples: Sequence[TrainingSample],
    batch_size: int,
    crop_size: int,
    rescale: tuple[float, float],
    flip: bool,
    rng: np.random.Generator,
):
    """One epoch of augmented (images [B, 3, crop, crop], labels [B, crop/4, crop/4]) batches, shuffled.
    The last batch may be smaller (IRN drops it; with a few hundred private photos we keep it)."""
    order = rng.permutation(len(samples))
    for start in range(0, len(order), batch_size):
        views = [
            augment(cam_model, samples[i][0], samples[i][1], crop_size, rescale, flip, rng)
            for i in order[start : start + batch_size]
        ]
        yield torch.stack([v[0] for v in views]), torch.stack([v[1] for v in views])


def train_irn(
    cam_model: CamModel,
    samples: Sequence[TrainingSample],
    config: IrnConfig | None = None,
    progress: Progress | None = None,
) -> IrnHead:
    """Train an :class:`IrnHead` on pseudo-labelled photos with the backbone frozen; returns it in eval mode."""
    config = config or IrnConfig()
    if not samples:
        raise ValueError("IRN needs at least one training sample")
    crop = training_crop(cam_model, config)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)
        head = IrnHead.for_model(cam_model)
    index = pair_index((crop // GRID_STRIDE, crop // GRID_STRIDE), config.train_radius)
    initial = [config.lr, config.lr * config.displacement_lr_multiplier]
    optimiser = torch.optim.SGD(
        [
            {"params": head.boundary_parameters(), "lr": initial[0]},
            {"params": head.displacement_parameters(), "lr": initial[1]},
        ],
        lr=config.lr,
        momentum=config.momentum,
        weight_decay=config.weight_decay,
    )

    def batch_loss(stages: list[torch.Tensor], labels: torch.Tensor) -> torch.Tensor:
        targets = torch.from_numpy(np.stack([displacement_targets(label.numpy()) for label in labels]))
        return irn_loss(head, stages, labels, targets, index)["total"]

    return fit_head(cam_model, samples, head, optimiser, initial, config, batch_loss, progress)


def training_steps(n_samples: int, config: Any) -> int:
    """SGD steps of a relation head: the published epochs, raised to `min_steps` for small data sets."""
    if n_samples == 0 or config.epochs == 0:
        return 0
    return max(config.epochs * math.ceil(n_samples / config.batch_size), config.min_steps)


def fit_head(
    cam_model: CamModel, samples: Sequence[TrainingSample], head: nn.Module, optimiser: torch.optim.Optimizer,
    initial: Sequence[float], config: Any,
    batch_loss: Callable[[list[torch.Tensor], torch.Tensor], torch.Tensor], progress: Progress | None,
) -> nn.Module:
    """The relation heads' (IRN, AffinityNet) shared loop: `config.epochs` passes of augmented crops,
    more passes until `config.min_steps` SGD steps where the data set is small, the poly schedule over
    all steps, frozen backbone features, one SGD step per batch; eval mode out."""
    crop, rng = training_crop(cam_model, config), np.random.default_rng(config.seed)
    total = training_steps(len(samples), config)
    step = 0
    head.train()
    while step < total:
        batches = training_batches(cam_model, samples, config.batch_size, crop, config.rescale, config.flip, rng)
        for images, labels in batches:
            if step == total:
                break
            poly_lr(optimiser, initial, step, total, config.poly_power)
            loss = batch_loss(frozen_stages(cam_model, images), labels)
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
            step += 1
            if progress is not None:
                progress(step, total, float(loss.detach()))
    return head.eval()


# ------------------------------------------------------------------------------------------ save / load


def save_irn(head: IrnHead, path: str | os.PathLike, metadata: dict[str, Any] | None = None) -> None:
    """The head's weights and architecture in a privobf safetensors checkpoint (no pickle)."""
    meta = {**(metadata or {}), "kind": IRN_KIND, "stage_channels": list(head.stage_channels),
            "stage_strides": list(head.stage_strides)}
    save_checkpoint(path, head.state_dict(), meta)


def load_irn(path: str | os.PathLike) -> IrnHead:
    """An :class:`IrnHead` from :func:`save_irn`, in eval mode; its metadata is on `.metadata`."""
    return load_head(path, IRN_KIND, "an IRN head",
                     lambda metadata: IrnHead(metadata["stage_channels"], metadata["stage_strides"]))


def load_head(path: str | os.PathLike, kind: str, what: str, build: Callable[[dict[str, Any]], nn.Module]) -> nn.Module:
    """A relation head (IRN, AffinityNet) from its checkpoint: refuse another kind, rebuild it from the
    metadata, load the weights, keep the metadata on `.metadata`, eval mode."""
    checkpoint = load_checkpoint(path)
    if checkpoint.kind != kind:
        raise CheckpointError(f"{path}: a {checkpoint.kind!r} checkpoint, not {what}")
    head = build(checkpoint.metadata)
    head.load_state_dict(checkpoint.state)
    head.metadata = dict(checkpoint.metadata)
    return head.eval()


# ------------------------------------------------------------------------------------------ refinement


class IrnRefiner:
    """IRN's `make_sem_seg_labels` on one photo: seeds -> boundary-aware random walk -> refined maps."""

    def __init__(self, cam_model: CamModel, head: nn.Module, config: IrnConfig | None = None):
        self.cam_model = cam_model
        self.head = head.eval()
        self.config = config or IrnConfig()

    def boundary(self, pixels: np.ndarray, grid: tuple[int, int]) -> torch.Tensor:
        """sigmoid((edge(x) + flip(edge(flip x))) / 2) at stride 4 of the scale-1 input, on `grid`."""
        size = self.cam_model.input_size(pixels.shape[0], pixels.shape[1])
        image = image_to_tensor(pixels, size)[None]
        images = torch.cat([image, image.flip(-1)])
        with torch.no_grad():
            logits = self.head.edge_logits(frozen_stages(self.cam_model, images), grid_of(images))
        logits = to_grid((logits[0:1] + logits[1:2].flip(-1)) / 2, grid)
        return torch.sigmoid(logits[0, 0])

    def refine(self, pixels: np.ndarray, localisation: Localisation) -> Localisation:
        """Walk the seed maps x (1 - boundary) with beta and 2^exp_times steps at the inference radius,
        then divide by the global max over all classes (IRN; a class's relative strength survives) or,
        with `normalise="per_class"`, each class by its own max."""
        grid = localisation.grid
        boundary = self.boundary(pixels, grid)
        extra = {**localisation.extra, "boundary": boundary.numpy().astype(np.float32), "refiner": "irn"}
        if not localisation.classes:
            return dataclasses.replace(localisation, maps=localisation.maps.copy(), background=None, extra=extra)
        maps = torch.from_numpy(localisation.maps) * (1.0 - boundary)
        affinity = affinity_from_boundary(boundary, self.config.inference_radius)
        walked = random_walk(maps, affinity, self.config.beta, self.config.exp_times, self.config.max_dense_nodes)
        if self.config.normalise == "per_class":
            walked = walked / walked.amax(dim=(1, 2), keepdim=True).clamp(min=1e-5)
        else:
            walked = walked / walked.max().clamp(min=1e-5)
        return Localisation(list(localisation.classes), walked.numpy(), localisation.image_size, None, extra)
