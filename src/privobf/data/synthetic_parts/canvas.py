"""Sprites (an object's pixels plus its regions of interest) and the compositor that stacks them.

Ground truth has to be the *visible* pixels of each attribute. Instead of tracking masks through
every paint operation, each sprite keeps its regions in its own coordinates and the compositor
keeps an owner map: the index of the top-most sprite at each pixel. A region of sprite i is visible
where it is not covered by a sprite pasted after i. This handles opaque objects (a card) and
transparent ones (a date stamp whose box includes the photo between the glyphs) with one rule.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

OWNED = 0.5  # alpha at or above which a pixel belongs to a sprite (covers what is below)


@dataclass
class Layer:
    """A region of a sprite that ground truth or a prior is measured on."""

    mask: np.ndarray  # bool [h, w], sprite coordinates
    attribute: str | None = None  # the private attribute the region shows; None if harmless
    parent: int | None = None  # index of the layer it lies inside: kept child => kept parent, mask ⊂ parent
    solid: bool = False  # the region is the sprite's own surface: trimmed to where the sprite is opaque
    text: bool = False  # a line of text an OCR detector could find
    human: bool = False  # person pixels a person segmenter could find
    limb: bool = False  # a limb (the human prior may miss one)
    detect: float = 1.0  # how easy it is for an off-the-shelf detector to find (0..1)


@dataclass
class Sprite:
    rgb: np.ndarray  # uint8 [h, w, 3]
    alpha: np.ndarray  # float32 [h, w] in [0, 1]
    layers: list[Layer] = field(default_factory=list)
    shadow: float = 0.0  # strength of the drop shadow it casts on what lies below

    @property
    def shape(self) -> tuple[int, int]:
        return self.alpha.shape[0], self.alpha.shape[1]

    def add(self, mask: np.ndarray, **kwargs) -> int:
        """Add a layer and return its index (what children pass as `parent`)."""
        self.layers.append(Layer(np.asarray(mask, dtype=bool), **kwargs))
        return len(self.layers) - 1

    def finalize(self) -> "Sprite":
        """Enforce the layer invariants: solid layers lie on opaque pixels, children inside parents."""
        owned = self.alpha >= OWNED
        for layer in self.layers:
            if layer.solid:
                layer.mask = layer.mask & owned
            if layer.parent is not None:
                layer.mask = layer.mask & self.layers[layer.parent].mask
        return self


def box_mask(shape: tuple[int, int], box: tuple[float, float, float, float]) -> np.ndarray:
    """A bool mask of the axis-aligned box (x0, y0, x1, y1), clipped to `shape`."""
    mask = np.zeros(shape, dtype=bool)
    x0, y0, x1, y1 = (int(round(v)) for v in box)
    mask[max(y0, 0) : max(min(y1, shape[0]), 0), max(x0, 0) : max(min(x1, shape[1]), 0)] = True
    return mask


def rotate_sprite(sprite: Sprite, degrees: float) -> Sprite:
    """Rotate a sprite about its centre, growing the canvas so nothing is cut.

    Colour is warped premultiplied by alpha (no dark fringe at the edges), layers with nearest
    neighbour (so a child still lies inside its parent), then the invariants are re-applied.
    """
    if abs(degrees) < 0.5:
        return sprite
    h, w = sprite.shape
    matrix = cv2.getRotationMatrix2D((w / 2.0, h / 2.0), degrees, 1.0)
    cos, sin = abs(matrix[0, 0]), abs(matrix[0, 1])
    new_w, new_h = int(np.ceil(h * sin + w * cos)) + 2, int(np.ceil(h * cos + w * sin)) + 2
    matrix[0, 2] += new_w / 2.0 - w / 2.0
    matrix[1, 2] += new_h / 2.0 - h / 2.0
    size = (new_w, new_h)
    premultiplied = sprite.rgb.astype(np.float32) * sprite.alpha[..., None]
    warped = cv2.warpAffine(np.dstack([premultiplied, sprite.alpha]), matrix, size, flags=cv2.INTER_LINEAR)
    alpha = np.clip(warped[..., 3], 0.0, 1.0)
    rgb = warped[..., :3] / np.maximum(alpha, 1e-3)[..., None]
    masks = _warp_masks([layer.mask for layer in sprite.layers], matrix, size)
    layers = [Layer(mask, layer.attribute, layer.parent, layer.solid, layer.text, layer.human, layer.limb, layer.detect)
              for layer, mask in zip(sprite.layers, masks)]
    rotated = Sprite(np.clip(rgb, 0, 255).astype(np.uint8), alpha, layers, sprite.shadow)
    return rotated.finalize()


def tilt_sprite(sprite: Sprite, rng: np.random.Generator, strength: float) -> Sprite:
    """The sprite seen at an angle: each corner moved inwards by up to `strength` of the side (a camera not
    square to a page on a table). Warped like `rotate_sprite`: colour premultiplied, layers nearest."""
    h, w = sprite.shape
    corners = np.float32([[0, 0], [w, 0], [w, h], [0, h]])
    moved = corners + np.float32(rng.uniform(0, strength, size=(4, 2))) * np.float32([[w, h]]) * np.float32(
        [[1, 1], [-1, 1], [-1, -1], [1, -1]])
    matrix = cv2.getPerspectiveTransform(corners, moved)
    size = (w, h)
    premultiplied = sprite.rgb.astype(np.float32) * sprite.alpha[..., None]
    warped = cv2.warpPerspective(np.dstack([premultiplied, sprite.alpha]), matrix, size, flags=cv2.INTER_LINEAR)
    alpha = np.clip(warped[..., 3], 0.0, 1.0)
    rgb = warped[..., :3] / np.maximum(alpha, 1e-3)[..., None]
    masks = [cv2.warpPerspective(layer.mask.view(np.uint8), matrix, size, flags=cv2.INTER_NEAREST) > 0 for layer in sprite.layers]
    layers = [Layer(mask, layer.attribute, layer.parent, layer.solid, layer.text, layer.human, layer.limb, layer.detect)
              for layer, mask in zip(sprite.layers, masks)]
    return Sprite(np.clip(rgb, 0, 255).astype(np.uint8), alpha, layers, sprite.shadow).finalize()


def _warp_masks(masks: list[np.ndarray], matrix: np.ndarray, size: tuple[int, int]) -> list[np.ndarray]:
    """Warp bool masks with nearest neighbour, eight at a time packed as the bits of one uint8 image."""
    warped: list[np.ndarray] = []
    for start in range(0, len(masks), 8):
        packed = np.zeros(masks[start].shape, dtype=np.uint8)
        chunk = masks[start : start + 8]
        for bit, mask in enumerate(chunk):
            packed |= mask.view(np.uint8) << bit
        moved = cv2.warpAffine(packed, matrix, size, flags=cv2.INTER_NEAREST)
        warped.extend((moved & (1 << bit)) > 0 for bit in range(len(chunk)))
    return warped


@dataclass
class Placed:
    """A sprite pasted on the canvas: its z-index and the window it covers (canvas and sprite slices)."""

    index: int
    sprite: Sprite
    canvas_window: tuple[slice, slice]
    sprite_window: tuple[slice, slice]


class Compositor:
    """Pastes sprites in order onto a background and remembers who owns every pixel."""

    def __init__(self, background: np.ndarray):
        self.image = background.astype(np.float32)
        self.owner = np.full(background.shape[:2], -1, dtype=np.int16)
        self.placed: list[Placed] = []

    @property
    def shape(self) -> tuple[int, int]:
        return self.owner.shape[0], self.owner.shape[1]

    def paste(self, sprite: Sprite, top: int, left: int) -> Placed | None:
        """Alpha-blend `sprite` with its top-left corner at (top, left); None if it falls outside."""
        windows = _windows(self.shape, sprite.shape, top, left)
        if windows is None:
            return None
        canvas_window, sprite_window = windows
        if sprite.shadow > 0:
            self._cast_shadow(sprite, top, left)
        alpha = sprite.alpha[sprite_window][..., None]
        region = self.image[canvas_window]
        region += (sprite.rgb[sprite_window].astype(np.float32) - region) * alpha
        placed = Placed(len(self.placed), sprite, canvas_window, sprite_window)
        self.owner[canvas_window][sprite.alpha[sprite_window] >= OWNED] = placed.index
        self.placed.append(placed)
        return placed

    def _cast_shadow(self, sprite: Sprite, top: int, left: int) -> None:
        """Darken the canvas under a blurred, offset copy of the sprite's silhouette."""
        h, w = sprite.shape
        offset = max(2, int(0.03 * max(h, w)))
        radius = max(1, int(0.05 * max(h, w)))
        pad = radius + 1
        silhouette = cv2.copyMakeBorder(sprite.alpha, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=0.0)
        silhouette = cv2.blur(silhouette, (2 * radius + 1, 2 * radius + 1)) * sprite.shadow  # box blur: O(1) per pixel
        windows = _windows(self.shape, silhouette.shape, top - pad + offset, left - pad + offset)
        if windows is not None:
            canvas_window, shadow_window = windows
            self.image[canvas_window] *= (1.0 - silhouette[shadow_window])[..., None]

    def visible(self, placed: Placed, layer: Layer) -> np.ndarray:
        """The layer's pixels inside the canvas that no later sprite covers (window coordinates)."""
        return layer.mask[placed.sprite_window] & (self.owner[placed.canvas_window] <= placed.index)

    def full_mask(self, placed: Placed, window_mask: np.ndarray) -> np.ndarray:
        """A window-sized mask placed in a canvas-sized bool array."""
        mask = np.zeros(self.shape, dtype=bool)
        mask[placed.canvas_window] = window_mask
        return mask

    def result(self) -> np.ndarray:
        return np.clip(self.image, 0, 255).astype(np.uint8)


