"""`make bench-protect`: what `privobf obfuscate --hide X --mode mask-only` leaves visible on real photos with
human ground truth, next to the single detectors privobf runs (issue 17).

    python benchmarks/protect.py [--data-root DIR] [--tasks faces,people,plates] [--splits calibration,report]
                                 [--limit N] [--privobf-args "--fusion paper"] [--tools privobf,deface,...]
                                 [--with-centerface-alone] [--name protect]

Tasks, each on the photos of one split ("calibration" to tune on, "report" to quote):

- **faces** (`--hide face`): dlib imglab XML (`faces/dlib/training.xml` = calibration, `testing.xml` = report;
  boxes with ignore='1' are neither ground truth nor background) and YOLO folders (`faces/roboflow/valid` =
  calibration, `faces/roboflow/test` = report; `class cx cy w h` normalised, every class a face);
- **people** (`--hide people`): COCO128 person masks through privobf's PrivMini reader, coco128 images only
  (PrivMini "train" = calibration, "val" = report); photos without a person count for over-obfuscation only;
- **plates** (`--hide plates`): OpenALPR EU plate boxes through PrivMini (same split rule).

Tools: **privobf** exactly as a user runs it, `python -m privobf obfuscate FOLDER --hide X --mode mask-only
--out OUT --progress off --quiet` + `--privobf-args`, on a folder of symlinks to the photos, timed wall clock
for the whole run (start-up and model loading included), with the user's preferences file set aside
(pass `--privobf-args "--preferences FILE"` to measure one); **deface** (faces: CenterFace with deface's
defaults, the region it replaces, `compare.deface_tool`); **mediapipe** (people: privobf's
`mediapipe-person` provider, mask >= 0.5); **haar** (plates: privobf's `haar-plate` provider, mask > 0);
optionally **centerface** (faces: privobf's `centerface` provider, mask > 0; `--with-centerface-alone`).

Metrics, pooled over the photos of a task / split: leak = ground-truth pixels left visible / ground-truth
pixels; covered = share of boxes hidden on >= 90 % (faces) / >= 50 % (plates) of their pixels; over =
hidden pixels outside the ground truth / pixels outside it; faces and plates also the hidden pixels outside
the ground truth as a share of all pixels. Boxes are rasterised as privobf.priors.geometry.fill_boxes does
(every pixel a box touches). Photos whose EXIF orientation is not 1 are skipped and counted (their boxes
might refer to the stored, not the upright, pixels). Writes benchmarks/results/NAME.json (default protect).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import shlex
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ElementTree
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Sequence

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run import RESULTS, machine  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = Path(os.environ.get("PRIVOBF_DATA", REPO.parent / "shared" / "data"))
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")
SPLITS = ("calibration", "report")
PRIVMINI_SPLIT = {"calibration": "train", "report": "val"}
TASKS = ("faces", "people", "plates")
HIDE = {"faces": "face", "people": "people", "plates": "plates"}
COVERED_AT = {"faces": 0.9, "plates": 0.5}  # share of a box that must be hidden for it to count as covered
# Face sources per split: (label, path below the data root, format).
FACE_SOURCES = {
    "calibration": [("dlib/training.xml", "faces/dlib/training.xml", "dlib"), ("roboflow/valid", "faces/roboflow/valid", "yolo")],
    "report": [("dlib/testing.xml", "faces/dlib/testing.xml", "dlib"), ("roboflow/test", "faces/roboflow/test", "yolo")],
}
BASELINES = {"deface": "faces", "centerface": "faces", "mediapipe": "people", "haar": "plates"}
DEFAULT_TOOLS = ("privobf", "deface", "mediapipe", "haar")

Box = tuple[float, float, float, float]  # x0, y0, x1, y1 in pixels of the upright photo, x1 / y1 exclusive


# ----------------------------------------------------------------------------------------------- metrics


def box_bounds(box: Sequence[float], height: int, width: int) -> tuple[int, int, int, int] | None:
    """(top, bottom, left, right) of the pixels `box` touches, clipped to the image: the rule of
    privobf.priors.geometry.fill_boxes (grow 1, "box"); None when no pixel is left or the box is degenerate."""
    x0, y0, x1, y1 = (float(v) for v in box)
    if not all(math.isfinite(v) for v in (x0, y0, x1, y1)) or x1 <= x0 or y1 <= y0:
        return None
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    half_w, half_h = (x1 - x0) / 2, (y1 - y0) / 2
    left, top = max(0, int(math.floor(cx - half_w))), max(0, int(math.floor(cy - half_h)))
    right, bottom = min(width, int(math.ceil(cx + half_w))), min(height, int(math.ceil(cy + half_h)))
    if right <= left or bottom <= top:
        return None
    return top, bottom, left, right


def boxes_mask(boxes: Iterable[Sequence[float]], height: int, width: int) -> np.ndarray:
    """bool [H, W]: the union of the pixels the boxes touch."""
    mask = np.zeros((height, width), dtype=bool)
    for box in boxes:
        bounds = box_bounds(box, height, width)
        if bounds is not None:
            top, bottom, left, right = bounds
            mask[top:bottom, left:right] = True
    return mask


def box_iou(a: Sequence[float], b: Sequence[float]) -> float:
    """Intersection over union of two (x0, y0, x1, y1) boxes; 0 when both are empty."""
    x0, y0, x1, y1 = max(a[0], b[0]), max(a[1], b[1]), min(a[2], b[2]), min(a[3], b[3])
    inter = max(0.0, x1 - x0) * max(0.0, y1 - y0)
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def box_coverage(hidden: np.ndarray, box: Sequence[float]) -> float | None:
    """Share of the box's pixels that `hidden` (bool [H, W]) hides; None when the box has no pixel."""
    bounds = box_bounds(box, *hidden.shape[:2])
    if bounds is None:
        return None
    top, bottom, left, right = bounds
    return float(hidden[top:bottom, left:right].mean())


