"""What every dataset reader yields, and how it reports what it had to skip.

Readers of on-disk formats (VISPR, VOC, COCO, YOLO folders, OpenALPR, SROIE) return
:class:`LabelledImage` items: the training engine needs `image` and `labels`; evaluators use
`masks` and `boxes` where the format has them. Nothing is dropped silently: every skipped file
or annotation is counted in a :class:`SkipReport` with its reason.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

Box = tuple[float, float, float, float]  # x0, y0, x1, y1 in pixels, x1/y1 exclusive


@dataclass
class LabelledImage:
    image_id: str
    path: Path
    image: np.ndarray  # uint8 [H, W, 3], EXIF orientation applied (privobf.imageio.load_image)
    labels: list[str]  # attribute / class ids present; ["a0_safe"] (VISPR) or [] when nothing is
    masks: dict[str, np.ndarray] = field(default_factory=dict)  # id -> bool [H, W]; only where the format has pixels
    boxes: dict[str, list[Box]] = field(default_factory=dict)  # id -> boxes; only where the format has boxes
    ignore: np.ndarray | None = None  # bool [H, W]: pixels without ground truth (VOC 255, COCO crowd)
    extra: dict = field(default_factory=dict)  # format-specific (SROIE transcripts, plate text, ...)


def mapped_vocabulary(names_by_id: dict[int, str], class_map: dict[str, str] | None) -> list[str]:
    """The ids a reader's items can carry: the class_map's targets (sorted), else the names in id order."""
    if class_map is not None:
        return sorted(set(class_map.values()))
    return [names_by_id[i] for i in sorted(names_by_id)]


@dataclass
class SkipReport:
    """Counts of what a reader skipped, by reason, with a few examples each."""

    counts: Counter = field(default_factory=Counter)
    examples: dict[str, list[str]] = field(default_factory=dict)

    def add(self, reason: str, example: str) -> None:
        self.counts[reason] += 1
        bucket = self.examples.setdefault(reason, [])
        if len(bucket) < 3:
            bucket.append(example)

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def summary(self) -> str:
        if not self.counts:
            return "nothing skipped"
        parts = [f"{n} {reason} (e.g. {', '.join(self.examples[reason])})" for reason, n in self.counts.most_common()]
        return "skipped " + "; ".join(parts)
