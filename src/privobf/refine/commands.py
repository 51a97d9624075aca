"""`privobf cam | refine | pseudo-labels | train-seg | evaluate-maps | wsss`: the mask pipeline's CLI.

Every command reads a data set (`--data`, as `privobf train`), writes one stage folder (`--out`) that
`--resume` continues, goes on past unreadable images (listed in the folder's summary.json; exit 1),
and answers a usage mistake with one line and exit 2.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, Sequence

EXIT_OK, EXIT_SOME_FAILED, EXIT_USAGE = 0, 1, 2
REFINERS = ("crf", "irn", "affinitynet")


class LimitedDataset:
    """`limit` items of a data set (quick runs): the first ones, or with `spread` evenly spaced over it so
    a short run still sees every source of a mixed set (PrivMini lists people, then cars, then receipts).
    Keeps the attributes evaluators read."""

    def __init__(self, dataset: Sequence[Any], limit: int, spread: bool = False):
        count = min(limit, len(dataset))
        self.dataset = dataset
        self.indices = [round(k * len(dataset) / count) for k in range(count)] if spread else list(range(count))
        self.exclusive_masks = bool(getattr(dataset, "exclusive_masks", False))

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, index: int) -> Any:
        if not 0 <= index < len(self.indices):
            raise IndexError(index)
        return self.dataset[self.indices[index]]


def add_data_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", default="synthetic", help=(
        "data source: synthetic, privmini, voc, coco, yolo, vispr, openalpr, sroie (default synthetic)"))
    parser.add_argument("--data-root", help="folder of the data set in its original layout (real data sets)")
    parser.add_argument("--split", default="train", help="split of --data (default train)")
    parser.add_argument("--size", type=int, default=200, help="synthetic: number of scenes (default 200)")
    parser.add_argument("--image-size", type=int, default=448, help="synthetic: scene side in pixels (default 448)")
    parser.add_argument("--data-seed", type=int, default=0, help="synthetic: seed of the scenes")
    parser.add_argument("--limit", type=int, help="use only the first N images")
    parser.add_argument("--priors", action="store_true", help=(
        "real data: weight maps by provider priors (cached), as `privobf scan` does; synthetic scenes carry their own"))
    parser.add_argument("--prior-providers", default=None, help="comma-separated prior providers (with --priors)")
    parser.add_argument("--prior-cache", help="folder of cached prior masks")
    parser.add_argument("--no-progress", action="store_true", help="no progress lines")


def add_stage_arguments(parser: argparse.ArgumentParser, handler, out_help: str = "stage folder to write") -> None:
    """What every stage-folder command has: --out, --resume, the data options, and its guarded handler."""
    parser.add_argument("--out", required=True, help=out_help)
    parser.add_argument("--resume", action="store_true", help="continue a stage folder made with the same settings")
    add_data_options(parser)
    parser.set_defaults(handler=run_guarded(handler))


def load_data(args: argparse.Namespace) -> tuple[Sequence[Any], str]:
    """The data set `--data` names and a description recorded in every stage's manifest."""
    from ..data.sources import build_source, open_dataset

    if args.data == "synthetic":
        dataset = build_source("synthetic", n=args.size, image_size=args.image_size, seed=args.data_seed, split=args.split)
        description = f"synthetic split={args.split} n={args.size} size={args.image_size} seed={args.data_seed}"
    else:
        if args.data == "privmini":
            dataset = build_source("privmini", root=args.data_root, split=args.split)
        elif not args.data_root:
            raise ValueError(f"--data {args.data} needs --data-root (the folder of the data set)")
        else:
            dataset = open_dataset(args.data, args.data_root, args.split)
        description = f"{args.data} split={args.split} root={args.data_root or 'default'}"
        if args.priors:
            from ..train.run import _with_provider_priors

            args.no_priors = False
            dataset = _with_provider_priors(dataset, args, f"{args.data} {args.split}")
    if args.limit:
        dataset = LimitedDataset(dataset, args.limit)
        description += f" limit={args.limit}"
    return dataset, description


def parse_options(pairs: Sequence[str]) -> dict[str, str]:
    options = {}
    for pair in pairs or ():
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ValueError(f"--option {pair!r} is not KEY=VALUE")
        options[key.strip().replace("-", "_")] = value.strip()
    return options


def progress_printer(args: argparse.Namespace, stage: str):
    """A stage's per-image progress callback on stderr, or None with --no-progress."""
    if args.no_progress:
        return None
    counter = {"n": 0}

    def report(image_id: str) -> None:
        counter["n"] += 1
        if counter["n"] % 10 == 0:
            print(f"privobf {stage}: {counter['n']} images", file=sys.stderr)

    return report