def pixel_counts(truth: np.ndarray, hidden: np.ndarray, ignore: np.ndarray | None = None) -> dict[str, int]:
    """One photo's pixel counts: ground truth (and how much of it stays visible), the pixels outside it (and how
    many of those are hidden), all pixels. `ignore` pixels (e.g. ignore='1' boxes) are neither truth nor outside."""
    if truth.shape != hidden.shape:
        raise ValueError(f"ground truth {truth.shape} and hidden mask {hidden.shape} differ in size")
    truth, hidden = truth.astype(bool), hidden.astype(bool)
    outside = ~truth if ignore is None else ~truth & ~ignore.astype(bool)
    return {"truth": int(truth.sum()), "truth_visible": int((truth & ~hidden).sum()), "outside": int(outside.sum()),
            "outside_hidden": int((outside & hidden).sum()), "pixels": int(truth.size)}


def pooled_rates(counts: Iterable[dict[str, int]]) -> dict[str, float | None]:
    """Pooled over photos: leak (visible truth / truth), over (hidden outside / outside), hidden outside as a
    share of all pixels. None where a denominator is 0 (no ground truth at all, ...)."""
    total = Counter()
    for one in counts:
        total.update(one)

    def ratio(a: str, b: str) -> float | None:
        return total[a] / total[b] if total[b] else None

    return {"leak": ratio("truth_visible", "truth"), "over": ratio("outside_hidden", "outside"),
            "hidden_outside_share_of_image": ratio("outside_hidden", "pixels")}


def covered_share(coverages: Sequence[float], at: float) -> float | None:
    """Share of boxes whose coverage is at least `at`; None without boxes."""
    return sum(c >= at for c in coverages) / len(coverages) if coverages else None


def evenly_spaced(n: int, k: int | None) -> list[int]:
    """k indices spread evenly over range(n), first and last included (all of them when k is None, 0 or >= n)."""
    if not k or k >= n:
        return list(range(n))
    if k == 1:
        return [0]
    return [round(i * (n - 1) / (k - 1)) for i in range(k)]


# ----------------------------------------------------------------------------------------------- data


