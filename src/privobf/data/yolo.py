"""YOLO-style folders (boxes, polygons, class-index masks) as :class:`LabelledImage` items.

The layout is the one of ``coco128`` in the shared data folder, and of any folder exported the same way::

    ROOT/images/{split}/*.jpg
    ROOT/object_detection/config.yaml + labels/{split}/<stem>.txt        rows: class cx cy w h       (normalised)
    ROOT/instance_segmentation/config.yaml + labels/{split}/<stem>.txt   rows: class x1 y1 x2 y2 ... (normalised)
    ROOT/semantic_segmentation/config.yaml + masks/{split}/<stem>.png    class-index PNG, 0 = unlabelled

Each task folder has its *own* class numbering (detection is 0-79 contiguous, the two mask tasks use
COCO panoptic ids), so names are always read from the task's own ``config.yaml``. The configs are tiny
and regular; they are parsed here without a YAML dependency (pyyaml is not installed in the project).

Label text files are parsed when the dataset is built, so :attr:`YoloDataset.skips` is complete before
the first item is read; semantic PNGs are only decoded per item, so skips found in them (unknown class
ids) are added as items are read.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
from PIL import Image
from torch.utils.data import Dataset

from ..imageio import load_image
from .records import Box, LabelledImage, SkipReport, mapped_vocabulary

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp")
# task -> (task folder, label subfolder, key of the names mapping in its config.yaml)
_TASKS: dict[str, tuple[str, str, str]] = {
    "detect": ("object_detection", "labels", "names"),
    "segment": ("instance_segmentation", "labels", "names"),
    "semantic": ("semantic_segmentation", "masks", "classes"),
}
_NAME_LINE = re.compile(r"^\s+(\d+)\s*:\s*(.+?)\s*$")


def parse_class_names(config_path: Path, key: str) -> dict[int, str]:
    """The ``key:`` block of integer -> name lines from a YOLO config, without needing pyyaml.

    Only the block form (``names:`` followed by indented ``  0: person`` lines) is understood, which is
    what every config in the shared data uses; anything else raises so a new layout is noticed, not
    misread as "no classes".
    """
    names: dict[int, str] = {}
    inside = False
    for raw in config_path.read_text(encoding="utf-8").splitlines():
        line = raw.split(" #", 1)[0].rstrip()
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if not line[0].isspace():
            inside = line.strip() == f"{key}:"
            continue
        match = _NAME_LINE.match(line) if inside else None
        if match:
            names[int(match.group(1))] = match.group(2).strip("'\"")
    if not names:
        raise ValueError(f"{config_path}: no indented '{key}:' block of 'id: name' lines")
    return names


def split_loops(points: np.ndarray) -> list[np.ndarray]:
    """Cut a YOLO-seg row into closed loops: a loop ends where its first point is repeated.

    COCO128's rows for objects in several pieces (or with holes) concatenate the loops, each closed by
    repeating its start; drawing them as one polygon would add spurious bridges between pieces.
    """
    loops: list[np.ndarray] = []
    start = 0
    for i in range(1, len(points)):
        if i - start >= 3 and np.array_equal(points[i], points[start]):
            loops.append(points[start : i + 1])
            start = i + 1
    if len(points) - start >= 3:
        loops.append(points[start:])
    return loops


def fill_loops_even_odd(loops: list[np.ndarray], height: int, width: int) -> np.ndarray:
    """Rasterise loops in pixel coordinates with the even-odd rule (a loop inside another is a hole).

    Each loop is filled on its own and XOR-ed, so the rule is explicit rather than depending on how
    OpenCV's scanline filler treats overlapping contours. Coordinates are continuous (pixel i spans
    [i, i+1)), hence the half-pixel shift to OpenCV's pixel-centre convention; 4 fractional bits keep
    sub-pixel vertices. OpenCV also paints every pixel the outline touches, so a square from 2 to 8
    covers pixels 2..8 (one more row and column than its area), as pycocotools' masks also lean outward.
    """
    mask = np.zeros((height, width), dtype=bool)
    for loop in loops:
        canvas = np.zeros((height, width), dtype=np.uint8)
        fixed = np.round((np.asarray(loop, dtype=np.float64) - 0.5) * 16).astype(np.int32)
        cv2.fillPoly(canvas, [fixed.reshape(-1, 1, 2)], 1, lineType=cv2.LINE_8, shift=4)
        mask ^= canvas.astype(bool)
    return mask


def clip_normalised_box(cx: float, cy: float, w: float, h: float) -> tuple[float, float, float, float] | None:
    """Corners of a normalised centre box clipped to the image, or None when nothing of it is left."""
    x0, y0 = max(0.0, cx - w / 2), max(0.0, cy - h / 2)
    x1, y1 = min(1.0, cx + w / 2), min(1.0, cy + h / 2)
    if x1 <= x0 or y1 <= y0:
        return None
    return x0, y0, x1, y1


@dataclass
class _Entry:
    """One image and what its label file said, already validated and mapped to output ids."""

    image_path: Path
    label_path: Path | None
    shapes: list[tuple[str, np.ndarray]] = field(default_factory=list)  # (output id, normalised geometry)


class YoloDataset(Dataset):
    """Every image of ``ROOT/images/{split}`` with the labels of one task folder.

    Images without a label (or mask) file are still returned, with ``labels == []``, and counted in
    :attr:`skips` as "no label file": for detection an unlabelled image is a valid negative, and for the
    mask tasks COCO128 simply labels only 100 of its 128 images, which a caller can filter with
    ``item.extra["has_labels"]``.
    """

    def __init__(
        self,
        root: str | Path,
        split: str = "train2017",
        task: str = "detect",
        class_map: dict[str, str] | None = None,
    ) -> None:
        if task not in _TASKS:
            raise ValueError(f"unknown YOLO task {task!r}; one of {', '.join(_TASKS)}")
        self.root = Path(root)
        self.split = split
        self.task = task
        self.class_map = class_map
        self.skips = SkipReport()
        folder, labels_dir, key = _TASKS[task]
        self.class_names = parse_class_names(self.root / folder / "config.yaml", key)
        if task == "semantic":
            self.class_names.pop(0, None)  # 0 = unlabelled, never a class
        self._labels_dir = self.root / folder / labels_dir / split
        image_paths = self._image_paths()
        self._entries = [self._index(path) for path in image_paths]
        self._count_orphan_labels({path.stem for path in image_paths})

    @property
    def vocabulary_ids(self) -> list[str]:
        """The ids items can carry: the class_map's targets, else the config's names in id order."""
        return mapped_vocabulary(self.class_names, self.class_map)

    def __len__(self) -> int:
        return len(self._entries)

    def has_labels(self, index: int) -> bool:
        """Whether image `index` has a label file (without one, what it shows is unknown), without decoding it."""
        return self._entries[index].label_path is not None

    def image_stem(self, index: int) -> str:
        return self._entries[index].image_path.stem

    def __getitem__(self, index: int) -> LabelledImage:
        entry = self._entries[index]
        pixels = load_image(entry.image_path).pixels
        height, width = pixels.shape[:2]
        item = LabelledImage(entry.image_path.stem, entry.image_path, pixels, [])
        item.extra["has_labels"] = entry.label_path is not None
        if entry.label_path is None:
            return item
        if self.task == "detect":
            item.boxes = self._pixel_boxes(entry, width, height)
        elif self.task == "segment":
            item.masks = self._polygon_masks(entry, width, height)
        else:
            item.masks = self._semantic_masks(entry, width, height)
        item.labels = sorted(item.boxes or item.masks)
        return item

    def _image_paths(self) -> list[Path]:
        folder = self.root / "images" / self.split
        if not folder.is_dir():
            raise FileNotFoundError(f"{folder}: no image folder for split {self.split!r}")
        return sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)

    def _count_orphan_labels(self, image_stems: set[str]) -> None:
        """Count label files whose image is missing: their objects exist in no item.

        COCO128 has two (000000000656/659 detection labels; the latter lists 7 persons), which is why its
        README counts 62 person images where only 61 images with a person can be read.
        """
        if not self._labels_dir.is_dir():
            return
        suffix = ".png" if self.task == "semantic" else ".txt"
        for label_path in sorted(self._labels_dir.glob(f"*{suffix}")):
            if label_path.stem not in image_stems:
                self.skips.add("label file without image", label_path.name)

    def _output_id(self, class_index: int, where: str) -> str | None:
        """The id a class index is reported as, or None (counted) when unknown or not in the class_map."""
        name = self.class_names.get(class_index)
        if name is None:
            self.skips.add("unknown class id", f"{where}: {class_index}")
            return None
        if self.class_map is None:
            return name
        if name not in self.class_map:
            self.skips.add("class not in class_map", f"{where}: {name}")
            return None
        return self.class_map[name]

    def _index(self, image_path: Path) -> _Entry:
        suffix = ".png" if self.task == "semantic" else ".txt"
        label_path = self._labels_dir / f"{image_path.stem}{suffix}"
        if not label_path.is_file():
            self.skips.add("no label file", image_path.name)
            return _Entry(image_path, None)
        entry = _Entry(image_path, label_path)
        if self.task != "semantic":
            entry.shapes = self._parse_rows(label_path)
        return entry

    def _parse_rows(self, label_path: Path) -> list[tuple[str, np.ndarray]]:
        """Valid rows of a label file as (output id, geometry); malformed and degenerate rows are counted."""
        shapes: list[tuple[str, np.ndarray]] = []
        for number, line in enumerate(label_path.read_text(encoding="utf-8").splitlines(), 1):
            where = f"{label_path.name}:{number}"
            fields = line.split()
            if not fields:
                continue
            geometry = self._parse_geometry(fields, where)
            if geometry is None:
                continue
            output_id = self._output_id(int(fields[0]), where)
            if output_id is not None:
                shapes.append((output_id, geometry))
        return shapes

    def _parse_geometry(self, fields: list[str], where: str) -> np.ndarray | None:
        try:
            int(fields[0])
            values = np.array([float(v) for v in fields[1:]], dtype=np.float64)
        except ValueError:
            self.skips.add("malformed row", where)
            return None
        if self.task == "detect":
            if len(values) != 4:
                self.skips.add("malformed row", where)
                return None
            corners = clip_normalised_box(*values)
            if corners is None:
                self.skips.add("degenerate box", where)
                return None
            return np.array(corners)
        if len(values) < 6 or len(values) % 2:
            self.skips.add("malformed row", where)
            return None
        return np.clip(values.reshape(-1, 2), 0.0, 1.0)

    @staticmethod
    def _pixel_boxes(entry: _Entry, width: int, height: int) -> dict[str, list[Box]]:
        boxes: dict[str, list[Box]] = {}
        scale = np.array([width, height, width, height], dtype=np.float64)
        for output_id, corners in entry.shapes:
            x0, y0, x1, y1 = (float(v) for v in corners * scale)
            boxes.setdefault(output_id, []).append((x0, y0, x1, y1))
        return boxes

    def _polygon_masks(self, entry: _Entry, width: int, height: int) -> dict[str, np.ndarray]:
        masks: dict[str, np.ndarray] = {}
        for output_id, points in entry.shapes:
            loops = [loop * (width, height) for loop in split_loops(points)]
            drawn = fill_loops_even_odd(loops, height, width)
            if not drawn.any():
                self.skips.add("empty polygon", entry.image_path.name)
                continue
            masks[output_id] = masks[output_id] | drawn if output_id in masks else drawn
        return masks

    def _semantic_masks(self, entry: _Entry, width: int, height: int) -> dict[str, np.ndarray]:
        assert entry.label_path is not None
        index_map = np.asarray(Image.open(entry.label_path))
        if index_map.ndim != 2:
            raise ValueError(f"{entry.label_path}: expected a single-channel class-index PNG")
        if index_map.shape != (height, width):
            self.skips.add("mask resized to image", entry.label_path.name)
            index_map = cv2.resize(index_map, (width, height), interpolation=cv2.INTER_NEAREST)
        masks: dict[str, np.ndarray] = {}
        for class_index in np.unique(index_map):
            if class_index == 0:
                continue
            output_id = self._output_id(int(class_index), entry.label_path.name)
            if output_id is None:
                continue
            pixels = index_map == class_index
            masks[output_id] = masks[output_id] | pixels if output_id in masks else pixels
        return masks
