"""Real photos for backgrounds and real people to paste, from a COCO128-style folder.

Ground truth covers only what the generator pastes. A background photo that shows a person
would add an unlabelled person, so photos whose COCO boxes or polygons contain a person are
left out of the background pool. Those people are not wasted: their polygons cut them out
as realistic pasted persons (labelled `x1_person_body` only, since where their face is and
whether it is visible is unknown).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
import hashlib
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")
MIN_PERSON_HEIGHT_PX = 96  # smaller sources would be blurry once scaled up
MIN_PERSON_FILL = 0.25  # polygon area / box area: below it the person is mostly hidden in the source
MIN_LARGEST_PART = 0.9  # share of the person's area in its largest connected part
MAX_PERSONS_PER_IMAGE = 6  # keeps the pool balanced when a crowd photo has dozens of people


@dataclass(frozen=True, eq=False)  # identity hash: the cut-out cache keys on the source
class PersonSource:
    """One person in a photo: polygon loops in pixels of that photo and their bounding box."""

    image: Path
    polygons: tuple[np.ndarray, ...]
    box: tuple[int, int, int, int]  # x0, y0, x1, y1 (exclusive)


def photo_split(path: Path) -> str:
    """"val" for a stable fifth of the photos (by file name), "train" for the rest.

    Training and held-out scenes then never share a background photo or a pasted person, so an
    evaluation on synthetic scenes does not reward memorising photos.
    """
    digest = hashlib.sha256(path.stem.encode("utf-8")).digest()
    return "val" if digest[0] % 5 == 0 else "train"


@dataclass(frozen=True)
class PhotoPool:
    """Background photos without people, and people to paste."""

    root: Path
    backgrounds: tuple[Path, ...]
    persons: tuple[PersonSource, ...]


def _class_id(config: Path, name: str) -> int | None:
    """The id of class `name` in a YOLO config's `names:` mapping (`  1: person`), without a YAML parser."""
    if not config.is_file():
        return None
    for line in config.read_text(encoding="utf-8").splitlines():
        match = re.match(r"\s*(\d+)\s*:\s*['\"]?([^'\"#]+?)['\"]?\s*$", line)
        if match and match.group(2).strip() == name:
            return int(match.group(1))
    return None


def _label_rows(path: Path) -> list[list[float]]:
    if not path.is_file():
        return []
    return [[float(v) for v in line.split()] for line in path.read_text().splitlines() if line.strip()]


def split_loops(values: list[float]) -> list[np.ndarray]:
    """YOLO-seg coordinates -> closed loops: a loop ends where a point repeats the loop's first point.

    COCO instances made of several polygons are written one after another in one row, each closed.
    """
    points = np.asarray(values, dtype=np.float64).reshape(-1, 2)
    loops, start = [], 0
    while start < len(points):
        end = start + 1
        while end < len(points) and not np.allclose(points[end], points[start]):
            end += 1
        loop = points[start : min(end + 1, len(points))]
        if len(loop) >= 3:
            loops.append(loop)
        start = end + 1
    return loops


def _polygon_area(loop: np.ndarray) -> float:
    x, y = loop[:, 0], loop[:, 1]
    return 0.5 * abs(float(np.dot(x, np.roll(y, 1)) - np.dot(y, np.roll(x, 1))))


