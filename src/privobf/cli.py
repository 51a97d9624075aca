"""`privobf`: scan photos for private content, hide what you choose, train and evaluate models.

Exit codes: 0 success; 1 some inputs failed (each reported, the rest processed); 2 usage error
(bad option, unknown attribute, unusable model or preferences file); 3 `scan` only: no input failed
but at least one photo scored above --warn-above; 130 interrupted (finished outputs are complete,
rerun with --resume).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Sequence

from .option_types import MAX_MEGAPIXELS, bounded_float, bounded_int, megapixel_limit, probability, scale_list
from .terminal import printable

EXIT_OK, EXIT_SOME_FAILED, EXIT_USAGE, EXIT_ABOVE_WARNING, EXIT_INTERRUPTED = 0, 1, 2, 3, 130
TEXT_MODE_HELP = (
    "mode for text attributes (names, addresses, plates, documents, ...); default solid, whatever --mode says: "
    "blurred or pixelated text can often be read back by trying candidate strings through the same filter, "
    "so only a solid fill removes it. Set it to blur/pixelate only if you accept that")


EXIT_CODES = (
    "exit codes: 0 ok; 1 some inputs failed (each reported, the rest done); 2 usage error; 3 scan: a photo "
    "scored above --warn-above; 130 interrupted (rerun with --resume)")


class UsageError(Exception):
    """A user mistake: printed as one line, exit code 2, no traceback."""


MAX_DILATE = 1000  # pixels: more covers most photos whole, so a larger value is a typo
MAX_BATCH_SIZE = 64


# ----------------------------------------------------------------------------------------------- options


def _add_model_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", help="model file (.safetensors) from `privobf train`; default: the embedded model")
    parser.add_argument("--profile", help=(
        "whose privacy the score measures: a VISPR profile (profile00..profile29), or your own ratings file "
        "(.toml with a [sensitivity] table of attribute = 1..5, or a VISPR-layout .tsv); default: mean of the 30"))
    parser.add_argument("--scales", default=None, type=scale_list, help=(
        "comma-separated inference scales, e.g. 1.0,0.5,1.5, each from 0.1 to 4, at most 8 (default: the model's)"))
    parser.add_argument("--no-flip", action="store_true", help="skip the mirrored pass (faster, slightly worse maps)")
    parser.add_argument("--backend", choices=["torch", "onnx"], default="torch", help=(
        "onnx: the model through ONNX Runtime, exported once into the cache (privobf[onnx] extra); "
        "results match torch within 1e-4, checked when exported"))
    parser.add_argument("--threshold", type=probability, default=None, help="attribute probability that counts as present (default 0.5)")
    parser.add_argument("--mask-threshold", type=probability, default=None, help="attention value that counts as inside a mask (default 0.3)")
    parser.add_argument("--segmentation", metavar="SEG.safetensors", help=(
        "take the masks from this segmentation network (from `privobf train-seg`) instead of the classifier's "
        "attention maps, for the attributes it was trained on (matched by id; the others keep the classifier's "
        "maps, and each report says which source every mask has). The classifier still decides what is present "
        "and the score. Runs in PyTorch, also with --backend onnx"))
    parser.add_argument("--segmentation-threshold", type=probability, default=None, metavar="P", help=(
        "with --segmentation: probability from which a pixel is inside a mask the network gives (default 0.5: "
        "its maps are per-pixel probabilities). --mask-threshold still applies to the classifier's maps"))
    from .priors.options import add_prior_arguments

    add_prior_arguments(parser, default=None, help_text=(
        "weight attention maps by person / face / text / plate masks from off-the-shelf detectors "
        "(default: on, or `priors =` of the preferences file)"))


def _add_batch_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("paths", nargs="+", help="image files, folders (searched recursively) or glob patterns ('photos/**/*.jpg')")
    parser.add_argument("--preferences", help=(
        "your preferences file (TOML or YAML: what to hide, modes, thresholds, warn_above, profile); default: "
        "$PRIVOBF_PREFERENCES, else ~/.config/privobf/preferences.toml when it exists. Options given here win"))
    parser.add_argument("--warn-above", type=probability, default=None, help="flag photos whose privacy score is above this (0..1)")
    parser.add_argument("--reports", help="write a JSON report per photo (and summary.json) into this folder, mirroring the input tree")
    parser.add_argument("--previews", help="write pictures into this folder: heat maps with outlines, and before / after")
    parser.add_argument("--json", action="store_true", help="machine output: one JSON object per photo per line (JSON Lines), then a summary line")
    parser.add_argument("--quiet", action="store_true", help="no line per photo (the summary and errors are still printed)")
    parser.add_argument("--progress", choices=["auto", "on", "off"], default="auto", help="progress bar with ETA on stderr (auto: when stderr is a terminal)")
    parser.add_argument("--workers", default="auto", help="processes that decode photos and run the prior detectors while the network runs (0: none; auto: none below 4 cores, else one per two cores, at most 4)")
    parser.add_argument("--batch-size", type=bounded_int(1, MAX_BATCH_SIZE), default=None, help=(
        "photos per forward pass of the network (default: 4; 1 on a CPU with several --scales, where large "
        "batches were slower, see docs/performance.md)"))
    parser.add_argument("--resume", action="store_true", help="skip photos whose outputs (and reports) already exist: rerun an interrupted batch")
    parser.add_argument("--max-megapixels", type=megapixel_limit, default=100.0, help=(
        f"refuse larger images before decoding them (default 100, at most {MAX_MEGAPIXELS:g}; peak memory per "
        "photo: docs/reliability.md)"))
    _add_model_options(parser)


def _add_obfuscation_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--hide", help=(
        "comma-separated attribute ids, short names or groups: face, people, nudity, text, names, addresses, "
        "documents, plates, online, a VISPR group, or all (default: every attribute found)"))
    parser.add_argument("--mode", default=None, help="solid | blur | pixelate | mask-only (write the mask, not the photo); default solid")
    parser.add_argument("--text-mode", default=None, help=TEXT_MODE_HELP)
    parser.add_argument("--strength", type=bounded_float(0.0, 1.0, low_open=True), default=None, help=(
        "blur: sigma as a share of the region's diagonal (default 0.1); pixelate: block as a share of its longer side (default 0.2)"))
    parser.add_argument("--dilate", type=bounded_int(0, MAX_DILATE), default=None, help=(
        f"grow every mask by this many pixels (default 0, at most {MAX_DILATE})"))
    parser.add_argument("--force", action="store_true", help="hide the --hide attributes even where the model thinks they are absent")
    parser.add_argument("--out", help="write outputs into this folder (the input tree is mirrored)")
    parser.add_argument("--suffix", default=".privobf", help="added to output names (default .privobf)")
    parser.add_argument("--in-place", action="store_true", help=(
        "replace each input by its obfuscated version (written to a temp file first, then renamed over it). "
        "The original is gone afterwards: only when you ask"))
    parser.add_argument("--overwrite", action="store_true", help="replace existing OUTPUT files (inputs are never touched without --in-place)")
    parser.add_argument("--format", choices=["jpg", "png", "webp", "tiff"], help="output format (default: the input's; masks are PNG)")
    parser.add_argument("--quality", type=bounded_int(1, 100), default=95, help="JPEG / WebP quality 1..100 (default 95)")
    parser.add_argument("--keep-metadata", action="store_true", help=(
        "keep the photo's technical EXIF (camera model, exposure, date); GPS, serial numbers, names, comments, "
        "maker notes and the thumbnail are removed anyway. Default: no EXIF at all (ICC colour profiles are kept)"))


def _preferences(args: argparse.Namespace):
    from .preferences import Preferences, PreferencesError, load_preferences

    if args.preferences is not None and not args.preferences.strip():
        raise UsageError("--preferences '': give the path of a preferences file, or leave the option out")
    # An empty PRIVOBF_PREFERENCES means unset (as `export PRIVOBF_PREFERENCES=` intends), not the file ".".
    path = args.preferences or os.environ.get("PRIVOBF_PREFERENCES") or None
    if path is None:
        config_home = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
        default = config_home / "privobf" / "preferences.toml"
        if not default.is_file():
            return Preferences()
        path = str(default)
        print(f"privobf: using preferences from {path}", file=sys.stderr)
    try:
        return load_preferences(path)
    except PreferencesError as error:
        raise UsageError(str(error)) from None


def _profiles(value: str | None, base: Path, vocabulary):
    """(profile name or None, own UserProfiles or None) for --profile / `profile =`."""
    if value is None:
        return None, None
    from .attributes import load_profiles
    from .preferences import PreferencesError, load_preferences, profile_from_ratings

    candidate = Path(value) if Path(value).is_absolute() else base / value
    if not candidate.suffix and not candidate.exists():
        return value, None  # a VISPR profile name, checked against the list below
    if not candidate.is_file():
        raise UsageError(f"--profile {value}: no such profile file (and not a VISPR profile name)")
    if candidate.suffix.lower() == ".tsv":
        try:
            return None, load_profiles(candidate, vocabulary)
        except UnicodeDecodeError:
            raise UsageError(f"{candidate}: not a text file (a profile .tsv is tab-separated UTF-8 text)") from None
        except ValueError as error:
            raise UsageError(str(error)) from None
    try:
        ratings = load_preferences(candidate).sensitivity
    except PreferencesError as error:
        raise UsageError(str(error)) from None
    if not ratings:
        raise UsageError(f"{candidate}: a profile file needs a [sensitivity] table (attribute = 1..5)")
    return None, profile_from_ratings(ratings, vocabulary, str(candidate))


def _scanner(args: argparse.Namespace, preferences):
    from dataclasses import replace

    from .checkpoint import CheckpointError
    from .evidence import FusionConfig
    from .models.loading import load_image_model
    from .scanning import Scanner, scanner_vocabulary

    try:
        model = load_image_model(args.model)
    except (CheckpointError, KeyError, ValueError, OSError) as error:
        raise UsageError(str(error).strip("'\"")) from None
    vocabulary = scanner_vocabulary(model.attribute_ids, FusionConfig(mode=args.fusion))
    if args.profile is not None:
        profile, own = _profiles(args.profile, Path.cwd(), vocabulary)
    elif preferences.profile is not None:
        profile, own = _profiles(preferences.profile, Path(preferences.source).parent, vocabulary)
    else:
        profile, own = None, preferences.own_profile(vocabulary)
    try:
        scanner = Scanner(model, profile=profile, profiles=own, prior_set=None, backend=args.backend, fusion=args.fusion)
    except ImportError as error:
        raise UsageError(str(error)) from None
    if profile is not None:
        try:
            scanner.profiles.profile_index(profile)
        except KeyError as error:
            raise UsageError(str(error).strip("'\"")) from None
    changes = {}
    if args.scales:
        changes["scales"] = args.scales  # checked by option_types.scale_list
    if args.no_flip:
        changes["flip"] = False
    threshold = _first(args.threshold, preferences.threshold)
    mask_threshold = _first(args.mask_threshold, preferences.mask_threshold)
    for name, value in (("--threshold", threshold), ("--mask-threshold", mask_threshold)):
        if value is not None and not 0.0 <= value <= 1.0:
            raise UsageError(f"{name} {value}: expected a number from 0 to 1")
    if threshold is not None:
        changes["attribute_threshold"] = threshold
    if mask_threshold is not None:
        changes["mask_threshold"] = mask_threshold
    scanner.inference = replace(scanner.inference, **changes)
    scanner.segmentation = _mask_source(args, model, scanner.device)
    return scanner


def _mask_source(args: argparse.Namespace, model, device: str):
    """The --segmentation network, or None; an unusable file or threshold is a usage error naming it."""
    from .checkpoint import CheckpointError
    from .segmentation.mask_source import mask_source_from_arguments

    try:
        return mask_source_from_arguments(args, model, device=device)
    except (CheckpointError, KeyError, OSError) as error:
        raise UsageError(f"--segmentation: {str(error).strip(chr(39) + chr(34))}") from None
    except ValueError as error:
        raise UsageError(str(error)) from None


def _first(*values):
    return next((v for v in values if v is not None), None)


def _prior_set(args: argparse.Namespace, preferences, plan=None):
    """The providers to run: all of them for a scan, those the plan's attributes need when it names them."""
    from .priors.options import prior_set_from_arguments

    if args.priors is None:
        args.priors = "off" if preferences.priors is False else "on"
    hide = plan.hide if plan is not None else None
    try:
        return prior_set_from_arguments(args, hide=hide, vocabulary=plan.vocabulary if plan is not None else None)
    except ValueError as error:
        raise UsageError(str(error)) from None