class Skips:
    """Counts by reason with a few examples each (what a reader did not use, and why)."""

    def __init__(self) -> None:
        self.counts: Counter = Counter()
        self.examples: dict[str, list[str]] = {}

    def add(self, reason: str, example: str, n: int = 1) -> None:
        self.counts[reason] += n
        bucket = self.examples.setdefault(reason, [])
        if len(bucket) < 3 or reason.startswith("EXIF orientation"):  # every rotated photo is named
            bucket.append(example)

    def as_dict(self) -> dict:
        return {reason: {"count": n, "examples": self.examples[reason]} for reason, n in self.counts.most_common()}


@dataclass
class Photo:
    """One photo and its ground truth in the upright pixel grid: boxes (faces, plates) or a mask (people)."""

    path: Path
    source: str
    boxes: list[Box] = field(default_factory=list)
    ignored: list[Box] = field(default_factory=list)  # annotated but marked ignore: neither truth nor outside
    mask: np.ndarray | None = None
    size: tuple[int, int] | None = None  # (width, height) from the header

    def truth(self, height: int, width: int) -> np.ndarray:
        return self.mask if self.mask is not None else boxes_mask(self.boxes, height, width)

    def ignore(self, height: int, width: int) -> np.ndarray | None:
        return boxes_mask(self.ignored, height, width) if self.ignored else None


def upright_size(path: Path) -> tuple[int, int] | str:
    """(width, height) from the header when the photo needs no EXIF rotation, else the reason not to use it."""
    from privobf.data.openalpr import upright_image_size

    return upright_image_size(path)


def _number(value: str | None) -> float:
    number = float(value) if value is not None else math.nan
    if not math.isfinite(number):
        raise ValueError(value)
    return number


def parse_dlib_xml(xml_path: Path, skips: Skips, source: str = "dlib") -> list[Photo]:
    """dlib imglab XML: `<image file='..'><box top left width height [ignore='1']/>`; image paths relative to the XML.

    A missing or unreadable image, an EXIF-rotated one, one whose size differs from the XML's width / height and
    one with a malformed box are skipped and counted; a box without area is dropped and counted. Boxes with
    ignore='1' go to Photo.ignored."""
    photos = []
    for image in ElementTree.parse(xml_path).getroot().iter("image"):
        name = image.get("file") or ""
        path = xml_path.parent / name
        where = f"{xml_path.name}:{name}"
        if not name or not path.is_file():
            skips.add("image missing", where)
            continue
        size = upright_size(path)
        if isinstance(size, str):
            skips.add(size, where)
            continue
        try:
            declared = tuple(int(_number(image.get(key))) for key in ("width", "height")) if image.get("width") else None
            raw = [(box, tuple(_number(box.get(k)) for k in ("left", "top", "width", "height"))) for box in image.iter("box")]
        except ValueError:
            skips.add("malformed box or size", where)
            continue
        if declared is not None and declared != size:
            skips.add("image size differs from the XML's", f"{where} ({size[0]}x{size[1]}, XML {declared[0]}x{declared[1]})")
            continue
        photo = Photo(path, source, size=size)
        for element, (left, top, width, height) in raw:
            box = (left, top, left + width, top + height)
            if box_bounds(box, size[1], size[0]) is None:
                skips.add("box without area or outside the image", where)
            elif element.get("ignore", "0").strip().lower() in ("1", "true"):
                photo.ignored.append(box)
            else:
                photo.boxes.append(box)
        photos.append(photo)
    return photos


def unlisted_images(xml_paths: Sequence[Path]) -> list[str]:
    """Photos in the XMLs' folders that no XML lists (no ground truth: not evaluated)."""
    listed: set[Path] = set()
    for xml_path in xml_paths:
        if xml_path.is_file():
            listed |= {(xml_path.parent / (i.get("file") or "")).resolve() for i in ElementTree.parse(xml_path).getroot().iter("image")}
    folders = {p.parent for p in xml_paths if p.is_file()}
    return sorted(str(p.name) for folder in folders for p in folder.iterdir()
                  if p.suffix.lower() in IMAGE_SUFFIXES and p.resolve() not in listed)


