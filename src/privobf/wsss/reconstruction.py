"""CAM-driven reconstruction (CDR) with a perceptual loss, after Chen et al., "Spatial Structure
Constraints for Weakly Supervised Semantic Segmentation" (IEEE TIP 2024), §III-B, Table I, eq. 4-6, 10.

A reconstruction network rebuilds the input image from the *class-aware CAM features* F, i.e. the
output of the bias-free 1x1 pixel-wise classifier (one channel per class, all K channels, eq. 4), and a
perceptual loss between the reconstruction and the input, computed on a frozen pretrained loss network,
is added to the classification loss (eq. 10: ``L = L_cls + beta_p * L_p + ...``).  Its gradient flows
through the CAMs into the classifier and the backbone, which is the point: the CAMs must keep the
coarse spatial structure of the image.

Shapes
------
* class-aware features / CAMs ``F``: ``[B, K, h, w]`` with ``h = ceil(H / s)``, ``s`` the backbone's
  output stride (8, 16 or 32 in privobf).
* :class:`ReconstructionNetwork`: ``[B, K, h, w] -> [B, 3, 16h, 16w]`` (four 2x up-sample blocks), values
  in [-1, 1] (tanh).  The paper's backbone has stride 16, so ``16h`` is the image size.  For other strides
  (or sizes not divisible by the stride) the result is resized bilinearly to the image size, which
  :func:`reconstruction_loss` always asks for: stride 8 gives ``2H`` and is halved, stride 32 gives
  ``H/2`` and is doubled.  Bilinear resizing keeps values in [-1, 1].
* :class:`PerceptualLoss`: reconstruction in [-1, 1] (mapped to [0, 1] by ``(x + 1) / 2`` before the loss
  network), target = the input image in [0, 1] (the range every privobf :class:`Backbone` expects; the
  loss network normalises internally).

Perceptual loss (eq. 5-6)
-------------------------
``l_j = ||phi_j(I_hat) - phi_j(I)||_1 / (C_j H_j W_j)`` -- the paper calls it the Mean Absolute Error, so
L1 normalised by the element count of the stage (averaged over the batch here), unlike Johnson et al.'s
squared L2.  ``L_p = sum_{j=1..J} l_j / 2^(J+1-j)`` with J = 5 and j counted from the shallowest stage,
so the weights are 1/32, 1/16, 1/8, 1/4, 1/2 from shallow to deep ("designed to match the gradually
reduced feature resolution").  The target features are computed without gradient.

Deviations from the paper
-------------------------
* Loss network: the paper uses an ImageNet VGG-19 with the features before each of its five max-pool
  layers (strides 1, 2, 4, 8, 16).  VGG-19 weights cannot be had offline here, so the default loss
  network is the ImageNet EfficientNet-Lite0 shipped with privobf, frozen.  Its ``forward_stages`` gives
  exactly five stages, all used: the ends of the blocks before each stride-2 block and the 1x1 head,
  channels (16, 24, 40, 112, 1280) at strides (2, 4, 8, 16, 32) -- one octave coarser than VGG's picks.
  Any :class:`~privobf.models.backbones.registry.Backbone` (or callable returning a list of features)
  with at least J stages can be passed instead; with more than J, evenly spaced stages including the
  first and the last are used unless ``stage_indices`` says otherwise.
* Table I gives no channel widths; they are taken from the authors' released decoder: head
  ``K -> 256`` (reflection padding), ResBlock at 256, up-sample blocks ``256->256, 256->128, 128->64,
  64->32`` (transpose conv keeps the width, the 3x3 conv changes it), tail ``32 -> 3``.  The input width
  is the number of CAM channels K (20 for VOC in the paper), a constructor parameter.
* "LayerNorm" in Table I is the per-sample normalisation over (C, H, W) with a per-channel affine used by
  the authors (MUNIT style); it is implemented as ``GroupNorm(1, C)``, which is the same operation except
  that the authors divide by the unbiased std plus eps rather than ``sqrt(var + eps)`` and initialise the
  scale uniformly at random rather than to one.  InstanceNorm (after each transpose conv) has no affine
  parameters, as in PyTorch's default and the authors' code.
* The authors' code compares the tanh output with the ImageNet-normalised image; here both sides are
  brought to [0, 1] first, as the loss network expects.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = [
    "CDRConfig",
    "PerceptualLoss",
    "ReconstructionNetwork",
    "class_aware_features",
    "efficientnet_lite0_loss_network",
    "reconstruction_loss",
    "stage_weights",
]

#: Widths of the authors' decoder (Table I gives none): the head/ResBlock width and the output width of
#: each up-sample block's 3x3 conv.
DEFAULT_WIDTH = 256
DEFAULT_UP_WIDTHS = (256, 128, 64, 32)


@dataclass
class CDRConfig:
    """Hyper-parameters of CAM-driven reconstruction.

    ``beta_p`` is eq. 10's weight of the perceptual loss (the paper uses 1; Fig. 7a finds 1-2 best and
    degradation at 5).  ``n_stages`` is J of eq. 6.  ``loss_resolution`` optionally resizes both images
    (bilinear) to a square of that side before the loss network, to bound its cost; None (the paper)
    uses the input size.  ``decoder_lr``/``decoder_betas`` are the Adam settings of the reconstruction
    network in the authors' released code (the paper does not state them; it decays them polynomially
    with power 0.9).
    """

    beta_p: float = 1.0
    n_stages: int = 5
    width: int = DEFAULT_WIDTH
    up_widths: tuple[int, ...] = DEFAULT_UP_WIDTHS
    loss_resolution: int | None = None
    decoder_lr: float = 5e-4
    decoder_betas: tuple[float, float] = (0.5, 0.999)

    def __post_init__(self) -> None:
        if self.beta_p < 0:
            raise ValueError(f"beta_p must be >= 0, got {self.beta_p}")
        if self.n_stages < 1:
            raise ValueError(f"n_stages must be >= 1, got {self.n_stages}")
        if len(self.up_widths) != 4:
            raise ValueError(f"Table I has four up-sample blocks; up_widths needs 4 widths, got {self.up_widths}")
        if self.loss_resolution is not None and self.loss_resolution < 1:
            raise ValueError(f"loss_resolution must be positive or None, got {self.loss_resolution}")


def class_aware_features(features: Tensor, classifier: nn.Conv2d | Tensor) -> Tensor:
    """The class-aware CAM features F of eq. 4: the pixel-wise 1x1 classifier applied to the backbone
    features, *all* K channels, no ReLU, no normalisation.

    ``features`` ``[B, C, h, w]``; ``classifier`` the bias-free 1x1 ``nn.Conv2d(C, K)`` or its weight
    ``[K, C, 1, 1]`` (or ``[K, C]``).  Returns ``[B, K, h, w]`` -- the CAMs themselves, identical to
    :class:`~privobf.models.privobfnet.PrivObfBranch`'s ``raw_maps`` (before prior weighting), which can be
    passed to the reconstruction network directly.
    """
    if isinstance(classifier, nn.Conv2d):
        if classifier.kernel_size != (1, 1):
            raise ValueError(f"the CAM classifier must be 1x1, got kernel {classifier.kernel_size}")
        return classifier(features)
    weight = classifier
    if weight.dim() == 2:
        weight = weight[:, :, None, None]
    if weight.dim() != 4 or weight.shape[2:] != (1, 1):
        raise ValueError(f"expected a 1x1 classifier weight [K, C, 1, 1] or [K, C], got {list(classifier.shape)}")
    if features.dim() != 4 or features.shape[1] != weight.shape[1]:
        raise ValueError(f"features {list(features.shape)} do not match classifier weight {list(weight.shape)}")
    return F.conv2d(features, weight)


def _layer_norm(channels: int) -> nn.GroupNorm:
    """Table I's LayerNorm: per-sample statistics over (C, H, W), per-channel scale and shift."""
    return nn.GroupNorm(1, channels)


