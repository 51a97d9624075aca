"""Plates from text lines: a text detector's line with a plate's proportions is plate evidence of its own.

A Haar cascade trained on one country's plates finds others' poorly and draws loose boxes (on the
OpenALPR calibration photos its boxes are about twice the plate's area). A text detector finds the
characters of any plate. A text line shaped like a plate (wider than high by 1.5 to 7 times, at least
6 pixels high, under 5 % of the photo) becomes a plate region (`<text provider>@plate-shaped`), drawn as
its box grown by the fusion's `plate_text_grow`; a cascade box with such a line inside is drawn as that
line instead, since the line is where the plate's characters are. Alone, such a line is weak evidence (its
precision is calibrated on photos of every kind: most plate-shaped lines are signs, labels and headings);
inside a cascade box, the two detectors agree (`fusion.region_precisions`).

The other way round, where a text detector looked at the photo and found no line in a cascade box, the box
has no characters: it is a grille, a roof edge or a fence (on the OpenALPR calibration photos 1 of 12 such
boxes was a plate, against 72 of 90 boxes with a line inside). Such a box is renamed
`<cascade>@no-text` (`without_text`), and its precision is calibrated apart.
"""

from __future__ import annotations

import dataclasses
from typing import Sequence

from .regions import Region

SUFFIX = "@plate-shaped"
NO_TEXT_SUFFIX = "@no-text"
ASPECT = (1.5, 7.0)
MIN_HEIGHT = 6.0
MAX_AREA = 0.05  # of the photo: a sign or a headline, not a plate


def plate_shaped(region: Region, size: tuple[int, int]) -> bool:
    width, height = region.box[2] - region.box[0], region.box[3] - region.box[1]
    if height < MIN_HEIGHT:
        return False
    return ASPECT[0] <= width / height <= ASPECT[1] and width * height <= MAX_AREA * size[0] * size[1]


def plates_from_text(regions: Sequence[Region], size: tuple[int, int]) -> list[Region]:
    """A plate region for every plate-shaped text line."""
    return [Region("plate", region.provider + SUFFIX, region.box, region.confidence, "box")
            for region in regions if region.kind == "text" and plate_shaped(region, size)]


def is_plate_line(region: Region) -> bool:
    return region.kind == "plate" and region.provider.endswith(SUFFIX)


def inside_a_box(region: Region, box_region: Region) -> bool:
    """Whether `region`'s centre lies in `box_region`'s box."""
    cx, cy = (region.box[0] + region.box[2]) / 2, (region.box[1] + region.box[3]) / 2
    x0, y0, x1, y1 = box_region.box
    return x0 <= cx <= x1 and y0 <= cy <= y1


def superseded(box_region: Region, regions: Sequence[Region], drawable: Sequence[Region] | None = None) -> bool:
    """Whether a plate box has a plate-shaped text line inside it whose tighter box is drawn instead (among
    `drawable`, when given: a line below the drawing floor replaces nothing)."""
    candidates = regions if drawable is None else drawable
    return any(is_plate_line(region) and region is not box_region and inside_a_box(region, box_region)
               for region in candidates)


def without_text(regions: Sequence[Region]) -> list[Region]:
    """`regions` with every cascade plate box that holds no text line's centre renamed `<provider>@no-text`.
    Call it only where a text detector ran on the photo (no line found then means no characters there)."""
    lines = [region for region in regions if region.kind == "text"]
    return [dataclasses.replace(region, provider=region.provider + NO_TEXT_SUFFIX)
            if region.kind == "plate" and not is_plate_line(region) and not region.provider.endswith(NO_TEXT_SUFFIX)
            and not any(inside_a_box(line, region) for line in lines) else region
            for region in regions]
