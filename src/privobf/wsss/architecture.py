"""The parts of issue 5 that change the network itself, applied when a branch is built.

DRS (seed 003 §III-A) suppresses the chosen backbone stages in training and inference alike; the
focused-unfocused module (seed 002 §III-C) sits between the backbone and the CAM classifier. Both are
recorded in `ModelConfig.wsss`, so a checkpoint rebuilds the same network when it is loaded.
"""

from __future__ import annotations

from torch import nn

from ..models.config import WsssConfig
from .drs import DRSConfig, attach_drs
from .focused_unfocused import FocusedUnfocusedModule


def apply_architecture(backbone: nn.Module, channels: int, config: WsssConfig) -> nn.Module:
    """Install DRS on `backbone` (if asked) and return the feature refiner (FUM or identity)."""
    if config.drs:
        attach_drs(backbone, DRSConfig(stages=config.drs_stages, delta=config.drs_delta))
    return FocusedUnfocusedModule(channels) if config.fum else nn.Identity()
