"""Synthetic privacy scenes: images with exact pixel masks for privacy attributes, and noisy priors.

PrivObfNet learns from image-level labels only; to test that its masks are right, to benchmark
quickly and to train a first model without licensed data, we need images where the private
regions are known exactly. Each scene pastes objects that carry VISPR attributes (people with
faces, cards with names, cars with plates, letters with addresses, dates, phone numbers and
signatures) among harmless objects and harmless text, onto a procedural background or a crop
of a real photo, with occlusion, rotation and scale variation. Every scene comes with the
priors the model gets in deployment: a noisy person segmentation and noisy OCR text boxes.

Ground truth covers only what the generator pasted. Real backgrounds (COCO128 photos) can hold
unlabelled text (shop signs) and objects, which is realistic; photos that show a person are not
used as backgrounds by default (they would add an unlabelled person) and are instead the source
of the pasted real people. Text attribute masks are the boxes around the characters (what an
annotator draws and an obfuscator must cover), not the glyph strokes.

A scene is a pure function of (seed, index, settings) on one machine: any process, any order.
It also depends on the fonts installed and the photo folder, so it may differ across machines.
"""

from __future__ import annotations

import logging
import os
from statistics import NormalDist
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Sequence

import cv2
import numpy as np

from ..attributes import Vocabulary, vocabulary_from_ids
from .synthetic_parts import plan
from .synthetic_parts.backgrounds import load_photo_crop, procedural_background
from .synthetic_parts.canvas import Compositor, Placed, Sprite
from .roots import default_data_root
from .synthetic_parts.coco import find_photo_pool
from .synthetic_parts.priors import HumanRegion, TextRegion, human_prior, text_prior

log = logging.getLogger(__name__)

SAFE = "a0_safe"
SYNTHETIC_ATTRIBUTES: tuple[str, ...] = (
    plan.PERSON,  # x1_person_body: the whole person
    plan.FACE,  # a9_face_complete
    plan.NAME,  # a19_name_full: on cards, badges, stickers, letters, phones
    plan.ADDRESS,  # a74_address_current_complete: a multi-line address block
    plan.DATE,  # a82_date_time: camera date stamps, dated letters and receipts
    plan.CARD,  # a30_credit_card: the whole card
    plan.PLATE,  # a103_license_plate_complete: the whole plate, usually on a car
    plan.SIGNATURE,  # a8_signature: a handwriting scribble
    plan.PHONE,  # a49_phone: a phone number on a sign, card, screen, letter or receipt
)
MIN_VISIBLE_FRACTION = 0.2  # an attribute instance less visible than this (occluded or cut) is not labelled
MIN_VISIBLE_PIXELS = 16
PHOTO_BACKGROUND_CHANCE = 0.85  # with photos available, the rest stays procedural for variety
Difficulty = Literal["easy", "realistic"]


@dataclass
class Scene:
    image: np.ndarray  # uint8 [H, W, 3] RGB
    labels: list[str]  # attribute ids present (visible after occlusion); ["a0_safe"] if none
    masks: dict[str, np.ndarray]  # id -> bool [H, W], the visible pixels of that attribute (present ids only)
    human_prior: np.ndarray  # float32 [H, W] in [0, 1]: a noisy person segmentation
    text_prior: np.ndarray  # float32 [H, W] in [0, 1]: noisy OCR boxes around all text, private or not
    seed: int  # render_scene(np.random.default_rng(seed), same settings) reproduces this scene


def resolve_photo_folder(backgrounds: str | os.PathLike | None) -> str | None:
    """The photo folder to use: "auto" -> COCO128 under the data root if present, None -> no photos.

    "auto" falls back to procedural backgrounds silently (apart from a log line) because it is
    the default and must work on machines without data; an explicit folder that does not exist
    or holds no images is an error, since falling back would hide a typo.
    """
    if backgrounds is None:
        return None
    if isinstance(backgrounds, str) and backgrounds == "auto":
        folder = default_data_root() / "coco128"
        if folder.is_dir() and find_photo_pool(str(folder)) is not None:
            return str(folder)
        log.info("no COCO128 photos at %s: synthetic scenes use procedural backgrounds", folder)
        return None
    folder = Path(backgrounds).expanduser()
    if not folder.is_dir():
        raise FileNotFoundError(f"background folder {folder} does not exist")
    if find_photo_pool(str(folder)) is None:
        raise ValueError(f"background folder {folder} holds no .jpg/.png images")
    return str(folder)


