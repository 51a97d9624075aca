"""From samples (image + image-level labels + optional priors) to training batches.

A sample is anything with `image` (uint8 [H, W, 3]), `labels` (attribute ids) and optionally
`human_prior` / `text_prior` (float [H, W] in [0, 1]): the synthetic `Scene` and every dataset
reader of `privobf.data` produce such objects. A sample may also name `unknown` attribute ids:
attributes its source does not annotate (the faces of COCO persons, say). Their labels are left out
of the classification losses and their privacy scores turn into an interval (see `privacy_loss`),
so a partly labelled photo never teaches the model that a face is absent.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from ..attributes import UserProfiles, Vocabulary


@dataclass
class Batch:
    images: torch.Tensor  # float [B, 3, S, S] in [0, 1]
    labels: torch.Tensor  # float [B, K] multi-hot
    privacy_targets: torch.Tensor  # float [B, P] per-profile scores in [0, 1]
    priors: torch.Tensor | None  # float [B, 2, S, S] (human, text); NaN-filled for images without priors
    label_known: torch.Tensor | None = None  # float [B, K]: 1 where the label is annotated; None: all are
    privacy_upper: torch.Tensor | None = None  # float [B, P]: highest score the unknown labels allow; None: = targets
    superpixels: torch.Tensor | None = None  # long [B, S, S]: superpixel labels (activation self-modulation)

    def to(self, device: torch.device | str, channels_last: bool = False) -> "Batch":
        memory_format = torch.channels_last if channels_last else torch.contiguous_format
        return Batch(
            self.images.to(device, non_blocking=True).contiguous(memory_format=memory_format),
            self.labels.to(device, non_blocking=True),
            self.privacy_targets.to(device, non_blocking=True),
            *(None if t is None else t.to(device, non_blocking=True)
              for t in (self.priors, self.label_known, self.privacy_upper, self.superpixels)),
        )


def image_to_tensor(image: np.ndarray, size: int | tuple[int, int]) -> torch.Tensor:
    """uint8 [H, W, 3] -> float [3, h, w] in [0, 1], antialiased resize (the model's input)."""
    tensor = torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1).float().div_(255.0)
    size = (size, size) if isinstance(size, int) else size
    if tuple(tensor.shape[-2:]) != tuple(size):
        tensor = F.interpolate(tensor[None], size=size, mode="bilinear", antialias=True, align_corners=False)[0]
    return tensor.clamp_(0.0, 1.0)


def prior_to_tensor(prior: np.ndarray | None, size: tuple[int, int]) -> torch.Tensor:
    if prior is None:
        return torch.full(size, float("nan"))
    tensor = torch.from_numpy(np.ascontiguousarray(prior, dtype=np.float32))[None, None]
    return F.interpolate(tensor, size=size, mode="area")[0, 0].clamp_(0.0, 1.0)


class TrainingCollator:
    """Resizes to the model's square input, flips, withholds priors at random, encodes labels and scores.

    Randomness comes from torch's global generator, which the DataLoader seeds per worker, so a run
    with a fixed seed is repeatable.
    """

    def __init__(
        self,
        vocabulary: Vocabulary,
        profiles: UserProfiles,
        image_size: int,
        hflip: bool = True,
        prior_dropout: float = 0.0,
        use_priors: bool = True,
        superpixels: Any = None,
    ):
        """superpixels: an object with `get_or_compute(uint8 image) -> int labels` (a SuperpixelCache), for
        activation self-modulation; computed on the resized image, flipped with it."""
        self.vocabulary = vocabulary
        self.profiles = profiles
        self.image_size = image_size
        self.hflip = hflip
        self.prior_dropout = prior_dropout
        self.use_priors = use_priors
        self.superpixels = superpixels

    def __call__(self, samples: Sequence[Any]) -> Batch:
        size = (self.image_size, self.image_size)
        images, labels, unknown, priors, segments = [], [], [], [], []
        any_prior = False
        for sample in samples:
            image = image_to_tensor(sample.image, size)
            human = getattr(sample, "human_prior", None) if self.use_priors else None
            text = getattr(sample, "text_prior", None) if self.use_priors else None
            if (human is not None or text is not None) and float(torch.rand(())) < self.prior_dropout:
                human = text = None
            prior = torch.stack([prior_to_tensor(human, size), prior_to_tensor(text, size)])
            any_prior |= human is not None or text is not None
            segment = None
            if self.superpixels is not None:
                pixels = image.mul(255.0).round_().to(torch.uint8).permute(1, 2, 0).contiguous().numpy()
                segment = torch.from_numpy(self.superpixels.get_or_compute(pixels).astype(np.int64))
            if self.hflip and float(torch.rand(())) < 0.5:
                image, prior = image.flip(-1), prior.flip(-1)
                segment = None if segment is None else segment.flip(-1)
            segments.append(segment)
            images.append(image)
            priors.append(prior)
            labels.append(self.vocabulary.encode(sample.labels))
            unknown.append(self.vocabulary.encode(getattr(sample, "unknown", None) or ()))
        label_array, unknown_array = np.stack(labels), np.stack(unknown)
        partial = bool(unknown_array.any())
        return Batch(
            torch.stack(images),
            torch.from_numpy(label_array),
            torch.from_numpy(self.profiles.scores(label_array, "max")),
            torch.stack(priors) if any_prior else None,
            torch.from_numpy(1.0 - unknown_array) if partial else None,
            torch.from_numpy(self.profiles.scores(np.maximum(label_array, unknown_array), "max")) if partial else None,
            torch.stack(segments) if self.superpixels is not None else None,
        )
