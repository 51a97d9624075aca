"""What kind of document or screen privobf says a photo shows, and how much of the document its mask covers
(issue 19, sources 3 and 4: `privobf.reading.layouts`, `privobf.evidence.layouts`).

    python benchmarks/document_types.py --photos DIR [--photos DIR2 ...] [--receipts val|all|none]
                                        [--scenes N] [--name document_types]

The embedded model and the default providers, in process (`Scanner(prior_set=PriorSet())`), as `privobf scan`
without `--hide` runs them.

- **Generated document photos** (`benchmarks/document_photos.py`; each photo's JSON names its template,
  variant and the page's quadrilateral). Expected type: identity card -> `a29_ausweis`, bank card ->
  `a30_credit_card`, student card -> `a33_student_id`, letter -> `a35_mail`, chat -> `a97_online_conversation`;
  business and membership cards, forms and notices -> no document type. A photo's type is **right** when the
  document and screen attributes present in its report with a whole-page region (`evidence.layouts`) are
  exactly the expected one (or none); a card number read on a form makes `a30_credit_card` present, as VISPR
  would label the photo, without making the form a card. **Present right** is the same for every type present
  in the report, with a page region or not (the model may find a type that reading does not). For the
  photos with a type: **page covered** = share of the page quadrilateral's pixels inside the type's mask;
  **outside** = the mask's pixels outside the page, as a share of the photo.
- **SROIE receipts** (`../shared/data/sroie`, PrivMini's split): share reported as `a37_receipt`, and any other
  document type reported.
- **Scene photos** (COCO128 photos of PrivMini's val split, signs and shop fronts in some): any document or
  screen type reported is a false one.
- **Synthetic document scenes** (`--document-scenes N`, `privobf.data.document_scenes` seed 2, val-split
  backgrounds; the model learnt from seed 0): per type, on the scenes with one document, how often reading
  types it, how often it is present in the report, and how often the model alone says it.

Writes benchmarks/results/NAME.json with the command.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from protect import DEFAULT_DATA  # noqa: E402
from run import RESULTS, machine  # noqa: E402

EXPECTED = {("card", "identity"): "a29_ausweis", ("card", "bank"): "a30_credit_card",
            ("card", "student"): "a33_student_id", ("letter", None): "a35_mail", ("chat", None): "a97_online_conversation"}


def expected_type(meta: dict) -> str | None:
    return EXPECTED.get((meta["template"], meta["variant"])) or EXPECTED.get((meta["template"], None))


def page_types(report, attributes: tuple[str, ...]) -> list[str]:
    """The document and screen kinds the report says the page is: present, with a whole-page region (a card
    number read on a form makes `a30_credit_card` present, as VISPR would label it, but the form is no card)."""
    from privobf.evidence.layouts import is_layout

    present = set(present_types(report, attributes))
    paged = {region.attribute for region in report.regions if is_layout(region)}
    return [attribute for attribute in attributes if attribute in present and attribute in paged]


def present_types(report, attributes: tuple[str, ...]) -> list[str]:
    """The document and screen kinds present in the report, with a page region or not."""
    present = set(report.present())
    return [attribute for attribute in attributes if attribute in present]


def _present_right(present: list[str], expected: str | None) -> bool:
    """The types present in the report, with or without a page region (the model may find a type reading
    did not), are the expected one; a bank card may also be present on a page that shows a card number."""
    return set(present) - {"a30_credit_card"} == ({expected} - {"a30_credit_card"} if expected else set()) and (
        expected != "a30_credit_card" or "a30_credit_card" in present)


def score_generated(scanner, folder: Path, attributes: tuple[str, ...]) -> dict:
    rows = []
    for path in sorted(folder.glob("*.jpg")):
        meta = json.loads(path.with_suffix(".json").read_text(encoding="utf-8"))
        report = scanner.scan(path)
        expected = expected_type(meta)
        found = page_types(report, attributes)
        present = present_types(report, attributes)
        row = {"photo": path.name, "template": meta["template"], "variant": meta["variant"], "expected": expected,
               "found": found, "right": found == ([expected] if expected else []),
               "present": present, "present_right": _present_right(present, expected),
               "model": _model_probabilities(report, attributes)}
        if expected:
            page = np.zeros(tuple(meta["size"]), np.uint8)
            cv2.fillPoly(page, [np.round(np.asarray(meta["document_quad"])).astype(np.int32)], 1)
            page = page.astype(bool)
            mask = report.mask(expected)
            row["page_covered"] = round(float((mask & page).sum() / max(1, page.sum())), 4)
            row["outside"] = round(float((mask & ~page).sum() / page.size), 4)
        rows.append(row)
    typed = [row for row in rows if row["expected"]]
    by_type: dict[str, dict] = {}
    for row in rows:
        entry = by_type.setdefault(row["expected"] or "none", {"photos": 0, "right": 0})
        entry["photos"] += 1
        entry["right"] += int(row["right"])
    return {
        "photos": len(rows), "type_right": round(float(np.mean([row["right"] for row in rows])), 4),
        "present_type_right": round(float(np.mean([row["present_right"] for row in rows])), 4),
        "present_wrong": [{k: row[k] for k in ("photo", "template", "variant", "expected", "present")}
                          for row in rows if not row["present_right"]],
        "by_expected_type": by_type,
        "page_covered_mean": round(float(np.mean([row["page_covered"] for row in typed])), 4) if typed else None,
        "page_covered_90": round(float(np.mean([row["page_covered"] >= 0.9 for row in typed])), 4) if typed else None,
        "outside_mean": round(float(np.mean([row["outside"] for row in typed])), 4) if typed else None,
        "wrong": [{k: v for k, v in row.items() if k != "model"} for row in rows if not row["right"]],
        "model_alone": _model_alone(rows),
    }


def _model_probabilities(report, attributes: tuple[str, ...]) -> dict[str, float]:
    """The classifier's own probability of each type it knows, before any evidence."""
    if report.fused is None:
        return {}
    return {a: float(report.fused.model_probabilities[report.attribute_ids.index(a)]) for a in attributes
            if a in report.attribute_ids and report.fused.model_probabilities[report.attribute_ids.index(a)] > 0}


