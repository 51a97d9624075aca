"""`privobf mine-ood | train-wood`: W-OoD (dissertation ch. 4, :mod:`privobf.refine.wood`) from the command line.

    mine-ood    score a pool of candidate photos that should show none of the model's attributes, keep
                the ones the classifier nevertheless scores >= 0.5 (hard OoDs) and write them to a review
                CSV for a person to confirm (or confirm them from the candidates' own labels)
    train-wood  fine-tune the model with the W-OoD losses on labelled in-distribution photos plus the
                confirmed hard OoDs, and write a normal privobf model file

The two commands meet only in the review file and the candidate pool, which train-wood re-reads with the
same `--candidates-*` options to find each confirmed photo by its id.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np

from .commands import EXIT_OK, EXIT_SOME_FAILED, add_data_options, load_data, parse_options, run_guarded

SCORING_CHUNK = 32  # candidates decoded and scored at a time, so a large pool is never all in memory
REVIEW_HOWTO = (
    "Check every row: open the photo named in candidate_id and write `yes` in the `verified` column when the "
    "photo does NOT show class_id (a genuine hard OoD, kept for training), `no` when it does show it (the row "
    "is rejected: the photo gets no zero target for that class, and a photo without any `yes` row is not used). "
    "A photo with a `yes` row is trained on as showing none of the model's attributes except those answered `no`: "
    "if it shows another one, add a row `CANDIDATE_ID,THAT_CLASS,0,no,`."
)


# ------------------------------------------------------------------------------------ candidate pool


def add_candidate_options(parser: argparse.ArgumentParser) -> None:
    """The candidate pool's options; train-wood must be given the same ones as mine-ood."""
    parser.add_argument("--candidates-data", required=True, help=(
        "data source of the candidate photos (photos that should show none of the model's attributes): "
        "synthetic (its safe scenes, with --candidates-safe-only), privmini, yolo, coco, voc, ..."))
    parser.add_argument("--candidates-root", help="folder of the candidate data set (real data sets)")
    parser.add_argument("--candidates-split", default="train", help="split of --candidates-data (default train)")
    parser.add_argument("--candidates-size", type=int, default=200, help="synthetic: number of scenes (default 200)")
    parser.add_argument("--candidates-image-size", type=int, default=448, help="synthetic: scene side in pixels (default 448)")
    parser.add_argument("--candidates-seed", type=int, default=1, help=(
        "synthetic: seed of the candidate scenes (default 1, other scenes than --data-seed 0)"))
    parser.add_argument("--candidates-limit", type=int, help="use only the first N candidate photos")
    parser.add_argument("--candidates-safe-only", action="store_true", help=(
        "use only candidates labelled exactly a0_safe (synthetic safe scenes; PrivMini's COCO128 photos without people)"))


@dataclass
class Candidate:
    """A photo of the pool as W-OoD sees it: its id in the review file, pixels and image-level labels."""

    candidate_id: str
    image: np.ndarray
    labels: list[str]
    unknown: list[str] = field(default_factory=list)  # classes its source does not annotate


def _pool_arguments(args: argparse.Namespace) -> argparse.Namespace:
    """The candidate options in the shape `load_data` reads, so both data sets load the same way."""
    return argparse.Namespace(
        data=args.candidates_data, data_root=args.candidates_root, split=args.candidates_split,
        size=args.candidates_size, image_size=args.candidates_image_size, data_seed=args.candidates_seed,
        limit=args.candidates_limit, priors=False)


def candidate_id(sample: Any, index: int, pool: argparse.Namespace) -> str:
    """The photo's own id (file stem); synthetic scenes have none, so their seed and index name them, and
    a review file then fails loudly on a pool drawn with another seed instead of training on other scenes."""
    own = getattr(sample, "image_id", None)
    if own:
        return str(own)
    if pool.data == "synthetic":
        return f"scene-{pool.data_seed}-{index:06d}"
    return f"{index:06d}"