def parse_yolo_split(folder: Path, skips: Skips, source: str = "yolo") -> list[Photo]:
    """A YOLO split folder: `images/NAME.ext` with `labels/NAME.txt` rows `class cx cy w h` (normalised to the
    image; every class counts). An empty label file is a photo without any; a missing one, a malformed row, an
    unreadable or EXIF-rotated image are skipped and counted; boxes are clipped to the image."""
    images_dir, labels_dir = folder / "images", folder / "labels"
    images = sorted(p for p in images_dir.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES) if images_dir.is_dir() else []
    stems = {p.stem for p in images}
    for label in sorted(labels_dir.glob("*.txt")) if labels_dir.is_dir() else []:
        if label.stem not in stems:
            skips.add("label file without image", f"{folder.name}/{label.name}")
    photos = []
    for path in images:
        where = f"{folder.name}/{path.name}"
        label = labels_dir / f"{path.stem}.txt"
        if not label.is_file():
            skips.add("no label file", where)
            continue
        size = upright_size(path)
        if isinstance(size, str):
            skips.add(size, where)
            continue
        width, height = size
        try:
            rows = [line.split() for line in label.read_text(encoding="utf-8-sig").splitlines() if line.strip()]
            if any(len(row) != 5 for row in rows):
                raise ValueError("not 5 fields")
            centres = [tuple(_number(v) for v in row[1:]) for row in rows]
        except ValueError:
            skips.add("malformed label row", where)
            continue
        photo = Photo(path, source, size=size)
        for cx, cy, w, h in centres:
            box = (max(0.0, (cx - w / 2)) * width, max(0.0, (cy - h / 2)) * height,
                   min(1.0, (cx + w / 2)) * width, min(1.0, (cy + h / 2)) * height)
            if box_bounds(box, height, width) is None:
                skips.add("box without area or outside the image", where)
            else:
                photo.boxes.append(box)
        photos.append(photo)
    return photos


def augmentation_source(stem: str) -> str:
    """`face_011_aug07_jpg.rf.3c9…` -> `face_011`: Roboflow names augmented copies after the photo they came
    from, then adds `_<ext>.rf.<hash>`. A name without a numbered source (`face_aug241`) is its own source."""
    stem = re.sub(r"_[a-z0-9]+\.rf\.[0-9a-f]+$", "", stem)
    numbered = re.match(r"^(.*\d)_aug\d+$", stem)
    return numbered.group(1) if numbered else stem


def report_sources(root: Path) -> set[str]:
    """Source photos of the YOLO report folders (Roboflow exports augment one photo into several files)."""
    found = set()
    for _label, relative, kind in FACE_SOURCES["report"]:
        images = root / relative / "images"
        if kind == "yolo" and images.is_dir():
            found |= {augmentation_source(p.stem) for p in images.iterdir()}
    return found


def face_photos(root: Path, split: str, skips: Skips) -> tuple[list[Photo], dict]:
    """The faces of a split. Calibration leaves out the augmented copies of photos that are also in the report
    folders (Roboflow's valid and test share 9 source photos), so nothing reported was calibrated on."""
    photos: list[Photo] = []
    sources = {}
    held_out = report_sources(root) if split == "calibration" else set()
    for label, relative, kind in FACE_SOURCES[split]:
        path = root / relative
        if not path.exists():
            skips.add("source missing", str(path))
            continue
        found = parse_dlib_xml(path, skips, label) if kind == "dlib" else parse_yolo_split(path, skips, label)
        if kind == "yolo" and held_out:
            shared = [p for p in found if augmentation_source(p.path.stem) in held_out]
            for photo in shared:
                skips.add("augmented copy of a report photo's source (left out of calibration)", photo.path.name)
            found = [p for p in found if p not in shared]
        sources[label] = len(found)
        photos += found
    return photos, sources


