"""Text on pixels: font lookup, and a writer that records a box per line and per private span.

A text attribute's ground truth is the box around its characters (what an annotator would draw
and what an obfuscator must cover), not the glyph strokes. One line can mix harmless and private
spans ("Tel: " + phone number); only the private span is labelled, the whole line is what an OCR
detector would box.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from .canvas import Sprite, box_mask

FONT_DIRS = (Path("/usr/share/fonts"), Path("/usr/local/share/fonts"), Path("/Library/Fonts"), Path("C:/Windows/Fonts"))
FONT_STYLES: dict[str, tuple[str, ...]] = {
    "sans": ("DejaVuSans.ttf", "LiberationSans-Regular.ttf", "Arial.ttf", "arial.ttf"),
    "bold": ("DejaVuSans-Bold.ttf", "LiberationSans-Bold.ttf", "Arial Bold.ttf", "arialbd.ttf"),
    "serif": ("DejaVuSerif.ttf", "LiberationSerif-Regular.ttf", "Times New Roman.ttf", "times.ttf"),
    "mono": ("DejaVuSansMono.ttf", "LiberationMono-Regular.ttf", "Courier New.ttf", "cour.ttf"),
    "mono_bold": ("DejaVuSansMono-Bold.ttf", "LiberationMono-Bold.ttf", "courbd.ttf"),
    "condensed": ("DejaVuSansCondensed-Bold.ttf", "LiberationSansNarrow-Bold.ttf", "arialbd.ttf"),
    "italic": ("DejaVuSerif-Italic.ttf", "LiberationSerif-Italic.ttf", "timesi.ttf"),
    "oblique": ("DejaVuSans-Oblique.ttf", "LiberationSans-Italic.ttf", "ariali.ttf"),
}
MIN_LEGIBLE_PX = 7  # private text is only drawn at least this tall: smaller would be unreadable yet labelled


@lru_cache(maxsize=1)
def _installed_fonts() -> dict[str, Path]:
    """Font files by file name, first match in a sorted walk (the same on every run of one machine)."""
    found: dict[str, Path] = {}
    for folder in FONT_DIRS:
        if folder.is_dir():
            for path in sorted(folder.rglob("*.tt[fc]")):
                found.setdefault(path.name, path)
    return found


@lru_cache(maxsize=512)
def font(style: str, size: int) -> ImageFont.FreeTypeFont:
    """A font of `style` at `size` px; Pillow's built-in scalable font when no system font matches.

    Scenes depend on the fonts installed: identical on one machine, possibly not across machines.
    """
    size = max(4, int(size))
    installed = _installed_fonts()
    for name in FONT_STYLES.get(style, FONT_STYLES["sans"]):
        if name in installed:
            return ImageFont.truetype(str(installed[name]), size)
    return ImageFont.load_default(size=size)


def text_extent(text: str, style: str, size: int) -> tuple[int, int]:
    """(width, height) of the ink of `text`, for sizing the object that will carry it."""
    x0, y0, x1, y1 = font(style, size).getbbox(text, anchor="la")
    return int(np.ceil(x1)), int(np.ceil(y1))


@dataclass
class LineBoxes:
    """Where a line of text landed: its whole box and the boxes of its private spans."""

    box: tuple[float, float, float, float]  # x0, y0, x1, y1
    private: list[tuple[str, tuple[float, float, float, float]]]


class Writer:
    """Draws text onto a sprite's colour array and an ink array (the ink is an alpha for bare text)."""

    def __init__(self, rgb: np.ndarray):
        self.image = Image.fromarray(rgb)
        self.ink = Image.new("L", self.image.size, 0)
        self._draw = ImageDraw.Draw(self.image)
        self._draw_ink = ImageDraw.Draw(self.ink)

    def line(
        self,
        x: float,
        y: float,
        spans: list[tuple[str, str | None]],
        style: str,
        size: int,
        fill: tuple[int, int, int],
    ) -> LineBoxes:
        """Write spans left to right from (x, y) (top-left of the ascender); return their boxes."""
        face = font(style, size)
        pad = max(1.0, 0.12 * size)
        private, boxes = [], []
        cursor = x
        for text, attribute in spans:
            self._draw.text((cursor, y), text, font=face, fill=fill, anchor="la")
            self._draw_ink.text((cursor, y), text, font=face, fill=255, anchor="la")
            x0, y0, x1, y1 = self._draw.textbbox((cursor, y), text.strip() or text, font=face, anchor="la")
            if text.strip():
                if text[0] == " ":  # textbbox of the stripped text starts at the cursor; move past the space
                    shift = face.getlength(text) - face.getlength(text.lstrip())
                    x0, x1 = x0 + shift, x1 + shift
                box = (x0 - pad, y0 - pad, x1 + pad, y1 + pad)
                boxes.append(box)
                if attribute is not None:
                    private.append((attribute, box))
            cursor += face.getlength(text)
        whole = (min(b[0] for b in boxes), min(b[1] for b in boxes), max(b[2] for b in boxes), max(b[3] for b in boxes))
        return LineBoxes(whole, private)

    def rgb(self) -> np.ndarray:
        return np.asarray(self.image).copy()

    def alpha(self) -> np.ndarray:
        return np.asarray(self.ink, dtype=np.float32) / 255.0


def record_line(sprite: Sprite, line: LineBoxes, parent: int | None = None, detect: float = 1.0) -> None:
    """Add a line's OCR layer and one attribute layer per private span to `sprite`."""
    shape = sprite.shape
    sprite.add(box_mask(shape, line.box), text=True, parent=parent, detect=detect)
    for attribute, box in line.private:
        sprite.add(box_mask(shape, box), attribute=attribute, parent=parent)


def record_block(sprite: Sprite, lines: list[LineBoxes], attribute: str, parent: int | None = None,
                 detect: float = 1.0) -> int:
    """Lines that together form one private item (an address): OCR layer per line, one attribute layer."""
    mask = np.zeros(sprite.shape, dtype=bool)
    for line in lines:
        sprite.add(box_mask(sprite.shape, line.box), text=True, parent=parent, detect=detect)
        mask |= box_mask(sprite.shape, line.box)
    return sprite.add(mask, attribute=attribute, parent=parent)