def iterate_pool(args: argparse.Namespace, failures: list[tuple[str, str]]) -> tuple[Iterator[Candidate], str]:
    """The pool's candidates in order; unreadable photos are appended to `failures` and skipped."""
    pool = _pool_arguments(args)
    if pool.data not in ("synthetic", "privmini") and not pool.data_root:
        raise ValueError(f"--candidates-data {pool.data} needs --candidates-root (the folder of the data set)")
    dataset, description = load_data(pool)
    if args.candidates_safe_only:
        description += " safe-only"

    def candidates() -> Iterator[Candidate]:
        seen: set[str] = set()
        for index in range(len(dataset)):
            try:
                sample = dataset[index]
            except Exception as error:  # a damaged file: report it, go on with the others
                failures.append((f"candidate #{index}", f"{type(error).__name__}: {error}"))
                continue
            labels = [str(label) for label in (getattr(sample, "labels", None) or [])]
            if args.candidates_safe_only and labels != ["a0_safe"]:
                continue
            identifier = candidate_id(sample, index, pool)
            if identifier in seen:
                raise ValueError(f"candidate pool {description}: two photos have the id {identifier!r}; ids must be unique")
            seen.add(identifier)
            unknown = [str(u) for u in (getattr(sample, "unknown", None) or [])]
            yield Candidate(identifier, sample.image, labels, unknown)

    return candidates(), description


def _chunks(items: Iterator[Candidate], size: int) -> Iterator[list[Candidate]]:
    chunk: list[Candidate] = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _failure_records(failures: Sequence[tuple[str, str]]) -> list[dict[str, str]]:
    return [{"image": image, "reason": reason} for image, reason in failures]


def _report_failures(command: str, failures: Sequence[tuple[str, str]]) -> int:
    for image, reason in failures:
        print(f"privobf {command}: {image}: {reason}", file=sys.stderr)
    return EXIT_SOME_FAILED if failures else EXIT_OK


# -------------------------------------------------------------------------------------------- mine-ood


def _check_labels_are_attributes(candidates: Sequence[Candidate], attribute_ids: Sequence[str]) -> None:
    """Labels prove an absence only in the model's own vocabulary: COCO's `car` says nothing about
    `a103_license_plate_complete`, so a source with other label names must be reviewed by hand."""
    known = set(attribute_ids)
    for candidate in candidates:
        foreign = sorted(set(candidate.labels) - known)
        if foreign:
            raise ValueError(
                f"--verify-with-labels: candidate {candidate.candidate_id!r} has labels {foreign} that are not "
                "attributes of the model, so its labels cannot prove an attribute absent; use a source labelled "
                "with the model's attribute ids (synthetic, privmini) or review the file by hand")


def _save_candidate_images(folder: Path, candidates: dict[str, Candidate], ids: Sequence[str]) -> None:
    """The mined photos as DIR/<id>.png, so the reviewer can look at photos that exist only in memory."""
    from PIL import Image

    from ..atomic import atomic_write
    from .store import file_name

    folder.mkdir(parents=True, exist_ok=True)
    for identifier in dict.fromkeys(ids):
        image = Image.fromarray(np.ascontiguousarray(candidates[identifier].image))
        target = folder / f"{file_name(identifier).removesuffix('.npz')}.png"
        atomic_write(target, lambda temp: image.save(temp, format="PNG"))