def _workers(value: str, args: argparse.Namespace) -> int:
    if value == "auto":
        # Measured on 2 cores (benchmarks/results/batch_cli.json): one worker competes with the network for
        # the same cores and is ~12% slower than none, so workers start from 4 cores, one per two cores.
        cores = os.cpu_count() or 1
        single_file = len(args.paths) == 1 and Path(args.paths[0]).is_file()
        return 0 if single_file or cores < 4 else min(4, cores // 2)
    try:
        workers = int(value)
    except ValueError:
        raise UsageError(f"--workers {value!r}: expected a number or auto") from None
    cores = os.cpu_count() or 1
    if not 0 <= workers <= cores:  # each worker holds the prior detectors (~1 GB): more than cores only costs memory
        raise UsageError(f"--workers {value}: expected auto or a number from 0 to {cores} (this computer's cores)")
    return workers


def _default_batch_size(scanner) -> int:
    """4 photos per forward pass, except on a CPU at several scales: there batches of 8 were 8 % slower than
    one photo at a time (cache-bound convolutions at 2x scale; benchmarks/cam_throughput.py)."""
    return 1 if scanner.device == "cpu" and len(scanner.inference.scales) > 1 else 4


def _run_options(args: argparse.Namespace, scanner, preferences, **extra):
    from .runner import RunOptions

    for option, folder in (("--reports", args.reports), ("--previews", args.previews), ("--out", getattr(args, "out", None))):
        if folder is not None and (not folder.strip() or (os.path.lexists(folder) and not os.path.isdir(folder))):
            raise UsageError(f"{option} {folder!r}: not a folder (privobf writes a folder of files there)")
    warn_above = _first(args.warn_above, preferences.warn_above)
    if warn_above is not None and not 0.0 <= warn_above <= 1.0:
        raise UsageError(f"--warn-above {warn_above}: expected a privacy score from 0 to 1")
    return RunOptions(
        reports=Path(args.reports) if args.reports else None,
        previews=Path(args.previews) if args.previews else None,
        resume=args.resume,
        warn_above=warn_above,
        workers=_workers(args.workers, args),
        batch_size=args.batch_size or _default_batch_size(scanner),
        max_pixels=round(args.max_megapixels * 1_000_000),  # round: 0.000256 MP must stay 256 pixels
        read_files=_read_files(args, preferences),
        json_lines=args.json,
        quiet=args.quiet,
        progress={"auto": None, "on": True, "off": False}[args.progress],
        **extra,
    )


def _read_files(args: argparse.Namespace, preferences) -> tuple[Path, ...]:
    """Files this run reads besides the photos: no output may ever be written over one of them."""
    named = [args.model, args.segmentation, args.profile, preferences.source]
    return tuple(Path(name) for name in named if name and os.path.isfile(name))


def _run(args: argparse.Namespace, scanner, options, prior_set) -> int:
    from .runner import BatchRun
    from .terminal import json_line

    run = BatchRun(scanner, options, prior_set)
    summary = run.run(args.paths)
    if options.json_lines:
        document = {"summary": summary.to_dict()}
        if run.summary_error:
            document["summary"]["summary_error"] = run.summary_error
        print(json_line(document))
    elif summary.done + len(summary.failed) + summary.skipped > 1 or summary.failed or run.summary_error:
        print(summary.table(hiding=options.plan is not None), file=sys.stderr if options.quiet else sys.stdout)
        if run.summary_error:
            print(f"privobf: error: {printable(run.summary_error)}", file=sys.stderr)
    if summary.failed or run.summary_error:
        return EXIT_SOME_FAILED
    if options.plan is None and options.warn_above is not None and summary.above_warning:
        return EXIT_ABOVE_WARNING
    return EXIT_OK


def command_scan(args: argparse.Namespace) -> int:
    preferences = _preferences(args)
    scanner = _scanner(args, preferences)
    return _run(args, scanner, _run_options(args, scanner, preferences), _prior_set(args, preferences))


def command_obfuscate(args: argparse.Namespace) -> int:
    from .attributes import UnknownAttributeError
    from .inputs import OutputNaming
    from .protection import resolve_names

    preferences = _preferences(args)
    scanner = _scanner(args, preferences)
    if args.hide is not None and not [name for name in args.hide.split(",") if name.strip()]:
        raise UsageError(f"--hide {args.hide!r} names nothing to hide; leave --hide out to hide everything found, "
                         "or name attributes or groups (face, text, plates, ...)")
    try:
        hide = resolve_names(scanner.vocabulary, [n.strip() for n in args.hide.split(",") if n.strip()]) if args.hide else None
        plan = preferences.plan(
            scanner.vocabulary, hide=hide, mode=args.mode, text_mode=args.text_mode, strength=args.strength,
            dilate=args.dilate, force=args.force or None)
    except (UnknownAttributeError, ValueError) as error:
        raise UsageError(str(error)) from None
    skipped = [] if hide is not None else preferences.not_detected(scanner.vocabulary)
    if skipped:
        print(f"privobf: note: {printable(preferences.source)}: this model does not detect {', '.join(map(repr, skipped))}; "
              "skipped (a VISPR-trained model would: docs/recipes.md)", file=sys.stderr)
    if args.in_place and args.resume:
        raise UsageError("--resume cannot tell which inputs were already replaced by --in-place; use --out for resumable batches")
    if args.in_place and plan.mask_only:
        raise UsageError("--mode mask-only with --in-place would replace your photos by masks; use --out or --suffix")
    extension = ".png" if plan.mask_only else (f".{args.format}" if args.format else None)
    try:
        naming = OutputNaming(out=Path(args.out) if args.out else None, suffix=args.suffix,
                              in_place=args.in_place, extension=extension)
    except ValueError as error:
        raise UsageError(str(error)) from None
    keep_metadata = args.keep_metadata or bool(preferences.keep_metadata)
    options = _run_options(args, scanner, preferences, plan=plan, naming=naming, overwrite=args.overwrite,
                           keep_metadata=keep_metadata, quality=args.quality)
    prior_set = _prior_set(args, preferences, plan)
    _say_if_nothing_reads(plan, prior_set, scanner)
    return _run(args, scanner, options, prior_set)


def _say_if_nothing_reads(plan, prior_set, scanner) -> None:
    """A note when the plan hides what reading decides but no provider will read (--priors off, or a provider
    list without a reading one): those attributes then fall back to the model, or are never found."""
    from .evidence.links import READING, linked_kinds
    from .priors.prior_set import READING_PROVIDERS

    if scanner.fusion.paper or not plan.hide:
        return
    readable = [a for a in plan.hide if READING in linked_kinds(scanner.vocabulary[a])]
    if not readable or (prior_set is not None and any(name in READING_PROVIDERS for name in prior_set.requested)):
        return
    unknown = [a for a in readable if a not in scanner.model.attribute_ids]
    why = "--priors off" if prior_set is None else f"no reading provider in --prior-providers ({', '.join(sorted(READING_PROVIDERS))})"
    message = f"privobf: note: nothing reads the text ({why}): {', '.join(readable)} fall back to the model's maps"
    if unknown:
        message += f", and {', '.join(unknown)} cannot be found without reading"
    print(message, file=sys.stderr)


def command_train(args: argparse.Namespace) -> int:
    from .train.run import run_training

    return run_training(args)


def command_evaluate(args: argparse.Namespace) -> int:
    from .evaluate.run import run_evaluation

    return run_evaluation(args)


ONNX_TOLERANCE = 1e-3  # on the attribute probabilities; measured differences are ~1e-6


def command_export_onnx(args: argparse.Namespace) -> int:
    """Export, then check the file against PyTorch on random inputs before anyone relies on it."""
    from .checkpoint import CheckpointError
    from .models.loading import load_image_model
    from .models.onnx_backend import OnnxImageRunner, export_onnx, max_abs_difference

    try:
        model = load_image_model(args.model)
    except (CheckpointError, KeyError, ValueError, OSError) as error:
        raise UsageError(str(error).strip("'\"")) from None
    try:
        path = export_onnx(model, args.out)
        differences = max_abs_difference(model, OnnxImageRunner(model, path))
    except ImportError as error:
        raise UsageError(str(error)) from None
    print(f"wrote {path}; max |onnx - torch|: " + ", ".join(f"{k} {v:.2e}" for k, v in differences.items()))
    if differences["probabilities"] > ONNX_TOLERANCE:
        print(f"privobf: error: probabilities differ by more than {ONNX_TOLERANCE}", file=sys.stderr)
        return EXIT_SOME_FAILED
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="privobf",
        description="Find what photos reveal about people (faces, names, addresses, documents, plates, ...) and hide exactly that.",
        epilog=EXIT_CODES,
    )
    sub = parser.add_subparsers(dest="command", required=True)

    scan = sub.add_parser("scan", help="report the privacy score and attributes of photos", description=(
        "Scan photos (files, folders searched recursively, globs) and print, per photo, the privacy score in [0, 1] "
        "and the private attributes found with their probabilities. Nothing is written unless --reports / --previews "
        "name a folder."), epilog=EXIT_CODES)
    _add_batch_options(scan)
    scan.set_defaults(handler=command_scan)

    obf = sub.add_parser("obfuscate", help="hide private regions and write new images", description=(
        "Scan photos and write copies in which the chosen attributes are hidden. Inputs are never overwritten unless "
        "you ask for --in-place: outputs go to --out DIR or beside the input with --suffix, and an existing output is "
        "only replaced with --overwrite. Text attributes are filled solid whatever --mode says (see --text-mode): "
        "blurred or pixelated text can often be read back. EXIF (GPS, serial numbers, ...) is removed by default."),
        epilog=EXIT_CODES)
    _add_batch_options(obf)
    _add_obfuscation_options(obf)
    obf.set_defaults(handler=command_obfuscate)

    from .web.server import add_serve_arguments, run_serve

    serve = sub.add_parser("serve", help="a web page on this computer: upload, see, choose, download", description=(
        "Serve privobf's web page (default http://127.0.0.1:8765): upload a photo, see its score, attributes and heat "
        "maps, tick what to hide, choose the mode, download the result. The last few uploads stay in memory (to hide "
        "without uploading again); nothing is written to disk."))
    add_serve_arguments(serve)
    serve.set_defaults(handler=run_serve)

    export = sub.add_parser("export-onnx", help="export the model to ONNX and check it against PyTorch", description=(
        "Export Model-Image (backbone and attention maps; the priors and heads run in torch) to an ONNX file with "
        "dynamic batch, height and width, then compare it with PyTorch on random inputs at two sizes, with and "
        "without priors, and print the largest differences. Exit 1 if the probabilities differ by more than 1e-3. "
        "Needs the privobf[onnx] extra."))
    export.add_argument("--model", help="model file (.safetensors) from `privobf train`; default: the embedded model")
    export.add_argument("--out", required=True, help="the .onnx file to write (replaced atomically)")
    export.set_defaults(handler=command_export_onnx)

    from .ray_job import add_ray_arguments, run_ray

    ray_scan = sub.add_parser("ray-scan", help="scan (and obfuscate) a large corpus as a Ray Data job", description=(
        "Scan photos on a Ray cluster (or a local Ray): per-photo JSON reports and summary.json under --reports, and "
        "with --out obfuscated copies; inputs, --reports and --out must be paths every Ray worker can reach."),
        epilog=EXIT_CODES)
    add_ray_arguments(ray_scan)
    ray_scan.set_defaults(handler=run_ray)

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

    from .refine.bbam_commands import add_bbam_commands
    from .refine.commands import add_refine_commands
    from .refine.wood_commands import add_wood_commands

    add_refine_commands(sub)
    add_bbam_commands(sub)
    add_wood_commands(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    # Before torch loads: OpenMP threads that spin between operations steal the cores the prior detectors
    # (ONNX Runtime, OpenCV) need; passive waiting was 6-40 % faster per photo (docs/performance.md).
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.handler(args) or 0)
    except UsageError as error:
        print(f"privobf: error: {printable(str(error))}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("privobf: interrupted; finished outputs are complete, rerun with --resume to do the rest", file=sys.stderr)
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
