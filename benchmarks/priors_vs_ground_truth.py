"""Each prior provider against the real ground truth of the data root, with the time it adds per image.

    python benchmarks/priors_vs_ground_truth.py [--data-root ../shared/data] [--out benchmarks/results/priors_vs_ground_truth.json]

- person (mediapipe-person): mask > 0.5 vs COCO128 person polygons; IoU pooled over all images
  (one confusion matrix) and the mean per-image IoU over images with a person.
- text (rapidocr): mask vs the union of SROIE text-line quads; recall and precision by area.
- plate (haar-plate, and rapidocr as a text-based alternative): coverage of each OpenALPR plate box
  by the mask; recall at coverage >= 0.5, mean coverage.
- face (centerface, mediapipe-face): COCO128 has no face labels, so: faces found on person images,
  images with at least one face, and a contact sheet (docs/images/faces_centerface.jpg) to look at.
All thresholds are the providers' defaults, fixed before this was run; nothing is tuned here.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from privobf.data.openalpr import OpenAlprDataset  # noqa: E402
from privobf.data.sroie import SroieDataset  # noqa: E402
from privobf.data.yolo import YoloDataset  # noqa: E402
from privobf.evaluate.evaluators import BoxCoverageEvaluator  # noqa: E402
from privobf.priors import create_provider  # noqa: E402

PERSON = "x1_person_body"
PLATE = "a103_license_plate_complete"


def timed(provider, image):
    started = time.perf_counter()
    result = provider(image)
    return result, time.perf_counter() - started


def person_masks(root: Path, limit: int | None) -> dict:
    provider = create_provider("mediapipe-person")
    data = YoloDataset(root / "coco128", task="segment", class_map={"person": PERSON})
    intersection = union = 0
    per_image, seconds, images = [], [], 0
    for index in range(len(data)):
        if not data.has_labels(index):  # no segmentation labels: cannot score
            continue
        item = data[index]
        images += 1
        result, took = timed(provider, item.image)
        seconds.append(took)
        predicted = result.mask > 0.5
        truth = item.masks.get(PERSON, np.zeros(item.image.shape[:2], bool))
        inter, uni = int((predicted & truth).sum()), int((predicted | truth).sum())
        intersection, union = intersection + inter, union + uni
        if truth.any():
            per_image.append(inter / uni)
        if limit and images >= limit:
            break
    return {"provider": provider.version, "images": images, "images_with_person": len(per_image),
            "pooled_iou": intersection / max(1, union), "mean_image_iou": float(np.mean(per_image)) if per_image else None,
            "seconds_per_image": float(np.mean(seconds))}


def text_masks(root: Path, limit: int | None) -> dict:
    provider = create_provider("rapidocr")
    data = SroieDataset(root / "sroie")
    covered = truth_area = inside = predicted_area = 0
    seconds = []
    for index in range(len(data) if not limit else min(limit, len(data))):
        item = data[index]
        result, took = timed(provider, item.image)
        seconds.append(took)
        predicted, truth = result.mask > 0.5, item.extra["text_mask"]
        covered += int((predicted & truth).sum())
        truth_area += int(truth.sum())
        inside += int((predicted & truth).sum())
        predicted_area += int(predicted.sum())
    return {"provider": provider.version, "receipts": len(seconds), "recall_by_area": covered / max(1, truth_area),
            "precision_by_area": inside / max(1, predicted_area), "seconds_per_image": float(np.mean(seconds))}


def plate_masks(root: Path, limit: int | None) -> dict:
    data = OpenAlprDataset(root / "openalpr" / "eu")
    results = {}
    for name in ("haar-plate", "rapidocr"):
        provider = create_provider(name)
        evaluator = BoxCoverageEvaluator(coverage_threshold=0.5)
        seconds = []
        for index in range(len(data) if not limit else min(limit, len(data))):
            item = data[index]
            result, took = timed(provider, item.image)
            seconds.append(took)
            evaluator.process(mask=result.mask > 0.5, boxes=item.boxes[PLATE])
        results[name] = {"provider": provider.version, **evaluator.evaluate(), "seconds_per_image": float(np.mean(seconds))}
    return results


def faces(root: Path, limit: int | None, sheet: Path | None) -> dict:
    from PIL import Image, ImageDraw

    data = YoloDataset(root / "coco128", task="segment", class_map={"person": PERSON})
    results, tiles = {}, []
    for name in ("centerface", "mediapipe-face"):
        provider = create_provider(name)
        counts, seconds, images = [], [], 0
        for index in range(len(data)):
            if not data.has_labels(index):
                continue
            item = data[index]
            if PERSON not in item.labels:
                continue
            images += 1
            result, took = timed(provider, item.image)
            seconds.append(took)
            counts.append(len(result.boxes))
            if name == "centerface" and sheet is not None and len(tiles) < 12:
                tile = Image.fromarray(item.image)
                draw = ImageDraw.Draw(tile)
                for box in result.boxes:
                    draw.rectangle(box, outline=(255, 0, 0), width=3)
                tile.thumbnail((320, 320))
                tiles.append(tile)
            if limit and images >= limit:
                break
        results[name] = {"provider": provider.version, "person_images": images, "faces": int(sum(counts)),
                         "images_with_a_face": int(sum(c > 0 for c in counts)), "seconds_per_image": float(np.mean(seconds))}
    if sheet is not None and tiles:
        canvas = Image.new("RGB", (4 * 320, 320 * ((len(tiles) + 3) // 4)), "white")
        for k, tile in enumerate(tiles):
            canvas.paste(tile, ((k % 4) * 320, (k // 4) * 320))
        sheet.parent.mkdir(parents=True, exist_ok=True)
        canvas.save(sheet, quality=85)
        results["contact_sheet"] = str(sheet.relative_to(ROOT)) if sheet.is_relative_to(ROOT) else str(sheet)
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-root", default=os.environ.get("PRIVOBF_DATA", str(ROOT.parent / "shared" / "data")))
    parser.add_argument("--limit", type=int, help="at most this many images per part (quick runs)")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "priors_vs_ground_truth.json"))
    parser.add_argument("--sheet", default=str(ROOT / "docs" / "images" / "faces_centerface.jpg"))
    args = parser.parse_args()
    root = Path(args.data_root)
    report = {
        "command": " ".join(["python", "benchmarks/priors_vs_ground_truth.py", *sys.argv[1:]]),
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores",
        "data_root": str(root),
        "person_vs_coco128": person_masks(root, args.limit),
        "text_vs_sroie_lines": text_masks(root, args.limit),
        "plate_vs_openalpr_boxes": plate_masks(root, args.limit),
        "faces_on_coco128_person_images": faces(root, args.limit, Path(args.sheet) if args.sheet else None),
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(report, indent=1) + "\n")
    print(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
