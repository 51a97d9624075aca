"""A trained segmentation network as the mask source of a scan (`privobf scan --segmentation`).

The classifier still decides which attributes a photo shows and how private it is; only *where* each
attribute is comes from the segmentation network, for the attributes it was trained on (matched by
attribute id, never by position). Attributes it does not know keep the classifier's attention maps.

The segmentation maps are kept beside the classifier's, not resampled into `attention_maps`: they lie
on a finer grid (stride 4 of a 513-px long side against stride 8-16 of ~448 px), and squeezing them
onto the classifier's grid would throw away the detail the network was trained for.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from ..checkpoint import CheckpointError, file_digest
from ..report import PrivacyReport, upsample_map
from .predict import SegmentationPredictor
from .training import SegmentationModel, load_segmentation

# The network's maps are per-pixel probabilities (sigmoids, or softmax foreground channels), so a pixel
# belongs to a mask where the network thinks it more likely in than out. The classifier's maps are
# max-normalised attention, whose 0.3 (InferenceConfig.mask_threshold) means something else.
SEGMENTATION_THRESHOLD = 0.5
CLASSIFIER, SEGMENTATION = "classifier", "segmentation"


@dataclass
class SegmentationMaskSource:
    """A loaded segmentation network and the threshold its maps are cut at; one per scanner."""

    model: SegmentationModel
    attribute_ids: list[str]  # the classifier's attributes the network knows, in the classifier's order
    threshold: float = SEGMENTATION_THRESHOLD
    source: dict[str, Any] = field(default_factory=dict)  # file, digest, kind: what the reports record

    def maps(self, pixels: np.ndarray, flip: bool = True) -> dict[str, np.ndarray]:
        """{attribute_id: float32 [h, w] probabilities} for the shared attributes of one uint8 photo
        (one scale, 513-px long side, optionally averaged with the mirrored pass)."""
        predicted = SegmentationPredictor(self.model, flip=flip).attention_maps(pixels)
        own = self.model.vocabulary_ids
        return {attribute_id: predicted[own.index(attribute_id)] for attribute_id in self.attribute_ids}

    def describe(self) -> dict[str, Any]:
        return {**self.source, "threshold": self.threshold, "attributes": list(self.attribute_ids), "backend": "torch"}


def load_mask_source(
    path: str | os.PathLike,
    classifier_ids: Sequence[str],
    *,
    device: str = "cpu",
    threshold: float = SEGMENTATION_THRESHOLD,
) -> SegmentationMaskSource:
    """The network of `path` (from `privobf train-seg`) as a mask source for a classifier with `classifier_ids`.

    Raises CheckpointError naming the file when it is missing, is not a segmentation checkpoint, or
    shares no attribute with the classifier (it could never provide a mask)."""
    if not 0.0 <= threshold <= 1.0:
        raise ValueError(f"segmentation threshold {threshold}: expected a number from 0 to 1")
    if not Path(path).is_file():
        raise CheckpointError(f"{path}: no such segmentation checkpoint")
    model = load_segmentation(path, device=device)
    shared = [attribute_id for attribute_id in classifier_ids if attribute_id in model.vocabulary_ids]
    if not shared:
        raise CheckpointError(
            f"{path}: the segmentation network knows none of the model's attributes "
            f"(it has {', '.join(model.vocabulary_ids)})")
    source = {"path": str(path), "sha256": file_digest(path), "kind": model.kind, "epoch": model.epoch}
    return SegmentationMaskSource(model, shared, threshold, source)


def mask_source_from_arguments(args: Any, model: Any, *, device: str = "cpu") -> "SegmentationMaskSource | None":
    """`--segmentation` / `--segmentation-threshold` of the scanning commands (scan, obfuscate, serve,
    ray-scan) as a loaded mask source, None without --segmentation. `model`: the classifier or its file.
    ValueError for a threshold without a network or outside 0..1; CheckpointError naming an unusable file."""
    threshold = getattr(args, "segmentation_threshold", None)
    if args.segmentation is None:
        if threshold is not None:
            raise ValueError("--segmentation-threshold applies to the masks of --segmentation; give --segmentation")
        return None
    threshold = SEGMENTATION_THRESHOLD if threshold is None else threshold
    if not 0.0 <= threshold <= 1.0:
        raise ValueError(f"--segmentation-threshold {threshold}: expected a number from 0 to 1")
    from ..models.loading import load_image_model

    ids = (model if hasattr(model, "attribute_ids") else load_image_model(model)).attribute_ids
    return load_mask_source(args.segmentation, ids, device=device, threshold=threshold)


@dataclass
class SegmentedReport(PrivacyReport):
    """A `PrivacyReport` whose masks come from a segmentation network where it knows the attribute.

    `mask(id)` without a threshold cuts a segmentation map at `segmentation_threshold` and a classifier
    map at `mask_threshold`; an explicit threshold applies to either. Everything that hides or draws
    (obfuscation, previews, the web page) goes through `soft_mask` / `mask`, so it follows the source."""

    segmentation_maps: dict[str, np.ndarray] = field(default_factory=dict)  # id -> float32 [h, w] in [0, 1]
    segmentation_threshold: float = SEGMENTATION_THRESHOLD
    segmentation: dict[str, Any] = field(default_factory=dict)  # the network's file, digest and kind

    def mask_source(self, attribute_id: str) -> str:
        self._index(attribute_id)  # a KeyError for ids outside the vocabulary, like every other accessor
        return SEGMENTATION if attribute_id in self.segmentation_maps else CLASSIFIER

    def soft_mask(self, attribute_id: str) -> np.ndarray:
        """float32 [H, W]: the segmentation probabilities (or the classifier's map), bilinearly upsampled."""
        if self.mask_source(attribute_id) == SEGMENTATION:
            return upsample_map(self.segmentation_maps[attribute_id], self.image_size)
        return super().soft_mask(attribute_id)

    def mask(self, attribute_id: str, threshold: float | None = None) -> np.ndarray:
        if threshold is None and self.mask_source(attribute_id) == SEGMENTATION:
            threshold = self.segmentation_threshold
        return super().mask(attribute_id, threshold)

    def to_dict(self) -> dict[str, Any]:
        """The plain report's summary plus, per attribute, where its mask comes from."""
        return {
            **super().to_dict(),
            "mask_source": {attribute_id: self.mask_source(attribute_id) for attribute_id in self.attribute_ids},
            "segmentation": {**self.segmentation, "threshold": self.segmentation_threshold},
        }