class PrivMiniPhotos:
    """People (coco128) and plates (openalpr) photos of one PrivMini split, decoded only when selected.

    PrivMini's readers decide what is usable (OpenAlprDataset already drops EXIF-rotated photos, COCO128 photos
    without segmentation labels are not PrivMini items); the EXIF check here runs on the selected photos, so
    with --limit a rotated photo makes the subset one smaller instead of being replaced."""

    SOURCE = {"people": "coco128", "plates": "openalpr"}

    def __init__(self, root: Path, split: str):
        from privobf.data.privmini import PrivMini

        try:
            self.privmini = PrivMini(root, split=PRIVMINI_SPLIT[split])
        except FileNotFoundError:
            self.privmini = None

    def candidates(self, task: str) -> list[int]:
        if self.privmini is None:
            return []
        return [i for i, ref in enumerate(self.privmini.refs) if ref.source == self.SOURCE[task]]

    def reader_notes(self, task: str) -> dict:
        if self.privmini is None:
            return {"privmini": "no PrivMini source found under the data root"}
        notes = {"privmini_skips_all_sources": dict(self.privmini.skips.counts)}
        reader = self.privmini.sources.get(self.SOURCE[task])
        if reader is not None:
            notes["reader_skips"] = dict(reader.skips.counts)
            if hasattr(reader, "clipped"):
                notes["boxes_clipped_to_image"] = reader.clipped
        return notes

    def load(self, task: str, index: int, skips: Skips) -> Photo | None:
        from privobf.data.privmini import PERSON, PLATE

        item = self.privmini[index]
        size = upright_size(Path(item.path))
        if isinstance(size, str):
            skips.add(size, item.path.name)
            return None
        height, width = item.image.shape[:2]
        if task == "people":
            mask = item.masks.get(PERSON)
            return Photo(Path(item.path), "coco128", mask=mask if mask is not None else np.zeros((height, width), bool), size=size)
        if not item.boxes.get(PLATE):  # the reader found no usable box (its ignore mask is then all True)
            skips.add("no usable plate box", item.path.name)
            return None
        return Photo(Path(item.path), "openalpr", boxes=list(item.boxes[PLATE]), size=size)


# ----------------------------------------------------------------------------------------------- tools


def baseline(name: str) -> Callable[[np.ndarray], np.ndarray]:
    """pixels (uint8 RGB, upright) -> bool [H, W]: what the single detector hides."""
    if name == "deface":
        from compare import deface_tool

        return deface_tool().region
    from privobf.priors import create_provider

    provider_name, keep = {"centerface": ("centerface", lambda m: m > 0), "mediapipe": ("mediapipe-person", lambda m: m >= 0.5),
                           "haar": ("haar-plate", lambda m: m > 0)}[name]
    provider = create_provider(provider_name)
    return lambda pixels: keep(provider(pixels).mask)


BASELINE_WHAT = {
    "deface": "deface 1.5 CenterFace at full resolution, its defaults (threshold 0.2, mask scale 1.3, ellipses): the pixels it replaces",
    "centerface": "privobf's `centerface` prior provider alone, mask > 0",
    "mediapipe": "privobf's `mediapipe-person` prior provider alone, mask >= 0.5",
    "haar": "privobf's `haar-plate` prior provider alone, mask > 0",
}