def command_mine_ood(args: argparse.Namespace) -> int:
    from ..models.loading import load_image_model
    from .attribution import config_from_options
    from .wood import WoodConfig, mine_hard_ood, score_candidates, verify_with_labels, write_review_file

    config = config_from_options(WoodConfig, parse_options(args.option))
    model = load_image_model(args.model)
    classes = [c.strip() for c in args.classes.split(",") if c.strip()] if args.classes else None
    unknown_classes = sorted(set(classes or ()) - set(model.attribute_ids))
    if unknown_classes:
        raise ValueError(f"--classes: {unknown_classes} are not attributes of the model ({', '.join(model.attribute_ids)})")
    failures: list[tuple[str, str]] = []
    pool, description = iterate_pool(args, failures)
    ids: list[str] = []
    scores = []
    mined_columns = [model.attribute_ids.index(c) for c in (classes or model.attribute_ids)
                     if c in model.attribute_ids and c != "a0_safe"]
    kept: dict[str, Candidate] = {}  # labels for verification; pixels only of photos --save-images will write
    for chunk in _chunks(pool, SCORING_CHUNK):
        if args.verify_with_labels:
            _check_labels_are_attributes(chunk, model.attribute_ids)
        chunk_scores = score_candidates(model, [c.image for c in chunk]).numpy()
        scores.append(chunk_scores)
        for candidate, row in zip(chunk, chunk_scores):
            ids.append(candidate.candidate_id)
            hard = bool(mined_columns) and float(row[mined_columns].max()) >= config.hard_threshold
            kept[candidate.candidate_id] = candidate if args.save_images and hard else Candidate(
                candidate.candidate_id, np.zeros((0, 0, 3), np.uint8), candidate.labels, candidate.unknown)
        if not args.no_progress:
            print(f"privobf mine-ood: {len(ids)} candidates scored", file=sys.stderr)
    if not ids:
        raise ValueError(f"candidate pool {description}: no candidate photo to score"
                         + (" (--candidates-safe-only keeps only photos labelled exactly a0_safe)"
                            if args.candidates_safe_only else ""))
    probabilities = np.concatenate(scores)
    mined = mine_hard_ood(probabilities, ids, model.attribute_ids, config.hard_threshold, classes)
    rows = mined
    if args.verify_with_labels:
        rows = verify_with_labels(mined, {i: c.labels for i, c in kept.items()}, {i: c.unknown for i, c in kept.items()})
    write_review_file(args.out, rows)
    if args.save_images:
        _save_candidate_images(Path(args.save_images), kept, [row.candidate_id for row in rows])
    summary = {
        "review_file": str(args.out), "candidates": description, "model": args.model or "embedded",
        "n_candidates": len(ids), "hard_threshold": config.hard_threshold,
        "n_rows": len(rows), "n_photos": len({row.candidate_id for row in rows}),
        "rows_per_class": _count_by_class(rows),
        "verified": "by labels" if args.verify_with_labels else "no: needs the human check",
        "failed": _failure_records(failures),
    }
    if args.verify_with_labels:
        summary["dropped_by_labels"] = len(mined) - len(rows)
    print(json.dumps({"mine-ood": summary}, indent=2, sort_keys=True))
    if not rows:
        print(f"privobf mine-ood: no candidate scored >= {config.hard_threshold} for a class"
              + (" that its labels prove absent" if args.verify_with_labels and mined else "")
              + f"; {args.out} has no rows", file=sys.stderr)
    elif not args.verify_with_labels:
        print(f"privobf mine-ood: {args.out} holds {len(rows)} rows to review. {REVIEW_HOWTO} Then run "
              f"`privobf train-wood --review {args.out}` with the same --candidates-* options.", file=sys.stderr)
    return _report_failures("mine-ood", failures)