def _model_alone(rows: list[dict]) -> dict:
    """The classifier without reading on these photos (another generator than the one it learnt from): AP of
    each expected type it knows, and the photos of no type (or a bank card) where it says some type >= 0.5."""
    from privobf.evaluate.metrics import average_precision

    known = sorted({a for row in rows for a in row["model"]} - {"a30_credit_card"})
    ap = {}
    for attribute in known:
        truth = np.array([row["expected"] == attribute for row in rows])
        if truth.any():
            ap[attribute] = {"photos": int(truth.sum()), "ap": round(average_precision(
                np.array([row["model"].get(attribute, 0.0) for row in rows]), truth), 4)}
    others = [row for row in rows if row["expected"] in (None, "a30_credit_card")]
    return {"ap": ap, "other_photos": len(others),
            "other_photos_with_a_type": sum(any(row["model"].get(a, 0.0) >= 0.5 for a in known) for row in others)}


def score_receipts(scanner, root: Path, split: str, attributes: tuple[str, ...]) -> dict:
    from privobf.data.privmini import split_of

    stems = sorted(path.stem for path in (root / "img").glob("*.jpg"))
    if split != "all":
        stems = [stem for stem in stems if split_of("sroie", stem) == split]
    reports = [scanner.scan(root / "img" / f"{stem}.jpg") for stem in stems]
    found = [page_types(report, attributes) for report in reports]
    present = [present_types(report, attributes) for report in reports]
    return {"receipts": len(stems), "split": split, "receipt_found": round(float(np.mean(["a37_receipt" in t for t in found])), 4),
            "other_types": _counts(t for types in found for t in types if t != "a37_receipt"),
            "receipt_present": round(float(np.mean(["a37_receipt" in t for t in present])), 4),
            "other_types_present": _counts(t for types in present for t in types if t != "a37_receipt")}


def _counts(items) -> dict[str, int]:
    counts: dict[str, int] = {}
    for item in items:
        counts[item] = counts.get(item, 0) + 1
    return counts


