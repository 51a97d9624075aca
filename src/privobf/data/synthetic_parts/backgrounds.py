"""What lies behind the objects: procedural rooms, streets and textures, or crops of real photos.

Procedural backgrounds cost nothing and contain nothing private, which makes them the choice for
fast tests; real photos (COCO128) make the scene statistics and textures realistic.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from .paint import fractal_noise, random_colour


def procedural_background(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """A uint8 [H, W, 3] background: a gradient, a textured surface, a room or a street."""
    kind = int(rng.integers(4))
    painters = (_gradient_background, _texture_background, _room_background, _street_background)
    image = painters[kind](rng, height, width)
    return np.clip(image, 0, 255).astype(np.uint8)


def _gradient_background(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    top, bottom = random_colour(rng), random_colour(rng)
    ramp = np.linspace(0.0, 1.0, h, dtype=np.float32)[:, None, None]
    image = top * (1 - ramp) + bottom * ramp + 25 * fractal_noise(rng, h, w, octaves=3, channels=3)
    return np.broadcast_to(image, (h, w, 3)).copy()


def _texture_background(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """Fabric, wood or stone: fractal noise around a base colour, sometimes with stripes (wood grain)."""
    base = random_colour(rng, saturation=(0.05, 0.6), value=(0.25, 0.85))
    noise = fractal_noise(rng, h, w, octaves=5)
    if rng.random() < 0.4:
        ys = np.arange(h, dtype=np.float32)[:, None]
        noise = noise + 0.5 * np.sin(ys / rng.uniform(3, 12) + 4 * noise)
    return base * (1.0 + 0.25 * noise)[..., None]


def _room_background(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """A wall with a window or a picture, a floor with planks, a piece of furniture."""
    wall = random_colour(rng, saturation=(0.0, 0.35), value=(0.5, 0.95))
    floor = random_colour(rng, saturation=(0.1, 0.6), value=(0.2, 0.6))
    horizon = int(h * rng.uniform(0.5, 0.8))
    image = np.empty((h, w, 3), np.float32)
    image[:horizon] = wall
    image[horizon:] = floor
    image *= (1.0 + 0.08 * fractal_noise(rng, h, w, octaves=4))[..., None]
    vanish_x = w * rng.uniform(0.2, 0.8)
    for k in range(-6, 14):
        cv2.line(image, (int(vanish_x + k * w / 8 * 4), h), (int(vanish_x + k * w / 8 * 0.5), horizon),
                 tuple(float(c) * 0.8 for c in floor), 1, cv2.LINE_AA)
    cv2.line(image, (0, horizon), (w, horizon), tuple(float(c) * 0.6 for c in wall), max(1, h // 80))
    x0, y0 = int(w * rng.uniform(0.05, 0.6)), int(horizon * rng.uniform(0.1, 0.3))
    x1, y1 = x0 + int(w * rng.uniform(0.15, 0.35)), y0 + int(horizon * rng.uniform(0.3, 0.55))
    inner = random_colour(rng, saturation=(0.2, 0.6), value=(0.7, 1.0)) if rng.random() < 0.5 else (170, 200, 235)
    cv2.rectangle(image, (x0, y0), (x1, y1), tuple(float(c) for c in inner), -1)
    cv2.rectangle(image, (x0, y0), (x1, y1), (70, 60, 50), max(2, w // 100))
    if rng.random() < 0.6:
        tx0, ty = int(w * rng.uniform(0.0, 0.6)), int(horizon + (h - horizon) * rng.uniform(0.0, 0.4))
        cv2.rectangle(image, (tx0, ty), (tx0 + int(w * rng.uniform(0.2, 0.5)), h), tuple(float(c) for c in
                      random_colour(rng, value=(0.2, 0.6))), -1)
    return image


def _street_background(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """Sky, a row of buildings with windows, a road with lane markings."""
    horizon = int(h * rng.uniform(0.45, 0.7))
    sky = np.linspace(0, 1, horizon, dtype=np.float32)[:, None, None]
    image = np.empty((h, w, 3), np.float32)
    image[:horizon] = np.array((90, 140, 215), np.float32) * (1 - sky) + np.array((200, 220, 240), np.float32) * sky
    image[horizon:] = np.array((95, 95, 100), np.float32) * rng.uniform(0.7, 1.2)
    x = 0
    while x < w:
        bw = int(w * rng.uniform(0.12, 0.3))
        top = int(horizon * rng.uniform(0.05, 0.6))
        colour = random_colour(rng, saturation=(0.05, 0.4), value=(0.35, 0.85))
        cv2.rectangle(image, (x, top), (x + bw, horizon), tuple(float(c) for c in colour), -1)
        step = max(6, bw // 5)
        for wy in range(top + step // 2, horizon - step, step):
            for wx in range(x + step // 3, x + bw - step // 2, step):
                cv2.rectangle(image, (wx, wy), (wx + step // 2, wy + step // 2), (60, 70, 90), -1)
        x += bw
    for k in range(6):
        y = horizon + (h - horizon) // 2
        cv2.line(image, (int(k * w / 5), y), (int(k * w / 5 + w / 12), y), (230, 230, 210), max(1, h // 120))
    return image * (1.0 + 0.06 * fractal_noise(rng, h, w, octaves=4))[..., None]


def load_photo_crop(path: Path, rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """A random crop of a photo with the target aspect ratio, resized to (height, width), maybe mirrored."""
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise OSError(f"cannot read background image {path}")
    image = image[..., ::-1]
    src_h, src_w = image.shape[:2]
    aspect = width / height
    scale = rng.uniform(0.6, 1.0)
    crop_h = int(min(src_h, src_w / aspect) * scale)
    crop_w = int(crop_h * aspect)
    top = int(rng.integers(0, src_h - crop_h + 1))
    left = int(rng.integers(0, src_w - crop_w + 1))
    crop = image[top : top + crop_h, left : left + crop_w]
    interpolation = cv2.INTER_AREA if crop_h > height else cv2.INTER_LINEAR
    crop = cv2.resize(np.ascontiguousarray(crop), (width, height), interpolation=interpolation)
    return crop[:, ::-1].copy() if rng.random() < 0.5 else crop