def check_limit_and_name(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """`--limit` at least 1, `--name` a plain file name under benchmarks/results (a usage error otherwise)."""
    if args.limit is not None and args.limit < 1:
        parser.error("--limit must be at least 1")
    if not args.name or Path(args.name).name != args.name or args.name.startswith("."):
        parser.error(f"--name {args.name!r} must be a plain file name")


def privobf_command(folder: Path, out: Path, task: str, extra: Sequence[str], hide: str | None = None) -> list[str]:
    """The user's command for a task (`hide`: what to hide instead of the task's `--hide`)."""
    return [sys.executable, "-m", "privobf", "obfuscate", str(folder), "--hide", hide or HIDE[task], "--mode", "mask-only",
            "--out", str(out), "--progress", "off", "--quiet", *extra]


def run_privobf(photos: list[Photo], task: str, extra: Sequence[str], workspace: Path,
                hide: str | None = None) -> tuple[list[np.ndarray], float]:
    """The CLI on a folder of symlinks (unique names); the hidden masks in photo order, and the wall time.
    `photos`: anything with a `.path`; `hide`: what to hide instead of the task's `--hide`."""
    folder, out, config = workspace / "photos", workspace / "out", workspace / "config"
    for directory in (folder, config):
        directory.mkdir(parents=True)
    links = []
    for index, photo in enumerate(photos):
        link = folder / f"{index:05d}_{photo.path.stem}{photo.path.suffix}"
        os.symlink(photo.path.resolve(), link)
        links.append(link)
    # The user's preferences file would change what is hidden: set aside (XDG_CONFIG_HOME empty), unless passed.
    environment = {k: v for k, v in os.environ.items() if k != "PRIVOBF_PREFERENCES"}
    environment.update(XDG_CONFIG_HOME=str(config), OMP_WAIT_POLICY=os.environ.get("OMP_WAIT_POLICY", "PASSIVE"))
    command = privobf_command(folder, out, task, extra, hide)
    started = time.perf_counter()
    completed = subprocess.run(command, capture_output=True, text=True, env=environment)
    seconds = time.perf_counter() - started
    if completed.returncode != 0:
        sys.exit(f"{shlex.join(command)} failed ({completed.returncode}):\n{completed.stderr.strip()[-4000:]}")
    from PIL import Image

    masks = []
    for link, photo in zip(links, photos):
        target = out / f"{link.stem}.privobf.png"
        if not target.is_file():
            sys.exit(f"{shlex.join(command)} wrote no mask {target.name} for {photo.path}:\n{completed.stderr.strip()[-2000:]}")
        with Image.open(target) as image:
            masks.append(np.asarray(image.convert("L")) > 127)
    return masks, seconds


# ----------------------------------------------------------------------------------------------- run


@dataclass
class ToolTally:
    counts: list[dict[str, int]] = field(default_factory=list)
    coverages: list[float] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)

    def add(self, photo: Photo, hidden: np.ndarray, truth: np.ndarray, ignore: np.ndarray | None) -> None:
        self.counts.append(pixel_counts(truth, hidden, ignore))
        self.coverages += [c for c in (box_coverage(hidden, box) for box in photo.boxes) if c is not None]

    def summary(self, task: str) -> dict:
        rates = pooled_rates(self.counts)
        out = {"leak": rates["leak"], "over": rates["over"]}
        if task in COVERED_AT:
            out[f"covered_{round(100 * COVERED_AT[task])}"] = covered_share(self.coverages, COVERED_AT[task])
            out["mean_box_coverage"] = float(np.mean(self.coverages)) if self.coverages else None
            out["hidden_outside_share_of_image"] = rates["hidden_outside_share_of_image"]
        return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in out.items()}


def select(task: str, split: str, root: Path, limit: int | None, privmini: dict) -> tuple[list[Photo], Skips, dict]:
    skips = Skips()
    if task == "faces":
        candidates, sources = face_photos(root, split, skips)
        chosen = [candidates[i] for i in evenly_spaced(len(candidates), limit)]
        return chosen, skips, {"candidates_by_source": sources, "photos_by_source": dict(Counter(p.source for p in chosen))}
    if split not in privmini:  # one PrivMini index per split, shared by people and plates
        privmini[split] = PrivMiniPhotos(root, split)
    reader = privmini[split]
    candidates = reader.candidates(task)
    chosen = [p for p in (reader.load(task, candidates[i], skips) for i in evenly_spaced(len(candidates), limit)) if p is not None]
    return chosen, skips, {"candidates_by_source": {PrivMiniPhotos.SOURCE[task]: len(candidates)}, **reader.reader_notes(task)}


