"""Which OCR engine should privobf read text with (issue 18)? RapidOCR 1.4.4 (PP-OCRv4, the engine of the
`rapidocr` prior provider) against RapidOCR 3.10 (PP-OCRv6 small, bundled), on SROIE receipts.

    python benchmarks/ocr_engines.py [--receipts 40] [--split train]    # -> benchmarks/results/ocr_engines.json

Receipts: PrivMini's split of SROIE (`privobf.data.privmini.split_of`), "train" by default — the split
issue 18's choices may be made on. For each human-labelled text line (SROIE `box/ID.csv`: quad + transcript):

- **found**: an OCR line whose box overlaps the labelled box by IoU >= 0.5;
- **read exactly** / **character accuracy**: the found line's text against the transcript (case and spaces
  folded; character accuracy = 1 - edit distance / transcript length, floored at 0);
- **seconds per receipt**: detection + recognition (+ angle classification as each engine's default), one
  image at a time, after a warm-up.

Both engines run on ONNX Runtime's CPU provider with their bundled models; nothing is downloaded (RapidOCR
3.10 comes with the `bench` extra).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from protect import DEFAULT_DATA, box_iou, evenly_spaced  # noqa: E402
from run import RESULTS, machine  # noqa: E402


def engines() -> dict:
    """name -> callable(RGB pixels) -> [(box x0 y0 x1 y1, text)]."""
    from rapidocr import RapidOCR as RapidOCR3
    from rapidocr_onnxruntime import RapidOCR as RapidOCR1

    old, new = RapidOCR1(), RapidOCR3(params={"Global.log_level": "critical"})

    def boxes(quads):
        return [tuple(float(v) for v in (np.min(q[:, 0]), np.min(q[:, 1]), np.max(q[:, 0]), np.max(q[:, 1])))
                for q in (np.asarray(quad, dtype=np.float64).reshape(-1, 2) for quad in quads)]

    def run_old(pixels):
        result, _ = old(np.ascontiguousarray(pixels[:, :, ::-1]))
        return list(zip(boxes([r[0] for r in result or []]), [r[1] for r in result or []]))

    def run_new(pixels):
        result = new(np.ascontiguousarray(pixels[:, :, ::-1]))
        if result.boxes is None:
            return []
        return list(zip(boxes(result.boxes), result.txts))

    return {"rapidocr-onnxruntime 1.4.4 (PP-OCRv4)": run_old, "rapidocr 3.10.0 (PP-OCRv6 small)": run_new}


def folded(text: str) -> str:
    return "".join(text.lower().split())


def edit_distance(a: str, b: str) -> int:
    previous = list(range(len(b) + 1))
    for i, char_a in enumerate(a, 1):
        current = [i]
        for j, char_b in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (char_a != char_b)))
        previous = current
    return previous[-1]


def receipts(root: Path, split: str, count: int):
    from privobf.data.privmini import split_of
    from privobf.data.sroie import parse_box_file, quad_box
    from privobf.data.records import SkipReport
    from privobf.imageio import load_image

    folder = root / "sroie"
    stems = sorted(p.stem for p in (folder / "box").glob("*.csv") if split_of("sroie", p.stem) == split)
    for index in evenly_spaced(len(stems), count):
        stem = stems[index]
        image = next((p for p in (folder / "img").glob(f"{stem}.*")), None)
        if image is None:
            continue
        lines = [(quad_box(quad), text) for quad, text in parse_box_file(folder / "box" / f"{stem}.csv", SkipReport())]
        yield stem, load_image(image).pixels, lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-root", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--receipts", type=int, default=40)
    parser.add_argument("--split", choices=["train", "val"], default="train")
    args = parser.parse_args()
    engine_runs = engines()
    data = list(receipts(args.data_root, args.split, args.receipts))
    results = {}
    for name, run in engine_runs.items():
        run(data[0][1])  # warm-up
        found = exact = total = 0
        accuracy, seconds = [], []
        for _stem, pixels, lines in data:
            started = time.perf_counter()
            read = run(pixels)
            seconds.append(time.perf_counter() - started)
            for box, text in lines:
                total += 1
                best = max(read, key=lambda item: box_iou(item[0], box), default=None)
                if best is None or box_iou(best[0], box) < 0.5:
                    accuracy.append(0.0)
                    continue
                found += 1
                truth, got = folded(text), folded(best[1])
                exact += truth == got
                accuracy.append(max(0.0, 1.0 - edit_distance(truth, got) / max(len(truth), 1)))
        results[name] = {
            "lines": total, "found": round(found / total, 4), "read_exactly": round(exact / total, 4),
            "character_accuracy": round(float(np.mean(accuracy)), 4),
            "seconds_per_receipt": round(float(np.mean(seconds)), 3),
        }
        print(name, json.dumps(results[name]), flush=True)
    record = {
        "command": f"python benchmarks/ocr_engines.py --receipts {args.receipts} --split {args.split}",
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"), "machine": machine(),
        "data": f"SROIE, PrivMini {args.split} split, {len(data)} receipts evenly spaced",
        "results": results,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "ocr_engines.json").write_text(json.dumps(record, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
