"""`privobf evaluate`: one model, one held-out split, every number of the core evaluation in one JSON.

Protocol (fixed before looking at any result, see docs/results.md):
- privacy score: the report's overall score vs the mean over the 30 VISPR profiles of the
  max-pooled sensitivities of the true labels, both in [0, 1]: L1, Pearson, Spearman;
- attributes: accuracy at probability 0.5 and average precision per attribute, means over
  attributes with at least `--min-positives` positives;
- masks: per-attribute IoU pooled over the split at the model's fixed mask threshold. "localisation"
  asks for the masks of the true attributes (how well the maps locate what is there); "end_to_end"
  uses the attributes the model itself finds (what a user gets);
- protection: obfuscate the true attributes (solid fill) and count the ground-truth sensitive
  pixels left unchanged (leak rate) and the other pixels changed (over-obfuscation);
- data with exclusive class masks (PASCAL VOC, COCO): also the classic WSSS seed quality, one label
  map per image (background where no present class reaches the fixed threshold, 255 ignored) scored
  with one confusion matrix over the split;
- data whose labels no VISPR profile rates (VOC, COCO classes): no privacy-score numbers.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from ..attributes import vispr_profiles, vocabulary_from_ids
from .evaluators import (
    AttributeEvaluator,
    BoxCoverageEvaluator,
    LabelMapEvaluator,
    MaskEvaluator,
    ProtectionEvaluator,
    ScoreEvaluator,
    to_jsonable,
)


def add_evaluate_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", help="model file (.safetensors); default: the embedded model")
    parser.add_argument("--data", default=None, help=(
        "data source: synthetic (default without --data-root) | privmini (default with --data-root) | vispr | voc | "
        "coco | yolo | openalpr | sroie"))
    parser.add_argument("--data-root", help=(
        "folder of a real data set in its original layout; alone, the PrivMini benchmark on a folder with coco128/, "
        "openalpr/eu/ and sroie/ (the layout of ../shared/data)"))
    parser.add_argument("--split", help="split of a real data set (default: val; VISPR test: --split test, COCO: val2014)")
    parser.add_argument("--n", type=int, default=300, help="synthetic: number of held-out scenes (default 300)")
    parser.add_argument("--data-seed", type=int, default=10_000, help="synthetic: seed of the held-out scenes (default 10000)")
    parser.add_argument("--image-size", type=int, help="synthetic: scene side in pixels (default: the model's input side)")
    from ..priors.options import add_prior_arguments

    add_prior_arguments(parser, default="off", help_text=(
        "on: weight the maps by priors: the data's own where it has them (the synthetic scenes' simulated masks), "
        "else computed by --prior-providers (real photos); off (default): no priors"))
    parser.add_argument("--mask-threshold", type=float, help="override the model's fixed mask threshold (say so when reporting)")
    parser.add_argument("--min-positives", type=int, default=10, help="attributes with fewer positives are left out of means")
    parser.add_argument("--out", help="write the JSON report here (default: print it)")


def evaluate_model(scanner, dataset, *, use_priors: bool, min_positives: int = 10) -> dict[str, Any]:
    """Run every evaluator over `dataset` (items with image, labels, masks, priors) with `scanner`."""
    from ..obfuscation import obfuscate

    ids = list(scanner.model.attribute_ids)
    vocabulary = vocabulary_from_ids(ids)
    profiles = vispr_profiles(vocabulary)
    threshold = scanner.inference.mask_threshold
    rated = bool(profiles.sensitivity.max() > 0)  # VOC / COCO classes: no privacy score to compare with
    exclusive = bool(getattr(dataset, "exclusive_masks", False))
    label_map = LabelMapEvaluator(["background", *ids], threshold) if exclusive else None
    score, attributes = ScoreEvaluator(), AttributeEvaluator(ids, scanner.inference.attribute_threshold, min_positives)
    localisation, end_to_end, protection = MaskEvaluator(ids, threshold), MaskEvaluator(ids, threshold), ProtectionEvaluator()
    boxes: dict[str, BoxCoverageEvaluator] = {}  # per attribute, for data whose ground truth is boxes
    started = time.perf_counter()
    prior_seconds: dict[str, float] = {}
    for sample in dataset:
        unknown = sorted(set(sample.labels) - set(ids))
        if unknown:
            raise ValueError(f"the model does not know the attributes {unknown} of this data set; evaluate a model trained on them")
        human, text = getattr(sample, "human_prior", None), getattr(sample, "text_prior", None)
        # Data with its own priors gives them; otherwise the scanner's providers (if any) compute them.
        priors = {"human": human, "text": text} if use_priors and (human is not None or text is not None) else None
        report = scanner.scan(sample.image, priors)
        # The scanner may report more attributes than the model (those reading finds): score the model's.
        rows = [report.attribute_ids.index(attribute_id) for attribute_id in ids]
        probabilities, attention_maps = report.probabilities[rows], report.attention_maps[rows]
        for name, value in report.priors.get("seconds", {}).items():
            prior_seconds[name] = prior_seconds.get(name, 0.0) + value
        labels = vocabulary.encode(sample.labels)
        truth = [a for a in sample.labels if a != "a0_safe"]
        regions = vocabulary.encode(truth) > 0  # a0_safe is a label, not a region: it has no mask to score
        if rated:
            score.process(pred=report.privacy_score, target=float(profiles.overall(labels)))
        if label_map is not None:
            label_map.process(maps=attention_maps, present=labels > 0, gt=class_index_map(sample, ids))
        attributes.process(probs=probabilities, labels=labels > 0)
        size = sample.image.shape[:2]
        localisation.process(maps=attention_maps, gt_masks=sample.masks, present=regions, image_size=size)
        found = np.isin(ids, report.present())
        end_to_end.process(maps=attention_maps, gt_masks=sample.masks, present=found, image_size=size)
        hidden = obfuscate(sample.image, report, hide=truth, mode="solid")
        protection.process(before=sample.image, after=hidden, gt_masks=sample.masks)
        for attribute_id, attribute_boxes in (getattr(sample, "boxes", None) or {}).items():
            evaluator = boxes.setdefault(attribute_id, BoxCoverageEvaluator(coverage_threshold=0.5))
            evaluator.process(mask=report.mask(attribute_id), boxes=attribute_boxes)
    seconds = time.perf_counter() - started
    results = {
        "privacy_score": score.evaluate() if rated else None,
        "attributes": attributes.evaluate(),
        "masks_localisation": localisation.evaluate(),
        "masks_end_to_end": end_to_end.evaluate(),
        "protection": protection.evaluate(),
        "box_coverage": {attribute_id: evaluator.evaluate() for attribute_id, evaluator in sorted(boxes.items())},
        "seconds_per_image": seconds / max(1, len(dataset)),
        "prior_seconds_per_image": {name: value / max(1, len(dataset)) for name, value in prior_seconds.items()},
    }
    if label_map is not None:
        results["seeds_label_map"] = label_map.evaluate()
    return results


def class_index_map(sample, ids: list[str]) -> np.ndarray:
    """Exclusive class masks -> [H, W] label map: 0 background, k + 1 for class k, 255 ignored."""
    height, width = sample.image.shape[:2]
    gt = np.zeros((height, width), dtype=np.uint8 if len(ids) < 255 else np.int32)
    for attribute_id, mask in sample.masks.items():
        gt[mask] = ids.index(attribute_id) + 1
    if getattr(sample, "ignore", None) is not None:
        gt[sample.ignore] = 255
    return gt


def run_evaluation(args: argparse.Namespace) -> int:
    from ..data.sources import WITHOUT_SPLITS, build_source, open_dataset
    from ..priors.options import prior_set_from_arguments
    from ..scanning import Scanner

    try:
        scanner = Scanner(args.model, prior_set=prior_set_from_arguments(args), fusion=args.fusion)
    except ValueError as error:
        print(f"privobf: error: {error}", file=sys.stderr)
        return 2
    if args.mask_threshold is not None:
        scanner.inference = replace(scanner.inference, mask_threshold=args.mask_threshold)
    size = args.image_size or scanner.model.config.image_size
    source = args.data or ("privmini" if args.data_root else "synthetic")
    if source != "synthetic":
        if not args.data_root:
            print(f"privobf: error: --data {source} needs --data-root (the folder of the data set)", file=sys.stderr)
            return 2
        split = None if source in WITHOUT_SPLITS else args.split or "val"
        try:
            dataset = open_dataset(source, args.data_root, split)
        except (FileNotFoundError, ValueError) as error:
            print(f"privobf: error: {error}", file=sys.stderr)
            return 2
        skips = getattr(dataset, "skips", None)
        data_setup = {"source": source, "root": str(args.data_root), "split": split, "n": len(dataset),
                      "skipped": skips.summary() if skips is not None else "nothing skipped"}
        if hasattr(dataset, "source_counts"):
            data_setup["images"] = dataset.source_counts()
    else:
        dataset = build_source("synthetic", n=args.n, image_size=size, seed=args.data_seed, split="val")
        data_setup = {"source": "synthetic", "n": args.n, "seed": args.data_seed, "split": "val", "image_size": size}
    results = evaluate_model(scanner, dataset, use_priors=args.priors == "on", min_positives=args.min_positives)
    results["setup"] = {
        "command": " ".join(["privobf", *sys.argv[1:]]) if sys.argv and "evaluate" in sys.argv else "privobf evaluate",
        "model": getattr(scanner.model, "source", {}),
        "data": data_setup,
        "priors": args.priors,
        "prior_providers": scanner.prior_set.describe() if scanner.prior_set is not None else None,
        "mask_threshold": scanner.inference.mask_threshold,
        "mask_threshold_source": "override" if args.mask_threshold is not None else "fixed in the model's preset",
        "attribute_threshold": scanner.inference.attribute_threshold,
        "inference": {"scales": list(scanner.inference.scales), "flip": scanner.inference.flip},
    }
    text = json.dumps(to_jsonable(results), indent=1, allow_nan=False)
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(text + "\n")
        summary = {
            "score_pearson": (results["privacy_score"] or {}).get("pearson"), "attribute_map": results["attributes"]["map"],
            "miou_localisation": results["masks_localisation"]["miou"], "leak_rate": results["protection"]["leak_rate"],
        }
        print(json.dumps(to_jsonable(summary)))
    else:
        print(text)
    return 0
