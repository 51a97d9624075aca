"""Seed and pseudo-mask quality of every attribution method, with and without each refinement.

For each seed method (CAM, Grad-CAM, AdvCAM, FickleNet, RIB) on the same images: the seeds' mIoU,
then the mIoU after dense CRF, IRN and AffinityNet random walks, and the seconds per image of each
stage. Mirrors the papers' protocol: maps are made for the images' own labels and scored on those
images (seeds and pseudo masks are training-set artefacts; IRN / AffinityNet train on them). Every
mIoU is at the stage's fixed threshold; the best over a sweep is reported beside it, marked as tuned
on ground truth, because that is how the papers' seed tables are made.

    python benchmarks/refine_methods.py --size 16 --methods cam,gradcam,advcam,ficklenet,rib
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from run import machine, write_result  # noqa: E402

SWEEP = [round(0.05 * k, 2) for k in range(1, 20)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="synthetic", help="synthetic or privmini")
    parser.add_argument("--split", default="train")
    parser.add_argument("--size", type=int, default=16, help="synthetic: number of scenes")
    parser.add_argument("--image-size", type=int, default=448)
    parser.add_argument("--data-seed", type=int, default=777, help="synthetic: scenes the shipped model never saw")
    parser.add_argument("--limit", type=int, help="use only N images, evenly spaced over the data set (all its sources)")
    parser.add_argument("--model", help="model file (default: the embedded model)")
    parser.add_argument("--methods", default="cam,gradcam,advcam,ficklenet,rib")
    parser.add_argument("--refiners", default="none,crf,irn,irn_per_class,affinitynet", help=(
        "irn_per_class walks with the head the irn stage trained, so it must come after irn"))
    parser.add_argument("--scales", default="1.0,0.5,1.5,2.0")
    parser.add_argument("--option", action="append", default=[], metavar="METHOD:KEY=VALUE", help=(
        "an option of a seed method or refiner, e.g. advcam:steps=8 or irn:min_steps=100 (say so when quoting the result)"))
    parser.add_argument("--work", default="benchmarks/work/refine_methods", help="stage folders (resumed between runs)")
    parser.add_argument("--name", default="refine_methods", help="results/NAME.json")
    parser.add_argument("--chain", help="work subfolder (default --name): another run's, to add refiners to its seeds")
    args = parser.parse_args()

    import torch

    from privobf.models.loading import load_image_model
    from privobf.refine.attribution import AttributionConfig, config_from_options, seed_method
    from privobf.refine.cam_model import CamModel
    from privobf.refine.commands import LimitedDataset
    from privobf.refine.pipeline import evaluate_localisations
    from privobf.refine.stages import crf_stage, seed_stage, stage_threshold
    from privobf.refine.store import StageStore
    from privobf.refine.walk_stages import walk_stage

    torch.manual_seed(0)
    model = CamModel(load_image_model(args.model)).eval()
    if args.data == "synthetic":
        from privobf.data.sources import build_source

        dataset = build_source("synthetic", n=args.size, image_size=args.image_size, seed=args.data_seed, split=args.split)
        description = f"synthetic split={args.split} n={args.size} size={args.image_size} seed={args.data_seed}"
    else:
        from privobf.data.sources import build_source

        dataset = build_source(args.data, split=args.split)
        description = f"{args.data} split={args.split}"
    if args.limit:
        dataset = LimitedDataset(dataset, args.limit, spread=True)
        description += f" limit={args.limit} (evenly spaced)"
    attribution = AttributionConfig(scales=tuple(float(s) for s in args.scales.split(",")))
    work = Path(args.work) / (args.chain or args.name)
    options: dict[str, dict[str, str]] = {}
    for text in args.option:
        method, _, pair = text.partition(":")
        key, _, value = pair.partition("=")
        options.setdefault(method, {})[key] = value
    rows = []
    for method in args.methods.split(","):
        registered = seed_method(method)
        config = config_from_options(registered.config_type, options.get(method, {}))
        seeds = work / method / "seeds"
        started = time.perf_counter()
        summary = seed_stage(model, dataset, method, config, attribution, str(seeds), data=description, resume=True)
        row = {"method": method, "options": options.get(method, {}), "stages": {}}
        for refiner in args.refiners.split(","):
            if refiner == "none":
                folder, stage_summary = seeds, summary
            elif refiner == "irn_per_class":  # IRN's trained head again, each class divided by its own max
                folder = work / method / refiner
                stage_summary = walk_stage("irn", model, dataset, str(seeds), str(folder), data=description,
                                           options={**options.get("irn", {}), "normalise": "per_class"},
                                           trained_head=str(work / method / "irn" / "irn.safetensors"), resume=True)
            elif refiner == "crf":
                folder = work / method / "crf"
                stage_summary = crf_stage(dataset, str(seeds), str(folder), model.attribute_ids, data=description, resume=True)
            else:
                folder = work / method / refiner
                stage_summary = walk_stage(refiner, model, dataset, str(seeds), str(folder), data=description,
                                           options=options.get(refiner, {}), resume=True)
            store = StageStore.open(folder)
            scores = evaluate_localisations(store, dataset, model.attribute_ids, stage_threshold(store), SWEEP)
            row["stages"][refiner] = {
                "miou": scores["miou"], "threshold": scores["threshold"], "iou": scores["iou"],
                "oracle_best_miou": scores["oracle"]["best_miou"], "oracle_best_threshold": scores["oracle"]["best_threshold"],
                "seconds_per_image_this_run": stage_summary.seconds_per_image,
                "seconds_per_image_stored": _stored_seconds(store),
                "n_images": scores["n_images"],
            }
            print(json.dumps({method: {refiner: row["stages"][refiner]["miou"]}}), file=sys.stderr, flush=True)
        row["wall_seconds_this_run"] = round(time.perf_counter() - started, 1)
        rows.append(row)
    write_result(args.name, {
        "command": "python " + " ".join(sys.argv),
        "data": description, "model": getattr(model.image_model, "source", {}).get("sha256"),
        "scales": list(attribution.scales), "flip": attribution.flip, "machine": machine(),
        "refiner_options": {name: options[name] for name in args.refiners.split(",") if name in options},
        "rule": ("mIoU at each stage's fixed threshold (seeds: the model's mask threshold; IRN: 0.25 on maps divided by "
                 "their global max; CRF / AffinityNet: their own background map); oracle_* = best over 0.05..0.95, "
                 "tuned on ground truth"),
        "rows": rows,
    })


def _stored_seconds(store) -> float | None:
    """Mean per-image seconds recorded in the stage's files (survives --resume across runs)."""
    seconds = [meta.get("extra", {}).get("seconds", meta.get("seconds")) for meta in store.metadata()]
    seconds = [float(value) for value in seconds if value is not None]
    return sum(seconds) / len(seconds) if seconds else None


if __name__ == "__main__":
    main()
