"""Harmless things: shapes, household objects and text nobody would call private.

They are there so that a model cannot score by "anything pasted is private": they share
colours, edges and text with the private objects, and they occlude them. Harmless text is
still text, so it appears in the text prior (an OCR detector finds it too).
"""

from __future__ import annotations

import cv2
import numpy as np

from . import words
from .canvas import Sprite, crop_to_content
from .paint import Painter, fractal_noise, random_colour, roundness, side_light
from .text import Writer, record_line, text_extent
from .things import _panel, document_sprite, sign_sprite, side_car_sprite


def _shaded(painter: Painter, palette: np.ndarray, rng: np.random.Generator, depth: float, shadow: float) -> Sprite:
    """A sprite from painted maps, with roundness, a side light and texture; no layers but its surface."""
    h, w = painter.parts.shape
    mask = painter.parts > 0
    light = side_light(h, w, rng.uniform(0.05, 0.2), rng.uniform(0, 2 * np.pi))
    texture = 1.0 + rng.uniform(0.0, 0.12) * fractal_noise(rng, h, w, octaves=3)
    rgb = painter.apply(palette) * (roundness(mask, depth) * light * texture)[..., None]
    sprite = Sprite(np.clip(rgb, 0, 255).astype(np.uint8), mask.astype(np.float32), shadow=shadow)
    sprite.add(mask, solid=True)
    return crop_to_content(sprite.finalize())


def blob_sprite(rng: np.random.Generator, size: int) -> Sprite:
    """A random star-shaped polygon: a stone, a stain, a bag."""
    n = int(rng.integers(5, 12))
    angles = np.sort(rng.uniform(0, 2 * np.pi, n))
    radii = size / 2 * rng.uniform(0.5, 1.0, n)
    points = np.stack([size / 2 + radii * np.cos(angles), size / 2 + radii * np.sin(angles)], 1)
    painter = Painter(size + 2, size + 2)
    painter.polygon(points, 1, 1)
    return _shaded(painter, np.array([(0, 0, 0), random_colour(rng)], np.float32), rng, size / 4, 0.2)


