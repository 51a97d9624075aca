"""`privobf train`: argument parsing and wiring of data, preset and engine."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path
from typing import Any

from ..models.config import PRESETS, get_preset


def add_train_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--preset", default="default", choices=sorted(PRESETS), help="paper | default | tiny (default: default)")
    parser.add_argument("--data", default="synthetic", help=(
        "data source: synthetic (default) | privmini | vispr | voc | coco | yolo | openalpr | sroie; "
        "all but synthetic read --data-root. Mix sources with +, repeat one with *N, e.g. synthetic+privmini*2: "
        "attributes a source does not annotate are left out of its images' losses"))
    parser.add_argument("--data-root", help="folder of the data set, in its original layout (see docs/recipes.md)")
    parser.add_argument("--split", help="training split of --data (e.g. train, train_aug, train2014); default: train")
    parser.add_argument("--val-split", help="held-out split scored after every epoch (real data sets)")
    parser.add_argument("--train-size", type=int, default=2000, help="synthetic: number of training scenes")
    parser.add_argument("--val-size", type=int, default=0, help="synthetic: held-out scenes scored after every epoch")
    parser.add_argument("--data-seed", type=int, default=0, help="synthetic: seed of the training scenes")
    parser.add_argument("--out", required=True, help="run folder for checkpoints and metrics.jsonl")
    parser.add_argument("--resume", action="store_true", help="continue from the last finished epoch in --out")
    parser.add_argument("--epochs", type=int, help="override the preset's number of epochs")
    parser.add_argument("--batch-size", type=int, help="override the preset's batch size")
    parser.add_argument("--lr", type=float, help="override the preset's learning rate")
    parser.add_argument("--image-size", type=int, help="override Model-Image's input side")
    parser.add_argument("--crop-size", type=int, help="override Model-Cropped's input side")
    parser.add_argument("--n-crops", type=int, help="override the number of crops per image")
    parser.add_argument("--backbone", help="override the backbone (efficientnet_lite0, resnet38, resnet50, resnet101, tiny)")
    parser.add_argument("--weights", help="ImageNet weight file for the backbone (resnet38 / resnet50 / resnet101)")
    parser.add_argument("--tasks", default="full", help=(
        "which tasks train (paper Table 4): image | image+priv | image+attr | image+priv+attr | full (= + cropped)"))
    parser.add_argument("--loss-weights", help=(
        "override λ of eq. 1, e.g. image=1,cropped=1,privacy=1,attribute=1,cam_image=1 (paper: image=10, others 1)"))
    parser.add_argument("--wsss", help=(
        "switch on CAM improvements of the seed papers (comma-separated): drs (discriminative region suppression), "
        "fum (focused-unfocused module), cdr (CAM-driven reconstruction), asm (activation self-modulation), "
        "at (attention transfer); see docs/results.md"))
    parser.add_argument("--no-priors", action="store_true", help="do not weight attention maps by human / text priors")
    parser.add_argument("--prior-providers", default=None, help=(
        "providers of the human / text priors of real photos (default: those of `privobf scan`); "
        "synthetic scenes keep their simulated priors"))
    parser.add_argument("--prior-cache", help="folder of cached prior masks (default: $XDG_CACHE_HOME/privobf/priors)")
    parser.add_argument("--max-steps", type=int, help="stop each epoch after this many steps (quick runs)")
    parser.add_argument("--seed", type=int, help="training seed (default: the preset's)")
    parser.add_argument("--device", default="auto", help="cpu | cuda | auto")
    parser.add_argument("--workers", type=int, help="data-loading worker processes")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


TASKS = {
    "image": dict(use_cropped=False, use_privacy_task=False, use_attribute_task=False),
    "image+priv": dict(use_cropped=False, use_privacy_task=True, use_attribute_task=False),
    "image+attr": dict(use_cropped=False, use_privacy_task=False, use_attribute_task=True),
    "image+priv+attr": dict(use_cropped=False, use_privacy_task=True, use_attribute_task=True),
    "full": dict(use_cropped=True, use_privacy_task=True, use_attribute_task=True),
}


WSSS_NAMES = {"drs": "drs", "fum": "fum", "cdr": "cdr", "asm": "asm", "at": "attention_transfer",
              "attention_transfer": "attention_transfer"}


def parse_wsss(text: str, base):
    """`drs,cdr,asm` -> the preset's WsssConfig with those parts switched on."""
    parts = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in parts if name not in WSSS_NAMES]
    if unknown or not parts:
        raise ValueError(f"--wsss: unknown part(s) {', '.join(unknown) or '(none given)'}; choose from drs, fum, cdr, asm, at")
    return dataclasses.replace(base, **{WSSS_NAMES[name]: True for name in parts})


