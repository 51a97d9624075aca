"""A small random-init conv net for fast tests and smoke runs.

Four stages (16/32/64/128 channels) of two 3x3 conv-BN-ReLU layers each; a
64x64 batch goes forward and backward in milliseconds on a CPU, so the rest of
the project can test training loops without a real backbone.
"""

from __future__ import annotations

from torch import Tensor, nn

from .registry import Backbone, check_output_stride, no_shipped_weights, register_backbone

STAGE_CHANNELS = (16, 32, 64, 128)


def _conv_bn_relu(c_in: int, c_out: int, stride: int = 1, dilation: int = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, 3, stride=stride, padding=dilation, dilation=dilation, bias=False),
        nn.BatchNorm2d(c_out),
        nn.ReLU(inplace=True),
    )


class TinyBackbone(Backbone):
    """Four stride-2 stages (output stride 16), or the last one dilated (8)."""

    def __init__(self, output_stride: int = 8) -> None:
        super().__init__()
        self.output_stride = output_stride
        self.stage_channels = STAGE_CHANNELS
        self.out_channels = STAGE_CHANNELS[-1]
        last_stride, last_dilation = (2, 1) if output_stride == 16 else (1, 2)
        specs = [(2, 1), (2, 1), (2, 1), (last_stride, last_dilation)]
        stages = []
        c_in = 3
        for c_out, (stride, dilation) in zip(STAGE_CHANNELS, specs):
            stages.append(
                nn.Sequential(
                    _conv_bn_relu(c_in, c_out, stride, dilation),
                    _conv_bn_relu(c_out, c_out, 1, dilation),
                )
            )
            c_in = c_out
        self.stages = nn.ModuleList(stages)

    def _stages(self, x: Tensor) -> list[Tensor]:
        outputs = []
        for index, stage in enumerate(self.stages):
            x = self._after_stage(index, stage(x))
            outputs.append(x)
        return outputs


@register_backbone("tiny")
def tiny(pretrained: bool = False, output_stride: int | None = None) -> TinyBackbone:
    """Random-init test backbone; ``output_stride`` 8 (default) or 16."""
    if pretrained:
        raise no_shipped_weights("tiny")
    return TinyBackbone(check_output_stride("tiny", output_stride, (8, 16), default=8))
