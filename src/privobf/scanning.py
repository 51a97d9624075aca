"""Inference: a photo in, a :class:`PrivacyReport` out (privacy score, attributes, per-attribute maps).

Only Model-Image is used (paper §3.1). Multi-scale + flip runs every scale's original and
mirrored image as one batch, and the maps of all passes are summed at the base map resolution
before each attribute's map is max-normalised to [0, 1] (the CAM convention of the WSSS lineage).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, Mapping

import numpy as np
import torch
import torch.nn.functional as F

from .attributes import UserProfiles, vispr_profiles, vocabulary_from_ids
from .data.batching import image_to_tensor
from .models.config import InferenceConfig
from .models.loading import load_image_model
from .models.privobfnet import ImageModel
from .report import PrivacyReport

if TYPE_CHECKING:
    from .priors import PriorMaps, PriorSet

ImageInput = np.ndarray | str | os.PathLike


def model_input_size(height: int, width: int, long_side: int, stride: int) -> tuple[int, int]:
    """Keep the aspect ratio, long side = `long_side`, both sides multiples of the stride."""
    scale = long_side / max(height, width)
    return (
        max(stride * 2, int(round(height * scale / stride)) * stride),
        max(stride * 2, int(round(width * scale / stride)) * stride),
    )


def stack_priors(priors: Mapping[str, np.ndarray | None] | None, size: tuple[int, int]) -> torch.Tensor | None:
    """{"human": [H, W], "text": [H, W]} -> [1, 2, h, w]; a missing prior is NaN (= not applied)."""
    if not priors or all(priors.get(k) is None for k in ("human", "text")):
        return None
    channels = []
    for key in ("human", "text"):
        prior = priors.get(key)
        if prior is None:
            channels.append(torch.full(size, float("nan")))
        else:
            tensor = torch.from_numpy(np.ascontiguousarray(prior, dtype=np.float32))[None, None]
            channels.append(F.interpolate(tensor, size=size, mode="area")[0, 0].clamp(0, 1))
    return torch.stack(channels)[None]


class Scanner:
    """Holds a loaded model and scans images with it; reuse one Scanner for many images."""

    def __init__(
        self,
        model: ImageModel | str | os.PathLike | None = None,
        *,
        inference: InferenceConfig | None = None,
        profile: int | str | None = None,
        profiles: UserProfiles | None = None,
        device: str = "cpu",
        prior_set: "PriorSet | None" = None,
    ):
        """prior_set: providers whose human / text masks are computed for every scanned image when the
        caller passes no priors (None: the model runs without priors)."""
        self.model = model if isinstance(model, ImageModel) else load_image_model(model)
        self.model.to(device).eval()
        self.device = device
        preset_inference = getattr(self.model, "preset", None)
        self.inference = inference or (preset_inference.inference if preset_inference else InferenceConfig())
        self.vocabulary = vocabulary_from_ids(self.model.attribute_ids)
        self.profiles = profiles or vispr_profiles(self.vocabulary)
        self.profile = profile
        self.prior_set = prior_set

    @torch.inference_mode()
    def predict(self, image: np.ndarray, priors: Mapping[str, np.ndarray | None] | None = None) -> dict[str, Any]:
        """Raw outputs for one uint8 [H, W, 3] image: maps [K, h, w], probabilities [K], profile scores [P] or None."""
        config = self.model.config
        stride = self.model.branch.backbone.output_stride
        height, width = image.shape[:2]
        base = model_input_size(height, width, config.image_size, stride)
        map_size = (base[0] // stride, base[1] // stride)
        maps_sum = None
        probabilities, privacies = [], []
        for scale in self.inference.scales:
            size = model_input_size(height, width, int(round(config.image_size * scale)), stride)
            tensor = image_to_tensor(image, size)[None]
            prior = stack_priors(priors, size)
            if self.inference.flip:
                tensor = torch.cat([tensor, tensor.flip(-1)])
                prior = None if prior is None else torch.cat([prior, prior.flip(-1)])
            output = self.model(tensor.to(self.device), None if prior is None else prior.to(self.device))
            maps = F.interpolate(F.relu(output.attention_maps.float()), size=map_size, mode="bilinear", align_corners=False)
            if self.inference.flip:
                maps = maps[:1] + maps[1:].flip(-1)
            maps_sum = maps[0] if maps_sum is None else maps_sum + maps[0]
            probabilities.append(self.model.branch.attribute_probabilities(output).float().mean(0))
            if output.privacy is not None:
                privacies.append(output.privacy.float().mean(0))
        maxima = maps_sum.flatten(1).max(dim=1).values.clamp(min=1e-5)
        attention = (maps_sum / maxima[:, None, None]).cpu().numpy().astype(np.float32)
        return {
            "attention_maps": attention,
            "probabilities": torch.stack(probabilities).mean(0).cpu().numpy().astype(np.float32),
            "profile_scores": torch.stack(privacies).mean(0).cpu().numpy().astype(np.float32) if privacies else None,
        }

    def scan(self, image: ImageInput, priors: Mapping[str, np.ndarray | None] | None = None) -> PrivacyReport:
        if isinstance(image, np.ndarray) and image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] == 3:
            pixels = image
        else:
            from .imageio import load_image

            pixels = load_image(image).pixels
        notes = []
        if priors is not None:
            prior_record: dict[str, Any] = {k: ("given" if v is not None else "absent") for k, v in priors.items()}
        elif self.prior_set is not None:
            maps = self.prior_set(pixels)
            priors = maps.for_model()
            prior_record = prior_summary(maps, self.prior_set)
            notes.extend(f"prior provider {name} unavailable: {why}" for name, why in self.prior_set.unavailable.items())
            notes.extend(f"prior provider {name} failed on this image: {why}" for name, why in maps.errors.items())
        else:
            prior_record = {"human": "off", "text": "off"}
        raw = self.predict(pixels, priors)
        profile_scores = raw["profile_scores"]
        if profile_scores is None:
            # No privacy head: the score follows from the attribute probabilities and the profiles.
            profile_scores = self.profiles.scores(raw["probabilities"], "max")
            notes.append("privacy score derived from attribute probabilities (model has no privacy head)")
        if self.profile is None:
            score = float(np.mean(profile_scores))
        else:
            index = self.profiles.profile_index(self.profile) if isinstance(self.profile, str) else int(self.profile)
            score = float(profile_scores[index])
        return PrivacyReport(
            image_size=(int(pixels.shape[0]), int(pixels.shape[1])),
            attribute_ids=list(self.model.attribute_ids),
            probabilities=raw["probabilities"],
            attention_maps=raw["attention_maps"],
            privacy_score=score,
            profile_scores=profile_scores,
            attribute_threshold=self.inference.attribute_threshold,
            mask_threshold=self.inference.mask_threshold,
            model=dict(getattr(self.model, "source", {})),
            priors=prior_record,
            notes=notes,
        )


def prior_summary(maps: "PriorMaps", prior_set: "PriorSet") -> dict[str, Any]:
    """The report's record of the priors: which providers ran (versions), what each found, how long it took."""
    return {
        "human": "computed" if maps.human is not None else "absent",
        "text": "computed" if maps.text is not None else "absent",
        **prior_set.describe(),
        "detections": {name: len(result.boxes) for name, result in maps.results.items()},
        "seconds": {name: round(value, 4) for name, value in maps.seconds.items()},
        "errors": dict(maps.errors),
    }


_DEFAULT_PRIORS = object()
_shared_scanners: dict[bool, Scanner] = {}  # the embedded model with / without the default priors


def scan(
    image: ImageInput,
    model: ImageModel | str | os.PathLike | None = None,
    *,
    priors: Mapping[str, np.ndarray | None] | None = None,
    prior_set: "PriorSet | None | object" = _DEFAULT_PRIORS,
    **kwargs: Any,
) -> PrivacyReport:
    """Scan one image (array or path) with `model` (default: the embedded model).

    Like `privobf scan`, the default providers compute the human / text priors; `prior_set=None`
    turns them off, a `PriorSet` of your own replaces them, and `priors={"human": ..., "text": ...}`
    gives this image's masks directly. The embedded model is loaded once per process.
    """
    from .priors import PriorSet

    default_priors = prior_set is _DEFAULT_PRIORS
    if model is None and not kwargs and (default_priors or prior_set is None):
        if default_priors not in _shared_scanners:
            _shared_scanners[default_priors] = Scanner(prior_set=PriorSet() if default_priors else None)
        return _shared_scanners[default_priors].scan(image, priors)
    return Scanner(model, prior_set=PriorSet() if default_priors else prior_set, **kwargs).scan(image, priors)