class _ConvBlock(nn.Sequential):
    """3x3 conv (stride 1, same size), optional LayerNorm, optional ReLU."""

    def __init__(
        self, c_in: int, c_out: int, norm: bool = True, relu: bool = True, reflect: bool = False, bias: bool = True
    ) -> None:
        layers: list[nn.Module] = [
            nn.Conv2d(c_in, c_out, 3, padding=1, padding_mode="reflect" if reflect else "zeros", bias=bias)
        ]
        if norm:
            layers.append(_layer_norm(c_out))
        if relu:
            layers.append(nn.ReLU(inplace=True))
        super().__init__(*layers)


class _ResBlock(nn.Module):
    """x + (3x3 conv, LayerNorm, ReLU, 3x3 conv, LayerNorm)(x)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.body = nn.Sequential(_ConvBlock(channels, channels), _ConvBlock(channels, channels, relu=False))

    def forward(self, x: Tensor) -> Tensor:
        return x + self.body(x)


class _UpBlock(nn.Sequential):
    """4x4 transpose conv (x2, width kept), InstanceNorm, ReLU, then 3x3 conv to ``c_out``, LayerNorm, ReLU."""

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__(
            nn.ConvTranspose2d(c_in, c_in, 4, stride=2, padding=1, bias=False),
            nn.InstanceNorm2d(c_in),
            nn.ReLU(inplace=True),
            _ConvBlock(c_in, c_out),
        )


class ReconstructionNetwork(nn.Module):
    """Table I: head ConvBlock, one ResBlock, four up-sample blocks, tail 3x3 conv + tanh.

    ``in_channels`` is the number of CAM channels K.  ``forward(cams, output_size=None)`` maps
    ``[B, K, h, w]`` to ``[B, 3, 16h, 16w]`` in [-1, 1]; with ``output_size=(H, W)`` the result is resized
    bilinearly to that size when it differs (backbone stride other than 16, or an image size the stride
    does not divide).
    """

    #: Total up-sampling factor of the four up-sample blocks.
    upsampling = 16

    def __init__(
        self, in_channels: int, width: int = DEFAULT_WIDTH, up_widths: Sequence[int] = DEFAULT_UP_WIDTHS
    ) -> None:
        super().__init__()
        if in_channels < 1:
            raise ValueError(f"in_channels must be positive, got {in_channels}")
        if len(up_widths) != 4:
            raise ValueError(f"Table I has four up-sample blocks; up_widths needs 4 widths, got {tuple(up_widths)}")
        self.in_channels = in_channels
        # The authors' head conv has reflection padding and no bias (LayerNorm follows).
        self.head = _ConvBlock(in_channels, width, reflect=True, bias=False)
        self.res = _ResBlock(width)
        blocks = []
        c = width
        for c_out in up_widths:
            blocks.append(_UpBlock(c, c_out))
            c = c_out
        self.up = nn.Sequential(*blocks)
        self.tail = nn.Sequential(nn.Conv2d(c, 3, 3, padding=1), nn.Tanh())

    @classmethod
    def from_config(cls, in_channels: int, config: CDRConfig) -> "ReconstructionNetwork":
        return cls(in_channels, width=config.width, up_widths=config.up_widths)

    def forward(self, cams: Tensor, output_size: Sequence[int] | None = None) -> Tensor:
        if cams.dim() != 4 or cams.shape[1] != self.in_channels:
            raise ValueError(f"expected CAMs [B, {self.in_channels}, h, w], got {list(cams.shape)}")
        out = self.tail(self.up(self.res(self.head(cams))))
        if output_size is not None:
            size = (int(output_size[0]), int(output_size[1]))
            if tuple(out.shape[-2:]) != size:
                out = F.interpolate(out, size=size, mode="bilinear", align_corners=False)
        return out


def stage_weights(n_stages: int = 5) -> list[float]:
    """Eq. 6's weights ``1 / 2^(J+1-j)`` for j = 1..J, shallow to deep (1/32 ... 1/2 for J = 5)."""
    return [1.0 / 2 ** (n_stages + 1 - j) for j in range(1, n_stages + 1)]


