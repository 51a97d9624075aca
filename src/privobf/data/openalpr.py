"""OpenALPR benchmark folders: car photos with one licence-plate box (and its text) each.

Layout: ``NAME.jpg`` (any image extension) beside ``NAME.txt`` whose rows are
``file x y w h PLATE`` (tab- or space-separated, pixels, x/y the top-left corner).

The box is the *only* ground truth the format has, so the mask for the plate attribute is that box
filled: it over-covers the plate's corners and under-covers nothing, which is the safe direction for
an obfuscation evaluator but means pixel metrics against it are approximate.

Decisions, so nothing is silent:

* a box partly outside the image is clipped to it and counted in :attr:`OpenAlprDataset.clipped`
  (the box is still good evidence of where the plate is);
* a box fully outside the image, or with zero / negative area, is skipped and counted. The image is
  kept and still labelled ``a103_license_plate_complete`` (the annotator says a plate is there), but
  it has no box / mask for it and its ``ignore`` mask is all True: it has no pixel ground truth,
  so pixel metrics must not treat it as "no plate here";
* a txt row that does not parse, or names an image that is missing or unreadable, is skipped and
  counted; an image with no txt beside it is counted too (it has no annotation at all).

Boxes are in the stored pixel grid. :func:`privobf.imageio.load_image` applies EXIF orientation, so an
image whose EXIF rotates it would no longer match its box: such rows are counted and skipped rather
than guessed at (the real benchmark has none).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError
from torch.utils.data import Dataset

from ..imageio import load_image
from .roots import default_data_root
from .records import Box, LabelledImage, SkipReport

PLATE_ID = "a103_license_plate_complete"
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")
_EXIF_ORIENTATION = 274


def default_root() -> Path:
    """Where the real benchmark lives unless a caller says otherwise (one setting for all readers)."""
    return default_data_root() / "openalpr" / "eu"


@dataclass
class PlateRow:
    """One parsed annotation row, before it is checked against its image."""

    image_name: str
    box: Box  # x0, y0, x1, y1, possibly outside the image
    text: str


@dataclass
class _Entry:
    """One kept image: where it is, its size, and its validated boxes / texts."""

    image_id: str
    path: Path
    size: tuple[int, int]  # width, height
    boxes: list[Box]
    texts: list[str]


def parse_row(line: str) -> PlateRow | None:
    """Parse ``file x y w h PLATE``; None when the row is malformed (caller counts it).

    Tabs are the benchmark's separator; plain spaces are accepted too, because hand-made folders of the
    same format use them. The plate text is everything after the fifth field, so a text with a space
    survives.
    """
    parts = line.rstrip("\r\n").split("\t") if "\t" in line else line.split(None, 5)
    if len(parts) < 6:
        return None
    name, numbers, text = parts[0].strip(), parts[1:5], " ".join(p.strip() for p in parts[5:]).strip()
    try:
        x, y, w, h = (float(v) for v in numbers)
    except ValueError:
        return None
    if not name or not all(np.isfinite((x, y, w, h))):
        return None
    return PlateRow(name, (x, y, x + w, y + h), text)


def clip_box(box: Box, width: int, height: int) -> Box | None:
    """The part of `box` inside a width x height image, or None if nothing (or no area) is left."""
    x0, y0 = max(0.0, box[0]), max(0.0, box[1])
    x1, y1 = min(float(width), box[2]), min(float(height), box[3])
    if x1 <= x0 or y1 <= y0:
        return None
    return (x0, y0, x1, y1)


def box_mask(boxes: list[Box], height: int, width: int) -> np.ndarray:
    """Fill boxes on a bool grid; a pixel is in when its centre is (so adjacent boxes do not overlap)."""
    mask = np.zeros((height, width), dtype=bool)
    for x0, y0, x1, y1 in boxes:
        c0, r0 = int(np.ceil(x0 - 0.5)), int(np.ceil(y0 - 0.5))
        c1, r1 = int(np.ceil(x1 - 0.5)), int(np.ceil(y1 - 0.5))
        mask[max(r0, 0) : max(r1, 0), max(c0, 0) : max(c1, 0)] = True
    return mask


def upright_image_size(path: Path) -> tuple[int, int] | str:
    """(width, height) from the header only, or the reason it cannot be used: an EXIF-rotated photo's boxes
    (given in stored pixels by most labelling tools) would not match the upright pixels privobf reads."""
    try:
        with Image.open(path) as image:
            orientation = image.getexif().get(_EXIF_ORIENTATION, 1)
            size = image.size
    except (OSError, UnidentifiedImageError):
        return "unreadable image"
    if orientation not in (1, None):
        return f"EXIF orientation {orientation} (boxes would refer to the stored pixels)"
    return size


class OpenAlprDataset(Dataset):
    """OpenALPR plate folders as :class:`LabelledImage` items; images are decoded on access.

    Indexing (txt parsing, header sizes, clipping) happens once at construction so that `skips` and
    `clipped` are complete before anyone iterates.
    """

    vocabulary_ids = [PLATE_ID]

    def __init__(self, root: str | os.PathLike | None = None) -> None:
        self.root = Path(root) if root is not None else default_root()
        if not self.root.is_dir():
            raise FileNotFoundError(f"OpenALPR root {self.root} is not a folder")
        self.skips = SkipReport()
        self.clipped = 0
        self.entries = self._index()

    def _index(self) -> list[_Entry]:
        entries: dict[Path, _Entry] = {}
        for txt in sorted(self.root.glob("*.txt")):
            self._read_txt(txt, entries)
        self._count_unannotated(entries)
        return sorted(entries.values(), key=lambda e: e.image_id)

    def _read_txt(self, txt: Path, entries: dict[Path, _Entry]) -> None:
        lines = [ln for ln in txt.read_text(encoding="utf-8-sig", errors="replace").splitlines() if ln.strip()]
        if not lines:
            self.skips.add("empty annotation file", txt.name)
        for number, line in enumerate(lines, 1):
            row = parse_row(line)
            if row is None:
                self.skips.add("malformed row", f"{txt.name}:{number}")
                continue
            entry = self._entry_for(self.root / row.image_name, entries, f"{txt.name}:{number}")
            if entry is not None:
                self._add_box(entry, row, f"{txt.name}:{number}")

    def _entry_for(self, path: Path, entries: dict[Path, _Entry], where: str) -> _Entry | None:
        if path in entries:
            return entries[path]
        if not path.is_file():
            self.skips.add("image missing", where)
            return None
        size = upright_image_size(path)
        if isinstance(size, str):
            self.skips.add(size, where)
            return None
        entries[path] = _Entry(path.stem, path, size, [], [])
        return entries[path]

    def _add_box(self, entry: _Entry, row: PlateRow, where: str) -> None:
        entry.texts.append(row.text)  # the text is known even when the box is unusable
        clipped = clip_box(row.box, *entry.size)
        if clipped is None:
            self.skips.add("box outside image or without area", where)
            return
        if clipped != row.box:
            self.clipped += 1
        entry.boxes.append(clipped)

    def _count_unannotated(self, entries: dict[Path, _Entry]) -> None:
        for path in sorted(self.root.iterdir()):
            if path.suffix.lower() in IMAGE_EXTENSIONS and path not in entries:
                self.skips.add("image without annotation", path.name)

    def __len__(self) -> int:
        return len(self.entries)

    def __getitem__(self, index: int) -> LabelledImage:
        entry = self.entries[index]
        pixels = load_image(entry.path).pixels
        height, width = pixels.shape[:2]
        item = LabelledImage(entry.image_id, entry.path, pixels, [PLATE_ID], extra={"plate_text": _joined(entry.texts)})
        if entry.boxes:
            item.boxes = {PLATE_ID: list(entry.boxes)}
            item.masks = {PLATE_ID: box_mask(entry.boxes, height, width)}
        else:
            item.ignore = np.ones((height, width), dtype=bool)
        return item


def _joined(texts: list[str]) -> str:
    """One plate text per image in the benchmark; several (hand-made folders) are joined with ' | '."""
    return " | ".join(texts)