def score_scenes(scanner, root: Path, count: int, attributes: tuple[str, ...]) -> dict:
    from privobf.data.privmini import split_of

    paths = [path for path in sorted((root / "images" / "train2017").glob("*.jpg")) if split_of("coco128", path.stem) == "val"]
    paths = paths[:count]
    reports = [scanner.scan(path) for path in paths]
    paged = [page_types(report, attributes) for report in reports]
    present = [present_types(report, attributes) for report in reports]
    return {"photos": len(paths), "photos_with_a_type": sum(bool(t) for t in paged), "false_types": _counts(t for ts in paged for t in ts),
            "photos_with_a_type_present": sum(bool(t) for t in present),
            "false_types_present": _counts(t for ts in present for t in ts)}


def score_document_scenes(scanner, count: int, data_root: Path, attributes: tuple[str, ...]) -> dict:
    """Synthetic document photos of `privobf.data.document_scenes` (seed 2: neither the model's training seed 0
    nor its held-out seed 1; val-split backgrounds), those showing exactly one document: per type, the share
    reading types right (a page region of that type), the share where the type is present in the report, and
    the share where the model alone says it (>= 0.5); and any other type present."""
    from privobf.data.document_scenes import DocumentScenes

    scenes = DocumentScenes(count, seed=2, split="val", backgrounds=str(data_root / "coco128"))
    by_type: dict[str, dict] = {}
    for index in range(len(scenes)):
        scene = scenes[index]
        if len(scene.labels) != 1:
            continue
        (expected,) = scene.labels
        report = scanner.scan(scene.image)
        present = present_types(report, attributes)
        model = _model_probabilities(report, attributes)
        entry = by_type.setdefault(expected, {"photos": 0, "read_right": 0, "present": 0, "model": 0, "others_present": 0})
        entry["photos"] += 1
        entry["read_right"] += int(expected in page_types(report, attributes))
        entry["present"] += int(expected in present)
        entry["model"] += int(model.get(expected, 0.0) >= 0.5)
        entry["others_present"] += int(bool(set(present) - {expected}))
    return {"scenes": count, "one_document_scenes": sum(e["photos"] for e in by_type.values()),
            "by_type": dict(sorted(by_type.items()))}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=Path, action="append", default=[], help="a folder of document_photos.py")
    parser.add_argument("--data-root", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--receipts", choices=["val", "all", "none"], default="all")
    parser.add_argument("--scenes", type=int, default=40, help="COCO128 val photos (0: none)")
    parser.add_argument("--document-scenes", type=int, default=0, help="synthetic document photos, seed 2 (0: none)")
    parser.add_argument("--name", default="document_types")
    args = parser.parse_args()
    from privobf.priors import PriorSet
    from privobf.reading.layouts import layout_attributes
    from privobf.scanning import Scanner

    started = time.time()
    attributes = layout_attributes()
    scanner = Scanner(prior_set=PriorSet())  # the default providers, reading included, as `privobf scan` runs
    results: dict = {}
    for folder in args.photos:
        index = json.loads((folder / "index.json").read_text(encoding="utf-8"))
        key = f"generated seed {index.get('seed')}"
        results[key] = {"generator_command": index.get("command"), **score_generated(scanner, folder, attributes)}
        print(key, {k: v for k, v in results[key].items() if k != "wrong"})
    if args.receipts != "none":
        results["sroie"] = score_receipts(scanner, args.data_root / "sroie", args.receipts, attributes)
        print("sroie", results["sroie"])
    if args.scenes:
        results["coco128 val"] = score_scenes(scanner, args.data_root / "coco128", args.scenes, attributes)
        print("coco128 val", results["coco128 val"])
    if args.document_scenes:
        results["document scenes seed 2"] = score_document_scenes(scanner, args.document_scenes, args.data_root, attributes)
        print("document scenes seed 2", results["document scenes seed 2"])
    command = "python benchmarks/document_types.py " + " ".join(f"--photos {p}" for p in args.photos)
    command += f" --receipts {args.receipts} --scenes {args.scenes} --document-scenes {args.document_scenes}"
    document = {"command": command, "date": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
                "seconds": round(time.time() - started, 1), "machine": machine(), "attributes": list(attributes),
                "results": results}
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{args.name}.json").write_text(json.dumps(document, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