def _image_shape(image_size: int | tuple[int, int]) -> tuple[int, int]:
    """(height, width) from an int (square) or a (height, width) pair."""
    if isinstance(image_size, (int, np.integer)):
        height = width = int(image_size)
    else:
        height, width = (int(v) for v in image_size)
    if height < 32 or width < 32:
        raise ValueError(f"image_size must be at least 32 px per side, got {(height, width)}")
    return height, width


def _check_attributes(attributes: Sequence[str]) -> tuple[str, ...]:
    unknown = [a for a in attributes if a not in SYNTHETIC_ATTRIBUTES]
    if unknown:
        raise ValueError(f"synthetic scenes cannot draw {unknown}; available: {list(SYNTHETIC_ATTRIBUTES)}")
    if len(set(attributes)) != len(attributes):
        raise ValueError(f"duplicated attributes in {list(attributes)}")
    return tuple(attributes)


def render_scene(
    rng: np.random.Generator,
    image_size: int | tuple[int, int] = 448,
    *,
    attributes: Sequence[str] = SYNTHETIC_ATTRIBUTES,
    safe: bool | None = None,
    safe_fraction: float = 0.15,
    difficulty: Difficulty = "realistic",
    photos: str | os.PathLike | None = None,
    carriers: Sequence[str] | None = None,
    seed: int = -1,
    split: str = "all",
) -> Scene:
    """Draw one scene with `rng` (the only source of randomness).

    safe: force a scene without (True) or with (False) private attributes; None draws it with
    probability `safe_fraction`. photos: a folder of background photos (COCO128 layout or plain
    images; see `resolve_photo_folder`), None for procedural backgrounds only. carriers: force the
    private objects by kind (`plan.CARRIERS`, e.g. ["person", "card"]), each showing every
    allowed attribute it can; for tests and benchmarks. seed: only recorded in `Scene.seed`.
    split: which photos to draw from ("train", "val" or "all"; see `synthetic_parts.coco.photo_split`).
    """
    height, width = _image_shape(image_size)
    if difficulty not in ("easy", "realistic"):
        raise ValueError(f"difficulty must be 'easy' or 'realistic', got {difficulty!r}")
    allowed = frozenset(_check_attributes(attributes))
    pool = find_photo_pool(str(photos), split) if photos is not None else None
    settings = plan.Settings(height, width, allowed, difficulty == "easy", pool)
    if carriers is not None:
        chosen = plan.forced_carriers(rng, list(carriers), settings)
    else:
        is_safe = bool(rng.random() < safe_fraction) if safe is None else safe
        chosen = [] if is_safe else plan.plan_carriers(rng, settings)
    compositor = Compositor(_background(rng, settings))
    _paste_all(rng, compositor, _sprites(rng, chosen, settings, safe=not chosen), settings)
    labels, masks = _ground_truth(compositor, tuple(attributes))
    people, lines = _prior_regions(compositor)
    return Scene(
        image=_photometric(rng, compositor.result(), settings.easy),
        labels=labels,
        masks=masks,
        human_prior=human_prior(rng, (height, width), people),
        text_prior=text_prior(rng, (height, width), lines),
        seed=int(seed),
    )


def _background(rng: np.random.Generator, settings: plan.Settings) -> np.ndarray:
    pool = settings.pool
    if not settings.easy and pool is not None and pool.backgrounds and rng.random() < PHOTO_BACKGROUND_CHANCE:
        path = pool.backgrounds[int(rng.integers(len(pool.backgrounds)))]
        return load_photo_crop(path, rng, settings.height, settings.width)
    return procedural_background(rng, settings.height, settings.width)


@dataclass
class _Item:
    sprite: Sprite
    placement: str
    depth: float  # paste order: larger is nearer the camera
    private: bool


def _sprites(rng: np.random.Generator, chosen: list[plan.Carrier], settings: plan.Settings, safe: bool) -> list[_Item]:
    """All objects of the scene with their paste order: private ones, clutter and harmless text."""
    items = []
    for carrier in chosen:
        sprite, placement = plan.build_carrier(rng, carrier, settings)
        items.append(_Item(sprite, placement, _depth(rng, carrier.kind), True))
    clutter_count = int(rng.integers(0, 3) if settings.easy else rng.integers(2, 8))
    text_count = int(rng.integers(0, 2) if settings.easy else rng.integers(0, 3))
    if safe and rng.random() < 0.8:
        text_count = max(text_count, 1)
    for k in range(clutter_count + text_count):
        sprite = plan.build_clutter(rng, settings, text=k >= clutter_count)
        items.append(_Item(sprite, "anywhere", float(rng.uniform(0.0, 0.75 if k < clutter_count else 1.0)), False))
    return items