def preset_from_arguments(args: argparse.Namespace):
    preset = get_preset(args.preset)
    if args.tasks not in TASKS:
        raise ValueError(f"unknown --tasks {args.tasks!r}; choose one of {', '.join(TASKS)}")
    model_changes: dict[str, Any] = dict(TASKS[args.tasks])
    for option, field in (("image_size", "image_size"), ("crop_size", "crop_size"), ("n_crops", "n_crops"), ("backbone", "backbone")):
        if getattr(args, option) is not None:
            model_changes[field] = getattr(args, option)
    if args.weights:
        model_changes["pretrained"] = args.weights
    if args.wsss:
        model_changes["wsss"] = parse_wsss(args.wsss, preset.model.wsss)
    train_changes: dict[str, Any] = {}
    for option, field in (("epochs", "epochs"), ("batch_size", "batch_size"), ("lr", "lr"), ("seed", "seed"),
                          ("max_steps", "max_steps_per_epoch"), ("workers", "num_workers")):
        if getattr(args, option) is not None:
            train_changes[field] = getattr(args, option)
    if args.loss_weights:
        weights = {}
        for item in args.loss_weights.split(","):
            name, _, value = item.partition("=")
            if name.strip() not in {f.name for f in dataclasses.fields(preset.train.loss_weights)}:
                raise ValueError(f"unknown loss weight {name.strip()!r} in --loss-weights")
            try:
                weights[name.strip()] = float(value)
            except ValueError:
                raise ValueError(f"--loss-weights: {item!r} is not name=number") from None
        train_changes["loss_weights"] = dataclasses.replace(preset.train.loss_weights, **weights)
    return dataclasses.replace(
        preset,
        model=dataclasses.replace(preset.model, **model_changes),
        train=dataclasses.replace(preset.train, **train_changes),
    )


def parse_data_spec(spec: str) -> list[tuple[str, int]]:
    """`synthetic+privmini*2` -> [("synthetic", 1), ("privmini", 2)]: sources to mix, each with its repeat count."""
    parts = []
    for token in spec.split("+"):
        name, _, repeat = token.strip().partition("*")
        try:
            count = int(repeat) if repeat else 1
        except ValueError:
            raise ValueError(f"--data: {token!r} is not NAME or NAME*COUNT") from None
        if not name or count < 1:
            raise ValueError(f"--data: {token!r} is not NAME or NAME*COUNT with COUNT >= 1")
        parts.append((name, count))
    return parts


def _one_source(name: str, args: argparse.Namespace, image_size: int, split: str):
    from ..data.sources import build_source, open_dataset

    if name == "synthetic":
        n = args.train_size if split == "train" else args.val_size
        seed = args.data_seed if split == "train" else args.data_seed + 10_000
        return build_source("synthetic", n=n, image_size=image_size, seed=seed, split=split)
    if not args.data_root:
        raise ValueError(f"--data {name} needs --data-root (the folder of the data set)")
    dataset = open_dataset(name, args.data_root, split)
    return dataset if args.no_priors else _with_provider_priors(dataset, args, f"{name} {split}")


