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
