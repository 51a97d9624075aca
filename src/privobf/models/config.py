"""Configurations of PrivObfNet and its training, with the presets `paper`, `default` and `tiny`.

Every open point of the paper that is a real choice is a field here, with the choice we made
as its default; `docs/design-decisions.md` gives the reasons.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Literal


@dataclass
class WsssConfig:
    """Training-time CAM improvements of the seed papers, each switchable (all off = PrivObfNet as published).

    drs: SSC's discriminative region suppression min(X, δ·max X) on backbone stages (`drs_stages`; empty =
    the backbone's default placement, `privobf.wsss.drs.default_drs_stages`). fum: the focused-unfocused
    module between backbone and CAM classifier. cdr: CAM-driven reconstruction with a perceptual loss
    (β_p). asm: activation self-modulation with superpixels (β_a). attention_transfer: enhanced and
    decreased images through Model-Image, their classification loss, L_s (λ_s) and L_bs (λ_bs).
    """

    drs: bool = False
    drs_stages: tuple[int, ...] = ()
    drs_delta: float = 0.55
    fum: bool = False
    cdr: bool = False
    cdr_weight: float = 1.0  # β_p of SSC eq. 10
    asm: bool = False
    asm_weight: float = 1.0  # β_a of SSC eq. 10
    attention_transfer: bool = False
    at_similarity_weight: float = 0.5  # λ_s of eq. 7 (seed 002)
    at_background_weight: float = 0.5  # λ_bs of eq. 7

    PARTS = ("drs", "fum", "cdr", "asm", "attention_transfer")

    def enabled(self) -> list[str]:
        return [part for part in self.PARTS if getattr(self, part)]


@dataclass
class ModelConfig:
    backbone: str = "efficientnet_lite0"
    pretrained: bool | str = True  # True: weights shipped in a registry package; str: a user weight file
    output_stride: int = 16
    image_size: int = 448  # Model-Image input side (paper: 448)
    crop_size: int = 320  # Model-Cropped input side (paper: 320)
    n_crops: int = 6  # crops per image (the paper's "patch size" 6)
    use_cropped: bool = True  # train Model-Cropped with L_img and L_cr (Table 4's last row)
    attribute_head: Literal["separate", "cam"] = "separate"  # attribute logits from their own head, or pooled CAMs
    use_attribute_task: bool = True  # L_att (eq. 5)
    use_privacy_task: bool = True  # L_priv (eq. 4): a head regressing one score per user profile
    n_profiles: int = 30
    privacy_hidden: int = 256
    dropout: float = 0.0  # on the features before the CAM classifier
    # Backbone parameters (by name prefix) kept at their ImageNet values, BatchNorm statistics included:
    # the early high-resolution layers cost most of a CPU backward pass and change least in fine-tuning.
    frozen_backbone_prefixes: tuple[str, ...] = ()
    prior_floor: float = 0.0  # attention kept outside a prior mask: A * (floor + (1 - floor) * prior)
    prior_dropout: float = 0.3  # training: share of images whose priors are withheld, so CAMs also work without priors
    crop_map_normalisation: Literal["softmax", "none"] = "softmax"  # eq. 2: normalise S_i like G_i, or not
    detach_crop_maps: bool = True  # eq. 2 transfers Model-Cropped's knowledge to Model-Image (S_i is the target)
    wsss: WsssConfig = field(default_factory=WsssConfig)  # issue 5's switchable CAM improvements
    # Attributes taught after training on the frozen network (`privobf.train.extend`, issue 19): the last
    # `extension_attributes` of the vocabulary take their maps from a small per-location network on the
    # features (`privobfnet.ExtensionHead`) and their scores from the maps' smooth maximum.
    extension_attributes: int = 0
    extension_hidden: int = 128

    def validate(self) -> None:
        if self.image_size % self.output_stride or self.crop_size % self.output_stride:
            raise ValueError(
                f"image_size {self.image_size} and crop_size {self.crop_size} must be multiples of the "
                f"output stride {self.output_stride}, so crops of the global map align exactly with crop maps"
            )
        if self.use_cropped and not (0 < self.crop_size <= self.image_size):
            raise ValueError(f"crop_size {self.crop_size} must be in (0, image_size={self.image_size}]")
        if not 0.0 <= self.prior_floor <= 1.0:
            raise ValueError("prior_floor must be in [0, 1]")
        if self.extension_attributes < 0 or self.extension_hidden < 1:
            raise ValueError("extension_attributes must be >= 0 and extension_hidden >= 1")
        if not 0.0 < self.wsss.drs_delta <= 1.0:
            raise ValueError(f"wsss.drs_delta must be in (0, 1], got {self.wsss.drs_delta}")


@dataclass
class LossWeights:
    """λ of eq. 1 (image, cropped, privacy, attribute) = (10, 1, 1, 1), plus the Attention(Image) CAM term.

    `cam_image` is the image-level classification loss on Model-Image's pooled attention maps, the
    "Attention (Image)" task of the paper's Table 4: it is what makes Model-Image's maps class
    activation maps at all. Eq. 1 does not list it; see docs/design-decisions.md.
    """

    image: float = 10.0
    cropped: float = 1.0
    privacy: float = 1.0
    attribute: float = 1.0
    cam_image: float = 1.0


@dataclass
class TrainConfig:
    epochs: int = 10
    batch_size: int = 4
    lr: float = 0.002
    weight_decay: float = 5e-4
    momentum: float = 0.9
    lr_decay_epochs: tuple[int, ...] = (6,)  # paper: decay at the 6th epoch
    lr_decay_factor: float = 0.1
    head_lr_multiplier: float = 10.0  # new layers learn faster than ImageNet layers (WSSS practice)
    optimizer: Literal["sgd", "adamw"] = "sgd"
    loss_weights: LossWeights = field(default_factory=LossWeights)
    hflip: bool = True
    num_workers: int = 0
    seed: int = 0
    amp: Literal["auto", "off", "bf16", "fp16"] = "auto"  # auto: bf16 on CUDA, off on CPU
    channels_last: Literal["auto", "on", "off"] = "auto"  # auto: on for CUDA
    max_steps_per_epoch: int | None = None
    grad_clip: float | None = 10.0


@dataclass
class InferenceConfig:
    scales: tuple[float, ...] = (1.0,)
    flip: bool = False
    attribute_threshold: float = 0.5
    mask_threshold: float = 0.3  # fixed before any evaluation; see docs/design-decisions.md


@dataclass
class Preset:
    name: str
    model: ModelConfig
    train: TrainConfig
    inference: InferenceConfig = field(default_factory=InferenceConfig)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Preset":
        train = dict(data["train"])
        train["loss_weights"] = LossWeights(**train.get("loss_weights", {}))
        train["lr_decay_epochs"] = tuple(train.get("lr_decay_epochs", ()))
        model = dict(data["model"])
        model["frozen_backbone_prefixes"] = tuple(model.get("frozen_backbone_prefixes", ()))
        wsss = dict(model.get("wsss", {}))
        wsss["drs_stages"] = tuple(wsss.get("drs_stages", ()))
        model["wsss"] = WsssConfig(**wsss)
        inference = dict(data.get("inference", {}))
        if "scales" in inference:
            inference["scales"] = tuple(inference["scales"])
        return cls(
            name=data["name"],
            model=ModelConfig(**model),
            train=TrainConfig(**train),
            inference=InferenceConfig(**inference),
        )


def paper_preset() -> Preset:
    """The paper's §4.1 recipe: ResNet-38 (user-supplied ImageNet weights), 448 / 320, 6 crops, SGD."""
    return Preset(
        "paper",
        ModelConfig(backbone="resnet38", pretrained=False, output_stride=8, image_size=448, crop_size=320, n_crops=6),
        TrainConfig(epochs=10, batch_size=4, lr=0.002, weight_decay=5e-4, lr_decay_epochs=(6,)),
        InferenceConfig(scales=(1.0, 0.5, 1.5, 2.0), flip=True),
    )