def ball_sprite(rng: np.random.Generator, size: int) -> Sprite:
    """A round object (ball, plate, clock face without digits): round like a head, but not one."""
    painter = Painter(size + 2, size + 2)
    painter.ellipse((size / 2, size / 2), (size / 2, size / 2 * rng.uniform(0.85, 1.0)), 1, 1)
    sprite = _shaded(painter, np.array([(0, 0, 0), random_colour(rng)], np.float32), rng, size / 2.5, 0.25)
    if rng.random() < 0.5:  # stripes or a ring
        cv2.circle(sprite.rgb, (sprite.shape[1] // 2, sprite.shape[0] // 2), max(1, size // 3),
                   tuple(int(c) for c in random_colour(rng)), max(1, size // 12), cv2.LINE_AA)
    return sprite


def smiley_sprite(rng: np.random.Generator, size: int) -> Sprite:
    """A drawn smiley: two dots and an arc on a disc, the classic hard negative for faces."""
    sprite = ball_sprite(rng, size)
    cx, cy = sprite.shape[1] / 2, sprite.shape[0] / 2
    for side in (-1, 1):
        cv2.circle(sprite.rgb, (int(cx + side * 0.18 * size), int(cy - 0.12 * size)), max(1, int(0.06 * size)),
                   (20, 20, 20), -1, cv2.LINE_AA)
    cv2.ellipse(sprite.rgb, (int(cx), int(cy + 0.05 * size)), (max(1, int(0.25 * size)), max(1, int(0.18 * size))), 0,
                20, 160, (20, 20, 20), max(1, int(0.04 * size)), cv2.LINE_AA)
    return sprite


def books_sprite(rng: np.random.Generator, size: int) -> Sprite:
    """A row of book spines (colourful rectangles with thin bands)."""
    count = int(rng.integers(3, 9))
    widths = rng.uniform(0.08, 0.2, count) * size
    w = int(widths.sum()) + 2
    painter = Painter(size + 2, w)
    palette = [np.zeros(3, np.float32)]
    x = 0.0
    for k, width in enumerate(widths):
        top = size * rng.uniform(0.0, 0.25)
        painter.rectangle(x, top, x + width - 1, size, 1, k + 1)
        palette.append(random_colour(rng, value=(0.2, 0.8)))
        x += width
    sprite = _shaded(painter, np.array(palette, np.float32), rng, 3, 0.2)
    for k in range(count):
        y = int(sprite.shape[0] * rng.uniform(0.3, 0.8))
        cv2.line(sprite.rgb, (int(widths[:k].sum()), y), (int(widths[: k + 1].sum()) - 1, y), (230, 210, 120), 1)
    return sprite


def bottle_sprite(rng: np.random.Generator, size: int) -> Sprite:
    """A bottle or a cup: an upright shape with a label band."""
    w = int(size * rng.uniform(0.3, 0.5))
    painter = Painter(size + 2, w + 2)
    body_top = size * rng.uniform(0.2, 0.45)
    painter.rectangle(0, body_top, w, size, 1, 1, 0.2 * w)
    painter.rectangle(0.35 * w, 0, 0.65 * w, body_top + 2, 1, 1)
    colour = random_colour(rng)
    sprite = _shaded(painter, np.array([(0, 0, 0), colour], np.float32), rng, w / 3, 0.25)
    band = (int(sprite.shape[0] * 0.55), int(sprite.shape[0] * 0.75))
    sprite.rgb[band[0]:band[1]][sprite.layers[0].mask[band[0]:band[1]]] = random_colour(rng).astype(np.uint8)
    return sprite


def plant_sprite(rng: np.random.Generator, size: int) -> Sprite:
    """A pot with leaves: many green ellipses."""
    painter = Painter(size + 2, size + 2)
    pot = [(0.3 * size, 0.7 * size), (0.7 * size, 0.7 * size), (0.62 * size, size), (0.38 * size, size)]
    painter.polygon(pot, 1, 1)
    for _ in range(int(rng.integers(6, 14))):
        centre = (size / 2 + rng.normal(0, 0.15) * size, size * rng.uniform(0.15, 0.65))
        painter.ellipse(centre, (size * rng.uniform(0.05, 0.12), size * rng.uniform(0.12, 0.25)), 1, 2,
                        angle=float(rng.uniform(-60, 60)))
    palette = np.array([(0, 0, 0), (150, 80, 50), (40, 110 + rng.uniform(-30, 40), 45)], np.float32)
    return _shaded(painter, palette, rng, size / 15, 0.2)


def lines_sprite(rng: np.random.Generator, size: int) -> Sprite:
    """A few thick strokes (cables, sticks, scratches): long thin edges like text strokes."""
    painter = Painter(size, size)
    for _ in range(int(rng.integers(1, 4))):
        p = rng.uniform(0, size, 2)
        q = rng.uniform(0, size, 2)
        painter.limb(p, q, max(1.0, size * rng.uniform(0.01, 0.05)), 1, 1)
    return _shaded(painter, np.array([(0, 0, 0), random_colour(rng)], np.float32), rng, 2, 0.1)


def price_tag_sprite(rng: np.random.Generator, size: int) -> Sprite:
    """A small label with a price or a product word: harmless digits and words."""
    text = words.harmless_number(rng) if rng.random() < 0.6 else str(words.pick(rng, words.PRODUCT_WORDS))
    text_size = max(5, int(size * 0.22))
    text_w, text_h = text_extent(text, "bold", text_size)
    w, h = int(text_w + 0.5 * text_size), int(text_h + 0.6 * text_size)
    colour = random_colour(rng, saturation=(0.0, 0.9), value=(0.6, 1.0))
    sprite = _panel(rng, w, h, colour, 0.1 * h, texture=0.02)
    writer = Writer(sprite.rgb)
    line = writer.line(0.25 * text_size, 0.3 * text_size, [(text, None)], "bold", text_size,
                       (20, 20, 20) if colour.mean() > 120 else (250, 250, 250))
    sprite.rgb = writer.rgb()
    record_line(sprite, line, parent=0)
    return sprite.finalize()


def harmless_text_sprite(rng: np.random.Generator, size: int) -> Sprite:
    """Text that is not private: a shop sign, a price tag or a page of filler prose."""
    choice = rng.random()
    if choice < 0.5:
        return sign_sprite(rng, size, None)
    if choice < 0.75:
        return price_tag_sprite(rng, max(20, size // 2))
    return document_sprite(rng, size, {})


CLUTTER_KINDS = (
    ("blob", blob_sprite, 3.0),
    ("ball", ball_sprite, 1.5),
    ("smiley", smiley_sprite, 0.4),
    ("books", books_sprite, 1.0),
    ("bottle", bottle_sprite, 1.2),
    ("plant", plant_sprite, 1.0),
    ("lines", lines_sprite, 1.5),
    ("side_car", side_car_sprite, 0.6),
)


def clutter_sprite(rng: np.random.Generator, size: int) -> Sprite:
    """One harmless object of `size` px, its kind drawn by the weights above."""
    weights = np.array([k[2] for k in CLUTTER_KINDS])
    kind = CLUTTER_KINDS[int(rng.choice(len(CLUTTER_KINDS), p=weights / weights.sum()))]
    return kind[1](rng, max(8, int(size)))
