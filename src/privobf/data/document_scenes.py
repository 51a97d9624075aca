"""Synthetic photos of documents and screens: what the model's document and screen attributes learn from
(issue 19), since no labelled photos of passports, licences, tickets or chats can be had offline.

A scene is a background (a COCO128 photo without people of the requested split, or a procedural one) with
none, one or two documents of different types (`synthetic_parts.documents`), rotated, tilted, scaled and
sometimes partly outside the frame, among harmless look-alikes that are not these documents (payment and
business cards, a form without an address, a notice, a phone's call or home screen, a shop sign, a car, a name
sticker); or (`CLOSE_UP_CHANCE`) one page up close, a document or a look-alike, filling most of the frame. The labels are the
document types whose surface stays at least `MIN_VISIBLE_FRACTION` visible; each labelled type also has
its visible pixel mask. Then the camera: light, blur, noise and JPEG.

Like `synthetic.SyntheticScenes`, item i is a pure function of (seed, i, settings) on one machine.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
from PIL import Image

from .roots import default_data_root
from .synthetic import scene_seed
from .synthetic_parts import words
from .synthetic_parts.backgrounds import load_photo_crop, procedural_background
from .synthetic_parts.canvas import Compositor, crop_to_content, rotate_sprite, tilt_sprite
from .synthetic_parts.coco import find_photo_pool
from .synthetic_parts.documents import DOCUMENT_BUILDERS, DOCUMENT_IDS, DOCUMENT_WIDTH, notice_sprite
from .synthetic_parts.things import (business_card_sprite, car_sprite, credit_card_sprite, document_sprite, phone_sprite,
                                     sign_sprite, sticker_sprite)

MIN_VISIBLE_FRACTION = 0.35  # less of a document than this in the frame is not labelled (nor a usable example)
SIZES = ((480, 640), (640, 480), (512, 512), (360, 640), (600, 450))  # (height, width) of the photos
DOCUMENT_COUNTS = (0, 0, 1, 1, 1, 2)  # how many documents a scene shows, drawn uniformly from this
DISTRACTORS = ("credit_card", "business_card", "form", "phone", "sign", "car", "sticker", "notice")
CLOSE_UP_CHANCE = 0.3  # scenes that are one page up close, as people photograph a document to share it
CLOSE_UP_DISTRACTORS = ("credit_card", "business_card", "form", "notice")
TALL = ("a37_receipt", "a97_online_conversation", "a35_mail", "form", "notice")  # pages taller than wide


@dataclass
class DocumentScene:
    image: np.ndarray  # uint8 [H, W, 3]
    labels: list[str]  # the document / screen attributes shown (empty: none)
    masks: dict[str, np.ndarray] = field(default_factory=dict)  # attribute -> bool [H, W], visible surface
    distractors: list[str] = field(default_factory=list)


def _distractor(rng: np.random.Generator, kind: str, width: int):
    if kind == "credit_card":
        return credit_card_sprite(rng, width, "a30_credit_card", None)
    if kind == "business_card":
        return business_card_sprite(rng, width, {})
    if kind == "form":
        return document_sprite(rng, width, {})
    if kind == "phone":
        return phone_sprite(rng, max(width // 2, 20), {})
    if kind == "car":
        return car_sprite(rng, int(width * 1.5), None, bool(rng.random() < 0.5))
    if kind == "sticker":
        return sticker_sprite(rng, width, None)
    if kind == "notice":
        return notice_sprite(rng, width)
    return sign_sprite(rng, width, None)


def _photometric(rng: np.random.Generator, image: np.ndarray) -> np.ndarray:
    """Light, focus, sensor noise and JPEG, as a phone camera leaves them."""
    pixels = image.astype(np.float32) * rng.uniform(0.7, 1.2) + rng.uniform(-25, 25)
    if rng.random() < 0.3:
        import cv2

        sigma = rng.uniform(0.5, 1.6)
        pixels = cv2.GaussianBlur(pixels, (0, 0), sigma)
    pixels += rng.normal(0, rng.uniform(0, 6), size=pixels.shape).astype(np.float32)
    buffer = io.BytesIO()
    Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)).save(buffer, "JPEG", quality=int(rng.integers(60, 96)))
    return np.asarray(Image.open(io.BytesIO(buffer.getvalue())).convert("RGB")).copy()


def render_document_scene(rng: np.random.Generator, pool, types: tuple[str, ...] = DOCUMENT_IDS) -> DocumentScene:
    """One scene (see the module docstring); `pool`: a `coco.PhotoPool` or None (procedural backgrounds)."""
    height, width = SIZES[int(rng.integers(len(SIZES)))]
    if pool is not None and pool.backgrounds and rng.random() < 0.85:
        background = load_photo_crop(pool.backgrounds[int(rng.integers(len(pool.backgrounds)))], rng, height, width)
    else:
        background = procedural_background(rng, height, width)
    compositor = Compositor(background)
    short = min(height, width)
    close_up = rng.random() < CLOSE_UP_CHANCE
    if close_up:  # one page photographed up close: a document, or a look-alike that is none
        chosen = [types[int(rng.integers(len(types)))]] if rng.random() < 0.6 else []
        distractors = [] if chosen else [str(words.pick(rng, CLOSE_UP_DISTRACTORS))]
    else:
        count = int(DOCUMENT_COUNTS[int(rng.integers(len(DOCUMENT_COUNTS)))])
        chosen = [types[int(k)] for k in rng.choice(len(types), size=min(count, len(types)), replace=False)]
        distractors = [str(words.pick(rng, DISTRACTORS)) for _ in range(int(rng.integers(0, 3)))]
    items = [(kind, False) for kind in distractors] + [(kind, True) for kind in chosen]
    order = rng.permutation(len(items))
    placed = []
    for index in order:
        kind, is_document = items[int(index)]
        low, high = DOCUMENT_WIDTH[kind] if is_document else (0.25, 0.6)
        if close_up:  # the page fills most of the frame
            low, high = (0.5, 0.8) if kind in TALL else (0.7, 1.0)
        size = int(rng.uniform(low, high) * short * (1.0 if len(chosen) < 2 or not is_document else 0.8))
        sprite = DOCUMENT_BUILDERS[kind](rng, max(size, 24)) if is_document else _distractor(rng, kind, max(size, 24))
        if close_up or rng.random() < 0.3:
            sprite = tilt_sprite(sprite, rng, float(rng.uniform(0.02, 0.12)))
        angle = rng.normal(0, 8 if close_up else 12) if rng.random() < 0.85 else rng.uniform(-90, 90)
        sprite = crop_to_content(rotate_sprite(sprite, float(angle)))
        sh, sw = sprite.shape
        top = int(rng.integers(-sh // 5, max(height - 4 * sh // 5, -sh // 5 + 1)))
        left = int(rng.integers(-sw // 5, max(width - 4 * sw // 5, -sw // 5 + 1)))
        where = compositor.paste(sprite, top, left)
        if where is not None and is_document:
            placed.append((kind, where))
    labels, masks = [], {}
    for kind, where in placed:
        surface = next(layer for layer in where.sprite.layers if layer.attribute == kind)
        total = int(surface.mask.sum())
        visible = compositor.visible(where, surface)
        if total and visible.sum() >= MIN_VISIBLE_FRACTION * total:
            labels.append(kind)
            masks[kind] = compositor.full_mask(where, visible)
    return DocumentScene(_photometric(rng, compositor.result()), sorted(labels), masks, distractors)


class DocumentScenes:
    """A map-style dataset of `DocumentScene`s; `split` picks the background photos ("train" and "val"
    scenes share none), `seed` the stream (use different seeds for training and held-out scenes)."""

    def __init__(self, n: int, seed: int = 0, split: Literal["train", "val", "all"] = "train",
                 backgrounds: str | None = "auto", types: tuple[str, ...] = DOCUMENT_IDS):
        if n < 0 or seed < 0:
            raise ValueError(f"n and seed must be >= 0, got n={n}, seed={seed}")
        unknown = sorted(set(types) - set(DOCUMENT_IDS))
        if unknown:
            raise ValueError(f"no synthetic document of type {unknown}; known: {', '.join(DOCUMENT_IDS)}")
        self.n, self.seed, self.split, self.types = int(n), int(seed), split, tuple(types)
        folder = str(default_data_root() / "coco128") if backgrounds == "auto" else backgrounds
        if backgrounds not in ("auto", None) and not Path(folder).is_dir():
            raise FileNotFoundError(f"background folder {folder} does not exist")
        self.pool = find_photo_pool(folder, split) if folder is not None and Path(folder).is_dir() else None

    @property
    def vocabulary_ids(self) -> list[str]:
        return list(self.types)

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, index: int) -> DocumentScene:
        if not 0 <= index < self.n:
            raise IndexError(f"index {index} out of range for {self.n} scenes")
        return render_document_scene(np.random.default_rng(scene_seed(1000 + self.seed, int(index))), self.pool, self.types)


__all__ = ["DocumentScene", "DocumentScenes", "render_document_scene"]
