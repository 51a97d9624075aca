"""Print the markdown tables of docs/results.md from the JSON files the commands wrote (no number typed by hand)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def fmt(value) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def evaluation_table(files: dict[str, Path]) -> str:
    lines = ["| run | score L1 | Pearson | Spearman | attr mAP | attr mean acc. | mIoU (localisation) | mIoU (end to end) | leak rate | over-obfuscation | s / image |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for label, path in files.items():
        r = json.loads(path.read_text())
        lines.append(
            f"| {label} | {fmt(r['privacy_score']['l1'])} | {fmt(r['privacy_score']['pearson'])} | {fmt(r['privacy_score']['spearman'])} "
            f"| {fmt(r['attributes']['map'])} | {fmt(r['attributes']['mean_accuracy'])} | {fmt(r['masks_localisation']['miou'])} "
            f"| {fmt(r['masks_end_to_end']['miou'])} | {fmt(r['protection']['leak_rate'])} | {fmt(r['protection']['over_obfuscation'])} "
            f"| {r['seconds_per_image']:.2f} |")
    return "\n".join(lines)


def per_attribute_table(path: Path) -> str:
    r = json.loads(path.read_text())
    lines = ["| attribute | positives | AP | accuracy | IoU (localisation) | leak rate |", "|---|---|---|---|---|---|"]
    for attribute, ap in r["attributes"]["ap"].items():
        iou = r["masks_localisation"]["iou"].get(attribute)
        leak = r["protection"]["leak_rate_per_attribute"].get(attribute)
        lines.append(f"| `{attribute}` | {r['attributes']['n_positives'][attribute]} | {fmt(ap)} | "
                     f"{fmt(r['attributes']['accuracy'][attribute])} | {fmt(iou)} | {fmt(leak)} |")
    return "\n".join(lines)


PRIVMINI_ATTRIBUTES = [("person", "x1_person_body"), ("plate", "a103_license_plate_complete"),
                      ("address", "a74_address_current_complete"), ("date", "a82_date_time")]


def privmini_table(files: dict[str, Path]) -> str:
    """PrivMini val side by side: AP and localisation per attribute, score correlation, protection."""
    header = ["model / priors", *(f"AP {short}" for short, _ in PRIVMINI_ATTRIBUTES), "Pearson", "Spearman", "L1",
              "IoU person", "plate box recall@0.5", "address line recall@0.5", "date line recall@0.5", "leak rate",
              "over-obfuscation"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for label, path in files.items():
        r = json.loads(path.read_text())
        ap = r["attributes"]["ap"]
        boxes = r["box_coverage"]
        cells = [label, *(fmt(ap.get(attribute)) for _, attribute in PRIVMINI_ATTRIBUTES),
                 fmt(r["privacy_score"]["pearson"]), fmt(r["privacy_score"]["spearman"]), fmt(r["privacy_score"]["l1"]),
                 fmt(r["masks_localisation"]["iou"].get("x1_person_body")),
                 *(fmt(boxes.get(attribute, {}).get("recall")) for _, attribute in PRIVMINI_ATTRIBUTES[1:]),
                 fmt(r["protection"]["leak_rate"]), fmt(r["protection"]["over_obfuscation"])]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def privmini_files() -> dict[str, Path]:
    folder = RESULTS / "privmini"
    order = ["synthetic-only", "privmini-only", "mixed"]
    files = sorted(folder.glob("*.priors-*.json"), key=lambda p: (order.index(p.name.split(".")[0]) if p.name.split(".")[0] in order else 9, p.name))
    return {f"{p.name.split('.')[0]} / priors {p.name.split('priors-')[1].split('.')[0]}": p for p in files}


def refine_table(*paths: Path) -> str:
    """benchmarks/refine_methods.py: one row per seed method (of every file given), mIoU at the fixed
    threshold per refinement (best over the threshold sweep, tuned on ground truth, in brackets), then
    seconds per image."""
    data = {"rows": [row for path in paths for row in json.loads(path.read_text())["rows"]]}
    refiners = list(dict.fromkeys(name for row in data["rows"] for name in row["stages"]))
    names = {"none": "seeds", "crf": "+ CRF", "irn": "+ IRN", "irn_per_class": "+ IRN per class", "affinitynet": "+ AffinityNet"}
    lines = ["| method | " + " | ".join(f"{names.get(r, r)} mIoU (oracle)" for r in refiners) + " | "
             + " | ".join(f"{names.get(r, r)} s/img" for r in refiners) + " |",
             "|---|" + "---|" * (2 * len(refiners))]
    for row in data["rows"]:
        stages = row["stages"]
        scores = [f"{fmt(stages[r]['miou'])} ({fmt(stages[r]['oracle_best_miou'])})" if r in stages else "—" for r in refiners]
        seconds = [f"{stages[r]['seconds_per_image_stored']:.2f}" if r in stages and stages[r]["seconds_per_image_stored"] else "—"
                   for r in refiners]
        label = row["method"] + ("" if not row.get("options") else " (" + ", ".join(f"{k}={v}" for k, v in row["options"].items()) + ")")
        lines.append(f"| {label} | " + " | ".join(scores) + " | " + " | ".join(seconds) + " |")
    return "\n".join(lines)


def second_stage_table(path: Path) -> str:
    """benchmarks/second_stage.py: mIoU on the evaluation scenes of the classifier's maps and each network."""
    data = json.loads(path.read_text())
    results = data["results_on_eval"]
    classifier = results["classifier_attention_maps"]
    lines = ["| masks from | mIoU on the evaluation scenes | training seconds |", "|---|---|---|",
             f"| the classifier's attention maps (its own attribute decisions) | {fmt(classifier['miou_end_to_end'])} | — |",
             f"| the classifier's attention maps (true attributes given) | {fmt(classifier['miou_given_true_attributes'])} | — |"]
    for name, row in results.items():
        if name.startswith("segmentation_"):
            variant = name.removeprefix("segmentation_")
            label = "segmentation network, DSRG" if variant == "dsrg" else f"segmentation network, {variant} cross-entropy"
            lines.append(f"| {label} | {fmt(row['miou'])} | {data['seconds'].get('train_' + variant, '—')} |")
    quality = data["pseudo_labels_on_train"]
    lines.append("")
    lines.append(f"Pseudo labels on the training scenes: mIoU over labelled pixels {fmt(quality['miou_on_labelled_pixels'])}, "
                 f"ignored share {fmt(quality['ignored_share'])}.")
    return "\n".join(lines)