def finish_stage(summary, label: str) -> int:
    """Print a stage's summary as JSON, name its failed images, and give the exit status (1 if any failed)."""
    data = summary.to_dict()
    print(json.dumps({label: data}, indent=2, sort_keys=True, default=str))
    for failure in data["failed"]:
        print(f"privobf {label}: {failure['image']}: {failure['reason']}", file=sys.stderr)
    return EXIT_SOME_FAILED if data["failed"] else EXIT_OK


def _cam_model(path: str | None):
    from ..models.loading import load_image_model
    from .cam_model import CamModel

    return CamModel(load_image_model(path)).eval()


def _attribution(args: argparse.Namespace):
    from .attribution import AttributionConfig

    scales = tuple(float(s) for s in args.scales.split(",")) if args.scales else AttributionConfig().scales
    return AttributionConfig(scales=scales, flip=not args.no_flip)


# -------------------------------------------------------------------------------------- commands


def command_cam(args: argparse.Namespace) -> int:
    from .attribution import config_from_options, seed_method
    from .stages import seed_stage

    method = seed_method(args.method)
    config = config_from_options(method.config_type, parse_options(args.option))
    model = _cam_model(args.model)
    dataset, description = load_data(args)
    summary = seed_stage(model, dataset, args.method, config, _attribution(args), args.out, data=description,
                         resume=args.resume, use_priors=not args.no_priors_weighting, threshold=args.threshold,
                         seed=args.seed, progress=progress_printer(args, "cam"))
    return finish_stage(summary, "cam")


def command_refine(args: argparse.Namespace) -> int:
    from .stages import crf_stage

    dataset, description = load_data(args)
    if args.method == "crf":
        from ..models.loading import load_image_model

        if args.head:
            raise ValueError("--head is the trained network of irn / affinitynet; crf has none")
        ids = load_image_model(args.model).attribute_ids
        summary = crf_stage(dataset, args.seeds, args.out, ids, data=description, resume=args.resume,
                            progress=progress_printer(args, "refine"))
    else:
        from .walk_stages import walk_stage

        summary = walk_stage(args.method, _cam_model(args.model), dataset, args.seeds, args.out, data=description,
                             options=parse_options(args.option), label_preset=args.label_preset, resume=args.resume,
                             progress=progress_printer(args, "refine"), trained_head=args.head)
    return finish_stage(summary, "refine")


def command_pseudo_labels(args: argparse.Namespace) -> int:
    from ..models.loading import load_image_model
    from .pseudo_labels import PseudoLabelConfig
    from .stages import pseudo_label_stage

    changes = {"crf": not args.no_crf, "kind": args.kind}
    config = PseudoLabelConfig.preset(args.preset, **changes)
    if args.foreground is not None or args.background is not None:
        config = PseudoLabelConfig(foreground=config.foreground if args.foreground is None else args.foreground,
                                   background=config.background if args.background is None else args.background, **changes)
    dataset, description = load_data(args)
    ids = load_image_model(args.model).attribute_ids
    summary = pseudo_label_stage(dataset, args.maps, args.out, ids, config, data=description, mode=args.mode,
                                 resume=args.resume, progress=progress_printer(args, "pseudo-labels"))
    return finish_stage(summary, "pseudo-labels")


def command_evaluate_maps(args: argparse.Namespace) -> int:
    from ..models.loading import load_image_model
    from .pipeline import evaluate_localisations
    from .stages import evaluate_pseudo_labels, stage_threshold
    from .store import StageStore

    store = StageStore.open(args.maps, ("seeds", "refined", "pseudo-labels"))
    dataset, description = load_data(args)
    ids = load_image_model(args.model).attribute_ids
    if store.stage == "pseudo-labels":
        result = evaluate_pseudo_labels(store, dataset, ids)
    else:
        threshold = stage_threshold(store) if args.threshold is None else args.threshold
        sweep = [round(0.05 * k, 2) for k in range(1, 20)] if args.oracle_sweep else []
        result = evaluate_localisations(store, dataset, ids, threshold, sweep)
        if args.threshold is not None:
            result["threshold_source"] = "given on the command line"
    result = {"stage": store.manifest, "data": description, **result}
    text = json.dumps(result, indent=2, sort_keys=True, default=str)
    if args.out:
        from ..atomic import atomic_write

        atomic_write(Path(args.out), lambda path: path.write_text(text))
    print(text)
    return EXIT_OK


