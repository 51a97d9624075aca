"""COCO instance annotations (``annotations/instances_{split}.json``) as :class:`LabelledImage` items.

Layout: ``ROOT/annotations/instances_{split}.json`` with images in ``ROOT/{split}/`` (COCO 2014 and 2017
releases), or ``ROOT/images/{split}/`` as some mirrors unpack them. pycocotools is not a dependency, so
polygon and RLE decoding (both the uncompressed ``counts`` list and COCO's compressed string) live here.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from torch.utils.data import Dataset

from ..imageio import load_image
from .records import Box, LabelledImage, SkipReport, mapped_vocabulary
from .yolo import fill_loops_even_odd


def polygon_to_mask(polygons: list[list[float]], height: int, width: int) -> np.ndarray:
    """Union of COCO polygons (flat ``[x1, y1, x2, y2, ...]`` lists in pixels) as a bool [H, W] mask.

    COCO unions an object's polygons (they are separate visible pieces, not holes), so each is filled
    on its own and OR-ed; polygons with fewer than 3 points cover nothing.
    """
    mask = np.zeros((height, width), dtype=bool)
    for flat in polygons:
        points = np.asarray(flat, dtype=np.float64)
        if points.size < 6 or points.size % 2:
            continue
        mask |= fill_loops_even_odd([points.reshape(-1, 2)], height, width)
    return mask


def decode_rle_string(text: str) -> list[int]:
    """Run lengths from COCO's compressed string (pycocotools ``rleFrString``).

    Each count is written in 5-bit groups, least significant first, as characters offset by 48; bit 0x20
    says another group follows and bit 0x10 of the last group is the sign. From the fourth count on, the
    value stored is the difference to the count two places earlier (runs of 0s and of 1s alternate, so
    that is the previous run of the same value), which keeps the numbers small.
    """
    counts: list[int] = []
    position = 0
    while position < len(text):
        value, shift, more = 0, 0, True
        while more:
            group = ord(text[position]) - 48
            value |= (group & 0x1F) << shift
            more = bool(group & 0x20)
            position += 1
            shift += 5
            if not more and group & 0x10:
                value |= -1 << shift
        if len(counts) > 2:
            value += counts[-2]
        counts.append(value)
    return counts


def encode_rle_string(counts: list[int]) -> str:
    """The inverse of :func:`decode_rle_string` (pycocotools ``rleToString``); used to write test data."""
    characters: list[str] = []
    for i, count in enumerate(counts):
        value = count - counts[i - 2] if i > 2 else count
        more = True
        while more:
            group = value & 0x1F
            value >>= 5
            more = value != -1 if group & 0x10 else value != 0
            if more:
                group |= 0x20
            characters.append(chr(group + 48))
    return "".join(characters)


def mask_to_rle_counts(mask: np.ndarray) -> list[int]:
    """Run lengths of a bool mask in COCO's column-major order, starting with a (possibly empty) run of 0s."""
    flat = np.asarray(mask, dtype=bool).flatten(order="F")
    changes = np.flatnonzero(flat[1:] != flat[:-1]) + 1
    bounds = np.concatenate([[0], changes, [flat.size]])
    runs = np.diff(bounds).tolist()
    return [0, *runs] if flat.size and flat[0] else runs


def rle_to_mask(rle: dict, height: int, width: int) -> np.ndarray:
    """A COCO RLE (``counts`` list or compressed string) as a bool [H, W] mask.

    Runs alternate 0, 1, 0, ... over the pixels in column-major (Fortran) order, as COCO defines them.
    A count total that does not cover exactly H*W pixels means the RLE belongs to another image size,
    so it raises rather than producing a shifted mask.
    """
    counts = rle["counts"]
    if isinstance(counts, bytes):
        counts = counts.decode("ascii")
    runs = decode_rle_string(counts) if isinstance(counts, str) else [int(c) for c in counts]
    if sum(runs) != height * width or any(r < 0 for r in runs):
        raise ValueError(f"RLE covers {sum(runs)} pixels, image has {height}x{width}")
    values = np.zeros(len(runs), dtype=bool)
    values[1::2] = True
    flat = np.repeat(values, runs)
    return flat.reshape((height, width), order="F")


def coco_bbox_to_box(bbox: list[float], height: int, width: int) -> Box | None:
    """COCO ``[x, y, w, h]`` as ``(x0, y0, x1, y1)`` clipped to the image; None when nothing is left."""
    x, y, w, h = (float(v) for v in bbox)
    x0, y0 = max(0.0, x), max(0.0, y)
    x1, y1 = min(float(width), x + w), min(float(height), y + h)
    if x1 <= x0 or y1 <= y0:
        return None
    return x0, y0, x1, y1


