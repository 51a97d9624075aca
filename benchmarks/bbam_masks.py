"""BBAM masks from boxes against the regions they stand for: OpenALPR plates and synthetic scenes.

For each data set: `privobf train-detector` on its training images' boxes, then `privobf bbam` on the
same training images (BBAM's protocol: it makes pseudo labels for the training set from that set's
boxes), then every mask is scored against the ground truth, beside the box itself filled as the mask.

- OpenALPR has only boxes: the plate region IS its box, so "IoU with the plate region" says how much
  of the box BBAM keeps as plate (box fill), not whether it found the plate's outline.
- Synthetic scenes have pixel masks; their boxes are the bounding boxes of each mask part (what an
  annotator would draw), so "filled box vs pixel mask" is the baseline BBAM has to beat.

IoU per attribute pooled over the images (intersection sum / union sum), mean over attributes. BBAM's
labels are ternary: "strict" counts its ignore band as background, "loose" as object, and
"labelled pixels" leaves it out (what `privobf evaluate-maps` reports).

    python benchmarks/bbam_masks.py --openalpr-limit 20 --synthetic-size 16 --image-size 256
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from run import machine, write_result  # noqa: E402

import numpy as np  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parts", default="openalpr,synthetic", help="which data sets: openalpr, synthetic")
    parser.add_argument("--openalpr-root", help="OpenALPR folder (default: the shared data's openalpr/eu)")
    parser.add_argument("--openalpr-limit", type=int, default=20, help="first N photos (0: all 108)")
    parser.add_argument("--synthetic-size", type=int, default=16, help="number of synthetic training scenes")
    parser.add_argument("--image-size", type=int, default=256, help="synthetic scene side in pixels")
    parser.add_argument("--synthetic-seed", type=int, default=0)
    parser.add_argument("--model", help="model whose attribute ids name the classes (default: the embedded model)")
    parser.add_argument("--detector-option", action="append", default=[], metavar="KEY=VALUE",
                        help="DetectorConfig field for both detectors (a reduction: say so when quoting)")
    parser.add_argument("--bbam-option", action="append", default=[], metavar="KEY=VALUE",
                        help="BbamConfig field (a reduction: say so when quoting)")
    parser.add_argument("--max-side", type=int, default=512, help="long side of the pseudo labels")
    parser.add_argument("--work", default="benchmarks/work/bbam_masks", help="checkpoints and stage folders (resumed)")
    parser.add_argument("--name", default="bbam_masks", help="results/NAME.json")
    args = parser.parse_args()

    import torch

    torch.set_num_threads(1)
    torch.manual_seed(0)
    work = Path(args.work) / args.name
    parts = {}
    for part in args.parts.split(","):
        data = data_arguments(part, args)
        parts[part] = run_part(part, data, args, work / part)
    write_result(args.name, {
        "command": "python " + " ".join(sys.argv),
        "protocol": ("detector trained on the training split's boxes; BBAM masks computed for the same training images "
                     "(BBAM makes training-set pseudo labels from that set's boxes); masks scored against the ground "
                     "truth of those images"),
        "rule": ("IoU per attribute pooled over the images (sum of intersections / sum of unions), mean over attributes; "
                 "strict: BBAM's ignore band counted as background; loose: counted as object; labelled_pixels: ignore "
                 "band left out (privobf evaluate-maps); filled_box: the box itself as the mask"),
        "machine": machine(),
        "reductions": reductions(args),
        "parts": parts,
    })


def data_arguments(part: str, args: argparse.Namespace) -> list[str]:
    """The `--data ...` flags of the commands for one part."""
    if part == "openalpr":
        from privobf.data.openalpr import default_root

        data = ["--data", "openalpr", "--data-root", str(args.openalpr_root or default_root())]
        return data + (["--limit", str(args.openalpr_limit)] if args.openalpr_limit else [])
    if part == "synthetic":
        return ["--data", "synthetic", "--split", "train", "--size", str(args.synthetic_size),
                "--image-size", str(args.image_size), "--data-seed", str(args.synthetic_seed)]
    raise SystemExit(f"unknown part {part!r}: openalpr or synthetic")


def run_part(part: str, data: list[str], args: argparse.Namespace, folder: Path) -> dict:
    from privobf.cli import main as privobf

    folder.mkdir(parents=True, exist_ok=True)
    model = ["--model", args.model] if args.model else []
    checkpoint = folder / "detector.safetensors"
    if not checkpoint.is_file():  # a finished detector is reused (resumed benchmark)
        options = [part for pair in args.detector_option for part in ("--option", pair)]
        code = privobf(["train-detector", "--out", str(checkpoint), *data, *model, *options, "--no-progress"])
        if code not in (0, 1):
            raise SystemExit(f"train-detector failed for {part} (exit {code})")
    training = json.loads((folder / "detector.summary.json").read_text())
    labels = folder / "bbam"
    options = [part for pair in args.bbam_option for part in ("--option", pair)]
    started = time.perf_counter()
    code = privobf(["bbam", "--detector", str(checkpoint), "--out", str(labels), "--resume", "--max-side",
                    str(args.max_side), *data, *model, *options, "--no-progress"])
    wall = time.perf_counter() - started
    if code not in (0, 1):
        raise SystemExit(f"bbam failed for {part} (exit {code})")
    summary = json.loads((labels / "summary.json").read_text())
    scores = score_folder(labels, data, args.model)
    return {
        "data": training["data"],
        "box_source": training["box_source"],
        "detector": {"classes": training["classes"], "images": training["images_used"], "boxes": training["boxes"],
                     "steps": training["steps"], "first_losses": training["first_losses"],
                     "last_losses": training["last_losses"], "config": training["config"],
                     "seconds": training["seconds"], "seconds_per_image_seen": _per_image_seen(training)},
        "bbam": {"images": scores["n_images"], "boxes": scores["boxes"],
                 "boxes_with_positives": scores["boxes_with_positives"],
                 "boxes_on_fallback": scores["boxes"] - scores["boxes_with_positives"],
                 "failed": summary["failed"], "skipped_without_boxes": summary.get("skipped_without_boxes"),
                 "seconds_per_image_stored": scores["seconds_per_image"],
                 "wall_seconds_this_run": round(wall, 1)},
        "iou": scores["iou"],
        "box_fill": scores["box_fill"],
        "ignored_share_inside_boxes": scores["ignored_share_inside_boxes"],
        "per_attribute": scores["per_attribute"],
    }


def _per_image_seen(training: dict) -> float | None:
    """Training seconds per image pass (steps x batch size images seen)."""
    seen = training["steps"] * training["config"]["batch_size"]
    return round(training["seconds"] / seen, 3) if seen else None


class PooledIoU:
    """Intersections and unions summed per attribute over the images."""

    def __init__(self) -> None:
        self.intersection: dict[str, int] = {}
        self.union: dict[str, int] = {}

    def add(self, attribute: str, predicted: np.ndarray, truth: np.ndarray) -> None:
        self.intersection[attribute] = self.intersection.get(attribute, 0) + int((predicted & truth).sum())
        self.union[attribute] = self.union.get(attribute, 0) + int((predicted | truth).sum())

    def per_attribute(self) -> dict[str, float]:
        return {a: self.intersection[a] / self.union[a] for a in sorted(self.union) if self.union[a]}

    def mean(self) -> float | None:
        values = list(self.per_attribute().values())
        return float(np.mean(values)) if values else None


def score_folder(folder: Path, data: list[str], model_path: str | None) -> dict:
    """Every stored BBAM label map against the data set's ground truth, and the filled boxes beside it."""
    from privobf.cli import build_parser
    from privobf.models.loading import load_image_model
    from privobf.refine.bbam import IGNORE, box_region
    from privobf.refine.commands import load_data
    from privobf.refine.pipeline import pipeline_items
    from privobf.refine.pseudo_labels import resize_labels
    from privobf.refine.store import StageStore

    args = build_parser().parse_args(["evaluate-maps", "--maps", str(folder), *data])
    dataset, _ = load_data(args)
    ids = load_image_model(model_path).attribute_ids
    store = StageStore.open(folder, "pseudo-labels")
    rules = {name: PooledIoU() for name in ("strict", "loose", "labelled_pixels", "filled_box")}
    kept, boxed, ignored, inside_total = {}, {}, 0, 0
    boxes = with_positives = images = 0
    seconds = []
    for item in pipeline_items(dataset, ids, use_priors=False):
        if not store.has(item.image_id):
            continue
        arrays, meta = store.load_arrays(item.image_id)
        size = item.pixels.shape[:2]
        labels = resize_labels(arrays["labels"], size)
        images += 1
        seconds.append(meta["seconds"])
        for position, attribute in enumerate(meta["classes"]):
            truth = np.asarray(item.sample.masks.get(attribute, np.zeros(size, bool)), dtype=bool)
            own = labels[position] if meta["kind"] == "multilabel" else np.where(
                labels == IGNORE, IGNORE, (labels == position + 1).astype(np.uint8))
            box_mask = np.zeros(size, bool)
            for box in meta["boxes"].get(attribute, []):
                box_mask |= box_region(tuple(box), size)
            labelled = own != IGNORE
            rules["strict"].add(attribute, own == 1, truth)
            rules["loose"].add(attribute, (own == 1) | ((own == IGNORE) & box_mask), truth)
            rules["labelled_pixels"].add(attribute, (own == 1) & labelled, truth & labelled)
            rules["filled_box"].add(attribute, box_mask, truth)
            kept[attribute] = kept.get(attribute, 0) + int(((own == 1) & box_mask).sum())
            boxed[attribute] = boxed.get(attribute, 0) + int(box_mask.sum())
            ignored += int(((own == IGNORE) & box_mask).sum())
            inside_total += int(box_mask.sum())
        for counts in meta["positives"].values():
            boxes += len(counts)
            with_positives += sum(1 for n in counts if n > 0)
    return {
        "n_images": images, "boxes": boxes, "boxes_with_positives": with_positives,
        "seconds_per_image": round(float(np.mean(seconds)), 3) if seconds else None,
        "iou": {name: rule.mean() for name, rule in rules.items()},
        "per_attribute": {name: rule.per_attribute() for name, rule in rules.items()},
        "box_fill": {a: kept[a] / boxed[a] for a in sorted(boxed) if boxed[a]},
        "ignored_share_inside_boxes": ignored / inside_total if inside_total else None,
    }


def reductions(args: argparse.Namespace) -> list[str]:
    """Every way this run is smaller than the published setting, from the options it was given."""
    from privobf.refine.bbam import BbamConfig
    from privobf.refine.detector import DetectorConfig

    notes = []
    for pairs, config, label in ((args.detector_option, DetectorConfig(), "detector"), (args.bbam_option, BbamConfig(), "BBAM")):
        for pair in pairs:
            key, _, value = pair.partition("=")
            notes.append(f"{label} {key}={value} (default {getattr(config, key.strip().replace('-', '_'), '?')!r})")
    if "openalpr" in args.parts and args.openalpr_limit:
        notes.append(f"OpenALPR: first {args.openalpr_limit} of 108 photos (train on them, masks for them)")
    if "synthetic" in args.parts:
        notes.append(f"synthetic: {args.synthetic_size} training scenes at {args.image_size} px")
    notes.append(f"one CPU thread (torch.set_num_threads(1)); labels at long side {args.max_side}")
    return notes


if __name__ == "__main__":
    main()