def _windows(
    canvas_shape: tuple[int, int], sprite_shape: tuple[int, int], top: int, left: int
) -> tuple[tuple[slice, slice], tuple[slice, slice]] | None:
    """The overlapping parts of a canvas and a sprite placed at (top, left), or None."""
    h, w = sprite_shape
    y0, x0 = max(top, 0), max(left, 0)
    y1, x1 = min(top + h, canvas_shape[0]), min(left + w, canvas_shape[1])
    if y1 <= y0 or x1 <= x0:
        return None
    canvas_window = (slice(y0, y1), slice(x0, x1))
    sprite_window = (slice(y0 - top, y1 - top), slice(x0 - left, x1 - left))
    return canvas_window, sprite_window


def crop_to_content(sprite: Sprite, margin: int = 1) -> Sprite:
    """The sprite cut to the bounding box of its visible pixels and layers (smaller windows, faster pastes)."""
    occupied = sprite.alpha > 0
    for layer in sprite.layers:
        occupied = occupied | layer.mask
    rows, cols = np.flatnonzero(occupied.any(axis=1)), np.flatnonzero(occupied.any(axis=0))
    if rows.size == 0:
        return sprite
    h, w = sprite.shape
    y0, y1 = max(rows[0] - margin, 0), min(rows[-1] + 1 + margin, h)
    x0, x1 = max(cols[0] - margin, 0), min(cols[-1] + 1 + margin, w)
    window = (slice(y0, y1), slice(x0, x1))
    layers = [Layer(layer.mask[window], layer.attribute, layer.parent, layer.solid, layer.text, layer.human,
                    layer.limb, layer.detect) for layer in sprite.layers]
    return Sprite(sprite.rgb[window].copy(), sprite.alpha[window].copy(), layers, sprite.shadow)
