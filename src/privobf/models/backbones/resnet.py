"""Bottleneck ResNet-50/101 with a dilated tail (DeepLab style).

Module names follow torchvision's layout (``conv1``, ``layer1.0.conv1``,
``layer1.0.downsample.0`` ...) so ImageNet weights saved from torchvision load
directly as a user weight file; the stride sits on the 3x3 conv (ResNet v1.5),
as in those weights.
"""

from __future__ import annotations

from collections.abc import Callable

import torch.nn.functional as F
from torch import Tensor, nn

from .registry import Backbone, check_output_stride, no_shipped_weights, register_backbone

LAYER_WIDTHS = (64, 128, 256, 512)
EXPANSION = 4


class Bottleneck(nn.Module):
    """1x1 reduce, 3x3 (strided or dilated), 1x1 expand, with post-activation."""

    def __init__(
        self, c_in: int, width: int, stride: int = 1, dilation: int = 1, downsample: nn.Module | None = None
    ) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, width, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, width, 3, stride, padding=dilation, dilation=dilation, bias=False)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = nn.Conv2d(width, width * EXPANSION, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(width * EXPANSION)
        self.downsample = downsample

    def forward(self, x: Tensor) -> Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        out = F.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        shortcut = x if self.downsample is None else self.downsample(x)
        return F.relu(out + shortcut)


class ResNet(Backbone):
    """ResNet features at output stride 32, 16 (default) or 8.

    Reaching a smaller stride turns the stride of layer4 (and layer3 for 8)
    into dilation.  The first block of a dilated layer keeps the previous
    dilation, as torchvision's ``replace_stride_with_dilation`` does, so the
    ImageNet filters keep their trained spatial footprint.  Stages are the
    outputs of layer1..layer4: channels (256, 512, 1024, 2048).
    """

    ignored_weight_prefixes = ("fc.",)

    def __init__(self, blocks_per_layer: tuple[int, int, int, int], output_stride: int = 16) -> None:
        super().__init__()
        self.output_stride = output_stride
        self.stage_channels = tuple(w * EXPANSION for w in LAYER_WIDTHS)
        self.out_channels = self.stage_channels[-1]
        self.conv1 = nn.Conv2d(3, 64, 7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        current_stride, dilation, c_in = 4, 1, 64
        layers = []
        for index, (width, count) in enumerate(zip(LAYER_WIDTHS, blocks_per_layer)):
            stride, first_dilation = (1 if index == 0 else 2), dilation
            if stride == 2 and current_stride * 2 > output_stride:
                stride, dilation = 1, dilation * 2
            current_stride *= stride
            layers.append(self._make_layer(c_in, width, count, stride, first_dilation, dilation))
            c_in = width * EXPANSION
        self.layer1, self.layer2, self.layer3, self.layer4 = layers

    @staticmethod
    def _make_layer(
        c_in: int, width: int, count: int, stride: int, first_dilation: int, dilation: int
    ) -> nn.Sequential:
        downsample = None
        if stride != 1 or c_in != width * EXPANSION:
            downsample = nn.Sequential(
                nn.Conv2d(c_in, width * EXPANSION, 1, stride=stride, bias=False),
                nn.BatchNorm2d(width * EXPANSION),
            )
        blocks = [Bottleneck(c_in, width, stride, first_dilation, downsample)]
        blocks += [Bottleneck(width * EXPANSION, width, 1, dilation) for _ in range(count - 1)]
        return nn.Sequential(*blocks)

    def _stages(self, x: Tensor) -> list[Tensor]:
        x = self.maxpool(F.relu(self.bn1(self.conv1(x))))
        outputs = []
        for index, layer in enumerate((self.layer1, self.layer2, self.layer3, self.layer4)):
            x = self._after_stage(index, layer(x))
            outputs.append(x)
        return outputs


def _factory(name: str, blocks: tuple[int, int, int, int]) -> Callable[..., ResNet]:
    def build(pretrained: bool = False, output_stride: int | None = None) -> ResNet:
        if pretrained:
            raise no_shipped_weights(name)
        return ResNet(blocks, check_output_stride(name, output_stride, (8, 16, 32), default=16))

    build.__name__ = name
    build.__doc__ = f"{name} with a dilated tail; ImageNet weights come as a torchvision-format file."
    return register_backbone(name)(build)


resnet50 = _factory("resnet50", (3, 4, 6, 3))
resnet101 = _factory("resnet101", (3, 4, 23, 3))
