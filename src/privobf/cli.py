"""`privobf`: scan photos for private content, hide what you choose, train and evaluate models.

Exit codes: 0 success; 1 some inputs failed (each reported, the rest processed); 2 usage error
(bad option, unknown attribute, unusable model file).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Sequence

EXIT_OK, EXIT_SOME_FAILED, EXIT_USAGE = 0, 1, 2
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".tif", ".tiff", ".bmp", ".gif"}


class UsageError(Exception):
    """A user mistake: printed as one line, exit code 2, no traceback."""


def expand_inputs(paths: Sequence[str]) -> list[tuple[Path, Path]]:
    """(file, its folder relative to the given folder): files as given, folders searched recursively.

    The relative folder lets `--out` mirror a tree, so two `IMG_0001.jpg` in different folders
    never write to the same output.
    """
    found: list[tuple[Path, Path]] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            files = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
            found += [(p, p.parent.relative_to(path)) for p in files]
        else:
            found.append((path, Path(".")))  # a missing file is reported by the loader, with its name
    return found


def _add_model_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", help="model file (.safetensors) from `privobf train`; default: the embedded model")
    parser.add_argument("--profile", help="score for one VISPR user profile (profile00..profile29); default: mean of all 30")
    parser.add_argument("--scales", default=None, help="comma-separated inference scales, e.g. 1.0,0.5,1.5 (default: the model's)")
    parser.add_argument("--no-flip", action="store_true", help="skip the mirrored pass (faster, slightly worse maps)")
    parser.add_argument("--threshold", type=float, default=None, help="attribute probability that counts as present (default 0.5)")
    parser.add_argument("--mask-threshold", type=float, default=None, help="attention value that counts as inside a mask (default 0.3)")
    from .priors.options import add_prior_arguments

    add_prior_arguments(parser)


def _scanner(args: argparse.Namespace):
    from dataclasses import replace

    from .checkpoint import CheckpointError
    from .priors.options import prior_set_from_arguments
    from .scanning import Scanner

    try:
        scanner = Scanner(args.model, profile=args.profile, prior_set=prior_set_from_arguments(args))
    except (CheckpointError, KeyError, ValueError) as error:
        raise UsageError(str(error).strip("'\"")) from None
    changes = {}
    if args.scales:
        try:
            changes["scales"] = tuple(float(s) for s in args.scales.split(","))
        except ValueError:
            raise UsageError(f"--scales {args.scales!r}: expected comma-separated numbers such as 1.0,0.5,1.5") from None
        if any(s <= 0 for s in changes["scales"]):
            raise UsageError(f"--scales {args.scales!r}: scales must be positive")
    if args.no_flip:
        changes["flip"] = False
    if args.threshold is not None:
        changes["attribute_threshold"] = args.threshold
    if args.mask_threshold is not None:
        changes["mask_threshold"] = args.mask_threshold
    scanner.inference = replace(scanner.inference, **changes)
    if args.profile is not None:
        try:
            scanner.profiles.profile_index(args.profile)
        except KeyError as error:
            raise UsageError(str(error).strip("'\"")) from None
    return scanner


def command_scan(args: argparse.Namespace) -> int:
    from .imageio import ImageLoadError, load_image

    scanner = _scanner(args)
    failures = 0
    results = []
    for path, _ in expand_inputs(args.paths):
        try:
            report = scanner.scan(load_image(path).pixels)
        except ImageLoadError as error:
            print(f"privobf: skipped {error}", file=sys.stderr)
            failures += 1
            continue
        summary = {"file": str(path), **report.to_dict()}
        results.append(summary)
        if not args.json:
            shown = ", ".join(f"{a} {report.probability(a):.2f}" for a in report.present()) or "nothing private found"
            print(f"{path}: privacy score {report.privacy_score:.2f}; {shown}")
    if args.json:
        json.dump(results, sys.stdout, indent=1)
        print()
    return EXIT_SOME_FAILED if failures else EXIT_OK


def _output_path(path: Path, relative: Path, args: argparse.Namespace) -> Path:
    name = f"{path.stem}{args.suffix}{path.suffix}"
    if not args.out:
        return path.with_name(name)
    folder = Path(args.out) / relative
    folder.mkdir(parents=True, exist_ok=True)
    return folder / name


def command_obfuscate(args: argparse.Namespace) -> int:
    from .attributes import UnknownAttributeError, vocabulary_from_ids
    from .imageio import ImageLoadError, load_image, save_image_atomic
    from .metadata import identifying_exif_removed
    from .obfuscation import obfuscate

    scanner = _scanner(args)
    vocabulary = vocabulary_from_ids(scanner.model.attribute_ids)
    hide = None
    if args.hide:
        try:
            hide = sorted({i for name in args.hide.split(",") for i in vocabulary.resolve(name)})
        except UnknownAttributeError as error:
            raise UsageError(str(error)) from None
    if args.suffix == "" and not args.out:
        raise UsageError("refusing to overwrite inputs: give --out DIR or a non-empty --suffix")
    failures = 0
    for path, relative in expand_inputs(args.paths):
        try:
            loaded = load_image(path)
            report = scanner.scan(loaded.pixels)
            chosen = hide if hide is not None else report.present()
            chosen = [a for a in chosen if report.probability(a) >= scanner.inference.attribute_threshold] if not args.force else chosen
            hidden = obfuscate(loaded.pixels, report, hide=chosen, mode=args.mode)
            target = _output_path(path, relative, args)
            exif = identifying_exif_removed(loaded.exif)[0] if args.keep_metadata else None
            save_image_atomic(hidden, target, exif=exif, icc_profile=loaded.icc_profile, overwrite=args.overwrite)
        except (ImageLoadError, FileExistsError, OSError) as error:
            print(f"privobf: skipped {path}: {error}", file=sys.stderr)
            failures += 1
            continue
        print(f"{path} -> {target}: hid {', '.join(chosen) or 'nothing'} (score {report.privacy_score:.2f})")
    return EXIT_SOME_FAILED if failures else EXIT_OK


def command_train(args: argparse.Namespace) -> int:
    from .train.run import run_training

    return run_training(args)


def command_evaluate(args: argparse.Namespace) -> int:
    from .evaluate.run import run_evaluation

    return run_evaluation(args)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="privobf",
        description="Find what photos reveal about people (faces, names, addresses, documents, plates, ...) and hide exactly that.",
        epilog="Exit codes: 0 ok, 1 some inputs failed (reported, the rest done), 2 usage error.",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    scan = sub.add_parser("scan", help="report the privacy score and attributes of photos", description=(
        "Scan image files or folders (searched recursively) and print, per image, the privacy score in [0, 1] "
        "and the private attributes found with their probabilities. Nothing is written."))
    scan.add_argument("paths", nargs="+", help="image files or folders")
    scan.add_argument("--json", action="store_true", help="print one JSON document with every report")
    _add_model_options(scan)
    scan.set_defaults(handler=command_scan)

    obf = sub.add_parser("obfuscate", help="hide private regions and write new images", description=(
        "Scan photos and write copies in which the chosen attributes are hidden. Inputs are never overwritten: "
        "outputs go to --out DIR or beside the input with --suffix. Text is best hidden with solid fill: "
        "blurred or pixelated text can often be read back."))
    obf.add_argument("paths", nargs="+", help="image files or folders")
    obf.add_argument("--hide", help="comma-separated attribute ids, short names or groups (e.g. face_complete,documents); default: every attribute found")
    obf.add_argument("--mode", default="solid", help="solid | blur | pixelate (default solid)")
    obf.add_argument("--out", help="write outputs into this folder")
    obf.add_argument("--suffix", default=".privobf", help="added to output names (default .privobf)")
    obf.add_argument("--overwrite", action="store_true", help="replace existing OUTPUT files (inputs are never touched)")
    obf.add_argument("--force", action="store_true", help="hide the --hide attributes even where the model thinks they are absent")
    obf.add_argument("--keep-metadata", action="store_true", help=(
        "keep the photo's technical EXIF (camera model, exposure, date); GPS, serial numbers, names, comments, "
        "maker notes and the thumbnail are removed anyway. Default: no EXIF at all (ICC colour profiles are kept)"))
    _add_model_options(obf)
    obf.set_defaults(handler=command_obfuscate)

    from .train.run import add_train_arguments
    from .evaluate.run import add_evaluate_arguments

    train = sub.add_parser("train", help="train PrivObfNet from image-level labels", description=(
        "Train PrivObfNet (Model-Image + Model-Cropped) on a data source. Writes last.safetensors after every epoch "
        "(resume with --resume), metrics.jsonl, and at the end model.safetensors (both models) and "
        "model-image.safetensors (what `scan --model` loads). For several processes: torchrun --nproc_per_node N -m privobf train ..."))
    add_train_arguments(train)
    train.set_defaults(handler=command_train)

    evaluate = sub.add_parser("evaluate", help="measure a model on held-out data", description=(
        "Evaluate a model on a held-out split: privacy score L1 / Pearson / Spearman, attribute accuracy and AP, "
        "per-attribute mask IoU and mIoU at a fixed threshold, leak rate and over-obfuscation. Writes a JSON report."))
    add_evaluate_arguments(evaluate)
    evaluate.set_defaults(handler=command_evaluate)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.handler(args) or 0)
    except UsageError as error:
        print(f"privobf: error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("privobf: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
