"""AffinityNet (PSA) refinement: a pixel embedding whose L1 distances give affinities (eq. 2.5),
learnt from pseudo-label pairs, and a random walk of the seeds *and* a background score along them
(dissertation §2.3.2; digest §5; official code jiwoon-ahn/psa).

Unlike IRN, PSA has no constant background threshold: the background (1 - max_c CAM_c)^α walks with
the class maps and the label is the argmax over [walked background; walked classes], so the refined
:class:`Localisation` carries its own `background`.

The head reads the deepest backbone stages with the backbone frozen (PSA fine-tunes its whole
ResNet-38; here the backbone is the privobf classifier's and stays shared, so only the head trains
and is saved). Training views are made like IRN's (:mod:`privobf.refine.irn`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..checkpoint import save_checkpoint
from ..data.batching import image_to_tensor
from .cam_model import GRID_STRIDE, CamModel
from .irn import (
    Progress,
    TrainingSample,
    affinity_losses,
    check_head_schedule,
    fit_head,
    frozen_stages,
    grid_of,
    load_head,
    to_grid,
    training_crop,
)
from .localisation import Localisation
from .random_walk import (
    DEFAULT_MAX_DENSE_NODES,
    PairIndex,
    affinity_from_features,
    feature_pair_affinity,
    pair_index,
    pair_labels,
    random_walk,
)

AFFINITY_KIND = "affinity-head"


@dataclass
class AffinityNetConfig:
    """PSA's published values [C: psa/train_aff.py, infer_aff.py]; radius and crop adapted."""

    # [C] gamma = 5 at PSA's feature stride 8 = 40 input pixels; our grid is stride 4, so 10 cells
    # keep the same reach [I] (for training pairs and the walk alike).
    radius: int = 10
    beta: float = 8.0  # [C] infer_aff
    log_steps: int = 8  # [C] logt: 2^8 = 256 steps by repeated squaring
    background_alpha: float = 16.0  # [C] infer_aff: background score (1 - max_c CAM_c)^alpha
    background_positive_weight: float = 0.25  # [C] aff_loss = bg/4 + fg/4 + neg/2
    foreground_positive_weight: float = 0.25  # [C]
    negative_weight: float = 0.5  # [C]
    epochs: int = 8  # [C]
    # [I] at least this many SGD steps, repeating epochs: PSA's 8 epochs over VOC train_aug are
    # 8 x ceil(10582 / 8) = 10584 steps; 8 epochs over a few hundred photos are a few hundred.
    min_steps: int = 300
    batch_size: int = 8  # [C]
    lr: float = 0.1  # [C] train_aff.py default (the README runs 0.07)
    head_lr_multiplier: float = 10.0  # [C] PSA's new layers (f8_x, f9) train at 10x the base lr
    weight_decay: float = 5e-4  # [C]
    momentum: float = 5e-4  # [C quirk] PSA's PolyOptimizer, like IRN's, puts weight_decay in SGD's momentum slot
    poly_power: float = 0.9  # [C]
    crop_size: int | None = None  # as IRN: None = the model's image_size (PSA: 448 after a 448-768 resize)
    rescale: tuple[float, float] = (0.5, 1.5)  # as IRN (PSA: random long side 448-768, plus colour jitter)
    flip: bool = True
    max_dense_nodes: int = DEFAULT_MAX_DENSE_NODES  # [I] dense walk up to this many grid cells
    seed: int = 0

    def __post_init__(self) -> None:
        check_head_schedule(self)


class AffinityHead(nn.Module):
    """PSA's embedding: the three deepest stages projected to 64 / 128 / 256 channels (1x1, ELU),
    concatenated on the stride-4 grid and mixed by a 1x1 to 448 channels (ELU). PSA reads ResNet-38's
    conv4 / conv5 / conv6 (512 / 1024 / 4096 channels) at stride 8; here the backbone's deepest
    stages (fewer if it has fewer), output at stride 4."""

    PROJECTIONS = (64, 128, 256)  # [C] f8_3, f8_4, f8_5
    EMBEDDING = 448  # [C] f9

    def __init__(self, stage_channels: Sequence[int]):
        super().__init__()
        self.stage_channels = tuple(int(c) for c in stage_channels)
        used = self.stage_channels[-len(self.PROJECTIONS) :]
        widths = self.PROJECTIONS[-len(used) :]
        self.projections = nn.ModuleList(nn.Conv2d(c, w, 1, bias=False) for c, w in zip(used, widths))
        self.fuse = nn.Conv2d(sum(widths), self.EMBEDDING, 1, bias=False)
        # [C] PSA's initialisation: kaiming for the shallower projections, xavier (gain 4) for the deepest and f9.
        for projection in self.projections[:-1]:
            nn.init.kaiming_normal_(projection.weight)
        nn.init.xavier_uniform_(self.projections[-1].weight, gain=4)
        nn.init.xavier_uniform_(self.fuse.weight, gain=4)

    def forward(self, stages: Sequence[torch.Tensor], grid: tuple[int, int]) -> torch.Tensor:
        """Embedding [B, 448, *grid] of the backbone stages (shallow to deep, as forward_stages)."""
        used = list(stages)[-len(self.projections) :]
        parts = [to_grid(F.elu(layer(stage)), grid) for layer, stage in zip(self.projections, used)]
        return F.elu(self.fuse(torch.cat(parts, dim=1)))


