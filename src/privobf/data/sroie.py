"""SROIE receipts (ICDAR 2019): text-line quads with transcripts, plus key fields per receipt.

Layout: ``img/ID.jpg``, ``box/ID.csv`` (rows ``x1,y1,x2,y2,x3,y3,x4,y4,TRANSCRIPT``; the transcript
is everything after the 8th comma, so it may itself hold commas) and ``key/ID.json`` with
``company``, ``date``, ``address``, ``total``.

The key file says *what* the address and date are, not *where*; the reader finds the text lines that
hold them so that the private fields get pixel ground truth (filled quads):

* address: the run of consecutive lines whose joined text best matches the key address. Texts are
  compared in a compact form (upper case, letters and digits only) because line breaks, spacing and
  punctuation differ between the key and the transcript. A run is accepted at difflib ratio
  >= ``ADDRESS_MIN_RATIO`` (0.8);
* date: every line that holds the key date. Score = longest contiguous run of the compact date found in
  the compact line, divided by the compact date's length; accepted at >= ``DATE_MIN_COVERAGE`` (0.8),
  so at most one of ~8 date characters may be off, and an unrelated date on the same receipt (which
  shares a year but not day and month) is not taken.

Both thresholds were fixed before looking at results, from what the numbers mean (0.8 ratio ~ one
character in five differs: OCR-level slips such as BND/BHD, a dropped comma line; a wrong run of
lines scores far lower). The only look at the real data was a sanity check that the distribution of
best scores is bimodal with the threshold in the gap; they were not adjusted per receipt.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from difflib import SequenceMatcher
from pathlib import Path

import cv2
import numpy as np
from torch.utils.data import Dataset

from ..imageio import load_image
from .roots import default_data_root
from .records import Box, LabelledImage, SkipReport

ADDRESS_ID = "a74_address_current_complete"
DATE_ID = "a82_date_time"
FIELD_IDS = {"address": ADDRESS_ID, "date": DATE_ID}
ADDRESS_MIN_RATIO = 0.8
DATE_MIN_COVERAGE = 0.8
MAX_ADDRESS_LINES = 8  # receipts print an address on 1-6 lines; 8 bounds the search with margin
_LINE_IN_ADDRESS = 0.8  # a line may start/extend an address run only if this share of it is in the address
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png")

Quad = tuple[float, float, float, float, float, float, float, float]


def default_root() -> Path:
    """Where the real receipts live unless a caller says otherwise (one setting for all readers)."""
    return default_data_root() / "sroie"


# ----------------------------------------------------------------------------------------------- text


def read_text(path: Path) -> str:
    """Decode a file whatever it was saved as: UTF-8 (with or without BOM), else cp1252, else Latin-1.

    SROIE files come from several tools; a receipt must not be lost to one odd byte, and Latin-1 decodes
    anything, so this never raises on content.
    """
    data = path.read_bytes()
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    return data.decode("latin-1")


def normalise(text: str) -> str:
    """Upper case, whitespace collapsed, punctuation stripped from the ends: a readable comparable form."""
    return re.sub(r"\s+", " ", text.upper()).strip().strip(".,;:-_'\"()[]{}* ").strip()


def compact(text: str) -> str:
    """Only letters and digits of the normalised text: spacing / punctuation differ between key and OCR."""
    return re.sub(r"[\W_]+", "", normalise(text))


# ----------------------------------------------------------------------------------------------- parsing


def parse_box_row(row: str) -> tuple[Quad, str] | None:
    """Parse one csv row into (quad, transcript); None when it lacks 8 numeric coordinates."""
    parts = row.split(",", 8)
    if len(parts) < 9:
        return None
    try:
        coords = tuple(float(v) for v in parts[:8])
    except ValueError:
        return None
    if not all(np.isfinite(coords)):
        return None
    return coords, parts[8].strip()  # type: ignore[return-value]


def parse_box_file(path: Path, skips: SkipReport) -> list[tuple[Quad, str]]:
    """All well-formed rows of a box csv; malformed non-empty rows are counted in `skips`."""
    lines = []
    for number, row in enumerate(read_text(path).splitlines(), 1):
        if not row.strip():
            continue
        parsed = parse_box_row(row)
        if parsed is None:
            skips.add("malformed box row", f"{path.name}:{number}")
        else:
            lines.append(parsed)
    return lines


def read_key(path: Path) -> dict[str, str] | None:
    """The key fields as strings, or None when the file is missing or is not a JSON object."""
    if not path.is_file():
        return None
    try:
        key = json.loads(read_text(path))
    except json.JSONDecodeError:
        return None
    if not isinstance(key, dict):
        return None
    return {str(k): str(v) for k, v in key.items() if v is not None}


# ----------------------------------------------------------------------------------------------- matching


@dataclass
class FieldMatch:
    """Which lines hold one key field, and how well they matched (score in [0, 1])."""

    lines: list[int] = field(default_factory=list)
    score: float = 0.0

    @property
    def found(self) -> bool:
        return bool(self.lines)


def _share_in(part: str, whole: str) -> float:
    """Share of `part`'s characters that align with `whole` (1.0 when part is a fuzzy substring)."""
    if not part:
        return 0.0
    blocks = SequenceMatcher(None, part, whole, autojunk=False).get_matching_blocks()
    return sum(b.size for b in blocks) / len(part)