def _freeze(module: nn.Module) -> nn.Module:
    module.requires_grad_(False)
    return module.eval()


def efficientnet_lite0_loss_network() -> nn.Module:
    """The default loss network: the shipped ImageNet EfficientNet-Lite0 (output stride 32), frozen and
    in eval mode; its five ``forward_stages`` outputs are the perceptual-loss stages."""
    from privobf.models.backbones import create_backbone

    return _freeze(create_backbone("efficientnet_lite0", pretrained=True))


FeatureExtractor = Callable[[Tensor], Sequence[Tensor]]


class PerceptualLoss(nn.Module):
    """Eq. 5-6 on a frozen loss network.

    ``loss_network``: an object with ``forward_stages(images01) -> list`` (a privobf ``Backbone``) or a
    callable ``images01 -> list of features``, shallow to deep; None builds
    :func:`efficientnet_lite0_loss_network`.  An ``nn.Module`` is frozen here (``requires_grad=False``)
    and kept in eval mode whatever mode the parent is put in, so BatchNorm statistics never change.
    ``stage_indices`` picks J of its outputs; by default all of them when there are exactly J, otherwise
    J evenly spaced ones including the first and the last.

    ``forward(reconstruction, target)``: reconstruction in [-1, 1] (tanh), target in [0, 1].
    :meth:`distance` compares two [0, 1] images.
    """

    def __init__(
        self,
        loss_network: nn.Module | FeatureExtractor | None = None,
        n_stages: int = 5,
        stage_indices: Sequence[int] | None = None,
        loss_resolution: int | None = None,
    ) -> None:
        super().__init__()
        if n_stages < 1:
            raise ValueError(f"n_stages must be >= 1, got {n_stages}")
        if loss_network is None:
            loss_network = efficientnet_lite0_loss_network()
        if isinstance(loss_network, nn.Module):
            _freeze(loss_network)
        elif not callable(loss_network):
            raise TypeError(f"loss_network must be a module or a callable, got {type(loss_network).__name__}")
        self.loss_network = loss_network
        self.n_stages = n_stages
        if stage_indices is not None:
            stage_indices = [int(i) for i in stage_indices]
            if len(stage_indices) != n_stages:
                raise ValueError(f"stage_indices needs {n_stages} entries, got {stage_indices}")
        self.stage_indices = stage_indices
        self.loss_resolution = loss_resolution
        self.register_buffer("weights", torch.tensor(stage_weights(n_stages)), persistent=False)

    def train(self, mode: bool = True) -> "PerceptualLoss":
        super().train(mode)
        if isinstance(self.loss_network, nn.Module):
            self.loss_network.eval()
        return self

    def _extract(self, images01: Tensor) -> list[Tensor]:
        net = self.loss_network
        if isinstance(net, nn.Module) and net.training:
            net.eval()  # someone switched it on directly; BatchNorm statistics must stay fixed
        stages = net.forward_stages(images01) if hasattr(net, "forward_stages") else net(images01)
        stages = list(stages)
        n = len(stages)
        if n < self.n_stages:
            raise ValueError(f"the loss network gives {n} stages, the perceptual loss needs J = {self.n_stages}")
        indices = self.stage_indices
        if indices is None:
            if self.n_stages == 1:
                indices = [n - 1]
            else:
                indices = [round(j * (n - 1) / (self.n_stages - 1)) for j in range(self.n_stages)]
        return [stages[i] for i in indices]

    def _resize(self, images: Tensor) -> Tensor:
        side = self.loss_resolution
        if side is None or tuple(images.shape[-2:]) == (side, side):
            return images
        return F.interpolate(images, size=(side, side), mode="bilinear", align_corners=False)

    def stage_losses(self, images01: Tensor, target01: Tensor) -> Tensor:
        """Eq. 5 per stage, ``[J]``: the mean absolute difference of the stage features (per image
        ``||.||_1 / (C_j H_j W_j)``, averaged over the batch).  No gradient flows into ``target01``."""
        if images01.shape != target01.shape:
            raise ValueError(f"reconstruction {list(images01.shape)} and target {list(target01.shape)} differ in shape")
        with torch.no_grad():
            target_features = self._extract(self._resize(target01))
        features = self._extract(self._resize(images01))
        return torch.stack([(a - b).abs().mean() for a, b in zip(features, target_features)])

    def distance(self, images01: Tensor, target01: Tensor) -> Tensor:
        """Eq. 6 between two images in [0, 1]."""
        return (self.weights.to(images01.dtype) * self.stage_losses(images01, target01)).sum()

    def forward(self, reconstruction: Tensor, target: Tensor) -> Tensor:
        """Eq. 6 with the tanh reconstruction mapped from [-1, 1] to [0, 1]; ``target`` in [0, 1]."""
        return self.distance((reconstruction + 1.0) / 2.0, target)


def reconstruction_loss(
    net: ReconstructionNetwork, loss_network: PerceptualLoss, cams: Tensor, images: Tensor
) -> Tensor:
    """L_p of eq. 6 for one batch: reconstruct ``images`` ``[B, 3, H, W]`` (in [0, 1]) from the
    class-aware CAM features ``cams`` ``[B, K, h, w]`` (see :func:`class_aware_features`), resized to
    ``H x W``.  Multiply by :attr:`CDRConfig.beta_p` to add it to the total loss (eq. 10).  Gradients
    reach ``net`` and, through ``cams``, the classifier and backbone, never the loss network."""
    if images.dim() != 4 or images.shape[1] != 3:
        raise ValueError(f"expected images [B, 3, H, W], got {list(images.shape)}")
    if cams.shape[0] != images.shape[0]:
        raise ValueError(f"CAMs have batch {cams.shape[0]}, images {images.shape[0]}")
    reconstruction = net(cams, output_size=images.shape[-2:])
    return loss_network(reconstruction, images)