def default_prior_cache() -> Path:
    from ..cachedir import default_cache_dir

    return default_cache_dir() / "priors"


def _with_provider_priors(dataset, args: argparse.Namespace, description: str):
    """Real photos get provider priors, computed once with a progress bar and cached (paper: "in advance")."""
    from ..priors.attach import WithPriors, precompute_priors
    from ..priors.options import parse_provider_names
    from ..priors.prior_set import DEFAULT_PROVIDERS, PriorSet, detection_only

    names = parse_provider_names(args.prior_providers) if args.prior_providers else list(DEFAULT_PROVIDERS)
    priors = PriorSet(names, cache=args.prior_cache or default_prior_cache(), options=detection_only(names))
    stats = precompute_priors(dataset, priors, progress=not args.no_progress, description=f"priors for {description}")
    print(f"privobf: priors for {description}: {json.dumps(stats, sort_keys=True)}", file=sys.stderr)
    return WithPriors(dataset, priors)


def training_data(args: argparse.Namespace, image_size: int, split: str):
    """The data `--data` names: one source, or several joined by `+` (see `privobf.data.mixing`)."""
    from ..data.mixing import MixedSources

    parts = parse_data_spec(args.data)
    if len(parts) == 1 and parts[0][1] == 1:
        return _one_source(parts[0][0], args, image_size, split)
    return MixedSources([(name, _one_source(name, args, image_size, split), repeat) for name, repeat in parts])


def validation_data(args: argparse.Namespace, image_size: int):
    """Held-out data scored after every epoch: synthetic (--val-size) and/or real (--val-split) parts."""
    from ..data.mixing import MixedSources

    parts = []
    for name, _ in parse_data_spec(args.data):
        if name == "synthetic" and args.val_size:
            parts.append((name, _one_source(name, args, image_size, "val"), 1))
        elif name != "synthetic" and args.val_split:
            parts.append((name, _one_source(name, args, image_size, args.val_split), 1))
    if not parts:
        return None
    return parts[0][1] if len(parts) == 1 else MixedSources(parts)


def run_training(args: argparse.Namespace) -> int:
    from ..attributes import vispr_profiles, vocabulary_from_ids
    from .engine import train

    try:
        preset = preset_from_arguments(args)
        preset.model.validate()
    except ValueError as error:
        print(f"privobf: error: {error}", file=sys.stderr)
        return 2
    try:
        train_data = training_data(args, preset.model.image_size, args.split or "train")
        val_data = validation_data(args, preset.model.image_size)
    except (FileNotFoundError, ValueError) as error:
        print(f"privobf: error: {error}", file=sys.stderr)
        return 2
    vocabulary = vocabulary_from_ids(train_data.vocabulary_ids, f"{args.data}")
    if preset.model.use_privacy_task and vispr_profiles(vocabulary).sensitivity.max() == 0:
        # No VISPR profile rates these labels (VOC, COCO classes): the paper trains the privacy task on VISPR only.
        print(f"privobf: note: no user profile rates the labels of {args.data!r}; privacy task switched off", file=sys.stderr)
        preset = dataclasses.replace(preset, model=dataclasses.replace(preset.model, use_privacy_task=False))
    validate = None
    if val_data is not None:
        from ..evaluate.quick import quick_validation

        validate = quick_validation(val_data, vocabulary, use_priors=not args.no_priors)
    description = {"data": args.data, "data_root": args.data_root, "split": args.split, "train_size": len(train_data), "data_seed": args.data_seed, "tasks": args.tasks,
                   "priors": not args.no_priors, "command": " ".join(["privobf", *sys.argv[1:]])}
    result = train(
        preset, train_data, vocabulary, args.out, resume=args.resume, validate=validate, device=args.device,
        progress=False if args.no_progress else None, use_priors=not args.no_priors, description=description,
    )
    if result.history:
        print(json.dumps(result.history[-1], sort_keys=True))
    if result.image_checkpoint:
        print(f"wrote {result.image_checkpoint}")
    return 0