class CocoDataset(Dataset):
    """Every image of a COCO instances file with category names, per-category masks and boxes.

    Per image: ``labels`` are the (mapped) categories present, crowd annotations included since a crowd
    of people still shows people; ``masks[id]`` is the union of that category's non-crowd instances;
    crowd regions (``iscrowd: 1``) go to ``ignore`` only, since their pixels are not reliably one
    category; ``boxes[id]`` are the non-crowd boxes, crowd boxes are in ``extra["crowd_boxes"]``.
    Images listed but absent on disk, annotations for unknown images or categories, and categories not
    in ``class_map`` are counted in :attr:`skips` when the dataset is built; annotations whose geometry
    does not fit the image are counted as items are read.
    """

    # Evaluated as a label map like the WSSS lineage does: where instances of two categories overlap, the
    # category listed later wins (privobf.evaluate.run.class_index_map).
    exclusive_masks = True

    def __init__(self, root: str | Path, split: str = "val2017", class_map: dict[str, str] | None = None) -> None:
        self.root = Path(root)
        self.split = split
        self.class_map = class_map
        self.skips = SkipReport()
        data = json.loads((self.root / "annotations" / f"instances_{split}.json").read_text(encoding="utf-8"))
        self.category_names = {int(c["id"]): str(c["name"]) for c in data.get("categories", [])}
        self._images = self._index_images(data.get("images", []))
        self._annotations: dict[int, list[dict]] = {image_id: [] for image_id in self._images}
        for annotation in data.get("annotations", []):
            self._attach(annotation)
        self._order = sorted(self._images)

    @property
    def vocabulary_ids(self) -> list[str]:
        """The ids items can carry: the class_map's targets, else category names in category-id order."""
        return mapped_vocabulary(self.category_names, self.class_map)

    def __len__(self) -> int:
        return len(self._order)

    def __getitem__(self, index: int) -> LabelledImage:
        image_id = self._order[index]
        path = self._images[image_id]
        pixels = load_image(path).pixels
        height, width = pixels.shape[:2]
        item = LabelledImage(str(image_id), path, pixels, [], ignore=np.zeros((height, width), dtype=bool))
        item.extra["crowd_boxes"] = {}
        labels: set[str] = set()
        for annotation in self._annotations[image_id]:
            output_id = annotation["_output_id"]
            labels.add(output_id)
            self._add_geometry(item, annotation, output_id, height, width)
        item.labels = sorted(labels)
        return item

    def _image_folder(self) -> Path:
        direct = self.root / self.split
        return direct if direct.is_dir() else self.root / "images" / self.split

    def _index_images(self, images: list[dict]) -> dict[int, Path]:
        """Image id -> path for the images that exist; the rest are counted, not returned."""
        folder = self._image_folder()
        found: dict[int, Path] = {}
        for image in images:
            path = folder / image["file_name"]
            if path.is_file():
                found[int(image["id"])] = path
            else:
                self.skips.add("image file missing", image["file_name"])
        return found

    def _attach(self, annotation: dict) -> None:
        """Keep an annotation under its image with its output id, or count why it cannot be used."""
        image_id, category_id = int(annotation.get("image_id", -1)), int(annotation.get("category_id", -1))
        where = f"annotation {annotation.get('id', '?')}"
        if image_id not in self._annotations:
            self.skips.add("annotation for unknown or missing image", where)
            return
        name = self.category_names.get(category_id)
        if name is None:
            self.skips.add("unknown category id", f"{where}: {category_id}")
            return
        if self.class_map is not None and name not in self.class_map:
            self.skips.add("category not in class_map", f"{where}: {name}")
            return
        output_id = self.class_map[name] if self.class_map is not None else name
        self._annotations[image_id].append({**annotation, "_output_id": output_id})

    def _add_geometry(self, item: LabelledImage, annotation: dict, output_id: str, height: int, width: int) -> None:
        where = f"{item.image_id}: annotation {annotation.get('id', '?')}"
        crowd = bool(annotation.get("iscrowd", 0))
        box = coco_bbox_to_box(annotation["bbox"], height, width) if "bbox" in annotation else None
        if "bbox" in annotation and box is None:
            self.skips.add("degenerate box", where)
        if box is not None:
            target = item.extra["crowd_boxes"] if crowd else item.boxes
            target.setdefault(output_id, []).append(box)
        mask = self._decode_segmentation(annotation.get("segmentation"), height, width, where)
        if mask is None:
            return
        if crowd:
            item.ignore |= mask
        else:
            item.masks[output_id] = item.masks[output_id] | mask if output_id in item.masks else mask

    def _decode_segmentation(self, segmentation, height: int, width: int, where: str) -> np.ndarray | None:
        if not segmentation:
            return None
        if isinstance(segmentation, list):
            return polygon_to_mask(segmentation, height, width)
        size = segmentation.get("size", [height, width])
        if list(size) != [height, width]:
            self.skips.add("RLE size differs from image", where)
            return None
        try:
            return rle_to_mask(segmentation, height, width)
        except (ValueError, KeyError, IndexError) as error:
            self.skips.add("bad RLE", f"{where}: {error}")
            return None
