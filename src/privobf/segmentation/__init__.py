"""Stage 4 of the weakly supervised pipeline: a DeepLab-v2-style network trained on pseudo labels.

`deeplab` the network (backbone + ASPP), `training` its training loop and checkpoints, `dsrg` Deep
Seeded Region Growing (seed growth, balanced seed loss, constrain-to-boundary loss), `predict`
multi-scale inference and split-level mIoU. Follows the dissertation digest §1.1, §4 and §14.
"""

from .deeplab import ASPP, DeepLabV2, aspp_rates
from .dsrg import balanced_seed_loss, constrain_to_boundary_loss, grow_seeds
from .predict import SegmentationPredictor, evaluate_segmentation
from .training import (
    SegmentationConfig,
    SegmentationModel,
    SegSample,
    load_segmentation,
    train_segmentation,
)

__all__ = [
    "ASPP",
    "DeepLabV2",
    "SegSample",
    "SegmentationConfig",
    "SegmentationModel",
    "SegmentationPredictor",
    "aspp_rates",
    "balanced_seed_loss",
    "constrain_to_boundary_loss",
    "evaluate_segmentation",
    "grow_seeds",
    "load_segmentation",
    "train_segmentation",
]
