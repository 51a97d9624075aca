"""Text regions from what the text says: OCR lines -> logical lines with their context -> recognisers -> word
shapes (issue 18).

A reading provider (`ppocr-v6`) returns lines with their words and word quads. Here:

1. each OCR line's words are aligned with its text (character offsets), so a recogniser's span selects quads;
2. pieces of one printed row are joined left to right into one logical line ("DATE:" and "25/12/2018" are two
   detections on a receipt; read apart, the date has lost its label), when the other piece's centre lies
   within `ROW_CENTRE` of the smaller text height of where the first piece's baseline direction predicts it,
   their heights are similar and
   they are at most `ROW_GAP` heights apart (OCR boxes of tightly printed rows overlap: overlap alone chained
   a receipt's whole address block into one line);
3. each logical line is read with its context: up to `CONTEXT_LINES` lines above and below that overlap it
   horizontally and lie within `CONTEXT_GAP` line heights (an address block, "Dear" above a name, "Date of
   birth" above a date), and `inside="plate"` when its centre lies in a plate detector's box;
4. a name found on one line is a name wherever else it is written on the photo: the words of each name
   finding, whole and capitalised, found on other lines (with the name words right after them: "Dear
   Rebecca," names "Rebecca Wright" in the address block) are found again (`name.elsewhere`);
5. an address block keeps its lines that OCR misread: a block is a chain of address lines, each right above or
   below the next in its column (at most `BLOCK_GAP` text heights apart, no other line between), one of them
   made sure of by a postcode or a street with its number (confidence >= `BLOCK_ANCHOR`); a line right above
   or below the block is address too when nothing was found on it and it reads like one
   (`_block_like`: letters, no label, no company, document or contact word but building words such as
   "Floor", "Mall", "City", no price, not a company registration number such as "(162761-M)"), up to `BLOCK_STEPS` lines away (`address.block_neighbour`). Receipts
   print "LOT P.T. 2811, JALAN ANGSA," that OCR reads "PAIT"; the block around it is still the shop's
   address. A block line whose address finding leaves a part of it that reads like address too (no label,
   price or contact word) is address from end to end ("LOT P.T." before "2811, JALAN ANGSA");
6. every finding becomes one region of kind "reading": the rotated rectangle around the quads of the words it
   touches, with the finding's attribute and confidence, and "<provider>/<recogniser>" as its source;
7. the kinds of document or screen the lines say together (a passport, a receipt, a letter, a chat, …:
   `privobf.reading.layouts`) become one region each, the whole page around them (`evidence.layouts`); on a
   chat screen, the contact's name above its status line and the senders' names above their messages are
   names (`chat_names`): the screen says what those lines are.

A region keeps no text. The recognised lines live only in this call.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Sequence

import re

import cv2
import numpy as np

from ..priors.base import PriorResult
from ..reading import CONFIDENCE, Finding, ReadingContext, TextLine, Word, merge_findings, recognize
from ..reading.names import is_name_word
from ..reading.words import COMPANY_WORDS, DOCUMENT_WORDS
from ..reading.layouts import ADDRESS_IDS, NAME_IDS, LayoutFinding, find_layouts
from .layouts import layout_regions
from .regions import Region

KIND = "reading"
BLOCK_ANCHOR = 0.6  # address findings this sure anchor a block (postcode + city, street + number, complete)
BLOCK_GAP = 1.5  # text heights between the lines of one block
BLOCK_STEPS = 2
MIN_NAME_LETTERS = 3  # a found name's word shorter than this ("Li" is a name, and a word) is not looked for elsewhere
ROW_GAP = 12.0  # in line heights: a label and its value on a receipt row are up to ~4 heights apart
ROW_CENTRE = 0.4
ROW_HEIGHT_RATIO = 1.6
CONTEXT_LINES = 3
CONTEXT_GAP = 3.0  # in line heights


@dataclass
class OcrLine:
    """A line as read: its text, its words (offsets into `text`) and one quad per word, in image pixels.

    Its box, slope and height are computed once: the layout steps compare every line with every other."""

    text: str
    words: list[Word]
    quads: list[np.ndarray]

    @cached_property
    def box(self) -> tuple[float, float, float, float]:
        points = np.concatenate(self.quads) if self.quads else np.zeros((0, 2))
        return (float(points[:, 0].min()), float(points[:, 1].min()), float(points[:, 0].max()), float(points[:, 1].max()))

    @cached_property
    def slope(self) -> float:
        """dy/dx of the text's baseline direction (the mean top edge of its word quads): rows of a photographed
        page are tilted, and a label and its value far to the right differ in height by slope x distance."""
        edges = np.array([quad[1] - quad[0] for quad in self.quads if len(quad) == 4])
        if not len(edges):
            return 0.0
        dx, dy = edges.sum(axis=0)
        return float(dy / dx) if abs(dx) > 1e-6 else 0.0

    @cached_property
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
        quad = np.asarray(line_quad, dtype=np.float64)
        quads = [quad_part(quad, word.start, word.end, len(text)) for word in words]
    return OcrLine(text, words, quads) if words else None


def quad_part(quad: np.ndarray, start: int, end: int, length: int) -> np.ndarray:
    """The part of a line quad (top-left, top-right, bottom-right, bottom-left) under characters [start, end) of
    its `length`, placed in proportion to their positions (exact for monospaced text, approximate otherwise)."""
    a, b = start / max(length, 1), end / max(length, 1)
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
    expected = (ay0 + ay1) / 2 + first.slope * ((bx0 + bx1) / 2 - (ax0 + ax1) / 2)
    centres = abs((by0 + by1) / 2 - expected)
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
    found = [recognize(TextLine(line.text, line.words), context, recognizers)
             for line, context in zip(lines, contexts(lines, plate_boxes))]
    found = names_elsewhere(lines, found)
    found = address_blocks(lines, found)
    claims = find_layouts([line.text for line in lines], found)
    found = chat_names(lines, found, claims)
    regions = layout_regions(provider, lines, claims, KIND)
    for line, findings in zip(lines, found):
        for finding in findings:
            chosen = finding.word_indices(line.words)
            if not chosen:
                continue
            polygon = cv2.boxPoints(cv2.minAreaRect(np.concatenate([line.quads[k] for k in chosen]).astype(np.float32)))
            polygon = polygon.astype(np.float64)
            box = (float(polygon[:, 0].min()), float(polygon[:, 1].min()), float(polygon[:, 0].max()), float(polygon[:, 1].max()))
            regions.append(Region(KIND, f"{provider}/{finding.recognizer}", box, finding.confidence, "polygon",
                                  polygon=polygon, attribute=finding.attribute))
    return regions


def names_elsewhere(lines: Sequence[OcrLine], found: list[list[Finding]]) -> list[list[Finding]]:
    """Step 4 of the module docstring: each line's findings, with the words of the photo's names found again."""
    known = {word for line, findings in zip(lines, found) for finding in findings if finding.attribute in NAME_IDS
             for word in _name_words(line.text[finding.start:finding.end])}
    if not known:
        return found
    grown = []
    for line, findings in zip(lines, found):
        extra = []
        words = TextLine(line.text).words
        index = 0
        while index < len(words):
            if _core(words[index].text) not in known:
                index += 1
                continue
            last = index
            while last + 1 < len(words) and is_name_word(words[last + 1].text) and not words[last].text.endswith((",", ":", ";")):
                last += 1
            attribute = "a19_name_full" if last > index else "a20_name_first"
            extra.append(Finding(attribute, "name-elsewhere", CONFIDENCE["name.elsewhere"], words[index].start, words[last].end))
            index = last + 1
        names_here = [f for f in findings if f.attribute in NAME_IDS]
        extra = [f for f in extra if not any(f.start < n.end and n.start < f.end for n in names_here)]
        grown.append(merge_findings(findings + extra) if extra else findings)
    return grown


# A chat's status line under its contact's name ("online", "last seen today at 14:02", "typing…").
_CHAT_STATUS = re.compile(r"(?i)^\s*(?:online|last\s+seen\b.*|typing\W*|active\s+(?:now|\d+\s*\w+\s+ago))\s*$")
CHAT_NAME_WORDS = (1, 4)  # a contact's or sender's name: one to four name words alone on its line


def chat_names(lines: Sequence[OcrLine], found: list[list[Finding]], claims: Sequence[LayoutFinding]) -> list[list[Finding]]:
    """Step 7 of the module docstring, on a chat screen only: the line right above its status line ("online",
    "last seen …") is the contact's name, and in a group chat a line of two to four name words alone right
    above a message is its sender's name (`name.chat`); nothing else on the screen says they are names."""
    if not any(claim.attribute == "a97_online_conversation" for claim in claims):
        return found
    grown = [list(findings) for findings in found]
    for index, line in enumerate(lines):
        if any(f.attribute in NAME_IDS for f in found[index]):
            continue
        words = line.text.split()
        if not (CHAT_NAME_WORDS[0] <= len(words) <= CHAT_NAME_WORDS[1]) or not all(is_name_word(w) for w in words):
            continue
        below = lines[index + 1].text if index + 1 < len(lines) else ""
        contact = bool(_CHAT_STATUS.match(below))
        sender = len(words) >= 2 and bool(below.strip()) and not _CHAT_STATUS.match(below)
        if contact or sender:
            stripped = line.text.strip()
            start = line.text.index(stripped)
            attribute = "a19_name_full" if len(words) >= 2 else "a20_name_first"
            grown[index].append(Finding(attribute, "name-chat", CONFIDENCE["name.chat"], start, start + len(stripped)))
    return grown


