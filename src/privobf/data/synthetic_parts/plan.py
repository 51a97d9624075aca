"""What goes into a scene: which objects carry which private attributes, how big, where, in what order.

Sampling works on attributes first, objects second: a scene draws 1-4 target attributes, then
for each an object ("carrier") that can show it. Carriers can show several attributes (a card
with its holder's name, a letter with an address and a date), so attributes co-occur the way
they do in photos, while the label count stays at most `MAX_LABELS`.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from . import clutter, people, things
from .canvas import Layer, Sprite, rotate_sprite
from .coco import PhotoPool, person_cutout

PERSON, FACE, NAME = "x1_person_body", "a9_face_complete", "a19_name_full"
ADDRESS, DATE, CARD = "a74_address_current_complete", "a82_date_time", "a30_credit_card"
PLATE, SIGNATURE, PHONE = "a103_license_plate_complete", "a8_signature", "a49_phone"
MAX_LABELS = 4
ROLES = {NAME: "name", ADDRESS: "address", DATE: "date", PHONE: "phone", SIGNATURE: "signature"}


@dataclass(frozen=True)
class CarrierKind:
    required: frozenset[str]  # attributes the object always shows
    optional: tuple[tuple[str, float], ...]  # attributes it may show, with the chance it does unasked


CARRIERS: dict[str, CarrierKind] = {
    "person": CarrierKind(frozenset({PERSON}), ((FACE, 0.75), (NAME, 0.0))),
    "coco_person": CarrierKind(frozenset({PERSON}), ()),
    "face": CarrierKind(frozenset({FACE}), ()),
    "card": CarrierKind(frozenset({CARD}), ((NAME, 0.6),)),
    "car": CarrierKind(frozenset({PLATE}), ()),
    "plate": CarrierKind(frozenset({PLATE}), ()),
    "document": CarrierKind(frozenset(), ((DATE, 0.3), (ADDRESS, 0.2), (NAME, 0.2), (PHONE, 0.2), (SIGNATURE, 0.3))),
    "envelope": CarrierKind(frozenset({ADDRESS}), ((NAME, 0.5),)),
    "business_card": CarrierKind(frozenset(), ((NAME, 0.7), (PHONE, 0.6), (ADDRESS, 0.2))),
    "phone": CarrierKind(frozenset(), ((NAME, 0.5), (PHONE, 0.6))),
    "sign": CarrierKind(frozenset({PHONE}), ()),
    "timestamp": CarrierKind(frozenset({DATE}), ()),
    "sticker": CarrierKind(frozenset({NAME}), ()),
    "receipt": CarrierKind(frozenset(), ((DATE, 0.6), (PHONE, 0.3))),
    "signature": CarrierKind(frozenset({SIGNATURE}), ()),
}

# For each attribute, the objects that show it and how often each is chosen.
TARGET_CARRIERS: dict[str, dict[str, float]] = {
    PERSON: {"person": 0.7, "coco_person": 0.3},
    FACE: {"face": 0.45, "person": 0.55},
    NAME: {"card": 0.2, "sticker": 0.15, "business_card": 0.2, "phone": 0.1, "document": 0.1, "envelope": 0.1,
           "person": 0.15},
    ADDRESS: {"envelope": 0.5, "document": 0.3, "business_card": 0.2},
    DATE: {"timestamp": 0.35, "document": 0.3, "receipt": 0.35},
    CARD: {"card": 1.0},
    PLATE: {"car": 0.65, "plate": 0.35},
    SIGNATURE: {"signature": 0.55, "document": 0.45},
    PHONE: {"sign": 0.3, "business_card": 0.25, "phone": 0.2, "document": 0.1, "receipt": 0.15},
}
ABSORB = 0.6  # chance a carrier also shows another target attribute it can show


@dataclass
class Carrier:
    kind: str
    attributes: frozenset[str]


@dataclass
class Settings:
    """Scene-wide choices the planner and the builders share."""

    height: int
    width: int
    allowed: frozenset[str]
    easy: bool
    pool: PhotoPool | None

    @property
    def side(self) -> int:
        return min(self.height, self.width)


def plan_carriers(rng: np.random.Generator, settings: Settings) -> list[Carrier]:
    """The private objects of a non-safe scene (1-4 distinct labels, some objects repeated)."""
    candidates = sorted(settings.allowed & set(TARGET_CARRIERS))
    if not candidates:
        return []
    k = min(len(candidates), int(rng.choice([1, 2, 3, 4], p=[0.3, 0.35, 0.22, 0.13])))
    targets = [candidates[int(i)] for i in rng.choice(len(candidates), size=k, replace=False)]
    labels: set[str] = set()
    carriers: list[Carrier] = []
    for target in targets:
        if target in labels:
            continue
        kind = _choose_kind(rng, target, labels, settings)
        if kind is not None:
            shown = _attributes_for(rng, kind, target, set(targets) - labels, labels, settings)
            carriers.append(Carrier(kind, frozenset(shown)))
            labels |= shown
    if carriers and rng.random() < 0.25:  # a second instance: two people, two cards
        carriers.append(_repeat(rng, carriers[int(rng.integers(len(carriers)))]))
    return carriers


def forced_carriers(rng: np.random.Generator, kinds: list[str], settings: Settings) -> list[Carrier]:
    """Carriers of the given kinds, each showing every attribute it can (for tests and benchmarks)."""
    result = []
    for kind in kinds:
        spec = CARRIERS[kind]
        if not spec.required <= settings.allowed:
            raise ValueError(f"carrier {kind!r} needs attributes {sorted(spec.required)} that are not allowed")
        shown = set(spec.required) | {a for a, _ in spec.optional if a in settings.allowed}
        if kind == "person" and not _badge_fits(settings):
            shown.discard(NAME)
        result.append(Carrier(kind, frozenset(shown)))
    return result


def _repeat(rng: np.random.Generator, carrier: Carrier) -> Carrier:
    """Another object of the same kind showing a subset of the same attributes (no new labels)."""
    spec = CARRIERS[carrier.kind]
    # Sorted: iterating a frozenset of strings follows the per-process hash seed, and each draw must not.
    shown = set(spec.required) | {a for a in sorted(carrier.attributes) if rng.random() < 0.7}
    if carrier.kind == "person" and FACE not in carrier.attributes:
        shown.discard(FACE)
    return Carrier(carrier.kind, frozenset(shown or carrier.attributes))


def _badge_fits(settings: Settings) -> bool:
    """A legible name badge needs a tall person, which needs a large enough image."""
    return settings.side >= 300


def _choose_kind(rng: np.random.Generator, target: str, labels: set[str], settings: Settings) -> str | None:
    options, weights = [], []
    for kind, weight in TARGET_CARRIERS[target].items():
        spec = CARRIERS[kind]
        needed = set(spec.required) | {target}
        if not needed <= settings.allowed or len(labels | needed) > MAX_LABELS:
            continue
        if kind == "coco_person" and (settings.easy or settings.pool is None or not settings.pool.persons):
            continue
        if kind == "person" and target == NAME and not _badge_fits(settings):
            continue
        options.append(kind)
        weights.append(weight)
    if not options:
        return None
    p = np.asarray(weights) / np.sum(weights)
    return options[int(rng.choice(len(options), p=p))]


def _attributes_for(rng: np.random.Generator, kind: str, target: str, open_targets: set[str], labels: set[str],
                    settings: Settings) -> set[str]:
    """The attributes a chosen carrier shows: its required ones, the target, and optional extras."""
    spec = CARRIERS[kind]
    shown = set(spec.required) | {target}
    for attribute, unasked in spec.optional:
        if attribute in shown or attribute not in settings.allowed:
            continue
        if kind == "person" and attribute == NAME and not _badge_fits(settings):
            continue
        chance = ABSORB if attribute in open_targets else unasked
        if rng.random() < chance and len(labels | shown | {attribute}) <= MAX_LABELS:
            shown.add(attribute)
    return shown


def sprite_size(rng: np.random.Generator, kind: str, settings: Settings) -> int:
    """The object's main dimension in pixels (height for people, width for flat objects)."""
    ranges = {  # fraction of the shorter image side: (realistic, easy)
        "person": ((0.3, 0.95), (0.55, 0.9)), "coco_person": ((0.3, 0.9), (0.5, 0.9)),
        "face": ((0.06, 0.45), (0.25, 0.5)), "card": ((0.12, 0.5), (0.35, 0.6)), "car": ((0.3, 0.8), (0.45, 0.7)),
        "plate": ((0.1, 0.4), (0.3, 0.5)), "document": ((0.25, 0.55), (0.4, 0.6)), "envelope": ((0.3, 0.6), (0.4, 0.6)),
        "business_card": ((0.2, 0.5), (0.35, 0.55)), "phone": ((0.15, 0.3), (0.2, 0.3)),
        "sign": ((0.2, 0.6), (0.35, 0.6)),
        "timestamp": ((0.025, 0.05), (0.04, 0.06)), "sticker": ((0.15, 0.35), (0.25, 0.4)),
        "receipt": ((0.2, 0.4), (0.3, 0.4)), "signature": ((0.12, 0.45), (0.3, 0.5)),
    }
    low, high = ranges[kind][1 if settings.easy else 0]
    return int(settings.side * rng.uniform(low, high))