def _count_by_class(rows: Sequence[Any]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for row in rows:
        counts[row.class_id] = counts.get(row.class_id, 0) + 1
    return counts


# ------------------------------------------------------------------------------------------ train-wood


@dataclass
class ReviewDecision:
    """What the review file says about one photo: the classes confirmed absent, and those not."""

    confirmed_absent: set[str] = field(default_factory=set)
    not_confirmed: set[str] = field(default_factory=set)  # answered `no` (or unanswered and not accepted)


def review_decisions(path: str, attribute_ids: Sequence[str], accept_unreviewed: bool) -> tuple[dict[str, ReviewDecision], int]:
    """Per candidate id, the review's answers; and how many unanswered rows were taken as `yes`.

    A file is *reviewed* when every row's `verified` is yes or no (a person's answer, or mine-ood's
    --verify-with-labels). Unreviewed rows are refused unless accept_unreviewed, which takes them as yes:
    the dissertation found unverified hard OoDs worse than random OoD photos (Table 4.6)."""
    from .wood import read_review_file

    rows = read_review_file(path)
    unknown_classes = sorted({row.class_id for row in rows} - set(attribute_ids))
    if unknown_classes:
        raise ValueError(f"{path}: class(es) {unknown_classes} are not attributes of the model (another model's review file?)")
    unanswered = [row for row in rows if row.verified is None]
    if unanswered and not accept_unreviewed:
        first = unanswered[0]
        raise ValueError(
            f"{path}: {len(unanswered)} of {len(rows)} rows are not reviewed (empty `verified`), e.g. "
            f"{first.candidate_id} / {first.class_id}; answer yes or no in every row, or pass --accept-unreviewed "
            "to take them as yes")
    decisions: dict[str, ReviewDecision] = {}
    for row in rows:
        decision = decisions.setdefault(row.candidate_id, ReviewDecision())
        if row.verified is False:
            decision.not_confirmed.add(row.class_id)
        else:
            decision.confirmed_absent.add(row.class_id)
    used = {i: d for i, d in decisions.items() if d.confirmed_absent - d.not_confirmed}
    if not used:
        raise ValueError(f"{path}: no row is answered yes, so there is no hard OoD photo to train with")
    return used, len(unanswered)


@dataclass
class OodPhoto:
    """A confirmed hard OoD as `train_wood` reads it. `unknown` keeps the zero target of eq. 4.3 off the
    classes the review did not confirm absent (a `no` answer means the photo shows that class)."""

    image: np.ndarray
    labels: list[str]
    unknown: list[str]


def _ood_photo(candidate: Candidate, decision: ReviewDecision, attribute_ids: Sequence[str]) -> OodPhoto:
    ids = set(attribute_ids)
    # Labels in another vocabulary (COCO names) say nothing about the model's classes: the photo counts as
    # unlabelled, as the dissertation's OoD photos are.
    labels = [label for label in candidate.labels if label in ids]
    not_confirmed = decision.not_confirmed | (set(candidate.unknown) & ids)
    return OodPhoto(candidate.image, labels, sorted(not_confirmed - set(labels)))


def find_candidates(args: argparse.Namespace, wanted: Sequence[str], failures: list[tuple[str, str]]) -> dict[str, Candidate]:
    """The wanted photos of the pool by id; an id the pool no longer has is an error naming it and the
    review file (unless unreadable photos could be it: then it is one more failure)."""
    pool, description = iterate_pool(args, failures)
    remaining = set(wanted)
    found: dict[str, Candidate] = {}
    for candidate in pool:
        if candidate.candidate_id in remaining:
            found[candidate.candidate_id] = candidate
            remaining.discard(candidate.candidate_id)
            if not remaining:
                break
    missing = [identifier for identifier in wanted if identifier in remaining]
    if missing and not failures:
        raise ValueError(
            f"{args.review}: candidate id {missing[0]!r} is not in the candidate pool ({description})"
            + (f" ({len(missing)} ids missing)" if len(missing) > 1 else "")
            + "; give train-wood the --candidates-* options mine-ood was run with")
    failures += [(f"candidate {identifier}", "not found in the pool (an unreadable photo?)") for identifier in missing]
    return found


def in_distribution_photos(args: argparse.Namespace, failures: list[tuple[str, str]]) -> tuple[list[Any], int, str]:
    """--data's photos with at least one attribute; safe-only ones are left out (counted), because the
    distance loss would pull them towards their class centre while pushing them from the safe OoD clusters."""
    dataset, description = load_data(args)
    photos, safe_only = [], 0
    for index in range(len(dataset)):
        try:
            sample = dataset[index]
        except Exception as error:  # a damaged file: report it, go on
            failures.append((f"#{index}", f"{type(error).__name__}: {error}"))
            continue
        if not [label for label in sample.labels if label != "a0_safe"]:
            safe_only += 1
            continue
        photos.append(sample)
    return photos, safe_only, description


def _move_outputs(folder: Path, checkpoint: Path, out: Path) -> Path:
    """The checkpoint to --out and its per-epoch losses beside it; renames within out's folder are atomic."""
    from .wood import WOOD_METRICS

    os.replace(checkpoint, out)
    metrics = out.with_name(f"{out.stem}.metrics.jsonl")
    os.replace(folder / WOOD_METRICS, metrics)
    return metrics


def command_train_wood(args: argparse.Namespace) -> int:
    from ..models.loading import load_image_model
    from .attribution import config_from_options
    from .wood import WoodConfig, train_wood

    out = Path(args.out)
    if out.suffix != ".safetensors":
        raise ValueError(f"--out {out}: the model file must end in .safetensors")
    config = config_from_options(WoodConfig, parse_options(args.option))
    model = load_image_model(args.model)
    decisions, taken_as_yes = review_decisions(args.review, model.attribute_ids, args.accept_unreviewed)
    if taken_as_yes:
        print(f"privobf train-wood: {args.review}: {taken_as_yes} unreviewed rows taken as yes (--accept-unreviewed)",
              file=sys.stderr)
    failures: list[tuple[str, str]] = []
    found = find_candidates(args, list(decisions), failures)
    ood = [_ood_photo(found[i], decisions[i], model.attribute_ids) for i in decisions if i in found]
    in_items, safe_only, description = in_distribution_photos(args, failures)
    if not ood or not in_items:
        raise ValueError(f"W-OoD needs in-distribution photos with attributes ({len(in_items)} in {description}) "
                         f"and confirmed hard OoD photos ({len(ood)} found)")

    def report(record: dict) -> None:
        if not args.no_progress:
            print(f"privobf train-wood: {json.dumps(record, sort_keys=True)}", file=sys.stderr)

    out.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".wood-", dir=out.parent))
    try:
        try:
            checkpoint = train_wood(model, in_items, ood, config, work, progress=report)
        except FloatingPointError as error:
            raise ValueError(f"{error} (--option lr=...)") from None
        metrics = _move_outputs(work, checkpoint, out)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    summary = {
        "model": str(out), "metrics": str(metrics), "base_model": args.model or "embedded",
        "review_file": str(args.review), "unreviewed_rows_taken_as_yes": taken_as_yes,
        "data": description, "n_in_distribution": len(in_items), "safe_only_left_out": safe_only,
        "n_hard_ood": len(ood), "config": {key: getattr(config, key) for key in parse_options(args.option)},
        "failed": _failure_records(failures),
    }
    print(json.dumps({"train-wood": summary}, indent=2, sort_keys=True, default=str))
    return _report_failures("train-wood", failures)


