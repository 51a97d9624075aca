"""PrivMini: a small real multi-label privacy benchmark assembled from a data root.

Layout (that of `../shared/data`; any folder with it works, which is how the same command runs on
other images of these formats):

    ROOT/coco128/      COCO128 in YOLO folders: person polygons -> `x1_person_body` masks
    ROOT/openalpr/eu/  OpenALPR end-to-end: one plate box per car photo -> `a103_license_plate_complete`
    ROOT/sroie/        SROIE receipts: the text lines holding the address and the date ->
                       `a74_address_current_complete`, `a82_date_time`

Label mapping (VISPR ids; `x1_person_body` is privobf's extension id for a whole person, which VISPR
lacks): COCO `person` -> x1_person_body; plate -> a103_license_plate_complete; SROIE address ->
a74_address_current_complete ("visited location": the shop's address on a receipt); SROIE date ->
a82_date_time. A COCO128 image without a person is labelled `a0_safe` (its cars, TVs and books are not
private in VISPR's sense). Only COCO128 images with segmentation labels are used, so every person has a
pixel mask. Ground truth: person masks (pixels), plate boxes, and SROIE line quads (boxes and masks).

Split: an image goes to `val` when the first byte of sha256("<source>/<file stem>") is below 20 % of 256,
so the split is deterministic, stratified by source, and stable when images are added.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from torch.utils.data import Dataset

from .records import LabelledImage, SkipReport
from .roots import default_data_root

PERSON, PLATE, ADDRESS, DATE, SAFE = (
    "x1_person_body",
    "a103_license_plate_complete",
    "a74_address_current_complete",
    "a82_date_time",
    "a0_safe",
)
PRIVMINI_IDS = [SAFE, PERSON, PLATE, ADDRESS, DATE]
VAL_FRACTION = 0.2
Split = Literal["train", "val", "all"]


def split_of(source: str, stem: str) -> str:
    digest = hashlib.sha256(f"{source}/{stem}".encode("utf-8")).digest()
    return "val" if digest[0] < int(256 * VAL_FRACTION) else "train"


@dataclass(frozen=True)
class _Ref:
    source: str
    dataset: Dataset
    index: int


def _stems(source: str, dataset) -> list[str | None]:
    """File stems without decoding any image (each reader keeps its index); None: no ground truth."""
    if source == "coco128":  # without segmentation labels we cannot say whether a person is shown
        return [dataset.image_stem(i) if dataset.has_labels(i) else None for i in range(len(dataset))]
    if source == "openalpr":
        return [entry.image_id for entry in dataset.entries]
    return [receipt.image_id for receipt in dataset.receipts]


class PrivMini(Dataset):
    """The benchmark's items (LabelledImage with VISPR ids), for one split."""

    vocabulary_ids = PRIVMINI_IDS

    def __init__(self, root: str | Path | None = None, split: Split = "val"):
        from .openalpr import OpenAlprDataset
        from .sroie import SroieDataset
        from .yolo import YoloDataset

        if split not in ("train", "val", "all"):
            raise ValueError(f"split must be train, val or all, got {split!r}")
        self.root = Path(root) if root is not None else default_data_root()
        self.split = split
        self.skips = SkipReport()
        readers = {
            "coco128": (self.root / "coco128", lambda p: YoloDataset(p, task="segment", class_map={"person": PERSON})),
            "openalpr": (self.root / "openalpr" / "eu", OpenAlprDataset),
            "sroie": (self.root / "sroie", SroieDataset),
        }
        self.sources: dict[str, Dataset] = {}
        self.refs: list[_Ref] = []
        for source, (folder, reader) in readers.items():
            if not folder.is_dir():
                self.skips.add("source folder missing", str(folder))
                continue
            dataset = reader(folder)
            self.sources[source] = dataset
            for index, stem in enumerate(_stems(source, dataset)):
                if stem is None:
                    self.skips.add("no segmentation labels", f"{source}#{index}")
                elif split == "all" or split_of(source, stem) == split:
                    self.refs.append(_Ref(source, dataset, index))
        if not self.refs:
            raise FileNotFoundError(
                f"{self.root}: no PrivMini images found (expected coco128/, openalpr/eu/ or sroie/ in this folder)"
            )

    def __len__(self) -> int:
        return len(self.refs)

    def __getitem__(self, index: int) -> LabelledImage:
        ref = self.refs[index]
        item = ref.dataset[ref.index]
        item.labels = sorted(item.labels) or [SAFE]
        item.extra["source"] = ref.source
        return item

    def source_counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for ref in self.refs:
            counts[ref.source] = counts.get(ref.source, 0) + 1
        return counts
