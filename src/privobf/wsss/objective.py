"""The training terms of issue 5's loss-side parts, added to PrivObfNet's eq. 1 on Model-Image.

- CAM-driven reconstruction (seed 003, eq. 5-6, 10): β_p · perceptual distance between the image and its
  reconstruction from Model-Image's raw CAMs (before prior weighting: the reconstruction needs the
  whole picture, and priors are absent for part of the images).
- Activation self-modulation (seed 003, eq. 8, 10): β_a · alignment of Model-Image's attention maps with
  their superpixel-refined, reliable-activation target; attributes a source does not annotate are left out.
- Attention transfer (seed 002, eq. 4-7): the enhanced and decreased views go through Model-Image in the
  same batch as the originals (`PrivObfNet.forward(views=...)`); their classification loss joins
  L_cls as the paper trains on "both the original images and the adjusted images", plus λ_s L_s and
  λ_bs L_bs. Privacy attributes overlap (a face inside a person), so a pixel belongs to every class
  whose normalised CAM reaches the threshold (`membership="threshold"`), not only to the arg-max class
  the seed's single-label VOC setting implies.
"""

from __future__ import annotations

from pathlib import Path
import torch

from ..cachedir import default_cache_dir
from ..models.config import WsssConfig
from ..models.privobfnet import TrainingOutput
from .attention_transfer import ATConfig, attention_transfer_losses, decreased, enhanced
from .reconstruction import PerceptualLoss
from .self_modulation import ASMConfig, SuperpixelCache, asm_loss


class WsssObjective:
    """Views to feed the model, and the extra loss terms, for the parts `config` switches on."""

    def __init__(self, config: WsssConfig, perceptual_loss: PerceptualLoss | None = None):
        self.config = config
        self.at_config = ATConfig(lambda_s=config.at_similarity_weight, lambda_bs=config.at_background_weight,
                                  membership="threshold")
        self.asm_config = ASMConfig(beta_a=config.asm_weight)
        # The frozen loss network is not part of the model: never trained, never checkpointed.
        self.perceptual_loss = (perceptual_loss or PerceptualLoss()) if config.cdr else None

    def to(self, device: torch.device | str) -> "WsssObjective":
        if self.perceptual_loss is not None:
            self.perceptual_loss.to(device)
        return self

    def views(self, images: torch.Tensor) -> list[torch.Tensor]:
        if not self.config.attention_transfer:
            return []
        return [enhanced(images, self.at_config), decreased(images, self.at_config)]

    def terms(
        self,
        output: TrainingOutput,
        images: torch.Tensor,
        labels: torch.Tensor,
        label_known: torch.Tensor | None,
        superpixels: torch.Tensor | None,
        classification_loss,
    ) -> dict[str, torch.Tensor]:
        """Weighted terms by name; `classification_loss(class_scores, labels, known)` is L_cls of the views."""
        parts: dict[str, torch.Tensor] = {}
        if self.config.cdr:
            if output.reconstruction is None:
                raise ValueError("CAM-driven reconstruction is on but the model has no reconstruction network")
            parts["cdr"] = self.config.cdr_weight * self.perceptual_loss(output.reconstruction, images)
        if self.config.asm:
            if superpixels is None:
                raise ValueError("activation self-modulation needs superpixels in the batch (TrainingCollator(superpixels=...))")
            loss, _ = asm_loss(output.image.attention_maps, labels, superpixels, self.asm_config, label_known)
            parts["asm"] = self.config.asm_weight * loss
        if self.config.attention_transfer:
            if not output.views or len(output.views) != 2:
                raise ValueError("attention transfer needs the enhanced and decreased views in the forward pass")
            enhanced_output, decreased_output = output.views
            parts["at_cls"] = 0.5 * (classification_loss(enhanced_output.class_scores, labels, label_known)
                                     + classification_loss(decreased_output.class_scores, labels, label_known))
            # Attributes a source does not annotate are 0 in `labels`, so they never count as present here.
            transfer = attention_transfer_losses(output.image.attention_maps, enhanced_output.attention_maps,
                                                 decreased_output.attention_maps, labels, self.at_config)
            parts["at_similarity"] = self.at_config.lambda_s * transfer["similarity"]
            parts["at_background"] = self.at_config.lambda_bs * transfer["background_similarity"]
        return parts


def make_superpixel_cache(cache_root: str | Path | None = None) -> SuperpixelCache:
    """Superpixels of the training images, cached like the priors (`cache_root` or ~/.cache/privobf)."""
    return SuperpixelCache(Path(cache_root) if cache_root else default_cache_dir())