def affinitynet_loss(
    head: AffinityHead, stages: Sequence[torch.Tensor], labels: torch.Tensor, index: PairIndex, config: AffinityNetConfig
) -> dict[str, torch.Tensor]:
    """PSA's loss on a batch with labels [B, h, w] on `index.grid`: bg+/4 + fg+/4 + neg/2 (weights from config)."""
    affinity = feature_pair_affinity(head(stages, index.grid), index)
    losses = affinity_losses(affinity, pair_labels(labels, index))
    losses["total"] = (
        config.background_positive_weight * losses["background_positive"]
        + config.foreground_positive_weight * losses["foreground_positive"]
        + config.negative_weight * losses["negative"]
    )
    return losses


def train_affinitynet(
    cam_model: CamModel,
    samples: Sequence[TrainingSample],
    config: AffinityNetConfig | None = None,
    progress: Progress | None = None,
) -> AffinityHead:
    """Train an :class:`AffinityHead` on pseudo-labelled photos with the backbone frozen; eval mode out."""
    config = config or AffinityNetConfig()
    if not samples:
        raise ValueError("AffinityNet needs at least one training sample")
    crop = training_crop(cam_model, config)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)
        head = AffinityHead(cam_model.branch.backbone.stage_channels)
    index = pair_index((crop // GRID_STRIDE, crop // GRID_STRIDE), config.radius)
    initial = [config.lr * config.head_lr_multiplier]
    optimiser = torch.optim.SGD(
        head.parameters(), lr=initial[0], momentum=config.momentum, weight_decay=config.weight_decay
    )

    def batch_loss(stages: list[torch.Tensor], labels: torch.Tensor) -> torch.Tensor:
        return affinitynet_loss(head, stages, labels, index, config)["total"]

    return fit_head(cam_model, samples, head, optimiser, initial, config, batch_loss, progress)


def save_affinitynet(head: AffinityHead, path: str | os.PathLike, metadata: dict[str, Any] | None = None) -> None:
    """The head's weights and stage channels in a privobf safetensors checkpoint (no pickle)."""
    meta = {**(metadata or {}), "kind": AFFINITY_KIND, "stage_channels": list(head.stage_channels)}
    save_checkpoint(path, head.state_dict(), meta)


def load_affinitynet(path: str | os.PathLike) -> AffinityHead:
    """An :class:`AffinityHead` from :func:`save_affinitynet`, in eval mode; metadata on `.metadata`."""
    return load_head(path, AFFINITY_KIND, "an AffinityNet head", lambda metadata: AffinityHead(metadata["stage_channels"]))


class AffinityRefiner:
    """PSA's `infer_aff` on one photo: walk [background score; class maps] on the learnt affinities."""

    def __init__(self, cam_model: CamModel, head: nn.Module, config: AffinityNetConfig | None = None):
        self.cam_model = cam_model
        self.head = head.eval()
        self.config = config or AffinityNetConfig()

    def embedding(self, pixels: np.ndarray, grid: tuple[int, int]) -> torch.Tensor:
        """The embedding [D, *grid] of the scale-1 input (single scale, no flip, as PSA)."""
        size = self.cam_model.input_size(pixels.shape[0], pixels.shape[1])
        images = image_to_tensor(pixels, size)[None]
        with torch.no_grad():
            embedding = self.head(frozen_stages(self.cam_model, images), grid_of(images))
        return to_grid(embedding, grid)[0]

    def refine(self, pixels: np.ndarray, localisation: Localisation) -> Localisation:
        """Walked class maps and walked background (1 - max CAM)^alpha; no renormalisation (PSA argmaxes
        the walked scores directly, and a walk step is a weighted average, so they stay in [0, 1])."""
        maps = torch.from_numpy(localisation.maps)
        strongest = maps.max(0).values if len(localisation.classes) else torch.zeros(localisation.grid)
        background = (1.0 - strongest).clamp(min=0.0) ** self.config.background_alpha
        stacked = torch.cat([background[None], maps])
        affinity = affinity_from_features(self.embedding(pixels, localisation.grid), self.config.radius)
        walked = random_walk(stacked, affinity, self.config.beta, self.config.log_steps, self.config.max_dense_nodes)
        walked = walked.clamp(0.0, 1.0).numpy()
        extra = {**localisation.extra, "refiner": "affinitynet"}
        return Localisation(list(localisation.classes), walked[1:], localisation.image_size, walked[0], extra)
