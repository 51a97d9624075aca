"""The focused-unfocused module (FUM) of the attention-transfer WSSS seed, §III-C / Fig. 4.

FUM refines backbone features before the CAM classifier reads them.  It has
two parts, both reading the module input ``x`` of shape [B, C, h, w]:

* **Focused** -- channel attention, then spatial attention, "to focus on
  important feature information".  The seed cites Squeeze-and-Excitation
  ([24]) for the channel attention, so that part is SE: global average
  pooling, a bottleneck MLP (reduction ``se_reduction``), sigmoid gates per
  channel.  For spatial attention it cites an empirical study of attention
  factors ([25]) that prescribes no layer for CNN maps; the spatial gate here is
  the CBAM form (channel-wise mean and max maps, a ``spatial_kernel`` x
  ``spatial_kernel`` conv, sigmoid), applied after the channel gate as in CBAM.
* **Unfocused** -- a 4-layer multi-scale atrous convolution following hybrid
  dilated convolution (HDC, [27]), each layer 3x3 conv + BN + activation (Fig.
  4), reducing C to ``C'`` channels, then *context association*: the cosine
  similarity between every pair of positions of the atrous features
  (eq. 3), passed through an activation (ReLU: negatively related positions
  are "irrelevant" and get weight 0) and normalised (each row divided by its
  sum), gives the HW x HW relation map ``M_c``; the *input* features are
  multiplied by it, so each position becomes a similarity-weighted mean of the
  positions it is related to, however far away.  The branch reads all of ``x``,
  i.e. also the regions the focused part down-weights (the seed's "remaining
  regions" whose receptive field it expands).

Dilation "0": the seed lists dilation factors 0, 1, 2, 3 for four 3x3 convs.
A dilation of 0 does not exist in the usual (PyTorch/DeepLab) convention, where
1 is an ordinary conv; it does in the "number of holes between taps"
convention, where 0 holes is an ordinary conv.  We read the list in that
convention, i.e. PyTorch dilations (1, 2, 3, 4): all four layers stay 3x3
convs as Fig. 4 draws them, the rates increase with depth as §II says, and the
stack satisfies HDC's no-gridding condition (the maximum gap between used taps
of the second layer is 2 <= kernel size 3).

Residual form: the seed does not say how FUM's output is combined with its
input, so it is ``x + gamma * (focused + unfocused)`` with a learnable
per-channel ``gamma`` initialised to ``residual_init`` (0.1).  An untrained FUM
then passes the (pretrained) features nearly unchanged, so inserting it does
not wreck the classifier, while every parameter still receives a gradient from
the first step (``residual_init=0`` gives an exact identity at start, at the
price of zero gradients for everything but ``gamma`` on that step).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["FUMConfig", "FocusedUnfocusedModule", "context_association"]


@dataclass(frozen=True)
class FUMConfig:
    """FUM settings; defaults follow the seed (and SE/CBAM/HDC where it defers to them)."""

    #: PyTorch dilations of the four atrous layers (the seed's "0, 1, 2, 3" holes).
    dilations: tuple[int, ...] = (1, 2, 3, 4)
    #: SE bottleneck reduction (SE's default 16).
    se_reduction: int = 16
    #: Kernel of the spatial-attention conv (CBAM's default 7).
    spatial_kernel: int = 7
    #: C' = max(C // context_reduction, min_context_channels) for the atrous stack.
    context_reduction: int = 8
    min_context_channels: int = 16
    #: Initial per-channel scale of the residual branch.
    residual_init: float = 0.1
    use_channel_attention: bool = True
    use_spatial_attention: bool = True
    use_context: bool = True

    def __post_init__(self) -> None:
        object.__setattr__(self, "dilations", tuple(int(d) for d in self.dilations))
        if not self.dilations or any(d < 1 for d in self.dilations):
            raise ValueError(f"dilations must be positive PyTorch dilations, got {self.dilations}")
        if self.se_reduction < 1 or self.context_reduction < 1 or self.min_context_channels < 1:
            raise ValueError("reductions and min_context_channels must be >= 1")
        if self.spatial_kernel < 1 or self.spatial_kernel % 2 == 0:
            raise ValueError(f"spatial_kernel must be odd, got {self.spatial_kernel}")


def context_association(keys: Tensor, values: Tensor, eps: float = 1e-6) -> tuple[Tensor, Tensor]:
    """Weight ``values`` [B, C, h, w] by the positional cosine relations of ``keys`` [B, C', h, w].

    ``M[b, m, n] = relu(cos(keys[b, :, m], keys[b, :, n]))`` normalised so each
    row sums to 1 (rows of all-zero keys stay 0), and the result at position
    ``m`` is ``sum_n M[b, m, n] * values[b, :, n]``.  Returns ``(result, M)``
    with ``M`` of shape [B, hw, hw].  Two positions with identical key vectors
    relate with cosine 1; orthogonal or opposite ones not at all.
    """
    if keys.dim() != 4 or values.dim() != 4 or keys.shape[0] != values.shape[0] or keys.shape[2:] != values.shape[2:]:
        raise ValueError(f"keys {list(keys.shape)} and values {list(values.shape)} must be [B, *, h, w] alike")
    b, c, h, w = values.shape
    k = F.normalize(keys.flatten(2).float(), dim=1, eps=eps)  # [B, C', hw]
    relation = torch.relu(torch.bmm(k.transpose(1, 2), k))  # [B, hw, hw]
    relation = relation / relation.sum(dim=2, keepdim=True).clamp(min=eps)
    relation = relation.to(values.dtype)
    out = torch.bmm(values.flatten(2), relation.transpose(1, 2))  # [B, C, hw]
    return out.view(b, c, h, w), relation


class FocusedUnfocusedModule(nn.Module):
    """FUM on features [B, channels, h, w]; output has the input's shape."""

    def __init__(self, channels: int, config: FUMConfig | None = None) -> None:
        super().__init__()
        if channels < 1:
            raise ValueError(f"channels must be >= 1, got {channels}")
        self.config = config = FUMConfig() if config is None else config
        self.channels = channels
        if config.use_channel_attention:
            hidden = max(channels // config.se_reduction, 1)
            self.channel_fc1 = nn.Conv2d(channels, hidden, 1)
            self.channel_fc2 = nn.Conv2d(hidden, channels, 1)
        if config.use_spatial_attention:
            self.spatial_conv = nn.Conv2d(2, 1, config.spatial_kernel, padding=config.spatial_kernel // 2)
        if config.use_context:
            width = max(channels // config.context_reduction, config.min_context_channels)
            layers: list[nn.Module] = []
            c_in = channels
            for dilation in config.dilations:
                layers += [
                    nn.Conv2d(c_in, width, 3, padding=dilation, dilation=dilation, bias=False),
                    nn.BatchNorm2d(width),
                    nn.ReLU(inplace=True),
                ]
                c_in = width
            self.atrous = nn.Sequential(*layers)
        self.gamma = nn.Parameter(torch.full((1, channels, 1, 1), float(config.residual_init)))

    def focused(self, x: Tensor) -> Tensor:
        """``x`` gated by SE channel attention, then CBAM-style spatial attention."""
        if self.config.use_channel_attention:
            gate = self.channel_fc2(torch.relu(self.channel_fc1(x.mean(dim=(2, 3), keepdim=True))))
            x = x * torch.sigmoid(gate)
        if self.config.use_spatial_attention:
            pooled = torch.cat([x.mean(dim=1, keepdim=True), x.amax(dim=1, keepdim=True)], dim=1)
            x = x * torch.sigmoid(self.spatial_conv(pooled))
        return x

    def unfocused(self, x: Tensor) -> Tensor:
        """Context association of ``x`` by cosine relations of its atrous features."""
        out, _ = context_association(self.atrous(x), x)
        return out

    def forward(self, x: Tensor) -> Tensor:
        if x.dim() != 4 or x.shape[1] != self.channels:
            raise ValueError(f"expected features [B, {self.channels}, h, w], got {list(x.shape)}")
        branch = self.focused(x)
        if self.config.use_context:
            branch = branch + self.unfocused(x)
        return x + self.gamma * branch
