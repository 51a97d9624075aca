"""DeepLab-v2: a dilated backbone plus ASPP, the segmentation network of stage 4 of the WSSS pipeline.

Every method in the dissertation (AdvCAM, RIB, W-OoD, BBAM) ends by training DeepLab-v2 on its pseudo
labels [D §1.1 step 4], so the final masks and the reported mIoU come from this network, not from the
seeds. DeepLab-v2's head is the "ASPP-L" variant: four parallel 3x3 convolutions with dilation rates
6, 12, 18 and 24, each mapping the backbone features *directly* to the class scores, summed
[C: kazuto1011/deeplab-pytorch libs/models/deeplabv2.py]. There is no 1x1 projection, no image pooling
branch and no BatchNorm in the head (those are DeepLab-v3).

Deviation: the papers use ResNet-101 (ImageNet). Here the backbone comes from the project's registry
and defaults to EfficientNet-Lite0, the only backbone with ImageNet weights shipped in this offline
package; any registered backbone can be named instead.

The module returns logits at the output-stride grid. Bilinear upsampling to the input size happens in
the loss (`training`) and in the predictor (`predict`), where the target size is known.
"""

from __future__ import annotations

from torch import Tensor, nn

from ..models.backbones import create_backbone

# [C: deeplab-pytorch DeepLabV2(atrous_rates=[6, 12, 18, 24])], defined at output stride 8.
ASPP_RATES_AT_STRIDE_8 = (6, 12, 18, 24)
# [C: deeplab-pytorch _ASPP: nn.init.normal_(weight, 0, 0.01), bias 0]
ASPP_INIT_STD = 0.01


def aspp_rates(output_stride: int) -> tuple[int, ...]:
    """The dilation rates for a backbone at `output_stride`.

    The published rates belong to output stride 8. At stride 16 every feature cell covers twice the
    pixels, so the rates are halved (3, 6, 9, 12) to keep the same field of view in image pixels.
    """
    if output_stride == 8:
        return ASPP_RATES_AT_STRIDE_8
    if output_stride == 16:
        return tuple(rate // 2 for rate in ASPP_RATES_AT_STRIDE_8)
    raise ValueError(f"DeepLab-v2 needs output_stride 8 or 16, got {output_stride}")


class ASPP(nn.Module):
    """Four parallel dilated 3x3 convolutions from features to class scores, summed (DeepLab-v2)."""

    def __init__(self, in_channels: int, n_outputs: int, rates: tuple[int, ...]) -> None:
        super().__init__()
        self.rates = tuple(rates)
        self.branches = nn.ModuleList(
            nn.Conv2d(in_channels, n_outputs, 3, padding=rate, dilation=rate, bias=True) for rate in self.rates
        )
        for branch in self.branches:
            nn.init.normal_(branch.weight, mean=0.0, std=ASPP_INIT_STD)
            nn.init.zeros_(branch.bias)

    def forward(self, features: Tensor) -> Tensor:
        scores = self.branches[0](features)
        for branch in self.branches[1:]:
            scores = scores + branch(features)
        return scores


class DeepLabV2(nn.Module):
    """Backbone from `privobf.models.backbones` + DeepLab-v2 ASPP.

    `forward(images [B, 3, H, W] in [0, 1]) -> logits [B, n_outputs, ceil(H/s), ceil(W/s)]` with s the
    output stride. `n_outputs` is K + 1 (background first) for exclusive targets, K for multi-label ones.
    `pretrained` is passed to `create_backbone` (True: the weights shipped with a package).
    """

    def __init__(
        self,
        backbone_name: str = "efficientnet_lite0",
        *,
        n_outputs: int,
        pretrained: bool = True,
        output_stride: int = 8,
    ) -> None:
        super().__init__()
        if n_outputs < 1:
            raise ValueError(f"n_outputs must be positive, got {n_outputs}")
        rates = aspp_rates(output_stride)
        self.backbone_name = backbone_name
        self.n_outputs = int(n_outputs)
        self.output_stride = int(output_stride)
        self.backbone = create_backbone(backbone_name, pretrained=pretrained, output_stride=output_stride)
        self.aspp = ASPP(self.backbone.out_channels, self.n_outputs, rates)

    def forward(self, images: Tensor) -> Tensor:
        return self.aspp(self.backbone(images))

    def freeze_batchnorm(self) -> None:
        """Put the backbone's BatchNorm layers in eval mode with fixed affine parameters.

        deeplab-pytorch freezes BN (`base.freeze_bn()`) because a batch of 10 crops gives unreliable
        batch statistics [C]. Call after every `.train()`, which switches BN back to batch statistics.
        """
        for module in self.backbone.modules():
            if isinstance(module, nn.modules.batchnorm._BatchNorm):
                module.eval()
                for parameter in module.parameters():
                    parameter.requires_grad_(False)

    def parameter_groups(self) -> dict[str, list[nn.Parameter]]:
        """deeplab-pytorch's lr groups [C: main.py get_params]: "1x" the backbone, "10x" the ASPP weights,
        "20x" the ASPP biases (which also get no weight decay)."""
        return {
            "1x": [p for p in self.backbone.parameters() if p.requires_grad],
            "10x": [branch.weight for branch in self.aspp.branches],
            "20x": [branch.bias for branch in self.aspp.branches],
        }
