"""Issue 5's ablation, like the seed papers' tables: what each CAM improvement does for privacy masks.

Rows: baseline CAM (Model-Image's classification loss only); + DRS; + DRS + CDR; + DRS + CDR + ASM;
+ attention transfer; + focused-unfocused; and the full PrivObfNet (all its losses) with the parts
listed in --best. Each row trains the `default` preset on the same synthetic scenes with the same
reduced CPU budget, then `privobf evaluate` runs on held-out synthetic scenes (val photos only) and on
PrivMini val, priors off in both (the seed mask is what is measured). Thresholds are the model's fixed
ones. Training wall time and peak resident memory (GNU time, max RSS of the training process) are
recorded per row. Commands are stored with the results.

    python benchmarks/ablation_wsss.py [--best drs,asm] [--data-root ../shared/data]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROWS = [
    ("baseline", "image", None, "Baseline CAM (L_cls only)"),
    ("drs", "image", "drs", "+ DRS"),
    ("drs_cdr", "image", "drs,cdr", "+ DRS + CDR"),
    ("drs_cdr_asm", "image", "drs,cdr,asm", "+ DRS + CDR + ASM"),
    ("at", "image", "at", "+ attention transfer"),
    ("fum", "image", "fum", "+ focused-unfocused"),
]
ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "ablation_wsss"


def run(command: list[str], rss_file: Path | None = None) -> None:
    print("+", " ".join(command), flush=True)
    prefix = ["/usr/bin/time", "-f", "%M", "-o", str(rss_file)] if rss_file is not None and Path("/usr/bin/time").exists() else []
    subprocess.run(prefix + command, check=True, env={**os.environ, "OMP_WAIT_POLICY": "PASSIVE"})


def summary(result: dict, privmini: bool) -> dict:
    row = {"miou_localisation": result["masks_localisation"]["miou"], "leak_rate": result["protection"]["leak_rate"],
           "over_obfuscation": result["protection"]["over_obfuscation"], "attribute_map": result["attributes"]["map"]}
    if privmini:
        row["person_iou"] = result["masks_localisation"]["iou"].get("x1_person_body")
        row["box_recall"] = {k: v["recall"] for k, v in result["box_coverage"].items()}
        row["box_coverage"] = {k: v["mean_coverage"] for k, v in result["box_coverage"].items()}
    else:
        row["iou"] = {k: v for k, v in result["masks_localisation"]["iou"].items() if v is not None}
    return row


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", default="runs/ablation_wsss")
    parser.add_argument("--train-size", type=int, default=600)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--image-size", type=int, default=224)
    parser.add_argument("--crop-size", type=int, default=128)
    parser.add_argument("--eval-n", type=int, default=200)
    parser.add_argument("--best", default="drs,asm", help="parts for the last row (full PrivObfNet + these)")
    parser.add_argument("--only", help="comma-separated row names to (re)run; others are read from summary.json")
    parser.add_argument("--data-root", default=os.environ.get("PRIVOBF_DATA", str(ROOT.parent / "shared" / "data")))
    args = parser.parse_args()
    RESULTS.mkdir(parents=True, exist_ok=True)
    summary_file = RESULTS / "summary.json"
    done = {row["name"]: row for row in json.loads(summary_file.read_text())["rows"]} if summary_file.exists() else {}
    rows = ROWS + [("full_best", "full", args.best, f"PrivObfNet (all losses) + {args.best}")]
    only = set(args.only.split(",")) if args.only else None
    privobf = [sys.executable, "-m", "privobf"]
    for name, tasks, wsss, label in rows:
        if only is not None and name not in only:
            continue
        out = Path(args.runs) / name
        train = privobf + ["train", "--preset", "default", "--tasks", tasks, "--train-size", str(args.train_size),
                           "--epochs", str(args.epochs), "--image-size", str(args.image_size),
                           "--crop-size", str(args.crop_size), "--out", str(out), "--no-progress"]
        if wsss:
            train += ["--wsss", wsss]
        rss_file = RESULTS / f"{name}.train-rss.txt"
        started = time.perf_counter()
        run(train, rss_file)
        row = {"name": name, "label": label, "tasks": tasks, "wsss": wsss, "train_command": " ".join(["privobf", *train[3:]]),
               "train_seconds": round(time.perf_counter() - started, 1)}
        if rss_file.exists():
            row["train_peak_rss_mib"] = round(int(rss_file.read_text().split()[-1]) / 1024, 1)
        for data, extra in (("synthetic", ["--n", str(args.eval_n)]), ("privmini", ["--data-root", args.data_root, "--min-positives", "5"])):
            result_file = RESULTS / f"{name}.{data}.json"
            evaluate = privobf + ["evaluate", "--model", str(out / "model-image.safetensors"), "--priors", "off", *extra,
                                  "--out", str(result_file)]
            run(evaluate)
            row[data] = {"evaluate_command": " ".join(["privobf", *evaluate[3:]]),
                         **summary(json.loads(result_file.read_text()), data == "privmini")}
        done[name] = row
        ordered = [done[n] for n, *_ in rows if n in done]
        summary_file.write_text(json.dumps({"script": "python benchmarks/ablation_wsss.py", "args": vars(args),
                                            "rows": ordered}, indent=1) + "\n")
    print(table(json.loads(summary_file.read_text())["rows"]))
    return 0


def table(rows: list[dict]) -> str:
    lines = ["| row | synthetic mIoU | synthetic leak | PrivMini person IoU | plate box recall | address line recall | "
             "date line recall | train s | peak RSS MiB |", "|---|---|---|---|---|---|---|---|---|"]
    for row in rows:
        s, p = row["synthetic"], row["privmini"]
        recall = p.get("box_recall", {})
        lines.append(f"| {row['label']} | {s['miou_localisation']:.3f} | {s['leak_rate']:.3f} | {p['person_iou'] or 0:.3f} | "
                     f"{recall.get('a103_license_plate_complete', float('nan')):.3f} | "
                     f"{recall.get('a74_address_current_complete', float('nan')):.3f} | "
                     f"{recall.get('a82_date_time', float('nan')):.3f} | {row['train_seconds']:.0f} | "
                     f"{row.get('train_peak_rss_mib', float('nan')):.0f} |")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