def _segmentation_config(args: argparse.Namespace, options: Sequence[str] | None):
    """SegmentationConfig from `--seg-option` / `--option` pairs, with the --dsrg flag."""
    from ..segmentation import SegmentationConfig
    from .attribution import config_from_options

    config = config_from_options(SegmentationConfig, parse_options(options))
    config.dsrg = args.dsrg or config.dsrg
    return config


def _validation_scores(args: argparse.Namespace, checkpoint: Path) -> tuple[str, dict[str, Any]]:
    """mIoU of a trained segmentation network on --val-split (first --val-limit images) of --data."""
    from ..segmentation import SegmentationPredictor, evaluate_segmentation, load_segmentation

    args.split, args.limit = args.val_split, args.val_limit
    validation, description = load_data(args)
    scores = evaluate_segmentation(SegmentationPredictor(load_segmentation(checkpoint)), validation)
    scores.pop("confusion", None)
    return description, scores


def command_train_seg(args: argparse.Namespace) -> int:
    from ..models.loading import load_image_model
    from .stages import train_seg_stage

    config = _segmentation_config(args, args.option)
    dataset, description = load_data(args)
    ids = load_image_model(args.model).attribute_ids

    def report(record: dict) -> None:
        if not args.no_progress:
            print(f"privobf train-seg: {json.dumps(record, default=str)}", file=sys.stderr)

    path = train_seg_stage(dataset, args.labels, args.out, ids, config, resume=args.resume, progress=report)
    result: dict[str, Any] = {"checkpoint": str(path), "data": description}
    if args.val_split:
        result["validation_data"], result["validation"] = _validation_scores(args, path)
        text = json.dumps(result, indent=2, sort_keys=True, default=str)
        from ..atomic import atomic_write

        atomic_write(Path(args.out) / "evaluation.json", lambda target: target.write_text(text))
    print(json.dumps(result, indent=2, sort_keys=True, default=str))
    return EXIT_OK


def command_wsss(args: argparse.Namespace) -> int:
    """The whole chain into one folder: seeds/ -> refined-METHOD/ -> pseudo-labels/ -> segmentation/."""
    from .attribution import config_from_options, seed_method
    from .pseudo_labels import PseudoLabelConfig
    from .stages import crf_stage, pseudo_label_stage, seed_stage, train_seg_stage
    from .walk_stages import LABEL_PRESET_OF_SEED, walk_stage

    out = Path(args.out)
    method = seed_method(args.seed_method)
    seed_config = config_from_options(method.config_type, parse_options(args.seed_option))
    segmentation_config = _segmentation_config(args, args.seg_option)
    model = _cam_model(args.model)
    dataset, description = load_data(args)
    summaries: dict[str, Any] = {}
    summaries["seeds"] = seed_stage(model, dataset, args.seed_method, seed_config, _attribution(args), str(out / "seeds"),
                                    data=description, resume=args.resume, seed=args.seed,
                                    progress=progress_printer(args, "cam")).to_dict()
    maps = out / "seeds"
    if args.refine == "crf":
        maps = out / "refined-crf"
        summaries["refined"] = crf_stage(dataset, str(out / "seeds"), str(maps), model.attribute_ids, data=description,
                                         resume=args.resume, progress=progress_printer(args, "refine")).to_dict()
    elif args.refine in ("irn", "affinitynet"):
        maps = out / f"refined-{args.refine}"
        summaries["refined"] = walk_stage(args.refine, model, dataset, str(out / "seeds"), str(maps), data=description,
                                          options=parse_options(args.refine_option), resume=args.resume,
                                          progress=progress_printer(args, "refine")).to_dict()
    preset = LABEL_PRESET_OF_SEED.get(args.seed_method, "irn")
    label_config = PseudoLabelConfig.preset(preset, crf=not args.no_label_crf, kind=args.kind)
    summaries["pseudo_labels"] = pseudo_label_stage(dataset, str(maps), str(out / "pseudo-labels"), model.attribute_ids,
                                                    label_config, data=description, mode=args.label_mode,
                                                    resume=args.resume, progress=progress_printer(args, "pseudo-labels")).to_dict()
    if args.train_seg:
        path = train_seg_stage(dataset, str(out / "pseudo-labels"), str(out / "segmentation"), model.attribute_ids,
                               segmentation_config, resume=args.resume)
        summaries["segmentation"] = {"checkpoint": str(path)}
        if args.val_split:
            summaries["segmentation"]["validation"] = _validation_scores(args, path)[1]
    print(json.dumps(summaries, indent=2, sort_keys=True, default=str))
    failed = any(stage.get("failed") for stage in summaries.values() if isinstance(stage, dict))
    return EXIT_SOME_FAILED if failed else EXIT_OK


