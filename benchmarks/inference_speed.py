"""Each inference-speed choice measured before/after, on the embedded model and real photos.

    python benchmarks/inference_speed.py [--photos 32] [--repeats 3]

The model stage (one 640x480 photo: 1 scale + flip at the default 320 px long side), each variant alone:
grad mode (no_grad vs inference_mode), the mirror in the same forward pass vs a second pass, memory
format (contiguous vs channels-last), intra-op threads (1 vs 2), and the backend (PyTorch vs ONNX
Runtime, when the `onnx` extra is installed). Then the whole photo (decode, priors, model, obfuscation,
encode) over COCO128 photos: one after the other; with the priors of the next photo computed in a
background thread while the model runs on this one; and one after the other with OpenMP's default
(spinning) wait policy instead of PASSIVE, each in a fresh process. Writes benchmarks/results/inference_speed.json.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable

if "--whole-photo" not in sys.argv:  # that part sets (or not) the OpenMP wait policy in its own process
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run import machine, write_result  # noqa: E402


def interleaved_medians(variants: dict[str, Callable[[], object]], repeats: int) -> dict[str, float]:
    """Median seconds of each variant, timed in rounds (A B C A B C ...) so that drift of the machine
    (other load, clock) hits every variant alike; one untimed warm-up round first."""
    times: dict[str, list[float]] = {name: [] for name in variants}
    for round_ in range(repeats + 1):
        for name, function in variants.items():
            started = time.perf_counter()
            function()
            if round_:
                times[name].append(time.perf_counter() - started)
    return {name: float(np.median(values)) for name, values in times.items()}


def model_stage(images: list[np.ndarray], repeats: int) -> dict:
    from privobf.data.batching import image_to_tensor
    from privobf.scanning import Scanner, model_input_size

    scanner = Scanner()
    model = scanner.model
    stride = model.branch.backbone.output_stride
    size = model_input_size(*images[0].shape[:2], model.config.image_size, stride)
    tensors = [image_to_tensor(image, size)[None] for image in images]
    channels_last_copy = copy.deepcopy(model).to(memory_format=torch.channels_last)

    def run(paired: bool = True, grad_mode=torch.inference_mode, channels_last: bool = False,
            threads: int | None = None) -> Callable[[], None]:
        network = channels_last_copy if channels_last else model

        def once() -> None:
            default = torch.get_num_threads()
            torch.set_num_threads(threads or default)
            try:
                with grad_mode():
                    for tensor in tensors:
                        batch = torch.cat([tensor, tensor.flip(-1)])
                        if channels_last:
                            batch = batch.contiguous(memory_format=torch.channels_last)
                        if paired:
                            network(batch, None)
                        else:
                            network(batch[:1], None)
                            network(batch[1:], None)
            finally:
                torch.set_num_threads(default)
        return once

    variants = {
        "inference_mode (shipped)": run(),
        "no_grad": run(grad_mode=torch.no_grad),
        "mirror_in_a_second_pass": run(paired=False),
        "channels_last": run(channels_last=True),
        "threads_1": run(threads=1),
    }
    medians = interleaved_medians(variants, repeats)
    out: dict = {"photos": len(tensors), "input": list(size), "torch_threads": torch.get_num_threads()}
    out.update({name: round(1000 * seconds / len(tensors), 2) for name, seconds in medians.items()})
    out["onnxruntime"] = onnx_stage(scanner, images, repeats)
    return out


def onnx_stage(scanner, images: list[np.ndarray], repeats: int) -> dict | str:
    """The whole predict() (model stage) through each backend, where the onnx extra is installed."""
    try:
        from privobf.scanning import Scanner

        onnx = Scanner(scanner.model, backend="onnx")
    except ImportError as error:  # the extra is optional; say why it was not measured
        return f"not measured: {error}"
    medians = interleaved_medians({
        "torch": lambda: [scanner.predict(image) for image in images],
        "onnx": lambda: [onnx.predict(image) for image in images],
    }, repeats)
    difference = max(float(np.abs(onnx.predict(i)["probabilities"] - scanner.predict(i)["probabilities"]).max())
                     for i in images[:4])
    return {"torch_predict_ms": round(1000 * medians["torch"] / len(images), 2),
            "onnx_predict_ms": round(1000 * medians["onnx"] / len(images), 2),
            "max_abs_probability_difference": difference}


def whole_photo(paths: list[Path], concurrent: bool) -> dict:
    """Decode + priors + model + obfuscation + encode per photo, sequential or with priors one photo ahead."""
    from concurrent.futures import ThreadPoolExecutor

    from privobf.batch import prepare
    from privobf.imageio import encode_image
    from privobf.inputs import InputFile
    from privobf.priors import PriorSet
    from privobf.protection import ProtectionPlan
    from privobf.scanning import Scanner

    scanner, prior_set = Scanner(), PriorSet()
    plan = ProtectionPlan(scanner.vocabulary)
    items = [InputFile(path, Path(".")) for path in paths]
    prepare(items[0], prior_set)  # load the detectors before timing

    def finish(prepared) -> None:
        report = scanner.scan_many([prepared.loaded.pixels], [prepared.priors])[0]
        encode_image(plan.apply(prepared.loaded.pixels, report, plan.decide(report)), "JPEG", quality=95)

    started = time.perf_counter()
    with ThreadPoolExecutor(1) if concurrent else contextlib.nullcontext() as pool:
        if pool is None:
            for item in items:
                finish(prepare(item, prior_set))
        else:
            ahead = pool.submit(prepare, items[0], prior_set)
            for following in items[1:] + [None]:
                prepared = ahead.result()
                if following is not None:
                    ahead = pool.submit(prepare, following, prior_set)
                finish(prepared)
    seconds = time.perf_counter() - started
    return {"photos": len(items), "images_per_second": round(len(items) / seconds, 3)}


def whole_photo_in_process(args, concurrent: bool, passive: bool) -> dict:
    """`whole_photo` in a fresh process: OpenMP reads its wait policy once, when torch starts."""
    env = {key: value for key, value in os.environ.items() if key != "OMP_WAIT_POLICY"}
    if passive:
        env["OMP_WAIT_POLICY"] = "PASSIVE"
    command = [sys.executable, __file__, "--photos", str(args.photos), "--data-root", args.data_root,
               "--whole-photo", "background" if concurrent else "sequential"]
    completed = subprocess.run(command, capture_output=True, text=True, env=env, check=True)
    line = next(line for line in completed.stdout.splitlines() if line.startswith("RESULT "))
    return {**json.loads(line[7:]), "OMP_WAIT_POLICY": env.get("OMP_WAIT_POLICY", "unset")}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--data-root", default=os.environ.get("PRIVOBF_DATA", str(Path(__file__).resolve().parents[2] / "shared" / "data")))
    parser.add_argument("--whole-photo", choices=["sequential", "background"], help=argparse.SUPPRESS)
    args = parser.parse_args()

    from privobf.imageio import load_image

    every = sorted((Path(args.data_root) / "coco128" / "images").rglob("*.jpg"))
    paths = every[: args.photos]
    if args.whole_photo:
        print("RESULT " + json.dumps(whole_photo(paths, concurrent=args.whole_photo == "background")))
        return 0
    images = [image for image in (load_image(path).pixels for path in every) if image.shape[:2] == (480, 640)][:16]
    record = {
        "command": f"python benchmarks/inference_speed.py --photos {args.photos} --repeats {args.repeats}",
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "machine": machine(),
        "data": f"COCO128 ({args.data_root}): model stage on its first 16 photos of 640x480, whole photo on "
                f"its first {args.photos} photos",
        "model_stage_ms_per_photo": model_stage(images, args.repeats),
        "whole_photo": {
            f"{'priors_in_background_thread' if concurrent else 'sequential'}, OMP_WAIT_POLICY="
            f"{'PASSIVE' if passive else 'unset'}": whole_photo_in_process(args, concurrent, passive)
            for concurrent in (False, True) for passive in (True, False)
        },
    }
    write_result("inference_speed", record)
    return 0


if __name__ == "__main__":
    sys.exit(main())