def bbam_table(path: Path) -> str:
    """benchmarks/bbam_masks.py: BBAM's masks against the truth and against simply filling the boxes."""
    data = json.loads(path.read_text())
    lines = ["| data | boxes with positive proposals | BBAM IoU (ignore = background) | filled box IoU | BBAM s / image |",
             "|---|---|---|---|---|"]
    for name, part in data["parts"].items():
        bbam = part["bbam"]
        lines.append(f"| {part['data']} | {bbam['boxes_with_positives']} / {bbam['boxes']} | {fmt(part['iou']['strict'])} | "
                     f"{fmt(part['iou']['filled_box'])} | {bbam['seconds_per_image_stored']:.1f} |")
    return "\n".join(lines)


def wood_table(path: Path) -> str:
    """benchmarks/wood_seeds.py: CAM seeds and the heads before and after W-OoD fine-tuning."""
    data = json.loads(path.read_text())
    seeds, heads, ood = data["seeds"], data["attribute_head"], data["ood_scores"]
    rows = [("seed mIoU at the fixed threshold", seeds["before"]["miou"], seeds["after"]["miou"]),
            ("seed mIoU, best of the sweep (tuned on ground truth)", seeds["before"]["oracle_best_miou"], seeds["after"]["oracle_best_miou"]),
            ("attribute head mAP", heads["before"]["map"], heads["after"]["map"]),
            ("CAM classifier: mean top probability on the mined hard OoD photos",
             ood["before"]["trained_hard_ood"]["cam_classifier"]["mean_max_probability"],
             ood["after"]["trained_hard_ood"]["cam_classifier"]["mean_max_probability"]),
            ("CAM classifier: mean top probability on held-out safe COCO photos",
             ood["before"]["held_out_safe_coco"]["cam_classifier"]["mean_max_probability"],
             ood["after"]["held_out_safe_coco"]["cam_classifier"]["mean_max_probability"])]
    lines = ["| | before W-OoD | after |", "|---|---|---|"]
    lines += [f"| {label} | {fmt(before)} | {fmt(after)} |" for label, before, after in rows]
    lines.append(f"| privacy score (30 profiles): mean absolute change | — | {fmt(data['privacy_score_mean_abs_change'])} |")
    return "\n".join(lines)


TABLES = {"refine": refine_table, "second-stage": second_stage_table, "bbam": bbam_table, "wood": wood_table}

if __name__ == "__main__" and sys.argv[1:2] and sys.argv[1] in TABLES:
    print(TABLES[sys.argv[1]](*(RESULTS / f"{name}.json" for name in sys.argv[2:])))
    sys.exit(0)

if __name__ == "__main__" and sys.argv[1:] == ["privmini"]:
    print(privmini_table(privmini_files()))
    sys.exit(0)

if __name__ == "__main__":
    default = {"priors off": RESULTS / "eval_default_priors-off.json", "priors on (simulated)": RESULTS / "eval_default_priors-on.json"}
    print(evaluation_table({k: v for k, v in default.items() if v.exists()}))
    print()
    if default["priors off"].exists():
        print(per_attribute_table(default["priors off"]))
    ablation = RESULTS / "ablation_table4"
    if ablation.exists():
        print()
        for priors in ("off", "on"):
            order = ["image", "image_priv", "image_attr", "image_priv_attr", "full", "full_lambda1"]
            found = {p.name.split(".")[0]: p for p in ablation.glob(f"*.priors-{priors}.json")}
            files = {name: found[name] for name in sorted(found, key=lambda n: order.index(n) if n in order else len(order))}
            print(f"priors {priors}")
            print(evaluation_table(files))
    sys.exit(0)
