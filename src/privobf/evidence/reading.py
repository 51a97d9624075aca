"""Text regions from what the text says: OCR lines -> logical lines with their context -> recognisers -> word
shapes (issue 18).

A reading provider (`ppocr-v6`) returns lines with their words and word quads. Here:

1. each OCR line's words are aligned with its text (character offsets), so a recogniser's span selects quads;
2. pieces of one printed row are joined left to right into one logical line ("DATE:" and "25/12/2018" are two
   detections on a receipt; read apart, the date has lost its label), when their centres are within
   `ROW_CENTRE` of the smaller text height of the row's first piece vertically, their heights are similar and
   they are at most `ROW_GAP` heights apart (OCR boxes of tightly printed rows overlap: overlap alone chained
   a receipt's whole address block into one line);
3. each logical line is read with its context: up to `CONTEXT_LINES` lines above and below that overlap it
   horizontally and lie within `CONTEXT_GAP` line heights (an address block, "Dear" above a name, "Date of
   birth" above a date), and `inside="plate"` when its centre lies in a plate detector's box;
4. every finding becomes one region of kind "reading": the rotated rectangle around the quads of the words it
   touches, with the finding's attribute and confidence, and "<provider>/<recogniser>" as its source.

A region keeps no text. The recognised lines live only in this call.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import cv2
import numpy as np

from ..priors.base import PriorResult
from ..reading import ReadingContext, TextLine, Word, recognize
from .regions import Region

KIND = "reading"
ROW_GAP = 12.0  # in line heights: a label and its value on a receipt row are up to ~4 heights apart
ROW_CENTRE = 0.4
ROW_HEIGHT_RATIO = 1.6
CONTEXT_LINES = 3
CONTEXT_GAP = 3.0  # in line heights


@dataclass
class OcrLine:
    """A line as read: its text, its words (offsets into `text`) and one quad per word, in image pixels."""

    text: str
    words: list[Word]
    quads: list[np.ndarray]

    @property
    def points(self) -> np.ndarray:
        return np.concatenate(self.quads) if self.quads else np.zeros((0, 2))

    @property
    def box(self) -> tuple[float, float, float, float]:
        points = self.points
        return (float(points[:, 0].min()), float(points[:, 1].min()), float(points[:, 0].max()), float(points[:, 1].max()))

    @property
    def height(self) -> float:
        """The text's height: the median height of its word quads' rotated rectangles."""
        return float(np.median([min(cv2.minAreaRect(quad.astype(np.float32))[1]) for quad in self.quads]))


def ocr_lines(result: PriorResult) -> list[OcrLine]:
    """The lines of a reading provider's result, each word aligned with the line's text."""
    lines = []
    for index, text in enumerate(result.texts):
        pieces = result.words[index] if index < len(result.words) else []
        line = aligned(text, pieces, result.quads[index] if index < len(result.quads) else None)
        if line is not None:
            lines.append(line)
    return lines


def aligned(text: str, pieces: Sequence[tuple[str, np.ndarray]], line_quad: np.ndarray | None) -> OcrLine | None:
    """The line with one `Word` (character offsets into `text`) per OCR word, found in order in `text`.

    RapidOCR's words are the recogniser's own segmentation ("AIRFR", "AN", "CE" for "AIRFRANCE"); where they
    cannot be found in the text in order, the whitespace words of the text are placed along the line's quad in
    proportion to their character positions instead."""
    words, quads, position = [], [], 0
    for piece, quad in pieces:
        start = text.find(piece, position)
        if start < 0:
            words, quads = [], []
            break
        words.append(Word(piece, start, start + len(piece)))
        quads.append(np.asarray(quad, dtype=np.float64).reshape(-1, 2))
        position = start + len(piece)
    if not words and text.strip() and line_quad is not None and len(line_quad) == 4:
        words = TextLine(text).words
        quads = [_proportional(np.asarray(line_quad, dtype=np.float64), word, len(text)) for word in words]
    return OcrLine(text, words, quads) if words else None


def _proportional(quad: np.ndarray, word: Word, length: int) -> np.ndarray:
    """The part of a line quad (top-left, top-right, bottom-right, bottom-left) under a word's characters."""
    a, b = word.start / max(length, 1), word.end / max(length, 1)
    top = lambda t: quad[0] + (quad[1] - quad[0]) * t  # noqa: E731
    bottom = lambda t: quad[3] + (quad[2] - quad[3]) * t  # noqa: E731
    return np.array([top(a), top(b), bottom(b), bottom(a)])


