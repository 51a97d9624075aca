"""CAM extraction at 4 scales + flip: privobf's batched inference against the reference-style loop.

    python benchmarks/cam_throughput.py [--photos 32] [--batches 1,2,8] [--repeats 2]

Reference style = IRN's `make_cam.py`: for each image, for each scale, one forward pass of the image
and its mirror (a batch of 2), then the maps are resized to the stride-level size, the mirror's flipped
back, and everything summed and max-normalised. privobf (`Scanner.predict_many`) runs, at each scale,
every photo of a batch that shares an input size, with its mirror, in one forward pass. Same backbone and
weights (the embedded default model), same photos (COCO128, priors off), scales (1.0, 0.5, 1.5, 2.0) as
IRN; the maps of the two paths are compared so that the ratio is between equal work. The paths are timed
in alternating rounds (the machine's drift hits both alike), for several photo batch sizes. Writes
benchmarks/results/cam_throughput.json.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run import machine, write_result  # noqa: E402

SCALES = (1.0, 0.5, 1.5, 2.0)


@torch.inference_mode()
def reference_cams(scanner, image: np.ndarray) -> np.ndarray:
    """IRN's make_cam loop for one image: one (image, mirror) forward per scale."""
    from privobf.data.batching import image_to_tensor
    from privobf.scanning import model_input_size

    model = scanner.model
    stride = model.branch.backbone.output_stride
    height, width = image.shape[:2]
    map_size = tuple(side // stride for side in model_input_size(height, width, model.config.image_size, stride))
    total = None
    for scale in SCALES:
        size = model_input_size(height, width, int(round(model.config.image_size * scale)), stride)
        tensor = image_to_tensor(image, size)[None]
        pack = torch.cat([tensor, tensor.flip(-1)])
        maps = F.relu(model(pack, None).attention_maps.float())
        maps = F.interpolate(maps, size=map_size, mode="bilinear", align_corners=False)
        merged = maps[0] + maps[1].flip(-1)
        total = merged if total is None else total + merged
    maxima = total.flatten(1).max(dim=1).values.clamp(min=1e-5)
    return (total / maxima[:, None, None]).numpy()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=int, default=32)
    parser.add_argument("--batches", default="1,2,8", help="photos per predict_many call, comma-separated")
    parser.add_argument("--repeats", type=int, default=2, help="timed rounds (after one warm-up round)")
    parser.add_argument("--data-root", default=os.environ.get("PRIVOBF_DATA", str(Path(__file__).resolve().parents[2] / "shared" / "data")))
    args = parser.parse_args()

    from inference_speed import interleaved_medians
    from privobf.imageio import load_image
    from privobf.scanning import Scanner

    scanner = Scanner()
    scanner.inference = dataclasses.replace(scanner.inference, scales=SCALES, flip=True)
    paths = sorted((Path(args.data_root) / "coco128" / "images").rglob("*.jpg"))[: args.photos]
    images = [load_image(path).pixels for path in paths]
    sizes = [int(size) for size in args.batches.split(",")]

    def batched(size: int):
        return lambda: [raw for i in range(0, len(images), size) for raw in scanner.predict_many(images[i : i + size])]

    variants = {"reference_loop": lambda: [reference_cams(scanner, image) for image in images]}
    variants.update({f"privobf_batch_{size}": batched(size) for size in sizes})
    medians = interleaved_medians(variants, args.repeats)
    reference = [reference_cams(scanner, image) for image in images[:8]]
    difference = max(float(np.abs(a - b["attention_maps"]).max())
                     for a, b in zip(reference, scanner.predict_many(images[:8])))
    record = {
        "command": f"python benchmarks/cam_throughput.py --photos {args.photos} --batches {args.batches} --repeats {args.repeats}",
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "machine": machine(),
        "data": f"first {len(images)} COCO128 photos ({args.data_root}), decoded before timing",
        "model": dict(scanner.model.source),
        "scales": SCALES,
        "flip": True,
        "images_per_second": {name: round(len(images) / seconds, 3) for name, seconds in medians.items()},
        "speedup_over_reference": {name: round(medians["reference_loop"] / seconds, 3)
                                   for name, seconds in medians.items() if name != "reference_loop"},
        "max_abs_map_difference_batch_8": difference,
    }
    write_result("cam_throughput", record)
    return 0


if __name__ == "__main__":
    sys.exit(main())
