"""Hiding exactly the regions a user chose, and not one pixel more.

The promise this module keeps, and its tests check, is that every pixel outside the region is a
bit-exact copy of the input: people share the result, and an obfuscator that quietly recompresses,
shifts or tints the rest of their photo would be a surprise. Renderers therefore only *propose*
pixels; `apply_region` copies the proposal into the region and nothing else, whatever a renderer does.

Modes, from strongest to weakest:

* ``solid`` paints one colour. It is the only mode that removes all information, so it is the default
  and the right choice for text (names, addresses, plates, documents).
* ``pixelate`` replaces blocks by their mean colour.
* ``blur`` applies a strong Gaussian blur.

Blur and pixelation look gentler, but they are not secure: small blurred text can be read back by
trying candidate strings through the same blur, and recognition networks identify blurred or pixelated
faces far better than people do. Use them where the aim is "not recognisable at a glance".

Users add modes with `register_mode`; they all live in `OBFUSCATION_MODES`.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from typing import Callable, Iterable, Mapping, Protocol

import numpy as np
from PIL import Image, ImageFilter
from scipy import ndimage

from privobf.report import PrivacyReport

DEFAULT_BLUR_STRENGTH = 0.1  # sigma = 0.1 x bbox diagonal: a face keeps ~2-3 "effective pixels" across
MIN_BLUR_SIGMA = 3.0  # px: below this a small region would look merely soft
DEFAULT_PIXELATE_STRENGTH = 0.2  # block = 1/5 of the bbox's longer side: a face becomes ~5x5 blocks
MIN_BLOCK = 8  # px
# Where masks of different modes overlap, the earlier mode here wins; modes not listed come after, by name.
_PRECEDENCE = ("solid", "pixelate", "blur")


class Renderer(Protocol):
    """Proposes obfuscated pixels for `region`; only the region's pixels of the result are used.

    Receives a read-only uint8 [H, W, 3] image and a bool [H, W] region that is never empty; returns a uint8
    [H, W, 3] array. `strength` is None when the user gave none (use your default).
    """

    def __call__(
        self, pixels: np.ndarray, region: np.ndarray, *, strength: float | None, color: tuple[int, int, int]
    ) -> np.ndarray: ...


OBFUSCATION_MODES: dict[str, Renderer] = {}


def register_mode(name: str, *, replace: bool = False) -> Callable[[Renderer], Renderer]:
    """Decorator adding a renderer to `OBFUSCATION_MODES` under `name`.

    Re-registering a name is refused unless `replace=True`, so a plugin cannot silently swap "solid" for
    something weaker.
    """
    if not isinstance(name, str) or not name:
        raise ValueError(f"mode name must be a non-empty string, got {name!r}")

    def decorator(renderer: Renderer) -> Renderer:
        if name in OBFUSCATION_MODES and not replace:
            raise ValueError(f"obfuscation mode {name!r} is already registered; pass replace=True to replace it")
        OBFUSCATION_MODES[name] = renderer
        return renderer

    return decorator


# ----------------------------------------------------------------------------------------------- applying one region


def apply_region(
    pixels: np.ndarray,
    region: np.ndarray,
    mode: str = "solid",
    *,
    strength: float | None = None,
    color: tuple[int, int, int] = (0, 0, 0),
    feather: int = 0,
) -> np.ndarray:
    """Return a new image in which `region` (bool [H, W]) is obfuscated with `mode`.

    Pixels outside the region, after growing it by `feather` pixels, are bit-exact copies of `pixels`;
    `pixels` itself is never modified. `strength` is mode-specific (see the renderers); `color` is used by
    "solid".
    """
    _check_pixels(pixels)
    _check_region(region, pixels.shape[:2])
    renderer = _renderer(mode)
    _check_strength(strength)
    color = _checked_color(color)
    region = grow_region(region, feather)
    result = pixels.copy()
    if not region.any():
        return result
    proposal = renderer(_read_only(pixels), region, strength=strength, color=color)
    _check_proposal(proposal, pixels.shape, mode)
    result[region] = proposal[region]
    return result


def grow_region(region: np.ndarray, pixels: int) -> np.ndarray:
    """Grow a mask by a disc of radius `pixels`; never shrinks it. Attention masks hug the object's core,
    and a margin hides the edges (hair, the rim of a card) that the map tends to miss."""
    if not isinstance(pixels, (int, np.integer)) or pixels < 0:
        raise ValueError(f"dilation must be a non-negative integer number of pixels, got {pixels!r}")
    _check_region(region, region.shape)
    if pixels == 0 or not region.any():
        return region
    box = _BoundingBox.of(region).grown(pixels, region.shape)
    distance = ndimage.distance_transform_edt(~region[box.slices])
    grown = np.zeros_like(region)
    grown[box.slices] = distance <= pixels
    return grown


def _check_pixels(pixels: np.ndarray) -> None:
    if not isinstance(pixels, np.ndarray) or pixels.dtype != np.uint8 or pixels.ndim != 3 or pixels.shape[2] != 3:
        described = f"{pixels.dtype} {pixels.shape}" if isinstance(pixels, np.ndarray) else type(pixels).__name__
        raise ValueError(f"image must be a uint8 array of shape H×W×3 (RGB), got {described}")


def _check_region(region: np.ndarray, size: tuple[int, int]) -> None:
    """A bool mask of the image's size. Other dtypes are refused: a soft mask cast to bool would hide
    every pixel with any attention at all."""
    if not isinstance(region, np.ndarray) or region.dtype != bool:
        raise ValueError(f"region must be a bool array, got {getattr(region, 'dtype', type(region).__name__)}")
    if region.shape != tuple(size):
        raise ValueError(f"region has shape {region.shape} but the image is {size[0]}×{size[1]}")


def _renderer(mode: str) -> Renderer:
    try:
        return OBFUSCATION_MODES[mode]
    except (KeyError, TypeError):
        known = ", ".join(sorted(OBFUSCATION_MODES))
        raise ValueError(f"unknown obfuscation mode {mode!r}; known modes: {known}") from None


def _check_strength(strength: float | None) -> None:
    valid = isinstance(strength, numbers.Real) and not isinstance(strength, bool) and math.isfinite(strength) and strength > 0
    if strength is not None and not valid:
        raise ValueError(f"strength must be a positive number, got {strength!r}")


def _checked_color(color: tuple[int, int, int]) -> tuple[int, int, int]:
    values = tuple(color)
    if len(values) != 3 or not all(isinstance(v, (int, np.integer)) and 0 <= v <= 255 for v in values):
        raise ValueError(f"color must be three integers from 0 to 255, got {color!r}")
    return (int(values[0]), int(values[1]), int(values[2]))


def _read_only(pixels: np.ndarray) -> np.ndarray:
    """A view a renderer cannot write through: the caller's image must survive a buggy plugin."""
    view = pixels.view()
    view.flags.writeable = False
    return view


