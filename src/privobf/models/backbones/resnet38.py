"""The wide ResNet-38 of "Wider or Deeper" (Wu et al.), as used by PSA, SEAM and L2G.

Layer names follow PSA's ``resnet38d.Net`` so the converted ImageNet
checkpoint (``ilsvrc-cls_rna-a1_cls1000_ep-0001``) that the whole WSSS lineage
starts from loads without renaming.  The network is pre-activation: each block
starts with BN+ReLU of its input, and the final ``bn7`` normalises the output.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from .registry import Backbone, check_output_stride, no_shipped_weights, register_backbone


class ResBlock(nn.Module):
    """Pre-activation basic block: BN-ReLU, 3x3, BN-ReLU, 3x3, plus shortcut."""

    def __init__(
        self,
        c_in: int,
        c_mid: int,
        c_out: int,
        stride: int = 1,
        dilation: int = 1,
        first_dilation: int | None = None,
    ) -> None:
        super().__init__()
        first_dilation = dilation if first_dilation is None else first_dilation
        self.same_shape = c_in == c_out and stride == 1
        self.bn_branch2a = nn.BatchNorm2d(c_in)
        self.conv_branch2a = nn.Conv2d(
            c_in, c_mid, 3, stride, padding=first_dilation, dilation=first_dilation, bias=False
        )
        self.bn_branch2b1 = nn.BatchNorm2d(c_mid)
        self.conv_branch2b1 = nn.Conv2d(c_mid, c_out, 3, padding=dilation, dilation=dilation, bias=False)
        if not self.same_shape:
            self.conv_branch1 = nn.Conv2d(c_in, c_out, 1, stride, bias=False)

    def preactivate(self, x: Tensor) -> Tensor:
        """BN+ReLU of the block input; PSA's "x_bn_relu" feature."""
        return F.relu(self.bn_branch2a(x))

    def forward(self, x: Tensor, preact: Tensor | None = None) -> Tensor:
        a = self.preactivate(x) if preact is None else preact
        # A projecting shortcut reads the pre-activated input, an identity one
        # the raw input, exactly as in the original network.
        shortcut = x if self.same_shape else self.conv_branch1(a)
        out = self.conv_branch2a(a)
        out = self.conv_branch2b1(F.relu(self.bn_branch2b1(out)))
        return shortcut + out