EFFICIENTNET_STRIDE8_PREFIXES = ("_conv_stem", "_bn0", "_blocks.0.", "_blocks.1.", "_blocks.2.", "_blocks.3.", "_blocks.4.")


def default_preset() -> Preset:
    """EfficientNet-Lite0 with shipped ImageNet weights, sized to train on a 2-core CPU in under half an hour.

    320 / 192 with 2 crops, the blocks up to stride 8 frozen: about 3 images/s on 2 cores.
    """
    return Preset(
        "default",
        ModelConfig(
            backbone="efficientnet_lite0", pretrained=True, output_stride=16, image_size=320, crop_size=192, n_crops=2,
            frozen_backbone_prefixes=EFFICIENTNET_STRIDE8_PREFIXES,
        ),
        TrainConfig(epochs=6, batch_size=8, lr=0.01, weight_decay=5e-4, lr_decay_epochs=(5,), num_workers=1),
        InferenceConfig(scales=(1.0,), flip=True),
    )


def tiny_preset() -> Preset:
    """A random-init small backbone for tests: seconds per epoch on tiny data."""
    return Preset(
        "tiny",
        ModelConfig(
            backbone="tiny", pretrained=False, output_stride=8, image_size=64, crop_size=32, n_crops=2, privacy_hidden=32
        ),
        TrainConfig(epochs=2, batch_size=4, lr=0.01, lr_decay_epochs=(2,), head_lr_multiplier=1.0),
        InferenceConfig(scales=(1.0,), flip=False),
    )


PRESETS = {"paper": paper_preset, "default": default_preset, "tiny": tiny_preset}


def get_preset(name: str) -> Preset:
    try:
        return PRESETS[name]()
    except KeyError:
        raise ValueError(f"unknown preset {name!r}; choose one of {', '.join(PRESETS)}") from None