@lru_cache(maxsize=8)
def find_photo_pool(folder: str, split: str = "all") -> PhotoPool | None:
    """The pool for `folder`: a COCO128 layout (`images/train2017` + labels) or a plain folder of images.

    In the COCO layout a photo is a background only if its box labels exist and name no person
    (unlabelled photos are skipped: they might show people). A plain folder is taken as is (its
    images are assumed to show no people; no cut-outs).
    Returns None when the folder holds no images. split: "train" / "val" keep only the photos of that
    split (see `photo_split`), "all" keeps every photo.
    """
    if split not in ("all", "train", "val"):
        raise ValueError(f"split must be 'all', 'train' or 'val', got {split!r}")
    root = Path(folder)
    if (root / "coco128").is_dir():
        root = root / "coco128"
    images_dir = root / "images" / "train2017"
    if not images_dir.is_dir():
        images = tuple(sorted(p for p in root.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES))
        if split != "all":
            images = tuple(p for p in images if photo_split(p) == split)
        return PhotoPool(root, images, ()) if images else None
    images = sorted(p for p in images_dir.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if split != "all":
        images = [p for p in images if photo_split(p) == split]
    detect_id = _class_id(root / "object_detection" / "config.yaml", "person")
    segment_id = _class_id(root / "instance_segmentation" / "config.yaml", "person")
    backgrounds, persons = [], []
    for image in images:
        box_file = root / "object_detection" / "labels" / "train2017" / f"{image.stem}.txt"
        if not box_file.is_file():  # unlabelled: it may show people we could not exclude
            continue
        boxes = _label_rows(box_file)
        shapes = _label_rows(root / "instance_segmentation" / "labels" / "train2017" / f"{image.stem}.txt")
        has_person = any(int(r[0]) == detect_id for r in boxes) or any(int(r[0]) == segment_id for r in shapes)
        if not has_person:
            backgrounds.append(image)
        elif segment_id is not None:
            persons.extend(_person_sources(image, [r[1:] for r in shapes if int(r[0]) == segment_id]))
    if not backgrounds and not persons:
        return None
    return PhotoPool(root, tuple(backgrounds), tuple(persons))


def _person_sources(image: Path, rows: list[list[float]]) -> list[PersonSource]:
    """The people of one photo that are big, mostly visible and not cut by the photo's top or sides."""
    with Image.open(image) as photo:
        width, height = photo.size
    found = []
    for values in rows:
        loops = [loop * (width, height) for loop in split_loops(values)]
        if not loops:
            continue
        everything = np.concatenate(loops)
        x0, y0 = np.floor(everything.min(axis=0)).astype(int)
        x1, y1 = np.ceil(everything.max(axis=0)).astype(int) + 1
        box_area = max((x1 - x0) * (y1 - y0), 1)
        fill = sum(_polygon_area(loop) for loop in loops) / box_area
        cut = x0 <= 1 or y0 <= 1 or x1 >= width - 1
        big = y1 - y0 >= MIN_PERSON_HEIGHT_PX and y1 - y0 >= 0.8 * (x1 - x0)
        if big and fill >= MIN_PERSON_FILL and not cut and _in_one_piece(loops, (x0, y0, x1, y1)):
            found.append(PersonSource(image, tuple(loops), (int(x0), int(y0), int(x1), int(y1))))
    found.sort(key=lambda s: -(s.box[3] - s.box[1]))
    return found[:MAX_PERSONS_PER_IMAGE]


def _in_one_piece(loops: list[np.ndarray], box: tuple[int, int, int, int]) -> bool:
    """Whether the person's largest connected part holds most of its area.

    A person split into pieces by something in front of them pastes as floating fragments.
    """
    x0, y0, x1, y1 = box
    scale = 100.0 / max(y1 - y0, 1)
    mask = np.zeros((int((y1 - y0) * scale) + 2, int((x1 - x0) * scale) + 2), dtype=np.uint8)
    cv2.fillPoly(mask, [np.round((loop - (x0, y0)) * scale).astype(np.int32) for loop in loops], 1)
    count, _, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    areas = stats[1:, cv2.CC_STAT_AREA]
    return count > 1 and areas.max() >= MIN_LARGEST_PART * areas.sum()


@lru_cache(maxsize=256)
def person_cutout(source: PersonSource) -> tuple[np.ndarray, np.ndarray]:
    """(rgb uint8 [h, w, 3], mask bool [h, w]) of one person, cut along its polygons."""
    image = cv2.imread(str(source.image), cv2.IMREAD_COLOR)
    if image is None:
        raise OSError(f"cannot read {source.image}")
    x0, y0, x1, y1 = source.box
    crop = np.ascontiguousarray(image[y0:y1, x0:x1, ::-1])
    mask = np.zeros(crop.shape[:2], dtype=np.uint8)
    loops = [np.round(loop - (x0, y0)).astype(np.int32) for loop in source.polygons]
    cv2.fillPoly(mask, loops, 1, cv2.LINE_8)
    crop.setflags(write=False)
    return crop, mask.astype(bool)
