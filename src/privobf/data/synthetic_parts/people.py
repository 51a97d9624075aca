"""People: a full body with a face on its head, or a face alone (a close-up).

The body is a stick figure fleshed out with thick limbs, a torso, clothes and a head, posed by
random joint angles. Parts are painted into a part map first, so the person mask, the face mask
and each limb mask are exact and the face lies inside the person by construction.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from . import words
from .canvas import Sprite, crop_to_content
from .paint import Painter, fractal_noise, random_colour, rounded_rect, side_light
from .text import MIN_LEGIBLE_PX, Writer, record_line, text_extent

TORSO, ARM_LEFT, ARM_RIGHT, LEG_LEFT, LEG_RIGHT, HEAD, FACE = 1, 2, 3, 4, 5, 6, 7
LIMBS = (ARM_LEFT, ARM_RIGHT, LEG_LEFT, LEG_RIGHT)
SKIN, HAIR, SHIRT, PANTS, SHOES, SKIN_SHADE, SKIRT, FOREARM = 1, 2, 3, 4, 5, 6, 7, 8

SKIN_TONES = np.array(
    [[255, 224, 196], [241, 194, 167], [224, 172, 138], [198, 134, 98], [161, 102, 70], [120, 76, 50], [88, 57, 39]],
    dtype=np.float32,
)
HAIR_COLOURS = np.array(
    [[20, 16, 14], [45, 30, 22], [85, 55, 35], [140, 95, 55], [200, 160, 100], [160, 70, 40], [150, 150, 150]],
    dtype=np.float32,
)
EYE_COLOURS = ((60, 40, 25), (40, 80, 140), (70, 110, 60), (25, 20, 15))
LIP_COLOURS = ((180, 80, 80), (150, 70, 70), (200, 90, 110), (120, 60, 55))


@dataclass
class HeadStyle:
    """How a head looks; drawn once per person so the face and the hair agree."""

    skin: np.ndarray
    hair: np.ndarray
    hair_style: str  # "short", "long", "bald", "bun", "curly"
    facing: bool  # False: seen from behind, no face
    yaw: float  # -1..1, shifts the features sideways (a turned head)
    glasses: bool
    beard: bool
    smile: float
    eye: tuple[int, int, int]
    lips: tuple[int, int, int]


def random_head_style(rng: np.random.Generator, facing: bool) -> HeadStyle:
    styles = ("short", "short", "long", "long", "bald", "bun", "curly")
    return HeadStyle(
        skin=SKIN_TONES[rng.integers(len(SKIN_TONES))] * rng.uniform(0.92, 1.05),
        hair=HAIR_COLOURS[rng.integers(len(HAIR_COLOURS))] * rng.uniform(0.85, 1.15),
        hair_style=str(words.pick(rng, styles)),
        facing=facing,
        yaw=float(rng.uniform(-0.35, 0.35)),
        glasses=bool(rng.random() < 0.18),
        beard=bool(rng.random() < 0.12),
        smile=float(rng.uniform(-0.2, 1.0)),
        eye=EYE_COLOURS[int(rng.integers(len(EYE_COLOURS)))],
        lips=LIP_COLOURS[int(rng.integers(len(LIP_COLOURS)))],
    )


def paint_head(
    painter: Painter, cx: float, cy: float, a: float, b: float, style: HeadStyle, neck: bool, back_hair: bool = True
) -> None:
    """Hair, ears, neck and the face ellipse (semi-axes a, b) into the painter's maps.

    `back_hair=False` when the caller painted long hair earlier, behind the body.
    """
    if back_hair and style.hair_style == "long":
        painter.rectangle(cx - 1.12 * a, cy - 0.3 * b, cx + 1.12 * a, cy + 1.25 * b, HEAD, HAIR, radius=0.5 * a)
    if style.hair_style == "bun":
        painter.ellipse((cx, cy - 1.15 * b), (0.45 * a, 0.35 * b), HEAD, HAIR)
    if neck:
        painter.limb((cx, cy + 0.6 * b), (cx, cy + 1.45 * b), 0.9 * a, HEAD, SKIN_SHADE)
    if not style.facing:
        painter.ellipse((cx, cy - 0.04 * b), (1.05 * a, 1.03 * b), HEAD, HAIR)
        return
    for side in (-1, 1):
        painter.ellipse((cx + side * 0.97 * a, cy + 0.02 * b), (0.2 * a, 0.3 * b), HEAD, SKIN_SHADE)
    painter.ellipse((cx, cy), (a, b), FACE, SKIN)
    if style.hair_style != "bald":
        _paint_hair_cap(painter, cx, cy, a, b, style.hair_style)


def _paint_hair_cap(painter: Painter, cx: float, cy: float, a: float, b: float, hair_style: str) -> None:
    """The hair over the forehead: an ellipse above a hairline, with side locks for long hair."""
    h, w = painter.parts.shape
    cap = np.zeros((h, w), dtype=np.uint8)
    if hair_style == "curly":
        for angle in np.linspace(np.pi * 0.95, np.pi * 2.05, 9):
            centre = (int(cx + 0.95 * a * np.cos(angle)), int(cy - 0.1 * b + 0.95 * b * np.sin(angle)))
            cv2.circle(cap, centre, max(1, int(0.32 * a)), 1, -1)
    cv2.ellipse(cap, (int(round(cx)), int(round(cy - 0.1 * b))), (max(1, int(1.07 * a)), max(1, int(1.0 * b))),
                0, 0, 360, 1, -1)
    ys = np.arange(h, dtype=np.float32)[:, None]
    xs = np.arange(w, dtype=np.float32)[None, :]
    hairline = cy - 0.42 * b + 0.12 * b * np.sin((xs - cx) / max(a, 1.0) * 2.0)
    keep = ys < hairline
    if hair_style == "long":
        keep |= (np.abs(xs - cx) > 0.78 * a) & (ys < cy + 0.35 * b)
    region = (cap > 0) & keep
    painter.parts[region] = HEAD
    painter.colours[region] = HAIR


def paint_face_details(rgb: np.ndarray, cx: float, cy: float, a: float, b: float, style: HeadStyle) -> None:
    """Eyes, brows, nose, mouth (and glasses or a beard), anti-aliased, inside the face ellipse."""
    if not style.facing:
        return
    fx = cx + style.yaw * 0.25 * a
    dark = tuple(int(c * 0.45) for c in style.hair)
    if a < 6:
        for side in (-1, 1):
            _dot(rgb, (fx + side * 0.38 * a, cy - 0.08 * b), max(1.0, 0.12 * a), (40, 30, 25))
        _arc(rgb, (fx, cy + 0.5 * b), (0.3 * a, 0.08 * b + 1), 0, 180, style.lips, 1)
        return
    if style.beard:
        _beard(rgb, cx, cy, a, b, style.hair)
    for side in (-1, 1):
        ex, ey = fx + side * 0.38 * a, cy - 0.08 * b
        _ellipse(rgb, (ex, ey), (0.2 * a, 0.09 * b), (245, 242, 238))
        _dot(rgb, (ex + style.yaw * 0.06 * a, ey), 0.085 * b, style.eye)
        _dot(rgb, (ex + style.yaw * 0.06 * a, ey), 0.04 * b, (10, 10, 10))
        _arc(rgb, (ex, ey + 0.02 * b), (0.21 * a, 0.1 * b), 180, 360, (50, 35, 30), max(1, int(0.03 * b)))
        brow_y = ey - 0.2 * b
        _line(rgb, (ex - side * 0.2 * a, brow_y + 0.03 * b), (ex + side * 0.18 * a, brow_y - 0.02 * b), dark,
              max(1, int(0.06 * b)))
    nose = tuple(int(c * 0.78) for c in style.skin)
    _line(rgb, (fx + 0.02 * a, cy), (fx + 0.08 * a, cy + 0.28 * b), nose, max(1, int(0.035 * b)))
    _arc(rgb, (fx, cy + 0.28 * b), (0.12 * a, 0.05 * b), 0, 180, nose, max(1, int(0.035 * b)))
    mouth_y = cy + 0.52 * b
    _ellipse(rgb, (fx, mouth_y), (0.32 * a, 0.07 * b + 0.5), style.lips)
    _arc(rgb, (fx, mouth_y - 0.05 * b), (0.3 * a, max(1.0, 0.1 * b * style.smile)), 0, 180, (90, 40, 40),
         max(1, int(0.03 * b)))
    if style.glasses:
        for side in (-1, 1):
            cv2.circle(rgb, _pt((fx + side * 0.38 * a, cy - 0.08 * b)), max(2, int(0.26 * a)), (30, 30, 30),
                       max(1, int(0.04 * b)), cv2.LINE_AA)
        _line(rgb, (fx - 0.12 * a, cy - 0.1 * b), (fx + 0.12 * a, cy - 0.1 * b), (30, 30, 30), max(1, int(0.04 * b)))


def _beard(rgb: np.ndarray, cx: float, cy: float, a: float, b: float, hair: np.ndarray) -> None:
    overlay = np.zeros(rgb.shape[:2], dtype=np.uint8)
    cv2.ellipse(overlay, _pt((cx, cy + 0.2 * b)), (int(0.95 * a), int(0.8 * b)), 0, 0, 180, 1, -1)
    region = overlay > 0
    rgb[region] = (0.35 * rgb[region] + 0.65 * hair).astype(np.uint8)


def _pt(p) -> tuple[int, int]:
    return int(round(p[0])), int(round(p[1]))


def _dot(rgb, centre, radius, colour) -> None:
    cv2.circle(rgb, _pt(centre), max(1, int(round(radius))), tuple(int(c) for c in colour), -1, cv2.LINE_AA)


def _ellipse(rgb, centre, axes, colour) -> None:
    cv2.ellipse(rgb, _pt(centre), (max(1, int(round(axes[0]))), max(1, int(round(axes[1])))), 0, 0, 360,
                tuple(int(c) for c in colour), -1, cv2.LINE_AA)


def _arc(rgb, centre, axes, start, end, colour, thickness) -> None:
    cv2.ellipse(rgb, _pt(centre), (max(1, int(round(axes[0]))), max(1, int(round(axes[1])))), 0, start, end,
                tuple(int(c) for c in colour), thickness, cv2.LINE_AA)


def _line(rgb, p, q, colour, thickness) -> None:
    cv2.line(rgb, _pt(p), _pt(q), tuple(int(c) for c in colour), thickness, cv2.LINE_AA)


@dataclass
class Pose:
    arm_up: tuple[float, float]  # upper-arm angle from hanging down, outward, degrees (left, right)
    arm_bend: tuple[float, float]  # elbow bend towards the body, degrees
    leg_out: tuple[float, float]  # thigh angle outward
    knee: tuple[float, float]  # shin angle relative to the thigh
    arms_behind: bool


def random_pose(rng: np.random.Generator) -> Pose:
    def arm() -> float:
        return float(rng.uniform(70, 160) if rng.random() < 0.2 else rng.uniform(4, 45))

    return Pose(
        arm_up=(arm(), arm()),
        arm_bend=(float(rng.uniform(0, 100)), float(rng.uniform(0, 100))),
        leg_out=(float(rng.uniform(-4, 18)), float(rng.uniform(-4, 18))),
        knee=(float(rng.uniform(-15, 8)), float(rng.uniform(-15, 8))),
        arms_behind=bool(rng.random() < 0.3),
    )


def _towards(origin, length: float, degrees: float, side: int) -> tuple[float, float]:
    """The point `length` away from `origin` at `degrees` from straight down, turned outward on `side`."""
    angle = np.deg2rad(degrees)
    return origin[0] + side * length * np.sin(angle), origin[1] + length * np.cos(angle)


def person_sprite(
    rng: np.random.Generator,
    height: int,
    person_attribute: str | None,
    face_attribute: str | None,
    badge_attribute: str | None = None,
) -> Sprite:
    """A standing person `height` px tall, facing the camera when `face_attribute` is given.

    Layers: the person (human), the face (inside the person), the four limbs (for prior noise)
    and, with `badge_attribute`, a name badge on the chest whose name lies inside the person.
    """
    hh = height / rng.uniform(7.2, 7.9)  # head height
    pose = random_pose(rng)
    half_width = int(np.ceil(hh * 3.9))
    w, h = 2 * half_width, int(np.ceil(8.0 * hh))
    painter = Painter(h, w)
    cx = half_width
    style = random_head_style(rng, facing=face_attribute is not None)
    skirt = rng.random() < 0.25
    short_sleeves = rng.random() < 0.5
    b = 0.46 * hh
    a = b * rng.uniform(0.72, 0.82)
    head_y = 0.06 * hh + b
    if style.hair_style == "long":
        painter.rectangle(cx - 1.12 * a, head_y - 0.3 * b, cx + 1.12 * a, head_y + 1.25 * b, HEAD, HAIR, 0.5 * a)
    _paint_legs(painter, cx, hh, pose, skirt)
    if pose.arms_behind:
        _paint_arms(painter, cx, hh, pose, short_sleeves)
    _paint_torso(painter, cx, hh, skirt)
    if not pose.arms_behind:
        _paint_arms(painter, cx, hh, pose, short_sleeves)
    paint_head(painter, cx, head_y, a, b, style, neck=True, back_hair=False)
    palette = _person_palette(rng, style, short_sleeves)
    rgb = _shade(painter, palette, rng, depth=0.25 * hh)
    paint_face_details(rgb, cx, head_y, a, b, style)
    if rng.random() < 0.25:
        _stripes(rgb, painter.parts == TORSO, rng)
    alpha = (painter.parts > 0).astype(np.float32)
    sprite = Sprite(rgb, alpha, shadow=0.25)
    person = sprite.add(painter.parts > 0, attribute=person_attribute, solid=True, human=True)
    if face_attribute is not None:
        sprite.add(painter.parts == FACE, attribute=face_attribute, parent=person, solid=True)
    for limb in LIMBS:
        sprite.add(painter.parts == limb, parent=person, limb=True)
    if badge_attribute is not None:
        _pin_badge(sprite, rng, cx, hh, badge_attribute, person)
    return crop_to_content(sprite.finalize())


def _paint_legs(painter: Painter, cx: float, hh: float, pose: Pose, skirt: bool) -> None:
    hip_y = 3.55 * hh
    legs = ((-1, LEG_LEFT, pose.leg_out[0], pose.knee[0]), (1, LEG_RIGHT, pose.leg_out[1], pose.knee[1]))
    for side, part, out, knee in legs:
        hip = (cx + side * 0.42 * hh, hip_y)
        knee_pt = _towards(hip, 1.95 * hh, out, side)
        foot = _towards(knee_pt, 1.85 * hh, out + knee, side)
        colour = SKIN_SHADE if skirt else PANTS
        painter.limb(hip, knee_pt, 0.62 * hh, part, colour)
        painter.limb(knee_pt, foot, 0.46 * hh, part, colour)
        painter.ellipse((foot[0] + side * 0.12 * hh, foot[1] + 0.05 * hh), (0.34 * hh, 0.15 * hh), part, SHOES)


def _paint_torso(painter: Painter, cx: float, hh: float, skirt: bool) -> None:
    shoulder_y, waist_y, hip_y = 1.3 * hh, 2.9 * hh, 3.65 * hh
    sw = 0.98 * hh
    torso = [(cx - sw, shoulder_y), (cx + sw, shoulder_y), (cx + 0.72 * hh, waist_y), (cx + 0.85 * hh, hip_y),
             (cx - 0.85 * hh, hip_y), (cx - 0.72 * hh, waist_y)]
    painter.polygon(torso, TORSO, SHIRT)
    for side in (-1, 1):
        painter.ellipse((cx + side * (sw - 0.2 * hh), shoulder_y + 0.18 * hh), (0.3 * hh, 0.22 * hh), TORSO, SHIRT)
    if skirt:
        painter.polygon([(cx - 0.75 * hh, waist_y), (cx + 0.75 * hh, waist_y), (cx + 1.25 * hh, 5.1 * hh),
                         (cx - 1.25 * hh, 5.1 * hh)], TORSO, SKIRT)
    else:
        painter.polygon([(cx - 0.85 * hh, hip_y - 0.5 * hh), (cx + 0.85 * hh, hip_y - 0.5 * hh),
                         (cx + 0.9 * hh, hip_y + 0.15 * hh), (cx - 0.9 * hh, hip_y + 0.15 * hh)], TORSO, PANTS)


def _paint_arms(painter: Painter, cx: float, hh: float, pose: Pose, short_sleeves: bool) -> None:
    shoulder_y = 1.42 * hh
    for k, (side, part) in enumerate(((-1, ARM_LEFT), (1, ARM_RIGHT))):
        shoulder = (cx + side * 0.8 * hh, shoulder_y)
        elbow = _towards(shoulder, 1.45 * hh, pose.arm_up[k], side)
        hand = _towards(elbow, 1.3 * hh, pose.arm_up[k] - pose.arm_bend[k], side)
        painter.limb(shoulder, elbow, 0.42 * hh, part, SHIRT)
        painter.limb(elbow, hand, 0.35 * hh, part, FOREARM)
        painter.ellipse(hand, (0.2 * hh, 0.24 * hh), part, SKIN)


def _person_palette(rng: np.random.Generator, style: HeadStyle, short_sleeves: bool) -> np.ndarray:
    palette = np.zeros((9, 3), dtype=np.float32)
    palette[SKIN] = style.skin
    palette[SKIN_SHADE] = style.skin * 0.9
    palette[HAIR] = style.hair
    palette[SHIRT] = random_colour(rng)
    palette[PANTS] = random_colour(rng, saturation=(0.1, 0.6), value=(0.1, 0.6))
    palette[SHOES] = random_colour(rng, saturation=(0.0, 0.4), value=(0.05, 0.35))
    palette[SKIRT] = random_colour(rng)
    palette[FOREARM] = style.skin if short_sleeves else palette[SHIRT]
    return palette


def _shade(painter: Painter, palette: np.ndarray, rng: np.random.Generator, depth: float) -> np.ndarray:
    """Colours with roundness (darker towards part edges), a side light and a cloth-like texture."""
    parts = painter.parts
    edges = np.zeros(parts.shape, dtype=bool)
    edges[:, 1:] |= parts[:, 1:] != parts[:, :-1]
    edges[:, :-1] |= parts[:, 1:] != parts[:, :-1]
    edges[1:, :] |= parts[1:, :] != parts[:-1, :]
    edges[:-1, :] |= parts[1:, :] != parts[:-1, :]
    distance = cv2.distanceTransform((~edges).view(np.uint8), cv2.DIST_L2, 3)
    roundness = 0.72 + 0.28 * np.minimum(1.0, distance / max(depth, 1.0))
    h, w = parts.shape
    light = side_light(h, w, rng.uniform(0.05, 0.2), rng.uniform(0, 2 * np.pi))
    texture = 1.0 + 0.06 * fractal_noise(rng, h, w, octaves=3)
    colour = painter.apply(palette) * (roundness * light * texture)[..., None]
    return np.clip(colour, 0, 255).astype(np.uint8)


def _stripes(rgb: np.ndarray, region: np.ndarray, rng: np.random.Generator) -> None:
    """Horizontal stripes on a shirt (clothing texture that is not skin)."""
    period = max(3, int(rng.uniform(0.03, 0.08) * rgb.shape[0]))
    rows = (np.arange(rgb.shape[0]) // max(1, period // 2)) % 2 == 0
    stripe_colour = random_colour(rng)
    selected = region & rows[:, None]
    rgb[selected] = (0.4 * rgb[selected] + 0.6 * stripe_colour).astype(np.uint8)


def _pin_badge(sprite: Sprite, rng: np.random.Generator, cx: float, hh: float, attribute: str, person: int) -> None:
    """A name badge on the chest; its name is both a private name and part of the person."""
    name = words.full_name(rng)
    size = int(0.2 * hh)
    width = text_extent(name, "bold", size)[0]
    if width > 0.85 * hh:  # shrink to fit the chest; a long name falls back to the surname
        size = int(size * 0.85 * hh / width)
        if size < MIN_LEGIBLE_PX:
            name, size = name.split(" ")[-1], int(0.2 * hh)
    size = max(size, MIN_LEGIBLE_PX)
    text_w, text_h = text_extent(name, "bold", size)
    x0, y0 = cx - 0.1 * hh, 1.75 * hh
    x1, y1 = x0 + text_w + 0.16 * hh, y0 + text_h + 0.32 * hh
    points = np.round(rounded_rect(x0, y0, x1, y1, 0.05 * hh)).astype(np.int32)
    rgb = sprite.rgb
    cv2.fillPoly(rgb, [points], (245, 245, 240), cv2.LINE_AA)
    cv2.rectangle(rgb, (int(x0), int(y0)), (int(x1), int(y0 + 0.1 * hh)), tuple(int(c) for c in random_colour(rng)), -1)
    writer = Writer(rgb)
    line = writer.line(x0 + 0.08 * hh, y0 + 0.17 * hh, [(name, attribute)], "bold", size, (20, 20, 20))
    sprite.rgb = writer.rgb()
    record_line(sprite, line, parent=person)


def face_sprite(rng: np.random.Generator, face_height: int, face_attribute: str) -> Sprite:
    """A head alone (close-up of a face). The head is human for the prior; only the face is labelled."""
    b = face_height / 2.0
    a = b * rng.uniform(0.72, 0.82)
    w, h = int(np.ceil(2.7 * a)) + 2, int(np.ceil(2.75 * b)) + 2
    cx, cy = w / 2.0, 1.2 * b
    style = random_head_style(rng, facing=True)
    painter = Painter(h, w)
    paint_head(painter, cx, cy, a, b, style, neck=rng.random() < 0.7)
    palette = _person_palette(rng, style, short_sleeves=True)
    rgb = _shade(painter, palette, rng, depth=0.35 * a)
    paint_face_details(rgb, cx, cy, a, b, style)
    sprite = Sprite(rgb, (painter.parts > 0).astype(np.float32), shadow=0.15)
    head = sprite.add(painter.parts > 0, solid=True, human=True)
    sprite.add(painter.parts == FACE, attribute=face_attribute, parent=head, solid=True)
    return crop_to_content(sprite.finalize())
