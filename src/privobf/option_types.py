"""Checked types for command-line options: a bad value is a usage error naming the option, never a traceback.

`argparse` turns the `ArgumentTypeError` these raise into `privobf <command>: error: argument --strength:
expected a finite number above 0, got 'nan'` and exit status 2. `float("nan")` and `float("inf")` parse
as numbers, so every float option here also says whether it must be finite; bounds say why they exist
where that is not obvious (a scale of 50 asks for a 16,000-pixel input and ends with the kernel killing
the process).
"""

from __future__ import annotations

import argparse
import math
from typing import Callable

MAX_SCALE = 4.0  # the largest inference scale: 4 x the model's input side (peak memory: docs/reliability.md)
MIN_SCALE = 0.1
MAX_SCALES = 8  # more passes add time without changing what is found


def bounded_float(
    low: float | None = None,
    high: float | None = None,
    *,
    low_open: bool = False,
    what: str = "a number",
) -> Callable[[str], float]:
    """An argparse `type` accepting finite floats within [low, high] (or (low, high] with `low_open`)."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
        too_low = low is not None and (value <= low if low_open else value < low)
        too_high = high is not None and value > high
        if not math.isfinite(value) or too_low or too_high:
            raise argparse.ArgumentTypeError(f"expected {_describe(what, low, high, low_open)}, got {text!r}")
        return value

    return parse


def bounded_int(low: int | None = None, high: int | None = None, *, what: str = "a whole number") -> Callable[[str], int]:
    """An argparse `type` accepting whole numbers within [low, high]."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
        if (low is not None and value < low) or (high is not None and value > high):
            raise argparse.ArgumentTypeError(f"expected {_describe(what, low, high, False)}, got {text!r}")
        return value

    return parse


def _describe(what: str, low: float | None, high: float | None, low_open: bool) -> str:
    finite = what if what.startswith("a finite") else what.replace("a number", "a finite number", 1)
    if low is not None and high is not None:
        return f"{finite} from {low:g} to {high:g}" if not low_open else f"{finite} above {low:g} and at most {high:g}"
    if low is not None:
        return f"{finite} above {low:g}" if low_open else f"{finite} of at least {low:g}"
    if high is not None:
        return f"{finite} of at most {high:g}"
    return finite


MIN_MEGAPIXELS = 16 * 16 / 1e6  # the smallest image privobf reads (imageio.MIN_SIDE squared)
MAX_MEGAPIXELS = 1000.0  # a 1-gigapixel photo needs tens of GB to scan; above that a limit is a typo

port_number = bounded_int(0, 65535, what="a port number")
probability = bounded_float(0.0, 1.0)
megapixel_limit = bounded_float(MIN_MEGAPIXELS, MAX_MEGAPIXELS, what="a number of megapixels")


def scale_list(text: str) -> tuple[float, ...]:
    """`--scales 1.0,0.5,1.5`: at most MAX_SCALES finite scales within [MIN_SCALE, MAX_SCALE]."""
    parts = [part.strip() for part in text.split(",")]
    try:
        scales = tuple(float(part) for part in parts)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers such as 1.0,0.5,1.5, got {text!r}") from None
    if not scales or len(scales) > MAX_SCALES:
        raise argparse.ArgumentTypeError(f"expected 1 to {MAX_SCALES} scales, got {len(scales)} in {text!r}")
    for scale in scales:
        if not math.isfinite(scale) or not MIN_SCALE <= scale <= MAX_SCALE:
            raise argparse.ArgumentTypeError(
                f"each scale must be a finite number from {MIN_SCALE:g} to {MAX_SCALE:g} (a scale multiplies the "
                f"model's input side, and memory grows with its square), got {scale:g} in {text!r}")
    return scales