def evaluate(task: str, split: str, args, tools: list[str], baselines: dict, setup: dict, privmini: dict) -> dict:
    from privobf.imageio import load_image

    photos, skips, notes = select(task, split, args.data_root, args.limit, privmini)
    record: dict = {"photos": len(photos), **notes}
    record["photos_with_ground_truth"] = sum(bool(p.boxes) or (p.mask is not None and bool(p.mask.any())) for p in photos)
    if task != "people":
        record["instances"] = sum(len(p.boxes) for p in photos)
    if task == "faces":
        record["ignored_boxes"] = sum(len(p.ignored) for p in photos)
    record["skipped"] = skips.as_dict()
    names = [t for t in tools if t == "privobf" or BASELINES.get(t) == task]
    tallies = {name: ToolTally() for name in names}
    if not photos:
        record["tools"] = {}
        return record
    hidden_by_privobf, wall = None, None
    if "privobf" in names:
        with tempfile.TemporaryDirectory(prefix="privobf-protect-") as workspace:
            hidden_by_privobf, wall = run_privobf(photos, task, args.privobf_extra, Path(workspace))
    for index, photo in enumerate(photos):
        pixels = load_image(photo.path).pixels
        height, width = pixels.shape[:2]
        truth, ignore = photo.truth(height, width), photo.ignore(height, width)
        if truth.shape != (height, width):
            sys.exit(f"{photo.path}: ground truth {truth.shape} does not match the upright photo {(height, width)}")
        for name in names:
            if name == "privobf":
                hidden = hidden_by_privobf[index]
                if hidden.shape != (height, width):
                    sys.exit(f"{photo.path}: privobf's mask is {hidden.shape[1]}x{hidden.shape[0]}, the upright photo {width}x{height}")
            else:
                if name not in baselines:
                    started = time.perf_counter()
                    baselines[name] = baseline(name)
                    setup[name] = round(time.perf_counter() - started, 2)
                started = time.perf_counter()
                hidden = np.asarray(baselines[name](pixels)).astype(bool)
                tallies[name].seconds.append(time.perf_counter() - started)
            tallies[name].add(photo, hidden, truth, ignore)
    record["tools"] = {}
    for name in names:
        summary = tallies[name].summary(task)
        if name == "privobf":
            summary["seconds"] = {"wall": round(wall, 2), "per_photo": round(wall / len(photos), 3)}
        else:
            summary["seconds"] = {"per_photo_mean": round(float(np.mean(tallies[name].seconds)), 3)}
        record["tools"][name] = summary
    return record


def git_commit() -> dict:
    def git(*arguments: str) -> str | None:
        try:
            done = subprocess.run(["git", *arguments], cwd=REPO, capture_output=True, text=True, timeout=30)
        except (OSError, subprocess.TimeoutExpired):
            return None
        return done.stdout.strip() if done.returncode == 0 else None

    commit = git("rev-parse", "--short", "HEAD")
    changed = git("status", "--porcelain", "--untracked-files=no", "--", "src")
    return {"commit": commit, "src_changed_since_commit": bool(changed) if changed is not None else None}


def table(results: dict) -> str:
    lines = [f"{'task':7} {'split':11} {'tool':10} {'photos':>6} {'leak':>7} {'covered':>8} {'over':>7} {'s/photo':>8} {'wall s':>7}"]

    def cell(value, width: int, digits: int = 3) -> str:
        return f"{value:>{width}.{digits}f}" if isinstance(value, (int, float)) else f"{'-':>{width}}"

    for task, splits in results.items():
        for split, record in splits.items():
            for tool, summary in record.get("tools", {}).items():
                covered = next((v for k, v in summary.items() if k.startswith("covered_")), None)
                seconds = summary["seconds"]
                lines.append(f"{task:7} {split:11} {tool:10} {record['photos']:>6} {cell(summary['leak'], 7)} {cell(covered, 8)} "
                             f"{cell(summary['over'], 7)} {cell(seconds.get('per_photo', seconds.get('per_photo_mean')), 8)} "
                             f"{cell(seconds.get('wall'), 7, 1)}")
            if not record.get("tools"):
                lines.append(f"{task:7} {split:11} {'(no photos)':10}")
    return "\n".join(lines)