def _depth(rng: np.random.Generator, kind: str) -> float:
    """Paste order of a private object: date stamps are printed over everything, cars stand behind."""
    if kind == "timestamp":
        return 2.0
    if kind == "car":
        return float(rng.uniform(0.0, 0.5))
    return float(rng.uniform(0.25, 1.0))


def _paste_all(rng: np.random.Generator, compositor: Compositor, items: list[_Item], settings: plan.Settings) -> None:
    """Paste in depth order; in easy scenes objects go where they overlap nothing (private ones first)."""
    if settings.easy:
        occupied = np.zeros(compositor.shape, dtype=bool)
        for item in sorted(items, key=lambda i: not i.private):
            corner = plan.free_position(rng, item.sprite, occupied)
            if corner is not None:
                compositor.paste(item.sprite, *corner)
        return
    for item in sorted(items, key=lambda i: i.depth):
        compositor.paste(item.sprite, *plan.position(rng, item.sprite, item.placement, settings))


def _ground_truth(compositor: Compositor, attributes: tuple[str, ...]) -> tuple[list[str], dict[str, np.ndarray]]:
    """Labels and masks from what is visible; an instance must keep enough of itself to count."""
    masks: dict[str, np.ndarray] = {}
    for placed in compositor.placed:
        for layer_index, visible in _kept_layers(compositor, placed).items():
            attribute = placed.sprite.layers[layer_index].attribute
            mask = masks.setdefault(attribute, np.zeros(compositor.shape, dtype=bool))
            mask[placed.canvas_window] |= visible
    labels = [a for a in attributes if a in masks]
    return (labels or [SAFE]), {a: masks[a] for a in labels}


def _kept_layers(compositor: Compositor, placed: Placed) -> dict[int, np.ndarray]:
    """Visible window masks of the attribute layers that stay labelled; a kept child keeps its parent."""
    layers = placed.sprite.layers
    visible: dict[int, np.ndarray] = {}
    keep: set[int] = set()
    for index, layer in enumerate(layers):
        if layer.attribute is None:
            continue
        visible[index] = compositor.visible(placed, layer)
        shown, whole = int(visible[index].sum()), int(layer.mask.sum())
        if shown >= max(MIN_VISIBLE_PIXELS, MIN_VISIBLE_FRACTION * whole):
            keep.add(index)
    for index in sorted(keep, reverse=True):  # children come after their parents
        parent = layers[index].parent
        while parent is not None:
            if layers[parent].attribute is not None:
                keep.add(parent)
            parent = layers[parent].parent
    return {index: visible[index] for index in sorted(keep)}


def _prior_regions(compositor: Compositor) -> tuple[list[HumanRegion], list[TextRegion]]:
    """What the imitated detectors see: visible people (labelled or not) and visible text lines."""
    people, lines = [], []
    for placed in compositor.placed:
        limbs = [compositor.full_mask(placed, compositor.visible(placed, layer))
                 for layer in placed.sprite.layers if layer.limb]
        for layer in placed.sprite.layers:
            if layer.human:
                people.append(HumanRegion(compositor.full_mask(placed, compositor.visible(placed, layer)), limbs))
            if layer.text:
                visible = compositor.visible(placed, layer)
                fraction = float(visible.sum()) / max(1, int(layer.mask.sum()))
                offset = (placed.canvas_window[0].start, placed.canvas_window[1].start)
                lines.append(TextRegion(visible, offset, layer.detect, fraction))
    return people, lines


def _photometric(rng: np.random.Generator, image: np.ndarray, easy: bool) -> np.ndarray:
    """Camera effects on the image only: exposure, colour cast, blur, sensor noise, JPEG artefacts.

    Written with lookup tables and OpenCV calls: this step touches every pixel and dominated the
    generation time when written with float arrays.
    """
    if easy:
        return _add_noise(rng, image, rng.uniform(0, 2))
    gain = rng.uniform(0.8, 1.15) * rng.uniform(0.94, 1.06, size=3)
    bias = rng.uniform(-12, 12)
    table = np.clip(np.arange(256, dtype=np.float64)[:, None] * gain[None, :] + bias, 0, 255).astype(np.uint8)
    out = cv2.LUT(image, table.reshape(1, 256, 3))
    out = cv2.GaussianBlur(out, (0, 0), rng.uniform(0.4, 1.0))
    out = _add_noise(rng, out, rng.uniform(0, 5))
    if rng.random() < 0.4:
        ok, encoded = cv2.imencode(".jpg", out[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(45, 96))])
        if ok:
            out = np.ascontiguousarray(cv2.imdecode(encoded, cv2.IMREAD_COLOR)[..., ::-1])
    return out