def _core(word: str) -> str:
    return word.strip(".,;:!?()[]\"'’")


def _name_words(text: str) -> set[str]:
    return {_core(word) for word in text.split() if is_name_word(word) and len(_core(word)) >= MIN_NAME_LETTERS}


def address_blocks(lines: Sequence[OcrLine], found: list[list[Finding]]) -> list[list[Finding]]:
    """Step 5 of the module docstring: each line's findings, with the misread lines of address blocks added."""
    address = [any(f.attribute in ADDRESS_IDS for f in findings) for findings in found]
    block = [any(f.attribute in ADDRESS_IDS and f.confidence >= BLOCK_ANCHOR for f in findings) for findings in found]
    # The address lines chained to an anchor belong to its block, however weak each is alone.
    changed = True
    while changed:
        changed = False
        for index in range(len(lines)):
            if address[index] and not block[index] and any(
                    block[other] and _block_neighbour(lines[index], lines[other], lines) for other in range(len(lines))):
                block[index] = changed = True
    found = [_whole_line(line.text, findings) if block[index] else findings
             for index, (line, findings) in enumerate(zip(lines, found))]
    added: dict[int, Finding] = {}
    for _ in range(BLOCK_STEPS):
        grown = False
        for index, line in enumerate(lines):
            if block[index] or found[index] or not _block_like(line.text):
                continue
            if any(block[other] and _block_neighbour(line, lines[other], lines) for other in range(len(lines)) if other != index):
                stripped = line.text.strip()
                start = line.text.index(stripped)
                added[index] = Finding("a75_address_current_partial", "address-block", CONFIDENCE["address.block_neighbour"],
                                       start, start + len(stripped))
                grown = True
        for index in added:
            block[index] = True
        if not grown:
            break
    return [findings + [added[index]] if index in added else findings for index, findings in enumerate(found)]