# ------------------------------------------------------------------------------------------ parsers


def add_wood_commands(sub: argparse._SubParsersAction) -> None:
    mine = sub.add_parser(
        "mine-ood", help="W-OoD step 1: find hard out-of-distribution photos and write them to a review CSV",
        description=(
            "Score a pool of candidate photos that should show none of the model's attributes (e.g. PrivMini's COCO128 "
            "photos without people, synthetic safe scenes) and keep, per class, those the classifier scores >= "
            "hard_threshold (default 0.5): hard OoDs, the context the classifier confuses with the attribute. They are "
            "written to --out (columns candidate_id, class_id, probability, verified, verified_by) for a human check. "
            + REVIEW_HOWTO + " With --verify-with-labels the candidates' own labels decide instead: a row is kept, "
            "marked verified, only when the labels prove the class absent; rows whose labels show (or do not annotate) "
            "the class are dropped."))
    mine.add_argument("--model", help="model file from `privobf train` (default: the embedded model)")
    add_candidate_options(mine)
    mine.add_argument("--classes", help="comma-separated attribute ids to mine (default: all but a0_safe)")
    mine.add_argument("--verify-with-labels", action="store_true", help=(
        "confirm rows from the candidates' image-level labels (they must be the model's attribute ids) instead of by hand"))
    mine.add_argument("--option", action="append", metavar="KEY=VALUE", help=(
        "a WoodConfig field, repeatable; mining reads hard_threshold (default 0.5)"))
    mine.add_argument("--save-images", metavar="DIR", help="also write each mined photo as DIR/<candidate_id>.png for the reviewer")
    mine.add_argument("--out", required=True, help="review CSV to write (atomically)")
    mine.add_argument("--no-progress", action="store_true", help="no progress lines")
    mine.set_defaults(handler=run_guarded(command_mine_ood))

    train = sub.add_parser(
        "train-wood", help="W-OoD step 2: fine-tune the model with the reviewed hard OoD photos",
        description=(
            "Fine-tune Model-Image with W-OoD's losses (eq. 4.4: classification with an all-zero target on the hard "
            "OoDs, plus the feature-distance loss) on --data's labelled photos and the photos the review file "
            "confirms, and write --out, a model file `privobf scan --model` and `privobf cam --model` load (per-epoch "
            "losses beside it in NAME.metrics.jsonl). The review file counts as reviewed when every row's `verified` "
            "is yes or no; otherwise it is refused unless --accept-unreviewed. A photo is used when one of its rows "
            "says yes; its `no` rows keep the zero target off those classes. --data photos labelled only a0_safe are "
            "left out of the in-distribution set."))
    train.add_argument("--model", help="model file to fine-tune (default: the embedded model)")
    train.add_argument("--review", required=True, help="review CSV from `privobf mine-ood`, checked")
    train.add_argument("--accept-unreviewed", action="store_true", help=(
        "take unanswered rows as yes (unverified hard OoDs did worse than random OoD photos in the dissertation)"))
    add_candidate_options(train)
    train.add_argument("--option", action="append", metavar="KEY=VALUE", help=(
        "a WoodConfig field, repeatable (epochs=5, batch_in=16, batch_ood=16, lr=0.01, distance_weight=0.007, "
        "n_clusters=50, nearest_fraction=0.2, trained_stages=2, seed=0, ...)"))
    train.add_argument("--out", required=True, help="model file to write (.safetensors)")
    add_data_options(train)
    train.set_defaults(handler=run_guarded(command_train_wood))