def _min_size(kind: str, attributes: frozenset[str]) -> int:
    """The smallest size at which the object's private text stays legible."""
    if kind == "card" and NAME not in attributes:
        return 0
    if kind == "car":  # the plate is 30% of the car's width
        return int(np.ceil(things.min_width_for_text("plate") / 0.3))
    if kind == "person":
        return 280 if NAME in attributes else 0
    return things.min_width_for_text(kind) if kind in things.TEXT_SCALE else 0


def build_carrier(rng: np.random.Generator, carrier: Carrier, settings: Settings) -> tuple[Sprite, str]:
    """The carrier's sprite (rotated unless easy) and its placement style."""
    size = max(sprite_size(rng, carrier.kind, settings), _min_size(carrier.kind, carrier.attributes))
    sprite = _build(rng, carrier, size, settings)
    spread = {"person": 4, "coco_person": 3, "face": 10, "car": 3, "plate": 10, "timestamp": 0}.get(carrier.kind, 13)
    if not settings.easy and spread and rng.random() < 0.75:
        sprite = rotate_sprite(sprite, float(np.clip(rng.normal(0, spread), -30, 30)))
    placement = {"person": "standing", "coco_person": "standing", "timestamp": "corner"}.get(carrier.kind, "anywhere")
    return sprite, placement


