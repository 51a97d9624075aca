"""Drawing helpers shared by the object painters.

Objects are drawn twice with the same primitives: once into a part map (which region a pixel
belongs to, aliased, so masks are exact) and once into a colour-index map; colours, shading and
anti-aliased details are applied afterwards. That keeps the silhouette that the ground truth
describes and the silhouette that the image shows identical.
"""

from __future__ import annotations

import colorsys

import cv2
import numpy as np


class Painter:
    """Draws filled primitives into a part map and a colour-index map at once."""

    def __init__(self, height: int, width: int):
        self.parts = np.zeros((height, width), dtype=np.uint8)
        self.colours = np.zeros((height, width), dtype=np.uint8)

    def ellipse(self, centre, axes, part: int, colour: int, angle: float = 0.0) -> None:
        centre = (int(round(centre[0])), int(round(centre[1])))
        axes = (max(1, int(round(axes[0]))), max(1, int(round(axes[1]))))
        for target, value in ((self.parts, part), (self.colours, colour)):
            cv2.ellipse(target, centre, axes, angle, 0, 360, int(value), -1, cv2.LINE_8)

    def polygon(self, points, part: int, colour: int) -> None:
        pts = np.round(np.asarray(points, dtype=np.float64)).astype(np.int32)
        for target, value in ((self.parts, part), (self.colours, colour)):
            cv2.fillPoly(target, [pts], int(value), cv2.LINE_8)

    def limb(self, start, end, thickness: float, part: int, colour: int) -> None:
        """A thick segment with round ends: arms, legs, necks."""
        a = (int(round(start[0])), int(round(start[1])))
        b = (int(round(end[0])), int(round(end[1])))
        t = max(1, int(round(thickness)))
        for target, value in ((self.parts, part), (self.colours, colour)):
            cv2.line(target, a, b, int(value), t, cv2.LINE_8)
            cv2.circle(target, a, t // 2, int(value), -1, cv2.LINE_8)
            cv2.circle(target, b, t // 2, int(value), -1, cv2.LINE_8)

    def rectangle(self, x0, y0, x1, y1, part: int, colour: int, radius: float = 0.0) -> None:
        self.polygon(rounded_rect(x0, y0, x1, y1, radius), part, colour)

    def apply(self, palette: np.ndarray) -> np.ndarray:
        """Colour image (float32 [h, w, 3]) from the colour-index map and a palette [n, 3]."""
        return palette[self.colours].astype(np.float32)


def rounded_rect(x0: float, y0: float, x1: float, y1: float, radius: float, steps: int = 5) -> np.ndarray:
    """Polygon points of a rectangle with rounded corners (cards, plates, signs)."""
    r = max(0.0, min(radius, (x1 - x0) / 2, (y1 - y0) / 2))
    if r < 1:
        return np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], dtype=np.float64)
    points = []
    corners = ((x1 - r, y0 + r, -90), (x1 - r, y1 - r, 0), (x0 + r, y1 - r, 90), (x0 + r, y0 + r, 180))
    for cx, cy, start in corners:
        for k in range(steps + 1):
            angle = np.deg2rad(start + 90 * k / steps)
            points.append((cx + r * np.cos(angle), cy + r * np.sin(angle)))
    return np.array(points, dtype=np.float64)


def random_colour(rng: np.random.Generator, saturation=(0.2, 0.9), value=(0.2, 0.95)) -> np.ndarray:
    """An RGB colour (float, 0-255) drawn in HSV so saturation and brightness stay controllable."""
    r, g, b = colorsys.hsv_to_rgb(rng.random(), rng.uniform(*saturation), rng.uniform(*value))
    return np.array([r, g, b], dtype=np.float32) * 255.0


def smooth_noise(rng: np.random.Generator, height: int, width: int, cells: int = 6, channels: int = 1) -> np.ndarray:
    """Low-frequency noise in [-1, 1]: a coarse random grid resized up (textures, lighting, stains)."""
    cells_y = max(2, int(cells * height / max(height, width)) + 1)
    cells_x = max(2, int(cells * width / max(height, width)) + 1)
    grid = rng.uniform(-1.0, 1.0, size=(cells_y, cells_x, channels)).astype(np.float32)
    noise = cv2.resize(grid, (width, height), interpolation=cv2.INTER_CUBIC)
    return noise.reshape(height, width, channels) if channels > 1 else noise.reshape(height, width)


def fractal_noise(rng: np.random.Generator, height: int, width: int, octaves: int = 4, channels: int = 1) -> np.ndarray:
    """Sum of smooth noise at doubling frequencies: natural-looking textures (walls, ground, foliage).

    The octaves are summed at a reduced resolution (4 px per cell of the finest octave) and
    resized once: full-resolution resizes per octave dominated the cost of a scene.
    """
    finest = 3 * 2 ** (octaves - 1)
    scale = min(1.0, 4.0 * finest / max(height, width))
    small_h, small_w = max(2, int(round(height * scale))), max(2, int(round(width * scale)))
    total = np.zeros((small_h, small_w, channels) if channels > 1 else (small_h, small_w), dtype=np.float32)
    weight, norm = 1.0, 0.0
    for octave in range(octaves):
        total += weight * smooth_noise(rng, small_h, small_w, cells=3 * 2**octave, channels=channels)
        norm += weight
        weight *= 0.5
    total /= norm
    if (small_h, small_w) != (height, width):
        total = cv2.resize(total, (width, height), interpolation=cv2.INTER_LINEAR)
        total = total.reshape((height, width, channels) if channels > 1 else (height, width))
    return total


def roundness(mask: np.ndarray, depth: float) -> np.ndarray:
    """Shading factor in [0.7, 1] that darkens a silhouette towards its edges (looks three-dimensional)."""
    distance = cv2.distanceTransform(mask.astype(np.uint8), cv2.DIST_L2, 3)
    return 0.7 + 0.3 * np.minimum(1.0, distance / max(depth, 1.0))


def side_light(height: int, width: int, strength: float, direction: float) -> np.ndarray:
    """A linear brightness ramp across the object (a light from one side), factor around 1."""
    xs = np.linspace(-1.0, 1.0, width, dtype=np.float32)[None, :]
    ys = np.linspace(-1.0, 1.0, height, dtype=np.float32)[:, None]
    return 1.0 + strength * (np.cos(direction) * xs + np.sin(direction) * ys)


def finish(colour: np.ndarray) -> np.ndarray:
    return np.clip(colour, 0, 255).astype(np.uint8)