def comma_list(choices: Sequence[str]) -> Callable[[str], list[str]]:
    def parse(value: str) -> list[str]:
        names = [n.strip() for n in value.split(",") if n.strip()]
        unknown = [n for n in names if n not in choices]
        if unknown or not names:
            raise argparse.ArgumentTypeError(f"{value!r}: choose from {', '.join(choices)}")
        return list(dict.fromkeys(names))

    return parse


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=" ".join(__doc__.split("\n\n")[0].split()))
    parser.add_argument("--data-root", type=Path, default=DEFAULT_DATA, help="data root (default $PRIVOBF_DATA or ../shared/data)")
    parser.add_argument("--tasks", type=comma_list(TASKS), default=list(TASKS), help="comma-separated: faces,people,plates")
    parser.add_argument("--splits", type=comma_list(SPLITS), default=list(SPLITS), help="comma-separated: calibration,report")
    parser.add_argument("--limit", type=int, default=None, help="at most N evenly spaced photos per task and split")
    parser.add_argument("--privobf-args", default="", help="extra arguments for `privobf obfuscate`, one string (shlex-split), e.g. \"--fusion paper\"; "
                        "a single option without a space needs =: --privobf-args=--no-flip")
    parser.add_argument("--tools", type=comma_list(("privobf", *BASELINES)), default=None,
                        help=f"comma-separated tools (default: {','.join(DEFAULT_TOOLS)}, + centerface with --with-centerface-alone)")
    parser.add_argument("--with-centerface-alone", action="store_true", help="also privobf's centerface provider alone (faces)")
    parser.add_argument("--name", default="protect", help="write benchmarks/results/NAME.json")
    args = parser.parse_args(argv)
    check_limit_and_name(parser, args)
    try:
        args.privobf_extra = shlex.split(args.privobf_args)
    except ValueError as error:
        parser.error(f"--privobf-args: {error}")
    tools = list(args.tools or DEFAULT_TOOLS)
    if args.with_centerface_alone and "centerface" not in tools:
        tools.append("centerface")
    args.data_root = args.data_root.resolve()

    import privobf

    started = time.perf_counter()
    baselines: dict = {}
    setup: dict = {}
    privmini: dict = {}
    results: dict = {}
    for task in args.tasks:
        results[task] = {}
        for split in args.splits:
            results[task][split] = evaluate(task, split, args, tools, baselines, setup, privmini)
            print(f"{task} {split}: {results[task][split]['photos']} photos in {time.perf_counter() - started:.0f} s", flush=True)
    if not any(record["photos"] for splits in results.values() for record in splits.values()):
        sys.exit(f"no photos with ground truth found under {args.data_root} for {', '.join(args.tasks)} "
                 f"({', '.join(args.splits)}); expected faces/, coco128/ or openalpr/eu/ there (--data-root)")
    notes = {}
    if "faces" in args.tasks:
        xmls = [args.data_root / relative for sources in FACE_SOURCES.values() for _, relative, kind in sources if kind == "dlib"]
        notes["faces_images_listed_in_no_xml"] = unlisted_images(xmls)
    record = {
        "command": shlex.join(["python", *(sys.argv if argv is None else ["benchmarks/protect.py", *argv])]),
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "seconds": round(time.perf_counter() - started, 1),
        "machine": machine(),
        "privobf": {"version": privobf.__version__, **git_commit(),
                    "command": " ".join(["python -m privobf obfuscate FOLDER --hide face|people|plates --mode mask-only --out OUT --progress off --quiet", *map(shlex.quote, args.privobf_extra)]),
                    "preferences": "the user's preferences file set aside (empty XDG_CONFIG_HOME, no PRIVOBF_PREFERENCES)",
                    "seconds": "wall clock of the whole CLI run per task and split, start-up and model loading included"},
        "data_root": str(args.data_root),
        "limit": args.limit,
        "tools": {name: BASELINE_WHAT.get(name, "the privobf CLI above") for name in tools},
        "baseline_setup_seconds": setup,
        "definitions": {
            "leak": "ground-truth pixels left visible / ground-truth pixels, pooled over photos (faces, plates: box pixels; people: mask pixels)",
            "covered_90": "faces: share of face boxes hidden on >= 90 % of their pixels",
            "covered_50": "plates: share of plate boxes hidden on >= 50 % of their pixels",
            "over": "hidden pixels outside the ground truth / pixels outside it, pooled (ignore='1' face boxes excluded from both)",
            "hidden_outside_share_of_image": "hidden pixels outside the ground truth / all pixels, pooled",
            "boxes": "rasterised like privobf.priors.geometry.fill_boxes: every pixel a box touches",
            "splits": "calibration = dlib training.xml + roboflow valid + PrivMini train; report = dlib testing.xml + roboflow test + PrivMini val",
            "seconds": "privobf: wall clock of the CLI run (per_photo = wall / photos); baselines: mean per photo of the detector "
                       "alone on decoded pixels (first call included, model loading in baseline_setup_seconds)",
        },
        "notes": notes,
        "results": results,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    target = RESULTS / f"{args.name}.json"
    target.write_text(json.dumps(record, indent=1) + "\n")
    print(table(results))
    print(f"wrote {target} in {record['seconds']} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