def run_guarded(handler):
    """Usage mistakes (bad option, folder made with other settings, unknown method) -> one line, exit 2."""

    def run(args: argparse.Namespace) -> int:
        from ..checkpoint import CheckpointError
        from .store import StageStoreError

        try:
            return handler(args)
        except (ValueError, StageStoreError, CheckpointError, FileNotFoundError) as error:
            print(f"privobf: error: {error}", file=sys.stderr)
            return EXIT_USAGE

    return run


def add_refine_commands(sub: argparse._SubParsersAction) -> None:
    cam = sub.add_parser("cam", help="attribution maps (seeds) of a labelled data set: CAM, Grad-CAM, AdvCAM, RIB, FickleNet",
                         description=("Compute each image's maps for its image-level classes with a trained model and "
                                      "write them to --out (one .npz per image, manifest.json, summary.json)."))
    cam.add_argument("--model", help="model file from `privobf train` (default: the embedded model)")
    cam.add_argument("--method", default="cam", help="cam | gradcam | advcam | rib | ficklenet (default cam)")
    cam.add_argument("--option", action="append", metavar="KEY=VALUE", help=(
        "a method option, repeatable (e.g. advcam: steps=27 step_size=0.008 step_rule=max_normalised)"))
    cam.add_argument("--scales", help="comma-separated scales (default 1.0,0.5,1.5,2.0, IRN's)")
    cam.add_argument("--no-flip", action="store_true", help="skip the mirrored pass")
    cam.add_argument("--no-priors-weighting", action="store_true", help="ignore the data's human / text priors")
    cam.add_argument("--threshold", type=float, help="fixed decision threshold recorded for later stages (default: the model's mask threshold)")
    cam.add_argument("--seed", type=int, default=0, help="seed of sampling methods (FickleNet, RIB's auxiliary batch)")
    add_stage_arguments(cam, command_cam)

    refine = sub.add_parser("refine", help="refine seeds: dense CRF, IRN or AffinityNet random walk",
                            description=("crf: dense CRF per image. irn / affinitynet: build confident labels from the "
                                         "seeds, train the boundary / affinity network on them (saved in --out, reused "
                                         "with --resume), then random-walk every image's seeds."))
    refine.add_argument("--method", required=True, choices=REFINERS)
    refine.add_argument("--seeds", required=True, help="a seeds folder from `privobf cam`")
    refine.add_argument("--model", help="the model the seeds came from (default: the embedded model)")
    refine.add_argument("--option", action="append", metavar="KEY=VALUE", help="an option of the method's config, repeatable")
    refine.add_argument("--label-preset", help=(
        "thresholds of the confident labels the network trains on (irn, advcam, rib, wood; default: the seed method's)"))
    refine.add_argument("--head", help=(
        "irn / affinitynet: walk with this trained network (the .safetensors an earlier refine run saved) "
        "instead of training one on these seeds"))
    add_stage_arguments(refine, command_refine)

    labels = sub.add_parser("pseudo-labels", help="pseudo labels from seeds or refined maps (confident regions, ignore band)")
    labels.add_argument("--maps", required=True, help="a seeds or refined folder")
    labels.add_argument("--model", help="the model whose attribute ids the maps use (default: the embedded model)")
    labels.add_argument("--preset", default="irn", help="threshold preset: irn (0.30/0.05), advcam (0.35/0.15), rib (0.35/0.17), wood (0.30/0.15)")
    labels.add_argument("--foreground", type=float, help="confident-foreground plane (overrides the preset)")
    labels.add_argument("--background", type=float, help="confident-background plane (overrides the preset)")
    labels.add_argument("--mode", default="band", choices=["band", "argmax"], help=(
        "band: confident regions + ignore band; argmax: one plane at the folder's threshold (IRN's final labels)"))
    labels.add_argument("--kind", default="exclusive", choices=["exclusive", "multilabel"], help=(
        "exclusive label maps (VOC / COCO), or per-attribute 0/1/255 masks for overlapping privacy attributes"))
    labels.add_argument("--no-crf", action="store_true", help="skip the label-mode CRF on both planes")
    add_stage_arguments(labels, command_pseudo_labels)

    seg = sub.add_parser("train-seg", help="train the DeepLab-v2-style network on pseudo labels (optionally with DSRG)",
                         description=("Train a DeepLab-v2-style network (backbone + ASPP) on a pseudo-labels folder; "
                                      "checkpoints after every epoch (--resume continues), segmentation.safetensors at "
                                      "the end, and with --val-split the mIoU on that split in evaluation.json."))
    seg.add_argument("--labels", required=True, help="a pseudo-labels folder")
    seg.add_argument("--model", help="the model whose attribute ids the labels use (default: the embedded model)")
    seg.add_argument("--dsrg", action="store_true", help="train with DSRG's seeded region growing (exclusive labels)")
    seg.add_argument("--option", action="append", metavar="KEY=VALUE", help=(
        "a SegmentationConfig field, repeatable (epochs=, batch_size=, crop_size=, lr=, backbone=, device=)"))
    seg.add_argument("--val-split", help="score the trained network on this split of --data")
    seg.add_argument("--val-limit", type=int, help="use only the first N validation images")
    seg.add_argument("--out", required=True, help="run folder for checkpoints, metrics.jsonl, evaluation.json")
    seg.add_argument("--resume", action="store_true", help="continue from the last finished epoch")
    add_data_options(seg)
    seg.set_defaults(handler=run_guarded(command_train_seg))

    chain = sub.add_parser("wsss", help="the whole chain: seeds -> refinement -> pseudo labels -> segmentation network",
                           description=("Run cam, refine, pseudo-labels and (with --train-seg) train-seg into one folder "
                                        "(seeds/, refined-METHOD/, pseudo-labels/, segmentation/). Each stage is resumable "
                                        "on its own: --resume skips what is done and refuses folders made with other settings."))
    chain.add_argument("--model", help="model file from `privobf train` (default: the embedded model)")
    chain.add_argument("--seed-method", default="cam", help="cam | gradcam | advcam | rib | ficklenet (default cam)")
    chain.add_argument("--seed-option", action="append", metavar="KEY=VALUE", help="an option of the seed method, repeatable")
    chain.add_argument("--scales", help="comma-separated scales (default 1.0,0.5,1.5,2.0)")
    chain.add_argument("--no-flip", action="store_true", help="skip the mirrored pass")
    chain.add_argument("--seed", type=int, default=0, help="seed of sampling methods")
    chain.add_argument("--refine", default="irn", choices=["none", *REFINERS], help="refinement of the seeds (default irn)")
    chain.add_argument("--refine-option", action="append", metavar="KEY=VALUE", help="an option of IRN / AffinityNet, repeatable")
    chain.add_argument("--kind", default="exclusive", choices=["exclusive", "multilabel"], help="pseudo-label kind")
    chain.add_argument("--label-mode", default="band", choices=["band", "argmax"], help="confident regions + ignore band, or one plane")
    chain.add_argument("--no-label-crf", action="store_true", help="skip the label-mode CRF when making pseudo labels")
    chain.add_argument("--train-seg", action="store_true", help="also train the segmentation network on the pseudo labels")
    chain.add_argument("--dsrg", action="store_true", help="train it with DSRG's seeded region growing")
    chain.add_argument("--seg-option", action="append", metavar="KEY=VALUE", help="a SegmentationConfig field, repeatable")
    chain.add_argument("--val-split", help="score the segmentation network on this split of --data")
    chain.add_argument("--val-limit", type=int, help="use only the first N validation images")
    chain.add_argument("--out", required=True, help="folder of the chain's stage folders")
    chain.add_argument("--resume", action="store_true", help="continue every stage made with the same settings")
    add_data_options(chain)
    chain.set_defaults(handler=run_guarded(command_wsss))

    evaluate = sub.add_parser("evaluate-maps", help="mIoU of a seeds / refined / pseudo-labels folder against ground truth")
    evaluate.add_argument("--maps", required=True, help="the stage folder to score")
    evaluate.add_argument("--model", help="the model whose attribute ids the maps use (default: the embedded model)")
    evaluate.add_argument("--threshold", type=float, help="decision threshold (default: the one the folder records)")
    evaluate.add_argument("--oracle-sweep", action="store_true", help=(
        "also report the best mIoU over thresholds 0.05..0.95, marked tuned on ground truth (how the papers report seeds)"))
    evaluate.add_argument("--out", help="also write the JSON here")
    add_data_options(evaluate)
    evaluate.set_defaults(handler=run_guarded(command_evaluate_maps))
