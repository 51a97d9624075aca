"""How often VISPR's annotators mark a person's appearance when a face is visible: the label statistics behind the
appearance attributes of the shipped scanner (issue 19, source 1), and how well they predict VISPR val labels.

    python benchmarks/appearance_statistics.py [--data-root DIR]
        # -> src/privobf/evidence/appearance.json (train split only: what the scanner uses)
        # -> benchmarks/results/appearance_statistics.json (the check on val)

Data: `../shared/data/vispr/annotations_{train,val}2017.jsonl` (labels only; the images are not available).
A photo "has a face" when it is labelled `a9_face_complete` or `a10_face_partial` (a face detector finds
both). For each appearance attribute A the scanner uses q_A = P(A | face) on **train**; on a photo its
probability is q_A x P(face), P(face) being the fused probability of the face attribute.

The check on **val** takes each image's face label as given (as if the face detector were right) and asks how
well the rule predicts the attribute's own label:
- `p_val_given_face`: the val frequency q_A should match (calibration);
- the rule "present when a face is" (used where q_A >= 0.5, the scanner's attribute threshold): precision,
  recall and F1 against the val labels; recall is bounded by the attribute's photos without a face label;
- Brier score of q_A x face against the base rate predictor (P(A) on train for every photo), lower is better.

And what it does to the privacy score, labels in, score out (VISPR's definition: the 30 profiles' sensitivities,
max pooling, mean over profiles), on val: the score of all 68 labels (VISPR's) against the score of the labels
the shipped scanner covers, taken as given — the embedded model's attributes and issue 18's recognisers'; the
same plus the appearance attributes as q_A x the face label; and plus the page layouts and labelled fields
of issue 19. Pearson, Spearman and L1.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from protect import DEFAULT_DATA  # noqa: E402
from run import RESULTS, machine  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
TARGET = REPO / "src" / "privobf" / "evidence" / "appearance.json"
FACE_LABELS = ("a9_face_complete", "a10_face_partial")
APPEARANCE = ("a1_age_approx", "a2_weight_approx", "a3_height_approx", "a4_gender", "a5_eye_color",
              "a6_hair_color", "a16_race", "a17_color")
THRESHOLD = 0.5


def label_sets(root: Path, split: str) -> list[frozenset[str]]:
    from privobf.data.vispr import read_vispr_annotations

    records, _ = read_vispr_annotations(root, split)
    return [frozenset(record.labels) for record in records]


def has_face(labels: frozenset[str]) -> bool:
    return any(face in labels for face in FACE_LABELS)


def frequencies(photos: list[frozenset[str]], attribute: str) -> dict[str, float]:
    faces = [labels for labels in photos if has_face(labels)]
    others = [labels for labels in photos if not has_face(labels)]
    return {
        "given_face": sum(attribute in labels for labels in faces) / max(1, len(faces)),
        "given_no_face": sum(attribute in labels for labels in others) / max(1, len(others)),
        "base_rate": sum(attribute in labels for labels in photos) / max(1, len(photos)),
    }


def check(photos: list[frozenset[str]], attribute: str, trained: dict[str, float]) -> dict[str, float | None]:
    truth = [attribute in labels for labels in photos]
    face = [has_face(labels) for labels in photos]
    rule = [f and trained["given_face"] >= THRESHOLD for f in face]
    true_positive = sum(r and t for r, t in zip(rule, truth))
    precision = true_positive / sum(rule) if any(rule) else None
    recall = true_positive / sum(truth) if any(truth) else None
    f1 = (2 * precision * recall / (precision + recall)) if precision and recall else None
    predicted = [trained["given_face"] if f else 0.0 for f in face]
    brier = sum((p - t) ** 2 for p, t in zip(predicted, truth)) / len(photos)
    brier_base = sum((trained["base_rate"] - t) ** 2 for t in truth) / len(photos)
    return {
        "p_val_given_face": round(frequencies(photos, attribute)["given_face"], 4),
        "rule_present": trained["given_face"] >= THRESHOLD,
        "precision": None if precision is None else round(precision, 4),
        "recall": None if recall is None else round(recall, 4),
        "f1": None if f1 is None else round(f1, 4),
        "brier": round(brier, 4), "brier_base_rate": round(brier_base, 4),
        "val_photos_with_attribute": sum(truth),
    }


def score_check(photos: list[frozenset[str]], trained: dict[str, dict[str, float]]) -> dict[str, dict[str, float]]:
    """Privacy scores from the labels the scanner covers against VISPR's score of all the labels, on `photos`:
    the model and issue 18's recognisers; + the appearance attributes as q x the face label; + the page layouts
    and labelled fields (issue 19), their labels taken as given."""
    from scipy.stats import pearsonr, spearmanr

    from privobf.attributes import vispr_profiles
    from privobf.models.loading import load_image_model
    from privobf.reading import readable_attributes
    from privobf.reading.fields import LabelledFieldRecognizer
    from privobf.reading.layouts import layout_attributes

    profiles = vispr_profiles()
    ids = profiles.vocabulary.ids
    fields = set(LabelledFieldRecognizer.attributes)
    first = (set(load_image_model(None).attribute_ids) | (set(readable_attributes()) - fields)) & set(ids)
    pages = (set(layout_attributes()) | fields) & set(ids)
    truth = np.array([[a in labels for a in ids] for labels in photos], np.float32)
    face = np.array([has_face(labels) for labels in photos], np.float32)

    def covered(chosen: set[str], derived: bool) -> np.ndarray:
        labels = truth * np.array([a in chosen for a in ids], np.float32)
        if derived:
            for attribute, values in trained.items():
                labels[:, ids.index(attribute)] = values["given_face"] * face
        return labels

    reference = profiles.overall(truth)
    rows = {}
    for name, chosen, derived in (("model and recognisers", first, False), ("+ label statistics", first, True),
                                  ("+ layouts and fields", first | pages, True)):
        score = profiles.overall(covered(chosen, derived))
        rows[name] = {"attributes": len(chosen) + (len(trained) if derived else 0),
                      "pearson": round(float(pearsonr(score, reference)[0]), 4),
                      "spearman": round(float(spearmanr(score, reference)[0]), 4),
                      "l1": round(float(np.abs(score - reference).mean()), 4)}
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-root", type=Path, default=DEFAULT_DATA)
    args = parser.parse_args()
    started = time.time()
    root = args.data_root / "vispr"
    train, val = label_sets(root, "train"), label_sets(root, "val")
    trained = {attribute: frequencies(train, attribute) for attribute in APPEARANCE}
    command = "python benchmarks/appearance_statistics.py"
    document = {
        "command": command,
        "data": f"VISPR train labels ({len(train)} photos, {sum(map(has_face, train))} with a face label)",
        "face_labels": list(FACE_LABELS),
        "attributes": {attribute: {key: round(value, 4) for key, value in values.items()}
                       for attribute, values in trained.items()},
    }
    TARGET.write_text(json.dumps(document, indent=1) + "\n", encoding="utf-8")
    checked = {attribute: check(val, attribute, trained[attribute]) for attribute in APPEARANCE}
    results = {
        "command": command,
        "date": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
        "seconds": round(time.time() - started, 1),
        "machine": machine(),
        "data": {"train": document["data"],
                 "val": f"VISPR val labels ({len(val)} photos, {sum(map(has_face, val))} with a face label)"},
        "definitions": {
            "given_face": "P(attribute | a9_face_complete or a10_face_partial) on train: what the scanner uses",
            "rule": "attribute present when the photo's face label is (where given_face >= 0.5); face labels taken as given",
            "brier": "mean (q x face - label)^2 over val photos; brier_base_rate: the train base rate for every photo",
        },
        "train": document["attributes"],
        "val": checked,
        "privacy_score_val": score_check(val, trained),
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "appearance_statistics.json").write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")
    print("privacy score on val, labels in:", json.dumps(results["privacy_score_val"]))
    for attribute in APPEARANCE:
        row = checked[attribute]
        print(f"{attribute:20} q={trained[attribute]['given_face']:.3f} val={row['p_val_given_face']:.3f} "
              f"P={row['precision']} R={row['recall']} F1={row['f1']} brier={row['brier']} (base {row['brier_base_rate']})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
