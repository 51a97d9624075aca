"""Priors for training: computed once per data set (progress bar, cached), attached to every item.

`precompute_priors` walks the data set once in the main process and fills the cache, so DataLoader
workers only read compressed masks; `WithPriors` sets `human_prior` / `text_prior` on each item,
which is what `privobf.data.batching.TrainingCollator` reads.
"""

from __future__ import annotations

import copy
from typing import Any

from torch.utils.data import Dataset

from .prior_set import PriorSet


class WithPriors(Dataset):
    """`dataset` with provider priors on its items (items already carrying priors keep theirs)."""

    def __init__(self, dataset: Dataset, priors: PriorSet):
        self.dataset = dataset
        self.priors = priors
        self.vocabulary_ids = dataset.vocabulary_ids

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: int) -> Any:
        item = self.dataset[index]
        if getattr(item, "human_prior", None) is not None or getattr(item, "text_prior", None) is not None:
            return item
        maps = self.priors(item.image)
        item = copy.copy(item)
        item.human_prior, item.text_prior = maps.human, maps.text
        return item

    def __getattr__(self, name: str) -> Any:  # reader-specific attributes (skips, source_counts, ...)
        if name in ("dataset", "priors"):
            raise AttributeError(name)
        return getattr(self.dataset, name)


def precompute_priors(dataset: Dataset, priors: PriorSet, progress: bool = True, description: str = "priors") -> dict[str, Any]:
    """Compute (or find in the cache) every item's priors once; returns timing and cache statistics."""
    from tqdm import tqdm

    if priors.cache is None:
        raise ValueError("precompute_priors needs a PriorSet with a cache (otherwise the work is thrown away)")
    seconds: dict[str, float] = {}
    errors: dict[str, int] = {}
    for index in tqdm(range(len(dataset)), desc=description, disable=not progress, leave=False):
        maps = priors(dataset[index].image)
        for name, value in maps.seconds.items():
            seconds[name] = seconds.get(name, 0.0) + value
        for name in maps.errors:
            errors[name] = errors.get(name, 0) + 1
    return {"images": len(dataset), "seconds": seconds, "errors": errors, "cache": priors.cache.stats(), **priors.describe()}
