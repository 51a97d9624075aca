"""Discriminative region suppression (DRS) as a backbone stage transform.

DRS (Kim et al., AAAI 2021), as used in §III-A of "Spatial Structure
Constraints for Weakly Supervised Semantic Segmentation" (SSC, eq. 3), caps an
intermediate feature map ``X`` of shape ``K x H x W`` at a fraction of its own
per-channel maximum::

    X_max = global max pooling of X          # one value per channel, K x 1 x 1
    X_new = min(X, delta * X_max)            # delta = 0.55

The "max" is the *per-image, per-channel spatial* maximum: the seed extracts
"the max-element of each channel X_max in R^{K x 1 x 1}" by global max pooling,
so every image of a batch and every channel gets its own cap.  Nothing is
learnt (``delta`` is a constant), so clipping the strongest responses pushes
the classifier to use the weaker, non-discriminative parts of the object and
the CAMs spread over more of it.

:func:`attach_drs` installs DRS through :meth:`Backbone.set_stage_transform`,
so the suppressed map is what the next stage consumes and what the backbone
reports; :func:`detach_drs` removes it again and the backbone is bit-for-bit
the plain one.  DRS is a training-time part: callers usually detach it (or
build the backbone without it) when extracting the final CAMs, as SSC's CAM
inference network has no DRS.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from privobf.models.backbones import Backbone
from privobf.models.backbones.efficientnet_lite import EfficientNetLite0
from privobf.models.backbones.resnet import ResNet
from privobf.models.backbones.resnet38 import ResNet38
from privobf.models.backbones.tiny import TinyBackbone

__all__ = ["DRSConfig", "DRSTransform", "attach_drs", "default_drs_stages", "detach_drs", "drs"]

DEFAULT_DELTA = 0.55


def _check_delta(delta: float) -> float:
    delta = float(delta)
    if not 0.0 < delta <= 1.0:
        raise ValueError(f"DRS delta must be in (0, 1], got {delta}")
    return delta


def drs(x: Tensor, delta: float = DEFAULT_DELTA) -> Tensor:
    """Discriminative region suppression of features ``x`` of shape [B, C, H, W].

    Returns ``min(x, delta * max(x_max, 0))`` where ``x_max`` is the spatial
    maximum of each image's channel (global max pooling), keeping dtype,
    device and shape.  Values at or below the cap pass unchanged; the gradient
    reaches both the unclipped positions and, through the max, the channel's
    peak, as in DRS's own module (the max is not detached).

    Negative features: the paper puts DRS after ReLU, where features are
    non-negative.  Some privobf stage outputs are not (EfficientNet-Lite's
    middle stages end in a linear projection conv).  The cap is taken from the
    max clamped at 0, so DRS only ever shortens positive responses and leaves
    negative values alone: for ``0 < delta <= 1`` this is exactly the paper's
    formula wherever the channel max is >= 0, and for an all-negative channel
    (where the raw formula already changes nothing because
    ``x <= x_max < delta * x_max``) it keeps the guarantee explicit rather than
    relying on that coincidence.  A ReLU is deliberately *not* added in front:
    it would discard the signed information the next linear-bottleneck block
    was trained on, which is a different change from suppression.

    DRS is not idempotent: a second application sees the new max
    ``delta * x_max`` and caps at ``delta**2 * x_max``.
    """
    if x.dim() != 4:
        raise ValueError(f"DRS expects features of shape [B, C, H, W], got {list(x.shape)}")
    delta = _check_delta(delta)
    peak = x.amax(dim=(2, 3), keepdim=True).clamp(min=0)
    return torch.minimum(x, peak * delta)


class DRSTransform:
    """A picklable, parameter-free stage transform applying :func:`drs`."""

    def __init__(self, delta: float = DEFAULT_DELTA) -> None:
        self.delta = _check_delta(delta)

    def __call__(self, x: Tensor) -> Tensor:
        return drs(x, self.delta)

    def __repr__(self) -> str:
        return f"DRSTransform(delta={self.delta})"


@dataclass(frozen=True)
class DRSConfig:
    """Where and how strongly to suppress.

    ``stages`` are :meth:`Backbone.forward_stages` indices; the empty default
    means "the backbone's :func:`default_drs_stages`".  ``delta`` is the
    paper's 0.55.
    """

    stages: tuple[int, ...] = ()
    delta: float = DEFAULT_DELTA

    def __post_init__(self) -> None:
        object.__setattr__(self, "stages", tuple(int(s) for s in self.stages))
        _check_delta(self.delta)


def default_drs_stages(backbone: Backbone) -> tuple[int, ...]:
    """The paper's DRS placement mapped onto ``backbone``'s stages.

    SSC trains a ResNet-50 (IRN setting, strides 2/4/8/16).  Its text only says
    DRS acts on "an intermediate feature map"; its released code applies DRS to
    the output of layer2 (the first stride-8 stage) and in place of the final
    ReLU of every layer4 bottleneck, so the map the 1x1 classifier reads is
    suppressed too.  Stage hooks act at stage ends, so per-block suppression
    inside layer4 is approximated by suppressing layer4's output; the
    placement becomes "the first stage at output stride 8, and the final
    feature map":

    * ``resnet50`` / ``resnet101``: (1, 3) -- layer2 and layer4, as in SSC.
    * ``resnet38`` (b2..b7 at strides 2, 4, 8, 8, 8, 8): (2, 5) -- b4, the
      first stride-8 group (512 channels, like ResNet's layer2), and b7.
    * ``efficientnet_lite0`` (strides 2, 4, 8, 16, head): (2, 4) -- the
      stride-8 stage (40 channels; signed, see :func:`drs`) and the head.
    * ``tiny`` (strides 2, 4, 8, 8 or 16): (2, 3).

    Any other backbone gets only its final stage: the one placement that means
    the same thing for every architecture.
    """
    last = len(backbone.stage_channels) - 1
    if isinstance(backbone, ResNet):
        first_stride8 = 1
    elif isinstance(backbone, ResNet38):
        first_stride8 = 2
    elif isinstance(backbone, (EfficientNetLite0, TinyBackbone)):
        first_stride8 = 2
    else:
        return (last,)
    return (first_stride8, last)


def attach_drs(backbone: Backbone, config: DRSConfig | None = None) -> tuple[int, ...]:
    """Install DRS on ``config.stages`` (or the default ones); return the stages used.

    Any DRS already attached is removed first, so attaching twice does not
    suppress twice.  Transforms of other kinds on other stages are kept; a
    stage that already carries a non-DRS transform is an error rather than
    being silently replaced.
    """
    config = DRSConfig() if config is None else config
    stages = config.stages or default_drs_stages(backbone)
    resolved = tuple(sorted({backbone._stage_index(s) for s in stages}))
    detach_drs(backbone)
    existing = backbone.stage_transforms()
    clash = [s for s in resolved if s in existing]
    if clash:
        raise ValueError(f"stages {clash} already carry a stage transform ({existing[clash[0]]!r})")
    for stage in resolved:
        backbone.set_stage_transform(stage, DRSTransform(config.delta))
    return resolved


def detach_drs(backbone: Backbone) -> tuple[int, ...]:
    """Remove every DRS transform from ``backbone``; return the stages it was on."""
    removed = tuple(i for i, fn in backbone.stage_transforms().items() if isinstance(fn, DRSTransform))
    for stage in removed:
        backbone.set_stage_transform(stage, None)
    return tuple(sorted(removed))