def _whole_line(text: str, findings: list[Finding]) -> list[Finding]:
    """A block line's address finding stretched to the whole line where the rest of it reads like address too
    ("LOT P.T. 2811, JALAN ANGSA," found from "2811"; "IJOK, 45600 BESTARI JAYA," from the postcode): a
    printed address block is address from end to end, and a label, price or contact word keeps its line as
    it was."""
    address = [f for f in findings if f.attribute in ADDRESS_IDS]
    if not address:
        return findings
    stripped = text.strip()
    start, end = text.index(stripped), text.index(stripped) + len(stripped)
    first, last = min(f.start for f in address), max(f.end for f in address)
    rest = text[start:first] + " " + text[last:end]
    if not any(ch.isalnum() for ch in rest) or not _block_like(rest, letters_needed=False):
        return findings
    strongest = max(address, key=lambda f: f.confidence)
    whole = Finding(strongest.attribute, strongest.recognizer, strongest.confidence, start, end)
    return [f for f in findings if f.attribute not in ADDRESS_IDS] + [whole]


_PRICE = re.compile(r"\d[.,]\d{2}(?!\d)")
# A company registration number printed alone under a shop's name ("965857-A", "(162761-M)"): not address.
_REGISTRATION = re.compile(r"^\W*\d{4,8}\s?-\s?[A-Z]\W*$")
_CONTACT = re.compile(r"(?i)(?<![^\W\d_])(?:tel|fax|phone|hp|mobile|email|e-mail|gst|reg|no|id|www|http)(?![^\W\d_])")


# Words of a building or a place inside one, printed in address blocks ("S117, Second Floor, Aeon Tebrau City,",
# "KL Festival City Mall"): they do not keep a neighbouring line out of its block as company and document words do.
BUILDING_WORDS = frozenset({"city", "mall", "plaza", "tower", "towers", "building", "centre", "center", "complex",
                            "floor", "level", "block", "square", "park", "court", "house", "station"})


def _block_like(text: str, letters_needed: bool = True) -> bool:
    """Could this line be part of a printed address: letters, no label, price or contact, company or document
    word (building words allowed)."""
    words = [word.strip(".,;:()[]-*#'\"").lower() for word in text.split()]
    if ((letters_needed and not any(ch.isalpha() for ch in text)) or ":" in text or _PRICE.search(text)
            or _CONTACT.search(text) or _REGISTRATION.match(text)):
        return False
    return not any((word in COMPANY_WORDS or word in DOCUMENT_WORDS) and word not in BUILDING_WORDS for word in words)


def _block_neighbour(line: OcrLine, anchor: OcrLine, lines: Sequence[OcrLine]) -> bool:
    """Whether `line` is right above or below `anchor` in its column: overlapping horizontally, close, and no
    other line of the column between them."""
    (ax0, ay0, ax1, ay1), (bx0, by0, bx1, by1) = line.box, anchor.box
    if min(ax1, bx1) <= max(ax0, bx0):
        return False
    gap = max(by0 - ay1, ay0 - by1)
    if gap > BLOCK_GAP * min(line.height, anchor.height):
        return False
    low, high = sorted((_centre_y(line), _centre_y(anchor)))
    return not any(other is not line and other is not anchor and low < _centre_y(other) < high
                   and min(other.box[2], ax1, bx1) > max(other.box[0], ax0, bx0) for other in lines)
