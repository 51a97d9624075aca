"""The second stage: a segmentation network trained on pseudo labels, plain cross-entropy against DSRG.

Chain on training scenes: CAM seeds -> refinement (none / crf / irn) -> pseudo labels (confident regions,
ignore band) -> the DeepLab-v2-style network, trained once with cross-entropy and once with DSRG's seeded
region growing. Both networks are scored on *other* scenes (a different data seed and the val photo
pool), where nothing was tuned, beside the classifier's own masks on the same scenes (`privobf evaluate`'s
end-to-end mIoU: its attribute decisions, its attention maps at the fixed threshold). The pseudo labels'
own quality on the training scenes is reported too.

    python benchmarks/second_stage.py --train-size 96 --val-size 32 --refine irn
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from run import machine, write_result  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train-size", type=int, default=96, help="synthetic training scenes")
    parser.add_argument("--val-size", type=int, default=32, help="synthetic evaluation scenes")
    parser.add_argument("--image-size", type=int, default=448)
    parser.add_argument("--train-seed", type=int, default=778, help="scenes the shipped model never saw")
    parser.add_argument("--val-seed", type=int, default=779)
    parser.add_argument("--scales", default="1.0,0.5")
    parser.add_argument("--refine", default="irn", choices=["none", "crf", "irn"])
    parser.add_argument("--refine-option", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--seg-option", action="append", default=[], metavar="KEY=VALUE",
                        help="a SegmentationConfig field for both networks, e.g. epochs=10 (say so when quoting)")
    parser.add_argument("--variants", default="plain,dsrg")
    parser.add_argument("--work", default="benchmarks/work/second_stage")
    parser.add_argument("--chain", help="work subfolder of the seeds / refined / pseudo labels (default --name): "
                        "another run's, to train other networks on the same pseudo labels")
    parser.add_argument("--name", default="second_stage_synthetic")
    args = parser.parse_args()

    import torch

    from privobf.data.sources import build_source
    from privobf.evaluate.run import evaluate_model
    from privobf.models.loading import load_image_model
    from privobf.refine.attribution import AttributionConfig, NoOptions, config_from_options
    from privobf.refine.cam_model import CamModel
    from privobf.refine.commands import parse_options
    from privobf.refine.pseudo_labels import PseudoLabelConfig
    from privobf.refine.stages import crf_stage, evaluate_pseudo_labels, pseudo_label_stage, seed_stage, train_seg_stage
    from privobf.refine.store import StageStore
    from privobf.refine.walk_stages import walk_stage
    from privobf.scanning import Scanner
    from privobf.segmentation import SegmentationConfig, SegmentationPredictor, evaluate_segmentation, load_segmentation

    torch.manual_seed(0)
    model = CamModel(load_image_model(None)).eval()
    ids = model.attribute_ids
    train = build_source("synthetic", n=args.train_size, image_size=args.image_size, seed=args.train_seed, split="train")
    val = build_source("synthetic", n=args.val_size, image_size=args.image_size, seed=args.val_seed, split="val")
    train_description = f"synthetic split=train n={args.train_size} size={args.image_size} seed={args.train_seed}"
    val.exclusive_masks = False  # overlapping masks: both sides scored per attribute, like the classifier
    val_description = f"synthetic split=val n={args.val_size} size={args.image_size} seed={args.val_seed}"
    work = Path(args.work) / (args.chain or args.name)
    seconds: dict[str, float] = {}

    def timed(name, run):
        started = time.perf_counter()
        result = run()
        seconds[name] = round(time.perf_counter() - started, 1)
        print(f"{name}: {seconds[name]} s", file=sys.stderr, flush=True)
        return result

    attribution = AttributionConfig(scales=tuple(float(s) for s in args.scales.split(",")))
    timed("seeds", lambda: seed_stage(model, train, "cam", NoOptions(), attribution, str(work / "seeds"),
                                      data=train_description, resume=True))
    maps = work / "seeds"
    if args.refine == "crf":
        maps = work / "refined-crf"
        timed("refine", lambda: crf_stage(train, str(work / "seeds"), str(maps), ids, data=train_description, resume=True))
    elif args.refine == "irn":
        maps = work / "refined-irn"
        timed("refine", lambda: walk_stage("irn", model, train, str(work / "seeds"), str(maps), data=train_description,
                                           options=parse_options(args.refine_option), resume=True))
    label_config = PseudoLabelConfig.preset("irn", kind="exclusive")
    labels = work / "pseudo-labels"
    timed("pseudo_labels", lambda: pseudo_label_stage(train, str(maps), str(labels), ids, label_config,
                                                      data=train_description, resume=True))
    pseudo_quality = evaluate_pseudo_labels(StageStore.open(labels), train, ids)

    baseline = timed("classifier_eval", lambda: evaluate_model(Scanner(None), val, use_priors=False))
    rows = {"classifier_attention_maps": {
        "miou_end_to_end": baseline["masks_end_to_end"]["miou"],
        "miou_given_true_attributes": baseline["masks_localisation"]["miou"],
        "iou_end_to_end": baseline["masks_end_to_end"].get("iou"),
    }}
    seg_options = parse_options(args.seg_option)
    for variant in args.variants.split(","):
        config = config_from_options(SegmentationConfig, {**seg_options, "dsrg": str(variant == "dsrg"), "device": "cpu"})
        suffix = "".join(f"-{key}{value}" for key, value in sorted(seg_options.items()))
        folder = work / f"segmentation-{variant}{suffix}"
        checkpoint = folder / "segmentation.safetensors"
        if not checkpoint.is_file():  # resumable between runs: continue from the last finished epoch
            checkpoint = timed(f"train_{variant}", lambda: train_seg_stage(
                train, str(labels), str(folder), ids, config, resume=(folder / "last.safetensors").is_file()))
        scores = timed(f"eval_{variant}", lambda: evaluate_segmentation(SegmentationPredictor(load_segmentation(checkpoint)), val))
        scores.pop("confusion", None)
        rows[f"segmentation_{variant}"] = {"config": config.to_dict(), **scores}
    write_result(args.name, {
        "command": "python " + " ".join(sys.argv),
        "train_data": train_description, "eval_data": val_description,
        "model": getattr(model.image_model, "source", {}).get("sha256"),
        "chain": {"seeds": "cam", "scales": list(attribution.scales), "refine": args.refine,
                  "refine_options": parse_options(args.refine_option), "pseudo_labels": "irn preset, exclusive, band + label CRF"},
        "pseudo_labels_on_train": {k: v for k, v in pseudo_quality.items() if k != "confusion"},
        "results_on_eval": rows,
        "seconds": seconds, "machine": machine(),
        "rule": ("segmentation: exclusive argmax over background + attributes, no image labels given; classifier: "
                 "its own attribute decisions (p >= 0.5) and attention maps at the fixed mask threshold 0.3 "
                 "(miou_end_to_end), or with the true attributes given (miou_given_true_attributes). Same pooled "
                 "per-attribute IoU (MultiLabelMaskIoU) for both on the multi-label synthetic masks."),
    })


if __name__ == "__main__":
    main()
