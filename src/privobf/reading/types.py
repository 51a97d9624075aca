"""What the recognisers read and what they return: a line of text with its words, its neighbours, and findings.

A finding names a VISPR text attribute and the character span of the line it covers, never the text itself:
the span is enough to hide the words (their quads come from OCR, by word index), and a report that repeated
the matched string would leak exactly what privobf hides (issue 18, item 5).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_WORD = re.compile(r"\S+")


@dataclass(frozen=True)
class Word:
    """One whitespace-separated word of a line; `start` / `end` are character offsets in the line (end exclusive).

    OCR gives a quad per word; the integration keeps the quads in the same order as these words, so a finding's
    word indices select the quads to hide.
    """

    text: str
    start: int
    end: int


def split_words(text: str) -> list[Word]:
    """The words of `text` split on whitespace, with their character offsets."""
    return [Word(match.group(), match.start(), match.end()) for match in _WORD.finditer(text)]


@dataclass
class TextLine:
    """One OCR line. `words` defaults to the whitespace split of `text`; an OCR engine with its own word
    segmentation may pass its words instead (their offsets must index `text`)."""

    text: str
    words: list[Word] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.words and self.text.strip():
            self.words = split_words(self.text)

    @classmethod
    def from_text(cls, text: str) -> "TextLine":
        return cls(text, split_words(text))


@dataclass
class ReadingContext:
    """What surrounds a line. Recognisers use it where a line alone is ambiguous: a name on the line after
    "Sincerely,", a date on the line after "Date of birth", the city line of an address block, an MRZ's other
    lines, a plate string inside a plate region.

    previous: the lines above, in reading order (`previous[-1]` is the line right above);
    following: the lines below, in reading order (`following[0]` is the line right below);
    inside: the kind of region the line lies in when the caller knows it ("plate", "document", ...).
    """

    previous: list[str] = field(default_factory=list)
    following: list[str] = field(default_factory=list)
    inside: str | None = None

    @property
    def line_above(self) -> str:
        return self.previous[-1] if self.previous else ""

    @property
    def line_below(self) -> str:
        return self.following[0] if self.following else ""


@dataclass(frozen=True)
class Finding:
    """A recogniser's claim that characters [start, end) of a line show a VISPR attribute.

    It holds no text on purpose: `repr` and `to_dict` give attribute, recogniser, confidence and span only, so
    findings can be logged and written to reports without repeating what is hidden.
    """

    attribute: str
    recognizer: str
    confidence: float
    start: int
    end: int

    def __post_init__(self) -> None:
        if not 0.0 <= self.confidence <= 1.0:
            raise ValueError(f"confidence must be in [0, 1], got {self.confidence}")
        if not 0 <= self.start < self.end:
            raise ValueError(f"span must satisfy 0 <= start < end, got [{self.start}, {self.end})")

    def word_indices(self, line: TextLine | list[Word]) -> list[int]:
        """Indices of the words of `line` that the span touches (a word counts if any character overlaps)."""
        words = line.words if isinstance(line, TextLine) else line
        return [i for i, word in enumerate(words) if word.start < self.end and word.end > self.start]

    def overlaps(self, other: "Finding") -> bool:
        return self.start < other.end and other.start < self.end

    def to_dict(self) -> dict:
        return {
            "attribute": self.attribute,
            "recognizer": self.recognizer,
            "confidence": round(self.confidence, 4),
            "start": self.start,
            "end": self.end,
        }