def _build(rng: np.random.Generator, carrier: Carrier, size: int, settings: Settings) -> Sprite:
    shows = carrier.attributes
    kind = carrier.kind
    roles = {ROLES[a]: a for a in sorted(shows) if a in ROLES}
    if kind == "person":
        return people.person_sprite(rng, size, PERSON, FACE if FACE in shows else None, NAME if NAME in shows else None)
    if kind == "coco_person":
        return coco_person_sprite(rng, size, settings.pool)
    if kind == "face":
        return people.face_sprite(rng, size, FACE)
    if kind == "card":
        return things.credit_card_sprite(rng, size, CARD, NAME if NAME in shows else None)
    if kind == "car":
        return things.car_sprite(rng, size, PLATE, european=rng.random() < 0.6)
    if kind == "plate":
        return things.plate_sprite(rng, size, PLATE, european=rng.random() < 0.6)
    if kind == "document":
        return things.document_sprite(rng, size, roles)
    if kind == "envelope":
        return things.envelope_sprite(rng, size, ADDRESS, NAME if NAME in shows else None)
    if kind == "business_card":
        return things.business_card_sprite(rng, size, roles)
    if kind == "phone":
        return things.phone_sprite(rng, size, roles)
    if kind == "sign":
        return things.sign_sprite(rng, size, PHONE)
    if kind == "timestamp":
        return things.timestamp_sprite(rng, size, DATE)
    if kind == "sticker":
        return things.sticker_sprite(rng, size, NAME)
    if kind == "receipt":
        return things.receipt_sprite(rng, size, roles)
    if kind == "signature":
        return things.signature_sprite(rng, size, SIGNATURE)
    raise ValueError(f"unknown carrier kind {kind!r}")


