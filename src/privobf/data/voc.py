"""PASCAL VOC 2012 segmentation (and the SBD `train_aug` list) as :class:`LabelledImage` items.

VOC gives pixels, so it is where attention maps are checked against ground truth: each item carries
one boolean mask per class present and an `ignore` map of the 255 "boundary / difficult" pixels, which
evaluators must leave out rather than count as background.

Image-level labels come from the mask by default (what the pixels show). `image_level_from="xml"` takes
them from `Annotations/*.xml` instead, which also lists objects too small to have been painted.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
from PIL import Image
from torch.utils.data import Dataset

from ..imageio import ImageLoadError, load_image
from .records import LabelledImage, SkipReport

VOC_CLASSES: tuple[str, ...] = (
    "background", "aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair", "cow",
    "diningtable", "dog", "horse", "motorbike", "person", "pottedplant", "sheep", "sofa", "train", "tvmonitor",
)  # fmt: skip
IGNORE_INDEX = 255
MASK_FOLDERS = ("SegmentationClass", "SegmentationClassAug")


@dataclass(frozen=True)
class VocEntry:
    """One listed image: where its pixels and mask are, and its XML labels when asked for."""

    id: str
    image_path: Path
    mask_path: Path
    xml_labels: tuple[str, ...] | None = None


def _split_file(root: Path, split: str) -> Path:
    """`train_aug` lives in SBD's SegmentationAug folder; every other split in VOC's Segmentation folder."""
    if split == "train_aug":
        return root / "ImageSets" / "SegmentationAug" / "train_aug.txt"
    return root / "ImageSets" / "Segmentation" / f"{split}.txt"


def parse_split_line(line: str) -> tuple[str, str | None] | None:
    """`(id, mask path relative to root or None)` for `id` or `/JPEGImages/x.jpg /SegmentationClassAug/x.png` lines."""
    tokens = line.split()
    if not tokens:
        return None
    image_id = Path(tokens[0]).stem
    mask = tokens[1].lstrip("/") if len(tokens) > 1 else None
    return image_id, mask


def read_split_list(path: Path, report: SkipReport) -> list[tuple[str, str | None]]:
    """Listed ids in file order; repeated ids are counted and listed once, so no image weighs double."""
    if not path.is_file():
        raise FileNotFoundError(f"VOC split list {path} does not exist")
    entries: list[tuple[str, str | None]] = []
    seen: set[str] = set()
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        parsed = parse_split_line(line)
        if parsed is None:
            continue
        if parsed[0] in seen:
            report.add("duplicated id in split list", parsed[0])
            continue
        seen.add(parsed[0])
        entries.append(parsed)
    return entries


def read_xml_labels(path: Path) -> tuple[tuple[str, ...], list[str]]:
    """Class names of the objects in a VOC XML file (VOC order, unique) and any unknown names found.

    Raises OSError / ET.ParseError for files that cannot be read; the caller counts those.
    """
    objects = ET.parse(path).getroot().findall("object")
    names = {(obj.findtext("name") or "").strip() for obj in objects}
    known = tuple(c for c in VOC_CLASSES[1:] if c in names)
    unknown = sorted(names - set(VOC_CLASSES[1:]))
    return known, unknown


def _find_mask(root: Path, image_id: str, listed: str | None) -> Path | None:
    """The mask named on the list line if any, else VOC's then SBD's folder."""
    candidates = [root / listed] if listed else []
    candidates += [root / folder / f"{image_id}.png" for folder in MASK_FOLDERS]
    return next((c for c in candidates if c.is_file()), None)


def read_mask(path: Path) -> np.ndarray:
    """Class indices uint8 [H, W] from a palette (or greyscale) PNG, without any colour conversion.

    Converting to RGB would turn indices into palette colours, so the raw index plane is read instead.
    """
    try:
        with Image.open(path) as image:
            if image.mode not in ("P", "L"):
                raise ImageLoadError(str(path), f"segmentation mask has mode {image.mode}; expected a palette or greyscale PNG")
            indices = np.array(image, dtype=np.uint8)
    except ImageLoadError:
        raise
    except (OSError, ValueError, SyntaxError) as error:
        raise ImageLoadError(str(path), f"cannot read segmentation mask ({error})") from None
    bad = (indices >= len(VOC_CLASSES)) & (indices != IGNORE_INDEX)
    if bad.any():
        raise ImageLoadError(str(path), f"segmentation mask has class index {int(indices[bad][0])}, outside 0..20 and 255")
    return indices


def masks_from_indices(indices: np.ndarray) -> dict[str, np.ndarray]:
    """One bool mask per non-background class present."""
    present = np.unique(indices)
    return {VOC_CLASSES[i]: indices == i for i in present if 0 < i < len(VOC_CLASSES)}


class VocDataset(Dataset):
    """Map-style VOC 2012 segmentation dataset; `vocabulary_ids` are the 20 object classes."""

    vocabulary_ids = list(VOC_CLASSES[1:])
    exclusive_masks = True  # one class per pixel: evaluated as a label map (classic WSSS mIoU)

    def __init__(
        self,
        root: str | Path,
        split: str = "train",
        image_level_from: Literal["mask", "xml"] = "mask",
        split_file: str | Path | None = None,
    ) -> None:
        if image_level_from not in ("mask", "xml"):
            raise ValueError(f"image_level_from must be 'mask' or 'xml', got {image_level_from!r}")
        self.root = Path(root)
        self.split = split
        self.image_level_from = image_level_from
        self.skips = SkipReport()
        listed = read_split_list(Path(split_file) if split_file else _split_file(self.root, split), self.skips)
        self.entries = [e for e in (self._entry(i, m) for i, m in listed) if e is not None]

    def _entry(self, image_id: str, listed_mask: str | None) -> VocEntry | None:
        """Check files at construction, so skips are known (and counted) before training starts."""
        image_path = self.root / "JPEGImages" / f"{image_id}.jpg"
        if not image_path.is_file():
            self.skips.add("image file missing", image_id)
            return None
        mask_path = _find_mask(self.root, image_id, listed_mask)
        if mask_path is None:
            self.skips.add("segmentation mask missing", image_id)
            return None
        xml_labels = None
        if self.image_level_from == "xml":
            xml_labels = self._xml_labels(image_id)
            if xml_labels is None:
                return None
        return VocEntry(image_id, image_path, mask_path, xml_labels)

    def _xml_labels(self, image_id: str) -> tuple[str, ...] | None:
        """XML labels, or None (counted) when the file is missing or unparseable."""
        path = self.root / "Annotations" / f"{image_id}.xml"
        try:
            labels, unknown = read_xml_labels(path)
        except (OSError, ET.ParseError):
            self.skips.add("unreadable or missing XML annotation", image_id)
            return None
        for name in unknown:
            self.skips.add("unknown class name in XML (object ignored)", f"{image_id} {name!r}")
        return labels

    def __len__(self) -> int:
        return len(self.entries)

    def __getitem__(self, index: int) -> LabelledImage:
        entry = self.entries[index]
        pixels = load_image(entry.image_path).pixels
        indices = read_mask(entry.mask_path)
        if indices.shape != pixels.shape[:2]:
            raise ImageLoadError(
                str(entry.mask_path), f"mask is {indices.shape[1]}x{indices.shape[0]}, image is {pixels.shape[1]}x{pixels.shape[0]}"
            )
        masks = masks_from_indices(indices)
        labels = list(entry.xml_labels) if entry.xml_labels is not None else list(masks)
        for label in labels:  # an XML object too small to paint still gets a (empty) mask, so keys match labels
            masks.setdefault(label, np.zeros(indices.shape, dtype=bool))
        return LabelledImage(
            image_id=entry.id, path=entry.image_path, image=pixels, labels=labels, masks=masks,
            ignore=indices == IGNORE_INDEX,
        )  # fmt: skip