def logical_lines(lines: Sequence[OcrLine]) -> list[OcrLine]:
    """Pieces of one printed row joined left to right (module docstring, step 2), in reading order (top to
    bottom, then left to right)."""
    rows: list[list[OcrLine]] = []
    for line in sorted(lines, key=lambda item: (item.box[1], item.box[0])):
        for row in rows:
            if same_row(row[0], line) and not any(_horizontal_overlap(piece, line) for piece in row):
                row.append(line)
                break
        else:
            rows.append([line])
    joined = [_joined(sorted(row, key=lambda item: item.box[0])) for row in rows]
    return sorted(joined, key=lambda item: ((item.box[1] + item.box[3]) / 2, item.box[0]))


def same_row(first: OcrLine, other: OcrLine) -> bool:
    (ax0, ay0, ax1, ay1), (bx0, by0, bx1, by1) = first.box, other.box
    small, large = sorted((first.height, other.height))
    centres = abs((ay0 + ay1) / 2 - (by0 + by1) / 2)
    gap = max(bx0 - ax1, ax0 - bx1)
    return large <= ROW_HEIGHT_RATIO * small and centres <= ROW_CENTRE * small and gap <= ROW_GAP * small


def _horizontal_overlap(a: OcrLine, b: OcrLine) -> bool:
    return min(a.box[2], b.box[2]) - max(a.box[0], b.box[0]) > 0.2 * min(a.height, b.height)


def _joined(pieces: list[OcrLine]) -> OcrLine:
    if len(pieces) == 1:
        return pieces[0]
    text, words, quads = "", [], []
    for piece in pieces:
        offset = len(text) + (1 if text else 0)
        text = f"{text} {piece.text}" if text else piece.text
        words += [Word(word.text, word.start + offset, word.end + offset) for word in piece.words]
        quads += piece.quads
    return OcrLine(text, words, quads)


def contexts(lines: Sequence[OcrLine], plate_boxes: Sequence[tuple[float, float, float, float]] = ()) -> list[ReadingContext]:
    """Each logical line's neighbours (module docstring, step 3)."""
    found = []
    for index, line in enumerate(lines):
        near = [other for other in lines if other is not line and _column_neighbour(line, other)]
        # Above / below by centres: OCR boxes of tightly printed lines overlap, their centres do not.
        centre = _centre_y(line)
        above = [other for other in near if _centre_y(other) < centre - 0.5 * min(line.height, other.height)]
        below = [other for other in near if _centre_y(other) > centre + 0.5 * min(line.height, other.height)]
        above.sort(key=_centre_y)
        below.sort(key=_centre_y)
        cx, cy = (line.box[0] + line.box[2]) / 2, (line.box[1] + line.box[3]) / 2
        inside = "plate" if any(b[0] <= cx <= b[2] and b[1] <= cy <= b[3] for b in plate_boxes) else None
        found.append(ReadingContext([other.text for other in above[-CONTEXT_LINES:]],
                                    [other.text for other in below[:CONTEXT_LINES]], inside))
    return found


def _centre_y(line: OcrLine) -> float:
    return (line.box[1] + line.box[3]) / 2


def _column_neighbour(line: OcrLine, other: OcrLine) -> bool:
    (ax0, ay0, ax1, ay1), (bx0, by0, bx1, by1) = line.box, other.box
    if min(ax1, bx1) <= max(ax0, bx0):
        return False
    return max(by0 - ay1, ay0 - by1) <= CONTEXT_GAP * max(line.height, other.height)


def reading_regions(provider: str, result: PriorResult, plate_boxes: Sequence[tuple[float, float, float, float]] = (),
                    recognizers: Sequence[str] | None = None) -> list[Region]:
    """One region per finding of the recognisers on the lines of `result` (module docstring)."""
    lines = logical_lines(ocr_lines(result))
    regions = []
    for line, context in zip(lines, contexts(lines, plate_boxes)):
        for finding in recognize(TextLine(line.text, line.words), context, recognizers):
            chosen = finding.word_indices(line.words)
            if not chosen:
                continue
            polygon = cv2.boxPoints(cv2.minAreaRect(np.concatenate([line.quads[k] for k in chosen]).astype(np.float32)))
            polygon = polygon.astype(np.float64)
            box = (float(polygon[:, 0].min()), float(polygon[:, 1].min()), float(polygon[:, 0].max()), float(polygon[:, 1].max()))
            regions.append(Region(KIND, f"{provider}/{finding.recognizer}", box, finding.confidence, "polygon",
                                  polygon=polygon, attribute=finding.attribute))
    return regions