def match_address(texts: list[str], address: str) -> FieldMatch:
    """Best run of consecutive lines whose joined compact text matches the key address.

    Only lines mostly contained in the address may take part, which keeps the search small and stops a
    run from swallowing a neighbouring phone-number line. Ties go to the shorter run.
    """
    target = compact(address)
    if not target:
        return FieldMatch()
    pieces = [compact(t) for t in texts]
    member = [_share_in(p, target) >= _LINE_IN_ADDRESS for p in pieces]
    best = FieldMatch()
    for start in range(len(pieces)):
        joined = ""
        for end in range(start, min(start + MAX_ADDRESS_LINES, len(pieces))):
            if not member[end]:
                break
            joined += pieces[end]
            ratio = SequenceMatcher(None, joined, target, autojunk=False).ratio()
            if ratio > best.score:
                best = FieldMatch(list(range(start, end + 1)), ratio)
    if best.score < ADDRESS_MIN_RATIO:
        return FieldMatch(score=best.score)
    return best


def date_coverage(line: str, date: str) -> float:
    """Longest contiguous piece of the compact date inside the compact line, over the date's length."""
    target, text = compact(date), compact(line)
    if not target or not text:
        return 0.0
    block = SequenceMatcher(None, target, text, autojunk=False).find_longest_match(0, len(target), 0, len(text))
    return block.size / len(target)


def match_date(texts: list[str], date: str) -> FieldMatch:
    """Every line holding the key date (a receipt may print it twice: all copies are private)."""
    scores = [date_coverage(t, date) for t in texts]
    best = max(scores, default=0.0)
    if best < DATE_MIN_COVERAGE:
        return FieldMatch(score=best)
    return FieldMatch([i for i, s in enumerate(scores) if s >= DATE_MIN_COVERAGE], best)


_MATCHERS = {"address": match_address, "date": match_date}


# ----------------------------------------------------------------------------------------------- geometry


def quad_box(quad: Quad) -> Box:
    """Axis-aligned box around a quad."""
    xs, ys = quad[0::2], quad[1::2]
    return (min(xs), min(ys), max(xs), max(ys))


def fill_quads(quads: list[Quad], height: int, width: int) -> np.ndarray:
    """Filled quads as a bool mask (quads may be slanted, so boxes would over-cover neighbours)."""
    canvas = np.zeros((height, width), dtype=np.uint8)
    for quad in quads:
        points = np.round(np.asarray(quad, dtype=np.float64).reshape(4, 2)).astype(np.int32)
        cv2.fillPoly(canvas, [points], 1)
    return canvas.astype(bool)


def _clip_box(box: Box, width: int, height: int) -> Box | None:
    x0, y0, x1, y1 = max(0.0, box[0]), max(0.0, box[1]), min(float(width), box[2]), min(float(height), box[3])
    return (x0, y0, x1, y1) if x1 > x0 and y1 > y0 else None


# ----------------------------------------------------------------------------------------------- dataset