_GAUSSIAN_QUANTILES = np.array([NormalDist().inv_cdf((k + 0.5) / 256) for k in range(256)], dtype=np.float32)


def _add_noise(rng: np.random.Generator, image: np.ndarray, sigma: float) -> np.ndarray:
    """Grey sensor noise: random bytes mapped through Gaussian quantiles (much faster than normal draws)."""
    h, w = image.shape[:2]
    noise = (_GAUSSIAN_QUANTILES * np.float32(sigma))[np.frombuffer(rng.bytes(h * w), dtype=np.uint8)].reshape(h, w)
    return cv2.add(image, cv2.merge([noise, noise, noise]), dtype=cv2.CV_8U)


def scene_seed(seed: int, index: int) -> int:
    """The per-scene seed: independent streams for every (seed, index), stable across processes."""
    return int(np.random.SeedSequence([seed, index]).generate_state(1, np.uint64)[0])


class SyntheticScenes:
    """A map-style dataset of synthetic privacy scenes: item i is the same scene wherever it is drawn.

    backgrounds: "auto" uses COCO128 photos from `$PRIVOBF_DATA/coco128` (default
    `<repo>/../shared/data`) when present, else procedural backgrounds; a folder path uses its
    photos (COCO128 layout or plain images); None uses procedural backgrounds only. Photos that
    show a person are never backgrounds (see module docstring). difficulty "easy": procedural
    background, no rotation, no occlusion, bigger objects, mild camera noise.
    Items are `Scene`s; `vocabulary_ids` is ["a0_safe", *attributes].
    """

    def __init__(
        self,
        n: int,
        image_size: int | tuple[int, int] = 448,
        seed: int = 0,
        backgrounds: str | os.PathLike | None | Literal["auto"] = "auto",
        attributes: Sequence[str] = SYNTHETIC_ATTRIBUTES,
        safe_fraction: float = 0.15,
        difficulty: Difficulty = "realistic",
        split: Literal["all", "train", "val"] = "all",
    ):
        if n < 0:
            raise ValueError(f"n must be >= 0, got {n}")
        if seed < 0:
            raise ValueError(f"seed must be >= 0, got {seed}")
        if not 0.0 <= safe_fraction <= 1.0:
            raise ValueError(f"safe_fraction must be in [0, 1], got {safe_fraction}")
        if difficulty not in ("easy", "realistic"):
            raise ValueError(f"difficulty must be 'easy' or 'realistic', got {difficulty!r}")
        self.n = int(n)
        self.image_size = _image_shape(image_size)
        self.seed = int(seed)
        self.attributes = _check_attributes(attributes)
        self.safe_fraction = float(safe_fraction)
        self.difficulty: Difficulty = difficulty
        self.split = split  # photos of this split only: train and val scenes share no background photo
        self.photo_folder = None if difficulty == "easy" else resolve_photo_folder(backgrounds)
        self.vocabulary_ids: list[str] = [SAFE, *self.attributes]

    @property
    def vocabulary(self) -> Vocabulary:
        return vocabulary_from_ids(self.vocabulary_ids, name="synthetic")

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, index: int) -> Scene:
        if not isinstance(index, (int, np.integer)):
            raise TypeError(f"index must be an int, got {type(index).__name__}")
        if index < 0:
            index += self.n
        if not 0 <= index < self.n:
            raise IndexError(f"index {index} out of range for {self.n} scenes")
        derived = scene_seed(self.seed, int(index))
        return render_scene(
            np.random.default_rng(derived),
            self.image_size,
            attributes=self.attributes,
            safe_fraction=self.safe_fraction,
            difficulty=self.difficulty,
            photos=self.photo_folder,
            seed=derived,
            split=self.split,
        )


__all__ = ["SYNTHETIC_ATTRIBUTES", "Scene", "SyntheticScenes", "default_data_root", "render_scene"]
