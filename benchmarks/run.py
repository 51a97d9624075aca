"""`make bench`: training throughput, scan latency and peak memory, written to benchmarks/results/.

Each measurement runs in its own process so that its peak resident memory is its own. Results
carry the command, the machine and the versions, so every figure in the docs can name its source.
Targets live here, not in timed tests.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np
import torch

RESULTS = Path(__file__).resolve().parent / "results"


def machine() -> dict:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor()) if Path("/proc/cpuinfo").exists() else platform.processor()
    return {"cpu": cpu, "cores": os.cpu_count(), "torch_threads": torch.get_num_threads(), "torch": torch.__version__,
            "python": platform.python_version(), "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None}


def write_result(name: str, record: dict) -> Path:
    """Print a benchmark's record and write it to benchmarks/results/NAME.json."""
    print(json.dumps(record, indent=1))
    RESULTS.mkdir(parents=True, exist_ok=True)
    target = RESULTS / f"{name}.json"
    target.write_text(json.dumps(record, indent=1) + "\n")
    return target


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def bench_train(preset_name: str, steps: int, batch_size: int) -> dict:
    from privobf.attributes import vocabulary_from_ids
    from privobf.data.sources import build_source
    from privobf.models.config import get_preset
    from privobf.train.engine import train

    preset = get_preset(preset_name)
    preset = dataclasses.replace(
        preset,
        model=dataclasses.replace(preset.model, pretrained=preset.model.pretrained if preset_name != "paper" else False),
        train=dataclasses.replace(preset.train, epochs=1, batch_size=batch_size, max_steps_per_epoch=steps, num_workers=1),
    )
    data = build_source("synthetic", n=steps * batch_size, image_size=preset.model.image_size, seed=0, split="train")
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        result = train(preset, data, vocabulary_from_ids(data.vocabulary_ids), folder, progress=False)
    record = result.history[-1]
    return {"preset": preset_name, "backbone": preset.model.backbone, "image_size": preset.model.image_size,
            "crop_size": preset.model.crop_size, "n_crops": preset.model.n_crops, "batch_size": batch_size, "steps": steps,
            "images_per_second": record["images_per_second"], "note": "includes Model-Cropped; first step included"}


def bench_scan(preset_name: str, repeats: int, model_path: str | None, single_scale: bool = False) -> dict:
    from privobf.attributes import vocabulary_from_ids
    from privobf.data.synthetic import SYNTHETIC_ATTRIBUTES
    from privobf.models.config import get_preset
    from privobf.models.loading import build_model
    from privobf.models.privobfnet import ImageModel
    from privobf.scanning import Scanner

    if model_path:
        scanner = Scanner(model_path)
    else:  # same architecture, random weights: latency does not depend on the values
        preset = get_preset(preset_name)
        preset = dataclasses.replace(preset, model=dataclasses.replace(preset.model, pretrained=False, use_cropped=False))
        ids = ["a0_safe", *SYNTHETIC_ATTRIBUTES]
        net = build_model(preset, vocabulary_from_ids(ids))
        model = ImageModel(preset.model, ids, net.image)
        model.preset = preset
        scanner = Scanner(model)
    if single_scale:  # the paper's 4 scales + flip reach 896x896 inputs: minutes per image for ResNet-38 on a CPU
        scanner.inference = dataclasses.replace(scanner.inference, scales=(1.0,), flip=False)
    rng = np.random.default_rng(0)
    out = {"preset": preset_name, "model": model_path or "random weights", "inference": dataclasses.asdict(scanner.inference)}
    with torch.inference_mode():
        for label, (height, width) in (("448x448", (448, 448)), ("1024x768", (768, 1024))):
            image = rng.integers(0, 255, (height, width, 3), dtype=np.uint8)
            scanner.scan(image)  # warm-up
            times = []
            for _ in range(repeats):
                started = time.perf_counter()
                scanner.scan(image)
                times.append(time.perf_counter() - started)
            out[label] = {"p50_ms": round(1000 * float(np.percentile(times, 50)), 1),
                          "p95_ms": round(1000 * float(np.percentile(times, 95)), 1), "repeats": repeats}
    return out


def _embedded() -> str:
    from privobf.models.loading import embedded_model_path

    return str(embedded_model_path())


JOBS = {
    "train_default": lambda a: bench_train("default", steps=6, batch_size=8),
    "train_paper": lambda a: bench_train("paper", steps=1, batch_size=1),
    "scan_default": lambda a: bench_scan("default", repeats=20, model_path=a.model or _embedded()),
    "scan_resnet38": lambda a: bench_scan("paper", repeats=3, model_path=None, single_scale=True),
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--only", choices=sorted(JOBS), help="run one measurement in this process")
    parser.add_argument("--model", help="model for scan_default (default: the embedded model)")
    parser.add_argument("--skip", default="", help="comma-separated jobs to skip")
    args = parser.parse_args()
    if args.only:
        result = JOBS[args.only](args)
        result["peak_rss_mib"] = round(peak_rss_mib(), 1)
        print("RESULT " + json.dumps(result))
        return 0
    RESULTS.mkdir(parents=True, exist_ok=True)
    results = {}
    for name in JOBS:
        if name in args.skip.split(","):
            continue
        command = [sys.executable, __file__, "--only", name] + (["--model", args.model] if args.model else [])
        completed = subprocess.run(command, capture_output=True, text=True)
        line = next((l for l in completed.stdout.splitlines() if l.startswith("RESULT ")), None)
        results[name] = json.loads(line[7:]) if line else {"error": completed.stderr.strip().splitlines()[-1:]}
        print(name, json.dumps(results[name]))
    record = {"command": "make bench  (python benchmarks/run.py" + (f" --model {args.model}" if args.model else "") + ")",
              "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"), "machine": machine(), "results": results}
    (RESULTS / "bench.json").write_text(json.dumps(record, indent=1) + "\n")
    print(f"wrote {RESULTS / 'bench.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
