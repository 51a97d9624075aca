"""How much of a page the model's own mask covers where it finds a document or screen (issue 19, decision 51).

    python benchmarks/document_masks.py [--scenes 200]

On held-out synthetic document scenes (`privobf.data.document_scenes` seed 1, val-split backgrounds), for each
labelled document the embedded model finds (probability >= 0.5, priors and reading off), its map cut at the
scanner's mask threshold (0.3 of its peak), as is (`blob`), filled out to the rotated rectangle around each
part (`rectangles`, what the scanner draws: `evidence.layouts.page_rectangles`) and to each part's convex hull
(`hull`): the share of the page's visible pixels covered (pooled) and the share of the other pixels hidden.
Writes benchmarks/results/document_masks.json.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run import RESULTS, machine  # noqa: E402


def hulls(mask: np.ndarray) -> np.ndarray:
    parts, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    filled = np.zeros(mask.shape, np.uint8)
    for part in parts:
        cv2.fillPoly(filled, [cv2.convexHull(part)], 1)
    return filled.astype(bool) | mask


def main() -> int:
    from privobf.data.document_scenes import DocumentScenes
    from privobf.evidence.layouts import page_rectangles
    from privobf.report import upsample_maps
    from privobf.scanning import Scanner

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenes", type=int, default=200)
    args = parser.parse_args()
    started = time.time()
    scanner = Scanner()
    threshold = scanner.inference.mask_threshold
    ids = scanner.model.attribute_ids
    scenes = DocumentScenes(args.scenes, seed=1, split="val")
    counts = {name: [0, 0, 0, 0] for name in ("blob", "rectangles", "hull")}  # covered, page, hidden outside, outside
    documents = found = 0
    for index in range(len(scenes)):
        scene = scenes[index]
        if not scene.labels:
            continue
        raw = scanner.predict(scene.image)
        for attribute in scene.labels:
            documents += 1
            k = ids.index(attribute)
            if raw["probabilities"][k] < 0.5:
                continue
            found += 1
            soft = upsample_maps(raw["raw_maps"][k:k + 1], scene.image.shape[:2])[0]
            blob = soft / max(float(soft.max()), 1e-6) >= threshold
            truth = scene.masks[attribute]
            for name, mask in (("blob", blob), ("rectangles", page_rectangles(blob)), ("hull", hulls(blob))):
                entry = counts[name]
                entry[0] += int((mask & truth).sum())
                entry[1] += int(truth.sum())
                entry[2] += int((mask & ~truth).sum())
                entry[3] += int((~truth).sum())
    results = {name: {"page_covered": round(c[0] / max(c[1], 1), 4), "outside_hidden": round(c[2] / max(c[3], 1), 4)}
               for name, c in counts.items()}
    document = {"command": "python benchmarks/document_masks.py " + " ".join(sys.argv[1:]), "machine": machine(),
                "data": f"DocumentScenes seed 1, val backgrounds, {args.scenes} scenes", "mask_threshold": threshold,
                "documents": documents, "found_at_0.5": found, "results": results,
                "seconds": round(time.time() - started, 1)}
    (RESULTS / "document_masks.json").write_text(json.dumps(document, indent=1) + "\n", encoding="utf-8")
    print(json.dumps(document, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