def _check_proposal(proposal: np.ndarray, shape: tuple[int, ...], mode: str) -> None:
    if not isinstance(proposal, np.ndarray) or proposal.shape != shape or proposal.dtype != np.uint8:
        got = f"{proposal.dtype} {proposal.shape}" if isinstance(proposal, np.ndarray) else type(proposal).__name__
        raise ValueError(f"renderer for mode {mode!r} returned {got}; expected uint8 {shape}")


@dataclass(frozen=True)
class _BoundingBox:
    """Half-open pixel box [top, bottom) x [left, right)."""

    top: int
    left: int
    bottom: int
    right: int

    @classmethod
    def of(cls, region: np.ndarray) -> _BoundingBox:
        rows = np.flatnonzero(region.any(axis=1))
        cols = np.flatnonzero(region.any(axis=0))
        return cls(int(rows[0]), int(cols[0]), int(rows[-1]) + 1, int(cols[-1]) + 1)

    @property
    def height(self) -> int:
        return self.bottom - self.top

    @property
    def width(self) -> int:
        return self.right - self.left

    @property
    def diagonal(self) -> float:
        return math.hypot(self.height, self.width)

    @property
    def slices(self) -> tuple[slice, slice]:
        return slice(self.top, self.bottom), slice(self.left, self.right)

    def grown(self, margin: int, size: tuple[int, int]) -> _BoundingBox:
        """The box widened by `margin` on every side, clipped to an image of `size` (H, W)."""
        return _BoundingBox(
            max(0, self.top - margin),
            max(0, self.left - margin),
            min(size[0], self.bottom + margin),
            min(size[1], self.right + margin),
        )


# ----------------------------------------------------------------------------------------------- built-in modes


@register_mode("solid")
def render_solid(
    pixels: np.ndarray, region: np.ndarray, *, strength: float | None, color: tuple[int, int, int]
) -> np.ndarray:
    """One flat colour: nothing of the original survives, which is why text and documents should use it."""
    return np.broadcast_to(np.asarray(color, dtype=np.uint8), pixels.shape)


@register_mode("blur")
def render_blur(
    pixels: np.ndarray, region: np.ndarray, *, strength: float | None, color: tuple[int, int, int]
) -> np.ndarray:
    """Gaussian blur with sigma = `strength` x the region's bounding-box diagonal (default 0.1, at least 3 px).

    Scaling with the region makes a face equally unrecognisable whether it fills the photo or is a speck
    in a crowd: at 0.1 a face keeps only two or three "effective pixels" across. The blur is computed on
    the image around the region (pixels up to 3 sigma outside take part, as in a whole-image blur) and only
    the region's pixels are used. Do not use it for text: small blurred text can be recovered.
    """
    box = _BoundingBox.of(region)
    sigma = float(max(MIN_BLUR_SIGMA, (strength or DEFAULT_BLUR_STRENGTH) * box.diagonal))  # Pillow wants a Python float
    # Pillow's Gaussian is three box passes whose reach is about 3 sigma: with this margin, blurring the
    # crop gives exactly the values a blur of the whole image would, at a fraction of the cost.
    area = box.grown(math.ceil(3 * sigma) + 2, region.shape)
    blurred = Image.fromarray(np.ascontiguousarray(pixels[area.slices])).filter(ImageFilter.GaussianBlur(sigma))
    proposal = pixels.copy()
    proposal[area.slices] = np.asarray(blurred)
    return proposal