def coco_person_sprite(rng: np.random.Generator, height: int, pool: PhotoPool | None) -> Sprite:
    """A real person cut out of a COCO photo along its polygon, scaled to about `height` px.

    Scaling up is limited (2.5x) so pasted people do not turn into blurry giants.
    """
    if pool is None or not pool.persons:
        raise ValueError("no COCO persons available")
    source = pool.persons[int(rng.integers(len(pool.persons)))]
    rgb, mask = person_cutout(source)
    scale = min(height / rgb.shape[0], 2.5)
    size = (max(2, int(rgb.shape[1] * scale)), max(2, int(rgb.shape[0] * scale)))
    rgb = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
    mask = cv2.resize(mask.view(np.uint8), size, interpolation=cv2.INTER_NEAREST) > 0
    if rng.random() < 0.5:
        rgb, mask = rgb[:, ::-1], mask[:, ::-1]
    sprite = Sprite(np.ascontiguousarray(rgb), mask.astype(np.float32), shadow=0.2)
    sprite.layers.append(Layer(np.ascontiguousarray(mask), attribute=PERSON, solid=True, human=True))
    return sprite.finalize()


def build_clutter(rng: np.random.Generator, settings: Settings, text: bool) -> Sprite:
    """A harmless object (or harmless text when `text`), rotated unless easy."""
    low, high = (0.15, 0.35) if settings.easy else (0.06, 0.35)
    size = int(settings.side * rng.uniform(low, high))
    if text:
        size = max(size, int(settings.side * 0.2))
        sprite = clutter.harmless_text_sprite(rng, size)
    else:
        sprite = clutter.clutter_sprite(rng, size)
    if not settings.easy and rng.random() < 0.6:
        sprite = rotate_sprite(sprite, float(np.clip(rng.normal(0, 15), -30, 30)))
    return sprite


def position(rng: np.random.Generator, sprite: Sprite, placement: str, settings: Settings) -> tuple[int, int]:
    """Top-left corner for a sprite: people stand near the bottom, date stamps sit in a corner."""
    h, w = sprite.shape
    H, W = settings.height, settings.width
    if placement == "corner" and rng.random() < 0.8:
        margin = int(0.03 * min(H, W))
        left = W - w - margin if rng.random() < 0.75 else margin
        top = H - h - margin if rng.random() < 0.8 else margin
        return top, left
    cx = rng.uniform(0.08, 0.92) * W
    if placement == "standing":
        return int(rng.uniform(0.6, 1.1) * H - h), int(cx - w / 2)
    cy = rng.uniform(0.08, 0.92) * H
    return int(cy - h / 2), int(cx - w / 2)


def free_position(
    rng: np.random.Generator, sprite: Sprite, occupied: np.ndarray, tries: int = 40
) -> tuple[int, int] | None:
    """A top-left corner where the sprite fits inside the image without touching `occupied`, or None."""
    h, w = sprite.shape
    H, W = occupied.shape
    if h > H or w > W:
        return None
    footprint = sprite.alpha > 0
    for layer in sprite.layers:
        footprint = footprint | layer.mask
    footprint = cv2.dilate(footprint.view(np.uint8), np.ones((7, 7), np.uint8)) > 0
    for _ in range(tries):
        top, left = int(rng.integers(0, H - h + 1)), int(rng.integers(0, W - w + 1))
        if not (occupied[top : top + h, left : left + w] & footprint).any():
            occupied[top : top + h, left : left + w] |= footprint
            return top, left
    return None
