"""Calibrate privobf's evidence fusion on calibration photos only: how often each detector's regions are
real, and how much each shape must grow to cover what a person would hide.

    python benchmarks/calibrate_evidence.py [--data-root DIR]     # -> src/privobf/evidence/calibration.json

Photos: the "calibration" split of `benchmarks/protect.py` (faces: dlib training.xml + roboflow valid;
people: PrivMini train COCO128; plates: PrivMini train OpenALPR). The "report" split is never read here,
so `make bench-protect` figures on it are not tuned on.

- **Precision per provider** (the fusion's e = precision(provider, confidence)): every region of the
  provider is matched to the ground truth (boxes: IoU >= 0.3, one detection per ground-truth box, highest
  confidence first; silhouettes: >= 50 % of the region's pixels on a labelled person; a detection on an
  ignored box does not count). Precision as a non-decreasing step function of confidence: pool-adjacent-
  violators over the detections sorted by confidence, each block's precision Laplace-smoothed
  ((tp + 1) / (n + 2)), so few detections never claim certainty.
- **Shapes**: for faces, the shape (ellipse inscribed in the grown detector box, or the grown box) and grow
  factors (width and height apart: face detectors' boxes are narrower than labelled faces) that hide the fewest pixels outside the ground-truth boxes while covering >= 90 % of the box of
  >= 95 % of the matched faces (the issue's target); for plates the cascade-box grow covering >= 97 % of
  matched plates on >= 90 %, then the text-line grow and drawing floor with the least leak among those
  meeting the issue's plate targets (>= 95 % of plates covered on >= 50 %, <= 2 % of the photo hidden
  outside plates; among options within 0.005 of the least leak, the least outside), cascade boxes with no text line inside calibrated apart (`haar-plate@no-text`); for
  people the drawing floor and silhouette margin with the least leak among those
  meeting the target over-obfuscation (<= 5 %). Where no option meets a target, the least leak + outside.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from protect import DEFAULT_DATA, box_coverage, box_iou, boxes_mask, select  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
TARGET = REPO / "src" / "privobf" / "evidence" / "calibration.json"
TEXT_PROVIDER = "ppocr-v6"  # the default set's text provider, detecting only: its plate-shaped lines are calibrated
PROVIDERS = {"centerface": "faces", "mediapipe-face": "faces", "haar-plate": "plates", "mediapipe-person": "people"}
FACE_GROWS = (1.1, 1.2, 1.3, 1.4, 1.5, 1.6, 1.7, 1.8, 2.0)
# (shape, (width grow, height grow)): detector boxes are narrower than the faces people mark, not shorter
FACE_SHAPES = tuple((shape, (wide, tall)) for shape in ("ellipse", "box") for wide in FACE_GROWS for tall in FACE_GROWS
                    if tall <= wide)
PLATE_SHAPES = tuple(("box", grow) for grow in (1.0, 1.05, 1.1, 1.15, 1.2, 1.3, 1.5))
PERSON_MARGINS = (0.0, 0.002, 0.004, 0.008, 0.016)
PERSON_FLOORS = (0.0, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7)
PLATE_FLOORS = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8)
PLATE_TEXT_GROWS = (1.1, 1.2, 1.3, 1.4, 1.5)
NO_TEXT_FLOORS = (0.0, 0.2)  # draw the cascade's boxes without text, or keep them as evidence only
LEAK_TIE = 0.005  # plate leak differences this small are one plate's edge on 84 photos: then the least outside
PLATE = "a103_license_plate_complete"


def match_boxes(regions, truth, ignored, threshold: float = 0.3):
    """[(confidence, is_true)] and {truth index: region} for box regions, greedy by confidence."""
    taken, outcomes, matched = set(), [], {}
    for region in sorted(regions, key=lambda r: -r.confidence):
        scores = [(box_iou(region.box, box), k) for k, box in enumerate(truth) if k not in taken]
        best = max(scores, default=(0.0, -1))
        if best[0] >= threshold:
            taken.add(best[1])
            matched[best[1]] = region
            outcomes.append((region.confidence, True))
        elif any(box_iou(region.box, box) >= threshold for box in ignored):
            continue
        else:
            outcomes.append((region.confidence, False))
    return outcomes, matched


def precision_steps(outcomes, min_block: int = 10) -> list[list[float]]:
    """[[minimum confidence, precision], ...], non-decreasing in confidence: pool-adjacent-violators on the
    detections sorted by confidence, blocks of fewer than `min_block` detections pooled with their lower
    neighbour, each block's precision Laplace-smoothed, then lowered where a higher block is lower (so
    smoothing never makes a confidence look better than a higher one)."""
    if not outcomes:
        return []
    tied: dict[float, list[float]] = {}  # detections of equal confidence cannot be told apart: one block
    for confidence, true in outcomes:
        entry = tied.setdefault(float(confidence), [0.0, 0.0])
        entry[0] += float(true)
        entry[1] += 1.0
    blocks: list[list[float]] = []  # [low confidence, true, count]
    for confidence in sorted(tied):
        blocks.append([confidence, *tied[confidence]])
        while len(blocks) > 1 and (blocks[-2][1] / blocks[-2][2] >= blocks[-1][1] / blocks[-1][2] or blocks[-2][2] < min_block):
            low, true_a, count_a = blocks[-2]
            _, true_b, count_b = blocks.pop()
            blocks[-1] = [low, true_a + true_b, count_a + count_b]
    if len(blocks) > 1 and blocks[-1][2] < min_block:  # the last block may be short: pool it downwards
        _, true_b, count_b = blocks.pop()
        blocks[-1] = [blocks[-1][0], blocks[-1][1] + true_b, blocks[-1][2] + count_b]
    smoothed = [(true + 1) / (count + 2) for _, true, count in blocks]
    for k in range(len(smoothed) - 2, -1, -1):
        smoothed[k] = min(smoothed[k], smoothed[k + 1])
    return [[round(block[0], 4), round(value, 4), int(block[2])] for block, value in zip(blocks, smoothed)]


def run(provider_name: str, photos):
    from privobf.evidence import regions_from_result
    from privobf.imageio import load_image
    from privobf.priors import create_provider

    provider = create_provider(provider_name)
    for photo in photos:
        pixels = load_image(photo.path).pixels
        yield photo, pixels, regions_from_result(provider_name, provider.kind, provider(pixels))


def shape_label(shape: str, grow) -> str:
    """"box 1.2" or, for a (width, height) grow, "box 1.6x1.5"."""
    return f"{shape} {grow:g}" if np.isscalar(grow) else f"{shape} {grow[0]:g}x{grow[1]:g}"


def calibrate_boxes(provider_name: str, photos, shapes, covered_at: float, needed: float):
    from privobf.evidence.regions import Region

    outcomes, coverage, outside = [], {option: [] for option in shapes}, {option: 0 for option in shapes}
    truth_pixels = 0
    for photo, pixels, regions in run(provider_name, photos):
        found, matched = match_boxes(regions, photo.boxes, photo.ignored)
        outcomes += found
        size = pixels.shape[:2]
        truth = boxes_mask(photo.boxes, *size)
        truth_pixels += int(truth.sum())
        for k, region in matched.items():
            for shape, grow in shapes:
                drawn = Region(region.kind, region.provider, region.box, region.confidence, shape).raster(size, grow)
                coverage[(shape, grow)].append(box_coverage(drawn, photo.boxes[k]) or 0.0)
                outside[(shape, grow)] += int((drawn & ~truth).sum())
    truths = sum(len(photo.boxes) for photo in photos)
    shares = {option: float(np.mean([c >= covered_at for c in values])) if values else 0.0 for option, values in coverage.items()}
    meeting = [option for option in shapes if shares[option] >= needed] or [max(shapes, key=lambda o: shares[o])]
    shape, grow = min(meeting, key=lambda option: outside[option])
    return {
        "steps": precision_steps(outcomes),
        "detections": len(outcomes), "true": int(sum(t for _, t in outcomes)), "ground_truth": truths,
        "matched": len(coverage[shapes[0]]),
        "covered_share_by_shape": {shape_label(s, g): round(v, 4) for (s, g), v in shares.items()},
        "outside_per_truth_pixel_by_shape": {shape_label(s, g): round(outside[(s, g)] / max(truth_pixels, 1), 4)
                                             for s, g in shapes},
        "chosen": [shape, *(grow if isinstance(grow, tuple) else (grow,))],
    }


def people_regions(photos):
    """(truth, regions) per people photo: whole-photo silhouettes, faces, and silhouettes around the faces."""
    from privobf.evidence import regions_from_result
    from privobf.evidence.people import people_around_faces
    from privobf.imageio import load_image
    from privobf.priors import create_provider

    providers = {name: create_provider(name) for name in ("mediapipe-person", "centerface")}
    for photo in photos:
        pixels = load_image(photo.path).pixels
        regions = [region for name, provider in providers.items()
                   for region in regions_from_result(name, provider.kind, provider(pixels))]
        regions += people_around_faces(pixels, regions, providers)
        yield photo.mask.astype(bool), regions


def person_outcomes(truth, regions, provider):
    outcomes = []
    for region in regions:
        if region.provider == provider and region.kind == "person":
            inside = region.raster(truth.shape)
            outcomes.append((region.confidence, bool(inside.any() and truth[inside].mean() >= 0.5)))
    return outcomes


def calibrate_people(photos, face_steps, face_shape, face_grow):
    """Precision of both silhouette providers, then the drawing floor and margin of the person mask (the
    drawn silhouettes and the faces) with the least leak at <= 5 % over-obfuscation on these photos."""
    from privobf.evidence.fusion import FusionConfig, region_precisions

    found = list(people_regions(photos))
    steps = {provider: precision_steps([o for truth, regions in found for o in person_outcomes(truth, regions, provider)])
             for provider in ("mediapipe-person", "mediapipe-person@faces")}
    config = FusionConfig(calibration={**steps, "centerface": face_steps})
    scored = [(truth, regions, region_precisions(regions, config)) for truth, regions in found]
    rates = {}
    for floor in PERSON_FLOORS:
        for margin in PERSON_MARGINS:
            visible = total = hidden_out = outside = 0
            for truth, regions, precisions in scored:
                size = truth.shape
                pixels_margin = int(round(margin * float(np.hypot(*size))))
                hidden = np.zeros(size, bool)
                for region, precision in zip(regions, precisions):
                    if region.kind == "face":
                        hidden |= region.raster(size, face_grow, shape=face_shape)
                    elif region.kind == "person" and precision >= floor:
                        hidden |= region.raster(size, margin=pixels_margin)
                visible += int((truth & ~hidden).sum())
                total += int(truth.sum())
                hidden_out += int((hidden & ~truth).sum())
                outside += int((~truth).sum())
            rates[(floor, margin)] = (visible / max(total, 1), hidden_out / max(outside, 1))
    within = [option for option, (_, over) in rates.items() if over <= 0.05]
    floor, margin = (min(within, key=lambda option: rates[option][0]) if within
                     else min(rates, key=lambda option: sum(rates[option])))
    return steps, {
        "leak_over_by_floor_and_margin": {f"{f} {m}": [round(a, 4), round(b, 4)] for (f, m), (a, b) in rates.items()},
        "chosen_floor": floor, "chosen_margin": margin,
        "detections": {provider: len([1 for truth, regions in found for r in regions if r.provider == provider])
                       for provider in steps},
    }


def other_photos_lines(root: Path, limit: int = 60):
    """Plate-shaped text lines on calibration photos without plates (PrivMini train COCO128 and SROIE
    receipts, evenly spaced, `limit` per source): all of them are false plates."""
    from privobf.data.privmini import PrivMini
    from privobf.evidence import regions_from_result
    from privobf.evidence.plates import plates_from_text
    from privobf.priors import create_provider
    from protect import evenly_spaced

    ocr = create_provider(TEXT_PROVIDER, read=False)
    privmini = PrivMini(root, split="train")
    lines, photos = [], 0
    for source in ("coco128", "sroie"):
        indices = [i for i, ref in enumerate(privmini.refs) if ref.source == source]
        for position in evenly_spaced(len(indices), limit):
            pixels = privmini[indices[position]].image
            text = regions_from_result(TEXT_PROVIDER, "text", ocr(pixels))
            lines += [(region.confidence, False) for region in plates_from_text(text, pixels.shape[:2])]
            photos += 1
    return lines, photos


def calibrate_plates(photos, haar_steps, root: Path):
    """Plate regions from the cascade and from plate-shaped text lines: the lines' precision on photos of
    every kind (a line is a real plate when its centre lies in a labelled plate box; on the COCO128 and
    receipt photos none is), then the text grow and drawing floor with the least leak among those covering
    >= 95 % of plates on >= 50 % with <= 2 % of the photo hidden outside plates."""
    from privobf.evidence import fuse, regions_from_result
    from privobf.evidence.fusion import FusionConfig
    from privobf.evidence.plates import NO_TEXT_SUFFIX, SUFFIX, plates_from_text, without_text
    from privobf.attributes import vocabulary_from_ids
    from privobf.imageio import load_image
    from privobf.priors import create_provider

    providers = {"haar-plate": create_provider("haar-plate"), TEXT_PROVIDER: create_provider(TEXT_PROVIDER, read=False)}
    found = []
    for photo in photos:
        pixels = load_image(photo.path).pixels
        regions = [region for name, provider in providers.items()
                   for region in regions_from_result(name, provider.kind, provider(pixels))]
        regions += plates_from_text(regions, pixels.shape[:2])
        found.append((photo, pixels.shape[:2], without_text(regions)))  # the text detector ran on every photo
    candidate = TEXT_PROVIDER + SUFFIX
    # Cascade boxes with no text line inside: their own precision (most are grilles, roofs, fences).
    no_text = "haar-plate" + NO_TEXT_SUFFIX
    blank_outcomes = []
    for photo, _size, regions in found:
        blank_outcomes += match_boxes([r for r in regions if r.provider == no_text], photo.boxes, photo.ignored)[0]
    blank_steps = precision_steps(blank_outcomes)
    outcomes = []
    for photo, _size, regions in found:
        for region in regions:
            if region.provider == candidate:
                cx, cy = (region.box[0] + region.box[2]) / 2, (region.box[1] + region.box[3]) / 2
                outcomes.append((region.confidence, any(b[0] <= cx <= b[2] and b[1] <= cy <= b[3] for b in photo.boxes)))
    elsewhere, other_photos = other_photos_lines(root)
    steps = precision_steps(outcomes + elsewhere)
    vocabulary = vocabulary_from_ids(["a0_safe", PLATE])
    rates = {}
    truths = [boxes_mask(photo.boxes, *size) for photo, size, _ in found]  # once, not once per option
    for grow, floor, blank_floor in ((g, f, b) for g in PLATE_TEXT_GROWS for f in PLATE_FLOORS for b in NO_TEXT_FLOORS):
        config = FusionConfig(calibration={"haar-plate": haar_steps, no_text: blank_steps, candidate: steps},
                              plate_text_grow=grow, draw_floor={"plate": floor, no_text: max(floor, blank_floor)})
        visible = total = hidden_out = pixels_all = 0
        covered = []
        for (photo, size, regions), truth in zip(found, truths):
            fused = fuse(np.array([0.5, 0.5], np.float32), regions, vocabulary, config)
            hidden = config.draw([regions[k] for k in fused.drawn.get(PLATE, [])], size)
            visible += int((truth & ~hidden).sum())
            total += int(truth.sum())
            hidden_out += int((hidden & ~truth).sum())
            pixels_all += truth.size
            covered += [(box_coverage(hidden, box) or 0.0) >= 0.5 for box in photo.boxes]
        rates[(grow, floor, blank_floor)] = (visible / max(total, 1), hidden_out / max(pixels_all, 1),
                                             float(np.mean(covered)) if covered else 0.0)
    covering = [option for option, (_, _, share) in rates.items() if share >= 0.95] or list(rates)
    within = [option for option in covering if rates[option][1] <= 0.02]
    # The least leak; among options within LEAK_TIE of it, the least hidden outside plates.
    pool = within or covering
    best = min(rates[option][0] + (0 if within else rates[option][1]) for option in pool)
    tied = [option for option in pool if rates[option][0] + (0 if within else rates[option][1]) <= best + LEAK_TIE]
    grow, floor, blank_floor = min(tied, key=lambda option: (rates[option][1], rates[option][0]))
    return steps, blank_steps, {
        "no_text_boxes": len(blank_outcomes), "no_text_true": int(sum(t for _, t in blank_outcomes)),
        "candidates": len(outcomes) + len(elsewhere),
        "candidates_on_plate_photos": len(outcomes), "true_on_plate_photos": int(sum(t for _, t in outcomes)),
        "candidates_on_other_photos": len(elsewhere), "other_photos": other_photos,
        "leak_outside_covered_by_text_grow_floor_and_no_text_floor": {f"{g} {f} {b}": [round(v, 4) for v in r]
                                                                        for (g, f, b), r in rates.items()},
        "chosen_text_grow": grow, "chosen_floor": floor, "chosen_no_text_floor": max(floor, blank_floor),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-root", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--out", type=Path, default=TARGET)
    args = parser.parse_args()
    started = time.time()
    photos = {task: select(task, "calibration", args.data_root, None, {})[0] for task in ("faces", "people", "plates")}
    providers = {}
    providers["centerface"] = calibrate_boxes("centerface", photos["faces"], FACE_SHAPES, 0.9, 0.95)
    providers["mediapipe-face"] = calibrate_boxes("mediapipe-face", photos["faces"], FACE_SHAPES, 0.9, 0.95)
    providers["haar-plate"] = calibrate_boxes("haar-plate", photos["plates"], PLATE_SHAPES, 0.9, 0.97)
    face = providers["centerface"]
    person_steps, people = calibrate_people(photos["people"], face["steps"], face["chosen"][0], tuple(face["chosen"][1:]))
    for provider, steps in person_steps.items():
        providers[provider] = {"steps": steps, "detections": people["detections"][provider]}
    text_steps, blank_steps, plates = calibrate_plates(photos["plates"], providers["haar-plate"]["steps"], args.data_root)
    providers[TEXT_PROVIDER + "@plate-shaped"] = {"steps": text_steps, "detections": plates["candidates"]}
    providers["haar-plate@no-text"] = {"steps": blank_steps, "detections": plates["no_text_boxes"]}
    document = {
        "command": "python benchmarks/calibrate_evidence.py",
        "data": {task: f"{len(found)} calibration photos ({'dlib training.xml + roboflow valid' if task == 'faces' else 'PrivMini train'})"
                 for task, found in photos.items()},
        "shapes": {
            "face_shape": face["chosen"][0],
            "face_grow": face["chosen"][1],
            "face_height_grow": face["chosen"][2],
            "plate_grow": providers["haar-plate"]["chosen"][1],
            "person_margin": people["chosen_margin"],
            "plate_text_grow": plates["chosen_text_grow"],
            "draw_floor": {"person": people["chosen_floor"], "plate": plates["chosen_floor"],
                           "haar-plate@no-text": plates["chosen_no_text_floor"]},
        },
        "people": people,
        "plates": plates,
        "providers": providers,
        "seconds": round(time.time() - started, 1),
    }
    args.out.write_text(json.dumps(document, indent=1) + "\n", encoding="utf-8")
    print(json.dumps(document["shapes"]))
    for name, entry in providers.items():
        print(name, json.dumps({k: v for k, v in entry.items() if k != "steps"}), "steps", json.dumps(entry["steps"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