@register_mode("pixelate")
def render_pixelate(
    pixels: np.ndarray, region: np.ndarray, *, strength: float | None, color: tuple[int, int, int]
) -> np.ndarray:
    """Mean colour per square block; block side = `strength` x the bbox's longer side (default 0.2, >= 8 px).

    Blocks start at the region's bounding box, so the grid follows the object rather than the image
    corner; blocks at the bottom and right edges of the box may be smaller. Each block's colour is the mean
    of all its pixels inside the box, whether or not they are in the region.
    """
    box = _BoundingBox.of(region)
    block = int(max(MIN_BLOCK, round((strength or DEFAULT_PIXELATE_STRENGTH) * max(box.height, box.width))))
    proposal = pixels.copy()
    proposal[box.slices] = _block_means(pixels[box.slices], block)
    return proposal


def _block_means(crop: np.ndarray, block: int) -> np.ndarray:
    """Replace every block x block tile of `crop` (anchored at its top-left) by its rounded mean colour."""
    height, width = crop.shape[:2]
    row_starts, col_starts = np.arange(0, height, block), np.arange(0, width, block)
    row_sizes, col_sizes = np.diff(np.append(row_starts, height)), np.diff(np.append(col_starts, width))
    sums = np.add.reduceat(np.add.reduceat(crop, row_starts, axis=0, dtype=np.int64), col_starts, axis=1)
    means = np.rint(sums / np.outer(row_sizes, col_sizes)[..., None]).astype(np.uint8)
    return np.repeat(np.repeat(means, row_sizes, axis=0), col_sizes, axis=1)


# ----------------------------------------------------------------------------------------------- from a report


def obfuscate(
    image: np.ndarray,
    report: PrivacyReport,
    hide: Iterable[str] | None = None,
    mode: str | Mapping[str, str] = "solid",
    *,
    threshold: float | None = None,
    dilate: int = 0,
    strength: float | None = None,
) -> np.ndarray:
    """Hide the chosen attributes of `report` in `image` and return a new image.

    `hide=None` hides every attribute `report.present()` says is shown; otherwise the given ids (a single
    string counts as one id). `mode` is one mode for all, or ``{attribute_id: mode}`` with "solid" for
    attributes not in it. Each attribute's mask is ``report.mask(id, threshold)`` grown by `dilate` pixels.

    Modes are applied one at a time on the union of their attributes' masks, strongest first
    (solid, pixelate, blur, then other modes by name). Where masks overlap the stronger mode wins, and each
    mode works on the image with the stronger modes' regions already hidden, so a blur next to a solid box
    never smears the box's original content into its surroundings.
    """
    _check_pixels(image)
    _check_matches_report(image, report)
    groups = _group_by_mode(_ids_to_hide(report, hide), mode, report)
    result = image.copy()
    hidden = np.zeros(report.image_size, dtype=bool)
    for mode_name in _application_order(groups):
        region = grow_region(report.union_mask(groups[mode_name], threshold), dilate) & ~hidden
        result = apply_region(result, region, mode_name, strength=strength)
        hidden |= region
    return result


def _check_matches_report(image: np.ndarray, report: PrivacyReport) -> None:
    height, width = image.shape[:2]
    expected_height, expected_width = report.image_size
    if (height, width) != (expected_height, expected_width):
        raise ValueError(
            f"image is {height}×{width} (H×W) but the report was made for a {expected_height}×{expected_width} "
            "image; obfuscate the image that was scanned"
        )


def _ids_to_hide(report: PrivacyReport, hide: Iterable[str] | None) -> list[str]:
    """The attribute ids to hide, checked against the report before any pixel is touched."""
    if hide is None:
        return report.present()
    ids = [hide] if isinstance(hide, str) else list(hide)
    _check_known(ids, report)
    return list(dict.fromkeys(ids))


def _check_known(ids: Iterable[str], report: PrivacyReport) -> None:
    for attribute_id in ids:
        if attribute_id not in report.attribute_ids:
            raise KeyError(f"attribute {attribute_id!r} is not in this report's vocabulary")


def _group_by_mode(ids: list[str], mode: str | Mapping[str, str], report: PrivacyReport) -> dict[str, list[str]]:
    """{mode: [attribute ids]}, every mode checked to exist. Mapping keys must be report ids: a misspelt key
    would otherwise pass silently."""
    if isinstance(mode, str):
        chosen = {attribute_id: mode for attribute_id in ids}
    else:
        _check_known(mode, report)
        chosen = {attribute_id: mode.get(attribute_id, "solid") for attribute_id in ids}
    groups: dict[str, list[str]] = {}
    for attribute_id, mode_name in chosen.items():
        _renderer(mode_name)
        groups.setdefault(mode_name, []).append(attribute_id)
    return groups


def _application_order(groups: Mapping[str, list[str]]) -> list[str]:
    def rank(mode_name: str) -> tuple[int, str]:
        return (_PRECEDENCE.index(mode_name) if mode_name in _PRECEDENCE else len(_PRECEDENCE), mode_name)

    return sorted(groups, key=rank)
