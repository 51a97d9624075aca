"""Several data sets trained as one, without pretending that they annotate the same attributes.

Each source annotates only its own label set: PrivMini's COCO photos say whether a person is shown
but not whether the face is visible; synthetic scenes annotate all nine of their attributes. Mixed
naïvely, every unannotated attribute would become a negative label (a real face "absent"). Here the
vocabulary is the union, and each item names as `unknown` the ids its source does not annotate; the
training losses leave those out (see `privobf.data.batching`).
"""

from __future__ import annotations

import bisect
import copy
from typing import Any, Sequence

from torch.utils.data import Dataset

SAFE = "a0_safe"


def union_ids(id_lists: Sequence[Sequence[str]]) -> list[str]:
    """The union in first-seen order, `a0_safe` first when any source has it."""
    ids: list[str] = []
    for id_list in id_lists:
        ids.extend(i for i in id_list if i not in ids)
    if SAFE in ids:
        ids.remove(SAFE)
        ids.insert(0, SAFE)
    return ids


def mark_unknown(item: Any, unknown: set[str]) -> Any:
    """A copy of `item` with `unknown` set; `a0_safe` ("nothing private") is unknown as soon as any
    private attribute is, unless the item already shows a private attribute."""
    if not unknown:
        return item
    labels = list(item.labels)
    shows_private = any(label != SAFE for label in labels)
    unknown = set(unknown)
    if shows_private:
        unknown.discard(SAFE)
    elif unknown - {SAFE}:
        labels = [label for label in labels if label != SAFE]
        unknown.add(SAFE)
    item = copy.copy(item)
    item.labels = labels
    item.unknown = sorted(unknown)
    return item


class MixedSources(Dataset):
    """Concatenation of named data sets (each optionally repeated) over the union of their vocabularies."""

    def __init__(self, parts: Sequence[tuple[str, Dataset, int]]):
        if not parts:
            raise ValueError("MixedSources needs at least one data set")
        for name, dataset, repeat in parts:
            if repeat < 1:
                raise ValueError(f"{name}: repeat must be at least 1, got {repeat}")
            if len(dataset) == 0:
                raise ValueError(f"{name}: the data set is empty")
        self.parts = list(parts)
        self.vocabulary_ids = union_ids([dataset.vocabulary_ids for _, dataset, _ in self.parts])
        self._unknown = [set(self.vocabulary_ids) - set(dataset.vocabulary_ids) for _, dataset, _ in self.parts]
        self._ends: list[int] = []
        total = 0
        for _, dataset, repeat in self.parts:
            total += len(dataset) * repeat
            self._ends.append(total)

    def __len__(self) -> int:
        return self._ends[-1]

    def __getitem__(self, index: int) -> Any:
        if not 0 <= index < len(self):
            raise IndexError(index)
        part = bisect.bisect_right(self._ends, index)
        start = self._ends[part - 1] if part else 0
        _, dataset, _ = self.parts[part]
        return mark_unknown(dataset[(index - start) % len(dataset)], self._unknown[part])

    def counts(self) -> dict[str, int]:
        """Items per source per epoch (repeats included)."""
        return {name: len(dataset) * repeat for name, dataset, repeat in self.parts}