@dataclass
class _Receipt:
    """One indexed receipt: files, parsed lines and field matches (pixels are decoded on access)."""

    image_id: str
    image_path: Path
    lines: list[tuple[Quad, str]]
    key: dict[str, str] | None
    match: dict[str, FieldMatch]


class SroieDataset(Dataset):
    """SROIE receipts as :class:`LabelledImage`; labels are the VISPR ids of the fields found.

    A receipt with no key file is kept (its text lines are still OCR ground truth) with no field labels,
    and counted in `skips` as "key file missing" so callers know its fields were not looked for.
    """

    def __init__(self, root: str | os.PathLike | None = None, fields: tuple[str, ...] = ("address", "date")) -> None:
        unknown = [f for f in fields if f not in FIELD_IDS]
        if unknown:
            raise ValueError(f"unknown SROIE field(s) {unknown}; known: {sorted(FIELD_IDS)}")
        self.root = Path(root) if root is not None else default_root()
        if not (self.root / "box").is_dir():
            raise FileNotFoundError(f"SROIE root {self.root} has no box/ folder")
        self.fields = tuple(fields)
        self.vocabulary_ids = [FIELD_IDS[f] for f in self.fields]
        self.skips = SkipReport()
        self.receipts = [r for r in (self._index(p) for p in sorted((self.root / "box").glob("*.csv"))) if r]

    def _index(self, box_path: Path) -> _Receipt | None:
        image_id = box_path.stem
        image_path = self._image_path(image_id)
        if image_path is None:
            self.skips.add("image missing", box_path.name)
            return None
        lines = parse_box_file(box_path, self.skips)
        key = read_key(self.root / "key" / f"{image_id}.json")
        if key is None:
            self.skips.add("key file missing or unreadable", image_id)
        texts = [text for _, text in lines]
        match = {f: _MATCHERS[f](texts, key.get(f, "")) if key else FieldMatch() for f in self.fields}
        return _Receipt(image_id, image_path, lines, key, match)

    def _image_path(self, image_id: str) -> Path | None:
        for ext in IMAGE_EXTENSIONS:
            for candidate in (ext, ext.upper()):
                path = self.root / "img" / f"{image_id}{candidate}"
                if path.is_file():
                    return path
        return None

    def __len__(self) -> int:
        return len(self.receipts)

    def __getitem__(self, index: int) -> LabelledImage:
        receipt = self.receipts[index]
        pixels = load_image(receipt.image_path).pixels  # ImageLoadError names the file: let it surface
        height, width = pixels.shape[:2]
        item = LabelledImage(receipt.image_id, receipt.image_path, pixels, [])
        for name in self.fields:
            self._add_field(item, receipt, name, height, width)
        item.extra = {
            "lines": list(receipt.lines),
            "text_mask": fill_quads([q for q, _ in receipt.lines], height, width),
            "match": {f: {"lines": m.lines, "score": m.score} for f, m in receipt.match.items()},
            "key": dict(receipt.key or {}),
        }
        return item

    def _add_field(self, item: LabelledImage, receipt: _Receipt, name: str, height: int, width: int) -> None:
        match = receipt.match[name]
        if not match.found:
            return
        quads = [receipt.lines[i][0] for i in match.lines]
        attribute = FIELD_IDS[name]
        item.labels.append(attribute)
        item.boxes[attribute] = [b for b in (_clip_box(quad_box(q), width, height) for q in quads) if b]
        item.masks[attribute] = fill_quads(quads, height, width)


def field_match_report(dataset: SroieDataset) -> dict:
    """How many receipts had each field found / missed, and how many lines the found ones took.

    Works from the index, so it does not decode any image.
    """
    report: dict = {"receipts": len(dataset), "skipped": dict(dataset.skips.counts)}
    for name in dataset.fields:
        matches = [r.match[name] for r in dataset.receipts]
        found = [m for m in matches if m.found]
        line_counts = [len(m.lines) for m in found]
        report[name] = {
            "found": len(found),
            "missed": len(matches) - len(found),
            "mean_lines": float(np.mean(line_counts)) if line_counts else 0.0,
            "max_lines": max(line_counts, default=0),
            "mean_score_found": float(np.mean([m.score for m in found])) if found else 0.0,
        }
    return report