class ResBlockBottleneck(nn.Module):
    """Pre-activation bottleneck (1x1, dilated 3x3, 1x1) of the two widest blocks."""

    def __init__(self, c_in: int, c_out: int, dilation: int = 1, dropout: float = 0.0) -> None:
        super().__init__()
        self.same_shape = c_in == c_out
        self.bn_branch2a = nn.BatchNorm2d(c_in)
        self.conv_branch2a = nn.Conv2d(c_in, c_out // 4, 1, bias=False)
        self.bn_branch2b1 = nn.BatchNorm2d(c_out // 4)
        self.dropout_2b1 = nn.Dropout2d(dropout)
        self.conv_branch2b1 = nn.Conv2d(
            c_out // 4, c_out // 2, 3, padding=dilation, dilation=dilation, bias=False
        )
        self.bn_branch2b2 = nn.BatchNorm2d(c_out // 2)
        self.dropout_2b2 = nn.Dropout2d(dropout)
        self.conv_branch2b2 = nn.Conv2d(c_out // 2, c_out, 1, bias=False)
        if not self.same_shape:
            self.conv_branch1 = nn.Conv2d(c_in, c_out, 1, bias=False)

    def preactivate(self, x: Tensor) -> Tensor:
        return F.relu(self.bn_branch2a(x))

    def forward(self, x: Tensor, preact: Tensor | None = None) -> Tensor:
        a = self.preactivate(x) if preact is None else preact
        shortcut = x if self.same_shape else self.conv_branch1(a)
        out = self.conv_branch2a(a)
        out = self.conv_branch2b1(self.dropout_2b1(F.relu(self.bn_branch2b1(out))))
        out = self.conv_branch2b2(self.dropout_2b2(F.relu(self.bn_branch2b2(out))))
        return shortcut + out


# (group prefix, number of blocks, c_in, c_mid, c_out, stride, dilation, first dilation)
_BASIC_GROUPS = (
    ("b2", 3, 64, 128, 128, 2, 1, 1),
    ("b3", 3, 128, 256, 256, 2, 1, 1),
    ("b4", 6, 256, 512, 512, 2, 1, 1),
    ("b5", 3, 512, 512, 1024, 1, 2, 1),
)


class ResNet38(Backbone):
    """ResNet-38 features at output stride 8 with 4096 channels.

    Stages are the six block groups b2..b7, each reported as BN+ReLU of its
    output (computed by the next group's first BN, or ``bn7`` for the last):
    pre-activation block outputs are unnormalised sums, and this is also what
    PSA/SEAM take as their "conv4"/"conv5" features.  Channels
    (128, 256, 512, 1024, 2048, 4096); strides 2, 4, 8, 8, 8, 8.
    """

    # fc8 is the classifier of PSA-trained checkpoints; linear1000 the ImageNet one.
    ignored_weight_prefixes = ("fc8", "linear1000", "fc.", "classifier")

    def __init__(self, dropout: bool = False) -> None:
        super().__init__()
        self.output_stride = 8
        self.out_channels = 4096
        self.stage_channels = (128, 256, 512, 1024, 2048, 4096)
        self.conv1a = nn.Conv2d(3, 64, 3, padding=1, bias=False)
        self.groups: list[list[str]] = []
        for prefix, count, c_in, c_mid, c_out, stride, dilation, first_dilation in _BASIC_GROUPS:
            names = []
            for i in range(count):
                name = prefix if i == 0 else f"{prefix}_{i}"
                if i == 0:
                    block = ResBlock(c_in, c_mid, c_out, stride, dilation, first_dilation)
                else:
                    block = ResBlock(c_out, c_mid, c_out, dilation=dilation)
                self.add_module(name, block)
                names.append(name)
            self.groups.append(names)
        # PSA trains with dropout 0.3/0.5 here; off by default so features are
        # deterministic, on with create_backbone("resnet38", dropout=True).
        self.b6 = ResBlockBottleneck(1024, 2048, dilation=4, dropout=0.3 if dropout else 0.0)
        self.b7 = ResBlockBottleneck(2048, 4096, dilation=4, dropout=0.5 if dropout else 0.0)
        self.groups += [["b6"], ["b7"]]
        self.bn7 = nn.BatchNorm2d(4096)

    def _stages(self, x: Tensor) -> list[Tensor]:
        x = self.conv1a(x)
        outputs: list[Tensor] = []
        preact = None
        for position, names in enumerate(self.groups):
            for index, name in enumerate(names):
                x = getattr(self, name)(x, preact if index == 0 else None)
            if position + 1 < len(self.groups):
                # The next group's first BN+ReLU is both this stage's output and
                # that block's input, so reporting the stage costs nothing extra.
                # A stage transform acts on this shared tensor, so the next
                # group (whose first block has a projecting shortcut that also
                # reads ``preact``) consumes exactly the reported output.
                preact = getattr(self, self.groups[position + 1][0]).preactivate(x)
                preact = self._after_stage(position, preact)
                outputs.append(preact)
            else:
                outputs.append(self._after_stage(position, F.relu(self.bn7(x))))
        return outputs


@register_backbone("resnet38")
def resnet38(pretrained: bool = False, output_stride: int | None = None, dropout: bool = False) -> ResNet38:
    """ResNet-38 (output stride 8 only); ImageNet weights come as a user file."""
    check_output_stride("resnet38", output_stride, (8,), default=8)
    if pretrained:
        raise no_shipped_weights("resnet38")
    return ResNet38(dropout=dropout)
